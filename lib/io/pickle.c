/* pickle.c: the safe pickle VM (see pickle.h). Nothing here calls into Python semantics beyond
 * the table of allowed names below; every read is bounds-checked against the buffer. */
#include "io/pickle.h"
#include "core/common.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the allowed names ---- */

enum {
    G_ORDEREDDICT, G_REBUILD_V2, G_REBUILD_V1, G_REBUILD_PARAM, G_REBUILD_PARAM_STATE, G_REBUILD_FROM_TYPE,
    G_STORAGE, G_SIZE, G_TENSOR_TYPE, G_CODECS_ENCODE, G_INERT_CLASS, G_INERT_FUNC,
};

static const struct { const char *module, *name; int kind, stype; } allowed[] = {
    {"collections", "OrderedDict", G_ORDEREDDICT, 0},
    {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_V2, 0},
    {"torch._utils", "_rebuild_tensor", G_REBUILD_V1, 0},
    {"torch._utils", "_rebuild_parameter", G_REBUILD_PARAM, 0},
    {"torch._utils", "_rebuild_parameter_with_state", G_REBUILD_PARAM_STATE, 0},
    {"torch._tensor", "_rebuild_from_type_v2", G_REBUILD_FROM_TYPE, 0},
    {"torch", "FloatStorage", G_STORAGE, CK_F32},
    {"torch", "DoubleStorage", G_STORAGE, CK_F64},
    {"torch", "HalfStorage", G_STORAGE, CK_F16},
    {"torch", "BFloat16Storage", G_STORAGE, CK_BF16},
    {"torch", "LongStorage", G_STORAGE, CK_I64},
    {"torch", "IntStorage", G_STORAGE, CK_I32},
    {"torch", "ShortStorage", G_STORAGE, CK_I16},
    {"torch", "CharStorage", G_STORAGE, CK_I8},
    {"torch", "ByteStorage", G_STORAGE, CK_U8},
    {"torch", "BoolStorage", G_STORAGE, CK_BOOL},
    {"torch", "Size", G_SIZE, 0},
    {"torch", "Tensor", G_TENSOR_TYPE, 0},
    {"torch.nn.parameter", "Parameter", G_TENSOR_TYPE, 0},
    {"_codecs", "encode", G_CODECS_ENCODE, 0},
    {"torch", "device", G_INERT_CLASS, 0},
    {"argparse", "Namespace", G_INERT_CLASS, 0},
    {"numpy", "dtype", G_INERT_CLASS, 0},
    {"numpy.core.multiarray", "scalar", G_INERT_FUNC, 0},
    {"numpy._core.multiarray", "scalar", G_INERT_FUNC, 0},
};
#define NALLOWED ((int)(sizeof allowed / sizeof allowed[0]))

/* ---- the machine ---- */

typedef struct {
    pk_ctx *c;
    const unsigned char *start, *p, *end;
    const char *name;
    char *err;
    size_t errlen;
    size_t op_at;                 /* offset of the opcode being run, for messages */
    pk_obj **stack;
    size_t sp, scap;
    size_t *marks;
    size_t nmarks, mcap;
    pk_obj **memo;
    size_t memo_cap, memo_count;
    int proto;
} vm;

static int fail(vm *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(vm *m, const char *fmt, ...) {
    if (!m->err || !m->errlen) return -1;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(m->err, m->errlen, "%s (pickle byte %zu of %s)", msg, m->op_at, m->name);
    return -1;
}

/* Printable, bounded copy of a string for messages. */
static void show(char *out, size_t outlen, const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 8 < outlen; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '\'' && ch != '\\') out[k++] = (char)ch;
        else k += (size_t)snprintf(out + k, outlen - k, "\\x%02x", ch);
    }
    if (k + 8 >= outlen && n) { memcpy(out + k, "...", 3); k += 3; }
    out[k] = 0;
}

const char *pk_type_name(const pk_obj *o) {
    if (!o) return "nothing";
    switch (o->type) {
    case PK_NONE: return "None";
    case PK_BOOL: return "bool";
    case PK_INT: case PK_BIGINT: return "int";
    case PK_FLOAT: return "float";
    case PK_STR: return "str";
    case PK_BYTES: return "bytes";
    case PK_TUPLE: return "tuple";
    case PK_LIST: return "list";
    case PK_DICT: return "dict";
    case PK_SET: return "set";
    case PK_GLOBAL: return o->u.glob.name;
    case PK_STORAGE: return "storage";
    case PK_TENSOR: return "tensor";
    case PK_OBJECT: return o->u.obj.cls && o->u.obj.cls->type == PK_GLOBAL ? o->u.obj.cls->u.glob.name : "object";
    }
    return "object";
}

static pk_obj *new_obj(vm *m, pk_type t) {
    if (m->c->nobj >= PK_MAX_OBJECTS) {
        fail(m, "expected at most %d objects in the pickle, found more", PK_MAX_OBJECTS);
        return NULL;
    }
    pk_obj *o = xcalloc(1, sizeof *o);
    o->type = t;
    o->next_alloc = m->c->objs;
    m->c->objs = o;
    m->c->nobj++;
    return o;
}

