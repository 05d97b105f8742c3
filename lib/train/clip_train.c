/* clip_train.c: CLIP's contrastive loss, the AdamW step with the logit_scale clamp, and retrieval
 * accuracy (see clip_train.h). */
#include "train/clip_train.h"
#include "core/checkpoint.h"
#include "core/common.h"
#include "core/ops.h"
#include "core/ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOGIT_SCALE_MAX 4.6051701859880914   /* ln 100 */

clip_train_opts clip_train_defaults(void) {
    clip_train_opts o = {.lr = 5e-4, .beta1 = 0.9, .beta2 = 0.98, .eps = 1e-6, .wd = 0.2, .warmup = 0, .cosine = 0,
                         .resize = RESIZE_BICUBIC};
    return o;
}

double clip_train_lr(const clip_train_opts *o, long step) {
    const long s = step - 1;
    if (s < o->warmup) return o->lr * (double)(s + 1) / (double)o->warmup;
    if (o->cosine <= o->warmup) return o->lr;
    if (s >= o->cosine) return 0;
    const double e = (double)(s - o->warmup), es = (double)(o->cosine - o->warmup);
    return 0.5 * (1 + cos(M_PI * e / es)) * o->lr;
}

int clip_param_decays(const char *key, int ndim) {
    return ndim >= 2 && !(strstr(key, "bn") || strstr(key, "ln") || strstr(key, "bias") || strstr(key, "logit_scale"));
}

/* ---------------------------------------------------------------- the loss */

/* xn (B,E) = x/|x| per row (double), norms in nrm (B) */
static void normalise(double *xn, double *nrm, const float *x, int B, int E) {
    for (int b = 0; b < B; b++) {
        double s = 0;
        for (int e = 0; e < E; e++) s += (double)x[(size_t)b * E + e] * x[(size_t)b * E + e];
        nrm[b] = sqrt(s) > 1e-30 ? sqrt(s) : 1e-30;
        for (int e = 0; e < E; e++) xn[(size_t)b * E + e] = x[(size_t)b * E + e] / nrm[b];
    }
}

/* dx (B,E) = (dxn − xn·(xn·dxn))/|x|: the gradient through x/|x| */
static void normalise_backward(float *dx, const double *dxn, const double *xn, const double *nrm, int B, int E) {
    for (int b = 0; b < B; b++) {
        const double *g = dxn + (size_t)b * E, *u = xn + (size_t)b * E;
        double d = 0;
        for (int e = 0; e < E; e++) d += g[e] * u[e];
        for (int e = 0; e < E; e++) dx[(size_t)b * E + e] = (float)((g[e] - u[e] * d) / nrm[b]);
    }
}

double clip_contrastive_loss(float *dimg, float *dtxt, double *dscale, const float *img, const float *txt, int B,
                             int E, double logit_scale, double *acc) {
    if (B <= 0) {
        if (dscale) *dscale = 0;
        if (acc) *acc = 0;
        return 0;
    }
    const size_t be = (size_t)B * E, bb = (size_t)B * B;
    double *in = xmalloc(be * sizeof *in), *tn = xmalloc(be * sizeof *tn), *ni = xmalloc((size_t)B * sizeof *ni),
           *nt = xmalloc((size_t)B * sizeof *nt), *Z = xmalloc(bb * sizeof *Z), *G = xcalloc(bb, sizeof *G);
    normalise(in, ni, img, B, E);
    normalise(tn, nt, txt, B, E);
    const double s = exp(logit_scale);
    for (int i = 0; i < B; i++)   /* Z (B,B) = s·in·tnᵀ: row i image i, column j text j */
        for (int j = 0; j < B; j++) {
            double d = 0;
            for (int e = 0; e < E; e++) d += in[(size_t)i * E + e] * tn[(size_t)j * E + e];
            Z[(size_t)i * B + j] = s * d;
        }
    /* G = ∂loss/∂Z = (softmax over each row − I + softmax over each column − I) / (2B) */
    double loss = 0;
    int right = 0;
    for (int pass = 0; pass < 2; pass++)   /* 0: rows (image -> texts), 1: columns (text -> images) */
        for (int i = 0; i < B; i++) {
            const size_t step = pass ? (size_t)B : 1, first = pass ? (size_t)i : (size_t)i * B;
            double mx = Z[first];
            int arg = 0;
            for (int j = 1; j < B; j++)
                if (Z[first + j * step] > mx) { mx = Z[first + j * step]; arg = j; }
            if (!pass && arg == i) right++;
            double se = 0;
            for (int j = 0; j < B; j++) se += exp(Z[first + j * step] - mx);
            const double lse = mx + log(se);
            loss += (lse - Z[first + (size_t)i * step]) / (2.0 * B);
            for (int j = 0; j < B; j++) G[first + j * step] += (exp(Z[first + j * step] - lse) - (j == i)) / (2.0 * B);
        }
    if (dscale) {   /* ∂Z/∂logit_scale = Z */
        double d = 0;
        for (size_t k = 0; k < bb; k++) d += G[k] * Z[k];
        *dscale = d;
    }
    if (acc) *acc = (double)right / B;
    /* ∂in = s·G·tn, ∂tn = s·Gᵀ·in, then through the normalisation */
    double *dn = xmalloc(be * sizeof *dn);
    if (dimg) {
        memset(dn, 0, be * sizeof *dn);
        for (int i = 0; i < B; i++)
            for (int j = 0; j < B; j++) {
                const double gij = s * G[(size_t)i * B + j];
                for (int e = 0; e < E; e++) dn[(size_t)i * E + e] += gij * tn[(size_t)j * E + e];
            }
        normalise_backward(dimg, dn, in, ni, B, E);
    }
    if (dtxt) {
        memset(dn, 0, be * sizeof *dn);
        for (int i = 0; i < B; i++)
            for (int j = 0; j < B; j++) {
                const double gij = s * G[(size_t)i * B + j];
                for (int e = 0; e < E; e++) dn[(size_t)j * E + e] += gij * in[(size_t)i * E + e];
            }
        normalise_backward(dtxt, dn, tn, nt, B, E);
    }
    free(dn); free(in); free(tn); free(ni); free(nt); free(Z); free(G);
    return loss;
}

