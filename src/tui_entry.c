/*
 * `qscope MODEL` and `qscope DIR` before the interactive browser exists.
 */
#include "config.h"
#include "tui_entry.h"

#include <sys/stat.h>

#include "commands.h"

/*
 * TODO: open the TUI here.  Until then a model file prints what
 * `qscope info MODEL` prints and a folder what `qscope ops DIR` prints.
 */
int
qs_tui_run(const struct qs_cli *cli)
{
    struct stat st;

    if (stat(cli->args[0], &st) == 0 && S_ISDIR(st.st_mode))
        return qs_ops_run(cli);
    return qs_info_run(cli);
}
