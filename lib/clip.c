/* clip.c: OpenAI CLIP's ViT model on the CPU in float32 (see clip.h). Activations are row-major
 * (rows, width) with the rows of all sequences packed together; the image tower keeps, per block,
 * only what the input gradient needs (no weight gradients): the block's input and mid-point
 * residuals with their LayerNorm statistics, the fused q,k,v, the attention probabilities and the
 * MLP's pre-activation. */
#include "clip.h"
#include "checkpoint.h"
#include "common.h"
#include "ops_clip.h"
#include "ops_cpu.h"
#include "rng.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const float CLIP_MEAN[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static const float CLIP_STD[3] = {0.26862954f, 0.26130258f, 0.27577711f};
#define LN_EPS 1e-5

clip_config clip_config_default(void) {
    clip_config c = {.embed_dim = 512, .width = 768, .layers = 12, .heads = 12, .patch = 32, .image_size = 224,
                     .text_width = 512, .text_layers = 12, .text_heads = 8, .context = 77, .vocab = 49408};
    return c;
}

/* ---------------------------------------------------------------- parameters */

static int add(param_set *ps, const char *prefix, const char *name, int ndim, int64_t a, int64_t b, int64_t c, int64_t d) {
    char key[PARAM_KEY_MAX];
    snprintf(key, sizeof key, "%s%s", prefix, name);
    return params_add(ps, key, ndim, a, b, c, d);
}

static clip_block *add_blocks(param_set *ps, const char *prefix, int layers, int D) {
    clip_block *bl = xcalloc((size_t)(layers ? layers : 1), sizeof *bl);
    char p[80];
    for (int l = 0; l < layers; l++) {
        snprintf(p, sizeof p, "%stransformer.resblocks.%d.", prefix, l);
        clip_block *k = &bl[l];
        k->in_w = add(ps, p, "attn.in_proj_weight", 2, 3 * D, D, 0, 0);
        k->in_b = add(ps, p, "attn.in_proj_bias", 1, 3 * D, 0, 0, 0);
        k->out_w = add(ps, p, "attn.out_proj.weight", 2, D, D, 0, 0);
        k->out_b = add(ps, p, "attn.out_proj.bias", 1, D, 0, 0, 0);
        k->ln1_w = add(ps, p, "ln_1.weight", 1, D, 0, 0, 0);
        k->ln1_b = add(ps, p, "ln_1.bias", 1, D, 0, 0, 0);
        k->fc_w = add(ps, p, "mlp.c_fc.weight", 2, 4 * D, D, 0, 0);
        k->fc_b = add(ps, p, "mlp.c_fc.bias", 1, 4 * D, 0, 0, 0);
        k->proj_w = add(ps, p, "mlp.c_proj.weight", 2, D, 4 * D, 0, 0);
        k->proj_b = add(ps, p, "mlp.c_proj.bias", 1, D, 0, 0, 0);
        k->ln2_w = add(ps, p, "ln_2.weight", 1, D, 0, 0, 0);
        k->ln2_b = add(ps, p, "ln_2.bias", 1, D, 0, 0, 0);
    }
    return bl;
}

