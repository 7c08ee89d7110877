/*
 * cmd_types.c - the list, hash, set and sorted-set commands.
 *
 * Each command looks its key up with lookup() (WRONGTYPE for another type),
 * creates the object on first write, changes it in place under the write
 * lock (reporting the change with store_touch for WATCH), and deletes the
 * key when the object becomes empty, as Redis does.
 */
#include "cmd.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Store a freshly made object under the key; on failure free it. 0 or -1
 * (the OOM error has been appended). */
static int attach(struct server *srv, struct client *c, int type, void *obj)
{
    if (store_set_obj(srv->store, A(1), L(1), type, obj, 0) == ENGINE_OK) return 0;
    ks_obj_free(type, obj);
    resp_error(&c->out, ERR_OOM);
    return -1;
}

/* After a change: drop the key when its object is empty, else report it. */
static void changed(struct server *srv, struct client *c, int type, void *obj)
{
    if (ks_obj_len(type, obj) == 0)
        store_del(srv->store, A(1), L(1), 0);
    else
        store_touch(srv->store, A(1), L(1));
}

/* Redis's range rule: negative indexes count from the end; clamp; 0 when
 * the range is empty, else 1 with [*s, *e] inside [0, len). */
static int clamp_range(long long start, long long end, size_t len, size_t *s, size_t *e)
{
    long long n = (long long)len;
    if (start < 0) start += n;
    if (end < 0) end += n;
    if (start < 0) start = 0;
    if (start > end || start >= n) return 0;
    if (end >= n) end = n - 1;
    *s = (size_t)start;
    *e = (size_t)end;
    return 1;
}

/* ---- lists ---- */

static void push(struct server *srv, struct client *c, size_t argc, int left, int only_existing)
{
    struct ks_value v;
    store_wrlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_LIST, 1, &v);
    if (f < 0) goto out;
    if (!f && only_existing) {
        resp_int(&c->out, 0);
        goto out;
    }
    struct ks_list *l = f ? v.obj : list_new();
    if (!l) {
        resp_error(&c->out, ERR_OOM);
        goto out;
    }
    int oom = 0;
    size_t before = l->len;
    for (size_t i = 2; i < argc && !oom; i++)
        oom = list_push(l, left, A(i), L(i)) != 0;
    if (!f) {
        if (l->len == 0) {
            list_free(l);
            l = NULL;
        } else if (attach(srv, c, KV_LIST, l) != 0) {
            goto out;
        }
    } else if (l->len != before) {
        store_touch(srv->store, A(1), L(1));
    }
    if (oom)
        resp_error(&c->out, ERR_OOM);
    else
        resp_int(&c->out, l ? (long long)l->len : 0);
out:
    store_unlock(srv->store);
}

void cmd_lpush(struct server *srv, struct client *c, size_t argc)
{
    push(srv, c, argc, 1, 0);
}

void cmd_rpush(struct server *srv, struct client *c, size_t argc)
{
    push(srv, c, argc, 0, 0);
}

void cmd_lpushx(struct server *srv, struct client *c, size_t argc)
{
    push(srv, c, argc, 1, 1);
}

void cmd_rpushx(struct server *srv, struct client *c, size_t argc)
{
    push(srv, c, argc, 0, 1);
}

/* The optional count of LPOP/RPOP/SPOP/ZPOPMIN: 1 with *count set, 0 when
 * absent, -1 after an error reply. */
static int pop_count(struct client *c, size_t argc, const char *name, long long *count)
{
    if (argc > 3) {
        wrong_args(c, name);
        return -1;
    }
    if (argc < 3) return 0;
    if (parse_ll(A(2), L(2), count) != 0 || *count < 0) {
        resp_error(&c->out, ERR_POSITIVE);
        return -1;
    }
    return 1;
}

static void pop(struct server *srv, struct client *c, size_t argc, int left)
{
    long long count = 1;
    int has_count = pop_count(c, argc, left ? "lpop" : "rpop", &count);
    if (has_count < 0) return;
    struct ks_value v;
    store_wrlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_LIST, 1, &v);
    if (f < 0) goto out;
    if (!f) {
        if (has_count)
            kbuf_append(&c->out, "*-1\r\n", 5);
        else
            resp_null(&c->out);
        goto out;
    }
    struct ks_list *l = v.obj;
    size_t n = (size_t)count < l->len ? (size_t)count : l->len;
    if (has_count) resp_array(&c->out, n);
    for (size_t i = 0; i < n; i++) {
        struct ks_str *s = list_pop(l, left);
        resp_bulk(&c->out, s->data, s->len);
        free(s);
    }
    changed(srv, c, KV_LIST, l);
out:
    store_unlock(srv->store);
}

void cmd_lpop(struct server *srv, struct client *c, size_t argc)
{
    pop(srv, c, argc, 1);
}

void cmd_rpop(struct server *srv, struct client *c, size_t argc)
{
    pop(srv, c, argc, 0);
}

void cmd_llen(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    struct ks_value v;
    store_rdlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_LIST, 0, &v);
    if (f >= 0) resp_int(&c->out, f ? (long long)((struct ks_list *)v.obj)->len : 0);
    store_unlock(srv->store);
}

