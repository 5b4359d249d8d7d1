// Signal handlers that keep every exit of the `fusion` process clean: no temporary file
// survives an interrupt, and a fatal fault exits with a message and a status instead of a
// core dump.
#define _GNU_SOURCE
#include "process_guard.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FK_MAX_TEMPS 256
#define FK_PATH_MAX 4096

typedef struct {
    atomic_int used;
    char path[FK_PATH_MAX];
} fk_temp_slot;

static fk_temp_slot temps[FK_MAX_TEMPS];
static atomic_int installed;
static atomic_int handling;

static void say(const char *text) {
    size_t n = strlen(text);
    while (n > 0) {
        ssize_t w = write(2, text, n);
        if (w <= 0) return;
        text += w;
        n -= (size_t)w;
    }
}

static void say_number(unsigned long long value) {
    char digits[32];
    int i = 31;
    digits[i] = 0;
    do { digits[--i] = (char)('0' + value % 10); value /= 10; } while (value > 0 && i > 0);
    say(digits + i);
}

static void unlink_temps(void) {
    for (int i = 0; i < FK_MAX_TEMPS; i++) {
        if (atomic_load(&temps[i].used) == 2) unlink(temps[i].path);
    }
}

int fk_guard_temp_register(const char *path) {
    size_t n = strlen(path);
    if (n >= FK_PATH_MAX) return -1;
    for (int i = 0; i < FK_MAX_TEMPS; i++) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&temps[i].used, &expected, 1)) {
            memcpy(temps[i].path, path, n + 1);
            atomic_store(&temps[i].used, 2);
            return i;
        }
    }
    return -1;
}

void fk_guard_temp_unregister(int slot) {
    if (slot >= 0 && slot < FK_MAX_TEMPS) atomic_store(&temps[slot].used, 0);
}

static void on_interrupt(int sig) {
    unlink_temps();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void on_fault(int sig, siginfo_t *info, void *context) {
    (void)context;
    if (atomic_exchange(&handling, 1)) _exit(70);  // a fault inside the handler
    unlink_temps();
    (void)info;
    const char *name = sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGILL ? "SIGILL"
                     : sig == SIGTRAP ? "SIGTRAP" : sig == SIGABRT ? "SIGABRT" : "SIGFPE";
    say("error: fusion stopped on a fatal ");
    say(name);
    struct rlimit limit;
    if (getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
        say(" under an address-space limit of ");
        say_number((unsigned long long)(limit.rlim_cur >> 20));
        say(" MiB (ulimit -v): the usual cause is that memory ran out; raise the limit or use a smaller input\n");
    } else {
        say(" (out of memory, or an internal error: please report it with the command line)\n");
    }
    _exit(70);
}

long long fk_guard_address_space_headroom(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return -1;
    long long size_pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%lld", &size_pages) != 1) size_pages = 0;
        fclose(f);
    }
    long long used = size_pages * (long long)sysconf(_SC_PAGESIZE);
    long long left = (long long)limit.rlim_cur - used;
    return left > 0 ? left : 0;
}

void fk_guard_fail(const char *message, int status) {
    unlink_temps();
    say(message);
    say("\n");
    _exit(status);
}

void fk_guard_install(void) {
    if (atomic_exchange(&installed, 1)) return;
    static char alternate_stack[1 << 16];
    stack_t ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_sp = alternate_stack;
    ss.ss_size = sizeof alternate_stack;
    sigaltstack(&ss, NULL);

    struct sigaction interrupt;
    memset(&interrupt, 0, sizeof interrupt);
    interrupt.sa_handler = on_interrupt;
    sigemptyset(&interrupt.sa_mask);
    int interrupts[] = {SIGINT, SIGTERM, SIGHUP};
    for (unsigned i = 0; i < sizeof interrupts / sizeof interrupts[0]; i++) sigaction(interrupts[i], &interrupt, NULL);

    struct sigaction fault;
    memset(&fault, 0, sizeof fault);
    fault.sa_sigaction = on_fault;
    fault.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&fault.sa_mask);
    int faults[] = {SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE};
    for (unsigned i = 0; i < sizeof faults / sizeof faults[0]; i++) sigaction(faults[i], &fault, NULL);
}

int fk_thread_set_nice(int nice) {
#ifdef SYS_gettid
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
#else
    (void)nice;
    return -1;
#endif
}

void *fk_grow_mapping(void *address, size_t old_size, size_t new_size) {
#ifdef MREMAP_MAYMOVE
    void *moved = mremap(address, old_size, new_size, MREMAP_MAYMOVE);
    return moved == MAP_FAILED ? NULL : moved;
#else
    (void)address; (void)old_size; (void)new_size;
    return NULL;
#endif
}