void clip_create(clip_model *m, const clip_config *c) {
    memset(m, 0, sizeof *m);
    param_set *ps = &m->ps;
    const int Dv = c->width, Dt = c->text_width, E = c->embed_dim, g = c->image_size / c->patch;
    m->embed_dim = E;
    m->vis = (clip_tower_dims){Dv, c->layers, c->heads};
    m->txt = (clip_tower_dims){Dt, c->text_layers, c->text_heads};
    m->patch = c->patch;
    m->image_size = c->image_size;
    m->grid = g;
    m->context = c->context;
    m->vocab = c->vocab;
    m->txt_pos = add(ps, "", "positional_embedding", 2, c->context, Dt, 0, 0);
    m->txt_proj = add(ps, "", "text_projection", 2, Dt, E, 0, 0);
    m->logit_scale = add(ps, "", "logit_scale", 0, 0, 0, 0, 0);
    m->class_emb = add(ps, "visual.", "class_embedding", 1, Dv, 0, 0, 0);
    m->vis_pos = add(ps, "visual.", "positional_embedding", 2, (int64_t)g * g + 1, Dv, 0, 0);
    m->vis_proj = add(ps, "visual.", "proj", 2, Dv, E, 0, 0);
    m->conv1 = add(ps, "visual.", "conv1.weight", 4, Dv, 3, c->patch, c->patch);
    m->ln_pre_w = add(ps, "visual.", "ln_pre.weight", 1, Dv, 0, 0, 0);
    m->ln_pre_b = add(ps, "visual.", "ln_pre.bias", 1, Dv, 0, 0, 0);
    m->vblocks = add_blocks(ps, "visual.", c->layers, Dv);
    m->ln_post_w = add(ps, "visual.", "ln_post.weight", 1, Dv, 0, 0, 0);
    m->ln_post_b = add(ps, "visual.", "ln_post.bias", 1, Dv, 0, 0, 0);
    m->tblocks = add_blocks(ps, "", c->text_layers, Dt);
    m->tok_emb = add(ps, "", "token_embedding.weight", 2, c->vocab, Dt, 0, 0);
    m->ln_final_w = add(ps, "", "ln_final.weight", 1, Dt, 0, 0, 0);
    m->ln_final_b = add(ps, "", "ln_final.bias", 1, Dt, 0, 0, 0);
    ps->device = DEVICE_CPU;
    ps->data = xcalloc(ps->total ? ps->total : 1, sizeof(float));
}

void clip_free(clip_model *m) {
    free(m->vblocks);
    free(m->tblocks);
    params_free(&m->ps);
}

static void fill_normal(clip_model *m, int i, double std, uint64_t seed) {
    rng_t r;
    rng_init(&r, seed, (uint64_t)i);
    float *p = pdata(&m->ps, i);
    for (size_t k = 0; k < m->ps.info[i].size; k++) p[k] = (float)(std * rng_normal(&r));
}
static void fill_const(clip_model *m, int i, float v) {
    float *p = pdata(&m->ps, i);
    for (size_t k = 0; k < m->ps.info[i].size; k++) p[k] = v;
}

static void init_blocks(clip_model *m, clip_block *bl, const clip_tower_dims *d, uint64_t seed) {
    const double attn_std = pow(d->width, -0.5), proj_std = attn_std * pow(2.0 * d->layers, -0.5),
                 fc_std = pow(2.0 * d->width, -0.5);
    for (int l = 0; l < d->layers; l++) {
        clip_block *k = &bl[l];
        fill_normal(m, k->in_w, attn_std, seed);
        fill_normal(m, k->out_w, proj_std, seed);
        fill_normal(m, k->fc_w, fc_std, seed);
        fill_normal(m, k->proj_w, proj_std, seed);
        fill_const(m, k->ln1_w, 1);
        fill_const(m, k->ln2_w, 1);   /* biases stay 0 */
    }
}

void clip_init(clip_model *m, uint64_t seed) {
    memset(m->ps.data, 0, m->ps.total * sizeof(float));
    const double sv = pow(m->vis.width, -0.5);
    fill_normal(m, m->tok_emb, 0.02, seed);
    fill_normal(m, m->txt_pos, 0.01, seed);
    fill_normal(m, m->txt_proj, pow(m->txt.width, -0.5), seed);
    fill_const(m, m->logit_scale, (float)log(1 / 0.07));
    fill_normal(m, m->class_emb, sv, seed);
    fill_normal(m, m->vis_pos, sv, seed);
    fill_normal(m, m->vis_proj, sv, seed);
    fill_normal(m, m->conv1, pow(3.0 * m->patch * m->patch, -0.5), seed);
    fill_const(m, m->ln_pre_w, 1);
    fill_const(m, m->ln_post_w, 1);
    fill_const(m, m->ln_final_w, 1);
    init_blocks(m, m->vblocks, &m->vis, seed);
    init_blocks(m, m->tblocks, &m->txt, seed);
}

