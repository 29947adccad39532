/* wgan.c: a conditional WGAN-GP (Gulrajani et al. 2017; the synthesizer of
 * Athey, Imbens, Metzger & Munro 2021).
 *
 * Shapes (B = batch rows, p = output width, c = context width, z = noise):
 *   G: [noise (z) | context (c)] -> p raw outputs, then per column block:
 *      continuous columns are clamped to optional bounds (in the standardised
 *      units the caller uses; the clamp passes gradients straight through),
 *      and each categorical block is a softmax;
 *   critic: [x (p) | context (c)] -> 1 score.
 * Critic loss: mean f(fake) - mean f(real) + lambda * mean (|grad_x f(xhat)| - 1)^2
 * at xhat = e x + (1 - e) fake, e ~ U(0, 1) per row; the penalty's parameter
 * gradient is exact (cg_mlp_gradient_penalty).  Generator loss: -mean f(fake).
 * The model keeps pointers to the data set by cg_wgan_set_data. */
#include "cgan.h"
#include "alloc.h"
#include "snapshot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 1024
#define G_EMA_DECAY 0.999

struct cg_wgan {
    cg_wgan_config cfg;
    int *kind;               /* per output column: 0 continuous, else 1 + softmax block index */
    cg_real *lower, *upper;  /* per output column bounds (+-inf when absent) */
    int n_blocks;
    int *block_start, *block_width;
    cg_mlp *G, *C;
    cg_adam *optG, *optC;
    cg_rng rng;
    const cg_real *X, *Ctx;
    size_t n;
    size_t cap;
    int64_t *idx;
    cg_real *gin, *fake, *raw, *cin, *dscore, *dcin, *dfake, *draw;
    double *soft;            /* [x_dim]: a softmax block's exponentials */
    int64_t steps;
    /* exponential moving average of G's parameters, used for sampling:
     * adversarial training leaves the generator oscillating around the
     * target, and averaging its weights (Yazici et al. 2019) damps that */
    cg_real *g_avg;
    /* differentially private training (cg_wgan_set_privacy); dp_on = 0: off */
    int dp_on;
    double dp_sigma, dp_clip, dp_rate;
    cg_mlp_capture *capC, *capG;
    double *dp_sq, *dp_w, *dp_score;
    cg_real *dp_noise;
    int64_t *dp_rows;
};

void cg_wgan_free(cg_wgan *w)
{
    if (!w) return;
    cg_mlp_free(w->G);
    cg_mlp_free(w->C);
    cg_adam_free(w->optG);
    cg_adam_free(w->optC);
    cg_mlp_capture_free(w->capC);
    cg_mlp_capture_free(w->capG);
    void *dp[] = {w->dp_sq, w->dp_w, w->dp_score, w->dp_noise, w->dp_rows};
    for (size_t i = 0; i < sizeof dp / sizeof *dp; i++) cg_free(dp[i]);
    void *blocks[] = {w->kind, w->lower,  w->upper, w->block_start, w->block_width, w->idx,  w->gin,   w->fake,
                      w->raw,  w->cin,    w->dscore, w->dcin,       w->dfake,       w->draw, w->soft, w->g_avg, w};
    for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++) cg_free(blocks[i]);
}

/* the generator and the critic */
static void wgan_nets(const cg_wgan_config *c, cg_mlp_stack nets[2])
{
    cg_mlp_stack_init(&nets[0], c->noise_dim + c->ctx_dim, c->hidden_size, c->n_hidden, c->x_dim, 0.0);
    cg_mlp_stack_init(&nets[1], c->x_dim + c->ctx_dim, c->hidden_size, c->n_hidden, 1, c->critic_dropout);
}

/* rows of the networks' caches and of the batch buffers */
static size_t wgan_rows(const cg_wgan_config *c)
{
    return (size_t)c->batch_size > CHUNK ? (size_t)c->batch_size : CHUNK;
}

/* create's allocations besides the networks and optimisers (G has g_params
 * parameters): the column layout and the batch buffers, into w (a shell
 * when the plan only counts) */
static void wgan_buffers(cg_wgan *w, const cg_wgan_config *c, size_t g_params, cg_plan *p)
{
    size_t B = wgan_rows(c), x = (size_t)c->x_dim, gw = (size_t)c->noise_dim + (size_t)c->ctx_dim;
    size_t cw = x + (size_t)c->ctx_dim;
    w->kind = cg_plan_alloc(p, x, sizeof *w->kind, 1);
    w->lower = cg_plan_alloc(p, x, sizeof *w->lower, 0);
    w->upper = cg_plan_alloc(p, x, sizeof *w->upper, 0);
    w->block_start = cg_plan_alloc(p, x, sizeof *w->block_start, 1);
    w->block_width = cg_plan_alloc(p, x, sizeof *w->block_width, 1);
    w->idx = cg_plan_alloc(p, B, sizeof *w->idx, 0);
    w->gin = cg_plan_alloc(p, cg_mul(B, gw), sizeof *w->gin, 0);
    w->fake = cg_plan_alloc(p, cg_mul(B, x), sizeof *w->fake, 0);
    w->raw = cg_plan_alloc(p, cg_mul(B, x), sizeof *w->raw, 0);
    w->cin = cg_plan_alloc(p, cg_mul(B, cw), sizeof *w->cin, 0);
    w->dscore = cg_plan_alloc(p, B, sizeof *w->dscore, 0);
    w->dcin = cg_plan_alloc(p, cg_mul(B, cw), sizeof *w->dcin, 0);
    w->dfake = cg_plan_alloc(p, cg_mul(B, x), sizeof *w->dfake, 0);
    w->draw = cg_plan_alloc(p, cg_mul(B, x), sizeof *w->draw, 0);
    w->soft = cg_plan_alloc(p, x, sizeof *w->soft, 0);
    w->g_avg = cg_plan_alloc(p, g_params, sizeof *w->g_avg, 0);
}

