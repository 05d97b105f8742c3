/* ipc_record.c: CUDA IPC records' bytes, and a stream reader meeting one (see ipc_record.h). */
#include "io/ipc_record.h"
#include "core/common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char MAGIC[8] = {'D', 'F', 'G', 'A', 'N', 'I', 'P', 'C'};

static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> 8 * i); }
static void put64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> 8 * i); }
static uint32_t get32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = v << 8 | p[i];
    return v;
}
static uint64_t get64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

void ipc_record_encode(const ipc_record *r, unsigned char b[IPC_RECORD_BYTES]) {
    memset(b, 0, IPC_RECORD_BYTES);
    memcpy(b, MAGIC, 8);
    put32(b + 8, IPC_RECORD_VERSION);
    put32(b + 12, r->slot);
    memcpy(b + 16, r->mem, 64);
    memcpy(b + 80, r->event, 64);
    memcpy(b + 144, "<f4", 3);
    put32(b + 148, (uint32_t)r->ndim);
    for (int i = 0; i < 4; i++) put64(b + 152 + 8 * i, (uint64_t)(i < r->ndim ? r->shape[i] : 0));
    put64(b + 184, (uint64_t)r->pid);
    memcpy(b + 192, r->bus, strnlen(r->bus, 15));
    memcpy(b + 208, r->machine, strnlen(r->machine, 39));
    put64(b + 248, r->bytes);
}

int ipc_record_decode(const unsigned char *b, size_t n, ipc_record *r, char *err, size_t errlen) {
    if (n != IPC_RECORD_BYTES || memcmp(b, MAGIC, 8) != 0) return 0;
    const uint32_t version = get32(b + 8);
    if (version != IPC_RECORD_VERSION) {
        snprintf(err, errlen, "a CUDA IPC record of version %u (this build reads version %d)", version, IPC_RECORD_VERSION);
        return -1;
    }
    memset(r, 0, sizeof *r);
    r->slot = get32(b + 12);
    memcpy(r->mem, b + 16, 64);
    memcpy(r->event, b + 80, 64);
    r->ndim = (int)get32(b + 148);
    const uint64_t limit = (uint64_t)1 << 40;  /* elements, as npy.h's NPY_MAX_BYTES bounds bytes */
    uint64_t count = 1;
    int ok = memcmp(b + 144, "<f4\0", 4) == 0 && r->ndim >= 1 && r->ndim <= 4;
    for (int i = 0; ok && i < r->ndim; i++) {
        const uint64_t d = get64(b + 152 + 8 * i);
        ok = d < limit && (d == 0 || count <= limit / d);
        r->shape[i] = (int64_t)d;
        count *= d ? d : 1;
    }
    r->pid = (int64_t)get64(b + 184);
    memcpy(r->bus, b + 192, 15);
    memcpy(r->machine, b + 208, 39);
    r->bytes = get64(b + 248);
    if (!ok || r->pid <= 0) {
        snprintf(err, errlen, "a CUDA IPC record with a bad dtype, shape or pid");
        return -1;
    }
    return 1;
}

int ipc_record_write(FILE *f, const ipc_record *r) {
    unsigned char b[IPC_RECORD_BYTES];
    ipc_record_encode(r, b);
    return npy_write(f, NPY_U1, 1, (const int64_t[]){IPC_RECORD_BYTES}, b);
}

int ipc_record_shaped(npy_dtype dt, int ndim, const int64_t *shape) {
    return dt == NPY_U1 && ndim == 1 && shape[0] == IPC_RECORD_BYTES;
}

int ipc_record_array(const npy_array *a) {
    return ipc_record_shaped(a->dtype, a->ndim, a->shape) && memcmp(a->data, MAGIC, 8) == 0;
}

const char *ipc_machine_id(void) {
    static char id[40];
    if (id[0]) return id;
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!f || !fgets(id, sizeof id, f)) {
        if (gethostname(id, sizeof id - 1) != 0) snprintf(id, sizeof id, "unknown");
    }
    if (f) fclose(f);
    id[strcspn(id, "\n")] = 0;
    return id;
}

int ts_read_record(tstream *s, const npy_header *h, int ndim, const int64_t *want, const char *exp, npy_array *out) {
    char err[256];
    int64_t got = 0;
    npy_array a;
    if (npy_read_data(s->f, h, &a, &got, err, sizeof err) != 1) {
        if (ferror(s->f)) die_runtime("%s: %s in array %ld", s->name, err, s->index);
        die_usage("%s: expected float32 %s, found a truncated array (%lld of %lld bytes) in array %ld", s->name, exp,
                  (long long)got, (long long)IPC_RECORD_BYTES, s->index);
    }
    ipc_record r;
    const int is = ipc_record_decode(a.data, (size_t)a.count, &r, err, sizeof err);
    if (is == 0) {
        npy_free(&a);
        return 0;
    }
    if (!s->ipc) die_usage("%s: expected float32 %s, " IPC_RECORD_REFUSAL, s->name, exp);
    if (is < 0) die_usage("%s: expected float32 %s, found %s in array %ld", s->name, exp, err, s->index);
    int ok = r.ndim == ndim;
    for (int i = 0; ok && want && i < ndim; i++) ok = want[i] < 0 || want[i] == r.shape[i];
    if (!ok) {
        char found[32 * 4 + 8];
        npy_format_shape(found, sizeof found, r.ndim, r.shape);
        die_usage("%s: expected float32 %s, found a CUDA IPC record of float32 %s in array %ld", s->name, exp, found,
                  s->index);
    }
    memset(out, 0, sizeof *out);
    out->dtype = NPY_U1;
    out->ndim = r.ndim;
    out->count = 1;
    for (int i = 0; i < r.ndim; i++) out->count *= (out->shape[i] = r.shape[i]);
    out->data = a.data;
    s->index++;
    return 1;
}
