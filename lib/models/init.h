/* init.h: PyTorch's default initialisation of Linear and Conv2d parameters from a Philox seed:
 * weights and biases U(−1/√fan_in, 1/√fan_in) (kaiming_uniform with a = √5), fan_in = in·k·k;
 * any other 1-d parameter (D blocks' gamma) starts at 0. */
#ifndef DFGAN_INIT_H
#define DFGAN_INIT_H
#include "core/params.h"
void init_pytorch_default(param_set *ps, uint64_t seed);
void init_fill(param_set *ps, int idx, float value);
#endif
