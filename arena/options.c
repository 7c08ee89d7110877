/*
 * Options: one table, read once at start (the platform's getenv ignores them
 * in a setuid program). A bad value gets one line on stderr naming the
 * variable, the value and what is accepted; the default stays.
 */
#include "options.h"

#include "os.h"
#include "util.h"

#include <signal.h>

#define CA_BLOCK_MIN ((size_t)16 << 10)
#define CA_BLOCK_MAX ((size_t)1 << CA_BLOCK_SHIFT_MAX)

typedef struct ca_option_s {
    const char *name;                /* environment variable */
    const char *def;                 /* default, as shown to people */
    const char *accepted;            /* what a value may be */
    const char *meaning;             /* one line */
    int (*apply)(const char *value); /* 0: taken; -1: rejected */
} ca_option_t;

static const char *ca_stats_file_path;

_Static_assert(CA_SEG_BLOCKS == 1u << 6 && CA_RUN_UNITS == 1u << 8,
               "the defaults below take these logs as constants");

ca_config_t ca_cfg = {
    /* The default block size's geometry, as ca_options_load derives it. */
    .block_size = (size_t)1 << CA_BLOCK_SHIFT_DEFAULT,
    .block_shift = CA_BLOCK_SHIFT_DEFAULT,
    .seg_size = (size_t)CA_SEG_BLOCKS << CA_BLOCK_SHIFT_DEFAULT,
    .seg_shift = CA_BLOCK_SHIFT_DEFAULT + 6, /* CA_SEG_BLOCKS is 2^6 */
    .seg_base_mask = ~(((uintptr_t)CA_SEG_BLOCKS << CA_BLOCK_SHIFT_DEFAULT) - 1),
    .block_off_mask = ((uintptr_t)1 << CA_BLOCK_SHIFT_DEFAULT) - 1,
    .small_max = ((size_t)1 << CA_BLOCK_SHIFT_DEFAULT) / 4,
    .runs_min = ((size_t)1 << CA_BLOCK_SHIFT_DEFAULT) / 32,
    .unit_shift = CA_BLOCK_SHIFT_DEFAULT - 8, /* CA_RUN_UNITS is 2^8 */
    .large_max = (size_t)(CA_SEG_BLOCKS / 2) << CA_BLOCK_SHIFT_DEFAULT,
    .cache_blocks = 64,
    .numa_node = -1,
    .numa_bind = 1,
    .stats_signal = 10, /* SIGUSR1 */
    .stats_fd = 2,
    .abort_on_error = 1,
};

/* Parse a decimal number with an optional K/M/G suffix (and optional B or iB). */
int ca_parse_size(const char *s, size_t *out)
{
    if (s == NULL || *s < '0' || *s > '9') return -1;
    unsigned __int128 v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (unsigned)(*s++ - '0');
        if (v > ((unsigned __int128)1 << 64)) return -1;
    }
    unsigned shift = 0;
    switch (*s) {
    case 'k':
    case 'K':
        shift = 10;
        s++;
        break;
    case 'm':
    case 'M':
        shift = 20;
        s++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        s++;
        break;
    default:
        break;
    }
    if (shift && (*s == 'i' || *s == 'I')) s++;
    if (*s == 'b' || *s == 'B') s++;
    if (*s != '\0') return -1;
    v <<= shift;
    if (v > (unsigned __int128)SIZE_MAX) return -1;
    *out = (size_t)v;
    return 0;
}

static int ca_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    if (s == NULL || *s < '0' || *s > '9') return -1;
    unsigned long v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (unsigned long)(*s++ - '0');
        if (v > max) return -1;
    }
    if (*s != '\0') return -1;
    *out = v;
    return 0;
}

static const struct {
    const char *name;
    int sig;
} ca_signal_names[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},   {"USR1", SIGUSR1},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},   {"TERM", SIGTERM},
    {"CHLD", SIGCHLD},     {"CONT", SIGCONT}, {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"PWR", SIGPWR},
};

/* A signal number (0 = off) or a name with or without "SIG". Signals that
 * cannot be caught or that report faults are refused. */
int ca_parse_signal(const char *s, int *out)
{
    unsigned long n;
    if (s == NULL || *s == '\0') return -1;
    if (ca_parse_uint(s, 64, &n) == 0) {
        if (n == SIGKILL || n == SIGSTOP || n == SIGSEGV || n == SIGBUS || n == SIGFPE ||
            n == SIGILL || n == SIGABRT || n == SIGTRAP || (n > 31 && (int)n < SIGRTMIN) ||
            (int)n > SIGRTMAX)
            return -1;
        *out = (int)n;
        return 0;
    }
    const char *name = s;
    if ((s[0] == 'S' || s[0] == 's') && (s[1] == 'I' || s[1] == 'i') &&
        (s[2] == 'G' || s[2] == 'g'))
        name = s + 3;
    for (size_t i = 0; i < sizeof(ca_signal_names) / sizeof(ca_signal_names[0]); i++) {
        if (ca_strcaseeq(name, ca_signal_names[i].name)) {
            *out = ca_signal_names[i].sig;
            return 0;
        }
    }
    return -1;
}

