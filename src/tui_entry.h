/*
 * The entry point of `qscope MODEL` (and `qscope DIR`): the interactive
 * browser.  main.c calls it after parsing the command line; the TUI
 * fills in its body.
 */
#ifndef QS_TUI_ENTRY_H
#define QS_TUI_ENTRY_H

#include "cli.h"

/*
 * Browse the model or folder "cli->args[0]" with the options in "cli".
 * Returns the exit status.
 */
int qs_tui_run(const struct qs_cli *cli);

#endif
