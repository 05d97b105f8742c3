/* step_bench: one full DF-GAN training step (G forward, D step with MA-GP, G's adversarial gradient
 * through the updated D, G backward and Adam) timed in-process on random weights and data, plus an
 * sgemm peak measured in the same run.
 *   step_bench [--imsize 64] [--nf 16] [--batch 16] [--cond 256] [--z 100] [--steps 5] [--device cpu|cuda]
 * On cuda (build/bench/cuda/step_bench, which build/bench/step_bench hands over to) the step is
 * the tools' step without the tools: the fakes downloaded for D and its gradient uploaded for G as
 * gen-step and disc-step copy them, but no pipes between; each step timed to a synchronise.
 * CONV_DIRECT=0 in the environment keeps every convolution on im2col + gemm (lib/cpu/conv2d.c);
 * CONV_WINOGRAD=0 keeps the 3×3 ones off Winograd's F(2×2,3×3).
 * Prints "key value" lines: step_s is the best step (least disturbed by other work on the machine),
 * step_mean_s the mean, step_cpu_s the least CPU time (all threads) a step took; GFLOP/s of the gemms at the best step's pace, sgemm peak, peak RSS.
 * And what the per-step NaN/Inf checks cost (issue 15), timed after each step on its buffers:
 * checks_step_s those the tools' steps make (train/stepcheck.h: D's and G's gradients, weights and
 * Adam state, the losses, the fakes and D's gradient wrt them), checks_input_s the search of the
 * step's input batches (real images, cond twice, noise, fakes, the gradient wrt them: first_nonfinite,
 * as the stream readers check them), both means per step; checks_share_pct their sum against
 * step_mean_s. */
#include "core/common.h"
#include "step_args.h"
#include "train/dstep.h"
#include "models/netg.h"
#include "core/ops.h"
#include "core/real.h"
#include "core/rng.h"
#include "core/finite.h"
#include "train/stepcheck.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static void fill(float *p, size_t n, rng_t *r, double scale, int uniform) {
    for (size_t i = 0; i < n; i++) p[i] = (float)(uniform ? (2 * rng_uniform(r) - 1) * scale : rng_normal(r) * scale);
}

static double sgemm_peak(void) {
    int n = 1024;
    float *a = xcalloc((size_t)n * n, 4), *b = xcalloc((size_t)n * n, 4), *c = xcalloc((size_t)n * n, 4);
    for (size_t i = 0; i < (size_t)n * n; i++) { a[i] = 1e-3f * (float)(i % 7); b[i] = 1e-3f * (float)(i % 5); }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    double best = 1e30;
    for (int k = 0; k < 5; k++) {
        double t = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        t = now() - t;
        if (t < best) best = t;
    }
    free(a); free(b); free(c);
    return 2.0 * n * n * n / best / 1e9;
}

extern int conv2d_direct_cpu, conv2d_winograd_cpu;   /* lib/cpu/conv2d.c */

static volatile ptrdiff_t sink;   /* keeps the input searches' results alive */

/* the tools' per-step checks after step `step` (they pass: the step was finite) */
static void step_checks(const netg *g, const dstep *st, const dstep_losses *L, const float *fake, const float *gf,
                        int B, int S, long step) {
    const double v[] = {L->err_real, L->err_fake, L->err_mis, L->magp, L->errD, L->errG};
    for (int i = 0; i < 6; i++) step_check_loss(step, "loss", v[i]);
    step_check_update(&st->D.ps, step);
    step_check_host(step, "grad", gf, 4, (int64_t[]){B, 3, S, S});
    step_check_update(&g->ps, step);
    step_check_host(step, "fakes", fake, 4, (int64_t[]){B, 3, S, S});
}

/* the search of the step's input batches, as the tools' stream readers make it */
static void input_checks(const float *real, const float *sent, const float *noise, const float *fake, const float *gf,
                         size_t nimg, size_t ncond, size_t nz) {
    sink = first_nonfinite(real, nimg) + first_nonfinite(sent, ncond) + first_nonfinite(fake, nimg)   /* disc-step */
         + first_nonfinite(noise, nz) + first_nonfinite(sent, ncond) + first_nonfinite(gf, nimg);     /* gen-step */
}

