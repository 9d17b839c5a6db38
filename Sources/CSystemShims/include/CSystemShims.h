#ifndef CSYSTEMSHIMS_H
#define CSYSTEMSHIMS_H

#if !defined(__linux__)
#error "docker-watchdog runs on Linux (glibc) only"
#endif

/*
 * pthread mutexes and threads, CLOCK_MONOTONIC sleeps and glibc allocator settings for the Locking module.
 * Linux only (glibc); every symbol carries the `cwd_` prefix.
 */

#include <stddef.h>
#include <stdint.h>

/* MARK: allocator (glibc malloc) */


/* At most `arena_max` malloc arenas, and allocations of at least `mmap_threshold` bytes always
 * mmapped (so freeing a large transient buffer returns it to the kernel at once). 0 leaves a
 * setting alone. Returns 0 on success, -1 if glibc refused a setting. */
int cwd_tune_allocator(int arena_max, size_t mmap_threshold);
/* Returns free heap pages to the kernel (malloc_trim(0)); 1 if memory was released. */
int cwd_release_free_heap(void);

/* Frees the disk blocks of a file's whole current content while keeping its size
 * (fallocate PUNCH_HOLE | KEEP_SIZE): a writer appending to it keeps its offsets, readers see
 * zeros before them. Returns 0 or an errno; *released_length is the length punched. */
int cwd_punch_hole(const char *path, int64_t *released_length);

/* MARK: locks (for the Locking module: a pthread mutex at a stable heap address) */


typedef struct cwd_mutex cwd_mutex;
/* A new non-recursive mutex, or NULL when out of memory. */
cwd_mutex *cwd_mutex_create(void);
void cwd_mutex_destroy(cwd_mutex *mutex);
void cwd_mutex_lock(cwd_mutex *mutex);
void cwd_mutex_unlock(cwd_mutex *mutex);
/* Waits at most `timeout_ns` nanoseconds on CLOCK_MONOTONIC (a wall-clock step neither shortens
 * nor stretches the wait); 1 when the mutex was taken, 0 when the time ran out. */
int cwd_mutex_lock_within(cwd_mutex *mutex, int64_t timeout_ns);

/* Starts a detached thread named `name` (at most 15 bytes are kept, the kernel's limit) that runs
 * body(context). 0 on success, else the pthread_create error. */
int cwd_thread_start(const char *name, void (*body)(void *context), void *context);
/* Sleeps the calling thread for `ns` nanoseconds of CLOCK_MONOTONIC (signals do not cut it short). */
void cwd_sleep_ns(int64_t ns);

/* MARK: build stamp (release builds pass -Xcc -DDOCKER_WATCHDOG_VERSION='"1.2.3"' and the like;
 * scripts/package.sh does) */

const char *cwd_build_version(void);
const char *cwd_build_revision(void);
const char *cwd_build_branch(void);
const char *cwd_build_date(void);

#endif
