/* tensor.c: device-tagged tensors and raw device memory (see tensor.h). */
#include "core/tensor.h"
#include "core/common.h"
#include "ops_cuda.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

double cpu_gemm_flops;   /* declared in real.h, counted by the CPU ops */

/* bin/X -> bin/cuda/X, when this is a CPU-only build and that file exists: exec it. */
static void exec_cuda_variant(void) {
    char self[PATH_MAX], path[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || !tool_argv) return;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash) return;
    *slash = 0;
    const char *dir = self, *base = slash + 1;
    size_t dl = strlen(dir);
    if (dl >= 5 && !strcmp(dir + dl - 5, "/cuda")) return;        /* already the CUDA variant */
    snprintf(path, sizeof path, "%s/cuda/%s", dir, base);
    if (access(path, X_OK) == 0) execv(path, tool_argv);          /* returns only on failure */
}

device_t device_parse(const char *s) {
    if (!strcmp(s, "cpu")) return DEVICE_CPU;
    if (!strcmp(s, "cuda")) {
        char why[256];
        if (!cuda_compiled()) {
            exec_cuda_variant();
            die_runtime("expected a CUDA variant of %s (bin/cuda/%s, built where nvcc exists) for --device cuda, found none",
                        progname, progname);
        }
        if (!cuda_device_available(why, sizeof why))
            die_runtime("expected a usable GPU for --device cuda, found none: %s", why);
        return DEVICE_CUDA;
    }
    die_usage("--device expects cpu or cuda, found '%s'", s);
}
const char *device_name(device_t d) { return d == DEVICE_CUDA ? "cuda" : "cpu"; }

float *dev_alloc(device_t dev, size_t n) {
    if (dev == DEVICE_CUDA) { float *p = cuda_alloc(n * sizeof(float)); cuda_zero(p, n * sizeof(float)); return p; }
    return xcalloc(n ? n : 1, sizeof(float));
}
void dev_free(device_t dev, float *p) {
    if (!p) return;
    if (dev == DEVICE_CUDA) cuda_free(p); else free(p);
}
void dev_zero(device_t dev, float *p, size_t n) {
    if (dev == DEVICE_CUDA) cuda_zero(p, n * sizeof(float)); else memset(p, 0, n * sizeof(float));
}
void dev_copy(device_t dev, float *dst, const float *src, size_t n) {
    if (dev == DEVICE_CUDA) cuda_copy(dst, src, n * sizeof(float)); else memmove(dst, src, n * sizeof(float));
}
void dev_upload(device_t dev, float *dst, const float *host, size_t n) {
    if (dev == DEVICE_CUDA) cuda_upload(dst, host, n * sizeof(float)); else memmove(dst, host, n * sizeof(float));
}
void dev_download(device_t dev, float *host, const float *src, size_t n) {
    if (dev == DEVICE_CUDA) cuda_download(host, src, n * sizeof(float)); else memmove(host, src, n * sizeof(float));
}

static int64_t shape_size(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

tensor tensor_view(float *data, device_t dev, int ndim, const int64_t *shape) {
    tensor t = {0};
    t.data = data; t.ndim = ndim; t.device = dev;
    for (int i = 0; i < ndim; i++) t.shape[i] = shape[i];
    t.size = shape_size(ndim, shape);
    return t;
}
tensor tensor_new(device_t dev, int ndim, const int64_t *shape) {
    tensor t = tensor_view(NULL, dev, ndim, shape);
    t.data = dev_alloc(dev, (size_t)t.size);
    t.owns = 1;
    return t;
}
tensor tensor_new4(device_t dev, int64_t a, int64_t b, int64_t c, int64_t d) {
    int64_t s[4] = {a, b, c, d};
    return tensor_new(dev, 4, s);
}
tensor tensor_new2(device_t dev, int64_t a, int64_t b) {
    int64_t s[2] = {a, b};
    return tensor_new(dev, 2, s);
}
void tensor_resize(tensor *t, device_t dev, int ndim, const int64_t *shape) {
    int64_t n = shape_size(ndim, shape);
    if (!t->data || n != t->size || dev != t->device || !t->owns) {
        if (t->owns) dev_free(t->device, t->data);
        *t = tensor_new(dev, ndim, shape);
        return;
    }
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
}
void tensor_free(tensor *t) {
    if (t->owns) dev_free(t->device, t->data);
    memset(t, 0, sizeof *t);
}
void tensor_zero(tensor *t) { dev_zero(t->device, t->data, (size_t)t->size); }
void tensor_copy(tensor *dst, const tensor *src) {
    if (dst->size != src->size || dst->device != src->device)
        die_runtime("expected tensors of equal size and device to copy, found %lld and %lld elements",
                    (long long)dst->size, (long long)src->size);
    dev_copy(dst->device, dst->data, src->data, (size_t)src->size);
}
void tensor_upload(tensor *dst, const float *host) { dev_upload(dst->device, dst->data, host, (size_t)dst->size); }
void tensor_download(float *host, const tensor *src) { dev_download(src->device, host, src->data, (size_t)src->size); }
