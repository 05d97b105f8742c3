/* ckpt_import.c: PyTorch (zip and legacy), safetensors and npz checkpoints as lists of tensor
 * views (see ckpt_import.h). */
#include "import/ckpt_import.h"
#include "core/common.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>



const char *cki_format_name(cki_format fmt) {
    switch (fmt) {
    case CKI_TORCH_ZIP: return "pytorch-zip";
    case CKI_TORCH_LEGACY: return "pytorch-legacy";
    case CKI_SAFETENSORS: return "safetensors";
    case CKI_NPZ: return "npz";
    }
    return "unknown";
}

/* ---- the file ---- */

static int read_all(cki_file *f, const char *path, char *err, size_t errlen) {
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY);
    if (fd < 0) return seterr(err, errlen, "expected a readable file, found '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        int e = S_ISDIR(st.st_mode) ? EISDIR : errno;
        if (fd != STDIN_FILENO) close(fd);
        return seterr(err, errlen, "expected a readable file, found '%s': %s", path, strerror(e));
    }
    if (S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size <= SIZE_MAX) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            if (fd != STDIN_FILENO) close(fd);
            f->buf = m;
            f->len = (size_t)st.st_size;
            f->mapped = 1;
            return 0;
        }
    }
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = xmalloc(cap);
    for (;;) {
        if (len == cap) buf = xrealloc(buf, cap *= 2);
        ssize_t k = read(fd, buf + len, cap - len);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            int e = errno;
            free(buf);
            if (fd != STDIN_FILENO) close(fd);
            return seterr(err, errlen, "expected to read '%s', found %s", path, strerror(e));
        }
        if (k == 0) break;
        len += (size_t)k;
    }
    if (fd != STDIN_FILENO) close(fd);
    f->buf = buf;
    f->len = len;
    return 0;
}

void cki_tensors_free(cki_tensor *t, int n) {
    for (int i = 0; i < n; i++) free(t[i].key);
    free(t);
}

void cki_close(cki_file *f) {
    cki_tensors_free(f->t, f->n);
    f->t = NULL;
    f->n = f->cap = 0;
    if (f->zowned) {
        for (int i = 0; i < f->zip.n; i++) free(f->zowned[i]);
        free(f->zowned);
        f->zowned = NULL;
    }
    for (int i = 0; i < f->nst; i++) free(f->st[i].key);
    free(f->st);
    f->st = NULL;
    f->nst = 0;
    zip_close(&f->zip);
    pk_free(&f->pk);
    st_free(&f->sf);
    npz_free(&f->nz);
    if (f->buf && !f->borrowed) {
        if (f->mapped) munmap(f->buf, f->len);
        else free(f->buf);
    }
    f->buf = NULL;
}

/* ---- storages by key ---- */

static int st_cmp(const void *a, const void *b) {
    return strcmp(((const cki_storage *)a)->key, ((const cki_storage *)b)->key);
}

static cki_storage *find_storage(cki_file *f, const char *key) {
    cki_storage probe = {(char *)key, NULL, 0};
    return f->nst ? bsearch(&probe, f->st, (size_t)f->nst, sizeof *f->st, st_cmp) : NULL;
}

static void add_storage(cki_file *f, int *cap, const char *key, const unsigned char *data, uint64_t nbytes) {
    if (f->nst == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        f->st = xrealloc(f->st, (size_t)*cap * sizeof *f->st);
    }
    f->st[f->nst].key = xstrdup(key);
    f->st[f->nst].data = data;
    f->st[f->nst].nbytes = nbytes;
    f->nst++;
}

/* ---- tensor views ---- */

int64_t cki_count(const cki_tensor *t) {
    int64_t c = 1;
    for (int d = 0; d < t->ndim; d++) c *= t->shape[d];
    return c;
}

