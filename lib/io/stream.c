/* stream.c: typed tensor streams for the tools (see stream.h). */
#include "io/stream.h"
#include "core/common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void ts_open(tstream *s, const char *flag, const char *path) {
    s->name = xstrdup(flag);
    s->index = 0;
    if (strcmp(path, "-") == 0) {
        s->f = stdin;
        return;
    }
    s->f = fopen(path, "rb");
    if (!s->f) die_usage("%s: expected a readable file, found '%s': %s", flag, path, strerror(errno));
    struct stat st;
    if (fstat(fileno(s->f), &st) == 0 && S_ISDIR(st.st_mode))
        die_usage("%s: expected a readable file, found '%s': %s", flag, path, strerror(EISDIR));
}

static void describe(char *buf, size_t n, int ndim, const int64_t *want, const char *shape_desc) {
    if (shape_desc) { snprintf(buf, n, "%s", shape_desc); return; }
    size_t k = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < ndim && k < n; i++) {
        if (want && want[i] >= 0) k += (size_t)snprintf(buf + k, n - k, i ? ",%lld" : "%lld", (long long)want[i]);
        else k += (size_t)snprintf(buf + k, n - k, i ? ",?" : "?");
    }
    if (k < n) snprintf(buf + k, n - k, ndim == 1 ? ",)" : ")");
}

int ts_read_f32(tstream *s, int ndim, const int64_t *want, const char *shape_desc, npy_array *out) {
    char err[512], exp[256];
    npy_header h;
    memset(out, 0, sizeof *out);
    int r = npy_read_header(s->f, &h, err, sizeof err);
    if (r == 0) return 0;
    if (r < 0) {
        if (ferror(s->f)) die_runtime("%s: %s in array %ld", s->name, err, s->index);
        die_usage("%s: %s in array %ld", s->name, err, s->index);
    }
    int ok = h.dtype == NPY_F4 && h.ndim == ndim;
    for (int i = 0; ok && want && i < ndim; i++) ok = want[i] < 0 || want[i] == h.shape[i];
    describe(exp, sizeof exp, ndim, want, shape_desc);
    if (!ok) {
        char found[32 * NPY_MAX_DIMS + 8];
        npy_format_shape(found, sizeof found, h.ndim, h.shape);
        die_usage("%s: expected float32 %s, found %s %s in array %ld", s->name, exp, npy_dtype_name(h.dtype), found,
                  s->index);
    }
    int64_t got = 0;
    if (npy_read_data(s->f, &h, out, &got, err, sizeof err) != 1) {
        if (ferror(s->f)) die_runtime("%s: %s in array %ld", s->name, err, s->index);
        if (got >= 0)
            die_usage("%s: expected float32 %s, found a truncated array (%lld of %lld bytes) in array %ld", s->name,
                      exp, (long long)got, (long long)(h.count * 4), s->index);
        die_runtime("%s: %s in array %ld", s->name, err, s->index);
    }
    s->index++;
    return 1;
}

void ts_close(tstream *s) {
    if (s->f && s->f != stdin) fclose(s->f);
    s->f = NULL;
    free(s->name);
    s->name = NULL;
}
