/* mlp.c: multilayer perceptrons with one contiguous parameter block.
 *
 * Layer l maps sizes[l] -> sizes[l+1]: z = a_prev W + b, h = f(z), and
 * a = dropout(h) when training with a dropout rate.  The parameter block holds
 * W_0, b_0, W_1, b_1, ... and the gradient block mirrors it, so zeroing,
 * Adam and serialisation are each one loop.  Forward keeps z, h and the
 * dropout masks of the last call for backward; caches are sized for
 * `capacity` rows and grow only in cg_mlp_reserve. */
#include "cgan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cg_mlp {
    int L;
    int *sizes, *acts;
    double *aparam, *drop;
    size_t n_params, max_width;
    size_t *w_off, *b_off;
    cg_real *params, *grads;
    size_t cap, n_last;
    const cg_real *input;
    int *dropped;                /* per layer: dropout applied in the last forward */
    cg_real **z, **h, **a;       /* a[l] == h[l] when the layer has no dropout */
    cg_real **mask;
    cg_real *dz, *t1, *buf[2];
    /* gradient-penalty buffers (cg_mlp_reserve_penalty), for gp_cap rows:
     * gp_D[l] = G[l+1] * mask * f'(z_l), gp_G[l] = d(sum out)/d a_l,
     * gp_E[l] = second-order injection into z_l; R, P are scratch */
    size_t gp_cap;
    cg_real *gp_D, *gp_G, *gp_E, *gp_R, *gp_P;
};

static void free_penalty(cg_mlp *m)
{
    free(m->gp_D);
    free(m->gp_G);
    free(m->gp_E);
    free(m->gp_R);
    free(m->gp_P);
    m->gp_D = m->gp_G = m->gp_E = m->gp_R = m->gp_P = NULL;
    m->gp_cap = 0;
}

static void free_cache(cg_mlp *m)
{
    for (int l = 0; l < m->L; l++) {
        if (m->z) free(m->z[l]);
        if (m->h) free(m->h[l]);
        if (m->mask) free(m->mask[l]);
        if (m->a && m->drop && m->drop[l] > 0) free(m->a[l]);
        if (m->z) m->z[l] = NULL;
        if (m->h) m->h[l] = NULL;
        if (m->mask) m->mask[l] = NULL;
        if (m->a) m->a[l] = NULL;
    }
    free(m->dz);
    free(m->t1);
    free(m->buf[0]);
    free(m->buf[1]);
    m->dz = m->t1 = m->buf[0] = m->buf[1] = NULL;
    free_penalty(m);
    m->cap = 0;
    m->n_last = 0;
}

void cg_mlp_free(cg_mlp *m)
{
    if (!m) return;
    if (m->sizes) free_cache(m);
    free(m->sizes);
    free(m->acts);
    free(m->aparam);
    free(m->drop);
    free(m->w_off);
    free(m->b_off);
    free(m->params);
    free(m->grads);
    free(m->dropped);
    free(m->z);
    free(m->h);
    free(m->a);
    free(m->mask);
    free(m);
}

cg_status cg_mlp_reserve(cg_mlp *m, size_t capacity, char *err)
{
    if (capacity <= m->cap) return CG_OK;
    if (capacity > ((size_t)1 << 40) / (m->max_width ? m->max_width : 1)) {
        cg_set_error(err, "batch of %zu rows is too large for the network cache", capacity);
        return CG_EINVAL;
    }
    free_cache(m);
    size_t big = capacity * m->max_width;
    for (int l = 0; l < m->L; l++) {
        size_t cnt = capacity * (size_t)m->sizes[l + 1];
        m->z[l] = malloc(cnt * sizeof(cg_real));
        m->h[l] = malloc(cnt * sizeof(cg_real));
        if (!m->z[l] || !m->h[l]) goto fail;
        if (m->drop[l] > 0) {
            m->mask[l] = malloc(cnt * sizeof(cg_real));
            m->a[l] = malloc(cnt * sizeof(cg_real));
            if (!m->mask[l] || !m->a[l]) goto fail;
        } else {
            m->a[l] = m->h[l];
        }
    }
    m->dz = malloc(big * sizeof(cg_real));
    m->t1 = malloc(big * sizeof(cg_real));
    m->buf[0] = malloc(big * sizeof(cg_real));
    m->buf[1] = malloc(big * sizeof(cg_real));
    if (!m->dz || !m->t1 || !m->buf[0] || !m->buf[1]) goto fail;
    m->cap = capacity;
    m->n_last = 0;
    return CG_OK;
fail:
    free_cache(m);
    cg_set_error(err, "out of memory reserving a cache of %zu rows", capacity);
    return CG_ENOMEM;
}

