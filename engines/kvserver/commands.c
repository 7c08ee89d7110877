/*
 * commands.c - the command table, MULTI/EXEC, and the connection, server,
 * string and key commands (cmd_types.c has lists, hashes, sets, sorted sets;
 * info.c has INFO).
 *
 * A handler finds its arguments in c->argv / c->argl (argv[0] is the command
 * name; arguments are binary-safe and not NUL-terminated) and appends exactly
 * one reply to c->out. Reads take the store's read lock, writes its write
 * lock; a value is copied into the reply while the lock is still held.
 */
#include "cmd.h"
#include "glob.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef void (*cmd_fn)(struct server *srv, struct client *c, size_t argc);

struct command {
    const char *name;
    int arity; /* count: exact argc when > 0, minimum argc when < 0 */
    cmd_fn fn;
    int flags; /* CMD_* */
};

const char ERR_SYNTAX[] = "ERR syntax error";
const char ERR_NOT_INT[] = "ERR value is not an integer or out of range";
const char ERR_NOT_FLOAT[] = "ERR value is not a valid float";
const char ERR_OOM[] = "OOM out of memory";
const char ERR_WRONGTYPE[] = "WRONGTYPE Operation against a key holding the wrong kind of value";
const char ERR_POSITIVE[] = "ERR value is out of range, must be positive";

int arg_is(const char *a, size_t alen, const char *word)
{
    return strlen(word) == alen && strncasecmp(a, word, alen) == 0;
}

int parse_ll(const char *s, size_t n, long long *out)
{
    if (n == 0 || n > 20) return -1;
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return 0;
    }
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
    }
    /* The first digit is 1..9: no leading zeros, no "-0". */
    if (i == n || s[i] < '1' || s[i] > '9') return -1;
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

int parse_double(const char *s, size_t n, double *out)
{
    char b[5120];
    if (n == 0 || n >= sizeof(b) || isspace((unsigned char)s[0])) return -1;
    memcpy(b, s, n);
    b[n] = 0;
    char *end;
    errno = 0;
    double v = strtod(b, &end);
    if (end != b + n || isnan(v)) return -1;
    if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || fpclassify(v) == FP_ZERO)) return -1;
    *out = v;
    return 0;
}

int format_double(char *buf, size_t n, double d)
{
    if (isinf(d)) return snprintf(buf, n, "%s", d > 0 ? "inf" : "-inf");
    if (d == 0) return snprintf(buf, n, "0"); /* -0 too, as Redis */
    /* Integers below 2^52 exactly, as Redis 7.0's d2string. */
    if (d > -4503599627370495.0 && d < 4503599627370496.0 && d == (double)(long long)d)
        return snprintf(buf, n, "%lld", (long long)d);
    return snprintf(buf, n, "%.17g", d);
}

void reply_double(struct client *c, double d)
{
    char b[64];
    int n = format_double(b, sizeof(b), d);
    resp_bulk(&c->out, b, (size_t)n);
}

void wrong_args(struct client *c, const char *name)
{
    resp_errorf(&c->out, "ERR wrong number of arguments for '%s' command", name);
}

