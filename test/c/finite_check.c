/* finite_check: unit checks of core/finite.h (run by test/nonfinite.bats): first_nonfinite and
 * first_nonfinite_f64 at every place a block boundary could hide a value (NaN, +Inf, -Inf; the
 * largest finite values, -0 and subnormals are finite), nonfinite_name, index_desc and the message of
 * check_finite. Prints "N checks passed" and exits 0, or names the first failing check, exit 1. */
#include "core/finite.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks;

#define CHECK(cond, ...)                                                \
    do {                                                                \
        checks++;                                                       \
        if (!(cond)) {                                                  \
            fprintf(stderr, "finite_check: expected %s, found it false: ", #cond); \
            fprintf(stderr, __VA_ARGS__);                               \
            fputc('\n', stderr);                                        \
            exit(1);                                                    \
        }                                                               \
    } while (0)

int main(void) {
    const size_t n = 3000;   /* three blocks of 1024, the last one partial */
    float *x = malloc(n * sizeof *x);
    double *y = malloc(n * sizeof *y);
    const float specials[3] = {NAN, INFINITY, -INFINITY};
    const size_t places[] = {0, 1, 1023, 1024, 1025, 2047, 2048, 2999};
    const float finite[] = {FLT_MAX, -FLT_MAX, FLT_MIN, FLT_TRUE_MIN, -0.0f, 0.0f, 1.0f, -1e30f};
    for (size_t i = 0; i < n; i++) {
        x[i] = finite[i % 8];
        y[i] = i % 2 ? DBL_MAX : -DBL_TRUE_MIN;
    }
    CHECK(first_nonfinite(x, n) == -1, "all finite");
    CHECK(first_nonfinite_f64(y, n) == -1, "all finite (f64)");
    CHECK(first_nonfinite(x, 0) == -1 && first_nonfinite_f64(y, 0) == -1, "empty");
    for (int s = 0; s < 3; s++)
        for (size_t p = 0; p < sizeof places / sizeof *places; p++) {
            size_t at = places[p];
            float keep = x[at];
            double keep64 = y[at];
            x[at] = specials[s];
            y[at] = (double)specials[s];
            CHECK(first_nonfinite(x, n) == (ptrdiff_t)at, "value %g at %zu", (double)specials[s], at);
            CHECK(first_nonfinite_f64(y, n) == (ptrdiff_t)at, "f64 value %g at %zu", (double)specials[s], at);
            CHECK(first_nonfinite(x, at) == -1, "a search that stops before %zu", at);
            /* a second one later: the first is still the one found */
            if (at + 700 < n) {
                x[at + 700] = NAN;
                CHECK(first_nonfinite(x, n) == (ptrdiff_t)at, "the first of two, at %zu", at);
                x[at + 700] = finite[(at + 700) % 8];
            }
            x[at] = keep;
            y[at] = keep64;
        }
    /* NaN payloads and the negative NaN are NaN */
    uint32_t qnan = 0xffc00001u, snan = 0x7f800001u;
    memcpy(&x[5], &qnan, 4);
    CHECK(first_nonfinite(x, n) == 5, "negative NaN with a payload");
    memcpy(&x[5], &snan, 4);
    CHECK(first_nonfinite(x, n) == 5, "signalling NaN");
    CHECK(!strcmp(nonfinite_name(x[5]), "NaN"), "name of a signalling NaN: %s", nonfinite_name(x[5]));
    CHECK(!strcmp(nonfinite_name(INFINITY), "+Inf") && !strcmp(nonfinite_name(-INFINITY), "-Inf") &&
              !strcmp(nonfinite_name(NAN), "NaN"), "names");

    char buf[64];
    const int64_t shape[4] = {4, 3, 5, 7};
    CHECK(!strcmp(index_desc(buf, sizeof buf, 2 * 105 + 1 * 35 + 4 * 7 + 3, 4, shape), "(2,1,4,3)"),
          "index (2,1,4,3): %s", buf);
    CHECK(!strcmp(index_desc(buf, sizeof buf, 0, 4, shape), "(0,0,0,0)"), "index 0: %s", buf);
    CHECK(!strcmp(index_desc(buf, sizeof buf, 6, 1, (const int64_t[]){9}), "(6)"), "1-d index: %s", buf);
    CHECK(!strcmp(index_desc(buf, 5, 419, 4, shape), "(3,2"), "a short buffer cuts, NUL-terminated: %s", buf);

    /* check_finite's message; other dtypes pass */
    float a[4 * 3 * 5 * 7] = {0};
    npy_array arr = {NPY_F4, 4, {4, 3, 5, 7}, 420, a};
    char err[256] = "";
    CHECK(check_finite(&arr, err, sizeof err, "--real", "in batch %d", 3) == 0 && !err[0], "finite array: '%s'", err);
    a[2 * 105 + 1 * 35 + 0 * 7 + 6] = -INFINITY;   /* (2,1,0,6) */
    CHECK(check_finite(&arr, err, sizeof err, "--real", "in batch %d", 3) == ERR_NONFINITE, "an -Inf is found");
    CHECK(!strcmp(err, "--real: expected finite values, found -Inf at (2,1,0,6) in batch 3"), "message: %s", err);
    double d[6] = {1, 2, 3, 4, 5, NAN};
    npy_array arr64 = {NPY_F8, 2, {2, 3}, 6, d};
    CHECK(check_finite(&arr64, err, sizeof err, "s.npz", "in '%s'", "sigma") == ERR_NONFINITE &&
              !strcmp(err, "s.npz: expected finite values, found NaN at (1,2) in 'sigma'"), "f64 message: %s", err);
    float one = INFINITY;
    npy_array scalar = {NPY_F4, 0, {0}, 1, &one};
    CHECK(check_finite(&scalar, err, sizeof err, "W.npz", "in '%s'", "logit_scale") == ERR_NONFINITE &&
              !strcmp(err, "W.npz: expected finite values, found +Inf in 'logit_scale'"), "0-d message: %s", err);
    uint32_t bits[2] = {0x7fc00000u, 0x7f800000u};   /* NaN's and Inf's bits as int32: not floats */
    npy_array ints = {NPY_I4, 1, {2}, 2, bits};
    CHECK(check_finite(&ints, err, sizeof err, "x", "in batch 0") == 0, "int32 arrays pass");
    free(x);
    free(y);
    printf("%d checks passed\n", checks);
    return 0;
}
