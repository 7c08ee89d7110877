/*
 * main.c - kvserver: start-up, the ready line, and the clean shutdown.
 *
 * The main thread blocks SIGINT and SIGTERM before any other thread exists
 * (so every thread inherits the mask), starts the event loops, prints the
 * ready line, then waits in sigwait(). On a signal it stops the loops, frees
 * every client and the whole store, and exits 0.
 */
#include "server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define INLINE_MAX (64 * 1024)   /* bytes: longest inline command, as Redis */
#define ARGS_MAX   (1024 * 1024) /* count: most arguments in one command, as Redis */

/* Enough descriptors for maxclients, if the hard limit allows. */
static void raise_fd_limit(unsigned maxclients)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    rlim_t want = (rlim_t)maxclients + 64;
    if (rl.rlim_cur >= want) return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

int main(int argc, char **argv)
{
    static struct server srv;
    int rc = options_parse(argc, argv, &srv.opt);
    if (rc == 1) return 0;
    if (rc != 0) return 2;

    srv.listen_fd = srv.stop_fd = srv.spare_fd = -1;
    srv.started = time(NULL);
    srv.limits.max_bulk = srv.opt.max_request_bytes;
    srv.limits.max_request = srv.opt.max_request_bytes;
    srv.limits.max_inline =
        INLINE_MAX < srv.opt.max_request_bytes ? INLINE_MAX : srv.opt.max_request_bytes;
    srv.limits.max_args = ARGS_MAX;

    if (!command_table_check()) {
        fprintf(stderr, "kvserver: the command table is not sorted\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    raise_fd_limit(srv.opt.maxclients);

    struct engine_options eopt = {.lsm_memtable_bytes = srv.opt.lsm_memtable_bytes};
    srv.store = store_create(srv.opt.engine, &eopt);
    if (!srv.store) {
        fprintf(stderr, "kvserver: cannot create the %s engine (out of memory)\n", srv.opt.engine);
        return 1;
    }
    if (server_listen(&srv) != 0) {
        store_destroy(srv.store);
        return 1;
    }
    if (server_start_workers(&srv) != 0) {
        fprintf(stderr, "kvserver: cannot start the event loops\n");
        server_stop_workers(&srv);
        close(srv.listen_fd);
        store_destroy(srv.store);
        return 1;
    }
    printf("kvserver listening on %s:%d engine=%s threads=%u\n", srv.addr, srv.port, srv.opt.engine,
           srv.opt.threads);
    fflush(stdout);

    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    server_stop_workers(&srv);
    close(srv.listen_fd);
    store_destroy(srv.store);
    return 0;
}
