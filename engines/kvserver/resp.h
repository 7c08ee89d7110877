/*
 * resp.h - RESP2 request parsing and reply encoding.
 *
 * The parser is resumable: it is handed the bytes of the current command
 * (everything received from the start of the command on) and either finds
 * one whole command, asks for more bytes, or reports a protocol error. It
 * remembers how far it got, so a multi-MiB bulk trickling in is not parsed
 * again from the start on every read. Positions are relative to the start of
 * the command, so the caller may move its buffer between calls.
 *
 * Both framings are accepted: multibulk (`*N\r\n$L\r\n...`) and inline
 * commands (a line of words, with "double" and 'single' quoting as in
 * redis-cli). Every size is bounded by struct resp_limits.
 */
#ifndef KV_RESP_H
#define KV_RESP_H

#include <stddef.h>

#include "buf.h"

struct resp_limits {
    size_t max_bulk;    /* bytes: longest bulk string */
    size_t max_request; /* bytes: longest whole command */
    size_t max_inline;  /* bytes: longest inline command line */
    size_t max_args;    /* count: most arguments in one command */
};

struct resp_arg {
    size_t off; /* bytes from the command start (inline: from the scratch start) */
    size_t len; /* bytes */
};

struct resp_parser {
    long long nargs;       /* count: declared args of the multibulk; -1 before its header */
    size_t pos;            /* bytes: parse position from the command start */
    size_t bulk;           /* bytes: length of the bulk being read; SIZE_MAX: header next */
    size_t argc;           /* count: arguments complete */
    size_t argcap;         /* count: slots in argv */
    struct resp_arg *argv; /* argc arguments */
    int is_inline;         /* 1 when the command was an inline line */
    struct kbuf scratch;   /* unquoted inline arguments */
    size_t need;           /* bytes the command needs in all, when known; else 0 */
    char error[80];        /* message after RESP_ERROR */
};

enum resp_result {
    RESP_INCOMPLETE = 0, /* need more bytes */
    RESP_COMMAND = 1,    /* one command parsed (argc may be 0: an empty command) */
    RESP_ERROR = -1,     /* protocol error: message in p->error */
    RESP_NOMEM = -2,     /* malloc failed */
};

void resp_init(struct resp_parser *p);
void resp_free(struct resp_parser *p);
/* Forget the command just handled (or the partial one). */
void resp_reset(struct resp_parser *p);
/* Parse the command starting at buf; *consumed is its length on RESP_COMMAND. */
int resp_parse(struct resp_parser *p, const char *buf, size_t len, const struct resp_limits *lim,
               size_t *consumed);
/* Argument i of the command just parsed from buf. */
const char *resp_arg_ptr(const struct resp_parser *p, const char *buf, size_t i);

/* Reply encoders. */
void resp_ok(struct kbuf *out);
void resp_simple(struct kbuf *out, const char *s);
/* "-" followed by msg; CR and LF in msg become spaces. */
void resp_error(struct kbuf *out, const char *msg);
void resp_errorf(struct kbuf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void resp_int(struct kbuf *out, long long v);
void resp_bulk(struct kbuf *out, const void *p, size_t n);
void resp_null(struct kbuf *out);
void resp_array(struct kbuf *out, size_t n);

#endif
