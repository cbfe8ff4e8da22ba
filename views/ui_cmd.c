/*
 * `:` commands and key scripts.
 */
#include "config.h"
#include "ui.h"
#include "ui_script.h"

#include <langinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "activations.h"
#include "display.h"
#include "trace.h"

int
qs_ui_locale_is_utf8(void)
{
    const char *codeset = nl_langinfo(CODESET);

    return codeset && (strcmp(codeset, "UTF-8") == 0 || strcmp(codeset, "utf8") == 0);
}

int
qs_ui_dir_writable(const char *dir)
{
    struct stat st;

    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0222) &&
           access(dir, W_OK) == 0;
}

char *
qs_ui_output_dir(const struct qs_ui *ui)
{
    const char *slash = strrchr(ui->path, '/');
    char *dir;

    if (ui->cli->out_dir)
        return qs_strdup(ui->cli->out_dir);
    dir = slash ? qs_strndup(ui->path, slash == ui->path ? 1 : (size_t)(slash - ui->path))
                : qs_strdup(".");
    if (!qs_ui_dir_writable(dir)) {
        free(dir);
        dir = qs_strdup(".");
    }
    return dir;
}

int
qs_ui_save_screen(struct qs_ui *ui, const char *path)
{
    FILE *fp;
    int rc;

    if (qs_display_save(path) == 0)
        return 0;
    /* Without a display (unit tests), the frame is the screen. */
    fp = fopen(path, "w");
    if (!fp)
        return -1;
    rc = qs_frame_write(&ui->frame, fp);
    return fclose(fp) == 0 ? rc : -1;
}

/* ---- commands ---- */

struct ui_command {
    const char *name;
    int needs_arg;
    int (*run)(struct qs_ui *ui, const char *arg, int bang);
    const char *help;
};

static int
cmd_save_screen(struct qs_ui *ui, const char *arg, int bang)
{
    (void)bang;
    qs_ui_draw(ui);
    qs_display_paint(&ui->frame);
    if (qs_ui_save_screen(ui, arg) != 0) {
        qs_ui_error(ui, "%s: cannot write the screen", arg);
        return -1;
    }
    return 0;
}

static int
cmd_quit(struct qs_ui *ui, const char *arg, int bang)
{
    (void)arg;
    if (bang || !ui->plan_dirty)
        ui->quit = 1;
    else
        qs_ui_key(ui, qs_actions[QS_ACTION_QUIT].keys[0], NULL);
    return 0;
}

static int
cmd_view(struct qs_ui *ui, const char *arg, int bang)
{
    int id = qs_view_find(arg);

    (void)bang;
    if (id < 0) {
        qs_ui_error(ui, "no view called '%s'", arg);
        return -1;
    }
    return qs_ui_show(ui, (enum qs_view_id)id);
}

static int
cmd_search(struct qs_ui *ui, const char *arg, int bang)
{
    (void)bang;
    qs_ui_key(ui, '/', NULL);
    for (const char *p = arg; *p; p++)
        qs_ui_key(ui, (unsigned char)*p, NULL);
    qs_ui_key(ui, QS_KEY_ENTER, NULL);
    return 0;
}

static int
cmd_layer(struct qs_ui *ui, const char *arg, int bang)
{
    size_t index = qs_ui_layer_find(ui, arg);

    (void)bang;
    if (index == SIZE_MAX) {
        qs_ui_error(ui, "no layer '%s'", arg);
        return -1;
    }
    qs_ui_open_layer(ui, index);
    return 0;
}

static int
cmd_config(struct qs_ui *ui, const char *arg, int bang)
{
    (void)bang;
    return qs_layer_view_set_config(ui, arg);
}

static int
cmd_write(struct qs_ui *ui, const char *arg, int bang)
{
    return qs_ui_plan_write(ui, arg, bang);
}

static int
cmd_open(struct qs_ui *ui, const char *arg, int bang)
{
    (void)bang;
    return qs_ui_plan_read(ui, arg);
}

static int
cmd_auto(struct qs_ui *ui, const char *arg, int bang)
{
    (void)bang;
    return qs_ui_plan_auto(ui, arg);
}

static int
cmd_qstats(struct qs_ui *ui, const char *arg, int bang)
{
    (void)bang;
    if (!ui->model) {
        qs_ui_error(ui, "statistics need a model: %s is a folder", ui->path);
        return -1;
    }
    qs_ui_act_read_qstats(ui, arg);
    return 0;
}

static int
cmd_write_qstats(struct qs_ui *ui, const char *arg, int bang)
{
    char *path = *arg ? qs_strdup(arg) : qs_ui_calib_default_path(ui);
    int rc = qs_ui_calib_write(ui, path, bang);

    free(path);
    return rc;
}

static int
cmd_act(struct qs_ui *ui, const char *arg, int bang)
{
    (void)bang;
    return qs_ui_act_set_config(ui, arg);
}

/* `:sensitivity` runs it; `:sensitivity FILE` reads a ranking. */
static int
cmd_sensitivity(struct qs_ui *ui, const char *arg, int bang)
{
    (void)bang;
    if (*arg)
        return qs_ui_sensitivity_read(ui, arg);
    return qs_ui_act_action(ui, QS_ACTION_SENSITIVITY) ? 0 : -1;
}

