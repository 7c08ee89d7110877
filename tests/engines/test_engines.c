/*
 * test_engines.c - one CMocka suite run against one storage engine.
 *
 *   test_engines ENGINE [SEED]
 *
 * Unit cases (binary keys, empty values, overwrite, delete of a missing key,
 * counts, scans with a start key), a seeded random model test (200,000 mixed
 * operations, each checked against a plain reference model, invariants checked
 * every few thousand operations, then a full scan compared), a paginated scan
 * with the store changing between pages, and an out-of-memory test: the test
 * binary is linked with --wrap=malloc,calloc,realloc so that the N-th
 * allocation can be made to fail, and every operation is retried with the
 * failure moved one allocation further until it succeeds; each ENGINE_ENOMEM
 * must leave the store exactly as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* ---- allocation failure injection (the linker routes malloc here) ---- */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

static long fail_after = -1; /* allocations to let through before one fails; -1 off */
static long failures;        /* count: allocations made to fail */

static int should_fail(void)
{
    if (fail_after < 0) return 0;
    if (fail_after == 0) {
        fail_after = -1;
        failures++;
        return 1;
    }
    fail_after--;
    return 0;
}

void *__wrap_malloc(size_t size)
{
    return should_fail() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    return should_fail() ? NULL : __real_realloc(p, size);
}

/* ---- helpers ---- */

static const char *g_engine;    /* engine under test */
static uint64_t g_seed = 12345; /* base seed of the random tests */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static engine_t *new_engine(void)
{
    /* A small LSM memtable so rotations and merges happen all the time. */
    struct engine_options opt = {.lsm_memtable_bytes = 8192, .lsm_fanout = 3};
    engine_t *e = engine_create_ex(g_engine, &opt);
    assert_non_null(e);
    return e;
}

static int bytes_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : (alen > blen) - (alen < blen);
}

static void expect_kv(engine_t *e, const void *key, size_t klen, const void *val, size_t vlen)
{
    const void *v = NULL;
    size_t vl = 12345;
    assert_int_equal(engine_get(e, key, klen, &v, &vl), ENGINE_OK);
    assert_int_equal(vl, vlen);
    if (vlen) assert_memory_equal(v, val, vlen);
}

static void expect_absent(engine_t *e, const void *key, size_t klen)
{
    const void *v;
    size_t vl;
    assert_int_equal(engine_get(e, key, klen, &v, &vl), ENGINE_NOTFOUND);
}

/* A scan collected into one buffer: records of klen, key, vlen, value. */
struct collect {
    unsigned char *buf;
    size_t len, cap;
    size_t n;     /* count: records */
    size_t limit; /* stop after this many records (0: no limit) */
};

static void collect_put(struct collect *c, const void *p, size_t len)
{
    if (c->len + len > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < c->len + len)
            cap *= 2;
        c->buf = realloc(c->buf, cap);
        assert_non_null(c->buf);
        c->cap = cap;
    }
    if (len) memcpy(c->buf + c->len, p, len);
    c->len += len;
}

static int collect_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    struct collect *c = arg;
    if (c->limit && c->n == c->limit) return 7;
    collect_put(c, &klen, sizeof(klen));
    collect_put(c, key, klen);
    collect_put(c, &vlen, sizeof(vlen));
    collect_put(c, val, vlen);
    c->n++;
    return 0;
}

/* Walk the records of a collect buffer. */
static const unsigned char *next_rec(const unsigned char *p, const unsigned char **k, size_t *kl,
                                     const unsigned char **v, size_t *vl)
{
    memcpy(kl, p, sizeof(*kl));
    p += sizeof(*kl);
    *k = p;
    p += *kl;
    memcpy(vl, p, sizeof(*vl));
    p += sizeof(*vl);
    *v = p;
    return p + *vl;
}

/* ---- unit cases ---- */

