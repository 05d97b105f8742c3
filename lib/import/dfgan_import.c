/* dfgan_import.c: DF-GAN's state_epoch_N.pth -> G.npz and D.npz (see dfgan_import.h). */
#include "import/dfgan_import.h"
#include "core/atomic_file.h"
#include "core/common.h"
#include "models/netd.h"
#include "models/netg.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    npz_item *items;
    int *borrowed;
    int n, cap;
} itemlist;

static void il_add(itemlist *l, const char *key, const npy_array *a, int borrowed) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->items = xrealloc(l->items, (size_t)l->cap * sizeof *l->items);
        l->borrowed = xrealloc(l->borrowed, (size_t)l->cap * sizeof *l->borrowed);
    }
    l->items[l->n].key = xstrdup(key);
    l->items[l->n].arr = *a;
    l->borrowed[l->n] = borrowed;
    l->n++;
}

static void il_free(itemlist *l) {
    for (int i = 0; i < l->n; i++) {
        free(l->items[i].key);
        if (!l->borrowed[i]) free(l->items[i].arr.data);
    }
    free(l->items);
    free(l->borrowed);
    memset(l, 0, sizeof *l);
}

static pk_obj *need_dict(const pk_obj *d, const char *key, const char *path, const char *where) {
    pk_obj *v = pk_dict_get(d, key);
    if (!v || v->type != PK_DICT)
        die_usage("%s: expected a DF-GAN checkpoint with a dict %s['%s'], found %s", path, where, key,
                  v ? pk_type_name(v) : "none");
    return v;
}

static void read_or_die(const cki_tensor *t, npy_array *a, int *borrowed) {
    char err[600];
    if (cki_tensor_read(t, a, borrowed, err, sizeof err)) die_usage("%s", err);
}

/* A module's state dict into l under prefix ("" or "netD"/"netC"). */
static void load_sd(cki_file *f, const pk_obj *sd, const char *prefix, itemlist *l) {
    char err[600];
    cki_tensor *t;
    int n;
    if (cki_flatten(f, sd, prefix, &t, &n, err, sizeof err)) die_usage("%s", err);
    for (int i = 0; i < n; i++) {
        npy_array a;
        int b;
        read_or_die(&t[i], &a, &b);
        il_add(l, t[i].key, &a, b);
    }
    cki_tensors_free(t, n);
}

static void check_registry(const param_set *ps, const itemlist *l, const char *path, const char *what) {
    for (int i = 0; i < ps->n || i < l->n; i++) {
        if (i >= l->n || i >= ps->n || strcmp(l->items[i].key, ps->info[i].key))
            die_usage("%s: expected %s key %d to be '%s', found %s%s%s", path, what, i,
                      i < ps->n ? ps->info[i].key : "(no more keys)", i < l->n ? "'" : "",
                      i < l->n ? l->items[i].key : "none", i < l->n ? "'" : "");
        const npy_array *a = &l->items[i].arr;
        const param_info *p = &ps->info[i];
        int ok = a->dtype == NPY_F4 && a->ndim == p->ndim;
        for (int d = 0; ok && d < p->ndim; d++) ok = a->shape[d] == p->shape[d];
        if (!ok) {
            char want[64], got[64];
            params_shape_str(p, want, sizeof want);
            npy_format_shape(got, sizeof got, a->ndim, a->shape);
            die_usage("%s: expected '%s' float %s, found %s %s", path, p->key, want, npy_dtype_name(a->dtype), got);
        }
    }
}