static int check_view(cki_file *f, const cki_tensor *t, char *err, size_t errlen) {
    char k[160];
    size_t es = ck_dtype_size(t->dtype), os = npy_dtype_size(ck_dtype_out(t->dtype));
    uint64_t count = 1;
    int zero = 0;
    for (int d = 0; d < t->ndim; d++) zero |= t->shape[d] == 0;
    for (int d = 0; d < t->ndim && !zero; d++) {
        uint64_t s = (uint64_t)t->shape[d];
        if (count > ((uint64_t)1 << 40) / os / s)
            return seterr(err, errlen, "%s: expected tensor '%s' to hold at most 2^40 bytes, found a larger shape", f->path,
                          show_key(k, sizeof k, t->key));
        count *= s;
    }
    if (zero) return 0;
    unsigned __int128 last = (unsigned __int128)(uint64_t)t->offset;
    for (int d = 0; d < t->ndim; d++) last += (unsigned __int128)(uint64_t)(t->shape[d] - 1) * (uint64_t)t->stride[d];
    if ((last + 1) * es > t->nbytes)
        return seterr(err, errlen, "%s: expected tensor '%s' (offset %" PRId64 ", %d dims) within its storage's %" PRIu64
                      " bytes, found it reaching past the end", f->path, show_key(k, sizeof k, t->key), t->offset,
                      t->ndim, t->nbytes);
    if (count > 16 * (t->nbytes / es) + ((uint64_t)1 << 20))
        return seterr(err, errlen, "%s: expected tensor '%s' to be at most 16 times as large as its storage, found %"
                      PRIu64 " elements over %" PRIu64, f->path, show_key(k, sizeof k, t->key), count, t->nbytes / es);
    return 0;
}

int cki_view(cki_file *f, const pk_obj *o, cki_tensor *t, const char *key, char *err, size_t errlen) {
    const pk_obj *s = o->u.tensor.storage;
    char k[160], sk[160];
    memset(t, 0, sizeof *t);
    t->key = (char *)key;
    const cki_storage *st = find_storage(f, s->u.storage.key);
    if (!st)
        return seterr(err, errlen, "%s: expected the data of storage '%s' (tensor '%s'), found none", f->path,
                      show_key(sk, sizeof sk, s->u.storage.key), show_key(k, sizeof k, key));
    size_t es = ck_dtype_size(s->u.storage.dtype);
    if ((uint64_t)s->u.storage.numel > st->nbytes / es)
        return seterr(err, errlen, "%s: expected %" PRId64 " %s elements in storage '%s', found %" PRIu64 " bytes",
                      f->path, s->u.storage.numel, ck_dtype_name(s->u.storage.dtype), show_key(sk, sizeof sk, s->u.storage.key),
                      st->nbytes);
    t->dtype = s->u.storage.dtype;
    t->ndim = o->u.tensor.ndim;
    for (int d = 0; d < t->ndim; d++) {
        t->shape[d] = o->u.tensor.size[d];
        t->stride[d] = o->u.tensor.stride[d];
    }
    t->offset = o->u.tensor.offset;
    t->data = st->data + (uint64_t)s->u.storage.view_offset * es;
    t->nbytes = (uint64_t)s->u.storage.view_numel * es;
    return check_view(f, t, err, errlen);
}

/* ---- the walk ---- */

typedef struct {
    cki_file *f;
    char *err;
    size_t errlen;
    cki_tensor *t;
    int n, cap;
    size_t visits;
    char key[CKI_MAX_KEY + 64];
} walk;

static int visit(walk *w, int depth) {
    if (++w->visits > CKI_MAX_VISITS)
        return seterr(w->err, w->errlen, "%s: expected at most %d objects reachable in the checkpoint, found more "
                      "(shared references over and over?)", w->f->path, CKI_MAX_VISITS);
    if (depth > CKI_MAX_DEPTH)
        return seterr(w->err, w->errlen, "%s: expected containers nested at most %d deep, found deeper (a cycle?)",
                      w->f->path, CKI_MAX_DEPTH);
    return 0;
}

