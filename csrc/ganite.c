/* ganite.c: the GANITE training loops (counterfactual block, then ITE block).
 *
 * Shapes (B = batch rows, d = features, K = arms, z = noise_dim):
 *   G: [x (d) | onehot(t) (K) | y (1) | noise (z)] -> K values (logits if binary)
 *      (with crps_weight > 0 the onehot and y inputs are held at 0: G draws
 *      from x and noise alone, and its loss is the CRPS of two draws per row)
 *   D: [x (d) | ybar (K)] -> 1 logit (K = 2) or K logits
 *   I: x (d) -> K values (logits if binary)
 * ybar[i,k] is the observed y when k == t_i and G's value otherwise.
 *
 * The model keeps pointers to the training data set by cg_ganite_set_data
 * and draws minibatches with replacement from its own RNG.  All buffers are
 * allocated in create; prediction and sampling run in chunks so that memory
 * does not grow with n. */
#include "cgan.h"
#include "alloc.h"
#include "snapshot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 1024
/* Temperature of the relaxed Bernoulli (binary concrete) draws that stand in
 * for a binary generator's counterfactuals when D sees them: exact 0/1
 * factuals next to soft probabilities would let D win trivially. */
#define BINARY_TEMPERATURE 0.5

struct cg_ganite {
    cg_ganite_config cfg;
    cg_mlp *G, *D, *I;
    cg_adam *optG, *optD, *optI;
    cg_rng rng;
    /* outcome scaling per arm: arms' outcomes can differ in spread by an
     * order of magnitude, and one shared scale would drown the narrow arm */
    double *ymean, *ysd, *ycount; /* ycount: set_data's scratch */
    int64_t iters_cf, iters_ite;
    const cg_real *X;
    const int32_t *T;
    const cg_real *Y;
    const int64_t *rows;   /* training rows of this model (NULL: all n) */
    size_t n, n_rows;
    size_t cap, gin_w, din_w, dout_w;
    int64_t *idx;
    int32_t *tb;
    cg_real *xb, *yb, *tt, *gin, *gval, *ybar, *din, *dlog, *ddin, *dgout, *wI, *gI;
    /* exponential moving average of I's parameters, used for prediction:
     * minibatch GAN training leaves I's weights jittering, and averaging
     * them is a cheap variance reduction (Polyak averaging) */
    cg_real *i_avg;
    int64_t avg_steps;
    /* With noise_dim = 0, G in evaluation mode is a fixed function of a
     * row, so the inference block can complete each training row once
     * instead of running G on every minibatch: ycache[j*K + k] is row j's
     * completed outcome vector, valid while G is unchanged. */
    cg_real *ycache;
    size_t ycache_cap;
    int ycache_valid;
};

static cg_real sigmoid(double z)
{
    double e = exp(-fabs(z));
    return (cg_real)(z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e));
}

void cg_ganite_free(cg_ganite *g)
{
    if (!g) return;
    cg_mlp_free(g->G);
    cg_mlp_free(g->D);
    cg_mlp_free(g->I);
    cg_adam_free(g->optG);
    cg_adam_free(g->optD);
    cg_adam_free(g->optI);
    void *blocks[] = {g->idx,  g->tb,   g->xb,  g->yb,   g->tt,    g->gin, g->gval, g->ybar, g->ycache, g->ymean,
                      g->ysd, g->ycount, g->din, g->dlog, g->ddin, g->dgout, g->wI,  g->gI,   g->i_avg,  g};
    for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++) cg_free(blocks[i]);
}

/* the widths and rows create derives from the configuration */
static void ganite_shape(cg_ganite *g, const cg_ganite_config *c)
{
    g->cfg = *c;
    size_t d = (size_t)c->n_features, K = (size_t)c->n_treatments;
    g->gin_w = d + K + 1 + (size_t)c->noise_dim;
    g->din_w = d + K;
    g->dout_w = K == 2 ? 1 : K;
    /* the CRPS generator step runs G on two copies of each batch row */
    size_t rows = (size_t)c->batch_size * (c->crps_weight > 0 ? 2 : 1);
    g->cap = rows > CHUNK ? rows : CHUNK;
}

/* the networks G, D and I */
static void ganite_nets(const cg_ganite *g, cg_mlp_stack nets[3])
{
    const cg_ganite_config *c = &g->cfg;
    cg_mlp_stack_init(&nets[0], (int)g->gin_w, c->hidden_size, c->n_hidden, c->n_treatments, 0);
    cg_mlp_stack_init(&nets[1], (int)g->din_w, c->hidden_size, c->n_hidden, (int)g->dout_w, 0);
    cg_mlp_stack_init(&nets[2], c->n_features, c->hidden_size, c->n_hidden, c->n_treatments, 0);
}

/* create's allocations besides the networks and optimisers (I has i_params
 * parameters), into g; when the plan only counts, g is a shell */