size_t cg_wgan_bytes(const cg_wgan_config *c)
{
    cg_wgan shell;
    cg_mlp_stack nets[2];
    cg_plan p = {0, 1, 0};
    size_t B = wgan_rows(c);
    cg_plan_alloc(&p, 1, sizeof shell, 1);
    wgan_nets(c, nets);
    for (int i = 0; i < 2; i++)
        p.bytes = cg_add(p.bytes, cg_add(cg_mlp_bytes(&nets[i].spec, B),
                                         cg_adam_bytes(cg_mlp_spec_n_params(&nets[i].spec))));
    p.bytes = cg_add(p.bytes, cg_mlp_penalty_bytes(&nets[1].spec, B));
    wgan_buffers(&shell, c, cg_mlp_spec_n_params(&nets[0].spec), &p);
    return p.bytes;
}

cg_status cg_wgan_create(cg_wgan **out, const cg_wgan_config *c, const int *column_block, const double *lower,
                         const double *upper, char *err)
{
    *out = NULL;
    const cg_range sizes[] = {{"x_dim", c->x_dim, 1, CG_MAX_X_DIM},
                              {"ctx_dim", c->ctx_dim, 0, CG_MAX_CTX_DIM},
                              {"noise_dim", c->noise_dim, 1, CG_MAX_NOISE_DIM},
                              {"hidden_size", c->hidden_size, 1, CG_MAX_HIDDEN_SIZE},
                              {"n_hidden", c->n_hidden, 1, CG_MAX_N_HIDDEN},
                              {"batch_size", c->batch_size, 1, CG_MAX_BATCH_SIZE},
                              {"critic_steps", c->critic_steps, 1, CG_MAX_INNER_STEPS}};
    cg_status st = cg_check_ranges(sizes, sizeof sizes / sizeof *sizes, err);
    if (st != CG_OK) return st;
    if (!(c->gp_lambda >= 0) || !isfinite(c->gp_lambda) || !(c->critic_dropout >= 0 && c->critic_dropout < 1)) {
        cg_set_error(err, "gp_lambda must be finite and >= 0, critic_dropout in [0, 1)");
        return CG_EINVAL;
    }
    if (cg_wgan_bytes(c) == SIZE_MAX) {
        cg_set_error(err, "a WGAN of these sizes needs more bytes than a size_t counts");
        return CG_ENOMEM;
    }
    cg_mlp_stack nets[2];
    wgan_nets(c, nets);
    cg_plan p = {0, 0, 0};
    cg_wgan *w = cg_plan_alloc(&p, 1, sizeof *w, 1);
    if (!w) goto nomem;
    w->cfg = *c;
    w->cap = wgan_rows(c);
    wgan_buffers(w, c, cg_mlp_spec_n_params(&nets[0].spec), &p);
    if (p.failed) goto nomem;
    /* column_block[j] = -1 for continuous, else the id of its softmax block;
     * a block's columns must be contiguous */
    int prev = -1;
    for (size_t j = 0; j < (size_t)c->x_dim; j++) {
        int b = column_block ? column_block[j] : -1;
        double lo = lower ? lower[j] : -INFINITY, hi = upper ? upper[j] : INFINITY;
        if (isnan(lo) || isnan(hi) || lo > hi) {
            cg_set_error(err, "bounds of output column %zu are invalid", j);
            st = CG_EINVAL;
            goto fail;
        }
        w->lower[j] = (cg_real)lo;
        w->upper[j] = (cg_real)hi;
        if (b < 0) {
            w->kind[j] = 0;
            prev = -1;
            continue;
        }
        if (b != prev) {
            if (w->n_blocks > 0 && b <= column_block[w->block_start[w->n_blocks - 1]]) {
                cg_set_error(err, "softmax block ids must increase along the columns");
                st = CG_EINVAL;
                goto fail;
            }
            w->block_start[w->n_blocks] = (int)j;
            w->n_blocks++;
            prev = b;
        }
        w->block_width[w->n_blocks - 1]++;
        w->kind[j] = w->n_blocks;
    }
    for (int b = 0; b < w->n_blocks; b++) {
        if (w->block_width[b] < 2) {
            cg_set_error(err, "a categorical block needs at least two levels");
            st = CG_EINVAL;
            goto fail;
        }
    }
    cg_adam_config ac = {c->learning_rate, c->beta1, c->beta2, 1e-8, 0.0, 1};
    if ((st = cg_mlp_create(&w->G, &nets[0].spec, w->cap, err)) != CG_OK ||
        (st = cg_mlp_create(&w->C, &nets[1].spec, w->cap, err)) != CG_OK ||
        (st = cg_mlp_reserve_penalty(w->C, err)) != CG_OK ||
        (st = cg_adam_create(&w->optG, cg_mlp_n_params(w->G), &ac, err)) != CG_OK ||
        (st = cg_adam_create(&w->optC, cg_mlp_n_params(w->C), &ac, err)) != CG_OK)
        goto fail;
    cg_rng_seed(&w->rng, c->seed);
    cg_mlp_init(w->G, &w->rng);
    cg_mlp_init(w->C, &w->rng);
    memcpy(w->g_avg, cg_mlp_params(w->G), cg_mlp_n_params(w->G) * sizeof(cg_real));
    *out = w;
    return CG_OK;
nomem:
    cg_set_error(err, "out of memory creating the WGAN");
    st = CG_ENOMEM;
fail:
    cg_wgan_free(w);
    return st;
}

