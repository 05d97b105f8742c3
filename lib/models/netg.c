/* netg.c: DF-GAN's NetG forward and backward on channel-major activations (see netg.h). */
#include "models/netg.h"
#include "core/checkpoint.h"
#include "core/common.h"
#include "models/init.h"
#include "core/ops.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dfgan_channels(int nf, int imsize, int *ch) {
    int layers = 0;
    while ((2 << layers) <= imsize) layers++;         /* layers = log2(imsize) */
    layers -= 1;                                      /* int(log2(imsize)) − 1 */
    for (int i = 0; i < layers; i++) ch[i] = nf * ((1 << i) < 8 ? (1 << i) : 8);
    return layers;
}

static int add_linear(param_set *ps, const char *prefix, int in, int out, int *b) {
    char k[PARAM_KEY_MAX + 16];
    snprintf(k, sizeof k, "%s.weight", prefix);
    int w = params_add(ps, k, 2, out, in, 0, 0);
    snprintf(k, sizeof k, "%s.bias", prefix);
    *b = params_add(ps, k, 1, out, 0, 0, 0);
    return w;
}
static int add_conv(param_set *ps, const char *prefix, int in, int out, int k, int *b) {
    char key[PARAM_KEY_MAX + 16];
    snprintf(key, sizeof key, "%s.weight", prefix);
    int w = params_add(ps, key, 4, out, in, k, k);
    if (b) { snprintf(key, sizeof key, "%s.bias", prefix); *b = params_add(ps, key, 1, out, 0, 0, 0); }
    return w;
}

void netg_build(netg *g, int imsize, int nf, int z_dim, int cond_dim) {
    memset(g, 0, sizeof *g);
    g->imsize = imsize; g->nf = nf; g->z_dim = z_dim; g->cond_dim = cond_dim;
    int ch[16];
    int layers = dfgan_channels(nf, imsize, ch);
    g->nblocks = layers - 1;
    g->blk = xcalloc((size_t)g->nblocks, sizeof *g->blk);
    param_set *ps = &g->ps;
    g->fcw = add_linear(ps, "fc", z_dim, nf * 8 * 16, &g->fcb);
    int cdim = z_dim + cond_dim;
    static const char *fuse[2] = {"fuse1", "fuse2"}, *kind[2] = {"fc_gamma", "fc_beta"};
    for (int i = 0; i < g->nblocks; i++) {
        gblock *b = &g->blk[i];
        b->in_ch = ch[layers - 1 - i]; b->out_ch = ch[layers - 2 - i];
        b->learnable_sc = b->in_ch != b->out_ch;
        char pre[PARAM_KEY_MAX];
        snprintf(pre, sizeof pre, "GBlocks.%d.c1", i); b->c1w = add_conv(ps, pre, b->in_ch, b->out_ch, 3, &b->c1b);
        snprintf(pre, sizeof pre, "GBlocks.%d.c2", i); b->c2w = add_conv(ps, pre, b->out_ch, b->out_ch, 3, &b->c2b);
        for (int f = 0; f < 2; f++) {
            int c = f == 0 ? b->in_ch : b->out_ch;
            for (int a = 0; a < 2; a++)
                for (int gk = 0; gk < 2; gk++) {
                    mlp_idx *m = &b->mlp[f][a][gk];
                    snprintf(pre, sizeof pre, "GBlocks.%d.%s.affine%d.%s.linear1", i, fuse[f], a, kind[gk]);
                    m->l1w = add_linear(ps, pre, cdim, c, &m->l1b);
                    snprintf(pre, sizeof pre, "GBlocks.%d.%s.affine%d.%s.linear2", i, fuse[f], a, kind[gk]);
                    m->l2w = add_linear(ps, pre, c, c, &m->l2b);
                }
        }
        if (b->learnable_sc) {
            snprintf(pre, sizeof pre, "GBlocks.%d.c_sc", i);
            b->scw = add_conv(ps, pre, b->in_ch, b->out_ch, 1, &b->scb);
        } else b->scw = b->scb = -1;
    }
    g->rgbw = add_conv(ps, "to_rgb.1", nf, 3, 3, &g->rgbb);
}

