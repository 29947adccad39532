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

#ifndef CG_DOUBLE
/* y[n] = x > 0 ? x : a expm1(x) in float, in a form the compiler
 * vectorises (libm's expm1 is one scalar call per element, which made ELU
 * the largest cost of a SCIGAN step).  x = n ln2 + r with n = round(x /
 * ln2) (by the 1.5 * 2^23 shift, exact for |x| <= 87) and |r| <= ln2 / 2;
 * then expm1(x) = 2^n expm1(r) + (2^n - 1), where 2^n - 1 is exact and
 * expm1(r) is its Taylor polynomial of degree 7 (truncation below 2e-8
 * relative).  For n = 0 this is expm1(r) itself, so small |x| keep their
 * relative accuracy; below -87 the result is -1 in float anyway.  No FMA
 * in either clone (avx2 does not imply it), so both give the same bits. */
#if defined(__GNUC__) && !defined(__clang__)
/* the selects vectorise only if comparisons may be taken as not trapping
 * (which changes no value; exception flags are never read) */
__attribute__((optimize("no-trapping-math")))
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(CG_NO_CLONES)
__attribute__((target_clones("avx2", "default")))
#endif
static void elu_forward_f(float *y, const float *x, size_t n, float a)
{
    const float shift = 12582912.0f, log2e = 1.44269504088896341f;
    const float ln2_hi = 0.693145751953125f, ln2_lo = 1.42860682030941723e-06f;
    for (size_t i = 0; i < n; i++) {
        float v = x[i], c = v < -87.0f ? -87.0f : v;
        c = c > 0.0f ? 0.0f : c;
        float t = c * log2e + shift;
        float k = t - shift;
        float r = (c - k * ln2_hi) - k * ln2_lo;
        float p = r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720 +
                  r * (1.0f / 5040)))))));
        uint32_t bits; /* unsigned: NaN inputs give any bits without overflow, and a NaN result */
        memcpy(&bits, &t, sizeof bits);
        bits = (bits - 0x4B400000u + 127u) << 23; /* 2^k: t's low bits hold k + 0x400000 */
        float s;
        memcpy(&s, &bits, sizeof s);
        float neg = a * (s * p + (s - 1.0f));
        y[i] = v > 0 ? v : neg;
    }
}
#endif

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
#ifdef CG_DOUBLE
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : a * (cg_real)expm1(x[i]);
#else
        elu_forward_f(y, x, n, a);
#endif
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
        /* the factor as a select: GCC vectorises this loop, but turns
         * d *= (cg_real)(x > 0) into a branch around the product (the same
         * bits: d * 1 is d exactly) */
        for (size_t i = 0; i < n; i++) {
            cg_real gate = x[i] > 0 ? 1 : 0;
            d[i] = d[i] * gate;
        }
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

/* l = BCE(p, y) with p = sigmoid(a) sigmoid(c).  With sa = softplus(-a) =
 * -log sigmoid(a) (and sc likewise), log p = -(sa + sc) and
 *   1 - p = (e^-a + e^-c + e^-(a+c)) / ((1 + e^-a)(1 + e^-c)),
 * so l = sa + sc - (1 - y) L with L = logsumexp(-a, -c, -a - c), and
 *   dl/da = -sigmoid(-a) + (1 - y)(w1 + w3),  dl/dc = -sigmoid(-c) + (1 - y)(w2 + w3),
 * w the softmax weights of L's three terms.  a[n], y[n]; c[(i / m) * ldc]
 * is element i's second logit (one per set of m elements). */
double cg_product_bce_loss(cg_real *grad_a, cg_real *grad_c, const cg_real *a, const cg_real *c, size_t m, size_t ldc,
                           const cg_real *y, size_t n, double scale)
{
    double s = 0;
    for (size_t i0 = 0; i0 < n; i0 += m) {
        size_t end = n - i0 < m ? n : i0 + m;
        double ci = c[(i0 / m) * ldc], ec = exp(-fabs(ci)), sc = (ci < 0 ? -ci : 0) + log1p(ec);
        double sig_c = ci >= 0 ? ec / (1 + ec) : 1 / (1 + ec); /* sigmoid(-c) */
        double gc = 0; /* c's gradient summed over its set, added to grad_c once */
        for (size_t i = i0; i < end; i++) {
            double ai = a[i], yi = y[i];
            double ea = exp(-fabs(ai)), sa = (ai < 0 ? -ai : 0) + log1p(ea);
            double u1 = -ai, u2 = -ci, u3 = -ai - ci;
            double mx = u1 > u2 ? u1 : u2;
            mx = u3 > mx ? u3 : mx;
            double e1 = exp(u1 - mx), e2 = exp(u2 - mx), e3 = exp(u3 - mx), tot = e1 + e2 + e3;
            s += sa + sc - (1 - yi) * (mx + log(tot));
            double q = (1 - yi) / tot;
            if (grad_a) {
                double sig = ai >= 0 ? ea / (1 + ea) : 1 / (1 + ea); /* sigmoid(-a) */
                grad_a[i] += (cg_real)(scale * (q * (e1 + e3) - sig));
            }
            gc += q * (e2 + e3) - sig_c;
        }
        if (grad_c) grad_c[(i0 / m) * ldc] += (cg_real)(scale * gc);
    }
    return scale * s;
}