static void ganite_buffers(cg_ganite *g, size_t i_params, cg_plan *p)
{
    size_t B = g->cap, d = (size_t)g->cfg.n_features, K = (size_t)g->cfg.n_treatments;
    g->ymean = cg_plan_alloc(p, K, sizeof *g->ymean, 1);
    g->ysd = cg_plan_alloc(p, K, sizeof *g->ysd, 1);
    g->ycount = cg_plan_alloc(p, K, sizeof *g->ycount, 1);
    g->idx = cg_plan_alloc(p, B, sizeof *g->idx, 0);
    g->tb = cg_plan_alloc(p, B, sizeof *g->tb, 0);
    g->xb = cg_plan_alloc(p, cg_mul(B, d), sizeof *g->xb, 0);
    g->yb = cg_plan_alloc(p, B, sizeof *g->yb, 0);
    g->tt = cg_plan_alloc(p, B, sizeof *g->tt, 0);
    g->gin = cg_plan_alloc(p, cg_mul(B, g->gin_w), sizeof *g->gin, 0);
    g->gval = cg_plan_alloc(p, cg_mul(B, K), sizeof *g->gval, 0);
    g->ybar = cg_plan_alloc(p, cg_mul(B, K), sizeof *g->ybar, 0);
    g->din = cg_plan_alloc(p, cg_mul(B, g->din_w), sizeof *g->din, 0);
    g->dlog = cg_plan_alloc(p, cg_mul(B, g->dout_w), sizeof *g->dlog, 0);
    g->ddin = cg_plan_alloc(p, cg_mul(B, g->din_w), sizeof *g->ddin, 0);
    g->dgout = cg_plan_alloc(p, cg_mul(B, K), sizeof *g->dgout, 0);
    g->wI = cg_plan_alloc(p, cg_mul(B, K), sizeof *g->wI, 0);
    g->gI = cg_plan_alloc(p, cg_mul(B, K), sizeof *g->gI, 0);
    g->i_avg = cg_plan_alloc(p, i_params, sizeof *g->i_avg, 0);
}

size_t cg_ganite_bytes(const cg_ganite_config *cfg)
{
    cg_ganite shell;
    cg_mlp_stack nets[3];
    cg_plan p = {0, 1, 0};
    cg_plan_alloc(&p, 1, sizeof shell, 1);
    ganite_shape(&shell, cfg);
    ganite_nets(&shell, nets);
    for (int i = 0; i < 3; i++)
        p.bytes = cg_add(p.bytes, cg_add(cg_mlp_bytes(&nets[i].spec, shell.cap),
                                         cg_adam_bytes(cg_mlp_spec_n_params(&nets[i].spec))));
    ganite_buffers(&shell, cg_mlp_spec_n_params(&nets[2].spec), &p);
    return p.bytes;
}

size_t cg_ganite_data_bytes(const cg_ganite_config *cfg, size_t n_rows)
{
    return cfg->noise_dim == 0 ? cg_mul(cg_mul(n_rows, (size_t)cfg->n_treatments), sizeof(cg_real)) : 0;
}

cg_status cg_ganite_create(cg_ganite **out, const cg_ganite_config *cfg, char *err)
{
    *out = NULL;
    const cg_ganite_config *c = cfg;
    const cg_range sizes[] = {{"n_features", c->n_features, 1, CG_MAX_FEATURES},
                              {"the number of treatments", c->n_treatments, 2, CG_MAX_TREATMENTS},
                              {"hidden_size", c->hidden_size, 1, CG_MAX_HIDDEN_SIZE},
                              {"the number of hidden layers", c->n_hidden, 1, CG_MAX_N_HIDDEN},
                              {"noise_dim", c->noise_dim, 0, CG_MAX_NOISE_DIM},
                              {"batch_size", c->batch_size, 1, CG_MAX_BATCH_SIZE},
                              {"d_steps", c->d_steps, 1, CG_MAX_INNER_STEPS}};
    cg_status st = cg_check_ranges(sizes, sizeof sizes / sizeof *sizes, err);
    if (st != CG_OK) return st;
    if (!(c->alpha >= 0) || !isfinite(c->alpha) || !(c->beta >= 0) || !isfinite(c->beta)) {
        cg_set_error(err, "alpha and beta must be finite and non-negative");
        return CG_EINVAL;
    }
    if (!(c->crps_weight >= 0) || !isfinite(c->crps_weight)) {
        cg_set_error(err, "crps_weight must be finite and non-negative");
        return CG_EINVAL;
    }
    if (c->crps_weight > 0 && (c->noise_dim < 1 || c->binary_outcome)) {
        cg_set_error(err, "crps_weight > 0 needs noise_dim >= 1 and a continuous outcome");
        return CG_EINVAL;
    }
    if (cg_ganite_bytes(c) == SIZE_MAX) {
        cg_set_error(err, "GANITE of these sizes needs more bytes than a size_t counts");
        return CG_ENOMEM;
    }
    cg_plan p = {0, 0, 0};
    cg_ganite *g = cg_plan_alloc(&p, 1, sizeof *g, 1);
    if (!g) {
        cg_set_error(err, "out of memory creating GANITE");
        return CG_ENOMEM;
    }
    ganite_shape(g, c);
    cg_mlp_stack nets[3];
    ganite_nets(g, nets);
    cg_mlp **net[3] = {&g->G, &g->D, &g->I};
    cg_adam **opt[3] = {&g->optG, &g->optD, &g->optI};
    cg_adam_config ac = {c->learning_rate, 0.9, 0.999, 1e-8, c->weight_decay, 1};
    for (int i = 0; i < 3; i++)
        if ((st = cg_mlp_create(net[i], &nets[i].spec, g->cap, err)) != CG_OK) goto fail;
    for (int i = 0; i < 3; i++)
        if ((st = cg_adam_create(opt[i], cg_mlp_n_params(*net[i]), &ac, err)) != CG_OK) goto fail;
    ganite_buffers(g, cg_mlp_n_params(g->I), &p);
    if (p.failed) {
        st = CG_ENOMEM;
        cg_set_error(err, "out of memory allocating GANITE buffers for %zu rows", g->cap);
        goto fail;
    }
    for (int k = 0; k < c->n_treatments; k++) g->ysd[k] = 1.0;
    cg_rng_seed(&g->rng, c->seed);
    cg_mlp_init(g->G, &g->rng);
    cg_mlp_init(g->D, &g->rng);
    cg_mlp_init(g->I, &g->rng);
    memcpy(g->i_avg, cg_mlp_params(g->I), cg_mlp_n_params(g->I) * sizeof(cg_real));
    *out = g;
    return CG_OK;
fail:
    cg_ganite_free(g);
    return st;
}

