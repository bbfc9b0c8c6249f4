/* Threads for the matrix-vector products of decoding. A token runs hundreds of them, each tens of microseconds, so a
 * thread that sleeps between them costs as much to wake (a futex round trip through the scheduler) as the product
 * takes: the pool's threads spin between jobs and sleep only after a pause of about a millisecond, as llama.cpp's do.
 * Each row's dot is the single-threaded kernel's (mop_matvec), so the split changes no bit. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "CKernels.h"

enum { POOL_MAX = 64, SPINS_BEFORE_SLEEP = 1 << 16, SPINS_BEFORE_YIELD = 1 << 12 };

typedef struct {
    int type;
    const void *base;
    int64_t row_bytes;
    const int32_t *rows;
    int64_t count;
    const float *x;
    int64_t n;
    float *y;
    int parts;
} matvec_job;

/* One job at a time; a caller finding the pool busy (another thread's product) computes on its own thread. */
static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;
/* Guards `sleepers` and the sleep on `wake`, so a posted job cannot slip between a worker's check and its sleep. */
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static int sleepers;
/* Bumped once per job; every worker acknowledges every job (through `unfinished`) before the next is posted, so a
 * worker never reads the fields of a job it has not been told of. */
static atomic_uint_fast64_t generation;
static atomic_int unfinished;
static int started;
static matvec_job current;

/* Part `part` of `parts` contiguous ranges of the job's rows. */
static void run_part(const matvec_job *job, int part) {
    int64_t per = (job->count + job->parts - 1) / job->parts;
    int64_t start = part * per, end = start + per < job->count ? start + per : job->count;
    if (start >= end) return;
    const int32_t *rows = job->rows ? job->rows + start : NULL;
    const void *base = job->rows ? job->base : (const uint8_t *)job->base + start * job->row_bytes;
    mop_matvec(job->type, base, job->row_bytes, rows, end - start, job->x, job->n, job->y + start);
}

typedef struct {
    int index;
    uint_fast64_t seen;
} worker_start;

static worker_start starts[POOL_MAX];

static void *worker(void *argument) {
    const worker_start *start = argument;
    const int index = start->index;
    uint_fast64_t seen = start->seen;
    for (;;) {
        uint_fast64_t now;
        for (int spins = 0; (now = atomic_load_explicit(&generation, memory_order_acquire)) == seen;) {
            if (++spins < SPINS_BEFORE_SLEEP) {
                __builtin_ia32_pause();
                continue;
            }
            pthread_mutex_lock(&sleep_lock);
            sleepers++;
            while (atomic_load_explicit(&generation, memory_order_acquire) == seen) pthread_cond_wait(&wake, &sleep_lock);
            sleepers--;
            pthread_mutex_unlock(&sleep_lock);
            spins = 0;
        }
        seen = now;
        if (index < current.parts) run_part(&current, index);
        atomic_fetch_sub_explicit(&unfinished, 1, memory_order_release);
    }
    return NULL;
}

int mop_matvec_threads(int type, const void *base, int64_t row_bytes, const int32_t *rows, int64_t count,
                       const float *x, int64_t n, float *y, int threads) {
    if (!mop_type_supported(type)) return -1;
    if (threads > count) threads = (int)count;
    if (threads > POOL_MAX) threads = POOL_MAX;
    if (threads <= 1 || pthread_mutex_trylock(&job_lock) != 0) return mop_matvec(type, base, row_bytes, rows, count, x, n, y);
    /* The job lock is held, so no job is posted while a new worker records the generation it starts from. */
    while (started < threads - 1) {
        worker_start *start = &starts[started + 1];
        *start = (worker_start){started + 1, atomic_load(&generation)};
        pthread_t thread;
        if (pthread_create(&thread, NULL, worker, start) != 0) break;
        pthread_detach(thread);
        started++;
    }
    if (threads > started + 1) threads = started + 1;
    current = (matvec_job){type, base, row_bytes, rows, count, x, n, y, threads};
    atomic_store_explicit(&unfinished, started, memory_order_relaxed);
    pthread_mutex_lock(&sleep_lock);
    atomic_fetch_add_explicit(&generation, 1, memory_order_release);
    if (sleepers > 0) pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&sleep_lock);
    run_part(&current, 0);
    /* On an oversubscribed machine a worker may be off its core: yield rather than spin it out of its turn. */
    for (int spins = 0; atomic_load_explicit(&unfinished, memory_order_acquire) > 0; spins++) {
        if (spins < SPINS_BEFORE_YIELD) __builtin_ia32_pause();
        else sched_yield();
    }
    pthread_mutex_unlock(&job_lock);
    return 0;
}
