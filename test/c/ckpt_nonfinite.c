/* ckpt_nonfinite: test driver for the checkpoint writers' NaN/Inf guard (core/checkpoint.h), run by
 * test/diverge.bats.
 *
 *   ckpt_nonfinite WHERE OUT.npz
 *
 * A param_set of two parameters, "a.weight" (2,3) and "b.bias" (4,), with one Adam step taken
 * (data i+1, exp_avg 0.5, exp_avg_sq 0.25, gradient -1), saved to OUT.npz with ckpt_save, or with
 * ckpt_save_grads when WHERE is grad. WHERE plants one value first:
 *   none        nothing (the file is written)
 *   data        NaN at a.weight (1,2)
 *   exp_avg     +Inf at adam.exp_avg.b.bias (3)
 *   exp_avg_sq  -Inf at adam.exp_avg_sq.a.weight (0,1)
 *   grad        NaN at b.bias (0), saved with ckpt_save_grads
 * Exit 0 written, 3 refused (one line on stderr), 2 bad usage. */
#include "core/checkpoint.h"
#include "core/common.h"

#include <math.h>
#include <string.h>

int main(int argc, char **argv) {
    progname = "ckpt_nonfinite";
    if (argc != 3) die_usage("expected WHERE OUT.npz, found %d arguments", argc - 1);
    const char *where = argv[1], *out = argv[2];
    param_set ps;
    memset(&ps, 0, sizeof ps);
    int a = params_add(&ps, "a.weight", 2, 2, 3, 0, 0), b = params_add(&ps, "b.bias", 1, 4, 0, 0, 0);
    params_alloc(&ps, DEVICE_CPU);
    for (size_t i = 0; i < ps.total; i++) {
        ps.data[i] = (float)i + 1;
        ps.m[i] = 0.5f;
        ps.v[i] = 0.25f;
        ps.grad[i] = -1;
    }
    ps.step = 1;
    if (!strcmp(where, "data")) pdata(&ps, a)[1 * 3 + 2] = NAN;
    else if (!strcmp(where, "exp_avg")) ps.m[ps.info[b].offset + 3] = INFINITY;
    else if (!strcmp(where, "exp_avg_sq")) ps.v[ps.info[a].offset + 1] = -INFINITY;
    else if (!strcmp(where, "grad")) pgrad(&ps, b)[0] = NAN;
    else if (strcmp(where, "none")) die_usage("expected none, data, exp_avg, exp_avg_sq or grad, found '%s'", where);
    if (!strcmp(where, "grad")) ckpt_save_grads(&ps, out);
    else ckpt_save(&ps, out);
    params_free(&ps);
    return 0;
}
