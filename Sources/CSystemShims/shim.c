/* pthread_mutex_clocklock (glibc 2.30) is a GNU extension. */
#define _GNU_SOURCE
#include "CSystemShims.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cwd_tune_allocator(int arena_max, size_t mmap_threshold) {
    int ok = 1;
    if (arena_max > 0) ok &= mallopt(M_ARENA_MAX, arena_max);
    if (mmap_threshold > 0) ok &= mallopt(M_MMAP_THRESHOLD, (int)mmap_threshold);
    return ok ? 0 : -1;
}

int cwd_release_free_heap(void) { return malloc_trim(0); }

/* MARK: locks */

struct cwd_mutex { pthread_mutex_t mutex; };

cwd_mutex *cwd_mutex_create(void) {
    cwd_mutex *m = malloc(sizeof *m);
    if (m != NULL) pthread_mutex_init(&m->mutex, NULL);
    return m;
}

void cwd_mutex_destroy(cwd_mutex *mutex) {
    pthread_mutex_destroy(&mutex->mutex);
    free(mutex);
}

void cwd_mutex_lock(cwd_mutex *mutex) { pthread_mutex_lock(&mutex->mutex); }

void cwd_mutex_unlock(cwd_mutex *mutex) { pthread_mutex_unlock(&mutex->mutex); }

int cwd_mutex_lock_within(cwd_mutex *mutex, int64_t timeout_ns) {
    if (pthread_mutex_trylock(&mutex->mutex) == 0) return 1;
    if (timeout_ns <= 0) return 0;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ns / 1000000000;
    deadline.tv_nsec += timeout_ns % 1000000000;
    if (deadline.tv_nsec >= 1000000000) { deadline.tv_sec += 1; deadline.tv_nsec -= 1000000000; }
    return pthread_mutex_clocklock(&mutex->mutex, CLOCK_MONOTONIC, &deadline) == 0;
}

/* MARK: threads */

struct cwd_thread_start_info {
    void (*body)(void *);
    void *context;
    char name[16];
};

static void *cwd_thread_main(void *argument) {
    struct cwd_thread_start_info info = *(struct cwd_thread_start_info *)argument;
    free(argument);
    if (info.name[0] != 0) pthread_setname_np(pthread_self(), info.name);
    info.body(info.context);
    return NULL;
}

int cwd_thread_start(const char *name, void (*body)(void *context), void *context) {
    struct cwd_thread_start_info *info = calloc(1, sizeof *info);
    if (info == NULL) return ENOMEM;
    info->body = body;
    info->context = context;
    if (name != NULL) strncpy(info->name, name, sizeof info->name - 1);
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    int error = pthread_create(&thread, &attributes, cwd_thread_main, info);
    pthread_attr_destroy(&attributes);
    if (error != 0) free(info);
    return error;
}

void cwd_sleep_ns(int64_t ns) {
    if (ns <= 0) return;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += ns / 1000000000;
    deadline.tv_nsec += ns % 1000000000;
    if (deadline.tv_nsec >= 1000000000) { deadline.tv_sec += 1; deadline.tv_nsec -= 1000000000; }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == EINTR) {}
}

/* MARK: build stamp */

#ifndef DOCKER_WATCHDOG_VERSION
#define DOCKER_WATCHDOG_VERSION "0.1.0-dev"
#endif
#ifndef DOCKER_WATCHDOG_REVISION
#define DOCKER_WATCHDOG_REVISION "unknown"
#endif
#ifndef DOCKER_WATCHDOG_BRANCH
#define DOCKER_WATCHDOG_BRANCH "unknown"
#endif
#ifndef DOCKER_WATCHDOG_BUILD_DATE
#define DOCKER_WATCHDOG_BUILD_DATE "unknown"
#endif

const char *cwd_build_version(void) { return DOCKER_WATCHDOG_VERSION; }
const char *cwd_build_revision(void) { return DOCKER_WATCHDOG_REVISION; }
const char *cwd_build_branch(void) { return DOCKER_WATCHDOG_BRANCH; }
const char *cwd_build_date(void) { return DOCKER_WATCHDOG_BUILD_DATE; }

int cwd_punch_hole(const char *path, int64_t *released_length) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    off_t size = lseek(fd, 0, SEEK_END);
    int rc = 0;
    if (size < 0) {
        rc = errno;
    } else if (size > 0 && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, size) != 0) {
        rc = errno;
    }
    if (released_length) *released_length = rc == 0 ? (int64_t)size : 0;
    close(fd);
    return rc;
}