static pk_obj *new_str(vm *m, pk_type t, const void *s, size_t n) {
    pk_obj *o = new_obj(m, t);
    if (!o) return NULL;
    o->u.str.s = xmalloc(n + 1);
    if (n) memcpy(o->u.str.s, s, n);
    o->u.str.s[n] = 0;
    o->u.str.n = n;
    return o;
}

/* Ints are never modified once made, so small ones are shared: a caption pickle is millions of
 * token ids drawn from a vocabulary of thousands, and PK_MAX_OBJECTS counts objects made. */
static pk_obj *new_int(vm *m, int64_t v) {
    int small = v >= 0 && v < PK_SMALL_INTS;
    if (small && m->c->small_ints && m->c->small_ints[v]) return m->c->small_ints[v];
    pk_obj *o = new_obj(m, PK_INT);
    if (!o) return NULL;
    o->u.i = v;
    if (small) {
        if (!m->c->small_ints) m->c->small_ints = xcalloc(PK_SMALL_INTS, sizeof(pk_obj *));
        m->c->small_ints[v] = o;
    }
    return o;
}

/* Grow a pointer array to hold `need` entries, counting new slots against PK_MAX_ITEMS. */
static int grow(vm *m, pk_obj ***v, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 4;
    while (nc < need) nc *= 2;
    if (m->c->nitems + (nc - *cap) > PK_MAX_ITEMS)
        return fail(m, "expected at most %d container slots in the pickle, found more", PK_MAX_ITEMS);
    m->c->nitems += nc - *cap;
    *v = xrealloc(*v, nc * sizeof **v);
    *cap = nc;
    return 0;
}

static int seq_add(vm *m, pk_obj *s, pk_obj *x) {
    if (grow(m, &s->u.seq.v, &s->u.seq.cap, s->u.seq.n + 1)) return -1;
    s->u.seq.v[s->u.seq.n++] = x;
    return 0;
}
static int dict_add(vm *m, pk_obj *d, pk_obj *k, pk_obj *v) {
    size_t cap2 = d->u.dict.cap;
    if (grow(m, &d->u.dict.kv, &cap2, 2 * d->u.dict.n + 2)) return -1;
    d->u.dict.cap = cap2;
    d->u.dict.kv[2 * d->u.dict.n] = k;
    d->u.dict.kv[2 * d->u.dict.n + 1] = v;
    d->u.dict.n++;
    return 0;
}

pk_obj *pk_dict_get(const pk_obj *d, const char *key) {
    if (!d || d->type != PK_DICT) return NULL;
    size_t kl = strlen(key);
    for (size_t i = d->u.dict.n; i-- > 0;) {
        const pk_obj *k = d->u.dict.kv[2 * i];
        if (k->type == PK_STR && k->u.str.n == kl && memcmp(k->u.str.s, key, kl) == 0) return d->u.dict.kv[2 * i + 1];
    }
    return NULL;
}

/* ---- stack ---- */

static size_t base(const vm *m) { return m->nmarks ? m->marks[m->nmarks - 1] : 0; }

static int push(vm *m, pk_obj *o) {
    if (!o) return -1;
    if (m->sp >= PK_MAX_STACK) return fail(m, "expected a pickle stack of at most %d objects, found it deeper", PK_MAX_STACK);
    if (m->sp == m->scap) {
        m->scap = m->scap ? m->scap * 2 : 64;
        m->stack = xrealloc(m->stack, m->scap * sizeof *m->stack);
    }
    m->stack[m->sp++] = o;
    return 0;
}

static pk_obj *pop(vm *m) {
    if (m->sp <= base(m)) {
        fail(m, "expected an object on the pickle stack, found it empty (corrupt pickle)");
        return NULL;
    }
    return m->stack[--m->sp];
}

static pk_obj *top(vm *m) {
    if (m->sp <= base(m)) {
        fail(m, "expected an object on the pickle stack, found it empty (corrupt pickle)");
        return NULL;
    }
    return m->stack[m->sp - 1];
}

/* Pop to the last MARK: the objects above it are stack[*first .. *first + *n). */
static int pop_mark(vm *m, size_t *first, size_t *n) {
    if (!m->nmarks) return fail(m, "expected a MARK on the pickle stack, found none (corrupt pickle)");
    *first = m->marks[--m->nmarks];
    *n = m->sp - *first;
    m->sp = *first;
    return 0;
}

/* ---- reading ---- */

static const unsigned char *take(vm *m, size_t n, const char *what) {
    if ((size_t)(m->end - m->p) < n) {
        fail(m, "expected %zu more bytes for %s, found %zu (truncated pickle)", n, what, (size_t)(m->end - m->p));
        return NULL;
    }
    const unsigned char *q = m->p;
    m->p += n;
    return q;
}

static uint64_t le(const unsigned char *q, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | q[i];
    return v;
}

