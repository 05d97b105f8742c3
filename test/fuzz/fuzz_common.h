/* fuzz_common.h: what the libFuzzer harnesses in test/fuzz/ share.
 *
 * The readers under test return their errors (lib/README.md, "Errors"): -1 or NULL with one line
 * "expected ..., found ..." in the caller's buffer, never an exit. fuzz_check_err turns a broken
 * promise into a crash that libFuzzer saves: a failure without a message, or a message that is
 * not one clean line (a control character other than tab in it: input bytes quoted in a message
 * must be escaped). An exit on bad input is caught by libFuzzer itself ("fuzz target exited").
 * fuzz_touch reads every page of a result, so that ASan checks its claimed size. fuzz_memfile
 * gives the input a path (a memfd under /proc/self/fd) for the readers that take only a path. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* rc < 0 (or nonzero, for 0/-1 readers) must come with one non-empty line in err. */
static inline void fuzz_check_err(int failed, const char *err) {
    if (!failed) return;
    if (!err[0]) {
        fprintf(stderr, "fuzz: expected an error message with the failure, found none\n");
        abort();
    }
    for (const unsigned char *p = (const unsigned char *)err; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
            fprintf(stderr, "fuzz: expected a one-line error message without control characters, found byte 0x%02x "
                            "at %zu in: %s\n", *p, (size_t)(p - (const unsigned char *)err), err);
            abort();
        }
}

/* Read one byte of every 4 KiB and the last byte of p[0..n). */
static inline void fuzz_touch(const void *p, size_t n) {
    const volatile unsigned char *b = p;
    unsigned char sink = 0;
    for (size_t k = 0; k < n; k += 4096) sink ^= b[k];
    if (n) sink ^= b[n - 1];
    (void)sink;
}

/* The input as a file: one memfd, rewritten for each input; returns its /proc path, or aborts. */
static inline const char *fuzz_memfile(const uint8_t *data, size_t size) {
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz-input", 0);
        if (fd < 0) { perror("fuzz: memfd_create"); abort(); }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0) { perror("fuzz: ftruncate"); abort(); }
    size_t done = 0;
    while (done < size) {
        ssize_t k = pwrite(fd, data + done, size - done, (off_t)done);
        if (k <= 0) { perror("fuzz: pwrite"); abort(); }
        done += (size_t)k;
    }
    return path;
}

#endif