void cmd_lindex(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    /* As Redis: the key and its type first, then the index. */
    struct ks_value v;
    long long idx;
    store_rdlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_LIST, 0, &v);
    if (f == 0) resp_null(&c->out);
    if (f > 0 && parse_ll(A(2), L(2), &idx) != 0)
        resp_error(&c->out, ERR_NOT_INT);
    else if (f > 0) {
        struct ks_list *l = v.obj;
        if (idx < 0) idx += (long long)l->len;
        if (idx < 0 || idx >= (long long)l->len) {
            resp_null(&c->out);
        } else {
            struct ks_str *s = list_at(l, (size_t)idx);
            resp_bulk(&c->out, s->data, s->len);
        }
    }
    store_unlock(srv->store);
}

void cmd_lrange(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    long long start, end;
    if (parse_ll(A(2), L(2), &start) != 0 || parse_ll(A(3), L(3), &end) != 0)
        return resp_error(&c->out, ERR_NOT_INT);
    struct ks_value v;
    store_rdlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_LIST, 0, &v);
    size_t s, e;
    if (f == 0 || (f > 0 && !clamp_range(start, end, ((struct ks_list *)v.obj)->len, &s, &e))) {
        resp_array(&c->out, 0);
    } else if (f > 0) {
        struct ks_list *l = v.obj;
        resp_array(&c->out, e - s + 1);
        for (size_t i = s; i <= e; i++) {
            struct ks_str *x = list_at(l, i);
            resp_bulk(&c->out, x->data, x->len);
        }
    }
    store_unlock(srv->store);
}

void cmd_lset(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    /* As Redis: the key and its type first, then the index. */
    long long idx;
    struct ks_value v;
    store_wrlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_LIST, 1, &v);
    if (f == 0) resp_error(&c->out, "ERR no such key");
    if (f > 0 && parse_ll(A(2), L(2), &idx) != 0)
        resp_error(&c->out, ERR_NOT_INT);
    else if (f > 0) {
        struct ks_list *l = v.obj;
        if (idx < 0) idx += (long long)l->len;
        if (idx < 0 || idx >= (long long)l->len) {
            resp_error(&c->out, "ERR index out of range");
        } else {
            struct ks_str *s = ks_str_new(A(3), L(3));
            if (!s) {
                resp_error(&c->out, ERR_OOM);
            } else {
                size_t slot = (l->head + (size_t)idx) & (l->cap - 1);
                free(l->slot[slot]);
                l->slot[slot] = s;
                store_touch(srv->store, A(1), L(1));
                resp_ok(&c->out);
            }
        }
    }
    store_unlock(srv->store);
}

void cmd_ltrim(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    long long start, end;
    if (parse_ll(A(2), L(2), &start) != 0 || parse_ll(A(3), L(3), &end) != 0)
        return resp_error(&c->out, ERR_NOT_INT);
    struct ks_value v;
    store_wrlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_LIST, 1, &v);
    if (f == 0) resp_ok(&c->out);
    if (f > 0) {
        struct ks_list *l = v.obj;
        size_t s, e;
        if (clamp_range(start, end, l->len, &s, &e))
            list_trim(l, s, e);
        else
            list_trim(l, l->len, l->len); /* everything goes */
        changed(srv, c, KV_LIST, l);
        resp_ok(&c->out);
    }
    store_unlock(srv->store);
}

void cmd_lrem(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    long long count;
    if (parse_ll(A(2), L(2), &count) != 0) return resp_error(&c->out, ERR_NOT_INT);
    struct ks_value v;
    store_wrlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_LIST, 1, &v);
    if (f == 0) resp_int(&c->out, 0);
    if (f > 0) {
        struct ks_list *l = v.obj;
        long long removed = 0;
        unsigned long long limit = count == 0  ? ~0ull
                                   : count < 0 ? (unsigned long long)-(count + 1) + 1
                                               : (unsigned long long)count;
        if (count >= 0) {
            for (size_t i = 0; i < l->len && (unsigned long long)removed < limit;) {
                struct ks_str *s = list_at(l, i);
                if (s->len == L(3) && memcmp(s->data, A(3), s->len) == 0) {
                    list_remove(l, i);
                    removed++;
                } else {
                    i++;
                }
            }
        } else {
            for (size_t i = l->len; i-- > 0 && (unsigned long long)removed < limit;) {
                struct ks_str *s = list_at(l, i);
                if (s->len == L(3) && memcmp(s->data, A(3), s->len) == 0) {
                    list_remove(l, i);
                    removed++;
                }
            }
        }
        if (removed) changed(srv, c, KV_LIST, l);
        resp_int(&c->out, removed);
    }
    store_unlock(srv->store);
}

/* ---- hashes ---- */

/* HSET/HMSET/HSETNX: set field/value pairs; the count of new fields, or -1
 * after an error reply. */
