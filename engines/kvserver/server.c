/*
 * server.c - listening socket, event-loop threads and client I/O.
 *
 * Each worker thread runs one epoll loop (level-triggered). The listening
 * socket is in every loop's set with EPOLLEXCLUSIVE, so one idle loop wakes
 * per new connection; a client then stays on the loop that accepted it.
 *
 * Per client: read what the socket has (up to READ_BUDGET per wakeup), parse
 * and run every whole command in the input buffer (pipelining), queue the
 * replies, write as much as the socket takes, and wait for EPOLLOUT for the
 * rest. While more than OUT_HIGH bytes of replies are queued the client's
 * input is not read (backpressure). A protocol error queues one
 * "-ERR Protocol error: ..." reply, and the client is closed once it is sent.
 *
 * Worker 0 also runs the expiry sweep: every SWEEP_MS, or after SWEEP_BUSY_MS
 * while the last sweep still found many expired keys.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK    (64 * 1024)  /* bytes: room made before each read */
#define READ_BUDGET   (1 << 20)    /* bytes: read per client per wakeup, at most */
#define OUT_HIGH      (8u << 20)   /* bytes: queued replies that pause a client's input */
#define BUF_KEEP      (256 * 1024) /* bytes: idle buffers larger than this are freed */
#define ACCEPT_BUDGET 64           /* connections accepted per wakeup */
#define MAX_EVENTS    128          /* epoll events handled per wakeup */
#define SWEEP_MS      100          /* ms between expiry sweeps */
#define SWEEP_BUSY_MS 1            /* ms to the next sweep after one that removed many keys */
#define SWEEP_VISIT   1024         /* buckets of the expiry index looked at per sweep, at least */
#define SWEEP_REMOVE  4096         /* keys removed per sweep, at most (bounds the lock hold) */

struct worker {
    struct server *srv;
    unsigned index; /* 0 .. threads - 1 */
    pthread_t thread;
    int started; /* 1 once the thread runs */
    int epfd;
    struct client *clients; /* every client of this loop */
};

/* epoll data pointers that are not clients. */
static char listen_tag, stop_tag;

/* ---- listening ---- */

int server_listen(struct server *srv)
{
    struct addrinfo hints = {0}, *res = NULL;
    char port[16];
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%d", srv->opt.port);
    int rc = getaddrinfo(srv->opt.bind, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "kvserver: cannot resolve --bind %s: %s\n", srv->opt.bind,
                gai_strerror(rc));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 4096) == 0) break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        fprintf(stderr, "kvserver: cannot listen on %s:%d: %s\n", srv->opt.bind, srv->opt.port,
                strerror(err));
        return -1;
    }

    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    char host[INET6_ADDRSTRLEN] = "?";
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
        srv->port = ntohs(s6->sin6_port);
        snprintf(srv->addr, sizeof(srv->addr), "[%s]", host);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
        srv->port = ntohs(s4->sin_port);
        snprintf(srv->addr, sizeof(srv->addr), "%s", host);
    }
    srv->listen_fd = fd;
    return 0;
}

/* ---- clients ---- */

/* Closing with unread input makes the kernel send a reset, which can destroy
 * the error reply still in flight to the peer. So after a protocol error or
 * QUIT: end our side, then read and drop what is already queued. */
static void close_gently(int fd)
{
    char sink[16384];
    shutdown(fd, SHUT_WR);
    for (int i = 0; i < 64; i++) {
        ssize_t n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (n <= 0 && !(n < 0 && errno == EINTR)) break;
    }
    close(fd);
}

static void client_free(struct worker *w, struct client *c)
{
    command_client_free(w->srv, c);
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->closing)
        close_gently(c->fd);
    else
        close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    kbuf_free(&c->in);
    kbuf_free(&c->out);
    resp_free(&c->req);
    free(c->argv);
    free(c->argl);
    free(c->name);
    free(c);
    atomic_fetch_sub(&w->srv->st.connected, 1);
}

static void client_new(struct worker *w, int fd)
{
    struct server *srv = w->srv;
    struct client *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    c->fd = fd;
    c->w = w;
    c->id = atomic_fetch_add(&srv->next_client_id, 1) + 1;
    resp_init(&c->req);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        free(c);
        return;
    }
    c->events = EPOLLIN;
    c->next = w->clients;
    if (w->clients) w->clients->prev = c;
    w->clients = c;
    atomic_fetch_add(&srv->st.connected, 1);
    atomic_fetch_add(&srv->st.connections, 1);
}

/* Out of file descriptors: accept one pending connection with the spare fd
 * and close it, so the listening socket does not stay readable forever. */
