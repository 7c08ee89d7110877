/*
 * commands.c - the command table and every command but INFO.
 *
 * A handler finds its arguments in c->argv / c->argl (argv[0] is the command
 * name; arguments are binary-safe and not NUL-terminated) and appends exactly
 * one reply to c->out. Reads take the store's read lock, writes its write
 * lock; a value is copied into the reply while the lock is still held.
 */
#include "server.h"
#include "glob.h"

#include <ctype.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define A(i) (c->argv[i])
#define L(i) (c->argl[i])

typedef void (*cmd_fn)(struct server *srv, struct client *c, size_t argc);

struct command {
    const char *name;
    int arity; /* count: exact argc when > 0, minimum argc when < 0 */
    cmd_fn fn;
};

static const char ERR_SYNTAX[] = "ERR syntax error";
static const char ERR_NOT_INT[] = "ERR value is not an integer or out of range";
static const char ERR_OOM[] = "OOM out of memory";

/* Case-insensitive compare of an argument with a NUL-terminated word. */
static int arg_is(const char *a, size_t alen, const char *word)
{
    return strlen(word) == alen && strncasecmp(a, word, alen) == 0;
}

/* Strict decimal integer, as Redis accepts it: optional '-', no leading
 * zeros, no spaces, within long long. */
static int parse_ll(const char *s, size_t n, long long *out)
{
    if (n == 0 || n > 20) return -1;
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (n == 1) return -1;
    }
    if (s[i] == '0' && n > i + 1) return -1;
    unsigned long long v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) return -1;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX) return -1;
        *out = (long long)v;
    }
    return 0;
}

