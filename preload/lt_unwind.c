/*
 * The fast unwinder: the calling thread's return addresses, like unw_backtrace, at a fraction of its cost.
 *
 * Why our own: unw_backtrace was over half of all cycles in the churn benchmark, ~9 ns a frame plus ~50 ns a
 * call on this machine, because every call sets up a full cursor and every frame goes through libunwind's
 * generic frame cache. Here each frame costs one probe in a rule cache and two loads from the stack.
 *
 * What it handles: the frames libunwind's own fast trace handles, and no others. A frame's rule is derived
 * once per code address from the module's .eh_frame (found with _dl_find_object, lock-free) and cached:
 * CFA = RSP or RBP + offset, the return address at CFA + offset, RBP either unchanged or saved at CFA + offset.
 * Anything else (no unwind information, a CFA expression, signal frames, realigned stacks, indirect encodings)
 * makes the whole capture return -1, and the caller falls back to unw_backtrace: a stack is never guessed.
 *
 * Hot path: no lock, no allocation, no system call. The rule cache is a fixed mmap'd table, direct-mapped by
 * code address. A slot's key is the code address plus a 16-bit version in the top bits (user addresses stay
 * below 2^47); a writer locks the key with a compare-and-swap, stores the rule, and publishes the address with
 * the next version. A reader takes the rule only if the key, version included, is the same before and after
 * reading it, so a slot that went to other code and back while it looked is a miss, not a wrong rule.
 * Code addresses can be reused after dlclose, so dlclose clears the cache before and after it unloads
 * (lt_unwind_forget); libraries glibc unloads internally (gconv modules) are not seen, as in libunwind.
 * Every loop is bounded (LT_MAX_* below), and every stack read lies strictly above the previous frame.
 *
 * The thread's last walk: each thread keeps its last walk (per frame: CFA, return address, rule; static TLS,
 * two buffers, ~6.5 KiB). When a walk reaches a state the last walk was in (the same CFA and return address),
 * it replays the last walk from there: the same steps with the rules and CFAs known, so the stack loads no
 * longer wait on each other and on the cache probe, and every loaded word is checked against the recorded
 * one (the proof is at the replay). Consecutive allocations share their outer frames: a walk of 136 frames took
 * 46% less time, one of 18 frames 17%; the benchmarks' target CPU, deep -15%, leaky -5%, churn -2%.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "lt_base.h"
#include "lt_unwind.h"

#define LT_UNWIND_CACHE_LOG2     14u          /* 16 Ki rules, 256 KiB, touched only where used */
#define LT_MAX_CFA_INSTRUCTIONS  65536u       /* per rule derivation; a longer program is libunwind's */
#define LT_MAX_REMEMBERED_STATES 8u           /* DW_CFA_remember_state nesting */
#define LT_MAX_FRAME_SPAN        (1ull << 30) /* a frame larger than this is not believed */
#define LT_LOWEST_CODE_ADDRESS   0x4000u      /* below this a return address ends the stack (as in libunwind) */
#define LT_MEMO_FRAMES           136u         /* frames of the thread's last walk kept: LEAKTRACK_DEPTH's default + 8 */

/* DWARF register numbers on x86_64. */
enum { LT_DW_RBP = 6, LT_DW_RSP = 7, LT_DW_RA = 16 };

/* A rule, packed in one word so a cache entry is two atomic words. */
enum lt_rule_kind { LT_RULE_EMPTY = 0, LT_RULE_STANDARD = 1, LT_RULE_END = 2, LT_RULE_FALLBACK = 3 };
#define LT_RULE_KIND(r)       ((unsigned)((r)&3u))
#define LT_RULE_CFA_IS_RBP(r) (((r) >> 2) & 1u)
#define LT_RULE_RBP_SAVED(r)  (((r) >> 3) & 1u)
#define LT_RULE_RA_OFFSET(r)  ((int64_t)(int8_t)(uint8_t)((r) >> 8) * 8)
#define LT_RULE_RBP_OFFSET(r) ((int64_t)(int16_t)(uint16_t)((r) >> 16))
#define LT_RULE_CFA_OFFSET(r) ((int64_t)(int32_t)(uint32_t)((r) >> 32))

