/* netd.c: NetD and NetC forward, tangent and backward passes (see netd.h). */
#include "models/netd.h"
#include "core/checkpoint.h"
#include "core/common.h"
#include "models/init.h"
#include "models/netg.h"
#include "core/ops.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void netd_build(netd *d, int imsize, int nf, int cond_dim) {
    memset(d, 0, sizeof *d);
    d->imsize = imsize; d->nf = nf; d->cond_dim = cond_dim;
    int ch[16];
    int layers = dfgan_channels(nf, imsize, ch);
    d->nblocks = layers - 1;
    d->blk = xcalloc((size_t)d->nblocks, sizeof *d->blk);
    d->gamma_host = xcalloc((size_t)d->nblocks, sizeof(float));
    param_set *ps = &d->ps;
    d->imgw = params_add(ps, "netD.conv_img.weight", 4, nf, 3, 3, 3);
    d->imgb = params_add(ps, "netD.conv_img.bias", 1, nf, 0, 0, 0);
    for (int i = 0; i < d->nblocks; i++) {
        dblock *b = &d->blk[i];
        b->fin = ch[i]; b->fout = ch[i + 1]; b->learnable = b->fin != b->fout;
        char k[PARAM_KEY_MAX];
        /* state_dict order: the block's own parameter (gamma) first, then its submodules */
        snprintf(k, sizeof k, "netD.DBlocks.%d.gamma", i);           b->gamma = params_add(ps, k, 1, 1, 0, 0, 0);
        snprintf(k, sizeof k, "netD.DBlocks.%d.conv_r.0.weight", i); b->r0w = params_add(ps, k, 4, b->fout, b->fin, 4, 4);
        snprintf(k, sizeof k, "netD.DBlocks.%d.conv_r.2.weight", i); b->r2w = params_add(ps, k, 4, b->fout, b->fout, 3, 3);
        snprintf(k, sizeof k, "netD.DBlocks.%d.conv_s.weight", i);   b->sw = params_add(ps, k, 4, b->fout, b->fin, 1, 1);
        snprintf(k, sizeof k, "netD.DBlocks.%d.conv_s.bias", i);     b->sb = params_add(ps, k, 1, b->fout, 0, 0, 0);
        /* DF-GAN creates conv_s always but uses it only when channels change */
        ps->info[b->sw].used = ps->info[b->sb].used = b->learnable;
    }
    d->c0w = params_add(ps, "netC.joint_conv.0.weight", 4, 2 * nf, 8 * nf + cond_dim, 3, 3);
    d->c2w = params_add(ps, "netC.joint_conv.2.weight", 4, 1, 2 * nf, 4, 4);
}

int netd_infer_err(netd *d, const npz *z, const char *path, char *err, size_t errlen) {
    const npy_array *img = npz_find(z, "netD.conv_img.weight");   /* (nf,3,3,3) */
    const npy_array *c0 = npz_find(z, "netC.joint_conv.0.weight"); /* (2nf, 8nf+S, 3, 3) */
    if (!img || img->ndim != 4)
        return seterr(err, errlen, "%s: expected a D checkpoint with key 'netD.conv_img.weight' (nf,3,3,3), found none", path);
    if (!c0 || c0->ndim != 4)
        return seterr(err, errlen, "%s: expected a D checkpoint with key 'netC.joint_conv.0.weight', found none", path);
    int nblocks = 0;
    for (;; nblocks++) {
        char k[PARAM_KEY_MAX];
        snprintf(k, sizeof k, "netD.DBlocks.%d.conv_r.0.weight", nblocks);
        if (!npz_find(z, k)) break;
    }
    int64_t nf = img->shape[0], cond = c0->shape[1] - 8 * nf, max = NET_MAX_WIDTH;
    if (nblocks < 3 || nblocks > 10 || nf < 1 || cond < 1 || nf > max || cond > max)
        return seterr(err, errlen, "%s: expected a NetD/NetC state_dict, found %d D blocks, nf %" PRId64 ", cond %" PRId64,
                      path, nblocks, nf, cond);
    netd_build(d, 1 << (nblocks + 2), (int)nf, (int)cond);
    return 0;
}

