/*
 * Bad pointers, table-driven: every pointer that is not a live allocation
 * (stack, alloca, global, interior, unaligned, never handed out, freed twice
 * in every pattern where the memory was not handed out again) given to free,
 * realloc or malloc_usable_size, for small, medium and large objects.
 *
 * Each case runs in a child process (this binary again, "case N"):
 *   - by default the child must print one line naming the call, the pointer
 *     and what is wrong, and abort, as glibc does;
 *   - with CONCORD_ARENA_ABORT_ON_ERROR=0 it must report the same, leave the
 *     pointer alone and go on with an intact heap: live objects keep their
 *     bytes, and no address is handed out twice.
 *
 * Built twice: against the core (CA_CORE, ca_* names) and against plain
 * malloc, run under LD_PRELOAD (built with -fno-builtin).
 */
#include "test_util.h"

#include <alloca.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#ifdef CA_CORE
#include "concord.h"
#define MALLOC   ca_malloc
#define FREE     ca_free
#define REALLOC  ca_realloc
#define USABLE   ca_malloc_usable_size
#define MEMALIGN ca_memalign
#else
#define MALLOC   malloc
#define FREE     free
#define REALLOC  realloc
#define USABLE   malloc_usable_size
#define MEMALIGN memalign
#endif

enum what {
    W_STACK,
    W_ALLOCA,
    W_GLOBAL,
    W_INTERIOR_NEAR,      /* 16 bytes in */
    W_UNALIGNED,          /* 1 byte in */
    W_INTERIOR_FAR,       /* half way in */
    W_DELETE_MISMATCH,    /* delete of a new[] pointer: 8 bytes before the array */
    W_DOUBLE_NOW,         /* freed twice in a row */
    W_DOUBLE_LATER,       /* other traffic in between */
    W_DOUBLE_INTERLEAVED, /* another object freed in between */
    W_DOUBLE_NEIGHBOURS,  /* its neighbours reused in between */
    W_DOUBLE_EMPTIED,     /* every object of its size freed in between */
    W_DOUBLE_REMOTE,      /* allocated by a thread that exited, freed twice by another */
    W_DOUBLE_SPAN_LATER,  /* a medium slot in a later block of a span its arena keeps */
    W_NEVER,              /* the next slot, carved but never handed out */
    W_NEVER_FAR,          /* a slot far past the carved ones */
    W_ALIGNED_INTERIOR,   /* inside a live object of a block that held aligned objects */
    W_ALIGNED_DOUBLE,     /* an aligned object freed twice */
    W_REALLOC,            /* realloc of an interior pointer */
    W_USABLE,             /* malloc_usable_size of a stack address */
};

static const char NOT_OURS[] = "not allocated here";
static const char INSIDE[] = "inside an object";
static const char TWICE[] = "already freed";

struct bad_case {
    enum what what;
    size_t size;
    const char *call;
    const char *reason;
};

#define SIZES(w, why)                                                                              \
    {w, 48, "free", why}, {w, 1000, "free", why}, {w, 10000, "free", why},                         \
        {w, 50000, "free", why}, {w, 1 << 20, "free", why},                                        \
    {                                                                                              \
        w, 5 << 20, "free", why                                                                    \
    }

