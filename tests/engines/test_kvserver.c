/*
 * test_kvserver.c - kvserver end to end, for one engine.
 *
 *   test_kvserver PATH_TO_KVSERVER ENGINE
 *
 * Starts `kvserver --engine ENGINE --port 0 --threads 2`, waits for its
 * "listening" line on stdout, and drives it with a small RESP client written
 * here, with redis-cli and with redis-benchmark (found on PATH; the cases that
 * need them are skipped when they are missing). When KV_TEST_PRELOAD names a
 * shared library, the server (and only the server) runs with it as
 * LD_PRELOAD.
 *
 * Nothing here sleeps to synchronise: replies are awaited with blocking
 * reads under a receive timeout, connections with poll(), and child
 * processes with waitpid() or the end of their stdout pipe.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define IO_TIMEOUT_S  30         /* seconds a reply may take before the test fails */
#define READY_TIMEOUT 20000      /* ms to wait for the listening line */
#define MAX_REQUEST   (8u << 20) /* bytes: --max-request-bytes given to the server */

static const char *g_kvserver; /* path of the binary under test */
static const char *g_engine;   /* engine under test */
static char g_tmpdir[64];      /* scratch directory for redis-cli files */

struct server_proc {
    pid_t pid;
    int out_fd; /* read end of the server's stdout */
    int port;
};

static struct server_proc g_srv = {.pid = -1, .out_fd = -1};

static int engine_ordered(void)
{
    return strcmp(g_engine, "hash") != 0;
}

/* ---- processes ---- */

/* Spawn argv with stdout on a pipe (returned in *out_fd) and the preload
 * library, if any, in its environment. */
static pid_t spawn_server(char *const argv[], int *out_fd)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);

    /* The environment: ours, plus LD_PRELOAD when asked for. */
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof(*env));
    assert_non_null(env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0) env[k++] = environ[i];
    char preload[4096];
    const char *lib = getenv("KV_TEST_PRELOAD");
    if (lib && *lib) {
        snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", lib);
        env[k++] = preload;
    }
    env[k] = NULL;

    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    close(pfd[1]);
    if (rc != 0) {
        close(pfd[0]);
        errno = rc;
        return -1;
    }
    *out_fd = pfd[0];
    return pid;
}

/* Read the server's first stdout line; return the port it listens on. */
static int wait_ready(int fd)
{
    char line[256];
    size_t len = 0;
    while (len < sizeof(line) - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, READY_TIMEOUT);
        if (r <= 0) return -1;
        ssize_t n = read(fd, line + len, 1);
        if (n <= 0) return -1;
        if (line[len] == '\n') break;
        len++;
    }
    line[len] = 0;
    const char *p = strstr(line, "kvserver listening on ");
    const char *colon = p ? strrchr(line, ':') : NULL;
    const char *eng = strstr(line, " engine=");
    if (!colon || !eng || eng < colon) return -1;
    return atoi(colon + 1);
}

/* Wait for a child to exit; its stdout pipe reaching EOF bounds the wait. */
static int wait_exit(pid_t pid, int out_fd, int timeout_ms)
{
    if (out_fd >= 0) {
        for (;;) {
            struct pollfd p = {.fd = out_fd, .events = POLLIN};
            int r = poll(&p, 1, timeout_ms);
            if (r <= 0) return -1;
            char b[256];
            ssize_t n = read(out_fd, b, sizeof(b));
            if (n <= 0) break;
        }
    }
    int status;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return status;
}

static int start_server(struct server_proc *sp, const char *extra1, const char *extra2)
{
    char *argv[16];
    int i = 0;
    argv[i++] = (char *)g_kvserver;
    argv[i++] = "--engine";
    argv[i++] = (char *)g_engine;
    argv[i++] = "--port";
    argv[i++] = "0";
    argv[i++] = "--threads";
    argv[i++] = "2";
    argv[i++] = "--max-request-bytes";
    argv[i++] = "8M";
    argv[i++] = "--lsm-memtable-bytes";
    argv[i++] = "64K";
    if (extra1) argv[i++] = (char *)extra1;
    if (extra2) argv[i++] = (char *)extra2;
    argv[i] = NULL;
    sp->pid = spawn_server(argv, &sp->out_fd);
    if (sp->pid < 0) return -1;
    sp->port = wait_ready(sp->out_fd);
    return sp->port > 0 ? 0 : -1;
}

static int server_alive(const struct server_proc *sp)
{
    int status;
    return waitpid(sp->pid, &status, WNOHANG) == 0;
}

/* Run a tool found on PATH with stdin/stdout redirected to files (NULL:
 * inherit; stdout NULL goes to /dev/null). Returns the exit status, -1 when
 * it could not start. */
static int run_tool(char *const argv[], const char *in_path, const char *out_path)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (in_path) posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, in_path, O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path ? out_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return -1;
    int status;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int have_tool(const char *name)
{
    const char *path = getenv("PATH");
    if (!path) return 0;
    char buf[4096];
    while (*path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, name);
        if (access(buf, X_OK) == 0) return 1;
        path += n + (end ? 1 : 0);
    }
    return 0;
}

/* ---- a small RESP client ---- */

struct conn {
    int fd;
    char *buf;  /* received, not yet parsed */
    size_t len; /* bytes in buf */
    size_t off; /* bytes of buf parsed */
    size_t cap; /* bytes allocated */
};

enum { R_STATUS, R_ERROR, R_INT, R_BULK, R_NIL, R_ARRAY };

struct reply {
    int type;
    long long integer;   /* R_INT */
    char *str;           /* R_STATUS, R_ERROR, R_BULK: NUL-terminated copy */
    size_t len;          /* bytes in str */
    size_t n;            /* R_ARRAY: elements */
    struct reply **elem; /* R_ARRAY */
};

static int connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static struct conn *conn_open(void)
{
    struct conn *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->fd = connect_port(g_srv.port);
    return c;
}

static void conn_close(struct conn *c)
{
    close(c->fd);
    free(c->buf);
    free(c);
}

/* Send everything; 0, or -1 when the peer is gone (allowed for bad input). */
static int send_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Make sure buf holds `need` unparsed bytes; 0, or -1 on EOF. */
static int fill(struct conn *c, size_t need)
{
    while (c->len - c->off < need) {
        if (c->off && c->off == c->len) c->off = c->len = 0;
        if (c->cap - c->len < 65536) {
            c->cap = c->cap ? c->cap * 2 : 131072;
            c->buf = realloc(c->buf, c->cap);
            assert_non_null(c->buf);
        }
        ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            fail_msg("timed out waiting for a reply");
        if (r <= 0) return -1;
        c->len += (size_t)r;
    }
    return 0;
}

/* One CRLF-terminated line (without CRLF), NUL-terminated in place. */
static char *read_line(struct conn *c)
{
    for (;;) {
        char *start = c->buf ? c->buf + c->off : NULL;
        char *nl = start ? memchr(start, '\n', c->len - c->off) : NULL;
        if (nl) {
            assert_true(nl > start && nl[-1] == '\r');
            nl[-1] = 0;
            c->off = (size_t)(nl + 1 - c->buf);
            return start;
        }
        if (fill(c, c->len - c->off + 1) != 0) return NULL;
    }
}

static void reply_free(struct reply *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++)
        reply_free(r->elem[i]);
    free(r->elem);
    free(r->str);
    free(r);
}

