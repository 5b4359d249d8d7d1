#if __has_include(<cblas.h>)
#include <cblas.h>
#elif defined(__x86_64__)
#include <x86_64-linux-gnu/cblas.h>
#elif defined(__aarch64__)
#include <aarch64-linux-gnu/cblas.h>
#else
#error "cblas.h not found: install libopenblas-dev"
#endif
