/*
 * NUMA placement on a machine with real nodes (scripts/numa-guest.sh boots a
 * 2- or 4-node qemu guest for it). Built twice: numa_guest_core links the
 * core statically and calls ca_* (CA_CORE=1); numa_guest_preload calls the
 * plain malloc family and runs under LD_PRELOAD of the library.
 *
 * Every check runs in a child process (options and topology are read once)
 * and asserts on placement only: the node of each page (move_pages), the
 * memory policy and page counts of the library's mappings
 * (/proc/self/numa_maps) and the per-node and per-arena figures of the JSON
 * statistics dump. On a machine with one node the checks are skipped.
 *
 *   numa_guest_preload [--kvserver PATH --lib PATH]
 */
#include "test_util.h"

#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "kv_arena.h"

#ifndef CA_CORE
#define CA_CORE 0
#endif
#if CA_CORE
#include "concord.h"
#define MALLOC ca_malloc
#define FREE   ca_free
#else
#define MALLOC malloc
#define FREE   free
#endif

#define MAX_NODES 8
#define MIB       ((size_t)1 << 20)

/* ---- topology, from sysfs ---- */

static int nnodes;               /* nodes online */
static int node_cpu[MAX_NODES];  /* first CPU of each node, -1: none */
static long node_mem[MAX_NODES]; /* MemTotal of each node, kB */
static const char *kvserver_path, *lib_path;

static int read_text(const char *path, char *out, size_t cap)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    tu_read_all(fd, out, cap);
    close(fd);
    return 0;
}

static void topology(void)
{
    char text[4096], path[128];
    nnodes = 0;
    if (read_text("/sys/devices/system/node/online", text, sizeof(text)) != 0) return;
    const char *dash = strchr(text, '-');
    nnodes = dash ? atoi(dash + 1) + 1 : 1;
    if (nnodes > MAX_NODES) nnodes = MAX_NODES;
    for (int n = 0; n < nnodes; n++) {
        node_cpu[n] = -1;
        node_mem[n] = 0;
        snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", n);
        if (read_text(path, text, sizeof(text)) == 0 && text[0] >= '0' && text[0] <= '9')
            node_cpu[n] = atoi(text);
        snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", n);
        if (read_text(path, text, sizeof(text)) == 0) {
            const char *m = strstr(text, "MemTotal:");
            if (m) node_mem[n] = atol(m + 9);
        }
    }
}

/* Nodes with memory and a CPU: where pinned threads can test placement. */
static int usable(int n)
{
    return node_cpu[n] >= 0 && node_mem[n] > 0;
}

static int pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* ---- where pages are ---- */

/* Node of every page of [p, p + n), touched first. Counts pages on `node`
 * and elsewhere; returns the number of pages the kernel could not place. */
static long page_nodes(void *p, size_t n, int node, long *on, long *off)
{
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(page - 1);
    uintptr_t end = (uintptr_t)p + n;
    long bad = 0;
    enum { BATCH = 512 };
    void *pages[BATCH];
    int status[BATCH];
    *on = *off = 0;
    while (a < end) {
        unsigned k = 0;
        for (; k < BATCH && a < end; k++, a += (uintptr_t)page)
            pages[k] = (void *)a;
        if (syscall(SYS_move_pages, 0, (unsigned long)k, pages, NULL, status, 0) != 0) return -1;
        for (unsigned i = 0; i < k; i++) {
            if (status[i] < 0)
                bad++;
            else if (status[i] == node)
                (*on)++;
            else
                (*off)++;
        }
    }
    return bad;
}

/* 1 if every page of [p, p + n) is on `node`; prints what it found if not. */
static int all_on(const char *what, void *p, size_t n, int node)
{
    memset(p, 0x5a, n);
    long on, off;
    long bad = page_nodes(p, n, node, &on, &off);
    if (bad == 0 && off == 0 && on > 0) return 1;
    printf("FAIL %s %p (%zu bytes): %ld pages on node %d, %ld elsewhere, %ld unplaced\n", what, p,
           n, on, node, off, bad);
    return 0;
}

/* The library's mappings as numa_maps sees them: for each node, the bytes of
 * the mappings whose policy prefers it and where their resident pages are. */
typedef struct {
    uint64_t bytes[MAX_NODES];
    long pages[MAX_NODES][MAX_NODES]; /* [preferred node][node of the page] */
} prefer_map_t;