void netd_infer(netd *d, const npz *z, const char *path) {
    char err[4608];
    if (netd_infer_err(d, z, path, err, sizeof err)) die_usage("%s", err);
}

void netd_init_weights(netd *d, uint64_t seed) {
    init_pytorch_default(&d->ps, seed);   /* gammas start at 0, as DF-GAN */
    netd_sync_gamma(d);
}

void netd_new(netd *d, int imsize, int nf, int cond_dim, device_t dev, uint64_t seed) {
    netd_build(d, imsize, nf, cond_dim);
    params_alloc(&d->ps, dev);
    netd_init_weights(d, seed);
}

void netd_load(netd *d, const char *path, device_t dev) {
    npz z;
    ckpt_read(path, &z);
    netd_infer(d, &z, path);
    params_alloc(&d->ps, dev);
    ckpt_load(&d->ps, &z, path);
    npz_free(&z);
    netd_sync_gamma(d);
}

void netd_sync_gamma(netd *d) {
    for (int i = 0; i < d->nblocks; i++)
        dev_download(d->ps.device, &d->gamma_host[i], pdata(&d->ps, d->blk[i].gamma), 1);
}

static void ensure(tensor *t, device_t dev, int64_t a, int64_t b, int64_t c, int64_t e) {
    int64_t s[4] = {a, b, c, e};
    tensor_resize(t, dev, 4, s);
}

static void dacts_alloc(netd *d, dacts *a, int B) {
    if (a->B == B && a->l1) return;
    device_t dev = d->ps.device;
    if (!a->l1) {
        a->l1 = xcalloc((size_t)d->nblocks, sizeof(tensor)); a->l2 = xcalloc((size_t)d->nblocks, sizeof(tensor));
        a->p = xcalloc((size_t)d->nblocks, sizeof(tensor));  a->out = xcalloc((size_t)d->nblocks, sizeof(tensor));
    }
    a->B = B;
    int S = d->imsize;
    ensure(&a->h0, dev, d->nf, B, S, S);
    for (int i = 0; i < d->nblocks; i++) {
        dblock *b = &d->blk[i];
        int H = S >> (i + 1);
        ensure(&a->l1[i], dev, b->fout, B, H, H);
        ensure(&a->l2[i], dev, b->fout, B, H, H);
        ensure(&a->p[i], dev, b->fin, B, H, H);
        ensure(&a->out[i], dev, b->fout, B, H, H);
    }
}
void dacts_free(dacts *a, int nblocks) {
    tensor_free(&a->h0);
    for (int i = 0; a->l1 && i < nblocks; i++) {
        tensor_free(&a->l1[i]); tensor_free(&a->l2[i]); tensor_free(&a->p[i]); tensor_free(&a->out[i]);
    }
    free(a->l1); free(a->l2); free(a->p); free(a->out);
    memset(a, 0, sizeof *a);
}
void cacts_free(cacts *a) { tensor_free(&a->cat); tensor_free(&a->lc); tensor_free(&a->score); a->B = 0; }

static void scratch_alloc(netd *d, int B) {
    if (d->Bs == B) return;
    d->Bs = B;
    int S = d->imsize;
    int64_t big = (int64_t)d->nf * B * S * S;
    for (int i = 0; i < d->nblocks; i++) {
        int H = S >> i;
        int64_t n = (int64_t)d->blk[i].fin * B * H * H;
        if (n > big) big = n;
    }
    device_t dev = d->ps.device;
    ensure(&d->s_t1, dev, big, 1, 1, 1);
    ensure(&d->s_dcat, dev, (int64_t)(8 * d->nf + d->cond_dim) * B * 16, 1, 1, 1);
}