int lookup(struct server *srv, struct client *c, const char *key, size_t klen, int type, int write,
           struct ks_value *v)
{
    int64_t now = store_now_ms();
    int rc = store_get(srv->store, key, klen, now, v);
    if (rc == STORE_EXPIRED) {
        if (write) store_del(srv->store, key, klen, now);
        return 0;
    }
    if (rc != ENGINE_OK) return 0;
    if (v->type != type) {
        resp_error(&c->out, ERR_WRONGTYPE);
        return -1;
    }
    return 1;
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

/* The reply of a subcommand Redis does not know. */
static void unknown_subcommand(struct client *c, const char *cmd)
{
    resp_errorf(&c->out, "ERR unknown subcommand '%.*s'. Try %s HELP.",
                (int)(L(1) > 128 ? 128 : L(1)), A(1), cmd);
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
    int abort_ = 0, other = 0;
    for (size_t i = 1; i < argc; i++) {
        if (arg_is(A(i), L(i), "abort"))
            abort_ = 1;
        else if (arg_is(A(i), L(i), "nosave") || arg_is(A(i), L(i), "save") ||
                 arg_is(A(i), L(i), "now") || arg_is(A(i), L(i), "force"))
            other = 1;
        else
            return resp_error(&c->out, ERR_SYNTAX);
    }
    if (abort_ && other) return resp_error(&c->out, ERR_SYNTAX);
    /* Shutting down is immediate here: there is never one to abort. */
    if (abort_) return resp_error(&c->out, "ERR No shutdown in progress.");
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

/* A subcommand's arity error, as Redis 7.0 names it ('client|getname'). */
static void sub_wrong_args(struct client *c, const char *cmd, const char *sub)
{
    resp_errorf(&c->out, "ERR wrong number of arguments for '%s|%s' command", cmd, sub);
}

static void cmd_client(struct server *srv, struct client *c, size_t argc)
{
    (void)srv;
    if (arg_is(A(1), L(1), "setname")) {
        if (argc != 3) return sub_wrong_args(c, "client", "setname");
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
    if (arg_is(A(1), L(1), "getname")) {
        if (argc != 2) return sub_wrong_args(c, "client", "getname");
        if (c->name)
            resp_bulk(&c->out, c->name, strlen(c->name));
        else
            resp_null(&c->out);
        return;
    }
    if (arg_is(A(1), L(1), "id")) {
        if (argc != 2) return sub_wrong_args(c, "client", "id");
        return resp_int(&c->out, (long long)c->id);
    }
    if (arg_is(A(1), L(1), "setinfo")) {
        if (argc != 4) return sub_wrong_args(c, "client", "setinfo");
        return resp_ok(&c->out);
    }
    unknown_subcommand(c, "CLIENT");
}

static void cmd_command(struct server *srv, struct client *c, size_t argc)
{
    (void)srv;
    if (argc == 1) return resp_array(&c->out, 0);
    if (arg_is(A(1), L(1), "count")) {
        if (argc != 2) return sub_wrong_args(c, "command", "count");
        return resp_int(&c->out, 0);
    }
    /* COMMAND DOCS and COMMAND INFO: nothing to describe. */
    if (arg_is(A(1), L(1), "docs") || arg_is(A(1), L(1), "info")) return resp_array(&c->out, 0);
    unknown_subcommand(c, "COMMAND");
}

/* The few parameters clients ask about (redis-benchmark reads the first two),
 * in the order Redis 7.0 lists them. */
static const char *const config_params[][2] = {
    {"appendonly", "no"},
    {"databases", "1"},
    {"maxmemory", "0"},
    {"save", ""},
};

static int has_glob(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == '*' || p[i] == '?' || p[i] == '[') return 1;
    return 0;
}

static void config_get(struct client *c, size_t argc)
{
    enum { NP = sizeof(config_params) / sizeof(config_params[0]) };
    size_t hit[NP] = {0}; /* 0: not asked for; else 1 + the argument that named it */
    size_t n = 0;
    for (size_t i = 2; i < argc; i++) {
        for (size_t j = 0; j < NP; j++) {
            const char *name = config_params[j][0];
            int match = has_glob(A(i), L(i)) ? glob_match(A(i), L(i), name, strlen(name))
                                             : arg_is(A(i), L(i), name);
            if (!hit[j] && match) {
                /* An exact name is echoed as the client spelled it. */
                hit[j] = has_glob(A(i), L(i)) ? SIZE_MAX : i + 1;
                n++;
            }
        }
    }
    resp_array(&c->out, 2 * n);
    for (size_t j = 0; j < NP; j++) {
        if (!hit[j]) continue;
        if (hit[j] == SIZE_MAX)
            resp_bulk(&c->out, config_params[j][0], strlen(config_params[j][0]));
        else
            resp_bulk(&c->out, A(hit[j] - 1), L(hit[j] - 1));
        resp_bulk(&c->out, config_params[j][1], strlen(config_params[j][1]));
    }
}

static void cmd_config(struct server *srv, struct client *c, size_t argc)
{
    (void)srv;
    if (arg_is(A(1), L(1), "get")) {
        if (argc < 3) return sub_wrong_args(c, "config", "get");
        return config_get(c, argc);
    }
    if (arg_is(A(1), L(1), "resetstat")) {
        if (argc != 2) return sub_wrong_args(c, "config", "resetstat");
        return resp_ok(&c->out);
    }
    if (arg_is(A(1), L(1), "set")) {
        if (argc < 4 || argc % 2 != 0) return sub_wrong_args(c, "config", "set");
        return resp_errorf(&c->out,
                           "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'",
                           (int)(L(2) > 128 ? 128 : L(2)), A(2));
    }
    unknown_subcommand(c, "CONFIG");
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
    info_reply(srv, c, c->argv + 1, c->argl + 1, argc - 1);
}

/* HELLO [protover [AUTH user pass] [SETNAME name]]: RESP2 only. */
static void cmd_hello(struct server *srv, struct client *c, size_t argc)
{
    (void)srv;
    if (argc >= 2) {
        long long ver;
        if (parse_ll(A(1), L(1), &ver) != 0)
            return resp_error(&c->out, "ERR Protocol version is not an integer or out of range");
        if (ver != 2) return resp_error(&c->out, "NOPROTO unsupported protocol version");
        for (size_t i = 2; i < argc; i++) {
            int more = argc - i - 1;
            if (arg_is(A(i), L(i), "auth") && more >= 2) {
                return resp_error(&c->out, "ERR AUTH <password> called without any password "
                                           "configured for the default user. Are you sure your "
                                           "configuration is correct?");
            } else if (arg_is(A(i), L(i), "setname") && more >= 1) {
                i++;
            } else {
                return resp_errorf(&c->out, "ERR Syntax error in HELLO option '%.*s'",
                                   (int)(L(i) > 128 ? 128 : L(i)), A(i));
            }
        }
        for (size_t i = 2; i < argc; i++) {
            if (arg_is(A(i), L(i), "setname")) {
                const char *n = A(i + 1);
                size_t nl = L(i + 1);
                for (size_t k = 0; k < nl; k++)
                    if ((unsigned char)n[k] <= ' ' || (unsigned char)n[k] > '~')
                        return resp_error(&c->out, "ERR Client names cannot contain spaces, "
                                                   "newlines or special characters.");
                char *name = NULL;
                if (nl) {
                    name = malloc(nl + 1);
                    if (!name) return resp_error(&c->out, ERR_OOM);
                    memcpy(name, n, nl);
                    name[nl] = 0;
                }
                free(c->name);
                c->name = name;
                i++;
            }
        }
    }
    resp_array(&c->out, 14);
    resp_bulk(&c->out, "server", 6);
    resp_bulk(&c->out, "redis", 5);
    resp_bulk(&c->out, "version", 7);
    resp_bulk(&c->out, "7.0.0", 5);
    resp_bulk(&c->out, "proto", 5);
    resp_int(&c->out, 2);
    resp_bulk(&c->out, "id", 2);
    resp_int(&c->out, (long long)c->id);
    resp_bulk(&c->out, "mode", 4);
    resp_bulk(&c->out, "standalone", 10);
    resp_bulk(&c->out, "role", 4);
    resp_bulk(&c->out, "master", 6);
    resp_bulk(&c->out, "modules", 7);
    resp_array(&c->out, 0);
}

/* ---- strings ---- */

static void cmd_get(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    struct ks_value v;
    store_rdlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_STRING, 0, &v);
    if (f > 0) resp_bulk(&c->out, v.data, v.len);
    if (f == 0) resp_null(&c->out);
    store_unlock(srv->store);
}

#define EXP_EX   1 /* seconds from now */
#define EXP_PX   2 /* milliseconds from now */
#define EXP_EXAT 3 /* seconds since the epoch */
#define EXP_PXAT 4 /* milliseconds since the epoch */

/* Which expiry option an argument names, or 0. */
static int expiry_option(const char *o, size_t ol)
{
    if (arg_is(o, ol, "ex")) return EXP_EX;
    if (arg_is(o, ol, "px")) return EXP_PX;
    if (arg_is(o, ol, "exat")) return EXP_EXAT;
    if (arg_is(o, ol, "pxat")) return EXP_PXAT;
    return 0;
}

/* The absolute expiry (ms) of an expiry option's value, as Redis's
 * getExpireMillisecondsOrReply; -1 after an error reply naming `cmd`. */
static int64_t expire_value(struct client *c, const char *s, size_t n, int kind, int64_t now,
                            const char *cmd)
{
    long long v;
    if (parse_ll(s, n, &v) != 0) {
        resp_error(&c->out, ERR_NOT_INT);
        return -1;
    }
    int seconds = kind == EXP_EX || kind == EXP_EXAT;
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) goto bad;
    if (seconds) v *= 1000;
    if (kind == EXP_EX || kind == EXP_PX) {
        if (v > LLONG_MAX - now) goto bad;
        v += now;
    }
    return v;
bad:
    resp_errorf(&c->out, "ERR invalid expire time in '%s' command", cmd);
    return -1;
}

