/* params.h: a model's parameters in one buffer (with gradients and Adam state beside it),
 * each under its PyTorch state_dict key, in state_dict order. */
#ifndef DFGAN_PARAMS_H
#define DFGAN_PARAMS_H
#include "core/tensor.h"

#define PARAM_KEY_MAX 112

typedef struct {
    char key[PARAM_KEY_MAX];
    int ndim;
    int64_t shape[4];
    size_t offset, size;
    int used;   /* 0: kept in the state_dict but unused in forward (no gradient; Adam skips it) */
} param_info;

typedef struct {
    device_t device;
    int n, cap;
    param_info *info;
    size_t total;
    float *data, *grad, *m, *v;   /* `total` floats each, on `device` */
    long step;                    /* Adam steps taken */
} param_set;

/* Register a parameter (before params_alloc); returns its index. ndim 0..4; dims beyond ndim ignored. */
int params_add(param_set *ps, const char *key, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3);
void params_alloc(param_set *ps, device_t dev);     /* zero data, grads and Adam state */
void params_free(param_set *ps);
int params_find(const param_set *ps, const char *key);  /* -1 if absent */

static inline float *pdata(const param_set *ps, int i) { return ps->data + ps->info[i].offset; }
static inline float *pgrad(const param_set *ps, int i) { return ps->grad + ps->info[i].offset; }

void params_zero_grad(param_set *ps);
/* One torch.optim.Adam step over the used parameters (no weight decay). */
void params_adam_step(param_set *ps, double lr, double beta1, double beta2, double eps);

/* "(4,2,3,3)" for messages. */
void params_shape_str(const param_info *p, char *buf, size_t n);
/* The parameter whose values hold flat index i of the buffers (i < total). */
int params_index_of(const param_set *ps, size_t i);
/* For messages, flat index i as "<prefix><key> at (i0,i1,...)" (a scalar's key alone), in buf; returns buf. */
const char *params_where(const param_set *ps, size_t i, const char *prefix, char *buf, size_t n);

#endif
