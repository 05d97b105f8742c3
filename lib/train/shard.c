/* shard.c: a step tool's input streams under data-parallel ranks (see shard.h). */
#include "train/shard.h"
#include "core/common.h"
#include "core/dist.h"
#include "core/finite.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void shg_open(shard_group *g, int n, const ts_member *m) {
    memset(g, 0, sizeof *g);
    g->ranks = dist_size();
    char paths[16][4096];
    if (n > 16) die_runtime("expected at most 16 streams in a group, found %d", n);
    if (g->ranks == 1) {
        ts_member mm[16];
        for (int i = 0; i < n; i++) {
            mm[i] = m[i];
            mm[i].path = dist_path(m[i].path, paths[i], sizeof paths[i]);
        }
        tsg_open(&g->g, n, mm);
        return;
    }
    g->n = n;
    g->s = xcalloc((size_t)n, sizeof *g->s);
    g->m = xcalloc((size_t)n, sizeof *g->m);
    g->shared = xcalloc((size_t)n, sizeof *g->shared);
    /* the shared files first, rank 0 before the others (a missing one is said once), then this
     * rank's own streams in their order (FIFOs open as their writers do) */
    dist_rank0_first();
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n; i++) {
            if (m[i].ndim < 1 || m[i].ndim > 4) die_runtime("%s: expected 1 to 4 dimensions, found %d", m[i].flag, m[i].ndim);
            if (dist_per_rank(m[i].path) != pass) continue;
            g->m[i] = m[i];
            g->shared[i] = !pass;
            ts_open(&g->s[i], m[i].flag, dist_path(m[i].path, paths[i], sizeof paths[i]));
            g->m[i].flag = g->s[i].name;
            g->m[i].path = NULL;
            struct stat st;
            if (g->shared[i] && (fstat(fileno(g->s[i].f), &st) != 0 || !S_ISREG(st.st_mode)))
                die_usage("%s: expected a regular file or a per-rank path (with %%r) on %d ranks, found '%s', not a regular file",
                          m[i].flag, g->ranks, m[i].path);
        }
        if (pass == 0) dist_rank0_done();
    }
}

/* This rank's rows of the next array of shared stream i into out (1), or 0 at its end; *b is this
 * rank's rows (set here when <= 0). The whole array's extent is checked against the file's size,
 * then the other ranks' rows are skipped. */
static int read_shared(shard_group *g, int i, int64_t *b, npy_array *out) {
    tstream *s = &g->s[i];
    const ts_member *m = &g->m[i];
    const int N = g->ranks, r = dist_rank();
    char err[512], want[160];
    npy_header h;
    memset(out, 0, sizeof *out);
    int rc = npy_read_header(s->f, &h, err, sizeof err);
    if (rc == 0) return 0;
    /* what is wrong with a shared file is wrong for every rank: rank 0 says it, once */
#define SHARED_FAULT() do { if (r != 0) dist_hold(); } while (0)
    if (rc < 0) {
        SHARED_FAULT();
        if (ferror(s->f)) die_runtime("%s: %s in array %ld", s->name, err, s->index);
        die_usage("%s: %s in array %ld", s->name, err, s->index);
    }
    ts_member_desc(want, sizeof want, m, *b > 0 ? *b * N : -1);
    int ok = h.dtype == NPY_F4 && h.ndim == m->ndim;
    for (int d = 1; ok && d < m->ndim; d++) ok = m->shape[d] < 0 || m->shape[d] == h.shape[d];
    if (!ok) SHARED_FAULT();
    if (!ok || (*b > 0 && h.shape[0] != *b * N)) {     /* a batch other than this rank's streams' */
        char found[32 * NPY_MAX_DIMS + 8];
        npy_format_shape(found, sizeof found, h.ndim, h.shape);
        die_usage("%s: expected float32 %s, found %s %s in array %ld", s->name, want, npy_dtype_name(h.dtype), found, s->index);
    }
    const int64_t B = h.shape[0];
    if (B < N || B % N) {
        SHARED_FAULT();
        die_usage("%s: expected a batch that %d ranks divide, found %lld rows in array %ld", s->name, N, (long long)B, s->index);
    }
    if (*b <= 0) *b = B / N;
    const int64_t row = h.count / B * 4;             /* bytes */
    const off_t start = ftello(s->f);
    struct stat st;
    if (start < 0 || fstat(fileno(s->f), &st) != 0) die_runtime("%s: expected to locate array %ld, found %s", s->name, s->index, strerror(errno));
    if (start + B * row > st.st_size) {
        SHARED_FAULT();
        die_usage("%s: expected float32 %s, found a truncated array (%lld of %lld bytes) in array %ld", s->name, want,
                  (long long)(st.st_size - start), (long long)(B * row), s->index);
    }
#undef SHARED_FAULT
    out->dtype = NPY_F4;
    out->ndim = h.ndim;
    memcpy(out->shape, h.shape, sizeof h.shape);
    out->shape[0] = *b;
    out->count = h.count / N;
    out->data = xmalloc((size_t)(*b * row));
    if (fseeko(s->f, (off_t)(r * *b * row), SEEK_CUR) != 0 || fread(out->data, 1, (size_t)(*b * row), s->f) != (size_t)(*b * row) ||
        fseeko(s->f, start + (off_t)(B * row), SEEK_SET) != 0)
        die_runtime("%s: expected to read rank %d's rows of array %ld, found %s", s->name, r, s->index,
                    ferror(s->f) ? strerror(errno) : "the file shrinking");
    if (h.swap) {
        unsigned char *p = out->data;
        for (int64_t k = 0; k < out->count; k++, p += 4) {
            unsigned char t = p[0]; p[0] = p[3]; p[3] = t;
            t = p[1]; p[1] = p[2]; p[2] = t;
        }
    }
    /* this rank's rows checked as ts_read_f32 checks a whole batch, the index named in the whole batch */
    const ptrdiff_t bad = s->allow_nonfinite ? -1 : first_nonfinite((const float *)out->data, (size_t)out->count);
    if (bad >= 0) {
        char at[32 * NPY_MAX_DIMS + 8];
        die_nonfinite("%s: expected finite values, found %s at %s in batch %ld", s->name,
                      nonfinite_name(((const float *)out->data)[bad]),
                      index_desc(at, sizeof at, (size_t)(r * out->count + bad), h.ndim, h.shape), s->index);
    }
    s->index++;
    return 1;
}