static void cmd_set(struct server *srv, struct client *c, size_t argc)
{
    int nx = 0, xx = 0, get = 0, keepttl = 0, kind = 0;
    size_t exp_arg = 0;
    int64_t now = store_now_ms(), exp = 0;
    for (size_t i = 3; i < argc; i++) {
        const char *o = A(i);
        size_t ol = L(i);
        int k = expiry_option(o, ol);
        if (arg_is(o, ol, "nx") && !xx) {
            nx = 1;
        } else if (arg_is(o, ol, "xx") && !nx) {
            xx = 1;
        } else if (arg_is(o, ol, "get")) {
            get = 1;
        } else if (arg_is(o, ol, "keepttl") && !kind) {
            keepttl = 1;
        } else if (k && !keepttl && (!kind || kind == k) && i + 1 < argc) {
            kind = k;
            exp_arg = ++i;
        } else {
            return resp_error(&c->out, ERR_SYNTAX);
        }
    }
    if (kind) {
        exp = expire_value(c, A(exp_arg), L(exp_arg), kind, now, "set");
        if (exp < 0) return;
    }

    store_wrlock(srv->store);
    struct ks_value old;
    int rc = ENGINE_NOTFOUND;
    /* A plain SET need not look first (store_set finds what it replaces). */
    if (nx || xx || get || keepttl) rc = store_get(srv->store, A(1), L(1), now, &old);
    int exists = rc == ENGINE_OK;
    if (get && exists && old.type != KV_STRING) {
        store_unlock(srv->store);
        return resp_error(&c->out, ERR_WRONGTYPE);
    }
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
    rc = store_set(srv->store, A(1), L(1), A(2), L(2), exp);
    store_unlock(srv->store);
    if (rc != ENGINE_OK) {
        c->out.len = mark;
        return resp_error(&c->out, ERR_OOM);
    }
    if (!get) resp_ok(&c->out);
}

static void cmd_getset(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    struct ks_value old;
    store_wrlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_STRING, 1, &old);
    if (f >= 0) {
        size_t mark = c->out.len;
        if (f)
            resp_bulk(&c->out, old.data, old.len);
        else
            resp_null(&c->out);
        if (store_set(srv->store, A(1), L(1), A(2), L(2), 0) != ENGINE_OK) {
            c->out.len = mark;
            resp_error(&c->out, ERR_OOM);
        }
    }
    store_unlock(srv->store);
}

static void cmd_setnx(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    struct ks_value v;
    store_wrlock(srv->store);
    int exists = store_get(srv->store, A(1), L(1), store_now_ms(), &v) == ENGINE_OK;
    if (exists)
        resp_int(&c->out, 0);
    else if (store_set(srv->store, A(1), L(1), A(2), L(2), 0) != ENGINE_OK)
        resp_error(&c->out, ERR_OOM);
    else
        resp_int(&c->out, 1);
    store_unlock(srv->store);
}

/* SETEX key seconds value, PSETEX key ms value. */
static void setex_generic(struct server *srv, struct client *c, int kind, const char *name)
{
    int64_t exp = expire_value(c, A(2), L(2), kind, store_now_ms(), name);
    if (exp < 0) return;
    store_wrlock(srv->store);
    int rc = store_set(srv->store, A(1), L(1), A(3), L(3), exp);
    store_unlock(srv->store);
    if (rc != ENGINE_OK) return resp_error(&c->out, ERR_OOM);
    resp_ok(&c->out);
}

static void cmd_setex(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    setex_generic(srv, c, EXP_EX, "setex");
}

static void cmd_psetex(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    setex_generic(srv, c, EXP_PX, "psetex");
}

static void cmd_getdel(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    struct ks_value v;
    store_wrlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_STRING, 1, &v);
    if (f == 0) resp_null(&c->out);
    if (f > 0) {
        resp_bulk(&c->out, v.data, v.len);
        store_del(srv->store, A(1), L(1), 0);
    }
    store_unlock(srv->store);
}

static void cmd_getex(struct server *srv, struct client *c, size_t argc)
{
    int kind = 0, persist = 0;
    size_t exp_arg = 0;
    int64_t now = store_now_ms(), exp = 0;
    for (size_t i = 2; i < argc; i++) {
        int k = expiry_option(A(i), L(i));
        if (arg_is(A(i), L(i), "persist") && !kind) {
            persist = 1;
        } else if (k && !persist && (!kind || kind == k) && i + 1 < argc) {
            kind = k;
            exp_arg = ++i;
        } else {
            return resp_error(&c->out, ERR_SYNTAX);
        }
    }
    /* As Redis: the key and its type, then the expiry value. */
    struct ks_value v;
    store_wrlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_STRING, 1, &v);
    if (f == 0) resp_null(&c->out);
    if (f > 0 && kind) {
        exp = expire_value(c, A(exp_arg), L(exp_arg), kind, now, "getex");
        if (exp < 0) f = -1;
    }
    if (f > 0) {
        resp_bulk(&c->out, v.data, v.len);
        if (kind && exp <= now)
            store_del(srv->store, A(1), L(1), 0);
        else if (kind || (persist && v.expire_ms))
            store_set_expiry(srv->store, A(1), L(1), exp);
    }
    store_unlock(srv->store);
}

