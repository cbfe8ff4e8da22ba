/*
 * The entry point of `qscope MODEL` (and `qscope DIR`): the interactive
 * browser.  main.c hands it the command line; it parses the browser's
 * options and runs views/ui.c.
 */
#ifndef QS_TUI_ENTRY_H
#define QS_TUI_ENTRY_H

/*
 * Parse `qscope [OPTIONS] MODEL|DIR` from "argc" entries of "argv"
 * (argv[0] is the program) and browse the model or folder.  The options
 * are --out-dir, the inputs that `qscope calibrate` takes (--input,
 * --data, --random and their settings), --qstats FILE and --sensitivity
 * FILE.  Returns the exit status.
 */
int qs_tui_main(int argc, char **argv);

#endif
