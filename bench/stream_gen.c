/*
 * Writes raw leaktrack streams for measuring the collector alone (`leaktrack collect --input FILE`), through
 * the wire header's structs, so the benchmark's streams are laid out exactly as the shim's. scripts/bench
 * compiles and runs it.
 *
 *   stream_gen events EVENTS LIVE OUTPUT
 *       EVENTS events (allocation/free pairs over 64 stacks) that leave LIVE allocations behind.
 *   stream_gen frames LIBRARY FRAMES OUTPUT
 *       live allocations whose stacks reference FRAMES distinct addresses spread over LIBRARY's .text, so the
 *       collector decodes and symbolizes FRAMES frames.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "leaktrack_wire.h"

#define FRAMES_PER_STACK 10
#define BIAS             UINT64_C(0x7F0000000000)

static FILE *out;
static uint64_t position; /* the ring position of the next record, as the shim would have claimed it */

static void fail(const char *what) {
    fprintf(stderr, "stream_gen: %s: %s\n", what, errno ? strerror(errno) : "invalid");
    exit(1);
}

static void put(const void *data, size_t bytes) {
    if (fwrite(data, 1, bytes, out) != bytes) fail("write");
}

static void put_padded(const void *data, uint32_t bytes) {
    static const unsigned char zeros[8];
    put(data, bytes);
    put(zeros, lt_words_for_bytes(bytes) * 8 - bytes);
}

/* A ring record: its struct with the header filled in, then `tail_words` more words from `tail`. */
static void record(uint32_t type, void *fixed, size_t fixed_bytes, const void *tail, uint32_t tail_words) {
    uint32_t words = (uint32_t)(fixed_bytes / 8) + tail_words;
    uint64_t header = lt_header_make(type, words, position);
    memcpy(fixed, &header, sizeof header);
    put(fixed, fixed_bytes);
    if (tail_words) put(tail, (size_t)tail_words * 8);
    position += words;
}

static void hello(uint32_t pid, const char *exe) {
    uint32_t exe_len = (uint32_t)strlen(exe);
    struct lt_hello h = {0};
    h.header = lt_header_make(LT_REC_HELLO, LT_HELLO_WORDS + lt_words_for_bytes(exe_len), 0);
    lt_wire_put_magic(h.magic);
    h.version = LT_WIRE_VERSION;
    h.pointer_size = sizeof(void *);
    h.little_endian = 1;
    h.pid = pid;
    h.ppid = 1;
    h.max_depth = 128;
    h.exe_len = exe_len;
    h.ring_log2 = 16;
    put(&h, sizeof h);
    put_padded(exe, exe_len);
}

static void stack(uint32_t id, const uint64_t *frames, uint32_t depth) {
    struct lt_stack s = {.id = id, .depth = depth};
    record(LT_REC_STACK, &s, sizeof s, frames, depth);
}

/* THREAD: names the ordinal the ALLOC records below carry. */
static void thread(uint32_t ordinal, uint32_t tid, const char *name) {
    struct lt_thread t = {.ordinal = ordinal, .tid = tid};
    strncpy(t.name, name, sizeof t.name - 1);
    record(LT_REC_THREAD, &t, sizeof t, NULL, 0);
}

static void alloc(uint64_t ptr, uint64_t size, uint32_t stack_id) {
    struct lt_alloc a = {.stack = stack_id, .kind = LT_KIND_MALLOC, .thread = 1, .ptr = ptr, .size = size};
    record(LT_REC_ALLOC, &a, sizeof a, NULL, 0);
}

static void free_(uint64_t ptr) {
    struct lt_free f = {.ptr = ptr};
    record(LT_REC_FREE, &f, sizeof f, NULL, 0);
}

static void final(uint64_t exit_status) {
    struct lt_final f = {.exit_status = exit_status};
    record(LT_REC_FINAL, &f, sizeof f, NULL, 0);
}

static void events(uint64_t count, uint64_t live) {
    hello(4243, "/bench/events");
    thread(1, 4243, "events");
    for (uint32_t id = 1; id <= 64; id++) {
        uint64_t frame = 0x400000 + (uint64_t)id * 16;
        stack(id, &frame, 1);
    }
    uint64_t pairs = (count - live) / 2;
    for (uint64_t i = 0; i < pairs; i++) {
        uint64_t address = 0x10000000 + (i % 4096) * 64;
        alloc(address, 32 + i % 100, (uint32_t)(1 + i % 64));
        free_(address);
    }
    for (uint64_t i = 0; i < live; i++) alloc(0x40000000 + i * 64, 48, (uint32_t)(1 + i % 64));
    final(0);
}

