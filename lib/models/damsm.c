/* damsm.c: DAMSM's RNN_ENCODER on the CPU (see damsm.h). */
#include "models/damsm.h"
#include "core/checkpoint.h"
#include "core/common.h"
#include "core/rng.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const dir_suffix[2] = {"", "_reverse"};

/* Rows per work unit of the recurrence: a unit's h, c and gates (128·(2+4)·128 floats) stay in L2. */
#ifndef DAMSM_CHUNK
#define DAMSM_CHUNK 128
#endif

void damsm_create(damsm_encoder *m, int vocab, int ninput, int nhidden) {
    memset(m, 0, sizeof *m);
    m->vocab = vocab;
    m->ninput = ninput;
    m->nhidden = nhidden;
    int64_t G = 4 * (int64_t)nhidden;
    char key[PARAM_KEY_MAX];
    m->i_emb = params_add(&m->ps, "encoder.weight", 2, vocab, ninput, 0, 0);
    for (int d = 0; d < 2; d++) {   /* nn.LSTM's order: per direction w_ih, w_hh, b_ih, b_hh */
        snprintf(key, sizeof key, "rnn.weight_ih_l0%s", dir_suffix[d]);
        m->i_wih[d] = params_add(&m->ps, key, 2, G, ninput, 0, 0);
        snprintf(key, sizeof key, "rnn.weight_hh_l0%s", dir_suffix[d]);
        m->i_whh[d] = params_add(&m->ps, key, 2, G, nhidden, 0, 0);
        snprintf(key, sizeof key, "rnn.bias_ih_l0%s", dir_suffix[d]);
        m->i_bih[d] = params_add(&m->ps, key, 1, G, 0, 0, 0);
        snprintf(key, sizeof key, "rnn.bias_hh_l0%s", dir_suffix[d]);
        m->i_bhh[d] = params_add(&m->ps, key, 1, G, 0, 0, 0);
    }
    params_alloc(&m->ps, DEVICE_CPU);
    /* calloc'd: pages are touched only for the ids a stream uses */
    m->proj = xcalloc((size_t)vocab * (size_t)(2 * G), sizeof(float));
    m->have = xcalloc((size_t)vocab, 1);
}

void damsm_free(damsm_encoder *m) {
    params_free(&m->ps);
    free(m->proj);
    free(m->have);
    memset(m, 0, sizeof *m);
}

/* A float32 matrix under key, or die naming what RNN_ENCODER's state_dict has there. */
static const npy_array *matrix(const npz *z, const char *path, const char *key, const char *want) {
    const npy_array *a = npz_find(z, key);
    if (!a) die_usage("%s: expected key '%s' (DAMSM RNN_ENCODER's state_dict), found none", path, key);
    int ok = a->dtype == NPY_F4 && a->ndim == 2 && a->shape[0] > 0 && a->shape[1] > 0;
    if (!ok) {
        char got[32 * NPY_MAX_DIMS + 8];
        npy_format_shape(got, sizeof got, a->ndim, a->shape);
        die_usage("%s: expected '%s' float32 %s, found %s %s", path, key, want, npy_dtype_name(a->dtype), got);
    }
    return a;
}

void damsm_load(damsm_encoder *m, const char *path) {
    npz z;
    ckpt_read(path, &z);
    const npy_array *emb = matrix(&z, path, "encoder.weight", "(vocab,ninput)");
    const npy_array *whh = matrix(&z, path, "rnn.weight_hh_l0", "(4*nhidden,nhidden)");
    if (whh->shape[0] != 4 * whh->shape[1]) {
        char got[64];
        npy_format_shape(got, sizeof got, whh->ndim, whh->shape);
        die_usage("%s: expected 'rnn.weight_hh_l0' float32 (4*nhidden,nhidden) (an LSTM's), found float32 %s", path,
                  got);
    }
    if (emb->shape[0] > INT32_MAX || emb->shape[1] > (1 << 20) || whh->shape[1] > (1 << 16))
        die_usage("%s: expected a vocabulary under 2^31 words, ninput up to 2^20 and nhidden up to 2^16, found "
                  "vocab %lld, ninput %lld, nhidden %lld", path, (long long)emb->shape[0], (long long)emb->shape[1],
                  (long long)whh->shape[1]);
    damsm_create(m, (int)emb->shape[0], (int)emb->shape[1], (int)whh->shape[1]);
    ckpt_load(&m->ps, &z, path);   /* checks every key's presence, dtype and shape, and no stray keys */
    npz_free(&z);
}