static void prefer_maps(prefer_map_t *pm)
{
    memset(pm, 0, sizeof(*pm));
    FILE *maps = fopen("/proc/self/maps", "r");
    FILE *nm = fopen("/proc/self/numa_maps", "r");
    assert_non_null(maps);
    assert_non_null(nm);
    char line[1024], nline[2048];
    while (fgets(line, sizeof(line), maps) && fgets(nline, sizeof(nline), nm)) {
        unsigned long lo, hi, start;
        char policy[64];
        if (sscanf(line, "%lx-%lx", &lo, &hi) != 2) continue;
        if (sscanf(nline, "%lx %63s", &start, policy) != 2 || start != lo) {
            printf("FAIL maps and numa_maps disagree: %s / %s", line, nline);
            fail();
        }
        int pref;
        if (sscanf(policy, "prefer:%d", &pref) != 1 || pref < 0 || pref >= MAX_NODES) continue;
        pm->bytes[pref] += hi - lo;
        for (char *t = strstr(nline, " N"); t; t = strstr(t + 1, " N")) {
            int node;
            long count;
            if (sscanf(t, " N%d=%ld", &node, &count) == 2 && node >= 0 && node < MAX_NODES)
                pm->pages[pref][node] += count;
        }
    }
    fclose(maps);
    fclose(nm);
}

/* ---- the statistics dump ---- */

static char dump_buf[1 << 17];

/* One JSON statistics dump of this process into dump_buf. */
static const char *dump_json(void)
{
#if CA_CORE
    char path[] = "/tmp/numa-dump-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    ca_stats_dump(fd, 1);
    lseek(fd, 0, SEEK_SET);
    tu_read_all(fd, dump_buf, sizeof(dump_buf));
    close(fd);
#else
    /* the parent set CONCORD_ARENA_STATS_FILE and STATS_FORMAT=json; the
     * handler runs before raise returns */
    const char *file = getenv("CONCORD_ARENA_STATS_FILE");
    assert_non_null(file);
    raise(SIGUSR1);
    char all[1 << 18];
    read_text(file, all, sizeof(all));
    char *last = all;
    for (char *nl = strchr(all, '\n'); nl && nl[1]; nl = strchr(nl + 1, '\n'))
        last = nl + 1;
    snprintf(dump_buf, sizeof(dump_buf), "%s", last);
#endif
    assert_non_null(strstr(dump_buf, "\"nodes\":["));
    return dump_buf;
}

/* Field `name` of node `node` in the dump's "nodes" list. */
static long long node_field(const char *json, int node, const char *name)
{
    char key[64];
    const char *p = strstr(json, "\"nodes\":[");
    snprintf(key, sizeof(key), "{\"node\":%d,", node);
    p = p ? strstr(p, key) : NULL;
    snprintf(key, sizeof(key), "\"%s\":", name);
    p = p ? strstr(p, key) : NULL;
    if (p == NULL) fail_msg("no %s for node %d in the dump", name, node);
    return atoll(p + strlen(key));
}

/* Arenas of the dump with at least `min_allocs` allocations, counted by home
 * node; the arena numbered `skip_id` is left out. */
static void arenas_by_node(const char *json, long min_allocs, int skip_id, int count[MAX_NODES])
{
    memset(count, 0, sizeof(int) * MAX_NODES);
    const char *p = strstr(json, "\"arenas\":[");
    assert_non_null(p);
    while ((p = strstr(p, "{\"id\":")) != NULL) {
        p++;
        const char *nd = strstr(p, "\"node\":");
        const char *al = strstr(p, "\"allocs\":");
        if (!nd || !al) break;
        int node = atoi(nd + 7);
        if (atoi(p + 5) == skip_id) continue;
        if (atol(al + 9) >= min_allocs && node >= 0 && node < MAX_NODES) count[node]++;
    }
}

/* Per node, the bytes of mappings preferring the node equal the dump's
 * "mapped_bytes" of the node plus its cached huge mappings, and their
 * resident pages are on it. Call with no huge object alive. */
static int dump_agrees(const char *json, int spill_node)
{
    prefer_map_t pm;
    prefer_maps(&pm);
    int ok = 1;
    for (int n = 0; n < nnodes; n++) {
        long long mapped =
            node_field(json, n, "mapped_bytes") + node_field(json, n, "huge_cached_bytes");
        long on = pm.pages[n][n], off = 0;
        for (int m = 0; m < nnodes; m++)
            if (m != n) off += pm.pages[n][m];
        printf("node %d: dump mapped_bytes %lld, cached %lld; mappings preferring it %llu bytes, "
               "%ld pages on it, %ld elsewhere\n",
               n, mapped, node_field(json, n, "blocks_cached"), (unsigned long long)pm.bytes[n], on,
               off);
        if ((unsigned long long)mapped != pm.bytes[n]) ok = 0;
        if (off != 0 && n != spill_node) ok = 0;
    }
    if (!ok) printf("FAIL dump and numa_maps disagree\n");
    return ok;
}

