/* Helpers shared by the tests: CMocka, and running a child with extra
 * environment variables while capturing what it prints. */
#ifndef CA_TEST_UTIL_H
#define CA_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run argv[0] with `env` ("NAME=value" strings, NULL-terminated, may be NULL)
 * added to the environment. stdout and stderr both go to `out` (NUL-terminated,
 * truncated to cap - 1). Returns the wait status. */
static inline int tu_run(char *const argv[], const char *const env[], char *out, size_t cap)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        for (size_t i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    char sink[4096];
    for (;;) {
        char *dst = len + 1 < cap ? out + len : sink;
        size_t room = len + 1 < cap ? cap - 1 - len : sizeof(sink);
        ssize_t r = read(fds[0], dst, room);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (dst != sink) len += (size_t)r;
    }
    close(fds[0]);
    if (cap) out[len] = '\0';
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

/* Run `body` in a forked child (this process's image, no exec): its exit
 * status; 100 when it did not exit, 101 when there was no child. */
static inline int tu_in_child(int (*body)(void))
{
    pid_t pid = fork();
    if (pid < 0) return 101;
    if (pid == 0) _exit(body());
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return 100;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

/* Read `fd` to its end into `out` (NUL-terminated, at most cap - 1 bytes kept). */
static inline size_t tu_read_all(int fd, char *out, size_t cap)
{
    size_t len = 0;
    ssize_t r;
    while (len + 1 < cap && (r = read(fd, out + len, cap - 1 - len)) != 0) {
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        len += (size_t)r;
    }
    out[len] = '\0';
    return len;
}

/* How many times `needle` occurs in `hay`. */
static inline int tu_count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static inline const char *tu_self(void);

/* Run this test binary again with argument `mode` and one optional extra
 * environment variable; output into `out`. Returns the wait status. */
static inline int tu_run_self(const char *mode, const char *env, char *out, size_t cap)
{
    char *argv[] = {(char *)tu_self(), (char *)mode, NULL};
    const char *envs[] = {env, NULL};
    return tu_run(argv, env ? envs : NULL, out, cap);
}

/* tu_run_self, for a child that must exit with 0: the test fails otherwise,
 * naming the mode and showing what it printed, which lands in the test's
 * output too. */
static inline void tu_run_self_ok(const char *mode, const char *env, char *out, size_t cap)
{
    int st = tu_run_self(mode, env, out, cap);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("%s: status %#x:\n%s", mode, st, out);
    print_message("%s", out);
}

/* The path of the running test binary. */
static inline const char *tu_self(void)
{
    static char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    path[n > 0 ? n : 0] = '\0';
    return path;
}

/* Resident set size of this process in bytes. */
static inline size_t tu_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * (size_t)sysconf(_SC_PAGESIZE);
}

#endif