const cg_ganite_config *cg_ganite_get_config(const cg_ganite *g) { return &g->cfg; }

void cg_ganite_outcome_scale(const cg_ganite *g, double *mean, double *sd)
{
    for (int k = 0; k < g->cfg.n_treatments; k++) {
        mean[k] = g->ymean[k];
        sd[k] = g->ysd[k];
    }
}

cg_status cg_ganite_set_data(cg_ganite *g, const cg_real *X, const int32_t *T, const cg_real *Y, size_t n,
                             const int64_t *rows, size_t n_rows, char *err)
{
    int K = g->cfg.n_treatments;
    cg_status st = cg_check_training_data(X, (size_t)g->cfg.n_features, T, K, Y, n, rows, &n_rows,
                                          (size_t)g->cfg.batch_size, err);
    if (st != CG_OK) return st;
    for (size_t i = 0; g->cfg.binary_outcome && i < n; i++) {
        if (Y[i] != 0 && Y[i] != 1) {
            cg_set_error(err, "a binary outcome must be 0 or 1, got %g at row %zu", (double)Y[i], i);
            return CG_EINVAL;
        }
    }
    /* Mean and sd of the outcome within each arm (two passes, in double);
     * an arm without rows or with a constant outcome keeps sd 1. */
    for (int k = 0; k < K; k++) g->ymean[k] = g->ysd[k] = g->ycount[k] = 0;
    if (!g->cfg.binary_outcome) {
        for (size_t j = 0; j < n_rows; j++) {
            size_t r = rows ? (size_t)rows[j] : j;
            g->ymean[T[r]] += Y[r];
            g->ycount[T[r]] += 1;
        }
        for (int k = 0; k < K; k++) g->ymean[k] = g->ycount[k] > 0 ? g->ymean[k] / g->ycount[k] : 0;
        for (size_t j = 0; j < n_rows; j++) {
            size_t r = rows ? (size_t)rows[j] : j;
            double dy = Y[r] - g->ymean[T[r]];
            g->ysd[T[r]] += dy * dy;
        }
    }
    for (int k = 0; k < K; k++) {
        double sd = g->ycount[k] > 0 ? sqrt(g->ysd[k] / g->ycount[k]) : 0;
        g->ysd[k] = sd > 1e-12 * (fabs(g->ymean[k]) + 1) ? sd : 1.0;
    }
    size_t K_rows = cg_mul(n_rows, (size_t)K);
    if (g->cfg.noise_dim == 0 && g->ycache_cap < K_rows) {
        cg_real *grown = cg_malloc(cg_ganite_data_bytes(&g->cfg, n_rows), 0);
        if (!grown) {
            cg_set_error(err, "out of memory for the completed-outcome cache (%zu rows)", n_rows);
            return CG_ENOMEM;
        }
        cg_free(g->ycache);
        g->ycache = grown;
        g->ycache_cap = K_rows;
    }
    g->ycache_valid = 0;
    g->X = X;
    g->T = T;
    g->Y = Y;
    g->n = n;
    g->rows = rows;
    g->n_rows = n_rows;
    return CG_OK;
}

void cg_ganite_clear_data(cg_ganite *g)
{
    g->X = NULL;
    g->T = NULL;
    g->Y = NULL;
    g->rows = NULL;
    g->n = g->n_rows = 0;
    g->ycache_valid = 0;
}

/* y of arm t on the internal scale */
static cg_real scaled_outcome(const cg_ganite *g, cg_real y, int32_t t)
{
    return (cg_real)((y - g->ymean[t]) / g->ysd[t]);
}