/* ---- child checks ---- */

typedef struct {
    int node, cpu;
    int ok;
    void *small[8], *large, *huge;
} worker_t;

static pthread_barrier_t hold, release;

/* Pinned to a CPU of `node`: small, large-span and huge objects, all of
 * whose pages must be on `home` (its node, or CONCORD_ARENA_NUMA_NODE). */
static void *worker(void *arg)
{
    worker_t *w = arg;
    int home = w->node;
    w->ok = pin(w->cpu) == 0;
    for (int i = 0; i < 8; i++)
        w->small[i] = MALLOC(100 + 200 * (size_t)i);
    w->large = MALLOC(200000);
    w->huge = MALLOC(8 * MIB);
    if (!w->large || !w->huge) w->ok = 0;
    for (int i = 0; i < 8 && w->ok; i++)
        w->ok = w->small[i] && all_on("small", w->small[i], 100 + 200 * (size_t)i, home);
#if CA_CORE
    if (ca_thread_node() != home) {
        printf("FAIL thread on CPU %d: home node %d, wanted %d\n", w->cpu, ca_thread_node(), home);
        w->ok = 0;
    }
#endif
    w->ok = w->ok && all_on("medium object", w->large, 200000, home) &&
            all_on("huge", w->huge, 8 * MIB, home);
    FREE(w->huge); /* its mapping is cached: the dump counts it on the node */
    w->huge = NULL;
    pthread_barrier_wait(&hold);
    pthread_barrier_wait(&release);
    for (int i = 0; i < 8; i++)
        FREE(w->small[i]);
    FREE(w->large);
    return NULL;
}

/* One pinned thread per node with memory (all on `forced` when >= 0). */
static int child_pinned(int forced)
{
    worker_t w[MAX_NODES];
    pthread_t t[MAX_NODES];
    int nw = 0;
    pin(0);
    for (int n = 0; n < nnodes; n++)
        if (forced >= 0 ? node_cpu[n] >= 0 : usable(n))
            w[nw++] = (worker_t){.node = forced >= 0 ? forced : n, .cpu = node_cpu[n]};
    pthread_barrier_init(&hold, NULL, (unsigned)nw + 1);
    pthread_barrier_init(&release, NULL, (unsigned)nw + 1);
    for (int i = 0; i < nw; i++)
        pthread_create(&t[i], NULL, worker, &w[i]);
    pthread_barrier_wait(&hold);
    const char *json = dump_json();
    int ok = 1, arenas[MAX_NODES];
    arenas_by_node(json, 10, -1, arenas);
    for (int i = 0; i < nw; i++) {
        printf("thread on CPU %d: %s\n", w[i].cpu, w[i].ok ? "placed" : "MISPLACED");
        ok &= w[i].ok;
        if (arenas[w[i].node] == 0) {
            printf("FAIL no arena homed on node %d in the dump\n", w[i].node);
            ok = 0;
        }
    }
    if (forced >= 0) {
        for (int n = 0; n < nnodes; n++)
            if (n != forced && arenas[n]) {
                printf("FAIL an arena homed on node %d\n", n);
                ok = 0;
            }
    }
    ok &= dump_agrees(json, -1);
    pthread_barrier_wait(&release);
    for (int i = 0; i < nw; i++)
        pthread_join(t[i], NULL);
    return ok ? 0 : 1;
}

typedef struct {
    int cpu;
    int op; /* 0: malloc, 1: free, 2: malloc then free */
    void *p;
} step_t;

static void *step(void *arg)
{
    step_t *s = arg;
    pin(s->cpu);
    if (s->op != 1) s->p = MALLOC(60000); /* a medium object: its span of blocks */
    if (s->p && s->op != 0) FREE(s->p);
    return NULL;
}

static void run_step(step_t *s)
{
    pthread_t t;
    pthread_create(&t, NULL, step, s);
    pthread_join(t, NULL);
}

/* A block freed on node b goes back to node b's cache and comes back only
 * to a thread of node b. */
