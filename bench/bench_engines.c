/*
 * bench_engines.c - SET rate of each storage engine as the store grows.
 *
 *   bench_engines [--sizes 20000,1000000] [--ops N] [--memtable BYTES]
 *                 [--engines array,hash,rbtree,btree,lsm] [--reps N]
 *
 * For each engine and each size S: build a store of S keys (16-byte keys,
 * 32-byte values, inserted in a scattered order, timed: the "fill" rate),
 * then time --ops SETs (default 200,000) of random keys drawn from 2*S
 * (half overwrite a key, half add one: the "set" rate at that size). The LSM
 * engine runs with --memtable bytes per memtable (default 64K, small enough
 * that compaction runs all the time even at 20,000 keys). The array engine
 * inserts in O(n), so its fill uses ascending keys (appends) and it is
 * left out past 200,000 keys unless named in --engines.
 *
 * Each measurement is repeated --reps times (default 3) on a fresh store and
 * the best rate is kept, which filters out other load on the machine.
 *
 * Output: one line per (engine, size): keys, fill keys/s (the average over
 * building the store, so every merge and resize is paid for), set ops/s,
 * and both rates relative to the first size.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"

#define KEY_LEN 16
#define VAL_LEN 32

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A 64-bit mix (splitmix64's finaliser): scatters consecutive indexes. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Key i: 16 hex digits, of i itself (ascending) or of mix(i) (scattered). */
static void make_key(char *k, uint64_t i, int ascending)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t v = ascending ? i : mix(i);
    for (int d = KEY_LEN - 1; d >= 0; d--) {
        k[d] = hex[v & 15];
        v >>= 4;
    }
}

static int parse_list(const char *s, size_t *out, int max)
{
    int n = 0;
    while (*s && n < max) {
        char *end;
        out[n++] = strtoull(s, &end, 10);
        s = *end == ',' ? end + 1 : end;
        if (end == s && *s) return -1;
    }
    return n;
}

int main(int argc, char **argv)
{
    size_t sizes[8] = {20000, 1000000};
    int nsizes = 2;
    size_t ops = 200000, memtable = 64 * 1024, reps = 3;
    const char *engines = "array,hash,rbtree,btree,lsm";
    int engines_given = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--sizes") == 0) {
            nsizes = parse_list(argv[i + 1], sizes, 8);
        } else if (strcmp(argv[i], "--ops") == 0) {
            ops = strtoull(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--reps") == 0) {
            reps = strtoull(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--memtable") == 0) {
            memtable = strtoull(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--engines") == 0) {
            engines = argv[i + 1];
            engines_given = 1;
        } else {
            fprintf(stderr,
                    "usage: %s [--sizes a,b] [--ops N] [--memtable BYTES] "
                    "[--engines list]\n",
                    argv[0]);
            return 2;
        }
    }
    if (nsizes <= 0 || ops == 0 || reps == 0) {
        fprintf(stderr, "bench_engines: bad --sizes or --ops\n");
        return 2;
    }
    printf("%-7s %10s %14s %9s %14s %9s\n", "engine", "keys", "fill keys/s", "vs first",
           "set ops/s", "vs first");
    char list[256];
    snprintf(list, sizeof(list), "%s", engines);
    char val[VAL_LEN];
    memset(val, 'v', sizeof(val));
    for (char *save = NULL, *name = strtok_r(list, ",", &save); name;
         name = strtok_r(NULL, ",", &save)) {
        double first_fill = 0, first_set = 0;
        int ascending = strcmp(name, "array") == 0;
        for (int s = 0; s < nsizes; s++) {
            size_t n = sizes[s];
            if (ascending && n > 200000 && !engines_given) continue;
            double fill = 0, rate = 0;
            for (size_t rep = 0; rep < reps; rep++) {
                struct engine_options opt = {.lsm_memtable_bytes = memtable};
                engine_t *e = engine_create_ex(name, &opt);
                if (!e) {
                    fprintf(stderr, "bench_engines: cannot create engine %s\n", name);
                    return 1;
                }
                char k[KEY_LEN];
                double t0 = now_s();
                for (size_t i = 0; i < n; i++) {
                    make_key(k, i, ascending);
                    if (engine_set(e, k, KEY_LEN, val, VAL_LEN) != ENGINE_OK) return 1;
                }
                double f = (double)n / (now_s() - t0);
                uint64_t x = 12345 + rep;
                t0 = now_s();
                for (size_t i = 0; i < ops; i++) {
                    x = mix(x);
                    make_key(k, x % (2 * n), ascending);
                    val[0] = (char)('a' + i % 26);
                    if (engine_set(e, k, KEY_LEN, val, VAL_LEN) != ENGINE_OK) return 1;
                }
                double r = (double)ops / (now_s() - t0);
                if (f > fill) fill = f;
                if (r > rate) rate = r;
                if (rep == 0 && engine_check(e) != 0) {
                    fprintf(stderr, "bench_engines: %s failed its check\n", name);
                    return 1;
                }
                engine_destroy(e);
            }
            if (first_set == 0) {
                first_fill = fill;
                first_set = rate;
            }
            printf("%-7s %10zu %14.0f %8.2fx %14.0f %8.2fx\n", name, n, fill, fill / first_fill,
                   rate, rate / first_set);
            fflush(stdout);
        }
    }
    return 0;
}