static const struct ui_command commands[] = {
    { "save-screen", 1, cmd_save_screen, ":save-screen FILE  Write the screen as text to FILE" },
    { "quit", 0, cmd_quit, ":quit  Quit (:quit! without asking about the plan)" },
    { "view", 1, cmd_view, ":view NAME  Show a view: graph, ops, layers, layer, plan, help" },
    { "search", 1, cmd_search, ":search TEXT  Search the current view" },
    { "layer", 1, cmd_layer, ":layer KEY  Show a layer by its key" },
    { "config", 1, cmd_config, ":config CONFIG  Set the layer view's trial (int4:g64:asym)" },
    { "write", 1, cmd_write, ":write FILE  Write the plan (:write! replaces a file)" },
    { "open", 1, cmd_open, ":open FILE  Read a plan" },
    { "auto", 1, cmd_auto, ":auto BUDGET  Make a plan for a budget (4.5bpw, 300MB, 25%)" },
    { "qstats", 1, cmd_qstats, ":qstats FILE  Read activation statistics (qscope calibrate)" },
    { "write-qstats", 0, cmd_write_qstats,
      ":write-qstats [FILE]  Write the statistics (:write-qstats! replaces a file)" },
    { "act", 1, cmd_act, ":act CONFIG  Set the activation configuration (int8:tensor:sym:mse)" },
    { "sensitivity", 0, cmd_sensitivity,
      ":sensitivity [FILE]  Run the sensitivity, or read a ranking (qscope sensitivity --json)" },
};

size_t
qs_ui_command_count(void)
{
    return sizeof(commands) / sizeof(commands[0]);
}

const char *
qs_ui_command_name(size_t i)
{
    return commands[i].name;
}

const char *
qs_ui_command_help(size_t i)
{
    return commands[i].help;
}

/* Split "line" into its command name (with a trailing ! removed) and argument. */
static void
split_command(char *line, char **name, char **arg, int *bang)
{
    char *end;

    while (*line == ' ')
        line++;
    *name = line;
    line += strcspn(line, " ");
    if (*line)
        *line++ = 0;
    while (*line == ' ')
        line++;
    *arg = line;
    end = *arg + strlen(*arg);
    while (end > *arg && end[-1] == ' ')
        *--end = 0;
    *bang = 0;
    end = *name + strlen(*name);
    if (end > *name && end[-1] == '!') {
        end[-1] = 0;
        *bang = 1;
    }
}

int
qs_ui_command(struct qs_ui *ui, const char *text)
{
    char line[1024];
    char *name, *arg;
    int bang;
    enum qs_action action;

    snprintf(line, sizeof(line), "%s", text);
    split_command(line, &name, &arg, &bang);
    QS_TRACE("command :%s %s", name, arg);
    if (!*name)
        return 0;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].name, name) != 0)
            continue;
        if (commands[i].needs_arg && !*arg) {
            qs_ui_error(ui, ":%s needs an argument: %s", name, commands[i].help);
            return -1;
        }
        return commands[i].run(ui, arg, bang);
    }
    /* Every action is a command too (":move-down"). */
    action = qs_action_find(name);
    if (action != QS_ACTION_NONE) {
        qs_ui_key(ui, qs_actions[action].keys[0], NULL);
        return 0;
    }
    qs_ui_error(ui, "unknown command ':%s'", name);
    return -1;
}

/* ---- scripts ---- */

struct qs_ui_script {
    FILE *fp;
    char line[1024];
    char *next;              /* keys of the current line not pressed yet, or NULL */
    unsigned lineno;
};

struct qs_ui_script *
qs_ui_script_open(const char *path)
{
    struct qs_ui_script *script;
    FILE *fp = fopen(path, "r");

    if (!fp)
        return NULL;
    script = qs_calloc(1, sizeof(*script));
    script->fp = fp;
    return script;
}

void
qs_ui_script_close(struct qs_ui_script *script)
{
    if (!script)
        return;
    fclose(script->fp);
    free(script);
}

/* Read the next line that is not blank or a comment.  Returns 0, or -1 at the end. */
static int
script_read_line(struct qs_ui_script *script)
{
    while (fgets(script->line, sizeof(script->line), script->fp)) {
        size_t len = strcspn(script->line, "\r\n");

        script->line[len] = 0;
        script->lineno++;
        if (script->line[0] == 0 || script->line[0] == '#')
            continue;
        script->next = script->line;
        return 0;
    }
    return -1;
}

/* Take one key from the current line: a character or <Name>.  Returns -1 for a bad name. */
static int
script_take_key(struct qs_ui_script *script)
{
    char *p = script->next;
    char *close = *p == '<' ? strchr(p, '>') : NULL;
    int key;

    if (close && close > p + 1) {
        char name[32];

        snprintf(name, sizeof(name), "%.*s", (int)(close - p + 1), p);
        script->next = close + 1;
        return qs_key_parse(name);
    }
    /* One UTF-8 character. */
    key = (unsigned char)*p;
    script->next = p + 1;
    if (key >= 0x80) {
        char one[8];
        size_t n = 1;

        while (n < 4 && (script->next[0] & 0xc0) == 0x80)
            script->next++, n++;
        snprintf(one, sizeof(one), "%.*s", (int)n, p);
        key = qs_key_parse(one);
    }
    return key;
}

int
qs_ui_script_step(struct qs_ui *ui, struct qs_ui_script *script)
{
    int key;

    if ((!script->next || !*script->next) && script_read_line(script) != 0)
        return -1;
    if (script->next == script->line && script->line[0] == ':') {
        script->next = NULL;
        qs_ui_command(ui, script->line + 1);
        return 0;
    }
    key = script_take_key(script);
    if (key < 0) {
        qs_ui_error(ui, "script line %u: unknown key name", script->lineno);
        return 0;
    }
    qs_ui_key(ui, key, NULL);
    return 0;
}
