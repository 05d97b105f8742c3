/* atomic_file.h: output files that are never half-written.
 *
 * Writes go to a temp file "<dir>/.<name>.tmp.XXXXXX" in the folder of the output path, which
 * af_commit flushes, fsyncs and renames over the path (then fsyncs the folder). "-" means
 * stdout, and an existing FIFO or character device at the path is written directly (streaming).
 * Every open temp file is registered: die_usage/die_runtime (through common.h's die hook),
 * SIGINT/SIGTERM/SIGHUP/SIGPIPE and exit() without a commit all remove it.
 *
 *   atomic_file *af = af_open(opt.out);
 *   npy_write(af_stream(af), ...);
 *   af_commit(af);
 */
#ifndef DFGAN_ATOMIC_FILE_H
#define DFGAN_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

typedef struct atomic_file atomic_file;

/* Open path for writing; dies (die_usage for a bad path, e.g. a missing folder: "expected a
 * writable folder for 'out/x.npy', found 'out': No such file or directory"; die_runtime for
 * other failures) when it cannot. */
atomic_file *af_open(const char *path);
FILE *af_stream(atomic_file *af);
/* fflush + fsync + fclose + rename (+ fsync the folder), then frees af. Dies with die_runtime on
 * a write failure, naming the path and strerror (the temp file is removed). For "-" stdout is
 * flushed and checked but left open (close_stdout_or_die closes it). */
void af_commit(atomic_file *af);
void af_abort(atomic_file *af);   /* close and remove the temp file; frees af */
void af_abort_all(void);          /* what the die hook runs: remove every uncommitted temp file */

/* Checks made when the options are read, before any work, so that a bad output path costs
 * nothing: die_usage (exit 2) naming flag, e.g. "--save: expected a writable folder for
 * 'out/G.npz', found 'out': No such file or directory", unless
 *   check_output_dir     the folder that af_open(path) will write in exists and takes a file (a
 *                        temp file is made there and removed: what af_open does), and path is not
 *                        a folder; NULL, "-", an existing FIFO or device pass
 *   check_output_folder  dir is a folder that takes files, or can be made in a folder that does
 *                        (for tools whose output is a folder of files)
 *   check_append_file    a file appended to in place (--log): an existing writable file passes
 *                        whatever its folder, else as check_output_dir */
void check_output_dir(const char *path, const char *flag);
void check_output_folder(const char *dir, const char *flag);
void check_append_file(const char *path, const char *flag);

/* The same without dying, for library code that reports errors itself (npz_write): NULL or -1
 * with a one-line "expected ..., found ..." message in err. af_commit_err removes the temp file
 * and frees af on failure too. */
atomic_file *af_open_err(const char *path, char *err, size_t errlen);
int af_commit_err(atomic_file *af, char *err, size_t errlen);

#endif
