/*
 * info.c - the INFO command: sections server, clients, memory, stats and
 * keyspace, in Redis's "field:value\r\n" layout.
 *
 * Memory figures: the resident set size from /proc/self/statm, and the
 * allocator's own view from mallinfo2(), which glibc answers, and which an
 * LD_PRELOADed allocator (ConcordArena, jemalloc) answers for itself.
 */
#include "server.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (!f) return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

static void human(char *b, size_t n, size_t bytes)
{
    const char *unit = "BKMGT";
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(b, n, "%zuB", bytes);
    else
        snprintf(b, n, "%.2f%c", v, unit[u]);
}

static void section_server(struct server *srv, struct kbuf *b)
{
    kbuf_appendf(b,
                 "# Server\r\n"
                 "redis_version:7.0.0\r\n"
                 "kvserver_version:0.1.0\r\n"
                 "redis_mode:standalone\r\n"
                 "os:Linux\r\n"
                 "multiplexing_api:epoll\r\n"
                 "process_id:%ld\r\n"
                 "tcp_port:%d\r\n"
                 "uptime_in_seconds:%lld\r\n"
                 "engine:%s\r\n"
                 "io_threads:%u\r\n"
                 "\r\n",
                 (long)getpid(), srv->port, (long long)(time(NULL) - srv->started),
                 store_engine_name(srv->store), srv->opt.threads);
}

static void section_clients(struct server *srv, struct kbuf *b)
{
    kbuf_appendf(b,
                 "# Clients\r\n"
                 "connected_clients:%lu\r\n"
                 "maxclients:%u\r\n"
                 "\r\n",
                 atomic_load(&srv->st.connected), srv->opt.maxclients);
}

static void section_memory(struct server *srv, struct kbuf *b)
{
    (void)srv;
    struct mallinfo2 mi = mallinfo2();
    size_t rss = rss_bytes();
    size_t used = mi.uordblks + mi.hblkhd;
    char uh[32], rh[32];
    human(uh, sizeof(uh), used);
    human(rh, sizeof(rh), rss);
    kbuf_appendf(b,
                 "# Memory\r\n"
                 "used_memory:%zu\r\n"
                 "used_memory_human:%s\r\n"
                 "used_memory_rss:%zu\r\n"
                 "used_memory_rss_human:%s\r\n"
                 "mallinfo2_arena:%zu\r\n"
                 "mallinfo2_ordblks:%zu\r\n"
                 "mallinfo2_hblks:%zu\r\n"
                 "mallinfo2_hblkhd:%zu\r\n"
                 "mallinfo2_uordblks:%zu\r\n"
                 "mallinfo2_fordblks:%zu\r\n"
                 "mallinfo2_keepcost:%zu\r\n"
                 "maxmemory:0\r\n"
                 "\r\n",
                 used, uh, rss, rh, mi.arena, mi.ordblks, mi.hblks, mi.hblkhd, mi.uordblks,
                 mi.fordblks, mi.keepcost);
}

static void section_stats(struct server *srv, struct kbuf *b)
{
    kbuf_appendf(b,
                 "# Stats\r\n"
                 "total_connections_received:%lu\r\n"
                 "total_commands_processed:%lu\r\n"
                 "rejected_connections:%lu\r\n"
                 "protocol_errors:%lu\r\n"
                 "expired_keys:%llu\r\n"
                 "\r\n",
                 atomic_load(&srv->st.connections), atomic_load(&srv->st.commands),
                 atomic_load(&srv->st.rejected), atomic_load(&srv->st.proto_errors),
                 (unsigned long long)store_expired_total(srv->store));
}

static void section_keyspace(struct server *srv, struct kbuf *b)
{
    store_rdlock(srv->store);
    size_t keys = store_dbsize(srv->store), expires = store_expires(srv->store);
    store_unlock(srv->store);
    kbuf_appendf(b, "# Keyspace\r\n");
    if (keys) kbuf_appendf(b, "db0:keys=%zu,expires=%zu,avg_ttl=0\r\n", keys, expires);
    kbuf_appendf(b, "\r\n");
}

struct section {
    const char *name;
    void (*fn)(struct server *srv, struct kbuf *b);
};

static const struct section sections[] = {
    {"server", section_server}, {"clients", section_clients},   {"memory", section_memory},
    {"stats", section_stats},   {"keyspace", section_keyspace},
};

static int section_is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

void info_reply(struct server *srv, struct client *c, const char *const *names, const size_t *lens,
                size_t n)
{
    enum { NS = sizeof(sections) / sizeof(sections[0]) };
    int want[NS] = {0};
    int all = n == 0;
    for (size_t i = 0; i < n; i++) {
        if (section_is(names[i], lens[i], "all") || section_is(names[i], lens[i], "default") ||
            section_is(names[i], lens[i], "everything"))
            all = 1;
        for (size_t j = 0; j < NS; j++)
            if (section_is(names[i], lens[i], sections[j].name)) want[j] = 1;
    }
    struct kbuf b = {0};
    for (size_t j = 0; j < NS; j++)
        if (all || want[j]) sections[j].fn(srv, &b);
    /* No trailing blank line, as Redis. */
    if (!b.failed && b.len >= 2) b.len -= 2;
    if (b.failed) {
        kbuf_free(&b);
        return resp_error(&c->out, "OOM out of memory");
    }
    resp_bulk(&c->out, b.p ? b.p : "", b.len);
    kbuf_free(&b);
}