static int child_cache(void)
{
    int a = 0, b = -1;
    for (int n = 1; n < nnodes; n++)
        if (usable(n)) b = n;
    if (b < 0) return 77;
    pin(node_cpu[a]);
    step_t sb = {.cpu = node_cpu[b], .op = 0};
    run_step(&sb);
    void *freed = sb.p;
    int ok = freed && all_on("node-b block", freed, 60000, b);
    sb.op = 1;
    run_step(&sb); /* freed by a thread of node b: to node b's cache */
    const char *json = dump_json();
    long long cached_b = node_field(json, b, "blocks_cached");
    long long reused_b = node_field(json, b, "blocks_reused");
    printf("after the free: node %d caches %lld blocks\n", b, cached_b);
    if (cached_b < 1) ok = 0;
    step_t sa = {.cpu = node_cpu[a], .op = 2}; /* node a's cache has a block now */
    run_step(&sa);
    sa.op = 0;
    run_step(&sa);
    printf("node-%d thread got %p (node %d block %p)\n", a, sa.p, b, freed);
    ok = ok && sa.p && sa.p != freed && all_on("node-a block", sa.p, 60000, a);
    step_t sb2 = {.cpu = node_cpu[b], .op = 0};
    run_step(&sb2);
    printf("new node-%d thread got %p\n", b, sb2.p);
    if (sb2.p != freed) {
        printf("FAIL the node-%d block was not reused for a node-%d thread\n", b, b);
        ok = 0;
    }
    ok = ok && sb2.p && all_on("reused block", sb2.p, 60000, b);
    json = dump_json();
    if (node_field(json, b, "blocks_reused") <= reused_b) {
        printf("FAIL node %d's reused-block count did not grow\n", b);
        ok = 0;
    }
    ok &= dump_agrees(json, -1);
    FREE(sa.p);
    FREE(sb2.p);
    return ok ? 0 : 1;
}

/* A thread that exits parks its arena with a live small object in it; a
 * thread of another node must not adopt that arena, or its small objects
 * would come from the first node's blocks. */
static int adopt_node;

static void *adopt_first(void *arg)
{
    pin(node_cpu[0]);
    void *p[5];
    for (int i = 0; i < 5; i++)
        p[i] = MALLOC(100);
    for (int i = 1; i < 5; i++)
        FREE(p[i]);
    *(void **)arg = p[0]; /* stays live in the parked arena's block */
    return NULL;
}

static void *adopt_second(void *arg)
{
    pin(node_cpu[adopt_node]);
    void *p = MALLOC(100);
    if (p) memset(p, 1, 100);
    *(void **)arg = p;
    return NULL;
}

static int child_adopt(void)
{
    adopt_node = -1;
    for (int n = 1; n < nnodes; n++)
        if (usable(n)) adopt_node = n;
    if (adopt_node < 0) return 77;
    void *kept = NULL, *mine = NULL;
    pthread_t t;
    pthread_create(&t, NULL, adopt_first, &kept);
    pthread_join(t, NULL);
    pthread_create(&t, NULL, adopt_second, &mine);
    pthread_join(t, NULL);
    printf("node-0 thread kept %p; the next thread, on node %d, got %p\n", kept, adopt_node, mine);
    int ok = kept && mine &&
             all_on("small object of a thread after another node's exited", mine, 100, adopt_node);
    FREE(kept);
    FREE(mine);
    return ok ? 0 : 1;
}

/* A thread of the node with the least memory allocates 32 MiB more than the
 * node has free: nothing fails, and the pages past the node's capacity are
 * elsewhere. */
static void *spill_thread(void *arg)
{
    int k = *(int *)arg;
    if (pin(node_cpu[k]) != 0) return (void *)2;
    char path[96], text[4096];
    snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", k);
    const char *f = read_text(path, text, sizeof(text)) == 0 ? strstr(text, "MemFree:") : NULL;
    if (f == NULL) return (void *)4;
    size_t want = (size_t)atol(f + 8) * 1024 + 32 * MIB, got = 0; /* more than the node has free */
    size_t obj = MIB; /* a medium object: in the node's segments */
    size_t max = want / obj + 1;
    void **objs = MALLOC(max * sizeof(void *));
    long on = 0, off = 0;
    size_t n = 0;
    for (; got < want; n++, got += obj) {
        objs[n] = MALLOC(obj);
        if (objs[n] == NULL) {
            printf("FAIL allocation %zu of %zu bytes failed after %zu MiB\n", n, obj, got >> 20);
            return (void *)1;
        }
        memset(objs[n], 1, obj);
    }
    for (size_t i = 0; i < n; i++) {
        long o1, o2;
        if (page_nodes(objs[i], obj, k, &o1, &o2) != 0) return (void *)3;
        on += o1;
        off += o2;
    }
    printf("node %d (%ld kB): %zu MiB allocated, %ld pages on it, %ld spilled to other nodes\n", k,
           node_mem[k], got >> 20, on, off);
    const char *json = dump_json();
    prefer_map_t pm;
    prefer_maps(&pm);
    long spilled = 0;
    for (int m = 0; m < nnodes; m++)
        if (m != k) spilled += pm.pages[k][m];
    printf("numa_maps: mappings preferring node %d have %ld pages on it, %ld elsewhere; "
           "dump: mapped_bytes %lld\n",
           k, pm.pages[k][k], spilled, node_field(json, k, "mapped_bytes"));
    /* the dump counts the pages of node k's segments that landed elsewhere */
    long long dumped = node_field(json, k, "pages_elsewhere");
    printf("dump: node %d pages_elsewhere %lld (move_pages of the objects: %ld)\n", k, dumped, off);
    if (dumped < off) printf("FAIL the dump counts fewer spilled pages than move_pages finds\n");
    int ok = on > 0 && off > 0 && spilled > 0 && dumped >= off &&
             (unsigned long long)(node_field(json, k, "mapped_bytes") +
                                  node_field(json, k, "huge_cached_bytes")) == pm.bytes[k];
    for (size_t i = 0; i < n; i++)
        FREE(objs[i]);
    FREE(objs);
    return (void *)(intptr_t)(ok ? 0 : 1);
}

