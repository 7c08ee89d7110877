/*
 * engine.h - the one interface every storage engine implements.
 *
 * A store maps binary-safe keys to binary-safe values. Both are byte strings
 * with an explicit length: they may contain NUL bytes, and a value may be
 * empty. Keys may be empty too.
 *
 * Ownership and lifetime
 *   - engine_set() copies the key and the value; the caller keeps its buffers.
 *   - engine_get() does NOT copy: it returns a pointer into the store that stays
 *     valid until the next modifying call (set, delete, destroy) on the same
 *     store. Read-only calls (get, count, scan, check) never move or free data,
 *     so several readers may run at once under a shared lock.
 *
 * Errors
 *   Every call that can allocate returns ENGINE_ENOMEM when malloc fails, and
 *   then the store's contents are exactly what they were before the call.
 *   Nothing here aborts on out-of-memory.
 *
 * Order
 *   The ordered engines (array, rbtree, btree, lsm) scan keys in bytewise
 *   order (memcmp, a shorter key before a longer key it is a prefix of). The
 *   hash engine scans in a stable order of its own (by key hash, then bytes)
 *   that does not change while the table grows; a scan with a start key
 *   resumes from that position in the same order. engine_is_ordered() says
 *   which kind a store is.
 *
 * Threads
 *   A store is not thread-safe. Callers serialise modifying calls against
 *   everything else (a readers-writer lock is enough).
 */
#ifndef CA_ENGINES_ENGINE_H
#define CA_ENGINES_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

/* Return codes. Negative values are errors. */
enum engine_status {
    ENGINE_OK = 0,
    ENGINE_NOTFOUND = 1, /* get/delete: the key is absent */
    ENGINE_ENOMEM = -1,  /* malloc failed; the store is unchanged */
    ENGINE_EINVAL = -2,  /* bad argument (NULL pointer with a non-zero length) */
    ENGINE_CORRUPT = -3, /* check(): a structural invariant does not hold */
};

/*
 * Scan callback: called once per live key, in scan order. Return 0 to go on,
 * anything else to stop the scan (engine_scan() then returns that value). The
 * callback must not modify the store it is scanning.
 */
typedef int (*engine_scan_fn)(const void *key, size_t klen, const void *val, size_t vlen,
                              void *arg);

/* Tuning knobs; a zero field means "the default". */
struct engine_options {
    size_t lsm_memtable_bytes; /* bytes: an LSM memtable turns immutable past this */
    unsigned lsm_fanout;       /* count: LSM tables of one tier merged together (2..16) */
};

/* The operations an engine provides; engine.c dispatches through this table. */
struct engine_ops {
    const char *name;
    bool ordered;
    void *(*create)(const struct engine_options *opt);
    void (*destroy)(void *impl);
    int (*set)(void *impl, const void *key, size_t klen, const void *val, size_t vlen);
    int (*get)(void *impl, const void *key, size_t klen, const void **val, size_t *vlen);
    int (*del)(void *impl, const void *key, size_t klen);
    size_t (*count)(const void *impl);
    int (*scan)(void *impl, const void *start, size_t slen, engine_scan_fn fn, void *arg);
    int (*check)(void *impl);
};

typedef struct engine engine_t;

/* Create a store by name: "array", "hash", "rbtree", "btree" or "lsm".
 * Returns NULL for an unknown name or when malloc fails. */
engine_t *engine_create(const char *name);
engine_t *engine_create_ex(const char *name, const struct engine_options *opt);
void engine_destroy(engine_t *e);

/* Insert or overwrite. ENGINE_OK or ENGINE_ENOMEM. */
int engine_set(engine_t *e, const void *key, size_t klen, const void *val, size_t vlen);
/* ENGINE_OK with *val and *vlen set (pointer valid until the next modifying call),
 * or ENGINE_NOTFOUND. */
int engine_get(engine_t *e, const void *key, size_t klen, const void **val, size_t *vlen);
/* ENGINE_OK, ENGINE_NOTFOUND or ENGINE_ENOMEM (only the B+tree and the LSM may
 * need memory to delete). */
int engine_delete(engine_t *e, const void *key, size_t klen);
/* Number of live keys. */
size_t engine_count(const engine_t *e);
/* Visit every key >= start (start == NULL: from the first key) in scan order.
 * Returns 0 after the last key, the callback's non-zero value if it stopped,
 * or ENGINE_ENOMEM. */
int engine_scan(engine_t *e, const void *start, size_t slen, engine_scan_fn fn, void *arg);
/* Verify the engine's structural invariants: 0 when they hold, else
 * ENGINE_CORRUPT (and a line on stderr saying which one broke). O(n). */
int engine_check(engine_t *e);

const char *engine_name(const engine_t *e);
bool engine_is_ordered(const engine_t *e);
/* The names engine_create() accepts, NULL-terminated. */
extern const char *const engine_names[];

#endif
