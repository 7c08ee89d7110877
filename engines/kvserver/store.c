/*
 * store.c - the shared keyspace: engine, lock, expiry, cursors (see store.h).
 */
#include "store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TAG_PLAIN    0    /* value tag: payload follows */
#define TAG_EXPIRES  1    /* value tag: 8-byte expiry, then payload */
#define ENCODE_STACK 512  /* bytes: values up to this size are encoded on the stack */
#define CURSOR_SLOTS 1024 /* SCAN cursors remembered at once */

struct cursor_slot {
    uint64_t id;        /* cursor number; 0: free */
    unsigned char *key; /* key the scan resumes from */
    size_t klen;        /* bytes */
};

struct store {
    pthread_rwlock_t lock;
    engine_t *eng;
    char engine[16];             /* engine name, for flush */
    struct engine_options opt;   /* engine options, for flush */
    size_t expires;              /* count: keys with an expiry (maybe already due) */
    atomic_ullong expired_total; /* count: keys removed because they expired */

    pthread_mutex_t cursor_lock;
    struct cursor_slot cursors[CURSOR_SLOTS];
    uint64_t next_cursor; /* number of the next cursor handed out */

    unsigned char *sweep_key; /* key the next sweep starts from; NULL: the beginning */
    size_t sweep_klen;        /* bytes */
};

int64_t store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int decode(const void *raw, size_t rawlen, struct kv_value *v)
{
    const unsigned char *p = raw;
    if (rawlen >= 1 && p[0] == TAG_PLAIN) {
        v->data = p + 1;
        v->len = rawlen - 1;
        v->expire_ms = 0;
        return 0;
    }
    if (rawlen >= 9 && p[0] == TAG_EXPIRES) {
        memcpy(&v->expire_ms, p + 1, 8);
        v->data = p + 9;
        v->len = rawlen - 9;
        return 0;
    }
    return -1;
}

static int is_due(const struct kv_value *v, int64_t now_ms)
{
    return v->expire_ms != 0 && v->expire_ms <= now_ms;
}