static int has_tensor(walk *w, const pk_obj *o, int depth, int *found) {
    if (*found) return 0;
    if (visit(w, depth)) return -1;
    if (o->type == PK_TENSOR) { *found = 1; return 0; }
    if (o->type == PK_DICT) {
        for (size_t i = 0; i < o->u.dict.n && !*found; i++)
            if (has_tensor(w, o->u.dict.kv[2 * i + 1], depth + 1, found)) return -1;
    } else if (o->type == PK_LIST || o->type == PK_TUPLE) {
        for (size_t i = 0; i < o->u.seq.n && !*found; i++)
            if (has_tensor(w, o->u.seq.v[i], depth + 1, found)) return -1;
    }
    return 0;
}

static int emit(walk *w, const pk_obj *o) {
    if (w->n >= CKI_MAX_TENSORS)
        return seterr(w->err, w->errlen, "%s: expected at most %d tensors, found more", w->f->path, CKI_MAX_TENSORS);
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        w->t = xrealloc(w->t, (size_t)w->cap * sizeof *w->t);
    }
    char *key = xstrdup(w->key[0] ? w->key : "tensor");
    if (cki_view(w->f, o, &w->t[w->n], key, w->err, w->errlen)) { free(key); return -1; }
    w->n++;
    return 0;
}

/* Append ".seg" (or "seg" at the start) to the key; returns the old length to restore, or -1. */
static long push_seg(walk *w, const char *seg, size_t n) {
    size_t kl = strlen(w->key);
    if (kl + 1 + n > CKI_MAX_KEY) {
        char k[160];
        return seterr(w->err, w->errlen, "%s: expected keys of at most %d bytes, found a longer one under '%s'",
                      w->f->path, CKI_MAX_KEY, show_key(k, sizeof k, w->key));
    }
    size_t at = kl;
    if (kl) w->key[at++] = '.';
    memcpy(w->key + at, seg, n);
    w->key[at + n] = 0;
    return (long)kl;
}

static int walk_obj(walk *w, const pk_obj *o, int depth) {
    if (visit(w, depth)) return -1;
    switch (o->type) {
    case PK_TENSOR:
        return emit(w, o);
    case PK_DICT:
        for (size_t i = 0; i < o->u.dict.n; i++) {
            const pk_obj *k = o->u.dict.kv[2 * i], *v = o->u.dict.kv[2 * i + 1];
            char num[32];
            const char *seg;
            size_t n;
            if (k->type == PK_STR || k->type == PK_BYTES) {
                seg = k->u.str.s;
                n = k->u.str.n;
                if (memchr(seg, 0, n)) {
                    char kk[160];
                    return seterr(w->err, w->errlen, "%s: expected dict keys without NUL characters, found one under '%s'",
                                  w->f->path, show_key(kk, sizeof kk, w->key));
                }
                while (n >= 7 && memcmp(seg, "module.", 7) == 0) { seg += 7; n -= 7; }   /* DDP */
            } else if (k->type == PK_INT) {
                n = (size_t)snprintf(num, sizeof num, "%" PRId64, k->u.i);
                seg = num;
            } else if (k->type == PK_BOOL) {
                seg = k->u.i ? "True" : "False";
                n = strlen(seg);
            } else {
                int found = 0;
                if (has_tensor(w, v, depth + 1, &found)) return -1;
                if (!found) continue;
                char kk[160];
                return seterr(w->err, w->errlen, "%s: expected string or integer dict keys above tensors, found a %s key "
                              "under '%s'", w->f->path, pk_type_name(k), show_key(kk, sizeof kk, w->key));
            }
            long old = push_seg(w, seg, n);
            if (old < 0 || walk_obj(w, v, depth + 1)) return -1;
            w->key[old] = 0;
        }
        return 0;
    case PK_LIST:
    case PK_TUPLE:
        for (size_t i = 0; i < o->u.seq.n; i++) {
            char num[32];
            int n = snprintf(num, sizeof num, "%zu", i);
            long old = push_seg(w, num, (size_t)n);
            if (old < 0 || walk_obj(w, o->u.seq.v[i], depth + 1)) return -1;
            w->key[old] = 0;
        }
        return 0;
    default:
        return 0;   /* non-tensor leaves and inert objects: skipped */
    }
}