static int child_spill(void)
{
    int k = -1;
    for (int n = 1; n < nnodes; n++)
        if (usable(n) && (k < 0 || node_mem[n] < node_mem[k])) k = n;
    if (k < 0) return 77;
    pthread_t t;
    void *rc;
    pthread_create(&t, NULL, spill_thread, &k);
    pthread_join(t, &rc);
    return (int)(intptr_t)rc;
}

/* The region API's calls, looked up at run time in the preloaded library. */
typedef struct {
    kv_arena_t *(*create)(size_t);
    void *(*alloc)(kv_arena_t *, size_t);
    int (*set_policy)(kv_arena_t *, int);
    int (*get_node)(const kv_arena_t *);
    void (*destroy)(kv_arena_t *);
} region_api_t;

static int region_api(region_api_t *api)
{
#if CA_CORE
    *api = (region_api_t){kv_arena_create, kv_arena_alloc, kv_arena_set_numa_policy,
                          kv_arena_get_numa_node, kv_arena_destroy};
#else
    *(void **)&api->create = dlsym(RTLD_DEFAULT, "kv_arena_create");
    *(void **)&api->alloc = dlsym(RTLD_DEFAULT, "kv_arena_alloc");
    *(void **)&api->set_policy = dlsym(RTLD_DEFAULT, "kv_arena_set_numa_policy");
    *(void **)&api->get_node = dlsym(RTLD_DEFAULT, "kv_arena_get_numa_node");
    *(void **)&api->destroy = dlsym(RTLD_DEFAULT, "kv_arena_destroy");
#endif
    return api->create && api->alloc && api->set_policy && api->get_node && api->destroy;
}

/* kv_arena_set_numa_policy(r, b): the region's chunks and mappings are on b. */
static int child_region(void)
{
    region_api_t api;
    if (!region_api(&api)) return 4;
    int b = -1;
    for (int n = 1; n < nnodes; n++)
        if (usable(n)) b = n;
    if (b < 0) return 77;
    pin(node_cpu[0]);
    kv_arena_t *r = api.create(0);
    if (r == NULL || api.set_policy(r, b) != 0 || api.get_node(r) != b) return 5;
    uintptr_t first = (uintptr_t)r; /* the header's chunk: taken on the creator's node */
    size_t first_len = 1 << 16;
    int ok = 1, outside = 0;
    for (int i = 0; i < 64 && ok; i++) {
        size_t len = 4000 + (size_t)i * 100;
        char *p = api.alloc(r, len);
        if (p == NULL) return 6;
        if ((uintptr_t)p >= first && (uintptr_t)p < first + first_len) continue;
        outside++;
        ok = all_on("region chunk", p, len, b);
    }
    char *big = api.alloc(r, 3 * MIB); /* a mapping of its own */
    ok = ok && big && all_on("region mapping", big, 3 * MIB, b);
    printf("region on node %d: %d objects in chunks checked, big %p\n", b, outside, (void *)big);
    api.destroy(r);
    return ok && outside >= 32 ? 0 : 1;
}

/* ---- kvserver ---- */

/* Worker threads of `pid`, in creation order (the first task is main). */
static int tasks_of(pid_t pid, pid_t *tids, int cap)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && n < cap) tids[n++] = atoi(e->d_name);
    closedir(d);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && tids[j] < tids[j - 1]; j--) {
            pid_t x = tids[j];
            tids[j] = tids[j - 1];
            tids[j - 1] = x;
        }
    return n;
}

static int resp_roundtrip(int port, const char *req, char *out, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) return -1;
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) return -1;
    shutdown(fd, SHUT_WR);
    tu_read_all(fd, out, cap);
    close(fd);
    return 0;
}

/* kvserver --threads 2, one event-loop thread pinned to a CPU of node 0 and
 * one to a CPU of node b before either allocates, serves redis-benchmark;
 * each worker's arena is on its node. */
