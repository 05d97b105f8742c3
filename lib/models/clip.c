/* clip.c: OpenAI CLIP's ViT model in float32 on the CPU or, after clip_to_device, the GPU (see
 * clip.h): the parameters, initialisation, loading, and the forward passes of both towers; their
 * backward passes are clip_backward.c. Every op goes through OP(dev, ...) and every activation is
 * allocated on the model's device, so the two backends run the same code. Activations are
 * row-major (rows, width) with the rows of all sequences packed together. With a ctx a tower keeps,
 * per block, what its backward pass needs (clip_internal.h's block_save): the block's input and
 * mid-point residuals with their LayerNorm statistics, the fused q,k,v, the attention
 * probabilities and the MLP's pre-activation; the backward pass recomputes the LayerNorm outputs,
 * the attention output and the QuickGELU output where the weight gradients need them. */
#include "models/clip.h"
#include "models/clip_internal.h"
#include "core/checkpoint.h"
#include "core/common.h"
#include "core/finite.h"
#include "core/ops.h"
#include "core/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Register the parameters of c (no data yet) and the w table. */
static void clip_register(clip_model *m, const clip_config *c) {
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
    m->w = xcalloc((size_t)(ps->n ? ps->n : 1), sizeof *m->w);
}

void clip_create(clip_model *m, const clip_config *c) {
    clip_register(m, c);
    m->ps.data = xcalloc(m->ps.total ? m->ps.total : 1, sizeof(float));
    for (int i = 0; i < m->ps.n; i++) m->w[i] = pdata(&m->ps, i);
}

void clip_free(clip_model *m) {
    if (m->dw) dev_free(DEVICE_CUDA, m->dbuf);
    free(m->dw);
    free(m->vblocks);
    free(m->tblocks);
    free(m->w);
    npz_mapped_free(&m->src);
    params_free(&m->ps);
}

/* p[k] += std·(normal number k of Philox stream `stream`), k < n, in chunks over the threads:
 * rng_normal takes two words, so number k is in block k/2 and a chunk starting at an even k
 * starts at block k/2 (the same numbers as one rng_normal loop from the start). */
