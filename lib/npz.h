/* npz.h: read and write NumPy .npz archives (zip files of .npy members, as np.savez and
 * np.savez_compressed write them): the checkpoint and weights format.
 *
 * Reading parses the zip's central directory (zip64 included), takes members stored or
 * deflated, checks each CRC-32 and parses each member with npy.h. Every offset and size is
 * bounds-checked, so a corrupt, truncated or hostile archive gives a one-line
 * "expected ..., found ..." message naming the path, never a crash.
 * Writing makes a stored (uncompressed) zip that np.load reads, zip64 where a member or the
 * archive passes 4 GiB, atomically: temp file in the same folder, fsync, rename (atomic_file.h). */
#ifndef DFGAN_NPZ_H
#define DFGAN_NPZ_H

#include "npy.h"

typedef struct { char *key; npy_array arr; } npz_item;    /* key without the ".npy" suffix */
typedef struct { int n; npz_item *items; } npz;            /* items in archive order */

/* 0 ok, -1 error (message names the path). path "-" reads the archive from stdin. */
int npz_read(const char *path, npz *z, char *err, size_t errlen);
/* The same from memory; name is what messages call the archive. */
int npz_read_mem(const void *buf, size_t len, const char *name, npz *z, char *err, size_t errlen);
const npy_array *npz_find(const npz *z, const char *key);   /* NULL if absent */
void npz_free(npz *z);

/* Write items atomically (temp file in the same folder, fsync, rename) as a stored
 * (uncompressed) zip that numpy's np.load reads; zip64 when a member or the archive passes
 * 4 GiB. Items' arrays are borrowed (native-endian data). 0 ok, -1 error (nothing left at path
 * on error). path "-" writes to stdout. */
int npz_write(const char *path, const npz_item *items, int n, char *err, size_t errlen);

/* Tests only: when nonzero, npz_write uses zip64 records for every member and the archive. */
extern int npz_force_zip64;

#endif
