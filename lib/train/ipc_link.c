/* ipc_link.c: device buffers between the training loop's CUDA tools (see ipc_link.h). */
#include "train/ipc_link.h"
#include "core/common.h"
#include "core/dist.h"
#include "io/ipc_record.h"
#include "ops_cuda.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void ipc_check_device(device_t dev) {
    if (dev != DEVICE_CUDA)
        die_usage("expected --ipc with --device cuda (it hands GPU buffers between CUDA tools), found --device %s",
                  device_name(dev));
}

void ipc_check_output(const char *flag, const char *path) {
    if (!path) return;
    struct stat st;
    const int known = strcmp(path, "-") ? stat(path, &st) == 0 : fstat(STDOUT_FILENO, &st) == 0;
    if (!known || S_ISREG(st.st_mode))
        die_usage("%s: expected a pipe or FIFO with --ipc (a record names GPU memory that lives only while its writer "
                  "runs), found %s'%s'%s", flag, known ? "a regular file " : "", path, known ? "" : " (a regular file to be)");
}

void ipc_check_ranks(void) {
    if (dist_size() > 1) die_usage("expected --ipc in one process, found %d ranks (not built over ranks)", dist_size());
}

/* ---- the writer ---- */

void ipc_out_init(ipc_out *w, const char *flag, const char *path) {
    memset(w, 0, sizeof *w);
    w->flag = flag;
    w->path = path;
    cuda_bus_id(w->bus, sizeof w->bus);
}

float *ipc_out_buffer(ipc_out *w, size_t count) {
    ipc_slot *s = &w->slot[w->next];
    if (!count) count = 1;             /* an empty batch still has a buffer to name */
    if (count > s->cap) {
        /* a grown batch: the old buffer's last reader is done with it (ipc_link.h); its readers map the
         * new one when its record (a new handle) comes */
        cuda_free(s->buf);
        s->buf = cuda_alloc(count * sizeof(float));
        s->cap = count;
        cuda_ipc_export(s->buf, s->mem);
        if (!s->event) s->event = cuda_ipc_event_new(s->ev);
    }
    return s->buf;
}

void ipc_out_publish(ipc_out *w, int ndim, const int64_t *shape) {
    ipc_slot *s = &w->slot[w->next];
    cuda_ipc_event_record(s->event);
    ipc_record r;
    memset(&r, 0, sizeof r);
    r.slot = (uint32_t)w->next;
    memcpy(r.mem, s->mem, 64);
    memcpy(r.event, s->ev, 64);
    r.ndim = ndim;
    for (int i = 0; i < ndim; i++) r.shape[i] = shape[i];
    r.pid = (int64_t)getpid();
    snprintf(r.bus, sizeof r.bus, "%s", w->bus);
    snprintf(r.machine, sizeof r.machine, "%s", ipc_machine_id());
    r.bytes = s->cap * sizeof(float);
    if (!w->af) w->af = af_open(w->path);
    if (ipc_record_write(af_stream(w->af), &r) != 0)
        die_runtime("expected to write %s '%s', found %s", w->flag, w->path, strerror(errno));
    w->next = (w->next + 1) % IPC_SLOTS;
}

void ipc_out_close(ipc_out *w) {
    if (w->af) af_commit(w->af);
    w->af = NULL;
    for (int i = 0; i < IPC_SLOTS; i++) {
        cuda_free(w->slot[i].buf);
        if (w->slot[i].event) cuda_ipc_event_free(w->slot[i].event);
    }
    memset(w->slot, 0, sizeof w->slot);
}

/* ---- the reader ---- */

void ipc_take_records(shard_group *g, int i) {
    if (g->ranks == 1) g->g.s[i].ipc = 1;
    else g->s[i].ipc = 1;
}

/* The buffers and events opened, one per writer and slot: a slot's handle changes only when its
 * writer grows the buffer. */
typedef struct {
    int64_t pid;
    uint32_t slot;
    unsigned char mem[64];
    void *buf, *event;
} opened;
static opened *open_list;
static int n_open;

static opened *lookup(const ipc_record *r, const char *flag, long index) {
    opened *o = NULL;
    for (int i = 0; i < n_open && !o; i++)
        if (open_list[i].pid == r->pid && open_list[i].slot == r->slot) o = &open_list[i];
    if (o && memcmp(o->mem, r->mem, 64) == 0) return o;
    char why[256];
    if (!o) {
        open_list = xrealloc(open_list, (size_t)(n_open + 1) * sizeof *open_list);
        o = &open_list[n_open++];
        memset(o, 0, sizeof *o);
        o->pid = r->pid;
        o->slot = r->slot;
        if (!(o->event = cuda_ipc_open_event(r->event, why, sizeof why)))
            die_runtime("%s: expected to open the event of a CUDA IPC record (pid %lld, slot %u), found %s in array %ld",
                        flag, (long long)r->pid, r->slot, why, index);
    } else {
        cuda_ipc_close(o->buf);    /* the writer grew this slot: its old buffer is done with */
    }
    if (!(o->buf = cuda_ipc_open(r->mem, why, sizeof why)))
        die_runtime("%s: expected to map the buffer of a CUDA IPC record (pid %lld, slot %u), found %s in array %ld",
                    flag, (long long)r->pid, r->slot, why, index);
    memcpy(o->mem, r->mem, 64);
    return o;
}

const float *ipc_in_device(ipc_in *in, const npy_array *a, const char *flag, long index) {
    if (!ipc_is_record(a)) {
        if ((size_t)a->count > in->cap) {
            cuda_free(in->stage);
            in->stage = cuda_alloc((size_t)a->count * sizeof(float));
            in->cap = (size_t)a->count;
        }
        cuda_upload(in->stage, a->data, (size_t)a->count * sizeof(float));
        return in->stage;
    }
    ipc_record r;
    char err[160], bus[16];
    if (ipc_record_decode(a->data, IPC_RECORD_BYTES, &r, err, sizeof err) != 1)
        die_runtime("%s: expected a CUDA IPC record, found %s in array %ld", flag, err, index);
    if (strcmp(r.machine, ipc_machine_id()))
        die_usage("%s: expected a CUDA IPC record from this machine (boot id %s), found one from another (%s) in array %ld",
                  flag, ipc_machine_id(), r.machine, index);
    cuda_bus_id(bus, sizeof bus);
    if (strcmp(r.bus, bus))
        die_usage("%s: expected a CUDA IPC record from this GPU (%s), found one from GPU %s in array %ld", flag, bus,
                  r.bus, index);
    if (kill((pid_t)r.pid, 0) != 0 && errno == ESRCH)
        die_usage("%s: expected a CUDA IPC record from a live writer, found its writer (pid %lld) gone in array %ld", flag,
                  (long long)r.pid, index);
    if (r.bytes < (uint64_t)a->count * sizeof(float))
        die_usage("%s: expected a CUDA IPC record's buffer to hold its %lld floats, found %llu bytes in array %ld", flag,
                  (long long)a->count, (unsigned long long)r.bytes, index);
    opened *o = lookup(&r, flag, index);
    cuda_ipc_wait(o->event);
    return o->buf;
}

const float *ipc_in_shard(ipc_in *r, const shard_group *g, int i, const npy_array *a) {
    return ipc_in_device(r, a, g->ranks == 1 ? g->g.m[i].flag : g->m[i].flag, g->batches - 1);
}

void ipc_in_free(ipc_in *in) {
    cuda_free(in->stage);
    in->stage = NULL;
    in->cap = 0;
}