static void test_basic(void **state)
{
    (void)state;
    engine_t *e = new_engine();
    assert_string_equal(engine_name(e), g_engine);
    assert_int_equal(engine_count(e), 0);
    expect_absent(e, "a", 1);
    assert_int_equal(engine_delete(e, "a", 1), ENGINE_NOTFOUND);

    /* Binary keys that differ only after a NUL byte, and a prefix key. */
    static const char k1[] = {'a', '\0', 'b'};
    static const char k2[] = {'a', '\0', 'c'};
    static const char v1[] = {'\0', '\0', 'x', '\0'};
    assert_int_equal(engine_set(e, k1, 3, v1, 4), ENGINE_OK);
    assert_int_equal(engine_set(e, k2, 3, "two", 3), ENGINE_OK);
    assert_int_equal(engine_set(e, "a", 1, "", 0), ENGINE_OK); /* empty value */
    assert_int_equal(engine_set(e, "", 0, "empty key", 9), ENGINE_OK);
    assert_int_equal(engine_count(e), 4);
    expect_kv(e, k1, 3, v1, 4);
    expect_kv(e, k2, 3, "two", 3);
    expect_kv(e, "a", 1, "", 0);
    expect_kv(e, "", 0, "empty key", 9);
    expect_absent(e, "a\0", 2);
    expect_absent(e, "a\0b\0", 4);

    /* Overwrite, longer and shorter, does not change the count. */
    assert_int_equal(engine_set(e, k1, 3, "a much longer value", 19), ENGINE_OK);
    expect_kv(e, k1, 3, "a much longer value", 19);
    assert_int_equal(engine_set(e, k1, 3, "s", 1), ENGINE_OK);
    expect_kv(e, k1, 3, "s", 1);
    assert_int_equal(engine_count(e), 4);

    /* Delete: present, then again (missing). */
    assert_int_equal(engine_delete(e, k2, 3), ENGINE_OK);
    assert_int_equal(engine_delete(e, k2, 3), ENGINE_NOTFOUND);
    expect_absent(e, k2, 3);
    assert_int_equal(engine_count(e), 3);
    assert_int_equal(engine_check(e), 0);

    /* A scan sees each key once; ordered engines in byte order. */
    struct collect c = {0};
    assert_int_equal(engine_scan(e, NULL, 0, collect_cb, &c), 0);
    assert_int_equal(c.n, 3);
    if (engine_is_ordered(e)) {
        const unsigned char *k, *v, *p = c.buf;
        size_t kl, vl;
        p = next_rec(p, &k, &kl, &v, &vl);
        assert_int_equal(kl, 0);
        p = next_rec(p, &k, &kl, &v, &vl);
        assert_int_equal(kl, 1);
        p = next_rec(p, &k, &kl, &v, &vl);
        assert_int_equal(kl, 3);
        assert_memory_equal(k, k1, 3);
        assert_memory_equal(v, "s", 1);
    }
    free(c.buf);

    /* Delete everything, then reuse. */
    assert_int_equal(engine_delete(e, k1, 3), ENGINE_OK);
    assert_int_equal(engine_delete(e, "a", 1), ENGINE_OK);
    assert_int_equal(engine_delete(e, "", 0), ENGINE_OK);
    assert_int_equal(engine_count(e), 0);
    assert_int_equal(engine_check(e), 0);
    assert_int_equal(engine_set(e, "a", 1, "b", 1), ENGINE_OK);
    expect_kv(e, "a", 1, "b", 1);
    engine_destroy(e);
}

static void test_bad_args(void **state)
{
    (void)state;
    engine_t *e = new_engine();
    const void *v;
    size_t vl;
    assert_int_equal(engine_set(e, NULL, 3, "x", 1), ENGINE_EINVAL);
    assert_int_equal(engine_set(e, "k", 1, NULL, 1), ENGINE_EINVAL);
    assert_int_equal(engine_set(e, "k", 1, NULL, 0), ENGINE_OK);
    assert_int_equal(engine_get(e, "k", 1, NULL, &vl), ENGINE_EINVAL);
    assert_int_equal(engine_get(e, "k", 1, &v, &vl), ENGINE_OK);
    assert_int_equal(vl, 0);
    assert_int_equal(engine_delete(e, NULL, 2), ENGINE_EINVAL);
    assert_null(engine_create("no-such-engine"));
    assert_null(engine_create(NULL));
    engine_destroy(e);
    engine_destroy(NULL);
}