/* ---------------------------------------------------------------- loading */

static const npy_array *need(const npz *z, const char *path, const char *key, int ndim) {
    const npy_array *a = npz_find(z, key);
    if (!a) die_usage("%s: expected key '%s' of an OpenAI CLIP ViT state_dict, found none", path, key);
    if (a->ndim != ndim) {
        char s[64];
        npy_format_shape(s, sizeof s, a->ndim, a->shape);
        die_usage("%s: expected '%s' with %d dimensions, found %s", path, key, ndim, s);
    }
    return a;
}
static int count_layers(const npz *z, const char *prefix) {
    char key[128];
    int n = 0;
    for (;; n++) {
        snprintf(key, sizeof key, "%stransformer.resblocks.%d.attn.in_proj_weight", prefix, n);
        if (!npz_find(z, key)) return n;
    }
}
static float half_to_float(uint16_t h) {
    const uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, f = h & 0x3ff;
    uint32_t u;
    if (e == 0) {
        if (!f) u = s;
        else { float v = ldexpf((float)f, -24); return s ? -v : v; }
    } else if (e == 31) u = s | 0x7f800000u | (f << 13);
    else u = s | ((e + 112) << 23) | (f << 13);
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}
/* float16 and float64 arrays become float32 in place */
static void to_f32(npy_array *a) {
    if (a->dtype != NPY_F2 && a->dtype != NPY_F8) return;
    float *d = xmalloc((size_t)(a->count ? a->count : 1) * sizeof(float));
    for (int64_t i = 0; i < a->count; i++)
        d[i] = a->dtype == NPY_F2 ? half_to_float(((uint16_t *)a->data)[i]) : (float)((double *)a->data)[i];
    free(a->data);
    a->data = d;
    a->dtype = NPY_F4;
}

void clip_load(clip_model *m, const char *path, int head_width) {
    npz z;
    ckpt_read(path, &z);
    if (!npz_find(&z, "visual.conv1.weight") && npz_find(&z, "visual.layer1.0.conv1.weight"))
        die_usage("%s: expected a CLIP ViT ('visual.conv1.weight'), found a ResNet CLIP (not supported)", path);
    const npy_array *conv = need(&z, path, "visual.conv1.weight", 4), *vpos = need(&z, path, "visual.positional_embedding", 2),
                    *vproj = need(&z, path, "visual.proj", 2), *tok = need(&z, path, "token_embedding.weight", 2),
                    *tpos = need(&z, path, "positional_embedding", 2), *tproj = need(&z, path, "text_projection", 2);
    clip_config c;
    c.width = (int)conv->shape[0];
    c.patch = (int)conv->shape[2];
    int g = (int)lround(sqrt((double)(vpos->shape[0] - 1)));
    if ((int64_t)g * g + 1 != vpos->shape[0])
        die_usage("%s: expected 'visual.positional_embedding' of grid*grid+1 rows, found %lld", path, (long long)vpos->shape[0]);
    c.image_size = g * c.patch;
    c.embed_dim = (int)vproj->shape[1];
    c.layers = count_layers(&z, "visual.");
    c.vocab = (int)tok->shape[0];
    c.text_width = (int)tok->shape[1];
    c.context = (int)tpos->shape[0];
    c.text_layers = count_layers(&z, "");
    (void)tproj;
    if (c.width % head_width || c.text_width % head_width)
        die_usage("%s: expected widths divisible by the head width %d, found %d (image) and %d (text)", path,
                  head_width, c.width, c.text_width);
    c.heads = c.width / head_width;
    c.text_heads = c.text_width / head_width;
    clip_create(m, &c);
    /* OpenAI's JIT archives carry these three sizes as tensors; build_model drops them too */
    npz f = {0, xcalloc((size_t)(z.n ? z.n : 1), sizeof(npz_item))};
    for (int i = 0; i < z.n; i++) {
        const char *k = z.items[i].key;
        if (!strcmp(k, "input_resolution") || !strcmp(k, "context_length") || !strcmp(k, "vocab_size")) continue;
        to_f32(&z.items[i].arr);
        f.items[f.n++] = z.items[i];
    }
    ckpt_load(&m->ps, &f, path);
    free(f.items);
    npz_free(&z);
}