static int ca_parse_bool(const char *s, int *out)
{
    static const char *yes[] = {"1", "yes", "true", "on"};
    static const char *no[] = {"0", "no", "false", "off"};
    for (int i = 0; i < 4; i++) {
        if (ca_strcaseeq(s, yes[i])) return *out = 1, 0;
        if (ca_strcaseeq(s, no[i])) return *out = 0, 0;
    }
    return -1;
}

static int ca_apply_block_size(const char *v)
{
    size_t n;
    if (ca_parse_size(v, &n) != 0 || n < CA_BLOCK_MIN || n > CA_BLOCK_MAX || (n & (n - 1)))
        return -1;
    ca_cfg.block_size = n;
    return 0;
}

static int ca_apply_numa_node(const char *v)
{
    unsigned long n;
    if (ca_parse_uint(v, CA_MAX_NODES - 1, &n) != 0) return -1;
    ca_cfg.numa_node = (int)n;
    return 0;
}

static int ca_apply_cache_blocks(const char *v)
{
    unsigned long n;
    if (ca_parse_uint(v, 1u << 20, &n) != 0) return -1;
    ca_cfg.cache_blocks = (uint32_t)n;
    return 0;
}

static int ca_apply_stats_signal(const char *v)
{
    return ca_parse_signal(v, &ca_cfg.stats_signal);
}

static int ca_apply_stats_file(const char *v)
{
    if (*v == '\0') return -1;
    ca_stats_file_path = v;
    return 0;
}

static int ca_apply_stats_format(const char *v)
{
    if (ca_strcaseeq(v, "text"))
        ca_cfg.stats_json = 0;
    else if (ca_strcaseeq(v, "json"))
        ca_cfg.stats_json = 1;
    else
        return -1;
    return 0;
}

static int ca_apply_at_exit(const char *v)
{
    return ca_parse_bool(v, &ca_cfg.stats_at_exit);
}

static int ca_apply_verbose(const char *v)
{
    return ca_parse_bool(v, &ca_cfg.verbose);
}

static int ca_apply_background_purge(const char *v)
{
    return ca_parse_bool(v, &ca_cfg.background_purge);
}

static int ca_apply_abort(const char *v)
{
    return ca_parse_bool(v, &ca_cfg.abort_on_error);
}

static const ca_option_t ca_options[] = {
    {"CONCORD_ARENA_BLOCK_SIZE", "64K", "a power of two from 16K to 1M (suffix K, M or G)",
     "bytes per block; a segment maps 64 blocks", ca_apply_block_size},
    {"CONCORD_ARENA_NUMA_NODE", "unset", "a node number from 0 to 63 that exists and has memory",
     "home node of every arena (unset: the node of the thread's CPU)", ca_apply_numa_node},
    {"CONCORD_ARENA_CACHE_BLOCKS", "64", "a whole number from 0 to 1048576",
     "empty blocks each node keeps resident for reuse", ca_apply_cache_blocks},
    {"CONCORD_ARENA_STATS_SIGNAL", "SIGUSR1", "0 (off), a signal number or a name such as USR2",
     "signal that dumps the statistics", ca_apply_stats_signal},
    {"CONCORD_ARENA_STATS_FILE", "stderr", "a file path (opened once, appended to)",
     "where dumps go", ca_apply_stats_file},
    {"CONCORD_ARENA_STATS_FORMAT", "text", "text or json", "format of dumps",
     ca_apply_stats_format},
    {"CONCORD_ARENA_STATS_AT_EXIT", "0", "0 or 1", "dump the statistics at exit", ca_apply_at_exit},
    {"CONCORD_ARENA_VERBOSE", "0", "0 or 1", "print the options in force at start",
     ca_apply_verbose},
    {"CONCORD_ARENA_ABORT_ON_ERROR", "1", "0 or 1",
     "abort on a bad pointer (0: leave it alone and report it)", ca_apply_abort},
    {"CONCORD_ARENA_BACKGROUND_PURGE", "0", "0 or 1",
     "a thread gives idle cached blocks back even when the program is idle",
     ca_apply_background_purge},
};

#define CA_NOPTIONS (sizeof(ca_options) / sizeof(ca_options[0]))