static void test_large_values(void **state)
{
    (void)state;
    engine_t *e = new_engine();
    size_t big = 3u << 20;
    unsigned char *buf = malloc(big);
    assert_non_null(buf);
    for (size_t i = 0; i < big; i++)
        buf[i] = (unsigned char)(i * 131 + (i >> 13));
    assert_int_equal(engine_set(e, "big", 3, buf, big), ENGINE_OK);
    assert_int_equal(engine_set(e, "small", 5, "x", 1), ENGINE_OK);
    expect_kv(e, "big", 3, buf, big);
    assert_int_equal(engine_set(e, "big", 3, buf + 7, 1000), ENGINE_OK);
    expect_kv(e, "big", 3, buf + 7, 1000);
    assert_int_equal(engine_check(e), 0);
    free(buf);
    engine_destroy(e);
}

static void test_scan_start(void **state)
{
    (void)state;
    engine_t *e = new_engine();
    char key[16];
    for (int i = 0; i < 1000; i += 2) {
        int n = snprintf(key, sizeof(key), "k%04d", i);
        assert_int_equal(engine_set(e, key, (size_t)n, key, (size_t)n), ENGINE_OK);
    }
    /* Early stop returns the callback's value. */
    struct collect c = {.limit = 10};
    assert_int_equal(engine_scan(e, NULL, 0, collect_cb, &c), 7);
    assert_int_equal(c.n, 10);
    free(c.buf);

    if (engine_is_ordered(e)) {
        /* Absent start key: begins at the next key up. */
        memset(&c, 0, sizeof(c));
        assert_int_equal(engine_scan(e, "k0501", 5, collect_cb, &c), 0);
        assert_int_equal(c.n, 249);
        const unsigned char *k, *v;
        size_t kl, vl;
        next_rec(c.buf, &k, &kl, &v, &vl);
        assert_int_equal(kl, 5);
        assert_memory_equal(k, "k0502", 5);
        free(c.buf);
        /* Present start key is included. */
        memset(&c, 0, sizeof(c));
        assert_int_equal(engine_scan(e, "k0998", 5, collect_cb, &c), 0);
        assert_int_equal(c.n, 1);
        free(c.buf);
        /* Past the end. */
        memset(&c, 0, sizeof(c));
        assert_int_equal(engine_scan(e, "z", 1, collect_cb, &c), 0);
        assert_int_equal(c.n, 0);
        free(c.buf);
    }
    engine_destroy(e);
}

/* ---- the random model test ---- */

#define KEYSPACE 20000 /* distinct keys the random tests draw from */
#define MAX_KEY  24    /* bytes */
#define MAX_VAL  300   /* bytes */

struct model {
    unsigned char key[KEYSPACE][MAX_KEY];
    size_t klen[KEYSPACE];        /* bytes */
    unsigned char *val[KEYSPACE]; /* NULL when absent */
    size_t vlen[KEYSPACE];        /* bytes */
    size_t count;                 /* count: present keys */
};

static struct model *model_new(uint64_t *rng)
{
    struct model *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    for (size_t i = 0; i < KEYSPACE; i++) {
        /* Keys with NUL bytes and shared prefixes; distinct by construction. */
        size_t len = 2 + rng_next(rng) % (MAX_KEY - 2);
        for (size_t j = 0; j < len; j++) {
            uint64_t r = rng_next(rng);
            m->key[i][j] = (r & 3) == 0 ? 0 : (unsigned char)('a' + r % 4);
        }
        m->key[i][0] = (unsigned char)(i >> 8);
        m->key[i][1] = (unsigned char)i;
        m->klen[i] = len;
    }
    return m;
}

static void model_free(struct model *m)
{
    for (size_t i = 0; i < KEYSPACE; i++)
        free(m->val[i]);
    free(m);
}

static void model_set(struct model *m, size_t i, const unsigned char *v, size_t vl)
{
    if (!m->val[i]) m->count++;
    free(m->val[i]);
    m->val[i] = malloc(vl ? vl : 1);
    assert_non_null(m->val[i]);
    if (vl) memcpy(m->val[i], v, vl);
    m->vlen[i] = vl;
}

static void model_del(struct model *m, size_t i)
{
    if (m->val[i]) m->count--;
    free(m->val[i]);
    m->val[i] = NULL;
}

