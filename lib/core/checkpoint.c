/* checkpoint.c: param_set <-> .npz (see checkpoint.h). */
#include "core/checkpoint.h"
#include "core/common.h"
#include "core/finite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ckpt_read(const char *path, npz *z) {
    char err[512];
    if (npz_read(path, z, err, sizeof err) != 0) die_usage("%s", err);
}

static void shape_of(const npy_array *a, char *buf, size_t n) { npy_format_shape(buf, n, a->ndim, a->shape); }

static void load_one(param_set *ps, int i, const npy_array *a, float *dst, const char *key, const char *path) {
    const param_info *p = &ps->info[i];
    int ok = a->dtype == NPY_F4 && a->ndim == p->ndim;
    for (int k = 0; ok && k < p->ndim; k++) ok = a->shape[k] == p->shape[k];
    if (!ok) {
        char want[64], got[64];
        params_shape_str(p, want, sizeof want);
        shape_of(a, got, sizeof got);
        die_usage("%s: expected '%s' float32 %s, found %s %s", path, key, want, npy_dtype_name(a->dtype), got);
    }
    require_finite(a, path, "in '%s'", key);
    dev_upload(ps->device, dst + p->offset, a->data, p->size);
}

void ckpt_load(param_set *ps, const npz *z, const char *path) {
    char key[PARAM_KEY_MAX + 32];
    const npy_array *step = npz_find(z, "adam.step");
    ps->step = 0;
    if (step) {
        if (step->count != 1 || (step->dtype != NPY_I8 && step->dtype != NPY_I4))
            die_usage("%s: expected 'adam.step' an int64 scalar, found %s with %lld elements", path,
                      npy_dtype_name(step->dtype), (long long)step->count);
        ps->step = step->dtype == NPY_I8 ? (long)*(int64_t *)step->data : (long)*(int32_t *)step->data;
    }
    for (int i = 0; i < ps->n; i++) {
        const char *k = ps->info[i].key;
        const npy_array *a = npz_find(z, k);
        if (!a) die_usage("%s: expected key '%s' for this architecture, found none", path, k);
        load_one(ps, i, a, ps->data, k, path);
        const char *names[2] = {"exp_avg", "exp_avg_sq"};
        float *dst[2] = {ps->m, ps->v};
        for (int s = 0; s < 2; s++) {
            snprintf(key, sizeof key, "adam.%s.%s", names[s], k);
            const npy_array *st = npz_find(z, key);
            if (st) load_one(ps, i, st, dst[s], key, path);
            else if (ps->step > 0 && ps->info[i].used)
                die_usage("%s: expected Adam state '%s' (adam.step is %ld), found none", path, key, ps->step);
        }
    }
    /* every key must be one we know */
    for (int j = 0; j < z->n; j++) {
        const char *k = z->items[j].key;
        const char *base = k;
        if (!strcmp(k, "adam.step")) continue;
        if (!strncmp(k, "adam.exp_avg_sq.", 16)) base = k + 16;
        else if (!strncmp(k, "adam.exp_avg.", 13)) base = k + 13;
        if (params_find(ps, base) < 0)
            die_usage("%s: expected only keys of this architecture, found unexpected key '%s'", path, k);
    }
}

void ckpt_refuse_nonfinite(const npz_item *items, int n, const char *path) {
    for (int i = 0; i < n; i++) {
        const npy_array *a = &items[i].arr;
        const ptrdiff_t bad = a->dtype == NPY_F4 ? first_nonfinite(a->data, (size_t)a->count) : -1;
        if (bad < 0) continue;
        char at[96] = "", key[160];
        if (a->ndim > 0) index_desc(at, sizeof at, (size_t)bad, a->ndim, a->shape);
        die_nonfinite("%s: expected finite values to save, found %s in %s%s%s", path,
                      nonfinite_name(((const float *)a->data)[bad]), show_key(key, sizeof key, items[i].key),
                      a->ndim > 0 ? " at " : "", at);
    }
}

static void save_set(const param_set *ps, const char *path, int grads) {
    int with_adam = !grads && ps->step > 0;
    int cap = ps->n * (with_adam ? 3 : 1) + 1, n = 0;
    npz_item *items = xcalloc((size_t)cap, sizeof *items);
    float *host = xmalloc(ps->total * sizeof(float) * (with_adam ? 3 : 1));
    dev_download(ps->device, host, grads ? ps->grad : ps->data, ps->total);
    if (with_adam) {
        dev_download(ps->device, host + ps->total, ps->m, ps->total);
        dev_download(ps->device, host + 2 * ps->total, ps->v, ps->total);
    }
    int64_t step = ps->step;
    const char *prefix[3] = {"", "adam.exp_avg.", "adam.exp_avg_sq."};
    for (int s = 0; s < (with_adam ? 3 : 1); s++)
        for (int i = 0; i < ps->n; i++) {
            const param_info *p = &ps->info[i];
            if (s > 0 && !p->used) continue;   /* PyTorch keeps no state for a parameter without gradient */
            size_t L = strlen(prefix[s]) + strlen(p->key) + 1;
            items[n].key = xmalloc(L);
            snprintf(items[n].key, L, "%s%s", prefix[s], p->key);
            items[n].arr.dtype = NPY_F4;
            items[n].arr.ndim = p->ndim;
            for (int k = 0; k < p->ndim; k++) items[n].arr.shape[k] = p->shape[k];
            items[n].arr.count = (int64_t)p->size;
            items[n].arr.data = host + (size_t)s * ps->total + p->offset;
            n++;
        }
    if (with_adam) {
        items[n].key = xstrdup("adam.step");
        items[n].arr.dtype = NPY_I8;
        items[n].arr.ndim = 0;
        items[n].arr.count = 1;
        items[n].arr.data = &step;
        n++;
    }
    ckpt_refuse_nonfinite(items, n, path);
    char err[512];
    int rc = npz_write(path, items, n, err, sizeof err);
    for (int i = 0; i < n; i++) free(items[i].key);
    free(items);
    free(host);
    if (rc != 0) die_runtime("%s", err);
}

void ckpt_save(const param_set *ps, const char *path) { save_set(ps, path, 0); }
void ckpt_save_grads(const param_set *ps, const char *path) { save_set(ps, path, 1); }