static void shed_connection(struct server *srv)
{
    pthread_mutex_lock(&srv->spare_lock);
    if (srv->spare_fd >= 0) {
        close(srv->spare_fd);
        int fd = accept(srv->listen_fd, NULL, NULL);
        if (fd >= 0) {
            close(fd);
            atomic_fetch_add(&srv->st.rejected, 1);
        }
        srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    pthread_mutex_unlock(&srv->spare_lock);
}

static void do_accept(struct worker *w)
{
    static const char full[] = "-ERR max number of clients reached\r\n";
    struct server *srv = w->srv;
    for (int i = 0; i < ACCEPT_BUDGET; i++) {
        int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
            if (errno == EMFILE || errno == ENFILE) shed_connection(srv);
            return;
        }
        if (atomic_load(&srv->st.connected) >= srv->opt.maxclients) {
            ssize_t n = send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)n;
            close(fd);
            atomic_fetch_add(&srv->st.rejected, 1);
            continue;
        }
        client_new(w, fd);
    }
}

/* Read what the socket has. 1: the peer closed its side (what came before
 * is still served); -1: the connection failed or no memory. */
static int read_input(struct client *c)
{
    size_t total = 0;
    for (;;) {
        if (kbuf_reserve(&c->in, READ_CHUNK) != 0) return -1;
        size_t room = c->in.cap - c->in.len;
        ssize_t n = recv(c->fd, c->in.p + c->in.len, room, 0);
        if (n > 0) {
            c->in.len += (size_t)n;
            total += (size_t)n;
            if ((size_t)n < room || total >= READ_BUDGET) return 0;
            continue;
        }
        if (n == 0) return 1;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        return -1;
    }
}

static int set_argv(struct client *c, const char *base)
{
    size_t argc = c->req.argc;
    if (argc > c->argcap) {
        size_t cap = c->argcap ? c->argcap : 8;
        while (cap < argc)
            cap *= 2;
        const char **av = realloc(c->argv, cap * sizeof(*av));
        if (!av) return -1;
        c->argv = av;
        size_t *al = realloc(c->argl, cap * sizeof(*al));
        if (!al) return -1;
        c->argl = al;
        c->argcap = cap;
    }
    for (size_t i = 0; i < argc; i++) {
        c->argv[i] = resp_arg_ptr(&c->req, base, i);
        c->argl[i] = c->req.argv[i].len;
    }
    return 0;
}

/* Run every whole command in the input buffer. -1: drop the client; 1: the
 * queued replies reached OUT_HIGH before the input was used up. */
static int process_input(struct server *srv, struct client *c)
{
    while (!c->closing && kbuf_pending(&c->out) < OUT_HIGH) {
        const char *base = c->in.p + c->in.off;
        size_t consumed = 0;
        int rc = resp_parse(&c->req, base, kbuf_pending(&c->in), &srv->limits, &consumed);
        if (rc == RESP_INCOMPLETE) break;
        if (rc == RESP_NOMEM) return -1;
        if (rc == RESP_ERROR) {
            char msg[128];
            snprintf(msg, sizeof(msg), "ERR %s", c->req.error);
            resp_error(&c->out, msg);
            c->closing = 1;
            atomic_fetch_add(&srv->st.proto_errors, 1);
            break;
        }
        if (c->req.argc > 0) {
            if (set_argv(c, base) != 0) return -1;
            command_execute(srv, c, c->req.argc);
            atomic_fetch_add(&srv->st.commands, 1);
        }
        resp_reset(&c->req);
        if (c->argcap > 1024) {
            /* One huge command must not pin its argument arrays. */
            free(c->argv);
            free(c->argl);
            c->argv = NULL;
            c->argl = NULL;
            c->argcap = 0;
        }
        c->in.off += consumed;
        if (c->out.failed) return -1;
    }
    if (c->in.off == c->in.len) {
        c->in.off = c->in.len = 0;
        kbuf_shrink(&c->in, BUF_KEEP);
    } else if (!c->closing) {
        kbuf_compact(&c->in);
    }
    if (c->out.failed) return -1;
    return !c->closing && kbuf_pending(&c->out) >= OUT_HIGH && kbuf_pending(&c->in) > 0;
}

