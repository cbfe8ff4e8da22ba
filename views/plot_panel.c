/*
 * Plot panels and plot export (see plot_panel.h).
 */
#include "config.h"
#include "plot_panel.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ui.h"

void
qs_plot_script_add(struct qs_plot_script *script, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(script->text ? script->text + script->len : NULL,
                      script->text ? script->cap - script->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (script->text && script->len + (size_t)n < script->cap)
            break;
        script->cap = (script->cap + (size_t)n + 1) * 2;
        script->text = qs_realloc(script->text, script->cap);
    }
    script->len += (size_t)n;
}

void
qs_plot_panel_reset(struct qs_plot_panel *panel)
{
    qs_plot_image_done(&panel->image);
    free(panel->image_key);
    free(panel->pending_key);
    panel->image_key = panel->pending_key = NULL;
}

void
qs_plot_image_draw(const struct qs_plot_image *image, struct qs_frame *frame, int top, int left,
                   int lines)
{
    for (int y = 0; y < lines && y < image->lines && top + y < frame->lines; y++) {
        struct qs_row *row = &frame->rows[top + y];
        const struct qs_row *src = &image->rows[y];

        qs_row_pad(row, (size_t)left);
        /* Copy the row span by span so that the colours survive. */
        for (size_t pos = 0, i = 0; pos < src->len; i++) {
            size_t start = i < src->n_spans ? src->spans[i].start : src->len;
            char piece[512];

            if (start > pos) {
                snprintf(piece, sizeof(piece), "%.*s", (int)(start - pos), src->text + pos);
                qs_row_add(row, QS_STYLE_NORMAL, piece);
            }
            if (i >= src->n_spans)
                break;
            snprintf(piece, sizeof(piece), "%.*s", (int)src->spans[i].len, src->text + start);
            qs_row_add(row, src->spans[i].style, piece);
            pos = start + src->spans[i].len;
        }
    }
}

/* ---- drawing ---- */

struct panel_job {
    struct qs_job base;
    struct qs_plot *plot;
    struct qs_plot_panel *panel;     /* lives in a view's private state until the browser ends */
    char *script;
    char *key;
    int cols, lines;
    struct qs_plot_image image;
};

static void
panel_job_run(struct qs_job *base)
{
    struct panel_job *job = (struct panel_job *)base;

    qs_plot_text(job->plot, job->script, job->cols, job->lines, &job->image);
}

static void
panel_job_done(struct qs_job *base, void *ctx)
{
    struct panel_job *job = (struct panel_job *)base;
    struct qs_plot_panel *panel = job->panel;

    (void)ctx;
    if (!panel->pending_key || strcmp(panel->pending_key, job->key) != 0)
        return;
    qs_plot_image_done(&panel->image);
    panel->image = job->image;
    memset(&job->image, 0, sizeof(job->image));
    free(panel->image_key);
    panel->image_key = panel->pending_key;
    panel->pending_key = NULL;
}

static void
panel_job_free(struct qs_job *base)
{
    struct panel_job *job = (struct panel_job *)base;

    qs_plot_image_done(&job->image);
    free(job->script);
    free(job->key);
    free(job);
}

static const struct qs_job_ops panel_job_ops = {
    .name = "plot", .run = panel_job_run, .done = panel_job_done, .free = panel_job_free,
};

