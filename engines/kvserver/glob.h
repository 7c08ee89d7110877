/*
 * glob.h - Redis-style glob matching for KEYS and SCAN MATCH.
 *
 * `*` any run of bytes, `?` one byte, `[abc]`, `[a-z]` and `[^...]` classes,
 * `\x` a literal x. Corner cases follow Redis 7.0's stringmatchlen: a range
 * may take the closing bracket as its end, and the empty string matches
 * only the empty pattern. Binary-safe (lengths, not NUL terminators). Iterative,
 * so a pattern of many stars cannot exhaust the stack.
 */
#ifndef KV_GLOB_H
#define KV_GLOB_H

#include <stddef.h>

/* 1 when str matches pattern, else 0. */
int glob_match(const char *pat, size_t plen, const char *str, size_t slen);

#endif
