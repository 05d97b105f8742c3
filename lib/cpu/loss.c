/* loss.c: DF-GAN's hinge losses on discriminator scores x (n):
 * mean(relu(1 + sign·x)), sign = −1 for real images (relu(1 − x)), +1 for fakes (relu(1 + x)). */
#include "core/real.h"

/* mean(relu(1 + sign·x)), summed in double */
real OPNAME(hinge_forward)(const real *x, int n, int sign)
{
    double s = 0;
    for (int i = 0; i < n; i++) {
        const double t = 1 + (double)sign * x[i];
        if (t > 0) s += t;
    }
    return (real)(s / n);
}

/* dx (n) = scale · ∂/∂x mean(relu(1 + sign·x)) = scale·sign/n where 1 + sign·x > 0, else 0
 * (assigned; relu'(0) = 0 as in PyTorch) */
void OPNAME(hinge_backward)(real *dx, const real *x, int n, int sign, real scale)
{
    const real g = (real)((double)scale * sign / n);
    for (int i = 0; i < n; i++) dx[i] = 1 + sign * x[i] > 0 ? g : 0;
}
