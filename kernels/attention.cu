/* attention.cu: the core of multi-head self-attention over packed sequences on the GPU, twin of
 * lib/cpu/attention.c (layout and semantics in lib/core/ops_clip_decl.h; `off` is a host array). The
 * products are cuBLAS strided-batched gemms reading q, k, v in place from the fused (N,3C)
 * in_proj output; the softmax and its backward are one warp per row, sums in double as on the CPU.
 * Sequences are taken in runs of equal length (the image tower: one run): a run batches its
 * sequences per head when it has more sequences than heads, else each sequence's heads.
 * Also the class-token attention of CLIP's last image block (cls_attention_*): one block per
 * (sequence, head).
 *
 * cuBLAS is column-major: a row-major (T,hs) slice with leading dimension ld is the column-major
 * (hs,T) matrix Xᵀ, and a row-major (T,T) P is the column-major Pᵀ; the products below are
 * written for those transposes. */
#include "ops_cuda.h"

#include <math.h>

/* a run of consecutive sequences of equal length T: sequences b0 .. b0+nb−1, whose
 * probabilities are att[ao, ao + nb·nh·T²) */
typedef struct { int b0, nb, T; size_t ao; } att_run;

/* one gemm family over the (sequence, head) pairs of a run: batch `n`, and the strides between
 * consecutive members in qkv (sq), in the (N,C) out/dout (so) and in att (sa) */
typedef struct {
    size_t q, o, a;          /* offsets of the first member in qkv, out and att */
    long long sq, so, sa;
    int T, n;
} att_group;

/* fn(run) for each run of the call, in order; returns Σ nh·T_b² (the size of att) */
template <typename Fn>
static size_t for_runs(const int *off, int B, int nh, Fn fn) {
    size_t ao = 0;
    for (int b0 = 0; b0 < B;) {
        const int T = off[b0 + 1] - off[b0];
        int b1 = b0 + 1;
        while (b1 < B && off[b1 + 1] - off[b1] == T) b1++;
        if (T > 0) fn(att_run{b0, b1 - b0, T, ao});
        ao += (size_t)(b1 - b0) * nh * T * T;
        b0 = b1;
    }
    return ao;
}
static size_t att_total(const int *off, int B, int nh) {
    size_t n = 0;
    for (int b = 0; b < B; b++) n += (size_t)nh * (off[b + 1] - off[b]) * (off[b + 1] - off[b]);
    return n;
}

/* fn(group) for the groups of run r: per head over its sequences when it has more sequences than
 * heads, else per sequence over its heads */
template <typename Fn>
static void for_groups(const att_run &r, const int *off, int C, int nh, Fn fn) {
    const int hs = C / nh, T = r.T;
    if (r.nb > nh)
        for (int h = 0; h < nh; h++)
            fn(att_group{(size_t)off[r.b0] * 3 * C + (size_t)h * hs, (size_t)off[r.b0] * C + (size_t)h * hs,
                         r.ao + (size_t)h * T * T, (long long)T * 3 * C, (long long)T * C, (long long)nh * T * T,
                         T, r.nb});
    else
        for (int b = r.b0; b < r.b0 + r.nb; b++)
            fn(att_group{(size_t)off[b] * 3 * C + 0, (size_t)off[b] * C, r.ao + (size_t)(b - r.b0) * nh * T * T,
                         (long long)hs, (long long)hs, (long long)T * T, T, nh});
}

