/* npy.c: the one translation unit that holds the implementation of the single-file npy.h. */
#define NPY_IMPLEMENTATION
#include "io/npy.h"
