/* gstep.c: the DF-GAN generator step (see gstep.h). */
#include "train/gstep.h"
#include "core/common.h"
#include "core/dist.h"
#include "core/ops.h"
#include "train/stepcheck.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void gstep_init(gstep *st) {
    st->B = st->Bcap = 0;
    st->host = st->grad_sum = st->stage = st->dimg = NULL;
    st->step = 0;
    st->param_grad_norm = 0;
}

static void ensure_batch(gstep *st, int B) {
    if (B <= st->Bcap) return;
    device_t dev = st->G.ps.device;
    size_t n = (size_t)3 * B * st->G.imsize * st->G.imsize;
    st->Bcap = B;
    free(st->host); free(st->grad_sum);
    st->host = xmalloc(n * sizeof(float));
    st->grad_sum = xmalloc(n * sizeof(float));
    dev_free(dev, st->stage); dev_free(dev, st->dimg);
    st->stage = dev_alloc(dev, n);
    st->dimg = dev_alloc(dev, n);
}

const float *gstep_forward(gstep *st, const float *noise, const float *cond, int B, int want_images) {
    netg *g = &st->G;
    device_t dev = g->ps.device;
    ensure_batch(st, B);
    st->B = B;
    tensor zt = tensor_new2(dev, B, g->z_dim), ct = tensor_new2(dev, B, g->cond_dim);
    tensor_upload(&zt, noise);
    tensor_upload(&ct, cond);
    netg_forward(g, zt.data, ct.data, B);
    tensor_free(&zt); tensor_free(&ct);
    if (!want_images) return NULL;
    int S = g->imsize;
    OP(dev, cnhw_to_nchw, st->stage, g->img.data, B, 3, S * S);
    dev_download(dev, st->host, st->stage, (size_t)3 * B * S * S);
    return st->host;
}

void gstep_forward_dev(gstep *st, const float *noise, const float *cond, int B, float *out) {
    gstep_forward(st, noise, cond, B, 0);
    OP(st->G.ps.device, cnhw_to_nchw, out, st->G.img.data, B, 3, st->G.imsize * st->G.imsize);
}

static double backward_step(gstep *st, double norm);

double gstep_train(gstep *st, const float *const *grads, int n) {
    netg *g = &st->G;
    device_t dev = g->ps.device;
    int B = st->B, S = g->imsize;
    size_t count = (size_t)3 * B * S * S;
    memset(st->grad_sum, 0, count * sizeof(float));
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < count; k++) st->grad_sum[k] += grads[i][k];
    double norm = 0;
    for (size_t k = 0; k < count; k++) norm += (double)st->grad_sum[k] * st->grad_sum[k];
    dev_upload(dev, st->stage, st->grad_sum, count);
    return backward_step(st, norm);
}

double gstep_train_dev(gstep *st, const float *const *grads, int n) {
    device_t dev = st->G.ps.device;
    size_t count = (size_t)3 * st->B * st->G.imsize * st->G.imsize;
    dev_zero(dev, st->stage, count);
    for (int i = 0; i < n; i++) OP(dev, vec_axpy, st->stage, 1.0f, grads[i], count);
    return backward_step(st, OPV(dev, vec_dot, st->stage, st->stage, count));
}

/* the summed gradient wrt the fakes in st->stage (NCHW), the square of its norm: backward, Adam */
static double backward_step(gstep *st, double norm) {
    netg *g = &st->G;
    device_t dev = g->ps.device;
    int B = st->B, S = g->imsize;
    OP(dev, nchw_to_cnhw, st->dimg, st->stage, B, 3, S * S);
    params_zero_grad(&g->ps);
    netg_backward(g, st->dimg);
    dist_allreduce(dev, g->ps.grad, g->ps.total);    /* the global batch's gradient on every rank */
    st->param_grad_norm = step_grad_norm(&g->ps);
    params_adam_step(&g->ps, st->lr, st->beta1, st->beta2, st->eps);
    step_check_update(&g->ps, ++st->step);           /* the gradient, weights and Adam state finite */
    if (dist_size() > 1) dist_sum(&norm, 1);
    return sqrt(norm);
}

void gstep_free(gstep *st) {
    device_t dev = st->G.ps.device;
    free(st->host); free(st->grad_sum);
    dev_free(dev, st->stage); dev_free(dev, st->dimg);
    netg_free(&st->G);
}
