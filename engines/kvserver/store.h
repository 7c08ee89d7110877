/*
 * store.h - the keyspace shared by every event-loop thread.
 *
 * One engine behind a readers-writer lock, plus what Redis keeps beside the
 * data: expiry times, the SCAN cursor table and the background expiry sweep.
 *
 * Each stored value starts with a one-byte tag: 0 means no expiry and the
 * payload follows; 1 means an 8-byte expiry time (ms since the epoch, host
 * byte order) follows, then the payload. Expired keys read as absent at once
 * (lazy expiry) and are removed by the next write to them or by the sweep.
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
struct kv_value {
    const unsigned char *data; /* payload */
    size_t len;                /* bytes of payload */
    int64_t expire_ms;         /* ms since the epoch; 0: never */
};

typedef int (*store_scan_fn)(const void *key, size_t klen, const struct kv_value *v, void *arg);

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
int store_get(struct store *s, const void *key, size_t klen, int64_t now_ms, struct kv_value *v);
/* (wr) Insert or overwrite with an expiry (0: none). ENGINE_OK or ENGINE_ENOMEM. */
int store_set(struct store *s, const void *key, size_t klen, const void *val, size_t vlen,
              int64_t expire_ms);
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

/* Remove up to `visit` keys' worth of expired keys, resuming where the last
 * sweep stopped. Takes the write lock only when some key has an expiry. */
void store_sweep(struct store *s, size_t visit);

/* SCAN cursors: remember the key a scan resumes from under a number. Save
 * returns the new cursor (never 0), or 0 when out of memory. Load gives a
 * malloc'd copy of the key (free it), or -1 for an unknown cursor. */
uint64_t store_cursor_save(struct store *s, const void *key, size_t klen);
int store_cursor_load(struct store *s, uint64_t cursor, unsigned char **key, size_t *klen);

#endif