cg_status cg_mlp_create(cg_mlp **out, const cg_mlp_spec *spec, size_t capacity, char *err)
{
    *out = NULL;
    int L = spec->n_layers;
    if (L < 1 || L > 64) {
        cg_set_error(err, "n_layers must be between 1 and 64, got %d", L);
        return CG_EINVAL;
    }
    size_t n_params = 0, max_width = 0;
    for (int l = 0; l <= L; l++) {
        if (spec->sizes[l] < 1 || spec->sizes[l] > (1 << 20)) {
            cg_set_error(err, "layer size %d must be between 1 and 2^20, got %d", l, spec->sizes[l]);
            return CG_EINVAL;
        }
        if ((size_t)spec->sizes[l] > max_width) max_width = (size_t)spec->sizes[l];
        if (l < L) n_params += (size_t)spec->sizes[l] * spec->sizes[l + 1] + spec->sizes[l + 1];
    }
    if (n_params > ((size_t)1 << 32)) {
        cg_set_error(err, "network has %zu parameters, more than 2^32", n_params);
        return CG_EINVAL;
    }
    for (int l = 0; l < L; l++) {
        int a = spec->activations[l];
        double dp = spec->dropout ? spec->dropout[l] : 0.0;
        double ap = spec->act_params ? spec->act_params[l] : 0.0;
        if (a < 0 || a >= CG_ACT_COUNT) {
            cg_set_error(err, "activation %d of layer %d is unknown", a, l);
            return CG_EINVAL;
        }
        if (!(dp >= 0 && dp < 1)) {
            cg_set_error(err, "dropout of layer %d must lie in [0, 1), got %g", l, dp);
            return CG_EINVAL;
        }
        if (!isfinite(ap)) {
            cg_set_error(err, "activation parameter of layer %d must be finite", l);
            return CG_EINVAL;
        }
    }
    cg_mlp *m = calloc(1, sizeof *m);
    if (!m) goto fail;
    m->L = L;
    m->n_params = n_params;
    m->max_width = max_width;
    m->sizes = malloc((size_t)(L + 1) * sizeof(int));
    m->acts = malloc((size_t)L * sizeof(int));
    m->aparam = malloc((size_t)L * sizeof(double));
    m->drop = calloc((size_t)L, sizeof(double));
    m->w_off = malloc((size_t)L * sizeof(size_t));
    m->b_off = malloc((size_t)L * sizeof(size_t));
    m->dropped = calloc((size_t)L, sizeof(int));
    m->z = calloc((size_t)L, sizeof(cg_real *));
    m->h = calloc((size_t)L, sizeof(cg_real *));
    m->a = calloc((size_t)L, sizeof(cg_real *));
    m->mask = calloc((size_t)L, sizeof(cg_real *));
    m->params = calloc(n_params, sizeof(cg_real));
    m->grads = calloc(n_params, sizeof(cg_real));
    if (!m->sizes || !m->acts || !m->aparam || !m->drop || !m->w_off || !m->b_off || !m->dropped ||
        !m->z || !m->h || !m->a || !m->mask || !m->params || !m->grads)
        goto fail;
    size_t off = 0;
    for (int l = 0; l <= L; l++) m->sizes[l] = spec->sizes[l];
    for (int l = 0; l < L; l++) {
        m->acts[l] = spec->activations[l];
        m->drop[l] = spec->dropout ? spec->dropout[l] : 0.0;
        double ap = spec->act_params ? spec->act_params[l] : 0.0;
        if (!spec->act_params) ap = m->acts[l] == CG_ACT_LEAKY_RELU ? 0.2 : 1.0;
        m->aparam[l] = ap;
        m->w_off[l] = off;
        off += (size_t)m->sizes[l] * m->sizes[l + 1];
        m->b_off[l] = off;
        off += (size_t)m->sizes[l + 1];
    }
    cg_status st = cg_mlp_reserve(m, capacity ? capacity : 1, err);
    if (st != CG_OK) {
        cg_mlp_free(m);
        return st;
    }
    *out = m;
    return CG_OK;
fail:
    cg_mlp_free(m);
    cg_set_error(err, "out of memory creating a network of %zu parameters", n_params);
    return CG_ENOMEM;
}