#define LT_KEY_ADDRESS_MASK ((UINT64_C(1) << 48) - 1)
#define LT_KEY_ADDRESS(k)   ((k)&LT_KEY_ADDRESS_MASK)
#define LT_KEY_VERSION_ONE  (UINT64_C(1) << 48)
#define LT_KEY_LOCKED       UINT64_C(1) /* address part of a slot being written; 0: empty */

/* Keys and rules in two arrays, so a slot's address is one AND away from the code address: the walk is a
 * chain of dependent loads, and a multiplicative hash in that chain measured ~15% slower per frame. */
struct lt_rule_table {
    _Atomic uint64_t *keys; /* version << 48 | code address (0 empty, LT_KEY_LOCKED being written) */
    _Atomic uint64_t *rules;
};

static struct lt_rule_table lt_rules;
#define LT_RULE_SLOTS (UINT64_C(1) << LT_UNWIND_CACHE_LOG2)

/* Counts lt_unwind_forget calls: a thread's last walk holds rules of the generation it began in. */
static _Atomic uint64_t lt_generation;

int lt_unwind_init(void) {
    if (lt_rules.keys != NULL) return 0;
    size_t size = 2 * sizeof(uint64_t) * LT_RULE_SLOTS;
    void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (memory == MAP_FAILED) return -1;
    /* Called while the shim starts, before any hook records: no other thread reads these yet. */
    lt_rules.keys = memory;
    lt_rules.rules = (_Atomic uint64_t *)memory + LT_RULE_SLOTS;
    return 0;
}

void lt_unwind_forget(void) {
    if (lt_rules.keys == NULL) return;
    atomic_fetch_add_explicit(&lt_generation, 1, memory_order_acq_rel);
    for (uint64_t i = 0; i < LT_RULE_SLOTS; i++) {
        uint64_t key = atomic_load_explicit(&lt_rules.keys[i], memory_order_relaxed);
        /* A slot being written is left to its writer, which stores a rule for code that is still mapped. */
        if (LT_KEY_ADDRESS(key) > LT_KEY_LOCKED)
            atomic_compare_exchange_strong(&lt_rules.keys[i], &key, key & ~LT_KEY_ADDRESS_MASK); /* keep the version */
    }
}

/* ---------------------------------------------------------------------------------------------------- */
/* reading .eh_frame */

/* A bounded reader over unwind information in a loaded module. Any read past `end` sets `bad`. */
struct lt_reader {
    const uint8_t *p, *end;
    int bad;
};

static uint64_t lt_read_uleb(struct lt_reader *r) {
    uint64_t value = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) break;
        uint8_t byte = *r->p++;
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) return value;
    }
    r->bad = 1;
    return 0;
}

static int64_t lt_read_sleb(struct lt_reader *r) {
    uint64_t value = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) break;
        uint8_t byte = *r->p++;
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            if (shift + 7 < 64 && (byte & 0x40)) value |= ~UINT64_C(0) << (shift + 7);
            return (int64_t)value;
        }
    }
    r->bad = 1;
    return 0;
}

static uint64_t lt_read_fixed(struct lt_reader *r, unsigned bytes) {
    if ((size_t)(r->end - r->p) < bytes) {
        r->bad = 1;
        return 0;
    }
    uint64_t value = 0;
    memcpy(&value, r->p, bytes); /* little-endian */
    r->p += bytes;
    return value;
}

/* DW_EH_PE_* pointer encodings: the supported subset (absolute, pc-relative or relative to the
 * .eh_frame_hdr section; no indirection). */
static uint64_t lt_read_encoded(struct lt_reader *r, uint8_t encoding, uint64_t data_base) {
    uint64_t field = (uint64_t)(uintptr_t)r->p;
    uint64_t value;
    switch (encoding & 0x0f) {
        case 0x00:
            value = lt_read_fixed(r, 8);
            break;
        case 0x01:
            value = lt_read_uleb(r);
            break;
        case 0x02:
            value = lt_read_fixed(r, 2);
            break;
        case 0x03:
            value = lt_read_fixed(r, 4);
            break;
        case 0x04:
            value = lt_read_fixed(r, 8);
            break;
        case 0x09:
            value = (uint64_t)lt_read_sleb(r);
            break;
        case 0x0a:
            value = (uint64_t)(int64_t)(int16_t)lt_read_fixed(r, 2);
            break;
        case 0x0b:
            value = (uint64_t)(int64_t)(int32_t)lt_read_fixed(r, 4);
            break;
        case 0x0c:
            value = lt_read_fixed(r, 8);
            break;
        default:
            r->bad = 1;
            return 0;
    }
    switch (encoding & 0x70) {
        case 0x00:
            break;
        case 0x10:
            value += field;
            break;
        case 0x30:
            value += data_base;
            break;
        default:
            r->bad = 1;
            return 0;
    }
    if (encoding & 0x80) r->bad = 1; /* indirect */
    return value;
}

