/* ckpt_import.h: read checkpoints in the formats users bring, without Python and without
 * running anything: PyTorch zip (torch >= 1.6: <archive>/data.pkl + <archive>/data/<key>),
 * PyTorch legacy (before 1.6: magic number, protocol, sys info, the object, the storage keys,
 * then each storage as an int64 element count and raw little-endian bytes), .safetensors,
 * and our own .npz. The format is told by the content, not the name.
 *
 * Tensors are listed under dotted paths: nested dicts joined with '.', list and tuple items
 * by index, int dict keys in decimal; a leading "module." of any dict key (DDP's wrapper) is
 * dropped. Only tensors are listed: non-tensor leaves (epoch numbers, strings, lr, inert
 * objects such as argparse.Namespace) are skipped. A root that is itself a tensor is listed as
 * "tensor". Keys must come out unique.
 *
 * Views are kept as views (storage bytes, offset, sizes, strides in elements) and checked
 * against their storage when listed; cki_tensor_read materialises one in C order, floating
 * types converted to float32, integer and bool types kept (ckdtype.h).
 * Bounds: nesting depth 64, 2^20 tensors, 2^24 visited objects (shared references cannot blow
 * up the walk), keys of 1024 bytes, a tensor at most 16x its storage's elements + 2^20 (a
 * broadcast view is fine, an absurd one is refused), at most 2^40 bytes each. */
#ifndef DFGAN_CKPT_IMPORT_H
#define DFGAN_CKPT_IMPORT_H

#include "import/ckdtype.h"
#include "io/npz.h"
#include "io/pickle.h"
#include "io/safetensors.h"
#include "io/zipread.h"

#ifndef CKI_MAX_DEPTH
#define CKI_MAX_DEPTH 64
#endif
#ifndef CKI_MAX_TENSORS
#define CKI_MAX_TENSORS (1 << 20)
#endif
#ifndef CKI_MAX_VISITS
#define CKI_MAX_VISITS (1 << 24)
#endif
#define CKI_MAX_KEY 1024

typedef enum { CKI_TORCH_ZIP, CKI_TORCH_LEGACY, CKI_SAFETENSORS, CKI_NPZ } cki_format;

typedef struct {
    char *key;
    ck_dtype dtype;                 /* element type in the file */
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
    int64_t stride[NPY_MAX_DIMS];   /* in elements */
    int64_t offset;                 /* in elements from data */
    const unsigned char *data;      /* the (view of the) storage: nbytes bytes, little-endian */
    uint64_t nbytes;
} cki_tensor;

typedef struct {
    char *key;
    const unsigned char *data;
    uint64_t nbytes;
} cki_storage;

typedef struct {
    char path[512];
    cki_format format;
    unsigned char *buf;             /* the whole file (mapped or read) */
    size_t len;
    int mapped;
    int borrowed;                   /* buf belongs to the caller (cki_open_mem) */
    /* PyTorch */
    pk_ctx pk;
    pk_obj *root;
    zip_archive zip;
    char zprefix[300];              /* "<archive>/" */
    unsigned char **zowned;         /* per zip member: inflated copy, if any */
    cki_storage *st;                /* storages by key (sorted), resolved from zip or legacy data */
    int nst;
    /* other formats */
    st_file sf;
    npz nz;
    /* the flattened tensors, in file order */
    int n, cap;
    cki_tensor *t;
} cki_file;

/* Read and parse path ("-" for stdin) and list every tensor (when flatten is nonzero). 0 ok,
 * -1 with a one-line "expected ..., found ..." message naming the path. */
int cki_open(cki_file *f, const char *path, int flatten, char *err, size_t errlen);
/* The same over a buffer the caller keeps alive until cki_close; name is for messages. */
int cki_open_mem(cki_file *f, const void *buf, size_t len, const char *name, int flatten, char *err, size_t errlen);
void cki_close(cki_file *f);
const char *cki_format_name(cki_format fmt);

/* List the tensors under object o (a PyTorch file's subtree) into *out and *n (malloc'd; keys
 * prefixed with `prefix`, which may be ""), with the rules above. 0 ok, -1 with a message. */
int cki_flatten(cki_file *f, const pk_obj *o, const char *prefix, cki_tensor **out, int *n, char *err, size_t errlen);
void cki_tensors_free(cki_tensor *t, int n);
/* Check a tensor view of a storage object and describe it (key not set). */
int cki_view(cki_file *f, const pk_obj *tensor, cki_tensor *t, const char *key, char *err, size_t errlen);

/* Materialise t in C order (floats as float32, ints kept). *borrowed = 1 when a->data points into
 * the file (contiguous float32/integer data: no copy, possibly unaligned; don't npy_free it),
 * 0 when it was allocated. 0 ok, -1 with a message. */
int cki_tensor_read(const cki_tensor *t, npy_array *a, int *borrowed, char *err, size_t errlen);
/* Elements of t (0 when a dimension is 0). */
int64_t cki_count(const cki_tensor *t);

#endif
