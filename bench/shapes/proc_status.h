/*
 * One "Vm...:" field of a /proc/PID/status file open on `fd`, in KiB, or -1
 * (the process has exited, or the field is missing). measure samples its
 * child's VmRSS with it, rss_lag reads its own VmHWM.
 */
#ifndef SHAPE_PROC_STATUS_H
#define SHAPE_PROC_STATUS_H

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline long proc_status_kib(int fd, const char *field)
{
    char buf[4096];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return -1;
    buf[n] = '\0';
    const char *at = strstr(buf, field);
    return at ? strtol(at + strlen(field), NULL, 10) : -1;
}

#endif