static void dadj_alloc(netd *d, dadj *a, int B) {
    if (a->B == B && a->r1) return;
    device_t dev = d->ps.device;
    if (!a->r1) {
        a->r1 = xcalloc((size_t)d->nblocks, sizeof(tensor)); a->r2 = xcalloc((size_t)d->nblocks, sizeof(tensor));
        a->out = xcalloc((size_t)d->nblocks, sizeof(tensor));
    }
    a->B = B;
    int S = d->imsize;
    ensure(&a->h0, dev, d->nf, B, S, S);
    for (int i = 0; i < d->nblocks; i++) {
        int H = S >> (i + 1);
        ensure(&a->r1[i], dev, d->blk[i].fout, B, H, H);
        ensure(&a->r2[i], dev, d->blk[i].fout, B, H, H);
        ensure(&a->out[i], dev, d->blk[i].fout, B, H, H);
    }
    ensure(&a->c_lc, dev, 2 * d->nf, B, 4, 4);
    ensure(&a->c_score, dev, B, 1, 1, 1);
}
void dadj_free(dadj *a, int nblocks) {
    tensor_free(&a->h0); tensor_free(&a->c_lc); tensor_free(&a->c_score);
    for (int i = 0; a->r1 && i < nblocks; i++) { tensor_free(&a->r1[i]); tensor_free(&a->r2[i]); tensor_free(&a->out[i]); }
    free(a->r1); free(a->r2); free(a->out);
    memset(a, 0, sizeof *a);
}

/* Shared by the forward and the tangent pass: m == NULL is the forward pass (biases, own masks). */
static void netd_pass(netd *d, dacts *a, const dacts *m, const float *x, int B) {
    dacts_alloc(d, a, B);
    param_set *ps = &d->ps;
    device_t dev = ps->device;
    int S = d->imsize, tangent = m != NULL;
    a->x = x;
    OP(dev, conv2d_forward, a->h0.data, x, pdata(ps, d->imgw), tangent ? NULL : pdata(ps, d->imgb), B, 3, S, S, d->nf, 3, 1, 1);
    const float *h = a->h0.data;
    for (int i = 0; i < d->nblocks; i++) {
        dblock *b = &d->blk[i];
        int H = S >> i, Ho = H / 2;
        size_t n = (size_t)b->fout * B * Ho * Ho;
        /* each convolution with its leaky ReLU (the tangent pass: the forward's masks) in one op */
        OP(dev, conv2d_forward_lrelu, a->l1[i].data, h, pdata(ps, b->r0w), NULL, tangent ? m->l1[i].data : NULL,
           LRELU_SLOPE, B, b->fin, H, H, b->fout, 4, 2, 1);
        OP(dev, conv2d_forward_lrelu, a->l2[i].data, a->l1[i].data, pdata(ps, b->r2w), NULL,
           tangent ? m->l2[i].data : NULL, LRELU_SLOPE, B, b->fout, Ho, Ho, b->fout, 3, 1, 1);
        OP(dev, avgpool2x2_forward, a->p[i].data, h, b->fin * B, H, H);
        if (b->learnable)
            OP(dev, conv2d_forward, a->out[i].data, a->p[i].data, pdata(ps, b->sw), tangent ? NULL : pdata(ps, b->sb),
               B, b->fin, Ho, Ho, b->fout, 1, 1, 0);
        else
            dev_copy(dev, a->out[i].data, a->p[i].data, n);
        OP(dev, vec_axpy, a->out[i].data, d->gamma_host[i], a->l2[i].data, n);
        h = a->out[i].data;
    }
}

void netd_forward(netd *d, dacts *a, const float *x, int B) { netd_pass(d, a, NULL, x, B); }
void netd_tangent(netd *d, dacts *t, const dacts *m, const float *ux) { netd_pass(d, t, m, ux, m->B); }

static void add_scalar_grad(param_set *ps, int idx, double v) {
    float g;
    dev_download(ps->device, &g, pgrad(ps, idx), 1);
    g += (float)v;
    dev_upload(ps->device, pgrad(ps, idx), &g, 1);
}

