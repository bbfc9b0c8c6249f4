/* Read bandwidth of main memory with THREADS threads: each sums its own share of a buffer far larger than the caches,
 * best of ROUNDS passes; prints GB/s. The physical bound of decoding (bytes read per token / this) in
 * scripts/bench-decode-vs-llamacpp.sh.
 *   memory-bandwidth THREADS [MIB=1024] [ROUNDS=5] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct { const uint64_t *data; size_t count; uint64_t sum; } share;

static void *sum_share(void *argument) {
    share *s = argument;
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (size_t i = 0; i + 4 <= s->count; i += 4) { a += s->data[i]; b += s->data[i + 1]; c += s->data[i + 2]; d += s->data[i + 3]; }
    s->sum = a + b + c + d;
    return NULL;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s THREADS [MIB] [ROUNDS]\n", argv[0]); return 2; }
    int threads = atoi(argv[1]), rounds = argc > 3 ? atoi(argv[3]) : 5;
    size_t bytes = (size_t)(argc > 2 ? atoi(argv[2]) : 1024) << 20, count = bytes / 8;
    if (threads < 1 || threads > 256 || rounds < 1 || count < (size_t)threads * 4) { fprintf(stderr, "bad arguments\n"); return 2; }
    uint64_t *data = malloc(bytes);
    if (!data) { fprintf(stderr, "cannot allocate %zu bytes\n", bytes); return 1; }
    memset(data, 1, bytes);
    double best = 1e30;
    uint64_t total = 0;
    for (int r = 0; r < rounds; r++) {
        pthread_t ids[256];
        share shares[256];
        double start = now();
        for (int t = 0; t < threads; t++) {
            shares[t] = (share){data + count / threads * t, count / threads, 0};
            pthread_create(&ids[t], NULL, sum_share, &shares[t]);
        }
        for (int t = 0; t < threads; t++) { pthread_join(ids[t], NULL); total += shares[t].sum; }
        double seconds = now() - start;
        if (seconds < best) best = seconds;
    }
    printf("{\"threads\": %d, \"bytes\": %zu, \"gb_per_second\": %.3f, \"checksum\": %llu}\n", threads, bytes,
           (double)bytes / best / 1e9, (unsigned long long)total);
    free(data);
    return 0;
}