static long long hash_set(struct server *srv, struct client *c, size_t argc, int nx)
{
    struct ks_value v;
    int f = lookup(srv, c, A(1), L(1), KV_HASH, 1, &v);
    if (f < 0) return -1;
    struct dict *d = f ? v.obj : dict_new();
    long long added = 0;
    int oom = !d;
    for (size_t i = 2; i + 1 < argc && !oom; i += 2) {
        int a = 0;
        if (nx && dict_find(d, A(i), L(i))) continue;
        oom = !dict_put(d, A(i), L(i), A(i + 1), L(i + 1), &a);
        added += a;
    }
    if (!f && d) {
        if (d->n == 0) {
            dict_free(d);
        } else if (attach(srv, c, KV_HASH, d) != 0) {
            return -1;
        }
    } else if (d) {
        store_touch(srv->store, A(1), L(1));
    }
    if (oom) {
        resp_error(&c->out, ERR_OOM);
        return -1;
    }
    return added;
}

void cmd_hset(struct server *srv, struct client *c, size_t argc)
{
    if (argc % 2 != 0) return wrong_args(c, "hset");
    store_wrlock(srv->store);
    long long n = hash_set(srv, c, argc, 0);
    if (n >= 0) resp_int(&c->out, n);
    store_unlock(srv->store);
}

void cmd_hmset(struct server *srv, struct client *c, size_t argc)
{
    if (argc % 2 != 0) return wrong_args(c, "hmset");
    store_wrlock(srv->store);
    if (hash_set(srv, c, argc, 0) >= 0) resp_ok(&c->out);
    store_unlock(srv->store);
}

void cmd_hsetnx(struct server *srv, struct client *c, size_t argc)
{
    store_wrlock(srv->store);
    long long n = hash_set(srv, c, argc, 1);
    if (n >= 0) resp_int(&c->out, n);
    store_unlock(srv->store);
}

void cmd_hget(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    struct ks_value v;
    store_rdlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_HASH, 0, &v);
    if (f >= 0) {
        struct dent *e = f ? dict_find(v.obj, A(2), L(2)) : NULL;
        if (e)
            resp_bulk(&c->out, e->data + e->klen, e->vlen);
        else
            resp_null(&c->out);
    }
    store_unlock(srv->store);
}

void cmd_hmget(struct server *srv, struct client *c, size_t argc)
{
    struct ks_value v;
    store_rdlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_HASH, 0, &v);
    if (f >= 0) {
        resp_array(&c->out, argc - 2);
        for (size_t i = 2; i < argc; i++) {
            struct dent *e = f ? dict_find(v.obj, A(i), L(i)) : NULL;
            if (e)
                resp_bulk(&c->out, e->data + e->klen, e->vlen);
            else
                resp_null(&c->out);
        }
    }
    store_unlock(srv->store);
}

void cmd_hdel(struct server *srv, struct client *c, size_t argc)
{
    struct ks_value v;
    store_wrlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_HASH, 1, &v);
    if (f >= 0) {
        long long n = 0;
        for (size_t i = 2; f && i < argc; i++)
            n += dict_del(v.obj, A(i), L(i));
        if (n) changed(srv, c, KV_HASH, v.obj);
        resp_int(&c->out, n);
    }
    store_unlock(srv->store);
}

/* HLEN, SCARD, ZCARD, LLEN: the element count of a key of one type. */
static void card(struct server *srv, struct client *c, int type)
{
    struct ks_value v;
    store_rdlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), type, 0, &v);
    if (f >= 0) resp_int(&c->out, f ? (long long)ks_obj_len(type, v.obj) : 0);
    store_unlock(srv->store);
}

void cmd_hlen(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    card(srv, c, KV_HASH);
}

void cmd_hstrlen(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    struct ks_value v;
    store_rdlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_HASH, 0, &v);
    if (f >= 0) {
        struct dent *e = f ? dict_find(v.obj, A(2), L(2)) : NULL;
        resp_int(&c->out, e ? (long long)e->vlen : 0);
    }
    store_unlock(srv->store);
}

/* HGETALL (keys and values), HKEYS, HVALS, SMEMBERS (keys). */
static void dict_dump(struct server *srv, struct client *c, int type, int keys, int vals)
{
    struct ks_value v;
    store_rdlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), type, 0, &v);
    if (f == 0) resp_array(&c->out, 0);
    if (f > 0) {
        const struct dict *d = v.obj;
        resp_array(&c->out, d->n * (size_t)(keys + vals));
        size_t pos = 0;
        for (struct dent *e = dict_next(d, &pos, NULL); e; e = dict_next(d, &pos, e)) {
            if (keys) resp_bulk(&c->out, e->data, e->klen);
            if (vals) resp_bulk(&c->out, e->data + e->klen, e->vlen);
        }
    }
    store_unlock(srv->store);
}

void cmd_hgetall(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    dict_dump(srv, c, KV_HASH, 1, 1);
}

void cmd_hkeys(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    dict_dump(srv, c, KV_HASH, 1, 0);
}

void cmd_hvals(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    dict_dump(srv, c, KV_HASH, 0, 1);
}

/* HEXISTS and SISMEMBER. */
static void member_of(struct server *srv, struct client *c, int type)
{
    struct ks_value v;
    store_rdlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), type, 0, &v);
    if (f >= 0) resp_int(&c->out, f && dict_find(v.obj, A(2), L(2)) ? 1 : 0);
    store_unlock(srv->store);
}

void cmd_hexists(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    member_of(srv, c, KV_HASH);
}