/* A text argument up to '\n' (at most max bytes), NUL-terminated into out. */
static int line(vm *m, char *out, size_t max, const char *what) {
    const unsigned char *nl = memchr(m->p, '\n', (size_t)(m->end - m->p) < max + 1 ? (size_t)(m->end - m->p) : max + 1);
    if (!nl) {
        if ((size_t)(m->end - m->p) <= max) return fail(m, "expected a newline ending %s, found the data ending (truncated pickle)", what);
        return fail(m, "expected %s of at most %zu bytes, found a longer one", what, max);
    }
    size_t n = (size_t)(nl - m->p);
    memcpy(out, m->p, n);
    out[n] = 0;
    if (memchr(out, 0, n)) return fail(m, "expected %s without NUL bytes, found one", what);
    m->p = nl + 1;
    return 0;
}

/* A length-prefixed string or bytes object. */
static int lenstr(vm *m, pk_type t, int lenbytes, int is_signed, const char *what) {
    const unsigned char *q = take(m, (size_t)lenbytes, what);
    if (!q) return -1;
    uint64_t n = le(q, lenbytes);
    if (is_signed && lenbytes == 4 && (n & 0x80000000u)) return fail(m, "expected a non-negative length for %s, found a negative one", what);
    if (n > PK_MAX_STR) return fail(m, "expected %s of at most %zu bytes, found %" PRIu64, what, (size_t)PK_MAX_STR, n);
    const unsigned char *s = take(m, (size_t)n, what);
    if (!s) return -1;
    return push(m, new_str(m, t, s, (size_t)n));
}

/* LONG1/LONG4 payload: little-endian two's complement. */
static int long_bytes(vm *m, const unsigned char *q, size_t n) {
    if (n == 0) return push(m, new_int(m, 0));
    int neg = (q[n - 1] & 0x80) != 0;
    int fits = 1;
    for (size_t i = 8; i < n; i++)
        if (q[i] != (neg ? 0xFF : 0x00)) fits = 0;
    if (n > 8 && fits && (((q[7] & 0x80) != 0) != neg)) fits = 0;
    if (!fits) return push(m, new_str(m, PK_BIGINT, q, n));
    uint64_t v = 0;
    size_t k = n < 8 ? n : 8;
    for (size_t i = k; i-- > 0;) v = v << 8 | q[i];
    if (neg && k < 8) v |= ~(uint64_t)0 << (8 * k);
    return push(m, new_int(m, (int64_t)v));
}

static int text_int(vm *m, const char *what, int is_long) {
    char buf[72];
    if (line(m, buf, 64, what)) return -1;
    size_t n = strlen(buf);
    if (is_long && n && (buf[n - 1] == 'L' || buf[n - 1] == 'l')) buf[--n] = 0;
    if (!is_long && strcmp(buf, "01") == 0) { pk_obj *o = new_obj(m, PK_BOOL); if (o) o->u.i = 1; return push(m, o); }
    if (!is_long && strcmp(buf, "00") == 0) { pk_obj *o = new_obj(m, PK_BOOL); if (o) o->u.i = 0; return push(m, o); }
    char *e;
    errno = 0;
    long long v = strtoll(buf, &e, 10);
    if (!n || *e || errno) {
        char q[48];
        show(q, sizeof q, buf, n);
        return fail(m, "expected a decimal integer within 64 bits for %s, found '%s'", what, q);
    }
    return push(m, new_int(m, (int64_t)v));
}

static int memo_put(vm *m, uint64_t idx) {
    pk_obj *o = top(m);
    if (!o) return -1;
    if (idx >= PK_MAX_MEMO) return fail(m, "expected memo indices below %d, found %" PRIu64, PK_MAX_MEMO, idx);
    if (idx >= m->memo_cap) {
        size_t nc = m->memo_cap ? m->memo_cap : 64;
        while (nc <= idx) nc *= 2;
        m->memo = xrealloc(m->memo, nc * sizeof *m->memo);
        memset(m->memo + m->memo_cap, 0, (nc - m->memo_cap) * sizeof *m->memo);
        m->memo_cap = nc;
    }
    if (!m->memo[idx]) m->memo_count++;
    m->memo[idx] = o;
    return 0;
}

static int memo_get(vm *m, uint64_t idx) {
    if (idx >= m->memo_cap || !m->memo[idx])
        return fail(m, "expected memo entry %" PRIu64 " to be defined, found none (corrupt pickle)", idx);
    return push(m, m->memo[idx]);
}

/* ---- GLOBAL ---- */

static int global(vm *m, const char *module, size_t mlen, const char *name, size_t nlen) {
    for (int i = 0; i < NALLOWED; i++)
        if (strlen(allowed[i].module) == mlen && memcmp(allowed[i].module, module, mlen) == 0 &&
            strlen(allowed[i].name) == nlen && memcmp(allowed[i].name, name, nlen) == 0) {
            pk_obj *o = new_obj(m, PK_GLOBAL);
            if (!o) return -1;
            o->u.glob.module = allowed[i].module;
            o->u.glob.name = allowed[i].name;
            o->u.glob.kind = allowed[i].kind;
            o->u.glob.stype = allowed[i].stype;
            return push(m, o);
        }
    char a[120], b[120];
    show(a, sizeof a, module, mlen);
    show(b, sizeof b, name, nlen);
    return fail(m, "expected a pickled state dict using only tensors, storages, OrderedDict and plain data, found "
                "the global '%s.%s' (refused: unpickling it could run code)", a, b);
}