void damsm_init(damsm_encoder *m, uint64_t seed) {
    double lstm = 1.0 / sqrt((double)m->nhidden);
    for (int i = 0; i < m->ps.n; i++) {
        double bound = i == m->i_emb ? 0.1 : lstm;
        float *p = pdata(&m->ps, i);
        rng_t r;
        rng_init(&r, seed, (uint64_t)i);
        for (size_t k = 0; k < m->ps.info[i].size; k++) p[k] = (float)((2.0 * rng_uniform(&r) - 1.0) * bound);
    }
    memset(m->have, 0, (size_t)m->vocab);
}

int damsm_lengths(const damsm_encoder *m, const int32_t *ids, int64_t B, int64_t L, int *lens, char *err,
                  size_t errlen) {
    for (int64_t b = 0; b < B; b++) {
        const int32_t *row = ids + b * L;
        int len = 0, padded = 0;
        for (int64_t t = 0; t < L; t++) {
            int32_t id = row[t];
            if (id < 0 || id >= m->vocab) {
                snprintf(err, errlen, "expected token ids in [0,%d) (the encoder's vocabulary), found %d in row %lld, "
                         "column %lld", m->vocab, id, (long long)b, (long long)t);
                return -1;
            }
            if (id == 0) { padded = 1; continue; }
            if (padded) {
                snprintf(err, errlen, "expected padding (0) only after a caption's words, found id %d after padding in "
                         "row %lld, column %lld", id, (long long)b, (long long)t);
                return -1;
            }
            len++;
        }
        if (len == 0) {
            snprintf(err, errlen, "expected at least one word (non-zero id) in every caption, found an empty caption "
                     "(padding only) in row %lld", (long long)b);
            return -1;
        }
        lens[b] = len;
    }
    return 0;
}

/* Fill the projection cache for the ids of this batch not seen before: one gather and two sgemms
 * per block of new ids. Row id of proj: [fwd (4H) | bwd (4H)], each emb[id]·W_ihᵀ + b_ih + b_hh. */
static void fill_proj(damsm_encoder *m, const int32_t *ids, int64_t n_ids) {
    const int E = m->ninput, G = 4 * m->nhidden;
    int64_t nm = 0;
    int32_t *miss = NULL;
    for (int64_t k = 0; k < n_ids; k++) {
        int32_t id = ids[k];
        if (id > 0 && !m->have[id]) {
            if (!miss) miss = xmalloc((size_t)n_ids * sizeof *miss);
            m->have[id] = 1;
            miss[nm++] = id;
        }
    }
    if (!nm) return;
    /* Blocks of new ids spread over the threads, one single-threaded sgemm each: the same bits
     * whatever the number of threads. */
    const int64_t blk = 256, nblk = (nm + blk - 1) / blk;
    const float *emb = pdata(&m->ps, m->i_emb);
    const int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    const int par = nblk > 1 && nt > 1;
    int saved = openblas_get_num_threads();
    if (saved != 1) openblas_set_num_threads(1);
#pragma omp parallel num_threads(nt) if (par)
    {
        float *x = xmalloc((size_t)blk * (size_t)E * sizeof(float));
        float *y = xmalloc((size_t)blk * (size_t)(2 * G) * sizeof(float));
#pragma omp for schedule(dynamic, 1)
        for (int64_t bi = 0; bi < nblk; bi++) {
            const int64_t k0 = bi * blk, n = nm - k0 < blk ? nm - k0 : blk;
            for (int64_t k = 0; k < n; k++) {
                memcpy(x + k * E, emb + (size_t)miss[k0 + k] * E, (size_t)E * sizeof(float));
                for (int d = 0; d < 2; d++) {
                    const float *bi_ = pdata(&m->ps, m->i_bih[d]), *bh = pdata(&m->ps, m->i_bhh[d]);
                    float *yr = y + k * 2 * G + d * G;
                    for (int g = 0; g < G; g++) yr[g] = bi_[g] + bh[g];
                }
            }
            for (int d = 0; d < 2; d++)   /* y[:, d] (n,G) += x (n,E) · W_ihᵀ (E,G) */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, G, E, 1.f, x, E,
                            pdata(&m->ps, m->i_wih[d]), E, 1.f, y + d * G, 2 * G);
            for (int64_t k = 0; k < n; k++)
                memcpy(m->proj + (size_t)miss[k0 + k] * 2 * G, y + k * 2 * G, (size_t)(2 * G) * sizeof(float));
        }
        free(x);
        free(y);
    }
    if (saved != 1) openblas_set_num_threads(saved);
    free(miss);
}