/* B training rows into xb, tb, tt, yb (y on the internal scale): rows
 * pick[i] of the training rows, or first + i when pick is NULL. */
static void gather_rows(cg_ganite *g, const int64_t *pick, size_t first, size_t B)
{
    size_t d = (size_t)g->cfg.n_features;
    for (size_t i = 0; i < B; i++) {
        size_t j = pick ? (size_t)pick[i] : first + i, r = g->rows ? (size_t)g->rows[j] : j;
        memcpy(g->xb + i * d, g->X + r * d, d * sizeof(cg_real));
        g->tb[i] = g->T[r];
        g->yb[i] = scaled_outcome(g, g->Y[r], g->T[r]);
        g->tt[i] = (cg_real)g->tb[i];
    }
}

/* Draw B training rows with replacement into the batch buffers. */
static void gather_batch(cg_ganite *g, size_t B)
{
    cg_rng_indices(&g->rng, g->idx, B, (int64_t)g->n_rows);
    gather_rows(g, g->idx, 0, B);
}

/* G on rows (x, t, y): returns G's raw output [B,K]; fills gval (values on
 * the internal scale; for a binary outcome, probabilities, or relaxed
 * Bernoulli draws when `relaxed`) and ybar. */
static const cg_real *generator_forward(cg_ganite *g, cg_rng *rng, const cg_real *xb, const int32_t *tb,
                                        const cg_real *yb, size_t B, int train, int relaxed)
{
    size_t d = (size_t)g->cfg.n_features, K = (size_t)g->cfg.n_treatments, w = g->gin_w;
    size_t nz = (size_t)g->cfg.noise_dim;
    int anchored = !(g->cfg.crps_weight > 0);
    for (size_t i = 0; i < B; i++) {
        cg_real *row = g->gin + i * w;
        memcpy(row, xb + i * d, d * sizeof(cg_real));
        for (size_t k = 0; k < K; k++) row[d + k] = anchored && (int32_t)k == tb[i];
        row[d + K] = anchored ? yb[i] : 0;
        cg_rng_fill_normal(rng, row + d + K + 1, nz, 0.0, 1.0);
    }
    const cg_real *out = cg_mlp_forward(g->G, g->gin, B, train, rng);
    for (size_t i = 0; i < B; i++) {
        for (size_t k = 0; k < K; k++) {
            cg_real v = out[i * K + k];
            if (g->cfg.binary_outcome && relaxed && (int32_t)k != tb[i]) {
                double u = cg_rng_uniform(rng);
                u = u < 1e-12 ? 1e-12 : u;
                double logistic = log(u) - log1p(-u);
                v = sigmoid((v + logistic) / BINARY_TEMPERATURE);
            } else if (g->cfg.binary_outcome) {
                v = sigmoid(v);
            }
            g->gval[i * K + k] = v;
            g->ybar[i * K + k] = (int32_t)k == tb[i] ? yb[i] : g->gval[i * K + k];
        }
    }
    return out;
}

/* D on (x, ybar); returns its loss and, when grad is given, writes
 * d(loss)/d(logits) (scaled by `sign`) into g->dlog. */
static double discriminator_loss(cg_ganite *g, size_t B, double sign)
{
    size_t d = (size_t)g->cfg.n_features, K = (size_t)g->cfg.n_treatments;
    for (size_t i = 0; i < B; i++) {
        memcpy(g->din + i * g->din_w, g->xb + i * d, d * sizeof(cg_real));
        memcpy(g->din + i * g->din_w + d, g->ybar + i * K, K * sizeof(cg_real));
    }
    const cg_real *logits = cg_mlp_forward(g->D, g->din, B, 1, &g->rng);
    memset(g->dlog, 0, B * g->dout_w * sizeof(cg_real));
    if (K == 2) return cg_bce_logits_loss(g->dlog, logits, g->tt, NULL, B, sign / (double)B) / sign;
    return cg_softmax_ce_loss(g->dlog, logits, g->tb, NULL, B, K, sign / (double)B) / sign;
}