static const struct bad_case cases[] = {
    {W_STACK, 0, "free", NOT_OURS},
    {W_ALLOCA, 0, "free", NOT_OURS},
    {W_GLOBAL, 0, "free", NOT_OURS},
    SIZES(W_INTERIOR_NEAR, INSIDE),
    SIZES(W_UNALIGNED, INSIDE),
    SIZES(W_INTERIOR_FAR, INSIDE),
    SIZES(W_DELETE_MISMATCH, INSIDE),
    SIZES(W_DOUBLE_NOW, TWICE),
    SIZES(W_DOUBLE_LATER, TWICE),
    SIZES(W_DOUBLE_INTERLEAVED, TWICE),
    SIZES(W_DOUBLE_NEIGHBOURS, TWICE),
    SIZES(W_DOUBLE_EMPTIED, TWICE),
    SIZES(W_DOUBLE_REMOTE, TWICE),
    {W_DOUBLE_SPAN_LATER, 20000, "free", TWICE},
    {W_NEVER, 48, "free", "never handed out"},
    {W_NEVER, 1000, "free", "never handed out"},
    {W_NEVER_FAR, 48, "free", "never handed out"},
    {W_ALIGNED_INTERIOR, 280, "free", INSIDE},
    {W_ALIGNED_DOUBLE, 40, "free", TWICE},
    {W_REALLOC, 100, "realloc", INSIDE},
    {W_USABLE, 0, "malloc_usable_size", NOT_OURS},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* ---- the child ---- */

#define NLIVE 512
static unsigned char *live[NLIVE];
static size_t live_size[NLIVE];
static int nlive;
static char global_buffer[256];

static void *keep(size_t n)
{
    unsigned char *p = MALLOC(n);
    if (p == NULL) exit(20);
    memset(p, 0xA0 + nlive % 16, n < 4096 ? n : 4096);
    live[nlive] = p;
    live_size[nlive++] = n;
    return p;
}

static int live_intact(void)
{
    for (int i = 0; i < nlive; i++) {
        size_t n = live_size[i] < 4096 ? live_size[i] : 4096;
        for (size_t j = 0; j < n; j++)
            if (live[i][j] != (unsigned char)(0xA0 + i % 16)) return 0;
    }
    return 1;
}

static void *thread_alloc(void *arg)
{
    size_t *n = arg;
    return MALLOC(*n);
}

/* Traffic of sizes other than `n`'s class. */
static void other_traffic(size_t n)
{
    void *t[64];
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 64; i++)
            t[i] = MALLOC(n < 4096 ? 3 * n + 8192 : 24);
        for (int i = 0; i < 64; i++)
            FREE(t[i]);
    }
}

/* The block size the library runs with (CONCORD_ARENA_BLOCK_SIZE, default
 * 64 KiB): slots of small objects lie in blocks of this size and alignment. */
static uintptr_t block_bytes(void)
{
    const char *v = getenv("CONCORD_ARENA_BLOCK_SIZE");
    if (v == NULL || *v == '\0') return (uintptr_t)64 << 10;
    char *end;
    uintptr_t b = strtoul(v, &end, 10);
    return b << (*end == 'K' ? 10 : *end == 'M' ? 20 : 0);
}

static void announce(const void *p)
{
    printf("pointer %p\n", p);
    fflush(stdout);
}

