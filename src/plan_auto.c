/*
 * Automatic plans: pick one candidate per layer to minimise the total
 * squared error under a size budget (a multiple-choice knapsack).
 *
 * The greedy search walks each layer's lower convex hull of (bytes,
 * error) from its most accurate option, always taking the step with the
 * least added error per byte saved.  The exact search keeps the Pareto
 * front of partial sums; it serves small models and the tests that bound
 * the greedy result.
 */
#include "config.h"
#include "plan.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * The repair moves after the greedy steps scan every option for every
 * option.  So they run only up to this many options in all (about 800
 * layers of 5 candidates), and for at most this many improving moves.
 */
#define PLAN_REPAIR_MAX_OPTIONS 4096
#define PLAN_REPAIR_MAX_ROUNDS 1000

/* Greedy descents, each keeping one more critical item higher than the run before. */
#define PLAN_GREEDY_RUNS 16

/* Items solved exactly around the critical slope, and the states that search may keep. */
#define PLAN_CORE_ITEMS 12
#define PLAN_CORE_STATES ((size_t)1 << 16)

/*
 * Squared errors that are not finite (an infinite error after a value
 * overflowed its format) count as this much, so that the searches can
 * subtract and compare them: such an option is taken only when nothing
 * else fits.
 */
#define PLAN_SSE_CAP 1e300

/* One layer's hull: option indices from the most accurate to the smallest. */
struct hull {
    size_t *steps;
    size_t n_steps;
    size_t at;                   /* current position in "steps" */
};

/* An option with its index, for sorting. */
struct ranked_option {
    uint64_t bytes;
    double sse;
    size_t index;
};

/* Largest bytes first; among equal sizes, lower error first. */
static int
by_bytes_desc(const void *a, const void *b)
{
    const struct ranked_option *x = a, *y = b;

    if (x->bytes != y->bytes)
        return x->bytes < y->bytes ? 1 : -1;
    if (x->sse != y->sse)
        return x->sse < y->sse ? -1 : 1;
    return 0;
}

/* Added error per byte saved when going from option "from" to option "to". */
static double
slope(const struct qs_plan_item *item, size_t from, size_t to)
{
    const struct qs_plan_option *a = &item->options[from];
    const struct qs_plan_option *b = &item->options[to];

    return (b->sse - a->sse) / (double)(a->bytes - b->bytes);
}

/*
 * Build the lower convex hull of one item: start at its lowest error
 * (fewest bytes among equals), keep only options that save bytes and add
 * error, with slopes that increase.
 */
static void
hull_build(const struct qs_plan_item *item, struct hull *h)
{
    struct ranked_option *order = qs_calloc(item->n_options + 1, sizeof(*order));
    size_t best = 0;

    for (size_t i = 0; i < item->n_options; i++) {
        const struct qs_plan_option *o = &item->options[i];

        order[i].bytes = o->bytes;
        order[i].sse = o->sse;
        order[i].index = i;
        if (o->sse < item->options[best].sse
            || (o->sse == item->options[best].sse && o->bytes < item->options[best].bytes))
            best = i;
    }
    qsort(order, item->n_options, sizeof(*order), by_bytes_desc);

    h->steps = qs_calloc(item->n_options + 1, sizeof(size_t));
    h->steps[0] = best;
    h->n_steps = 1;
    h->at = 0;
    for (size_t k = 0; k < item->n_options; k++) {
        size_t i = order[k].index;
        const struct qs_plan_option *last = &item->options[h->steps[h->n_steps - 1]];

        if (item->options[i].bytes >= last->bytes)
            continue;
        while (h->n_steps >= 2
               && slope(item, h->steps[h->n_steps - 2], h->steps[h->n_steps - 1])
                  >= slope(item, h->steps[h->n_steps - 2], i))
            h->n_steps--;
        h->steps[h->n_steps++] = i;
    }
    free(order);
}