void cg_mlp_init(cg_mlp *m, cg_rng *rng)
{
    for (int l = 0; l < m->L; l++) {
        size_t in = (size_t)m->sizes[l], out = (size_t)m->sizes[l + 1];
        double bound = sqrt(6.0 / (double)(in + out));
        cg_rng_fill_uniform(rng, m->params + m->w_off[l], in * out, -bound, bound);
        memset(m->params + m->b_off[l], 0, out * sizeof(cg_real));
    }
}

size_t cg_mlp_n_params(const cg_mlp *m) { return m->n_params; }
int cg_mlp_n_layers(const cg_mlp *m) { return m->L; }
int cg_mlp_size(const cg_mlp *m, int i) { return m->sizes[i]; }
int cg_mlp_activation(const cg_mlp *m, int i) { return m->acts[i]; }
double cg_mlp_act_param(const cg_mlp *m, int i) { return m->aparam[i]; }
double cg_mlp_dropout(const cg_mlp *m, int i) { return m->drop[i]; }
cg_real *cg_mlp_params(cg_mlp *m) { return m->params; }
cg_real *cg_mlp_grads(cg_mlp *m) { return m->grads; }

void cg_mlp_zero_grad(cg_mlp *m)
{
    memset(m->grads, 0, m->n_params * sizeof(cg_real));
}

/* X[n, sizes[0]] -> [n, sizes[L]] */
const cg_real *cg_mlp_forward(cg_mlp *m, const cg_real *X, size_t n, int train, cg_rng *rng)
{
    if (n > m->cap) return NULL;
    const cg_real *prev = X;
    for (int l = 0; l < m->L; l++) {
        size_t in = (size_t)m->sizes[l], out = (size_t)m->sizes[l + 1];
        cg_dense_forward(m->z[l], prev, m->params + m->w_off[l], m->params + m->b_off[l], n, in, out);
        cg_activation_forward(m->h[l], m->z[l], n * out, (cg_activation)m->acts[l], m->aparam[l]);
        m->dropped[l] = train && m->drop[l] > 0 && rng;
        if (m->dropped[l])
            cg_dropout_forward(m->a[l], m->mask[l], m->h[l], n * out, m->drop[l], rng);
        else if (m->a[l] != m->h[l])
            memcpy(m->a[l], m->h[l], n * out * sizeof(cg_real));
        prev = m->a[l];
    }
    m->input = X;
    m->n_last = n;
    return prev;
}

/* dOut[n, sizes[L]] -> grads +=, dX[n, sizes[0]] += */
void cg_mlp_backward(cg_mlp *m, cg_real *dX, const cg_real *dOut)
{
    cg_mlp_backward_ex(m, dX, dOut, 1);
}

