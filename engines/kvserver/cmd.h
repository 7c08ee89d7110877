/*
 * cmd.h - what the command files share: argument access, number parsing,
 * Redis's error texts, typed lookups.
 *
 * A handler finds its arguments in c->argv / c->argl (argv[0] is the command
 * name; arguments are binary-safe and not NUL-terminated) and appends exactly
 * one reply to c->out.
 */
#ifndef KV_CMD_H
#define KV_CMD_H

#include "server.h"
#include "types.h"

#define A(i) (c->argv[i])
#define L(i) (c->argl[i])

extern const char ERR_SYNTAX[];
extern const char ERR_NOT_INT[];
extern const char ERR_NOT_FLOAT[];
extern const char ERR_OOM[];
extern const char ERR_WRONGTYPE[];
extern const char ERR_POSITIVE[];

/* Case-insensitive compare of an argument with a NUL-terminated word. */
int arg_is(const char *a, size_t alen, const char *word);
/* Strict decimal integer as Redis's string2ll: optional '-', no leading
 * zeros, no "-0", no spaces, within long long. 0 or -1. */
int parse_ll(const char *s, size_t n, long long *out);
/* A double as Redis reads scores: strtod over the whole argument, no
 * leading space, no NaN. 0 or -1. */
int parse_double(const char *s, size_t n, double *out);
/* Redis's reply text for a double: integers exactly, else %.17g; inf, -inf. */
int format_double(char *buf, size_t n, double d);
void reply_double(struct client *c, double d);
/* Redis's long double text (INCRBYFLOAT): %.17Lf without trailing zeros. */
int format_long_double(char *buf, size_t n, long double x);
/* Redis's string2ld: the whole argument, no leading space, no NaN. */
int parse_long_double(const char *s, size_t n, long double *out);
void wrong_args(struct client *c, const char *name);

/*
 * Find key for a command on `type` (lock held: read for reads, write for
 * writes). 1: found, *v filled; 0: absent (an expired key is absent, and is
 * removed when `write` is set); -1: the key holds another type, and the
 * WRONGTYPE error has been appended to the reply.
 */
int lookup(struct server *srv, struct client *c, const char *key, size_t klen, int type, int write,
           struct ks_value *v);

/* cmd_types.c: the list, hash, set and sorted-set commands. */
void cmd_lpush(struct server *srv, struct client *c, size_t argc);
void cmd_rpush(struct server *srv, struct client *c, size_t argc);
void cmd_lpushx(struct server *srv, struct client *c, size_t argc);
void cmd_rpushx(struct server *srv, struct client *c, size_t argc);
void cmd_lpop(struct server *srv, struct client *c, size_t argc);
void cmd_rpop(struct server *srv, struct client *c, size_t argc);
void cmd_llen(struct server *srv, struct client *c, size_t argc);
void cmd_lindex(struct server *srv, struct client *c, size_t argc);
void cmd_lrange(struct server *srv, struct client *c, size_t argc);
void cmd_lset(struct server *srv, struct client *c, size_t argc);
void cmd_ltrim(struct server *srv, struct client *c, size_t argc);
void cmd_lrem(struct server *srv, struct client *c, size_t argc);
void cmd_hset(struct server *srv, struct client *c, size_t argc);
void cmd_hmset(struct server *srv, struct client *c, size_t argc);
void cmd_hsetnx(struct server *srv, struct client *c, size_t argc);
void cmd_hget(struct server *srv, struct client *c, size_t argc);
void cmd_hmget(struct server *srv, struct client *c, size_t argc);
void cmd_hdel(struct server *srv, struct client *c, size_t argc);
void cmd_hlen(struct server *srv, struct client *c, size_t argc);
void cmd_hstrlen(struct server *srv, struct client *c, size_t argc);
void cmd_hgetall(struct server *srv, struct client *c, size_t argc);
void cmd_hkeys(struct server *srv, struct client *c, size_t argc);
void cmd_hvals(struct server *srv, struct client *c, size_t argc);
void cmd_hexists(struct server *srv, struct client *c, size_t argc);
void cmd_hincrby(struct server *srv, struct client *c, size_t argc);
void cmd_hincrbyfloat(struct server *srv, struct client *c, size_t argc);
void cmd_sadd(struct server *srv, struct client *c, size_t argc);
void cmd_srem(struct server *srv, struct client *c, size_t argc);
void cmd_spop(struct server *srv, struct client *c, size_t argc);
void cmd_srandmember(struct server *srv, struct client *c, size_t argc);
void cmd_scard(struct server *srv, struct client *c, size_t argc);
void cmd_smembers(struct server *srv, struct client *c, size_t argc);
void cmd_sismember(struct server *srv, struct client *c, size_t argc);
void cmd_smismember(struct server *srv, struct client *c, size_t argc);
void cmd_zadd(struct server *srv, struct client *c, size_t argc);
void cmd_zincrby(struct server *srv, struct client *c, size_t argc);
void cmd_zrem(struct server *srv, struct client *c, size_t argc);
void cmd_zscore(struct server *srv, struct client *c, size_t argc);
void cmd_zmscore(struct server *srv, struct client *c, size_t argc);
void cmd_zcard(struct server *srv, struct client *c, size_t argc);
void cmd_zrange(struct server *srv, struct client *c, size_t argc);
void cmd_zrevrange(struct server *srv, struct client *c, size_t argc);
void cmd_zrangebyscore(struct server *srv, struct client *c, size_t argc);
void cmd_zrevrangebyscore(struct server *srv, struct client *c, size_t argc);
void cmd_zrank(struct server *srv, struct client *c, size_t argc);
void cmd_zrevrank(struct server *srv, struct client *c, size_t argc);
void cmd_zpopmin(struct server *srv, struct client *c, size_t argc);
void cmd_zpopmax(struct server *srv, struct client *c, size_t argc);
void cmd_zcount(struct server *srv, struct client *c, size_t argc);

#endif