/* What a CIE says about the FDEs that use it. */
struct lt_cie {
    uint64_t code_align;
    int64_t data_align;
    uint8_t fde_encoding;
    int has_augmentation_data;
    const uint8_t *instructions, *end;
};

static int lt_parse_cie(const uint8_t *at, struct lt_cie *cie) {
    struct lt_reader r = {at, at + 4, 0};
    uint32_t length = (uint32_t)lt_read_fixed(&r, 4);
    if (length == 0 || length == 0xffffffffu) return -1;
    r.end = at + 4 + length;
    if (lt_read_fixed(&r, 4) != 0) return -1; /* CIE id */
    uint8_t version = (uint8_t)lt_read_fixed(&r, 1);
    if (version != 1 && version != 3) return -1;
    const char *augmentation = (const char *)r.p;
    size_t aug_len = strnlen(augmentation, (size_t)(r.end - r.p));
    if (r.p + aug_len >= r.end) return -1;
    r.p += aug_len + 1;
    cie->code_align = lt_read_uleb(&r);
    cie->data_align = lt_read_sleb(&r);
    uint64_t ra_register = version == 1 ? lt_read_fixed(&r, 1) : lt_read_uleb(&r);
    if (ra_register != LT_DW_RA) return -1;
    cie->fde_encoding = 0; /* absolute pointers unless 'R' says otherwise */
    cie->has_augmentation_data = 0;
    if (augmentation[0] == 'z') {
        cie->has_augmentation_data = 1;
        uint64_t data_len = lt_read_uleb(&r);
        const uint8_t *data_end = r.p + data_len;
        if (r.bad || data_len > (uint64_t)(r.end - r.p)) return -1;
        for (const char *a = augmentation + 1; *a; a++) {
            switch (*a) {
                case 'R':
                    cie->fde_encoding = (uint8_t)lt_read_fixed(&r, 1);
                    break;
                case 'L':
                    lt_read_fixed(&r, 1);
                    break;
                case 'P': {
                    uint8_t encoding = (uint8_t)lt_read_fixed(&r, 1);
                    lt_read_encoded(&r, encoding & 0x7f, 0); /* the personality routine: skipped */
                    break;
                }
                case 'S':
                    return -1; /* a signal frame: libunwind's business */
                default:
                    return -1;
            }
        }
        r.p = data_end;
    } else if (augmentation[0] != '\0') {
        return -1;
    }
    if (r.bad) return -1;
    cie->instructions = r.p;
    cie->end = r.end;
    return 0;
}

/* ---------------------------------------------------------------------------------------------------- */
/* running the CFA program */

struct lt_cfa_state {
    int cfa_register; /* DWARF register, or -1: not a register plus offset */
    int64_t cfa_offset;
    int rbp_saved; /* 0 same value, 1 at CFA + rbp_offset, -1 something we cannot follow */
    int64_t rbp_offset;
    int ra_saved; /* 1 at CFA + ra_offset, 0 undefined (end of stack), -1 something we cannot follow */
    int64_t ra_offset;
};

/* Runs instructions until the row for `pc` is complete. `initial` is the state after the CIE (for
 * DW_CFA_restore); NULL while running the CIE itself. Returns -1 on anything unsupported. */
