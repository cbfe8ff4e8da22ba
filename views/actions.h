/*
 * Every user action of the browser, in one table.  The table is the only
 * place a key is bound: key dispatch (qs_action_lookup), the help view,
 * the status line's key hints and the manual page's KEYS section
 * (`qscope --list-keys`, spliced in by `make update-docs`) are all made
 * from it, so they cannot drift apart.
 *
 * Each entry: _(ID, "name", GROUP, "hint", "help", KEY...)
 *   ID      enum suffix: QS_ACTION_ID
 *   name    the action's name, also a `:` command where that makes sense
 *   GROUP   where the keys work: GLOBAL everywhere, LIST in every list,
 *           else the one view named; a view's own group is looked up
 *           first, then LIST, then GLOBAL, so views may reuse a letter
 *   hint    the short word shown in the status line, or NULL for none
 *   help    one line for the help view and the manual page
 *   KEY...  one to four keys (see keys.h); the first is the one shown
 */
#ifndef QS_ACTIONS_H
#define QS_ACTIONS_H

#include <stddef.h>
#include <stdio.h>

#include "keys.h"

/* Groups, in the order the help view and the manual list them. */
#define QS_ACTION_GROUP_INFO(_) \
    _(GLOBAL, "Everywhere") \
    _(LIST,   "Moving in lists") \
    _(GRAPH,  "Graph view") \
    _(NODE,   "Node view") \
    _(OPS,    "Ops view") \
    _(LAYERS, "Layers view") \
    _(LAYER,  "Layer view") \
    _(PLAN,   "Plan view") \
    _(EVAL,   "Eval view")

enum qs_action_group {
#define QS_ACTION_GROUP_ENUM(id, title) QS_GROUP_##id,
    QS_ACTION_GROUP_INFO(QS_ACTION_GROUP_ENUM)
#undef QS_ACTION_GROUP_ENUM
    QS_GROUP_COUNT
};

