/* tfevents_check: checks of lib/io/tfevents.c, run by test/tensorboard.bats.
 *   1. CRC-32C against the known vectors (RFC 3720 B.4 and "123456789"), in one call and in pieces,
 *      and the masked form;
 *   2. the bytes of a whole record (file_version) and of two events (scalars, an image with a
 *      negative step) against what TensorBoard's own protobuf classes and masked_crc32c give for the
 *      same messages (the hex strings below were printed by tensorboard 2.21's event_pb2 and
 *      tensorflow_stub.pywrap_tensorflow.masked_crc32c);
 *   3. tfe_png_info on a real PNG header and its refusals;
 *   4. tfe_file_name.
 * Prints one line per failure and a summary; exit 1 on any failure. */
#include "io/tfevents.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static int checks, failures;

static void expect(int ok, const char *what) {
    checks++;
    if (!ok) { failures++; printf("FAIL %s\n", what); }
}

static void expect_u32(uint32_t got, uint32_t want, const char *what) {
    checks++;
    if (got != want) { failures++; printf("FAIL %s: expected 0x%08x, found 0x%08x\n", what, want, got); }
}

/* the bytes written by fn into a memory stream, as hex, against want */
static void expect_hex(const unsigned char *p, size_t n, const char *want, const char *what) {
    char *hex = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) sprintf(hex + 2 * i, "%02x", p[i]);
    hex[2 * n] = 0;
    checks++;
    if (strcmp(hex, want)) { failures++; printf("FAIL %s:\n  expected %s\n  found    %s\n", what, want, hex); }
    free(hex);
}

static void check_crc(void) {
    unsigned char zeros[32] = {0}, ones[32], inc[32];
    memset(ones, 0xff, 32);
    for (int i = 0; i < 32; i++) inc[i] = (unsigned char)i;
    expect_u32(tfe_crc32c(0, "123456789", 9), 0xe3069283u, "crc32c(\"123456789\")");
    expect_u32(tfe_crc32c(0, zeros, 32), 0x8a9136aau, "crc32c(32 zero bytes)");
    expect_u32(tfe_crc32c(0, ones, 32), 0x62a8ab43u, "crc32c(32 0xff bytes)");
    expect_u32(tfe_crc32c(0, inc, 32), 0x46dd794eu, "crc32c(0..31)");
    expect_u32(tfe_crc32c(0, "", 0), 0, "crc32c(empty)");
    expect_u32(tfe_crc32c(tfe_crc32c(0, "1234", 4), "56789", 5), 0xe3069283u, "crc32c in two pieces");
    expect_u32(tfe_mask_crc(tfe_crc32c(0, "123456789", 9)), 0xc78ab0e5u, "masked crc32c(\"123456789\")");
}

static void check_events(void) {
    char *mem;
    size_t n;
    FILE *f = open_memstream(&mem, &n);
    expect(tfe_write_file_version(f, 1700000000.25) == 0, "write file_version");
    fclose(f);
    expect_hex((unsigned char *)mem, n,
               "1800000000000000a37f4b220900001040fc54d9411a0d627261696e2e4576656e743a32338d2fe9",
               "the file_version record");
    free(mem);

    /* the records' payloads: strip the 12-byte head and 4-byte tail */
    tfe_summary s = {0};
    tfe_summary_scalar(&s, "a", 0.5f);
    tfe_summary_scalar(&s, "zero", 0.0f);
    f = open_memstream(&mem, &n);
    expect(tfe_write_summary(f, 1.5, 3, &s) == 0, "write scalars");
    fclose(f);
    expect(n > 16, "a scalar record");
    if (n > 16)
        expect_hex((unsigned char *)mem + 12, n - 16,
                   "09000000000000f83f10032a170a080a0161150000003f0a0b0a047a65726f1500000000", "the scalars' event");
    free(mem);

    tfe_summary_clear(&s);
    static const unsigned char png[4] = {0x89, 'P', 'N', 'G'};
    tfe_summary_image(&s, "fixed results", 2, 300, 3, png, 4);
    f = open_memstream(&mem, &n);
    expect(tfe_write_summary(f, 2.0, -1, &s) == 0, "write an image");
    fclose(f);
    if (n > 16)
        expect_hex((unsigned char *)mem + 12, n - 16,
                   "09000000000000004010ffffffffffffffffff012a200a1e0a0d666978656420726573756c7473220d080210ac021803220489504e47",
                   "the image's event");
    free(mem);

    tfe_summary_clear(&s);
    f = open_memstream(&mem, &n);
    expect(tfe_write_summary(f, 2.0, 5, &s) == 0, "an empty summary");
    fclose(f);
    expect(n == 0, "an empty summary writes nothing");
    free(mem);
    tfe_summary_free(&s);
}

static void check_png(void) {
    /* signature + IHDR (13 bytes: 640x96, depth 8, type 2 RGB) + its CRC */
    unsigned char p[33] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                           0, 0, 2, 128, 0, 0, 0, 96, 8, 2, 0, 0, 0};
    uLong c = crc32(0, p + 12, 17);
    for (int i = 0; i < 4; i++) p[29 + i] = (unsigned char)(c >> (24 - 8 * i));
    int h = 0, w = 0, cs = 0;
    char err[200];
    expect(tfe_png_info(p, 33, &h, &w, &cs, err, sizeof err) == 0 && h == 96 && w == 640 && cs == 3, "an RGB PNG's header");
    p[25] = 6;
    c = crc32(0, p + 12, 17);
    for (int i = 0; i < 4; i++) p[29 + i] = (unsigned char)(c >> (24 - 8 * i));
    expect(tfe_png_info(p, 33, &h, &w, &cs, err, sizeof err) == 0 && cs == 4, "an RGBA PNG's header");
    expect(tfe_png_info(p, 20, &h, &w, &cs, err, sizeof err) == -1 &&
               !strcmp(err, "expected a PNG's IHDR chunk of 13 bytes first, found the file ending"), "a cut PNG");
    p[20] ^= 1;
    expect(tfe_png_info(p, 33, &h, &w, &cs, err, sizeof err) == -1 &&
               !strcmp(err, "expected the PNG's IHDR chunk to match its CRC, found a mismatch"), "a PNG with a bad CRC");
    expect(tfe_png_info((const unsigned char *)"GIF89a..", 8, &h, &w, &cs, err, sizeof err) == -1 &&
               !strcmp(err, "expected a PNG file (its 8-byte signature), found other bytes"), "not a PNG");
}

static void check_name(void) {
    char s[100];
    tfe_file_name(s, sizeof s, 1700000000, "node1", "e003-losses");
    expect(!strcmp(s, "events.out.tfevents.1700000000.node1.e003-losses"), "a file name with a suffix");
    tfe_file_name(s, sizeof s, 12, "h", NULL);
    expect(!strcmp(s, "events.out.tfevents.12.h"), "a file name without a suffix");
}

int main(void) {
    check_crc();
    check_events();
    check_png();
    check_name();
    printf("tfevents_check: %d checks, %d failed\n", checks, failures);
    return failures != 0;
}
