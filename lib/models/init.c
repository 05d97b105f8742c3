/* init.c: PyTorch-default parameter initialisation (see init.h). */
#include "models/init.h"
#include "core/common.h"
#include "core/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int64_t fan_in(const param_info *p) {
    int64_t f = p->ndim >= 2 ? p->shape[1] : 1;
    for (int i = 2; i < p->ndim; i++) f *= p->shape[i];
    return f;
}

void init_pytorch_default(param_set *ps, uint64_t seed) {
    for (int i = 0; i < ps->n; i++) {
        const param_info *p = &ps->info[i];
        float *host = xcalloc(p->size, sizeof(float));
        double bound = 0;
        if (p->ndim >= 2) bound = 1.0 / sqrt((double)fan_in(p));
        else {
            size_t L = strlen(p->key);
            if (L > 5 && !strcmp(p->key + L - 5, ".bias")) {
                char wkey[PARAM_KEY_MAX];
                memcpy(wkey, p->key, L - 5);
                strcpy(wkey + L - 5, ".weight");
                int w = params_find(ps, wkey);
                if (w >= 0) bound = 1.0 / sqrt((double)fan_in(&ps->info[w]));
            }
        }
        rng_t r;
        rng_init(&r, seed, (uint64_t)i);
        for (size_t k = 0; k < p->size && bound > 0; k++) host[k] = (float)((2.0 * rng_uniform(&r) - 1.0) * bound);
        dev_upload(ps->device, pdata(ps, i), host, p->size);
        free(host);
    }
}

void init_fill(param_set *ps, int idx, float value) {
    const param_info *p = &ps->info[idx];
    float *host = xmalloc(p->size * sizeof(float));
    for (size_t k = 0; k < p->size; k++) host[k] = value;
    dev_upload(ps->device, pdata(ps, idx), host, p->size);
    free(host);
}