static void add_normal(float *p, size_t n, double std, uint64_t seed, uint64_t stream) {
    const size_t CH = (size_t)1 << 16;
    const long nch = (long)((n + CH - 1) / CH);
#pragma omp parallel for schedule(static)
    for (long c = 0; c < nch; c++) {
        rng_t r;
        rng_init(&r, seed, stream);
        r.counter = (uint64_t)c * CH / 2;
        const size_t end = (size_t)(c + 1) * CH < n ? (size_t)(c + 1) * CH : n;
        for (size_t k = (size_t)c * CH; k < end; k++) p[k] += (float)(std * rng_normal(&r));
    }
}
static void fill_normal(clip_model *m, int i, double std, uint64_t seed) {
    float *p = m->w[i];
    memset(p, 0, m->ps.info[i].size * sizeof(float));
    add_normal(p, m->ps.info[i].size, std, seed, (uint64_t)i);
}
static void fill_const(clip_model *m, int i, float v) {
    float *p = m->w[i];
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

void clip_jitter(clip_model *m, uint64_t seed, double jitter) {
    for (int i = 0; i < m->ps.n; i++) {
        float *p = m->w[i];
        const size_t n = m->ps.info[i].size;
        double s = 0, ss = 0;
        for (size_t k = 0; k < n; k++) s += p[k];
        const double mean = n ? s / (double)n : 0;
        for (size_t k = 0; k < n; k++) ss += (p[k] - mean) * (p[k] - mean);
        const double sd = n > 1 ? sqrt(ss / (double)(n - 1)) : 0;
        add_normal(p, n, jitter * (sd > 0 ? sd : 1), seed, ((uint64_t)1 << 32) + (uint64_t)i);
    }
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
/* Member j of src, float16 or float64, becomes a malloc'd float32 array in place (a mapped
 * original stays in the mapping). */
static void to_f32(npz_mapped *src, int j) {
    npy_array *a = &src->z.items[j].arr;
    float *d = xmalloc((size_t)(a->count ? a->count : 1) * sizeof(float));
    for (int64_t i = 0; i < a->count; i++)
        d[i] = a->dtype == NPY_F2 ? half_to_float(((const uint16_t *)a->data)[i]) : (float)((const double *)a->data)[i];
    if (!src->mapped[j]) free(a->data);
    src->mapped[j] = 0;
    a->data = d;
    a->dtype = NPY_F4;
}
/* Keys of OpenAI's JIT archives that are sizes, not weights (build_model drops them too), and Adam
 * state under a parameter's key (as ckpt_save writes it after a step): accepted and unused. */
static int ignored_key(const param_set *ps, const char *k) {
    if (!strcmp(k, "input_resolution") || !strcmp(k, "context_length") || !strcmp(k, "vocab_size") ||
        !strcmp(k, "adam.step"))
        return 1;
    if (!strncmp(k, "adam.exp_avg_sq.", 16)) return params_find(ps, k + 16) >= 0;
    if (!strncmp(k, "adam.exp_avg.", 13)) return params_find(ps, k + 13) >= 0;
    return 0;
}

void clip_load(clip_model *m, const char *path, int head_width) {
    npz_mapped src;
    char err[512];
    if (npz_read_mapped(path, &src, sizeof(float), err, sizeof err) != 0) die_usage("%s", err);
    const npz *z = &src.z;
    if (!npz_find(z, "visual.conv1.weight") && npz_find(z, "visual.layer1.0.conv1.weight"))
        die_usage("%s: expected a CLIP ViT ('visual.conv1.weight'), found a ResNet CLIP (not supported)", path);
    const npy_array *conv = need(z, path, "visual.conv1.weight", 4), *vpos = need(z, path, "visual.positional_embedding", 2),
                    *vproj = need(z, path, "visual.proj", 2), *tok = need(z, path, "token_embedding.weight", 2),
                    *tpos = need(z, path, "positional_embedding", 2);
    need(z, path, "text_projection", 2);
    clip_config c;
    c.width = (int)conv->shape[0];
    c.patch = (int)conv->shape[2];
    int g = (int)lround(sqrt((double)(vpos->shape[0] - 1)));
    if ((int64_t)g * g + 1 != vpos->shape[0])
        die_usage("%s: expected 'visual.positional_embedding' of grid*grid+1 rows, found %lld", path, (long long)vpos->shape[0]);
    c.image_size = g * c.patch;
    c.embed_dim = (int)vproj->shape[1];
    c.layers = count_layers(z, "visual.");
    c.vocab = (int)tok->shape[0];
    c.text_width = (int)tok->shape[1];
    c.context = (int)tpos->shape[0];
    c.text_layers = count_layers(z, "");
    if (c.width % head_width || c.text_width % head_width)
        die_usage("%s: expected widths divisible by the head width %d, found %d (image) and %d (text)", path,
                  head_width, c.width, c.text_width);
    c.heads = c.width / head_width;
    c.text_heads = c.text_width / head_width;
    clip_register(m, &c);
    /* every parameter from its array, in place where it is float32 (mapped or copied by the reader) */
    for (int i = 0; i < m->ps.n; i++) {
        const param_info *p = &m->ps.info[i];
        int j = 0;
        while (j < z->n && strcmp(z->items[j].key, p->key)) j++;
        if (j == z->n) die_usage("%s: expected key '%s' for this architecture, found none", path, p->key);
        const npy_array *a = &z->items[j].arr;
        int ok = (a->dtype == NPY_F4 || a->dtype == NPY_F2 || a->dtype == NPY_F8) && a->ndim == p->ndim;
        for (int k = 0; ok && k < p->ndim; k++) ok = a->shape[k] == p->shape[k];
        if (!ok) {
            char want[64], got[64];
            params_shape_str(p, want, sizeof want);
            npy_format_shape(got, sizeof got, a->ndim, a->shape);
            die_usage("%s: expected '%s' float32 %s, found %s %s", path, p->key, want, npy_dtype_name(a->dtype), got);
        }
        if (a->dtype != NPY_F4) to_f32(&src, j);
        require_finite(a, path, "in '%s'", p->key);   /* float16/float64 as converted: an overflow is +-Inf */
        m->w[i] = (float *)a->data;
    }
    for (int j = 0; j < z->n; j++)
        if (params_find(&m->ps, z->items[j].key) < 0 && !ignored_key(&m->ps, z->items[j].key))
            die_usage("%s: expected only keys of this architecture, found unexpected key '%s'", path, z->items[j].key);
    m->src = src;
}

/* ---------------------------------------------------------------- device */

void clip_to_device(clip_model *m, device_t dev) {
    if (dev != DEVICE_CUDA || m->dw) return;
    m->dbuf = dev_alloc(DEVICE_CUDA, m->ps.total ? m->ps.total : 1);
    m->dw = xcalloc((size_t)(m->ps.n ? m->ps.n : 1), sizeof *m->dw);
    for (int i = 0; i < m->ps.n; i++) {
        m->dw[i] = m->dbuf + m->ps.info[i].offset;
        dev_upload(DEVICE_CUDA, m->dw[i], m->w[i], m->ps.info[i].size);
    }
    m->dev = DEVICE_CUDA;
}

void clip_trainable(clip_model *m, device_t dev) {
    if (m->dw) die_runtime("expected clip_trainable on a model on the host, found one on the GPU");
    param_set *ps = &m->ps;
    float *old = ps->data;   /* clip_create's buffer; NULL after clip_load (m->w then points into src) */
    ps->data = NULL;
    params_alloc(ps, dev);
    for (int i = 0; i < ps->n; i++) dev_upload(dev, pdata(ps, i), m->w[i], ps->info[i].size);
    free(old);
    npz_mapped_free(&m->src);
    if (dev == DEVICE_CPU) {
        for (int i = 0; i < ps->n; i++) m->w[i] = pdata(ps, i);
        return;
    }
    m->dw = xcalloc((size_t)(ps->n ? ps->n : 1), sizeof *m->dw);
    for (int i = 0; i < ps->n; i++) {
        m->dw[i] = pdata(ps, i);
        m->w[i] = NULL;
    }
    m->dbuf = NULL;
    m->dev = dev;
}

/* ---------------------------------------------------------------- the transformer */

static size_t att_size(const int *off, int B, int nh) {
    size_t n = 0;
    for (int b = 0; b < B; b++) n += (size_t)nh * (size_t)(off[b + 1] - off[b]) * (size_t)(off[b + 1] - off[b]);
    return n;
}

/* the MLP half of a block: x (N,D) <- x + proj(quickgelu(fc(ln_2(x)))) (saves x2, mean2, rstd2, fc) */
static void mlp_forward(const clip_model *m, const clip_block *k, float *x, int N, int D, block_save *s, block_scratch *w) {
    const int Hd = 4 * D;
    const device_t dv = m->dev;
    if (s->x2) dev_copy(dv, s->x2, x, (size_t)N * D);
    OP(dv, layernorm_forward, w->h, s->mean2, s->rstd2, x, WT(k->ln2_w), WT(k->ln2_b), N, D, LN_EPS);
    OP(dv, linear_forward, s->fc, w->h, WT(k->fc_w), WT(k->fc_b), N, D, Hd);
    OP(dv, quickgelu_forward, w->g, s->fc, (size_t)N * Hd);
    OP(dv, linear_forward, w->h, w->g, WT(k->proj_w), WT(k->proj_b), N, Hd, D);
    OP(dv, vec_axpy, x, 1, w->h, (size_t)N * D);
}

/* x (N,D) <- block(x); off (B+1) a host array */
static void block_forward(const clip_model *m, const clip_block *k, const clip_tower_dims *d, float *x,
                          const int *off, int B, int causal, block_save *s, block_scratch *w) {
    const int N = off[B], D = d->width;
    const device_t dv = m->dev;
    if (s->x) dev_copy(dv, s->x, x, (size_t)N * D);
    OP(dv, layernorm_forward, w->h, s->mean1, s->rstd1, x, WT(k->ln1_w), WT(k->ln1_b), N, D, LN_EPS);
    OP(dv, linear_forward, s->qkv, w->h, WT(k->in_w), WT(k->in_b), N, D, 3 * D);
    OP(dv, attention_forward, w->a, s->att, s->qkv, off, B, D, d->heads, causal);
    OP(dv, linear_forward, w->h, w->a, WT(k->out_w), WT(k->out_b), N, D, D);
    OP(dv, vec_axpy, x, 1, w->h, (size_t)N * D);
    mlp_forward(m, k, x, N, D, s, w);
}

/* out (B,E) = in (B,D) · proj (D,E): linear_backward's din = dout·w with w = proj as (O,I) = (D,E) */
static void project(const clip_model *m, float *out, const float *in, const float *proj, int B, int D, int E) {
    if (B > 0) OP(m->dev, linear_backward, out, NULL, NULL, in, NULL, proj, B, E, D);
}

/* ---------------------------------------------------------------- text tower */

int clip_encode_text(const clip_model *m, float *feat, const int32_t *ids, int B, int L, char *err, size_t errlen) {
    return clip_text_forward(m, feat, ids, B, L, NULL, err, errlen);
}

/* a ctx's per-block saves for n rows (att: na floats) */
static void save_alloc(const clip_model *m, block_save *s, size_t n, int D, size_t na) {
    const size_t nd = n * (size_t)D;
    s->x = dalloc(m, nd);
    s->x2 = dalloc(m, nd);
    s->mean1 = dalloc(m, n);
    s->rstd1 = dalloc(m, n);
    s->mean2 = dalloc(m, n);
    s->rstd2 = dalloc(m, n);
    s->qkv = dalloc(m, 3 * nd);
    s->att = dalloc(m, na);
    s->fc = dalloc(m, 4 * nd);
}

int clip_text_forward(const clip_model *m, float *feat, const int32_t *ids, int B, int L, clip_text_ctx **ctxp,
                      char *err, size_t errlen) {
    const int D = m->txt.width, E = m->embed_dim;
    const device_t dv = m->dev;
    if (ctxp) *ctxp = NULL;
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
    /* the embeddings x (N,D): gathered on the host from the host weights, then on the device;
     * a trainable model on the GPU has no host weights and gathers them there row by row */
    float *x;
    if (m->w[m->tok_emb]) {
        float *xh = xmalloc((size_t)N * D * sizeof(float));
        const float *tok = m->w[m->tok_emb], *pos = m->w[m->txt_pos];
        for (int b = 0; b < B; b++)
            for (int t = 0; t <= eot[b]; t++) {
                float *xr = xh + (size_t)(off[b] + t) * D;
                const float *te = tok + (size_t)ids[(size_t)b * L + t] * D, *pe = pos + (size_t)t * D;
                for (int c = 0; c < D; c++) xr[c] = te[c] + pe[c];
            }
        x = xh;
        if (dv != DEVICE_CPU) {
            x = dalloc(m, (size_t)N * D);
            dev_upload(dv, x, xh, (size_t)N * D);
            free(xh);
        }
    } else {
        x = dalloc(m, (size_t)N * D);
        for (int b = 0; b < B; b++) {
            for (int t = 0; t <= eot[b]; t++)
                dev_copy(dv, x + (size_t)(off[b] + t) * D, WT(m->tok_emb) + (size_t)ids[(size_t)b * L + t] * D, (size_t)D);
            OP(dv, vec_axpy, x + (size_t)off[b] * D, 1, WT(m->txt_pos), (size_t)(eot[b] + 1) * D);
        }
    }
    clip_text_ctx *ctx = NULL;
    block_save shared = {0};
    if (ctxp) {
        ctx = xcalloc(1, sizeof *ctx);
        *ctx = (clip_text_ctx){.B = B, .N = N, .off = off, .eot = eot};
        ctx->ids = xmalloc((size_t)(N ? N : 1) * sizeof *ctx->ids);
        for (int b = 0; b < B; b++)
            for (int t = 0; t <= eot[b]; t++) ctx->ids[off[b] + t] = ids[(size_t)b * L + t];
        ctx->s = xcalloc((size_t)(m->txt.layers ? m->txt.layers : 1), sizeof *ctx->s);
        for (int l = 0; l < m->txt.layers; l++) save_alloc(m, &ctx->s[l], (size_t)N, D, att_size(off, B, m->txt.heads));
    } else {
        shared.qkv = dalloc(m, (size_t)N * 3 * D);
        shared.fc = dalloc(m, (size_t)N * 4 * D);
    }
    block_scratch w = {dalloc(m, (size_t)N * D), dalloc(m, (size_t)N * D), dalloc(m, (size_t)N * 4 * D)};
    for (int l = 0; l < m->txt.layers; l++) block_forward(m, &m->tblocks[l], &m->txt, x, off, B, 1, ctx ? &ctx->s[l] : &shared, &w);
    float *h = dalloc(m, (size_t)B * D), *fd = dalloc(m, (size_t)B * E);
    for (int b = 0; b < B; b++) dev_copy(dv, h + (size_t)b * D, x + (size_t)(off[b + 1] - 1) * D, (size_t)D);
    if (ctx) {
        ctx->hf_in = dalloc(m, (size_t)B * D);
        dev_copy(dv, ctx->hf_in, h, (size_t)B * D);
        ctx->meanf = dalloc(m, (size_t)B);
        ctx->rstdf = dalloc(m, (size_t)B);
    }
    OP(dv, layernorm_forward, h, ctx ? ctx->meanf : NULL, ctx ? ctx->rstdf : NULL, h, WT(m->ln_final_w), WT(m->ln_final_b),
       B, D, LN_EPS);
    project(m, fd, h, WT(m->txt_proj), B, D, E);
    dev_download(dv, feat, fd, (size_t)B * E);
    dev_free(dv, h); dev_free(dv, fd); dev_free(dv, x); dev_free(dv, w.h); dev_free(dv, w.a); dev_free(dv, w.g);
    save_free(dv, &shared);
    if (ctx) *ctxp = ctx;
    else { free(off); free(eot); }
    return 0;
}

/* ---------------------------------------------------------------- image tower */

/* The image feature is read at the class token, so the last block needs its other rows only as
 * keys and values: there the queries, out_proj, ln_2 and the MLP run on the B class tokens alone
 * (about 5/6 of that block's work skipped, forward and backward; cls_attention_* in
 * lib/cpu/attention.c). Its save (block_save reused): x, mean1, rstd1 the block's input rows (N);
 * qkv = kv (N,2D) [k | v] then q (B,D); att (B,nh,T); x2, mean2, rstd2, fc for the B class rows. */

/* xc (B,D) = the class rows of block(x), x (N,D) = B sequences of T rows (x is left as it was) */
static void last_block_forward(const clip_model *m, const clip_block *k, const clip_tower_dims *d, float *xc,
                               const float *x, int B, int T, block_save *s, block_scratch *w) {
    const int N = B * T, D = d->width;
    const device_t dv = m->dev;
    float *kv = s->qkv, *q = s->qkv + (size_t)N * 2 * D, *hc = w->a, *ao = w->a + (size_t)B * D;
    if (s->x) dev_copy(dv, s->x, x, (size_t)N * D);
    OP(dv, layernorm_forward, w->h, s->mean1, s->rstd1, x, WT(k->ln1_w), WT(k->ln1_b), N, D, LN_EPS);
    OP(dv, linear_forward, kv, w->h, WT(k->in_w) + (size_t)D * D, WT(k->in_b) + D, N, D, 2 * D);
    for (int b = 0; b < B; b++) dev_copy(dv, hc + (size_t)b * D, w->h + (size_t)b * T * D, (size_t)D);
    OP(dv, linear_forward, q, hc, WT(k->in_w), WT(k->in_b), B, D, D);
    OP(dv, cls_attention_forward, ao, s->att, q, kv, B, T, D, d->heads);
    OP(dv, linear_forward, w->h, ao, WT(k->out_w), WT(k->out_b), B, D, D);
    for (int b = 0; b < B; b++) OP(dv, vec_add, xc + (size_t)b * D, x + (size_t)b * T * D, w->h + (size_t)b * D, (size_t)D);
    mlp_forward(m, k, xc, B, D, s, w);
}

/* clip_encode_image, the images in host memory or (on_dev) on the model's device */
static void encode_image(const clip_model *m, float *feat, const float *images, int on_dev, int B, int H, int W,
                         int resize_mode, clip_image_ctx **ctxp) {
    const int S = m->image_size, P = m->patch, g = m->grid, D = m->vis.width, E = m->embed_dim;
    const int T = g * g + 1, N = B * T, K = 3 * P * P, np = B * g * g;
    const device_t dv = m->dev;
    /* preprocessing: [-1,1] -> [0,1] -> resize -> normalise */
    const size_t nin = (size_t)B * 3 * H * W, nr = (size_t)B * 3 * S * S;
    float *pre = dalloc(m, nin), *r = dalloc(m, nr);
    if (on_dev) dev_copy(dv, pre, images, nin);
    else dev_upload(dv, pre, images, nin);
    OP(dv, scale_shift, pre, pre, nin, 0.5f, 0.5f);
    OP(dv, resize_forward, r, pre, B * 3, H, W, S, S, resize_mode);
    OP(dv, clip_normalize_forward, r, r, B, (size_t)S * S);
    dev_free(dv, pre);
    /* patchify: conv1 as a product over the non-overlapping patches */
    float *patches = dalloc(m, (size_t)np * K);
    OP(dv, patchify_forward, patches, r, B, 3, S, P);
    dev_free(dv, r);
    float *emb = dalloc(m, (size_t)np * D);
    OP(dv, linear_forward, emb, patches, WT(m->conv1), NULL, np, K, D);
    if (!ctxp) dev_free(dv, patches);   /* else kept for conv1's weight gradient */
    /* x (N,D): [class_embedding, patch embeddings] + positional_embedding, per image */
    float *x = dalloc(m, (size_t)N * D);
    for (int b = 0; b < B; b++) {
        float *xb = x + (size_t)b * T * D;
        dev_copy(dv, xb, WT(m->class_emb), (size_t)D);
        dev_copy(dv, xb + D, emb + (size_t)b * g * g * D, (size_t)g * g * D);
        OP(dv, vec_axpy, xb, 1, WT(m->vis_pos), (size_t)T * D);
    }
    dev_free(dv, emb);
    int *off = xmalloc((size_t)(B + 1) * sizeof *off);
    for (int b = 0; b <= B; b++) off[b] = b * T;
    const size_t nd = (size_t)N * D, na = att_size(off, B, m->vis.heads);
    clip_image_ctx *ctx = NULL;
    block_save shared = {0};
    if (ctxp) {
        ctx = xcalloc(1, sizeof *ctx);
        *ctx = (clip_image_ctx){.B = B, .H = H, .W = W, .mode = resize_mode, .T = T, .N = N, .off = off,
                                .patches = patches};
        ctx->x0 = dalloc(m, nd);
        dev_copy(dv, ctx->x0, x, nd);
        ctx->mean0 = dalloc(m, (size_t)N);
        ctx->rstd0 = dalloc(m, (size_t)N);
        ctx->s = xcalloc((size_t)(m->vis.layers ? m->vis.layers : 1), sizeof *ctx->s);
        for (int l = 0; l < m->vis.layers; l++) {
            block_save *s = &ctx->s[l];
            if (l == m->vis.layers - 1) {   /* the last block's save: see last_block_forward */
                s->x = dalloc(m, nd);
                s->mean1 = dalloc(m, (size_t)N);
                s->rstd1 = dalloc(m, (size_t)N);
                s->qkv = dalloc(m, (size_t)N * 2 * D + (size_t)B * D);
                s->att = dalloc(m, (size_t)B * m->vis.heads * T);
                s->x2 = dalloc(m, (size_t)B * D);
                s->mean2 = dalloc(m, (size_t)B);
                s->rstd2 = dalloc(m, (size_t)B);
                s->fc = dalloc(m, (size_t)B * 4 * D);
                continue;
            }
            save_alloc(m, s, (size_t)N, D, na);
        }
    } else {
        shared.qkv = dalloc(m, 3 * nd);
        shared.fc = dalloc(m, 4 * nd);
    }
    OP(dv, layernorm_forward, x, ctx ? ctx->mean0 : NULL, ctx ? ctx->rstd0 : NULL, x, WT(m->ln_pre_w),
       WT(m->ln_pre_b), N, D, LN_EPS);
    block_scratch w = {dalloc(m, nd), dalloc(m, nd), dalloc(m, 4 * nd)};
    const int L = m->vis.layers;
    for (int l = 0; l < L - 1; l++)
        block_forward(m, &m->vblocks[l], &m->vis, x, off, B, 0, ctx ? &ctx->s[l] : &shared, &w);
    /* hin (B,D): the class tokens after the blocks */
    float *hp = dalloc(m, (size_t)B * D), *hin = dalloc(m, (size_t)B * D), *fd = dalloc(m, (size_t)B * E);
    if (L > 0) last_block_forward(m, &m->vblocks[L - 1], &m->vis, hin, x, B, T, ctx ? &ctx->s[L - 1] : &shared, &w);
    else
        for (int b = 0; b < B; b++) dev_copy(dv, hin + (size_t)b * D, x + (size_t)b * T * D, (size_t)D);
    float *mp = ctx ? dalloc(m, (size_t)B) : NULL, *rp = ctx ? dalloc(m, (size_t)B) : NULL;
    OP(dv, layernorm_forward, hp, mp, rp, hin, WT(m->ln_post_w), WT(m->ln_post_b), B, D, LN_EPS);
    project(m, fd, hp, WT(m->vis_proj), B, D, E);
    dev_download(dv, feat, fd, (size_t)B * E);
    dev_free(dv, fd); dev_free(dv, hp); dev_free(dv, x); dev_free(dv, w.h); dev_free(dv, w.a); dev_free(dv, w.g);
    save_free(dv, &shared);
    if (ctx) {
        ctx->hp_in = hin; ctx->meanp = mp; ctx->rstdp = rp;
        *ctxp = ctx;
    } else {
        dev_free(dv, hin);
        free(off);
    }
}

void clip_encode_image(const clip_model *m, float *feat, const float *images, int B, int H, int W,
                       int resize_mode, clip_image_ctx **ctx) {
    encode_image(m, feat, images, 0, B, H, W, resize_mode, ctx);
}

void clip_encode_image_dev(const clip_model *m, float *feat, const float *images, int B, int H, int W,
                           int resize_mode, clip_image_ctx **ctx) {
    encode_image(m, feat, images, 1, B, H, W, resize_mode, ctx);
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