const cg_wgan_config *cg_wgan_get_config(const cg_wgan *w) { return &w->cfg; }

void cg_wgan_reseed(cg_wgan *w, uint64_t seed) { cg_rng_seed(&w->rng, seed); }

cg_status cg_wgan_set_data(cg_wgan *w, const cg_real *X, const cg_real *Ctx, size_t n, char *err)
{
    if (n == 0) {
        cg_set_error(err, "the training data have no rows");
        return CG_EINVAL;
    }
    if ((size_t)w->cfg.batch_size > n) {
        cg_set_error(err, "batch_size (%d) is larger than the number of rows (%zu)", w->cfg.batch_size, n);
        return CG_EINVAL;
    }
    if (!cg_all_finite(X, n * (size_t)w->cfg.x_dim) || (w->cfg.ctx_dim && !cg_all_finite(Ctx, n * (size_t)w->cfg.ctx_dim))) {
        cg_set_error(err, "the training data contain NaN or inf");
        return CG_EINVAL;
    }
    w->X = X;
    w->Ctx = Ctx;
    w->n = n;
    return CG_OK;
}

void cg_wgan_clear_data(cg_wgan *w)
{
    w->X = w->Ctx = NULL;
    w->n = 0;
}

/* G on B rows of context (rows of Ctx given by idx, or ctx directly), with
 * noise (and dropout) from rng: fills raw [B,p] and fake [B,p] (clamped /
 * softmaxed). */
static void generate(cg_wgan *w, cg_rng *rng, const cg_real *ctx_rows, const int64_t *idx, size_t B, int train)
{
    size_t z = (size_t)w->cfg.noise_dim, c = (size_t)w->cfg.ctx_dim, p = (size_t)w->cfg.x_dim;
    for (size_t i = 0; i < B; i++) {
        cg_real *row = w->gin + i * (z + c);
        cg_rng_fill_normal(rng, row, z, 0.0, 1.0);
        if (c) memcpy(row + z, ctx_rows + (idx ? (size_t)idx[i] : i) * c, c * sizeof(cg_real));
    }
    const cg_real *out = cg_mlp_forward(w->G, w->gin, B, train, rng);
    memcpy(w->raw, out, B * p * sizeof(cg_real));
    for (size_t i = 0; i < B; i++) {
        const cg_real *r = w->raw + i * p;
        cg_real *f = w->fake + i * p;
        for (size_t j = 0; j < p; j++) {
            if (w->kind[j] == 0) {
                cg_real v = r[j];
                f[j] = v < w->lower[j] ? w->lower[j] : v > w->upper[j] ? w->upper[j] : v;
            }
        }
        for (int b = 0; b < w->n_blocks; b++) {
            size_t s = (size_t)w->block_start[b], k = (size_t)w->block_width[b];
            double mx = r[s];
            for (size_t j = 1; j < k; j++) mx = r[s + j] > mx ? r[s + j] : mx;
            double tot = 0, *e = w->soft;
            for (size_t j = 0; j < k; j++) tot += e[j] = exp(r[s + j] - mx);
            for (size_t j = 0; j < k; j++) f[s + j] = (cg_real)(e[j] / tot);
        }
    }
}

/* critic input rows [x | context] */
static void critic_input(cg_wgan *w, const cg_real *x, const int64_t *idx, size_t B)
{
    size_t c = (size_t)w->cfg.ctx_dim, p = (size_t)w->cfg.x_dim;
    for (size_t i = 0; i < B; i++) {
        memcpy(w->cin + i * (p + c), x + i * p, p * sizeof(cg_real));
        if (c) memcpy(w->cin + i * (p + c) + p, w->Ctx + (size_t)idx[i] * c, c * sizeof(cg_real));
    }
}

/* ------------------------------------------------------ private training
 *
 * DP-SGD (Abadi et al. 2016) on every network step that reads real rows.
 * A step samples each real row independently with probability q (Poisson
 * sampling); each sampled row is one example.  A critic step's example i is
 * everything row i brings to the critic's loss: its score -f(x_i, c_i), the
 * score f(G(z_i, c_i), c_i) of the fake row made from its context, and the
 * penalty at their interpolate; a generator step's example i is
 * -f(G(z_i, c_i), c_i).  Each example's gradient is clipped to norm C, the
 * sum gets Gaussian noise of sd sigma*C per parameter, and is divided by the
 * expected number of examples q*n.  Per-example gradients come from the
 * batched passes (cg_mlp_capture): no per-example network pass.  Without
 * a context the generator step reads no real row and stays as it is. */