static int64_t step_value(cki_file *f, const pk_obj *s, const char *path, const char *where) {
    if (s->type == PK_INT || s->type == PK_BOOL) {
        if (s->u.i < 0) die_usage("%s: expected a non-negative Adam step in %s, found %" PRId64, path, where, s->u.i);
        return s->u.i;
    }
    double v;
    if (s->type == PK_FLOAT) v = s->u.f;
    else if (s->type == PK_TENSOR) {
        cki_tensor t;
        char err[600];
        if (cki_view(f, s, &t, "step", err, sizeof err)) die_usage("%s", err);
        if (cki_count(&t) != 1) die_usage("%s: expected a one-element Adam step in %s, found %" PRId64 " elements", path, where, cki_count(&t));
        npy_array a;
        int b;
        read_or_die(&t, &a, &b);
        switch (a.dtype) {
        case NPY_F4: { float x; memcpy(&x, a.data, 4); v = x; break; }
        case NPY_I8: { int64_t x; memcpy(&x, a.data, 8); v = (double)x; break; }
        case NPY_I4: { int32_t x; memcpy(&x, a.data, 4); v = x; break; }
        default: v = -1; break;
        }
        if (!b) free(a.data);
    } else
        die_usage("%s: expected an int or tensor Adam step in %s, found %s", path, where, pk_type_name(s));
    if (!(v >= 0 && v <= 9.2e18 && v == floor(v)))
        die_usage("%s: expected a whole non-negative Adam step in %s, found %g", path, where, v);
    return (int64_t)v;
}

typedef struct { double lr, b1, b2; int have_lr, have_betas; int64_t step; int nstate; } adam_info;

