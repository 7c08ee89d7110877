/* resp.c - RESP2 request parsing and reply encoding (see resp.h). */
#include "resp.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_LINE_MAX 64 /* bytes: longest "*N" or "$N" line we wait for */

void resp_init(struct resp_parser *p)
{
    memset(p, 0, sizeof(*p));
    p->nargs = -1;
    p->bulk = SIZE_MAX;
}

void resp_free(struct resp_parser *p)
{
    free(p->argv);
    kbuf_free(&p->scratch);
    resp_init(p);
}

void resp_reset(struct resp_parser *p)
{
    p->nargs = -1;
    p->pos = 0;
    p->bulk = SIZE_MAX;
    p->argc = 0;
    p->is_inline = 0;
    p->need = 0;
    p->scratch.len = p->scratch.off = 0;
    kbuf_shrink(&p->scratch, 4096);
    /* Give back a huge argv left by one big command. */
    if (p->argcap > 1024) {
        free(p->argv);
        p->argv = NULL;
        p->argcap = 0;
    }
}

static int fail(struct resp_parser *p, const char *msg)
{
    snprintf(p->error, sizeof(p->error), "Protocol error: %s", msg);
    return RESP_ERROR;
}

/* Strict decimal as Redis's string2ll: "0", or an optional '-' and 1..19
 * digits with no leading zero (so no "-0", "01" or "+1"), within a long long. */
static int parse_ll(const char *s, size_t n, long long *out)
{
    int neg = 0;
    unsigned long long v = 0; /* 19 digits fit */
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return 0;
    }
    if (n && *s == '-') {
        neg = 1;
        s++;
        n--;
    }
    if (n == 0 || n > 19 || s[0] < '1' || s[0] > '9') return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > (unsigned long long)LLONG_MAX + (unsigned)neg) return -1;
    *out = neg ? -(long long)(v - 1) - 1 : (long long)v;
    return 0;
}

static int push_arg(struct resp_parser *p, size_t off, size_t len)
{
    if (p->argc == p->argcap) {
        size_t cap = p->argcap ? p->argcap * 2 : 8;
        struct resp_arg *a = realloc(p->argv, cap * sizeof(*a));
        if (!a) return RESP_NOMEM;
        p->argv = a;
        p->argcap = cap;
    }
    p->argv[p->argc].off = off;
    p->argv[p->argc].len = len;
    p->argc++;
    return 0;
}

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Split an inline line into words exactly as Redis's sdssplitargs: words
 * end at space, tab, CR or LF (other white space only separates words
 * before they start); a quote may open anywhere in a word; inside "double"
 * quotes \xHH and \n \r \t \b \a escapes work; inside 'single' quotes
 * only \'; a closing quote must be followed by white space or the end. A NUL
 * byte ends the line, as in Redis. */
static int split_inline(struct resp_parser *p, const char *s, size_t n,
                        const struct resp_limits *lim)
{
    const char *nul = memchr(s, 0, n);
    if (nul) n = (size_t)(nul - s);
    size_t i = 0;
    struct kbuf *sc = &p->scratch;
    for (;;) {
        while (i < n && isspace((unsigned char)s[i]))
            i++;
        if (i == n) return 0;
        if (p->argc == lim->max_args) return fail(p, "too many arguments in inline request");
        size_t start = sc->len;
        int inq = 0, insq = 0, done = 0;
        while (!done) {
            char c = i < n ? s[i] : 0;
            int more = i + 1 < n; /* a byte follows c */
            if (inq) {
                if (c == '\\' && more && s[i + 1] == 'x' && i + 3 < n && hex_digit(s[i + 2]) >= 0 &&
                    hex_digit(s[i + 3]) >= 0) {
                    char b = (char)(hex_digit(s[i + 2]) * 16 + hex_digit(s[i + 3]));
                    kbuf_append(sc, &b, 1);
                    i += 3;
                } else if (c == '\\' && more) {
                    char e = s[++i];
                    e = e == 'n'   ? '\n'
                        : e == 'r' ? '\r'
                        : e == 't' ? '\t'
                        : e == 'b' ? '\b'
                        : e == 'a' ? '\a'
                                   : e;
                    kbuf_append(sc, &e, 1);
                } else if (c == '"') {
                    if (more && !isspace((unsigned char)s[i + 1]))
                        return fail(p, "unbalanced quotes in request");
                    done = 1;
                } else if (i == n) {
                    return fail(p, "unbalanced quotes in request");
                } else {
                    kbuf_append(sc, &c, 1);
                }
            } else if (insq) {
                if (c == '\\' && more && s[i + 1] == '\'') {
                    i++;
                    kbuf_append(sc, "'", 1);
                } else if (c == '\'') {
                    if (more && !isspace((unsigned char)s[i + 1]))
                        return fail(p, "unbalanced quotes in request");
                    done = 1;
                } else if (i == n) {
                    return fail(p, "unbalanced quotes in request");
                } else {
                    kbuf_append(sc, &c, 1);
                }
            } else if (i == n || c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                done = 1;
            } else if (c == '"') {
                inq = 1;
            } else if (c == '\'') {
                insq = 1;
            } else {
                kbuf_append(sc, &c, 1);
            }
            if (i < n) i++;
        }
        if (sc->failed || push_arg(p, start, sc->len - start) != 0) return RESP_NOMEM;
    }
}

static int parse_inline(struct resp_parser *p, const char *buf, size_t len,
                        const struct resp_limits *lim, size_t *consumed)
{
    size_t scan = len < lim->max_inline + 2 ? len : lim->max_inline + 2;
    const char *nl = memchr(buf, '\n', scan);
    if (!nl) {
        if (len > lim->max_inline) return fail(p, "too big inline request");
        return RESP_INCOMPLETE;
    }
    size_t n = (size_t)(nl - buf);
    if (n > lim->max_inline) return fail(p, "too big inline request");
    p->is_inline = 1;
    int rc = split_inline(p, buf, n && buf[n - 1] == '\r' ? n - 1 : n, lim);
    if (rc != 0) return rc;
    *consumed = n + 1;
    return RESP_COMMAND;
}