void netd_backward(netd *d, const dacts *w, const dacts *m, const float *dfeat, float *dx,
                   int param_grads, int bias_grads, dadj *keep) {
    int B = m->B;
    dadj *a = keep ? keep : &d->work;
    scratch_alloc(d, B);
    dadj_alloc(d, a, B);
    param_set *ps = &d->ps;
    device_t dev = ps->device;
    int S = d->imsize;
    float *t1 = d->s_t1.data;
#define PG(idx) (param_grads ? pgrad(ps, (idx)) : NULL)
    int L = d->nblocks - 1;
    dev_copy(dev, a->out[L].data, dfeat, (size_t)d->blk[L].fout * B * 16);
    for (int i = L; i >= 0; i--) {
        dblock *b = &d->blk[i];
        int H = S >> i, Ho = H / 2;
        size_t n = (size_t)b->fout * B * Ho * Ho;
        const float *cur = a->out[i].data, *hin_w = i ? w->out[i - 1].data : w->h0.data;
        float *din = i ? a->out[i - 1].data : a->h0.data;       /* the block input's adjoint */
        float *r1 = a->r1[i].data, *r2 = a->r2[i].data;
        /* out = shortcut + gamma·l2 */
        if (param_grads) add_scalar_grad(ps, b->gamma, OPV(dev, vec_dot, cur, w->l2[i].data, n));
        /* r2 = gamma·lrelu'(l2)·cur: masked, then scaled */
        OP(dev, leaky_relu_backward, r2, cur, m->l2[i].data, n, LRELU_SLOPE);
        OP(dev, vec_scale, r2, d->gamma_host[i], n);
        OP(dev, conv2d_backward_lrelu, r1, PG(b->r2w), NULL, r2, w->l1[i].data, pdata(ps, b->r2w), m->l1[i].data,
           LRELU_SLOPE, B, b->fout, Ho, Ho, b->fout, 3, 1, 1);
        OP(dev, conv2d_backward, din, PG(b->r0w), NULL, r1, hin_w, pdata(ps, b->r0w), B, b->fin, H, H, b->fout, 4, 2, 1);
        /* shortcut: t1 = dL/d(pooled input); its unpooled adjoint is added to din */
        const float *dp = cur;
        if (b->learnable) {
            OP(dev, conv2d_backward, t1, PG(b->sw), bias_grads ? PG(b->sb) : NULL, cur, w->p[i].data, pdata(ps, b->sw),
               B, b->fin, Ho, Ho, b->fout, 1, 1, 0);
            dp = t1;
        }
        OP(dev, avgpool2x2_backward_add, din, dp, b->fin * B, H, H);
    }
    OP(dev, conv2d_backward, dx, PG(d->imgw), bias_grads ? PG(d->imgb) : NULL, a->h0.data, w->x, pdata(ps, d->imgw), B, 3, S, S, d->nf, 3, 1, 1);
#undef PG
}

void netd_weight_grads(netd *d, const dadj *a, const dacts *w) {
    int B = a->B, S = d->imsize;
    param_set *ps = &d->ps;
    device_t dev = ps->device;
    for (int i = d->nblocks - 1; i >= 0; i--) {
        dblock *b = &d->blk[i];
        int H = S >> i, Ho = H / 2;
        size_t n = (size_t)b->fout * B * Ho * Ho;
        const float *hin_w = i ? w->out[i - 1].data : w->h0.data;
        add_scalar_grad(ps, b->gamma, OPV(dev, vec_dot, a->out[i].data, w->l2[i].data, n));
        OP(dev, conv2d_backward, NULL, pgrad(ps, b->r2w), NULL, a->r2[i].data, w->l1[i].data, pdata(ps, b->r2w), B, b->fout, Ho, Ho, b->fout, 3, 1, 1);
        OP(dev, conv2d_backward, NULL, pgrad(ps, b->r0w), NULL, a->r1[i].data, hin_w, pdata(ps, b->r0w), B, b->fin, H, H, b->fout, 4, 2, 1);
        if (b->learnable)
            OP(dev, conv2d_backward, NULL, pgrad(ps, b->sw), NULL, a->out[i].data, w->p[i].data, pdata(ps, b->sw), B, b->fin, Ho, Ho, b->fout, 1, 1, 0);
    }
    OP(dev, conv2d_backward, NULL, pgrad(ps, d->imgw), NULL, a->h0.data, w->x, pdata(ps, d->imgw), B, 3, S, S, d->nf, 3, 1, 1);
}