static size_t random_value(uint64_t *rng, unsigned char *buf)
{
    uint64_t r = rng_next(rng);
    size_t len = (r & 7) == 0 ? 0 : (r & 31) == 1 ? (r >> 8) % MAX_VAL : (r >> 8) % 40;
    for (size_t j = 0; j < len; j++)
        buf[j] = (unsigned char)rng_next(rng);
    return len;
}

static void model_compare_all(engine_t *e, const struct model *m)
{
    assert_int_equal(engine_count(e), m->count);
    for (size_t i = 0; i < KEYSPACE; i++) {
        if (m->val[i])
            expect_kv(e, m->key[i], m->klen[i], m->val[i], m->vlen[i]);
        else
            expect_absent(e, m->key[i], m->klen[i]);
    }
}

static const struct model *sort_model; /* qsort has no context argument */

static int idx_cmp(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    return bytes_cmp(sort_model->key[i], sort_model->klen[i], sort_model->key[j],
                     sort_model->klen[j]);
}

/* A full scan: ordered engines must give exactly the model's keys sorted;
 * the hash engine each present key once. */
static void model_compare_scan(engine_t *e, const struct model *m)
{
    struct collect c = {0};
    assert_int_equal(engine_scan(e, NULL, 0, collect_cb, &c), 0);
    assert_int_equal(c.n, m->count);

    size_t *order = malloc(KEYSPACE * sizeof(*order));
    unsigned char *seen = calloc(KEYSPACE, 1);
    assert_non_null(order);
    assert_non_null(seen);
    size_t n = 0;
    for (size_t i = 0; i < KEYSPACE; i++)
        if (m->val[i]) order[n++] = i;
    sort_model = m;
    qsort(order, n, sizeof(*order), idx_cmp);

    const unsigned char *p = c.buf;
    for (size_t r = 0; r < c.n; r++) {
        const unsigned char *k, *v;
        size_t kl, vl;
        p = next_rec(p, &k, &kl, &v, &vl);
        size_t i;
        if (engine_is_ordered(e)) {
            i = order[r];
            assert_int_equal(kl, m->klen[i]);
            assert_memory_equal(k, m->key[i], kl);
        } else {
            assert_true(kl >= 2);
            i = ((size_t)k[0] << 8) | k[1];
            assert_true(i < KEYSPACE);
            assert_int_equal(kl, m->klen[i]);
            assert_memory_equal(k, m->key[i], kl);
            assert_false(seen[i]);
            seen[i] = 1;
        }
        assert_non_null(m->val[i]);
        assert_int_equal(vl, m->vlen[i]);
        if (vl) assert_memory_equal(v, m->val[i], vl);
    }
    free(order);
    free(seen);
    free(c.buf);
}

static void test_random_model(void **state)
{
    (void)state;
    enum { OPS = 200000, CHECK_EVERY = 5000, PHASE = 25000 };
    uint64_t rng = g_seed;
    struct model *m = model_new(&rng);
    engine_t *e = new_engine();
    unsigned char vbuf[MAX_VAL];

    for (long op = 0; op < OPS; op++) {
        size_t i = rng_next(&rng) % KEYSPACE;
        unsigned r = (unsigned)(rng_next(&rng) % 100);
        /* Alternate growing and shrinking phases so trees split and merge. */
        int grow = (op / PHASE) % 2 == 0;
        unsigned set_pct = grow ? 55 : 25, del_pct = grow ? 15 : 45;
        if (r < set_pct) {
            size_t vl = random_value(&rng, vbuf);
            assert_int_equal(engine_set(e, m->key[i], m->klen[i], vbuf, vl), ENGINE_OK);
            model_set(m, i, vbuf, vl);
            expect_kv(e, m->key[i], m->klen[i], vbuf, vl);
        } else if (r < set_pct + del_pct) {
            int rc = engine_delete(e, m->key[i], m->klen[i]);
            assert_int_equal(rc, m->val[i] ? ENGINE_OK : ENGINE_NOTFOUND);
            model_del(m, i);
            expect_absent(e, m->key[i], m->klen[i]);
        } else if (m->val[i]) {
            expect_kv(e, m->key[i], m->klen[i], m->val[i], m->vlen[i]);
        } else {
            expect_absent(e, m->key[i], m->klen[i]);
        }
        assert_int_equal(engine_count(e), m->count);
        if (op % CHECK_EVERY == CHECK_EVERY - 1) {
            assert_int_equal(engine_check(e), 0);
            if (op % (4 * CHECK_EVERY) == 4 * CHECK_EVERY - 1) model_compare_all(e, m);
        }
    }
    assert_int_equal(engine_check(e), 0);
    model_compare_all(e, m);
    model_compare_scan(e, m);

    /* Empty it completely and check again. */
    for (size_t i = 0; i < KEYSPACE; i++) {
        if (m->val[i]) {
            assert_int_equal(engine_delete(e, m->key[i], m->klen[i]), ENGINE_OK);
            model_del(m, i);
        }
    }
    assert_int_equal(engine_count(e), 0);
    assert_int_equal(engine_check(e), 0);
    model_compare_scan(e, m);
    engine_destroy(e);
    model_free(m);
}

