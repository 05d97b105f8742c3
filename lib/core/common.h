/* common.h: error reporting, exit codes and allocation helpers shared by every tool.
 *
 * Manners (DESIGN.md): errors are one line on stderr, "tool: what was expected, what was found";
 * usage and input errors exit 2, runtime errors exit 1, a non-finite value (NaN/Inf in an input
 * tensor, a loss or a gradient: the run diverged or was poisoned) exits 3. Before exiting on an error every
 * output registered with atomic_file.h that is not yet committed is removed, so nothing
 * half-written is left at an output path.
 * With DFGAN_ERROR_LOG=FILE in the environment the error line is also appended to FILE as
 * "<exit status> <line>" (one write each, so the tools of a pipeline may share one file; stderr is
 * left as it is): how pipelines/common.mk quotes a failing tool's reason in its own last line. */
#ifndef DFGAN_COMMON_H
#define DFGAN_COMMON_H

#include <stddef.h>
#include <stdint.h>

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_NONFINITE = 3 };

/* Name printed before every message; each tool sets it first thing in main(). */
extern const char *progname;
/* The tool's argv, set in main() by tools that may hand over to their CUDA variant (tensor.h). */
extern char **tool_argv;

/* Print "progname: message" and exit with EXIT_USAGE (bad flags, bad input data). */
_Noreturn void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "progname: message" and exit with EXIT_RUNTIME (I/O failure, out of memory, device). */
_Noreturn void die_runtime(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "progname: message" and exit with EXIT_NONFINITE (NaN/Inf found: core/finite.h). */
_Noreturn void die_nonfinite(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "progname: message" on stderr and go on. */
void warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Library code that reports instead of dying: format a one-line message into err (if err && errlen);
 * returns -1, so that `return seterr(err, errlen, "...")` reports a failure. */
int seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Hook run before an error exit (atomic_file.h installs its clean-up here). */
void set_die_hook(void (*hook)(void));

void *xmalloc(size_t n);            /* dies with EXIT_RUNTIME when memory runs out */
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* A printable, bounded copy of s for messages (a checkpoint's key, a file's member name): control
 * bytes, DEL, quote and backslash as \xNN, "..." where it is cut; returns out. */
const char *show_key(char *out, size_t outlen, const char *s);

/* Parse a whole string as a number or die_usage naming the flag. */
long parse_long(const char *flag, const char *s, long lo, long hi);
/* A finite number (strtod's syntax; "nan", "inf" and overflows refused): "--eps expects a finite
 * number, found 'nan'"; "--eps expects a number, found 'x'" when it is none. */
double parse_double(const char *flag, const char *s);
/* The same within [lo, hi]: an end at -INFINITY or INFINITY is free, PD_LO_OPEN and PD_HI_OPEN (in
 * open) exclude an end: "--lr expects a finite number > 0, found '0'", "--beta1 expects a finite
 * number in [0, 1), found '1'". */
enum { PD_LO_OPEN = 1, PD_HI_OPEN = 2 };
double parse_double_in(const char *flag, const char *s, double lo, double hi, int open);

/* Flush and close stdout, reporting a failed write (e.g. into a closed pipe) as a runtime error. */
void close_stdout_or_die(void);

#endif