size_t cg_wgan_privacy_bytes(const cg_wgan_config *c)
{
    cg_mlp_stack nets[2];
    wgan_nets(c, nets);
    size_t B = wgan_rows(c);
    size_t pc = cg_mlp_spec_n_params(&nets[1].spec), pg = cg_mlp_spec_n_params(&nets[0].spec);
    size_t big = pc > pg ? pc : pg;
    size_t bytes = cg_add(cg_mlp_capture_bytes(&nets[1].spec, B, 4), cg_mlp_capture_bytes(&nets[0].spec, B, 1));
    bytes = cg_add(bytes, cg_mul(cg_mul(B, 3), sizeof(double)));
    bytes = cg_add(bytes, cg_mul(big, sizeof(cg_real)));
    return cg_add(bytes, cg_mul(B, sizeof(int64_t)));
}

cg_status cg_wgan_set_privacy(cg_wgan *w, double noise_multiplier, double max_grad_norm, double sample_rate,
                              char *err)
{
    if (!(noise_multiplier >= 0) || !isfinite(noise_multiplier) || !(max_grad_norm > 0) || !isfinite(max_grad_norm) ||
        !(sample_rate > 0 && sample_rate <= 1)) {
        cg_set_error(err, "noise_multiplier must be finite and >= 0, max_grad_norm finite and > 0, sample_rate in "
                     "(0, 1]");
        return CG_EINVAL;
    }
    if (!w->capC) {
        cg_mlp_stack nets[2];
        wgan_nets(&w->cfg, nets);
        /* per-example buffers of w->cap rows, the chunk a private step works in */
        size_t B = w->cap, pc = cg_mlp_n_params(w->C), pg = cg_mlp_n_params(w->G);
        cg_status st;
        if ((st = cg_mlp_capture_create(&w->capC, &nets[1].spec, B, 4, err)) != CG_OK ||
            (st = cg_mlp_capture_create(&w->capG, &nets[0].spec, B, 1, err)) != CG_OK)
            return st;
        w->dp_sq = cg_malloc(cg_mul(B, sizeof(double)), 0);
        w->dp_w = cg_malloc(cg_mul(B, sizeof(double)), 0);
        w->dp_score = cg_malloc(cg_mul(B, sizeof(double)), 0);
        w->dp_noise = cg_malloc(cg_mul(pc > pg ? pc : pg, sizeof(cg_real)), 0);
        w->dp_rows = cg_malloc(cg_mul(B, sizeof(int64_t)), 0);
        if (!w->dp_sq || !w->dp_w || !w->dp_score || !w->dp_noise || !w->dp_rows) {
            cg_set_error(err, "out of memory reserving the private training buffers");
            return CG_ENOMEM;
        }
    }
    w->dp_on = 1;
    w->dp_sigma = noise_multiplier;
    w->dp_clip = max_grad_norm;
    w->dp_rate = sample_rate;
    return CG_OK;
}

/* The next Poisson-sampled rows, at most max of them, from row *next on:
 * each row of [0, n) is taken with probability q, by drawing the gap to the
 * next taken row (geometric), so a step costs its sample, not n.  *next
 * moves past the rows returned; it is n when the sample is complete. */
size_t cg_poisson_rows(cg_rng *rng, double q, int64_t n, int64_t *next, int64_t *rows, size_t max)
{
    size_t k = 0;
    double lq = q < 1 ? log1p(-q) : 0;
    while (k < max && *next < n) {
        int64_t at = *next;
        if (q < 1) {
            double u = cg_rng_uniform(rng);
            double gap = floor(log1p(-u) / lq); /* u in [0, 1): log1p(-u) finite */
            if (!(gap < (double)(n - at))) {
                *next = n;
                break;
            }
            at += (int64_t)gap;
        }
        rows[k++] = at;
        *next = at + 1;
    }
    return k;
}

/* clip factors min(1, C / |g_i|) from squared norms */
static void clip_weights(double *wt, const double *sq, size_t n, double clip)
{
    for (size_t i = 0; i < n; i++) {
        double r = sqrt(sq[i]);
        wt[i] = r > clip ? clip / r : 1.0;
    }
}

/* g = (g + N(0, (sigma C)^2)) / (q n), the noise from rng */
void cg_dp_finish(cg_rng *rng, cg_real *g, cg_real *noise, size_t count, double sd, double divisor)
{
    cg_rng_fill_normal(rng, noise, count, 0.0, sd);
    for (size_t j = 0; j < count; j++) g[j] = (cg_real)(((double)g[j] + (double)noise[j]) / divisor);
}

/* one private critic step; *lc and *lp get its losses per example (0 when
 * the Poisson sample is empty) */
