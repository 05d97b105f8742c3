/* dstep.c: the DF-GAN discriminator step with the exact MA-GP gradient (see dstep.h). */
#include "train/dstep.h"
#include "core/common.h"
#include "core/dist.h"
#include "core/ops.h"
#include "train/stepcheck.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void dstep_init(dstep *st) {
    st->B = 0;
    st->step = 0;
    memset(&st->real, 0, sizeof st->real); memset(&st->fake, 0, sizeof st->fake); memset(&st->tan, 0, sizeof st->tan);
    memset(&st->adj_g, 0, sizeof st->adj_g);
    memset(&st->c_real, 0, sizeof(cacts)); memset(&st->c_mis, 0, sizeof(cacts));
    memset(&st->c_fake, 0, sizeof(cacts)); memset(&st->c_tan, 0, sizeof(cacts));
    netd_sync_gamma(&st->D);
}

static void ensure(tensor *t, device_t dev, int64_t n) { int64_t s[1] = {n}; tensor_resize(t, dev, 1, s); }

static void alloc_batch(dstep *st, int B) {
    if (st->B == B) return;
    st->B = B;
    netd *d = &st->D;
    device_t dev = d->ps.device;
    int64_t img = (int64_t)3 * B * d->imsize * d->imsize, S = d->cond_dim, feat = (int64_t)8 * d->nf * B * 16;
    tensor *imgs[] = {&st->x_real, &st->x_fake, &st->ux, &st->gx, &st->stage};
    for (size_t i = 0; i < sizeof imgs / sizeof *imgs; i++) ensure(imgs[i], dev, img);
    ensure(&st->s, dev, B * S); ensure(&st->us, dev, B * S); ensure(&st->gs, dev, B * S);
    if (dist_size() > 1) ensure(&st->s_mis, dev, B * S);
    ensure(&st->feat_mis, dev, feat); ensure(&st->dfeat, dev, feat); ensure(&st->dfeat_mis, dev, feat);
    ensure(&st->dscore, dev, B); ensure(&st->ones, dev, B);
    ensure(&st->coef3, dev, 3 * B); ensure(&st->coefS, dev, B);
    ensure(&st->zeros3, dev, 3 * B); ensure(&st->zerosS, dev, B);
    float *one = xmalloc((size_t)B * sizeof(float));
    for (int b = 0; b < B; b++) one[b] = 1.0f;
    tensor_upload(&st->ones, one);
    free(one);
}

/* dst[c,b] = src[c,(b+1) mod B] for each of C channels of HW values: pairs image b+1's features with sentence b */
static void shift_batch(device_t dev, float *dst, const float *src, int C, int B, int HW, int add_back) {
    size_t n1 = (size_t)(B - 1) * HW;
    for (int c = 0; c < C; c++) {
        const float *s = src + (size_t)c * B * HW;
        float *t = dst + (size_t)c * B * HW;
        if (!add_back) {                 /* forward: t[0..B-2] = s[1..B-1], t[B-1] = s[0] */
            dev_copy(dev, t, s + HW, n1);
            dev_copy(dev, t + n1, s, (size_t)HW);
        } else {                         /* backward: t[1..B-1] += s[0..B-2], t[0] += s[B-1] */
            OP(dev, vec_axpy, t + HW, 1.0f, s, n1);
            OP(dev, vec_axpy, t, 1.0f, s + n1, (size_t)HW);
        }
    }
}

static void upload_images(dstep *st, tensor *dst, const float *nchw, int B) {
    int S = st->D.imsize;
    tensor_upload(&st->stage, nchw);
    OP(st->D.ps.device, nchw_to_cnhw, dst->data, st->stage.data, B, 3, S * S);
}

