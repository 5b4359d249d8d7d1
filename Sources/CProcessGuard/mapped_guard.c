// A SIGBUS/SIGSEGV handler that turns a fault inside a memory-mapped input file (the file
// was truncated or rewritten by another process while mapped) into a clean exit with a
// message, instead of a crash. Everything the handler touches is a fixed-size array of
// atomics and write(2)/_exit(2): async-signal-safe.
#define _GNU_SOURCE
#include "mapped_guard.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    // 0: free; 1: being written or cleared; 2: live (the handler reads live slots only).
    atomic_int state;
    atomic_uintptr_t base;
    atomic_size_t length;
    char path[FK_MAPPED_GUARD_PATH_MAX];
} fk_slot;

static fk_slot slots[FK_MAPPED_GUARD_SLOTS];
static struct sigaction previous_bus, previous_segv;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

int fk_mapped_guard_lookup(const void *address) {
    uintptr_t a = (uintptr_t)address;
    for (int i = 0; i < FK_MAPPED_GUARD_SLOTS; i++) {
        if (atomic_load_explicit(&slots[i].state, memory_order_acquire) != 2) continue;
        uintptr_t base = atomic_load_explicit(&slots[i].base, memory_order_relaxed);
        size_t length = atomic_load_explicit(&slots[i].length, memory_order_relaxed);
        if (a >= base && a - base < length) return i;
    }
    return -1;
}

const char *fk_mapped_guard_path(int slot) {
    if (slot < 0 || slot >= FK_MAPPED_GUARD_SLOTS) return NULL;
    if (atomic_load_explicit(&slots[slot].state, memory_order_acquire) != 2) return NULL;
    return slots[slot].path;
}

static long write_all(int fd, const char *text, size_t length) {
    size_t done = 0;
    while (done < length) {
        ssize_t n = write(fd, text + done, length - done);
        if (n <= 0) break;
        done += (size_t)n;
    }
    return (long)done;
}

long fk_mapped_guard_write_message(int slot, int fd) {
    if (slot < 0 || slot >= FK_MAPPED_GUARD_SLOTS) return 0;
    static const char prefix[] = "error: ";
    static const char suffix[] = " was truncated or changed while being read\n";
    long n = write_all(fd, prefix, sizeof prefix - 1);
    n += write_all(fd, slots[slot].path, strnlen(slots[slot].path, FK_MAPPED_GUARD_PATH_MAX));
    n += write_all(fd, suffix, sizeof suffix - 1);
    return n;
}

static void handler(int sig, siginfo_t *info, void *context) {
    (void)context;
    int slot = info ? fk_mapped_guard_lookup(info->si_addr) : -1;
    if (slot >= 0) {
        fk_mapped_guard_write_message(slot, 2);
        _exit(FK_MAPPED_GUARD_EXIT_STATUS);
    }
    // Not ours: put the previous handler (or the default action) back. A fault from an
    // instruction happens again when this returns, now reaching that handler; a signal
    // sent by kill(2) or raise(3) is sent again.
    sigaction(sig, sig == SIGBUS ? &previous_bus : &previous_segv, NULL);
    if (info == NULL || info->si_code <= 0) raise(sig);
}

static void install(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = handler;
    sigemptyset(&action.sa_mask);
    // SA_ONSTACK: a stack overflow (SIGSEGV) still reaches the handler when the program
    // set up an alternate stack (the Swift runtime's backtracer does).
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGBUS, &action, &previous_bus);
    sigaction(SIGSEGV, &action, &previous_segv);
}

void fk_mapped_guard_install(void) { pthread_once(&install_once, install); }

int fk_mapped_guard_register(const void *base, size_t length, const char *path) {
    for (int i = 0; i < FK_MAPPED_GUARD_SLOTS; i++) {
        int expected = 0;
        if (!atomic_compare_exchange_strong(&slots[i].state, &expected, 1)) continue;
        atomic_store_explicit(&slots[i].base, (uintptr_t)base, memory_order_relaxed);
        atomic_store_explicit(&slots[i].length, length, memory_order_relaxed);
        size_t n = path ? strnlen(path, FK_MAPPED_GUARD_PATH_MAX - 1) : 0;
        if (n) memcpy(slots[i].path, path, n);
        slots[i].path[n] = 0;
        atomic_store_explicit(&slots[i].state, 2, memory_order_release);
        return i;
    }
    return -1;
}

void fk_mapped_guard_unregister(int slot) {
    if (slot < 0 || slot >= FK_MAPPED_GUARD_SLOTS) return;
    atomic_store_explicit(&slots[slot].state, 1, memory_order_release);
    atomic_store_explicit(&slots[slot].length, 0, memory_order_relaxed);
    atomic_store_explicit(&slots[slot].state, 0, memory_order_release);
}
