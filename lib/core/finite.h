/* finite.h: finding NaN and Inf in float buffers, for the checks of tensors a tool reads and of the
 * losses and gradients a training step makes (a non-finite value exits EXIT_NONFINITE, common.h).
 *
 * The input checks say one line: "NAME: expected finite values, found NaN at (2,0,5,7) WHERE", NAME
 * the stream's flag or the file, WHERE "in batch 3" (a stream's array, 0-based as npy-info numbers
 * them) or "in 'key'" (a checkpoint's or an archive's member). */
#ifndef DFGAN_FINITE_H
#define DFGAN_FINITE_H
#include <stddef.h>
#include <stdint.h>

#include "io/npy.h"

/* The index of the first NaN or +-Inf in x[0..n-1], or -1 when all are finite. Reads the float's
 * exponent bits (all ones = NaN/Inf), so it holds under -ffast-math too. */
ptrdiff_t first_nonfinite(const float *x, size_t n);
ptrdiff_t first_nonfinite_f64(const double *x, size_t n);   /* the same for float64 */
/* "NaN", "+Inf" or "-Inf" for a non-finite v (messages). */
const char *nonfinite_name(float v);
/* The flat index i of a C-order array of shape[0..ndim-1] as "(i0,i1,...)" in buf; returns buf. */
const char *index_desc(char *buf, size_t len, size_t i, int ndim, const int64_t *shape);

/* What a reader of files from outside (lib/README.md, "Errors") returns for a non-finite value, its
 * message in err, so that the tool exits EXIT_NONFINITE rather than EXIT_USAGE (die_input). */
#define ERR_NONFINITE (-3)

/* 0 when every value of a is finite (float32 or float64; other dtypes hold none), else ERR_NONFINITE
 * with "NAME: expected finite values, found NaN at (i,j) WHERE" in err, WHERE from fmt (a 0-d array:
 * "found NaN WHERE"). */
int check_finite(const npy_array *a, char *err, size_t errlen, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The same check for the tools and dying library code: die_nonfinite with that message. */
void require_finite(const npy_array *a, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A reader returned rc < 0 with msg: die_nonfinite when rc is ERR_NONFINITE, else die_usage. */
_Noreturn void die_input(int rc, const char *msg);
#endif
