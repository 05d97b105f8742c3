/* pickle.h: a minimal, safe reader of Python pickles, for what PyTorch checkpoints hold.
 *
 * A pickle is a program for a stack machine; Python's unpickler runs it and calls whatever
 * GLOBAL it names (os.system included). This VM runs the opcodes that state dicts use and
 * calls nothing: GLOBAL/STACK_GLOBAL resolve only names from a fixed table, and REDUCE,
 * NEWOBJ and BUILD are interpreted here for those names alone. Any other name is refused at
 * the GLOBAL opcode with a message that quotes it. The names, and what they become:
 *
 *   collections.OrderedDict                  a dict (BUILD state such as `_metadata` ignored)
 *   torch._utils._rebuild_tensor_v2          a tensor view (storage, offset, sizes, strides)
 *   torch._utils._rebuild_tensor             the same, pre-0.4 files
 *   torch._utils._rebuild_parameter[_with_state], torch._tensor._rebuild_from_type_v2
 *                                            the tensor inside (Parameters, tensor subclasses)
 *   torch.{Float,Double,Half,BFloat16,Long,Int,Short,Char,Byte,Bool}Storage
 *                                            storage types named by persistent ids
 *   torch.Size                               a tuple
 *   torch.Tensor, torch.nn.parameter.Parameter   types, only as _rebuild_from_type_v2's argument
 *   _codecs.encode                           bytes (how protocol 2 pickles Python 3 bytes)
 *   torch.device, argparse.Namespace, numpy.dtype, numpy.core.multiarray.scalar
 *   (and numpy._core.multiarray.scalar)      inert "object" leaves: kept as class name plus
 *                                            arguments, never constructed; the importer skips
 *                                            them like any other non-tensor leaf
 *
 * No builtins at all (no builtins.eval, getattr, set...), no copyreg, no INST/OBJ opcodes.
 * Persistent ids (BINPERSID) must be PyTorch's ('storage', storage_type, key, location, numel
 * [, view_metadata]) and become storage objects; the caller finds their bytes by key.
 *
 * Opcodes: protocols 2 to 4 completely except the extension registry (EXT1/2/4) and text
 * strings (STRING, UNICODE, PERSID); protocol 0/1 numbers (INT, LONG, FLOAT), GET/PUT and
 * GLOBAL; no protocol-5 out-of-band buffers. Everything is bounded: objects made, container
 * slots, stack depth, marks, memo indices, string lengths; nothing recurses on the input, so
 * deep nesting costs no C stack. Objects live in a context freed at once (cycles are fine). */
#ifndef DFGAN_PICKLE_H
#define DFGAN_PICKLE_H

#include "import/ckdtype.h"

#include <stddef.h>
#include <stdint.h>

/* Limits (overridable at build time, e.g. smaller for fuzzing). */
#ifndef PK_MAX_OBJECTS
#define PK_MAX_OBJECTS (1 << 22)          /* objects made over a context's pickles */
#endif
#ifndef PK_MAX_ITEMS
#define PK_MAX_ITEMS   (1 << 25)          /* container slots over a context */
#endif
#ifndef PK_MAX_STACK
#define PK_MAX_STACK   (1 << 20)
#endif
#ifndef PK_MAX_MARKS
#define PK_MAX_MARKS   (1 << 16)
#endif
#ifndef PK_MAX_MEMO
#define PK_MAX_MEMO    (1 << 22)          /* largest memo index + 1 */
#endif
#ifndef PK_MAX_STR
#define PK_MAX_STR     ((size_t)1 << 28)  /* one string or bytes object */
#endif

typedef enum {
    PK_NONE, PK_BOOL, PK_INT, PK_BIGINT, PK_FLOAT, PK_STR, PK_BYTES, PK_TUPLE, PK_LIST, PK_DICT, PK_SET,
    PK_GLOBAL, PK_STORAGE, PK_TENSOR, PK_OBJECT
} pk_type;

typedef struct pk_obj pk_obj;
struct pk_obj {
    pk_type type;
    pk_obj *next_alloc;                               /* the context's list of objects */
    union {
        int64_t i;                                    /* PK_BOOL (0/1), PK_INT */
        double f;                                     /* PK_FLOAT */
        struct { char *s; size_t n; } str;            /* PK_STR (UTF-8 as pickled), PK_BYTES, PK_BIGINT
                                                         (little-endian two's complement); NUL-terminated */
        struct { pk_obj **v; size_t n, cap; } seq;    /* PK_TUPLE, PK_LIST, PK_SET */
        struct { pk_obj **kv; size_t n, cap; } dict;  /* PK_DICT: n pairs kv[2i] -> kv[2i+1], in order */
        struct { const char *module, *name; int kind, stype; } glob;   /* PK_GLOBAL (a table entry) */
        struct {                                      /* PK_STORAGE, from a persistent id */
            ck_dtype dtype;
            char *key, *location;
            int64_t numel;                            /* elements of the whole (root) storage */
            int64_t view_offset, view_numel;          /* legacy storage views; else 0 and numel */
        } storage;
        struct {                                      /* PK_TENSOR, a view of a storage */
            pk_obj *storage;
            int64_t offset;                           /* in elements, from the view's start */
            int ndim;
            int64_t *size, *stride;                   /* ndim each (at most NPY_MAX_DIMS) */
        } tensor;
        struct { pk_obj *cls, *args, *state; } obj;   /* PK_OBJECT: an inert instance */
    } u;
};

#define PK_SMALL_INTS 65536         /* ints 0..65535 are made once per context and shared (token ids) */

typedef struct {
    pk_obj *objs;                   /* every object made, for pk_free */
    size_t nobj, nitems;
    pk_obj **small_ints;            /* PK_SMALL_INTS shared int objects, made on first use */
    pk_obj **storages;              /* every storage object, in the order made */
    size_t nstorages, capstorages;
} pk_ctx;

/* Run the pickle at the start of buf (len bytes) up to its STOP; *out gets the result and
 * *used the bytes read (several pickles can follow each other, as in legacy torch files).
 * name is what messages call the data. 0 ok, -1 with a one-line "expected ..., found ..."
 * message. Objects stay valid until pk_free(c), also after an error. */
int pk_load(pk_ctx *c, const unsigned char *buf, size_t len, const char *name, size_t *used, pk_obj **out,
            char *err, size_t errlen);
void pk_free(pk_ctx *c);

/* Value of the string key `key` in a dict (the last pair with that key), or NULL. */
pk_obj *pk_dict_get(const pk_obj *d, const char *key);
/* "dict", "tensor", "int", ... for messages; for a PK_GLOBAL or PK_OBJECT the class name. */
const char *pk_type_name(const pk_obj *o);

#endif
