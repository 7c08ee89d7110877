/*
 * store.h - the keyspace shared by every event-loop thread.
 *
 * One engine behind a readers-writer lock, plus what Redis keeps beside the
 * data: expiry times, the SCAN cursor table and the background expiry sweep.
 *
 * Each stored value starts with a one-byte tag: bit 0 says whether an 8-byte
 * expiry time (ms since the epoch, host byte order) follows; bits 4..7 hold
 * the type (types.h). A string's bytes come next. A list, hash, set or
 * sorted set is a pointer to its object (8 bytes), which the store owns: it
 * is freed when the key is deleted, overwritten, flushed or expires, so
 * every engine holds values of every type. Expired keys read as absent at
 * once (lazy expiry) and are removed by the next write to them or by the
 * sweep.
 *
 * WATCH: a client registers keys with a flag; every change to one of those
 * keys (set, delete, expiry change, in-place change of an object reported
 * with store_touch, rename, flush) sets the flag. EXEC runs under
 * store_exclusive_begin(), which holds the write lock for the whole
 * transaction: the lock calls made by the commands it runs are then no-ops
 * on that thread.
 *
 * Locking: calls marked (rd) need store_rdlock() or store_wrlock() held,
 * (wr) need store_wrlock(); the others lock by themselves.
 */
#ifndef KV_STORE_H
#define KV_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

struct store;

/* A decoded value: points into the engine, valid until the lock is dropped
 * or the store is modified. */
struct ks_value {
    const unsigned char *data; /* string payload (KV_STRING only) */
    size_t len;                /* bytes of payload */
    int64_t expire_ms;         /* ms since the epoch; 0: never */
    int type;                  /* enum ks_type */
    void *obj;                 /* the object of a non-string type */
};

typedef int (*store_scan_fn)(const void *key, size_t klen, const struct ks_value *v, void *arg);

struct store *store_create(const char *engine, const struct engine_options *opt);
void store_destroy(struct store *s);

void store_rdlock(struct store *s);
void store_wrlock(struct store *s);
void store_unlock(struct store *s);

/* Milliseconds since the epoch (CLOCK_REALTIME). */
int64_t store_now_ms(void);

/* store_get() result for a key that is stored but expired: treat it as
 * absent, and call store_expire_if_due() under the write lock to remove it. */
#define STORE_EXPIRED 2

/* (rd) ENGINE_OK, ENGINE_NOTFOUND, or STORE_EXPIRED when expired at now_ms. */
int store_get(struct store *s, const void *key, size_t klen, int64_t now_ms, struct ks_value *v);
/* (wr) Insert or overwrite with an expiry (0: none). ENGINE_OK or ENGINE_ENOMEM. */
int store_set(struct store *s, const void *key, size_t klen, const void *val, size_t vlen,
              int64_t expire_ms);
/* (wr) Store an object (types.h) under key, which then owns it; a previous
 * value is freed (unless it is the same object). ENGINE_OK or ENGINE_ENOMEM
 * (the object then still belongs to the caller). */
int store_set_obj(struct store *s, const void *key, size_t klen, int type, void *obj,
                  int64_t expire_ms);
/* (wr) Change the expiry of an existing key, keeping its value. */
int store_set_expiry(struct store *s, const void *key, size_t klen, int64_t expire_ms);
/* (wr) Move src's value (and expiry) to dst, replacing dst. ENGINE_OK,
 * ENGINE_NOTFOUND (no src) or ENGINE_ENOMEM. */
int store_rename(struct store *s, const void *src, size_t slen, const void *dst, size_t dlen,
                 int64_t now_ms);
/* (wr) The value of key was changed in place (WATCH). */
void store_touch(struct store *s, const void *key, size_t klen);
/* (wr) ENGINE_OK, ENGINE_NOTFOUND or ENGINE_ENOMEM. An expired key counts as
 * absent (and is removed). */
int store_del(struct store *s, const void *key, size_t klen, int64_t now_ms);
/* (wr) Remove the key if it has expired at now_ms. */
void store_expire_if_due(struct store *s, const void *key, size_t klen, int64_t now_ms);
/* (wr) Replace the engine by an empty one. ENGINE_OK or ENGINE_ENOMEM. */
int store_flush(struct store *s);
/* (rd) Scan from start (inclusive, NULL: the beginning), skipping keys expired
 * at now_ms. Return value as engine_scan(). */
int store_scan(struct store *s, const void *start, size_t slen, int64_t now_ms, store_scan_fn fn,
               void *arg);
/* (rd) Keys stored (expired ones not yet removed included), keys with an expiry. */
size_t store_dbsize(struct store *s);
size_t store_expires(struct store *s);
int store_ordered(const struct store *s);
const char *store_engine_name(const struct store *s);
/* Keys removed because they expired, since start. */
uint64_t store_expired_total(struct store *s);

/* Remove expired keys found in the index of keys with an expiry, resuming
 * where the last sweep stopped: at least `visit` buckets (and a sixteenth of
 * the index), at most `max_removed` keys. 1 when many keys had expired (sweep
 * again soon), else 0. Takes the write lock only when some key has an
 * expiry. */
int store_sweep(struct store *s, size_t visit, size_t max_removed);

/* WATCH. (wr) Register key for the client whose flag is `flag`; 0 or -1
 * (out of memory). (wr) Forget every key registered with that flag. */
int store_watch(struct store *s, const void *key, size_t klen, int *flag);
void store_unwatch(struct store *s, int *flag);
/* (rd) 1 when a key watched with `flag`, live when watched, has expired by
 * now_ms (Redis 7.0 then fails the EXEC too); any other change to it has
 * set the flag already. */
int store_watch_expired(struct store *s, const int *flag, int64_t now_ms);

/* Hold the write lock until store_exclusive_end(); meanwhile this thread's
 * store_rdlock/wrlock/unlock calls do nothing. */
void store_exclusive_begin(struct store *s);
void store_exclusive_end(struct store *s);

/* A random live key, copied (free it); NULL when there is none. (rd) */
unsigned char *store_random_key(struct store *s, int64_t now_ms, size_t *klen);

/* SCAN cursors: remember the key a scan resumes from under a number. Save
 * returns the new cursor (never 0), or 0 when out of memory. Load gives a
 * malloc'd copy of the key (free it), or -1 for an unknown cursor. */
uint64_t store_cursor_save(struct store *s, const void *key, size_t klen);
int store_cursor_load(struct store *s, uint64_t cursor, unsigned char **key, size_t *klen);

#endif