static int child_kvserver(void)
{
    int b = -1;
    for (int n = 1; n < nnodes; n++)
        if (usable(n)) b = n;
    if (b < 0 || !kvserver_path || !lib_path) return 77;
    if (access("/usr/bin/redis-benchmark", X_OK) != 0) return 77;
    char stats[] = "/tmp/numa-kv-XXXXXX";
    int sfd = mkstemp(stats);
    if (sfd < 0) return 2;
    close(sfd);
    int out[2];
    if (pipe(out) != 0) return 2;
    pid_t pid = fork();
    if (pid == 0) {
        pin(node_cpu[0]);
        char e1[300], e2[300];
        snprintf(e1, sizeof(e1), "LD_PRELOAD=%s", lib_path);
        snprintf(e2, sizeof(e2), "CONCORD_ARENA_STATS_FILE=%s", stats);
        putenv(e1);
        putenv(e2);
        putenv("CONCORD_ARENA_STATS_FORMAT=json");
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        execl(kvserver_path, kvserver_path, "--threads", "2", "--port", "0", "--engine", "hash",
              (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[256] = "";
    size_t len = 0;
    while (len + 1 < sizeof(line) && !strchr(line, '\n')) { /* "kvserver listening on ADDR:PORT" */
        ssize_t r = read(out[0], line + len, sizeof(line) - 1 - len);
        if (r <= 0) break;
        len += (size_t)r;
        line[len] = '\0';
    }
    const char *colon = strrchr(line, ':');
    int port = colon && strstr(line, "listening") ? atoi(colon + 1) : 0;
    int ok = port > 0;
    pid_t tids[8];
    int nt = tasks_of(pid, tids, 8);
    printf("kvserver pid %d port %d tasks %d\n", (int)pid, port, nt);
    if (nt != 3) ok = 0;
    for (int i = 1; i < nt && ok; i++) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(i == 1 ? node_cpu[0] : node_cpu[b], &set);
        if (sched_setaffinity(tids[i], sizeof(set), &set) != 0) ok = 0;
    }
    /* redis-benchmark until both event loops have served clients (connections
     * go to whichever loop wakes first) */
    char portstr[16], res[8192], json[1 << 17];
    snprintf(portstr, sizeof(portstr), "%d", port);
    int arenas[MAX_NODES] = {0};
    for (int round = 0; ok && round < 20 && !(arenas[0] && arenas[b]); round++) {
        char *argv[] = {"redis-benchmark",
                        "-p",
                        portstr,
                        "-t",
                        "set,get,incr,mset",
                        "-n",
                        "4000",
                        "-c",
                        "50",
                        "-P",
                        "4",
                        "-q",
                        NULL};
        int st = tu_run(argv, NULL, res, sizeof(res));
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !strstr(res, "requests per second")) {
            printf("FAIL redis-benchmark: status %d: %s\n", st, res);
            ok = 0;
            break;
        }
        kill(pid, SIGUSR1);
        /* the dump is written from the signal handler; wait for its line */
        for (int tries = 0; tries < 200; tries++) {
            read_text(stats, json, sizeof(json));
            if (tu_count(json, "\n") > round) break;
            usleep(10000);
        }
        char *last = json;
        for (char *nl = strchr(json, '\n'); nl && nl[1]; nl = strchr(nl + 1, '\n'))
            last = nl + 1;
        /* arena 1 is main's (the first to allocate); the others are the loops' */
        arenas_by_node(last, 10, 1, arenas);
        printf("round %d: event-loop arenas on node 0: %d, on node %d: %d\n", round, arenas[0], b,
               arenas[b]);
    }
    if (ok && !(arenas[0] && arenas[b])) {
        /* EPOLLEXCLUSIVE wakes one loop per connection, and the kernel may
         * pick the same one every time: nothing to check on the other node */
        printf("SKIPPED: in 20 rounds every connection went to one event loop\n");
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        unlink(stats);
        return 77;
    }
    /* correct answers */
    char reply[4096];
    ok = ok &&
         resp_roundtrip(port,
                        "SET numa:key hello\r\nGET numa:key\r\nINCRBY numa:n 41\r\nINCR numa:n\r\n",
                        reply, sizeof(reply)) == 0 &&
         strcmp(reply, "+OK\r\n$5\r\nhello\r\n:41\r\n:42\r\n") == 0;
    /* the server's memory: mappings preferring a node have their pages on it */
    char path[64], nm[1 << 16];
    snprintf(path, sizeof(path), "/proc/%d/numa_maps", (int)pid);
    read_text(path, nm, sizeof(nm));
    long placed[MAX_NODES] = {0};
    for (char *l = nm; ok && l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        int pref;
        char *sp = strchr(l, ' ');
        if (!sp || sscanf(sp, " prefer:%d", &pref) != 1 || pref < 0 || pref >= MAX_NODES) continue;
        char own[16];
        snprintf(own, sizeof(own), " N%d=", pref);
        char *o = strstr(sp, own);
        if (o && (!strchr(l, '\n') || o < strchr(l, '\n'))) placed[pref] += atol(o + strlen(own));
        char *eol = strchr(l, '\n');
        for (char *t = strstr(sp, " N"); t && (!eol || t < eol); t = strstr(t + 1, " N")) {
            int node;
            long count;
            if (sscanf(t, " N%d=%ld", &node, &count) == 2 && node != pref && count > 0) {
                printf("FAIL kvserver mapping preferring node %d has %ld pages on node %d\n", pref,
                       count, node);
                ok = 0;
            }
        }
    }
    printf("kvserver pages in mappings preferring node 0: %ld, node %d: %ld\n", placed[0], b,
           placed[b]);
    if (placed[0] == 0 || placed[b] == 0) {
        printf("FAIL kvserver has no memory placed on node 0 or node %d\n", b);
        ok = 0;
    }
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    close(out[0]);
    unlink(stats);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        printf("FAIL kvserver exit status %d\n", st);
        ok = 0;
    }
    return ok ? 0 : 1;
}