struct store *store_create(const char *engine, const struct engine_options *opt)
{
    struct store *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    if (strlen(engine) >= sizeof(s->engine)) {
        free(s);
        return NULL;
    }
    strcpy(s->engine, engine);
    if (opt) s->opt = *opt;
    s->eng = engine_create_ex(engine, &s->opt);
    if (!s->eng) {
        free(s);
        return NULL;
    }
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    /* Writers must not starve behind a stream of readers. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&s->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&s->cursor_lock, NULL);
    s->next_cursor = 1;
    return s;
}

void store_destroy(struct store *s)
{
    if (!s) return;
    engine_destroy(s->eng);
    for (size_t i = 0; i < CURSOR_SLOTS; i++)
        free(s->cursors[i].key);
    free(s->sweep_key);
    pthread_rwlock_destroy(&s->lock);
    pthread_mutex_destroy(&s->cursor_lock);
    free(s);
}

void store_rdlock(struct store *s)
{
    pthread_rwlock_rdlock(&s->lock);
}

void store_wrlock(struct store *s)
{
    pthread_rwlock_wrlock(&s->lock);
}

void store_unlock(struct store *s)
{
    pthread_rwlock_unlock(&s->lock);
}

int store_get(struct store *s, const void *key, size_t klen, int64_t now_ms, struct kv_value *v)
{
    const void *raw;
    size_t rawlen;
    if (engine_get(s->eng, key, klen, &raw, &rawlen) != ENGINE_OK) return ENGINE_NOTFOUND;
    if (decode(raw, rawlen, v) != 0) return ENGINE_NOTFOUND;
    return is_due(v, now_ms) ? STORE_EXPIRED : ENGINE_OK;
}

/* Whether the key's current raw value carries an expiry. */
static int has_expiry(struct store *s, const void *key, size_t klen)
{
    const void *raw;
    size_t rawlen;
    struct kv_value v;
    if (engine_get(s->eng, key, klen, &raw, &rawlen) != ENGINE_OK || decode(raw, rawlen, &v) != 0)
        return 0;
    return v.expire_ms != 0;
}

int store_set(struct store *s, const void *key, size_t klen, const void *val, size_t vlen,
              int64_t expire_ms)
{
    unsigned char stack[ENCODE_STACK];
    size_t hdr = expire_ms ? 9 : 1;
    if (vlen > SIZE_MAX - hdr) return ENGINE_ENOMEM;
    size_t total = hdr + vlen;
    unsigned char *enc = total <= sizeof(stack) ? stack : malloc(total);
    if (!enc) return ENGINE_ENOMEM;
    enc[0] = expire_ms ? TAG_EXPIRES : TAG_PLAIN;
    if (expire_ms) memcpy(enc + 1, &expire_ms, 8);
    if (vlen) memcpy(enc + hdr, val, vlen);

    int had = has_expiry(s, key, klen);
    int rc = engine_set(s->eng, key, klen, enc, total);
    if (enc != stack) free(enc);
    if (rc == ENGINE_OK) s->expires = s->expires - (size_t)had + (expire_ms != 0);
    return rc;
}

int store_del(struct store *s, const void *key, size_t klen, int64_t now_ms)
{
    const void *raw;
    size_t rawlen;
    struct kv_value v;
    if (engine_get(s->eng, key, klen, &raw, &rawlen) != ENGINE_OK) return ENGINE_NOTFOUND;
    int valid = decode(raw, rawlen, &v) == 0;
    int due = valid && is_due(&v, now_ms);
    int had = valid && v.expire_ms != 0;
    int rc = engine_delete(s->eng, key, klen);
    if (rc != ENGINE_OK) return rc;
    s->expires -= (size_t)had;
    if (due) {
        atomic_fetch_add(&s->expired_total, 1);
        return ENGINE_NOTFOUND;
    }
    return ENGINE_OK;
}

void store_expire_if_due(struct store *s, const void *key, size_t klen, int64_t now_ms)
{
    const void *raw;
    size_t rawlen;
    struct kv_value v;
    if (engine_get(s->eng, key, klen, &raw, &rawlen) != ENGINE_OK || decode(raw, rawlen, &v) != 0)
        return;
    if (is_due(&v, now_ms)) store_del(s, key, klen, now_ms);
}

int store_flush(struct store *s)
{
    engine_t *fresh = engine_create_ex(s->engine, &s->opt);
    if (!fresh) return ENGINE_ENOMEM;
    engine_destroy(s->eng);
    s->eng = fresh;
    s->expires = 0;
    free(s->sweep_key);
    s->sweep_key = NULL;
    return ENGINE_OK;
}

struct scan_adapter {
    store_scan_fn fn;
    void *arg;
    int64_t now_ms;
};

static int scan_adapt(const void *key, size_t klen, const void *raw, size_t rawlen, void *arg)
{
    struct scan_adapter *a = arg;
    struct kv_value v;
    if (decode(raw, rawlen, &v) != 0 || (a->now_ms && is_due(&v, a->now_ms))) return 0;
    return a->fn(key, klen, &v, a->arg);
}

int store_scan(struct store *s, const void *start, size_t slen, int64_t now_ms, store_scan_fn fn,
               void *arg)
{
    struct scan_adapter a = {fn, arg, now_ms};
    return engine_scan(s->eng, start, slen, scan_adapt, &a);
}

size_t store_dbsize(struct store *s)
{
    return engine_count(s->eng);
}

size_t store_expires(struct store *s)
{
    return s->expires;
}

int store_ordered(const struct store *s)
{
    return engine_is_ordered(s->eng);
}

const char *store_engine_name(const struct store *s)
{
    return s->engine;
}

uint64_t store_expired_total(struct store *s)
{
    return atomic_load(&s->expired_total);
}

/* ---- the expiry sweep ---- */

struct sweep {
    size_t visit; /* count: keys still to look at */
    int64_t now_ms;
    unsigned char **keys; /* due keys found, copied */
    size_t *klens;        /* bytes */
    size_t n;             /* count: due keys found */
    unsigned char *next;  /* key to resume from, copied; NULL at the end */
    size_t next_len;      /* bytes */
};

static int sweep_cb(const void *key, size_t klen, const struct kv_value *v, void *arg)
{
    struct sweep *sw = arg;
    if (sw->visit == 0) {
        sw->next = malloc(klen ? klen : 1);
        if (sw->next) {
            memcpy(sw->next, key, klen);
            sw->next_len = klen;
        }
        return 1;
    }
    sw->visit--;
    if (is_due(v, sw->now_ms)) {
        unsigned char *k = malloc(klen ? klen : 1);
        if (!k) return 2;
        memcpy(k, key, klen);
        sw->keys[sw->n] = k;
        sw->klens[sw->n++] = klen;
    }
    return 0;
}

void store_sweep(struct store *s, size_t visit)
{
    store_rdlock(s);
    size_t expires = s->expires;
    store_unlock(s);
    if (expires == 0) return;
    store_wrlock(s);
    if (s->expires == 0) {
        store_unlock(s);
        return;
    }
    struct sweep sw = {.visit = visit, .now_ms = store_now_ms()};
    sw.keys = malloc(visit * sizeof(*sw.keys));
    sw.klens = malloc(visit * sizeof(*sw.klens));
    if (sw.keys && sw.klens) {
        /* now_ms 0: the adapter passes due keys through to us. */
        struct scan_adapter a = {sweep_cb, &sw, 0};
        int rc =
            engine_scan(s->eng, s->sweep_key, s->sweep_key ? s->sweep_klen : 0, scan_adapt, &a);
        for (size_t i = 0; i < sw.n; i++) {
            store_del(s, sw.keys[i], sw.klens[i], sw.now_ms);
            free(sw.keys[i]);
        }
        if (rc != 2) {
            /* Resume at the next key, or from the beginning after the end. */
            free(s->sweep_key);
            s->sweep_key = sw.next;
            s->sweep_klen = sw.next_len;
            sw.next = NULL;
        }
        free(sw.next);
    }
    free(sw.keys);
    free(sw.klens);
    store_unlock(s);
}

/* ---- SCAN cursors ---- */

uint64_t store_cursor_save(struct store *s, const void *key, size_t klen)
{
    unsigned char *copy = malloc(klen ? klen : 1);
    if (!copy) return 0;
    memcpy(copy, key, klen);
    pthread_mutex_lock(&s->cursor_lock);
    uint64_t id = s->next_cursor++;
    struct cursor_slot *slot = &s->cursors[id % CURSOR_SLOTS];
    free(slot->key);
    slot->id = id;
    slot->key = copy;
    slot->klen = klen;
    pthread_mutex_unlock(&s->cursor_lock);
    return id;
}

int store_cursor_load(struct store *s, uint64_t cursor, unsigned char **key, size_t *klen)
{
    int rc = -1;
    pthread_mutex_lock(&s->cursor_lock);
    struct cursor_slot *slot = &s->cursors[cursor % CURSOR_SLOTS];
    if (cursor != 0 && slot->id == cursor) {
        *key = malloc(slot->klen ? slot->klen : 1);
        if (*key) {
            memcpy(*key, slot->key, slot->klen);
            *klen = slot->klen;
            rc = 0;
        } else {
            rc = -2;
        }
    }
    pthread_mutex_unlock(&s->cursor_lock);
    return rc;
}
