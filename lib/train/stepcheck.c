/* stepcheck.c: the per-step finite checks of the training steps (see stepcheck.h). */
#include "train/stepcheck.h"
#include "core/common.h"
#include "core/dist.h"
#include "core/finite.h"
#include "core/ops.h"

#include <math.h>

void step_check_loss(long step, const char *name, double v) {
    const float f = (float)v;
    if (first_nonfinite(&f, 1) < 0) return;
    if (dist_rank() != 0) dist_hold();     /* every rank holds the same losses: rank 0 says it */
    if (isfinite(v))
        die_nonfinite("step %ld: expected a finite loss, found %s in %s (%.4g, beyond float32's range)", step,
                      nonfinite_name(f), name, v);
    die_nonfinite("step %ld: expected a finite loss, found %s in %s", step, nonfinite_name(f), name);
}

/* die if buf (ps->total floats on ps's device) holds a NaN or Inf: "step N: expected finite
 * values<when>, found <NaN> in <what><prefix><key> at (...)" */
static void check_buffer(const param_set *ps, const float *buf, long step, const char *when, const char *what,
                         const char *prefix) {
    const int64_t i = OPV(ps->device, vec_first_nonfinite, buf, ps->total);
    if (i < 0) return;
    float v;
    dev_download(ps->device, &v, buf + i, 1);
    char where[PARAM_KEY_MAX + 128];
    params_where(ps, (size_t)i, prefix, where, sizeof where);
    if (dist_rank() != 0) dist_hold();     /* all-reduced and updated alike: the same on every rank */
    die_nonfinite("step %ld: expected finite values%s, found %s in %s%s", step, when, nonfinite_name(v), what, where);
}

void step_check_update(const param_set *ps, long step) {
    if (OPV(ps->device, vec_first_nonfinite, ps->data, ps->total) < 0 &&
        OPV(ps->device, vec_first_nonfinite, ps->v, ps->total) < 0)
        return;                            /* then g and m were finite too (stepcheck.h) */
    check_buffer(ps, ps->grad, step, "", "the gradient of ", "");
    check_buffer(ps, ps->data, step, " after the Adam step", "", "");
    check_buffer(ps, ps->m, step, " after the Adam step", "", "adam.exp_avg.");
    check_buffer(ps, ps->v, step, " after the Adam step", "", "adam.exp_avg_sq.");
}

void step_check_host(long step, const char *what, const float *x, int ndim, const int64_t *shape) {
    size_t n = 1;
    for (int d = 0; d < ndim; d++) n *= (size_t)shape[d];
    const ptrdiff_t i = first_nonfinite(x, n);
    if (i < 0) return;
    char at[96];
    die_nonfinite("step %ld: expected finite values, found %s in %s at %s", step, nonfinite_name(x[i]), what,
                  index_desc(at, sizeof at, (size_t)i, ndim, shape));
}

void step_check_dev(device_t dev, long step, const char *what, const float *x, int ndim, const int64_t *shape) {
    size_t n = 1;
    for (int d = 0; d < ndim; d++) n *= (size_t)shape[d];
    const int64_t i = OPV(dev, vec_first_nonfinite, x, n);
    if (i < 0) return;
    float v;
    dev_download(dev, &v, x + i, 1);
    char at[96];
    die_nonfinite("step %ld: expected finite values, found %s in %s at %s", step, nonfinite_name(v), what,
                  index_desc(at, sizeof at, (size_t)i, ndim, shape));
}

double step_grad_norm(const param_set *ps) {
    return sqrt(OPV(ps->device, vec_dot, ps->grad, ps->grad, ps->total));
}