/* Set one field of a hash to text, creating the hash; 0 or -1 (replied). */
static int hash_put_text(struct server *srv, struct client *c, int found, struct dict *d,
                         const char *text, size_t n)
{
    int added;
    if (!d) {
        resp_error(&c->out, ERR_OOM);
        return -1;
    }
    if (!dict_put(d, A(2), L(2), text, n, &added)) {
        if (!found) dict_free(d);
        resp_error(&c->out, ERR_OOM);
        return -1;
    }
    if (!found) return attach(srv, c, KV_HASH, d);
    store_touch(srv->store, A(1), L(1));
    return 0;
}

void cmd_hincrby(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    long long delta, cur = 0;
    if (parse_ll(A(3), L(3), &delta) != 0) return resp_error(&c->out, ERR_NOT_INT);
    struct ks_value v;
    store_wrlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_HASH, 1, &v);
    if (f < 0) goto out;
    struct dict *d = f ? v.obj : dict_new();
    struct dent *e = f ? dict_find(d, A(2), L(2)) : NULL;
    if (e && parse_ll((const char *)e->data + e->klen, e->vlen, &cur) != 0) {
        resp_error(&c->out, "ERR hash value is not an integer");
        goto out;
    }
    if ((delta < 0 && cur < 0 && delta < LLONG_MIN - cur) ||
        (delta > 0 && cur > 0 && delta > LLONG_MAX - cur)) {
        if (!f) dict_free(d);
        resp_error(&c->out, "ERR increment or decrement would overflow");
        goto out;
    }
    cur += delta;
    char b[32];
    int n = snprintf(b, sizeof(b), "%lld", cur);
    if (hash_put_text(srv, c, f, d, b, (size_t)n) == 0) resp_int(&c->out, cur);
out:
    store_unlock(srv->store);
}

/* Redis's long double text for INCRBYFLOAT and HINCRBYFLOAT: %.17Lf with
 * trailing zeros (and a trailing point) removed. */
int format_long_double(char *buf, size_t n, long double x)
{
    int len = snprintf(buf, n, "%.17Lf", x);
    if (len < 0 || (size_t)len >= n) return -1;
    if (strchr(buf, '.')) {
        while (len > 0 && buf[len - 1] == '0')
            len--;
        if (len > 0 && buf[len - 1] == '.') len--;
        buf[len] = 0;
    }
    if (len == 2 && strcmp(buf, "-0") == 0) {
        buf[0] = '0';
        buf[1] = 0;
        len = 1;
    }
    return len;
}

/* A long double from an argument or a stored value (Redis's
 * string2ld): 0 or -1. */
int parse_long_double(const char *s, size_t n, long double *out)
{
    char b[5120];
    if (n == 0 || n >= sizeof(b)) return -1;
    memcpy(b, s, n);
    b[n] = 0;
    if (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r' || b[0] == '\v' || b[0] == '\f')
        return -1;
    char *end;
    errno = 0;
    long double v = strtold(b, &end);
    if (end != b + n || errno == ERANGE || isnan(v)) return -1;
    *out = v;
    return 0;
}

void cmd_hincrbyfloat(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    long double delta, cur = 0;
    if (parse_long_double(A(3), L(3), &delta) != 0) return resp_error(&c->out, ERR_NOT_FLOAT);
    if (isinf(delta)) return resp_error(&c->out, "ERR value is NaN or Infinity");
    struct ks_value v;
    store_wrlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_HASH, 1, &v);
    if (f < 0) goto out;
    struct dict *d = f ? v.obj : dict_new();
    struct dent *e = f ? dict_find(d, A(2), L(2)) : NULL;
    if (e && parse_long_double((const char *)e->data + e->klen, e->vlen, &cur) != 0) {
        resp_error(&c->out, "ERR hash value is not a float");
        goto out;
    }
    cur += delta;
    char b[5200];
    int n;
    if (isnan(cur) || isinf(cur) || (n = format_long_double(b, sizeof(b), cur)) < 0) {
        if (!f) dict_free(d);
        resp_error(&c->out, "ERR increment would produce NaN or Infinity");
        goto out;
    }
    if (hash_put_text(srv, c, f, d, b, (size_t)n) == 0) resp_bulk(&c->out, b, (size_t)n);
out:
    store_unlock(srv->store);
}

/* ---- sets ---- */

void cmd_sadd(struct server *srv, struct client *c, size_t argc)
{
    struct ks_value v;
    store_wrlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_SET, 1, &v);
    if (f < 0) goto out;
    struct dict *d = f ? v.obj : dict_new();
    long long added = 0;
    int oom = !d;
    for (size_t i = 2; i < argc && !oom; i++) {
        int a = 0;
        if (dict_find(d, A(i), L(i))) continue;
        oom = !dict_put(d, A(i), L(i), NULL, 0, &a);
        added += a;
    }
    if (!f && d) {
        if (d->n == 0)
            dict_free(d);
        else if (attach(srv, c, KV_SET, d) != 0)
            goto out;
    } else if (added) {
        store_touch(srv->store, A(1), L(1));
    }
    if (oom)
        resp_error(&c->out, ERR_OOM);
    else
        resp_int(&c->out, added);
out:
    store_unlock(srv->store);
}

