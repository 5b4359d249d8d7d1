#ifndef FUSIONKIT_BLAS_LOADER_H
#define FUSIONKIT_BLAS_LOADER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Loads OpenBLAS with dlopen on first use instead of at process start. Linked normally,
/// OpenBLAS starts its thread pool from a library constructor, before `main`, and under a
/// tight address-space limit it raises SIGINT on itself when a thread cannot be created;
/// later, a failed buffer allocation makes it retry forever. Loading it only when the CPU
/// backend is used lets the engine check the memory it needs first and fail with a
/// message. `threads` (> 0) sets OPENBLAS_NUM_THREADS for the pool when the library is
/// loaded by this call. Returns 0 on success, else -1 with `error` filled in.
int fk_blas_load(int threads, char *error, size_t error_size);

/// Whether the library is loaded.
int fk_blas_loaded(void);

/// cblas_sgemm, row-major; transposes are 0/1. The library must be loaded.
void fk_blas_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                   const float *b, int ldb, float beta, float *c, int ldc);
int fk_blas_get_num_threads(void);
void fk_blas_set_num_threads(int threads);
/// openblas_get_config(), or "" when not loaded.
const char *fk_blas_config(void);

#ifdef __cplusplus
}
#endif

#endif
