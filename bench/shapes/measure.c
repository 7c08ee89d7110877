/*
 * measure [--preload LIB] PROGRAM [ARG ...]
 *
 * Runs PROGRAM (its output passes through), with LD_PRELOAD=LIB when given and
 * with no LD_PRELOAD at all otherwise, waits for it with wait4() and then
 * prints one line of its own:
 *
 *     measure wall_s=SECONDS cpu_s=SECONDS maxrss_kib=KIB peak_kib=KIB samples=N
 *             minflt=N others=F status=N
 *
 * maxrss_kib is the kernel's record of the child's peak resident set
 * (ru_maxrss). That record is taken only when the resident set is about to
 * shrink, from per-CPU counters the kernel sums lazily, so it can miss (or
 * overstate) a peak by a batch of pages per CPU: a tenth of a program of a
 * few MiB. peak_kib is the larger of that record and the largest resident
 * set read by sampling the child's VmRSS (/proc/PID/status, exact since
 * Linux 6.16) every MEASURE_SAMPLE_US microseconds (default 1000; 0 turns
 * sampling off and peak_kib is then maxrss_kib); samples counts the
 * readings. The readings catch what the record misses; the record, a peak
 * shorter than the interval (the last pages a program touches as it
 * exits). wall_s the time
 * from fork to its exit, cpu_s its user plus system time, minflt its page
 * faults served without I/O (ru_minflt: mostly first touches of fresh pages,
 * which an allocator that keeps giving memory back and taking it again pays
 * over and over), others the share of the machine's CPU time (all CPUs)
 * that other processes used while it ran, from /proc/stat (-1 when that
 * cannot be read): how disturbed the run was. Exits with the child's status (128+signal
 * when it was killed). Only measure's child sees LIB: measure itself runs on glibc.
 */
#include "proc_status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* CPU time in seconds that all CPUs spent busy since boot (/proc/stat), or
 * -1 */
static double busy_s(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1.0;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 8) return -1.0;
    /* user nice system idle iowait irq softirq steal: all but idle and iowait */
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    return (double)busy / (double)sysconf(_SC_CLK_TCK);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int first = 1;
    const char *lib = NULL;
    if (argc > 2 && strcmp(argv[1], "--preload") == 0) {
        lib = argv[2][0] ? argv[2] : NULL;
        first = 3;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: %s [--preload LIB] PROGRAM [ARG ...]\n", argv[0]);
        return 2;
    }
    const char *every = getenv("MEASURE_SAMPLE_US");
    long interval_us = 1000;
    if (every != NULL && *every != '\0') {
        char *end;
        errno = 0;
        interval_us = strtol(every, &end, 10);
        if (errno != 0 || *end != '\0' || interval_us < 0 || interval_us > 10000000) {
            fprintf(stderr, "measure: MEASURE_SAMPLE_US=%s: want microseconds, 0-10000000\n",
                    every);
            return 2;
        }
    }
    fflush(stdout);
    double busy0 = busy_s();
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) {
        perror("measure: fork");
        return 2;
    }
    if (pid == 0) {
        if (lib)
            setenv("LD_PRELOAD", lib, 1);
        else
            unsetenv("LD_PRELOAD");
        execvp(argv[first], &argv[first]);
        fprintf(stderr, "measure: %s: %s\n", argv[first], strerror(errno));
        _exit(127);
    }
    int fd = -1;
    if (interval_us > 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    long peak = -1, samples = 0;
    int status;
    struct rusage ru;
    for (;;) {
        pid_t r = wait4(pid, &status, fd >= 0 ? WNOHANG : 0, &ru);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) {
            perror("measure: wait4");
            return 2;
        }
        if (r == 0) { /* still running */
            long now = proc_status_kib(fd, "\nVmRSS:");
            if (now > peak) peak = now;
            samples += now >= 0;
            struct timespec d = {interval_us / 1000000, interval_us % 1000000 * 1000};
            nanosleep(&d, NULL);
        }
    }
    if (fd >= 0) close(fd);
    if (peak < ru.ru_maxrss) peak = ru.ru_maxrss;
    double wall = now_s() - t0;
    double busy1 = busy_s();
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    double others = -1.0;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (busy0 >= 0 && busy1 >= 0 && wall > 0 && cpus > 0) {
        others = (busy1 - busy0 - cpu) / (wall * (double)cpus);
        others = others < 0 ? 0 : others > 1 ? 1 : others;
    }
    printf("measure wall_s=%.4f cpu_s=%.4f maxrss_kib=%ld peak_kib=%ld samples=%ld minflt=%ld "
           "others=%.2f status=%d\n",
           wall, cpu, ru.ru_maxrss, peak, samples, ru.ru_minflt, others, code);
    return code;
}