void cmd_srem(struct server *srv, struct client *c, size_t argc)
{
    struct ks_value v;
    store_wrlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_SET, 1, &v);
    if (f >= 0) {
        long long n = 0;
        for (size_t i = 2; f && i < argc; i++)
            n += dict_del(v.obj, A(i), L(i));
        if (n) changed(srv, c, KV_SET, v.obj);
        resp_int(&c->out, n);
    }
    store_unlock(srv->store);
}

void cmd_spop(struct server *srv, struct client *c, size_t argc)
{
    long long count = 1;
    int has_count = pop_count(c, argc, "spop", &count);
    if (has_count < 0) return;
    struct ks_value v;
    store_wrlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_SET, 1, &v);
    if (f < 0) goto out;
    if (!f) {
        if (has_count)
            resp_array(&c->out, 0);
        else
            resp_null(&c->out);
        goto out;
    }
    struct dict *d = v.obj;
    size_t n = (size_t)count < d->n ? (size_t)count : d->n;
    if (has_count) resp_array(&c->out, n);
    for (size_t i = 0; i < n; i++) {
        struct dent *e = dict_random(d, ks_random());
        resp_bulk(&c->out, e->data, e->klen);
        dict_del(d, e->data, e->klen);
    }
    if (n) changed(srv, c, KV_SET, d);
out:
    store_unlock(srv->store);
}

void cmd_srandmember(struct server *srv, struct client *c, size_t argc)
{
    long long count = 1;
    if (argc > 3) return wrong_args(c, "srandmember");
    if (argc == 3 && parse_ll(A(2), L(2), &count) != 0) return resp_error(&c->out, ERR_NOT_INT);
    struct ks_value v;
    store_rdlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_SET, 0, &v);
    if (f < 0) goto out;
    if (!f) {
        if (argc == 3)
            resp_array(&c->out, 0);
        else
            resp_null(&c->out);
        goto out;
    }
    struct dict *d = v.obj;
    if (argc == 2) {
        struct dent *e = dict_random(d, ks_random());
        resp_bulk(&c->out, e->data, e->klen);
    } else if (count < -LLONG_MAX / 2) {
        resp_error(&c->out, "ERR value is out of range");
    } else if (count < 0) {
        /* Negative: that many picks, repeats allowed. */
        unsigned long long n = (unsigned long long)-count;
        resp_array(&c->out, (size_t)n);
        for (unsigned long long i = 0; i < n && !c->out.failed; i++) {
            struct dent *e = dict_random(d, ks_random());
            resp_bulk(&c->out, e->data, e->klen);
        }
    } else {
        /* Positive: distinct members, walking from a random place. */
        size_t n = (size_t)count < d->n ? (size_t)count : d->n;
        resp_array(&c->out, n);
        size_t pos = (size_t)(ks_random() & d->mask), done = 0;
        struct dent *e = dict_next(d, &pos, NULL);
        while (done < n) {
            if (!e) {
                pos = 0;
                e = dict_next(d, &pos, NULL);
            }
            resp_bulk(&c->out, e->data, e->klen);
            done++;
            e = dict_next(d, &pos, e);
        }
    }
out:
    store_unlock(srv->store);
}

void cmd_scard(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    card(srv, c, KV_SET);
}

void cmd_smembers(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    dict_dump(srv, c, KV_SET, 1, 0);
}

void cmd_sismember(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    member_of(srv, c, KV_SET);
}

void cmd_smismember(struct server *srv, struct client *c, size_t argc)
{
    struct ks_value v;
    store_rdlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_SET, 0, &v);
    if (f >= 0) {
        resp_array(&c->out, argc - 2);
        for (size_t i = 2; i < argc; i++)
            resp_int(&c->out, f && dict_find(v.obj, A(i), L(i)) ? 1 : 0);
    }
    store_unlock(srv->store);
}

/* ---- sorted sets ---- */

#define ZADD_NX   1
#define ZADD_XX   2
#define ZADD_GT   4
#define ZADD_LT   8
#define ZADD_CH   16
#define ZADD_INCR 32