static int key_cmp(const void *a, const void *b, void *arg) {
    const cki_tensor *t = arg;
    return strcmp(t[*(const int *)a].key, t[*(const int *)b].key);
}

static int check_unique(const char *path, const cki_tensor *t, int n, char *err, size_t errlen) {
    if (n < 2) return 0;
    int *idx = xmalloc((size_t)n * sizeof *idx);
    for (int i = 0; i < n; i++) idx[i] = i;
    qsort_r(idx, (size_t)n, sizeof *idx, key_cmp, (void *)t);
    for (int i = 1; i < n; i++)
        if (!strcmp(t[idx[i - 1]].key, t[idx[i]].key)) {
            char k[160];
            seterr(err, errlen, "%s: expected unique tensor keys, found '%s' twice (after dropping 'module.' prefixes)",
                   path, show_key(k, sizeof k, t[idx[i]].key));
            free(idx);
            return -1;
        }
    free(idx);
    return 0;
}

int cki_flatten(cki_file *f, const pk_obj *o, const char *prefix, cki_tensor **out, int *n, char *err, size_t errlen) {
    walk *w = xcalloc(1, sizeof *w);
    w->f = f;
    w->err = err;
    w->errlen = errlen;
    snprintf(w->key, sizeof w->key, "%s", prefix);
    int r = walk_obj(w, o, 0);
    if (!r) r = check_unique(f->path, w->t, w->n, err, errlen);
    if (r) {
        cki_tensors_free(w->t, w->n);
        *out = NULL;
        *n = 0;
    } else {
        *out = w->t;
        *n = w->n;
    }
    free(w);
    return r;
}

/* ---- PyTorch zip ---- */

static int pkst_cmp(const void *a, const void *b) {
    return strcmp((*(pk_obj *const *)a)->u.storage.key, (*(pk_obj *const *)b)->u.storage.key);
}

static int open_torch_zip(cki_file *f, char *err, size_t errlen) {
    char e2[512];
    int pkl = -1;
    for (int i = 0; i < f->zip.n; i++) {
        const char *nm = f->zip.e[i].name, *slash = strchr(nm, '/');
        if ((slash && !strchr(slash + 1, '/') && !strcmp(slash + 1, "data.pkl")) || !strcmp(nm, "data.pkl")) { pkl = i; break; }
    }
    size_t plen = f->zip.e[pkl].name_len - strlen("data.pkl");
    if (plen >= sizeof f->zprefix) return seterr(err, errlen, "%s: expected a short archive folder name, found a long one", f->path);
    memcpy(f->zprefix, f->zip.e[pkl].name, plen);
    f->zprefix[plen] = 0;
    f->zowned = xcalloc((size_t)f->zip.n, sizeof *f->zowned);
    char name[400];
    snprintf(name, sizeof name, "%sbyteorder", f->zprefix);
    int bo = zip_find(&f->zip, name);
    if (bo >= 0) {
        const unsigned char *d;
        if (zip_member(&f->zip, bo, &d, &f->zowned[bo], e2, sizeof e2)) return seterr(err, errlen, "%s", e2);
        if (!(f->zip.e[bo].usize == 6 && !memcmp(d, "little", 6)))
            return seterr(err, errlen, "%s: expected a little-endian checkpoint (byteorder 'little'), found another byte order",
                          f->path);
    }
    const unsigned char *pd;
    if (zip_member(&f->zip, pkl, &pd, &f->zowned[pkl], e2, sizeof e2)) return seterr(err, errlen, "%s", e2);
    size_t used;
    char pname[400];
    snprintf(pname, sizeof pname, "%sdata.pkl", f->zprefix);
    if (pk_load(&f->pk, pd, f->zip.e[pkl].usize, pname, &used, &f->root, e2, sizeof e2))
        return seterr(err, errlen, "%s: %s", f->path, e2);
    /* the storages the pickle names: <archive>/data/<key>, each once */
    size_t ns = f->pk.nstorages;
    pk_obj **sorted = xmalloc((ns ? ns : 1) * sizeof *sorted);
    if (ns) memcpy(sorted, f->pk.storages, ns * sizeof *sorted);
    qsort(sorted, ns, sizeof *sorted, pkst_cmp);
    int cap = 0, r = 0;
    for (size_t i = 0; i < ns && !r; i++) {
        const char *key = sorted[i]->u.storage.key;
        if (i && !strcmp(key, sorted[i - 1]->u.storage.key)) continue;
        snprintf(name, sizeof name, "%sdata/%s", f->zprefix, key);
        int m = zip_find(&f->zip, name);
        char k[160];
        if (m < 0) {
            r = seterr(err, errlen, "%s: expected a record '%s' for storage '%s', found none", f->path, name,
                       show_key(k, sizeof k, key));
            break;
        }
        const unsigned char *d;
        if (zip_member(&f->zip, m, &d, &f->zowned[m], e2, sizeof e2)) { r = seterr(err, errlen, "%s", e2); break; }
        add_storage(f, &cap, key, d, f->zip.e[m].usize);   /* in key order: the table stays sorted */
    }
    free(sorted);
    return r;
}