static int run_case(const struct bad_case *c)
{
    size_t n = c->size;
    char *p, *q;
    /* The allocator is warm: a segment is mapped, so the traffic below does
     * not map a new one where a freed huge object was (an address handed
     * out again makes a second free of the old pointer a different mistake). */
    keep(24);
    switch (c->what) {
    case W_STACK: {
        char on_stack[32];
        announce(on_stack);
        FREE(on_stack);
        break;
    }
    case W_ALLOCA:
        p = alloca(64);
        announce(p);
        FREE(p);
        break;
    case W_GLOBAL:
        announce(global_buffer);
        FREE(global_buffer);
        break;
    case W_INTERIOR_NEAR:
        p = keep(n);
        announce(p + 16);
        FREE(p + 16);
        break;
    case W_UNALIGNED:
        p = keep(n);
        announce(p + 1);
        FREE(p + 1);
        break;
    case W_INTERIOR_FAR:
        p = keep(n);
        announce(p + (n / 2 & ~(size_t)15));
        FREE(p + (n / 2 & ~(size_t)15));
        break;
    case W_DELETE_MISMATCH:
        p = keep(n);
        announce(p + 8);
        FREE(p + 8);
        break;
    case W_DOUBLE_NOW:
        p = MALLOC(n);
        FREE(p);
        announce(p);
        FREE(p);
        break;
    case W_DOUBLE_LATER:
        p = MALLOC(n);
        keep(n);
        FREE(p);
        other_traffic(n);
        announce(p);
        FREE(p);
        break;
    case W_DOUBLE_INTERLEAVED:
        p = MALLOC(n);
        q = MALLOC(n);
        keep(n);
        FREE(p);
        FREE(q);
        announce(p);
        FREE(p);
        break;
    case W_DOUBLE_NEIGHBOURS: {
        char *a = MALLOC(n), *b = MALLOC(n), *d = MALLOC(n);
        FREE(a);
        FREE(d);
        keep(n); /* its neighbours handed out again */
        keep(n);
        FREE(b);
        other_traffic(n);
        announce(b);
        FREE(b);
        break;
    }
    case W_DOUBLE_EMPTIED: {
        /* Enough objects of its size for several blocks, all freed: their
         * blocks go back to a cache, or segments to the OS. */
        enum { K = 300 };
        static char *many[K];
        int count = n >= (1 << 20) ? 8 : K;
        for (int i = 0; i < count; i++)
            many[i] = MALLOC(n);
        for (int i = count; i-- > 0;)
            FREE(many[i]);
        other_traffic(n);
        announce(many[0]);
        FREE(many[0]);
        break;
    }
    case W_DOUBLE_SPAN_LATER: {
        /* Two spans of six 20 KiB slots (two blocks each); all freed, the
         * first span empties beside the bin's current one and its arena keeps
         * it; slot 5 lies in the span's second block. */
        static char *two[12];
        for (int i = 0; i < 12; i++)
            two[i] = MALLOC(n);
        for (int i = 12; i-- > 0;)
            FREE(two[i]);
        announce(two[5]);
        FREE(two[5]);
        break;
    }
    case W_DOUBLE_REMOTE: {
        pthread_t t;
        void *r = NULL;
        pthread_create(&t, NULL, thread_alloc, &n);
        pthread_join(t, &r);
        FREE(r);
        other_traffic(n);
        announce(r);
        FREE(r);
        break;
    }
    case W_NEVER:
        p = keep(n);
        q = p + USABLE(p);
        announce(q);
        FREE(q);
        break;
    case W_NEVER_FAR:
        /* up to 1,000 slots on: past the slots carved so far, inside the block */
        for (size_t k = 0; k < 2;) {
            p = keep(n);
            uintptr_t end = ((uintptr_t)p | (block_bytes() - 1)) + 1;
            k = (end - (uintptr_t)p) / USABLE(p) - 1; /* slots after p that fit */
            q = p + (k < 1000 ? k : 1000) * USABLE(p);
        }
        announce(q);
        FREE(q);
        break;
    case W_ALIGNED_INTERIOR: {
        keep(40);
        void *x = MEMALIGN(256, 40), *y = MEMALIGN(256, 40);
        char *v[200];
        for (int i = 0; i < 200; i++)
            v[i] = keep(n);
        FREE(x);
        FREE(y);
        announce(v[100] + 40);
        FREE(v[100] + 40);
        break;
    }
    case W_ALIGNED_DOUBLE:
        p = MEMALIGN(256, n);
        keep(n);
        FREE(p);
        announce(p);
        FREE(p);
        break;
    case W_REALLOC:
        p = keep(n);
        announce(p + 16);
        if (REALLOC(p + 16, 2 * n) != NULL) return 31;
        if (errno != EINVAL) return 32;
        break;
    case W_USABLE: {
        char on_stack[32];
        announce(on_stack);
        if (USABLE(on_stack) != 0) return 33;
        break;
    }
    }
    /* Still here (CONCORD_ARENA_ABORT_ON_ERROR=0): the heap must be whole. */
    if (!live_intact()) return 40;
    size_t sizes[] = {n ? n : 48, 48, 1000};
    for (int s = 0; s < 3; s++) {
        void *fresh[64];
        for (int i = 0; i < 64; i++) {
            fresh[i] = MALLOC(sizes[s]);
            if (fresh[i] == NULL) return 41;
            for (int j = 0; j < nlive; j++)
                if (fresh[i] == live[j]) return 42;
            for (int j = 0; j < i; j++)
                if (fresh[i] == fresh[j]) return 43;
            memset(fresh[i], 0x55, sizes[s] < 4096 ? sizes[s] : 4096);
        }
        if (!live_intact()) return 44;
        for (int i = 0; i < 64; i++)
            FREE(fresh[i]);
    }
    printf("survived\n");
    return 0;
}