static int lt_run_cfa(struct lt_reader *r, const struct lt_cie *cie, uint64_t location, uint64_t pc,
                      struct lt_cfa_state *state, const struct lt_cfa_state *initial) {
    struct lt_cfa_state remembered[LT_MAX_REMEMBERED_STATES];
    unsigned depth = 0;
    for (unsigned n = 0; r->p < r->end; n++) {
        if (n == LT_MAX_CFA_INSTRUCTIONS) return -1; /* stopping early would give a row for another address */
        uint8_t op = *r->p++;
        uint64_t reg = 0, advance = 0;
        int64_t offset = 0;
        int is_offset = 0, is_restore = 0, is_same = 0, is_undefined = 0, is_unsupported_rule = 0;
        switch (op >> 6) {
            case 1:
                advance = op & 0x3f;
                goto advance_location;
            case 2:
                reg = op & 0x3f;
                offset = (int64_t)lt_read_uleb(r) * cie->data_align;
                is_offset = 1;
                break;
            case 3:
                reg = op & 0x3f;
                is_restore = 1;
                break;
            default:
                switch (op) {
                    case 0x00:
                        continue; /* nop */
                    case 0x01:
                        return -1; /* set_loc: not emitted by the toolchains we meet */
                    case 0x02:
                        advance = lt_read_fixed(r, 1);
                        goto advance_location;
                    case 0x03:
                        advance = lt_read_fixed(r, 2);
                        goto advance_location;
                    case 0x04:
                        advance = lt_read_fixed(r, 4);
                        goto advance_location;
                    case 0x05:
                        reg = lt_read_uleb(r);
                        offset = (int64_t)lt_read_uleb(r) * cie->data_align;
                        is_offset = 1;
                        break;
                    case 0x06:
                        reg = lt_read_uleb(r);
                        is_restore = 1;
                        break;
                    case 0x07:
                        reg = lt_read_uleb(r);
                        is_undefined = 1;
                        break;
                    case 0x08:
                        reg = lt_read_uleb(r);
                        is_same = 1;
                        break;
                    case 0x09:
                        reg = lt_read_uleb(r);
                        lt_read_uleb(r);
                        is_unsupported_rule = 1;
                        break;
                    case 0x0a:
                        if (depth == LT_MAX_REMEMBERED_STATES) return -1;
                        remembered[depth++] = *state;
                        continue;
                    case 0x0b:
                        if (depth == 0) return -1;
                        *state = remembered[--depth]; /* the whole row, CFA rule included (as GCC's unwinder) */
                        continue;
                    case 0x0c:
                        state->cfa_register = (int)lt_read_uleb(r);
                        state->cfa_offset = (int64_t)lt_read_uleb(r);
                        continue;
                    case 0x0d:
                        state->cfa_register = (int)lt_read_uleb(r);
                        continue;
                    case 0x0e:
                        state->cfa_offset = (int64_t)lt_read_uleb(r);
                        continue;
                    case 0x0f: {
                        uint64_t len = lt_read_uleb(r);
                        if (len > (uint64_t)(r->end - r->p)) return -1;
                        r->p += len;
                        state->cfa_register = -1;
                        continue;
                    }
                    case 0x10:
                    case 0x16: {
                        reg = lt_read_uleb(r);
                        uint64_t len = lt_read_uleb(r);
                        if (len > (uint64_t)(r->end - r->p)) return -1;
                        r->p += len;
                        is_unsupported_rule = 1;
                        break;
                    }
                    case 0x11:
                        reg = lt_read_uleb(r);
                        offset = lt_read_sleb(r) * cie->data_align;
                        is_offset = 1;
                        break;
                    case 0x12:
                        state->cfa_register = (int)lt_read_uleb(r);
                        state->cfa_offset = lt_read_sleb(r) * cie->data_align;
                        continue;
                    case 0x13:
                        state->cfa_offset = lt_read_sleb(r) * cie->data_align;
                        continue;
                    case 0x14:
                        reg = lt_read_uleb(r);
                        lt_read_uleb(r);
                        is_unsupported_rule = 1;
                        break;
                    case 0x15:
                        reg = lt_read_uleb(r);
                        lt_read_sleb(r);
                        is_unsupported_rule = 1;
                        break;
                    case 0x2e:
                        lt_read_uleb(r);
                        continue; /* GNU_args_size */
                    case 0x2f:
                        reg = lt_read_uleb(r);
                        offset = -(int64_t)lt_read_uleb(r) * cie->data_align;
                        is_offset = 1;
                        break;
                    default:
                        return -1;
                }
        }
        if (r->bad) return -1;
        /* A register rule: only RBP and the return address matter for walking on. */
        if (reg == LT_DW_RBP || reg == LT_DW_RA) {
            int *saved = reg == LT_DW_RBP ? &state->rbp_saved : &state->ra_saved;
            int64_t *where = reg == LT_DW_RBP ? &state->rbp_offset : &state->ra_offset;
            if (is_offset) {
                *saved = 1;
                *where = offset;
            } else if (is_restore) {
                if (initial == NULL) return -1;
                *saved = reg == LT_DW_RBP ? initial->rbp_saved : initial->ra_saved;
                *where = reg == LT_DW_RBP ? initial->rbp_offset : initial->ra_offset;
            } else if (is_same) {
                if (reg == LT_DW_RA) return -1;
                *saved = 0;
            } else if (is_undefined) {
                if (reg == LT_DW_RBP) return -1;
                *saved = 0;
            } else if (is_unsupported_rule) {
                *saved = -1;
            }
        } else if (reg == LT_DW_RSP && !is_same && !is_restore) {
            return -1; /* RSP restored from somewhere other than the CFA */
        }
        continue;
    advance_location:
        if (r->bad) return -1;
        location += advance * cie->code_align;
        if (location > pc) return 0;
    }
    return r->bad ? -1 : 0;
}