/* Optimizer state_dict -> adam.* items appended to l (after the parameters). */
static void import_adam(cki_file *f, const pk_obj *opt, const param_set *ps, itemlist *l, const char *path,
                        const char *which, adam_info *info) {
    char where[64];
    snprintf(where, sizeof where, "optimizers['%s']", which);
    const pk_obj *state = need_dict(opt, "state", path, where);
    const pk_obj *groups = pk_dict_get(opt, "param_groups");
    if (!groups || groups->type != PK_LIST)
        die_usage("%s: expected a list %s['param_groups'], found %s", path, where, groups ? pk_type_name(groups) : "none");
    int n = ps->n;
    int64_t *ids = xmalloc((size_t)n * sizeof *ids);
    int np = 0;
    for (size_t g = 0; g < groups->u.seq.n; g++) {
        const pk_obj *grp = groups->u.seq.v[g];
        const pk_obj *params = pk_dict_get(grp, "params");
        if (!params || params->type != PK_LIST)
            die_usage("%s: expected a list of parameter indices in %s['param_groups'][%zu]['params'], found %s", path,
                      where, g, params ? pk_type_name(params) : "none");
        if (g == 0) {
            const pk_obj *lr = pk_dict_get(grp, "lr"), *betas = pk_dict_get(grp, "betas");
            if (lr && lr->type == PK_FLOAT) { info->lr = lr->u.f; info->have_lr = 1; }
            if (betas && betas->type == PK_TUPLE && betas->u.seq.n == 2 && betas->u.seq.v[0]->type == PK_FLOAT &&
                betas->u.seq.v[1]->type == PK_FLOAT) {
                info->b1 = betas->u.seq.v[0]->u.f;
                info->b2 = betas->u.seq.v[1]->u.f;
                info->have_betas = 1;
            }
            const pk_obj *ams = pk_dict_get(grp, "amsgrad");
            if (ams && ams->type == PK_BOOL && ams->u.i)
                die_usage("%s: expected Adam without amsgrad in %s, found amsgrad True", path, where);
        }
        for (size_t i = 0; i < params->u.seq.n; i++) {
            const pk_obj *id = params->u.seq.v[i];
            if (id->type != PK_INT) die_usage("%s: expected int parameter indices in %s, found %s", path, where, pk_type_name(id));
            if (np == n)
                die_usage("%s: expected %d parameters in %s (the model's), found more", path, n, where);
            for (int j = 0; j < np; j++)
                if (ids[j] == id->u.i) die_usage("%s: expected each parameter index once in %s, found %" PRId64 " twice", path, where, id->u.i);
            ids[np++] = id->u.i;
        }
    }
    if (np != n) die_usage("%s: expected %d parameters in %s (the model's), found %d", path, n, where, np);
    npy_array *m = xcalloc((size_t)n, sizeof *m), *v = xcalloc((size_t)n, sizeof *v);
    int *mb = xcalloc((size_t)n, sizeof *mb), *vb = xcalloc((size_t)n, sizeof *vb), *has = xcalloc((size_t)n, sizeof *has);
    if (state->u.dict.n > (size_t)n)
        die_usage("%s: expected state for at most %d parameters in %s, found %zu", path, n, where, state->u.dict.n);
    int64_t step = -1;
    for (size_t s = 0; s < state->u.dict.n; s++) {
        const pk_obj *k = state->u.dict.kv[2 * s], *e = state->u.dict.kv[2 * s + 1];
        if (k->type != PK_INT) die_usage("%s: expected int keys in %s['state'], found %s", path, where, pk_type_name(k));
        int p = -1;
        for (int j = 0; j < n && p < 0; j++)
            if (ids[j] == k->u.i) p = j;
        if (p < 0) die_usage("%s: expected state only for the parameters of %s, found index %" PRId64, path, where, k->u.i);
        if (has[p]) die_usage("%s: expected state once per parameter in %s, found index %" PRId64 " twice", path, where, k->u.i);
        if (e->type != PK_DICT) die_usage("%s: expected a dict of Adam state for '%s' in %s, found %s", path, ps->info[p].key, where, pk_type_name(e));
        if (pk_dict_get(e, "max_exp_avg_sq"))
            die_usage("%s: expected Adam without amsgrad in %s, found max_exp_avg_sq for '%s'", path, where, ps->info[p].key);
        const pk_obj *st = pk_dict_get(e, "step");
        if (!st) die_usage("%s: expected 'step' in the Adam state of '%s' in %s, found none", path, ps->info[p].key, where);
        int64_t sv = step_value(f, st, path, where);
        if (step >= 0 && sv != step)
            die_usage("%s: expected one Adam step count for all parameters in %s, found %" PRId64 " and %" PRId64, path, where, step, sv);
        step = sv;
        const char *names[2] = {"exp_avg", "exp_avg_sq"};
        npy_array *dst[2] = {&m[p], &v[p]};
        int *db[2] = {&mb[p], &vb[p]};
        for (int q = 0; q < 2; q++) {
            const pk_obj *o = pk_dict_get(e, names[q]);
            if (!o || o->type != PK_TENSOR)
                die_usage("%s: expected a tensor '%s' in the Adam state of '%s' in %s, found %s", path, names[q],
                          ps->info[p].key, where, o ? pk_type_name(o) : "none");
            char key[PARAM_KEY_MAX + 32], err[600];
            snprintf(key, sizeof key, "adam.%s.%s", names[q], ps->info[p].key);
            cki_tensor t;
            if (cki_view(f, o, &t, key, err, sizeof err)) die_usage("%s", err);
            read_or_die(&t, dst[q], db[q]);
            const param_info *pi = &ps->info[p];
            int ok = dst[q]->dtype == NPY_F4 && dst[q]->ndim == pi->ndim;
            for (int d = 0; ok && d < pi->ndim; d++) ok = dst[q]->shape[d] == pi->shape[d];
            if (!ok) {
                char want[64], got[64];
                params_shape_str(pi, want, sizeof want);
                npy_format_shape(got, sizeof got, dst[q]->ndim, dst[q]->shape);
                die_usage("%s: expected '%s' float %s, found %s %s", path, key, want, npy_dtype_name(dst[q]->dtype), got);
            }
        }
        has[p] = 1;
        info->nstate++;
    }
    info->step = step < 0 ? 0 : step;
    if (info->nstate && info->step > 0)
        for (int p = 0; p < n; p++)
            if (ps->info[p].used && !has[p])
                die_usage("%s: expected Adam state for every trained parameter in %s (step %" PRId64 "), found none for '%s'",
                          path, where, info->step, ps->info[p].key);
    char key[PARAM_KEY_MAX + 32];
    for (int p = 0; p < n; p++)
        if (has[p]) { snprintf(key, sizeof key, "adam.exp_avg.%s", ps->info[p].key); il_add(l, key, &m[p], mb[p]); }
    for (int p = 0; p < n; p++)
        if (has[p]) { snprintf(key, sizeof key, "adam.exp_avg_sq.%s", ps->info[p].key); il_add(l, key, &v[p], vb[p]); }
    if (info->nstate) {
        int64_t *sv = xmalloc(sizeof *sv);
        *sv = info->step;
        npy_array a = {.dtype = NPY_I8, .ndim = 0, .count = 1, .data = sv};
        il_add(l, "adam.step", &a, 0);
    }
    free(m); free(v); free(mb); free(vb); free(has); free(ids);
}