static uint64_t
smallest_total(const struct qs_plan_item *items, size_t n)
{
    uint64_t total = 0;

    for (size_t i = 0; i < n; i++) {
        uint64_t least = UINT64_MAX;

        for (size_t j = 0; j < items[i].n_options; j++)
            if (items[i].options[j].bytes < least)
                least = items[i].options[j].bytes;
        total += least;
    }
    return total;
}

static enum qs_status
budget_too_small(const struct qs_plan_item *items, size_t n, uint64_t budget, char *message,
                 size_t size)
{
    snprintf(message, size, "the budget of %llu bytes is below the smallest plan the "
             "candidates allow (%llu bytes)", (unsigned long long)budget,
             (unsigned long long)smallest_total(items, n));
    return QS_USAGE;
}

/* Spend the slack left under the budget on the largest error reductions that fit. */
static void
greedy_fill(const struct qs_plan_item *items, size_t n, uint64_t budget, uint64_t *total,
            size_t *choice)
{
    for (;;) {
        double best_gain = 0.0;
        size_t best_item = 0, best_option = 0;

        for (size_t i = 0; i < n; i++) {
            const struct qs_plan_option *cur = &items[i].options[choice[i]];

            for (size_t j = 0; j < items[i].n_options; j++) {
                const struct qs_plan_option *o = &items[i].options[j];
                double gain = cur->sse - o->sse;

                if (gain > best_gain && *total - cur->bytes + o->bytes <= budget) {
                    best_gain = gain;
                    best_item = i;
                    best_option = j;
                }
            }
        }
        if (best_gain <= 0.0)
            return;
        *total = *total - items[best_item].options[choice[best_item]].bytes
                 + items[best_item].options[best_option].bytes;
        choice[best_item] = best_option;
    }
}

static double
choice_error(const struct qs_plan_item *items, size_t n, const size_t *choice)
{
    double sse = 0.0;

    for (size_t i = 0; i < n; i++)
        sse += items[i].options[choice[i]].sse;
    return sse;
}

/* A move of one item to an option with fewer bytes, ranked by added error per byte saved. */
struct down_move {
    double ratio;
    double cost;                 /* added squared error (may be negative) */
    uint64_t saved;
    size_t item;
    size_t option;
};

