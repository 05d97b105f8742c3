/* lstm.c: one LSTM layer over token sequences of different lengths, forward only (DAMSM's text
 * encoder; contract in core/op_list.h): per step, gates (n,4H) = proj[id] + h (n,H) · W_hhᵀ, then
 * i, f, o = sigmoid, g = tanh, c = f·c + i·g, h = o·tanh(c).
 *
 * The sequences run sorted by length, longest first, in chunks of up to LSTM_CHUNK of them (a
 * chunk's h, c and gates stay in L2); the work units, (chunk, direction), are independent, so
 * even a small batch keeps two threads busy, and they are spread over the OpenMP threads, each
 * calling a one-thread gemm (one-thread also when the op runs on one thread: OpenBLAS's threads
 * cost more than they give on these small products). In a chunk the sequences still running at
 * step s are a prefix, so a step is one gemm (n_s,H)·(H,4H) and one pass over the gates. Results
 * do not depend on the number of threads (bit for bit): each sequence's arithmetic is the same
 * whichever thread runs its unit. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/real.h"
#include "core/common.h"
#include "cpu/threads.h"

/* Sequences per work unit: a unit's h, c and gates (128·(2+4)·128 floats at H = 128) stay in L2. */
#ifndef LSTM_CHUNK
#define LSTM_CHUNK 128
#endif

/* libm's exp and tanh in the op's precision (expf, tanhf in the float build). glibc's libm also
 * has them for vectors of arguments (libmvec, linked through -lm; within a few ulp, as the scalar
 * ones), which math.h announces only under -ffast-math; announced here, the gate loop below calls
 * them a vector at a time (a call per element would dominate the op's time). */
#if defined __GLIBC__ && defined __x86_64__ && defined _OPENMP && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))   /* vector tanh since 2.35 */
#pragma omp declare simd notinbranch
float expf(float);
#pragma omp declare simd notinbranch
float tanhf(float);
#pragma omp declare simd notinbranch
double exp(double);
#pragma omp declare simd notinbranch
double tanh(double);
#endif

static inline real sigmoid(real x) { return 1 / (1 + REAL_EXP(-x)); }

/* One step for one sequence: gates (4H) in the order i, f, g, o -> c, h (H) updated in place. */
static inline void lstm_cell(const real *restrict gates, real *restrict h, real *restrict c, int H)
{
#pragma omp simd
    for (int j = 0; j < H; j++) {
        real ig = sigmoid(gates[j]), fg = sigmoid(gates[H + j]);
        real gg = REAL_TANH(gates[2 * H + j]), og = sigmoid(gates[3 * H + j]);
        real cc = fg * c[j] + ig * gg;
        c[j] = cc;
        h[j] = og * REAL_TANH(cc);
    }
}

void OPNAME(lstm_forward)(real *sent, real *words, const real *proj, const int32_t *ids, const int *lens,
                          const real *whh_f, const real *whh_b, int64_t B, int64_t L, int H)
{
    const int G = 4 * H, D = whh_b ? 2 : 1, DH = D * H;
    if (words) memset(words, 0, (size_t)B * DH * (size_t)L * sizeof(real));
    if (B == 0) return;

    /* sequences by length, longest first (a stable counting sort) */
    int64_t *count = xcalloc((size_t)L + 2, sizeof *count);
    int64_t *order = xmalloc((size_t)B * sizeof *order);
    for (int64_t b = 0; b < B; b++) count[L - lens[b]]++;
    for (int64_t k = 0, acc = 0; k <= L; k++) { int64_t c = count[k]; count[k] = acc; acc += c; }
    for (int64_t b = 0; b < B; b++) order[count[L - lens[b]]++] = b;
    free(count);

    const int64_t chunk = B < LSTM_CHUNK ? B : LSTM_CHUNK;
    const int64_t nchunks = (B + chunk - 1) / chunk, nunits = D * nchunks;
    /* the team size is taken before blas_single, which with OpenMP OpenBLAS also sets
     * omp_set_num_threads(1) (see cpu/threads.h) */
    const int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    const int par = nunits > 1 && nt > 1 && (double)B * L * H * G > 1e6;
    const int saved = blas_single(nt);

#pragma omp parallel num_threads(nt) if (par)
    {
        real *h = xmalloc((size_t)chunk * H * sizeof(real));
        real *c = xmalloc((size_t)chunk * H * sizeof(real));
        real *gates = xmalloc((size_t)chunk * G * sizeof(real));
#pragma omp for schedule(dynamic, 1)
        for (int64_t u = 0; u < nunits; u++) {
            const int64_t ci = u / D;
            const int d = (int)(u % D);
            const int64_t *rows = order + ci * chunk;
            const int64_t nr = B - ci * chunk < chunk ? B - ci * chunk : chunk;
            const int maxlen = lens[rows[0]];
            const real *whh = d ? whh_b : whh_f;
            memset(h, 0, (size_t)nr * H * sizeof(real));
            memset(c, 0, (size_t)nr * H * sizeof(real));
            int64_t n = nr;   /* sequences still running: a prefix, since they are longest first */
            for (int s = 0; s < maxlen; s++) {
                while (n > 0 && lens[rows[n - 1]] <= s) n--;
                for (int64_t r = 0; r < n; r++) {
                    int64_t b = rows[r];
                    int64_t t = d ? lens[b] - 1 - s : s;
                    memcpy(gates + r * G, proj + (size_t)ids[b * L + t] * D * G + d * G, (size_t)G * sizeof(real));
                }
                if (s > 0)   /* gates (n,4H) += h (n,H) · W_hhᵀ (H,4H) */
                    cblas_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, G, H, 1, h, H, whh, H, 1, gates, G);
                for (int64_t r = 0; r < n; r++) {
                    lstm_cell(gates + r * G, h + r * H, c + r * H, H);
                    if (words) {
                        int64_t b = rows[r];
                        int64_t t = d ? lens[b] - 1 - s : s;
                        real *w = words + ((size_t)b * DH + (size_t)d * H) * L + t;
                        for (int j = 0; j < H; j++) w[(size_t)j * L] = h[r * H + j];
                    }
                }
            }
            for (int64_t r = 0; r < nr; r++)
                memcpy(sent + (size_t)rows[r] * DH + d * H, h + r * H, (size_t)H * sizeof(real));
        }
        free(h);
        free(c);
        free(gates);
    }
    blas_restore(nt, saved);
    free(order);
}
