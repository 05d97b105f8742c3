/* strmap.h: a hash map from byte strings to int32 values (open addressing, keys copied into an
 * arena). Used for the BPE vocabulary and cache and for DAMSM word lists. */
#ifndef DFGAN_STRMAP_H
#define DFGAN_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t *slots;            /* 1 + entry index, 0 = empty */
    size_t nslots;              /* a power of two */
    struct strmap_entry { size_t off, len; uint64_t hash; int32_t value; } *e;
    size_t n, cap;              /* entries, in insertion order */
    char *arena;
    size_t alen, acap;
} strmap;

void strmap_init(strmap *m);
void strmap_free(strmap *m);
/* Pointer to the value of key, or NULL. */
int32_t *strmap_get(const strmap *m, const void *key, size_t len);
/* Set key to value (a later set of the same key overwrites, like a Python dict); returns the
 * entry's index (insertion order of first set). */
size_t strmap_set(strmap *m, const void *key, size_t len, int32_t value);
/* Key of entry i (not NUL-terminated). */
static inline const char *strmap_key(const strmap *m, size_t i, size_t *len) {
    *len = m->e[i].len;
    return m->arena + m->e[i].off;
}

#endif