int main(int argc, char **argv) {
    progname = "step_bench";
    tool_argv = argv;   /* for the hand-over to build/bench/cuda/step_bench */
    if (getenv("CONV_DIRECT")) conv2d_direct_cpu = atoi(getenv("CONV_DIRECT"));
    if (getenv("CONV_WINOGRAD")) conv2d_winograd_cpu = atoi(getenv("CONV_WINOGRAD"));
    step_args a = {.imsize = 64, .nf = 16, .B = 16, .cond = 256, .z = 100, .steps = 5, .device = "cpu"};
    step_args_parse(&a, argc, argv);
    const int imsize = a.imsize, nf = a.nf, B = a.B, cond = a.cond, z = a.z, steps = a.steps;
    const char *device = a.device;
    device_t dev = device_parse(device);
    netg g;
    netg_build(&g, imsize, nf, z, cond);
    params_alloc(&g.ps, dev);
    netg_init_weights(&g, 1);
    dstep st;
    memset(&st, 0, sizeof st);
    netd_build(&st.D, imsize, nf, cond);
    params_alloc(&st.D.ps, dev);
    netd_init_weights(&st.D, 2);
    st.lr = 4e-4; st.beta1 = 0; st.beta2 = 0.9; st.eps = 1e-8;
    dstep_init(&st);

    size_t nimg = (size_t)B * 3 * imsize * imsize;
    float *real = xmalloc(nimg * 4), *fake = xmalloc(nimg * 4), *gf = xmalloc(nimg * 4);
    float *noise = xmalloc((size_t)B * z * 4), *sent = xmalloc((size_t)B * cond * 4);
    rng_t r;
    rng_init(&r, 7, 0);
    fill(real, nimg, &r, 1.0, 1);
    tensor zt = tensor_new2(dev, B, z), ct = tensor_new2(dev, B, cond);
    float *stage = dev_alloc(dev, nimg), *dimg = dev_alloc(dev, nimg);
    double t_total = 0, t_g = 0, t_d = 0, t_best = 1e30, c_best = 1e30, t_chk = 0, t_in = 0;
    for (int s = 0; s <= steps; s++) {          /* step 0 warms up */
        fill(noise, (size_t)B * z, &r, 1.0, 0);
        fill(sent, (size_t)B * cond, &r, 1.0, 0);
        double t0 = now(), c0 = cpu_now();
        tensor_upload(&zt, noise); tensor_upload(&ct, sent);
        netg_forward(&g, zt.data, ct.data, B);
        OP(dev, cnhw_to_nchw, stage, g.img.data, B, 3, imsize * imsize);
        dev_download(dev, fake, stage, nimg);
        double t1 = now();
        dstep_losses L;
        dstep_train(&st, real, sent, fake, B, gf, &L);
        double t2 = now();
        dev_upload(dev, stage, gf, nimg);
        OP(dev, nchw_to_cnhw, dimg, stage, B, 3, imsize * imsize);
        params_zero_grad(&g.ps);
        netg_backward(&g, dimg);
        params_adam_step(&g.ps, 1e-4, 0, 0.9, 1e-8);
        step_check_update(&g.ps, s + 1);               /* as gstep_train */
        if (dev == DEVICE_CUDA) cuda_sync();
        double t3 = now(), c3 = cpu_now();
        step_checks(&g, &st, &L, fake, gf, B, imsize, s + 1);
        if (dev == DEVICE_CUDA) cuda_sync();
        double t4 = now();
        input_checks(real, sent, noise, fake, gf, nimg, (size_t)B * cond, (size_t)B * z);
        double t5 = now();
        if (s > 0) { t_chk += t4 - t3; t_in += t5 - t4; }
        if (s > 0 && c3 - c0 < c_best) c_best = c3 - c0;
        if (s > 0) {
            t_total += t3 - t0; t_d += t2 - t1; t_g += (t1 - t0) + (t3 - t2);
            if (t3 - t0 < t_best) t_best = t3 - t0;
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("step_s %.4f\nstep_mean_s %.4f\nd_step_s %.4f\ng_step_s %.4f\n", t_best, t_total / steps, t_d / steps, t_g / steps);
    printf("step_cpu_s %.4f\n", c_best);
    printf("checks_step_s %.6f\nchecks_input_s %.6f\nchecks_share_pct %.3f\n", t_chk / steps, t_in / steps,
           100.0 * (t_chk + t_in) / t_total);
    printf("peak_rss_mb %.1f\n", ru.ru_maxrss / 1024.0);
    printf("gemm_flops_per_step %.4g\n", cpu_gemm_flops / (steps + 1));
    printf("gflops %.2f\n", cpu_gemm_flops / (steps + 1) / t_best / 1e9);
    printf("sgemm_peak_gflops %.2f\n", sgemm_peak());
    return 0;
}
