/* utf8.h: strict UTF-8 decoding and encoding (the rules of Python's 'utf-8' codec: no overlong
 * forms, no surrogates, nothing past U+10FFFF, no truncated sequences). */
#ifndef DFGAN_UTF8_H
#define DFGAN_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "text/unicode.h"

/* Append the code points of s[0..n) to out. Returns 0, or -1 with *bad set to the offset of the
 * first byte that does not start a valid sequence (out then holds what came before it). */
int utf8_decode(u32buf *out, const unsigned char *s, size_t n, size_t *bad);
/* Write cp as 1-4 bytes to out; returns the count (cp must be a scalar value). */
int utf8_encode(uint32_t cp, unsigned char out[4]);

#endif