/* expf, sigmoid and tanh for the gates, written so that the loop over a row vectorises (glibc's
 * expf/tanhf are scalar calls and took 60% of the time). Cephes' single-precision algorithms:
 * exp: x = n·ln2 + r, |r| <= ln2/2, 1 + r + r²·P(r); tanh: x + x·z·P(z) (z = x²) below 0.625,
 * else 1 - 2/(exp(2|x|) + 1) with x's sign. Both within a few ulp of the exact values. */
static inline float exp_approx(float x) {
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;   /* (no fminf: a libm call in the loop) */
    /* n = round(x·log2 e) by adding 1.5·2^23 (no floorf or float->int conversion: with GCC's
     * default -ftrapping-math either keeps the loop from vectorising); t's low bits hold n. */
    float t = fmaf(x, 1.44269504088896341f, 12582912.0f);
    float n = t - 12582912.0f;
    float r = fmaf(n, -0.693359375f, x);
    r = fmaf(n, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    p = fmaf(p, r * r, r) + 1.0f;
    int32_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits - 0x4B400000 + 127) * (1 << 23);   /* 2^n; n in [-126, 127] after the clamp */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}
static inline float sigmoid_approx(float x) { return 1.0f / (1.0f + exp_approx(-x)); }
static inline float tanh_approx(float x) {
    float a = fabsf(x);
    float z = x * x;
    float p = -5.70498872745e-3f;
    p = fmaf(p, z, 2.06390887954e-2f);
    p = fmaf(p, z, -5.37397155531e-2f);
    p = fmaf(p, z, 1.33314422036e-1f);
    p = fmaf(p, z, -3.33332819422e-1f);
    float small = fmaf(x * z, p, x);
    float big = 1.0f - 2.0f / (exp_approx(2.0f * a) + 1.0f);
    big = copysignf(big, x);
    return a < 0.625f ? small : big;
}

/* One LSTM step for one row: gates (4H) = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh in the order i, f, g, o;
 * c = f·c + i·g; h = o·tanh(c). */
static inline void lstm_cell(const float *restrict gates, float *restrict h, float *restrict c, int H) {
#pragma omp simd
    for (int j = 0; j < H; j++) {
        float ig = sigmoid_approx(gates[j]), fg = sigmoid_approx(gates[H + j]);
        float gg = tanh_approx(gates[2 * H + j]), og = sigmoid_approx(gates[3 * H + j]);
        float cc = fg * c[j] + ig * gg;
        c[j] = cc;
        h[j] = og * tanh_approx(cc);
    }
}