/* ---- REDUCE and friends ---- */

static int is_int(const pk_obj *o) { return o && (o->type == PK_INT || o->type == PK_BOOL); }

/* sizes/strides: a tuple or list of non-negative ints, at most NPY_MAX_DIMS */
static int int_seq(vm *m, const pk_obj *o, const char *what, int64_t *out, int *n) {
    if (!o || (o->type != PK_TUPLE && o->type != PK_LIST))
        return fail(m, "expected a tuple of ints for the tensor's %s, found %s", what, pk_type_name(o));
    if (o->u.seq.n > NPY_MAX_DIMS)
        return fail(m, "expected a tensor of at most %d dimensions, found %zu", NPY_MAX_DIMS, o->u.seq.n);
    for (size_t i = 0; i < o->u.seq.n; i++) {
        const pk_obj *x = o->u.seq.v[i];
        if (!is_int(x)) return fail(m, "expected ints in the tensor's %s, found %s", what, pk_type_name(x));
        if (x->u.i < 0) return fail(m, "expected non-negative values in the tensor's %s, found %" PRId64, what, x->u.i);
        out[i] = x->u.i;
    }
    *n = (int)o->u.seq.n;
    return 0;
}

static pk_obj *make_tensor(vm *m, pk_obj *const *a, const char *fn) {
    pk_obj *st = a[0], *off = a[1];
    int64_t size[NPY_MAX_DIMS], stride[NPY_MAX_DIMS];
    int nd, ns;
    if (!st || st->type != PK_STORAGE) { fail(m, "expected a storage as %s's first argument, found %s", fn, pk_type_name(st)); return NULL; }
    if (!is_int(off) || off->u.i < 0) { fail(m, "expected a non-negative storage offset for %s, found %s", fn, pk_type_name(off)); return NULL; }
    if (int_seq(m, a[2], "sizes", size, &nd) || int_seq(m, a[3], "strides", stride, &ns)) return NULL;
    if (nd != ns) { fail(m, "expected as many strides as sizes for %s, found %d and %d", fn, ns, nd); return NULL; }
    pk_obj *t = new_obj(m, PK_TENSOR);
    if (!t) return NULL;
    t->u.tensor.storage = st;
    t->u.tensor.offset = off->u.i;
    t->u.tensor.ndim = nd;
    t->u.tensor.size = xmalloc(2 * NPY_MAX_DIMS * sizeof(int64_t));
    t->u.tensor.stride = t->u.tensor.size + NPY_MAX_DIMS;
    memcpy(t->u.tensor.size, size, (size_t)nd * sizeof(int64_t));
    memcpy(t->u.tensor.stride, stride, (size_t)nd * sizeof(int64_t));
    return t;
}

static pk_obj *inert(vm *m, pk_obj *cls, pk_obj *args) {
    pk_obj *o = new_obj(m, PK_OBJECT);
    if (!o) return NULL;
    o->u.obj.cls = cls;
    o->u.obj.args = args;
    return o;
}