/* ---- a paginated scan while the store changes ---- */

struct page {
    size_t want;                 /* keys per page */
    size_t got;                  /* keys taken this page */
    unsigned char *hits;         /* per key index: times returned */
    unsigned char next[MAX_KEY]; /* the key to resume from */
    size_t next_len;             /* bytes; SIZE_MAX when the scan reached the end */
};

static int page_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    struct page *pg = arg;
    (void)val;
    (void)vlen;
    assert_true(klen >= 2 && klen <= MAX_KEY);
    if (pg->got == pg->want) {
        memcpy(pg->next, key, klen);
        pg->next_len = klen;
        return 1;
    }
    const unsigned char *k = key;
    size_t i = ((size_t)k[0] << 8) | k[1];
    assert_true(i < KEYSPACE);
    pg->hits[i]++;
    pg->got++;
    return 0;
}

/* The server's SCAN: resume each page at the first key not yet returned.
 * Keys present for the whole scan come back exactly once, others at most
 * once, whatever changes between pages (the hash table grows meanwhile). */
static void test_paged_scan(void **state)
{
    (void)state;
    uint64_t rng = g_seed ^ 0xabcdef;
    struct model *m = model_new(&rng);
    engine_t *e = new_engine();
    unsigned char *stable = calloc(KEYSPACE, 1); /* 1: present for the whole scan */
    unsigned char vbuf[MAX_VAL];
    assert_non_null(stable);

    for (size_t i = 0; i < KEYSPACE; i++) {
        if (rng_next(&rng) % 4 == 0) continue;
        size_t vl = random_value(&rng, vbuf);
        assert_int_equal(engine_set(e, m->key[i], m->klen[i], vbuf, vl), ENGINE_OK);
        model_set(m, i, vbuf, vl);
        stable[i] = rng_next(&rng) % 2;
    }
    struct page pg = {.want = 37, .hits = calloc(KEYSPACE, 1), .next_len = SIZE_MAX};
    assert_non_null(pg.hits);
    int pages = 0;
    for (;; pages++) {
        unsigned char from[MAX_KEY];
        size_t from_len = pg.next_len;
        if (from_len != SIZE_MAX) memcpy(from, pg.next, from_len);
        pg.got = 0;
        pg.next_len = SIZE_MAX;
        int rc = from_len == SIZE_MAX && pages == 0 ? engine_scan(e, NULL, 0, page_cb, &pg)
                                                    : engine_scan(e, from, from_len, page_cb, &pg);
        if (pg.next_len == SIZE_MAX) {
            assert_int_equal(rc, 0);
            break;
        }
        assert_int_equal(rc, 1);
        assert_true(pages < 10000);
        /* Change keys that are not stable: add, overwrite, delete. */
        for (int j = 0; j < 60; j++) {
            size_t i = rng_next(&rng) % KEYSPACE;
            if (stable[i]) continue;
            if (rng_next(&rng) % 3) {
                size_t vl = random_value(&rng, vbuf);
                assert_int_equal(engine_set(e, m->key[i], m->klen[i], vbuf, vl), ENGINE_OK);
                model_set(m, i, vbuf, vl);
            } else {
                engine_delete(e, m->key[i], m->klen[i]);
                model_del(m, i);
            }
        }
    }
    assert_true(pages > 10);
    for (size_t i = 0; i < KEYSPACE; i++) {
        assert_true(pg.hits[i] <= 1);
        if (stable[i]) assert_int_equal(pg.hits[i], 1);
    }
    assert_int_equal(engine_check(e), 0);
    model_compare_all(e, m);
    free(pg.hits);
    free(stable);
    engine_destroy(e);
    model_free(m);
}

