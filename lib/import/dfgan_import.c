/* dfgan_import.c: DF-GAN's state_epoch_N.pth -> G.npz and D.npz (see dfgan_import.h). The
 * reading helpers return 0, or -1 with the message in r->err (and own nothing then). */
#include "import/dfgan_import.h"
#include "core/atomic_file.h"
#include "core/common.h"
#include "core/checkpoint.h"
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
    cki_file *f;
    const char *path;
    char *err;
    size_t errlen;
} reader;

static void il_add(dfgan_items *l, const char *key, const npy_array *a, int borrowed) {
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

static void il_free(dfgan_items *l) {
    for (int i = 0; i < l->n; i++) {
        free(l->items[i].key);
        if (!l->borrowed[i]) free(l->items[i].arr.data);
    }
    free(l->items);
    free(l->borrowed);
    memset(l, 0, sizeof *l);
}

void dfgan_ckpt_free(dfgan_ckpt *c) {
    il_free(&c->G);
    il_free(&c->D);
    memset(c, 0, sizeof *c);
}

/* d[key] when it is a dict; NULL with a message otherwise. */
static const pk_obj *need_dict(reader *r, const pk_obj *d, const char *key, const char *where) {
    const pk_obj *v = pk_dict_get(d, key);
    if (v && v->type == PK_DICT) return v;
    seterr(r->err, r->errlen, "%s: expected a DF-GAN checkpoint with a dict %s['%s'], found %s", r->path, where, key,
           v ? pk_type_name(v) : "none");
    return NULL;
}

/* A module's state dict into l under prefix ("" or "netD"/"netC"). */
static int load_sd(reader *r, const pk_obj *sd, const char *prefix, dfgan_items *l) {
    cki_tensor *t;
    int n;
    if (cki_flatten(r->f, sd, prefix, &t, &n, r->err, r->errlen)) return -1;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        npy_array a;
        int b;
        rc = cki_tensor_read(&t[i], &a, &b, r->err, r->errlen);
        if (!rc) il_add(l, t[i].key, &a, b);
    }
    cki_tensors_free(t, n);
    return rc;
}

static int check_registry(reader *r, const param_set *ps, const dfgan_items *l, const char *what) {
    for (int i = 0; i < ps->n || i < l->n; i++) {
        if (i >= l->n || i >= ps->n || strcmp(l->items[i].key, ps->info[i].key)) {
            char k[160];
            return seterr(r->err, r->errlen, "%s: expected %s key %d to be '%s', found %s%s%s", r->path, what, i,
                          i < ps->n ? ps->info[i].key : "(no more keys)", i < l->n ? "'" : "",
                          i < l->n ? show_key(k, sizeof k, l->items[i].key) : "none", i < l->n ? "'" : "");
        }
        const npy_array *a = &l->items[i].arr;
        const param_info *p = &ps->info[i];
        int ok = a->dtype == NPY_F4 && a->ndim == p->ndim;
        for (int d = 0; ok && d < p->ndim; d++) ok = a->shape[d] == p->shape[d];
        if (!ok) {
            char want[64], got[32 * NPY_MAX_DIMS + 8];
            params_shape_str(p, want, sizeof want);
            npy_format_shape(got, sizeof got, a->ndim, a->shape);
            return seterr(r->err, r->errlen, "%s: expected '%s' float %s, found %s %s", r->path, p->key, want,
                          npy_dtype_name(a->dtype), got);
        }
    }
    return 0;
}

/* An Adam state's 'step' (an int, a float or a one-element tensor) into *out. */
static int step_value(reader *r, const pk_obj *s, const char *where, int64_t *out) {
    const char *path = r->path;
    if (s->type == PK_INT || s->type == PK_BOOL) {
        if (s->u.i < 0)
            return seterr(r->err, r->errlen, "%s: expected a non-negative Adam step in %s, found %" PRId64, path, where, s->u.i);
        *out = s->u.i;
        return 0;
    }
    double v;
    if (s->type == PK_FLOAT) v = s->u.f;
    else if (s->type == PK_TENSOR) {
        cki_tensor t;
        if (cki_view(r->f, s, &t, "step", r->err, r->errlen)) return -1;
        if (cki_count(&t) != 1)
            return seterr(r->err, r->errlen, "%s: expected a one-element Adam step in %s, found %" PRId64 " elements", path,
                          where, cki_count(&t));
        npy_array a;
        int b;
        if (cki_tensor_read(&t, &a, &b, r->err, r->errlen)) return -1;
        switch (a.dtype) {
        case NPY_F4: { float x; memcpy(&x, a.data, 4); v = x; break; }
        case NPY_I8: { int64_t x; memcpy(&x, a.data, 8); v = (double)x; break; }
        case NPY_I4: { int32_t x; memcpy(&x, a.data, 4); v = x; break; }
        default: v = -1; break;
        }
        if (!b) free(a.data);
    } else
        return seterr(r->err, r->errlen, "%s: expected an int or tensor Adam step in %s, found %s", path, where,
                      pk_type_name(s));
    if (!(v >= 0 && v <= 9.2e18 && v == floor(v)))
        return seterr(r->err, r->errlen, "%s: expected a whole non-negative Adam step in %s, found %g", path, where, v);
    *out = (int64_t)v;
    return 0;
}