/* dstep_train, with the fakes and their gradient in host memory or (on_dev) on D's device */
static void train(dstep *st, const float *real, const float *cond, const float *fake, int B, float *grad_fake,
                  int on_dev, dstep_losses *L) {
    netd *d = &st->D;
    device_t dev = d->ps.device;
    alloc_batch(st, B);
    const int N = dist_size(), Bg = B * N;      /* this shard's samples, the global batch's */
    int S = d->imsize, HW = S * S, Sd = d->cond_dim, nf8 = 8 * d->nf, last = d->nblocks - 1;
    upload_images(st, &st->x_real, real, B);
    if (on_dev) OP(dev, nchw_to_cnhw, st->x_fake.data, fake, B, 3, HW);
    else upload_images(st, &st->x_fake, fake, B);
    tensor_upload(&st->s, cond);
    params_zero_grad(&d->ps);

    /* forward: real, mismatched, fake (detached) */
    netd_forward(d, &st->real, st->x_real.data, B);
    const float *feat_r = st->real.out[last].data;
    netc_forward(d, &st->c_real, feat_r, st->s.data, B);
    if (N == 1) {
        shift_batch(dev, st->feat_mis.data, feat_r, nf8, B, 16, 0);
        netc_forward(d, &st->c_mis, st->feat_mis.data, st->s.data, B);
    } else {
        /* the same pairs over the global batch, (image g+1, sentence g) = (image g, sentence g−1):
         * this shard's images with the sentences one place before theirs, the first one the
         * previous rank's last (rank 0 gets rank N−1's, as one process wraps around) */
        float *sm = xmalloc((size_t)B * Sd * sizeof(float));
        dist_shift(cond + (size_t)(B - 1) * Sd, sm, Sd);
        memcpy(sm + Sd, cond, (size_t)(B - 1) * Sd * sizeof(float));
        tensor_upload(&st->s_mis, sm);
        free(sm);
        netc_forward(d, &st->c_mis, feat_r, st->s_mis.data, B);
    }
    netd_forward(d, &st->fake, st->x_fake.data, B);
    netc_forward(d, &st->c_fake, st->fake.out[last].data, st->s.data, B);
    L->err_real = OPV(dev, hinge_forward, st->c_real.score.data, B, -1);
    L->err_mis = OPV(dev, hinge_forward, st->c_mis.score.data, B, +1);
    L->err_fake = OPV(dev, hinge_forward, st->c_fake.score.data, B, +1);

    /* MA-GP: g_b = ∇_(x,s) Σ C(D(x),s), per sample */
    netc_backward(d, &st->c_real, &st->c_real, st->ones.data, st->dfeat.data, st->gs.data, 0, &st->adj_g);
    netd_backward(d, &st->real, &st->real, st->dfeat.data, st->gx.data, 0, 0, &st->adj_g);
    float *gx = xmalloc((size_t)3 * B * HW * sizeof(float)), *gs = xmalloc((size_t)B * Sd * sizeof(float));
    float *c3 = xcalloc((size_t)3 * B, sizeof(float)), *cS = xcalloc((size_t)B, sizeof(float));
    tensor_download(gx, &st->gx);
    tensor_download(gs, &st->gs);
    double magp = 0;
    for (int b = 0; b < B; b++) {
        double n2 = 0;
        for (int c = 0; c < 3; c++) {
            const float *p = gx + ((size_t)c * B + b) * HW;
            for (int i = 0; i < HW; i++) n2 += (double)p[i] * p[i];
        }
        for (int i = 0; i < Sd; i++) n2 += (double)gs[(size_t)b * Sd + i] * gs[(size_t)b * Sd + i];
        magp += n2 * n2 * n2;
        /* u_b = ∂P/∂g_b = (12/B)·‖g_b‖⁴·g_b, B the global batch */
        float coef = (float)(12.0 / Bg * n2 * n2);
        cS[b] = coef;
        for (int c = 0; c < 3; c++) c3[b * 3 + c] = coef;
    }
    L->magp = magp;    /* the sum over this shard, a mean below */
    tensor_upload(&st->coef3, c3);
    tensor_upload(&st->coefS, cS);
    free(gx); free(gs); free(c3); free(cS);
    OP(dev, affine_forward, st->ux.data, st->gx.data, st->coef3.data, st->zeros3.data, 3, B, HW);
    OP(dev, affine_forward, st->us.data, st->gs.data, st->coefS.data, st->zerosS.data, 1, B, Sd);
    /* ∂P/∂θ = ∇_θ (directional derivative of Σ C(D(x),s) along u): a tangent pass, then its backward.
     * That backward (upstream ones, the real pass's masks, the same weights) meets exactly the adjoints
     * the g_b pass above met, so only its weight-gradient products remain to be done. */
    netd_tangent(d, &st->tan, &st->real, st->ux.data);
    netc_tangent(d, &st->c_tan, &st->c_real, st->tan.out[last].data, st->us.data);
    netc_weight_grads(d, &st->adj_g, &st->c_tan);
    netd_weight_grads(d, &st->adj_g, &st->tan);

    /* hinge terms: means over the global batch, so each shard's scale is 1/N of one process's */
    const float one = 1.0f / N, half = 0.5f / N;
    OP(dev, hinge_backward, st->dscore.data, st->c_real.score.data, B, -1, one);
    netc_backward(d, &st->c_real, &st->c_real, st->dscore.data, st->dfeat.data, NULL, 1, NULL);
    OP(dev, hinge_backward, st->dscore.data, st->c_mis.score.data, B, +1, half);
    netc_backward(d, &st->c_mis, &st->c_mis, st->dscore.data, st->dfeat_mis.data, NULL, 1, NULL);
    if (N == 1) shift_batch(dev, st->dfeat.data, st->dfeat_mis.data, nf8, B, 16, 1);
    else OP(dev, vec_axpy, st->dfeat.data, 1.0f, st->dfeat_mis.data, (size_t)nf8 * B * 16);
    netd_backward(d, &st->real, &st->real, st->dfeat.data, NULL, 1, 1, NULL);
    OP(dev, hinge_backward, st->dscore.data, st->c_fake.score.data, B, +1, half);
    netc_backward(d, &st->c_fake, &st->c_fake, st->dscore.data, st->dfeat.data, NULL, 1, NULL);
    netd_backward(d, &st->fake, &st->fake, st->dfeat.data, NULL, 1, 1, NULL);

    dist_allreduce(dev, d->ps.grad, d->ps.total);    /* the global batch's gradient on every rank */

    /* the losses: means over the global batch (equal shards: a mean of the shards' means), finite
     * before Adam; the gradient, weights and Adam state after it (train/stepcheck.h) */
    if (N > 1) {
        double v[4] = {L->err_real, L->err_mis, L->err_fake, L->magp};
        dist_sum(v, 4);
        L->err_real = v[0] / N; L->err_mis = v[1] / N; L->err_fake = v[2] / N; L->magp = v[3];
    }
    L->magp = 2.0 * L->magp / Bg;
    L->errD = L->err_real + (L->err_fake + L->err_mis) / 2 + L->magp;
    const long step = ++st->step;
    const char *names[] = {"err_real", "err_fake", "err_mis", "magp", "errD"};
    const double vals[] = {L->err_real, L->err_fake, L->err_mis, L->magp, L->errD};
    for (int i = 0; i < 5; i++) step_check_loss(step, names[i], vals[i]);
    L->param_grad_norm = step_grad_norm(&d->ps);
    params_adam_step(&d->ps, st->lr, st->beta1, st->beta2, st->eps);
    step_check_update(&d->ps, step);
    netd_sync_gamma(d);

    /* G's adversarial loss through the updated D: gradient wrt the fake images only */
    netd_forward(d, &st->fake, st->x_fake.data, B);
    netc_forward(d, &st->c_fake, st->fake.out[last].data, st->s.data, B);
    float *sc = xmalloc((size_t)B * sizeof(float));
    tensor_download(sc, &st->c_fake.score);
    double sum = 0;
    for (int b = 0; b < B; b++) { sum += sc[b]; sc[b] = -1.0f / Bg; }
    tensor_upload(&st->dscore, sc);
    free(sc);
    netc_backward(d, &st->c_fake, &st->c_fake, st->dscore.data, st->dfeat.data, NULL, 0, NULL);
    netd_backward(d, &st->fake, &st->fake, st->dfeat.data, st->gx.data, 0, 0, NULL);
    OP(dev, cnhw_to_nchw, on_dev ? grad_fake : st->stage.data, st->gx.data, B, 3, HW);
    if (!on_dev) tensor_download(grad_fake, &st->stage);

    if (N > 1) dist_sum(&sum, 1);
    L->errG = -sum / Bg;
    step_check_loss(step, "errG", L->errG);
    if (on_dev) step_check_dev(dev, step, "the gradient wrt the fake images", grad_fake, 4, (int64_t[]){B, 3, S, S});
    else step_check_host(step, "the gradient wrt the fake images", grad_fake, 4, (int64_t[]){B, 3, S, S});
}

void dstep_train(dstep *st, const float *real, const float *cond, const float *fake, int B,
                 float *grad_fake, dstep_losses *L) {
    train(st, real, cond, fake, B, grad_fake, 0, L);
}

void dstep_train_dev(dstep *st, const float *real, const float *cond, const float *fake, int B,
                     float *grad_fake, dstep_losses *L) {
    train(st, real, cond, fake, B, grad_fake, 1, L);
}

void dstep_free(dstep *st) {
    int nb = st->D.nblocks;
    dacts_free(&st->real, nb); dacts_free(&st->fake, nb); dacts_free(&st->tan, nb);
    cacts_free(&st->c_real); cacts_free(&st->c_mis); cacts_free(&st->c_fake); cacts_free(&st->c_tan);
    dadj_free(&st->adj_g, nb);
    tensor *ts[] = {&st->x_real, &st->x_fake, &st->s, &st->ux, &st->us, &st->gx, &st->gs, &st->stage, &st->feat_mis,
                    &st->s_mis, &st->dfeat, &st->dfeat_mis, &st->dscore, &st->ones, &st->coef3, &st->coefS, &st->zeros3, &st->zerosS};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) tensor_free(ts[i]);
    netd_free(&st->D);
}
