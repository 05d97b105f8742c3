/* steplog.h: per-batch values of a training tool: a plain line on stderr, or JSON lines in a file
 * given by --log (one object per batch, e.g. {"batch": 1, "errD": 1.25, ...}). */
#ifndef DFGAN_STEPLOG_H
#define DFGAN_STEPLOG_H
#include <stdio.h>

typedef struct { FILE *f; int json; } steplog;

void steplog_open(steplog *l, const char *path);   /* NULL: stderr lines; else JSON lines appended to path */
/* names[i] = values[i] for n values, for batch `batch` (1-based) */
void steplog_write(steplog *l, long batch, int n, const char *const *names, const double *values);
void steplog_close(steplog *l);
#endif
