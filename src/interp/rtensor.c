/*
 * Runtime tensors: creation with checked sizes, reference counting,
 * and the conversions that keep values within their declared type.
 */
#include "config.h"
#include "interp/internal.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtype.h"

/* 0 until first asked: then MemAvailable, or what qs_rt_set_alloc_limit set. */
static uint64_t alloc_limit;

int
qs_rt_is_float(int dtype)
{
    switch (dtype) {
    case QS_DT_FLOAT:
    case QS_DT_DOUBLE:
    case QS_DT_FLOAT16:
    case QS_DT_BFLOAT16:
    case QS_DT_FLOAT8E4M3FN:
    case QS_DT_FLOAT8E4M3FNUZ:
    case QS_DT_FLOAT8E5M2:
    case QS_DT_FLOAT8E5M2FNUZ:
        return 1;
    default:
        return 0;
    }
}

int
qs_rt_is_int(int dtype)
{
    switch (dtype) {
    case QS_DT_UINT8:
    case QS_DT_INT8:
    case QS_DT_UINT16:
    case QS_DT_INT16:
    case QS_DT_INT32:
    case QS_DT_INT64:
    case QS_DT_BOOL:
    case QS_DT_UINT32:
    case QS_DT_UINT64:
    case QS_DT_UINT4:
    case QS_DT_INT4:
        return 1;
    default:
        return 0;
    }
}

/* Available memory from /proc/meminfo, else from sysconf, else 1 TiB. */
static uint64_t
available_memory(void)
{
    char line[256];
    unsigned long long kib;
    long pages, page_size;
    FILE *f = fopen("/proc/meminfo", "r");

    if (f) {
        while (fgets(line, sizeof(line), f)) {
            if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1) {
                fclose(f);
                return (uint64_t)kib * 1024;
            }
        }
        fclose(f);
    }

    pages = sysconf(_SC_AVPHYS_PAGES);
    page_size = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page_size > 0)
        return (uint64_t)pages * (uint64_t)page_size;
    return (uint64_t)1 << 40;
}

void
qs_rt_set_alloc_limit(uint64_t bytes)
{
    alloc_limit = bytes ? bytes : available_memory();
}

uint64_t
qs_rt_alloc_limit(void)
{
    if (alloc_limit == 0)
        alloc_limit = available_memory();
    return alloc_limit;
}

int
rt_mul_dims(int rank, const int64_t *dims, uint64_t *count)
{
    uint64_t n = 1;

    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0 || qs_mul_overflow_u64(n, (uint64_t)dims[i], &n))
            return 1;
    }
    *count = n;
    return 0;
}

/*
 * Element buffers start RT_HEADER bytes into a block that records its capacity.
 * While an interpreter exists, freed blocks wait in a bounded cache for the next
 * tensor of the same size bucket, so nodes and runs reuse pages instead of mapping new ones.
 */
#define RT_HEADER 64                     /* a multiple of every alignment malloc gives */
#define RT_CACHE_SLOTS 64
#define RT_CACHE_MIN_BYTES ((size_t)16 * 1024)
#define RT_CACHE_MAX_BYTES ((size_t)256 * 1024 * 1024)

static struct {
    pthread_mutex_t lock;
    int users;                           /* live interpreters */
    int n;
    size_t bytes;
    void *block[RT_CACHE_SLOTS];
    size_t cap[RT_CACHE_SLOTS];
} rt_cache = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Capacity of the bucket holding "bytes": rounded up to an eighth of its power of two. */
static size_t
rt_bucket(size_t bytes)
{
    size_t p = 1, step;

    while (p <= bytes / 2)
        p *= 2;
    step = p >= 8 ? p / 8 : 1;
    if (bytes > SIZE_MAX - step - RT_HEADER)
        return bytes;
    return (bytes + step - 1) / step * step;
}

static void *
rt_cache_take(size_t cap)
{
    void *block = NULL;

    if (cap < RT_CACHE_MIN_BYTES)
        return NULL;
    pthread_mutex_lock(&rt_cache.lock);
    for (int i = rt_cache.n - 1; i >= 0; i--) {
        if (rt_cache.cap[i] != cap)
            continue;
        block = rt_cache.block[i];
        rt_cache.bytes -= cap;
        rt_cache.n--;
        rt_cache.block[i] = rt_cache.block[rt_cache.n];
        rt_cache.cap[i] = rt_cache.cap[rt_cache.n];
        break;
    }
    pthread_mutex_unlock(&rt_cache.lock);
    return block;
}

static void *
rt_data_alloc(size_t bytes, int zeroed)
{
    size_t cap = rt_bucket(bytes);
    unsigned char *block = rt_cache_take(cap);

    if (block && zeroed)
        memset(block + RT_HEADER, 0, cap);
    else if (!block)
        block = zeroed ? qs_calloc(1, cap + RT_HEADER) : qs_malloc(cap + RT_HEADER);
    memcpy(block, &cap, sizeof(cap));
    return block + RT_HEADER;
}

