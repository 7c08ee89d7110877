/*
 * options.c - kvserver's command line.
 *
 * Every option takes its value as the next argument or after '='
 * (--port 7000, --port=7000). A bad value prints one line on stderr naming
 * the option, the value and what is accepted, and the caller exits with 2.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_PORT        7379
#define DEFAULT_MAXCLIENTS  10000
#define DEFAULT_MAX_REQUEST (64u << 20) /* bytes */
#define MAX_THREADS         64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: kvserver [options]\n"
            "\n"
            "A Redis-protocol (RESP2) key-value server over one of five storage engines.\n"
            "\n"
            "  --engine NAME              array, hash, rbtree, btree or lsm (default hash)\n"
            "  --port N                   TCP port, 0 picks a free one (default %d)\n"
            "  --bind ADDR                numeric address to listen on (default 127.0.0.1)\n"
            "  --threads N                event-loop threads, 1..%d (default 1)\n"
            "  --maxclients N             connected clients at most (default %d)\n"
            "  --max-request-bytes N      longest bulk string and command; K/M/G suffixes\n"
            "                             (default 64M, at least 1K)\n"
            "  --lsm-memtable-bytes N     LSM memtable size before it turns immutable\n"
            "                             (default 4M)\n"
            "  -h, --help                 this text\n"
            "\n"
            "Prints 'kvserver listening on ADDR:PORT engine=E threads=N' when ready.\n"
            "SIGINT or SIGTERM (or the SHUTDOWN command) stops it cleanly.\n",
            DEFAULT_PORT, MAX_THREADS, DEFAULT_MAXCLIENTS);
}

/* Unsigned number with an optional K/M/G suffix (powers of 1024). */
static int parse_size(const char *s, unsigned long long lo, unsigned long long hi,
                      unsigned long long *out)
{
    if (*s < '0' || *s > '9') return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) return -1;
    unsigned shift = 0;
    if (*end == 'k' || *end == 'K')
        shift = 10;
    else if (*end == 'm' || *end == 'M')
        shift = 20;
    else if (*end == 'g' || *end == 'G')
        shift = 30;
    if (shift) {
        end++;
        if (*end == 'b' || *end == 'B') end++;
        if (v > (~0ULL >> shift)) return -1;
        v <<= shift;
    }
    if (*end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int bad(const char *opt, const char *val, const char *expected)
{
    fprintf(stderr, "kvserver: invalid value '%s' for %s (expected %s)\n", val, opt, expected);
    return 2;
}

int options_parse(int argc, char **argv, struct ks_options *opt)
{
    opt->engine = "hash";
    opt->bind = "127.0.0.1";
    opt->port = DEFAULT_PORT;
    opt->threads = 1;
    opt->maxclients = DEFAULT_MAXCLIENTS;
    opt->max_request_bytes = DEFAULT_MAX_REQUEST;
    opt->lsm_memtable_bytes = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "kvserver: unexpected argument '%s' (try --help)\n", a);
            return 2;
        }
        char name[64];
        const char *val;
        const char *eq = strchr(a, '=');
        if (eq) {
            size_t n = (size_t)(eq - a);
            if (n >= sizeof(name)) n = sizeof(name) - 1;
            memcpy(name, a, n);
            name[n] = 0;
            val = eq + 1;
        } else {
            snprintf(name, sizeof(name), "%s", a);
            val = i + 1 < argc ? argv[i + 1] : NULL;
        }
        static const char *const known[] = {"--engine",
                                            "--port",
                                            "--bind",
                                            "--threads",
                                            "--maxclients",
                                            "--max-request-bytes",
                                            "--lsm-memtable-bytes",
                                            NULL};
        int k = 0;
        while (known[k] && strcmp(known[k], name) != 0)
            k++;
        if (!known[k]) {
            fprintf(stderr, "kvserver: unknown option '%s' (try --help)\n", a);
            return 2;
        }
        if (!val) {
            fprintf(stderr, "kvserver: %s needs a value (try --help)\n", name);
            return 2;
        }
        if (!eq) i++;

        unsigned long long v;
        if (strcmp(name, "--engine") == 0) {
            int ok = 0;
            for (int j = 0; engine_names[j]; j++)
                ok |= strcmp(engine_names[j], val) == 0;
            if (!ok) return bad(name, val, "array, hash, rbtree, btree or lsm");
            opt->engine = val;
        } else if (strcmp(name, "--port") == 0) {
            if (parse_size(val, 0, 65535, &v) != 0 || strpbrk(val, "kKmMgG"))
                return bad(name, val, "0..65535");
            opt->port = (int)v;
        } else if (strcmp(name, "--bind") == 0) {
            unsigned char addr[sizeof(struct in6_addr)];
            if (strcmp(val, "localhost") != 0 && inet_pton(AF_INET, val, addr) != 1 &&
                inet_pton(AF_INET6, val, addr) != 1)
                return bad(name, val, "a numeric IPv4 or IPv6 address, or localhost");
            opt->bind = val;
        } else if (strcmp(name, "--threads") == 0) {
            if (parse_size(val, 1, MAX_THREADS, &v) != 0 || strpbrk(val, "kKmMgG"))
                return bad(name, val, "1..64");
            opt->threads = (unsigned)v;
        } else if (strcmp(name, "--maxclients") == 0) {
            if (parse_size(val, 1, 1000000, &v) != 0 || strpbrk(val, "kKmMgG"))
                return bad(name, val, "1..1000000");
            opt->maxclients = (unsigned)v;
        } else if (strcmp(name, "--max-request-bytes") == 0) {
            if (parse_size(val, 1024, 1ULL << 32, &v) != 0) return bad(name, val, "1K..4G");
            opt->max_request_bytes = (size_t)v;
        } else {
            if (parse_size(val, 1024, 1ULL << 32, &v) != 0) return bad(name, val, "1K..4G");
            opt->lsm_memtable_bytes = (size_t)v;
        }
    }
    return 0;
}