static pk_obj *apply(vm *m, pk_obj *fn, pk_obj *args, int depth) {
    if (!fn || fn->type != PK_GLOBAL) { fail(m, "expected an allowed callable for REDUCE, found %s", pk_type_name(fn)); return NULL; }
    if (!args || args->type != PK_TUPLE) { fail(m, "expected a tuple of arguments for REDUCE, found %s", pk_type_name(args)); return NULL; }
    size_t n = args->u.seq.n;
    pk_obj **a = args->u.seq.v;
    const char *fname = fn->u.glob.name;
    switch (fn->u.glob.kind) {
    case G_ORDEREDDICT: {
        pk_obj *d = new_obj(m, PK_DICT);
        if (!d) return NULL;
        if (n == 0) return d;
        if (n == 1 && (a[0]->type == PK_LIST || a[0]->type == PK_TUPLE)) {
            for (size_t i = 0; i < a[0]->u.seq.n; i++) {
                pk_obj *pr = a[0]->u.seq.v[i];
                if ((pr->type != PK_TUPLE && pr->type != PK_LIST) || pr->u.seq.n != 2) {
                    fail(m, "expected (key, value) pairs for OrderedDict, found %s", pk_type_name(pr));
                    return NULL;
                }
                if (dict_add(m, d, pr->u.seq.v[0], pr->u.seq.v[1])) return NULL;
            }
            return d;
        }
        fail(m, "expected no arguments or a list of pairs for OrderedDict, found %zu arguments", n);
        return NULL;
    }
    case G_REBUILD_V2:
        if (n != 6 && n != 7) { fail(m, "expected 6 or 7 arguments for %s, found %zu", fname, n); return NULL; }
        return make_tensor(m, a, fname);
    case G_REBUILD_V1:
        if (n != 4) { fail(m, "expected 4 arguments for %s, found %zu", fname, n); return NULL; }
        return make_tensor(m, a, fname);
    case G_REBUILD_PARAM:
    case G_REBUILD_PARAM_STATE:
        if (n != (fn->u.glob.kind == G_REBUILD_PARAM ? 3u : 4u) || a[0]->type != PK_TENSOR) {
            fail(m, "expected (tensor, requires_grad, hooks%s) for %s, found %zu arguments starting with %s",
                 fn->u.glob.kind == G_REBUILD_PARAM ? "" : ", state", fname, n, n ? pk_type_name(a[0]) : "nothing");
            return NULL;
        }
        return a[0];
    case G_REBUILD_FROM_TYPE:
        if (n != 4 || a[0]->type != PK_GLOBAL || a[1]->type != PK_GLOBAL || a[1]->u.glob.kind != G_TENSOR_TYPE ||
            depth > 0) {
            fail(m, "expected (rebuild function, tensor type, args, state) for %s, found %zu arguments", fname, n);
            return NULL;
        }
        return apply(m, a[0], a[2], depth + 1);
    case G_SIZE: {
        pk_obj *t = new_obj(m, PK_TUPLE);
        if (!t) return NULL;
        if (n == 0) return t;
        if (n != 1 || (a[0]->type != PK_TUPLE && a[0]->type != PK_LIST)) {
            fail(m, "expected a tuple of ints for torch.Size, found %zu arguments", n);
            return NULL;
        }
        for (size_t i = 0; i < a[0]->u.seq.n; i++)
            if (seq_add(m, t, a[0]->u.seq.v[i])) return NULL;
        return t;
    }
    case G_CODECS_ENCODE: {
        /* protocol 2 pickles bytes b as _codecs.encode(b.decode('latin1'), 'latin1') */
        if (n != 2 || a[0]->type != PK_STR || a[1]->type != PK_STR ||
            (strcmp(a[1]->u.str.s, "latin1") && strcmp(a[1]->u.str.s, "latin-1"))) {
            fail(m, "expected (str, 'latin1') for _codecs.encode, found %zu arguments", n);
            return NULL;
        }
        const unsigned char *s = (const unsigned char *)a[0]->u.str.s;
        size_t len = a[0]->u.str.n, k = 0;
        char *out = xmalloc(len + 1);
        for (size_t i = 0; i < len;) {
            if (s[i] < 0x80) out[k++] = (char)s[i++];
            else if ((s[i] & 0xE0) == 0xC0 && i + 1 < len && (s[i] & 0x1F) <= 3 && (s[i + 1] & 0xC0) == 0x80 && s[i] >= 0xC2) {
                out[k++] = (char)(((s[i] & 0x1F) << 6) | (s[i + 1] & 0x3F));
                i += 2;
            } else {
                free(out);
                fail(m, "expected a latin-1 string for _codecs.encode, found other characters");
                return NULL;
            }
        }
        pk_obj *b = new_str(m, PK_BYTES, out, k);
        free(out);
        return b;
    }
    case G_INERT_CLASS:
    case G_INERT_FUNC:
        return inert(m, fn, args);
    default:
        fail(m, "expected a callable for REDUCE, found %s.%s, which is not one", fn->u.glob.module, fname);
        return NULL;
    }
}

static pk_obj *newobj(vm *m, pk_obj *cls, pk_obj *args) {
    if (!cls || cls->type != PK_GLOBAL || (cls->u.glob.kind != G_ORDEREDDICT && cls->u.glob.kind != G_INERT_CLASS)) {
        fail(m, "expected an allowed class for NEWOBJ, found %s", pk_type_name(cls));
        return NULL;
    }
    if (!args || args->type != PK_TUPLE) { fail(m, "expected a tuple of arguments for NEWOBJ, found %s", pk_type_name(args)); return NULL; }
    if (cls->u.glob.kind == G_ORDEREDDICT) return new_obj(m, PK_DICT);
    return inert(m, cls, args);
}

static int build(vm *m) {
    pk_obj *state = pop(m), *o = top(m);
    if (!state || !o) return -1;
    switch (o->type) {
    case PK_DICT:     /* OrderedDict attributes such as state_dict's _metadata: not items */
    case PK_TENSOR:   /* Python attributes of a Parameter or tensor subclass */
        return 0;
    case PK_OBJECT:
        o->u.obj.state = state;
        return 0;
    default:
        return fail(m, "expected an object for BUILD, found %s", pk_type_name(o));
    }
}