/* Finds the FDE covering `pc` through the module's .eh_frame_hdr search table. */
static const uint8_t *lt_find_fde(uint64_t pc) {
    struct dl_find_object object;
    if (_dl_find_object((void *)(uintptr_t)pc, &object) != 0 || object.dlfo_eh_frame == NULL) return NULL;
    const uint8_t *hdr = object.dlfo_eh_frame;
    /* version 1; the table must be sorted 4-byte offsets from the header (the form every linker writes). */
    if (hdr[0] != 1 || hdr[3] != 0x3b) return NULL;
    struct lt_reader r = {hdr + 4, hdr + 4 + 16, 0};
    lt_read_encoded(&r, hdr[1], (uint64_t)(uintptr_t)hdr); /* .eh_frame itself: not needed */
    uint64_t count = lt_read_encoded(&r, hdr[2], (uint64_t)(uintptr_t)hdr);
    if (r.bad || count == 0) return NULL;
    const int32_t *table = (const int32_t *)(const void *)r.p;
    int64_t target = (int64_t)(pc - (uint64_t)(uintptr_t)hdr);
    uint64_t lo = 0, hi = count; /* find the last entry whose start is <= pc */
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if ((int64_t)table[mid * 2] <= target)
            lo = mid;
        else
            hi = mid;
    }
    if ((int64_t)table[lo * 2] > target) return NULL;
    return hdr + table[lo * 2 + 1];
}

/* Derives the rule for the frame whose code address is `pc`. */
static uint64_t lt_derive_rule(uint64_t pc) {
    const uint64_t fallback = LT_RULE_FALLBACK;
    const uint8_t *fde = lt_find_fde(pc);
    if (fde == NULL) return fallback;
    struct lt_reader r = {fde, fde + 4, 0};
    uint32_t length = (uint32_t)lt_read_fixed(&r, 4);
    if (length == 0 || length == 0xffffffffu) return fallback;
    r.end = fde + 4 + length;
    const uint8_t *cie_pointer_field = r.p;
    uint32_t cie_offset = (uint32_t)lt_read_fixed(&r, 4);
    if (cie_offset == 0) return fallback; /* that is a CIE, not an FDE */
    struct lt_cie cie;
    if (lt_parse_cie(cie_pointer_field - cie_offset, &cie) != 0) return fallback;
    uint64_t start = lt_read_encoded(&r, cie.fde_encoding, 0);
    uint64_t range = lt_read_encoded(&r, cie.fde_encoding & 0x0f, 0);
    if (r.bad || pc < start || pc - start >= range) return fallback;
    if (cie.has_augmentation_data) {
        uint64_t skip = lt_read_uleb(&r);
        if (r.bad || skip > (uint64_t)(r.end - r.p)) return fallback;
        r.p += skip;
    }

    struct lt_cfa_state state = {.cfa_register = -1, .ra_saved = -1};
    struct lt_reader cie_reader = {cie.instructions, cie.end, 0};
    if (lt_run_cfa(&cie_reader, &cie, start, UINT64_MAX, &state, NULL) != 0) return fallback;
    struct lt_cfa_state initial = state;
    if (lt_run_cfa(&r, &cie, start, pc, &state, &initial) != 0) return fallback;

    if (state.ra_saved == 0) return LT_RULE_END;
    if (state.ra_saved != 1 || state.rbp_saved < 0) return fallback;
    if (state.cfa_register != LT_DW_RSP && state.cfa_register != LT_DW_RBP) return fallback;
    if (state.cfa_offset <= 0 || state.cfa_offset > INT32_MAX) return fallback;
    if (state.ra_offset % 8 != 0 || state.ra_offset / 8 < INT8_MIN || state.ra_offset / 8 > INT8_MAX) return fallback;
    if (state.rbp_saved && (state.rbp_offset < INT16_MIN || state.rbp_offset > INT16_MAX)) return fallback;
    return LT_RULE_STANDARD | (uint64_t)(state.cfa_register == LT_DW_RBP) << 2 | (uint64_t)state.rbp_saved << 3 |
           (uint64_t)(uint8_t)(int8_t)(state.ra_offset / 8) << 8 |
           (uint64_t)(uint16_t)(int16_t)(state.rbp_saved ? state.rbp_offset : 0) << 16 |
           (uint64_t)(uint32_t)state.cfa_offset << 32;
}

