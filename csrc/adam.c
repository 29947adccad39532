/* adam.c: Adam and AdamW over one contiguous parameter block.
 *
 * The update is torch.optim.Adam's (weight decay added to the gradient) or
 * torch.optim.AdamW's (decoupled: p *= 1 - lr*wd first):
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps)
 * The bias corrections are computed once per step, in double.  m and v are
 * stored as 0 once they fall below the smallest normal number: a parameter
 * whose gradient is exactly 0 (a ReLU unit off for the whole batch) lets
 * both decay geometrically into the subnormal range, where many x86 CPUs
 * take a microcode path hundreds of cycles long for every operation; such
 * an m moves its parameter by less than lr * 1e-30. */
#include "cgan.h"
#include "alloc.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#ifdef CG_DOUBLE
#define SQRT_REAL sqrt
#define REAL_MIN DBL_MIN
#else
#define SQRT_REAL sqrtf
#define REAL_MIN FLT_MIN
#endif

struct cg_adam {
    size_t n;
    int64_t t;
    cg_adam_config cfg;
    cg_real *m, *v;
};

static cg_status check_config(const cg_adam_config *cfg, char *err)
{
    if (!(cfg->lr > 0) || !isfinite(cfg->lr)) {
        cg_set_error(err, "learning rate must be positive and finite, got %g", cfg->lr);
        return CG_EINVAL;
    }
    if (!(cfg->beta1 >= 0 && cfg->beta1 < 1) || !(cfg->beta2 >= 0 && cfg->beta2 < 1)) {
        cg_set_error(err, "betas must lie in [0, 1), got (%g, %g)", cfg->beta1, cfg->beta2);
        return CG_EINVAL;
    }
    if (!(cfg->eps > 0) || !(cfg->weight_decay >= 0) || !isfinite(cfg->weight_decay)) {
        cg_set_error(err, "eps must be positive and weight decay non-negative");
        return CG_EINVAL;
    }
    return CG_OK;
}

/* create's allocations (the struct, m and v), or only their bytes when the
 * plan counts (then the pointers go to a shell on the stack) */
static cg_adam *adam_alloc(cg_plan *p, size_t n_params)
{
    cg_adam shell, *a = cg_plan_alloc(p, 1, sizeof *a, 1), *t = a ? a : &shell;
    t->m = cg_plan_alloc(p, n_params, sizeof *t->m, 1);
    t->v = cg_plan_alloc(p, n_params, sizeof *t->v, 1);
    return a;
}

size_t cg_adam_bytes(size_t n_params)
{
    cg_plan p = {0, 1, 0};
    adam_alloc(&p, n_params);
    return p.bytes;
}

cg_status cg_adam_create(cg_adam **out, size_t n_params, const cg_adam_config *cfg, char *err)
{
    *out = NULL;
    cg_status st = check_config(cfg, err);
    if (st != CG_OK) return st;
    cg_plan p = {0, 0, 0};
    cg_adam *a = adam_alloc(&p, n_params);
    if (p.failed) {
        cg_adam_free(a);
        cg_set_error(err, "out of memory allocating Adam state for %zu parameters", n_params);
        return CG_ENOMEM;
    }
    a->n = n_params;
    a->cfg = *cfg;
    *out = a;
    return CG_OK;
}

cg_status cg_adam_configure(cg_adam *a, const cg_adam_config *cfg, char *err)
{
    cg_status st = check_config(cfg, err);
    if (st == CG_OK) a->cfg = *cfg;
    return st;
}

void cg_adam_free(cg_adam *a)
{
    if (!a) return;
    cg_free(a->m);
    cg_free(a->v);
    cg_free(a);
}

/* An AVX2 clone doubles the vector width of the update.  AVX2 without FMA
 * keeps every operation a separately rounded IEEE one, so both clones give
 * the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(CG_NO_CLONES)
__attribute__((target_clones("avx2", "default")))
#endif
void cg_adam_step(cg_adam *a, cg_real *params, const cg_real *grads)
{
    const cg_adam_config *c = &a->cfg;
    a->t++;
    double bc1 = 1.0 - pow(c->beta1, (double)a->t);
    double bc2 = 1.0 - pow(c->beta2, (double)a->t);
    cg_real step = (cg_real)(c->lr / bc1);
    cg_real inv_sqrt_bc2 = (cg_real)(1.0 / sqrt(bc2));
    /* 1 - beta in double before rounding: 1 - 0.999f is off by 1e-5 relative */
    cg_real b1 = (cg_real)c->beta1, b2 = (cg_real)c->beta2;
    cg_real omb1 = (cg_real)(1.0 - c->beta1), omb2 = (cg_real)(1.0 - c->beta2);
    cg_real eps = (cg_real)c->eps, wd = (cg_real)c->weight_decay;
    cg_real shrink = (cg_real)(1.0 - c->lr * c->weight_decay);
    /* restrict and a loop-invariant decay mode let the loop vectorise
     * (with -fno-math-errno, sqrt is one instruction) */
    cg_real *restrict p = params, *restrict m = a->m, *restrict v = a->v;
    const cg_real *restrict gr = grads;
    cg_real keep = c->decoupled ? shrink : 1, l2 = c->decoupled ? 0 : wd;
    for (size_t i = 0; i < a->n; i++) {
        cg_real g = gr[i] + l2 * p[i];
        cg_real w = p[i] * keep;
        cg_real mi = b1 * m[i] + omb1 * g;
        cg_real vi = b2 * v[i] + omb2 * g * g;
        mi = (mi < REAL_MIN && mi > -REAL_MIN) ? 0 : mi;
        vi = vi < REAL_MIN ? 0 : vi;
        m[i] = mi;
        v[i] = vi;
        p[i] = w - step * mi / (SQRT_REAL(vi) * inv_sqrt_bc2 + eps);
    }
}

int64_t cg_adam_steps(const cg_adam *a) { return a->t; }
void cg_adam_set_steps(cg_adam *a, int64_t t) { a->t = t; }
cg_real *cg_adam_m(cg_adam *a) { return a->m; }
cg_real *cg_adam_v(cg_adam *a) { return a->v; }
const cg_adam_config *cg_adam_get_config(const cg_adam *a) { return &a->cfg; }

void cg_ema_update(cg_real *avg, const cg_real *params, size_t n, int64_t t, double max_decay)
{
    double decay = (1.0 + (double)t) / (10.0 + (double)t);
    if (decay > max_decay) decay = max_decay;
    cg_real r = (cg_real)(1.0 - decay);
    for (size_t i = 0; i < n; i++) avg[i] += r * (params[i] - avg[i]);
}

void cg_swap_blocks(cg_real *a, cg_real *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cg_real t = a[i];
        a[i] = b[i];
        b[i] = t;
    }
}
