/* The statistics emitter (see emit.h): no malloc, no stdio, async-signal-safe. */
#include "emit.h"

#include "sizeclass.h"

#define CA_LABEL_WIDTH 48u /* text: values start in this column */

void ca_emit_init(ca_emit_t *e, ca_buf_t *b, int json)
{
    e->b = b;
    e->json = json;
    e->depth = 0;
    e->comma[0] = 0;
    e->brief[0] = 0;
}

/* Text: the indentation of a line at the current depth. */
static void ca_emit_indent(ca_emit_t *e)
{
    for (int i = 1; i < e->depth; i++)
        ca_buf_str(e->b, "  ");
}

/* JSON: a separator, then "key": when there is a key. */
static void ca_emit_key(ca_emit_t *e, const char *key)
{
    if (e->comma[e->depth]) ca_buf_str(e->b, ",");
    e->comma[e->depth] = 1;
    if (key == NULL) return;
    ca_buf_str(e->b, "\"");
    ca_buf_str(e->b, key);
    ca_buf_str(e->b, "\":");
}

static void ca_emit_push(ca_emit_t *e, int brief)
{
    if (e->depth + 1 < CA_EMIT_DEPTH) e->depth++;
    e->comma[e->depth] = 0;
    e->brief[e->depth] = brief;
}

void ca_emit_open(ca_emit_t *e, const char *key, const char *heading, int brief)
{
    if (e->json) {
        ca_emit_key(e, key);
        ca_buf_str(e->b, "{");
    } else if (heading != NULL) {
        ca_emit_indent(e);
        ca_buf_str(e->b, heading);
        if (!brief) ca_buf_str(e->b, "\n");
    }
    ca_emit_push(e, brief);
    /* a brief heading that opens a parenthesis: its first field follows at once */
    if (!e->json && brief && heading != NULL && heading[0] != '\0' &&
        heading[ca_strlen(heading) - 1] == '(')
        e->comma[e->depth] = -1;
}

void ca_emit_close(ca_emit_t *e)
{
    int brief = e->brief[e->depth];
    if (e->depth > 0) e->depth--;
    if (e->json)
        ca_buf_str(e->b, "}");
    else if (brief)
        ca_buf_str(e->b, "\n");
}

void ca_emit_list(ca_emit_t *e, const char *key)
{
    if (!e->json) return; /* text: the objects' headings say it */
    ca_emit_key(e, key);
    ca_buf_str(e->b, "[");
    ca_emit_push(e, 0);
}

void ca_emit_list_end(ca_emit_t *e)
{
    if (!e->json) return;
    if (e->depth > 0) e->depth--;
    ca_buf_str(e->b, "]");
}

/* Text: the label of a field, as a line of its own or in a brief line. */
static void ca_emit_label(ca_emit_t *e, const char *label)
{
    if (e->brief[e->depth]) {
        int c = e->comma[e->depth];
        ca_buf_str(e->b, c > 0 ? ", " : c < 0 ? "" : " ");
        e->comma[e->depth] = 1;
        ca_buf_str(e->b, label);
        ca_buf_str(e->b, " ");
        return;
    }
    size_t from = e->b->len;
    ca_emit_indent(e);
    ca_buf_str(e->b, label);
    ca_buf_pad(e->b, CA_LABEL_WIDTH, from);
}

static void ca_emit_end_field(ca_emit_t *e)
{
    if (!e->brief[e->depth]) ca_buf_str(e->b, "\n");
}

void ca_emit_u64(ca_emit_t *e, const char *key, const char *label, uint64_t v)
{
    if (e->json) {
        ca_emit_key(e, key);
        ca_buf_u64(e->b, v);
    } else if (label != NULL) {
        ca_emit_label(e, label);
        ca_buf_u64(e->b, v);
        ca_emit_end_field(e);
    }
}

void ca_emit_i64(ca_emit_t *e, const char *key, const char *label, int64_t v)
{
    if (e->json) {
        ca_emit_key(e, key);
        ca_buf_i64(e->b, v);
    } else if (label != NULL) {
        ca_emit_label(e, label);
        ca_buf_i64(e->b, v);
        ca_emit_end_field(e);
    }
}

void ca_emit_str(ca_emit_t *e, const char *key, const char *label, const char *v)
{
    if (e->json) {
        ca_emit_key(e, key);
        ca_buf_str(e->b, "\"");
        ca_buf_str(e->b, v); /* our own names: nothing to escape */
        ca_buf_str(e->b, "\"");
    } else if (label != NULL) {
        ca_emit_label(e, label);
        ca_buf_str(e->b, v);
        ca_emit_end_field(e);
    }
}

void ca_emit_text(ca_emit_t *e, const char *line)
{
    if (e->json) return;
    ca_emit_indent(e);
    ca_buf_str(e->b, line);
    ca_buf_str(e->b, "\n");
}