/* ---- PyTorch legacy ---- */

static const unsigned char MAGIC[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

static int open_torch_legacy(cki_file *f, char *err, size_t errlen) {
    char e2[512];
    size_t pos = 0, used;
    pk_obj *magic, *proto, *info, *keys;
    const char *what[5] = {"the magic number", "the protocol version", "the system info", "the object", "the storage keys"};
    pk_obj **slot[5] = {&magic, &proto, &info, &f->root, &keys};
    for (int i = 0; i < 5; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s (pickle %d)", what[i], i + 1);
        if (pk_load(&f->pk, f->buf + pos, f->len - pos, name, &used, slot[i], e2, sizeof e2))
            return seterr(err, errlen, "%s: %s", f->path, e2);
        pos += used;
        if (i == 0 && !(magic->type == PK_BIGINT && magic->u.str.n == 10 && !memcmp(magic->u.str.s, MAGIC, 10)))
            return seterr(err, errlen, "%s: expected PyTorch's magic number 0x1950a86a20f9469cfc6c first, found %s (not a "
                          "PyTorch checkpoint?)", f->path, magic->type == PK_BIGINT || magic->type == PK_INT ? "another number" : pk_type_name(magic));
        if (i == 1 && !(proto->type == PK_INT && proto->u.i == 1001))
            return seterr(err, errlen, "%s: expected legacy protocol version 1001, found %s %" PRId64, f->path,
                          pk_type_name(proto), proto->type == PK_INT ? proto->u.i : 0);
        if (i == 2) {
            pk_obj *le = pk_dict_get(info, "little_endian");
            if (info->type != PK_DICT)
                return seterr(err, errlen, "%s: expected a dict of system info, found %s", f->path, pk_type_name(info));
            if (le && !(le->type == PK_BOOL && le->u.i))
                return seterr(err, errlen, "%s: expected a checkpoint written on a little-endian machine, found "
                              "little_endian False", f->path);
        }
    }
    if (keys->type != PK_LIST && keys->type != PK_TUPLE)
        return seterr(err, errlen, "%s: expected a list of storage keys, found %s", f->path, pk_type_name(keys));
    size_t ns = f->pk.nstorages;
    pk_obj **sorted = xmalloc((ns ? ns : 1) * sizeof *sorted);
    if (ns) memcpy(sorted, f->pk.storages, ns * sizeof *sorted);
    qsort(sorted, ns, sizeof *sorted, pkst_cmp);
    int cap = 0, r = 0;
    for (size_t i = 0; i < keys->u.seq.n && !r; i++) {
        const pk_obj *k = keys->u.seq.v[i];
        char sk[160];
        if (k->type != PK_STR) { r = seterr(err, errlen, "%s: expected storage keys as strings, found %s", f->path, pk_type_name(k)); break; }
        pk_obj probe, *pp = &probe, **hit;
        probe.u.storage.key = k->u.str.s;
        hit = ns ? bsearch(&pp, sorted, ns, sizeof *sorted, pkst_cmp) : NULL;
        if (!hit) {
            r = seterr(err, errlen, "%s: expected storage key '%s' to belong to a tensor of the object, found none",
                       f->path, show_key(sk, sizeof sk, k->u.str.s));
            break;
        }
        const pk_obj *decl = *hit;
        size_t es = ck_dtype_size(decl->u.storage.dtype);
        if (f->len - pos < 8) {
            r = seterr(err, errlen, "%s: expected the element count of storage '%s' at byte %zu, found the file ending "
                       "(truncated file)", f->path, show_key(sk, sizeof sk, k->u.str.s), pos);
            break;
        }
        uint64_t numel = 0;
        for (int b = 7; b >= 0; b--) numel = numel << 8 | f->buf[pos + (size_t)b];
        pos += 8;
        if ((int64_t)numel != decl->u.storage.numel) {
            r = seterr(err, errlen, "%s: expected %" PRId64 " elements in storage '%s', found a count of %" PRId64,
                       f->path, decl->u.storage.numel, show_key(sk, sizeof sk, k->u.str.s), (int64_t)numel);
            break;
        }
        if (numel > (f->len - pos) / es) {
            r = seterr(err, errlen, "%s: expected %" PRIu64 " bytes of storage '%s' at byte %zu, found %zu (truncated "
                       "file)", f->path, numel * es, show_key(sk, sizeof sk, k->u.str.s), pos, f->len - pos);
            break;
        }
        add_storage(f, &cap, k->u.str.s, f->buf + pos, numel * es);
        pos += numel * es;
    }
    free(sorted);
    if (r) return r;
    if (f->nst) qsort(f->st, (size_t)f->nst, sizeof *f->st, st_cmp);
    for (int i = 1; i < f->nst; i++)
        if (!strcmp(f->st[i - 1].key, f->st[i].key)) {
            char sk[160];
            return seterr(err, errlen, "%s: expected each storage key once, found '%s' twice", f->path,
                          show_key(sk, sizeof sk, f->st[i].key));
        }
    return 0;
}

/* ---- opening ---- */

static void contiguous(cki_tensor *t) {
    int64_t s = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        t->stride[d] = s;
        s *= t->shape[d];
    }
}