/* Read one reply; NULL when the connection closed first. */
static struct reply *read_reply(struct conn *c)
{
    char *line = read_line(c);
    if (!line) return NULL;
    struct reply *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    switch (line[0]) {
    case '+':
    case '-':
        r->type = line[0] == '+' ? R_STATUS : R_ERROR;
        r->str = strdup(line + 1);
        r->len = strlen(r->str);
        break;
    case ':':
        r->type = R_INT;
        r->integer = strtoll(line + 1, NULL, 10);
        break;
    case '$': {
        long long n = strtoll(line + 1, NULL, 10);
        if (n < 0) {
            r->type = R_NIL;
            break;
        }
        r->type = R_BULK;
        assert_int_equal(fill(c, (size_t)n + 2), 0);
        r->str = malloc((size_t)n + 1);
        assert_non_null(r->str);
        memcpy(r->str, c->buf + c->off, (size_t)n);
        r->str[n] = 0;
        r->len = (size_t)n;
        assert_memory_equal(c->buf + c->off + n, "\r\n", 2);
        c->off += (size_t)n + 2;
        break;
    }
    case '*': {
        long long n = strtoll(line + 1, NULL, 10);
        if (n < 0) {
            r->type = R_NIL;
            break;
        }
        r->type = R_ARRAY;
        r->n = (size_t)n;
        r->elem = calloc(r->n ? r->n : 1, sizeof(*r->elem));
        assert_non_null(r->elem);
        for (size_t i = 0; i < r->n; i++) {
            r->elem[i] = read_reply(c);
            assert_non_null(r->elem[i]);
        }
        break;
    }
    default:
        fail_msg("bad reply line '%s'", line);
    }
    return r;
}

/* Encode a multibulk command into a growing buffer. */
static void encode(char **buf, size_t *len, size_t *cap, int argc, const char *const *argv,
                   const size_t *lens)
{
    size_t need = 32;
    for (int i = 0; i < argc; i++)
        need += lens[i] + 32;
    if (*len + need > *cap) {
        while (*len + need > *cap)
            *cap = *cap ? *cap * 2 : 4096;
        *buf = realloc(*buf, *cap);
        assert_non_null(*buf);
    }
    *len += (size_t)sprintf(*buf + *len, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        *len += (size_t)sprintf(*buf + *len, "$%zu\r\n", lens[i]);
        memcpy(*buf + *len, argv[i], lens[i]);
        *len += lens[i];
        memcpy(*buf + *len, "\r\n", 2);
        *len += 2;
    }
}

static struct reply *command_bin(struct conn *c, int argc, const char *const *argv,
                                 const size_t *lens)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    encode(&buf, &len, &cap, argc, argv, lens);
    assert_int_equal(send_all(c->fd, buf, len), 0);
    free(buf);
    struct reply *r = read_reply(c);
    assert_non_null(r);
    return r;
}

/* command(c, "SET", "k", "v", NULL): text arguments. */
static struct reply *command(struct conn *c, ...)
{
    const char *argv[64];
    size_t lens[64];
    int argc = 0;
    va_list ap;
    va_start(ap, c);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL) {
        assert_true(argc < 64);
        argv[argc] = a;
        lens[argc++] = strlen(a);
    }
    va_end(ap);
    return command_bin(c, argc, argv, lens);
}

static void expect_status(struct reply *r, const char *s)
{
    assert_int_equal(r->type, R_STATUS);
    assert_string_equal(r->str, s);
    reply_free(r);
}

static void expect_int(struct reply *r, long long v)
{
    assert_int_equal(r->type, R_INT);
    assert_int_equal(r->integer, v);
    reply_free(r);
}

static void expect_bulk(struct reply *r, const void *p, size_t n)
{
    assert_int_equal(r->type, R_BULK);
    assert_int_equal(r->len, n);
    if (n) assert_memory_equal(r->str, p, n);
    reply_free(r);
}

static void expect_str(struct reply *r, const char *s)
{
    expect_bulk(r, s, strlen(s));
}

static void expect_nil(struct reply *r)
{
    assert_int_equal(r->type, R_NIL);
    reply_free(r);
}

static void expect_error(struct reply *r, const char *prefix)
{
    assert_int_equal(r->type, R_ERROR);
    if (strncmp(r->str, prefix, strlen(prefix)) != 0)
        fail_msg("error '%s' does not start with '%s'", r->str, prefix);
    reply_free(r);
}

/* The peer must close the connection (after any replies already read). */
static void expect_eof(struct conn *c)
{
    for (;;) {
        if (c->off < c->len)
            fail_msg("unexpected bytes before EOF: %.*s", (int)(c->len - c->off), c->buf + c->off);
        char b[256];
        ssize_t r = recv(c->fd, b, sizeof(b), 0);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0 || (r < 0 && errno == ECONNRESET)) return;
        if (r < 0) fail_msg("no EOF: %s", strerror(errno));
        fail_msg("unexpected bytes before EOF: %.*s", (int)r, b);
    }
}

/* ---- sentinel data, checked after every abuse ---- */

#define SENTINELS 200

static void sentinel_key(char *k, size_t n, int i)
{
    snprintf(k, n, "sentinel:%03d", i);
}

static size_t sentinel_value(unsigned char *v, int i)
{
    size_t len = (size_t)(i * 7) % 64;
    for (size_t j = 0; j < len; j++)
        v[j] = (unsigned char)(i * 31 + j * 17); /* NULs, CR and LF included */
    return len;
}

static void sentinels_store(void)
{
    struct conn *c = conn_open();
    for (int i = 0; i < SENTINELS; i++) {
        char k[32];
        unsigned char v[64];
        sentinel_key(k, sizeof(k), i);
        size_t vl = sentinel_value(v, i);
        const char *argv[] = {"SET", k, (const char *)v};
        size_t lens[] = {3, strlen(k), vl};
        expect_status(command_bin(c, 3, argv, lens), "OK");
    }
    conn_close(c);
}

static void sentinels_check(void)
{
    assert_true(server_alive(&g_srv));
    struct conn *c = conn_open();
    expect_status(command(c, "PING", NULL), "PONG");
    for (int i = 0; i < SENTINELS; i++) {
        char k[32];
        unsigned char v[64];
        sentinel_key(k, sizeof(k), i);
        size_t vl = sentinel_value(v, i);
        expect_bulk(command(c, "GET", k, NULL), v, vl);
    }
    conn_close(c);
}

/* ---- cases ---- */

static int group_setup(void **state)
{
    (void)state;
    snprintf(g_tmpdir, sizeof(g_tmpdir), "/tmp/kvtest.XXXXXX");
    if (!mkdtemp(g_tmpdir)) return -1;
    if (start_server(&g_srv, NULL, NULL) != 0) {
        fprintf(stderr, "could not start %s\n", g_kvserver);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (g_srv.pid > 0) {
        kill(g_srv.pid, SIGKILL);
        waitpid(g_srv.pid, NULL, 0);
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Read a whole file into memory. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = 1 << 16, n = 0;
    unsigned char *p = malloc(cap);
    assert_non_null(p);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            p = realloc(p, cap);
            assert_non_null(p);
        }
        size_t r = fread(p + n, 1, cap - n, f);
        if (r == 0) break;
        n += r;
    }
    fclose(f);
    *len = n;
    return p;
}

/* Under KV_TEST_PRELOAD the library must really be mapped into the server. */
static void test_preload_mapped(void **state)
{
    (void)state;
    const char *lib = getenv("KV_TEST_PRELOAD");
    if (!lib || !*lib) skip();
    const char *base = strrchr(lib, '/');
    base = base ? base + 1 : lib;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)g_srv.pid);
    size_t n;
    unsigned char *maps = slurp(path, &n);
    maps = realloc(maps, n + 1);
    assert_non_null(maps);
    maps[n] = 0;
    if (!strstr((char *)maps, base)) fail_msg("%s is not mapped into the server", base);
    free(maps);
}