void damsm_forward(damsm_encoder *m, float *sent, float *words, const int32_t *ids, const int *lens, int64_t B,
                   int64_t L) {
    const int H = m->nhidden, G = 4 * H, D2 = 2 * H;
    if (B == 0) return;
    fill_proj(m, ids, B * L);
    if (words) memset(words, 0, (size_t)B * D2 * (size_t)L * sizeof(float));

    /* rows by length, longest first (a stable counting sort) */
    int64_t *count = xcalloc((size_t)L + 2, sizeof *count);
    int64_t *order = xmalloc((size_t)B * sizeof *order);
    for (int64_t b = 0; b < B; b++) count[L - lens[b]]++;
    for (int64_t k = 0, acc = 0; k <= L; k++) { int64_t c = count[k]; count[k] = acc; acc += c; }
    for (int64_t b = 0; b < B; b++) order[count[L - lens[b]]++] = b;
    free(count);

    /* Work units: (chunk of rows, direction); the two directions are independent, so even a
     * small batch keeps two threads busy. */
    const int64_t chunk = B < DAMSM_CHUNK ? B : DAMSM_CHUNK;
    const int64_t nchunks = (B + chunk - 1) / chunk, nunits = 2 * nchunks;
    const float *proj = m->proj;
    /* OpenBLAS to one thread while the OpenMP threads each call it (as lib/cpu/conv2d.c does;
     * also on one thread: its threads cost more than they give on these small products, and
     * the bits stay the same whatever the number of threads). The team size is taken first and
     * named in the pragma: with the OpenMP OpenBLAS, openblas_set_num_threads(1) also sets
     * omp_set_num_threads(1). */
    const int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    const int par = nunits > 1 && nt > 1 && (double)B * L * H * G > 1e6;
    int saved = openblas_get_num_threads();
    if (saved != 1) openblas_set_num_threads(1);

#pragma omp parallel num_threads(nt) if (par)
    {
        float *h = xmalloc((size_t)chunk * H * sizeof(float));
        float *c = xmalloc((size_t)chunk * H * sizeof(float));
        float *gates = xmalloc((size_t)chunk * G * sizeof(float));
#pragma omp for schedule(dynamic, 1)
        for (int64_t u = 0; u < nunits; u++) {
            const int64_t ci = u / 2;
            const int d = (int)(u % 2);
            const int64_t *rows = order + ci * chunk;
            const int64_t nr = B - ci * chunk < chunk ? B - ci * chunk : chunk;
            const int maxlen = lens[rows[0]];
            const float *whh = pdata(&m->ps, m->i_whh[d]);
            memset(h, 0, (size_t)nr * H * sizeof(float));
            memset(c, 0, (size_t)nr * H * sizeof(float));
            int64_t n = nr;   /* rows still running: a prefix, since rows are longest first */
            for (int s = 0; s < maxlen; s++) {
                while (n > 0 && lens[rows[n - 1]] <= s) n--;
                for (int64_t r = 0; r < n; r++) {
                    int64_t b = rows[r];
                    int64_t t = d ? lens[b] - 1 - s : s;
                    memcpy(gates + r * G, proj + (size_t)ids[b * L + t] * 2 * G + d * G, (size_t)G * sizeof(float));
                }
                if (s > 0)   /* gates (n,4H) += h (n,H) · W_hhᵀ (H,4H) */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, G, H, 1.f, h, H, whh, H, 1.f, gates,
                                G);
                for (int64_t r = 0; r < n; r++) {
                    lstm_cell(gates + r * G, h + r * H, c + r * H, H);
                    if (words) {
                        int64_t b = rows[r];
                        int64_t t = d ? lens[b] - 1 - s : s;
                        float *w = words + ((size_t)b * D2 + (size_t)d * H) * L + t;
                        for (int j = 0; j < H; j++) w[(size_t)j * L] = h[r * H + j];
                    }
                }
            }
            for (int64_t r = 0; r < nr; r++)
                memcpy(sent + (size_t)rows[r] * D2 + d * H, h + r * H, (size_t)H * sizeof(float));
        }
        free(h);
        free(c);
        free(gates);
    }
    if (saved != 1) openblas_set_num_threads(saved);
    free(order);
}