static cg_status dp_critic_step(cg_wgan *w, double *lc, double *lp, char *err)
{
    size_t p = (size_t)w->cfg.x_dim, count = 0;
    double sc = 0, sp = 0;
    cg_real *xr = w->draw;
    int64_t next = 0, *idx = w->idx;
    cg_mlp_zero_grad(w->C);
    for (;;) {
        size_t B = cg_poisson_rows(&w->rng, w->dp_rate, (int64_t)w->n, &next, idx, w->cap);
        if (B == 0) break;
        for (size_t i = 0; i < B; i++) memcpy(xr + i * p, w->X + (size_t)idx[i] * p, p * sizeof(cg_real));
        generate(w, &w->rng, w->Ctx, idx, B, 1);
        if (!cg_all_finite(w->raw, B * p)) {
            cg_set_error(err, "WGAN generator output became non-finite at iteration %lld; lower learning_rate",
                         (long long)w->steps + 1);
            return CG_EFLOAT;
        }
        cg_mlp_capture_begin(w->C, w->capC);
        critic_input(w, xr, idx, B);
        const cg_real *sr = cg_mlp_forward(w->C, w->cin, B, 1, &w->rng);
        for (size_t i = 0; i < B; i++) sc -= sr[i], w->dscore[i] = -1;
        cg_mlp_backward(w->C, NULL, w->dscore);
        critic_input(w, w->fake, idx, B);
        const cg_real *sf = cg_mlp_forward(w->C, w->cin, B, 1, &w->rng);
        for (size_t i = 0; i < B; i++) sc += sf[i], w->dscore[i] = 1;
        cg_mlp_backward(w->C, NULL, w->dscore);
        cg_status st = CG_OK;
        if (w->cfg.gp_lambda > 0) {
            for (size_t i = 0; i < B; i++) {
                double e = cg_rng_uniform(&w->rng);
                for (size_t j = 0; j < p; j++)
                    w->dfake[i * p + j] = (cg_real)(e * xr[i * p + j] + (1 - e) * w->fake[i * p + j]);
            }
            critic_input(w, w->dfake, idx, B);
            cg_mlp_forward(w->C, w->cin, B, 1, &w->rng);
            double pen = 0;
            st = cg_mlp_gradient_penalty(w->C, p, w->cfg.one_sided, w->cfg.gp_lambda, &pen, NULL, err);
            sp += pen;
        }
        cg_status end = cg_mlp_capture_end(w->C, err);
        if (st == CG_EFLOAT || !isfinite(sp)) {
            cg_set_error(err, "WGAN critic gradient penalty became non-finite at iteration %lld; lower "
                         "learning_rate or gp_lambda", (long long)w->steps + 1);
            return CG_EFLOAT;
        }
        if (st != CG_OK) return st;
        if (end != CG_OK) return end;
        cg_mlp_capture_sqnorms(w->C, w->capC, w->dp_sq);
        clip_weights(w->dp_w, w->dp_sq, B, w->dp_clip);
        cg_mlp_capture_accumulate(w->C, w->capC, w->dp_w);
        count += B;
        if (next >= (int64_t)w->n) break;
    }
    if (!isfinite(sc)) {
        cg_set_error(err, "WGAN critic loss became non-finite at iteration %lld; lower learning_rate",
                     (long long)w->steps + 1);
        return CG_EFLOAT;
    }
    cg_dp_finish(&w->rng, cg_mlp_grads(w->C), w->dp_noise, cg_mlp_n_params(w->C), w->dp_sigma * w->dp_clip,
                 w->dp_rate * (double)w->n);
    cg_adam_step(w->optC, cg_mlp_params(w->C), cg_mlp_grads(w->C));
    *lc = count ? sc / (double)count : 0;
    *lp = count ? sp / (double)count : 0;
    return CG_OK;
}

/* back from the critic's input gradient (w->dcin) through the output
 * transform into w->draw, for B rows */
static void output_backward(cg_wgan *w, size_t B);

/* one private generator step (a context is read from real rows); *lg gets
 * its loss per example */
static cg_status dp_generator_step(cg_wgan *w, double *lg, char *err)
{
    size_t p = (size_t)w->cfg.x_dim, c = (size_t)w->cfg.ctx_dim, count = 0;
    double sum = 0;
    int64_t next = 0, *idx = w->idx;
    cg_mlp_zero_grad(w->G);
    for (;;) {
        size_t B = cg_poisson_rows(&w->rng, w->dp_rate, (int64_t)w->n, &next, idx, w->cap);
        if (B == 0) break;
        generate(w, &w->rng, w->Ctx, idx, B, 1);
        critic_input(w, w->fake, idx, B);
        const cg_real *sg = cg_mlp_forward(w->C, w->cin, B, 1, &w->rng);
        for (size_t i = 0; i < B; i++) sum -= sg[i], w->dscore[i] = -1;
        memset(w->dcin, 0, B * (p + c) * sizeof(cg_real));
        cg_mlp_backward_ex(w->C, w->dcin, w->dscore, 0);
        output_backward(w, B);
        cg_mlp_capture_begin(w->G, w->capG);
        cg_mlp_backward(w->G, NULL, w->draw);
        cg_status st = cg_mlp_capture_end(w->G, err);
        if (st != CG_OK) return st;
        cg_mlp_capture_sqnorms(w->G, w->capG, w->dp_sq);
        clip_weights(w->dp_w, w->dp_sq, B, w->dp_clip);
        cg_mlp_capture_accumulate(w->G, w->capG, w->dp_w);
        count += B;
        if (next >= (int64_t)w->n) break;
    }
    if (!isfinite(sum)) {
        cg_set_error(err, "WGAN generator loss became non-finite at iteration %lld; lower learning_rate",
                     (long long)w->steps + 1);
        return CG_EFLOAT;
    }
    cg_dp_finish(&w->rng, cg_mlp_grads(w->G), w->dp_noise, cg_mlp_n_params(w->G), w->dp_sigma * w->dp_clip,
                 w->dp_rate * (double)w->n);
    cg_adam_step(w->optG, cg_mlp_params(w->G), cg_mlp_grads(w->G));
    *lg = count ? sum / (double)count : 0;
    return CG_OK;
}