/* Optimizer state_dict -> adam.* items appended to l (after the parameters). */
static int import_adam(reader *r, const pk_obj *opt, const param_set *ps, dfgan_items *l, const char *which,
                       dfgan_adam *info) {
    const char *path = r->path;
    char where[64];
    snprintf(where, sizeof where, "optimizers['%s']", which);
    const pk_obj *state = need_dict(r, opt, "state", where);
    if (!state) return -1;
    const pk_obj *groups = pk_dict_get(opt, "param_groups");
    if (!groups || groups->type != PK_LIST)
        return seterr(r->err, r->errlen, "%s: expected a list %s['param_groups'], found %s", path, where,
                      groups ? pk_type_name(groups) : "none");
    int n = ps->n, np = 0, rc = -1;
    int64_t *ids = xmalloc((size_t)n * sizeof *ids);
    /* exp_avg and exp_avg_sq per parameter (data malloc'd unless mb/vb), has: state seen */
    npy_array *m = xcalloc((size_t)n, sizeof *m), *v = xcalloc((size_t)n, sizeof *v);
    int *mb = xcalloc((size_t)n, sizeof *mb), *vb = xcalloc((size_t)n, sizeof *vb), *has = xcalloc((size_t)n, sizeof *has);
    for (size_t g = 0; g < groups->u.seq.n; g++) {
        const pk_obj *grp = groups->u.seq.v[g];
        const pk_obj *params = pk_dict_get(grp, "params");
        if (!params || params->type != PK_LIST) {
            seterr(r->err, r->errlen, "%s: expected a list of parameter indices in %s['param_groups'][%zu]['params'], found %s",
                   path, where, g, params ? pk_type_name(params) : "none");
            goto out;
        }
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
            if (ams && ams->type == PK_BOOL && ams->u.i) {
                seterr(r->err, r->errlen, "%s: expected Adam without amsgrad in %s, found amsgrad True", path, where);
                goto out;
            }
        }
        for (size_t i = 0; i < params->u.seq.n; i++) {
            const pk_obj *id = params->u.seq.v[i];
            if (id->type != PK_INT) {
                seterr(r->err, r->errlen, "%s: expected int parameter indices in %s, found %s", path, where, pk_type_name(id));
                goto out;
            }
            if (np == n) {
                seterr(r->err, r->errlen, "%s: expected %d parameters in %s (the model's), found more", path, n, where);
                goto out;
            }
            for (int j = 0; j < np; j++)
                if (ids[j] == id->u.i) {
                    seterr(r->err, r->errlen, "%s: expected each parameter index once in %s, found %" PRId64 " twice", path,
                           where, id->u.i);
                    goto out;
                }
            ids[np++] = id->u.i;
        }
    }
    if (np != n) {
        seterr(r->err, r->errlen, "%s: expected %d parameters in %s (the model's), found %d", path, n, where, np);
        goto out;
    }
    if (state->u.dict.n > (size_t)n) {
        seterr(r->err, r->errlen, "%s: expected state for at most %d parameters in %s, found %zu", path, n, where,
               state->u.dict.n);
        goto out;
    }
    int64_t step = -1;
    for (size_t s = 0; s < state->u.dict.n; s++) {
        const pk_obj *k = state->u.dict.kv[2 * s], *e = state->u.dict.kv[2 * s + 1];
        if (k->type != PK_INT) {
            seterr(r->err, r->errlen, "%s: expected int keys in %s['state'], found %s", path, where, pk_type_name(k));
            goto out;
        }
        int p = -1;
        for (int j = 0; j < n && p < 0; j++)
            if (ids[j] == k->u.i) p = j;
        if (p < 0) {
            seterr(r->err, r->errlen, "%s: expected state only for the parameters of %s, found index %" PRId64, path, where,
                   k->u.i);
            goto out;
        }
        const char *pkey = ps->info[p].key;
        if (has[p]) {
            seterr(r->err, r->errlen, "%s: expected state once per parameter in %s, found index %" PRId64 " twice", path,
                   where, k->u.i);
            goto out;
        }
        if (e->type != PK_DICT) {
            seterr(r->err, r->errlen, "%s: expected a dict of Adam state for '%s' in %s, found %s", path, pkey, where,
                   pk_type_name(e));
            goto out;
        }
        if (pk_dict_get(e, "max_exp_avg_sq")) {
            seterr(r->err, r->errlen, "%s: expected Adam without amsgrad in %s, found max_exp_avg_sq for '%s'", path, where,
                   pkey);
            goto out;
        }
        const pk_obj *st = pk_dict_get(e, "step");
        if (!st) {
            seterr(r->err, r->errlen, "%s: expected 'step' in the Adam state of '%s' in %s, found none", path, pkey, where);
            goto out;
        }
        int64_t sv = 0;
        if (step_value(r, st, where, &sv)) goto out;
        if (step >= 0 && sv != step) {
            seterr(r->err, r->errlen, "%s: expected one Adam step count for all parameters in %s, found %" PRId64 " and %"
                   PRId64, path, where, step, sv);
            goto out;
        }
        step = sv;
        const char *names[2] = {"exp_avg", "exp_avg_sq"};
        npy_array *dst[2] = {&m[p], &v[p]};
        int *db[2] = {&mb[p], &vb[p]};
        for (int q = 0; q < 2; q++) {
            const pk_obj *o = pk_dict_get(e, names[q]);
            if (!o || o->type != PK_TENSOR) {
                seterr(r->err, r->errlen, "%s: expected a tensor '%s' in the Adam state of '%s' in %s, found %s", path,
                       names[q], pkey, where, o ? pk_type_name(o) : "none");
                goto out;
            }
            char key[PARAM_KEY_MAX + 32];
            snprintf(key, sizeof key, "adam.%s.%s", names[q], pkey);
            cki_tensor t;
            if (cki_view(r->f, o, &t, key, r->err, r->errlen) || cki_tensor_read(&t, dst[q], db[q], r->err, r->errlen))
                goto out;
            const param_info *pi = &ps->info[p];
            int ok = dst[q]->dtype == NPY_F4 && dst[q]->ndim == pi->ndim;
            for (int d = 0; ok && d < pi->ndim; d++) ok = dst[q]->shape[d] == pi->shape[d];
            if (!ok) {
                char want[64], got[32 * NPY_MAX_DIMS + 8];
                params_shape_str(pi, want, sizeof want);
                npy_format_shape(got, sizeof got, dst[q]->ndim, dst[q]->shape);
                seterr(r->err, r->errlen, "%s: expected '%s' float %s, found %s %s", path, key, want,
                       npy_dtype_name(dst[q]->dtype), got);
                goto out;
            }
        }
        has[p] = 1;
        info->nstate++;
    }
    info->step = step < 0 ? 0 : step;
    if (info->nstate && info->step > 0)
        for (int p = 0; p < n; p++)
            if (ps->info[p].used && !has[p]) {
                seterr(r->err, r->errlen, "%s: expected Adam state for every trained parameter in %s (step %" PRId64 "), "
                       "found none for '%s'", path, where, info->step, ps->info[p].key);
                goto out;
            }
    /* checked: the arrays move into l */
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
    rc = 0;
