/*
 * `qscope DIR`: the op histogram of every .onnx file under a folder,
 * scanned in the background.  Folders are walked recursively in sorted
 * order, following symbolic links but never the same folder twice; every
 * graph of every model is counted (subgraphs included).
 *
 * NOTE: `qscope ops` has its own walk in src/cmd_ops.c; a shared survey
 * in the core would let both count the same way by construction.
 */
#ifndef QS_CORPUS_H
#define QS_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "row.h"

struct qs_ui;

struct qs_corpus_op {
    char *op;                /* "Conv", "com.microsoft.MatMulNBits" */
    uint64_t count;          /* nodes */
    uint64_t models;         /* models with at least one */
    size_t last_model;       /* 1-based number of the last model counted with it (private) */
};

struct qs_corpus {
    char *path;
    int done;                /* the scan finished */
    size_t n_models;         /* models loaded */
    size_t n_failed;         /* files that did not load */
    uint64_t total;          /* nodes */
    struct qs_corpus_op *ops;
    size_t n_ops;
    char *problem;           /* the first load problem, or NULL */
};

/* Start scanning the folder "path" and show the ops view. */
void qs_ui_set_folder(struct qs_ui *ui, const char *path);

/* Header line text for a folder: its name, models and nodes. */
void qs_corpus_header(const struct qs_corpus *corpus, struct qs_row *row);

/* Free a corpus.  NULL is allowed. */
void qs_corpus_free(struct qs_corpus *corpus);

#endif
