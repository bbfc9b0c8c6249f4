/* The SIGBUS handler for mapped files that shrink while in use; see include/mop_faults.h. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mop_faults.h"

/* Fixed tables: the handler may not allocate. A slot is filled under `table_lock` and only then made ACTIVE; the
 * handler takes no lock and reads ACTIVE slots only. */
enum { FREE = 0, ACTIVE = 1 };
enum { MAX_MAPPINGS = 256, MAX_PARTIALS = 256, MAX_PATH = 4096, MAX_PREFIX = 64 };

typedef struct {
    atomic_int state;
    uintptr_t base;
    size_t length;
    int fd;
    long long size;
    char path[MAX_PATH];
} mapping;

typedef struct {
    atomic_int state;
    char path[MAX_PATH];
} partial;

static mapping mappings[MAX_MAPPINGS];
static partial partials[MAX_PARTIALS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static char prefix[MAX_PREFIX] = "mop: error: ";
/* Set by the first thread to fault in a mapping: with several BLAS threads reading the lost pages at once, only one
 * reports and the others wait for its _exit. */
static atomic_int reporting;

/* Appends `text` to the buffer at *cursor, up to `end`. */
static void append_text(char **cursor, char *end, const char *text) {
    while (*text && *cursor < end) *(*cursor)++ = *text++;
}

/* Appends `value` in decimal, written by hand (snprintf is not async-signal-safe). */
static void append_number(char **cursor, char *end, long long value) {
    char digits[24];
    int count = 0;
    unsigned long long magnitude = value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value;
    do {
        digits[count++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude > 0);
    if (value < 0 && *cursor < end) *(*cursor)++ = '-';
    while (count > 0 && *cursor < end) *(*cursor)++ = digits[--count];
}

static void write_all(const char *bytes, size_t count) {
    while (count > 0) {
        ssize_t written = write(STDERR_FILENO, bytes, count);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) return;
        bytes += written;
        count -= (size_t)written;
    }
}

void mop_faults_unlink_partials(void) {
    for (int i = 0; i < MAX_PARTIALS; i++) {
        if (atomic_load_explicit(&partials[i].state, memory_order_acquire) == ACTIVE) unlink(partials[i].path);
    }
    /* Then the directories the job made, if the files above were all they held: rmdir removes only empty ones, and
     * repeating the pass until nothing goes removes nested ones whatever order their slots are in. */
    for (int removed = 1; removed;) {
        removed = 0;
        for (int i = 0; i < MAX_PARTIALS; i++) {
            if (atomic_load_explicit(&partials[i].state, memory_order_acquire) == ACTIVE && rmdir(partials[i].path) == 0) removed = 1;
        }
    }
}

static const mapping *mapping_holding(uintptr_t address) {
    for (int i = 0; i < MAX_MAPPINGS; i++) {
        const mapping *m = &mappings[i];
        if (atomic_load_explicit(&m->state, memory_order_acquire) != ACTIVE) continue;
        if (address >= m->base && address - m->base < m->length) return m;
    }
    return NULL;
}

int mop_faults_mapping_at(const void *address, const char **path, long long *was, long long *now) {
    const mapping *m = mapping_holding((uintptr_t)address);
    if (m == NULL) return 0;
    struct stat info;
    *path = m->path;
    *was = m->size;
    *now = fstat(m->fd, &info) == 0 ? (long long)info.st_size : -1;
    return 1;
}

static void on_bus_error(int signal_number, siginfo_t *info, void *context) {
    (void)context;
    const mapping *m = mapping_holding((uintptr_t)info->si_addr);
    if (m == NULL) {
        /* Not a mapped file's fault: a bug. The default action ends the process with SIGBUS (and a core). */
        signal(signal_number, SIG_DFL);
        raise(signal_number);
        return;
    }
    if (atomic_exchange(&reporting, 1)) {
        for (;;) pause();
    }
    struct stat info_now;
    int known = fstat(m->fd, &info_now) == 0;
    char line[MAX_PREFIX + MAX_PATH + 160];
    char *cursor = line, *end = line + sizeof line - 1;
    append_text(&cursor, end, prefix);
    append_text(&cursor, end, m->path);
    if (known && (long long)info_now.st_size < m->size) {
        append_text(&cursor, end, ": the file changed while it was in use (now ");
        append_number(&cursor, end, (long long)info_now.st_size);
        append_text(&cursor, end, " bytes, was ");
        append_number(&cursor, end, m->size);
        append_text(&cursor, end, ")");
    } else {
        /* Same size or larger: the storage failed to deliver a page (an I/O error on a network filesystem). */
        append_text(&cursor, end, ": the file could not be read while it was in use (an I/O error of its storage)");
    }
    *cursor++ = '\n';
    write_all(line, (size_t)(cursor - line));
    mop_faults_unlink_partials();
    _exit(1);
}

void mop_faults_install(const char *text) {
    pthread_mutex_lock(&table_lock);
    size_t length = strlen(text);
    if (length >= MAX_PREFIX) length = MAX_PREFIX - 1;
    memcpy(prefix, text, length);
    prefix[length] = 0;
    pthread_mutex_unlock(&table_lock);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_bus_error;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    sigaction(SIGBUS, &action, NULL);
}

int mop_faults_guard_mapping(const void *base, size_t length, int fd, long long size, const char *path) {
    size_t path_length = strlen(path);
    if (path_length >= MAX_PATH) path_length = MAX_PATH - 1;
    pthread_mutex_lock(&table_lock);
    int slot = 0;
    while (slot < MAX_MAPPINGS && atomic_load(&mappings[slot].state) != FREE) slot++;
    if (slot < MAX_MAPPINGS) {
        mapping *m = &mappings[slot];
        m->base = (uintptr_t)base;
        m->length = length;
        m->fd = fd;
        m->size = size;
        memcpy(m->path, path, path_length);
        m->path[path_length] = 0;
        atomic_store_explicit(&m->state, ACTIVE, memory_order_release);
    }
    pthread_mutex_unlock(&table_lock);
    return slot < MAX_MAPPINGS ? slot : -1;
}

void mop_faults_forget_mapping(int slot) {
    if (slot < 0 || slot >= MAX_MAPPINGS) return;
    atomic_store_explicit(&mappings[slot].state, FREE, memory_order_release);
}

int mop_faults_add_partial(const char *path) {
    size_t length = strlen(path);
    if (length >= MAX_PATH) return -1;
    pthread_mutex_lock(&table_lock);
    int slot = 0;
    while (slot < MAX_PARTIALS && atomic_load(&partials[slot].state) != FREE) slot++;
    if (slot < MAX_PARTIALS) {
        memcpy(partials[slot].path, path, length + 1);
        atomic_store_explicit(&partials[slot].state, ACTIVE, memory_order_release);
    }
    pthread_mutex_unlock(&table_lock);
    return slot < MAX_PARTIALS ? 0 : -1;
}

void mop_faults_remove_partial(const char *path) {
    pthread_mutex_lock(&table_lock);
    for (int i = 0; i < MAX_PARTIALS; i++) {
        if (atomic_load_explicit(&partials[i].state, memory_order_acquire) == ACTIVE && strcmp(partials[i].path, path) == 0) {
            atomic_store_explicit(&partials[i].state, FREE, memory_order_release);
            break;
        }
    }
    pthread_mutex_unlock(&table_lock);
}
