/*
 * The shim's configuration: every LEAKTRACK_* variable it reads is in the table below, read once at start-up
 * with getenv (which does not allocate). A bad value gets one message naming the variable and the accepted
 * range, and the default is used: a typo must never take the traced program down.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "leaktrack_wire.h"
#include "lt_config.h"
#include "lt_diag.h"

struct lt_config lt_config;

struct lt_number_setting {
    const char *name;
    uint64_t fallback, min, max;
    const char *meaning;
};

static const struct lt_number_setting lt_depth_setting = {"LEAKTRACK_DEPTH", 128, 1, LT_MAX_DEPTH,
                                                          "stack frames kept per allocation"};
static const struct lt_number_setting lt_buffer_setting = {"LEAKTRACK_BUFFER_SIZE", 8u << 20, 64u << 10, 1u << 30,
                                                           "bytes of the event ring buffer"};
static const struct lt_number_setting lt_stacks_setting = {"LEAKTRACK_MAX_STACKS", 1u << 20, 1024, 1u << 26,
                                                           "distinct stacks kept"};
/* At most 64 MiB: a leak of L bytes goes unseen with probability exp(-L / mean), so even at the sparsest rate
 * 1 GiB leaked in blocks of any size is missed with probability exp(-16). */
static const struct lt_number_setting lt_sample_setting = {"LEAKTRACK_SAMPLE", 0, 0, 64u << 20,
                                                           "mean bytes between sampled allocations (0: all)"};
static const struct lt_number_setting lt_seed_setting = {"LEAKTRACK_SAMPLE_SEED", 0, 0, UINT64_MAX / 2,
                                                         "a seed for the sampler"};
static const struct lt_number_setting lt_timeout_setting = {"LEAKTRACK_EXIT_TIMEOUT", 120, 1, 3600,
                                                            "seconds to wait for the collector at exit"};

/* Parses a decimal number with an optional K, M or G suffix (powers of 1024). Returns 0 on success. */
static int lt_parse_number(const char *text, uint64_t *out) {
    uint64_t value = 0;
    const char *c = text;
    if (*c < '0' || *c > '9') return -1;
    for (int digits = 0; *c >= '0' && *c <= '9'; c++, digits++) {
        if (digits >= 18) return -1;
        value = value * 10 + (uint64_t)(*c - '0');
    }
    switch (*c) {
        case 'k':
        case 'K':
            value <<= 10;
            c++;
            break;
        case 'm':
        case 'M':
            value <<= 20;
            c++;
            break;
        case 'g':
        case 'G':
            value <<= 30;
            c++;
            break;
        default:
            break;
    }
    if (*c != '\0') return -1;
    *out = value;
    return 0;
}

static uint64_t lt_read_number(const struct lt_number_setting *setting) {
    const char *text = getenv(setting->name);
    if (text == NULL || *text == '\0') return setting->fallback;
    uint64_t value;
    if (lt_parse_number(text, &value) == 0 && value >= setting->min && value <= setting->max) return value;
    char lo[24], hi[24], def[24];
    lt_diag("ignoring ", setting->name, "=", text, ": expected ", setting->meaning, " from ",
            lt_format_u64(setting->min, lo), " to ", lt_format_u64(setting->max, hi), "; using ",
            lt_format_u64(setting->fallback, def), NULL);
    return setting->fallback;
}

/* LEAKTRACK_UNWIND: "fast" (default) or "libunwind". */
static int lt_read_libunwind_only(void) {
    const char *text = getenv("LEAKTRACK_UNWIND");
    if (text == NULL || text[0] == '\0' || strcmp(text, "fast") == 0) return 0;
    if (strcmp(text, "libunwind") == 0) return 1;
    lt_diag("ignoring LEAKTRACK_UNWIND=", text, ": expected fast or libunwind; using fast", NULL);
    return 0;
}

static int lt_read_flag(const char *name) {
    const char *text = getenv(name);
    return text != NULL && text[0] != '\0' && strcmp(text, "0") != 0;
}

/* Copies the value: programs rewrite their environment strings in place (nginx writes its process title
 * over them), so a pointer into environ read at start-up can point at anything later. */
static const char *lt_read_path(const char *name, char *copy, size_t max) {
    const char *text = getenv(name);
    if (text == NULL || text[0] == '\0') return NULL;
    size_t length = strlen(text);
    if (length >= max) {
        lt_diag("ignoring ", name, ": the path is too long", NULL);
        return NULL;
    }
    memcpy(copy, text, length + 1);
    return copy;
}

static uint64_t lt_round_up_pow2(uint64_t value) {
    uint64_t result = 1;
    while (result < value) result <<= 1;
    return result;
}

void lt_config_load(void) {
    struct lt_config *c = &lt_config;
    /* Secure-execution programs (setuid, capabilities) are left untouched. */
    c->disabled = lt_read_flag("LEAKTRACK_DISABLE") || getauxval(AT_SECURE) != 0;
    c->quiet = lt_read_flag("LEAKTRACK_QUIET");
    c->depth = (uint32_t)lt_read_number(&lt_depth_setting);
    c->libunwind_only = lt_read_libunwind_only();
    uint64_t ring_bytes = lt_round_up_pow2(lt_read_number(&lt_buffer_setting));
    c->ring_log2 = 0;
    while ((UINT64_C(8) << c->ring_log2) < ring_bytes) c->ring_log2++;
    c->stack_slots = lt_round_up_pow2(lt_read_number(&lt_stacks_setting) * 2);
    c->exit_timeout_ms = (uint32_t)lt_read_number(&lt_timeout_setting) * 1000u;
    c->sample_bytes = lt_read_number(&lt_sample_setting);
    c->sample_seed = lt_read_number(&lt_seed_setting);
    /* sockaddr_un holds 108 bytes. */
    static char socket_path[108], collector_path[LT_MAX_PATH], output_dir[LT_MAX_PATH];
    c->socket_path = lt_read_path("LEAKTRACK_SOCKET", socket_path, sizeof socket_path);
    c->collector_path = lt_read_path("LEAKTRACK_COLLECTOR", collector_path, sizeof collector_path);
    c->output_dir = lt_read_path("LEAKTRACK_OUTPUT_DIR", output_dir, sizeof output_dir);
}
