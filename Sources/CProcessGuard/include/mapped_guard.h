#ifndef FUSIONKIT_MAPPED_GUARD_H
#define FUSIONKIT_MAPPED_GUARD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// How many mappings can be registered at once; more are simply not guarded.
#define FK_MAPPED_GUARD_SLOTS 256
/// Bytes of a registered path kept for the message (longer paths are cut).
#define FK_MAPPED_GUARD_PATH_MAX 512
/// The exit status after a guarded mapping faults (EX_IOERR).
#define FK_MAPPED_GUARD_EXIT_STATUS 74

/// Installs the SIGBUS/SIGSEGV handler (once; later calls do nothing).
///
/// When a registered mapping faults (the file was truncated or changed under it), the
/// handler writes "error: FILE was truncated or changed while being read\n" to stderr with
/// write(2) and calls _exit(74). Any other fault goes to the handler that was installed
/// before (or the default action), as if this one were not there.
void fk_mapped_guard_install(void);

/// Registers [base, base + length) as a mapping of `path`; returns a slot number for
/// `fk_mapped_guard_unregister`, or -1 when every slot is taken (the range is then not
/// guarded). Thread-safe.
int fk_mapped_guard_register(const void *base, size_t length, const char *path);

/// Forgets a slot returned by `fk_mapped_guard_register` (call before munmap).
void fk_mapped_guard_unregister(int slot);

/// The slot whose range holds `address`, or -1 (what the handler looks up; async-signal-safe).
int fk_mapped_guard_lookup(const void *address);

/// The path registered in `slot` (for tests), or NULL for a free slot.
const char *fk_mapped_guard_path(int slot);

/// Writes the handler's message for `slot` to file descriptor `fd` (for tests; the
/// handler itself writes to 2). Returns the bytes written.
long fk_mapped_guard_write_message(int slot, int fd);

#ifdef __cplusplus
}
#endif

#endif
