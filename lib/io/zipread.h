/* zipread.h: a bounds-checked reader of zip archives held in memory (a mapped file), for the
 * containers that are zips: PyTorch's checkpoints since 1.6 (`archive/data.pkl` plus
 * `archive/data/<key>` records, stored, 64-byte aligned, zip64 records as torch writes them).
 *
 * zip_open_mem parses the central directory (zip64 end record, locator and extra fields
 * included) and each member's local header; every offset and size is checked against the
 * buffer, so a truncated, corrupt or hostile archive gives a one-line "expected ..., found ..."
 * message, never a read out of bounds. Members are stored (returned in place, no copy) or
 * deflated (inflated into malloc'd memory, with a plausibility bound on the claimed size);
 * CRC-32s are checked. npz.c's readers are built on it. zip_member is safe to call from several
 * threads at once on the same archive (it only reads z). */
#ifndef DFGAN_ZIPREAD_H
#define DFGAN_ZIPREAD_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *name;              /* NUL-terminated copy of the member name (names with NUL refused) */
    size_t name_len;
    int method;              /* 0 stored, 8 deflated */
    uint32_t crc;
    uint64_t csize, usize;   /* compressed and uncompressed sizes */
    uint64_t data_off;       /* offset of the member's data in the buffer (csize bytes fit) */
} zip_entry;

typedef struct {
    const unsigned char *buf;
    size_t len;
    char name[256];          /* what messages call the archive */
    int n;
    zip_entry *e;            /* in central-directory order */
    int *sorted;             /* indices sorted by name, for zip_find */
} zip_archive;

/* Parse the archive in buf (borrowed: it must outlive z). 0 ok, -1 with a message in err.
 * Duplicate member names are refused. */
int zip_open_mem(zip_archive *z, const void *buf, size_t len, const char *name, char *err, size_t errlen);
/* Index of the member named exactly `member`, or -1. O(log n). */
int zip_find(const zip_archive *z, const char *member);
/* The bytes of member i (usize of them): a stored member points into the buffer and *owned is
 * NULL; a deflated one is inflated into malloc'd memory returned in *owned as well (free it).
 * The CRC-32 is checked either way. 0 ok, -1 with a message. */
int zip_member(const zip_archive *z, int i, const unsigned char **data, unsigned char **owned, char *err,
               size_t errlen);
void zip_close(zip_archive *z);
/* zlib's CRC-32 of n bytes at p, continuing crc (0 to start), for any n (zlib takes 32-bit lengths) */
uint32_t zip_crc32(uint32_t crc, const unsigned char *p, uint64_t n);

#endif