#define STRING_MAX (512ull << 20) /* bytes: longest string APPEND/SETRANGE make */

static void cmd_append(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    struct ks_value v;
    store_wrlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_STRING, 1, &v);
    if (f < 0) goto out;
    size_t old = f ? v.len : 0;
    if (old + L(2) > STRING_MAX) {
        resp_error(&c->out, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        goto out;
    }
    unsigned char *b = malloc(old + L(2) + 1);
    if (!b) {
        resp_error(&c->out, ERR_OOM);
        goto out;
    }
    if (old) memcpy(b, v.data, old);
    if (L(2)) memcpy(b + old, A(2), L(2));
    if (store_set(srv->store, A(1), L(1), b, old + L(2), f ? v.expire_ms : 0) != ENGINE_OK)
        resp_error(&c->out, ERR_OOM);
    else
        resp_int(&c->out, (long long)(old + L(2)));
    free(b);
out:
    store_unlock(srv->store);
}

static void cmd_strlen(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    struct ks_value v;
    store_rdlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_STRING, 0, &v);
    if (f >= 0) resp_int(&c->out, f ? (long long)v.len : 0);
    store_unlock(srv->store);
}

static void cmd_getrange(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    long long start, end;
    if (parse_ll(A(2), L(2), &start) != 0 || parse_ll(A(3), L(3), &end) != 0)
        return resp_error(&c->out, ERR_NOT_INT);
    struct ks_value v;
    store_rdlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_STRING, 0, &v);
    if (f == 0) resp_bulk(&c->out, "", 0);
    if (f > 0) {
        long long n = (long long)v.len;
        /* Redis's rule: both negative and start > end is empty at once. */
        if (start < 0 && end < 0 && start > end) {
            resp_bulk(&c->out, "", 0);
        } else {
            if (start < 0) start += n;
            if (end < 0) end += n;
            if (start < 0) start = 0;
            if (end < 0) end = 0;
            if (end >= n) end = n - 1;
            if (n == 0 || start > end)
                resp_bulk(&c->out, "", 0);
            else
                resp_bulk(&c->out, v.data + start, (size_t)(end - start + 1));
        }
    }
    store_unlock(srv->store);
}

static void cmd_setrange(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    long long off;
    if (parse_ll(A(2), L(2), &off) != 0) return resp_error(&c->out, ERR_NOT_INT);
    if (off < 0) return resp_error(&c->out, "ERR offset is out of range");
    struct ks_value v;
    store_wrlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_STRING, 1, &v);
    if (f < 0) goto out;
    size_t old = f ? v.len : 0;
    if (L(3) == 0) {
        resp_int(&c->out, (long long)old);
        goto out;
    }
    if ((unsigned long long)off + L(3) > STRING_MAX) {
        resp_error(&c->out, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        goto out;
    }
    size_t need = (size_t)off + L(3), len = need > old ? need : old;
    unsigned char *b = calloc(1, len);
    if (!b) {
        resp_error(&c->out, ERR_OOM);
        goto out;
    }
    if (old) memcpy(b, v.data, old);
    memcpy(b + off, A(3), L(3));
    if (store_set(srv->store, A(1), L(1), b, len, f ? v.expire_ms : 0) != ENGINE_OK)
        resp_error(&c->out, ERR_OOM);
    else
        resp_int(&c->out, (long long)len);
    free(b);
out:
    store_unlock(srv->store);
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

static void cmd_msetnx(struct server *srv, struct client *c, size_t argc)
{
    if (argc % 2 == 0) return wrong_args(c, "msetnx");
    int64_t now = store_now_ms();
    struct ks_value v;
    int rc = ENGINE_OK, any = 0;
    store_wrlock(srv->store);
    for (size_t i = 1; i < argc && !any; i += 2)
        any = store_get(srv->store, A(i), L(i), now, &v) == ENGINE_OK;
    for (size_t i = 1; i < argc && !any && rc == ENGINE_OK; i += 2)
        rc = store_set(srv->store, A(i), L(i), A(i + 1), L(i + 1), 0);
    store_unlock(srv->store);
    if (rc != ENGINE_OK) return resp_error(&c->out, ERR_OOM);
    resp_int(&c->out, !any);
}

static void cmd_mget(struct server *srv, struct client *c, size_t argc)
{
    int64_t now = store_now_ms();
    struct ks_value v;
    resp_array(&c->out, argc - 1);
    store_rdlock(srv->store);
    for (size_t i = 1; i < argc; i++) {
        if (store_get(srv->store, A(i), L(i), now, &v) == ENGINE_OK && v.type == KV_STRING)
            resp_bulk(&c->out, v.data, v.len);
        else
            resp_null(&c->out);
    }
    store_unlock(srv->store);
}

static void incr_by(struct server *srv, struct client *c, long long delta)
{
    struct ks_value v;
    long long cur = 0;
    int64_t exp = 0;
    store_wrlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_STRING, 1, &v);
    if (f < 0) goto out;
    if (f) {
        if (parse_ll((const char *)v.data, v.len, &cur) != 0) {
            resp_error(&c->out, ERR_NOT_INT);
            goto out;
        }
        exp = v.expire_ms;
    }
    if ((delta < 0 && cur < 0 && delta < LLONG_MIN - cur) ||
        (delta > 0 && cur > 0 && delta > LLONG_MAX - cur)) {
        resp_error(&c->out, "ERR increment or decrement would overflow");
        goto out;
    }
    cur += delta;
    char b[32];
    int n = snprintf(b, sizeof(b), "%lld", cur);
    if (store_set(srv->store, A(1), L(1), b, (size_t)n, exp) != ENGINE_OK)
        resp_error(&c->out, ERR_OOM);
    else
        resp_int(&c->out, cur);
out:
    store_unlock(srv->store);
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
    if (parse_ll(A(2), L(2), &d) != 0) return resp_error(&c->out, ERR_NOT_INT);
    /* -LLONG_MIN does not exist: Redis refuses it before looking at the key. */
    if (d == LLONG_MIN) return resp_error(&c->out, "ERR decrement would overflow");
    incr_by(srv, c, -d);
}