/* ZADD and ZINCRBY. `flags` from the options, pairs from argument `first`. */
static void zadd_generic(struct server *srv, struct client *c, size_t argc, size_t first, int flags)
{
    size_t pairs = (argc - first) / 2;
    if ((flags & ZADD_NX) && (flags & ZADD_XX))
        return resp_error(&c->out, "ERR XX and NX options at the same time are not compatible");
    if (((flags & ZADD_GT) && (flags & ZADD_NX)) || ((flags & ZADD_LT) && (flags & ZADD_NX)) ||
        ((flags & ZADD_GT) && (flags & ZADD_LT)))
        return resp_error(&c->out,
                          "ERR GT, LT, and/or NX options at the same time are not compatible");
    if ((flags & ZADD_INCR) && pairs > 1)
        return resp_error(&c->out, "ERR INCR option supports a single increment-element pair");
    for (size_t i = first; i < argc; i += 2) {
        double d;
        if (parse_double(A(i), L(i), &d) != 0) return resp_error(&c->out, ERR_NOT_FLOAT);
    }
    struct ks_value v;
    store_wrlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_ZSET, 1, &v);
    if (f < 0) goto out;
    if (!f && (flags & ZADD_XX)) {
        if (flags & ZADD_INCR)
            resp_null(&c->out);
        else
            resp_int(&c->out, 0);
        goto out;
    }
    struct zset *z = f ? v.obj : zset_new();
    if (!z) {
        resp_error(&c->out, ERR_OOM);
        goto out;
    }
    long long added = 0, updated = 0;
    int oom = 0, nan = 0, skipped = 0;
    double result = 0;
    for (size_t i = first; i < argc && !oom; i += 2) {
        double score;
        parse_double(A(i), L(i), &score);
        const char *m = A(i + 1);
        size_t ml = L(i + 1);
        struct dent *e = dict_find(&z->dict, m, ml);
        if (e) {
            if (flags & ZADD_NX) {
                skipped = 1;
                continue;
            }
            if (flags & ZADD_INCR) {
                score += e->score;
                if (isnan(score)) {
                    nan = 1;
                    break;
                }
            }
            if (((flags & ZADD_GT) && score <= e->score) ||
                ((flags & ZADD_LT) && score >= e->score)) {
                skipped = 1;
                continue;
            }
            result = score;
            if (score != e->score) {
                int a;
                oom = zset_put(z, m, ml, score, &a) != 0;
                updated += !oom;
            }
        } else {
            if (flags & ZADD_XX) {
                skipped = 1;
                continue;
            }
            int a;
            oom = zset_put(z, m, ml, score, &a) != 0;
            added += !oom;
            result = score;
        }
    }
    if (!f) {
        if (zset_len(z) == 0) {
            zset_free(z);
        } else if (attach(srv, c, KV_ZSET, z) != 0) {
            goto out;
        }
    } else if (added || updated) {
        store_touch(srv->store, A(1), L(1));
    }
    if (nan)
        resp_error(&c->out, "ERR resulting score is not a number (NaN)");
    else if (oom)
        resp_error(&c->out, ERR_OOM);
    else if (flags & ZADD_INCR)
        skipped ? resp_null(&c->out) : reply_double(c, result);
    else
        resp_int(&c->out, added + ((flags & ZADD_CH) ? updated : 0));
out:
    store_unlock(srv->store);
}

void cmd_zadd(struct server *srv, struct client *c, size_t argc)
{
    int flags = 0;
    size_t i = 2;
    for (; i < argc; i++) {
        if (arg_is(A(i), L(i), "nx"))
            flags |= ZADD_NX;
        else if (arg_is(A(i), L(i), "xx"))
            flags |= ZADD_XX;
        else if (arg_is(A(i), L(i), "gt"))
            flags |= ZADD_GT;
        else if (arg_is(A(i), L(i), "lt"))
            flags |= ZADD_LT;
        else if (arg_is(A(i), L(i), "ch"))
            flags |= ZADD_CH;
        else if (arg_is(A(i), L(i), "incr"))
            flags |= ZADD_INCR;
        else
            break;
    }
    if (i == argc || (argc - i) % 2 != 0) return resp_error(&c->out, ERR_SYNTAX);
    zadd_generic(srv, c, argc, i, flags);
}

void cmd_zincrby(struct server *srv, struct client *c, size_t argc)
{
    zadd_generic(srv, c, argc, 2, ZADD_INCR);
}

void cmd_zrem(struct server *srv, struct client *c, size_t argc)
{
    struct ks_value v;
    store_wrlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_ZSET, 1, &v);
    if (f >= 0) {
        long long n = 0;
        for (size_t i = 2; f && i < argc; i++)
            n += zset_del(v.obj, A(i), L(i));
        if (n) changed(srv, c, KV_ZSET, v.obj);
        resp_int(&c->out, n);
    }
    store_unlock(srv->store);
}

void cmd_zscore(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    struct ks_value v;
    store_rdlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_ZSET, 0, &v);
    if (f >= 0) {
        struct dent *e = f ? dict_find(&((struct zset *)v.obj)->dict, A(2), L(2)) : NULL;
        if (e)
            reply_double(c, e->score);
        else
            resp_null(&c->out);
    }
    store_unlock(srv->store);
}

void cmd_zmscore(struct server *srv, struct client *c, size_t argc)
{
    struct ks_value v;
    store_rdlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_ZSET, 0, &v);
    if (f >= 0) {
        resp_array(&c->out, argc - 2);
        for (size_t i = 2; i < argc; i++) {
            struct dent *e = f ? dict_find(&((struct zset *)v.obj)->dict, A(i), L(i)) : NULL;
            if (e)
                reply_double(c, e->score);
            else
                resp_null(&c->out);
        }
    }
    store_unlock(srv->store);
}

void cmd_zcard(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    card(srv, c, KV_ZSET);
}

/* ZRANGE by index (optionally REV) and ZREVRANGE. */
static void zrange_index(struct server *srv, struct client *c, long long start, long long end,
                         int rev, int withscores)
{
    struct ks_value v;
    store_rdlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_ZSET, 0, &v);
    size_t s, e;
    if (f == 0 || (f > 0 && !clamp_range(start, end, zset_len(v.obj), &s, &e))) {
        resp_array(&c->out, 0);
    } else if (f > 0) {
        struct zset *z = v.obj;
        size_t n = e - s + 1, len = zset_len(z);
        resp_array(&c->out, n * (withscores ? 2 : 1));
        struct znode *x = zset_at(z, rev ? len - 1 - s : s);
        for (size_t i = 0; i < n && x; i++) {
            resp_bulk(&c->out, x->e->data, x->e->klen);
            if (withscores) reply_double(c, x->e->score);
            x = rev ? x->back : x->lv[0].fwd;
        }
    }
    store_unlock(srv->store);
}