cg_status cg_ganite_train_counterfactual(cg_ganite *g, size_t n_iter, double *g_loss, double *d_loss, char *err)
{
    g->ycache_valid = 0; /* G is about to change */
    if (!g->X) {
        cg_set_error(err, "no training data: call set_data first");
        return CG_EINVAL;
    }
    size_t B = (size_t)g->cfg.batch_size, K = (size_t)g->cfg.n_treatments, d = (size_t)g->cfg.n_features;
    double alpha = g->cfg.alpha;
    for (size_t it = 0; it < n_iter; it++) {
        double ld = 0;
        for (int s = 0; s < g->cfg.d_steps; s++) {
            gather_batch(g, B);
            const cg_real *gd = generator_forward(g, &g->rng, g->xb, g->tb, g->yb, B, 1, 1);
            /* G's output is checked first: a diverged G would otherwise
             * surface as a non-finite loss of D, which only reads it */
            if (!cg_all_finite(gd, B * K)) {
                cg_set_error(err, "GANITE generator G output became non-finite at iteration %lld; "
                             "lower learning_rate",
                             (long long)g->iters_cf + 1);
                return CG_EFLOAT;
            }
            ld = discriminator_loss(g, B, 1.0);
            if (!isfinite(ld)) {
                cg_set_error(err, "GANITE discriminator D loss became non-finite at iteration %lld; "
                             "lower learning_rate",
                             (long long)g->iters_cf + 1);
                return CG_EFLOAT;
            }
            cg_mlp_zero_grad(g->D);
            cg_mlp_backward(g->D, NULL, g->dlog);
            cg_adam_step(g->optD, cg_mlp_params(g->D), cg_mlp_grads(g->D));
        }
        /* generator step: minimise supervised - alpha * D loss */
        gather_batch(g, B);
        double crps = g->cfg.crps_weight;
        size_t BG = crps > 0 ? 2 * B : B; /* rows B + i repeat row i, with noise of their own */
        if (crps > 0) {
            memcpy(g->xb + B * d, g->xb, B * d * sizeof(cg_real));
            memcpy(g->tb + B, g->tb, B * sizeof *g->tb);
            memcpy(g->yb + B, g->yb, B * sizeof *g->yb);
            memcpy(g->tt + B, g->tt, B * sizeof *g->tt);
        }
        const cg_real *gout = generator_forward(g, &g->rng, g->xb, g->tb, g->yb, BG, 1, 1);
        double ldg = alpha > 0 ? discriminator_loss(g, B, -alpha) : 0.0;
        memset(g->dgout, 0, BG * K * sizeof(cg_real));
        if (alpha > 0) {
            memset(g->ddin, 0, B * g->din_w * sizeof(cg_real));
            cg_mlp_backward_cols(g->D, g->ddin + d, g->din_w, d, K, g->dlog, 0);
            for (size_t i = 0; i < B; i++) {
                for (size_t k = 0; k < K; k++) {
                    if ((int32_t)k == g->tb[i]) continue;
                    cg_real gv = g->ddin[i * g->din_w + d + k];
                    if (g->cfg.binary_outcome) {
                        cg_real p = g->gval[i * K + k];
                        gv *= (cg_real)(p * (1 - p) / BINARY_TEMPERATURE);
                    }
                    g->dgout[i * K + k] = gv;
                }
            }
        }
        double sup = 0;
        double inv = 1.0 / (double)B;
        /* the fair CRPS estimate from draws a, b of the factual outcome y:
         * (|a - y| + |b - y|) / 2 - |a - b| / 2, unbiased for the CRPS of
         * G's distribution; D saw only the first copy */
        for (size_t i = 0; crps > 0 && i < B; i++) {
            size_t ja = i * K + (size_t)g->tb[i], jb = (B + i) * K + (size_t)g->tb[i];
            double a = gout[ja], b = gout[jb], y = g->yb[i];
            double sa = a > y ? 1 : a < y ? -1 : 0, sb = b > y ? 1 : b < y ? -1 : 0;
            double sab = a > b ? 1 : a < b ? -1 : 0;
            sup += crps * inv * (0.5 * (fabs(a - y) + fabs(b - y)) - 0.5 * fabs(a - b));
            g->dgout[ja] += (cg_real)(crps * inv * 0.5 * (sa - sab));
            g->dgout[jb] += (cg_real)(crps * inv * 0.5 * (sb + sab));
        }
        for (size_t i = 0; crps == 0 && i < B; i++) {
            size_t j = i * K + (size_t)g->tb[i];
            if (g->cfg.binary_outcome)
                sup += cg_bce_logits_loss(g->dgout + j, gout + j, g->yb + i, NULL, 1, inv);
            else
                sup += cg_mse_loss(g->dgout + j, gout + j, g->yb + i, NULL, 1, inv);
        }
        double lg = sup - alpha * ldg;
        if (!isfinite(lg)) {
            cg_set_error(err, "GANITE generator G loss became non-finite at iteration %lld; lower learning_rate",
                         (long long)g->iters_cf + 1);
            return CG_EFLOAT;
        }
        cg_mlp_zero_grad(g->G);
        cg_mlp_backward(g->G, NULL, g->dgout);
        cg_adam_step(g->optG, cg_mlp_params(g->G), cg_mlp_grads(g->G));
        if (g_loss) g_loss[it] = lg;
        if (d_loss) d_loss[it] = ld;
        g->iters_cf++;
    }
    return CG_OK;
}

/* G's completed outcome vectors for all training rows, B rows at a time
 * (through the batch buffers), into ycache. */
static void fill_ycache(cg_ganite *g)
{
    size_t K = (size_t)g->cfg.n_treatments, B = (size_t)g->cfg.batch_size;
    for (size_t j0 = 0; j0 < g->n_rows; j0 += B) {
        size_t m = g->n_rows - j0 < B ? g->n_rows - j0 : B;
        gather_rows(g, NULL, j0, m);
        generator_forward(g, &g->rng, g->xb, g->tb, g->yb, m, 0, 0);
        memcpy(g->ycache + j0 * K, g->ybar, m * K * sizeof(cg_real));
    }
    g->ycache_valid = 1;
}