/* Shape of key in z, or NULL with a message naming it. */
static const npy_array *need(const npz *z, const char *path, const char *key, int ndim, char *err, size_t errlen) {
    const npy_array *a = npz_find(z, key);
    if (!a) seterr(err, errlen, "%s: expected a NetG state_dict with key '%s', found none", path, key);
    else if (a->ndim != ndim) seterr(err, errlen, "%s: expected '%s' with %d dimensions, found %d", path, key, ndim, a->ndim);
    else return a;
    return NULL;
}

int netg_infer_err(netg *g, const npz *z, const char *path, char *err, size_t errlen) {
    const npy_array *rgb, *fc, *l1;
    if (!(rgb = need(z, path, "to_rgb.1.weight", 4, err, errlen)) ||       /* (3, nf, 3, 3) */
        !(fc = need(z, path, "fc.weight", 2, err, errlen)) ||              /* (8nf·16, Z) */
        !(l1 = need(z, path, "GBlocks.0.fuse1.affine0.fc_gamma.linear1.weight", 2, err, errlen))) /* (C, Z+S) */
        return -1;
    int nblocks = 0;
    for (;; nblocks++) {
        char k[PARAM_KEY_MAX];
        snprintf(k, sizeof k, "GBlocks.%d.c1.weight", nblocks);
        if (!npz_find(z, k)) break;
    }
    int64_t nf = rgb->shape[1], zdim = fc->shape[1], cond = l1->shape[1] - fc->shape[1], max = NET_MAX_WIDTH;
    if (nblocks < 3 || nblocks > 10 || nf < 1 || zdim < 1 || cond < 1 || nf > max || zdim > max || cond > max)
        return seterr(err, errlen, "%s: expected a NetG state_dict (G blocks, nf, z and cond sizes), found %d blocks, nf %"
                      PRId64 ", z %" PRId64 ", cond %" PRId64, path, nblocks, nf, zdim, cond);
    netg_build(g, 1 << (nblocks + 2), (int)nf, (int)zdim, (int)cond);
    return 0;
}

void netg_infer(netg *g, const npz *z, const char *path) {
    char err[4608];
    if (netg_infer_err(g, z, path, err, sizeof err)) die_usage("%s", err);
}

void netg_init_weights(netg *g, uint64_t seed) {
    param_set *ps = &g->ps;
    init_pytorch_default(ps, seed);
    for (int i = 0; i < g->nblocks; i++)
        for (int f = 0; f < 2; f++)
            for (int a = 0; a < 2; a++) {
                /* DF-GAN's Affine._initialize: gamma linear2 weight 0, bias 1; beta linear2 0, 0 */
                mlp_idx *gm = &g->blk[i].mlp[f][a][0], *bm = &g->blk[i].mlp[f][a][1];
                init_fill(ps, gm->l2w, 0.0f); init_fill(ps, gm->l2b, 1.0f);
                init_fill(ps, bm->l2w, 0.0f); init_fill(ps, bm->l2b, 0.0f);
            }
}

void netg_new(netg *g, int imsize, int nf, int z_dim, int cond_dim, device_t dev, uint64_t seed) {
    netg_build(g, imsize, nf, z_dim, cond_dim);
    params_alloc(&g->ps, dev);
    netg_init_weights(g, seed);
}

void netg_load(netg *g, const char *path, device_t dev) {
    npz z;
    ckpt_read(path, &z);
    netg_infer(g, &z, path);
    params_alloc(&g->ps, dev);
    ckpt_load(&g->ps, &z, path);
    npz_free(&z);
}

/* ---- activations ---- */

static void ensure(tensor *t, device_t dev, int64_t a, int64_t b, int64_t c, int64_t d) {
    int64_t s[4] = {a, b, c, d};
    tensor_resize(t, dev, 4, s);
}