/* ('storage', storage_type, key, location, numel[, view_metadata]) -> a storage object */
static int persid(vm *m) {
    pk_obj *pid = pop(m);
    if (!pid) return -1;
    if (pid->type != PK_TUPLE || (pid->u.seq.n != 5 && pid->u.seq.n != 6) || pid->u.seq.v[0]->type != PK_STR ||
        strcmp(pid->u.seq.v[0]->u.str.s, "storage") != 0)
        return fail(m, "expected a persistent id ('storage', type, key, location, numel), found %s of %zu items",
                    pk_type_name(pid), pid->type == PK_TUPLE ? pid->u.seq.n : (size_t)0);
    pk_obj **a = pid->u.seq.v;
    if (a[1]->type != PK_GLOBAL || a[1]->u.glob.kind != G_STORAGE)
        return fail(m, "expected a storage type in a persistent id, found %s", pk_type_name(a[1]));
    if (a[2]->type != PK_STR || a[2]->u.str.n == 0 || a[2]->u.str.n > 256 || memchr(a[2]->u.str.s, 0, a[2]->u.str.n))
        return fail(m, "expected a storage key of 1 to 256 characters in a persistent id, found %s",
                    a[2]->type == PK_STR ? "another string" : pk_type_name(a[2]));
    if (a[3]->type != PK_STR) return fail(m, "expected a location string in a persistent id, found %s", pk_type_name(a[3]));
    if (!is_int(a[4]) || a[4]->u.i < 0)
        return fail(m, "expected a non-negative element count in a persistent id, found %s", pk_type_name(a[4]));
    pk_obj *s = new_obj(m, PK_STORAGE);
    if (!s) return -1;
    s->u.storage.dtype = (ck_dtype)a[1]->u.glob.stype;
    s->u.storage.key = a[2]->u.str.s;
    s->u.storage.location = a[3]->u.str.s;
    s->u.storage.numel = a[4]->u.i;
    s->u.storage.view_offset = 0;
    s->u.storage.view_numel = a[4]->u.i;
    if (pid->u.seq.n == 6 && a[5]->type != PK_NONE) {
        /* legacy view: (view_key, offset, size) into the root storage */
        pk_obj *v = a[5];
        if (v->type != PK_TUPLE || v->u.seq.n != 3 || !is_int(v->u.seq.v[1]) || !is_int(v->u.seq.v[2]) ||
            v->u.seq.v[1]->u.i < 0 || v->u.seq.v[2]->u.i < 0 || v->u.seq.v[1]->u.i > a[4]->u.i ||
            v->u.seq.v[2]->u.i > a[4]->u.i - v->u.seq.v[1]->u.i)
            return fail(m, "expected view metadata (key, offset, size) within the storage's %" PRId64 " elements, found %s",
                        a[4]->u.i, pk_type_name(v));
        s->u.storage.view_offset = v->u.seq.v[1]->u.i;
        s->u.storage.view_numel = v->u.seq.v[2]->u.i;
    }
    pk_ctx *c = m->c;
    if (c->nstorages == c->capstorages) {
        c->capstorages = c->capstorages ? c->capstorages * 2 : 16;
        c->storages = xrealloc(c->storages, c->capstorages * sizeof *c->storages);
    }
    c->storages[c->nstorages++] = s;
    return push(m, s);
}

/* ---- the loop ---- */

static const char *refused_name(int op) {
    switch (op) {
    case 'S': return "STRING";
    case 'V': return "UNICODE";
    case 'P': return "PERSID";
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    }
    return NULL;
}

