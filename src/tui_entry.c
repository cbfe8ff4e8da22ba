/*
 * `qscope MODEL` and `qscope DIR`: the interactive browser (views/ui.c).
 */
#include "config.h"
#include "tui_entry.h"

#include "ui.h"

int
qs_tui_run(const struct qs_cli *cli)
{
    return qs_ui_main(cli);
}
