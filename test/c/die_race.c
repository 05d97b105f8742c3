/* die_race.c: the error convention (lib/core/common.h) when many threads fail at once: stdout's
 * pending data, then a warning, then every OpenMP thread calling die_runtime at the same moment.
 * stderr must hold the warning and then exactly one error line, whole and last; exit status 1.
 *   die_race [THREADS]   (test/tools.bats runs it many times) */
#include "core/common.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    progname = "die_race";
    const int n = argc > 1 ? atoi(argv[1]) : 8;
    printf("stdout data written before the error\n");   /* buffered when stdout is a pipe or a file */
    warnx("warning: a warning before the error");
#pragma omp parallel num_threads(n)
    {
#pragma omp barrier
        die_runtime("expected nothing to fail, found thread %d of %d failing (a line long enough to be written "
                    "in pieces if it were printed piecewise: %s)", omp_get_thread_num(), omp_get_num_threads(),
                    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789");
    }
    return 0;
}
