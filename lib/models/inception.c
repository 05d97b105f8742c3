/* inception.c: see inception.h. The forward pass follows torchvision's Inception3 (and
 * pytorch-fid's FIDInception* blocks) module by module; each block writes its branches straight
 * into their channel slices of the block's output (concatenation costs nothing in (C,B,H,W)).
 * Every op goes through OP(m->dev, ...) (lib/core/op_list.h: conv2d_rect_forward,
 * bias_relu_forward, maxpool3_forward, avgpool3_bias_relu_forward, meanpool_forward,
 * resize_bilinear2d_forward, scale_shift, cnhw_to_nchw) on buffers of the model's device, so the CPU
 * and CUDA run the same code. */
#include "models/inception.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/finite.h"
#include "core/ops.h"
#include "core/rng.h"

/* ---- the layer table, in forward order ---- */

#define MAXCONV 96
static inception_conv table[MAXCONV];
static char names[MAXCONV][48];
static int ntable;

static void add(const char *block, const char *branch, int C, int OC, int KH, int KW, int s, int ph, int pw)
{
    if (branch)
        snprintf(names[ntable], sizeof names[ntable], "%s.%s", block, branch);
    else
        snprintf(names[ntable], sizeof names[ntable], "%s", block);
    table[ntable] = (inception_conv){names[ntable], C, OC, KH, KW, s, s, ph, pw, NULL, NULL};
    ntable++;
}

