/*
 * Key scripts (QSCOPE_SCRIPT), the way tests drive the browser.
 *
 * A script is a text file read line by line:
 *   # comment            ignored, as are blank lines
 *   :COMMAND ARGS        a `:` command (see qs_ui_command), e.g.
 *                        :save-screen out.screen
 *   KEYS                 keys pressed one after the other: each character
 *                        is a key, <Name> names one (<Enter>, <Down>,
 *                        <Esc>, <C-d>, <Space>, <PgDn>, <Tab>)
 * Before each step the browser finishes every background job and paints,
 * so a screen saved after a key shows that key's results.  The browser
 * quits at the end of the script.
 */
#ifndef QS_UI_SCRIPT_H
#define QS_UI_SCRIPT_H

struct qs_ui;
struct qs_ui_script;

/* Open the script at "path", or NULL when it cannot be read. */
struct qs_ui_script *qs_ui_script_open(const char *path);

/* Close it.  NULL is allowed. */
void qs_ui_script_close(struct qs_ui_script *script);

/*
 * Run the next key or command of the script on "ui".  Returns 0, or -1
 * at the end of the script.  A line that cannot be understood is shown
 * as an error and skipped.
 */
int qs_ui_script_step(struct qs_ui *ui, struct qs_ui_script *script);

#endif