static int step(vm *m, int op, pk_obj **result) {
    const unsigned char *q;
    pk_obj *o, *a, *b;
    size_t first = 0, n = 0;
    switch (op) {
    case 0x80: /* PROTO */
        if (!(q = take(m, 1, "PROTO"))) return -1;
        if (*q > 5) return fail(m, "expected pickle protocol 0 to 5, found %d", *q);
        m->proto = *q;
        return 0;
    case 0x95: /* FRAME: a length hint; the data follows inline */
        if (!(q = take(m, 8, "FRAME"))) return -1;
        if (le(q, 8) > (uint64_t)(m->end - m->p))
            return fail(m, "expected a frame of %" PRIu64 " bytes, found %zu left (truncated pickle)", le(q, 8), (size_t)(m->end - m->p));
        return 0;
    case '.': /* STOP */
        if (!(o = pop(m))) return -1;
        *result = o;
        return 1;
    case '(': /* MARK */
        if (m->nmarks >= PK_MAX_MARKS) return fail(m, "expected at most %d open MARKs, found more", PK_MAX_MARKS);
        if (m->nmarks == m->mcap) {
            m->mcap = m->mcap ? m->mcap * 2 : 16;
            m->marks = xrealloc(m->marks, m->mcap * sizeof *m->marks);
        }
        m->marks[m->nmarks++] = m->sp;
        return 0;
    case '0': /* POP */
        if (m->sp > base(m)) { m->sp--; return 0; }
        return pop_mark(m, &first, &n);
    case '1': /* POP_MARK */
        return pop_mark(m, &first, &n);
    case '2': /* DUP */
        if (!(o = top(m))) return -1;
        return push(m, o);
    case 'N': return push(m, new_obj(m, PK_NONE));
    case 0x88: case 0x89:
        if (!(o = new_obj(m, PK_BOOL))) return -1;
        o->u.i = op == 0x88;
        return push(m, o);
    case 'J': /* BININT */
        if (!(q = take(m, 4, "BININT"))) return -1;
        return push(m, new_int(m, (int32_t)(uint32_t)le(q, 4)));
    case 'K':
        if (!(q = take(m, 1, "BININT1"))) return -1;
        return push(m, new_int(m, q[0]));
    case 'M':
        if (!(q = take(m, 2, "BININT2"))) return -1;
        return push(m, new_int(m, (int64_t)le(q, 2)));
    case 0x8a: /* LONG1 */
        if (!(q = take(m, 1, "LONG1"))) return -1;
        n = q[0];
        if (!(q = take(m, n, "LONG1"))) return -1;
        return long_bytes(m, q, n);
    case 0x8b: { /* LONG4 */
        if (!(q = take(m, 4, "LONG4"))) return -1;
        uint64_t ln = le(q, 4);
        if (ln & 0x80000000u) return fail(m, "expected a non-negative LONG4 length, found a negative one");
        if (ln > 4096) return fail(m, "expected an integer of at most 4096 bytes, found %" PRIu64, ln);
        if (!(q = take(m, (size_t)ln, "LONG4"))) return -1;
        return long_bytes(m, q, (size_t)ln);
    }
    case 'I': return text_int(m, "an INT", 0);
    case 'L': return text_int(m, "a LONG", 1);
    case 'G': { /* BINFLOAT, big-endian */
        if (!(q = take(m, 8, "BINFLOAT"))) return -1;
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++) bits = bits << 8 | q[i];
        double d;
        memcpy(&d, &bits, 8);
        if (!(o = new_obj(m, PK_FLOAT))) return -1;
        o->u.f = d;
        return push(m, o);
    }
    case 'F': {
        char buf[72], *e;
        if (line(m, buf, 64, "a FLOAT")) return -1;
        errno = 0;
        double d = strtod(buf, &e);
        if (!buf[0] || *e) {
            char q[48];
            show(q, sizeof q, buf, strlen(buf));
            return fail(m, "expected a decimal number for FLOAT, found '%s'", q);
        }
        if (!(o = new_obj(m, PK_FLOAT))) return -1;
        o->u.f = d;
        return push(m, o);
    }
    case 'X': return lenstr(m, PK_STR, 4, 0, "BINUNICODE");
    case 0x8c: return lenstr(m, PK_STR, 1, 0, "SHORT_BINUNICODE");
    case 0x8d: return lenstr(m, PK_STR, 8, 0, "BINUNICODE8");
    case 'T': return lenstr(m, PK_STR, 4, 1, "BINSTRING");          /* Python 2 str: text, as torch.load reads it */
    case 'U': return lenstr(m, PK_STR, 1, 0, "SHORT_BINSTRING");
    case 'B': return lenstr(m, PK_BYTES, 4, 0, "BINBYTES");
    case 'C': return lenstr(m, PK_BYTES, 1, 0, "SHORT_BINBYTES");
    case 0x8e: return lenstr(m, PK_BYTES, 8, 0, "BINBYTES8");
    case ')': return push(m, new_obj(m, PK_TUPLE));
    case 't': case 'l': case 0x91: /* TUPLE, LIST, FROZENSET */
        if (pop_mark(m, &first, &n)) return -1;
        if (!(o = new_obj(m, op == 't' ? PK_TUPLE : op == 'l' ? PK_LIST : PK_SET))) return -1;
        for (size_t i = 0; i < n; i++)
            if (seq_add(m, o, m->stack[first + i])) return -1;
        return push(m, o);
    case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
        size_t k = (size_t)(op - 0x84);
        if (m->sp < base(m) + k) return fail(m, "expected %zu objects on the pickle stack for TUPLE%zu, found fewer (corrupt pickle)", k, k);
        if (!(o = new_obj(m, PK_TUPLE))) return -1;
        for (size_t i = 0; i < k; i++)
            if (seq_add(m, o, m->stack[m->sp - k + i])) return -1;
        m->sp -= k;
        return push(m, o);
    }
    case ']': return push(m, new_obj(m, PK_LIST));
    case '}': return push(m, new_obj(m, PK_DICT));
    case 0x8f: return push(m, new_obj(m, PK_SET));
    case 'a': /* APPEND */
        if (!(a = pop(m)) || !(o = top(m))) return -1;
        if (o->type != PK_LIST) return fail(m, "expected a list for APPEND, found %s", pk_type_name(o));
        return seq_add(m, o, a);
    case 'e': case 0x90: /* APPENDS, ADDITEMS */
        if (pop_mark(m, &first, &n) || !(o = top(m))) return -1;
        if (o->type != (op == 'e' ? PK_LIST : PK_SET))
            return fail(m, "expected a %s for %s, found %s", op == 'e' ? "list" : "set", op == 'e' ? "APPENDS" : "ADDITEMS", pk_type_name(o));
        for (size_t i = 0; i < n; i++)
            if (seq_add(m, o, m->stack[first + i])) return -1;
        return 0;
    case 'd': /* DICT */
        if (pop_mark(m, &first, &n)) return -1;
        if (n % 2) return fail(m, "expected key/value pairs for DICT, found %zu objects", n);
        if (!(o = new_obj(m, PK_DICT))) return -1;
        for (size_t i = 0; i < n; i += 2)
            if (dict_add(m, o, m->stack[first + i], m->stack[first + i + 1])) return -1;
        return push(m, o);
    case 's': /* SETITEM */
        if (!(b = pop(m)) || !(a = pop(m)) || !(o = top(m))) return -1;
        if (o->type != PK_DICT) return fail(m, "expected a dict for SETITEM, found %s", pk_type_name(o));
        return dict_add(m, o, a, b);
    case 'u': /* SETITEMS */
        if (pop_mark(m, &first, &n) || !(o = top(m))) return -1;
        if (o->type != PK_DICT) return fail(m, "expected a dict for SETITEMS, found %s", pk_type_name(o));
        if (n % 2) return fail(m, "expected key/value pairs for SETITEMS, found %zu objects", n);
        for (size_t i = 0; i < n; i += 2)
            if (dict_add(m, o, m->stack[first + i], m->stack[first + i + 1])) return -1;
        return 0;
    case 'c': { /* GLOBAL module\nname\n */
        char mod[260], nm[260];
        if (line(m, mod, 256, "a GLOBAL module name") || line(m, nm, 256, "a GLOBAL name")) return -1;
        return global(m, mod, strlen(mod), nm, strlen(nm));
    }
    case 0x93: /* STACK_GLOBAL */
        if (!(b = pop(m)) || !(a = pop(m))) return -1;
        if (a->type != PK_STR || b->type != PK_STR)
            return fail(m, "expected two strings for STACK_GLOBAL, found %s and %s", pk_type_name(a), pk_type_name(b));
        return global(m, a->u.str.s, a->u.str.n, b->u.str.s, b->u.str.n);
    case 'R': /* REDUCE */
        if (!(a = pop(m)) || !(o = pop(m))) return -1;
        return push(m, apply(m, o, a, 0));
    case 0x81: /* NEWOBJ */
        if (!(a = pop(m)) || !(o = pop(m))) return -1;
        return push(m, newobj(m, o, a));
    case 0x92: /* NEWOBJ_EX: cls, args, kwargs */
        if (!(b = pop(m)) || !(a = pop(m)) || !(o = pop(m))) return -1;
        if (b->type != PK_DICT) return fail(m, "expected a dict of keyword arguments for NEWOBJ_EX, found %s", pk_type_name(b));
        return push(m, newobj(m, o, a));
    case 'b': return build(m);
    case 'Q': return persid(m);
    case 'h':
        if (!(q = take(m, 1, "BINGET"))) return -1;
        return memo_get(m, q[0]);
    case 'j':
        if (!(q = take(m, 4, "LONG_BINGET"))) return -1;
        return memo_get(m, le(q, 4));
    case 'q':
        if (!(q = take(m, 1, "BINPUT"))) return -1;
        return memo_put(m, q[0]);
    case 'r':
        if (!(q = take(m, 4, "LONG_BINPUT"))) return -1;
        return memo_put(m, le(q, 4));
    case 0x94: /* MEMOIZE */
        return memo_put(m, m->memo_count);
    case 'g': case 'p': { /* GET, PUT: decimal index */
        char buf[72], *e;
        if (line(m, buf, 64, op == 'g' ? "a GET index" : "a PUT index")) return -1;
        errno = 0;
        unsigned long long v = strtoull(buf, &e, 10);
        if (!buf[0] || *e || errno || buf[0] == '-') {
            char q[48];
            show(q, sizeof q, buf, strlen(buf));
            return fail(m, "expected a decimal memo index, found '%s'", q);
        }
        return op == 'g' ? memo_get(m, v) : memo_put(m, v);
    }
    default: {
        const char *r = refused_name(op);
        if (r) return fail(m, "expected the pickle opcodes that state dicts use, found %s (0x%02x), which is not supported", r, op);
        return fail(m, "expected a pickle opcode, found byte 0x%02x (not a pickle, or corrupt)", op);
    }
    }
}

