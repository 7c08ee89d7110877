/* glob.c - glob matching (see glob.h). */
#include "glob.h"

/* Does byte c match the single-byte pattern element at pat[*pi]? Advances
 * *pi past the element. */
static int match_one(const char *pat, size_t plen, size_t *pi, unsigned char c)
{
    size_t p = *pi;
    unsigned char pc = (unsigned char)pat[p];
    if (pc == '?') {
        *pi = p + 1;
        return 1;
    }
    if (pc == '\\' && p + 1 < plen) {
        *pi = p + 2;
        return (unsigned char)pat[p + 1] == c;
    }
    if (pc != '[') {
        *pi = p + 1;
        return pc == c;
    }
    /* A class: up to the closing ']' (or the end of the pattern). */
    p++;
    int negate = 0, hit = 0;
    if (p < plen && pat[p] == '^') {
        negate = 1;
        p++;
    }
    while (p < plen && pat[p] != ']') {
        if (pat[p] == '\\' && p + 1 < plen) {
            hit |= (unsigned char)pat[p + 1] == c;
            p += 2;
        } else if (p + 2 < plen && pat[p + 1] == '-') {
            /* As Redis: a range may end in ']' ("[a-]" is ']'..'a'). */
            unsigned char lo = (unsigned char)pat[p], hi = (unsigned char)pat[p + 2];
            if (lo > hi) {
                unsigned char t = lo;
                lo = hi;
                hi = t;
            }
            hit |= c >= lo && c <= hi;
            p += 3;
        } else {
            hit |= (unsigned char)pat[p] == c;
            p++;
        }
    }
    *pi = p < plen ? p + 1 : p;
    return negate ? !hit : hit;
}

int glob_match(const char *pat, size_t plen, const char *str, size_t slen)
{
    size_t p = 0, s = 0;
    size_t star_p = 0, star_s = 0;
    int have_star = 0;

    /* Redis matches the empty string only with the empty pattern (its
     * callers treat a lone "*" as "everything" before matching). */
    if (slen == 0) return plen == 0;

    while (s < slen) {
        if (p < plen && pat[p] == '*') {
            while (p < plen && pat[p] == '*')
                p++;
            if (p == plen) return 1;
            have_star = 1;
            star_p = p;
            star_s = s;
            continue;
        }
        if (p < plen) {
            size_t np = p;
            if (match_one(pat, plen, &np, (unsigned char)str[s])) {
                p = np;
                s++;
                continue;
            }
        }
        if (!have_star) return 0;
        p = star_p;
        s = ++star_s;
    }
    while (p < plen && pat[p] == '*')
        p++;
    return p == plen;
}
