/* pickle_write.h: write a Python list of str as a protocol-2 pickle, the format of DF-GAN's
 * filenames.pickle (pickle.load gives a list of str; Python 2 reads it as unicode). Opcodes:
 * PROTO 2, EMPTY_LIST, then batches of at most 1000 items as MARK, BINUNICODE..., APPENDS,
 * and STOP, as Python's pickler batches them (without its memo, which a reader does not need). */
#ifndef DFGAN_PICKLE_WRITE_H
#define DFGAN_PICKLE_WRITE_H

#include <stddef.h>
#include <stdio.h>

/* s[0..n-1]: UTF-8 strings. 0 ok, -1 on a write error (errno says why). */
int pk_write_str_list(FILE *f, const char *const *s, size_t n);

#endif
