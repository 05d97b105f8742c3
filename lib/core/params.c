/* params.c: parameter registry, one-buffer storage and the Adam step (see params.h). */
#include "core/params.h"
#include "core/common.h"
#include "core/finite.h"
#include "core/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int params_add(param_set *ps, const char *key, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? 2 * ps->cap : 64;
        ps->info = xrealloc(ps->info, (size_t)ps->cap * sizeof *ps->info);
    }
    param_info *p = &ps->info[ps->n];
    memset(p, 0, sizeof *p);
    if (strlen(key) >= PARAM_KEY_MAX) die_runtime("expected a parameter key under %d bytes, found '%s'", PARAM_KEY_MAX, key);
    strcpy(p->key, key);
    int64_t d[4] = {d0, d1, d2, d3};
    p->ndim = ndim;
    p->size = 1;
    for (int i = 0; i < ndim; i++) { p->shape[i] = d[i]; p->size *= (size_t)d[i]; }
    p->offset = ps->total;
    p->used = 1;
    ps->total += p->size;
    return ps->n++;
}

void params_alloc(param_set *ps, device_t dev) {
    ps->device = dev;
    ps->data = dev_alloc(dev, ps->total);
    ps->grad = dev_alloc(dev, ps->total);
    ps->m = dev_alloc(dev, ps->total);
    ps->v = dev_alloc(dev, ps->total);
    ps->step = 0;
}

void params_free(param_set *ps) {
    dev_free(ps->device, ps->data); dev_free(ps->device, ps->grad);
    dev_free(ps->device, ps->m); dev_free(ps->device, ps->v);
    free(ps->info);
    memset(ps, 0, sizeof *ps);
}

int params_find(const param_set *ps, const char *key) {
    for (int i = 0; i < ps->n; i++)
        if (!strcmp(ps->info[i].key, key)) return i;
    return -1;
}

void params_zero_grad(param_set *ps) { dev_zero(ps->device, ps->grad, ps->total); }

void params_adam_step(param_set *ps, double lr, double beta1, double beta2, double eps) {
    ps->step++;
    /* Contiguous runs of used parameters are updated in one call. */
    for (int i = 0; i < ps->n;) {
        if (!ps->info[i].used) { i++; continue; }
        int j = i;
        while (j + 1 < ps->n && ps->info[j + 1].used) j++;
        size_t off = ps->info[i].offset, n = ps->info[j].offset + ps->info[j].size - off;
        OP(ps->device, adam_update, ps->data + off, ps->m + off, ps->v + off, ps->grad + off, n,
           lr, beta1, beta2, eps, ps->step);
        i = j + 1;
    }
}

void params_shape_str(const param_info *p, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < p->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ",%lld" : "%lld", (long long)p->shape[i]);
    if (k < n) snprintf(buf + k, n - k, p->ndim == 1 ? ",)" : ")");
}

int params_index_of(const param_set *ps, size_t i) {
    int lo = 0, hi = ps->n - 1;          /* offsets grow with the index: the last one <= i */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (ps->info[mid].offset <= i) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

const char *params_where(const param_set *ps, size_t i, const char *prefix, char *buf, size_t n) {
    const param_info *p = &ps->info[params_index_of(ps, i)];
    char at[96] = "";
    if (p->ndim > 0) index_desc(at, sizeof at, i - p->offset, p->ndim, p->shape);
    snprintf(buf, n, "%s%s%s%s", prefix, p->key, p->ndim > 0 ? " at " : "", at);
    return buf;
}