static int parse_ull(const char *s, size_t n, unsigned long long *out)
{
    if (n == 0 || n > 20) return -1;
    unsigned long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static void wrong_args(struct client *c, const char *name)
{
    resp_errorf(&c->out, "ERR wrong number of arguments for '%s' command", name);
}

/* ---- connection ---- */

static void cmd_ping(struct server *srv, struct client *c, size_t argc)
{
    (void)srv;
    if (argc > 2) return wrong_args(c, "ping");
    if (argc == 2)
        resp_bulk(&c->out, A(1), L(1));
    else
        resp_simple(&c->out, "PONG");
}

static void cmd_echo(struct server *srv, struct client *c, size_t argc)
{
    (void)srv;
    (void)argc;
    resp_bulk(&c->out, A(1), L(1));
}

static void cmd_quit(struct server *srv, struct client *c, size_t argc)
{
    (void)srv;
    (void)argc;
    resp_ok(&c->out);
    c->closing = 1;
}

static void cmd_shutdown(struct server *srv, struct client *c, size_t argc)
{
    (void)srv;
    for (size_t i = 1; i < argc; i++) {
        if (!arg_is(A(i), L(i), "nosave") && !arg_is(A(i), L(i), "save") &&
            !arg_is(A(i), L(i), "now") && !arg_is(A(i), L(i), "force"))
            return resp_error(&c->out, ERR_SYNTAX);
    }
    /* The main thread waits for this signal and shuts everything down. */
    c->closing = 1;
    kill(getpid(), SIGTERM);
}

static void cmd_select(struct server *srv, struct client *c, size_t argc)
{
    (void)srv;
    (void)argc;
    long long db;
    if (parse_ll(A(1), L(1), &db) != 0) return resp_error(&c->out, ERR_NOT_INT);
    if (db != 0) return resp_error(&c->out, "ERR DB index is out of range");
    resp_ok(&c->out);
}

static void cmd_client(struct server *srv, struct client *c, size_t argc)
{
    (void)srv;
    if (arg_is(A(1), L(1), "setname") && argc == 3) {
        for (size_t i = 0; i < L(2); i++) {
            unsigned char ch = (unsigned char)A(2)[i];
            if (ch <= ' ' || ch > '~')
                return resp_error(&c->out, "ERR Client names cannot contain spaces, newlines "
                                           "or special characters.");
        }
        char *name = NULL;
        if (L(2)) {
            name = malloc(L(2) + 1);
            if (!name) return resp_error(&c->out, ERR_OOM);
            memcpy(name, A(2), L(2));
            name[L(2)] = 0;
        }
        free(c->name);
        c->name = name;
        return resp_ok(&c->out);
    }
    if (arg_is(A(1), L(1), "getname") && argc == 2) {
        if (c->name)
            resp_bulk(&c->out, c->name, strlen(c->name));
        else
            resp_null(&c->out);
        return;
    }
    if (arg_is(A(1), L(1), "id") && argc == 2) return resp_int(&c->out, (long long)c->id);
    if (arg_is(A(1), L(1), "setinfo") && argc == 4) return resp_ok(&c->out);
    resp_errorf(&c->out,
                "ERR unknown subcommand or wrong number of arguments for '%.*s'. "
                "Try CLIENT HELP.",
                (int)(L(1) > 64 ? 64 : L(1)), A(1));
}

static void cmd_command(struct server *srv, struct client *c, size_t argc)
{
    (void)srv;
    if (argc >= 2 && arg_is(A(1), L(1), "count")) return resp_int(&c->out, 0);
    /* COMMAND, COMMAND DOCS, COMMAND INFO: nothing to describe. */
    resp_array(&c->out, 0);
}

/* The few parameters clients ask about (redis-benchmark reads the first two). */
static const char *const config_params[][2] = {
    {"save", ""},
    {"appendonly", "no"},
    {"databases", "1"},
    {"maxmemory", "0"},
};

static void config_get(struct client *c, size_t argc)
{
    const size_t np = sizeof(config_params) / sizeof(config_params[0]);
    unsigned char hit[sizeof(config_params) / sizeof(config_params[0])] = {0};
    size_t n = 0;
    for (size_t i = 2; i < argc; i++) {
        for (size_t j = 0; j < np; j++) {
            if (!hit[j] &&
                glob_match(A(i), L(i), config_params[j][0], strlen(config_params[j][0]))) {
                hit[j] = 1;
                n++;
            }
        }
    }
    resp_array(&c->out, 2 * n);
    for (size_t j = 0; j < np; j++) {
        if (hit[j]) {
            resp_bulk(&c->out, config_params[j][0], strlen(config_params[j][0]));
            resp_bulk(&c->out, config_params[j][1], strlen(config_params[j][1]));
        }
    }
}

static void cmd_config(struct server *srv, struct client *c, size_t argc)
{
    (void)srv;
    if (arg_is(A(1), L(1), "get") && argc >= 3) return config_get(c, argc);
    if (arg_is(A(1), L(1), "resetstat") && argc == 2) return resp_ok(&c->out);
    if (arg_is(A(1), L(1), "set") && argc >= 4)
        return resp_errorf(&c->out, "ERR Unsupported CONFIG parameter: %.*s",
                           (int)(L(2) > 64 ? 64 : L(2)), A(2));
    resp_errorf(&c->out,
                "ERR unknown subcommand or wrong number of arguments for '%.*s'. "
                "Try CONFIG HELP.",
                (int)(L(1) > 64 ? 64 : L(1)), A(1));
}

static void cmd_time(struct server *srv, struct client *c, size_t argc)
{
    (void)srv;
    (void)argc;
    struct timespec ts;
    char b[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    resp_array(&c->out, 2);
    int n = snprintf(b, sizeof(b), "%lld", (long long)ts.tv_sec);
    resp_bulk(&c->out, b, (size_t)n);
    n = snprintf(b, sizeof(b), "%ld", ts.tv_nsec / 1000);
    resp_bulk(&c->out, b, (size_t)n);
}

static void cmd_info(struct server *srv, struct client *c, size_t argc)
{
    if (argc == 1) return info_reply(srv, c, "", 0);
    info_reply(srv, c, A(1), L(1));
}

/* ---- strings ---- */

/* After a read found an expired key, remove it under the write lock. */
static void expire_lazily(struct server *srv, const char *key, size_t klen)
{
    store_wrlock(srv->store);
    store_expire_if_due(srv->store, key, klen, store_now_ms());
    store_unlock(srv->store);
}

static void cmd_get(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    struct kv_value v;
    store_rdlock(srv->store);
    int rc = store_get(srv->store, A(1), L(1), store_now_ms(), &v);
    if (rc == ENGINE_OK)
        resp_bulk(&c->out, v.data, v.len);
    else
        resp_null(&c->out);
    store_unlock(srv->store);
    if (rc == STORE_EXPIRED) expire_lazily(srv, A(1), L(1));
}

/* Milliseconds from an EX/PX/EXAT/PXAT argument; -1 when invalid. */
static int64_t expire_at(const char *s, size_t n, int unit_ms, int absolute, int64_t now)
{
    long long v;
    if (parse_ll(s, n, &v) != 0 || v <= 0 || v > LLONG_MAX / 1000) return -1;
    int64_t ms = unit_ms ? v : v * 1000;
    if (absolute) return ms;
    if (ms > INT64_MAX - now) return -1;
    return now + ms;
}

static void cmd_set(struct server *srv, struct client *c, size_t argc)
{
    int nx = 0, xx = 0, get = 0, keepttl = 0, have_exp = 0;
    int64_t now = store_now_ms(), exp = 0;
    for (size_t i = 3; i < argc; i++) {
        const char *o = A(i);
        size_t ol = L(i);
        if (arg_is(o, ol, "nx") && !xx) {
            nx = 1;
        } else if (arg_is(o, ol, "xx") && !nx) {
            xx = 1;
        } else if (arg_is(o, ol, "get")) {
            get = 1;
        } else if (arg_is(o, ol, "keepttl") && !have_exp) {
            keepttl = 1;
        } else if ((arg_is(o, ol, "ex") || arg_is(o, ol, "px") || arg_is(o, ol, "exat") ||
                    arg_is(o, ol, "pxat")) &&
                   !have_exp && !keepttl && i + 1 < argc) {
            int unit_ms = tolower((unsigned char)o[0]) == 'p';
            int absolute = ol == 4;
            exp = expire_at(A(i + 1), L(i + 1), unit_ms, absolute, now);
            if (exp < 0) return resp_error(&c->out, "ERR invalid expire time in 'set' command");
            have_exp = 1;
            i++;
        } else {
            return resp_error(&c->out, ERR_SYNTAX);
        }
    }

    store_wrlock(srv->store);
    struct kv_value old;
    int exists = store_get(srv->store, A(1), L(1), now, &old) == ENGINE_OK;
    size_t mark = c->out.len;
    if (get) {
        if (exists)
            resp_bulk(&c->out, old.data, old.len);
        else
            resp_null(&c->out);
    }
    if ((nx && exists) || (xx && !exists)) {
        if (!get) resp_null(&c->out);
        store_unlock(srv->store);
        return;
    }
    if (keepttl && exists) exp = old.expire_ms;
    int rc = store_set(srv->store, A(1), L(1), A(2), L(2), exp);
    store_unlock(srv->store);
    if (rc != ENGINE_OK) {
        c->out.len = mark;
        return resp_error(&c->out, ERR_OOM);
    }
    if (!get) resp_ok(&c->out);
}

static void cmd_del(struct server *srv, struct client *c, size_t argc)
{
    long long n = 0;
    int64_t now = store_now_ms();
    store_wrlock(srv->store);
    for (size_t i = 1; i < argc; i++)
        n += store_del(srv->store, A(i), L(i), now) == ENGINE_OK;
    store_unlock(srv->store);
    resp_int(&c->out, n);
}

static void cmd_exists(struct server *srv, struct client *c, size_t argc)
{
    long long n = 0;
    int64_t now = store_now_ms();
    struct kv_value v;
    store_rdlock(srv->store);
    for (size_t i = 1; i < argc; i++)
        n += store_get(srv->store, A(i), L(i), now, &v) == ENGINE_OK;
    store_unlock(srv->store);
    resp_int(&c->out, n);
}

static void cmd_mset(struct server *srv, struct client *c, size_t argc)
{
    if (argc % 2 == 0) return wrong_args(c, "mset");
    int rc = ENGINE_OK;
    store_wrlock(srv->store);
    for (size_t i = 1; i < argc && rc == ENGINE_OK; i += 2)
        rc = store_set(srv->store, A(i), L(i), A(i + 1), L(i + 1), 0);
    store_unlock(srv->store);
    if (rc != ENGINE_OK) return resp_error(&c->out, ERR_OOM);
    resp_ok(&c->out);
}

static void cmd_mget(struct server *srv, struct client *c, size_t argc)
{
    int64_t now = store_now_ms();
    struct kv_value v;
    resp_array(&c->out, argc - 1);
    store_rdlock(srv->store);
    for (size_t i = 1; i < argc; i++) {
        if (store_get(srv->store, A(i), L(i), now, &v) == ENGINE_OK)
            resp_bulk(&c->out, v.data, v.len);
        else
            resp_null(&c->out);
    }
    store_unlock(srv->store);
}

static void incr_by(struct server *srv, struct client *c, long long delta)
{
    int64_t now = store_now_ms();
    struct kv_value v;
    long long cur = 0;
    int64_t exp = 0;
    store_wrlock(srv->store);
    if (store_get(srv->store, A(1), L(1), now, &v) == ENGINE_OK) {
        if (parse_ll((const char *)v.data, v.len, &cur) != 0) {
            store_unlock(srv->store);
            return resp_error(&c->out, ERR_NOT_INT);
        }
        exp = v.expire_ms;
    }
    if ((delta < 0 && cur < LLONG_MIN - delta) || (delta > 0 && cur > LLONG_MAX - delta)) {
        store_unlock(srv->store);
        return resp_error(&c->out, "ERR increment or decrement would overflow");
    }
    cur += delta;
    char b[32];
    int n = snprintf(b, sizeof(b), "%lld", cur);
    int rc = store_set(srv->store, A(1), L(1), b, (size_t)n, exp);
    store_unlock(srv->store);
    if (rc != ENGINE_OK) return resp_error(&c->out, ERR_OOM);
    resp_int(&c->out, cur);
}

static void cmd_incr(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    incr_by(srv, c, 1);
}

static void cmd_decr(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    incr_by(srv, c, -1);
}

static void cmd_incrby(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    long long d;
    if (parse_ll(A(2), L(2), &d) != 0) return resp_error(&c->out, ERR_NOT_INT);
    incr_by(srv, c, d);
}

static void cmd_decrby(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    long long d;
    if (parse_ll(A(2), L(2), &d) != 0 || d == LLONG_MIN) return resp_error(&c->out, ERR_NOT_INT);
    incr_by(srv, c, -d);
}

/* ---- expiry ---- */

static void ttl_reply(struct server *srv, struct client *c, int in_ms)
{
    struct kv_value v;
    int64_t now = store_now_ms();
    long long r;
    store_rdlock(srv->store);
    if (store_get(srv->store, A(1), L(1), now, &v) != ENGINE_OK)
        r = -2;
    else if (v.expire_ms == 0)
        r = -1;
    else
        r = in_ms ? v.expire_ms - now : (v.expire_ms - now + 500) / 1000;
    store_unlock(srv->store);
    resp_int(&c->out, r);
}

static void cmd_ttl(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    ttl_reply(srv, c, 0);
}

static void cmd_pttl(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    ttl_reply(srv, c, 1);
}

/* Give the key a new expiry (0: none) keeping its value; 1 done, 0 absent. */
static void set_expiry(struct server *srv, struct client *c, int64_t exp, int only_if_volatile)
{
    struct kv_value v;
    int64_t now = store_now_ms();
    int rc = ENGINE_OK;
    long long done = 0;
    store_wrlock(srv->store);
    if (store_get(srv->store, A(1), L(1), now, &v) == ENGINE_OK &&
        (!only_if_volatile || v.expire_ms != 0)) {
        done = 1;
        if (exp != 0 && exp <= now) {
            store_del(srv->store, A(1), L(1), now);
        } else {
            /* The value points into the store: copy it before rewriting. */
            unsigned char *copy = malloc(v.len ? v.len : 1);
            if (!copy) {
                rc = ENGINE_ENOMEM;
            } else {
                memcpy(copy, v.data, v.len);
                rc = store_set(srv->store, A(1), L(1), copy, v.len, exp);
                free(copy);
            }
        }
    }
    store_unlock(srv->store);
    if (rc != ENGINE_OK) return resp_error(&c->out, ERR_OOM);
    resp_int(&c->out, done);
}

static void expire_cmd(struct server *srv, struct client *c, int unit_ms)
{
    long long v;
    if (parse_ll(A(2), L(2), &v) != 0 ||
        (!unit_ms && (v > LLONG_MAX / 1000 || v < LLONG_MIN / 1000)))
        return resp_error(&c->out, ERR_NOT_INT);
    int64_t now = store_now_ms();
    int64_t ms = unit_ms ? v : v * 1000;
    if (ms > 0 && ms > INT64_MAX - now)
        return resp_error(&c->out, "ERR invalid expire time in 'expire' command");
    int64_t exp = ms <= 0 ? now : now + ms; /* non-positive: delete now */
    set_expiry(srv, c, exp, 0);
}

static void cmd_expire(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    expire_cmd(srv, c, 0);
}

static void cmd_pexpire(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    expire_cmd(srv, c, 1);
}

static void cmd_persist(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    set_expiry(srv, c, 0, 1);
}

/* ---- keyspace ---- */

static void cmd_dbsize(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    store_rdlock(srv->store);
    size_t n = store_dbsize(srv->store);
    store_unlock(srv->store);
    resp_int(&c->out, (long long)n);
}

static void cmd_flushdb(struct server *srv, struct client *c, size_t argc)
{
    if (argc > 2 || (argc == 2 && !arg_is(A(1), L(1), "async") && !arg_is(A(1), L(1), "sync")))
        return resp_error(&c->out, ERR_SYNTAX);
    store_wrlock(srv->store);
    int rc = store_flush(srv->store);
    store_unlock(srv->store);
    if (rc != ENGINE_OK) return resp_error(&c->out, ERR_OOM);
    resp_ok(&c->out);
}

struct key_list {
    struct kbuf items;   /* the reply's elements, encoded */
    size_t n;            /* count: elements */
    const char *pat;     /* MATCH pattern; NULL: everything */
    size_t plen;         /* bytes */
    size_t visit;        /* SCAN: keys still to look at */
    int no_keys;         /* SCAN TYPE other than string: return nothing */
    unsigned char *next; /* SCAN: key to resume from, copied */
    size_t next_len;     /* bytes */
    int oom;
};

static int keys_cb(const void *key, size_t klen, const struct kv_value *v, void *arg)
{
    struct key_list *kl = arg;
    (void)v;
    if (kl->pat && !glob_match(kl->pat, kl->plen, key, klen)) return 0;
    resp_bulk(&kl->items, key, klen);
    kl->n++;
    return kl->items.failed ? 1 : 0;
}

static void cmd_keys(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    struct key_list kl = {.pat = A(1), .plen = L(1)};
    if (L(1) == 1 && A(1)[0] == '*') kl.pat = NULL;
    store_rdlock(srv->store);
    int rc = store_scan(srv->store, NULL, 0, store_now_ms(), keys_cb, &kl);
    store_unlock(srv->store);
    if (kl.items.failed || rc == ENGINE_ENOMEM) {
        kbuf_free(&kl.items);
        return resp_error(&c->out, ERR_OOM);
    }
    resp_array(&c->out, kl.n);
    kbuf_append(&c->out, kl.items.p, kl.items.len);
    kbuf_free(&kl.items);
}

static int scan_cb(const void *key, size_t klen, const struct kv_value *v, void *arg)
{
    struct key_list *kl = arg;
    if (kl->visit == 0) {
        kl->next = malloc(klen ? klen : 1);
        if (!kl->next) {
            kl->oom = 1;
            return 1;
        }
        memcpy(kl->next, key, klen);
        kl->next_len = klen;
        return 1;
    }
    kl->visit--;
    if (kl->no_keys) return 0;
    return keys_cb(key, klen, v, arg);
}

static void cmd_scan(struct server *srv, struct client *c, size_t argc)
{
    unsigned long long cursor;
    long long count = 10;
    struct key_list kl = {0};
    if (parse_ull(A(1), L(1), &cursor) != 0) return resp_error(&c->out, "ERR invalid cursor");
    for (size_t i = 2; i < argc; i += 2) {
        if (i + 1 >= argc) return resp_error(&c->out, ERR_SYNTAX);
        if (arg_is(A(i), L(i), "match")) {
            kl.pat = A(i + 1);
            kl.plen = L(i + 1);
            if (kl.plen == 1 && kl.pat[0] == '*') kl.pat = NULL;
        } else if (arg_is(A(i), L(i), "count")) {
            if (parse_ll(A(i + 1), L(i + 1), &count) != 0) return resp_error(&c->out, ERR_NOT_INT);
            if (count < 1) return resp_error(&c->out, ERR_SYNTAX);
        } else if (arg_is(A(i), L(i), "type")) {
            kl.no_keys = !arg_is(A(i + 1), L(i + 1), "string");
        } else {
            return resp_error(&c->out, ERR_SYNTAX);
        }
    }
    unsigned char *start = NULL;
    size_t slen = 0;
    if (cursor != 0) {
        int rc = store_cursor_load(srv->store, cursor, &start, &slen);
        if (rc == -2) return resp_error(&c->out, ERR_OOM);
        if (rc != 0) return resp_error(&c->out, "ERR invalid cursor");
    }
    kl.visit = (size_t)count;
    store_rdlock(srv->store);
    int rc = store_scan(srv->store, start, slen, store_now_ms(), scan_cb, &kl);
    store_unlock(srv->store);
    free(start);
    if (rc == ENGINE_ENOMEM) kl.oom = 1;

    unsigned long long next = 0;
    if (kl.next) {
        next = store_cursor_save(srv->store, kl.next, kl.next_len);
        free(kl.next);
        if (next == 0) kl.oom = 1;
    }
    if (kl.oom || kl.items.failed) {
        kbuf_free(&kl.items);
        return resp_error(&c->out, ERR_OOM);
    }
    char b[32];
    int n = snprintf(b, sizeof(b), "%llu", next);
    resp_array(&c->out, 2);
    resp_bulk(&c->out, b, (size_t)n);
    resp_array(&c->out, kl.n);
    kbuf_append(&c->out, kl.items.p, kl.items.len);
    kbuf_free(&kl.items);
}

/* ---- dispatch ---- */

static const struct command commands[] = {
    {"get", 2, cmd_get},          {"set", -3, cmd_set},           {"del", -2, cmd_del},
    {"exists", -2, cmd_exists},   {"mset", -3, cmd_mset},         {"mget", -2, cmd_mget},
    {"incr", 2, cmd_incr},        {"decr", 2, cmd_decr},          {"incrby", 3, cmd_incrby},
    {"decrby", 3, cmd_decrby},    {"ping", -1, cmd_ping},         {"echo", 2, cmd_echo},
    {"ttl", 2, cmd_ttl},          {"pttl", 2, cmd_pttl},          {"expire", 3, cmd_expire},
    {"pexpire", 3, cmd_pexpire},  {"persist", 2, cmd_persist},    {"dbsize", 1, cmd_dbsize},
    {"flushdb", -1, cmd_flushdb}, {"flushall", -1, cmd_flushdb},  {"keys", 2, cmd_keys},
    {"scan", -2, cmd_scan},       {"info", -1, cmd_info},         {"command", -1, cmd_command},
    {"client", -2, cmd_client},   {"config", -2, cmd_config},     {"select", 2, cmd_select},
    {"quit", -1, cmd_quit},       {"shutdown", -1, cmd_shutdown}, {"time", 1, cmd_time},
};

/* -ERR unknown command 'name', with args beginning with: 'a' 'b' (as Redis). */
static void unknown_command(struct client *c, size_t argc)
{
    struct kbuf m = {0};
    kbuf_append(&m, "ERR unknown command '", 21);
    kbuf_append(&m, A(0), L(0) > 128 ? 128 : L(0));
    kbuf_append(&m, "', with args beginning with: ", 29);
    size_t args_len = 0;
    for (size_t i = 1; i < argc && args_len < 128; i++) {
        size_t n = L(i) < 128 - args_len ? L(i) : 128 - args_len;
        kbuf_append(&m, "'", 1);
        kbuf_append(&m, A(i), n);
        kbuf_append(&m, "' ", 2);
        args_len += n + 3;
    }
    if (m.failed) {
        kbuf_free(&m);
        return resp_error(&c->out, "ERR unknown command");
    }
    /* Error lines cannot hold CR, LF (or, for resp_error, NUL). */
    for (size_t i = 0; i < m.len; i++)
        if (m.p[i] == '\r' || m.p[i] == '\n' || m.p[i] == '\0') m.p[i] = ' ';
    kbuf_append(&m, "", 1);
    resp_error(&c->out, m.p);
    kbuf_free(&m);
}

void command_execute(struct server *srv, struct client *c, size_t argc)
{
    const struct command *cmd = NULL;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (arg_is(A(0), L(0), commands[i].name)) {
            cmd = &commands[i];
            break;
        }
    }
    if (!cmd) return unknown_command(c, argc);
    if ((cmd->arity > 0 && argc != (size_t)cmd->arity) ||
        (cmd->arity < 0 && argc < (size_t)-cmd->arity))
        return wrong_args(c, cmd->name);
    cmd->fn(srv, c, argc);
}
