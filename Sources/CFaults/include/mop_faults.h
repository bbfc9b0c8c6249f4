#ifndef MOP_FAULTS_H
#define MOP_FAULTS_H

/*
 * A file that shrinks while it is mapped (a model re-copied in place on a shared filesystem) makes every later read of
 * the lost pages raise SIGBUS. Swift cannot handle a signal safely, so this C handler does: it knows the mapped ranges
 * and the open partial output files from fixed tables that Swift fills, and on a fault inside a mapping it writes the
 * one-line error of docs/design.md#error-messages with write(2), removes the partial files and ends the process with
 * exit code 1. Everything the handler touches is async-signal-safe.
 */

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Installs the SIGBUS handler, replacing any earlier one (the Swift runtime's backtracer, OpenMPI's): call it after
 * MPI_Init. `prefix` starts the error line ("mop: error: ", or "mop: error (rank R): " under MPI). */
void mop_faults_install(const char *prefix);

/* Registers a read-only mapping of `length` bytes at `base` of the file open as `fd` (kept open while mapped), which
 * was `size` bytes when mapped; `path` names it in the error. Returns a slot for mop_faults_forget_mapping, or -1 when
 * the table is full (the mapping then works unguarded). */
int mop_faults_guard_mapping(const void *base, size_t length, int fd, long long size, const char *path);

/* Forgets a slot of mop_faults_guard_mapping; call it before unmapping. */
void mop_faults_forget_mapping(int slot);

/* When `address` lies in a guarded mapping (a system call reading it failed with EFAULT, which a file that shrank
 * causes instead of SIGBUS): sets its path (valid while it stays mapped), its size when mapped and its size now (-1 if
 * unknown), and returns 1; otherwise returns 0. */
int mop_faults_mapping_at(const void *address, const char **path, long long *was, long long *now);

/* Records a path to remove if the process dies of a fault (or SIGTERM): a partial output file, which is unlinked, or
 * a directory the job made, which is removed if it is then empty. Returns 0, or -1 when the table is full or the path
 * too long. */
int mop_faults_add_partial(const char *path);

/* Forgets a partial file recorded by mop_faults_add_partial (committed or removed). */
void mop_faults_remove_partial(const char *path);

/* Unlinks every recorded partial file, then removes the recorded directories left empty; async-signal-safe. */
void mop_faults_unlink_partials(void);

#ifdef __cplusplus
}
#endif

#endif
