/* steplog.c: per-batch loss lines (see steplog.h). */
#include "train/steplog.h"
#include "core/common.h"

#include <errno.h>
#include <string.h>

void steplog_open(steplog *l, const char *path) {
    l->json = path != NULL;
    l->f = stderr;
    if (path && !(l->f = fopen(path, "a")))
        die_usage("--log: expected a writable file, found '%s': %s", path, strerror(errno));
}

void steplog_write(steplog *l, long batch, int n, const char *const *names, const double *values) {
    if (l->json) {
        fprintf(l->f, "{\"batch\": %ld", batch);
        for (int i = 0; i < n; i++) fprintf(l->f, ", \"%s\": %.9g", names[i], values[i]);
        fputs("}\n", l->f);
    } else {
        fprintf(l->f, "%s: batch %ld", progname, batch);
        for (int i = 0; i < n; i++) fprintf(l->f, " %s %.6f", names[i], values[i]);
        fputc('\n', l->f);
    }
    fflush(l->f);
}

void steplog_close(steplog *l) {
    if (l->json && l->f && fclose(l->f) != 0) die_runtime("--log: expected to write the log, found %s", strerror(errno));
    l->f = NULL;
}