void ca_options_load(void)
{
    for (size_t i = 0; i < CA_NOPTIONS; i++) {
        const char *v = ca_os_getenv(ca_options[i].name);
        if (v == NULL) continue;
        if (ca_options[i].apply(v) != 0)
            ca_message("ignoring ", ca_options[i].name, "=", v, ": expected ",
                       ca_options[i].accepted, "; using the default ", ca_options[i].def, NULL);
    }
    ca_cfg.block_shift = (unsigned)__builtin_ctzl(ca_cfg.block_size);
    ca_cfg.seg_size = (size_t)CA_SEG_BLOCKS << ca_cfg.block_shift;
    ca_cfg.seg_shift = (unsigned)__builtin_ctzl(ca_cfg.seg_size);
    ca_cfg.seg_base_mask = ~(uintptr_t)(ca_cfg.seg_size - 1);
    ca_cfg.block_off_mask = ca_cfg.block_size - 1;
    ca_cfg.small_max = ca_cfg.block_size / 4;
    ca_cfg.runs_min = ca_cfg.block_size / 32;
    ca_cfg.unit_shift = ca_cfg.block_shift - (unsigned)__builtin_ctz(CA_RUN_UNITS);
    ca_cfg.large_max = (size_t)(CA_SEG_BLOCKS / 2) << ca_cfg.block_shift;
    if (ca_stats_file_path != NULL) {
        /* Opened once, out of the way of the program's own descriptors. */
        int fd = ca_os_open_append(ca_stats_file_path);
        if (fd < 0 || ca_os_fd_identity(fd, &ca_cfg.stats_dev, &ca_cfg.stats_ino) != 0)
            ca_message("cannot open CONCORD_ARENA_STATS_FILE=", ca_stats_file_path,
                       "; statistics go to stderr", NULL);
        else
            ca_cfg.stats_fd = fd;
    } else if (ca_cfg.stats_at_exit) {
        /* The at-exit dump goes to the stderr the program started with, kept
         * on a descriptor of our own: many programs (ls, cat) close theirs
         * before the library's destructor runs. */
        int fd = ca_os_dup_high(2);
        if (fd >= 0 && ca_os_fd_identity(fd, &ca_cfg.stats_dev, &ca_cfg.stats_ino) == 0) {
            ca_cfg.stats_fd = fd;
            ca_cfg.stats_fd_is_stderr = 1;
        } else if (fd >= 0) {
            ca_os_close(fd);
        }
    }
}

/* The value in force for option `i`, as text, into `b`. */
static void ca_option_value(ca_buf_t *b, size_t i)
{
    switch (i) {
    case 0:
        ca_buf_u64(b, ca_cfg.block_size);
        break;
    case 1:
        if (ca_cfg.numa_node < 0)
            ca_buf_str(b, "unset (node of the thread's CPU)");
        else
            ca_buf_i64(b, ca_cfg.numa_node);
        break;
    case 2:
        ca_buf_u64(b, ca_cfg.cache_blocks);
        break;
    case 3:
        ca_buf_i64(b, ca_cfg.stats_signal);
        break;
    case 4:
        ca_buf_str(b, ca_stats_file_path && !ca_cfg.stats_fd_is_stderr && ca_cfg.stats_fd != 2
                          ? ca_stats_file_path
                          : "stderr");
        break;
    case 5:
        ca_buf_str(b, ca_cfg.stats_json ? "json" : "text");
        break;
    case 6:
        ca_buf_u64(b, (uint64_t)ca_cfg.stats_at_exit);
        break;
    case 7:
        ca_buf_u64(b, (uint64_t)ca_cfg.verbose);
        break;
    case 8:
        ca_buf_u64(b, (uint64_t)ca_cfg.abort_on_error);
        break;
    case 9:
        ca_buf_u64(b, (uint64_t)ca_cfg.background_purge);
        break;
    default:
        break;
    }
}

void ca_options_print(void)
{
    char mem[2048];
    ca_buf_t b;
    ca_buf_init(&b, mem, sizeof(mem), 2);
    ca_buf_str(&b, "concordarena: options in force\n");
    for (size_t i = 0; i < CA_NOPTIONS; i++) {
        size_t from = b.len;
        ca_buf_str(&b, "concordarena:   ");
        ca_buf_str(&b, ca_options[i].name);
        ca_buf_str(&b, "=");
        ca_option_value(&b, i);
        ca_buf_pad(&b, 64, from);
        ca_buf_str(&b, " # ");
        ca_buf_str(&b, ca_options[i].meaning);
        ca_buf_str(&b, " (default ");
        ca_buf_str(&b, ca_options[i].def);
        ca_buf_str(&b, ")\n");
    }
    ca_buf_flush(&b);
}