static void cmd_incrbyfloat(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    /* As Redis: the key's type, then its value, then the increment. */
    long double delta, cur = 0;
    struct ks_value v;
    store_wrlock(srv->store);
    int f = lookup(srv, c, A(1), L(1), KV_STRING, 1, &v);
    if (f < 0) goto out;
    if ((f && parse_long_double((const char *)v.data, v.len, &cur) != 0) ||
        parse_long_double(A(2), L(2), &delta) != 0) {
        resp_error(&c->out, ERR_NOT_FLOAT);
        goto out;
    }
    cur += delta;
    char b[5200];
    int n;
    if (isnan(cur) || isinf(cur) || (n = format_long_double(b, sizeof(b), cur)) < 0) {
        resp_error(&c->out, "ERR increment would produce NaN or Infinity");
        goto out;
    }
    if (store_set(srv->store, A(1), L(1), b, (size_t)n, f ? v.expire_ms : 0) != ENGINE_OK)
        resp_error(&c->out, ERR_OOM);
    else
        resp_bulk(&c->out, b, (size_t)n);
out:
    store_unlock(srv->store);
}

/* ---- expiry ---- */

/* TTL (0), PTTL (1), EXPIRETIME (2), PEXPIRETIME (3). */
static void ttl_reply(struct server *srv, struct client *c, int what)
{
    struct ks_value v;
    int64_t now = store_now_ms();
    long long r;
    store_rdlock(srv->store);
    if (store_get(srv->store, A(1), L(1), now, &v) != ENGINE_OK)
        r = -2;
    else if (v.expire_ms == 0)
        r = -1;
    else if (what == 0)
        r = (v.expire_ms - now + 500) / 1000;
    else if (what == 1)
        r = v.expire_ms - now;
    else if (what == 2)
        r = (v.expire_ms + 500) / 1000;
    else
        r = v.expire_ms;
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

static void cmd_expiretime(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    ttl_reply(srv, c, 2);
}

static void cmd_pexpiretime(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    ttl_reply(srv, c, 3);
}

#define EXPIRE_NX 1
#define EXPIRE_XX 2
#define EXPIRE_GT 4
#define EXPIRE_LT 8

/* EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX/XX/GT/LT, as Redis 7.0's
 * expireGenericCommand. */
static void expire_generic(struct server *srv, struct client *c, size_t argc, int seconds,
                           int absolute, const char *name)
{
    int flags = 0;
    for (size_t i = 3; i < argc; i++) {
        if (arg_is(A(i), L(i), "nx"))
            flags |= EXPIRE_NX;
        else if (arg_is(A(i), L(i), "xx"))
            flags |= EXPIRE_XX;
        else if (arg_is(A(i), L(i), "gt"))
            flags |= EXPIRE_GT;
        else if (arg_is(A(i), L(i), "lt"))
            flags |= EXPIRE_LT;
        else
            return resp_errorf(&c->out, "ERR Unsupported option %.*s",
                               (int)(L(i) > 128 ? 128 : L(i)), A(i));
    }
    if ((flags & EXPIRE_NX) && (flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT)))
        return resp_error(&c->out,
                          "ERR NX and XX, GT or LT options at the same time are not compatible");
    if ((flags & EXPIRE_GT) && (flags & EXPIRE_LT))
        return resp_error(&c->out, "ERR GT and LT options at the same time are not compatible");
    long long when;
    if (parse_ll(A(2), L(2), &when) != 0) return resp_error(&c->out, ERR_NOT_INT);
    int64_t now = store_now_ms();
    if (seconds) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000)
            return resp_errorf(&c->out, "ERR invalid expire time in '%s' command", name);
        when *= 1000;
    }
    if (!absolute) {
        if (when > LLONG_MAX - now)
            return resp_errorf(&c->out, "ERR invalid expire time in '%s' command", name);
        when += now;
    }
    struct ks_value v;
    long long done = 0;
    int rc = ENGINE_OK;
    store_wrlock(srv->store);
    if (store_get(srv->store, A(1), L(1), now, &v) == ENGINE_OK) {
        long long cur = v.expire_ms ? v.expire_ms : -1;
        int skip = ((flags & EXPIRE_NX) && cur != -1) || ((flags & EXPIRE_XX) && cur == -1) ||
                   ((flags & EXPIRE_GT) && (cur == -1 || when <= cur)) ||
                   ((flags & EXPIRE_LT) && cur != -1 && when >= cur);
        if (!skip) {
            done = 1;
            if (when <= now)
                store_del(srv->store, A(1), L(1), 0);
            else
                rc = store_set_expiry(srv->store, A(1), L(1), when);
        }
    }
    store_unlock(srv->store);
    if (rc != ENGINE_OK) return resp_error(&c->out, ERR_OOM);
    resp_int(&c->out, done);
}

static void cmd_expire(struct server *srv, struct client *c, size_t argc)
{
    expire_generic(srv, c, argc, 1, 0, "expire");
}

static void cmd_pexpire(struct server *srv, struct client *c, size_t argc)
{
    expire_generic(srv, c, argc, 0, 0, "pexpire");
}

static void cmd_expireat(struct server *srv, struct client *c, size_t argc)
{
    expire_generic(srv, c, argc, 1, 1, "expireat");
}

static void cmd_pexpireat(struct server *srv, struct client *c, size_t argc)
{
    expire_generic(srv, c, argc, 0, 1, "pexpireat");
}

static void cmd_persist(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    struct ks_value v;
    long long done = 0;
    int rc = ENGINE_OK;
    store_wrlock(srv->store);
    if (store_get(srv->store, A(1), L(1), store_now_ms(), &v) == ENGINE_OK && v.expire_ms) {
        rc = store_set_expiry(srv->store, A(1), L(1), 0);
        done = rc == ENGINE_OK;
    }
    store_unlock(srv->store);
    if (rc != ENGINE_OK) return resp_error(&c->out, ERR_OOM);
    resp_int(&c->out, done);
}

/* ---- keys ---- */

