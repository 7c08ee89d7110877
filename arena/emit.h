/*
 * Layer 4. One emitter for statistics in both formats: text for people
 * (a heading, then "label   value" lines, or one line of "label value, ..."
 * in brief sections) and JSON for tools (one object per dump). A printer
 * walks each section once and says what to print; the emitter decides how.
 * Size buckets and their ranking (hotspots) are printed here only, for the
 * malloc statistics and for regions alike.
 * Uses: sizeclass.h, util.h.
 */
#ifndef CA_EMIT_H
#define CA_EMIT_H

#include "util.h"

#include <stdint.h>

#define CA_EMIT_DEPTH 8

typedef struct ca_emit_s {
    ca_buf_t *b;
    int json;                 /* 1: JSON */
    int depth;                /* open objects and lists */
    int comma[CA_EMIT_DEPTH]; /* JSON: a member was written at this depth */
    int brief[CA_EMIT_DEPTH]; /* text: this object's fields go on one line */
} ca_emit_t;

void ca_emit_init(ca_emit_t *e, ca_buf_t *b, int json);
/* An object. JSON: "key":{ (no key inside a list). Text: `heading` on a line
 * of its own, fields indented below it; brief: `heading` then the fields on
 * the same line ("arena id 3, state active, ..."). */
void ca_emit_open(ca_emit_t *e, const char *key, const char *heading, int brief);
void ca_emit_close(ca_emit_t *e);
/* A list of objects. JSON: "key":[. Text: nothing (the objects' headings). */
void ca_emit_list(ca_emit_t *e, const char *key);
void ca_emit_list_end(ca_emit_t *e);
/* A field: "key":v, or `label` and v (a NULL label: JSON only). */
void ca_emit_u64(ca_emit_t *e, const char *key, const char *label, uint64_t v);
void ca_emit_i64(ca_emit_t *e, const char *key, const char *label, int64_t v);
void ca_emit_str(ca_emit_t *e, const char *key, const char *label, const char *v);
#define ca_emit_num(e, key, label, v)                                                              \
    _Generic((v), int64_t : ca_emit_i64, default : ca_emit_u64)(e, key, label, v)
/* Text only: a line of its own, indented. */
void ca_emit_text(ca_emit_t *e, const char *line);

/* The 16 size buckets (or 8 alignment buckets when `align`): JSON, an array
 * of `v`; text, `title` and a line per bucket that is not 0 (a NULL title:
 * JSON only). */
void ca_emit_buckets(ca_emit_t *e, const char *key, const char *title, const uint64_t *v,
                     int align);
/* The bucket names: JSON only, an array of strings. */
void ca_emit_bucket_names(ca_emit_t *e, const char *key, int align);
/* Hotspots: the size buckets ranked by count and by bytes, largest first.
 * JSON: "key":{"by_count":[{"bucket","count","bytes"}...],"by_bytes":[...]},
 * every bucket that is not 0; text: the first `rows` of each ranking, each
 * with its share of `total_count` and `total_bytes` when they are not 0. */
void ca_emit_hotspots(ca_emit_t *e, const char *key, const uint64_t *count, const uint64_t *bytes,
                      unsigned rows, uint64_t total_count, uint64_t total_bytes);

#endif
