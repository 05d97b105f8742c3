/* lstm.cu: one LSTM layer over token sequences of different lengths on the GPU, forward only,
 * twin of lib/cpu/lstm.c (DAMSM's text encoder; contract in lib/core/op_list.h). proj, ids,
 * whh_f, whh_b, sent and words are device pointers; lens (B) is a host array.
 *
 * All B sequences step together, t = 0 .. max(lens) − 1; per step and direction d:
 *   gates_d (B,4H) = h_d (B,H) · W_hh,dᵀ        (cuBLAS; skipped at the first step, where h = 0)
 *   then one thread per (d, b, j): for a sequence still running (s < len_b), with its token
 *   t = s (forward) or len_b − 1 − s (backward), the gates i, f, g, o = proj[ids[b,t], d] + gates_d,
 *   c = f·c + i·g, h = o·tanh(c), and h into words[b, d·H + j, t];
 * a finished sequence keeps its last h, which is its sentence embedding. The gemm takes all B rows
 * every step (the CPU's shrinking prefix would cost a sort and a gather here; the extra rows are
 * cheap next to a step's launches). The state h, c (D,B,H) and gates (D,B,4H) live in grow-only
 * device buffers of this file. */
#include "ops_cuda.h"

#include <math.h>

/* grow-only device buffers: 0 h, 1 c, 2 gates, 3 lens */
static void *buffer(int slot, size_t bytes) {
    static void *buf[4];
    static size_t cap[4];
    if (bytes > cap[slot]) {
        if (buf[slot]) CUDA_CHECK(cudaFree(buf[slot]));
        buf[slot] = cuda_alloc(bytes);
        cap[slot] = bytes;
    }
    return buf[slot];
}

static __device__ __forceinline__ float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }

/* step s of both directions: h, c (D,B,H), gates (D,B,G) the recurrent products (unused when
 * first), words (B,D·H,L) or NULL */
static __global__ void lstm_cell_kernel(float *h, float *c, float *words, const float *gates, const float *proj,
                                        const int32_t *ids, const int *lens, int D, int B, int L, int H, int s,
                                        int first) {
    const int G = 4 * H;
    GRID_STRIDE(i, (size_t)D * B * H) {
        const int j = (int)(i % H), b = (int)(i / H % B), d = (int)(i / H / B);
        const int len = lens[b];
        if (s >= len) continue;
        const int t = d ? len - 1 - s : s;
        const float *p = proj + (size_t)ids[(size_t)b * L + t] * D * G + (size_t)d * G;
        const float *g = gates + ((size_t)d * B + b) * G;
        float gi = p[j], gf = p[H + j], gg = p[2 * H + j], go = p[3 * H + j];
        if (!first) { gi += g[j]; gf += g[H + j]; gg += g[2 * H + j]; go += g[3 * H + j]; }
        const float ig = sigmoidf_(gi), fg = sigmoidf_(gf), og = sigmoidf_(go), cg = tanhf(gg);
        const float cc = fg * c[i] + ig * cg, hh = og * tanhf(cc);
        c[i] = cc;
        h[i] = hh;
        if (words) words[((size_t)b * D * H + (size_t)d * H + j) * L + t] = hh;
    }
}

/* sent[b, d·H + j] = h[d, b, j] */
static __global__ void lstm_sent_kernel(float *sent, const float *h, int D, int B, int H) {
    GRID_STRIDE(i, (size_t)D * B * H) {
        const int j = (int)(i % H), b = (int)(i / H % B), d = (int)(i / H / B);
        sent[(size_t)b * D * H + (size_t)d * H + j] = h[i];
    }
}

extern "C" void lstm_forward_cuda(float *sent, float *words, const float *proj, const int32_t *ids, const int *lens,
                                  const float *whh_f, const float *whh_b, int64_t B, int64_t L, int H) {
    const int D = whh_b ? 2 : 1, G = 4 * H;
    if (words) cuda_zero(words, (size_t)B * D * H * (size_t)L * sizeof(float));
    if (B == 0 || H == 0) return;
    if (B > 2147483647 || L > 2147483647)
        die_runtime("expected an LSTM batch and length under 2^31, found B %lld, L %lld", (long long)B, (long long)L);
    int maxlen = 0;
    for (int64_t b = 0; b < B; b++) maxlen = lens[b] > maxlen ? lens[b] : maxlen;
    const size_t nh = (size_t)D * B * H;
    float *h = (float *)buffer(0, nh * sizeof(float)), *c = (float *)buffer(1, nh * sizeof(float));
    float *gates = (float *)buffer(2, (size_t)D * B * G * sizeof(float));
    int *lens_d = (int *)buffer(3, (size_t)B * sizeof(int));
    CUDA_CHECK(cudaMemcpy(lens_d, lens, (size_t)B * sizeof(int), cudaMemcpyHostToDevice));
    cuda_zero(h, nh * sizeof(float));
    cuda_zero(c, nh * sizeof(float));
    const float one = 1.0f, zero = 0.0f;
    for (int s = 0; s < maxlen; s++) {
        if (s > 0)
            for (int d = 0; d < D; d++)
                /* gates_d (B,G) = h_d (B,H) · Wᵀ (H,G): transposed, gates_dᵀ (G,B) = W (G,H) · h_dᵀ (H,B) */
                CUBLAS_CHECK(cublasSgemm(cuda_blas(), CUBLAS_OP_T, CUBLAS_OP_N, G, (int)B, H, &one, d ? whh_b : whh_f,
                                         H, h + (size_t)d * B * H, H, &zero, gates + (size_t)d * B * G, G));
        LAUNCH(lstm_cell_kernel, cuda_blocks(nh), CUDA_THREADS, 0)(h, c, words, gates, proj, ids, lens_d, D, (int)B,
                                                                   (int)L, H, s, s == 0);
        CUDA_LAUNCHED("lstm_cell_kernel");
    }
    LAUNCH(lstm_sent_kernel, cuda_blocks(nh), CUDA_THREADS, 0)(sent, h, D, (int)B, H);
    CUDA_LAUNCHED("lstm_sent_kernel");
}