/* Find a "\r\n"-terminated header line at buf[pos]; returns its length
 * (without CRLF), -1 for incomplete, -2 when too long, -3 for a bare LF. */
static long header_line(const char *buf, size_t len, size_t pos)
{
    size_t avail = len - pos;
    size_t scan = avail < HEADER_LINE_MAX ? avail : HEADER_LINE_MAX;
    const char *nl = memchr(buf + pos, '\n', scan);
    if (!nl) return avail >= HEADER_LINE_MAX ? -2 : -1;
    size_t n = (size_t)(nl - (buf + pos));
    if (n == 0 || buf[pos + n - 1] != '\r') return -3;
    return (long)(n - 1);
}

int resp_parse(struct resp_parser *p, const char *buf, size_t len, const struct resp_limits *lim,
               size_t *consumed)
{
    p->need = 0;
    if (len == 0) return RESP_INCOMPLETE;
    if (p->nargs < 0) {
        if (buf[0] != '*') return parse_inline(p, buf, len, lim, consumed);
        long n = header_line(buf, len, 0);
        if (n == -1) return RESP_INCOMPLETE;
        long long count;
        if (n == -2) return fail(p, "too big mbulk count string");
        if (n == -3) return fail(p, "expected CRLF after the multibulk length");
        if (parse_ll(buf + 1, (size_t)n - 1, &count) != 0 || count > (long long)lim->max_args)
            return fail(p, "invalid multibulk length");
        p->pos = (size_t)n + 2;
        if (count <= 0) {
            *consumed = p->pos;
            return RESP_COMMAND; /* "*0" and "*-1": nothing to do */
        }
        p->nargs = count;
    }
    while ((long long)p->argc < p->nargs) {
        if (p->bulk == SIZE_MAX) {
            if (p->pos == len) return RESP_INCOMPLETE;
            if (buf[p->pos] != '$') {
                char msg[40];
                unsigned char c = (unsigned char)buf[p->pos];
                if (isprint(c))
                    snprintf(msg, sizeof(msg), "expected '$', got '%c'", c);
                else
                    snprintf(msg, sizeof(msg), "expected '$', got byte 0x%02x", c);
                return fail(p, msg);
            }
            long n = header_line(buf, len, p->pos);
            if (n == -1) return RESP_INCOMPLETE;
            if (n == -2) return fail(p, "too big bulk count string");
            if (n == -3) return fail(p, "expected CRLF after the bulk length");
            long long bl;
            if (parse_ll(buf + p->pos + 1, (size_t)n - 1, &bl) != 0 || bl < 0 ||
                (unsigned long long)bl > lim->max_bulk)
                return fail(p, "invalid bulk length");
            p->pos += (size_t)n + 2;
            p->bulk = (size_t)bl;
            if (p->pos > lim->max_request || p->bulk + 2 > lim->max_request - p->pos)
                return fail(p, "request too large");
        }
        if (len - p->pos < p->bulk + 2) {
            p->need = p->pos + p->bulk + 2;
            return RESP_INCOMPLETE;
        }
        if (buf[p->pos + p->bulk] != '\r' || buf[p->pos + p->bulk + 1] != '\n')
            return fail(p, "expected CRLF after bulk string");
        if (push_arg(p, p->pos, p->bulk) != 0) return RESP_NOMEM;
        p->pos += p->bulk + 2;
        p->bulk = SIZE_MAX;
    }
    *consumed = p->pos;
    return RESP_COMMAND;
}

const char *resp_arg_ptr(const struct resp_parser *p, const char *buf, size_t i)
{
    return (p->is_inline ? p->scratch.p : buf) + p->argv[i].off;
}

void resp_ok(struct kbuf *out)
{
    kbuf_append(out, "+OK\r\n", 5);
}

void resp_simple(struct kbuf *out, const char *s)
{
    kbuf_append(out, "+", 1);
    kbuf_append(out, s, strlen(s));
    kbuf_append(out, "\r\n", 2);
}

void resp_error(struct kbuf *out, const char *msg)
{
    size_t n = strlen(msg);
    kbuf_append(out, "-", 1);
    size_t start = out->len;
    kbuf_append(out, msg, n);
    if (!out->failed) {
        for (size_t i = start; i < out->len; i++)
            if (out->p[i] == '\r' || out->p[i] == '\n') out->p[i] = ' ';
    }
    kbuf_append(out, "\r\n", 2);
}

void resp_errorf(struct kbuf *out, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    resp_error(out, msg);
}

/* "<type><number>\r\n" without printf: replies are mostly such lines. */
static void append_header(struct kbuf *out, char type, long long v)
{
    char b[32];
    char *p = b + sizeof(b);
    *--p = '\n';
    *--p = '\r';
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--p = '-';
    *--p = type;
    kbuf_append(out, p, (size_t)(b + sizeof(b) - p));
}

void resp_int(struct kbuf *out, long long v)
{
    append_header(out, ':', v);
}

void resp_bulk(struct kbuf *out, const void *p, size_t n)
{
    append_header(out, '$', (long long)n);
    if (kbuf_reserve(out, n + 2) != 0) return;
    kbuf_append(out, p, n);
    kbuf_append(out, "\r\n", 2);
}

void resp_null(struct kbuf *out)
{
    kbuf_append(out, "$-1\r\n", 5);
}

void resp_array(struct kbuf *out, size_t n)
{
    append_header(out, '*', (long long)n);
}