void cg_mlp_backward_ex(cg_mlp *m, cg_real *dX, const cg_real *dOut, int param_grads)
{
    size_t n = m->n_last;
    if (n == 0 || m->cap == 0) return; /* no forward since the cache was (re)built */
    const cg_real *dA = dOut;
    int which = 0;
    for (int l = m->L - 1; l >= 0; l--) {
        size_t in = (size_t)m->sizes[l], out = (size_t)m->sizes[l + 1], cnt = n * out;
        const cg_real *dH = dA;
        if (m->dropped[l]) {
            memset(m->t1, 0, cnt * sizeof(cg_real));
            cg_dropout_backward(m->t1, dA, m->mask[l], cnt);
            dH = m->t1;
        }
        const cg_real *dZ = dH;
        if (m->acts[l] != CG_ACT_IDENTITY) {
            memset(m->dz, 0, cnt * sizeof(cg_real));
            cg_activation_backward(m->dz, dH, m->z[l], m->h[l], cnt, (cg_activation)m->acts[l],
                                   m->aparam[l]);
            dZ = m->dz;
        }
        cg_real *dprev = NULL;
        if (l > 0) {
            dprev = m->buf[which];
            which ^= 1;
            memset(dprev, 0, n * in * sizeof(cg_real));
        } else {
            dprev = dX;
        }
        const cg_real *prev = l > 0 ? m->a[l - 1] : m->input;
        if (param_grads)
            cg_dense_backward(dprev, m->grads + m->w_off[l], m->grads + m->b_off[l], dZ, prev,
                              m->params + m->w_off[l], n, in, out);
        else
            cg_dense_backward(dprev, NULL, NULL, dZ, prev, m->params + m->w_off[l], n, in, out);
        dA = dprev;
    }
}

/* The minibatch loop shared by the supervised fits: Y[n, out] targets for
 * MSE, or labels[n] in [0, out) for softmax cross-entropy. */
static cg_status fit_loop(cg_mlp *m, cg_adam *opt, cg_rng *rng, const cg_real *X, const cg_real *Y,
                          const int32_t *labels, size_t n, size_t batch_size, size_t n_iter, double *losses,
                          char *err)
{
    size_t in = (size_t)m->sizes[0], out = (size_t)m->sizes[m->L];
    if (n == 0) {
        cg_set_error(err, "the data have no rows");
        return CG_EINVAL;
    }
    if (batch_size == 0 || batch_size > n) {
        cg_set_error(err, "batch_size must be between 1 and the number of rows (%zu), got %zu", n,
                     batch_size);
        return CG_EINVAL;
    }
    if (labels) {
        for (size_t i = 0; i < n; i++) {
            if (labels[i] < 0 || (size_t)labels[i] >= out) {
                cg_set_error(err, "label %d at row %zu is outside [0, %zu)", (int)labels[i], i, out);
                return CG_EINVAL;
            }
        }
    }
    cg_status st = cg_mlp_reserve(m, batch_size, err);
    if (st != CG_OK) return st;
    cg_real *xb = malloc(batch_size * in * sizeof(cg_real));
    cg_real *yb = malloc(batch_size * out * sizeof(cg_real));
    int32_t *lb = malloc(batch_size * sizeof(int32_t));
    cg_real *dout = malloc(batch_size * out * sizeof(cg_real));
    int64_t *idx = malloc(batch_size * sizeof(int64_t));
    if (!xb || !yb || !lb || !dout || !idx) {
        cg_set_error(err, "out of memory allocating a batch of %zu rows", batch_size);
        st = CG_ENOMEM;
        goto done;
    }
    for (size_t it = 0; it < n_iter; it++) {
        cg_rng_indices(rng, idx, batch_size, (int64_t)n);
        for (size_t i = 0; i < batch_size; i++) {
            memcpy(xb + i * in, X + (size_t)idx[i] * in, in * sizeof(cg_real));
            if (labels)
                lb[i] = labels[idx[i]];
            else
                memcpy(yb + i * out, Y + (size_t)idx[i] * out, out * sizeof(cg_real));
        }
        const cg_real *pred = cg_mlp_forward(m, xb, batch_size, 1, rng);
        memset(dout, 0, batch_size * out * sizeof(cg_real));
        double loss = labels ? cg_softmax_ce_loss(dout, pred, lb, NULL, batch_size, out, 1.0 / (double)batch_size)
                             : cg_mse_loss(dout, pred, yb, NULL, batch_size * out,
                                           1.0 / (double)(batch_size * out));
        if (!isfinite(loss)) {
            cg_set_error(err, "the loss became non-finite at iteration %zu; lower the learning rate", it);
            st = CG_EFLOAT;
            goto done;
        }
        if (losses) losses[it] = loss;
        cg_mlp_zero_grad(m);
        cg_mlp_backward(m, NULL, dout);
        cg_adam_step(opt, cg_mlp_params(m), cg_mlp_grads(m));
    }
done:
    free(xb);
    free(yb);
    free(lb);
    free(dout);
    free(idx);
    return st;
}

