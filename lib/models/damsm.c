/* damsm.c: DAMSM's RNN_ENCODER on the CPU or the GPU (see damsm.h): its parameters, the cache of
 * input projections, and the recurrence through the op lstm_forward. */
#include "models/damsm.h"
#include "core/checkpoint.h"
#include "core/common.h"
#include "core/ops.h"
#include "core/rng.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const dir_suffix[2] = {"", "_reverse"};

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
    if (m->dev == DEVICE_CUDA) {
        dev_free(DEVICE_CUDA, m->d_whh[0]);
        dev_free(DEVICE_CUDA, m->d_whh[1]);
        dev_free(DEVICE_CUDA, m->d_proj);
        cuda_free(m->d_ids);
        dev_free(DEVICE_CUDA, m->d_sent);
        dev_free(DEVICE_CUDA, m->d_words);
    }
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

void damsm_to_device(damsm_encoder *m, device_t dev) {
    if (dev != DEVICE_CUDA || m->dev == DEVICE_CUDA) return;
    const size_t G = 4 * (size_t)m->nhidden, nw = G * (size_t)m->nhidden, np = (size_t)m->vocab * 2 * G;
    for (int d = 0; d < 2; d++) {
        m->d_whh[d] = dev_alloc(DEVICE_CUDA, nw);
        dev_upload(DEVICE_CUDA, m->d_whh[d], pdata(&m->ps, m->i_whh[d]), nw);
    }
    m->d_proj = dev_alloc(DEVICE_CUDA, np);
    dev_upload(DEVICE_CUDA, m->d_proj, m->proj, np);
    m->dev = DEVICE_CUDA;
}

/* Fill the projection cache for the ids of this batch not seen before: one gather and two sgemms
 * per block of new ids. Row id of proj: [fwd (4H) | bwd (4H)], each emb[id]·W_ihᵀ + b_ih + b_hh.
 * The rows filled lie in [*lo, *hi] (*lo > *hi when none). */
static void fill_proj(damsm_encoder *m, const int32_t *ids, int64_t n_ids, int32_t *lo, int32_t *hi) {
    const int E = m->ninput, G = 4 * m->nhidden;
    int64_t nm = 0;
    int32_t *miss = NULL;
    *lo = INT32_MAX;
    *hi = -1;
    for (int64_t k = 0; k < n_ids; k++) {
        int32_t id = ids[k];
        if (id > 0 && !m->have[id]) {
            if (!miss) miss = xmalloc((size_t)n_ids * sizeof *miss);
            m->have[id] = 1;
            miss[nm++] = id;
            if (id < *lo) *lo = id;
            if (id > *hi) *hi = id;
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

/* a grow-only GPU buffer of at least n floats */
static float *grow(float **p, size_t *cap, size_t n) {
    if (n > *cap) {
        dev_free(DEVICE_CUDA, *p);
        *p = dev_alloc(DEVICE_CUDA, n ? n : 1);
        *cap = n;
    }
    return *p;
}

void damsm_forward(damsm_encoder *m, float *sent, float *words, const int32_t *ids, const int *lens, int64_t B,
                   int64_t L) {
    int32_t lo, hi;
    fill_proj(m, ids, B * L, &lo, &hi);
    if (m->dev != DEVICE_CUDA) {
        OP(DEVICE_CPU, lstm_forward, sent, words, m->proj, ids, lens, pdata(&m->ps, m->i_whh[0]),
           pdata(&m->ps, m->i_whh[1]), B, L, m->nhidden);
        return;
    }
    /* the new rows to the GPU's copy of the cache: rows lo..hi in one copy (rows between them that
     * were filled before are the same; those never filled are never read) */
    const size_t row = 8 * (size_t)m->nhidden, ns = (size_t)B * 2 * m->nhidden, nw = ns * (size_t)L;
    if (lo <= hi) dev_upload(DEVICE_CUDA, m->d_proj + (size_t)lo * row, m->proj + (size_t)lo * row, (size_t)(hi - lo + 1) * row);
    const size_t nid = (size_t)B * (size_t)L;
    if (nid > m->cap_ids) {
        cuda_free(m->d_ids);
        m->d_ids = cuda_alloc(nid * sizeof *ids);
        m->cap_ids = nid;
    }
    cuda_upload(m->d_ids, ids, nid * sizeof *ids);
    float *ds = grow(&m->d_sent, &m->cap_sent, ns), *dw = words ? grow(&m->d_words, &m->cap_words, nw) : NULL;
    OP(DEVICE_CUDA, lstm_forward, ds, dw, m->d_proj, m->d_ids, lens, m->d_whh[0], m->d_whh[1], B, L, m->nhidden);
    dev_download(DEVICE_CUDA, sent, ds, ns);
    if (words) dev_download(DEVICE_CUDA, words, dw, nw);
}