static void alloc_acts(netg *g, int B) {
    if (g->B == B) return;
    g->B = B;
    device_t dev = g->ps.device;
    int nf8 = 8 * g->nf, cd = g->z_dim + g->cond_dim;
    ensure(&g->noise, dev, B, g->z_dim, 1, 1);
    ensure(&g->cond, dev, B, cd, 1, 1);
    ensure(&g->fc_out, dev, B, nf8 * 16, 1, 1);
    ensure(&g->x0, dev, nf8, B, 4, 4);
    int64_t big = 0, bigc = 0;
    for (int i = 0; i < g->nblocks; i++) {
        gblock *b = &g->blk[i];
        int S = 8 << i;
        ensure(&b->xu, dev, b->in_ch, B, S, S);
        ensure(&b->l0, dev, b->in_ch, B, S, S);
        ensure(&b->l1, dev, b->in_ch, B, S, S);
        ensure(&b->h, dev, b->out_ch, B, S, S);
        ensure(&b->l2, dev, b->out_ch, B, S, S);
        ensure(&b->l3, dev, b->out_ch, B, S, S);
        ensure(&b->out, dev, b->out_ch, B, S, S);
        for (int f = 0; f < 2; f++)
            for (int a = 0; a < 2; a++)
                for (int k = 0; k < 2; k++) {
                    int c = f == 0 ? b->in_ch : b->out_ch;
                    ensure(&b->hid[f][a][k], dev, B, c, 1, 1);
                    ensure(&b->gb[f][a][k], dev, B, c, 1, 1);
                    if ((int64_t)B * c > bigc) bigc = (int64_t)B * c;
                }
        int64_t n = (int64_t)(b->in_ch > b->out_ch ? b->in_ch : b->out_ch) * B * S * S;
        if (n > big) big = n;
    }
    int S = g->imsize;
    if ((int64_t)3 * B * S * S > big) big = (int64_t)3 * B * S * S;   /* to_rgb's gradient when nf < 3 */
    ensure(&g->lf, dev, g->nf, B, S, S);
    ensure(&g->img, dev, 3, B, S, S);
    if ((int64_t)nf8 * B * 16 > big) big = (int64_t)nf8 * B * 16;
    ensure(&g->g_a, dev, big, 1, 1, 1);
    ensure(&g->g_b, dev, big, 1, 1, 1);
    ensure(&g->g_c, dev, big, 1, 1, 1);
    ensure(&g->g_mlp, dev, bigc, 1, 1, 1);
    ensure(&g->g_d, dev, big, 1, 1, 1);
    ensure(&g->g_mlp2, dev, bigc, 1, 1, 1);
    ensure(&g->g_mlp3, dev, bigc, 1, 1, 1);
}

/* ---- Affine's MLPs: out (B,C) = linear2(relu(linear1(cond))) ---- */

static void mlp_forward(netg *g, const mlp_idx *m, tensor *hid, tensor *out, int C) {
    param_set *ps = &g->ps;
    device_t dev = ps->device;
    int B = g->B, cd = g->z_dim + g->cond_dim;
    OP(dev, linear_forward, hid->data, g->cond.data, pdata(ps, m->l1w), pdata(ps, m->l1b), B, cd, C);
    OP(dev, relu_forward, hid->data, hid->data, (size_t)B * C);
    OP(dev, linear_forward, out->data, hid->data, pdata(ps, m->l2w), pdata(ps, m->l2b), B, C, C);
}
/* dout (B,C) -> parameter grads (the condition is an input: its gradient is not needed) */
static void mlp_backward(netg *g, const mlp_idx *m, const tensor *hid, const float *dout, int C) {
    param_set *ps = &g->ps;
    device_t dev = ps->device;
    int B = g->B, cd = g->z_dim + g->cond_dim;
    float *dhid = g->g_mlp3.data;
    OP(dev, linear_backward, dhid, pgrad(ps, m->l2w), pgrad(ps, m->l2b), dout, hid->data, pdata(ps, m->l2w), B, C, C);
    OP(dev, relu_backward, dhid, dhid, hid->data, (size_t)B * C);
    OP(dev, linear_backward, NULL, pgrad(ps, m->l1w), pgrad(ps, m->l1b), dhid, g->cond.data, pdata(ps, m->l1w), B, cd, C);
}

/* ---- DFBLK: x (C,B,HW) -> a = lrelu(affine0(x)) -> y = lrelu(affine1(a)) ---- */

