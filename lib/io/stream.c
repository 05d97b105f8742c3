/* stream.c: typed tensor streams for the tools (see stream.h). */
#include "io/stream.h"
#include "core/common.h"
#include "core/finite.h"
#include "io/ipc_record.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void ts_open(tstream *s, const char *flag, const char *path) {
    s->name = xstrdup(flag);
    s->index = 0;
    s->allow_nonfinite = 0;
    s->ipc = 0;
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
    if (!ok && ipc_record_shaped(h.dtype, h.ndim, h.shape) && ts_read_record(s, &h, ndim, want, exp, out)) return 1;
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
    if (!s->allow_nonfinite) require_finite(out, s->name, "in batch %ld", s->index);
    s->index++;
    return 1;
}

void ts_close(tstream *s) {
    if (s->f && s->f != stdin) fclose(s->f);
    s->f = NULL;
    free(s->name);
    s->name = NULL;
}

/* ---- streams in lock step ---- */

void tsg_open(tsgroup *g, int n, const ts_member *m) {
    g->n = n;
    g->batches = 0;
    g->s = xcalloc((size_t)n, sizeof *g->s);
    g->m = xcalloc((size_t)n, sizeof *g->m);
    for (int i = 0; i < n; i++) {
        if (m[i].ndim < 1 || m[i].ndim > 4) die_runtime("%s: expected 1 to 4 dimensions, found %d", m[i].flag, m[i].ndim);
        g->m[i] = m[i];
        ts_open(&g->s[i], m[i].flag, m[i].path);
        g->m[i].flag = g->s[i].name;          /* our copy: the caller's may go */
        g->m[i].path = NULL;
    }
}

void ts_member_desc(char *buf, size_t n, const ts_member *m, int64_t B) {
    size_t k = B < 0 ? (size_t)snprintf(buf, n, "(B") : (size_t)snprintf(buf, n, "(%lld", (long long)B);
    for (int d = 1; d < m->ndim && k < n; d++)
        k += m->shape[d] < 0 ? (size_t)snprintf(buf + k, n - k, ",?")
                             : (size_t)snprintf(buf + k, n - k, ",%lld", (long long)m->shape[d]);
    if (k < n) snprintf(buf + k, n - k, m->ndim == 1 ? ",)" : ")");
}

int tsg_read(tsgroup *g, int64_t B, npy_array *out) {
    int ended = -1, more = 0;                 /* the first stream that ended; how many had an array */
    int64_t batch = B > 0 ? B : -1;
    for (int i = 0; i < g->n; i++) {
        const ts_member *m = &g->m[i];
        int64_t want[4] = {batch, m->shape[1], m->shape[2], m->shape[3]};
        char desc[160];
        ts_member_desc(desc, sizeof desc, m, batch);
        if (ts_read_f32(&g->s[i], m->ndim, want, desc, &out[i])) {
            more++;
            if (i == 0 && batch < 0) batch = out[i].shape[0];
        } else if (ended < 0) {
            ended = i;
        }
    }
    if (more == 0) return 0;
    if (ended >= 0) ts_die_uneven(g->m, g->n, ended, g->batches + 1);
    g->batches++;
    return 1;
}

void ts_die_uneven(const ts_member *m, int n, int ended, long batch) {
    char list[512];
    size_t k = 0;
    for (int i = 0; i < n && k < sizeof list; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i == 0 ? "" : i == n - 1 ? " and " : ", ", m[i].flag);
    die_usage("expected %s to hold the same number of batches, found %s ending at batch %ld", list, m[ended].flag, batch);
}

void tsg_expect_end(tsgroup *g) {
    for (int i = 0; i < g->n; i++) {
        int c = getc(g->s[i].f);
        if (c != EOF) die_usage("%s: expected %ld batches, found more", g->m[i].flag, g->batches);
        if (ferror(g->s[i].f)) die_runtime("%s: expected to read the stream's end, found %s", g->m[i].flag, strerror(errno));
    }
}

void tsg_close(tsgroup *g) {
    for (int i = 0; i < g->n; i++) ts_close(&g->s[i]);
    free(g->s);
    free(g->m);
    g->s = NULL;
    g->m = NULL;
    g->n = 0;
}