#define QS_ACTION_INFO(_) \
    _(VIEW_GRAPH, "view-graph", GLOBAL, NULL, \
      "Show the graph view: every node in graph order", '1') \
    _(VIEW_OPS, "view-ops", GLOBAL, NULL, \
      "Show the op histogram", '2') \
    _(VIEW_LAYERS, "view-layers", GLOBAL, NULL, \
      "Show the layers table with weight statistics", '3') \
    _(VIEW_LAYER, "view-layer", GLOBAL, NULL, \
      "Show the selected layer: plots and trial quantization", '4') \
    _(VIEW_PLAN, "view-plan", GLOBAL, NULL, \
      "Show the plan: every layer's configuration and totals", '5') \
    _(HELP, "help", GLOBAL, "help", \
      "Show every key", '?') \
    _(BACK, "back", GLOBAL, "back", \
      "Go back to the previous view or node", QS_KEY_ESC, QS_KEY_BACKSPACE, QS_KEY_LEFT, 'h') \
    _(QUIT, "quit", GLOBAL, "quit", \
      "Quit (asks first when the plan has unsaved changes)", 'q') \
    _(PROMPT, "prompt", GLOBAL, NULL, \
      "Type a command (:save-screen FILE, :config CONFIG, :write FILE, ...)", ':') \
    _(SEARCH, "search", GLOBAL, "search", \
      "Search names and op types", '/') \
    _(SEARCH_NEXT, "search-next", GLOBAL, NULL, \
      "Go to the next match", 'n') \
    _(SEARCH_PREV, "search-prev", GLOBAL, NULL, \
      "Go to the previous match", 'N') \
    _(REDRAW, "redraw", GLOBAL, NULL, \
      "Redraw the screen", QS_KEY_CTRL('l')) \
    _(CALIBRATE, "calibrate", GLOBAL, NULL, \
      "Collect activation statistics over the inputs", 'C') \
    _(SENSITIVITY, "sensitivity", GLOBAL, NULL, \
      "Measure each layer's output SQNR alone (out dB)", 'R') \
    _(EVAL, "eval", GLOBAL, NULL, \
      "Evaluate the plan: SQNR of every tensor and output", 't') \
    _(CANCEL_RUN, "cancel", GLOBAL, NULL, \
      "Cancel the calibration, sensitivity or evaluation", 'X') \
    _(MOVE_UP, "move-up", LIST, NULL, \
      "Move up one line", QS_KEY_UP, 'k') \
    _(MOVE_DOWN, "move-down", LIST, NULL, \
      "Move down one line", QS_KEY_DOWN, 'j') \
    _(PAGE_UP, "page-up", LIST, NULL, \
      "Move up one page", QS_KEY_PGUP, QS_KEY_CTRL('b')) \
    _(PAGE_DOWN, "page-down", LIST, NULL, \
      "Move down one page", QS_KEY_PGDN, QS_KEY_CTRL('f')) \
    _(HALF_UP, "half-page-up", LIST, NULL, \
      "Move up half a page", QS_KEY_CTRL('u')) \
    _(HALF_DOWN, "half-page-down", LIST, NULL, \
      "Move down half a page", QS_KEY_CTRL('d')) \
    _(MOVE_TOP, "move-first", LIST, NULL, \
      "Go to the first line", 'g', QS_KEY_HOME) \
    _(MOVE_BOTTOM, "move-last", LIST, NULL, \
      "Go to the last line", 'G', QS_KEY_END) \
    _(ENTER, "enter", LIST, "open", \
      "Open the selected line", QS_KEY_ENTER, QS_KEY_RIGHT, 'l') \
    _(FOLD, "fold", GRAPH, "fold", \
      "Fold or unfold the subgraphs of an If, Loop or Scan node", ' ') \
    _(FOLD_ALL, "fold-all", GRAPH, NULL, \
      "Fold every subgraph", '-') \
    _(UNFOLD_ALL, "unfold-all", GRAPH, NULL, \
      "Unfold every subgraph", '+') \
    _(CLEAR_FILTER, "clear-filter", GRAPH, "all ops", \
      "Show every node again after choosing an op", 'x') \
    _(PRODUCER, "producer", NODE, "producer", \
      "Follow the selected (or first) input to the node that produces it", 'p') \
    _(CONSUMER, "consumer", NODE, "consumer", \
      "Follow the selected (or first) output to its first consumer", 'c') \
    _(SORT_TOGGLE, "sort", OPS, "sort", \
      "Sort by count or by name", 's') \
    _(SORT_NEXT, "sort-next", LAYERS, "sort", \
      "Sort by the next column, worst first", 's') \
    _(SORT_PREV, "sort-prev", LAYERS, NULL, \
      "Sort by the previous column", 'S') \
    _(SORT_REVERSE, "sort-reverse", LAYERS, NULL, \
      "Reverse the sort order", 'r') \
    _(FILTER_OP, "filter-op", LAYERS, "op", \
      "Show only layers of the next op type", 'o') \
    _(FILTER_CLEAR, "filter-clear", LAYERS, NULL, \
      "Show layers of every op type", 'x') \
    _(FORMAT_NEXT, "format-next", LAYER, "format", \
      "Next format: int, fp8e4m3, fp8e5m2, nf4, fp16, bf16", 'f') \
    _(FORMAT_PREV, "format-prev", LAYER, NULL, \
      "Previous format", 'F') \
    _(BITS_DOWN, "bits-down", LAYER, "bits", \
      "Fewer bits (int formats: 8 to 2)", 'b') \
    _(BITS_UP, "bits-up", LAYER, NULL, \
      "More bits (int formats: 2 to 8, then 16)", 'B') \
    _(GRANULARITY, "granularity", LAYER, "granul", \
      "Next granularity: tensor, channel, group", 'g') \
    _(GROUP_DOWN, "group-down", LAYER, NULL, \
      "Halve the group size (down to 16)", 'z') \
    _(GROUP_UP, "group-up", LAYER, NULL, \
      "Double the group size (up to 1024)", 'Z') \
    _(SCHEME, "scheme", LAYER, "scheme", \
      "Switch between symmetric and asymmetric", 's') \
    _(RANGE, "range", LAYER, "range", \
      "Next range: minmax, mse, p99.99, p99.9", 'r') \
    _(PLAN_SET, "plan-set", LAYER, "to plan", \
      "Put the configuration into the plan for this layer", 'a') \
    _(PLAN_SET_OP, "plan-set-op", LAYER, NULL, \
      "Put the configuration into the plan for every layer of this op type", 'A') \
    _(LAYER_NEXT, "layer-next", LAYER, "next", \
      "Show the next layer in the layers view's order", 'j', QS_KEY_DOWN, ']') \
    _(LAYER_PREV, "layer-prev", LAYER, NULL, \
      "Show the previous layer", 'k', QS_KEY_UP, '[') \
    _(PLOT_SWITCH, "plot-switch", LAYER, "plot", \
      "Switch between the range plot and the histogram", 'v') \
    _(PLOT_EXPORT, "plot-export", LAYER, "export", \
      "Export the current plot as PNG and SVG", 'e') \
    _(SIXEL, "sixel", LAYER, NULL, \
      "Draw plots as sixel images (where the terminal supports it)", 'i') \
    _(ACT_PLOTS, "activation-plots", LAYER, NULL, \
      "Plot the input activation x, or the weight again", 'x') \
    _(ACT_RANGE, "activation-range", LAYER, NULL, \
      "Next activation range: minmax, p99.99, entropy, mse", 'c') \
    _(PLAN_WRITE, "plan-write", PLAN, "write", \
      "Write the plan to a file", 'w') \
    _(PLAN_OPEN, "plan-open", PLAN, "open", \
      "Read a plan file", 'o') \
    _(PLAN_AUTO, "plan-auto", PLAN, "auto", \
      "Make a plan automatically for a size budget (4.5bpw, 300MB, 25%)", 'u') \
    _(PLAN_DROP, "plan-drop", PLAN, "float", \
      "Leave the selected layer in float", 'd') \
    _(EVAL_EXPORT, "eval-export", EVAL, "export", \
      "Export the SQNR plot as PNG and SVG", 'e')

