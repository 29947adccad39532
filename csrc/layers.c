/* layers.c: activations, dropout and losses, each a forward/backward pair
 * over flat arrays (the dense products are in gemm.c and mlp.c).
 *
 * Backward functions add (+=) into gradient buffers, so a value used twice
 * (a generator output fed to both a loss and a discriminator) collects both
 * contributions.  The elementwise layers (activations, dropout) have no
 * parameters, and their backward passes turn an output gradient into the
 * input gradient in place, as the MLP's backward uses them.  Losses return
 * scale * sum(w_i * l_i) summed in double. */
#include "cgan.h"

#include <math.h>
#include <string.h>

/* y[n] = f(x[n]) */
void cg_activation_forward(cg_real *y, const cg_real *x, size_t n, cg_activation act, double param)
{
    cg_real a = (cg_real)param;
    switch (act) {
    case CG_ACT_RELU:
        for (size_t i = 0; i < n; i++) {
            cg_real v = x[i];
            y[i] = v > 0 ? v : 0;
        }
        break;
    case CG_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++) {
            cg_real v = x[i];
            y[i] = v > 0 ? v : a * v;
        }
        break;
    case CG_ACT_ELU:
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : a * (cg_real)expm1(x[i]);
        break;
    case CG_ACT_TANH:
        for (size_t i = 0; i < n; i++) y[i] = (cg_real)tanh(x[i]);
        break;
    case CG_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) {
            /* exp of a non-positive number only: no overflow for large |x| */
            double e = exp(-fabs((double)x[i]));
            y[i] = (cg_real)(x[i] >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e));
        }
        break;
    default:
        if (y != x)
            for (size_t i = 0; i < n; i++) y[i] = x[i];
        break;
    }
}

/* d[n] *= f'(x[n]), with y = f(x): the activation's backward in place (d
 * holds dL/dy on entry and dL/dx on return).  The piecewise cases are
 * written as selects on a 0/1 factor, not branches: the signs of
 * pre-activations are random, so branches mispredict half the time, while
 * the selects vectorise. */
void cg_activation_backward(cg_real *restrict d, const cg_real *restrict x, const cg_real *restrict y, size_t n,
                            cg_activation act, double param)
{
    cg_real a = (cg_real)param;
    switch (act) {
    case CG_ACT_RELU:
        for (size_t i = 0; i < n; i++) d[i] *= (cg_real)(x[i] > 0);
        break;
    case CG_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++) {
            cg_real pos = (cg_real)(x[i] > 0);
            d[i] *= pos + (1 - pos) * a;
        }
        break;
    case CG_ACT_ELU:
        /* for x <= 0, f'(x) = a exp(x) = f(x) + a */
        for (size_t i = 0; i < n; i++) {
            cg_real pos = (cg_real)(x[i] > 0);
            d[i] *= pos + (1 - pos) * (y[i] + a);
        }
        break;
    case CG_ACT_TANH:
        for (size_t i = 0; i < n; i++) d[i] *= 1 - y[i] * y[i];
        break;
    case CG_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) d[i] = d[i] * y[i] * (1 - y[i]);
        break;
    default:
        break;
    }
}

/* Inverted dropout over feature-major lines (unit j of row i at j*ld + i):
 * the mask is drawn row by row, unit by unit within a row (the order of a
 * row-major [n, units] array), and is 0 in the padding columns [n, np). */
void cg_dropout_forward(cg_real *y, cg_real *mask, const cg_real *x, size_t units, size_t n, size_t np, size_t ld,
                        double p, cg_rng *rng)
{
    cg_real keep = (cg_real)(1.0 / (1.0 - p));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < units; j++) mask[j * ld + i] = cg_rng_uniform(rng) >= p ? keep : 0;
    for (size_t j = 0; j < units; j++) {
        if (np > n) memset(mask + j * ld + n, 0, (np - n) * sizeof *mask);
        for (size_t i = 0; i < np; i++) y[j * ld + i] = x[j * ld + i] * mask[j * ld + i];
    }
}

/* d[n] *= mask[n] */
void cg_dropout_backward(cg_real *d, const cg_real *mask, size_t n)
{
    for (size_t i = 0; i < n; i++) d[i] *= mask[i];
}

/* ------------------------------------------------------------ losses */

/* pred[n], target[n], w[n] or NULL */
double cg_mse_loss(cg_real *grad, const cg_real *pred, const cg_real *target,
                   const cg_real *w, size_t n, double scale)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        double d = (double)pred[i] - target[i];
        s += wi * d * d;
        if (grad) grad[i] += (cg_real)(2.0 * scale * wi * d);
    }
    return scale * s;
}

/* z[n] logits, y[n] targets in [0,1]:
 * l = max(z,0) - z y + log(1 + exp(-|z|)),  dl/dz = sigmoid(z) - y */
double cg_bce_logits_loss(cg_real *grad, const cg_real *z, const cg_real *y,
                          const cg_real *w, size_t n, double scale)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        double zi = z[i], yi = y[i];
        double e = exp(-fabs(zi));
        s += wi * ((zi > 0 ? zi : 0) - zi * yi + log1p(e));
        if (grad) {
            double sig = zi >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
            grad[i] += (cg_real)(scale * wi * (sig - yi));
        }
    }
    return scale * s;
}

/* z[n,k] logits, labels[n] in [0,k): l = logsumexp(z_i) - z_i[label] */
double cg_softmax_ce_loss(cg_real *grad, const cg_real *z, const int32_t *labels,
                          const cg_real *w, size_t n, size_t k, double scale)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        const cg_real *zi = z + i * k;
        double wi = w ? w[i] : 1.0;
        double mx = zi[0];
        for (size_t j = 1; j < k; j++) mx = zi[j] > mx ? zi[j] : mx;
        /* e_j = exp(z_j - max) <= 1, kept for the probabilities e_j / sum e
         * when there are few classes (recomputed otherwise) */
        double e[16], se = 0;
        for (size_t j = 0; j < k; j++) {
            double ej = exp(zi[j] - mx);
            if (j < 16) e[j] = ej;
            se += ej;
        }
        double lse = mx + log(se);
        s += wi * (lse - zi[labels[i]]);
        if (grad) {
            for (size_t j = 0; j < k; j++) {
                double p = (j < 16 ? e[j] : exp(zi[j] - mx)) / se;
                grad[i * k + j] += (cg_real)(scale * wi * (p - ((int32_t)j == labels[i])));
            }
        }
    }
    return scale * s;
}