static void add_flat(cki_file *f, const char *key, ck_dtype dt, int ndim, const int64_t *shape, const void *data,
                     uint64_t nbytes) {
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 64;
        f->t = xrealloc(f->t, (size_t)f->cap * sizeof *f->t);
    }
    cki_tensor *t = &f->t[f->n++];
    memset(t, 0, sizeof *t);
    t->key = xstrdup(key);
    t->dtype = dt;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    contiguous(t);
    t->data = data;
    t->nbytes = nbytes;
}

static int from_npy(npy_dtype d, ck_dtype *t) {
    static const struct { npy_dtype n; ck_dtype c; } m[] = {
        {NPY_F4, CK_F32}, {NPY_F8, CK_F64}, {NPY_F2, CK_F16}, {NPY_I8, CK_I64}, {NPY_I4, CK_I32}, {NPY_I2, CK_I16},
        {NPY_I1, CK_I8}, {NPY_U1, CK_U8}, {NPY_BOOL, CK_BOOL}, {NPY_U2, CK_U16}, {NPY_U4, CK_U32}, {NPY_U8, CK_U64}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (m[i].n == d) { *t = m[i].c; return 0; }
    return -1;
}

static int open_buf(cki_file *f, int flatten, char *err, size_t errlen);

int cki_open(cki_file *f, const char *path, int flatten, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    if (read_all(f, path, err, errlen)) return -1;
    return open_buf(f, flatten, err, errlen);
}

int cki_open_mem(cki_file *f, const void *buf, size_t len, const char *name, int flatten, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", name);
    f->buf = (unsigned char *)buf;
    f->len = len;
    f->borrowed = 1;
    return open_buf(f, flatten, err, errlen);
}

static int open_buf(cki_file *f, int flatten, char *err, size_t errlen) {
    const char *path = f->path;
    char e2[600];
    const unsigned char *b = f->buf;
    size_t n = f->len;
    uint64_t hl = 0;
    if (n >= 8)
        for (int i = 7; i >= 0; i--) hl = hl << 8 | b[i];
    if (n == 0) {
        seterr(err, errlen, "%s: expected a checkpoint (PyTorch, safetensors or npz), found an empty file", path);
        goto fail;
    }
    if (n >= 4 && b[0] == 'P' && b[1] == 'K' && ((b[2] == 3 && b[3] == 4) || (b[2] == 5 && b[3] == 6))) {
        if (zip_open_mem(&f->zip, b, n, path, e2, sizeof e2)) { seterr(err, errlen, "%s", e2); goto fail; }
        int torch = 0, npy = 0;
        for (int i = 0; i < f->zip.n; i++) {
            const char *nm = f->zip.e[i].name, *slash = strchr(nm, '/');
            size_t l = f->zip.e[i].name_len;
            if ((slash && !strchr(slash + 1, '/') && !strcmp(slash + 1, "data.pkl")) || !strcmp(nm, "data.pkl")) torch = 1;
            if (l >= 4 && !strcmp(nm + l - 4, ".npy")) npy++;
        }
        if (torch) {
            f->format = CKI_TORCH_ZIP;
            if (open_torch_zip(f, err, errlen)) goto fail;
            if (flatten && cki_flatten(f, f->root, "", &f->t, &f->n, err, errlen)) goto fail;
            f->cap = f->n;
            return 0;
        }
        if (npy == f->zip.n) {
            f->format = CKI_NPZ;
            zip_close(&f->zip);
            if (npz_read_mem(b, n, path, &f->nz, e2, sizeof e2)) { seterr(err, errlen, "%s", e2); goto fail; }
            for (int i = 0; i < f->nz.n; i++) {
                const npy_array *a = &f->nz.items[i].arr;
                ck_dtype dt;
                if (from_npy(a->dtype, &dt)) { seterr(err, errlen, "%s: expected a numeric array, found another", path); goto fail; }
                add_flat(f, f->nz.items[i].key, dt, a->ndim, a->shape, a->data, (uint64_t)a->count * ck_dtype_size(dt));
            }
            return 0;
        }
        seterr(err, errlen, "%s: expected a PyTorch zip checkpoint (<archive>/data.pkl) or an .npz, found a zip with "
               "neither", path);
        goto fail;
    }
    /* a legacy pickle never has '{' at byte 8 (it is inside the magic number, or a FRAME length) */
    int st_like = n >= 10 && b[8] == '{';
    if (st_like && hl >= 2 && hl <= n - 8) {
        f->format = CKI_SAFETENSORS;
        if (st_parse(&f->sf, b, n, path, err, errlen)) goto fail;
        for (int i = 0; i < f->sf.n; i++) {
            const st_entry *e = &f->sf.e[i];
            const char *k = e->name;
            while (!strncmp(k, "module.", 7)) k += 7;
            add_flat(f, k, e->dtype, e->ndim, e->shape, f->sf.data + e->begin, e->end - e->begin);
        }
        if (check_unique(path, f->t, f->n, err, errlen)) goto fail;
        return 0;
    }
    if (b[0] == 0x80 && !st_like) {
        f->format = CKI_TORCH_LEGACY;
        if (open_torch_legacy(f, err, errlen)) goto fail;
        if (flatten && cki_flatten(f, f->root, "", &f->t, &f->n, err, errlen)) goto fail;
        f->cap = f->n;
        return 0;
    }
    {
        char q[64];
        size_t k = 0;
        for (size_t i = 0; i < n && i < 8 && k + 6 < sizeof q; i++)
            k += (size_t)(b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\'' && b[i] != '\\'
                              ? snprintf(q + k, sizeof q - k, "%c", b[i])
                              : snprintf(q + k, sizeof q - k, "\\x%02x", b[i]));
        if (st_like)
            seterr(err, errlen, "%s: expected a safetensors header within the file, found a header length of %" PRIu64
                   " with %zu bytes after it (truncated file?)", path, hl, n - 8);
        else
            seterr(err, errlen, "%s: expected a checkpoint (PyTorch zip or legacy, safetensors or npz), found a file "
                   "starting with '%s'", path, q);
    }
fail:
    cki_close(f);
    return -1;
}

/* ---- materialising ---- */

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0x1F) bits = sign | 0x7F800000u | (man << 13);              /* inf, nan */
    else if (exp) bits = sign | ((exp + 112) << 23) | (man << 13);         /* normal */
    else if (!man) bits = sign;                                            /* zero */
    else {                                                                 /* subnormal: normalise */
        int e = -1;
        do { e++; man <<= 1; } while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3FF) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static void convert_one(ck_dtype dt, const unsigned char *src, unsigned char *dst) {
    switch (dt) {
    case CK_F32: memcpy(dst, src, 4); break;
    case CK_F64: { double d; memcpy(&d, src, 8); float f = (float)d; memcpy(dst, &f, 4); break; }
    case CK_F16: { uint16_t h; memcpy(&h, src, 2); float f = half_to_float(h); memcpy(dst, &f, 4); break; }
    case CK_BF16: { uint16_t h; memcpy(&h, src, 2); uint32_t u = (uint32_t)h << 16; memcpy(dst, &u, 4); break; }
    case CK_BOOL: *dst = *src != 0; break;
    default: memcpy(dst, src, ck_dtype_size(dt)); break;
    }
}