/* decay of the moving average of I's weights used for prediction */
#define EMA_DECAY 0.995

cg_status cg_ganite_train_ite(cg_ganite *g, size_t n_iter, double *i_loss, char *err)
{
    if (!g->X) {
        cg_set_error(err, "no training data: call set_data first");
        return CG_EINVAL;
    }
    size_t B = (size_t)g->cfg.batch_size, K = (size_t)g->cfg.n_treatments;
    /* Complete every row once when this call would run G on at least as
     * many rows anyway.  The GEMM computes each row the same way whatever
     * the number of rows, so the cached vectors are bit-identical to
     * per-batch ones, and G in evaluation mode draws no random numbers. */
    if (g->cfg.noise_dim == 0 && !g->ycache_valid && n_iter * B >= g->n_rows) fill_ycache(g);
    for (size_t it = 0; it < n_iter; it++) {
        gather_batch(g, B);
        if (g->ycache_valid) {
            for (size_t i = 0; i < B; i++)
                memcpy(g->ybar + i * K, g->ycache + (size_t)g->idx[i] * K, K * sizeof(cg_real));
        } else {
            generator_forward(g, &g->rng, g->xb, g->tb, g->yb, B, 0, 0);
        }
        for (size_t i = 0; i < B; i++)
            for (size_t k = 0; k < K; k++) g->wI[i * K + k] = (int32_t)k == g->tb[i] ? (cg_real)g->cfg.beta : 1;
        const cg_real *out = cg_mlp_forward(g->I, g->xb, B, 1, &g->rng);
        memset(g->gI, 0, B * K * sizeof(cg_real));
        double loss = g->cfg.binary_outcome
                          ? cg_bce_logits_loss(g->gI, out, g->ybar, g->wI, B * K, 1.0 / (double)B)
                          : cg_mse_loss(g->gI, out, g->ybar, g->wI, B * K, 1.0 / (double)B);
        if (!isfinite(loss)) {
            cg_set_error(err, "GANITE inference network I loss became non-finite at iteration %lld; "
                         "lower learning_rate",
                         (long long)g->iters_ite + 1);
            return CG_EFLOAT;
        }
        cg_mlp_zero_grad(g->I);
        cg_mlp_backward(g->I, NULL, g->gI);
        cg_adam_step(g->optI, cg_mlp_params(g->I), cg_mlp_grads(g->I));
        cg_ema_update(g->i_avg, cg_mlp_params(g->I), cg_mlp_n_params(g->I), g->avg_steps++, EMA_DECAY);
        if (i_loss) i_loss[it] = loss;
        g->iters_ite++;
    }
    return CG_OK;
}

cg_status cg_ganite_restart_ite(cg_ganite *g, double beta, char *err)
{
    if (!(beta >= 0) || !isfinite(beta)) {
        cg_set_error(err, "beta must be finite and non-negative, got %g", beta);
        return CG_EINVAL;
    }
    size_t np = cg_mlp_n_params(g->I);
    g->cfg.beta = beta;
    cg_mlp_init(g->I, &g->rng);
    memset(cg_adam_m(g->optI), 0, np * sizeof(cg_real));
    memset(cg_adam_v(g->optI), 0, np * sizeof(cg_real));
    cg_adam_set_steps(g->optI, 0);
    memcpy(g->i_avg, cg_mlp_params(g->I), np * sizeof(cg_real));
    g->avg_steps = 0;
    g->iters_ite = 0;
    return CG_OK;
}

cg_status cg_ganite_predict(cg_ganite *g, cg_real *out, const cg_real *X, size_t n, char *err)
{
    size_t d = (size_t)g->cfg.n_features, K = (size_t)g->cfg.n_treatments;
    if (!cg_all_finite(X, n * d)) {
        cg_set_error(err, "X contains NaN or inf");
        return CG_EINVAL;
    }
    /* predict with the averaged weights; the training weights are restored after */
    size_t np = cg_mlp_n_params(g->I);
    cg_swap_blocks(cg_mlp_params(g->I), g->i_avg, np);
    for (size_t r0 = 0; r0 < n; r0 += CHUNK) {
        size_t rows = n - r0 < CHUNK ? n - r0 : CHUNK;
        const cg_real *o = cg_mlp_forward(g->I, X + r0 * d, rows, 0, NULL);
        for (size_t j = 0; j < rows * K; j++)
            out[r0 * K + j] =
                g->cfg.binary_outcome ? sigmoid(o[j]) : (cg_real)(o[j] * g->ysd[j % K] + g->ymean[j % K]);
    }
    cg_swap_blocks(cg_mlp_params(g->I), g->i_avg, np);
    if (!cg_all_finite(out, n * K)) {
        cg_set_error(err, "GANITE inference network I predicts non-finite values after %lld iterations; "
                     "the model diverged",
                     (long long)g->iters_ite);
        return CG_EFLOAT;
    }
    return CG_OK;
}

