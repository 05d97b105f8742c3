/* tfevents.h: TensorBoard event files, written (the format TensorBoard's SummaryWriter writes).
 *
 * A file is a sequence of TFRecords, each
 *     uint64 length (little-endian) | uint32 masked CRC-32C of those 8 bytes | data | uint32 masked CRC-32C of data
 * (masked: ((crc >> 15) | (crc << 17)) + 0xa282ead8), whose data is one serialised `Event` protobuf
 * (tensorboard/compat/proto/event.proto): the first `file_version: "brain.Event:2"`, the others
 * `wall_time`, `step` and a `summary` of `Summary.Value`s, each a `tag` with a `simple_value` (a float
 * scalar) or an `image` (`Summary.Image`: height, width, colorspace, the encoded PNG bytes). That is
 * four message types and three wire types (varint, fixed64/fixed32, length-delimited), so they are
 * encoded here by hand rather than through a protobuf library. Zero fields are left out, as proto3 does.
 *
 * TensorBoard reads every file of a folder whose name contains "tfevents"; SummaryWriter names them
 * events.out.tfevents.<secs>.<host>[.suffix] (tfe_file_name).
 *
 *   tfe_summary s = {0};
 *   tfe_summary_scalar(&s, "errD", 1.25f);
 *   tfe_write_file_version(f, now);  tfe_write_summary(f, now, step, &s);  tfe_summary_free(&s);
 *
 * The writers encode into a caller's stream and return -1 as fwrite does (the caller names the
 * path); tfe_png_info reads bytes from outside and returns its errors (seterr). */
#ifndef DFGAN_TFEVENTS_H
#define DFGAN_TFEVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* CRC-32C (Castagnoli, reflected polynomial 0x82f63b78) of n bytes at p, continuing crc (0 to
 * start): tfe_crc32c(0, "123456789", 9) == 0xe3069283. */
uint32_t tfe_crc32c(uint32_t crc, const void *p, size_t n);
/* The masked form a TFRecord stores. */
uint32_t tfe_mask_crc(uint32_t crc);

/* The Summary.Value entries of one event, serialised as they are added (a growing byte buffer). */
typedef struct { unsigned char *p; size_t n, cap; } tfe_summary;

void tfe_summary_scalar(tfe_summary *s, const char *tag, float value);
/* An image value: the encoded bytes (PNG) as they are, with their size and colorspace
 * (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA: TensorBoard's Summary.Image). */
void tfe_summary_image(tfe_summary *s, const char *tag, int height, int width, int colorspace,
                       const unsigned char *png, size_t n);
void tfe_summary_clear(tfe_summary *s);   /* empty it, keeping the buffer */
void tfe_summary_free(tfe_summary *s);

/* One TFRecord around n bytes of data. 0, or -1 as fwrite. */
int tfe_write_record(FILE *f, const void *data, size_t n);
/* The first event of a file: file_version "brain.Event:2". */
int tfe_write_file_version(FILE *f, double wall_time);
/* An event of the summary's values at step (an empty summary writes nothing). */
int tfe_write_summary(FILE *f, double wall_time, int64_t step, const tfe_summary *s);

/* A PNG's size and TensorBoard colorspace from its IHDR chunk (signature, chunk type, CRC and the
 * field ranges checked; the rest of the file is not decoded). 0, or -1 with "expected ..., found ...". */
int tfe_png_info(const unsigned char *p, size_t n, int *height, int *width, int *colorspace,
                 char *err, size_t errlen);

/* "events.out.tfevents.<secs>.<host>.<suffix>" ("...<host>" for an empty or NULL suffix) in out;
 * the length it needs (as snprintf). */
int tfe_file_name(char *out, size_t n, long secs, const char *host, const char *suffix);

#endif