static int
by_ratio(const void *a, const void *b)
{
    const struct down_move *x = a, *y = b;

    if (x->ratio != y->ratio)
        return x->ratio < y->ratio ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

static size_t
collect_down_moves(const struct qs_plan_item *items, size_t n, const size_t *choice,
                   struct down_move *moves)
{
    size_t count = 0;

    for (size_t j = 0; j < n; j++) {
        const struct qs_plan_option *cur = &items[j].options[choice[j]];

        for (size_t o = 0; o < items[j].n_options; o++) {
            const struct qs_plan_option *opt = &items[j].options[o];

            if (opt->bytes >= cur->bytes)
                continue;
            moves[count].saved = cur->bytes - opt->bytes;
            moves[count].cost = opt->sse - cur->sse;
            moves[count].ratio = moves[count].cost / (double)moves[count].saved;
            moves[count].item = j;
            moves[count].option = o;
            count++;
        }
    }
    qsort(moves, count, sizeof(*moves), by_ratio);
    return count;
}

/* A candidate improvement: one item up, the others that pay for it down. */
struct repair {
    double gain;
    size_t item, option;
    size_t *picked;              /* indices into the move list */
    size_t n_picked;
};

/*
 * Cost of paying "need" bytes with the cheapest moves, at most one per
 * item and none of item "skip".  Returns the added error, or +inf when the
 * moves cannot pay; the moves taken go to "picked".
 */
static double
repair_cost(const struct down_move *moves, size_t n_moves, size_t skip, uint64_t need,
            unsigned *stamp, unsigned mark, size_t *picked, size_t *n_picked)
{
    double cost = 0.0;
    uint64_t saved = 0;

    *n_picked = 0;
    for (size_t m = 0; m < n_moves && saved < need; m++) {
        if (moves[m].item == skip || stamp[moves[m].item] == mark)
            continue;
        stamp[moves[m].item] = mark;
        saved += moves[m].saved;
        cost += moves[m].cost;
        picked[(*n_picked)++] = m;
    }
    return saved >= need ? cost : INFINITY;
}

/* The best "one up, others down" move within the budget; gain 0 when none improves. */
static void
repair_search(const struct qs_plan_item *items, size_t n, uint64_t budget, uint64_t total,
              const size_t *choice, const struct down_move *moves, size_t n_moves,
              unsigned *stamp, size_t *scratch, struct repair *best)
{
    unsigned mark = 0;

    best->gain = 0.0;
    for (size_t i = 0; i < n; i++) {
        const struct qs_plan_option *cur = &items[i].options[choice[i]];

        for (size_t o = 0; o < items[i].n_options; o++) {
            const struct qs_plan_option *up = &items[i].options[o];
            size_t n_scratch;
            double gain;

            if (up->bytes <= cur->bytes || up->sse >= cur->sse
                || total + (up->bytes - cur->bytes) <= budget)
                continue;
            gain = (cur->sse - up->sse)
                   - repair_cost(moves, n_moves, i, total + (up->bytes - cur->bytes) - budget,
                                 stamp, ++mark, scratch, &n_scratch);
            if (gain > best->gain) {
                best->gain = gain;
                best->item = i;
                best->option = o;
                best->n_picked = n_scratch;
                memcpy(best->picked, scratch, n_scratch * sizeof(size_t));
            }
        }
    }
}

/*
 * Improve the choice with moves that raise one item and lower the
 * cheapest others to pay for it, while the error drops; fill after each.
 * The greedy steps alone can strand an item one step too low when
 * several small items together could have paid for it.
 */
static void
greedy_repair(const struct qs_plan_item *items, size_t n, uint64_t budget, uint64_t total,
              size_t *choice)
{
    size_t options = 0;
    struct down_move *moves;
    unsigned *stamp;
    size_t *scratch;
    struct repair best = { 0 };

    for (size_t i = 0; i < n; i++)
        options += items[i].n_options;
    if (options > PLAN_REPAIR_MAX_OPTIONS)
        return;
    moves = qs_calloc(options + 1, sizeof(*moves));
    stamp = qs_calloc(n + 1, sizeof(*stamp));
    scratch = qs_calloc(n + 1, sizeof(size_t));
    best.picked = qs_calloc(n + 1, sizeof(size_t));
    for (size_t round = 0; round < PLAN_REPAIR_MAX_ROUNDS; round++) {
        size_t n_moves = collect_down_moves(items, n, choice, moves);

        memset(stamp, 0, (n + 1) * sizeof(*stamp));
        repair_search(items, n, budget, total, choice, moves, n_moves, stamp, scratch, &best);
        if (best.gain <= 1e-12 * choice_error(items, n, choice))
            break;
        total += items[best.item].options[best.option].bytes
                 - items[best.item].options[choice[best.item]].bytes;
        choice[best.item] = best.option;
        for (size_t k = 0; k < best.n_picked; k++) {
            const struct down_move *m = &moves[best.picked[k]];

            total -= m->saved;
            choice[m->item] = m->option;
        }
        greedy_fill(items, n, budget, &total, choice);
    }
    free(moves);
    free(stamp);
    free(scratch);
    free(best.picked);
}

/*
 * One descent from the most accurate options: step the item with the
 * least added error per byte saved until the budget holds, no item going
 * past hull position "limit[i]".  Stores the last item stepped in
 * "*critical" (n when none was).  Returns 0 when the budget cannot be met.
 */
static int
greedy_descend(const struct qs_plan_item *items, size_t n, struct hull *hulls,
               const size_t *limit, uint64_t budget, size_t *choice, uint64_t *total,
               size_t *critical)
{
    *total = 0;
    *critical = n;
    for (size_t i = 0; i < n; i++) {
        hulls[i].at = 0;
        choice[i] = hulls[i].steps[0];
        *total += items[i].options[choice[i]].bytes;
    }
    while (*total > budget) {
        double best = INFINITY;
        size_t pick = n;

        for (size_t i = 0; i < n; i++) {
            struct hull *h = &hulls[i];
            double s;

            if (h->at >= limit[i] || h->at + 1 >= h->n_steps)
                continue;
            s = slope(&items[i], h->steps[h->at], h->steps[h->at + 1]);
            if (s < best) {
                best = s;
                pick = i;
            }
        }
        if (pick == n)
            return 0;
        *total -= items[pick].options[choice[pick]].bytes;
        choice[pick] = hulls[pick].steps[++hulls[pick].at];
        *total += items[pick].options[choice[pick]].bytes;
        *critical = pick;
    }
    return 1;
}

static enum qs_status plan_exact(const struct qs_plan_item *items, size_t n, uint64_t budget,
                                 size_t max_states, size_t *choice, char *message,
                                 size_t size);

/* An item with its distance from the critical slope, for choosing the core. */
struct core_rank {
    double distance;
    size_t item;
};

static int
by_distance(const void *a, const void *b)
{
    const struct core_rank *x = a, *y = b;

    if (x->distance != y->distance)
        return x->distance < y->distance ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

/* How far the item's hull slopes come to "lambda", as |log(slope / lambda)|. */
static double
core_distance(const struct qs_plan_item *item, const struct hull *h, double lambda)
{
    double best = INFINITY;

    for (size_t k = 0; k + 1 < h->n_steps; k++) {
        double s = slope(item, h->steps[k], h->steps[k + 1]);
        double d = s > 0.0 ? fabs(log(s / lambda)) : INFINITY;

        if (d < best)
            best = d;
    }
    return best;
}

/*
 * Solve the items whose hull slopes lie nearest the critical slope
 * "lambda" exactly, the others fixed where the descent left them
 * ("base"), then fill.  Returns 1 with the result in "out" when the core
 * search fits its state limit and the budget.
 */
static int
greedy_core(const struct qs_plan_item *items, size_t n, const struct hull *hulls, double lambda,
            uint64_t budget, const size_t *base, size_t *out)
{
    size_t k = n < PLAN_CORE_ITEMS ? n : PLAN_CORE_ITEMS;
    struct core_rank *rank = qs_calloc(n + 1, sizeof(*rank));
    struct qs_plan_item *core = qs_calloc(k + 1, sizeof(*core));
    size_t *core_choice = qs_calloc(k + 1, sizeof(size_t));
    uint64_t fixed = 0, total = 0;
    char message[256];
    int ok = 0;

    for (size_t i = 0; i < n; i++) {
        rank[i].distance = core_distance(&items[i], &hulls[i], lambda);
        rank[i].item = i;
    }
    qsort(rank, n, sizeof(*rank), by_distance);
    memcpy(out, base, n * sizeof(size_t));
    for (size_t c = k; c < n; c++)
        fixed += items[rank[c].item].options[base[rank[c].item]].bytes;
    for (size_t c = 0; c < k; c++)
        core[c] = items[rank[c].item];
    if (fixed <= budget
        && plan_exact(core, k, budget - fixed, PLAN_CORE_STATES, core_choice, message,
                      sizeof(message)) == QS_OK) {
        for (size_t c = 0; c < k; c++)
            out[rank[c].item] = core_choice[c];
        for (size_t i = 0; i < n; i++)
            total += items[i].options[out[i]].bytes;
        greedy_fill(items, n, budget, &total, out);
        ok = 1;
    }
    free(rank);
    free(core);
    free(core_choice);
    return ok;
}

/* Keep "trial" in "choice" when its error is the lowest so far. */
static void
keep_best(const struct qs_plan_item *items, size_t n, const size_t *trial, size_t *choice,
          double *best)
{
    double sse = choice_error(items, n, trial);

    if (sse < *best) {
        *best = sse;
        memcpy(choice, trial, n * sizeof(size_t));
    }
}

/* A copy of "items" with every squared error capped at PLAN_SSE_CAP; free with items_free. */
static struct qs_plan_item *
items_capped(const struct qs_plan_item *items, size_t n)
{
    struct qs_plan_item *copy = qs_calloc(n + 1, sizeof(*copy));

    for (size_t i = 0; i < n; i++) {
        struct qs_plan_option *options = qs_calloc(items[i].n_options + 1, sizeof(*options));

        for (size_t j = 0; j < items[i].n_options; j++) {
            double sse = items[i].options[j].sse;

            options[j].bytes = items[i].options[j].bytes;
            options[j].sse = sse <= PLAN_SSE_CAP ? sse : PLAN_SSE_CAP;
        }
        copy[i].n_options = items[i].n_options;
        copy[i].options = options;
    }
    return copy;
}

static void
items_free(struct qs_plan_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((void *)items[i].options);
    free(items);
}

/*
 * The descent may end on a large step of one item (the critical item)
 * that saves far more than needed, so two remedies run after it and the
 * best result wins.  First, the items nearest the critical slope are
 * solved exactly with the others fixed (the core).  Second, further
 * descents each keep the critical items of the runs before them one hull
 * step higher, so that other items pay instead.  Each descent is filled
 * and repaired.
 */
static enum qs_status
plan_greedy(const struct qs_plan_item *items, size_t n, uint64_t budget, size_t *choice,
            char *message, size_t size)
{
    struct hull *hulls = qs_calloc(n + 1, sizeof(*hulls));
    size_t *limit = qs_calloc(n + 1, sizeof(size_t));
    size_t *trial = qs_calloc(n + 1, sizeof(size_t));
    double best = INFINITY;
    uint64_t total;
    size_t critical;

    for (size_t i = 0; i < n; i++) {
        hull_build(&items[i], &hulls[i]);
        limit[i] = hulls[i].n_steps;
    }
    for (size_t run = 0; run < PLAN_GREEDY_RUNS; run++) {
        if (!greedy_descend(items, n, hulls, limit, budget, trial, &total, &critical))
            break;
        if (run == 0 && critical < n) {
            const struct hull *h = &hulls[critical];
            double lambda = slope(&items[critical], h->steps[h->at - 1], h->steps[h->at]);
            size_t *core = qs_calloc(n + 1, sizeof(size_t));

            if (lambda > 0.0 && greedy_core(items, n, hulls, lambda, budget, trial, core))
                keep_best(items, n, core, choice, &best);
            free(core);
        }
        greedy_fill(items, n, budget, &total, trial);
        greedy_repair(items, n, budget, total, trial);
        keep_best(items, n, trial, choice, &best);
        if (critical == n)
            break;
        limit[critical] = hulls[critical].at - 1;
    }

    for (size_t i = 0; i < n; i++)
        free(hulls[i].steps);
    free(hulls);
    free(limit);
    free(trial);
    if (best == INFINITY)
        return budget_too_small(items, n, budget, message, size);
    return QS_OK;
}

enum qs_status
qs_plan_greedy(const struct qs_plan_item *items, size_t n, uint64_t budget, size_t *choice,
               char *message, size_t size)
{
    struct qs_plan_item *capped = items_capped(items, n);
    enum qs_status status = plan_greedy(capped, n, budget, choice, message, size);

    items_free(capped, n);
    return status;
}

int
qs_plan_candidate_fits(const struct qs_plan_measure *m)
{
    if (m->params > UINT64_MAX / 4)
        return 1;
    return m->bytes <= m->params * 4;
}

/* ---- exact search ---- */

/* One point of a Pareto front: a partial sum and how it was reached. */
struct front_point {
    uint64_t bytes;
    double sse;
    size_t parent;               /* index in the previous front */
    size_t option;               /* option taken for this item */
};

struct front {
    struct front_point *points;
    size_t count;
};

static int
by_bytes_then_sse(const void *a, const void *b)
{
    const struct front_point *x = a, *y = b;

    if (x->bytes != y->bytes)
        return x->bytes < y->bytes ? -1 : 1;
    if (x->sse != y->sse)
        return x->sse < y->sse ? -1 : 1;
    return 0;
}

/* Keep the points no other point beats in both bytes and error. */
static void
front_prune(struct front *f)
{
    size_t kept = 0;

    qsort(f->points, f->count, sizeof(*f->points), by_bytes_then_sse);
    for (size_t i = 0; i < f->count; i++) {
        if (kept && f->points[i].sse >= f->points[kept - 1].sse)
            continue;
        f->points[kept++] = f->points[i];
    }
    f->count = kept;
}

/* The front after adding item "item" to "prev"; points over "budget" are dropped. */
static int
front_extend(const struct front *prev, const struct qs_plan_item *item, uint64_t budget,
             size_t max_states, struct front *next)
{
    size_t cap = prev->count * item->n_options;

    if (item->n_options && cap / item->n_options != prev->count)
        return 0;
    if (cap > max_states * 4 + 16)
        return 0;
    next->points = qs_calloc(cap + 1, sizeof(*next->points));
    next->count = 0;
    for (size_t p = 0; p < prev->count; p++) {
        for (size_t j = 0; j < item->n_options; j++) {
            uint64_t bytes = prev->points[p].bytes + item->options[j].bytes;
            struct front_point *pt;

            if (bytes > budget || bytes < prev->points[p].bytes)
                continue;
            pt = &next->points[next->count++];
            pt->bytes = bytes;
            pt->sse = prev->points[p].sse + item->options[j].sse;
            pt->parent = p;
            pt->option = j;
        }
    }
    front_prune(next);
    return next->count <= max_states;
}

static void
front_backtrack(const struct front *fronts, size_t n, size_t *choice)
{
    size_t best = 0;

    for (size_t i = 1; i < fronts[n].count; i++)
        if (fronts[n].points[i].sse < fronts[n].points[best].sse)
            best = i;
    for (size_t k = n; k > 0; k--) {
        choice[k - 1] = fronts[k].points[best].option;
        best = fronts[k].points[best].parent;
    }
}

static enum qs_status
plan_exact(const struct qs_plan_item *items, size_t n, uint64_t budget, size_t max_states,
           size_t *choice, char *message, size_t size)
{
    struct front *fronts = qs_calloc(n + 1, sizeof(*fronts));
    enum qs_status status = QS_OK;
    size_t built = 0;

    fronts[0].points = qs_calloc(1, sizeof(*fronts[0].points));
    fronts[0].count = 1;
    for (size_t i = 0; i < n && status == QS_OK; i++) {
        built = i + 1;
        if (!front_extend(&fronts[i], &items[i], budget, max_states, &fronts[i + 1])) {
            snprintf(message, size, "the exact search needs more than %zu states",
                     max_states);
            status = QS_UNSUPPORTED;
        } else if (fronts[i + 1].count == 0) {
            status = budget_too_small(items, n, budget, message, size);
        }
    }
    if (status == QS_OK)
        front_backtrack(fronts, n, choice);

    for (size_t i = 0; i <= built; i++)
        free(fronts[i].points);
    free(fronts);
    return status;
}

enum qs_status
qs_plan_exact(const struct qs_plan_item *items, size_t n, uint64_t budget, size_t max_states,
              size_t *choice, char *message, size_t size)
{
    struct qs_plan_item *capped = items_capped(items, n);
    enum qs_status status = plan_exact(capped, n, budget, max_states, choice, message, size);

    items_free(capped, n);
    return status;
}