/* ---- NetC ---- */

static void netc_pass(netd *d, cacts *c, const cacts *m, const float *feat, const float *s, int B) {
    device_t dev = d->ps.device;
    int nf8 = 8 * d->nf, C = nf8 + d->cond_dim;
    if (c->B != B) {
        c->B = B;
        ensure(&c->cat, dev, C, B, 4, 4);
        ensure(&c->lc, dev, 2 * d->nf, B, 4, 4);
        ensure(&c->score, dev, B, 1, 1, 1);
    }
    size_t nfeat = (size_t)nf8 * B * 16;
    dev_copy(dev, c->cat.data, feat, nfeat);
    OP(dev, replicate_forward, c->cat.data + nfeat, s, B, d->cond_dim, 16);
    OP(dev, conv2d_forward_lrelu, c->lc.data, c->cat.data, pdata(&d->ps, d->c0w), NULL, m ? m->lc.data : NULL,
       LRELU_SLOPE, B, C, 4, 4, 2 * d->nf, 3, 1, 1);
    OP(dev, conv2d_forward, c->score.data, c->lc.data, pdata(&d->ps, d->c2w), NULL, B, 2 * d->nf, 4, 4, 1, 4, 1, 0);
}

void netc_forward(netd *d, cacts *c, const float *feat, const float *s, int B) { netc_pass(d, c, NULL, feat, s, B); }
void netc_tangent(netd *d, cacts *t, const cacts *m, const float *tfeat, const float *us) { netc_pass(d, t, m, tfeat, us, m->B); }

void netc_backward(netd *d, const cacts *w, const cacts *m, const float *dscore, float *dfeat, float *ds,
                   int param_grads, dadj *keep) {
    int B = m->B;
    dadj *a = keep ? keep : &d->work;
    scratch_alloc(d, B);
    dadj_alloc(d, a, B);
    param_set *ps = &d->ps;
    device_t dev = ps->device;
    int nf8 = 8 * d->nf, C = nf8 + d->cond_dim;
    size_t nfeat = (size_t)nf8 * B * 16;
    float *dlc = a->c_lc.data, *dcat = d->s_dcat.data;
    dev_copy(dev, a->c_score.data, dscore, (size_t)B);
    OP(dev, conv2d_backward_lrelu, dlc, param_grads ? pgrad(ps, d->c2w) : NULL, NULL, dscore, w->lc.data,
       pdata(ps, d->c2w), m->lc.data, LRELU_SLOPE, B, 2 * d->nf, 4, 4, 1, 4, 1, 0);
    OP(dev, conv2d_backward, (dfeat || ds) ? dcat : NULL, param_grads ? pgrad(ps, d->c0w) : NULL, NULL, dlc, w->cat.data,
       pdata(ps, d->c0w), B, C, 4, 4, 2 * d->nf, 3, 1, 1);
    if (dfeat) dev_copy(dev, dfeat, dcat, nfeat);
    if (ds) OP(dev, replicate_backward, ds, dcat + nfeat, B, d->cond_dim, 16);
}

void netc_weight_grads(netd *d, const dadj *a, const cacts *w) {
    int B = a->B, C = 8 * d->nf + d->cond_dim;
    param_set *ps = &d->ps;
    device_t dev = ps->device;
    OP(dev, conv2d_backward, NULL, pgrad(ps, d->c2w), NULL, a->c_score.data, w->lc.data, pdata(ps, d->c2w), B, 2 * d->nf, 4, 4, 1, 4, 1, 0);
    OP(dev, conv2d_backward, NULL, pgrad(ps, d->c0w), NULL, a->c_lc.data, w->cat.data, pdata(ps, d->c0w), B, C, 4, 4, 2 * d->nf, 3, 1, 1);
}

void netd_free(netd *d) {
    tensor_free(&d->s_t1); tensor_free(&d->s_t2); tensor_free(&d->s_dcat);
    dadj_free(&d->work, d->nblocks);
    free(d->blk); free(d->gamma_host);
    params_free(&d->ps);
}