static void
rt_data_free(void *data)
{
    unsigned char *block;
    size_t cap;
    int kept = 0;

    if (!data)
        return;
    block = (unsigned char *)data - RT_HEADER;
    memcpy(&cap, block, sizeof(cap));
    if (cap >= RT_CACHE_MIN_BYTES) {
        pthread_mutex_lock(&rt_cache.lock);
        if (rt_cache.users > 0 && rt_cache.n < RT_CACHE_SLOTS
            && cap <= RT_CACHE_MAX_BYTES - rt_cache.bytes) {
            rt_cache.block[rt_cache.n] = block;
            rt_cache.cap[rt_cache.n++] = cap;
            rt_cache.bytes += cap;
            kept = 1;
        }
        pthread_mutex_unlock(&rt_cache.lock);
    }
    if (!kept)
        free(block);
}

void
rt_cache_attach(void)
{
    pthread_mutex_lock(&rt_cache.lock);
    rt_cache.users++;
    pthread_mutex_unlock(&rt_cache.lock);
}

void
rt_cache_detach(void)
{
    pthread_mutex_lock(&rt_cache.lock);
    if (--rt_cache.users == 0) {
        for (int i = 0; i < rt_cache.n; i++)
            free(rt_cache.block[i]);
        rt_cache.n = 0;
        rt_cache.bytes = 0;
    }
    pthread_mutex_unlock(&rt_cache.lock);
}

/* qs_rt_new, with the elements zeroed only when "zeroed" is set. */
enum qs_status
rt_new(int dtype, int rank, const int64_t *dims, int zeroed, struct qs_rt_tensor **out)
{
    struct qs_rt_tensor *t;
    uint64_t count, bytes;

    *out = NULL;
    if (!qs_rt_is_float(dtype) && !qs_rt_is_int(dtype))
        return QS_UNSUPPORTED;
    if (rank < 0 || rank > QS_RT_MAX_RANK)
        return QS_INVALID;
    if (rt_mul_dims(rank, dims, &count))
        return QS_INVALID;
    if (qs_mul_overflow_u64(count, qs_rt_is_float(dtype) ? 4 : 8, &bytes)
        || bytes > qs_rt_alloc_limit() || bytes > SIZE_MAX / 2)
        return QS_INVALID;

    t = qs_calloc(1, sizeof(*t));
    t->dtype = dtype;
    t->rank = rank;
    if (rank > 0)
        memcpy(t->dims, dims, (size_t)rank * sizeof(*dims));
    t->count = count;
    t->data = rt_data_alloc(bytes ? (size_t)bytes : 1, zeroed);
    t->refs = 1;
    *out = t;
    return QS_OK;
}

enum qs_status
qs_rt_new(int dtype, int rank, const int64_t *dims, struct qs_rt_tensor **out)
{
    return rt_new(dtype, rank, dims, 1, out);
}

struct qs_rt_tensor *
qs_rt_ref(struct qs_rt_tensor *t)
{
    if (t)
        t->refs++;
    return t;
}

void
qs_rt_unref(struct qs_rt_tensor *t)
{
    if (!t || --t->refs > 0)
        return;
    if (t->base)
        qs_rt_unref(t->base);
    else
        rt_data_free(t->data);
    free(t);
}

int
qs_rt_unique(const struct qs_rt_tensor *t)
{
    return t->refs == 1 && !t->base;
}

int64_t
rt_wrap_int(int dtype, int64_t v)
{
    switch (dtype) {
    case QS_DT_BOOL:   return v != 0;
    case QS_DT_UINT8:  return (uint8_t)v;
    case QS_DT_INT8:   return (int8_t)v;
    case QS_DT_UINT16: return (uint16_t)v;
    case QS_DT_INT16:  return (int16_t)v;
    case QS_DT_INT32:  return (int32_t)v;
    case QS_DT_UINT32: return (uint32_t)v;
    case QS_DT_UINT4:  return v & 15;
    case QS_DT_INT4:   return ((v & 15) ^ 8) - 8;
    default:           return v;
    }
}

float
rt_round_float(int dtype, float v)
{
    switch (dtype) {
    case QS_DT_FLOAT16:
        return qs_half_to_float(qs_float_to_half(v));
    case QS_DT_BFLOAT16:
        return qs_bf16_to_float(qs_float_to_bf16(v));
    case QS_DT_FLOAT8E4M3FN:
    case QS_DT_FLOAT8E4M3FNUZ:
    case QS_DT_FLOAT8E5M2:
    case QS_DT_FLOAT8E5M2FNUZ:
        return qs_fp8_to_float(dtype, qs_float_to_fp8(dtype, v, 1));
    default:
        return v;
    }
}

void
rt_normalize(struct qs_rt_tensor *t)
{
    if (qs_rt_is_float(t->dtype)) {
        float *f = rt_f(t);

        if (t->dtype == QS_DT_FLOAT || t->dtype == QS_DT_DOUBLE)
            return;
        for (uint64_t i = 0; i < t->count; i++)
            f[i] = rt_round_float(t->dtype, f[i]);
    } else {
        int64_t *p = rt_i(t);

        if (t->dtype == QS_DT_INT64 || t->dtype == QS_DT_UINT64)
            return;
        for (uint64_t i = 0; i < t->count; i++)
            p[i] = rt_wrap_int(t->dtype, p[i]);
    }
}

void
rt_strides(int rank, const int64_t *dims, int64_t *strides)
{
    int64_t s = 1;

    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

uint64_t
rt_span(const int64_t *dims, int from, int to)
{
    uint64_t n = 1;

    for (int i = from; i < to; i++)
        n *= (uint64_t)dims[i];
    return n;
}
