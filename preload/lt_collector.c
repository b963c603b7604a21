/*
 * The collector's liveness, as the shim sees it.
 *
 * After HELLO the shim holds no descriptor (lt_link.c): everything it waits for is a word the collector writes
 * into the ring's header (see leaktrack_wire.h), waited on with a futex. The collector's death is noticed
 * where it matters, by a producer waiting for ring space (lt_ring.c) or by the exit waiting for the collector
 * (lt_collector_finish), which then switch tracking off with one message. There is no thread of the shim's in
 * the program.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "leaktrack_wire.h"
#include "lt_collector.h"
#include "lt_config.h"
#include "lt_diag.h"
#include "lt_shm.h"
#include "lt_socket.h"

/* A collector that has not answered HELLO for this long while its socket still listens (it may serve as many
 * streams as it can, this one waiting in its queue), or has shown no sign of life for this long since it
 * answered, is gone (the beat stops only if it died or was stopped, e.g. under a debugger). */
#define LT_UNANSWERED_NS (60ull * 1000000000ull)
#define LT_SILENT_NS     (30ull * 1000000000ull)

static const char *lt_collector_socket; /* where HELLO went: probed until the collector answers */
static _Atomic int lt_attached;         /* HELLO went out: a collector will read this stream */
static _Atomic int lt_lost;             /* the collector is known to have stopped reading */
static _Atomic uint64_t lt_attached_ns;
static _Atomic uint64_t lt_last_beat, lt_last_beat_ns; /* the collector's beat as last seen, and when */
static _Atomic uint64_t lt_last_probe_ns;              /* when we last looked for an unanswering collector */

void lt_collector_attached(const char *socket_path) {
    uint64_t now = lt_monotonic_ns();
    lt_collector_socket = socket_path;
    atomic_store(&lt_attached_ns, now);
    atomic_store(&lt_last_beat, 0);
    atomic_store(&lt_last_beat_ns, now);
    atomic_store(&lt_lost, 0);
    atomic_store(&lt_attached, 1);
}

void lt_collector_detached(void) { atomic_store(&lt_attached, 0); }

int lt_collector_reads(void) { return atomic_load(&lt_attached) && !atomic_load(&lt_lost); }

static long lt_futex(_Atomic uint64_t *word, int op, uint32_t value, const struct timespec *timeout) {
    /* The low half of the little-endian word: the counters and states that matter fit in it. */
    return syscall(SYS_futex, (uint32_t *)(void *)word, op, value, timeout, NULL, 0);
}

void lt_collector_wake(void) {
    atomic_fetch_add_explicit(lt_ring.wake, 1, memory_order_release);
    lt_futex(lt_ring.wake, FUTEX_WAKE, INT_MAX, NULL);
}

/* The inode of our pid namespace: the collector's pid means the same to us only if it is in the same one. */
static uint64_t lt_pid_namespace(void) {
    struct stat status;
    return stat("/proc/self/ns/pid", &status) == 0 ? (uint64_t)status.st_ino : 0;
}

int lt_collector_gone(void) {
    if (atomic_load(&lt_lost)) return 1;
    if (!atomic_load(&lt_attached)) return 0;
    uint64_t now = lt_monotonic_ns();
    uint64_t state = atomic_load_explicit(lt_ring.collector_state, memory_order_acquire);
    uint64_t started = atomic_load(&lt_attached_ns);
    if (state == 0) {
        /* Not answered yet: gone if nothing listens on its socket any more (it died, or never started), looked
         * at every 100 ms with a connection of a moment. */
        uint64_t probed = atomic_load(&lt_last_probe_ns);
        if (now > probed && now - probed > 100000000u) {
            atomic_store(&lt_last_probe_ns, now);
            if (lt_collector_socket != NULL && lt_collector_socket[0] != '\0' &&
                !lt_socket_listening(lt_collector_socket))
                return 1;
        }
        return now > started && now - started > LT_UNANSWERED_NS;
    }
    /* Done with this stream while we still wait for it to read (space for a record, FINAL included): the
     * collector gave up on it (a damaged record). lt_collector_finish looks for DONE before asking. */
    if (state == LT_ACK_DONE) return 1;
    uint64_t pid = atomic_load_explicit(lt_ring.collector_pid, memory_order_acquire);
    uint64_t namespace = atomic_load_explicit(lt_ring.collector_pidns, memory_order_acquire);
    if (pid != 0 && pid < (1u << 31) && namespace != 0 && namespace == lt_pid_namespace() && kill((pid_t)pid, 0) != 0 &&
        errno == ESRCH)
        return 1;
    uint64_t beat = atomic_load_explicit(lt_ring.collector_beat, memory_order_acquire);
    if (beat != atomic_load(&lt_last_beat)) {
        atomic_store(&lt_last_beat, beat);
        atomic_store(&lt_last_beat_ns, now);
        return 0;
    }
    /* Another thread, or a signal handler on this one, may have seen a beat after our `now`. */
    uint64_t since = atomic_load(&lt_last_beat_ns);
    return now > since && now - since > LT_SILENT_NS;
}

void lt_collector_lost(void) { atomic_store(&lt_lost, 1); }

void lt_collector_finish(void) {
    if (!atomic_load(&lt_attached)) return;
    lt_collector_wake();
    uint64_t deadline = lt_monotonic_ns() + (uint64_t)lt_config.exit_timeout_ms * 1000000u;
    for (;;) {
        uint64_t state = atomic_load_explicit(lt_ring.collector_state, memory_order_acquire);
        if (state == LT_ACK_DONE) return;
        if (lt_collector_gone()) {
            /* DONE may have come in just now: that is what "gone" saw. */
            if (atomic_load_explicit(lt_ring.collector_state, memory_order_acquire) == LT_ACK_DONE) return;
            if (!atomic_load(&lt_lost)) lt_diag("the collector went away before it stored the trace", NULL);
            return;
        }
        if (lt_monotonic_ns() >= deadline) {
            lt_diag("the collector did not confirm the trace within LEAKTRACK_EXIT_TIMEOUT", NULL);
            return;
        }
        struct timespec timeout = {0, 20 * 1000000};
        lt_futex(lt_ring.collector_state, FUTEX_WAIT, (uint32_t)state, &timeout);
    }
}