int cki_tensor_read(const cki_tensor *t, npy_array *a, int *borrowed, char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    memset(a, 0, sizeof *a);
    *borrowed = 0;
    a->dtype = ck_dtype_out(t->dtype);
    a->ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) a->shape[d] = t->shape[d];
    int64_t count = cki_count(t);
    a->count = count;
    size_t es = ck_dtype_size(t->dtype), os = npy_dtype_size(a->dtype);
    const uint16_t one = 1;
    int little = *(const unsigned char *)&one == 1;
    int contig = 1;
    int64_t want = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->stride[d] != want) contig = 0;
        want *= t->shape[d];
    }
    if (count > 0 && contig && little && es == os && t->dtype != CK_BOOL) {
        a->data = (void *)(t->data + (uint64_t)t->offset * es);
        *borrowed = 1;
        return 0;
    }
    unsigned char *out = xmalloc(count > 0 ? (size_t)count * os : 1);
    a->data = out;
    if (count == 0) return 0;
    if (!little) {   /* the files are little-endian; we have only been built for little-endian hosts */
        free(out);
        a->data = NULL;
        return seterr(err, errlen, "expected a little-endian machine to convert tensor '%s', found a big-endian one", t->key);
    }
    int nd = t->ndim;
    int64_t idx[NPY_MAX_DIMS] = {0};
    int64_t inner = nd ? t->shape[nd - 1] : 1, istride = nd ? t->stride[nd - 1] : 0;
    for (int64_t done = 0; done < count; done += inner) {
        int64_t off = t->offset;
        for (int d = 0; d < nd - 1; d++) off += idx[d] * t->stride[d];
        const unsigned char *src = t->data + (uint64_t)off * es;
        unsigned char *dst = out + (size_t)done * os;
        if (t->dtype == CK_F32 && istride == 1) memcpy(dst, src, (size_t)inner * 4);
        else
            for (int64_t i = 0; i < inner; i++) convert_one(t->dtype, src + (uint64_t)(i * istride) * es, dst + (size_t)i * os);
        for (int d = nd - 2; d >= 0; d--) {
            if (++idx[d] < t->shape[d]) break;
            idx[d] = 0;
        }
    }
    return 0;
}
