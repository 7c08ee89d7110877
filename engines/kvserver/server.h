/*
 * server.h - the kvserver process: options, shared state, clients.
 *
 * Threads: the main thread parses options, binds, starts `threads` event
 * loops (server.c) and then waits for SIGINT/SIGTERM (main.c). Each event
 * loop has its own epoll set; all of them watch the one listening socket
 * (EPOLLEXCLUSIVE) and serve the clients they accept. All loops share one
 * store (store.h) behind its readers-writer lock, so a value set by a client
 * of one thread is often freed by another.
 */
#ifndef KV_SERVER_H
#define KV_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "resp.h"
#include "store.h"

struct ks_options {
    const char *engine;        /* engine name */
    const char *bind;          /* address to listen on */
    int port;                  /* TCP port; 0: any free port */
    unsigned threads;          /* count: event-loop threads */
    unsigned maxclients;       /* count: connected clients at most */
    size_t max_request_bytes;  /* bytes: longest bulk string and longest command */
    size_t lsm_memtable_bytes; /* bytes: LSM memtable size limit; 0: engine default */
};

struct server_stats {
    atomic_ulong connected;    /* count: clients connected now */
    atomic_ulong connections;  /* count: clients accepted since start */
    atomic_ulong rejected;     /* count: connections refused (maxclients, no fds) */
    atomic_ulong commands;     /* count: commands executed */
    atomic_ulong proto_errors; /* count: clients dropped for a protocol error */
};

struct worker;

struct server {
    struct ks_options opt;
    struct resp_limits limits;
    struct store *store;
    int listen_fd;
    int stop_fd;    /* eventfd: readable once shutdown has begun */
    int port;       /* the bound port */
    char addr[80];  /* the bound address, printable */
    time_t started; /* seconds since the epoch */
    struct server_stats st;
    atomic_ullong next_client_id;
    pthread_mutex_t spare_lock; /* guards spare_fd */
    int spare_fd;               /* kept open to accept-and-close when out of fds */
    struct worker *workers;
};

struct client {
    int fd;
    uint64_t id;               /* unique, from 1 */
    struct worker *w;          /* the loop that serves it */
    struct kbuf in;            /* bytes received, not yet handled */
    struct kbuf out;           /* reply bytes not yet sent */
    struct resp_parser req;    /* the command being received */
    const char **argv;         /* arguments of the command being run */
    size_t *argl;              /* bytes of each argument */
    size_t argcap;             /* count: slots in argv and argl */
    char *name;                /* CLIENT SETNAME; NULL when unset */
    int closing;               /* 1: send what is in out, then close */
    int in_multi;              /* 1 between MULTI and EXEC/DISCARD */
    int multi_failed;          /* 1: a command was refused while queuing; EXEC aborts */
    int watch_dirty;           /* set under the store's write lock when a WATCHed key changes */
    int watching;              /* 1 while keys are WATCHed */
    struct queued_cmd **queue; /* commands queued since MULTI */
    size_t nqueued;            /* count: commands queued */
    size_t queue_cap;          /* count: slots in queue */
    uint32_t events;           /* epoll events registered now */
    struct client *prev, *next;
};

/* server.c */
int server_listen(struct server *srv);
int server_start_workers(struct server *srv);
void server_stop_workers(struct server *srv);

/* commands.c: run the command in c->argv, appending the reply to c->out
 * (inside MULTI: queue it). */
void command_execute(struct server *srv, struct client *c, size_t argc);
/* commands.c: 1 when the command table is in name order (binary search). */
int command_table_check(void);
/* commands.c: forget the client's WATCHed keys and queued commands. */
void command_client_free(struct server *srv, struct client *c);

/* info.c: the INFO reply for the named sections (none: the default set). */
void info_reply(struct server *srv, struct client *c, const char *const *names, const size_t *lens,
                size_t n);

/* options.c: 0 to run, 1 when --help was printed, 2 on a bad option. */
int options_parse(int argc, char **argv, struct ks_options *opt);

#endif