/* ---------------------------------------------------------------- the transformer */

/* what one block keeps for the backward pass (the image tower); for a forward-only pass these
 * point into one shared scratch set and x, x2 are NULL */
typedef struct { float *x, *mean1, *rstd1, *qkv, *att, *x2, *mean2, *rstd2, *fc; } block_save;

typedef struct { float *h, *a, *g; } block_scratch;   /* (N,D), (N,D), (N,4D) */

static size_t att_size(const int *off, int B, int nh) {
    size_t n = 0;
    for (int b = 0; b < B; b++) n += (size_t)nh * (size_t)(off[b + 1] - off[b]) * (size_t)(off[b + 1] - off[b]);
    return n;
}

/* x (N,D) <- block(x) */
static void block_forward(const clip_model *m, const clip_block *k, const clip_tower_dims *d, float *x,
                          const int *off, int B, int causal, block_save *s, block_scratch *w) {
    const param_set *ps = &m->ps;
    const int N = off[B], D = d->width, Hd = 4 * D;
    if (s->x) memcpy(s->x, x, (size_t)N * D * sizeof(float));
    layernorm_forward_cpu(w->h, s->mean1, s->rstd1, x, pdata(ps, k->ln1_w), pdata(ps, k->ln1_b), N, D, LN_EPS);
    linear_forward_cpu(s->qkv, w->h, pdata(ps, k->in_w), pdata(ps, k->in_b), N, D, 3 * D);
    attention_forward_cpu(w->a, s->att, s->qkv, off, B, D, d->heads, causal);
    linear_forward_cpu(w->h, w->a, pdata(ps, k->out_w), pdata(ps, k->out_b), N, D, D);
    vec_axpy_cpu(x, 1, w->h, (size_t)N * D);
    if (s->x2) memcpy(s->x2, x, (size_t)N * D * sizeof(float));
    layernorm_forward_cpu(w->h, s->mean2, s->rstd2, x, pdata(ps, k->ln2_w), pdata(ps, k->ln2_b), N, D, LN_EPS);
    linear_forward_cpu(s->fc, w->h, pdata(ps, k->fc_w), pdata(ps, k->fc_b), N, D, Hd);
    quickgelu_forward_cpu(w->g, s->fc, (size_t)N * Hd);
    linear_forward_cpu(w->h, w->g, pdata(ps, k->proj_w), pdata(ps, k->proj_b), N, Hd, D);
    vec_axpy_cpu(x, 1, w->h, (size_t)N * D);
}

/* dx (N,D): the gradient wrt the block's output on entry, wrt its input on exit.
 * Scratch: w->h, w->a (N,D), w->g (N,4D), dqkv (N,3D). */
static void block_backward(const clip_model *m, const clip_block *k, const clip_tower_dims *d, float *dx,
                           const int *off, int B, const block_save *s, block_scratch *w, float *dqkv) {
    const param_set *ps = &m->ps;
    const int N = off[B], D = d->width, Hd = 4 * D;
    linear_backward_cpu(w->g, NULL, NULL, dx, NULL, pdata(ps, k->proj_w), N, Hd, D);
    quickgelu_backward_cpu(w->g, w->g, s->fc, (size_t)N * Hd);
    linear_backward_cpu(w->h, NULL, NULL, w->g, NULL, pdata(ps, k->fc_w), N, D, Hd);
    layernorm_backward_cpu(w->a, NULL, NULL, w->h, s->x2, s->mean2, s->rstd2, pdata(ps, k->ln2_w), N, D);
    vec_axpy_cpu(dx, 1, w->a, (size_t)N * D);
    linear_backward_cpu(w->a, NULL, NULL, dx, NULL, pdata(ps, k->out_w), N, D, D);
    attention_backward_cpu(dqkv, w->a, s->qkv, s->att, off, B, D, d->heads);
    linear_backward_cpu(w->h, NULL, NULL, dqkv, NULL, pdata(ps, k->in_w), N, D, 3 * D);
    layernorm_backward_cpu(w->a, NULL, NULL, w->h, s->x, s->mean1, s->rstd1, pdata(ps, k->ln1_w), N, D);
    vec_axpy_cpu(dx, 1, w->a, (size_t)N * D);
}