/* ---------------------------------------------------------------- the step */

/* torch.optim.AdamW over every parameter at lr, then logit_scale clamped to [0, ln 100] */
static void adamw_step(clip_model *m, const clip_train_opts *o, double lr) {
    param_set *ps = &m->ps;
    const device_t dv = ps->device;
    ps->step++;
    for (int i = 0; i < ps->n; i++) {
        const param_info *p = &ps->info[i];
        float *w = ps->data + p->offset;
        if (o->wd != 0 && clip_param_decays(p->key, p->ndim)) OP(dv, vec_scale, w, (float)(1 - lr * o->wd), p->size);
        OP(dv, adam_update, w, ps->m + p->offset, ps->v + p->offset, ps->grad + p->offset, p->size, lr, o->beta1,
           o->beta2, o->eps, ps->step);
    }
    float ls;
    dev_download(dv, &ls, pdata(ps, m->logit_scale), 1);
    const float lo = 0, hi = (float)LOGIT_SCALE_MAX;
    if (ls < lo || ls > hi) {
        ls = ls < lo ? lo : hi;
        dev_upload(dv, pdata(ps, m->logit_scale), &ls, 1);
    }
}

int clip_train_step(clip_model *m, const clip_train_opts *o, const float *images, int B, int H, int W,
                    const int32_t *ids, int L, clip_step_info *info, char *err, size_t errlen) {
    const int E = m->embed_dim;
    param_set *ps = &m->ps;
    float *tf = xmalloc((size_t)(B ? B : 1) * E * sizeof(float)), *imf = xmalloc((size_t)(B ? B : 1) * E * sizeof(float));
    float *dt = xmalloc((size_t)(B ? B : 1) * E * sizeof(float)), *di = xmalloc((size_t)(B ? B : 1) * E * sizeof(float));
    clip_text_ctx *tctx = NULL;
    if (clip_text_forward(m, tf, ids, B, L, &tctx, err, errlen) != 0) {
        free(tf); free(imf); free(dt); free(di);
        return -1;
    }
    clip_image_ctx *ictx = NULL;
    clip_encode_image(m, imf, images, B, H, W, o->resize, &ictx);
    float ls;
    dev_download(ps->device, &ls, pdata(ps, m->logit_scale), 1);
    double dscale, acc;
    const double loss = clip_contrastive_loss(di, dt, &dscale, imf, tf, B, E, ls, &acc);
    params_zero_grad(ps);
    clip_text_backward(m, ps->grad, dt, tctx);
    clip_image_backward_grad(m, NULL, ps->grad, di, ictx);
    const float g = (float)dscale;
    dev_upload(ps->device, pgrad(ps, m->logit_scale), &g, 1);
    const double lr = clip_train_lr(o, ps->step + 1);
    adamw_step(m, o, lr);
    if (info) *info = (clip_step_info){.loss = loss, .acc = acc, .logit_scale = ls, .lr = lr};
    free(tf); free(imf); free(dt); free(di);
    return 0;
}

void clip_train_save_weights(const clip_model *m, const char *path) {
    param_set view = m->ps;
    view.step = 0;   /* ckpt_save writes Adam's state only after a step */
    ckpt_save(&view, path);
}

/* ---------------------------------------------------------------- retrieval */

void clip_retrieval_top1(const float *img, const float *txt, const int *group, int N, int E, double *i2t, double *t2i) {
    *i2t = *t2i = 0;
    if (N <= 0) return;
    const size_t ne = (size_t)N * E;
    double *in = xmalloc(ne * sizeof *in), *tn = xmalloc(ne * sizeof *tn), *nrm = xmalloc((size_t)N * sizeof *nrm);
    double *S = xmalloc((size_t)N * N * sizeof *S);
    normalise(in, nrm, img, N, E);
    normalise(tn, nrm, txt, N, E);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double d = 0;
            for (int e = 0; e < E; e++) d += in[(size_t)i * E + e] * tn[(size_t)j * E + e];
            S[(size_t)i * N + j] = d;
        }
    long ri = 0, rt = 0;
    for (int i = 0; i < N; i++) {
        int bi = 0, bt = 0;
        for (int j = 1; j < N; j++) {
            if (S[(size_t)i * N + j] > S[(size_t)i * N + bi]) bi = j;   /* image i's best text */
            if (S[(size_t)j * N + i] > S[(size_t)bt * N + i]) bt = j;   /* text i's best image */
        }
        ri += group[bi] == group[i];
        rt += group[bt] == group[i];
    }
    *i2t = (double)ri / N;
    *t2i = (double)rt / N;
    free(in); free(tn); free(nrm); free(S);
}
