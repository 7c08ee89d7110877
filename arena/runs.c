/*
 * Run blocks (runs.h): a map of CA_RUN_UNITS bits that says which units are
 * in use, one that says where objects start and one where they end: an
 * object's length is the distance to the next end bit, which another thread
 * freeing it can read while the owner changes other bits of the same word.
 * The search for a place marks, in log k steps over the words, every unit
 * where k free units begin, and takes the first such at or after where the
 * last object placed ended (the block's `bump`) and wraps around once: units
 * freed are taken again only after the rest of the block was offered, so a
 * pointer freed twice is most often still free (and named) at its second
 * free, and a block's pages are touched in order. (Handing a freed object's
 * units straight back when it was the last one placed is about 3% faster on
 * shape_heavy, but a free, a malloc of any run class, and a second free then
 * frees the new object unnamed: test_bad_input's case of printf's buffer.)
 */
#include "runs.h"

#define CA_RUN_WORDS (CA_RUN_UNITS / 64)
#define CA_RUN_NONE  CA_RUN_UNITS

static inline uint64_t ca_word(const uint64_t *map, uint32_t w)
{
    return __atomic_load_n(&map[w], __ATOMIC_RELAXED);
}

static inline void ca_word_set(uint64_t *map, uint32_t w, uint64_t v)
{
    __atomic_store_n(&map[w], v, __ATOMIC_RELAXED);
}

static inline int ca_bit(const uint64_t *map, uint32_t u)
{
    return (int)((ca_word(map, u >> 6) >> (u & 63)) & 1);
}

static inline void ca_bit_put(uint64_t *map, uint32_t u, int on)
{
    uint64_t bit = (uint64_t)1 << (u & 63), w = ca_word(map, u >> 6);
    ca_word_set(map, u >> 6, on ? w | bit : w & ~bit);
}

/* First unit at or after `u` whose bit is `want` (1 or 0), or CA_RUN_NONE. */
static uint32_t ca_bit_next(const uint64_t *map, uint32_t u, int want)
{
    if (u >= CA_RUN_UNITS) return CA_RUN_NONE;
    uint64_t flip = want ? 0 : ~(uint64_t)0;
    uint32_t w = u >> 6;
    uint64_t bits = (ca_word(map, w) ^ flip) & (~(uint64_t)0 << (u & 63));
    while (bits == 0) {
        if (++w == CA_RUN_WORDS) return CA_RUN_NONE;
        bits = ca_word(map, w) ^ flip;
    }
    return (w << 6) + (uint32_t)__builtin_ctzll(bits);
}

/* Set (`on`) or clear units [u, u + k) of `map`. */
static void ca_bits_range(uint64_t *map, uint32_t u, uint32_t k, int on)
{
    while (k > 0) {
        uint32_t in = u & 63, n = 64 - in < k ? 64 - in : k;
        uint64_t mask = (n == 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1)) << in;
        uint64_t w = ca_word(map, u >> 6);
        ca_word_set(map, u >> 6, on ? w | mask : w & ~mask);
        u += n;
        k -= n;
    }
}

void ca_runs_init(ca_block_t *b)
{
    ca_runmap_t *m = ca_runmap(b);
    for (uint32_t w = 0; w < CA_RUN_WORDS; w++) {
        ca_word_set(m->used, w, 0);
        ca_word_set(m->start, w, 0);
        ca_word_set(m->end, w, 0);
    }
}

/* t >>= s over the whole map (unit u + s moves to u), 0 < s < 64; units past
 * the end read as not free. */
static void ca_map_shift(uint64_t *t, uint32_t s)
{
    for (uint32_t w = 0; w + 1 < CA_RUN_WORDS; w++)
        t[w] = (t[w] >> s) | (t[w + 1] << (64 - s));
    t[CA_RUN_WORDS - 1] >>= s;
}

/* Are units [u, u + k) of `map` all clear? k <= 64, u + k <= CA_RUN_UNITS. */
static int ca_bits_clear(const uint64_t *map, uint32_t u, uint32_t k)
{
    uint32_t w = u >> 6, in = u & 63;
    uint64_t bits = ca_word(map, w) >> in;
    if (in != 0 && w + 1 < CA_RUN_WORDS) bits |= ca_word(map, w + 1) << (64 - in);
    uint64_t mask = k == 64 ? ~(uint64_t)0 : (((uint64_t)1 << k) - 1);
    return (bits & mask) == 0;
}

int ca_runs_take(ca_block_t *b, uint32_t k, uint32_t step)
{
    ca_runmap_t *m = ca_runmap(b);
    uint32_t u = b->bump;
    if ((u & (step - 1)) == 0 && u + k <= CA_RUN_UNITS && ca_bits_clear(m->used, u, k))
        goto found; /* the usual case: room right after the last object placed */
    /* fit[u]: units u .. u + len - 1 are free; len doubles up to k (log k
     * steps over the words, whatever the block's fragmentation). */
    uint64_t fit[CA_RUN_WORDS], t[CA_RUN_WORDS];
    for (uint32_t w = 0; w < CA_RUN_WORDS; w++)
        fit[w] = ~ca_word(m->used, w);
    for (uint32_t len = 1; len < k;) {
        uint32_t s = len < k - len ? len : k - len;
        for (uint32_t w = 0; w < CA_RUN_WORDS; w++)
            t[w] = fit[w];
        ca_map_shift(t, s);
        for (uint32_t w = 0; w < CA_RUN_WORDS; w++)
            fit[w] &= t[w];
        len += s;
    }
    if (step > 1) { /* only starts at a multiple of step */
        uint64_t every = 0;
        for (uint32_t i = 0; i < 64; i += step)
            every |= (uint64_t)1 << i;
        for (uint32_t w = 0; w < CA_RUN_WORDS; w++)
            fit[w] &= (step <= 64 || (w << 6) % step == 0) ? every : 0;
    }
    u = ca_bit_next(fit, b->bump, 1); /* next fit: from where the last one ended */
    if (u == CA_RUN_NONE) u = ca_bit_next(fit, 0, 1);
    if (u == CA_RUN_NONE) return -1;
found:
    ca_bits_range(m->used, u, k, 1);
    ca_bit_put(m->start, u, 1);
    ca_bit_put(m->end, u + k - 1, 1);
    b->bump = (u + k) % CA_RUN_UNITS;
    return (int)u;
}

uint32_t ca_runs_len(const ca_block_t *b, uint32_t u)
{
    return ca_bit_next(ca_runmap(b)->end, u, 1) + 1 - u;
}

uint32_t ca_runs_release(ca_block_t *b, uint32_t u)
{
    ca_runmap_t *m = ca_runmap(b);
    uint32_t k = ca_runs_len(b, u);
    ca_bits_range(m->used, u, k, 0);
    ca_bit_put(m->start, u, 0);
    ca_bit_put(m->end, u + k - 1, 0);
    return k;
}

enum ca_unit_state ca_runs_unit(const ca_block_t *b, uint32_t u)
{
    const ca_runmap_t *m = ca_runmap(b);
    if (ca_bit(m->start, u)) return CA_UNIT_START;
    return ca_bit(m->used, u) ? CA_UNIT_INSIDE : CA_UNIT_FREE;
}
