/* strmap.c: string -> int32 hash map (see strmap.h). */
#include "core/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "core/common.h"

static uint64_t hash_bytes(const void *key, size_t len) { /* FNV-1a, 64-bit */
    const unsigned char *p = key;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) { h ^= p[i]; h *= 1099511628211ULL; }
    return h ^ (h >> 29);
}

void strmap_init(strmap *m) { memset(m, 0, sizeof *m); }

void strmap_free(strmap *m) {
    free(m->slots);
    free(m->e);
    free(m->arena);
    memset(m, 0, sizeof *m);
}

static size_t find_slot(const strmap *m, const void *key, size_t len, uint64_t h) {
    size_t mask = m->nslots - 1, i = (size_t)h & mask;
    for (;;) {
        uint32_t s = m->slots[i];
        if (!s) return i;
        const struct strmap_entry *e = &m->e[s - 1];
        if (e->hash == h && e->len == len && memcmp(m->arena + e->off, key, len) == 0) return i;
        i = (i + 1) & mask;
    }
}

int32_t *strmap_get(const strmap *m, const void *key, size_t len) {
    if (!m->nslots) return NULL;
    size_t i = find_slot(m, key, len, hash_bytes(key, len));
    return m->slots[i] ? &m->e[m->slots[i] - 1].value : NULL;
}

static void grow(strmap *m) {
    size_t ns = m->nslots ? m->nslots * 2 : 64;
    free(m->slots);
    m->slots = xcalloc(ns, sizeof *m->slots);
    m->nslots = ns;
    for (size_t k = 0; k < m->n; k++) {
        size_t i = (size_t)m->e[k].hash & (ns - 1);
        while (m->slots[i]) i = (i + 1) & (ns - 1);
        m->slots[i] = (uint32_t)(k + 1);
    }
}

size_t strmap_set(strmap *m, const void *key, size_t len, int32_t value) {
    if ((m->n + 1) * 2 > m->nslots) grow(m);
    uint64_t h = hash_bytes(key, len);
    size_t i = find_slot(m, key, len, h);
    if (m->slots[i]) { m->e[m->slots[i] - 1].value = value; return m->slots[i] - 1; }
    if (m->n == m->cap) m->e = xrealloc(m->e, (m->cap = m->cap ? m->cap * 2 : 64) * sizeof *m->e);
    if (m->alen + len > m->acap) {
        while (m->alen + len > m->acap) m->acap = m->acap ? m->acap * 2 : 4096;
        m->arena = xrealloc(m->arena, m->acap);
    }
    if (len) memcpy(m->arena + m->alen, key, len);
    m->e[m->n] = (struct strmap_entry){m->alen, len, h, value};
    m->alen += len;
    m->slots[i] = (uint32_t)(m->n + 1);
    return m->n++;
}
