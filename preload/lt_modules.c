/*
 * Module map snapshots. The collector turns every frame address into (module, offset) when the STACK
 * record arrives, using the snapshot current at that point of the stream, so a library that is dlopen'ed,
 * used and dlclose'd (or replaced by another at the same address) is still attributed correctly.
 *
 * A snapshot is sent before the first stack and again whenever the loader's adds/subs counters moved. The
 * check runs only when a new distinct stack is inserted (rare), never per allocation. Snapshots are
 * serialized by a mutex: this is the rare path, and the records of one snapshot must not interleave.
 */
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "leaktrack_wire.h"
#include "lt_modules.h"
#include "lt_records.h"
#include "lt_state.h"

#define LT_MAX_MODULES 100000u

static pthread_mutex_t lt_modules_mutex = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t lt_sent_adds, lt_sent_subs; /* counters of the last snapshot sent; 0 = none yet */

struct lt_counter_probe {
    uint64_t adds, subs;
};

static int lt_probe_counters(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct lt_counter_probe *probe = data;
    probe->adds = info->dlpi_adds;
    probe->subs = info->dlpi_subs;
    return 1; /* the counters are the same in every entry: stop after the first */
}

uint32_t lt_executable_path(char *buf, uint32_t size) {
    ssize_t len = readlink("/proc/self/exe", buf, size - 1);
    if (len < 0) len = 0;
    buf[len] = '\0';
    return (uint32_t)len;
}

/* Finds the GNU build id note in a loaded object's PT_NOTE segments. */
static uint32_t lt_build_id(const struct dl_phdr_info *info, const unsigned char **out) {
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        const unsigned char *end = p + ph->p_memsz;
        for (int notes = 0; notes < 64 && p + sizeof(ElfW(Nhdr)) <= end; notes++) {
            const ElfW(Nhdr) *note = (const ElfW(Nhdr) *)p;
            const unsigned char *name = p + sizeof *note;
            const unsigned char *desc = name + ((note->n_namesz + 3u) & ~3u);
            const unsigned char *next = desc + ((note->n_descsz + 3u) & ~3u);
            if (next > end) break;
            if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 && memcmp(name, "GNU", 4) == 0 &&
                note->n_descsz <= LT_MAX_BUILD_ID) {
                *out = desc;
                return note->n_descsz;
            }
            p = next;
        }
    }
    return 0;
}

struct lt_snapshot {
    uint32_t count;
};

static int lt_emit_module(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct lt_snapshot *snapshot = data;
    if (snapshot->count++ >= LT_MAX_MODULES) return 1;

    struct lt_segment segments[LT_MAX_SEGMENTS];
    uint16_t nsegments = 0;
    for (int i = 0; i < info->dlpi_phnum && nsegments < LT_MAX_SEGMENTS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        segments[nsegments].start = info->dlpi_addr + ph->p_vaddr;
        segments[nsegments].end = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
        nsegments++;
    }
    if (nsegments == 0) return 0;

    char exe[LT_MAX_PATH];
    const char *path = info->dlpi_name;
    uint32_t path_len;
    if (path == NULL || path[0] == '\0') {
        /* The main program has an empty name; the vdso has a name but no file. */
        path_len = lt_executable_path(exe, sizeof exe);
        path = exe;
    } else {
        path_len = (uint32_t)strnlen(path, LT_MAX_PATH - 1);
    }
    const unsigned char *build_id = NULL;
    uint32_t build_id_len = lt_build_id(info, &build_id);

    return lt_record_module(info->dlpi_addr, segments, nsegments, build_id, build_id_len, path, path_len) == 0 ? 0 : 1;
}

void lt_modules_refresh(void) {
    struct lt_counter_probe probe = {0, 0};
    dl_iterate_phdr(lt_probe_counters, &probe);
    if (probe.adds == atomic_load_explicit(&lt_sent_adds, memory_order_acquire) &&
        probe.subs == atomic_load_explicit(&lt_sent_subs, memory_order_acquire))
        return;
    /* A signal handler's allocation on this thread must not wait for the lock this thread holds. */
    lt_self.critical++;
    pthread_mutex_lock(&lt_modules_mutex);
    dl_iterate_phdr(lt_probe_counters, &probe);
    if (probe.adds != atomic_load(&lt_sent_adds) || probe.subs != atomic_load(&lt_sent_subs)) {
        struct lt_snapshot snapshot = {0};
        lt_record_modules_mark(LT_REC_MODULES_BEGIN, probe.adds, probe.subs);
        dl_iterate_phdr(lt_emit_module, &snapshot);
        lt_record_modules_mark(LT_REC_MODULES_END, probe.adds, probe.subs);
        atomic_store_explicit(&lt_sent_adds, probe.adds, memory_order_release);
        atomic_store_explicit(&lt_sent_subs, probe.subs, memory_order_release);
    }
    pthread_mutex_unlock(&lt_modules_mutex);
    lt_self.critical--;
}

void lt_modules_reset_after_fork(void) {
    atomic_store(&lt_sent_adds, 0);
    atomic_store(&lt_sent_subs, 0);
}

/* Held across fork, so that no snapshot is half-written in the child; critical meanwhile, like any hold. */
void lt_modules_lock_for_fork(void) {
    lt_self.critical++;
    pthread_mutex_lock(&lt_modules_mutex);
}
void lt_modules_unlock_after_fork(void) {
    pthread_mutex_unlock(&lt_modules_mutex);
    lt_self.critical--;
}

struct lt_range_query {
    uintptr_t address, lo, hi;
    int found;
};

static int lt_find_range(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct lt_range_query *q = data;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
        if (start < lo) lo = start;
        if (end > hi) hi = end;
    }
    if (q->address >= lo && q->address < hi) {
        q->lo = lo;
        q->hi = hi;
        q->found = 1;
        return 1;
    }
    return 0;
}

int lt_modules_object_range(const void *address, uintptr_t *lo, uintptr_t *hi) {
    struct lt_range_query q = {(uintptr_t)address, 0, 0, 0};
    dl_iterate_phdr(lt_find_range, &q);
    if (!q.found) return -1;
    *lo = q.lo;
    *hi = q.hi;
    return 0;
}