out:
    if (rc)
        for (int p = 0; p < n; p++) {
            if (!mb[p]) free(m[p].data);
            if (!vb[p]) free(v[p].data);
        }
    free(m); free(v); free(mb); free(vb); free(has); free(ids);
    return rc;
}

static int read_ckpt(reader *r, dfgan_ckpt *c, netg *g, netd *d) {
    const cki_file *f = r->f;
    const char *path = r->path;
    if (f->format != CKI_TORCH_ZIP && f->format != CKI_TORCH_LEGACY)
        return seterr(r->err, r->errlen, "%s: expected a PyTorch checkpoint for --dfgan, found a %s file", path,
                      cki_format_name(f->format));
    const pk_obj *root = f->root;
    if (root->type != PK_DICT)
        return seterr(r->err, r->errlen, "%s: expected a DF-GAN checkpoint (a dict with 'model'), found %s", path,
                      pk_type_name(root));
    const pk_obj *model, *sg, *sd, *sc;
    if (!(model = need_dict(r, root, "model", "checkpoint")) || !(sg = need_dict(r, model, "netG", "['model']")) ||
        !(sd = need_dict(r, model, "netD", "['model']")) || !(sc = need_dict(r, model, "netC", "['model']")))
        return -1;
    if (load_sd(r, sg, "", &c->G) || load_sd(r, sd, "netD", &c->D) || load_sd(r, sc, "netC", &c->D)) return -1;
    npz zg = {c->G.n, c->G.items}, zd = {c->D.n, c->D.items};
    if (netg_infer_err(g, &zg, path, r->err, r->errlen) || netd_infer_err(d, &zd, path, r->err, r->errlen) ||
        check_registry(r, &g->ps, &c->G, "NetG") || check_registry(r, &d->ps, &c->D, "NetD/NetC"))
        return -1;
    c->imsize = g->imsize;
    c->nf = g->nf;
    c->z_dim = g->z_dim;
    c->cond_dim = g->cond_dim;
    const pk_obj *opts = pk_dict_get(root, "optimizers");
    if (opts) {
        if (opts->type != PK_DICT)
            return seterr(r->err, r->errlen, "%s: expected a dict checkpoint['optimizers'], found %s", path,
                          pk_type_name(opts));
        const pk_obj *og, *od;
        if (!(og = need_dict(r, opts, "optimizer_G", "['optimizers']")) ||
            import_adam(r, og, &g->ps, &c->G, "optimizer_G", &c->adam_g) ||
            !(od = need_dict(r, opts, "optimizer_D", "['optimizers']")) ||
            import_adam(r, od, &d->ps, &c->D, "optimizer_D", &c->adam_d))
            return -1;
    }
    const pk_obj *epoch = pk_dict_get(root, "epoch");
    if (epoch && epoch->type == PK_INT) { c->epoch = epoch->u.i; c->have_epoch = 1; }
    return 0;
}