int pk_load(pk_ctx *c, const unsigned char *buf, size_t len, const char *name, size_t *used, pk_obj **out, char *err,
            size_t errlen) {
    vm m;
    memset(&m, 0, sizeof m);
    m.c = c;
    m.start = m.p = buf;
    m.end = buf + len;
    m.name = name;
    m.err = err;
    m.errlen = errlen;
    *out = NULL;
    int r = 0;
    while (r == 0) {
        m.op_at = (size_t)(m.p - m.start);
        if (m.p >= m.end) {
            r = fail(&m, "expected a STOP opcode, found the data ending (truncated pickle)");
            break;
        }
        int op = *m.p++;
        r = step(&m, op, out);
    }
    free(m.stack);
    free(m.marks);
    free(m.memo);
    if (r < 0) { *out = NULL; return -1; }
    if (used) *used = (size_t)(m.p - m.start);
    return 0;
}

void pk_free(pk_ctx *c) {
    free(c->small_ints);
    c->small_ints = NULL;
    pk_obj *o = c->objs;
    while (o) {
        pk_obj *next = o->next_alloc;
        switch (o->type) {
        case PK_STR: case PK_BYTES: case PK_BIGINT: free(o->u.str.s); break;
        case PK_TUPLE: case PK_LIST: case PK_SET: free(o->u.seq.v); break;
        case PK_DICT: free(o->u.dict.kv); break;
        case PK_TENSOR: free(o->u.tensor.size); break;
        default: break;
        }
        free(o);
        o = next;
    }
    free(c->storages);
    memset(c, 0, sizeof *c);
}