cg_status cg_ganite_sample(cg_ganite *g, cg_real *out, const cg_real *X, const int32_t *T, const cg_real *Y,
                           size_t n, size_t n_samples, uint64_t seed, char *err)
{
    size_t d = (size_t)g->cfg.n_features, K = (size_t)g->cfg.n_treatments;
    for (size_t i = 0; i < n; i++) {
        if (T[i] < 0 || (size_t)T[i] >= K) {
            cg_set_error(err, "treatment code %d at row %zu is outside [0, %zu)", (int)T[i], i, K);
            return CG_EINVAL;
        }
        if (g->cfg.binary_outcome && Y[i] != 0 && Y[i] != 1) {
            cg_set_error(err, "a binary outcome must be 0 or 1, got %g at row %zu", (double)Y[i], i);
            return CG_EINVAL;
        }
    }
    if (!cg_all_finite(X, n * d) || !cg_all_finite(Y, n)) {
        cg_set_error(err, "X or Y contains NaN or inf");
        return CG_EINVAL;
    }
    /* a stream of its own, so that sampling leaves the training state alone */
    cg_rng rng;
    cg_rng_seed(&rng, seed);
    for (size_t s = 0; s < n_samples; s++) {
        for (size_t r0 = 0; r0 < n; r0 += CHUNK) {
            size_t rows = n - r0 < CHUNK ? n - r0 : CHUNK;
            for (size_t i = 0; i < rows; i++)
                g->yb[i] = scaled_outcome(g, Y[r0 + i], T[r0 + i]);
            generator_forward(g, &rng, X + r0 * d, T + r0, g->yb, rows, 0, 0);
            /* checked here: a binary draw from a NaN probability would be a silent 0 */
            if (!cg_all_finite(g->gval, rows * K)) {
                cg_set_error(err, "GANITE generator G outputs non-finite values after %lld iterations; "
                             "the model diverged",
                             (long long)g->iters_cf);
                return CG_EFLOAT;
            }
            cg_real *dst = out + (s * n + r0) * K;
            for (size_t i = 0; i < rows; i++) {
                for (size_t k = 0; k < K; k++) {
                    cg_real v;
                    if ((int32_t)k == T[r0 + i])
                        v = Y[r0 + i];
                    else if (g->cfg.binary_outcome)
                        v = cg_rng_uniform(&rng) < g->gval[i * K + k];
                    else
                        v = (cg_real)(g->gval[i * K + k] * g->ysd[k] + g->ymean[k]);
                    dst[i * K + k] = v;
                }
            }
        }
    }
    if (!cg_all_finite(out, n_samples * n * K)) {
        cg_set_error(err, "GANITE generator G draws non-finite values after %lld iterations; the model diverged",
                     (long long)g->iters_cf);
        return CG_EFLOAT;
    }
    return CG_OK;
}

/* ---------------------------------------------------------- snapshot */

#define SNAP_MAGIC "CGANGNT"
/* 3: outcome scale per arm; 4: crps_weight after the other reals.  A
 * model with crps_weight 0 is written as version 3, byte for byte what
 * builds before version 4 wrote. */
#define SNAP_VERSION 4u
#define SNAP_VERSION_NO_CRPS 3u

static void write_all(const cg_ganite *g, cursor *c)
{
    const cg_ganite_config *k = &g->cfg;
    int crps = k->crps_weight > 0;
    put_header(c, SNAP_MAGIC, crps ? SNAP_VERSION : SNAP_VERSION_NO_CRPS);
    const int32_t ints[8] = {k->n_features, k->n_treatments, k->hidden_size, k->n_hidden,
                             k->noise_dim,  k->binary_outcome, k->batch_size, k->d_steps};
    const double reals[5] = {k->alpha, k->beta, k->learning_rate, k->weight_decay, k->crps_weight};
    put_config(c, ints, 8, reals, crps ? 5 : 4, k->seed);
    for (int a = 0; a < k->n_treatments; a++) {
        put_f64(c, g->ymean[a]);
        put_f64(c, g->ysd[a]);
    }
    put_i64(c, g->iters_cf);
    put_i64(c, g->iters_ite);
    put(c, g->rng.s, sizeof g->rng.s);
    put_net(c, g->G, g->optG);
    put_net(c, g->D, g->optD);
    put_net(c, g->I, g->optI);
    put_i64(c, g->avg_steps);
    put(c, g->i_avg, cg_mlp_n_params(g->I) * sizeof(cg_real));
}

size_t cg_ganite_snapshot_size(const cg_ganite *g)
{
    cursor c = counting_cursor();
    write_all(g, &c);
    return counted_bytes(&c);
}

cg_status cg_ganite_snapshot(const cg_ganite *g, void *buf, size_t size, char *err)
{
    cursor c = {buf, size, 1};
    write_all(g, &c);
    return finish_write(&c, size, err);
}