static void cmd_type(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    struct ks_value v;
    store_rdlock(srv->store);
    int rc = store_get(srv->store, A(1), L(1), store_now_ms(), &v);
    resp_simple(&c->out, rc == ENGINE_OK ? ks_type_name(v.type) : "none");
    store_unlock(srv->store);
}

static void cmd_touch(struct server *srv, struct client *c, size_t argc)
{
    long long n = 0;
    int64_t now = store_now_ms();
    struct ks_value v;
    store_rdlock(srv->store);
    for (size_t i = 1; i < argc; i++)
        n += store_get(srv->store, A(i), L(i), now, &v) == ENGINE_OK;
    store_unlock(srv->store);
    resp_int(&c->out, n);
}

static void rename_generic(struct server *srv, struct client *c, int nx)
{
    int64_t now = store_now_ms();
    struct ks_value v;
    store_wrlock(srv->store);
    if (store_get(srv->store, A(1), L(1), now, &v) != ENGINE_OK) {
        resp_error(&c->out, "ERR no such key");
    } else if (nx && store_get(srv->store, A(2), L(2), now, &v) == ENGINE_OK) {
        resp_int(&c->out, 0);
    } else if (store_rename(srv->store, A(1), L(1), A(2), L(2), now) != ENGINE_OK) {
        resp_error(&c->out, ERR_OOM);
    } else if (nx) {
        resp_int(&c->out, 1);
    } else {
        resp_ok(&c->out);
    }
    store_unlock(srv->store);
}

static void cmd_rename(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    rename_generic(srv, c, 0);
}

static void cmd_renamenx(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    rename_generic(srv, c, 1);
}

static void cmd_copy(struct server *srv, struct client *c, size_t argc)
{
    int replace = 0;
    for (size_t i = 3; i < argc; i++) {
        long long db;
        if (arg_is(A(i), L(i), "replace")) {
            replace = 1;
        } else if (arg_is(A(i), L(i), "db") && i + 1 < argc) {
            if (parse_ll(A(i + 1), L(i + 1), &db) != 0) return resp_error(&c->out, ERR_NOT_INT);
            if (db != 0) return resp_error(&c->out, "ERR DB index is out of range");
            i++;
        } else {
            return resp_error(&c->out, ERR_SYNTAX);
        }
    }
    if (L(1) == L(2) && memcmp(A(1), A(2), L(1)) == 0)
        return resp_error(&c->out, "ERR source and destination objects are the same");
    int64_t now = store_now_ms();
    struct ks_value v, d;
    store_wrlock(srv->store);
    int rc = ENGINE_OK;
    long long done = 0;
    if (store_get(srv->store, A(1), L(1), now, &v) == ENGINE_OK &&
        (replace || store_get(srv->store, A(2), L(2), now, &d) != ENGINE_OK)) {
        if (v.type == KV_STRING) {
            unsigned char *copy = malloc(v.len ? v.len : 1);
            rc = ENGINE_ENOMEM;
            if (copy) {
                memcpy(copy, v.data, v.len);
                rc = store_set(srv->store, A(2), L(2), copy, v.len, v.expire_ms);
                free(copy);
            }
        } else {
            void *obj = ks_obj_copy(v.type, v.obj);
            rc = obj ? store_set_obj(srv->store, A(2), L(2), v.type, obj, v.expire_ms)
                     : ENGINE_ENOMEM;
            if (obj && rc != ENGINE_OK) ks_obj_free(v.type, obj);
        }
        done = rc == ENGINE_OK;
    }
    store_unlock(srv->store);
    if (rc != ENGINE_OK) return resp_error(&c->out, ERR_OOM);
    resp_int(&c->out, done);
}

static void cmd_randomkey(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    size_t klen;
    store_rdlock(srv->store);
    unsigned char *k = store_random_key(srv->store, store_now_ms(), &klen);
    store_unlock(srv->store);
    if (k)
        resp_bulk(&c->out, k, klen);
    else
        resp_null(&c->out);
    free(k);
}

/* ---- keyspace ---- */

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
    struct ks_value v;
    store_rdlock(srv->store);
    for (size_t i = 1; i < argc; i++)
        n += store_get(srv->store, A(i), L(i), now, &v) == ENGINE_OK;
    store_unlock(srv->store);
    resp_int(&c->out, n);
}

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
    const char *type;    /* SCAN TYPE name; NULL: every type */
    size_t tlen;         /* bytes */
    unsigned char *next; /* SCAN: key to resume from, copied */
    size_t next_len;     /* bytes */
    int oom;
};

static int keys_cb(const void *key, size_t klen, const struct ks_value *v, void *arg)
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

static int scan_cb(const void *key, size_t klen, const struct ks_value *v, void *arg)
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
    if (kl->type && !arg_is(kl->type, kl->tlen, ks_type_name(v->type))) return 0;
    return keys_cb(key, klen, v, arg);
}