static const char *ca_bucket_name(int align, int i)
{
    return align ? ca_align_bucket_name(i) : ca_size_bucket_name(i);
}

void ca_emit_buckets(ca_emit_t *e, const char *key, const char *title, const uint64_t *v, int align)
{
    int n = (int)(align ? CA_ALIGN_BUCKETS : CA_SIZE_BUCKETS);
    if (e->json) {
        ca_emit_key(e, key);
        ca_buf_str(e->b, "[");
        for (int i = 0; i < n; i++) {
            if (i) ca_buf_str(e->b, ",");
            ca_buf_u64(e->b, v[i]);
        }
        ca_buf_str(e->b, "]");
        return;
    }
    if (title == NULL) return;
    ca_emit_text(e, title);
    for (int i = 0; i < n; i++) {
        if (!v[i]) continue;
        size_t from = e->b->len;
        ca_emit_indent(e);
        ca_buf_str(e->b, "  ");
        ca_buf_str(e->b, ca_bucket_name(align, i));
        ca_buf_pad(e->b, 16, from);
        ca_buf_u64(e->b, v[i]);
        ca_buf_str(e->b, "\n");
    }
}

void ca_emit_bucket_names(ca_emit_t *e, const char *key, int align)
{
    if (!e->json) return;
    ca_emit_key(e, key);
    ca_buf_str(e->b, "[");
    for (int i = 0; i < (int)(align ? CA_ALIGN_BUCKETS : CA_SIZE_BUCKETS); i++) {
        ca_buf_str(e->b, i ? ",\"" : "\"");
        ca_buf_str(e->b, ca_bucket_name(align, i));
        ca_buf_str(e->b, "\"");
    }
    ca_buf_str(e->b, "]");
}

/* Bucket numbers ordered by `key`, largest first (stable). */
static void ca_rank(const uint64_t *key, unsigned order[CA_SIZE_BUCKETS])
{
    for (unsigned i = 0; i < CA_SIZE_BUCKETS; i++)
        order[i] = i;
    for (unsigned i = 1; i < CA_SIZE_BUCKETS; i++)
        for (unsigned j = i; j > 0 && key[order[j]] > key[order[j - 1]]; j--) {
            unsigned tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
}

/* Text: " (12.3%)" for part of whole, nothing when whole is 0. */
static void ca_emit_share(ca_emit_t *e, uint64_t part, uint64_t whole)
{
    if (whole == 0) return;
    uint64_t pm = (part * 1000 + whole / 2) / whole;
    ca_buf_str(e->b, " (");
    ca_buf_u64(e->b, pm / 10);
    ca_buf_str(e->b, ".");
    ca_buf_u64(e->b, pm % 10);
    ca_buf_str(e->b, "%)");
}

void ca_emit_hotspots(ca_emit_t *e, const char *key, const uint64_t *count, const uint64_t *bytes,
                      unsigned rows, uint64_t total_count, uint64_t total_bytes)
{
    unsigned order[CA_SIZE_BUCKETS];
    if (e->json) {
        ca_emit_key(e, key);
        ca_buf_str(e->b, "{");
    }
    for (int pass = 0; pass < 2; pass++) {
        const uint64_t *by = pass ? bytes : count;
        ca_rank(by, order);
        if (e->json)
            ca_buf_str(e->b, pass ? ",\"by_bytes\":[" : "\"by_count\":[");
        else
            ca_emit_text(e, pass ? "hotspots by bytes:" : "hotspots by count:");
        for (unsigned r = 0; r < CA_SIZE_BUCKETS && by[order[r]]; r++) {
            unsigned i = order[r];
            if (e->json) {
                ca_buf_str(e->b, r ? ",{\"bucket\":\"" : "{\"bucket\":\"");
                ca_buf_str(e->b, ca_size_bucket_name((int)i));
                ca_buf_str(e->b, "\",\"count\":");
                ca_buf_u64(e->b, count[i]);
                ca_buf_str(e->b, ",\"bytes\":");
                ca_buf_u64(e->b, bytes[i]);
                ca_buf_str(e->b, "}");
                continue;
            }
            if (r >= rows) break;
            size_t from = e->b->len;
            ca_emit_indent(e);
            ca_buf_str(e->b, "  #");
            ca_buf_u64(e->b, r + 1);
            ca_buf_str(e->b, " ");
            ca_buf_str(e->b, ca_size_bucket_name((int)i));
            ca_buf_pad(e->b, 20, from);
            ca_buf_u64(e->b, count[i]);
            ca_buf_str(e->b, " allocations");
            ca_emit_share(e, count[i], total_count);
            ca_buf_str(e->b, ", ");
            ca_buf_u64(e->b, bytes[i]);
            ca_buf_str(e->b, " bytes");
            ca_emit_share(e, bytes[i], total_bytes);
            ca_buf_str(e->b, "\n");
        }
        if (e->json) ca_buf_str(e->b, "]");
    }
    if (e->json) ca_buf_str(e->b, "}");
}