cg_status cg_ganite_restore(cg_ganite **out, const void *buf, size_t size, char *err)
{
    *out = NULL;
    cursor c = {(unsigned char *)buf, size, 1};
    int32_t ints[8];
    double reals[5] = {0, 0, 0, 0, 0};
    cg_ganite_config k;
    cursor start = c;
    int crps = 1;
    cg_status hst = get_header(&c, SNAP_MAGIC, SNAP_VERSION, "GANITE", err);
    if (hst != CG_OK) {
        c = start;
        crps = 0;
        if (get_header(&c, SNAP_MAGIC, SNAP_VERSION_NO_CRPS, "GANITE", err) != CG_OK) return hst;
    }
    k.seed = get_config(&c, ints, 8, reals, crps ? 5 : 4);
    k.crps_weight = reals[4];
    k.n_features = ints[0];
    k.n_treatments = ints[1];
    k.hidden_size = ints[2];
    k.n_hidden = ints[3];
    k.noise_dim = ints[4];
    k.binary_outcome = ints[5];
    k.batch_size = ints[6];
    k.d_steps = ints[7];
    k.alpha = reals[0];
    k.beta = reals[1];
    k.learning_rate = reals[2];
    k.weight_decay = reals[3];
    /* the parameters and Adam moments must be in the bytes that follow:
     * checked before create, so that a few hostile bytes cannot make it
     * allocate and initialise networks of any size */
    double d = k.n_features, K = k.n_treatments, h = k.hidden_size, L = k.n_hidden;
    double weights = snapshot_net_params(d + K + 1 + k.noise_dim, h, L, K) +
                     snapshot_net_params(d + K, h, L, K == 2 ? 1 : K) + snapshot_net_params(d, h, L, K);
    if (!c.ok || 3 * weights * sizeof(cg_real) > (double)c.left) {
        cg_set_error(err, "snapshot is truncated");
        return CG_ESNAPSHOT;
    }
    cg_ganite *g = NULL;
    char inner[CG_ERR_LEN] = "";
    cg_status st = cg_ganite_create(&g, &k, inner);
    if (st != CG_OK) {
        cg_set_error(err, "snapshot holds an invalid configuration: %s", inner);
        return st == CG_ENOMEM ? CG_ENOMEM : CG_ESNAPSHOT;
    }
    int scale_ok = 1;
    for (int a = 0; a < k.n_treatments; a++) {
        get(&c, &g->ymean[a], 8);
        get(&c, &g->ysd[a], 8);
        scale_ok &= g->ysd[a] > 0 && isfinite(g->ysd[a]) && isfinite(g->ymean[a]);
    }
    get(&c, &g->iters_cf, 8);
    get(&c, &g->iters_ite, 8);
    get(&c, g->rng.s, sizeof g->rng.s);
    get_net(&c, g->G, g->optG);
    get_net(&c, g->D, g->optD);
    get_net(&c, g->I, g->optI);
    get(&c, &g->avg_steps, 8);
    get(&c, g->i_avg, cg_mlp_n_params(g->I) * sizeof(cg_real));
    if (!c.ok || c.left != 0 || !scale_ok) {
        cg_ganite_free(g);
        cg_set_error(err, "snapshot is truncated or corrupt");
        return CG_ESNAPSHOT;
    }
    *out = g;
    return CG_OK;
}

cg_status cg_arm_moments(const cg_real *X, const int32_t *T, const cg_real *Y, const double *w, size_t n, int d,
                         int K, double *gram, double *cross, double *sq, char *err)
{
    if (d < 0 || K < 1) {
        cg_set_error(err, "arm moments need d >= 0 and K >= 1, got d = %d, K = %d", d, K);
        return CG_EINVAL;
    }
    for (size_t r = 0; r < n; r++) {
        if (T[r] < 0 || T[r] >= K) {
            cg_set_error(err, "treatment label %d at row %zu is outside [0, %d)", (int)T[r], r, K);
            return CG_EINVAL;
        }
        if (w && !(w[r] >= 0 && isfinite(w[r]))) {
            cg_set_error(err, "weight %g at row %zu is negative or not finite", w[r], r);
            return CG_EINVAL;
        }
    }
    size_t m = (size_t)d + 1;
    double *a = cg_malloc(cg_mul(m, sizeof(double)), 0);
    if (!a) {
        cg_set_error(err, "out of memory for %zu doubles", m);
        return CG_ENOMEM;
    }
    a[0] = 1.0;
    for (size_t r = 0; r < n; r++) {
        double wr = w ? w[r] : 1.0;
        if (wr == 0) continue;
        const cg_real *x = X + r * (size_t)d;
        for (size_t j = 1; j < m; j++) a[j] = (double)x[j - 1];
        double *G = gram + (size_t)T[r] * m * m, *c = cross + (size_t)T[r] * m;
        double y = (double)Y[r], wy = wr * y;
        /* the upper triangle here; the lower one is copied from it below */
        for (size_t i = 0; i < m; i++) {
            double wa = wr * a[i];
            double *row = G + i * m;
            for (size_t j = i; j < m; j++) row[j] += wa * a[j];
            c[i] += wy * a[i];
        }
        sq[T[r]] += wy * y;
    }
    for (int k = 0; k < K; k++) {
        double *G = gram + (size_t)k * m * m;
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < i; j++) G[i * m + j] = G[j * m + i];
    }
    cg_free(a);
    return CG_OK;
}
