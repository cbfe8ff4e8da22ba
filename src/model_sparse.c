/*
 * Sparse tensors, densified at load into a buffer the model owns so that
 * every reader sees packed data.  The values are a [NNZ] tensor; the
 * indices are int64 (any integer type is accepted), either [NNZ] linear
 * positions or [NNZ, rank] coordinates.  Every index is checked before it
 * is used.
 *
 * NOTE: indices need not be sorted or unique here, although ONNX requires
 * both.  A repeated index keeps the last value.
 */
#include "config.h"
#include "model_build.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Entries of indices read per step; bounds the stack buffer. */
#define SPARSE_INDEX_CHUNK 512

struct sparse_job {
    struct qs_tensor *dense;
    const struct qs_tensor *values;
    const struct qs_tensor *indices;
    uint64_t nnz;
    int coordinates;             /* indices are [NNZ, rank] */
    uint8_t *out;
};

static enum qs_status
sparse_part(struct qs_model_build *b, struct qs_tensor *t, struct qs_tensor *part,
            const Onnx__TensorProto *proto, const char *what)
{
    enum qs_status status;

    if (!proto)
        return qs_tensor_fault(b, t, QS_INVALID, "sparse tensor has no %s", what);
    part->name = "";
    status = qs_tensor_fill(b, part, proto);
    if (status != QS_OK)
        return qs_tensor_fault(b, t, status, "sparse %s: %s", what, part->fault);
    return QS_OK;
}

/* Check the shapes of values and indices against the dense dims. */
static enum qs_status
sparse_check_shapes(struct qs_model_build *b, struct sparse_job *job)
{
    char dims[200];
    const struct qs_tensor *v = job->values;
    const struct qs_tensor *ix = job->indices;
    struct qs_tensor *t = job->dense;

    if (v->rank != 1)
        return qs_tensor_fault(b, t, QS_INVALID, "sparse values must have rank 1, got dims %s",
                               qs_format_dims(v->dims, (size_t)v->rank, dims, sizeof(dims)));
    job->nnz = v->count;
    if (!qs_dtype_is_integer(ix->dtype) || ix->dtype == QS_DT_BOOL)
        return qs_tensor_fault(b, t, QS_INVALID, "sparse indices have element type %s, "
                               "expected INT64", qs_dtype_name(ix->dtype));

    qs_format_dims(ix->dims, (size_t)ix->rank, dims, sizeof(dims));
    if (ix->rank == 1 && (uint64_t)ix->dims[0] == job->nnz) {
        job->coordinates = 0;
        return QS_OK;
    }
    if (ix->rank == 2 && (uint64_t)ix->dims[0] == job->nnz && ix->dims[1] == t->rank) {
        job->coordinates = 1;
        return QS_OK;
    }
    return qs_tensor_fault(b, t, QS_INVALID, "sparse indices have dims %s; expected [%" PRIu64
                           "] or [%" PRIu64 ",%d] for %" PRIu64 " values of rank %d",
                           dims, job->nnz, job->nnz, t->rank, job->nnz, t->rank);
}

/* Linear position of value "i" from its coordinates, or a fault. */
static enum qs_status
sparse_position(struct qs_model_build *b, struct sparse_job *job, uint64_t i,
                const int64_t *coord, uint64_t *position)
{
    struct qs_tensor *t = job->dense;
    int rank = job->coordinates ? t->rank : 1;
    uint64_t linear = 0;

    for (int d = 0; d < rank; d++) {
        uint64_t limit = job->coordinates ? (uint64_t)t->dims[d] : t->count;

        if (coord[d] < 0 || (uint64_t)coord[d] >= limit)
            return qs_tensor_fault(b, t, QS_INVALID, "sparse index %" PRId64 " of value %"
                                   PRIu64 " is out of range [0,%" PRIu64 ")%s", coord[d], i,
                                   limit, job->coordinates ? " for its dimension" : "");
        /* No overflow: the product of the dims was checked. */
        linear = job->coordinates ? linear * (uint64_t)t->dims[d] + (uint64_t)coord[d]
                                  : (uint64_t)coord[d];
    }
    *position = linear;
    return QS_OK;
}

/* Copy value "i" into dense element "position" (both in packed layout). */
static void
sparse_store(struct sparse_job *job, uint64_t i, uint64_t position)
{
    uint8_t buf[QS_TENSOR_CHUNK];
    uint64_t first;
    const uint8_t *src = qs_tensor_packed_chunk(job->values, i, 1, buf, &first);
    int bits = qs_dtype_bits(job->dense->dtype);

    if (bits == 4) {
        unsigned nibble = (src[first / 2] >> (4 * (first % 2))) & 0x0f;
        uint8_t *dst = job->out + position / 2;
        unsigned shift = 4 * (unsigned)(position % 2);

        *dst = (uint8_t)((*dst & ~(0x0f << shift)) | (nibble << shift));
        return;
    }
    memcpy(job->out + position * (uint64_t)(bits / 8), src + first * (uint64_t)(bits / 8),
           (size_t)(bits / 8));
}

