#ifndef FUSIONKIT_PROCESS_GUARD_H
#define FUSIONKIT_PROCESS_GUARD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Installs the process's last line of defence, once:
/// - SIGINT, SIGTERM, SIGHUP: every registered temporary file is unlinked, then the signal
///   is raised again with its default action (the shell sees the usual status).
/// - SIGSEGV (on an alternate stack), SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE: a fatal
///   error is reported, naming the address-space limit when one is set (allocation
///   failures are the usual cause); temporary files are unlinked and the process exits with
///   status 70 (EX_SOFTWARE). A fault inside a mapped input file is reported by the
///   mapped-file guard (`mapped_guard.h`), installed later, which passes other faults on
///   to this one.
/// Every handler is async-signal-safe: write(2), unlink(2), _exit(2).
void fk_guard_install(void);

/// Registers a temporary file to unlink if the process is interrupted; returns a slot
/// (or -1 when the table is full; the file is then only swept at the next start).
int fk_guard_temp_register(const char *path);
/// Forgets slot `slot` (the file was renamed into place or removed).
void fk_guard_temp_unregister(int slot);

/// Bytes of address space left under RLIMIT_AS (`ulimit -v`): the limit less the
/// process's current virtual size; -1 when there is no limit.
long long fk_guard_address_space_headroom(void);

/// Unlinks registered temporary files, writes `message` (and a newline) to standard error
/// and exits with `status`, from any thread. For failures no caller can handle, such as an
/// allocation that fails inside a non-throwing initialiser.
void fk_guard_fail(const char *message, int status) __attribute__((noreturn));

/// Grows an anonymous mapping with mremap(MREMAP_MAYMOVE): page tables move, bytes do not.
/// Returns the new address, or NULL when it cannot (the old mapping is then unchanged).
void *fk_grow_mapping(void *address, size_t old_size, size_t new_size);

/// Lowers the calling thread's scheduling priority to `nice` (Linux threads have their own).
/// Returns 0, or -1 where it is not possible.
int fk_thread_set_nice(int nice);

#ifdef __cplusplus
}
#endif

#endif