/* A score-range bound: "(x" exclusive, "-inf", "+inf". 0 or -1. */
static int parse_bound(const char *s, size_t n, double *d, int *excl)
{
    *excl = n > 0 && s[0] == '(';
    if (*excl) {
        s++;
        n--;
    }
    return parse_double(s, n, d);
}

/* Members with a score in [min, max] (bounds exclusive when asked),
 * ascending or (rev) descending, after skipping `offset`, at most `limit`
 * (negative: all): ZRANGE BYSCORE, ZRANGEBYSCORE, ZREVRANGEBYSCORE. */
static void zrange_score(struct server *srv, struct client *c, double min, int minx, double max,
                         int maxx, int rev, long long offset, long long limit, int withscores)
{
    struct ks_value v;
    store_rdlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_ZSET, 0, &v);
    /* A negative offset selects nothing, as in Redis. */
    if (f == 0 || (f > 0 && offset < 0)) resp_array(&c->out, 0);
    if (f > 0 && offset >= 0) {
        const struct zset *z = v.obj;
        const struct znode *p = z->head;
        if (!rev) {
            /* The last node below the range, then the first in it. */
            for (int i = z->level - 1; i >= 0; i--)
                while (p->lv[i].fwd &&
                       (minx ? p->lv[i].fwd->e->score <= min : p->lv[i].fwd->e->score < min))
                    p = p->lv[i].fwd;
            p = p->lv[0].fwd;
        } else {
            /* The last node in the range (not above max). */
            for (int i = z->level - 1; i >= 0; i--)
                while (p->lv[i].fwd &&
                       (maxx ? p->lv[i].fwd->e->score < max : p->lv[i].fwd->e->score <= max))
                    p = p->lv[i].fwd;
            if (p == z->head) p = NULL;
        }
        for (; p && offset > 0; offset--)
            p = rev ? p->back : p->lv[0].fwd;
        /* The reply's length is known only at the end: build it aside. */
        struct kbuf items = {0};
        size_t n = 0;
        for (; p && limit != 0; limit--) {
            double sc = p->e->score;
            if (!rev && (maxx ? sc >= max : sc > max)) break;
            if (rev && (minx ? sc <= min : sc < min)) break;
            resp_bulk(&items, p->e->data, p->e->klen);
            if (withscores) {
                char b[64];
                int bl = format_double(b, sizeof(b), sc);
                resp_bulk(&items, b, (size_t)bl);
            }
            n++;
            p = rev ? p->back : p->lv[0].fwd;
        }
        if (items.failed) {
            resp_error(&c->out, ERR_OOM);
        } else {
            resp_array(&c->out, n * (withscores ? 2 : 1));
            if (items.len) kbuf_append(&c->out, items.p, items.len);
        }
        kbuf_free(&items);
    }
    store_unlock(srv->store);
}

/* ZRANGE key start stop [BYSCORE] [REV] [LIMIT offset count] [WITHSCORES];
 * BYLEX is not supported. */
void cmd_zrange(struct server *srv, struct client *c, size_t argc)
{
    int rev = 0, withscores = 0, byscore = 0, has_limit = 0;
    long long offset = 0, limit = -1;
    for (size_t i = 4; i < argc; i++) {
        if (arg_is(A(i), L(i), "withscores")) {
            withscores = 1;
        } else if (arg_is(A(i), L(i), "rev")) {
            rev = 1;
        } else if (arg_is(A(i), L(i), "byscore")) {
            byscore = 1;
        } else if (arg_is(A(i), L(i), "limit") && i + 2 < argc) {
            if (parse_ll(A(i + 1), L(i + 1), &offset) != 0 ||
                parse_ll(A(i + 2), L(i + 2), &limit) != 0)
                return resp_error(&c->out, ERR_NOT_INT);
            has_limit = 1;
            i += 2;
        } else {
            return resp_error(&c->out, ERR_SYNTAX);
        }
    }
    if (has_limit && !byscore)
        return resp_error(&c->out, "ERR syntax error, LIMIT is only supported in combination "
                                   "with either BYSCORE or BYLEX");
    if (byscore) {
        double a, b;
        int ax, bx;
        if (parse_bound(A(2), L(2), &a, &ax) != 0 || parse_bound(A(3), L(3), &b, &bx) != 0)
            return resp_error(&c->out, "ERR min or max is not a float");
        /* With REV the first bound is the maximum. */
        if (rev) return zrange_score(srv, c, b, bx, a, ax, 1, offset, limit, withscores);
        return zrange_score(srv, c, a, ax, b, bx, 0, offset, limit, withscores);
    }
    long long start, end;
    if (parse_ll(A(2), L(2), &start) != 0 || parse_ll(A(3), L(3), &end) != 0)
        return resp_error(&c->out, ERR_NOT_INT);
    zrange_index(srv, c, start, end, rev, withscores);
}

