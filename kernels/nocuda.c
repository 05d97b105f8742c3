/* nocuda.c: linked instead of the kernels/ .cu files in a build without nvcc (or NO_CUDA=1).
 * It defines the same C symbols as the CUDA objects (ops_cuda.h): cuda_device_available() says
 * why there is no GPU, and everything else ends the program with that reason. */
#include "core/common.h"
#include "ops_cuda.h"

#include <stdio.h>

#pragma GCC diagnostic ignored "-Wunused-parameter"

#define NOCUDA "expected a build with CUDA for --device cuda, found one built without nvcc " \
               "(rebuild where nvcc exists)"
#define STUB { die_runtime(NOCUDA); }

size_t conv2d_col_limit_cuda = (size_t)1 << 30;

int cuda_compiled(void) { return 0; }

int cuda_device_available(char *why, size_t n) {
    if (why && n) snprintf(why, n, "%s", NOCUDA);
    return 0;
}
void *cuda_alloc(size_t bytes) STUB
void cuda_free(void *p) STUB
void cuda_upload(void *dst_dev, const void *src_host, size_t bytes) STUB
void cuda_download(void *dst_host, const void *src_dev, size_t bytes) STUB
void cuda_copy(void *dst_dev, const void *src_dev, size_t bytes) STUB
void cuda_zero(void *p, size_t bytes) STUB
void cuda_sync(void) STUB

void linear_forward_cuda(float *out, const float *in, const float *w, const float *b, int B, int I,
                         int O) STUB
void linear_backward_cuda(float *din, float *dw, float *db, const float *dout, const float *in,
                          const float *w, int B, int I, int O) STUB
void conv2d_forward_cuda(float *out, const float *in, const float *w, const float *b, int B, int C,
                         int H, int W, int OC, int K, int stride, int pad) STUB
void conv2d_backward_cuda(float *din, float *dw, float *db, const float *dout, const float *in,
                          const float *w, int B, int C, int H, int W, int OC, int K, int stride,
                          int pad) STUB
void conv2d_forward_lrelu_cuda(float *out, const float *in, const float *w, const float *b, const float *mask,
                               float slope, int B, int C, int H, int W, int OC, int K, int stride, int pad) STUB
void conv2d_backward_lrelu_cuda(float *din, float *dw, float *db, const float *dout, const float *in,
                                const float *w, const float *mask, float slope, int B, int C, int H, int W,
                                int OC, int K, int stride, int pad) STUB
void leaky_relu_forward_cuda(float *out, const float *in, size_t n, float slope) STUB
void leaky_relu_backward_cuda(float *din, const float *dout, const float *x, size_t n,
                              float slope) STUB
void relu_forward_cuda(float *out, const float *in, size_t n) STUB
void relu_backward_cuda(float *din, const float *dout, const float *x, size_t n) STUB
void tanh_forward_cuda(float *out, const float *in, size_t n) STUB
void tanh_backward_cuda(float *din, const float *dout, const float *out, size_t n) STUB
void upsample2x_forward_cuda(float *out, const float *in, int planes, int H, int W) STUB
void upsample2x_backward_cuda(float *din, const float *dout, int planes, int H, int W) STUB
void avgpool2x2_forward_cuda(float *out, const float *in, int planes, int H, int W) STUB
void avgpool2x2_backward_cuda(float *din, const float *dout, int planes, int H, int W) STUB
void avgpool2x2_backward_add_cuda(float *din, const float *dout, int planes, int H, int W) STUB
void affine_forward_cuda(float *out, const float *x, const float *gamma, const float *beta, int C,
                         int B, int HW) STUB
void affine_backward_cuda(float *dx, float *dgamma, float *dbeta, const float *dout, const float *x,
                          const float *gamma, int C, int B, int HW) STUB
void affine_lrelu_forward_cuda(float *out, const float *x, const float *gamma, const float *beta, int C,
                               int B, int HW, float slope) STUB
void affine_lrelu_backward_cuda(float *dx, float *dgamma, float *dbeta, const float *dout, const float *x,
                                const float *y, const float *gamma, int C, int B, int HW, float slope) STUB
void replicate_forward_cuda(float *out, const float *s, int B, int S, int HW) STUB
void replicate_backward_cuda(float *ds, const float *dout, int B, int S, int HW) STUB
void concat_rows_forward_cuda(float *out, const float *a, const float *b, int B, int A, int Bn) STUB
void concat_rows_backward_cuda(float *da, float *db, const float *dout, int B, int A, int Bn) STUB
void nchw_to_cnhw_cuda(float *out, const float *in, int B, int C, int HW) STUB
void cnhw_to_nchw_cuda(float *out, const float *in, int B, int C, int HW) STUB
float hinge_forward_cuda(const float *x, int n, int sign) STUB
void hinge_backward_cuda(float *dx, const float *x, int n, int sign, float scale) STUB
void vec_add_cuda(float *out, const float *a, const float *b, size_t n) STUB
void vec_axpy_cuda(float *y, float alpha, const float *x, size_t n) STUB
void vec_scale_cuda(float *y, float alpha, size_t n) STUB
double vec_dot_cuda(const float *a, const float *b, size_t n) STUB
void adam_update_cuda(float *p, float *m, float *v, const float *g, size_t n, double lr,
                      double beta1, double beta2, double eps, long step) STUB

/* ---- CLIP's ops (lib/core/ops_clip_decl.h) ---- */
void layernorm_forward_cuda(float *out, float *mean, float *rstd, const float *in, const float *w,
                            const float *b, int N, int C, double eps) STUB
void layernorm_backward_cuda(float *din, float *dw, float *db, const float *dout, const float *in,
                             const float *mean, const float *rstd, const float *w, int N, int C) STUB
void quickgelu_forward_cuda(float *out, const float *in, size_t n) STUB
void quickgelu_backward_cuda(float *din, const float *dout, const float *in, size_t n) STUB
void attention_forward_cuda(float *out, float *att, const float *qkv, const int *off, int B, int C, int nh,
                            int causal) STUB
void attention_backward_cuda(float *dqkv, const float *dout, const float *qkv, const float *att,
                             const int *off, int B, int C, int nh) STUB
void resize_forward_cuda(float *out, const float *in, int planes, int H, int W, int Ho, int Wo, int mode) STUB
void resize_backward_cuda(float *din, const float *dout, int planes, int H, int W, int Ho, int Wo,
                          int mode) STUB
void cls_attention_forward_cuda(float *out, float *att, const float *q, const float *kv, int B, int T, int C,
                                int nh) STUB
void cls_attention_backward_cuda(float *dq, float *dkv, const float *dout, const float *q, const float *kv,
                                 const float *att, int B, int T, int C, int nh) STUB
void scale_shift_cuda(float *out, const float *in, size_t n, float a, float b) STUB
void clip_normalize_forward_cuda(float *out, const float *in, int B, size_t HW) STUB
void clip_normalize_backward_cuda(float *din, const float *dout, int B, size_t HW) STUB
void patchify_forward_cuda(float *out, const float *in, int B, int C, int S, int P) STUB
void patchify_backward_cuda(float *din, const float *dout, int B, int C, int S, int P) STUB