static void add_a(const char *p, int in, int pf)
{
    add(p, "branch1x1", in, 64, 1, 1, 1, 0, 0);
    add(p, "branch5x5_1", in, 48, 1, 1, 1, 0, 0);
    add(p, "branch5x5_2", 48, 64, 5, 5, 1, 2, 2);
    add(p, "branch3x3dbl_1", in, 64, 1, 1, 1, 0, 0);
    add(p, "branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1);
    add(p, "branch3x3dbl_3", 96, 96, 3, 3, 1, 1, 1);
    add(p, "branch_pool", in, pf, 1, 1, 1, 0, 0);
}

static void add_c(const char *p, int c7)
{
    add(p, "branch1x1", 768, 192, 1, 1, 1, 0, 0);
    add(p, "branch7x7_1", 768, c7, 1, 1, 1, 0, 0);
    add(p, "branch7x7_2", c7, c7, 1, 7, 1, 0, 3);
    add(p, "branch7x7_3", c7, 192, 7, 1, 1, 3, 0);
    add(p, "branch7x7dbl_1", 768, c7, 1, 1, 1, 0, 0);
    add(p, "branch7x7dbl_2", c7, c7, 7, 1, 1, 3, 0);
    add(p, "branch7x7dbl_3", c7, c7, 1, 7, 1, 0, 3);
    add(p, "branch7x7dbl_4", c7, c7, 7, 1, 1, 3, 0);
    add(p, "branch7x7dbl_5", c7, 192, 1, 7, 1, 0, 3);
    add(p, "branch_pool", 768, 192, 1, 1, 1, 0, 0);
}

static void add_e(const char *p, int in)
{
    add(p, "branch1x1", in, 320, 1, 1, 1, 0, 0);
    add(p, "branch3x3_1", in, 384, 1, 1, 1, 0, 0);
    add(p, "branch3x3_2a", 384, 384, 1, 3, 1, 0, 1);
    add(p, "branch3x3_2b", 384, 384, 3, 1, 1, 1, 0);
    add(p, "branch3x3dbl_1", in, 448, 1, 1, 1, 0, 0);
    add(p, "branch3x3dbl_2", 448, 384, 3, 3, 1, 1, 1);
    add(p, "branch3x3dbl_3a", 384, 384, 1, 3, 1, 0, 1);
    add(p, "branch3x3dbl_3b", 384, 384, 3, 1, 1, 1, 0);
    add(p, "branch_pool", in, 192, 1, 1, 1, 0, 0);
}

/* The 1x1 convolutions of a Mixed block that read the block's input share one weight
 * allocation: their (OC,C) matrices lie one after the other in table order (branch_pool last), so
 * that the forward pass runs them as one gemm with the output channels concatenated. ghead[i]:
 * the table index of the first of conv i's group (i itself when it is in none or heads it). */
static int ghead[MAXCONV];

static int reads_block_input(const char *name)
{
    static const char *suf[] = {".branch1x1", ".branch5x5_1", ".branch3x3dbl_1", ".branch7x7_1", ".branch7x7dbl_1",
                                ".branch3x3_1", ".branch7x7x3_1", ".branch_pool"};
    if (strncmp(name, "Mixed_", 6) != 0) return 0;
    const char *dot = strchr(name, '.');
    for (size_t k = 0; dot && k < sizeof suf / sizeof *suf; k++)
        if (strcmp(dot, suf[k]) == 0) return 1;
    return 0;
}

static void make_groups(void)
{
    for (int i = 0; i < ntable; i++) {
        ghead[i] = i;
        if (!reads_block_input(table[i].name)) continue;
        size_t n = strchr(table[i].name, '.') - table[i].name;
        for (int j = 0; j < i; j++)
            if (reads_block_input(table[j].name) && strncmp(table[j].name, table[i].name, n) == 0 &&
                table[j].name[n] == '.') {
                ghead[i] = j;
                break;
            }
    }
}

const inception_conv *inception_layers(int *n)
{
    if (!ntable) {
        add("Conv2d_1a_3x3", NULL, 3, 32, 3, 3, 2, 0, 0);
        add("Conv2d_2a_3x3", NULL, 32, 32, 3, 3, 1, 0, 0);
        add("Conv2d_2b_3x3", NULL, 32, 64, 3, 3, 1, 1, 1);
        add("Conv2d_3b_1x1", NULL, 64, 80, 1, 1, 1, 0, 0);
        add("Conv2d_4a_3x3", NULL, 80, 192, 3, 3, 1, 0, 0);
        add_a("Mixed_5b", 192, 32);
        add_a("Mixed_5c", 256, 64);
        add_a("Mixed_5d", 288, 64);
        add("Mixed_6a", "branch3x3", 288, 384, 3, 3, 2, 0, 0);
        add("Mixed_6a", "branch3x3dbl_1", 288, 64, 1, 1, 1, 0, 0);
        add("Mixed_6a", "branch3x3dbl_2", 64, 96, 3, 3, 1, 1, 1);
        add("Mixed_6a", "branch3x3dbl_3", 96, 96, 3, 3, 2, 0, 0);
        add_c("Mixed_6b", 128);
        add_c("Mixed_6c", 160);
        add_c("Mixed_6d", 160);
        add_c("Mixed_6e", 192);
        add("Mixed_7a", "branch3x3_1", 768, 192, 1, 1, 1, 0, 0);
        add("Mixed_7a", "branch3x3_2", 192, 320, 3, 3, 2, 0, 0);
        add("Mixed_7a", "branch7x7x3_1", 768, 192, 1, 1, 1, 0, 0);
        add("Mixed_7a", "branch7x7x3_2", 192, 192, 1, 7, 1, 0, 3);
        add("Mixed_7a", "branch7x7x3_3", 192, 192, 7, 1, 1, 3, 0);
        add("Mixed_7a", "branch7x7x3_4", 192, 192, 3, 3, 2, 0, 0);
        add_e("Mixed_7b", 1280);
        add_e("Mixed_7c", 2048);
        make_groups();
    }
    *n = ntable;
    return table;
}

/* ---- weights ---- */

static const char *bn_keys[4] = {"bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"};

/* a finite float32/float64 array of the expected shape as doubles (malloc'd), or NULL with a message
 * (*nonfinite set when a NaN or Inf was the fault) */
static double *get_param(const npz *z, const char *path, const char *key, int ndim, const int64_t *shape,
                         int *nonfinite, char *err, size_t errlen)
{
    const npy_array *a = npz_find(z, key);
    char want[64], got[64];
    npy_format_shape(want, sizeof want, ndim, shape);
    if (!a) {
        snprintf(err, errlen, "%s: expected Inception-v3 weight '%s' %s, found no such key", path, key, want);
        return NULL;
    }
    int ok = (a->dtype == NPY_F4 || a->dtype == NPY_F8) && a->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = a->shape[i] == shape[i];
    if (!ok) {
        npy_format_shape(got, sizeof got, a->ndim, a->shape);
        snprintf(err, errlen, "%s: expected '%s' float32 or float64 %s, found %s %s", path, key, want,
                 npy_dtype_name(a->dtype), got);
        return NULL;
    }
    if (check_finite(a, err, errlen, path, "in '%s'", key)) {
        *nonfinite = 1;
        return NULL;
    }
    double *d = xmalloc((size_t)a->count * sizeof(double));
    for (int64_t i = 0; i < a->count; i++)
        d[i] = a->dtype == NPY_F4 ? ((const float *)a->data)[i] : ((const double *)a->data)[i];
    return d;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

int inception_load(inception *m, const npz *z, const char *path, inception_variant v, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    m->variant = v;
    const inception_conv *t = inception_layers(&m->nconv);
    /* every key must be one we use or one we knowingly ignore */
    for (int k = 0; k < z->n; k++) {
        const char *key = z->items[k].key;
        if (strncmp(key, "fc.", 3) == 0 || strncmp(key, "AuxLogits.", 10) == 0 || ends_with(key, ".num_batches_tracked") ||
            strcmp(key, INCEPTION_RANDOM_KEY) == 0)
            continue;
        int known = 0;
        for (int i = 0; i < m->nconv && !known; i++) {
            size_t n = strlen(t[i].name);
            if (strncmp(key, t[i].name, n) == 0 && key[n] == '.') {
                const char *rest = key + n + 1;
                known = strcmp(rest, "conv.weight") == 0;
                for (int j = 0; j < 4; j++) known |= strcmp(rest, bn_keys[j]) == 0;
            }
        }
        if (!known) {
            snprintf(err, errlen, "%s: expected torchvision Inception-v3 keys, found unexpected key '%s'", path, key);
            return -1;
        }
    }
    m->conv = xcalloc((size_t)m->nconv, sizeof *m->conv);
    int nonfinite = 0;
    for (int i = 0; i < m->nconv; i++) {
        inception_conv *c = &m->conv[i];
        *c = t[i];
        char key[128];
        snprintf(key, sizeof key, "%s.conv.weight", c->name);
        int64_t ws[4] = {c->OC, c->C, c->KH, c->KW}, bs[1] = {c->OC};
        double *w = get_param(z, path, key, 4, ws, &nonfinite, err, errlen), *bn[4] = {0};
        int bad = !w;
        for (int j = 0; j < 4 && !bad; j++) {
            snprintf(key, sizeof key, "%s.%s", c->name, bn_keys[j]);
            bad = !(bn[j] = get_param(z, path, key, 1, bs, &nonfinite, err, errlen));
        }
        if (!bad) {
            size_t per = (size_t)c->C * c->KH * c->KW;
            c->w = xmalloc((size_t)c->OC * per * sizeof(float));
            c->b = xmalloc((size_t)c->OC * sizeof(float));
            for (int o = 0; o < c->OC; o++) {
                double var = bn[3][o];
                if (!(var >= 0)) {   /* finite: get_param checked */
                    snprintf(err, errlen, "%s: expected '%s.bn.running_var' >= 0, found %g at %d", path, c->name, var, o);
                    bad = 1;
                    break;
                }
                double s = bn[0][o] / sqrt(var + INCEPTION_BN_EPS);
                for (size_t k = 0; k < per; k++) c->w[o * per + k] = (float)(w[o * per + k] * s);
                c->b[o] = (float)(bn[1][o] - bn[2][o] * s);
            }
        }
        free(w);
        for (int j = 0; j < 4; j++) free(bn[j]);
        if (bad) {
            for (int j = 0; j <= i; j++) {
                free(m->conv[j].w);
                free(m->conv[j].b);
            }
            free(m->conv);
            memset(m, 0, sizeof *m);
            return nonfinite ? ERR_NONFINITE : -1;
        }
    }
    /* pack each group's weights and biases into one allocation, members in table order */
    for (int h = 0; h < m->nconv; h++) {
        int members = 0;
        size_t nw = 0, nb = 0;
        for (int i = h; i < m->nconv; i++)
            if (ghead[i] == h) members++, nw += (size_t)m->conv[i].OC * m->conv[i].C, nb += (size_t)m->conv[i].OC;
        if (members < 2) continue;
        float *w = xmalloc(nw * sizeof(float)), *b = xmalloc(nb * sizeof(float));
        size_t ow = 0, ob = 0;
        for (int i = h; i < m->nconv; i++) {
            inception_conv *c = &m->conv[i];
            if (ghead[i] != h) continue;
            memcpy(w + ow, c->w, (size_t)c->OC * c->C * sizeof(float));
            memcpy(b + ob, c->b, (size_t)c->OC * sizeof(float));
            free(c->w);
            free(c->b);
            c->w = w + ow;
            c->b = b + ob;
            ow += (size_t)c->OC * c->C;
            ob += (size_t)c->OC;
        }
    }
    return 0;
}

void inception_free(inception *m)
{
    if (m->conv)
        for (int i = 0; i < m->nconv; i++) {
            if (ghead[i] != i) continue;   /* its weights belong to its group's first */
            free(m->conv[i].w);
            free(m->conv[i].b);
        }
    free(m->conv);
    free(m->dconv);
    dev_free(DEVICE_CUDA, m->dbuf);
    for (int i = 0; i < INCEPTION_BUFS; i++) dev_free(m->dev, m->bufs[i]);
    memset(m, 0, sizeof *m);
}

/* the floats of conv h's group (h heads it: its members' weights follow h's in one allocation) */
static void group_size(const inception *m, int h, size_t *nw, size_t *nb)
{
    *nw = *nb = 0;
    for (int i = h; i < m->nconv; i++)
        if (ghead[i] == h) {
            const inception_conv *c = &m->conv[i];
            *nw += (size_t)c->OC * c->C * c->KH * c->KW;
            *nb += (size_t)c->OC;
        }
}

void inception_to_device(inception *m, device_t dev)
{
    if (dev != DEVICE_CUDA || m->dbuf) return;
    size_t total = 0, nw, nb;
    for (int h = 0; h < m->nconv; h++)
        if (ghead[h] == h) group_size(m, h, &nw, &nb), total += nw + nb;
    m->dbuf = dev_alloc(DEVICE_CUDA, total);
    m->dconv = xmalloc((size_t)m->nconv * sizeof *m->dconv);
    memcpy(m->dconv, m->conv, (size_t)m->nconv * sizeof *m->dconv);
    float *p = m->dbuf;
    for (int h = 0; h < m->nconv; h++) {
        if (ghead[h] != h) continue;
        const inception_conv *head = &m->conv[h];
        group_size(m, h, &nw, &nb);
        dev_upload(DEVICE_CUDA, p, head->w, nw);
        dev_upload(DEVICE_CUDA, p + nw, head->b, nb);
        for (int i = h; i < m->nconv; i++)   /* the members keep their offsets in the group */
            if (ghead[i] == h) {
                m->dconv[i].w = p + (m->conv[i].w - head->w);
                m->dconv[i].b = p + nw + (m->conv[i].b - head->b);
            }
        p += nw + nb;
    }
    for (int i = 0; i < INCEPTION_BUFS; i++) {   /* scratch made on the CPU, if any, is remade */
        dev_free(m->dev, m->bufs[i]);
        m->bufs[i] = NULL;
        m->caps[i] = 0;
    }
    m->dev = DEVICE_CUDA;
}

int inception_write_random(const char *path, uint64_t seed, char *err, size_t errlen)
{
    int n;
    const inception_conv *t = inception_layers(&n);
    npz_item *items = xcalloc((size_t)n * 5 + 1, sizeof *items);
    int k = 0;
    for (int i = 0; i < n; i++) {
        const inception_conv *c = &t[i];
        rng_t r;
        rng_init(&r, seed, (uint64_t)i);
        size_t per = (size_t)c->C * c->KH * c->KW, nw = (size_t)c->OC * per;
        float *w = xmalloc(nw * sizeof(float));
        double sd = sqrt(2.0 / (double)per);
        for (size_t j = 0; j < nw; j++) w[j] = (float)(sd * rng_normal(&r));
        char key[128];
        snprintf(key, sizeof key, "%s.conv.weight", c->name);
        items[k++] = (npz_item){xstrdup(key), {NPY_F4, 4, {c->OC, c->C, c->KH, c->KW}, (int64_t)nw, w}};
        for (int j = 0; j < 4; j++) {
            float *p = xmalloc((size_t)c->OC * sizeof(float));
            for (int o = 0; o < c->OC; o++)
                p[o] = (float)(j == 0 || j == 3 ? 0.5 + rng_uniform(&r) : 0.1 * rng_normal(&r));
            snprintf(key, sizeof key, "%s.%s", c->name, bn_keys[j]);
            items[k++] = (npz_item){xstrdup(key), {NPY_F4, 1, {c->OC}, c->OC, p}};
        }
    }
    int64_t *sd = xmalloc(sizeof *sd);
    *sd = (int64_t)seed;
    items[k++] = (npz_item){xstrdup(INCEPTION_RANDOM_KEY), {NPY_I8, 0, {0}, 1, sd}};
    int rc = npz_write(path, items, k, err, errlen);
    for (int i = 0; i < k; i++) {
        free(items[i].key);
        free(items[i].arr.data);
    }
    free(items);
    return rc;
}

/* ---- scratch ---- */

/* Slots: 0, 1 the activations between blocks; 2, 3, 5 a block's temporaries; 4 the pooled
 * features (2048,B); 6 the features (B,2048); 7 the network input; 8 one image being
 * preprocessed. Grow-only on the model's device. */
static float *buf(inception *m, int slot, size_t n)
{
    if (n > m->caps[slot]) {
        dev_free(m->dev, m->bufs[slot]);
        m->bufs[slot] = dev_alloc(m->dev, n ? n : 1);
        m->caps[slot] = n;
    }
    return m->bufs[slot];
}

/* ---- input transform ---- */

float *inception_input(inception *m, int B) { return buf(m, 7, (size_t)3 * B * INCEPTION_SIZE * INCEPTION_SIZE); }

void inception_preprocess(inception *m, float *net_in, int b, int B, const float *x, int H, int W)
{
    static const double mean[3] = {0.485, 0.456, 0.406}, stdv[3] = {0.229, 0.224, 0.225};
    const size_t S = INCEPTION_SIZE, HW = (size_t)H * W;
    const device_t dv = m->dev;
    float *u = buf(m, 8, 3 * HW);
    dev_upload(dv, u, x, 3 * HW);
    /* [−1,1] → [0,1]: pytorch-fid's input range; DF-GAN's Normalize((−1,−1,−1), (2,2,2)) */
    OP(dv, scale_shift, u, u, 3 * HW, 0.5f, 0.5f);
    for (int c = 0; c < 3; c++) {
        float *dst = net_in + ((size_t)c * B + b) * S * S;
        OP(dv, resize_bilinear2d_forward, dst, u + c * HW, 1, H, W, (int)S, (int)S, 0);
        if (m->variant == INCEPTION_FID) {
            OP(dv, scale_shift, dst, dst, S * S, 2.0f, -1.0f);
        } else {
            const float a = (float)(stdv[c] / 0.5), o = (float)((mean[c] - 0.5) / 0.5);
            OP(dv, scale_shift, dst, dst, S * S, a, o);
        }
    }
}

void inception_pack_input(inception *m, float *net_in, int n, int B)
{
    const size_t S2 = (size_t)INCEPTION_SIZE * INCEPTION_SIZE, len = (size_t)n * S2;
    if (n >= B) return;
    for (int c = 1; c < 3; c++) {
        float *dst = net_in + (size_t)c * n * S2;
        const float *src = net_in + (size_t)c * B * S2;
        if (m->dev != DEVICE_CUDA) {
            memmove(dst, src, len * sizeof(float));
            continue;
        }
        /* a device copy must not overlap: forward, in pieces no longer than the distance */
        const size_t step = (size_t)(src - dst);
        for (size_t k = 0; k < len; k += step) dev_copy(DEVICE_CUDA, dst + k, src + k, len - k < step ? len - k : step);
    }
}

/* ---- forward ---- */

/* a forward pass: the model, its convolutions with the weights on its device, the next one, B */
typedef struct { inception *m; const inception_conv *cv; int li, B; } fwd;
#define DV (f->m->dev)

/* next convolution of the table on in (C,B,H,W) → out; returns its output size in *Ho, *Wo */
static void conv(fwd *f, float *out, const float *in, int H, int W, int *Ho, int *Wo)
{
    const inception_conv *c = &f->cv[f->li++];
    OP(DV, conv2d_rect_forward, out, in, c->w, c->b, f->B, c->C, H, W, c->OC, c->KH, c->KW, c->sh, c->sw, c->ph,
       c->pw, 1);
    if (Ho) *Ho = (H + 2 * c->ph - c->KH) / c->sh + 1;
    if (Wo) *Wo = (W + 2 * c->pw - c->KW) / c->sw + 1;
}

/* the 1x1 convolutions g[0..n−1] (one group, see make_groups) of in (C,B,H,W) as one gemm:
 * T (ΣOC, B·H·W) without bias or ReLU, each member's rows after the previous member's */
static void group_gemm(fwd *f, float *T, const float *in, int H, int W, const int *g, int n)
{
    const inception_conv *c = f->cv;
    int OC = 0;
    for (int k = 0; k < n; k++) {
        if (ghead[g[k]] != g[0] || c[g[k]].w != c[g[0]].w + (size_t)OC * c[g[0]].C) die_runtime("inception: bad 1x1 group");
        OC += c[g[k]].OC;
    }
    OP(DV, conv2d_rect_forward, T, in, c[g[0]].w, NULL, f->B, c[g[0]].C, H, W, OC, 1, 1, 1, 1, 0, 0, 0);
}

/* the table's convolution i on in → out (bias, ReLU) */
static void conv_at(fwd *f, int i, float *out, const float *in, int H, int W)
{
    f->li = i;
    conv(f, out, in, H, W, 0, 0);
}

/* a slice of channels starting at c0 of an activation of plane size HW */
static float *at(float *p, int c0, int B, int HW) { return p + (size_t)c0 * B * HW; }

/* The pool branches with an average pool (avg_pool2d(3, 1, 1) then 1x1 conv + bias + ReLU) run
 * the 1x1 conv first, inside the block's 1x1 gemm, and pool its OC outputs, adding the bias and
 * ReLU after: the pool and a 1x1 conv are both linear and act on different axes, so they commute;
 * the bias goes in after the pool so that count_include_pad=True's border divisor scales only
 * the convolution. */
static void block_a(fwd *f, float *y, const float *x, int Cin, int H, int W)
{
    int B = f->B, HW = H * W, fidv = f->m->variant == INCEPTION_FID, L = f->li;
    const inception_conv *c = f->cv + L;
    size_t N = (size_t)B * HW;
    int g[4] = {L, L + 1, L + 3, L + 6};
    int o1 = c[0].OC, o2 = o1 + c[1].OC, o3 = o2 + c[3].OC, R = o3 + c[6].OC;
    float *T = buf(f->m, 2, (size_t)R * N), *t2 = buf(f->m, 3, (size_t)96 * N);
    (void)Cin;
    group_gemm(f, T, x, H, W, g, 4);
    OP(DV, bias_relu_forward, at(y, 0, B, HW), T, c[0].b, c[0].OC, N);
    /* 5x5_1 and 3x3dbl_1: adjacent */
    OP(DV, bias_relu_forward, T + o1 * N, T + o1 * N, c[1].b, c[1].OC + c[3].OC, N);
    OP(DV, avgpool3_bias_relu_forward, at(y, 224, B, HW), T + o3 * N, c[6].OC, B, H, W, !fidv, c[6].b, 1);
    conv_at(f, L + 2, at(y, 64, B, HW), T + o1 * N, H, W);
    conv_at(f, L + 4, t2, T + o2 * N, H, W);
    conv_at(f, L + 5, at(y, 128, B, HW), t2, H, W);
    f->li = L + 7;
}

static void block_b(fwd *f, float *y, const float *x, int H, int W)
{
    int B = f->B, Ho, Wo, HW = H * W;
    float *t1 = buf(f->m, 2, (size_t)64 * B * HW), *t2 = buf(f->m, 3, (size_t)96 * B * HW);
    conv(f, y, x, H, W, &Ho, &Wo);
    int HWo = Ho * Wo;
    conv(f, t1, x, H, W, 0, 0);
    conv(f, t2, t1, H, W, 0, 0);
    conv(f, at(y, 384, B, HWo), t2, H, W, 0, 0);
    OP(DV, maxpool3_forward, at(y, 480, B, HWo), x, (size_t)288 * B, H, W, 2, 0);
}

static void block_c(fwd *f, float *y, const float *x, int H, int W)
{
    int B = f->B, HW = H * W, fidv = f->m->variant == INCEPTION_FID, L = f->li;
    const inception_conv *c = f->cv + L;
    size_t N = (size_t)B * HW;
    int g[4] = {L, L + 1, L + 4, L + 9};
    int o1 = c[0].OC, o2 = o1 + c[1].OC, o3 = o2 + c[4].OC, R = o3 + c[9].OC;
    float *T = buf(f->m, 2, (size_t)R * N), *t2 = buf(f->m, 3, (size_t)192 * N), *t3 = buf(f->m, 5, (size_t)192 * N);
    group_gemm(f, T, x, H, W, g, 4);
    OP(DV, bias_relu_forward, y, T, c[0].b, c[0].OC, N);
    OP(DV, bias_relu_forward, T + o1 * N, T + o1 * N, c[1].b, c[1].OC + c[4].OC, N);
    OP(DV, avgpool3_bias_relu_forward, at(y, 576, B, HW), T + o3 * N, c[9].OC, B, H, W, !fidv, c[9].b, 1);
    conv_at(f, L + 2, t2, T + o1 * N, H, W);
    conv_at(f, L + 3, at(y, 192, B, HW), t2, H, W);
    conv_at(f, L + 5, t2, T + o2 * N, H, W);
    conv_at(f, L + 6, t3, t2, H, W);
    conv_at(f, L + 7, t2, t3, H, W);
    conv_at(f, L + 8, at(y, 384, B, HW), t2, H, W);
    f->li = L + 10;
}

static void block_d(fwd *f, float *y, const float *x, int H, int W)
{
    int B = f->B, HW = H * W, L = f->li, Ho, Wo;
    const inception_conv *c = f->cv + L;
    size_t N = (size_t)B * HW;
    int g[2] = {L, L + 2};
    int o1 = c[0].OC, R = o1 + c[2].OC;
    float *T = buf(f->m, 2, (size_t)R * N), *t2 = buf(f->m, 3, (size_t)192 * N), *t3 = buf(f->m, 5, (size_t)192 * N);
    group_gemm(f, T, x, H, W, g, 2);
    OP(DV, bias_relu_forward, T, T, c[0].b, R, N);   /* both members: biases adjacent too */
    f->li = L + 1;
    conv(f, y, T, H, W, &Ho, &Wo);
    int HWo = Ho * Wo;
    conv_at(f, L + 3, t2, T + o1 * N, H, W);
    conv_at(f, L + 4, t3, t2, H, W);
    conv_at(f, L + 5, at(y, 320, B, HWo), t3, H, W);
    OP(DV, maxpool3_forward, at(y, 512, B, HWo), x, (size_t)768 * B, H, W, 2, 0);
    f->li = L + 6;
}

/* pool: 0 avg count_include_pad=True (torchvision), 1 avg count_include_pad=False (FID E_1),
 * 2 max 3x3 stride 1 pad 1 (FID E_2) */
static void block_e(fwd *f, float *y, const float *x, int Cin, int H, int W, int pool)
{
    int B = f->B, HW = H * W, L = f->li;
    const inception_conv *c = f->cv + L;
    size_t N = (size_t)B * HW;
    int g[4] = {L, L + 1, L + 4, L + 8};
    int o1 = c[0].OC, o2 = o1 + c[1].OC, o3 = o2 + c[4].OC, R = o3 + c[8].OC;
    float *T = buf(f->m, 2, (size_t)R * N), *t2 = buf(f->m, 3, (size_t)448 * N);
    group_gemm(f, T, x, H, W, g, pool == 2 ? 3 : 4);
    OP(DV, bias_relu_forward, y, T, c[0].b, c[0].OC, N);
    OP(DV, bias_relu_forward, T + o1 * N, T + o1 * N, c[1].b, c[1].OC + c[4].OC, N);
    conv_at(f, L + 2, at(y, 320, B, HW), T + o1 * N, H, W);
    conv_at(f, L + 3, at(y, 704, B, HW), T + o1 * N, H, W);
    conv_at(f, L + 5, t2, T + o2 * N, H, W);
    conv_at(f, L + 6, at(y, 1088, B, HW), t2, H, W);
    conv_at(f, L + 7, at(y, 1472, B, HW), t2, H, W);
    if (pool == 2) {
        float *t3 = buf(f->m, 5, (size_t)Cin * N);
        OP(DV, maxpool3_forward, t3, x, (size_t)Cin * B, H, W, 1, 1);
        conv_at(f, L + 8, at(y, 1856, B, HW), t3, H, W);
    } else {
        OP(DV, avgpool3_bias_relu_forward, at(y, 1856, B, HW), T + o3 * N, c[8].OC, B, H, W, pool == 0, c[8].b, 1);
    }
    f->li = L + 9;
}

void inception_forward(inception *m, float *feat, const float *net_in, int B)
{
    fwd fw = {m, m->dev == DEVICE_CUDA ? m->dconv : m->conv, 0, B}, *f = &fw;
    int H = INCEPTION_SIZE, W = INCEPTION_SIZE, fidv = m->variant == INCEPTION_FID;
    size_t big = (size_t)64 * 147 * 147 * B;   /* the largest activation (Conv2d_2b_3x3's) */
    float *p = buf(m, 0, big), *q = buf(m, 1, big);
    conv(f, p, net_in, H, W, &H, &W);         /* Conv2d_1a_3x3: 32 x 149 */
    conv(f, q, p, H, W, &H, &W);              /* Conv2d_2a_3x3: 32 x 147 */
    conv(f, p, q, H, W, &H, &W);              /* Conv2d_2b_3x3: 64 x 147 */
    OP(DV, maxpool3_forward, q, p, (size_t)64 * B, H, W, 2, 0);
    H = (H - 3) / 2 + 1, W = (W - 3) / 2 + 1;  /* 73 */
    conv(f, p, q, H, W, &H, &W);              /* Conv2d_3b_1x1: 80 x 73 */
    conv(f, q, p, H, W, &H, &W);              /* Conv2d_4a_3x3: 192 x 71 */
    OP(DV, maxpool3_forward, p, q, (size_t)192 * B, H, W, 2, 0);
    H = (H - 3) / 2 + 1, W = (W - 3) / 2 + 1;  /* 35 */
    block_a(f, q, p, 192, H, W);              /* Mixed_5b: 256 */
    block_a(f, p, q, 256, H, W);              /* Mixed_5c: 288 */
    block_a(f, q, p, 288, H, W);              /* Mixed_5d: 288 */
    block_b(f, p, q, H, W);                   /* Mixed_6a: 768 x 17 */
    H = (H - 3) / 2 + 1, W = (W - 3) / 2 + 1;
    block_c(f, q, p, H, W);                   /* Mixed_6b..6e */
    block_c(f, p, q, H, W);
    block_c(f, q, p, H, W);
    block_c(f, p, q, H, W);
    block_d(f, q, p, H, W);                   /* Mixed_7a: 1280 x 8 */
    H = (H - 3) / 2 + 1, W = (W - 3) / 2 + 1;
    block_e(f, p, q, 1280, H, W, fidv ? 1 : 0);   /* Mixed_7b: 2048 */
    block_e(f, q, p, 2048, H, W, fidv ? 2 : 0);   /* Mixed_7c: 2048 */
    /* adaptive average pool to 1x1, then (2048,B) → (B,2048) */
    float *pooled = buf(m, 4, (size_t)INCEPTION_DIM * B);
    float *fd = buf(m, 6, (size_t)INCEPTION_DIM * B);
    OP(DV, meanpool_forward, pooled, q, (size_t)INCEPTION_DIM * B, H * W);
    OP(DV, cnhw_to_nchw, fd, pooled, B, INCEPTION_DIM, 1);
    dev_download(DV, feat, fd, (size_t)INCEPTION_DIM * B);
}
