/* npz.h: read and write NumPy .npz archives (zip files of .npy members, as np.savez and
 * np.savez_compressed write them): the checkpoint and weights format.
 *
 * Reading parses the zip's central directory (zip64 included), takes members stored or
 * deflated, checks each CRC-32 and parses each member with npy.h. Every offset and size is
 * bounds-checked, so a corrupt, truncated or hostile archive gives a one-line
 * "expected ..., found ..." message naming the path, never a crash. npz_read_mapped reads big
 * weights without copying them: stored members whose data need no byte swap and start on an
 * aligned offset are used in place, in a read-only mapping of the file.
 * Writing makes a stored (uncompressed) zip that np.load reads, zip64 where a member or the
 * archive passes 4 GiB, with every member's array data starting on a 64-byte boundary of the
 * file (padding in the local header's extra field, which zip readers skip), atomically: temp
 * file in the same folder, fsync, rename (atomic_file.h). */
#ifndef DFGAN_NPZ_H
#define DFGAN_NPZ_H

#include "io/npy.h"

typedef struct { char *key; npy_array arr; } npz_item;    /* key without the ".npy" suffix */
typedef struct { int n; npz_item *items; } npz;            /* items in archive order */

/* 0 ok, -1 error (message names the path). path "-" reads the archive from stdin. */
int npz_read(const char *path, npz *z, char *err, size_t errlen);
/* The same from memory; name is what messages call the archive. */
int npz_read_mem(const void *buf, size_t len, const char *name, npz *z, char *err, size_t errlen);
const npy_array *npz_find(const npz *z, const char *key);   /* NULL if absent */
void npz_free(npz *z);

/* An archive read without copying (npz_read_mapped): z as npz_read makes it, except that the
 * arrays with mapped[i] set point into map, a read-only mapping of the file: read them only,
 * and free the whole with npz_mapped_free (never npz_free, never npy_free on such an array). */
typedef struct { npz z; unsigned char *mapped; void *map; size_t map_len; } npz_mapped;
/* npz_read without copying: the file is mapped read-only (MAP_PRIVATE); a stored member whose
 * data are in this machine's byte order and start at a file offset that is a multiple of align
 * (a power of two; a member whose item size is larger is copied) stays in the mapping. The rest
 * (deflated members, the other byte order, misaligned or empty arrays) is copied as npz_read
 * copies it, and so is a whole path that cannot be mapped (a pipe, "-"). The same checks and
 * messages as npz_read, CRC-32s included. The file must not be truncated while m holds it (as
 * with any mapping: SIGBUS); our writers replace files by rename, never in place.
 * 0 ok, -1 error (m is then empty). */
int npz_read_mapped(const char *path, npz_mapped *m, size_t align, char *err, size_t errlen);
void npz_mapped_free(npz_mapped *m);

/* Write items atomically (temp file in the same folder, fsync, rename) as a stored
 * (uncompressed) zip that numpy's np.load reads; zip64 when a member or the archive passes
 * 4 GiB; each member's array data start at a file offset that is a multiple of NPZ_ALIGN (so
 * npz_read_mapped maps them). Items' arrays are borrowed (native-endian data). 0 ok, -1 error (nothing left at path
 * on error). path "-" writes to stdout. */
#define NPZ_ALIGN 64
int npz_write(const char *path, const npz_item *items, int n, char *err, size_t errlen);

/* Tests only: when nonzero, npz_write uses zip64 records for every member and the archive. */
extern int npz_force_zip64;

#endif