cg_status cg_mlp_fit_mse(cg_mlp *m, cg_adam *opt, cg_rng *rng, const cg_real *X, const cg_real *Y, size_t n,
                         size_t batch_size, size_t n_iter, double *losses, char *err)
{
    return fit_loop(m, opt, rng, X, Y, NULL, n, batch_size, n_iter, losses, err);
}

cg_status cg_mlp_fit_softmax(cg_mlp *m, cg_adam *opt, cg_rng *rng, const cg_real *X, const int32_t *labels,
                             size_t n, size_t batch_size, size_t n_iter, double *losses, char *err)
{
    if (m->sizes[m->L] < 2) {
        cg_set_error(err, "a softmax classifier needs at least two outputs, got %d", m->sizes[m->L]);
        return CG_EINVAL;
    }
    return fit_loop(m, opt, rng, X, NULL, labels, n, batch_size, n_iter, losses, err);
}

/* ------------------------------------------------------ gradient penalty */

cg_status cg_mlp_reserve_penalty(cg_mlp *m, char *err)
{
    if (m->gp_cap >= m->cap && m->gp_D) return CG_OK;
    if (m->sizes[m->L] != 1) {
        cg_set_error(err, "a gradient penalty needs a network with one output, got %d", m->sizes[m->L]);
        return CG_EINVAL;
    }
    size_t sum = 0;
    for (int l = 0; l <= m->L; l++) sum += (size_t)m->sizes[l];
    free_penalty(m);
    m->gp_D = malloc(m->cap * sum * sizeof(cg_real));
    m->gp_G = malloc(m->cap * sum * sizeof(cg_real));
    m->gp_E = malloc(m->cap * sum * sizeof(cg_real));
    m->gp_R = malloc(m->cap * m->max_width * sizeof(cg_real));
    m->gp_P = malloc(m->cap * m->max_width * sizeof(cg_real));
    if (!m->gp_D || !m->gp_G || !m->gp_E || !m->gp_R || !m->gp_P) {
        free_penalty(m);
        cg_set_error(err, "out of memory reserving gradient-penalty buffers for %zu rows", m->cap);
        return CG_ENOMEM;
    }
    m->gp_cap = m->cap;
    return CG_OK;
}

/* f'(z) and f''(z) of layer l's activation, with y = f(z); dropout masks are
 * folded in by the caller. */
static inline void act_derivs(int act, double a, cg_real z, cg_real y, cg_real *d1, cg_real *d2)
{
    switch (act) {
    case CG_ACT_RELU:
        *d1 = z > 0;
        *d2 = 0;
        break;
    case CG_ACT_LEAKY_RELU:
        *d1 = z > 0 ? 1 : (cg_real)a;
        *d2 = 0;
        break;
    case CG_ACT_ELU:
        *d1 = z > 0 ? 1 : y + (cg_real)a;
        *d2 = z > 0 ? 0 : y + (cg_real)a;
        break;
    case CG_ACT_TANH:
        *d1 = 1 - y * y;
        *d2 = -2 * y * (1 - y * y);
        break;
    case CG_ACT_SIGMOID:
        *d1 = y * (1 - y);
        *d2 = y * (1 - y) * (1 - 2 * y);
        break;
    default:
        *d1 = 1;
        *d2 = 0;
        break;
    }
}

/* d1[j] = f'(z[j]), d2[j] = f''(z[j]) for a whole layer.  The activation is
 * a constant in each case, so act_derivs folds to one branch-free loop that
 * vectorises, instead of a switch per element. */
static inline __attribute__((always_inline)) void derivs_loop(int act, double a, const cg_real *restrict z,
                                                              const cg_real *restrict y, size_t cnt,
                                                              cg_real *restrict d1, cg_real *restrict d2)
{
    for (size_t j = 0; j < cnt; j++) act_derivs(act, a, z[j], y[j], &d1[j], &d2[j]);
}