static __device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
static __device__ __forceinline__ double warp_sum(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* rows (rows,T) of scores -> probabilities in place; with `causal`, row r sees columns ≤ r mod T
 * and the rest are set to 0. One warp per row. */
static __global__ void softmax_rows_kernel(float *P, size_t rows, int T, int causal) {
    const size_t r = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
    const int lane = threadIdx.x & 31;
    if (r >= rows) return;   /* the whole warp */
    float *p = P + r * T;
    const int n = causal ? (int)(r % T) + 1 : T;
    float mx = -INFINITY;
    for (int j = lane; j < n; j += 32) mx = fmaxf(mx, p[j]);
    mx = warp_max(mx);
    double s = 0.0;
    for (int j = lane; j < n; j += 32) { const float e = expf(p[j] - mx); p[j] = e; s += e; }
    const float inv = (float)(1.0 / warp_sum(s));
    for (int j = lane; j < n; j += 32) p[j] *= inv;
    for (int j = n + lane; j < T; j += 32) p[j] = 0.0f;
}

/* dS = P∘(dP − rowsum(P∘dP)) in place of dP; one warp per row */
static __global__ void softmax_rows_backward_kernel(float *dS, const float *P, size_t rows, int T) {
    const size_t r = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
    const int lane = threadIdx.x & 31;
    if (r >= rows) return;
    const float *p = P + r * T;
    float *d = dS + r * T;
    double s = 0.0;
    for (int j = lane; j < T; j += 32) s += (double)p[j] * d[j];
    const float sr = (float)warp_sum(s);
    for (int j = lane; j < T; j += 32) d[j] = p[j] * (d[j] - sr);
}

static unsigned warp_blocks(size_t rows) { return (unsigned)((rows * 32 + CUDA_THREADS - 1) / CUDA_THREADS); }

/* C (col-major m×n, ldc; batch stride sc) = alpha·op(A)·op(B) */
static void gemm_batched(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
                         const float *A, int lda, long long sA, const float *B, int ldb, long long sB,
                         float *Cm, int ldc, long long sC, int batch) {
    const float zero = 0.0f;
    CUBLAS_CHECK(cublasSgemmStridedBatched(cuda_blas(), ta, tb, m, n, k, &alpha, A, lda, sA, B, ldb, sB,
                                           &zero, Cm, ldc, sC, batch));
}

extern "C" void attention_forward_cuda(float *out, float *att, const float *qkv, const int *off, int B, int C,
                                       int nh, int causal) {
    const int hs = C / nh, ld = 3 * C;
    const float scale = (float)(1.0 / sqrt((double)hs));
    const size_t na = att_total(off, B, nh);
    if (na == 0) return;
    /* without att, the probabilities go to scratch slot 0 (conv2d's, free between ops) */
    float *P = att ? att : (float *)cuda_scratch(0, na * sizeof(float));
    for_runs(off, B, nh, [&](const att_run &r) {
        /* S (T,T) = q·kᵀ·scale: column-major Sᵀ = (kᵀ)ᵀ·qᵀ */
        for_groups(r, off, C, nh, [&](const att_group &g) {
            const float *q = qkv + g.q, *k = q + C;
            gemm_batched(CUBLAS_OP_T, CUBLAS_OP_N, g.T, g.T, hs, scale, k, ld, g.sq, q, ld, g.sq, P + g.a, g.T,
                         g.sa, g.n);
        });
        const size_t rows = (size_t)r.nb * nh * r.T;   /* the run's rows are contiguous in P */
        LAUNCH(softmax_rows_kernel, warp_blocks(rows), CUDA_THREADS, 0)(P + r.ao, rows, r.T, causal);
        CUDA_LAUNCHED("softmax_rows_kernel");
        /* out (T,hs) = P·v: column-major outᵀ = vᵀ·Pᵀ */
        for_groups(r, off, C, nh, [&](const att_group &g) {
            const float *v = qkv + g.q + 2 * C;
            gemm_batched(CUBLAS_OP_N, CUBLAS_OP_N, hs, g.T, g.T, 1.0f, v, ld, g.sq, P + g.a, g.T, g.sa, out + g.o, C,
                         g.so, g.n);
        });
    });
}

/* dP = dO·vᵀ; dS = P∘(dP − rowsum(P∘dP)); dq = dS·k/√hs; dk = dSᵀ·q/√hs; dv = Pᵀ·dO */
extern "C" void attention_backward_cuda(float *dqkv, const float *dout, const float *qkv, const float *att,
                                        const int *off, int B, int C, int nh) {
    const int hs = C / nh, ld = 3 * C;
    const float scale = (float)(1.0 / sqrt((double)hs));
    const size_t na = att_total(off, B, nh);
    if (na == 0) return;
    float *dS = (float *)cuda_scratch(0, na * sizeof(float));   /* slot 0: free between ops */
    for_runs(off, B, nh, [&](const att_run &r) {
        const int T = r.T;
        /* dP (T,T) = dO·vᵀ */
        for_groups(r, off, C, nh, [&](const att_group &g) {
            const float *v = qkv + g.q + 2 * C;
            gemm_batched(CUBLAS_OP_T, CUBLAS_OP_N, T, T, hs, 1.0f, v, ld, g.sq, dout + g.o, C, g.so, dS + g.a, T,
                         g.sa, g.n);
        });
        const size_t rows = (size_t)r.nb * nh * T;
        LAUNCH(softmax_rows_backward_kernel, warp_blocks(rows), CUDA_THREADS, 0)(dS + r.ao, att + r.ao, rows, T);
        CUDA_LAUNCHED("softmax_rows_backward_kernel");
        for_groups(r, off, C, nh, [&](const att_group &g) {
            const float *q = qkv + g.q, *k = q + C, *dO = dout + g.o, *Pg = att + g.a, *dSg = dS + g.a;
            float *dq = dqkv + g.q, *dk = dq + C, *dv = dq + 2 * C;
            /* dq (T,hs) = dS·k·scale: dqᵀ = kᵀ·dSᵀ */
            gemm_batched(CUBLAS_OP_N, CUBLAS_OP_N, hs, T, T, scale, k, ld, g.sq, dSg, T, g.sa, dq, ld, g.sq, g.n);
            /* dk (T,hs) = dSᵀ·q·scale: dkᵀ = qᵀ·dS */
            gemm_batched(CUBLAS_OP_N, CUBLAS_OP_T, hs, T, T, scale, q, ld, g.sq, dSg, T, g.sa, dk, ld, g.sq, g.n);
            /* dv (T,hs) = Pᵀ·dO: dvᵀ = dOᵀ·P */
            gemm_batched(CUBLAS_OP_N, CUBLAS_OP_T, hs, T, T, 1.0f, dO, C, g.so, Pg, T, g.sa, dv, ld, g.sq, g.n);
        });
    });
}

/* ---- the class-token attention: block (b,h), T probabilities in shared memory ---- */

#define CLS_THREADS 128

static __device__ float block_max(float v) {
    __shared__ float part[32];
    v = warp_max(v);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    __syncthreads();
    if (lane == 0) part[warp] = v;
    __syncthreads();
    v = lane < nwarps ? part[lane] : -INFINITY;
    return warp_max(v);
}

/* out (B,C) = softmax(q·kᵀ/√hs)·v per head; att (B,nh,T) when not NULL */
static __global__ void cls_attention_forward_kernel(float *out, float *att, const float *q, const float *kv,
                                                    int T, int C, int nh, float scale) {
    EXTERN_SHARED(float, p);
    const int task = blockIdx.x, b = task / nh, h = task % nh, hs = C / nh;
    const float *qh = q + (size_t)b * C + h * hs;
    float mx = -INFINITY;
    for (int t = threadIdx.x; t < T; t += blockDim.x) {
        const float *k = kv + ((size_t)b * T + t) * 2 * C + h * hs;
        float s = 0.0f;
        for (int c = 0; c < hs; c++) s += qh[c] * k[c];
        p[t] = s * scale;
        mx = fmaxf(mx, p[t]);
    }
    mx = block_max(mx);
    double sum = 0.0;
    for (int t = threadIdx.x; t < T; t += blockDim.x) { p[t] = expf(p[t] - mx); sum += p[t]; }
    const float inv = (float)(1.0 / block_sum(sum));
    for (int t = threadIdx.x; t < T; t += blockDim.x) {
        p[t] *= inv;
        if (att) att[(size_t)task * T + t] = p[t];
    }
    __syncthreads();
    for (int c = threadIdx.x; c < hs; c += blockDim.x) {
        float o = 0.0f;
        for (int t = 0; t < T; t++) o += p[t] * kv[((size_t)b * T + t) * 2 * C + C + h * hs + c];
        out[(size_t)b * C + h * hs + c] = o;
    }
}

/* dq (B,C), dkv (B·T,2C) assigned: g = P∘(dO·vᵀ − Σ P∘(dO·vᵀ))·scale; dq = g·k; dk = gᵀ·q; dv = Pᵀ·dO */
static __global__ void cls_attention_backward_kernel(float *dq, float *dkv, const float *dout, const float *q,
                                                     const float *kv, const float *att, int T, int C, int nh,
                                                     float scale) {
    EXTERN_SHARED(float, gsh);
    const int task = blockIdx.x, b = task / nh, h = task % nh, hs = C / nh;
    const float *p = att + (size_t)task * T, *dO = dout + (size_t)b * C + h * hs, *qh = q + (size_t)b * C + h * hs;
    double sr = 0.0;
    for (int t = threadIdx.x; t < T; t += blockDim.x) {
        const float *v = kv + ((size_t)b * T + t) * 2 * C + C + h * hs;
        float d = 0.0f;
        for (int c = 0; c < hs; c++) d += dO[c] * v[c];
        gsh[t] = d;
        sr += (double)p[t] * d;
    }
    const float s = (float)block_sum(sr);
    for (int t = threadIdx.x; t < T; t += blockDim.x) gsh[t] = p[t] * (gsh[t] - s) * scale;
    __syncthreads();
    for (int c = threadIdx.x; c < hs; c += blockDim.x) {
        float a = 0.0f;
        for (int t = 0; t < T; t++) a += gsh[t] * kv[((size_t)b * T + t) * 2 * C + h * hs + c];
        dq[(size_t)b * C + h * hs + c] = a;
    }
    for (int i = threadIdx.x; i < T * hs; i += blockDim.x) {
        const int t = i / hs, c = i % hs;
        float *dk = dkv + ((size_t)b * T + t) * 2 * C + h * hs;
        dk[c] = gsh[t] * qh[c];
        dk[C + c] = p[t] * dO[c];
    }
}

extern "C" void cls_attention_forward_cuda(float *out, float *att, const float *q, const float *kv, int B, int T,
                                           int C, int nh) {
    if (B <= 0 || T <= 0) return;
    const float scale = (float)(1.0 / sqrt((double)(C / nh)));
    LAUNCH(cls_attention_forward_kernel, B * nh, CLS_THREADS, (size_t)T * sizeof(float))(out, att, q, kv, T, C, nh,
            scale);
    CUDA_LAUNCHED("cls_attention_forward_kernel");
}

extern "C" void cls_attention_backward_cuda(float *dq, float *dkv, const float *dout, const float *q,
                                            const float *kv, const float *att, int B, int T, int C, int nh) {
    if (B <= 0 || T <= 0) return;
    const float scale = (float)(1.0 / sqrt((double)(C / nh)));
    LAUNCH(cls_attention_backward_kernel, B * nh, CLS_THREADS, (size_t)T * sizeof(float))(dq, dkv, dout, q, kv, att, T,
            C, nh, scale);
    CUDA_LAUNCHED("cls_attention_backward_kernel");
}
