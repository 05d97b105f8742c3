/* dist_bench: full DF-GAN training steps (G forward, D step with MA-GP, G's adversarial gradient,
 * G backward, Adam on both) on random weights and data, in one process or as the ranks of an MPI job
 * (mpirun -np N build/bench/dist_bench ...), each rank its B/N samples of the global batch B and the
 * gradients all-reduced as the tools do (lib/core/dist.h, lib/train/dstep.c, gstep.c).
 *   dist_bench [--imsize 32] [--nf 16] [--batch 16] [--cond 256] [--z 100] [--steps 5] [--device cpu]
 * Rank 0 prints "key value" lines: ranks, step_s (the best step), step_mean_s, images_per_s (global
 * batch / best step), step_cpu_s (the least CPU time a step took, all ranks' threads; MPI's waits
 * poll, so they count), allreduce_bytes_per_step (D's and G's gradient buffers, what each rank sends
 * into the all-reduce), comm_s_per_step (mean time inside the steps' all-reduces, waiting for the
 * slowest rank included), comm_share (comm_s_per_step / step_mean_s), allreduce_s (the best of 5
 * all-reduces of both buffers started together: the transfer alone). */
#include "core/common.h"
#include "step_args.h"
#include "core/dist.h"
#include "core/rng.h"
#include "train/dstep.h"
#include "train/gstep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void fill(float *p, size_t n, rng_t *r, int uniform) {
    for (size_t i = 0; i < n; i++) p[i] = (float)(uniform ? 2 * rng_uniform(r) - 1 : rng_normal(r));
}

int main(int argc, char **argv) {
    progname = "dist_bench";
    dist_start();
    step_args a = {.imsize = 32, .nf = 16, .B = 16, .cond = 256, .z = 100, .steps = 5, .device = "cpu"};
    step_args_parse(&a, argc, argv);
    const int imsize = a.imsize, nf = a.nf, B = a.B, cond = a.cond, z = a.z, steps = a.steps;
    const char *device = a.device;
    device_t dev = device_parse(device);
    dist_init(dev);
    const int N = dist_size(), r = dist_rank();
    if (B % N) die_usage("expected a batch that %d ranks divide, found %d", N, B);
    const int b = B / N;

    /* the same weights on every rank (same seeds), as after loading one checkpoint */
    gstep gs;
    netg_build(&gs.G, imsize, nf, z, cond);
    params_alloc(&gs.G.ps, dev);
    netg_init_weights(&gs.G, 1);
    gs.lr = 1e-4; gs.beta1 = 0; gs.beta2 = 0.9; gs.eps = 1e-8;
    gstep_init(&gs);
    dstep ds;
    memset(&ds, 0, sizeof ds);
    netd_build(&ds.D, imsize, nf, cond);
    params_alloc(&ds.D.ps, dev);
    netd_init_weights(&ds.D, 2);
    ds.lr = 4e-4; ds.beta1 = 0; ds.beta2 = 0.9; ds.eps = 1e-8;
    dstep_init(&ds);

    /* the global batch drawn alike on every rank; each keeps its rows */
    const size_t img = (size_t)3 * imsize * imsize;
    float *real = xmalloc((size_t)B * img * 4), *noise = xmalloc((size_t)B * z * 4), *sent = xmalloc((size_t)B * cond * 4);
    float *gf = xmalloc((size_t)b * img * 4);
    rng_t rg;
    rng_init(&rg, 7, 0);
    fill(real, (size_t)B * img, &rg, 1);
    double best = 1e30, total = 0, comm0 = 0, comm = 0, cpu_best = 1e30;
    for (int s = 0; s <= steps; s++) {          /* step 0 warms up */
        fill(noise, (size_t)B * z, &rg, 0);
        fill(sent, (size_t)B * cond, &rg, 0);
        const float *zr = noise + (size_t)r * b * z, *sr = sent + (size_t)r * b * cond, *xr = real + (size_t)r * b * img;
        if (s == 1) dist_stats(NULL, &comm0);
        dist_sum(&(double){0}, 1);               /* a barrier: the ranks start the step together */
        const double t0 = now(), c0 = cpu_now();
        const float *fake = gstep_forward(&gs, zr, sr, b, 1);
        dstep_losses L;
        dstep_train(&ds, xr, sr, fake, b, gf, &L);
        const float *gp[1] = {gf};
        gstep_train(&gs, gp, 1);
        double t = now() - t0, c = cpu_now() - c0;
        dist_sum(&t, 1);                         /* the step's time: the ranks' mean */
        dist_sum(&c, 1);                         /* its CPU time: all ranks' */
        t /= N;
        if (s > 0) { total += t; if (t < best) best = t; if (c < cpu_best) cpu_best = c; }
    }
    double bytes = 0;
    dist_stats(&bytes, &comm);
    comm = (comm - comm0) / steps;
    dist_sum(&comm, 1);
    comm /= N;
    /* the all-reduces alone, the ranks starting together (copies of the buffers) */
    const size_t nd = ds.D.ps.total, ng = gs.G.ps.total;
    float *cd = dev_alloc(dev, nd), *cg = dev_alloc(dev, ng);
    double ar = 1e30;
    for (int k = 0; k < 5; k++) {
        dist_sum(&(double){0}, 1);
        const double t0 = now();
        dist_allreduce(dev, cd, nd);
        dist_allreduce(dev, cg, ng);
        double t = now() - t0;
        dist_sum(&t, 1);
        if (t / N < ar) ar = t / N;
    }
    dev_free(dev, cd); dev_free(dev, cg);
    if (r == 0) {
        printf("ranks %d\nstep_s %.4f\nstep_mean_s %.4f\nimages_per_s %.2f\nstep_cpu_s %.4f\n", N, best, total / steps,
               B / best, cpu_best);
        printf("allreduce_bytes_per_step %.0f\ncomm_s_per_step %.5f\ncomm_share %.4f\nallreduce_s %.5f\n",
               N > 1 ? (double)(nd + ng) * sizeof(float) : 0.0, comm, comm / (total / steps), N > 1 ? ar : 0.0);
    }
    free(real); free(noise); free(sent); free(gf);
    gstep_free(&gs);
    dstep_free(&ds);
    dist_finish();
    return 0;
}
