/*
 * Matrix products for every op: cblas_sgemm on tiles of a fixed size,
 * spread over qscope's workers.  OpenBLAS itself runs single-threaded:
 * its own threading changes kernels and summation order with the thread
 * count, and results must not depend on it.  Tile sizes depend only on
 * the problem, so every element is computed by the same call whatever
 * the number of threads.
 */
#include "config.h"
#include "interp/internal.h"

#include <cblas.h>

/*
 * Output tile: big enough that packing overhead stays small, small enough
 * to share out among two workers even for the late, narrow layers of a
 * convolution network.  Products with few rows (fully connected layers,
 * where OpenBLAS may take its matrix-vector path) keep wide tiles, so
 * every output column is computed by one call as before.
 */
#define GEMM_TILE_M 256
#define GEMM_TILE_N 1024
#define GEMM_TILE_N_NARROW 256
#define GEMM_NARROW_MIN_ROWS 16

struct gemm_job {
    int trans_a, trans_b;
    int64_t m, n, k, lda, ldb, ldc;
    float alpha, beta;
    const float *a, *b;
    float *c;
    int64_t tile_n, tiles_n;
};

static void
gemm_tiles(void *ctx, int64_t begin, int64_t end)
{
    const struct gemm_job *j = ctx;

    for (int64_t t = begin; t < end; t++) {
        int64_t i0 = t / j->tiles_n * GEMM_TILE_M, j0 = t % j->tiles_n * j->tile_n;
        int64_t mt = j->m - i0 < GEMM_TILE_M ? j->m - i0 : GEMM_TILE_M;
        int64_t nt = j->n - j0 < j->tile_n ? j->n - j0 : j->tile_n;
        const float *a = j->a + (j->trans_a ? i0 : i0 * j->lda);
        const float *b = j->b + (j->trans_b ? j0 * j->ldb : j0);

        cblas_sgemm(CblasRowMajor, j->trans_a ? CblasTrans : CblasNoTrans,
                    j->trans_b ? CblasTrans : CblasNoTrans, (int)mt, (int)nt, (int)j->k, j->alpha,
                    a, (int)j->lda, b, (int)j->ldb, j->beta, j->c + i0 * j->ldc + j0, (int)j->ldc);
    }
}

void
interp_sgemm(struct interp_call *call, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
             float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
             float *c, int64_t ldc)
{
    int64_t tile_n = m >= GEMM_NARROW_MIN_ROWS ? GEMM_TILE_N_NARROW : GEMM_TILE_N;
    struct gemm_job j = {
        trans_a, trans_b, m, n, k, lda, ldb, ldc, alpha, beta, a, b, c,
        tile_n, (n + tile_n - 1) / tile_n
    };

    if (m <= 0 || n <= 0)
        return;
    interp_parallel_for(call, (m + GEMM_TILE_M - 1) / GEMM_TILE_M * j.tiles_n, 1, gemm_tiles, &j);
}