/* out (B,E) = in (B,D) · proj (D,E) */
static void project(float *out, const float *in, const float *proj, int B, int D, int E) {
    if (B > 0) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, E, D, 1, in, D, proj, E, 0, out, E);
}

/* ---------------------------------------------------------------- text tower */

int clip_encode_text(const clip_model *m, float *feat, const int32_t *ids, int B, int L, char *err, size_t errlen) {
    const param_set *ps = &m->ps;
    const int D = m->txt.width, E = m->embed_dim;
    if (L > m->context) { snprintf(err, errlen, "expected at most %d tokens per caption (the context), found %d", m->context, L); return -1; }
    int *off = xmalloc((size_t)(B + 1) * sizeof *off), *eot = xmalloc((size_t)(B ? B : 1) * sizeof *eot);
    off[0] = 0;
    for (int b = 0; b < B; b++) {
        const int32_t *r = ids + (size_t)b * L;
        int e = 0;
        for (int t = 0; t < L; t++) {
            if (r[t] < 0 || r[t] >= m->vocab) {
                snprintf(err, errlen, "expected token ids in [0,%d), found %d in row %d", m->vocab, (int)r[t], b);
                free(off); free(eot);
                return -1;
            }
            if (r[t] > r[e]) e = t;   /* the first maximum, as torch.argmax */
        }
        eot[b] = e;
        off[b + 1] = off[b] + (L ? e + 1 : 0);
    }
    const int N = off[B];
    if (L == 0) { memset(feat, 0, (size_t)B * E * sizeof(float)); free(off); free(eot); return 0; }
    float *x = xmalloc((size_t)N * D * sizeof(float));
    const float *tok = pdata(ps, m->tok_emb), *pos = pdata(ps, m->txt_pos);
    for (int b = 0; b < B; b++)
        for (int t = 0; t <= eot[b]; t++) {
            float *xr = x + (size_t)(off[b] + t) * D;
            const float *te = tok + (size_t)ids[(size_t)b * L + t] * D, *pe = pos + (size_t)t * D;
            for (int c = 0; c < D; c++) xr[c] = te[c] + pe[c];
        }
    block_scratch w = {xmalloc((size_t)N * D * sizeof(float)), xmalloc((size_t)N * D * sizeof(float)),
                       xmalloc((size_t)N * 4 * D * sizeof(float))};
    block_save s = {NULL, NULL, NULL, xmalloc((size_t)N * 3 * D * sizeof(float)), NULL, NULL, NULL, NULL,
                    xmalloc((size_t)N * 4 * D * sizeof(float))};
    for (int l = 0; l < m->txt.layers; l++) block_forward(m, &m->tblocks[l], &m->txt, x, off, B, 1, &s, &w);
    float *h = xmalloc((size_t)(B ? B : 1) * D * sizeof(float));
    for (int b = 0; b < B; b++) memcpy(h + (size_t)b * D, x + (size_t)(off[b + 1] - 1) * D, (size_t)D * sizeof(float));
    layernorm_forward_cpu(h, NULL, NULL, h, pdata(ps, m->ln_final_w), pdata(ps, m->ln_final_b), B, D, LN_EPS);
    project(feat, h, pdata(ps, m->txt_proj), B, D, E);
    free(h); free(x); free(w.h); free(w.a); free(w.g); free(s.qkv); free(s.fc); free(off); free(eot);
    return 0;
}

