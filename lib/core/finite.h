/* finite.h: finding NaN and Inf in float buffers, for the checks of tensors a tool reads and of the
 * losses and gradients a training step makes (a non-finite value exits EXIT_NONFINITE, common.h). */
#ifndef DFGAN_FINITE_H
#define DFGAN_FINITE_H
#include <stddef.h>
#include <stdint.h>

/* The index of the first NaN or +-Inf in x[0..n-1], or -1 when all are finite. Reads the float's
 * exponent bits (all ones = NaN/Inf), so it holds under -ffast-math too. */
ptrdiff_t first_nonfinite(const float *x, size_t n);
/* "NaN", "+Inf" or "-Inf" for a non-finite v (messages). */
const char *nonfinite_name(float v);
/* The flat index i of a C-order array of shape[0..ndim-1] as "(i0,i1,...)" in buf; returns buf. */
const char *index_desc(char *buf, size_t len, size_t i, int ndim, const int64_t *shape);
#endif