static enum qs_status
sparse_scatter(struct qs_model_build *b, struct sparse_job *job)
{
    int64_t index[SPARSE_INDEX_CHUNK];
    size_t per_value = job->coordinates ? (size_t)job->dense->rank : 1;
    size_t values_per_step = per_value ? SPARSE_INDEX_CHUNK / per_value : SPARSE_INDEX_CHUNK;

    if (per_value > SPARSE_INDEX_CHUNK)
        return qs_tensor_fault(b, job->dense, QS_UNSUPPORTED, "sparse tensors of rank %zu are "
                               "not supported (at most %d)", per_value, SPARSE_INDEX_CHUNK);
    for (uint64_t i = 0; i < job->nnz; i += values_per_step) {
        size_t n = job->nnz - i < values_per_step ? (size_t)(job->nnz - i) : values_per_step;

        if (qs_tensor_read_i64(job->indices, i * per_value, n * per_value, index) != QS_OK)
            return qs_tensor_fault(b, job->dense, QS_INVALID, "sparse indices cannot be read");
        for (size_t k = 0; k < n; k++) {
            uint64_t position = 0;

            if (sparse_position(b, job, i + k, index + k * per_value, &position) != QS_OK)
                return QS_INVALID;
            sparse_store(job, i + k, position);
        }
    }
    return QS_OK;
}

static enum qs_status
sparse_densify(struct qs_model_build *b, struct qs_tensor *t, const Onnx__SparseTensorProto *proto,
               struct qs_tensor *values, struct qs_tensor *indices)
{
    struct sparse_job job = { .dense = t, .values = values, .indices = indices };
    uint64_t bytes;
    enum qs_status status;

    status = qs_tensor_set_dims(b, t, proto->n_dims, proto->dims);
    if (status == QS_OK)
        status = sparse_check_shapes(b, &job);
    if (status != QS_OK)
        return status;
    if (qs_dtype_packed_size(t->dtype, t->count, &bytes) < 0 || bytes > QS_MAX_SPARSE_DENSE_BYTES)
        return qs_tensor_fault(b, t, QS_INVALID, "dense form of %" PRIu64 " elements of %s "
                               "exceeds the 1 GiB limit for sparse tensors", t->count,
                               qs_dtype_name(t->dtype));
    if (bytes > QS_MAX_SPARSE_DENSE_BYTES - b->sparse_dense_bytes)
        return qs_tensor_fault(b, t, QS_INVALID, "dense form of %" PRIu64 " bytes exceeds "
                               "the 1 GiB limit for all sparse tensors together (%" PRIu64
                               " bytes already used)", bytes, b->sparse_dense_bytes);
    b->sparse_dense_bytes += bytes;
    if (t->count == 0)
        return job.nnz == 0 ? QS_OK
            : qs_tensor_fault(b, t, QS_INVALID, "sparse tensor has %" PRIu64 " values but "
                              "no elements", job.nnz);

    /* Allocated with calloc, not in the arena, because a large buffer then
     * comes zeroed from the system untouched, and only the pages that
     * receive values take memory. */
    job.out = qs_calloc(1, (size_t)bytes);
    qs_ptrvec_push(&b->model->priv->buffers, job.out);
    status = sparse_scatter(b, &job);
    if (status != QS_OK)
        return status;
    t->storage = QS_STORE_PACKED;
    t->data = job.out;
    t->nbytes = bytes;
    return QS_OK;
}

struct qs_tensor *
qs_build_sparse(struct qs_model_build *b, const Onnx__SparseTensorProto *proto, const char *name,
                enum qs_tensor_origin origin, const struct qs_tensor_site *site)
{
    struct qs_tensor *t = qs_arena_calloc(b->arena, 1, sizeof(*t));
    struct qs_tensor *values = qs_arena_calloc(b->arena, 1, sizeof(*values));
    struct qs_tensor *indices = qs_arena_calloc(b->arena, 1, sizeof(*indices));
    enum qs_status status;

    t->origin = origin;
    t->graph = site->graph;
    t->node = site->node;
    t->name = name;
    if (!t->name && proto->values && proto->values->name)
        t->name = proto->values->name;
    if (!t->name)
        t->name = "";
    t->proto = proto->values;

    status = sparse_part(b, t, values, proto->values, "values");
    if (status == QS_OK)
        status = sparse_part(b, t, indices, proto->indices, "indices");
    if (status == QS_OK) {
        t->dtype = values->dtype;
        if (t->dtype == QS_DT_STRING)
            status = qs_tensor_fault(b, t, QS_UNSUPPORTED, "sparse STRING tensors are not "
                                     "supported");
        else
            status = sparse_densify(b, t, proto, values, indices);
    }
    qs_tensor_register(b, t, status, site);
    return t;
}
