/*
 * The calibration run (C, `:calibrate`): run the model on the command
 * line's inputs with calib.h's collector on the interpreter's observe
 * hook, as `qscope calibrate` does, then offer to write the statistics
 * to MODEL.qstats (asking before replacing a file).
 */
#include "config.h"
#include "activations.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct calib_job {
    struct qs_ui_run run;
    struct qs_calib *calib;
};

/* The collector on the observe hook; a cancelled job stops the interpreter at its next tensor. */
static enum qs_status
calib_observe(void *ctx, const struct qs_value *value, const struct qs_rt_tensor *tensor)
{
    struct calib_job *job = ctx;

    if (qs_job_cancelled(&job->run.base))
        return QS_INVALID;
    return qs_calib_observe(job->calib, value, tensor);
}

static enum qs_status
run_sample(struct calib_job *job, struct qs_interp *interp, const struct qs_input_set *inputs,
           size_t s)
{
    size_t n_out = qs_interp_n_outputs(interp);
    struct qs_rt_tensor **outputs = qs_calloc(n_out + 1, sizeof(*outputs));
    enum qs_status status;

    /* The interpreter observes node outputs only: graph inputs are added here. */
    for (size_t i = 0; i < inputs->n_inputs; i++)
        qs_calib_observe(job->calib, qs_interp_input(interp, i), qs_inputs_get(inputs, s, i));
    status = qs_interp_run(interp, inputs->tensors + s * inputs->n_inputs, outputs,
                           &job->run.diag);
    for (size_t i = 0; i < n_out; i++)
        qs_rt_unref(outputs[i]);
    free(outputs);
    return status;
}

static void
calib_job_run(struct qs_job *base)
{
    struct calib_job *job = (struct calib_job *)base;
    struct qs_interp_hooks hooks = { .observe = calib_observe, .ctx = job };
    struct qs_interp *interp;
    struct qs_input_set inputs;
    enum qs_status status = qs_ui_run_inputs(&job->run, &interp, &inputs);

    if (status == QS_OK) {
        qs_calib_init(job->calib, job->run.model, job->run.layers);
        job->calib->source = qs_ui_inputs_source(&job->run.spec, inputs.n_samples);
        atomic_store(&job->run.total_steps, inputs.n_samples);
        qs_interp_set_hooks(interp, &hooks);
    }
    for (size_t s = 0; status == QS_OK && s < inputs.n_samples && !qs_job_cancelled(base); s++) {
        status = run_sample(job, interp, &inputs, s);
        qs_ui_run_step(&job->run);
    }
    if (status == QS_OK) {
        job->calib->samples = inputs.n_samples;
        qs_calib_finish(job->calib, job->run.model->path, &job->run.diag);
    }
    qs_ui_run_end(&job->run);
    job->run.status = status;
    qs_inputs_done(&inputs);
    qs_interp_free(interp);
}

/* Write after a yes to "replace?".  "arg" is the path, owned by this callback. */
static void
write_answer(struct qs_ui *ui, int yes, void *arg)
{
    if (yes)
        qs_ui_calib_write(ui, arg, 1);
    else
        qs_ui_message(ui, "statistics not written (they stay loaded until qscope ends)");
    free(arg);
}

static void
path_entered(struct qs_ui *ui, const char *text, void *arg)
{
    char question[1200];
    struct stat st;

    (void)arg;
    if (!*text) {
        qs_ui_message(ui, "statistics not written (they stay loaded until qscope ends)");
        return;
    }
    if (stat(text, &st) != 0) {
        qs_ui_calib_write(ui, text, 0);
        return;
    }
    snprintf(question, sizeof(question), "%s exists. Replace?", text);
    qs_ui_confirm(ui, question, write_answer, qs_strdup(text));
}

static void
calib_job_done(struct qs_job *base, void *ctx)
{
    struct calib_job *job = (struct calib_job *)base;
    struct qs_ui *ui = ctx;
    struct qs_calib *calib = job->calib;
    char label[160];
    char *path;

    if (job->run.status != QS_OK) {
        qs_ui_run_failed(ui, &job->run, "calibration");
        return;
    }
    job->calib = NULL;
    qs_ui_act_set_calib(ui, calib, NULL);
    snprintf(label, sizeof(label), "%zu activations from %" PRIu64 " sample%s. Write them to: ",
             calib->n_tensors, calib->samples, calib->samples == 1 ? "" : "s");
    if (ui->prompt.kind != QS_PROMPT_NONE) {
        qs_ui_message(ui, "%s:write-qstats FILE", label);
        return;
    }
    path = qs_ui_calib_default_path(ui);
    qs_ui_prompt(ui, label, path, path_entered, NULL);
    free(path);
}

static void
calib_job_free(struct qs_job *base)
{
    struct calib_job *job = (struct calib_job *)base;

    if (job->calib)
        qs_calib_done(job->calib);
    free(job->calib);
    qs_ui_run_release(&job->run);
    free(job);
}

static const struct qs_job_ops calib_job_ops = {
    .name = "calibration", .run = calib_job_run, .done = calib_job_done, .free = calib_job_free,
};

int
qs_ui_calibrate(struct qs_ui *ui)
{
    struct calib_job *job = qs_calloc(1, sizeof(*job));

    qs_ui_run_init(ui, &job->run, QS_RUN_CALIBRATE, &calib_job_ops);
    job->calib = qs_calloc(1, sizeof(*job->calib));
    return qs_ui_run_submit(ui, &job->run);
}

char *
qs_ui_calib_default_path(const struct qs_ui *ui)
{
    const char *slash = strrchr(ui->path, '/');
    const char *name = slash ? slash + 1 : ui->path;
    size_t stem = strlen(name);
    char *dir = qs_ui_output_dir(ui);
    char *path;

    if (stem > 5 && strcmp(name + stem - 5, ".onnx") == 0)
        stem -= 5;
    path = qs_asprintf("%s/%.*s.qstats", dir, (int)stem, name);
    free(dir);
    return path;
}

int
qs_ui_calib_write(struct qs_ui *ui, const char *path, int force)
{
    struct qs_diag diag;
    struct stat st;
    enum qs_status status;

    if (!ui->act->calib) {
        qs_ui_error(ui, "no statistics to write: C calibrates");
        return -1;
    }
    if (!force && stat(path, &st) == 0) {
        qs_ui_error(ui, "%s exists: :write-qstats! FILE replaces it", path);
        return -1;
    }
    qs_diag_init(&diag);
    status = qs_calib_write(ui->act->calib, path, force, &diag);
    if (status == QS_OK) {
        free(ui->act->calib_file);
        ui->act->calib_file = qs_strdup(path);
        qs_ui_message(ui, "wrote %s", path);
    } else {
        qs_ui_error_diag(ui, &diag);
    }
    qs_diag_done(&diag);
    return status == QS_OK ? 0 : -1;
}