/* The .text section's address and size in the ELF file at `path`. */
static void text_section(const char *path, uint64_t *start, uint64_t *size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat status;
    if (fd < 0 || fstat(fd, &status) != 0) fail(path);
    const unsigned char *file = mmap(NULL, (size_t)status.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (file == MAP_FAILED) fail(path);
    const Elf64_Ehdr *elf = (const Elf64_Ehdr *)file;
    if ((size_t)status.st_size < sizeof *elf || memcmp(elf->e_ident, ELFMAG, SELFMAG) != 0 ||
        elf->e_ident[EI_CLASS] != ELFCLASS64 || elf->e_shstrndx >= elf->e_shnum ||
        elf->e_shoff + (uint64_t)elf->e_shnum * sizeof(Elf64_Shdr) > (uint64_t)status.st_size) {
        errno = 0;
        fail("not a 64-bit ELF file with section headers");
    }
    const Elf64_Shdr *sections = (const Elf64_Shdr *)(file + elf->e_shoff);
    const char *names = (const char *)file + sections[elf->e_shstrndx].sh_offset;
    for (unsigned i = 0; i < elf->e_shnum; i++) {
        if (strcmp(names + sections[i].sh_name, ".text") == 0) {
            *start = sections[i].sh_addr;
            *size = sections[i].sh_size;
            munmap((void *)file, (size_t)status.st_size);
            close(fd);
            return;
        }
    }
    errno = 0;
    fail("no .text section");
}

static void frames(const char *library, uint64_t count) {
    uint64_t start, size;
    text_section(library, &start, &size);
    hello(4242, "/bench/symbolize");
    thread(1, 4242, "symbolize");
    struct lt_modules_mark mark = {.adds = 1, .subs = 0};
    record(LT_REC_MODULES_BEGIN, &mark, sizeof mark, NULL, 0);
    uint32_t path_len = (uint32_t)strlen(library);
    struct lt_module module = {.bias = BIAS, .path_len = path_len, .nsegments = 1};
    struct lt_segment segment = {.start = BIAS + start, .end = BIAS + start + size};
    uint64_t tail[sizeof segment / 8 + LT_MAX_PATH / 8 + 1] = {0};
    memcpy(tail, &segment, sizeof segment);
    memcpy((unsigned char *)tail + sizeof segment, library, path_len);
    record(LT_REC_MODULE, &module, sizeof module, tail, (uint32_t)(sizeof segment / 8) + lt_words_for_bytes(path_len));
    record(LT_REC_MODULES_END, &mark, sizeof mark, NULL, 0);
    uint64_t step = size / count > 0 ? size / count : 1;
    uint64_t addresses[FRAMES_PER_STACK];
    uint32_t id = 1;
    for (uint64_t first = 0; first < count; first += FRAMES_PER_STACK, id++) {
        uint32_t depth = 0;
        for (uint64_t i = first; i < count && depth < FRAMES_PER_STACK; i++)
            addresses[depth++] = BIAS + start + 1 + i * step;
        stack(id, addresses, depth);
        alloc(0x100000 + (uint64_t)id * 64, 32, id);
    }
    final(LT_EXIT_UNKNOWN);
}

int main(int argc, char **argv) {
    if (argc != 5 || (strcmp(argv[1], "events") != 0 && strcmp(argv[1], "frames") != 0)) {
        fprintf(stderr, "usage: stream_gen events EVENTS LIVE OUTPUT | stream_gen frames LIBRARY FRAMES OUTPUT\n");
        return 2;
    }
    out = fopen(argv[4], "wb");
    if (out == NULL) fail(argv[4]);
    static char buffer[1 << 22];
    setvbuf(out, buffer, _IOFBF, sizeof buffer);
    if (strcmp(argv[1], "events") == 0) {
        events(strtoull(argv[2], NULL, 10), strtoull(argv[3], NULL, 10));
    } else {
        frames(argv[2], strtoull(argv[3], NULL, 10));
    }
    if (fclose(out) != 0) fail(argv[4]);
    return 0;
}