/* ---------------------------------------------------------------- image tower */

struct clip_image_ctx {
    int B, H, W, mode, T, N;
    int *off;
    float *x0, *mean0, *rstd0;          /* ln_pre's input (N,D) and statistics */
    block_save *s;                      /* per block */
    float *hp_in, *meanp, *rstdp;       /* ln_post's input (B,D) (the class tokens) and statistics */
};

void clip_encode_image(const clip_model *m, float *feat, const float *images, int B, int H, int W,
                       int resize_mode, clip_image_ctx **ctxp) {
    const param_set *ps = &m->ps;
    const int S = m->image_size, P = m->patch, g = m->grid, D = m->vis.width, E = m->embed_dim;
    const int T = g * g + 1, N = B * T, K = 3 * P * P, np = B * g * g;
    /* preprocessing: [-1,1] -> [0,1] -> resize -> normalise */
    const size_t nin = (size_t)B * 3 * H * W, nr = (size_t)B * 3 * S * S;
    float *pre = xmalloc((nin ? nin : 1) * sizeof(float)), *r = xmalloc((nr ? nr : 1) * sizeof(float));
    for (size_t i = 0; i < nin; i++) pre[i] = images[i] * 0.5f + 0.5f;
    resize_forward_cpu(r, pre, B * 3, H, W, S, S, resize_mode);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < 3; c++) {
            float *p = r + ((size_t)b * 3 + c) * S * S;
            for (int i = 0; i < S * S; i++) p[i] = (p[i] - CLIP_MEAN[c]) / CLIP_STD[c];
        }
    free(pre);
    /* patchify: conv1 as a product over the non-overlapping patches */
    float *patches = xmalloc((size_t)(np ? np : 1) * K * sizeof(float));
    for (int b = 0; b < B; b++)
        for (int gy = 0; gy < g; gy++)
            for (int gx = 0; gx < g; gx++) {
                float *row = patches + ((size_t)(b * g + gy) * g + gx) * K;
                for (int c = 0; c < 3; c++)
                    for (int ky = 0; ky < P; ky++)
                        memcpy(row + (c * P + ky) * P, r + (((size_t)b * 3 + c) * S + gy * P + ky) * S + gx * P,
                               (size_t)P * sizeof(float));
            }
    free(r);
    float *emb = xmalloc((size_t)(np ? np : 1) * D * sizeof(float));
    linear_forward_cpu(emb, patches, pdata(ps, m->conv1), NULL, np, K, D);
    free(patches);
    float *x = xmalloc((size_t)(N ? N : 1) * D * sizeof(float));
    const float *cls = pdata(ps, m->class_emb), *pos = pdata(ps, m->vis_pos);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *xr = x + ((size_t)b * T + t) * D;
            const float *src = t ? emb + ((size_t)b * g * g + t - 1) * D : cls, *pe = pos + (size_t)t * D;
            for (int c = 0; c < D; c++) xr[c] = src[c] + pe[c];
        }
    free(emb);
    int *off = xmalloc((size_t)(B + 1) * sizeof *off);
    for (int b = 0; b <= B; b++) off[b] = b * T;
    const size_t nd = (size_t)(N ? N : 1) * D, na = att_size(off, B, m->vis.heads) + 1;
    clip_image_ctx *ctx = NULL;
    block_save shared = {0};
    if (ctxp) {
        ctx = xcalloc(1, sizeof *ctx);
        *ctx = (clip_image_ctx){.B = B, .H = H, .W = W, .mode = resize_mode, .T = T, .N = N, .off = off};
        ctx->x0 = xmalloc(nd * sizeof(float));
        memcpy(ctx->x0, x, (size_t)N * D * sizeof(float));
        ctx->mean0 = xmalloc((size_t)(N + 1) * sizeof(float));
        ctx->rstd0 = xmalloc((size_t)(N + 1) * sizeof(float));
        ctx->s = xcalloc((size_t)(m->vis.layers ? m->vis.layers : 1), sizeof *ctx->s);
        for (int l = 0; l < m->vis.layers; l++) {
            block_save *s = &ctx->s[l];
            s->x = xmalloc(nd * sizeof(float));
            s->x2 = xmalloc(nd * sizeof(float));
            s->mean1 = xmalloc((size_t)(N + 1) * sizeof(float));
            s->rstd1 = xmalloc((size_t)(N + 1) * sizeof(float));
            s->mean2 = xmalloc((size_t)(N + 1) * sizeof(float));
            s->rstd2 = xmalloc((size_t)(N + 1) * sizeof(float));
            s->qkv = xmalloc(3 * nd * sizeof(float));
            s->att = xmalloc(na * sizeof(float));
            s->fc = xmalloc(4 * nd * sizeof(float));
        }
    } else {
        shared.qkv = xmalloc(3 * nd * sizeof(float));
        shared.fc = xmalloc(4 * nd * sizeof(float));
    }
    layernorm_forward_cpu(x, ctx ? ctx->mean0 : NULL, ctx ? ctx->rstd0 : NULL, x, pdata(ps, m->ln_pre_w),
                          pdata(ps, m->ln_pre_b), N, D, LN_EPS);
    block_scratch w = {xmalloc(nd * sizeof(float)), xmalloc(nd * sizeof(float)), xmalloc(4 * nd * sizeof(float))};
    for (int l = 0; l < m->vis.layers; l++)
        block_forward(m, &m->vblocks[l], &m->vis, x, off, B, 0, ctx ? &ctx->s[l] : &shared, &w);
    float *hp = xmalloc((size_t)(B ? B : 1) * D * sizeof(float)), *hin = xmalloc((size_t)(B ? B : 1) * D * sizeof(float));
    for (int b = 0; b < B; b++) memcpy(hin + (size_t)b * D, x + (size_t)b * T * D, (size_t)D * sizeof(float));
    float *mp = ctx ? xmalloc((size_t)(B + 1) * sizeof(float)) : NULL, *rp = ctx ? xmalloc((size_t)(B + 1) * sizeof(float)) : NULL;
    layernorm_forward_cpu(hp, mp, rp, hin, pdata(ps, m->ln_post_w), pdata(ps, m->ln_post_b), B, D, LN_EPS);
    project(feat, hp, pdata(ps, m->vis_proj), B, D, E);
    free(hp); free(x); free(w.h); free(w.a); free(w.g); free(shared.qkv); free(shared.fc);
    if (ctx) {
        ctx->hp_in = hin; ctx->meanp = mp; ctx->rstdp = rp;
        *ctxp = ctx;
    } else {
        free(hin);
        free(off);
    }
}