enum qs_action {
    QS_ACTION_NONE,
#define QS_ACTION_ENUM(id, name, group, hint, help, ...) QS_ACTION_##id,
    QS_ACTION_INFO(QS_ACTION_ENUM)
#undef QS_ACTION_ENUM
    QS_ACTION_COUNT
};

/* Most keys one action may have. */
#define QS_ACTION_MAX_KEYS 4

struct qs_action_info {
    enum qs_action action;
    const char *name;
    enum qs_action_group group;
    const char *hint;
    const char *help;
    int keys[QS_ACTION_MAX_KEYS];    /* unused entries are 0 */
};

/* The table, indexed by enum qs_action (entry 0 is QS_ACTION_NONE). */
extern const struct qs_action_info qs_actions[QS_ACTION_COUNT];

/* Title of "group" ("Layer view"). */
const char *qs_action_group_title(enum qs_action_group group);

/*
 * The action bound to "key" in "group", else in LIST when "list" is set,
 * else in GLOBAL; QS_ACTION_NONE when none is.
 */
enum qs_action qs_action_lookup(int key, enum qs_action_group group, int list);

/* The action called "name" ("move-down"), or QS_ACTION_NONE. */
enum qs_action qs_action_find(const char *name);

/*
 * The keys of "action" as the help view shows them ("j, Down") in "buf".
 * Returns "buf".
 */
const char *qs_action_keys_text(enum qs_action action, char *buf, size_t size);

/*
 * Write the KEYS section body of the manual page (roff) to "fp": one
 * subsection per group, one tagged paragraph per action.  Returns 0, or
 * -1 when writing failed.
 */
int qs_action_write_roff(FILE *fp);

#endif