static void cmd_scan(struct server *srv, struct client *c, size_t argc)
{
    unsigned long long cursor;
    long long count = 10;
    struct key_list kl = {0};
    /* As Redis's strtoul: the empty cursor is 0. */
    if (L(1) == 0)
        cursor = 0;
    else if (parse_ull(A(1), L(1), &cursor) != 0)
        return resp_error(&c->out, "ERR invalid cursor");
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
            kl.type = A(i + 1);
            kl.tlen = L(i + 1);
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

/* ---- transactions ---- */

/* A command queued by MULTI: its arguments, copied into one block. */
struct queued_cmd {
    size_t argc;       /* count */
    const char **argv; /* argc pointers into the block */
    size_t *argl;      /* bytes of each */
};

static void queue_clear(struct client *c)
{
    for (size_t i = 0; i < c->nqueued; i++)
        free(c->queue[i]);
    free(c->queue);
    c->queue = NULL;
    c->nqueued = c->queue_cap = 0;
    c->in_multi = 0;
    c->multi_failed = 0;
}

static void unwatch_all(struct server *srv, struct client *c)
{
    if (c->watching) {
        store_wrlock(srv->store);
        store_unwatch(srv->store, &c->watch_dirty);
        c->watch_dirty = 0;
        store_unlock(srv->store);
        c->watching = 0;
    }
}

void command_client_free(struct server *srv, struct client *c)
{
    unwatch_all(srv, c);
    queue_clear(c);
}

/* Copy the current command to the transaction queue; 0 or -1. */
static int queue_command(struct client *c, size_t argc)
{
    size_t bytes = sizeof(struct queued_cmd) + argc * (sizeof(char *) + sizeof(size_t));
    for (size_t i = 0; i < argc; i++)
        bytes += L(i);
    if (c->nqueued == c->queue_cap) {
        size_t cap = c->queue_cap ? c->queue_cap * 2 : 8;
        struct queued_cmd **q = realloc(c->queue, cap * sizeof(*q));
        if (!q) return -1;
        c->queue = q;
        c->queue_cap = cap;
    }
    struct queued_cmd *q = malloc(bytes);
    if (!q) return -1;
    q->argc = argc;
    q->argv = (const char **)(q + 1);
    q->argl = (size_t *)(q->argv + argc);
    char *data = (char *)(q->argl + argc);
    for (size_t i = 0; i < argc; i++) {
        if (L(i)) memcpy(data, A(i), L(i));
        q->argv[i] = data;
        q->argl[i] = L(i);
        data += L(i);
    }
    c->queue[c->nqueued++] = q;
    return 0;
}

static void cmd_multi(struct server *srv, struct client *c, size_t argc)
{
    (void)srv;
    (void)argc;
    if (c->in_multi) return resp_error(&c->out, "ERR MULTI calls can not be nested");
    c->in_multi = 1;
    resp_ok(&c->out);
}

static void cmd_discard(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    if (!c->in_multi) return resp_error(&c->out, "ERR DISCARD without MULTI");
    queue_clear(c);
    unwatch_all(srv, c);
    resp_ok(&c->out);
}

static void cmd_watch(struct server *srv, struct client *c, size_t argc)
{
    if (c->in_multi) return resp_error(&c->out, "ERR WATCH inside MULTI is not allowed");
    int rc = 0;
    store_wrlock(srv->store);
    for (size_t i = 1; i < argc && rc == 0; i++)
        rc = store_watch(srv->store, A(i), L(i), &c->watch_dirty);
    store_unlock(srv->store);
    c->watching = 1;
    if (rc != 0) return resp_error(&c->out, ERR_OOM);
    resp_ok(&c->out);
}

static void cmd_unwatch(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    unwatch_all(srv, c);
    resp_ok(&c->out);
}

static void dispatch(struct server *srv, struct client *c, size_t argc);

static void cmd_exec(struct server *srv, struct client *c, size_t argc)
{
    (void)argc;
    if (!c->in_multi) return resp_error(&c->out, "ERR EXEC without MULTI");
    if (c->multi_failed) {
        queue_clear(c);
        unwatch_all(srv, c);
        return resp_error(&c->out, "EXECABORT Transaction discarded because of previous errors.");
    }
    /* The whole transaction runs under the write lock: no other client's
     * command can come between its commands, or between the WATCH check
     * and them. */
    store_exclusive_begin(srv->store);
    if (c->watching && store_watch_expired(srv->store, &c->watch_dirty, store_now_ms()))
        c->watch_dirty = 1;
    if (c->watch_dirty) {
        kbuf_append(&c->out, "*-1\r\n", 5);
    } else {
        const char **argv = c->argv;
        size_t *argl = c->argl;
        resp_array(&c->out, c->nqueued);
        for (size_t i = 0; i < c->nqueued; i++) {
            struct queued_cmd *q = c->queue[i];
            c->argv = q->argv;
            c->argl = q->argl;
            dispatch(srv, c, q->argc);
        }
        c->argv = argv;
        c->argl = argl;
    }
    if (c->watching) store_unwatch(srv->store, &c->watch_dirty);
    c->watch_dirty = 0;
    c->watching = 0;
    store_exclusive_end(srv->store);
    queue_clear(c);
}

/* ---- dispatch ---- */

#define CMD_NOQUEUE 1 /* runs at once even inside MULTI */

static const struct command commands[] = {
    {"append", 3, cmd_append, 0},
    {"client", -2, cmd_client, 0},
    {"command", -1, cmd_command, 0},
    {"config", -2, cmd_config, 0},
    {"copy", -3, cmd_copy, 0},
    {"dbsize", 1, cmd_dbsize, 0},
    {"decr", 2, cmd_decr, 0},
    {"decrby", 3, cmd_decrby, 0},
    {"del", -2, cmd_del, 0},
    {"discard", 1, cmd_discard, CMD_NOQUEUE},
    {"echo", 2, cmd_echo, 0},
    {"exec", 1, cmd_exec, CMD_NOQUEUE},
    {"exists", -2, cmd_exists, 0},
    {"expire", -3, cmd_expire, 0},
    {"expireat", -3, cmd_expireat, 0},
    {"expiretime", 2, cmd_expiretime, 0},
    {"flushall", -1, cmd_flushdb, 0},
    {"flushdb", -1, cmd_flushdb, 0},
    {"get", 2, cmd_get, 0},
    {"getdel", 2, cmd_getdel, 0},
    {"getex", -2, cmd_getex, 0},
    {"getrange", 4, cmd_getrange, 0},
    {"getset", 3, cmd_getset, 0},
    {"hdel", -3, cmd_hdel, 0},
    {"hello", -1, cmd_hello, 0},
    {"hexists", 3, cmd_hexists, 0},
    {"hget", 3, cmd_hget, 0},
    {"hgetall", 2, cmd_hgetall, 0},
    {"hincrby", 4, cmd_hincrby, 0},
    {"hincrbyfloat", 4, cmd_hincrbyfloat, 0},
    {"hkeys", 2, cmd_hkeys, 0},
    {"hlen", 2, cmd_hlen, 0},
    {"hmget", -3, cmd_hmget, 0},
    {"hmset", -4, cmd_hmset, 0},
    {"hset", -4, cmd_hset, 0},
    {"hsetnx", 4, cmd_hsetnx, 0},
    {"hstrlen", 3, cmd_hstrlen, 0},
    {"hvals", 2, cmd_hvals, 0},
    {"incr", 2, cmd_incr, 0},
    {"incrby", 3, cmd_incrby, 0},
    {"incrbyfloat", 3, cmd_incrbyfloat, 0},
    {"info", -1, cmd_info, 0},
    {"keys", 2, cmd_keys, 0},
    {"lindex", 3, cmd_lindex, 0},
    {"llen", 2, cmd_llen, 0},
    {"lpop", -2, cmd_lpop, 0},
    {"lpush", -3, cmd_lpush, 0},
    {"lpushx", -3, cmd_lpushx, 0},
    {"lrange", 4, cmd_lrange, 0},
    {"lrem", 4, cmd_lrem, 0},
    {"lset", 4, cmd_lset, 0},
    {"ltrim", 4, cmd_ltrim, 0},
    {"mget", -2, cmd_mget, 0},
    {"mset", -3, cmd_mset, 0},
    {"msetnx", -3, cmd_msetnx, 0},
    {"multi", 1, cmd_multi, CMD_NOQUEUE},
    {"persist", 2, cmd_persist, 0},
    {"pexpire", -3, cmd_pexpire, 0},
    {"pexpireat", -3, cmd_pexpireat, 0},
    {"pexpiretime", 2, cmd_pexpiretime, 0},
    {"ping", -1, cmd_ping, 0},
    {"psetex", 4, cmd_psetex, 0},
    {"pttl", 2, cmd_pttl, 0},
    {"quit", -1, cmd_quit, CMD_NOQUEUE},
    {"randomkey", 1, cmd_randomkey, 0},
    {"rename", 3, cmd_rename, 0},
    {"renamenx", 3, cmd_renamenx, 0},
    {"rpop", -2, cmd_rpop, 0},
    {"rpush", -3, cmd_rpush, 0},
    {"rpushx", -3, cmd_rpushx, 0},
    {"sadd", -3, cmd_sadd, 0},
    {"scan", -2, cmd_scan, 0},
    {"scard", 2, cmd_scard, 0},
    {"select", 2, cmd_select, 0},
    {"set", -3, cmd_set, 0},
    {"setex", 4, cmd_setex, 0},
    {"setnx", 3, cmd_setnx, 0},
    {"setrange", 4, cmd_setrange, 0},
    {"shutdown", -1, cmd_shutdown, 0},
    {"sismember", 3, cmd_sismember, 0},
    {"smembers", 2, cmd_smembers, 0},
    {"smismember", -3, cmd_smismember, 0},
    {"spop", -2, cmd_spop, 0},
    {"srandmember", -2, cmd_srandmember, 0},
    {"srem", -3, cmd_srem, 0},
    {"strlen", 2, cmd_strlen, 0},
    {"substr", 4, cmd_getrange, 0},
    {"time", 1, cmd_time, 0},
    {"touch", -2, cmd_touch, 0},
    {"ttl", 2, cmd_ttl, 0},
    {"type", 2, cmd_type, 0},
    {"unlink", -2, cmd_del, 0},
    {"unwatch", 1, cmd_unwatch, 0},
    {"watch", -2, cmd_watch, CMD_NOQUEUE},
    {"zadd", -4, cmd_zadd, 0},
    {"zcard", 2, cmd_zcard, 0},
    {"zcount", 4, cmd_zcount, 0},
    {"zincrby", 4, cmd_zincrby, 0},
    {"zmscore", -3, cmd_zmscore, 0},
    {"zpopmax", -2, cmd_zpopmax, 0},
    {"zpopmin", -2, cmd_zpopmin, 0},
    {"zrange", -4, cmd_zrange, 0},
    {"zrangebyscore", -4, cmd_zrangebyscore, 0},
    {"zrank", 3, cmd_zrank, 0},
    {"zrem", -3, cmd_zrem, 0},
    {"zrevrange", -4, cmd_zrevrange, 0},
    {"zrevrangebyscore", -4, cmd_zrevrangebyscore, 0},
    {"zrevrank", 3, cmd_zrevrank, 0},
    {"zscore", 3, cmd_zscore, 0},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static int command_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct command *)elem)->name);
}

