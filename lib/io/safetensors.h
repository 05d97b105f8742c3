/* safetensors.h: parse a .safetensors file held in memory: an 8-byte little-endian header
 * length N, N bytes of JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, ...,
 * "__metadata__": {str: str}}, then the tensors' bytes (offsets relative to the end of the
 * header), little-endian, C order.
 *
 * The JSON is parsed strictly (RFC 8259: UTF-8 checked, escapes and surrogate pairs, no
 * trailing commas, numbers as JSON writes them) and boundedly (header at most 100 MB as the
 * reference implementation, nesting depth 16, strings 64 KiB, 2^20 tensors, 8 dimensions);
 * unknown fields inside a tensor entry are parsed and ignored. Every entry is checked: a known
 * dtype (F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL U16 U32 U64), non-negative dims, offsets
 * in order within the data, and end - begin equal to the shape's element count times the
 * dtype's size; names are unique. */
#ifndef DFGAN_SAFETENSORS_H
#define DFGAN_SAFETENSORS_H

#include "import/ckdtype.h"

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_HEADER 100000000u

typedef struct {
    char *name;                      /* NUL-terminated (names with NUL refused) */
    ck_dtype dtype;
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
    uint64_t begin, end;             /* byte range within the data section */
} st_entry;

typedef struct {
    int n;
    st_entry *e;                     /* in header order */
    const unsigned char *data;       /* start of the data section (in the caller's buffer) */
    uint64_t data_len;
} st_file;

/* 0 ok, -1 with a one-line "expected ..., found ..." message naming `name`. */
int st_parse(st_file *f, const unsigned char *buf, size_t len, const char *name, char *err, size_t errlen);
void st_free(st_file *f);

#endif