/* ---- out of memory ---- */

/* After a failed call the store must be exactly what the model says. */
static void expect_unchanged(engine_t *e, const struct model *m, size_t i, int full)
{
    assert_int_equal(engine_check(e), 0);
    assert_int_equal(engine_count(e), m->count);
    if (m->val[i])
        expect_kv(e, m->key[i], m->klen[i], m->val[i], m->vlen[i]);
    else
        expect_absent(e, m->key[i], m->klen[i]);
    if (full) model_compare_all(e, m);
}

static void test_out_of_memory(void **state)
{
    (void)state;
    enum { STEPS = 3000 };
    uint64_t rng = g_seed ^ 0x5eed;
    struct model *m = model_new(&rng);
    unsigned char *vbuf = malloc(64 * 1024);
    assert_non_null(vbuf);

    /* Creation itself under failure: NULL, never a crash. */
    for (long k = 0; k < 8; k++) {
        fail_after = k;
        struct engine_options opt = {.lsm_memtable_bytes = 4096, .lsm_fanout = 2};
        engine_t *t = engine_create_ex(g_engine, &opt);
        fail_after = -1;
        engine_destroy(t);
    }

    struct engine_options opt = {.lsm_memtable_bytes = 4096, .lsm_fanout = 2};
    engine_t *e = engine_create_ex(g_engine, &opt);
    assert_non_null(e);
    long enomem = 0;
    for (int step = 0; step < STEPS; step++) {
        size_t i = rng_next(&rng) % (KEYSPACE / 4);
        int is_set = rng_next(&rng) % 3 != 0;
        size_t vl = random_value(&rng, vbuf);
        if (rng_next(&rng) % 50 == 0) vl = 1000 + rng_next(&rng) % 60000;
        /* Either one failure somewhere deep (merges, splits, growth), or
         * the first allocation failing, then the second, ... until the call
         * goes through. */
        long k = rng_next(&rng) % 4 == 0 ? (long)(rng_next(&rng) % 3000) : 0;
        for (int attempt = 1;; attempt++) {
            long before = failures;
            fail_after = k;
            int rc = is_set ? engine_set(e, m->key[i], m->klen[i], vbuf, vl)
                            : engine_delete(e, m->key[i], m->klen[i]);
            fail_after = -1;
            if (rc == ENGINE_ENOMEM) {
                assert_true(failures > before);
                enomem++;
                expect_unchanged(e, m, i, step % 200 == 0);
                assert_true(attempt < 1000);
                k = attempt; /* the next try fails one allocation later */
                continue;
            }
            if (is_set) {
                assert_int_equal(rc, ENGINE_OK);
                model_set(m, i, vbuf, vl);
            } else {
                assert_int_equal(rc, m->val[i] ? ENGINE_OK : ENGINE_NOTFOUND);
                model_del(m, i);
            }
            break;
        }
        if (step % 500 == 0) {
            expect_unchanged(e, m, i, 1);
            model_compare_scan(e, m);
        }
    }
    assert_true(enomem > 0);
    expect_unchanged(e, m, 0, 1);
    model_compare_scan(e, m);
    engine_destroy(e);
    free(vbuf);
    model_free(m);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s ENGINE [SEED]\n", argv[0]);
        return 2;
    }
    g_engine = argv[1];
    if (argc > 2) g_seed = strtoull(argv[2], NULL, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),         cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_large_values),  cmocka_unit_test(test_scan_start),
        cmocka_unit_test(test_random_model),  cmocka_unit_test(test_paged_scan),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests_name(g_engine, tests, NULL, NULL);
}