/* ---- tests (parent side) ---- */

static char dump_file[64];

/* Run this program as `mode` with extra environment; fail on a nonzero
 * status; 77 skips. Output in `out`. */
static void run(const char *mode, const char *env1, char *out, size_t cap)
{
    char stats_env[128];
    snprintf(stats_env, sizeof(stats_env), "CONCORD_ARENA_STATS_FILE=%s", dump_file);
    unlink(dump_file);
    const char *env[] = {"CONCORD_ARENA_STATS_FORMAT=json", stats_env, env1, NULL};
    char *argv[] = {(char *)tu_self(), (char *)mode, NULL};
    int st = tu_run(argv, env, out, cap);
    print_message("%s", out);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77) skip();
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("%s: status %d", mode, st);
    assert_int_equal(tu_count(out, "FAIL"), 0);
    if (strcmp(mode, "unplaced") != 0) assert_int_equal(tu_count(out, "NUMA placement off"), 0);
}

static void test_pinned_threads(void **state)
{
    (void)state;
    static char out[1 << 16];
    run("pinned", NULL, out, sizeof(out));
    assert_int_equal(tu_count(out, "NUMA placement off"), 0);
}

static void test_numa_node_env(void **state)
{
    (void)state;
    static char out[1 << 16];
    int last = 0;
    for (int n = 0; n < nnodes; n++)
        if (node_mem[n] > 0) last = n;
    char env[64], mode[32];
    snprintf(env, sizeof(env), "CONCORD_ARENA_NUMA_NODE=%d", last);
    snprintf(mode, sizeof(mode), "forced%d", last);
    run(mode, env, out, sizeof(out));
    assert_int_equal(tu_count(out, "NUMA placement off"), 0);
}

/* A node without memory and a node that does not exist: the documented
 * warning, once; the program runs. */
static void test_numa_node_bad(void **state)
{
    (void)state;
    static char out[1 << 16];
    int tested = 0;
    for (int n = 0; n < nnodes + 2; n++) {
        if (n < nnodes && node_mem[n] > 0) continue;
        char env[64], want[128];
        snprintf(env, sizeof(env), "CONCORD_ARENA_NUMA_NODE=%d", n);
        run("unplaced", env, out, sizeof(out));
        snprintf(
            want, sizeof(want),
            "CONCORD_ARENA_NUMA_NODE=%d: no such node, or it has no memory; NUMA placement off", n);
        assert_int_equal(tu_count(out, want), 1);
        assert_non_null(strstr(out, "allocated"));
        tested += n < nnodes ? 10 : 1;
    }
    print_message("memory-less nodes tested: %d, missing nodes tested: %d\n", tested / 10,
                  tested % 10);
}

static void test_cache_per_node(void **state)
{
    (void)state;
    static char out[1 << 16];
    run("cache", NULL, out, sizeof(out));
}

static void test_spill(void **state)
{
    (void)state;
    static char out[1 << 16];
    run("spill", NULL, out, sizeof(out));
    assert_int_equal(tu_count(out, "NUMA placement off"), 0);
}

static void test_region_policy(void **state)
{
    (void)state;
    static char out[1 << 16];
    run("region", NULL, out, sizeof(out));
}

static void test_adoption_keeps_node(void **state)
{
    (void)state;
    static char out[1 << 16];
    run("adopt", NULL, out, sizeof(out));
}