static void output_backward(cg_wgan *w, size_t B)
{
    size_t p = (size_t)w->cfg.x_dim, c = (size_t)w->cfg.ctx_dim;
    for (size_t i = 0; i < B; i++) {
        const cg_real *g = w->dcin + i * (p + c);
        const cg_real *f = w->fake + i * p;
        cg_real *d = w->draw + i * p;
        /* straight-through at the bounds: a clamped output still learns
         * which way the critic wants it to move, so a generator whose
         * outputs fall below a bound cannot get stuck there */
        for (size_t j = 0; j < p; j++)
            if (w->kind[j] == 0) d[j] = g[j];
        for (int b = 0; b < w->n_blocks; b++) {
            size_t s0 = (size_t)w->block_start[b], k = (size_t)w->block_width[b];
            double dot = 0;
            for (size_t j = 0; j < k; j++) dot += (double)f[s0 + j] * g[s0 + j];
            for (size_t j = 0; j < k; j++) d[s0 + j] = (cg_real)(f[s0 + j] * (g[s0 + j] - dot));
        }
    }
}

/* the generator step of plain training: -mean f(G(z, c)) over batch_size
 * rows' contexts; also the step of private training without a context,
 * which reads no real row */
static cg_status generator_step(cg_wgan *w, double *lg, char *err)
{
    size_t B = (size_t)w->cfg.batch_size, p = (size_t)w->cfg.x_dim, c = (size_t)w->cfg.ctx_dim;
    double inv = 1.0 / (double)B;
    cg_rng_indices(&w->rng, w->idx, B, (int64_t)w->n);
    generate(w, &w->rng, w->Ctx, w->idx, B, 1);
    critic_input(w, w->fake, w->idx, B);
    const cg_real *sg = cg_mlp_forward(w->C, w->cin, B, 1, &w->rng);
    double mg = 0;
    for (size_t i = 0; i < B; i++) mg += sg[i], w->dscore[i] = (cg_real)-inv;
    *lg = -mg * inv;
    /* checked before the step, so that the averaged generator that
     * sample uses never takes in non-finite weights */
    if (!isfinite(*lg)) {
        cg_set_error(err, "WGAN generator loss became non-finite at iteration %lld; lower learning_rate",
                     (long long)w->steps + 1);
        return CG_EFLOAT;
    }
    memset(w->dcin, 0, B * (p + c) * sizeof(cg_real));
    cg_mlp_backward_ex(w->C, w->dcin, w->dscore, 0);
    output_backward(w, B);
    cg_mlp_zero_grad(w->G);
    cg_mlp_backward(w->G, NULL, w->draw);
    cg_adam_step(w->optG, cg_mlp_params(w->G), cg_mlp_grads(w->G));
    return CG_OK;
}

/* critic step s of plain training, on batch_size rows drawn with
 * replacement; *lc and *lp get its losses */
static cg_status critic_step(cg_wgan *w, int s, double *lc, double *lp, char *err)
{
    size_t B = (size_t)w->cfg.batch_size, p = (size_t)w->cfg.x_dim;
    double inv = 1.0 / (double)B;
    cg_real *xr = w->draw; /* real rows gathered here */
    cg_rng_indices(&w->rng, w->idx, B, (int64_t)w->n);
    for (size_t i = 0; i < B; i++) memcpy(xr + i * p, w->X + (size_t)w->idx[i] * p, p * sizeof(cg_real));
    generate(w, &w->rng, w->Ctx, w->idx, B, 1);
    /* a diverged generator would otherwise surface as a non-finite
     * critic loss (bounds clamp inf, so its raw output is checked) */
    if (!cg_all_finite(w->raw, B * p)) {
        cg_set_error(err, "WGAN generator output became non-finite at iteration %lld; lower learning_rate",
                     (long long)w->steps + 1);
        return CG_EFLOAT;
    }
    cg_mlp_zero_grad(w->C);
    /* real rows: -mean f */
    critic_input(w, xr, w->idx, B);
    const cg_real *sr = cg_mlp_forward(w->C, w->cin, B, 1, &w->rng);
    double mr = 0;
    for (size_t i = 0; i < B; i++) mr += sr[i], w->dscore[i] = (cg_real)-inv;
    cg_mlp_backward(w->C, NULL, w->dscore);
    /* fake rows: +mean f */
    critic_input(w, w->fake, w->idx, B);
    const cg_real *sf = cg_mlp_forward(w->C, w->cin, B, 1, &w->rng);
    double mf = 0;
    for (size_t i = 0; i < B; i++) mf += sf[i], w->dscore[i] = (cg_real)inv;
    cg_mlp_backward(w->C, NULL, w->dscore);
    *lc = (mf - mr) * inv;
    /* gradient penalty at interpolates */
    if (w->cfg.gp_lambda > 0) {
        for (size_t i = 0; i < B; i++) {
            double e = cg_rng_uniform(&w->rng);
            for (size_t j = 0; j < p; j++)
                w->dfake[i * p + j] = (cg_real)(e * xr[i * p + j] + (1 - e) * w->fake[i * p + j]);
        }
        critic_input(w, w->dfake, w->idx, B);
        cg_mlp_forward(w->C, w->cin, B, 1, &w->rng);
        cg_status st = cg_mlp_gradient_penalty(w->C, p, w->cfg.one_sided, w->cfg.gp_lambda * inv, lp,
                                               NULL, err);
        if (st == CG_EFLOAT || (st == CG_OK && !isfinite(*lp))) {
            cg_set_error(err, "WGAN critic gradient penalty became non-finite at iteration %lld (critic step "
                         "%d); lower learning_rate or gp_lambda", (long long)w->steps + 1, s + 1);
            return CG_EFLOAT;
        }
        if (st != CG_OK) return st;
    }
    if (!isfinite(*lc)) {
        cg_set_error(err, "WGAN critic loss became non-finite at iteration %lld (critic step %d); lower "
                     "learning_rate", (long long)w->steps + 1, s + 1);
        return CG_EFLOAT;
    }
    cg_adam_step(w->optC, cg_mlp_params(w->C), cg_mlp_grads(w->C));
    return CG_OK;
}