static void test_commands(void **state)
{
    (void)state;
    struct conn *c = conn_open();
    expect_status(command(c, "PING", NULL), "PONG");
    expect_str(command(c, "PING", "hello", NULL), "hello");
    expect_str(command(c, "ECHO", "x y", NULL), "x y");
    expect_status(command(c, "SET", "k1", "v1", NULL), "OK");
    expect_str(command(c, "GET", "k1", NULL), "v1");
    expect_nil(command(c, "GET", "nope", NULL));

    /* Binary-safe keys and values, an empty value. */
    static const char bk[] = {'b', 0, '\r', '\n', 'k'};
    static const char bv[] = {0, 0, '\r', '\n', '$', '3', '\r', '\n', 0};
    const char *sa[] = {"SET", bk, bv};
    size_t sl[] = {3, sizeof(bk), sizeof(bv)};
    expect_status(command_bin(c, 3, sa, sl), "OK");
    const char *ga[] = {"GET", bk};
    size_t gl[] = {3, sizeof(bk)};
    expect_bulk(command_bin(c, 2, ga, gl), bv, sizeof(bv));
    expect_status(command(c, "SET", "empty", "", NULL), "OK");
    expect_str(command(c, "GET", "empty", NULL), "");

    /* DEL, EXISTS, MSET, MGET. */
    expect_int(command(c, "EXISTS", "k1", "empty", "nope", "k1", NULL), 3);
    expect_int(command(c, "DEL", "k1", "nope", NULL), 1);
    expect_int(command(c, "EXISTS", "k1", NULL), 0);
    expect_status(command(c, "MSET", "m1", "a", "m2", "b", "m3", "", NULL), "OK");
    struct reply *r = command(c, "MGET", "m1", "missing", "m2", "m3", NULL);
    assert_int_equal(r->type, R_ARRAY);
    assert_int_equal(r->n, 4);
    assert_string_equal(r->elem[0]->str, "a");
    assert_int_equal(r->elem[1]->type, R_NIL);
    assert_string_equal(r->elem[2]->str, "b");
    assert_int_equal(r->elem[3]->len, 0);
    reply_free(r);
    expect_error(command(c, "MSET", "odd", NULL), "ERR wrong number of arguments for 'mset'");

    /* Counters. */
    expect_int(command(c, "INCR", "ctr", NULL), 1);
    expect_int(command(c, "INCRBY", "ctr", "41", NULL), 42);
    expect_int(command(c, "DECR", "ctr", NULL), 41);
    expect_int(command(c, "DECRBY", "ctr", "-9", NULL), 50);
    expect_str(command(c, "GET", "ctr", NULL), "50");
    expect_error(command(c, "INCR", "m1", NULL), "ERR value is not an integer");
    expect_status(command(c, "SET", "big", "9223372036854775807", NULL), "OK");
    expect_error(command(c, "INCR", "big", NULL), "ERR increment or decrement would overflow");
    expect_error(command(c, "INCRBY", "ctr", "1x", NULL), "ERR value is not an integer");

    /* SET options and expiry. */
    expect_nil(command(c, "SET", "m1", "z", "NX", NULL));
    expect_str(command(c, "GET", "m1", NULL), "a");
    expect_nil(command(c, "SET", "fresh", "z", "XX", NULL));
    expect_nil(command(c, "GET", "fresh", NULL));
    expect_status(command(c, "SET", "fresh", "z", "NX", NULL), "OK");
    expect_str(command(c, "SET", "fresh", "y", "GET", NULL), "z");
    expect_status(command(c, "SET", "ttl", "v", "EX", "1000", NULL), "OK");
    r = command(c, "TTL", "ttl", NULL);
    assert_int_equal(r->type, R_INT);
    assert_true(r->integer > 990 && r->integer <= 1000);
    reply_free(r);
    expect_int(command(c, "TTL", "m1", NULL), -1);
    expect_int(command(c, "TTL", "nope", NULL), -2);
    expect_status(command(c, "SET", "ttl", "w", "KEEPTTL", NULL), "OK");
    r = command(c, "PTTL", "ttl", NULL);
    assert_true(r->integer > 990000);
    reply_free(r);
    expect_int(command(c, "PERSIST", "ttl", NULL), 1);
    expect_int(command(c, "TTL", "ttl", NULL), -1);
    /* An expiry in the past: gone at once, lazily. */
    expect_status(command(c, "SET", "past", "v", "PXAT", "1000", NULL), "OK");
    expect_nil(command(c, "GET", "past", NULL));
    expect_int(command(c, "EXISTS", "past", NULL), 0);
    expect_status(command(c, "SET", "gone", "v", NULL), "OK");
    expect_int(command(c, "EXPIRE", "gone", "0", NULL), 1);
    expect_nil(command(c, "GET", "gone", NULL));
    expect_error(command(c, "SET", "x", "v", "EX", "0", NULL), "ERR invalid expire time");
    expect_error(command(c, "SET", "x", "v", "EX", "abc", NULL),
                 "ERR value is not an integer or out of range");
    expect_error(command(c, "SET", "x", "v", "NX", "XX", NULL), "ERR syntax error");
    expect_error(command(c, "SET", "x", "v", "BOGUS", NULL), "ERR syntax error");

    /* Server and connection commands. */
    expect_status(command(c, "SELECT", "0", NULL), "OK");
    expect_error(command(c, "SELECT", "1", NULL), "ERR DB index is out of range");
    expect_nil(command(c, "CLIENT", "GETNAME", NULL));
    expect_status(command(c, "CLIENT", "SETNAME", "tester", NULL), "OK");
    expect_str(command(c, "CLIENT", "GETNAME", NULL), "tester");
    expect_error(command(c, "CLIENT", "SETNAME", "a b", NULL), "ERR Client names");
    r = command(c, "COMMAND", "DOCS", NULL);
    assert_int_equal(r->type, R_ARRAY);
    reply_free(r);
    r = command(c, "CONFIG", "GET", "save", NULL);
    assert_int_equal(r->type, R_ARRAY);
    assert_int_equal(r->n, 2);
    reply_free(r);
    r = command(c, "CONFIG", "GET", "nosuchparam", NULL);
    assert_int_equal(r->type, R_ARRAY);
    assert_int_equal(r->n, 0);
    reply_free(r);
    expect_error(command(c, "FOOBAR", "a", "b", NULL),
                 "ERR unknown command 'FOOBAR', with args beginning with: 'a' 'b' ");
    expect_error(command(c, "GET", NULL), "ERR wrong number of arguments for 'get' command");
    expect_error(command(c, "GET", "a", "b", NULL), "ERR wrong number of arguments");

    r = command(c, "INFO", NULL);
    assert_int_equal(r->type, R_BULK);
    assert_non_null(strstr(r->str, "# Server\r\n"));
    assert_non_null(strstr(r->str, "# Clients\r\nconnected_clients:"));
    assert_non_null(strstr(r->str, "used_memory_rss:"));
    assert_non_null(strstr(r->str, "mallinfo2_uordblks:"));
    assert_non_null(strstr(r->str, "# Keyspace\r\ndb0:keys="));
    char want[64];
    snprintf(want, sizeof(want), "engine:%s\r\n", g_engine);
    assert_non_null(strstr(r->str, want));
    reply_free(r);
    r = command(c, "INFO", "memory", NULL);
    assert_int_equal(r->type, R_BULK);
    assert_null(strstr(r->str, "# Server"));
    assert_non_null(strstr(r->str, "# Memory"));
    reply_free(r);

    /* DBSIZE and FLUSHDB on a second look at the whole keyspace. */
    r = command(c, "DBSIZE", NULL);
    assert_int_equal(r->type, R_INT);
    assert_true(r->integer >= 8);
    reply_free(r);
    expect_status(command(c, "FLUSHDB", NULL), "OK");
    expect_int(command(c, "DBSIZE", NULL), 0);
    expect_nil(command(c, "GET", "m2", NULL));
    expect_status(command(c, "QUIT", NULL), "OK");
    expect_eof(c);
    conn_close(c);
}

/* ---- Redis's exact replies ---- */

struct redis_case {
    const char *cmd;   /* words separated by single spaces; "" is the empty word */
    const char *reply; /* Redis 7.0's raw reply */
    size_t len;        /* bytes of reply (it may hold NUL bytes) */
};

#include "redis_replies.h"

