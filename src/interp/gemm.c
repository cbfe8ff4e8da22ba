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
#define GEMM_TILE_M_MIN 32
/* Tiles wanted per product, so that two workers stay busy when one is held up. */
#define GEMM_MIN_TILES 8
/* Products below this many multiply-adds run as one call: a job costs more. */
#define GEMM_MIN_WORK 262144
#define GEMM_TILE_N 1024
#define GEMM_TILE_N_NARROW 256
#define GEMM_NARROW_MIN_ROWS 16

struct gemm_job {
    int trans_a, trans_b;
    int64_t m, n, k, lda, ldb, ldc;
    float alpha, beta;
    const float *a, *b;
    float *c;
    int64_t tile_m, tile_n, tiles_n;
};

static void
gemm_tiles(void *ctx, int64_t begin, int64_t end)
{
    const struct gemm_job *j = ctx;

    for (int64_t t = begin; t < end; t++) {
        int64_t i0 = t / j->tiles_n * j->tile_m, j0 = t % j->tiles_n * j->tile_n;
        int64_t mt = j->m - i0 < j->tile_m ? j->m - i0 : j->tile_m;
        int64_t nt = j->n - j0 < j->tile_n ? j->n - j0 : j->tile_n;
        const float *a = j->a + (j->trans_a ? i0 : i0 * j->lda);
        const float *b = j->b + (j->trans_b ? j0 * j->ldb : j0);

        cblas_sgemm(CblasRowMajor, j->trans_a ? CblasTrans : CblasNoTrans,
                    j->trans_b ? CblasTrans : CblasNoTrans, (int)mt, (int)nt, (int)j->k, j->alpha,
                    a, (int)j->lda, b, (int)j->ldb, j->beta, j->c + i0 * j->ldc + j0, (int)j->ldc);
    }
}

/* Rows per tile: halved from GEMM_TILE_M while the product has too few tiles. */
static int64_t
tile_rows(int64_t m, int64_t tiles_n)
{
    int64_t tile_m = GEMM_TILE_M;

    while (tile_m > GEMM_TILE_M_MIN && (m + tile_m - 1) / tile_m * tiles_n < GEMM_MIN_TILES)
        tile_m /= 2;
    return tile_m;
}

void
interp_sgemm(struct interp_call *call, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
             float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
             float *c, int64_t ldc)
{
    int64_t tile_n = m >= GEMM_NARROW_MIN_ROWS ? GEMM_TILE_N_NARROW : GEMM_TILE_N;
    struct gemm_job j = {
        trans_a, trans_b, m, n, k, lda, ldb, ldc, alpha, beta, a, b, c,
        GEMM_TILE_M, tile_n, (n + tile_n - 1) / tile_n
    };
    int64_t tiles;

    if (m <= 0 || n <= 0)
        return;
    /* C exists, so m * n fits in int64_t. Dividing avoids an overflow of m * n * k. */
    if (m * n < GEMM_MIN_WORK / (k > 1 ? k : 1)) {
        gemm_tiles(&j, 0, (m + j.tile_m - 1) / j.tile_m * j.tiles_n);
        return;
    }
    j.tile_m = tile_rows(m, j.tiles_n);
    tiles = (m + j.tile_m - 1) / j.tile_m * j.tiles_n;
    interp_parallel_for(call, tiles, 1, gemm_tiles, &j);
}