void
qs_plot_panel_draw(struct qs_ui *ui, struct qs_plot_panel *panel, int slot, const char *key,
                   qs_plot_script_fn *script, void *arg, struct qs_frame *frame, int top,
                   int left, int cols, int lines)
{
    struct panel_job *job;

    if (cols < 10 || lines < 3)
        return;
    if ((!panel->image_key || strcmp(panel->image_key, key) != 0) &&
        (!panel->pending_key || strcmp(panel->pending_key, key) != 0)) {
        job = qs_calloc(1, sizeof(*job));
        job->base.ops = &panel_job_ops;
        job->plot = ui->plot;
        job->panel = panel;
        job->script = script(arg, NULL);
        job->key = qs_strdup(key);
        job->cols = cols;
        job->lines = lines;
        free(panel->pending_key);
        panel->pending_key = qs_strdup(key);
        qs_ui_submit(ui, &job->base, QS_LANE_PLOT, slot);
    }
    if (panel->image.rows)
        qs_plot_image_draw(&panel->image, frame, top, left, lines);
    else
        qs_row_addf(&frame->rows[top + lines / 2], QS_STYLE_DIM, "%*sdrawing%s", left + cols / 3,
                    "", qs_glyphs.ellipsis);
}

/* ---- export ---- */

struct export_job {
    struct qs_job base;
    struct qs_plot *plot;
    char *script;
    char *png;
    char *svg;
    int force;
    enum qs_status status;
    struct qs_diag diag;
};

static void
export_job_run(struct qs_job *base)
{
    struct export_job *job = (struct export_job *)base;

    job->status = qs_plot_export(job->plot, job->script, job->png, job->svg, job->force,
                                 &job->diag);
}

static void
export_job_done(struct qs_job *base, void *ctx)
{
    struct export_job *job = (struct export_job *)base;

    if (job->status == QS_OK)
        qs_ui_message(ctx, "wrote %s and %s", job->png, job->svg);
    else
        qs_ui_error_diag(ctx, &job->diag);
}

static void
export_job_free(struct qs_job *base)
{
    struct export_job *job = (struct export_job *)base;

    free(job->script);
    free(job->png);
    free(job->svg);
    qs_diag_done(&job->diag);
    free(job);
}

static const struct qs_job_ops export_job_ops = {
    .name = "export", .run = export_job_run, .done = export_job_done, .free = export_job_free,
};

static void
export_submit(struct qs_ui *ui, struct export_job *job, int force)
{
    job->force = force;
    qs_ui_submit(ui, &job->base, QS_LANE_PLOT, -1);
    qs_ui_message(ui, "exporting %s and %s", job->png, job->svg);
}

/* Export after a yes to "replace?".  "arg" is the export job, owned by this callback. */
static void
replace_answer(struct qs_ui *ui, int yes, void *arg)
{
    struct export_job *job = arg;

    if (yes) {
        export_submit(ui, job, 1);
        return;
    }
    qs_ui_message(ui, "nothing exported");
    export_job_free(&job->base);
}

char *
qs_plot_export_base(const struct qs_ui *ui, const char *key, const char *suffix)
{
    const char *slash = strrchr(ui->path, '/');
    const char *name = slash ? slash + 1 : ui->path;
    size_t stem = strlen(name) > 5 && strcmp(name + strlen(name) - 5, ".onnx") == 0
                  ? strlen(name) - 5 : strlen(name);
    char *dir = qs_ui_output_dir(ui);
    char *safe = qs_strdup(key);
    char *base;

    for (char *p = safe; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == '_'))
            *p = '_';
    base = qs_asprintf("%s/%.*s.%s.%s", dir, (int)stem, name, safe, suffix);
    free(dir);
    free(safe);
    return base;
}

void
qs_plot_export_ask(struct qs_ui *ui, const char *base, char *script)
{
    struct export_job *job = qs_calloc(1, sizeof(*job));
    char question[1024];
    struct stat st;

    job->base.ops = &export_job_ops;
    job->plot = ui->plot;
    job->script = script;
    job->png = qs_asprintf("%s.png", base);
    job->svg = qs_asprintf("%s.svg", base);
    qs_diag_init(&job->diag);
    if (stat(job->png, &st) != 0 && stat(job->svg, &st) != 0) {
        export_submit(ui, job, 0);
        return;
    }
    snprintf(question, sizeof(question), "%s or %s exists. Replace?", job->png, job->svg);
    qs_ui_confirm(ui, question, replace_answer, job);
}
