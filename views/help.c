/*
 * Help view: every key, made from the action table (actions.h), grouped
 * by where it works.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ui.h"

/* Group number of the `:` commands, after the action groups. */
#define HELP_COMMANDS QS_GROUP_COUNT

struct help_line {
    int group;               /* >= 0: a group title (HELP_COMMANDS: the commands) */
    enum qs_action action;   /* QS_ACTION_NONE for titles, commands and blank lines */
    int command;             /* >= 0: a `:` command */
    char *search;            /* lowercase text for / */
};

struct help_view {
    struct help_line *lines;
    size_t n;
};

#define HELP_KEYS_WIDTH 24

static char *
lowercase(const char *a, const char *b)
{
    char *text = qs_asprintf("%s %s", a, b);

    for (char *p = text; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return text;
}

static const char *
group_title(int group)
{
    return group == HELP_COMMANDS ? "Commands (type : first)"
                                  : qs_action_group_title((enum qs_action_group)group);
}

static void
line_add(struct help_view *h, int group, enum qs_action action)
{
    char keys[64];

    h->lines = qs_reallocarray(h->lines, h->n + 1, sizeof(*h->lines));
    h->lines[h->n].group = group;
    h->lines[h->n].action = action;
    h->lines[h->n].command = -1;
    if (action != QS_ACTION_NONE)
        h->lines[h->n].search = lowercase(qs_action_keys_text(action, keys, sizeof(keys)),
                                          qs_actions[action].help);
    else
        h->lines[h->n].search = lowercase(group >= 0 ? group_title(group) : "", "");
    h->n++;
}

static void
command_add(struct help_view *h, size_t command)
{
    line_add(h, -1, QS_ACTION_NONE);
    h->lines[h->n - 1].command = (int)command;
    free(h->lines[h->n - 1].search);
    h->lines[h->n - 1].search = lowercase(qs_ui_command_help(command), "");
}

static int
help_open(struct qs_view *view)
{
    struct help_view *h = view->priv;

    for (int g = 0; g < QS_GROUP_COUNT; g++) {
        if (g > 0)
            line_add(h, -1, QS_ACTION_NONE);
        line_add(h, g, QS_ACTION_NONE);
        for (int a = 1; a < QS_ACTION_COUNT; a++)
            if ((int)qs_actions[a].group == g)
                line_add(h, -1, (enum qs_action)a);
    }
    line_add(h, -1, QS_ACTION_NONE);
    line_add(h, HELP_COMMANDS, QS_ACTION_NONE);
    for (size_t c = 0; c < qs_ui_command_count(); c++)
        command_add(h, c);
    return 0;
}

static void
help_close(struct qs_view *view)
{
    struct help_view *h = view->priv;

    for (size_t i = 0; i < h->n; i++)
        free(h->lines[i].search);
    free(h->lines);
}

static size_t
help_count(struct qs_view *view)
{
    return ((struct help_view *)view->priv)->n;
}

static void
help_draw_header(struct qs_view *view, struct qs_row *row)
{
    (void)view;
    qs_row_addf(row, QS_STYLE_TITLE, "Keys (from the same table that dispatches them)");
}

static void
help_draw_line(struct qs_view *view, size_t line, struct qs_row *row, size_t cols)
{
    struct help_view *h = view->priv;
    const struct help_line *l = &h->lines[line];
    char keys[64];

    (void)cols;
    if (l->group >= 0) {
        qs_row_add(row, QS_STYLE_TITLE, group_title(l->group));
        return;
    }
    if (l->command >= 0) {
        /* "USAGE  DESCRIPTION": the usage goes in the keys column. */
        const char *text = qs_ui_command_help((size_t)l->command);
        const char *gap = strstr(text, "  ");
        char usage[64];

        snprintf(usage, sizeof(usage), "%.*s", gap ? (int)(gap - text) : 0, text);
        qs_row_add(row, QS_STYLE_NORMAL, "  ");
        qs_row_cell(row, QS_STYLE_KEY, usage, HELP_KEYS_WIDTH, 0);
        qs_row_addf(row, QS_STYLE_NORMAL, " %s", gap ? gap + 2 : text);
        return;
    }
    if (l->action == QS_ACTION_NONE)
        return;
    qs_row_add(row, QS_STYLE_NORMAL, "  ");
    qs_row_cell(row, QS_STYLE_KEY, qs_action_keys_text(l->action, keys, sizeof(keys)),
                HELP_KEYS_WIDTH, 0);
    qs_row_add(row, QS_STYLE_NORMAL, " ");
    qs_row_add(row, QS_STYLE_NORMAL, qs_actions[l->action].help);
}

static const char *
help_search_text(struct qs_view *view, size_t line)
{
    return ((struct help_view *)view->priv)->lines[line].search;
}

static int
help_key(struct qs_view *view, enum qs_action action, int key)
{
    (void)key;
    /* Enter and ? close the help again. */
    if (action == QS_ACTION_ENTER || action == QS_ACTION_HELP) {
        qs_ui_back(view->ui);
        return 1;
    }
    return 0;
}

const struct qs_view_ops qs_help_view = {
    .name = "help",
    .group = QS_GROUP_GLOBAL,
    .flags = QS_VIEW_LIST | QS_VIEW_TAB,
    .private_size = sizeof(struct help_view),
    .open = help_open,
    .close = help_close,
    .count = help_count,
    .draw_header = help_draw_header,
    .draw_line = help_draw_line,
    .search_text = help_search_text,
    .key = help_key,
};
