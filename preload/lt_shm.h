/* The ring's shared memory (lt_shm.c): a sealed memfd the collector maps too, laid out as leaktrack_wire.h
 * says: a header page of words the two sides exchange, then the records' words. */
#ifndef LT_SHM_H
#define LT_SHM_H

#include "lt_base.h"

/* Pointers into the mapping. */
struct lt_ring {
    _Atomic uint64_t *write;           /* next position to claim (words) */
    _Atomic uint64_t *read;            /* first position the collector has not consumed */
    _Atomic uint64_t *collector_state; /* LT_ACK_HELLO, LT_ACK_DONE: written by the collector */
    _Atomic uint64_t *collector_pid;
    _Atomic uint64_t *collector_pidns;
    _Atomic uint64_t *collector_beat;
    _Atomic uint64_t *wake; /* counted up, and futex-woken, for the collector */
    _Atomic uint64_t *words;
    uint64_t mask;
    uint32_t log2;
    void *map;
    size_t map_size;
};

extern LT_HIDDEN struct lt_ring lt_ring;

/* A new sealed memfd of the size a ring of 2^log2 words needs; -1 on failure. */
int lt_ring_create(uint32_t log2);
/* Maps that memfd as the ring (replacing any previous one, e.g. the parent's in a fork child). */
int lt_ring_map(int fd, uint32_t log2);

#endif /* LT_SHM_H */
