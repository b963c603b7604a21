/*
 * The ring's shared memory: a memfd, sealed at its size, that the collector maps too (it travels with HELLO as
 * SCM_RIGHTS). The collector reads the records where the program wrote them: no system call and no kernel
 * copy per batch. Everything the two sides tell each other besides the records is a word in the header page
 * (leaktrack_wire.h's LT_RING_OFFSET_*): the positions, and the collector's state, pid, pid namespace and beat.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "leaktrack_wire.h"
#include "lt_fds.h"
#include "lt_shm.h"

struct lt_ring lt_ring;

int lt_ring_create(uint32_t log2) {
    size_t size = LT_RING_HEADER_BYTES + (UINT64_C(8) << log2);
    int fd = lt_fd_move_high(memfd_create("leaktrack-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (fd < 0) return -1;
    /* Sealed at its size: a program that truncates the ring (by mistake or on purpose) gets EPERM instead of
     * killing the collector, which maps the same memory, with SIGBUS. The collector refuses unsealed rings. */
    if (ftruncate(fd, (off_t)size) != 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int lt_ring_map(int fd, uint32_t log2) {
    uint64_t words = UINT64_C(1) << log2;
    size_t size = LT_RING_HEADER_BYTES + words * 8;
    unsigned char *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) return -1;
    /* A fork child replaces the parent's ring, which it must not write into any more. */
    if (lt_ring.map != NULL) munmap(lt_ring.map, lt_ring.map_size);
    memcpy(map, LT_RING_MAGIC, sizeof LT_RING_MAGIC);
    lt_ring.map = map;
    lt_ring.map_size = size;
    lt_ring.log2 = log2;
    lt_ring.write = (_Atomic uint64_t *)(map + LT_RING_OFFSET_WRITE);
    lt_ring.read = (_Atomic uint64_t *)(map + LT_RING_OFFSET_READ);
    lt_ring.collector_state = (_Atomic uint64_t *)(map + LT_RING_OFFSET_COLLECTOR_STATE);
    lt_ring.collector_pid = (_Atomic uint64_t *)(map + LT_RING_OFFSET_COLLECTOR_PID);
    lt_ring.collector_pidns = (_Atomic uint64_t *)(map + LT_RING_OFFSET_COLLECTOR_PIDNS);
    lt_ring.collector_beat = (_Atomic uint64_t *)(map + LT_RING_OFFSET_COLLECTOR_BEAT);
    lt_ring.wake = (_Atomic uint64_t *)(map + LT_RING_OFFSET_WAKE);
    lt_ring.words = (_Atomic uint64_t *)(map + LT_RING_HEADER_BYTES);
    lt_ring.mask = words - 1;
    atomic_store(lt_ring.write, 0);
    atomic_store(lt_ring.read, 0);
    atomic_store(lt_ring.collector_state, 0);
    atomic_store(lt_ring.collector_pid, 0);
    return 0;
}