static void describe(char *buf, size_t n, const adam_info *a) {
    if (!a->nstate) { snprintf(buf, n, "no Adam state"); return; }
    int k = snprintf(buf, n, "Adam step %" PRId64, a->step);
    if (a->have_lr && k > 0 && (size_t)k < n) k += snprintf(buf + k, n - (size_t)k, ", lr %g", a->lr);
    if (a->have_betas && k > 0 && (size_t)k < n) snprintf(buf + k, n - (size_t)k, ", betas (%g, %g)", a->b1, a->b2);
}

void dfgan_import(cki_file *f, const char *dir) {
    const char *path = f->path;
    if (f->format != CKI_TORCH_ZIP && f->format != CKI_TORCH_LEGACY)
        die_usage("%s: expected a PyTorch checkpoint for --dfgan, found a %s file", path, cki_format_name(f->format));
    const pk_obj *root = f->root;
    if (root->type != PK_DICT) die_usage("%s: expected a DF-GAN checkpoint (a dict with 'model'), found %s", path, pk_type_name(root));
    const pk_obj *model = need_dict(root, "model", path, "checkpoint");
    const pk_obj *sg = need_dict(model, "netG", path, "['model']"), *sd = need_dict(model, "netD", path, "['model']"),
                 *sc = need_dict(model, "netC", path, "['model']");
    itemlist G = {0}, D = {0};
    load_sd(f, sg, "", &G);
    load_sd(f, sd, "netD", &D);
    load_sd(f, sc, "netC", &D);
    npz zg = {G.n, G.items}, zd = {D.n, D.items};
    netg g;
    netd d;
    memset(&g, 0, sizeof g);
    memset(&d, 0, sizeof d);
    netg_infer(&g, &zg, path);
    netd_infer(&d, &zd, path);
    check_registry(&g.ps, &G, path, "NetG");
    check_registry(&d.ps, &D, path, "NetD/NetC");
    adam_info ag = {0}, ad = {0};
    const pk_obj *opts = pk_dict_get(root, "optimizers");
    if (opts) {
        if (opts->type != PK_DICT) die_usage("%s: expected a dict checkpoint['optimizers'], found %s", path, pk_type_name(opts));
        import_adam(f, need_dict(opts, "optimizer_G", path, "['optimizers']"), &g.ps, &G, path, "optimizer_G", &ag);
        import_adam(f, need_dict(opts, "optimizer_D", path, "['optimizers']"), &d.ps, &D, path, "optimizer_D", &ad);
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        die_usage("expected a folder to write G.npz and D.npz into, found '%s': %s", dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        die_usage("expected a folder to write G.npz and D.npz into, found '%s': %s", dir, strerror(ENOTDIR));
    size_t L = strlen(dir) + 8;
    char *pg = xmalloc(L), *pd = xmalloc(L), err[600];
    snprintf(pg, L, "%s/G.npz", dir);
    snprintf(pd, L, "%s/D.npz", dir);
    if (npz_write(pg, G.items, G.n, err, sizeof err)) die_runtime("%s", err);
    if (npz_write(pd, D.items, D.n, err, sizeof err)) die_runtime("%s", err);
    char a1[128], a2[128], ep[48] = "";
    describe(a1, sizeof a1, &ag);
    describe(a2, sizeof a2, &ad);
    const pk_obj *epoch = pk_dict_get(root, "epoch");
    if (epoch && epoch->type == PK_INT) snprintf(ep, sizeof ep, "epoch %" PRId64 ": ", epoch->u.i);
    warnx("%s%s: NetG imsize %d nf %d z %d cond %d, %s; %s: NetD/NetC, %s", ep, pg, g.imsize, g.nf, g.z_dim, g.cond_dim,
          a1, pd, a2);
    free(pg);
    free(pd);
    il_free(&G);
    il_free(&D);
    netg_free(&g);
    netd_free(&d);
}
