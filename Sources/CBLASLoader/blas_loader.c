#define _GNU_SOURCE
#include "blas_loader.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

// CBLAS enum values (cblas.h): row-major 101, no transpose 111, transpose 112.
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
typedef int (*get_threads_fn)(void);
typedef void (*set_threads_fn)(int);
typedef char *(*config_fn)(void);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void *handle;
static sgemm_fn sgemm;
static get_threads_fn get_threads;
static set_threads_fn set_threads;
static config_fn config;

int fk_blas_load(int threads, char *error, size_t error_size) {
    pthread_mutex_lock(&lock);
    if (handle) { pthread_mutex_unlock(&lock); return 0; }
    if (threads > 0) {
        char value[16];
        snprintf(value, sizeof value, "%d", threads);
        setenv("OPENBLAS_NUM_THREADS", value, 1);
    }
    // OpenBLAS's idle workers spin on sched_yield for 2^28 cycles by default before they sleep.
    // Between our GEMMs the CPU backend runs its own parallel kernels (and a dataset run its
    // reader and writer threads), which those spinning workers starve: 2^4 (the minimum) made
    // TextFusion and Text-IF 8-18% faster on 2 cores. A value the user set is kept.
    setenv("OPENBLAS_THREAD_TIMEOUT", "4", 0);
    const char *names[] = {"libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0"};
    void *h = NULL;
    const char *last = "not found";
    for (unsigned i = 0; i < sizeof names / sizeof names[0] && !h; i++) {
        h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!h) { const char *e = dlerror(); if (e) last = e; }
    }
    if (!h) {
        snprintf(error, error_size, "cannot load OpenBLAS (libopenblas.so.0; Debian: libopenblas0): %s", last);
        pthread_mutex_unlock(&lock);
        return -1;
    }
    sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
    get_threads = (get_threads_fn)dlsym(h, "openblas_get_num_threads");
    set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
    config = (config_fn)dlsym(h, "openblas_get_config");
    if (!sgemm || !get_threads || !set_threads) {
        snprintf(error, error_size, "the loaded OpenBLAS lacks cblas_sgemm or openblas_set_num_threads");
        dlclose(h);
        sgemm = NULL;
        pthread_mutex_unlock(&lock);
        return -1;
    }
    handle = h;
    pthread_mutex_unlock(&lock);
    return 0;
}

int fk_blas_loaded(void) { return handle != NULL; }

void fk_blas_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                   const float *b, int ldb, float beta, float *c, int ldc) {
    sgemm(101, trans_a ? 112 : 111, trans_b ? 112 : 111, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

int fk_blas_get_num_threads(void) { return get_threads ? get_threads() : 1; }
void fk_blas_set_num_threads(int threads) { if (set_threads) set_threads(threads); }
const char *fk_blas_config(void) { return config ? config() : ""; }