static void layer_derivs(const cg_mlp *m, int l, size_t cnt, cg_real *restrict d1, cg_real *restrict d2)
{
    const cg_real *z = m->z[l], *y = m->h[l];
    double a = m->aparam[l];
    switch (m->acts[l]) {
    case CG_ACT_RELU: derivs_loop(CG_ACT_RELU, a, z, y, cnt, d1, d2); break;
    case CG_ACT_LEAKY_RELU: derivs_loop(CG_ACT_LEAKY_RELU, a, z, y, cnt, d1, d2); break;
    case CG_ACT_ELU: derivs_loop(CG_ACT_ELU, a, z, y, cnt, d1, d2); break;
    case CG_ACT_TANH: derivs_loop(CG_ACT_TANH, a, z, y, cnt, d1, d2); break;
    case CG_ACT_SIGMOID: derivs_loop(CG_ACT_SIGMOID, a, z, y, cnt, d1, d2); break;
    default: derivs_loop(CG_ACT_IDENTITY, a, z, y, cnt, d1, d2); break;
    }
}

/* Gradient penalty for the rows of the last forward of a one-output critic.
 *   q_i = d out_i / d input_i[0:n_pen]      (input gradient, first backward)
 *   P   = scale * sum_i pen(|q_i|),  pen(r) = (r-1)^2, or max(0, r-1)^2 one-sided
 * Adds dP/dparams into grads exactly, by differentiating the first backward
 * (double backprop):
 *   first backward:  G_L = 1;  D_l = G_{l+1} . m_l . f'(z_l);  G_l = D_l W_l^T
 *   second backward: R_0 = dP/dG_0;  for l = 0..L-1:
 *       dW_l += R_l^T D_l;  P_l = R_l W_l;  R_{l+1} = P_l . m_l . f'(z_l);
 *       E_l = P_l . G_{l+1} . m_l . f''(z_l)   (how P moves with z_l)
 *   then E is pushed through the forward graph like an ordinary backward.
 * Shapes: G_l [n, s_l], D_l and E_l [n, s_{l+1}]. */