static void dfblk_forward(netg *g, gblock *b, int f, const tensor *x, tensor *a, tensor *y, int C, int HW) {
    device_t dev = g->ps.device;
    int B = g->B;
    const tensor *in = x;
    tensor *outs[2] = {a, y};
    for (int k = 0; k < 2; k++) {
        mlp_forward(g, &b->mlp[f][k][0], &b->hid[f][k][0], &b->gb[f][k][0], C);
        mlp_forward(g, &b->mlp[f][k][1], &b->hid[f][k][1], &b->gb[f][k][1], C);
        OP(dev, affine_lrelu_forward, outs[k]->data, in->data, b->gb[f][k][0].data, b->gb[f][k][1].data, C, B, HW,
           LRELU_SLOPE);
        in = outs[k];
    }
}
/* dy (C,B,HW) is read; dx (C,B,HW) assigned; tmp a third buffer of the same size */
static void dfblk_backward(netg *g, gblock *b, int f, const tensor *x, const tensor *a, const tensor *y,
                           const float *dy, float *dx, float *tmp, int C, int HW) {
    device_t dev = g->ps.device;
    int B = g->B;
    float *dgam = g->g_mlp.data, *dbet = g->g_mlp2.data;
    /* affine1: y = lrelu(gamma1·a + beta1); tmp = dL/da (the activation's gradient fused in) */
    OP(dev, affine_lrelu_backward, tmp, dgam, dbet, dy, a->data, y->data, b->gb[f][1][0].data, C, B, HW, LRELU_SLOPE);
    mlp_backward(g, &b->mlp[f][1][0], &b->hid[f][1][0], dgam, C);
    mlp_backward(g, &b->mlp[f][1][1], &b->hid[f][1][1], dbet, C);
    /* affine0: a = lrelu(gamma0·x + beta0); dx = dL/dx */
    OP(dev, affine_lrelu_backward, dx, dgam, dbet, tmp, x->data, a->data, b->gb[f][0][0].data, C, B, HW, LRELU_SLOPE);
    mlp_backward(g, &b->mlp[f][0][0], &b->hid[f][0][0], dgam, C);
    mlp_backward(g, &b->mlp[f][0][1], &b->hid[f][0][1], dbet, C);
}

void netg_forward(netg *g, const float *noise, const float *sent, int B) {
    alloc_acts(g, B);
    param_set *ps = &g->ps;
    device_t dev = ps->device;
    int nf8 = 8 * g->nf;
    dev_copy(dev, g->noise.data, noise, (size_t)B * g->z_dim);
    OP(dev, concat_rows_forward, g->cond.data, noise, sent, B, g->z_dim, g->cond_dim);
    OP(dev, linear_forward, g->fc_out.data, noise, pdata(ps, g->fcw), pdata(ps, g->fcb), B, g->z_dim, nf8 * 16);
    OP(dev, nchw_to_cnhw, g->x0.data, g->fc_out.data, B, nf8, 16);
    const tensor *x = &g->x0;
    for (int i = 0; i < g->nblocks; i++) {
        gblock *b = &g->blk[i];
        int S = 8 << i, HW = S * S;
        OP(dev, upsample2x_forward, b->xu.data, x->data, b->in_ch * B, S / 2, S / 2);
        dfblk_forward(g, b, 0, &b->xu, &b->l0, &b->l1, b->in_ch, HW);
        OP(dev, conv2d_forward, b->h.data, b->l1.data, pdata(ps, b->c1w), pdata(ps, b->c1b), B, b->in_ch, S, S, b->out_ch, 3, 1, 1);
        dfblk_forward(g, b, 1, &b->h, &b->l2, &b->l3, b->out_ch, HW);
        OP(dev, conv2d_forward, b->out.data, b->l3.data, pdata(ps, b->c2w), pdata(ps, b->c2b), B, b->out_ch, S, S, b->out_ch, 3, 1, 1);
        if (b->learnable_sc) {
            float *sc = g->g_a.data;
            OP(dev, conv2d_forward, sc, b->xu.data, pdata(ps, b->scw), pdata(ps, b->scb), B, b->in_ch, S, S, b->out_ch, 1, 1, 0);
            OP(dev, vec_add, b->out.data, b->out.data, sc, (size_t)b->out.size);
        } else {
            OP(dev, vec_add, b->out.data, b->out.data, b->xu.data, (size_t)b->out.size);
        }
        x = &b->out;
    }
    int S = g->imsize;
    OP(dev, leaky_relu_forward, g->lf.data, x->data, (size_t)g->lf.size, LRELU_SLOPE);
    OP(dev, conv2d_forward, g->img.data, g->lf.data, pdata(ps, g->rgbw), pdata(ps, g->rgbb), B, g->nf, S, S, 3, 3, 1, 1);
    OP(dev, tanh_forward, g->img.data, g->img.data, (size_t)g->img.size);
}