int shg_read(shard_group *g, int64_t b, npy_array *out) {
    if (g->ranks == 1) {
        int got = tsg_read(&g->g, b, out);
        if (got) g->B = out[0].shape[0];
        g->batches = g->g.batches;
        return got;
    }
    int ended = -1, more = 0;
    int64_t rows = b > 0 ? b : -1;
    for (int i = 0; i < g->n; i++) {
        int got;
        if (g->shared[i]) {
            got = read_shared(g, i, &rows, &out[i]);
        } else {
            const ts_member *m = &g->m[i];
            int64_t want[4] = {rows, m->shape[1], m->shape[2], m->shape[3]};
            char d[160];
            ts_member_desc(d, sizeof d, m, rows);
            got = ts_read_f32(&g->s[i], m->ndim, want, d, &out[i]);
            if (got && rows < 0) rows = out[i].shape[0];
        }
        if (got) more++;
        else if (ended < 0) ended = i;
    }
    if (more && ended >= 0) ts_die_uneven(g->m, g->n, ended, g->batches + 1);
    /* every rank reads this batch, with as many rows, or every rank has ended */
    long lo, hi, mine = more ? (long)rows : 0;
    dist_minmax(mine, &lo, &hi);
    if (lo != hi) {
        if (mine == hi) dist_hold();       /* the rank that differs says why, and ends the job */
        if (!more)
            die_usage("%s: expected batch %ld, as the other ranks read, found the end of the stream", g->m[0].flag, g->batches + 1);
        die_usage("%s: expected batch %ld to hold %ld rows on every rank, found %ld on this one", g->m[0].flag,
                  g->batches + 1, hi, mine);
    }
    if (!more) return 0;
    g->B = rows * g->ranks;
    g->batches++;
    return 1;
}

void shg_expect_end(shard_group *g) {
    if (g->ranks == 1) { tsg_expect_end(&g->g); return; }
    for (int i = 0; i < g->n; i++) {
        int c = getc(g->s[i].f);
        if (c != EOF) die_usage("%s: expected %ld batches, found more", g->m[i].flag, g->batches);
        if (ferror(g->s[i].f)) die_runtime("%s: expected to read the stream's end, found %s", g->m[i].flag, strerror(errno));
    }
}

void shg_close(shard_group *g) {
    if (g->ranks == 1) { tsg_close(&g->g); return; }
    for (int i = 0; i < g->n; i++) ts_close(&g->s[i]);
    free(g->s); free(g->m); free(g->shared);
    g->s = NULL; g->m = NULL; g->shared = NULL;
    g->n = 0;
}

const char *shard_out_path(const char *flag, const char *path, char *buf, size_t n) {
    if (dist_size() > 1 && !dist_per_rank(path))
        die_usage("%s: expected a per-rank path (with %%r) on %d ranks, found '%s'", flag, dist_size(), path);
    return dist_path(path, buf, n);
}