/* ---------------------------------------------------------------------------------------------------- */
/* the cache and the walk */

static LT_NOINLINE uint64_t lt_rule_miss(uint64_t slot, uint64_t pc) {
    uint64_t rule = lt_derive_rule(pc);
    if (pc > LT_KEY_ADDRESS_MASK) return rule; /* not a user-space address: never cached */
    uint64_t key = atomic_load_explicit(&lt_rules.keys[slot], memory_order_relaxed);
    uint64_t locked = (key & ~LT_KEY_ADDRESS_MASK) | LT_KEY_LOCKED;
    if (LT_KEY_ADDRESS(key) != LT_KEY_LOCKED &&
        atomic_compare_exchange_strong_explicit(&lt_rules.keys[slot], &key, locked, memory_order_relaxed,
                                                memory_order_relaxed)) {
        atomic_thread_fence(memory_order_release); /* the lock is seen before the new rule */
        atomic_store_explicit(&lt_rules.rules[slot], rule, memory_order_relaxed);
        atomic_store_explicit(&lt_rules.keys[slot], (locked & ~LT_KEY_ADDRESS_MASK) + LT_KEY_VERSION_ONE + pc,
                              memory_order_release);
    }
    return rule;
}

static inline uint64_t lt_rule_for(uint64_t pc) {
    /* Return addresses differ in their low bits; the high ones only separate modules. */
    uint64_t slot = (pc ^ (pc >> LT_UNWIND_CACHE_LOG2)) & (LT_RULE_SLOTS - 1);
    uint64_t key = atomic_load_explicit(&lt_rules.keys[slot], memory_order_acquire);
    if (LT_LIKELY(LT_KEY_ADDRESS(key) == pc)) {
        uint64_t rule = atomic_load_explicit(&lt_rules.rules[slot], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        /* The same key, version included: no writer touched the slot while we read the rule. */
        if (LT_LIKELY(atomic_load_explicit(&lt_rules.keys[slot], memory_order_relaxed) == key)) return rule;
    }
    return lt_rule_miss(slot, pc);
}

/* ---------------------------------------------------------------------------------------------------- */
/* the thread's last walk, and the walk */

/* A walk that reads the last walk before lt_unwind_forget began but keeps its own after it is not trusted by
 * the next: it keeps the generation it began in, and dlclose calls lt_unwind_forget before and after. */

/* A frame of a walk: the CFA at which its return address was read, that return address, and the rule that led
 * there from the frame below (the rule for the previous return address - 1). */
struct lt_memo_frame {
    uint64_t cfa, ra, rule;
};

/* The rule of the frame-pointer frame a walk may start at: CFA = frame + 16, RA at CFA - 8, RBP at CFA - 16. */
#define LT_RULE_FP_FRAME                                                                                               \
    (LT_RULE_STANDARD | UINT64_C(1) << 3 | (uint64_t)(uint8_t)(int8_t)-1 << 8 |                                        \
     (uint64_t)(uint16_t)(int16_t)-16 << 16 | UINT64_C(16) << 32)

/* Two walks, so that a walk reads the last one while it writes its own. `busy` while a walk uses them: a
 * signal handler that allocates in the middle of a walk walks without them (and if it leaves by longjmp, they
 * stay busy: that thread then always walks without them, still exactly). */
struct lt_memo {
    uint8_t busy, current;
    uint32_t count;      /* frames of walks[current] */
    uint64_t generation; /* lt_generation when that walk began */
    struct lt_memo_frame walks[2][LT_MEMO_FRAMES];
};

static LT_TLS struct lt_memo lt_memo;

#ifdef LT_TESTING
static LT_TLS struct lt_unwind_replays lt_replays;
#define LT_COUNT_REPLAY(field, n) (lt_replays.field += (n))
#else
#define LT_COUNT_REPLAY(field, n) ((void)0)
#endif

static inline void lt_keep(struct lt_memo_frame *w, uint32_t at, uint32_t keep, uint64_t cfa, uint64_t ra,
                           uint64_t rule) {
    if (at < keep) w[at] = (struct lt_memo_frame){cfa, ra, rule};
}

LT_NOINLINE int lt_unwind_backtrace(const void *frame, void **frames, int max) {
    if (LT_UNLIKELY(lt_rules.keys == NULL || max <= 0)) return -1;
    uint64_t ip, sp, bp;
    /* This function's own registers; its own .eh_frame entry describes them at this point. */
    __asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2" : "=r"(ip), "=r"(sp), "=r"(bp));
    const uint64_t lowest_sp = sp;

    /* The last walk, unless this is a signal handler interrupting a walk that uses it. */
    struct lt_memo *memo = &lt_memo;
    struct lt_memo_frame *old = NULL, *mine = NULL; /* mine: where this walk is kept */
    uint32_t old_count = 0, keep = 0, j = 0;
    const uint64_t generation = atomic_load_explicit(&lt_generation, memory_order_acquire);
    if (LT_LIKELY(!memo->busy)) {
        memo->busy = 1;
        atomic_signal_fence(memory_order_seq_cst);
        old = memo->walks[memo->current];
        mine = memo->walks[memo->current ^ 1];
        keep = LT_MEMO_FRAMES;
        if (memo->generation == generation) old_count = memo->count;
    }

    uint64_t pc = ip; /* the first frame is at an instruction; the others at return addresses, looked up - 1 */
    uint64_t last_pc = 0, rule = 0;
    int n = 0;
    if (frame != NULL) {
        /* A frame-pointer frame: the caller's RBP at [frame], the return address at [frame + 8], and the
         * caller's stack pointer just above it. Walking the hook's own frames costs ~5 ns each. */
        const uint64_t *saved = frame;
        uint64_t at = (uint64_t)(uintptr_t)frame;
        if (LT_UNLIKELY(at < sp || at - sp > LT_MAX_FRAME_SPAN || (at & 7) != 0)) goto declined;
        uint64_t ra = saved[1];
        if (ra < LT_LOWEST_CODE_ADDRESS) goto done;
        bp = saved[0];
        sp = at + 16;
        lt_keep(mine, 0, keep, sp, ra, LT_RULE_FP_FRAME);
        frames[n++] = (void *)(uintptr_t)ra;
        pc = ra - 1;
        goto compare;
    }
    while (n < max) {
        /* A recursive function returns to the same place frame after frame: reusing the rule keeps the cache
         * probe off the chain of dependent loads that bounds this loop (measured 2x on recursion). */
        if (pc != last_pc) {
            rule = lt_rule_for(pc);
            last_pc = pc;
        }
        unsigned kind = LT_RULE_KIND(rule);
        if (LT_UNLIKELY(kind != LT_RULE_STANDARD)) {
            if (kind == LT_RULE_END) break;
            goto declined;
        }
        uint64_t cfa = (LT_RULE_CFA_IS_RBP(rule) ? bp : sp) + (uint64_t)LT_RULE_CFA_OFFSET(rule);
        /* Frames only go up the stack, by a believable amount; otherwise the rule cannot be right here. */
        if (LT_UNLIKELY(cfa <= sp || cfa - lowest_sp > LT_MAX_FRAME_SPAN || (cfa & 7) != 0)) goto declined;
        uint64_t ra = *(const uint64_t *)(uintptr_t)(cfa + (uint64_t)LT_RULE_RA_OFFSET(rule));
        if (LT_RULE_RBP_SAVED(rule)) bp = *(const uint64_t *)(uintptr_t)(cfa + (uint64_t)LT_RULE_RBP_OFFSET(rule));
        sp = cfa;
        if (ra < LT_LOWEST_CODE_ADDRESS) break;
        lt_keep(mine, (uint32_t)n, keep, cfa, ra, rule);
        frames[n++] = (void *)(uintptr_t)ra;
        pc = ra - 1;
    compare:
        /* Has the last walk been in this state: the same CFA, the same return address? Its CFAs rise as ours. */
        while (j < old_count && old[j].cfa < sp) j++;
        if (j < old_count && old[j].cfa == sp && old[j].ra == pc + 1) {
            /* Replaying the last walk from here: the steps of the loop above, with the rules and CFAs taken
             * from it, so that the loads no longer wait for each other. Exact, by induction over the frames:
             * the state (pc, sp, bp) after a frame decides the next step, given the rules (a function of pc
             * while the generation holds) and the words it loads. pc and sp are the last walk's here; bp is
             * live (not recorded): a CFA from RBP is checked against the recorded one, and one from RSP is sp
             * + offset with sp the previous recorded CFA. So each step loads from the recorded addresses (which
             * the plain walk would load from too; the checks the last walk passed hold for the same values, and
             * only lowest_sp is new, checked once against the highest), and while every return address loaded
             * is the recorded one, the frames are the last walk's. Tail calls, longjmp, recursions of another
             * depth: only what is loaded decides. The first difference hands its frame to the loop above. */
            uint32_t first = j + 1, end = old_count, m = first;
#ifdef LT_TESTING
            uint32_t old_count_at_match = end;
#endif
            old_count = 0; /* one replay a walk */
            if (end - first > (uint32_t)(max - n)) end = first + (uint32_t)(max - n);
            if ((uint32_t)n >= keep)
                end = first; /* replayed frames are kept too */
            else if (end - first > keep - (uint32_t)n)
                end = first + (keep - (uint32_t)n);
            if (end > first && old[end - 1].cfa - lowest_sp <= LT_MAX_FRAME_SPAN) {
                uint64_t *to = (uint64_t *)(void *)(frames + n) - first;
                struct lt_memo_frame *kept = mine + n - first;
                for (; m < end; m++) {
                    uint64_t r = old[m].rule, cfa = old[m].cfa;
                    if (LT_RULE_CFA_IS_RBP(r) && bp + (uint64_t)LT_RULE_CFA_OFFSET(r) != cfa) break;
                    uint64_t ra = *(const uint64_t *)(uintptr_t)(cfa + (uint64_t)LT_RULE_RA_OFFSET(r));
                    if (ra != old[m].ra) break;
                    to[m] = ra;
                    kept[m] = old[m];
                    if (LT_RULE_RBP_SAVED(r))
                        bp = *(const uint64_t *)(uintptr_t)(cfa + (uint64_t)LT_RULE_RBP_OFFSET(r));
                }
            }
            uint32_t count = m - first;
            LT_COUNT_REPLAY(replays, 1);
            LT_COUNT_REPLAY(frames, count);
            LT_COUNT_REPLAY(cut_short, m < old_count_at_match);
            if (count > 0) {
                n += (int)count;
                sp = old[m - 1].cfa;
                rule = old[m - 1].rule;
                last_pc = count > 1 ? old[m - 2].ra - 1 : pc;
                pc = old[m - 1].ra - 1;
            }
        }
    }
done:
    if (mine != NULL) {
        memo->count = (uint32_t)n < keep ? (uint32_t)n : keep;
        memo->generation = generation;
        memo->current ^= 1;
        atomic_signal_fence(memory_order_seq_cst);
        memo->busy = 0;
    }
    return n;
declined:
    if (mine != NULL) { /* the last complete walk stays */
        atomic_signal_fence(memory_order_seq_cst);
        memo->busy = 0;
    }
    return -1;
}

#ifdef LT_TESTING
int lt_unwind_backtrace_alone_for_testing(const void *frame, void **frames, int max) {
    uint8_t busy = lt_memo.busy;
    lt_memo.busy = 1; /* as in a signal handler interrupting a walk: this walk neither reads nor keeps one */
    int n = lt_unwind_backtrace(frame, frames, max);
    lt_memo.busy = busy;
    return n;
}

struct lt_unwind_replays lt_unwind_replays_for_testing(void) {
    return lt_replays;
}
#endif