void netg_backward(netg *g, const float *dimg) {
    param_set *ps = &g->ps;
    device_t dev = ps->device;
    int B = g->B, S = g->imsize, nf8 = 8 * g->nf;
    float *dx = g->g_a.data, *da = g->g_b.data, *db = g->g_c.data, *dd = g->g_d.data;
    /* to_rgb: img = tanh(conv(lrelu(x))) */
    OP(dev, tanh_backward, db, dimg, g->img.data, (size_t)g->img.size);
    OP(dev, conv2d_backward, da, pgrad(ps, g->rgbw), pgrad(ps, g->rgbb), db, g->lf.data, pdata(ps, g->rgbw), B, g->nf, S, S, 3, 3, 1, 1);
    OP(dev, leaky_relu_backward, dx, da, g->lf.data, (size_t)g->lf.size, LRELU_SLOPE);
    for (int i = g->nblocks - 1; i >= 0; i--) {
        gblock *b = &g->blk[i];
        int s = 8 << i, HW = s * s;
        size_t nin = (size_t)b->in_ch * B * HW;
        /* dx = dL/d(block output) (out_ch,B,s,s); it feeds both the residual and the shortcut */
        OP(dev, conv2d_backward, da, pgrad(ps, b->c2w), pgrad(ps, b->c2b), dx, b->l3.data, pdata(ps, b->c2w), B, b->out_ch, s, s, b->out_ch, 3, 1, 1);
        dfblk_backward(g, b, 1, &b->h, &b->l2, &b->l3, da, db, dd, b->out_ch, HW);          /* db = dL/dh */
        OP(dev, conv2d_backward, da, pgrad(ps, b->c1w), pgrad(ps, b->c1b), db, b->l1.data, pdata(ps, b->c1w), B, b->in_ch, s, s, b->out_ch, 3, 1, 1);
        dfblk_backward(g, b, 0, &b->xu, &b->l0, &b->l1, da, db, dd, b->in_ch, HW);          /* db = dL/dxu (residual) */
        if (b->learnable_sc) {
            OP(dev, conv2d_backward, da, pgrad(ps, b->scw), pgrad(ps, b->scb), dx, b->xu.data, pdata(ps, b->scw), B, b->in_ch, s, s, b->out_ch, 1, 1, 0);
            OP(dev, vec_add, db, db, da, nin);
        } else {
            OP(dev, vec_add, db, db, dx, nin);
        }
        OP(dev, upsample2x_backward, dx, db, b->in_ch * B, s / 2, s / 2);
    }
    /* fc: x0 (8nf,B,16) <- fc_out (B,8nf·16) */
    OP(dev, cnhw_to_nchw, da, dx, B, nf8, 16);
    OP(dev, linear_backward, NULL, pgrad(ps, g->fcw), pgrad(ps, g->fcb), da, g->noise.data, pdata(ps, g->fcw), B, g->z_dim, nf8 * 16);
}

void netg_free(netg *g) {
    for (int i = 0; i < g->nblocks; i++) {
        gblock *b = &g->blk[i];
        tensor *ts[] = {&b->xu, &b->l0, &b->l1, &b->h, &b->l2, &b->l3, &b->out};
        for (size_t k = 0; k < sizeof ts / sizeof *ts; k++) tensor_free(ts[k]);
        for (int f = 0; f < 2; f++)
            for (int a = 0; a < 2; a++)
                for (int k = 0; k < 2; k++) { tensor_free(&b->hid[f][a][k]); tensor_free(&b->gb[f][a][k]); }
    }
    tensor *ts[] = {&g->noise, &g->cond, &g->fc_out, &g->x0, &g->lf, &g->img, &g->g_a, &g->g_b, &g->g_c, &g->g_d, &g->g_mlp, &g->g_mlp2, &g->g_mlp3};
    for (size_t k = 0; k < sizeof ts / sizeof *ts; k++) tensor_free(ts[k]);
    free(g->blk);
    params_free(&g->ps);
}