/* Inline commands and framing, sent raw: Redis 7.0's raw output. */
static const char *const redis_inline[][2] = {
    {"SET ik 'x\\'y'\r\nGET ik\r\n", "+OK\r\n$3\r\nx'y\r\n"},
    {"ECHO foo\"bar baz\"\r\n", "$10\r\nfoobar baz\r\n"},
    {"ECHO a\"\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
    {"ECHO a\013b\r\n", "$3\r\na\013b\r\n"},
    {"ECHO a\014b\r\n", "$3\r\na\014b\r\n"},
    {"ECHO \013 a\r\n", "$1\r\na\r\n"},
    {"ECHO 'a'b\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
    {"ECHO \"a\\x4\"\r\n", "$3\r\nax4\r\n"},
    {"ECHO 'a\\nb'\r\n", "$4\r\na\\nb\r\n"},
    {"ECHO \"\\x41\\x4a\"\r\n", "$2\r\nAJ\r\n"},
    {"ECHO a'b c'\r\n", "$4\r\nab c\r\n"},
    {"ECHO \"\"\r\n", "$0\r\n\r\n"},
    {"ECHO a\011b\r\n", "-ERR wrong number of arguments for 'echo' command\r\n"},
    {"ECHO x\r\n\r\n\r\nECHO y\n", "$1\r\nx\r\n$1\r\ny\r\n"},
    {"ECHO 'a\\\\b'\r\n", "$4\r\na\\\\b\r\n"},
    {"ECHO \"a\\\"b\"\r\n", "$3\r\na\"b\r\n"},
    {"*-0\r\nPING\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
    {"*01\r\n$4\r\nPING\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
    {"*1\r\n$04\r\nPING\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
    {"*1\r\n$-0\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
    {"*-1\r\nPING\r\n", "+PONG\r\n"},
    {"*0\r\nPING\r\n", "+PONG\r\n"},
    {"*-5\r\nPING\r\n", "+PONG\r\n"},
    {"*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
    {"*+1\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
    {"*-9223372036854775807\r\nPING\r\n", "+PONG\r\n"},
    {"*-9223372036854775808\r\nPING\r\n", "+PONG\r\n"},
    {"*-9223372036854775809\r\nPING\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
    {"*-99999999999999999999\r\nPING\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
    {"*9223372036854775807\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
    {"*1\r\n$9223372036854775807\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
    {"*1\r\n$-9223372036854775808\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
};

/* Offset just past the reply that starts at c->buf[start], reading more
 * as needed; the buffer is not modified. */
static size_t raw_reply_end(struct conn *c, size_t start)
{
    for (;;) {
        char *nl = c->len > start ? memchr(c->buf + start, '\n', c->len - start) : NULL;
        if (nl) {
            size_t end = (size_t)(nl + 1 - c->buf);
            char kind = c->buf[start];
            long long n = strtoll(c->buf + start + 1, NULL, 10);
            if (kind == '$' && n >= 0) {
                while (c->len < end + (size_t)n + 2)
                    assert_int_equal(fill(c, c->len - c->off + 1), 0);
                return end + (size_t)n + 2;
            }
            if (kind == '*')
                for (long long i = 0; i < n; i++)
                    end = raw_reply_end(c, end);
            return end;
        }
        assert_int_equal(fill(c, c->len - c->off + 1), 0);
    }
}

/* Send one case's command and compare the raw reply with Redis's. */
static void expect_redis_case(struct conn *c, const struct redis_case *rc)
{
    const char *argv[16];
    size_t lens[16];
    int argc = 0;
    char words[256];
    snprintf(words, sizeof(words), "%s", rc->cmd);
    for (char *save = NULL, *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        assert_true(argc < 16);
        if (strcmp(w, "\"\"") == 0) w[0] = 0;
        argv[argc] = w;
        lens[argc++] = strlen(w);
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    encode(&buf, &len, &cap, argc, argv, lens);
    assert_int_equal(send_all(c->fd, buf, len), 0);
    free(buf);
    /* fill() moves nothing while unparsed bytes remain; start from empty. */
    if (c->off == c->len) c->off = c->len = 0;
    size_t end = raw_reply_end(c, c->off);
    size_t n = end - c->off;
    if (n != rc->len || memcmp(c->buf + c->off, rc->reply, n) != 0)
        fail_msg("%s: got '%.*s', Redis says '%s'", rc->cmd, (int)n, c->buf + c->off, rc->reply);
    c->off = end;
}

/* Every reply Redis 7.0 gave to the cases in redis_replies.h, byte for byte:
 * the four value types and WRONGTYPE, string and key commands, expiry
 * options, integer parsing, error texts, glob corners and transactions. */
static void test_redis_replies(void **state)
{
    (void)state;
    struct conn *c = conn_open();
    for (size_t i = 0; i < sizeof(redis_cases) / sizeof(redis_cases[0]); i++)
        expect_redis_case(c, &redis_cases[i]);
    conn_close(c);
}

/* Inline quoting and RESP framing, raw bytes in and out, as Redis. */
static void test_redis_inline(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(redis_inline) / sizeof(redis_inline[0]); i++) {
        const char *req = redis_inline[i][0], *want = redis_inline[i][1];
        struct conn *c = conn_open();
        assert_int_equal(send_all(c->fd, req, strlen(req)), 0);
        size_t n = strlen(want);
        if (fill(c, n) != 0) fail_msg("%s: connection closed early", req);
        if (memcmp(c->buf + c->off, want, n) != 0)
            fail_msg("%s: got '%.*s', Redis says '%s'", req, (int)(c->len - c->off),
                     c->buf + c->off, want);
        c->off += n;
        if (strncmp(want, "-ERR Protocol error", 19) == 0) expect_eof(c);
        conn_close(c);
    }
}

/* Replies that cannot be a fixed text (they depend on the whole keyspace or
 * on the server), checked for what Redis does. */
static void test_redis_behaviour(void **state)
{
    (void)state;
    struct conn *c = conn_open();
    /* INFO with several sections returns each of them. */
    struct reply *r = command(c, "INFO", "server", "clients", NULL);
    assert_int_equal(r->type, R_BULK);
    assert_non_null(strstr(r->str, "# Server\r\n"));
    assert_non_null(strstr(r->str, "\r\n\r\n# Clients\r\n"));
    assert_null(strstr(r->str, "# Memory"));
    reply_free(r);
    /* SCAN '' is cursor 0. */
    r = command(c, "SCAN", "", NULL);
    assert_int_equal(r->type, R_ARRAY);
    assert_int_equal(r->n, 2);
    reply_free(r);
    /* KEYS ** does not match the empty key; KEYS * does. */
    expect_status(command(c, "SET", "", "empty-key", NULL), "OK");
    const char *pats[] = {"**", "*"};
    for (int p = 0; p < 2; p++) {
        r = command(c, "KEYS", pats[p], NULL);
        assert_int_equal(r->type, R_ARRAY);
        int found = 0;
        for (size_t i = 0; i < r->n; i++)
            found |= r->elem[i]->len == 0;
        assert_int_equal(found, p == 1);
        reply_free(r);
    }
    expect_int(command(c, "DEL", "", NULL), 1);
    /* HELLO: protocol 2 only. */
    r = command(c, "HELLO", "2", NULL);
    assert_int_equal(r->type, R_ARRAY);
    assert_int_equal(r->n, 14);
    assert_string_equal(r->elem[4]->str, "proto");
    assert_int_equal(r->elem[5]->integer, 2);
    reply_free(r);
    expect_error(command(c, "HELLO", "3", NULL), "NOPROTO unsupported protocol version");
    /* RANDOMKEY names a key that exists. */
    expect_status(command(c, "SET", "rk:1", "v", NULL), "OK");
    r = command(c, "RANDOMKEY", NULL);
    assert_int_equal(r->type, R_BULK);
    const char *ea[] = {"EXISTS", r->str};
    size_t el[] = {6, r->len};
    expect_int(command_bin(c, 2, ea, el), 1);
    reply_free(r);
    conn_close(c);
}

/* WATCH: a change by another client (maybe served by another thread)
 * makes EXEC return a null array; without one, EXEC runs. */
static void test_transactions(void **state)
{
    (void)state;
    struct conn *a = conn_open(), *b = conn_open();
    expect_status(command(a, "SET", "tx:k", "1", NULL), "OK");
    expect_status(command(a, "WATCH", "tx:k", NULL), "OK");
    expect_status(command(a, "MULTI", NULL), "OK");
    expect_status(command(a, "INCR", "tx:k", NULL), "QUEUED");
    expect_status(command(b, "SET", "tx:k", "10", NULL), "OK");
    struct reply *r = command(a, "EXEC", NULL);
    assert_int_equal(r->type, R_NIL);
    reply_free(r);
    expect_str(command(a, "GET", "tx:k", NULL), "10");
    /* A change to a watched key by the watcher itself before MULTI counts too;
     * after EXEC the keys are no longer watched. */
    expect_status(command(a, "WATCH", "tx:k", "tx:list", NULL), "OK");
    expect_int(command(b, "RPUSH", "tx:list", "x", NULL), 1);
    expect_status(command(a, "MULTI", NULL), "OK");
    expect_status(command(a, "GET", "tx:k", NULL), "QUEUED");
    r = command(a, "EXEC", NULL);
    assert_int_equal(r->type, R_NIL);
    reply_free(r);
    /* Untouched: EXEC runs every queued command in order. */
    expect_status(command(a, "WATCH", "tx:k", NULL), "OK");
    expect_str(command(b, "GET", "tx:k", NULL), "10");
    expect_status(command(a, "MULTI", NULL), "OK");
    expect_status(command(a, "INCR", "tx:k", NULL), "QUEUED");
    expect_status(command(a, "LPOP", "tx:list", NULL), "QUEUED");
    r = command(a, "EXEC", NULL);
    assert_int_equal(r->type, R_ARRAY);
    assert_int_equal(r->n, 2);
    assert_int_equal(r->elem[0]->integer, 11);
    assert_string_equal(r->elem[1]->str, "x");
    reply_free(r);
    /* UNWATCH forgets; DEL, EXPIRE, FLUSHDB-free changes all count. */
    expect_status(command(a, "WATCH", "tx:k", NULL), "OK");
    expect_status(command(a, "UNWATCH", NULL), "OK");
    expect_status(command(b, "SET", "tx:k", "0", NULL), "OK");
    expect_status(command(a, "MULTI", NULL), "OK");
    expect_status(command(a, "GET", "tx:k", NULL), "QUEUED");
    r = command(a, "EXEC", NULL);
    assert_int_equal(r->type, R_ARRAY);
    reply_free(r);
    expect_status(command(a, "WATCH", "tx:k", NULL), "OK");
    expect_int(command(b, "EXPIRE", "tx:k", "1000", NULL), 1);
    expect_status(command(a, "MULTI", NULL), "OK");
    r = command(a, "EXEC", NULL);
    assert_int_equal(r->type, R_NIL);
    reply_free(r);
    /* A watched key that expires before EXEC fails it too, as Redis 7.0
     * (polling PTTL, no sleeping, until the 50 ms expiry has passed). */
    expect_status(command(a, "SET", "tx:e", "v", "PX", "50", NULL), "OK");
    expect_status(command(a, "WATCH", "tx:e", NULL), "OK");
    for (;;) {
        r = command(a, "PTTL", "tx:e", NULL);
        long long left = r->integer;
        reply_free(r);
        if (left == -2) break;
    }
    expect_status(command(a, "MULTI", NULL), "OK");
    expect_status(command(a, "SET", "tx:e", "again", NULL), "QUEUED");
    r = command(a, "EXEC", NULL);
    assert_int_equal(r->type, R_NIL);
    reply_free(r);
    expect_nil(command(a, "GET", "tx:e", NULL));
    /* A client that goes away while watching leaves nothing behind. */
    expect_status(command(b, "WATCH", "tx:k", NULL), "OK");
    conn_close(b);
    expect_int(command(a, "DEL", "tx:k", NULL), 1);
    conn_close(a);
}

/* Values of every type, many at once and large, on this engine: pushes and
 * pops at both ends, big hashes and sets, sorted-set ranks. */
static void test_types_bulk(void **state)
{
    (void)state;
    struct conn *c = conn_open();
    enum { N = 3000 };
    char k[32], v[32], s[32];
    for (int i = 0; i < N; i++) {
        snprintf(v, sizeof(v), "%d", i);
        expect_int(command(c, i % 2 ? "RPUSH" : "LPUSH", "tb:list", v, NULL), i + 1);
        snprintf(k, sizeof(k), "f%d", i);
        expect_int(command(c, "HSET", "tb:hash", k, v, NULL), 1);
        expect_int(command(c, "SADD", "tb:set", k, NULL), 1);
        snprintf(s, sizeof(s), "%d", (i * 7919) % N);
        expect_int(command(c, "ZADD", "tb:zset", s, k, NULL), 1);
    }
    expect_int(command(c, "LLEN", "tb:list", NULL), N);
    expect_int(command(c, "HLEN", "tb:hash", NULL), N);
    expect_int(command(c, "SCARD", "tb:set", NULL), N);
    expect_int(command(c, "ZCARD", "tb:zset", NULL), N);
    /* LPUSH of even i, RPUSH of odd i: the list reads N-2 ... 2 0 1 3 ... N-1. */
    struct reply *r = command(c, "LRANGE", "tb:list", "0", "-1", NULL);
    assert_int_equal(r->n, N);
    for (int i = 0; i < N; i++) {
        int want = i < N / 2 ? N - 2 - 2 * i : 2 * (i - N / 2) + 1;
        assert_int_equal(atoi(r->elem[i]->str), want);
    }
    reply_free(r);
    r = command(c, "HGETALL", "tb:hash", NULL);
    assert_int_equal(r->n, 2 * N);
    for (int i = 0; i < N; i++)
        assert_int_equal(atoi(r->elem[2 * i]->str + 1), atoi(r->elem[2 * i + 1]->str));
    reply_free(r);
    /* Sorted set: ZRANGE is in score order and ZRANK agrees. */
    r = command(c, "ZRANGE", "tb:zset", "0", "-1", "WITHSCORES", NULL);
    assert_int_equal(r->n, 2 * N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(atoi(r->elem[2 * i + 1]->str), i);
        if (i % 97 == 0) expect_int(command(c, "ZRANK", "tb:zset", r->elem[2 * i]->str, NULL), i);
    }
    reply_free(r);
    for (int i = 0; i < N; i += 2) {
        snprintf(k, sizeof(k), "f%d", i);
        expect_int(command(c, "ZREM", "tb:zset", k, NULL), 1);
        expect_int(command(c, "SREM", "tb:set", k, NULL), 1);
        expect_int(command(c, "HDEL", "tb:hash", k, NULL), 1);
    }
    expect_int(command(c, "ZCARD", "tb:zset", NULL), N / 2);
    r = command(c, "ZPOPMIN", "tb:zset", "5", NULL);
    assert_int_equal(r->n, 10);
    reply_free(r);
    /* Pop everything: the keys disappear when empty. */
    for (int i = 0; i < N; i++) {
        r = command(c, i % 3 ? "LPOP" : "RPOP", "tb:list", NULL);
        assert_int_equal(r->type, R_BULK);
        reply_free(r);
    }
    expect_int(command(c, "EXISTS", "tb:list", NULL), 0);
    r = command(c, "SPOP", "tb:set", "100000", NULL);
    assert_int_equal(r->n, N / 2);
    reply_free(r);
    expect_int(command(c, "EXISTS", "tb:set", NULL), 0);
    /* RENAME and COPY move and duplicate whole objects. */
    expect_status(command(c, "RENAME", "tb:hash", "tb:hash2", NULL), "OK");
    expect_int(command(c, "COPY", "tb:hash2", "tb:hash3", NULL), 1);
    expect_int(command(c, "HDEL", "tb:hash2", "f1", NULL), 1);
    expect_str(command(c, "HGET", "tb:hash3", "f1", NULL), "1");
    expect_int(command(c, "HLEN", "tb:hash3", NULL), N / 2);
    expect_int(command(c, "COPY", "tb:zset", "tb:zset2", NULL), 1);
    expect_int(command(c, "ZCARD", "tb:zset2", NULL), N / 2 - 5);
    /* Expiry of a collection frees it through the sweep. */
    expect_int(command(c, "PEXPIRE", "tb:zset2", "1", NULL), 1);
    expect_int(command(c, "DEL", "tb:hash2", "tb:hash3", "tb:zset", NULL), 3);
    /* FLUSHALL with collections present. */
    expect_int(command(c, "SADD", "tb:fl", "a", NULL), 1);
    expect_status(command(c, "FLUSHALL", NULL), "OK");
    expect_int(command(c, "EXISTS", "tb:fl", NULL), 0);
    conn_close(c);
}

/* redis-benchmark's whole default suite (no -t): every test runs, and it
 * stops at the first error reply, so a clean exit means none. */
static void test_benchmark_default_suite(void **state)
{
    (void)state;
    if (!have_tool("redis-benchmark")) skip();
    char port[16], out[128];
    snprintf(port, sizeof(port), "%d", g_srv.port);
    snprintf(out, sizeof(out), "%s/suite", g_tmpdir);
    char *bench[] = {"redis-benchmark", "-p", port, "-q", "-n", "20000", "-P", "16", NULL};
    assert_int_equal(run_tool(bench, NULL, out), 0);
    size_t n;
    unsigned char *got = slurp(out, &n);
    got = realloc(got, n + 1);
    assert_non_null(got);
    got[n] = 0;
    static const char *const tests[] = {
        "PING_INLINE", "PING_MBULK", "SET:",       "GET:",       "INCR:", "LPUSH:", "RPUSH:",
        "LPOP:",       "RPOP:",      "SADD:",      "HSET:",      "SPOP:", "ZADD:",  "ZPOPMIN:",
        "LRANGE_100",  "LRANGE_300", "LRANGE_500", "LRANGE_600", "MSET",
    };
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
        if (!strstr((char *)got, tests[i])) fail_msg("no %s line in:\n%s", tests[i], got);
    assert_null(strstr((char *)got, "rror"));
    free(got);
    struct conn *c = conn_open();
    expect_status(command(c, "FLUSHALL", NULL), "OK");
    conn_close(c);
}

static void test_pipelining(void **state)
{
    (void)state;
    struct conn *c = conn_open();
    enum { N = 2000 };
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (int i = 0; i < N; i++) {
        char k[32], v[32];
        snprintf(k, sizeof(k), "pipe:%d", i);
        snprintf(v, sizeof(v), "value-%d", i * 3);
        const char *sa[] = {"SET", k, v};
        size_t sl[] = {3, strlen(k), strlen(v)};
        encode(&buf, &len, &cap, 3, sa, sl);
        const char *ga[] = {"GET", k};
        size_t gl[] = {3, strlen(k)};
        encode(&buf, &len, &cap, 2, ga, gl);
    }
    assert_int_equal(send_all(c->fd, buf, len), 0);
    for (int i = 0; i < N; i++) {
        char v[32];
        snprintf(v, sizeof(v), "value-%d", i * 3);
        expect_status(read_reply(c), "OK");
        expect_str(read_reply(c), v);
    }

    /* One command a byte at a time: partial frames across reads. */
    static const char one[] = "*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$5\r\nbytes\r\n";
    for (size_t i = 0; i < sizeof(one) - 1; i++)
        assert_int_equal(send_all(c->fd, one + i, 1), 0);
    expect_status(read_reply(c), "OK");
    expect_str(command(c, "GET", "slow", NULL), "bytes");

    /* Inline commands, quoting and escapes as redis-cli writes them. */
    static const char inl[] = "PING\r\nSET inl \"a b\\x00c\"\r\nGET inl\r\n\r\nECHO 'it''\n";
    assert_int_equal(send_all(c->fd, inl, sizeof(inl) - 1), 0);
    expect_status(read_reply(c), "PONG");
    expect_status(read_reply(c), "OK");
    expect_bulk(read_reply(c), "a b\0c", 5);
    expect_error(read_reply(c), "ERR Protocol error: unbalanced quotes");
    expect_eof(c);
    free(buf);
    conn_close(c);
}

static void fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
}

static void test_big_value(void **state)
{
    (void)state;
    size_t n = 6u << 20;
    unsigned char *v = malloc(n);
    assert_non_null(v);
    fill_pattern(v, n, 7);
    struct conn *c = conn_open();
    const char *sa[] = {"SET", "bigval", (const char *)v};
    size_t sl[] = {3, 6, n};
    expect_status(command_bin(c, 3, sa, sl), "OK");
    /* Several GETs pipelined: replies bigger than any socket buffer. */
    static const char gets[] = "*2\r\n$3\r\nGET\r\n$6\r\nbigval\r\n";
    for (int i = 0; i < 4; i++)
        assert_int_equal(send_all(c->fd, gets, sizeof(gets) - 1), 0);
    for (int i = 0; i < 4; i++)
        expect_bulk(read_reply(c), v, n);
    /* Over --max-request-bytes: a protocol error, the connection closes. */
    char hdr[64];
    int hl = snprintf(hdr, sizeof(hdr), "*3\r\n$3\r\nSET\r\n$2\r\nzz\r\n$%u\r\n", MAX_REQUEST + 1);
    send_all(c->fd, hdr, (size_t)hl);
    expect_error(read_reply(c), "ERR Protocol error: invalid bulk length");
    expect_eof(c);
    conn_close(c);
    c = conn_open();
    expect_bulk(command(c, "GET", "bigval", NULL), v, n);
    expect_nil(command(c, "GET", "zz", NULL));
    expect_int(command(c, "DEL", "bigval", NULL), 1);
    conn_close(c);
    free(v);
}

static void spit(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void test_redis_cli(void **state)
{
    (void)state;
    if (!have_tool("redis-cli")) skip();
    char port[16], in[128], out[128];
    snprintf(port, sizeof(port), "%d", g_srv.port);
    snprintf(in, sizeof(in), "%s/in", g_tmpdir);
    snprintf(out, sizeof(out), "%s/out", g_tmpdir);

    /* A binary value of several MiB through redis-cli -x, back with --raw. */
    size_t n = 3u << 20;
    unsigned char *v = malloc(n + 1);
    assert_non_null(v);
    fill_pattern(v, n, 11);
    spit(in, v, n);
    char *set[] = {"redis-cli", "-p", port, "-x", "SET", "cli:big", NULL};
    assert_int_equal(run_tool(set, in, out), 0);
    char *get[] = {"redis-cli", "-p", port, "--raw", "GET", "cli:big", NULL};
    assert_int_equal(run_tool(get, NULL, out), 0);
    size_t got_len;
    unsigned char *got = slurp(out, &got_len);
    assert_int_equal(got_len, n + 1); /* --raw adds a newline */
    assert_memory_equal(got, v, n);
    free(got);
    free(v);
    struct conn *c = conn_open();
    expect_int(command(c, "DEL", "cli:big", NULL), 1);

    /* MSET / MGET through redis-cli. */
    char *mset[] = {"redis-cli", "-p", port,    "MSET", "cli:b", "2",
                    "cli:a",     "1",  "cli:c", "3",    NULL};
    assert_int_equal(run_tool(mset, NULL, out), 0);
    char *mget[] = {"redis-cli", "-p", port, "--raw", "MGET", "cli:a", "cli:b", "cli:c", NULL};
    assert_int_equal(run_tool(mget, NULL, out), 0);
    got = slurp(out, &got_len);
    assert_int_equal(got_len, 6);
    assert_memory_equal(got, "1\n2\n3\n", 6);
    free(got);

    /* KEYS and --scan: every key once; ordered engines in byte order. */
    for (int i = 0; i < 300; i++) {
        char k[32];
        snprintf(k, sizeof(k), "cli:k:%03d", (i * 37) % 300);
        expect_status(command(c, "SET", k, "x", NULL), "OK");
    }
    char *keys[] = {"redis-cli", "-p", port, "--raw", "KEYS", "cli:k:*", NULL};
    char *scan[] = {"redis-cli", "-p", port, "--scan", "--pattern", "cli:k:*", NULL};
    char **tools[] = {keys, scan};
    for (int t = 0; t < 2; t++) {
        assert_int_equal(run_tool(tools[t], NULL, out), 0);
        got = slurp(out, &got_len);
        int seen[300] = {0}, count = 0, prev = -1;
        char *save = NULL;
        got = realloc(got, got_len + 1);
        got[got_len] = 0;
        for (char *line = strtok_r((char *)got, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            int i;
            assert_int_equal(sscanf(line, "cli:k:%d", &i), 1);
            assert_true(i >= 0 && i < 300);
            assert_int_equal(seen[i], 0);
            seen[i] = 1;
            if (engine_ordered()) assert_true(i > prev);
            prev = i;
            count++;
        }
        assert_int_equal(count, 300);
        free(got);
    }
    conn_close(c);
}

static void test_scan_pages(void **state)
{
    (void)state;
    struct conn *c = conn_open();
    enum { N = 3000 };
    for (int i = 0; i < N; i++) {
        char k[32];
        snprintf(k, sizeof(k), "scan:%c:%05d", i % 3 ? 'a' : 'b', i);
        expect_status(command(c, "SET", k, "v", NULL), "OK");
    }
    unsigned char *seen = calloc(N, 1);
    assert_non_null(seen);
    char cursor[32] = "0";
    int pages = 0, found = 0;
    char last[64] = "";
    do {
        struct reply *r = command(c, "SCAN", cursor, "MATCH", "scan:b:*", "COUNT", "50", NULL);
        assert_int_equal(r->type, R_ARRAY);
        assert_int_equal(r->n, 2);
        snprintf(cursor, sizeof(cursor), "%s", r->elem[0]->str);
        struct reply *ks = r->elem[1];
        for (size_t j = 0; j < ks->n; j++) {
            int i;
            assert_int_equal(sscanf(ks->elem[j]->str, "scan:b:%d", &i), 1);
            assert_true(i >= 0 && i < N && i % 3 == 0);
            assert_int_equal(seen[i], 0);
            seen[i] = 1;
            found++;
            if (engine_ordered()) assert_true(strcmp(last, ks->elem[j]->str) < 0);
            snprintf(last, sizeof(last), "%s", ks->elem[j]->str);
        }
        reply_free(r);
        /* Changes between pages must not hide keys present all along. */
        char k[32];
        snprintf(k, sizeof(k), "scan:x:%d", pages);
        expect_status(command(c, "SET", k, "new", NULL), "OK");
        pages++;
        assert_true(pages < 10000);
    } while (strcmp(cursor, "0") != 0);
    assert_int_equal(found, (N + 2) / 3);
    assert_true(pages > 10);
    expect_error(command(c, "SCAN", "123456789", NULL), "ERR invalid cursor");
    expect_error(command(c, "SCAN", "0", "COUNT", "0", NULL), "ERR syntax error");
    free(seen);
    conn_close(c);
}

/* Expired keys leave without being touched: the periodic sweep. The loop
 * polls the server's state (no sleeping), bounded by a deadline. */
/* Reads INFO stats' expired_keys. */
static long long expired_keys(struct conn *c)
{
    struct reply *r = command(c, "INFO", "stats", NULL);
    const char *p = strstr(r->str, "expired_keys:");
    assert_non_null(p);
    long long n = atoll(p + 13);
    reply_free(r);
    return n;
}

/* Expired keys leave without being touched: the periodic sweep. The loop
 * polls the server's state (no sleeping), bounded by a deadline. 20,000
 * keys, strings and collections, all already expired when set. */
static void test_expiry_sweep(void **state)
{
    (void)state;
    enum { N = 20000 };
    struct conn *c = conn_open();
    struct reply *r = command(c, "DBSIZE", NULL);
    long long before = r->integer;
    reply_free(r);
    long long expired_before = expired_keys(c);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (int i = 0; i < N; i++) {
        char k[32];
        snprintf(k, sizeof(k), "sweep:%d", i);
        const char *set[] = {"SET", k, "v", "PXAT", "1000"};
        size_t sl[] = {3, strlen(k), 1, 4, 4};
        const char *push[] = {"RPUSH", k, "a", "b"};
        size_t pl[] = {5, strlen(k), 1, 1};
        const char *exp[] = {"PEXPIREAT", k, "1000"};
        size_t el[] = {9, strlen(k), 4};
        if (i % 10) {
            encode(&buf, &len, &cap, 5, set, sl);
        } else {
            /* A list given an expiry in the past goes at once (Redis deletes
             * it): its object is freed by the store. */
            encode(&buf, &len, &cap, 4, push, pl);
            encode(&buf, &len, &cap, 3, exp, el);
        }
    }
    assert_int_equal(send_all(c->fd, buf, len), 0);
    free(buf);
    for (int i = 0; i < N; i++) {
        r = read_reply(c);
        assert_true(r->type == R_STATUS || r->type == R_INT);
        reply_free(r);
        if (i % 10 == 0) expect_int(read_reply(c), 1);
    }
    expect_nil(command(c, "GET", "sweep:7", NULL));
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long long now = before + N;
    while (now != before) {
        r = command(c, "DBSIZE", NULL);
        now = r->integer;
        reply_free(r);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 30)
            fail_msg("expired keys still stored: %lld, %lld before", now, before);
    }
    /* The strings were removed by the sweep (or the GET), and counted. */
    assert_true(expired_keys(c) - expired_before >= N - N / 10);
    r = command(c, "INFO", "keyspace", NULL);
    if (strstr(r->str, "db0:")) assert_non_null(strstr(r->str, ",expires=0,"));
    reply_free(r);
    conn_close(c);
}

static void test_benchmark(void **state)
{
    (void)state;
    if (!have_tool("redis-benchmark")) skip();
    sentinels_store();
    char port[16];
    snprintf(port, sizeof(port), "%d", g_srv.port);
    char *bench[] = {"redis-benchmark",
                     "-p",
                     port,
                     "-t",
                     "set,get,incr,mset",
                     "-n",
                     "100000",
                     "-P",
                     "16",
                     "-c",
                     "50",
                     "-q",
                     NULL};
    assert_int_equal(run_tool(bench, NULL, NULL), 0);
    sentinels_check();

    /* INCR from several connections, pipelined and interleaved: no update lost. */
    enum { CONNS = 8, ROUNDS = 25, BATCH = 40 };
    struct conn *cs[CONNS];
    char key[64];
    snprintf(key, sizeof(key), "counter:%s:%d", g_engine, (int)getpid());
    char *batch = NULL;
    size_t blen = 0, bcap = 0;
    for (int i = 0; i < BATCH; i++) {
        const char *a[] = {"INCR", key};
        size_t l[] = {4, strlen(key)};
        encode(&batch, &blen, &bcap, 2, a, l);
    }
    for (int i = 0; i < CONNS; i++)
        cs[i] = conn_open();
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < CONNS; i++)
            assert_int_equal(send_all(cs[i]->fd, batch, blen), 0);
        for (int i = 0; i < CONNS; i++) {
            for (int j = 0; j < BATCH; j++) {
                struct reply *r = read_reply(cs[i]);
                assert_non_null(r);
                assert_int_equal(r->type, R_INT);
                reply_free(r);
            }
        }
    }
    char want[32];
    snprintf(want, sizeof(want), "%d", CONNS * ROUNDS * BATCH);
    expect_str(command(cs[0], "GET", key, NULL), want);
    for (int i = 0; i < CONNS; i++)
        conn_close(cs[i]);
    free(batch);
}

/* Send bad bytes; expect the given protocol error and the connection closed. */
static void expect_protocol_error(const void *bytes, size_t n, const char *error)
{
    struct conn *c = conn_open();
    send_all(c->fd, bytes, n); /* the server may close before it has read all */
    struct reply *r = read_reply(c);
    assert_non_null(r);
    expect_error(r, error);
    expect_eof(c);
    conn_close(c);
}

static void test_bad_input(void **state)
{
    (void)state;
    sentinels_store();

    static const char *const bad[][2] = {
        {"*1\r\n+foo\r\n", "ERR Protocol error: expected '$', got '+'"},
        {"*abc\r\n", "ERR Protocol error: invalid multibulk length"},
        {"*99999999\r\n", "ERR Protocol error: invalid multibulk length"},
        {"*1\r\n$99999999999\r\n", "ERR Protocol error: invalid bulk length"},
        {"*1\r\n$-5\r\n", "ERR Protocol error: invalid bulk length"},
        {"*2\r\n$3\r\nGET\r\n$1\r\nabc\r\n", "ERR Protocol error: expected CRLF"},
        {"*1\r\n$111111111111111111111111111111111111111111111111111111111111111111111111\r\n",
         "ERR Protocol error: too big bulk count"},
        {"*1111111111111111111111111111111111111111111111111111111111111111111111111\r\n",
         "ERR Protocol error: too big mbulk count"},
        {"SET \"abc\r\n", "ERR Protocol error: unbalanced quotes"},
        {"*1\n", "ERR Protocol error: expected CRLF"},
        {"*1\r\n$3\nGET\r\n", "ERR Protocol error: expected CRLF"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_protocol_error(bad[i][0], strlen(bad[i][0]), bad[i][1]);
    {
        size_t n = 100 * 1024;
        char *junk = malloc(n);
        assert_non_null(junk);
        memset(junk, 'a', n);
        expect_protocol_error(junk, n, "ERR Protocol error: too big inline request");
        free(junk);
    }

    /* Truncated frames, then the client goes away. */
    static const char trunc[] = "*3\r\n$3\r\nSET\r\n$5\r\ntrunc\r\n$10\r\nabc";
    for (size_t cut = 1; cut < sizeof(trunc) - 1; cut += 3) {
        int fd = connect_port(g_srv.port);
        send_all(fd, trunc, cut);
        close(fd);
    }
    /* Half of a 4 MiB value, then a reset (SO_LINGER 0: the client vanishes). */
    {
        size_t n = 2u << 20;
        char *half = malloc(n);
        assert_non_null(half);
        memset(half, 'h', n);
        int fd = connect_port(g_srv.port);
        static const char hdr[] = "*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$4194304\r\n";
        send_all(fd, hdr, sizeof(hdr) - 1);
        send_all(fd, half, n);
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        close(fd);
        free(half);
    }

    /* Random garbage from many clients (seeded, so a failure repeats). */
    uint32_t x = 0x1234567;
    for (int k = 0; k < 300; k++) {
        unsigned char junk[2048];
        size_t n = 1 + (size_t)(k * 97) % sizeof(junk);
        static const char alphabet[] = "*$-:+0123456789\r\n \"'\\xabcSETGET";
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            junk[i] = (x >> 24) & 1 ? (unsigned char)alphabet[(x >> 8) % (sizeof(alphabet) - 1)]
                                    : (unsigned char)x;
        }
        int fd = connect_port(g_srv.port);
        send_all(fd, junk, n);
        if (k % 2) {
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        close(fd);
    }

    /* 2000 connections opened at once, some mid-command, then all dropped. */
    enum { MANY = 2000 };
    int *fds = malloc(MANY * sizeof(*fds));
    assert_non_null(fds);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_srv.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < MANY; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        assert_true(fds[i] >= 0);
        int rc = connect(fds[i], (struct sockaddr *)&sa, sizeof(sa));
        assert_true(rc == 0 || errno == EINPROGRESS);
    }
    for (int i = 0; i < MANY; i++) {
        struct pollfd p = {.fd = fds[i], .events = POLLOUT};
        assert_int_equal(poll(&p, 1, IO_TIMEOUT_S * 1000), 1);
        if (i % 3 == 0) send(fds[i], "*2\r\n$3\r\nGET\r\n$4\r\nsent", 21, MSG_NOSIGNAL);
        if (i % 5 == 0) {
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
    }
    for (int i = 0; i < MANY; i++)
        close(fds[i]);
    free(fds);

    /* The server, the data and other clients are all fine. */
    sentinels_check();
    struct conn *c = conn_open();
    expect_nil(command(c, "GET", "trunc", NULL));
    expect_nil(command(c, "GET", "half", NULL));
    struct reply *r = command(c, "INFO", "stats", NULL);
    assert_int_equal(r->type, R_BULK);
    assert_null(strstr(r->str, "protocol_errors:0\r\n"));
    reply_free(r);
    conn_close(c);
}

static void test_options_and_limits(void **state)
{
    (void)state;
    /* Bad option values: a message and exit status 2. */
    const char *bad[][2] = {{"--port", "70000"},          {"--engine", "nope"},
                            {"--threads", "0"},           {"--max-request-bytes", "12x"},
                            {"--bind", "not-an-address"}, {"--bogus", "1"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *argv[] = {(char *)g_kvserver, (char *)bad[i][0], (char *)bad[i][1], NULL};
        int out_fd;
        pid_t pid = spawn_server(argv, &out_fd);
        assert_true(pid > 0);
        int status = wait_exit(pid, out_fd, IO_TIMEOUT_S * 1000);
        close(out_fd);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 2);
    }
    char *help[] = {(char *)g_kvserver, "--help", NULL};
    int out_fd;
    pid_t pid = spawn_server(help, &out_fd);
    int status = wait_exit(pid, out_fd, IO_TIMEOUT_S * 1000);
    close(out_fd);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* --maxclients: the next client is told and closed. */
    struct server_proc sp;
    assert_int_equal(start_server(&sp, "--maxclients", "3"), 0);
    int port = g_srv.port;
    g_srv.port = sp.port;
    struct conn *cs[3];
    for (int i = 0; i < 3; i++) {
        cs[i] = conn_open();
        expect_status(command(cs[i], "PING", NULL), "PONG");
    }
    struct conn *extra = conn_open();
    expect_error(read_reply(extra), "ERR max number of clients reached");
    expect_eof(extra);
    conn_close(extra);
    conn_close(cs[2]);
    /* SHUTDOWN stops it cleanly (exit 0). */
    assert_int_equal(send_all(cs[0]->fd, "SHUTDOWN\r\n", 10), 0);
    status = wait_exit(sp.pid, sp.out_fd, IO_TIMEOUT_S * 1000);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(sp.out_fd);
    conn_close(cs[0]);
    conn_close(cs[1]);
    g_srv.port = port;
}

/* Last: SIGTERM gives a clean exit, status 0, with clients still connected. */
static void test_clean_shutdown(void **state)
{
    (void)state;
    struct conn *c = conn_open();
    expect_status(command(c, "SET", "last", "one", NULL), "OK");
    assert_int_equal(kill(g_srv.pid, SIGTERM), 0);
    int status = wait_exit(g_srv.pid, g_srv.out_fd, IO_TIMEOUT_S * 1000);
    g_srv.pid = -1;
    close(g_srv.out_fd);
    g_srv.out_fd = -1;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    conn_close(c);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PATH_TO_KVSERVER ENGINE\n", argv[0]);
        return 2;
    }
    g_kvserver = argv[1];
    g_engine = argv[2];
    signal(SIGPIPE, SIG_IGN);
    /* Room for 2000 sockets at once. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
        rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    const char *pre = getenv("KV_TEST_PRELOAD");
    char name[128];
    snprintf(name, sizeof(name), "kvserver_%s%s", g_engine, pre && *pre ? "_preload" : "");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preload_mapped),  cmocka_unit_test(test_commands),
        cmocka_unit_test(test_pipelining),      cmocka_unit_test(test_big_value),
        cmocka_unit_test(test_redis_cli),       cmocka_unit_test(test_scan_pages),
        cmocka_unit_test(test_expiry_sweep),    cmocka_unit_test(test_benchmark),
        cmocka_unit_test(test_bad_input),       cmocka_unit_test(test_options_and_limits),
        cmocka_unit_test(test_redis_replies),   cmocka_unit_test(test_redis_inline),
        cmocka_unit_test(test_redis_behaviour), cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_types_bulk),      cmocka_unit_test(test_benchmark_default_suite),
        cmocka_unit_test(test_clean_shutdown),
    };
    return cmocka_run_group_tests_name(name, tests, group_setup, group_teardown);
}