/* The table entry for argv[0] (any case), or NULL. The table is sorted by
 * name (checked at start-up), so this is a binary search. */
static const struct command *find_command(const char *name, size_t n)
{
    char low[24];
    if (n == 0 || n >= sizeof(low)) return NULL;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    low[n] = 0;
    return bsearch(low, commands, NCOMMANDS, sizeof(commands[0]), command_cmp);
}

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

/* Look up, check the arity, run. 0, or -1 when the command was refused. */
static int check_command(struct client *c, size_t argc, const struct command **out)
{
    const struct command *cmd = find_command(A(0), L(0));
    if (!cmd) {
        unknown_command(c, argc);
        return -1;
    }
    if ((cmd->arity > 0 && argc != (size_t)cmd->arity) ||
        (cmd->arity < 0 && argc < (size_t)-cmd->arity)) {
        wrong_args(c, cmd->name);
        return -1;
    }
    *out = cmd;
    return 0;
}

static void dispatch(struct server *srv, struct client *c, size_t argc)
{
    const struct command *cmd;
    if (check_command(c, argc, &cmd) == 0) cmd->fn(srv, c, argc);
}

void command_execute(struct server *srv, struct client *c, size_t argc)
{
    const struct command *cmd;
    if (check_command(c, argc, &cmd) != 0) {
        /* A refused command inside MULTI makes EXEC abort. */
        if (c->in_multi) c->multi_failed = 1;
        return;
    }
    if (c->in_multi && !(cmd->flags & CMD_NOQUEUE)) {
        if (queue_command(c, argc) != 0) {
            c->multi_failed = 1;
            return resp_error(&c->out, ERR_OOM);
        }
        return resp_simple(&c->out, "QUEUED");
    }
    cmd->fn(srv, c, argc);
}

int command_table_check(void)
{
    for (size_t i = 1; i < NCOMMANDS; i++)
        if (strcmp(commands[i - 1].name, commands[i].name) >= 0) return 0;
    return 1;
}