void clip_image_backward(const clip_model *m, float *dimages, const float *dfeat, clip_image_ctx *ctx) {
    const param_set *ps = &m->ps;
    const int S = m->image_size, P = m->patch, g = m->grid, D = m->vis.width, E = m->embed_dim;
    const int B = ctx->B, H = ctx->H, W = ctx->W, T = ctx->T, N = ctx->N, K = 3 * P * P, np = B * g * g;
    const size_t nd = (size_t)(N ? N : 1) * D;
    float *dhp = xmalloc((size_t)(B ? B : 1) * D * sizeof(float)), *dhin = xmalloc((size_t)(B ? B : 1) * D * sizeof(float));
    if (B > 0)   /* dhp (B,D) = dfeat (B,E) · projᵀ */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, D, E, 1, dfeat, E, pdata(ps, m->vis_proj), E, 0, dhp, D);
    layernorm_backward_cpu(dhin, NULL, NULL, dhp, ctx->hp_in, ctx->meanp, ctx->rstdp, pdata(ps, m->ln_post_w), B, D);
    float *dx = xcalloc(nd, sizeof(float));
    for (int b = 0; b < B; b++) memcpy(dx + (size_t)b * T * D, dhin + (size_t)b * D, (size_t)D * sizeof(float));
    free(dhp); free(dhin);
    block_scratch w = {xmalloc(nd * sizeof(float)), xmalloc(nd * sizeof(float)), xmalloc(4 * nd * sizeof(float))};
    float *dqkv = xmalloc(3 * nd * sizeof(float));
    for (int l = m->vis.layers - 1; l >= 0; l--) {
        block_backward(m, &m->vblocks[l], &m->vis, dx, ctx->off, B, &ctx->s[l], &w, dqkv);
        block_save *s = &ctx->s[l];
        free(s->x); free(s->x2); free(s->mean1); free(s->rstd1); free(s->mean2); free(s->rstd2);
        free(s->qkv); free(s->att); free(s->fc);
    }
    free(dqkv); free(w.a); free(w.g);
    layernorm_backward_cpu(w.h, NULL, NULL, dx, ctx->x0, ctx->mean0, ctx->rstd0, pdata(ps, m->ln_pre_w), N, D);
    /* the patch tokens' gradient -> patches -> pixels */
    float *demb = dx;   /* reuse: (np, D) */
    for (int b = 0; b < B; b++)
        memcpy(demb + (size_t)b * g * g * D, w.h + ((size_t)b * T + 1) * D, (size_t)g * g * D * sizeof(float));
    free(w.h);
    float *dpatch = xmalloc((size_t)(np ? np : 1) * K * sizeof(float));
    linear_backward_cpu(dpatch, NULL, NULL, demb, NULL, pdata(ps, m->conv1), np, K, D);
    free(dx);
    const size_t nr = (size_t)B * 3 * S * S;
    float *dr = xmalloc((nr ? nr : 1) * sizeof(float));
    for (int b = 0; b < B; b++)
        for (int gy = 0; gy < g; gy++)
            for (int gx = 0; gx < g; gx++) {
                const float *row = dpatch + ((size_t)(b * g + gy) * g + gx) * K;
                for (int c = 0; c < 3; c++)
                    for (int ky = 0; ky < P; ky++) {
                        float *d = dr + (((size_t)b * 3 + c) * S + gy * P + ky) * S + gx * P;
                        const float *src = row + (c * P + ky) * P;
                        for (int kx = 0; kx < P; kx++) d[kx] = src[kx] / CLIP_STD[c];
                    }
            }
    free(dpatch);
    resize_backward_cpu(dimages, dr, B * 3, H, W, S, S, ctx->mode);
    for (size_t i = 0; i < (size_t)B * 3 * H * W; i++) dimages[i] *= 0.5f;
    free(dr);
    free(ctx->x0); free(ctx->mean0); free(ctx->rstd0); free(ctx->s); free(ctx->hp_in); free(ctx->meanp);
    free(ctx->rstdp); free(ctx->off); free(ctx);
}

/* ---------------------------------------------------------------- the loss */

double clip_cos_loss(float *dimg, const float *img, const float *txt, int B, int E, double lambda, double *mean_cos) {
    double mc = 0;
    for (int b = 0; b < B; b++) {
        const float *f = img + (size_t)b * E, *t = txt + (size_t)b * E;
        double ff = 0, tt = 0, ft = 0;
        for (int e = 0; e < E; e++) { ff += (double)f[e] * f[e]; tt += (double)t[e] * t[e]; ft += (double)f[e] * t[e]; }
        const double nf = sqrt(ff) > 1e-30 ? sqrt(ff) : 1e-30, nt = sqrt(tt) > 1e-30 ? sqrt(tt) : 1e-30;
        const double cos = ft / (nf * nt);
        mc += cos;
        if (dimg)   /* ∂cos/∂f = t/(|f||t|) − cos·f/|f|² */
            for (int e = 0; e < E; e++)
                dimg[(size_t)b * E + e] = (float)(-lambda / B * (t[e] / (nf * nt) - cos * f[e] / (nf * nf)));
    }
    mc = B ? mc / B : 0;
    if (mean_cos) *mean_cos = mc;
    return lambda * (1 - mc);
}
