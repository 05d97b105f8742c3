/* sy2band.h: a dense symmetric matrix to a symmetric band by orthogonal similarity (stage one of
 * a two-stage tridiagonalisation, as LAPACK's dsytrd_sy2sb), and the exact eigenvalues of such a
 * band (dsbtrd + dsterf).
 *
 * Stage one is all level-3 BLAS: for each panel of kd columns, a QR of the part below the band
 * (dgeqrt: Q = I − V·T·Vᵀ) and the two-sided update A22 := Qᵀ·A22·Q written as
 *     Y = A22·V·T,  W = Y − ½·V·(Tᵀ·Vᵀ·Y),  A22 −= W·Vᵀ + V·Wᵀ,
 * with A22·V and the rank-2kd update done in 256×256 tiles of the lower triangle, shared over
 * `threads` OpenMP threads (one-thread BLAS in each); each panel's update is applied in the next
 * panel's pass over the tiles (look-ahead), so the trailing matrix is read and written once per
 * panel. 4/3·n³ flops in gemm-shaped calls: 0.10 s at n = 2048, kd = 32 on 2 cores, where LAPACK's
 * one-stage dsytrd took 0.21 s (half of it memory-bound dsymv) and its dsytrd_sy2sb 0.24-0.34 s.
 *
 * Band layout (LAPACK's lower band storage): ab[(i − j) + j·(kd + 1)] = B(i, j), 0 ≤ i − j ≤ kd. */
#ifndef DFGAN_SY2BAND_H
#define DFGAN_SY2BAND_H

#include <stddef.h>
#include <stdint.h>

/* a: n×n column-major (lda n), the symmetric matrix in its lower triangle (destroyed; the strict
 * upper triangle is neither read nor written). ab: (kd + 1)·n doubles out. 0 ≤ kd < n (kd = 0 only for n = 1).
 * Returns 0, or -1 with a one-line message (a LAPACK failure). */
int sy2band(int64_t n, int64_t kd, double *a, double *ab, int threads, char *err, size_t errlen);

/* The band to a similar symmetric tridiagonal matrix (diagonal d, n; off-diagonal e, n − 1) by
 * LAPACK's dsbtrd; ab is destroyed. 0, or -1 with a message. */
int band_tridiag(int64_t n, int64_t kd, double *ab, double *d, double *e, char *err, size_t errlen);

/* The eigenvalues of the band (ascending) into w (n): band_tridiag, then dsterf; ab is destroyed.
 * 0, or -1 with a message. */
int band_eigvals(int64_t n, int64_t kd, double *ab, double *w, char *err, size_t errlen);

#endif