cg_status cg_wgan_train(cg_wgan *w, size_t n_steps, double *critic_loss, double *generator_loss,
                        double *penalty, char *err)
{
    if (!w->X) {
        cg_set_error(err, "no training data: call set_data first");
        return CG_EINVAL;
    }
    /* without a context, a generator step reads no real row: private
     * training keeps the plain step there */
    int dp_generator = w->dp_on && w->cfg.ctx_dim > 0;
    for (size_t step = 0; step < n_steps; step++) {
        double lc = 0, lp = 0, lg = 0;
        cg_status st = CG_OK;
        for (int s = 0; s < w->cfg.critic_steps && st == CG_OK; s++)
            st = w->dp_on ? dp_critic_step(w, &lc, &lp, err) : critic_step(w, s, &lc, &lp, err);
        if (st == CG_OK) st = dp_generator ? dp_generator_step(w, &lg, err) : generator_step(w, &lg, err);
        if (st != CG_OK) return st;
        cg_ema_update(w->g_avg, cg_mlp_params(w->G), cg_mlp_n_params(w->G), w->steps, G_EMA_DECAY);
        if (critic_loss) critic_loss[step] = lc;
        if (generator_loss) generator_loss[step] = lg;
        if (penalty) penalty[step] = lp;
        w->steps++;
    }
    return CG_OK;
}

/* out[n, x_dim] given ctx, every draw from rng */
static cg_status sample_from(cg_wgan *w, cg_rng *rng, cg_real *out, const cg_real *ctx, size_t n, char *err)
{
    size_t p = (size_t)w->cfg.x_dim, c = (size_t)w->cfg.ctx_dim;
    if (c && !cg_all_finite(ctx, n * c)) {
        cg_set_error(err, "context contains NaN or inf");
        return CG_EINVAL;
    }
    /* sample with the averaged generator; training weights restored after */
    size_t np = cg_mlp_n_params(w->G);
    cg_swap_blocks(cg_mlp_params(w->G), w->g_avg, np);
    for (size_t r0 = 0; r0 < n; r0 += CHUNK) {
        size_t rows = n - r0 < CHUNK ? n - r0 : CHUNK;
        generate(w, rng, c ? ctx + r0 * c : NULL, NULL, rows, 0);
        /* checked before the categorical draws, which would turn NaN
         * probabilities into a silent one-hot row */
        if (!cg_all_finite(w->raw, rows * p)) {
            cg_swap_blocks(cg_mlp_params(w->G), w->g_avg, np);
            cg_set_error(err, "WGAN generator outputs non-finite values after %lld iterations; the model diverged",
                         (long long)w->steps);
            return CG_EFLOAT;
        }
        for (size_t i = 0; i < rows; i++) {
            cg_real *f = w->fake + i * p;
            /* categorical blocks: one draw from the softmax, as one-hot */
            for (int b = 0; b < w->n_blocks; b++) {
                size_t s0 = (size_t)w->block_start[b], k = (size_t)w->block_width[b];
                double u = cg_rng_uniform(rng), acc = 0;
                size_t pick = k - 1;
                for (size_t j = 0; j < k; j++) {
                    acc += f[s0 + j];
                    if (u < acc) {
                        pick = j;
                        break;
                    }
                }
                for (size_t j = 0; j < k; j++) f[s0 + j] = j == pick;
            }
        }
        memcpy(out + r0 * p, w->fake, rows * p * sizeof(cg_real));
    }
    cg_swap_blocks(cg_mlp_params(w->G), w->g_avg, np);
    if (!cg_all_finite(out, n * p)) {
        cg_set_error(err, "WGAN generator draws non-finite values after %lld iterations; the model diverged",
                     (long long)w->steps);
        return CG_EFLOAT;
    }
    return CG_OK;
}

cg_status cg_wgan_sample(cg_wgan *w, cg_real *out, const cg_real *ctx, size_t n, char *err)
{
    return sample_from(w, &w->rng, out, ctx, n, err);
}

cg_status cg_wgan_sample_seeded(cg_wgan *w, cg_real *out, const cg_real *ctx, size_t n, uint64_t seed, char *err)
{
    cg_rng rng;
    cg_rng_seed(&rng, seed);
    return sample_from(w, &rng, out, ctx, n, err);
}