cg_status cg_mlp_gradient_penalty(cg_mlp *m, size_t n_pen, int one_sided, double scale, double *penalty,
                                  double *norms, char *err)
{
    size_t n = m->n_last;
    int L = m->L;
    if (n == 0) {
        cg_set_error(err, "gradient penalty needs a forward call first");
        return CG_EINVAL;
    }
    if (m->gp_cap < n || !m->gp_D) {
        cg_set_error(err, "gradient-penalty buffers are not reserved for %zu rows", n);
        return CG_EINVAL;
    }
    if (n_pen == 0 || n_pen > (size_t)m->sizes[0]) {
        cg_set_error(err, "n_pen must be between 1 and the input width %d, got %zu", m->sizes[0], n_pen);
        return CG_EINVAL;
    }
    size_t offD[65], offG[66];
    offG[0] = 0;
    for (int l = 0; l <= L; l++) offG[l + 1] = offG[l] + n * (size_t)m->sizes[l];
    offD[0] = 0;
    for (int l = 0; l < L; l++) offD[l + 1] = offD[l] + n * (size_t)m->sizes[l + 1];
    cg_real *Gl[66], *Dl[65], *El[65];
    for (int l = 0; l <= L; l++) Gl[l] = m->gp_G + offG[l];
    for (int l = 0; l < L; l++) {
        Dl[l] = m->gp_D + offD[l];
        El[l] = m->gp_E + offD[l];
    }
    /* f' and f'' of the layer being processed; the backward pass's scratch
     * buffers (cap x max_width) are free here */
    cg_real *restrict d1 = m->dz, *restrict d2 = m->t1;
    /* first backward: input gradient of sum(out) */
    for (size_t i = 0; i < n; i++) Gl[L][i] = 1;
    int second_order = 0;
    for (int l = L - 1; l >= 0; l--) {
        size_t in = (size_t)m->sizes[l], out = (size_t)m->sizes[l + 1], cnt = n * out;
        const cg_real *Gn = Gl[l + 1];
        cg_real *D = Dl[l];
        layer_derivs(m, l, cnt, d1, d2);
        if (m->dropped[l]) {
            const cg_real *mk = m->mask[l];
            for (size_t j = 0; j < cnt; j++) D[j] = Gn[j] * mk[j] * d1[j];
        } else {
            for (size_t j = 0; j < cnt; j++) D[j] = Gn[j] * d1[j];
        }
        if (m->acts[l] == CG_ACT_ELU || m->acts[l] == CG_ACT_TANH || m->acts[l] == CG_ACT_SIGMOID)
            second_order = 1;
        cg_gemm(Gl[l], Dl[l], m->params + m->w_off[l], n, in, out, 0, 1, 0);
    }
    /* the penalty and its gradient with respect to q = G_0[:, :n_pen] */
    size_t in0 = (size_t)m->sizes[0];
    cg_real *R = m->gp_R, *P = m->gp_P;
    memset(R, 0, n * in0 * sizeof(cg_real));
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        const cg_real *q = Gl[0] + i * in0;
        double sq = 0;
        for (size_t j = 0; j < n_pen; j++) sq += (double)q[j] * q[j];
        double r = sqrt(sq);
        if (norms) norms[i] = r;
        double excess = r - 1;
        if (one_sided && excess < 0) excess = 0;
        total += excess * excess;
        if (excess != 0 && r > 0) {
            double c = scale * 2 * excess / r;
            for (size_t j = 0; j < n_pen; j++) R[i * in0 + j] = (cg_real)(c * q[j]);
        }
    }
    *penalty = scale * total;
    if (!isfinite(*penalty)) {
        cg_set_error(err, "the gradient penalty is not finite");
        return CG_EFLOAT;
    }
    /* second backward, bottom to top */
    for (int l = 0; l < L; l++) {
        size_t in = (size_t)m->sizes[l], out = (size_t)m->sizes[l + 1], cnt = n * out;
        cg_gemm(m->grads + m->w_off[l], R, Dl[l], in, out, n, 1, 0, 1);
        cg_gemm(P, R, m->params + m->w_off[l], n, out, in, 0, 0, 0);
        const cg_real *Gn = Gl[l + 1];
        cg_real *E = El[l];
        layer_derivs(m, l, cnt, d1, d2);
        if (m->dropped[l]) {
            const cg_real *mk = m->mask[l];
            for (size_t j = 0; j < cnt; j++) {
                E[j] = P[j] * Gn[j] * mk[j] * d2[j];
                R[j] = P[j] * mk[j] * d1[j];
            }
        } else {
            for (size_t j = 0; j < cnt; j++) {
                E[j] = P[j] * Gn[j] * d2[j];
                R[j] = P[j] * d1[j];
            }
        }
    }
    if (!second_order) return CG_OK;
    /* push E through the forward graph: dZ_l = E_l + (dZ_{l+1} W_{l+1}^T) . m_l . f'(z_l) */
    cg_real *dZ = m->buf[0], *dA = m->buf[1];
    memcpy(dZ, El[L - 1], n * (size_t)m->sizes[L] * sizeof(cg_real));
    for (int l = L - 1; l >= 0; l--) {
        size_t in = (size_t)m->sizes[l], out = (size_t)m->sizes[l + 1];
        const cg_real *prev = l > 0 ? m->a[l - 1] : m->input;
        cg_dense_backward(NULL, m->grads + m->w_off[l], m->grads + m->b_off[l], dZ, prev,
                          m->params + m->w_off[l], n, in, out);
        if (l == 0) break;
        cg_gemm(dA, dZ, m->params + m->w_off[l], n, in, out, 0, 1, 0);
        size_t cnt = n * in;
        const cg_real *E = El[l - 1];
        layer_derivs(m, l - 1, cnt, d1, d2);
        if (m->dropped[l - 1]) {
            const cg_real *mk = m->mask[l - 1];
            for (size_t j = 0; j < cnt; j++) dZ[j] = E[j] + dA[j] * mk[j] * d1[j];
        } else {
            for (size_t j = 0; j < cnt; j++) dZ[j] = E[j] + dA[j] * d1[j];
        }
    }
    return CG_OK;
}