/* ---- the parent ---- */

static char out[1 << 16];

/* The line the child must print: "CALL(): invalid pointer 0x...: REASON". */
static void expect_report(const struct bad_case *c, const char *tail)
{
    const char *ptr = strstr(out, "pointer 0x");
    if (ptr == NULL) fail_msg("case %s: no pointer announced:\n%s", c->call, out);
    unsigned long long v = strtoull(ptr + 8, NULL, 16);
    char want[256];
    snprintf(want, sizeof(want), "%s(): invalid pointer 0x%llx: ", c->call, v);
    const char *line = strstr(out, want);
    if (line == NULL) fail_msg("expected '%s' in:\n%s", want, out);
    const char *eol = strchr(line, '\n');
    size_t len = eol ? (size_t)(eol - line) : strlen(line);
    char got[512];
    snprintf(got, sizeof(got), "%.*s", (int)len, line);
    if (strstr(got, c->reason) == NULL) fail_msg("expected '%s' in '%s'", c->reason, got);
    if (strstr(got, tail) == NULL) fail_msg("expected '%s' in '%s'", tail, got);
    assert_int_equal(tu_count(out, "invalid pointer"), 1);
}

static void run_parent(const struct bad_case *c, unsigned i, int abort_mode)
{
    char mode[32];
    snprintf(mode, sizeof(mode), "case%u", i);
    int st =
        tu_run_self(mode, abort_mode ? NULL : "CONCORD_ARENA_ABORT_ON_ERROR=0", out, sizeof(out));
    if (abort_mode) {
        if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT)
            fail_msg("case %u (%s of size %zu): status %#x, no abort:\n%s", i, c->reason, c->size,
                     st, out);
        expect_report(c, "aborting");
    } else {
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || strstr(out, "survived") == NULL)
            fail_msg("case %u (%s of size %zu): status %#x:\n%s", i, c->reason, c->size, st, out);
        expect_report(c, "left alone");
    }
}

static void test_abort_by_default(void **state)
{
    (void)state;
    for (unsigned i = 0; i < NCASES; i++)
        run_parent(&cases[i], i, 1);
}

static void test_left_alone_on_request(void **state)
{
    (void)state;
    for (unsigned i = 0; i < NCASES; i++)
        run_parent(&cases[i], i, 0);
}

/* With CONCORD_ARENA_ABORT_ON_ERROR=0 every occurrence is reported up to 100,
 * then counted, and the count is given at exit. */
static int child_many(void)
{
    char on_stack[8];
    for (int i = 0; i < 250; i++)
        FREE(on_stack);
    return 0;
}

static void test_rate_limited(void **state)
{
    (void)state;
    tu_run_self_ok("many", "CONCORD_ARENA_ABORT_ON_ERROR=0", out, sizeof(out));
    assert_int_equal(tu_count(out, "free(): invalid pointer"), 100);
    assert_non_null(strstr(out, "250 invalid pointers in all"));
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        if (!strcmp(argv[1], "many")) return child_many();
        if (!strncmp(argv[1], "case", 4)) {
            unsigned i = (unsigned)atoi(argv[1] + 4);
            return i < NCASES ? run_case(&cases[i]) : 99;
        }
        return 99;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abort_by_default),
        cmocka_unit_test(test_left_alone_on_request),
        cmocka_unit_test(test_rate_limited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