/* ---------------------------------------------------------- snapshot */

#define WSNAP_MAGIC "CGANWGN"
#define WSNAP_VERSION 2u

static void wgan_write(const cg_wgan *w, cursor *c)
{
    const cg_wgan_config *k = &w->cfg;
    put_header(c, WSNAP_MAGIC, WSNAP_VERSION);
    const int32_t ints[8] = {k->x_dim,    k->ctx_dim,    k->noise_dim,    k->hidden_size,
                             k->n_hidden, k->batch_size, k->critic_steps, k->one_sided};
    const double reals[5] = {k->gp_lambda, k->critic_dropout, k->learning_rate, k->beta1, k->beta2};
    put_config(c, ints, 8, reals, 5, k->seed);
    /* output columns: block id (-1 continuous) and bounds */
    for (int j = 0; j < k->x_dim; j++) {
        int32_t b = w->kind[j] == 0 ? -1 : w->kind[j] - 1;
        put_i32(c, b);
        put_f64(c, w->lower[j]);
        put_f64(c, w->upper[j]);
    }
    put_i64(c, w->steps);
    put(c, w->rng.s, sizeof w->rng.s);
    put_net(c, w->G, w->optG);
    put_net(c, w->C, w->optC);
    put(c, w->g_avg, cg_mlp_n_params(w->G) * sizeof(cg_real));
}

size_t cg_wgan_snapshot_size(const cg_wgan *w)
{
    cursor c = counting_cursor();
    wgan_write(w, &c);
    return counted_bytes(&c);
}

cg_status cg_wgan_snapshot(const cg_wgan *w, void *buf, size_t size, char *err)
{
    cursor c = {buf, size, 1};
    wgan_write(w, &c);
    return finish_write(&c, size, err);
}

cg_status cg_wgan_restore(cg_wgan **out, const void *buf, size_t size, char *err)
{
    *out = NULL;
    cursor c = {(unsigned char *)buf, size, 1};
    int32_t ints[8];
    double reals[5];
    cg_wgan_config k;
    cg_status hst = get_header(&c, WSNAP_MAGIC, WSNAP_VERSION, "WGAN", err);
    if (hst != CG_OK) return hst;
    k.seed = get_config(&c, ints, 8, reals, 5);
    k.x_dim = ints[0];
    k.ctx_dim = ints[1];
    k.noise_dim = ints[2];
    k.hidden_size = ints[3];
    k.n_hidden = ints[4];
    k.batch_size = ints[5];
    k.critic_steps = ints[6];
    k.one_sided = ints[7];
    k.gp_lambda = reals[0];
    k.critic_dropout = reals[1];
    k.learning_rate = reals[2];
    k.beta1 = reals[3];
    k.beta2 = reals[4];
    if (!c.ok || k.x_dim < 1 || k.x_dim > CG_MAX_X_DIM) {
        cg_set_error(err, "snapshot is truncated or corrupt");
        return CG_ESNAPSHOT;
    }
    int *blocks = cg_malloc(cg_mul((size_t)k.x_dim, sizeof(int)), 0);
    double *lo = cg_malloc(cg_mul((size_t)k.x_dim, sizeof(double)), 0);
    double *hi = cg_malloc(cg_mul((size_t)k.x_dim, sizeof(double)), 0);
    if (!blocks || !lo || !hi) {
        cg_free(blocks);
        cg_free(lo);
        cg_free(hi);
        cg_set_error(err, "out of memory restoring a WGAN");
        return CG_ENOMEM;
    }
    for (int j = 0; j < k.x_dim; j++) {
        int32_t b;
        get(&c, &b, 4);
        get(&c, &lo[j], 8);
        get(&c, &hi[j], 8);
        blocks[j] = b;
    }
    /* the parameters and Adam moments must be in the bytes that follow:
     * checked before create, so that a few hostile bytes cannot make it
     * allocate and initialise networks of any size */
    double h = k.hidden_size, L = k.n_hidden;
    double weights = snapshot_net_params((double)k.noise_dim + k.ctx_dim, h, L, k.x_dim) +
                     snapshot_net_params((double)k.x_dim + k.ctx_dim, h, L, 1);
    if (3 * weights * sizeof(cg_real) > (double)c.left) c.ok = 0;
    cg_wgan *w = NULL;
    char inner[CG_ERR_LEN] = "";
    cg_status st = c.ok ? cg_wgan_create(&w, &k, blocks, lo, hi, inner) : CG_ESNAPSHOT;
    cg_free(blocks);
    cg_free(lo);
    cg_free(hi);
    if (st != CG_OK) {
        cg_set_error(err, "snapshot is corrupt or holds an invalid configuration%s%s", inner[0] ? ": " : "", inner);
        return st == CG_ENOMEM ? CG_ENOMEM : CG_ESNAPSHOT;
    }
    get(&c, &w->steps, 8);
    get(&c, w->rng.s, sizeof w->rng.s);
    get_net(&c, w->G, w->optG);
    get_net(&c, w->C, w->optC);
    get(&c, w->g_avg, cg_mlp_n_params(w->G) * sizeof(cg_real));
    if (!c.ok || c.left != 0) {
        cg_wgan_free(w);
        cg_set_error(err, "snapshot is truncated or corrupt");
        return CG_ESNAPSHOT;
    }
    *out = w;
    return CG_OK;
}