/* ZRANGEBYSCORE key min max / ZREVRANGEBYSCORE key max min, each with
 * [WITHSCORES] [LIMIT offset count]. */
static void zrangebyscore_generic(struct server *srv, struct client *c, size_t argc, int rev)
{
    int withscores = 0;
    long long offset = 0, limit = -1;
    for (size_t i = 4; i < argc; i++) {
        if (arg_is(A(i), L(i), "withscores")) {
            withscores = 1;
        } else if (arg_is(A(i), L(i), "limit") && i + 2 < argc) {
            if (parse_ll(A(i + 1), L(i + 1), &offset) != 0 ||
                parse_ll(A(i + 2), L(i + 2), &limit) != 0)
                return resp_error(&c->out, ERR_NOT_INT);
            i += 2;
        } else {
            return resp_error(&c->out, ERR_SYNTAX);
        }
    }
    double a, b;
    int ax, bx;
    if (parse_bound(A(2), L(2), &a, &ax) != 0 || parse_bound(A(3), L(3), &b, &bx) != 0)
        return resp_error(&c->out, "ERR min or max is not a float");
    if (rev) return zrange_score(srv, c, b, bx, a, ax, 1, offset, limit, withscores);
    zrange_score(srv, c, a, ax, b, bx, 0, offset, limit, withscores);
}

void cmd_zrangebyscore(struct server *srv, struct client *c, size_t argc)
{
    zrangebyscore_generic(srv, c, argc, 0);
}

void cmd_zrevrangebyscore(struct server *srv, struct client *c, size_t argc)
{
    zrangebyscore_generic(srv, c, argc, 1);
}

void cmd_zrevrange(struct server *srv, struct client *c, size_t argc)
{
    int withscores = 0;
    if (argc == 5) {
        if (!arg_is(A(4), L(4), "withscores")) return resp_error(&c->out, ERR_SYNTAX);
        withscores = 1;
    } else if (argc > 5) {
        return resp_error(&c->out, ERR_SYNTAX);
    }
    long long start, end;
    if (parse_ll(A(2), L(2), &start) != 0 || parse_ll(A(3), L(3), &end) != 0)
        return resp_error(&c->out, ERR_NOT_INT);
    zrange_index(srv, c, start, end, 1, withscores);
}

static void zrank_generic(struct server *srv, struct client *c, int rev)
{
    struct ks_value v;
    store_rdlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_ZSET, 0, &v);
    if (f >= 0) {
        long long r = f ? zset_rank(v.obj, A(2), L(2)) : -1;
        if (r < 0)
            resp_null(&c->out);
        else
            resp_int(&c->out, rev ? (long long)zset_len(v.obj) - 1 - r : r);
    }
    store_unlock(srv->store);
}

void cmd_zrank(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    zrank_generic(srv, c, 0);
}

void cmd_zrevrank(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    zrank_generic(srv, c, 1);
}

static void zpop(struct server *srv, struct client *c, size_t argc, int max)
{
    long long count = 1;
    int has_count = pop_count(c, argc, max ? "zpopmax" : "zpopmin", &count);
    if (has_count < 0) return;
    struct ks_value v;
    store_wrlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_ZSET, 1, &v);
    if (f < 0) goto out;
    if (!f) {
        resp_array(&c->out, 0);
        goto out;
    }
    struct zset *z = v.obj;
    size_t n = (size_t)count < zset_len(z) ? (size_t)count : zset_len(z);
    resp_array(&c->out, 2 * n);
    for (size_t i = 0; i < n; i++) {
        struct znode *x = max ? z->tail : z->head->lv[0].fwd;
        resp_bulk(&c->out, x->e->data, x->e->klen);
        reply_double(c, x->e->score);
        zset_del(z, x->e->data, x->e->klen);
    }
    if (n) changed(srv, c, KV_ZSET, z);
out:
    store_unlock(srv->store);
}

void cmd_zpopmin(struct server *srv, struct client *c, size_t argc)
{
    zpop(srv, c, argc, 0);
}

void cmd_zpopmax(struct server *srv, struct client *c, size_t argc)
{
    zpop(srv, c, argc, 1);
}

void cmd_zcount(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    double min, max;
    int minx, maxx;
    if (parse_bound(A(2), L(2), &min, &minx) != 0 || parse_bound(A(3), L(3), &max, &maxx) != 0)
        return resp_error(&c->out, "ERR min or max is not a float");
    struct ks_value v;
    store_rdlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_ZSET, 0, &v);
    if (f >= 0) {
        long long n = 0;
        if (f) {
            const struct zset *z = v.obj;
            const struct znode *p = z->head;
            /* Descend to the last node below the range. */
            for (int i = z->level - 1; i >= 0; i--) {
                while (p->lv[i].fwd &&
                       (minx ? p->lv[i].fwd->e->score <= min : p->lv[i].fwd->e->score < min))
                    p = p->lv[i].fwd;
            }
            for (p = p->lv[0].fwd; p; p = p->lv[0].fwd) {
                double s = p->e->score;
                if (maxx ? s >= max : s > max) break;
                n++;
            }
        }
        resp_int(&c->out, n);
    }
    store_unlock(srv->store);
}