static void test_kvserver(void **state)
{
    (void)state;
    static char out[1 << 16];
    run("kvserver", NULL, out, sizeof(out));
}

/* A thread on a CPU of a node without memory: its arena is homed on a node
 * with memory (the lowest), placement stays on for the other threads. */
static int child_memless(void)
{
    int z = -1, b = -1;
    for (int n = 0; n < nnodes; n++) {
        if (node_cpu[n] >= 0 && node_mem[n] == 0) z = n;
        if (n > 0 && usable(n)) b = n;
    }
    if (z < 0 || b < 0) return 77;
    int low = 0;
    while (node_mem[low] == 0)
        low++;
    worker_t w[2] = {{.node = low, .cpu = node_cpu[z]}, {.node = b, .cpu = node_cpu[b]}};
    pthread_t t[2];
    pthread_barrier_init(&hold, NULL, 3);
    pthread_barrier_init(&release, NULL, 3);
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, worker, &w[i]);
    pthread_barrier_wait(&hold);
    const char *json = dump_json();
    int arenas[MAX_NODES];
    arenas_by_node(json, 10, -1, arenas);
    printf("thread on CPU %d (node %d, no memory): %s on node %d; thread on CPU %d: %s\n", w[0].cpu,
           z, w[0].ok ? "placed" : "MISPLACED", low, w[1].cpu, w[1].ok ? "placed" : "MISPLACED");
    int ok = w[0].ok && w[1].ok && arenas[z] == 0 && arenas[low] > 0 && dump_agrees(json, -1);
    pthread_barrier_wait(&release);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    return ok ? 0 : 1;
}

static void test_memless_cpu(void **state)
{
    (void)state;
    static char out[1 << 16];
    run("memless", NULL, out, sizeof(out));
}

/* With placement off every allocation still succeeds. */
static int child_unplaced(void)
{
    void *p = MALLOC(100), *q = MALLOC(200000), *h = MALLOC(8 * MIB);
    if (!p || !q || !h) return 1;
    memset(h, 1, 8 * MIB);
    printf("allocated\n");
    FREE(p);
    FREE(q);
    FREE(h);
    return 0;
}

int main(int argc, char **argv)
{
    topology();
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--kvserver")) kvserver_path = argv[i + 1];
        if (!strcmp(argv[i], "--lib")) lib_path = argv[i + 1];
    }
    if (kvserver_path) setenv("NUMA_GUEST_KVSERVER", kvserver_path, 1);
    if (lib_path) setenv("NUMA_GUEST_LIB", lib_path, 1);
    kvserver_path = getenv("NUMA_GUEST_KVSERVER");
    lib_path = getenv("NUMA_GUEST_LIB");
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 2 && strncmp(argv[1], "--", 2) != 0) {
        const char *m = argv[1];
        if (!strcmp(m, "pinned")) return child_pinned(-1);
        if (!strncmp(m, "forced", 6)) return child_pinned(atoi(m + 6));
        if (!strcmp(m, "unplaced")) return child_unplaced();
        if (!strcmp(m, "cache")) return child_cache();
        if (!strcmp(m, "memless")) return child_memless();
        if (!strcmp(m, "spill")) return child_spill();
        if (!strcmp(m, "region")) return child_region();
        if (!strcmp(m, "kvserver")) return child_kvserver();
        if (!strcmp(m, "adopt")) return child_adopt();
        return 99;
    }
    if (nnodes < 2) {
        printf("one NUMA node: nothing to test here (scripts/numa-guest.sh boots a guest with "
               "more)\n");
        return 77;
    }
    printf("%d NUMA nodes:", nnodes);
    for (int n = 0; n < nnodes; n++)
        printf(" node %d cpu %d %ld MiB;", n, node_cpu[n], node_mem[n] >> 10);
    printf("\n");
    snprintf(dump_file, sizeof(dump_file), "/tmp/numa-guest-dump.%d", (int)getpid());
    struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinned_threads), cmocka_unit_test(test_numa_node_env),
        cmocka_unit_test(test_numa_node_bad),  cmocka_unit_test(test_memless_cpu),
        cmocka_unit_test(test_cache_per_node), cmocka_unit_test(test_spill),
        cmocka_unit_test(test_region_policy),  cmocka_unit_test(test_adoption_keeps_node),
        cmocka_unit_test(test_kvserver),
    };
    size_t count = sizeof(tests) / sizeof(tests[0]);
#if CA_CORE
    count--; /* kvserver runs under LD_PRELOAD only */
#endif
    int rc = _cmocka_run_group_tests("numa_guest", tests, count, NULL, NULL);
    unlink(dump_file);
    return rc;
}