/* ---------------------------------------------------------- set layers */
/* A batch of n sets of m elements each: rows i*m .. i*m + m - 1 of a
 * row-major array are the elements of set i.  With dense layers these make
 * the layers of DeepSets (Zaheer et al. 2017): an invariant layer pools a
 * per-element map over the set (cg_set_mean), an equivariant layer maps
 * each element together with its set's mean (cg_set_concat_mean, then a
 * dense layer: x Gamma + mean(x) Lambda + b). */

/* y[i, :] (row stride ldy) = mean over set i of x[.., :w] */
void cg_set_mean_forward(cg_real *y, size_t ldy, const cg_real *x, size_t n, size_t m, size_t w)
{
    double inv = 1.0 / (double)m;
    for (size_t i = 0; i < n; i++) {
        cg_real *restrict yi = y + i * ldy;
        const cg_real *restrict xi = x + i * m * w;
        for (size_t j = 0; j < w; j++) yi[j] = xi[j];
        for (size_t s = 1; s < m; s++)
            for (size_t j = 0; j < w; j++) yi[j] += xi[s * w + j];
        for (size_t j = 0; j < w; j++) yi[j] = (cg_real)(yi[j] * inv);
    }
}

/* dx[i*m + s, :] += dy[i, :] / m */
void cg_set_mean_backward(cg_real *dx, const cg_real *dy, size_t ldy, size_t n, size_t m, size_t w)
{
    cg_real inv = (cg_real)(1.0 / (double)m);
    for (size_t i = 0; i < n; i++) {
        const cg_real *restrict g = dy + i * ldy;
        for (size_t s = 0; s < m; s++) {
            cg_real *restrict d = dx + (i * m + s) * w;
            for (size_t j = 0; j < w; j++) d[j] += g[j] * inv;
        }
    }
}

/* y[n*m, 2w] = [x, the mean of x over the element's set] */
void cg_set_concat_mean_forward(cg_real *y, const cg_real *x, size_t n, size_t m, size_t w)
{
    for (size_t i = 0; i < n; i++) {
        cg_real *yi = y + i * m * 2 * w;
        cg_set_mean_forward(yi + w, 2 * w, x + i * m * w, 1, m, w);
        for (size_t s = 0; s < m; s++) {
            memcpy(yi + s * 2 * w, x + (i * m + s) * w, w * sizeof(cg_real));
            if (s) memcpy(yi + s * 2 * w + w, yi + w, w * sizeof(cg_real));
        }
    }
}

/* dx[n*m, w] += dy[:, :w] + (1/m) sum over the set of dy[:, w:] */
void cg_set_concat_mean_backward(cg_real *dx, const cg_real *dy, size_t n, size_t m, size_t w)
{
    for (size_t i = 0; i < n; i++) {
        const cg_real *gi = dy + i * m * 2 * w;
        cg_real *di = dx + i * m * w;
        /* the pooled half's gradients summed over the set and spread back as
         * a mean's, joined with the element's own before one addition */
        for (size_t j = 0; j < w; j++) {
            cg_real pooled = 0;
            for (size_t s = 0; s < m; s++) pooled += gi[s * 2 * w + w + j];
            pooled = (cg_real)(pooled / (double)m);
            for (size_t s = 0; s < m; s++) di[s * w + j] += gi[s * 2 * w + j] + pooled;
        }
    }
}

/* element j of row r at r*rs + j*cs (row-major: rs = w, cs = 1; lines of a
 * feature-major batch: rs = 1, cs = ld):
 * y[i*m + s, j] = x[i*m + s, j] + c[i*ldc + j]; y may alias x */
void cg_set_broadcast_forward(cg_real *y, const cg_real *x, size_t rs, size_t cs, const cg_real *c, size_t ldc,
                              size_t n, size_t m, size_t w)
{
    for (size_t j = 0; j < w; j++)
        for (size_t i = 0; i < n; i++) {
            cg_real cij = c[i * ldc + j];
            for (size_t s = 0; s < m; s++) {
                size_t o = (i * m + s) * rs + j * cs;
                y[o] = x[o] + cij;
            }
        }
}

/* dc[i*ldc + j] += the sum over set i of dy (the gradient of x is dy) */
void cg_set_broadcast_backward(cg_real *dc, size_t ldc, const cg_real *dy, size_t rs, size_t cs, size_t n, size_t m,
                               size_t w)
{
    /* the set's sum first, then one addition to what dc holds */
    for (size_t j = 0; j < w; j++)
        for (size_t i = 0; i < n; i++) {
            cg_real sum = 0;
            for (size_t s = 0; s < m; s++) sum += dy[(i * m + s) * rs + j * cs];
            dc[i * ldc + j] += sum;
        }
}