int dfgan_import(cki_file *f, dfgan_ckpt *c, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    reader r = {f, f->path, err, errlen};
    netg g;
    netd d;
    memset(&g, 0, sizeof g);
    memset(&d, 0, sizeof d);
    int rc = read_ckpt(&r, c, &g, &d);
    netg_free(&g);
    netd_free(&d);
    if (rc) dfgan_ckpt_free(c);
    return rc;
}

static void describe(char *buf, size_t n, const dfgan_adam *a) {
    if (!a->nstate) { snprintf(buf, n, "no Adam state"); return; }
    int k = snprintf(buf, n, "Adam step %" PRId64, a->step);
    if (a->have_lr && k > 0 && (size_t)k < n) k += snprintf(buf + k, n - (size_t)k, ", lr %g", a->lr);
    if (a->have_betas && k > 0 && (size_t)k < n) snprintf(buf + k, n - (size_t)k, ", betas (%g, %g)", a->b1, a->b2);
}

void dfgan_save(const dfgan_ckpt *c, const char *dir, int allow_nonfinite) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        die_usage("expected a folder to write G.npz and D.npz into, found '%s': %s", dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        die_usage("expected a folder to write G.npz and D.npz into, found '%s': %s", dir, strerror(ENOTDIR));
    size_t L = strlen(dir) + 8;
    char *pg = xmalloc(L), *pd = xmalloc(L), err[600];
    snprintf(pg, L, "%s/G.npz", dir);
    snprintf(pd, L, "%s/D.npz", dir);
    if (!allow_nonfinite) {                            /* checkpoints: never one with a NaN or Inf */
        ckpt_refuse_nonfinite(c->G.items, c->G.n, pg);
        ckpt_refuse_nonfinite(c->D.items, c->D.n, pd);
    }
    if (npz_write(pg, c->G.items, c->G.n, err, sizeof err)) die_runtime("%s", err);
    if (npz_write(pd, c->D.items, c->D.n, err, sizeof err)) die_runtime("%s", err);
    char a1[128], a2[128], ep[48] = "";
    describe(a1, sizeof a1, &c->adam_g);
    describe(a2, sizeof a2, &c->adam_d);
    if (c->have_epoch) snprintf(ep, sizeof ep, "epoch %" PRId64 ": ", c->epoch);
    warnx("%s%s: NetG imsize %d nf %d z %d cond %d, %s; %s: NetD/NetC, %s", ep, pg, c->imsize, c->nf, c->z_dim,
          c->cond_dim, a1, pd, a2);
    free(pg);
    free(pd);
}