/* Write queued replies. -1: the peer is gone. */
static int flush_output(struct client *c)
{
    while (kbuf_pending(&c->out) > 0) {
        ssize_t n = send(c->fd, c->out.p + c->out.off, kbuf_pending(&c->out), MSG_NOSIGNAL);
        if (n > 0) {
            c->out.off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        return -1;
    }
    if (kbuf_pending(&c->out) == 0) {
        c->out.off = c->out.len = 0;
        kbuf_shrink(&c->out, BUF_KEEP);
    }
    return 0;
}

/* Run commands, write replies, and register the events the client now needs.
 * -1: close the client. */
static int serve(struct worker *w, struct client *c)
{
    for (;;) {
        int rc = process_input(w->srv, c);
        if (rc < 0 || flush_output(c) != 0) return -1;
        /* Paused at OUT_HIGH but the socket took the replies: go on with
         * the commands already read (no new EPOLLIN will announce them). */
        if (rc == 0 || kbuf_pending(&c->out) >= OUT_HIGH) break;
    }
    if (c->closing && kbuf_pending(&c->out) == 0) return -1;
    uint32_t want = 0;
    if (!c->closing && kbuf_pending(&c->out) < OUT_HIGH) want |= EPOLLIN;
    if (kbuf_pending(&c->out) > 0) want |= EPOLLOUT;
    if (want != c->events) {
        struct epoll_event ev = {.events = want, .data.ptr = c};
        if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) return -1;
        c->events = want;
    }
    return 0;
}

static void client_event(struct worker *w, struct client *c, uint32_t events)
{
    if (events & EPOLLERR) {
        client_free(w, c);
        return;
    }
    if (events & (EPOLLIN | EPOLLHUP)) {
        int rc = c->closing ? -1 : read_input(c);
        if (rc == 1) {
            /* The peer closed its side: answer what it sent, then close. */
            process_input(w->srv, c);
            flush_output(c);
        }
        if (rc != 0) {
            client_free(w, c);
            return;
        }
    }
    if (serve(w, c) != 0) client_free(w, c);
}

/* ---- the loops ---- */

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct server *srv = w->srv;
    struct epoll_event evs[MAX_EVENTS];
    int64_t next_sweep = store_now_ms() + SWEEP_MS;

    for (;;) {
        int timeout = -1;
        if (w->index == 0) {
            int64_t left = next_sweep - store_now_ms();
            timeout = left < 0 ? 0 : left > SWEEP_MS ? SWEEP_MS : (int)left;
        }
        int n = epoll_wait(w->epfd, evs, MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR) break;
        int stop = 0;
        for (int i = 0; i < n && !stop; i++) {
            void *p = evs[i].data.ptr;
            if (p == &stop_tag)
                stop = 1;
            else if (p == &listen_tag)
                do_accept(w);
            else
                client_event(w, p, evs[i].events);
        }
        if (stop) break;
        if (w->index == 0 && store_now_ms() >= next_sweep) {
            int busy = store_sweep(srv->store, SWEEP_VISIT, SWEEP_REMOVE);
            next_sweep = store_now_ms() + (busy ? SWEEP_BUSY_MS : SWEEP_MS);
        }
    }
    while (w->clients)
        client_free(w, w->clients);
    return NULL;
}

int server_start_workers(struct server *srv)
{
    srv->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (srv->stop_fd < 0) return -1;
    pthread_mutex_init(&srv->spare_lock, NULL);
    srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    srv->workers = calloc(srv->opt.threads, sizeof(*srv->workers));
    if (!srv->workers) return -1;
    for (unsigned i = 0; i < srv->opt.threads; i++) {
        struct worker *w = &srv->workers[i];
        w->srv = srv;
        w->index = i;
        w->epfd = -1;
    }
    for (unsigned i = 0; i < srv->opt.threads; i++) {
        struct worker *w = &srv->workers[i];
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (w->epfd < 0) return -1;
        struct epoll_event le = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &listen_tag};
        struct epoll_event se = {.events = EPOLLIN, .data.ptr = &stop_tag};
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, srv->listen_fd, &le) != 0 ||
            epoll_ctl(w->epfd, EPOLL_CTL_ADD, srv->stop_fd, &se) != 0)
            return -1;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) return -1;
        w->started = 1;
    }
    return 0;
}

void server_stop_workers(struct server *srv)
{
    if (srv->stop_fd >= 0) {
        uint64_t one = 1;
        ssize_t n = write(srv->stop_fd, &one, sizeof(one));
        (void)n;
    }
    if (srv->workers) {
        for (unsigned i = 0; i < srv->opt.threads; i++) {
            struct worker *w = &srv->workers[i];
            if (w->started) pthread_join(w->thread, NULL);
            if (w->epfd >= 0) close(w->epfd);
        }
        free(srv->workers);
        srv->workers = NULL;
    }
    if (srv->stop_fd >= 0) close(srv->stop_fd);
    if (srv->spare_fd >= 0) close(srv->spare_fd);
    srv->stop_fd = srv->spare_fd = -1;
    pthread_mutex_destroy(&srv->spare_lock);
}
