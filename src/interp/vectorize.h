/*
 * Included first by the files whose loops must vectorise (element-wise,
 * convolution, pooling and copy kernels).  gcc's -O2 vectorises only loops
 * its "very cheap" cost model accepts, which leaves most kernels scalar;
 * these files ask for the -O3 level instead.  Measured on the
 * PP-OCRv4 recognizer (gcc 12, one thread): 65 ms at -O2, 43 ms at -O3.
 */
#ifndef QS_INTERP_VECTORIZE_H
#define QS_INTERP_VECTORIZE_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE__)
#pragma GCC optimize("O3")
#endif

/*
 * Hot loops get an AVX2 clone chosen at run time (through an ifunc) next
 * to the baseline x86-64 one.  The clones do not enable FMA, so both give
 * the same results for the element-wise loops.
 */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && defined(__OPTIMIZE__)
#define INTERP_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define INTERP_VECTOR_CLONES
#endif

#endif
