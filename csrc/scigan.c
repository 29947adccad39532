/* scigan.c: SCIGAN (Bica, Jordon & van der Schaar, NeurIPS 2020) for K >= 1
 * treatments, each given at a dosage in [0, 1] (the caller scales doses).
 *
 * Shapes (B = batch rows, K = treatments, S = n_dosage_samples, h =
 * hidden_size, L = n_hidden, d = features, z = noise_dim, f = the
 * activation).  A training row's "sets" are, for each treatment k, S doses:
 * U(0, 1) draws, except that the row's own (t, dose) sits at a random
 * position of treatment t's set (the mask marks it).
 *   G, a curve network: trunk [x (d) | y (1) | onehot(t) (K) | dose (1) |
 *      noise (z)] -> h (f) -> K*h = u; then for treatment k at each dose d'
 *      of its set, a = f(u_k + d' w_k + b_k) and tail_k: h -> (L - 1) x h
 *      (f) -> 1 outcome.
 *   D_dosage, per treatment, over the set of (dose, outcome) pairs with G's
 *      outcomes and the factual y swapped in: [e, mean(e)] -> h, plus
 *      r(x) = f(x W + b), then f; [a, mean(a)] -> h (f) -> 1 logit per
 *      dose (two DeepSets-equivariant layers): "which dose is factual?".
 *   D_treatment (K >= 2): per treatment, the set's mean of f(e W_k + b_k)
 *      (an invariant layer); [those K means | x] -> h (f) -> K logits:
 *      "which treatment is factual?".
 *   I, a curve network whose trunk reads x alone.
 * Losses (means over the terms named):
 *   D_dosage: BCE(logits of the factual treatment's set, mask);
 *   D_treatment: BCE(K logits, onehot(t));
 *   G: sqrt(MSE of G at the factual dose) - alpha * BCE(sigmoid(dosage
 *      logit) sigmoid(treatment logit), mask) over all K*S entries;
 *   I: sqrt(MSE(I, G's completed sets)) + beta * sqrt(MSE of I at the
 *      factual dose).
 * Each network is one parameter block, its MLPs views into it, with one
 * Adam.  The outcome is standardised inside.  Training, prediction and
 * sampling allocate nothing: they run through the buffers create made, in
 * chunks of at most max(batch_size, 1024) rows and max(batch_size * S, 1024)
 * (row, dose) elements. */
#include "cgan.h"
#include "alloc.h"
#include "snapshot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 1024
#define EMA_DECAY 0.995

/* n rounded up to CG_FM_ALIGN: the columns a feature-major line computes */
static size_t fm_cols(size_t n) { return n > SIZE_MAX - CG_FM_ALIGN ? SIZE_MAX : (n + CG_FM_ALIGN - 1) / CG_FM_ALIGN * CG_FM_ALIGN; }

enum { NET_G, NET_I, NET_DOSAGE, NET_TREATMENT, N_NETS };
static const char *const net_names[N_NETS] = {"generator G", "inference network I", "dosage discriminator",
                                              "treatment discriminator"};

/* a network: MLP parts that are views into one parameter block, with its
 * optimiser */
typedef struct {
    int n_parts;
    cg_mlp **parts;
    cg_real *params, *grads;
    size_t n_params;
    cg_adam *opt;
} block_net;

struct cg_scigan {
    cg_scigan_config cfg;
    size_t d, K, S, h, B, E, NB, gin_w, tin_w; /* E: element rows, NB: set rows of the buffers */
    size_t LE;        /* the longest line of a feature-major batch of E elements */
    double act_param;
    block_net net[N_NETS];
    cg_rng rng;
    double ymean, ysd;
    int64_t iters_gan, iters_inf, avg_steps;
    const cg_real *X, *D, *Y;
    const int32_t *T;
    const int64_t *rows;
    size_t n, n_rows;
    /* batch: rows, treatments, factual positions, covariates, scaled
     * outcomes, doses; per treatment [K][E]: the set's doses and mask */
    int64_t *idx, *order;
    int32_t *tb, *pos;
    size_t *tstart;  /* [K + 1]: the batch is sorted by treatment; treatment k's rows are [tstart[k], tstart[k + 1]) */
    size_t *dd_b0, *dd_nb; /* [K]: the sets the dosage discriminator last ran on, per treatment */
    size_t *dd_ld;         /* [K]: the line length of its first layer's lines, per treatment */
    cg_real *xb, *yb, *db, *gin, *ds, *mask, *onehot;
    /* curve networks (G, then I): per treatment [K][E*h] pre-activations
     * and activations of the first head layer, [K][E] outputs, [NB*K*h]
     * gradient of u, [E*h] scratch */
    cg_real *cz[2], *ca[2], *cout[2], *cdu[2], *cda;
    size_t cld[2];   /* the line length of the last curve_forward's heads */
    /* discriminators, feature-major (each element a column of lines of LE):
     * D_dosage's [K][h lines] first-layer pre-activations and activations,
     * [K][E] logits, [NB*h] gradient of r(x); D_treatment's input, its
     * gradient and its [NB*K] logits; the sets [K][2 lines: doses,
     * outcomes]; scratch lines: pbuf, dp [4], qbuf, dq [2h], dh [h], de [2] */
    cg_real *z1, *a1, *dlog, *dxr, *tin, *dtin, *tlog, *sets, *pbuf, *qbuf, *dq, *dh, *dp, *de;
    /* gradients of the logits, of G's and I's outputs, G's completed sets */
    cg_real *ddlog, *dtlog, *gbar;
    /* exponential moving average of I's block, used for prediction */
    cg_real *i_avg;
};

/* ------------------------------------------------------------ shapes */

static void scigan_shape(cg_scigan *g, const cg_scigan_config *c)
{
    g->cfg = *c;
    g->d = (size_t)c->n_features;
    g->K = (size_t)c->n_treatments;
    g->S = (size_t)c->n_dosage_samples;
    g->h = (size_t)c->hidden_size;
    g->B = (size_t)c->batch_size;
    g->E = cg_mul(g->B, g->S) > CHUNK ? cg_mul(g->B, g->S) : CHUNK;
    g->NB = g->B > CHUNK ? g->B : CHUNK;
    /* the MLP's lines: n rounded up to CG_FM_ALIGN, one panel longer when a
     * multiple of 64 (see mlp.c) */
    g->LE = cg_add(fm_cols(g->E), CG_FM_ALIGN);
    g->gin_w = g->d + 1 + g->K + 1 + (size_t)c->noise_dim;
    g->tin_w = g->K * g->h + g->d;
    g->act_param = c->activation == CG_ACT_LEAKY_RELU ? 0.2 : 1.0;
}

static int n_parts(const cg_scigan *g, int net)
{
    if (net == NET_TREATMENT) return g->K >= 2 ? 1 + (int)g->K : 0;
    return 1 + 2 * (int)g->K;
}

/* The spec of part `part` of network `net` into s; returns the rows its
 * cache holds.  Curve networks (G, I): 0 the trunk, 1 + 2k treatment k's
 * dose layer, 2 + 2k its tail.  D_dosage: 0 r(x), 1 + 2k treatment k's
 * first equivariant layer (linear; r(x) and f are added outside), 2 + 2k
 * its second layer and logit.  D_treatment: 0 the head, 1 + k treatment
 * k's invariant layer (before the mean). */
static size_t part_spec(const cg_scigan *g, int net, int part, cg_mlp_stack *s)
{
    int d = (int)g->d, K = (int)g->K, h = (int)g->h, L = g->cfg.n_hidden, f = g->cfg.activation;
    int id = CG_ACT_IDENTITY;
    if (part == 0) {
        switch (net) {
        case NET_G: cg_mlp_stack_init_act(s, (int)g->gin_w, h, 1, K * h, 0, f, id); break;
        case NET_I: cg_mlp_stack_init_act(s, d, h, 1, K * h, 0, f, id); break;
        case NET_DOSAGE: cg_mlp_stack_init_act(s, d, h, 0, h, 0, f, f); break;
        default: cg_mlp_stack_init_act(s, (int)g->tin_w, h, 1, K, 0, f, id); break;
        }
        return g->NB;
    }
    if (net == NET_TREATMENT) {
        cg_mlp_stack_init_act(s, 2, h, 0, h, 0, f, f);
    } else if (part % 2 == 1) {
        cg_mlp_stack_init_act(s, net == NET_DOSAGE ? 4 : 1, h, 0, h, 0, f, id);
    } else if (net == NET_DOSAGE) {
        cg_mlp_stack_init_act(s, 2 * h, h, 1, 1, 0, f, id);
    } else {
        cg_mlp_stack_init_act(s, h, h, L - 1, 1, 0, f, id);
    }
    return g->E;
}

/* parameters of a network, SIZE_MAX when a part's count overflows */
static size_t net_params(const cg_scigan *g, int net)
{
    size_t total = 0;
    for (int i = 0; i < n_parts(g, net); i++) {
        cg_mlp_stack s;
        part_spec(g, net, i, &s);
        total = cg_add(total, cg_mlp_spec_n_params(&s.spec));
    }
    return total;
}

/* A network's allocations: the table of parts and the parameter and
 * gradient blocks, into b (a shell when the plan counts; then the parts'
 * own allocations and the optimiser's are counted too). */
static void block_plan(const cg_scigan *g, int net, block_net *b, cg_plan *p)
{
    b->n_parts = n_parts(g, net);
    b->n_params = net_params(g, net);
    if (b->n_parts == 0) return;
    b->parts = cg_plan_alloc(p, (size_t)b->n_parts, sizeof *b->parts, 1);
    b->params = cg_plan_alloc(p, b->n_params, sizeof *b->params, 1);
    b->grads = cg_plan_alloc(p, b->n_params, sizeof *b->grads, 1);
    if (!p->count_only) return;
    for (int i = 0; i < b->n_parts; i++) {
        cg_mlp_stack s;
        size_t cap = part_spec(g, net, i, &s);
        p->bytes = cg_add(p->bytes, cg_mlp_view_bytes(&s.spec, cap));
    }
    p->bytes = cg_add(p->bytes, cg_adam_bytes(b->n_params));
}

/* the parts (views into b's blocks) and the optimiser, after block_plan */
static cg_status block_create(const cg_scigan *g, int net, block_net *b, char *err)
{
    if (b->n_parts == 0) return CG_OK;
    size_t off = 0;
    for (int i = 0; i < b->n_parts; i++) {
        cg_mlp_stack s;
        size_t cap = part_spec(g, net, i, &s);
        cg_status st = cg_mlp_create_view(&b->parts[i], &s.spec, cap, b->params + off, b->grads + off, err);
        if (st != CG_OK) return st;
        off += cg_mlp_n_params(b->parts[i]);
    }
    cg_adam_config ac = {g->cfg.learning_rate, 0.9, 0.999, 1e-8, g->cfg.weight_decay, 1};
    return cg_adam_create(&b->opt, b->n_params, &ac, err);
}

static void block_free(block_net *b)
{
    for (int i = 0; b->parts && i < b->n_parts; i++) cg_mlp_free(b->parts[i]);
    cg_adam_free(b->opt);
    cg_free(b->parts);
    cg_free(b->params);
    cg_free(b->grads);
}

static void block_init(block_net *b, cg_rng *rng)
{
    for (int i = 0; i < b->n_parts; i++) cg_mlp_init(b->parts[i], rng);
}

static void block_step(block_net *b)
{
    cg_adam_step(b->opt, b->params, b->grads);
}

static void block_zero_grad(block_net *b)
{
    if (b->n_parts) memset(b->grads, 0, b->n_params * sizeof(cg_real));
}

/* create's allocations besides the networks, into g (a shell when the
 * plan only counts) */
static void scigan_buffers(cg_scigan *g, cg_plan *p)
{
    size_t K = g->K, E = g->E, NB = g->NB, h = g->h, LEh = cg_mul(g->LE, h);
    g->idx = cg_plan_alloc(p, g->B, sizeof *g->idx, 0);
    g->order = cg_plan_alloc(p, g->B, sizeof *g->order, 0);
    g->tstart = cg_plan_alloc(p, K + 1, sizeof *g->tstart, 0);
    g->dd_b0 = cg_plan_alloc(p, K, sizeof *g->dd_b0, 0);
    g->dd_nb = cg_plan_alloc(p, K, sizeof *g->dd_nb, 0);
    g->dd_ld = cg_plan_alloc(p, K, sizeof *g->dd_ld, 0);
    g->tb = cg_plan_alloc(p, NB, sizeof *g->tb, 0);
    g->pos = cg_plan_alloc(p, g->B, sizeof *g->pos, 0);
    g->xb = cg_plan_alloc(p, cg_mul(NB, g->d), sizeof *g->xb, 0);
    g->yb = cg_plan_alloc(p, NB, sizeof *g->yb, 0);
    g->db = cg_plan_alloc(p, NB, sizeof *g->db, 0);
    g->gin = cg_plan_alloc(p, cg_mul(NB, g->gin_w), sizeof *g->gin, 0);
    g->ds = cg_plan_alloc(p, cg_mul(K, E), sizeof *g->ds, 0);
    g->mask = cg_plan_alloc(p, cg_mul(K, E), sizeof *g->mask, 0);
    g->onehot = cg_plan_alloc(p, cg_mul(g->B, K), sizeof *g->onehot, 0);
    for (int c = 0; c < 2; c++) {
        g->cz[c] = cg_plan_alloc(p, cg_mul(K, LEh), sizeof(cg_real), 0);
        g->ca[c] = cg_plan_alloc(p, cg_mul(K, LEh), sizeof(cg_real), 0);
        g->cout[c] = cg_plan_alloc(p, cg_mul(K, E), sizeof(cg_real), 0);
        g->cdu[c] = cg_plan_alloc(p, cg_mul(NB, cg_mul(K, h)), sizeof(cg_real), 0);
    }
    g->cda = cg_plan_alloc(p, LEh, sizeof *g->cda, 0);
    g->z1 = cg_plan_alloc(p, cg_mul(K, LEh), sizeof *g->z1, 0);
    g->a1 = cg_plan_alloc(p, cg_mul(K, LEh), sizeof *g->a1, 0);
    g->dlog = cg_plan_alloc(p, cg_mul(K, E), sizeof *g->dlog, 0);
    g->dxr = cg_plan_alloc(p, cg_mul(NB, h), sizeof *g->dxr, 0);
    g->tin = cg_plan_alloc(p, cg_mul(NB, g->tin_w), sizeof *g->tin, 0);
    g->dtin = cg_plan_alloc(p, cg_mul(NB, g->tin_w), sizeof *g->dtin, 0);
    g->tlog = cg_plan_alloc(p, cg_mul(NB, K), sizeof *g->tlog, 0);
    g->sets = cg_plan_alloc(p, cg_mul(K, cg_mul(g->LE, 2)), sizeof *g->sets, 0);
    g->pbuf = cg_plan_alloc(p, cg_mul(g->LE, 4), sizeof *g->pbuf, 0);
    g->qbuf = cg_plan_alloc(p, cg_mul(LEh, 2), sizeof *g->qbuf, 0);
    g->dq = cg_plan_alloc(p, cg_mul(LEh, 2), sizeof *g->dq, 0);
    g->dh = cg_plan_alloc(p, LEh, sizeof *g->dh, 0);
    g->dp = cg_plan_alloc(p, cg_mul(g->LE, 4), sizeof *g->dp, 0);
    g->de = cg_plan_alloc(p, cg_mul(g->LE, 2), sizeof *g->de, 0);
    g->ddlog = cg_plan_alloc(p, cg_mul(K, E), sizeof *g->ddlog, 0);
    g->dtlog = cg_plan_alloc(p, cg_mul(NB, K), sizeof *g->dtlog, 0);
    g->gbar = cg_plan_alloc(p, cg_mul(K, E), sizeof *g->gbar, 0);
    g->i_avg = cg_plan_alloc(p, net_params(g, NET_I), sizeof *g->i_avg, 0);
}

static cg_status check_config(const cg_scigan_config *c, char *err)
{
    const cg_range sizes[] = {{"n_features", c->n_features, 1, CG_MAX_FEATURES},
                              {"the number of treatments", c->n_treatments, 1, CG_MAX_TREATMENTS},
                              {"hidden_size", c->hidden_size, 1, CG_MAX_HIDDEN_SIZE},
                              {"n_hidden", c->n_hidden, 1, CG_MAX_N_HIDDEN},
                              {"n_dosage_samples", c->n_dosage_samples, 2, CG_MAX_DOSAGE_SAMPLES},
                              {"noise_dim", c->noise_dim, 0, CG_MAX_NOISE_DIM},
                              {"batch_size", c->batch_size, 1, CG_MAX_BATCH_SIZE},
                              {"d_steps", c->d_steps, 1, CG_MAX_INNER_STEPS}};
    cg_status st = cg_check_ranges(sizes, sizeof sizes / sizeof *sizes, err);
    if (st != CG_OK) return st;
    /* the trunk's output layer has K*h units, D_treatment's input K*h + d */
    if ((int64_t)c->n_treatments * c->hidden_size + c->n_features > CG_MAX_FEATURES) {
        cg_set_error(err, "the number of treatments times hidden_size plus n_features must be at most %d, got %lld",
                     CG_MAX_FEATURES, (long long)c->n_treatments * c->hidden_size + c->n_features);
        return CG_EINVAL;
    }
    if (c->activation == CG_ACT_IDENTITY || c->activation < 0 || c->activation >= CG_ACT_COUNT) {
        cg_set_error(err, "activation %d is not a nonlinear activation of cgan.h", c->activation);
        return CG_EINVAL;
    }
    if (!(c->alpha >= 0) || !isfinite(c->alpha) || !(c->beta >= 0) || !isfinite(c->beta)) {
        cg_set_error(err, "alpha and beta must be finite and non-negative");
        return CG_EINVAL;
    }
    return CG_OK;
}

size_t cg_scigan_bytes(const cg_scigan_config *cfg)
{
    if (check_config(cfg, NULL) != CG_OK) return SIZE_MAX;
    cg_scigan shell;
    cg_plan p = {0, 1, 0};
    cg_plan_alloc(&p, 1, sizeof shell, 1);
    scigan_shape(&shell, cfg);
    for (int k = 0; k < N_NETS; k++) block_plan(&shell, k, &shell.net[k], &p);
    scigan_buffers(&shell, &p);
    return p.bytes;
}

void cg_scigan_free(cg_scigan *g)
{
    if (!g) return;
    for (int k = 0; k < N_NETS; k++) block_free(&g->net[k]);
    void *blocks[] = {g->idx, g->order, g->tstart, g->dd_b0, g->dd_nb, g->dd_ld, g->tb, g->pos, g->xb, g->yb, g->db, g->gin, g->ds, g->mask, g->onehot, g->cz[0],
                      g->cz[1], g->ca[0], g->ca[1], g->cout[0], g->cout[1], g->cdu[0], g->cdu[1], g->cda, g->z1,
                      g->a1, g->dlog, g->dxr, g->tin, g->dtin, g->tlog, g->sets, g->pbuf, g->qbuf, g->dq, g->dh,
                      g->dp, g->de, g->ddlog, g->dtlog, g->gbar, g->i_avg, g};
    for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++) cg_free(blocks[i]);
}

cg_status cg_scigan_create(cg_scigan **out, const cg_scigan_config *c, char *err)
{
    *out = NULL;
    cg_status st = check_config(c, err);
    if (st != CG_OK) return st;
    if (cg_scigan_bytes(c) == SIZE_MAX) {
        cg_set_error(err, "SCIGAN of these sizes needs more bytes than a size_t counts");
        return CG_ENOMEM;
    }
    cg_plan p = {0, 0, 0};
    cg_scigan *g = cg_plan_alloc(&p, 1, sizeof *g, 1);
    if (!g) {
        cg_set_error(err, "out of memory creating SCIGAN");
        return CG_ENOMEM;
    }
    scigan_shape(g, c);
    for (int k = 0; k < N_NETS; k++) block_plan(g, k, &g->net[k], &p);
    scigan_buffers(g, &p);
    if (p.failed) {
        st = CG_ENOMEM;
        cg_set_error(err, "out of memory allocating SCIGAN's networks and buffers");
        goto fail;
    }
    for (int k = 0; k < N_NETS; k++)
        if ((st = block_create(g, k, &g->net[k], err)) != CG_OK) goto fail;
    g->ysd = 1.0;
    cg_rng_seed(&g->rng, c->seed);
    for (int k = 0; k < N_NETS; k++) block_init(&g->net[k], &g->rng);
    memcpy(g->i_avg, g->net[NET_I].params, g->net[NET_I].n_params * sizeof(cg_real));
    *out = g;
    return CG_OK;
fail:
    cg_scigan_free(g);
    return st;
}

const cg_scigan_config *cg_scigan_get_config(const cg_scigan *g) { return &g->cfg; }

void cg_scigan_outcome_scale(const cg_scigan *g, double *mean, double *sd)
{
    *mean = g->ymean;
    *sd = g->ysd;
}

/* ------------------------------------------------------------- data */

cg_status cg_scigan_set_data(cg_scigan *g, const cg_real *X, const int32_t *T, const cg_real *D, const cg_real *Y,
                             size_t n, const int64_t *rows, size_t n_rows, char *err)
{
    cg_status st = cg_check_training_data(X, g->d, T, g->cfg.n_treatments, Y, n, rows, &n_rows, g->B, err);
    if (st != CG_OK) return st;
    for (size_t i = 0; i < n; i++) {
        if (!(D[i] >= 0 && D[i] <= 1)) {
            cg_set_error(err, "dose %g at row %zu is outside [0, 1] (scale the doses first)", (double)D[i], i);
            return CG_EINVAL;
        }
    }
    /* mean and sd of the training rows' outcomes (two passes, in double);
     * a constant outcome keeps sd 1 */
    double mean = 0, ss = 0;
    for (size_t j = 0; j < n_rows; j++) mean += Y[rows ? (size_t)rows[j] : j];
    mean /= (double)n_rows;
    for (size_t j = 0; j < n_rows; j++) {
        double dy = Y[rows ? (size_t)rows[j] : j] - mean;
        ss += dy * dy;
    }
    double sd = sqrt(ss / (double)n_rows);
    g->ymean = mean;
    g->ysd = sd > 1e-12 * (fabs(mean) + 1) ? sd : 1.0;
    g->X = X;
    g->T = T;
    g->D = D;
    g->Y = Y;
    g->n = n;
    g->rows = rows;
    g->n_rows = n_rows;
    return CG_OK;
}

void cg_scigan_clear_data(cg_scigan *g)
{
    g->X = g->D = g->Y = NULL;
    g->T = NULL;
    g->rows = NULL;
    g->n = g->n_rows = 0;
}

/* B training rows drawn with replacement into the batch buffers, sorted by
 * treatment (the order of iid draws carries nothing, and then each
 * treatment's rows are contiguous), and their sets: S doses per treatment,
 * U(0, 1) but for the factual one, at a random position of its
 * treatment's set. */
static void draw_batch(cg_scigan *g)
{
    size_t B = g->B, S = g->S, K = g->K, d = g->d, E = g->E;
    cg_rng_indices(&g->rng, g->idx, B, (int64_t)g->n_rows);
    memset(g->tstart, 0, (K + 1) * sizeof *g->tstart);
    for (size_t i = 0; i < B; i++) {
        size_t j = (size_t)g->idx[i];
        g->tstart[(size_t)g->T[g->rows ? (size_t)g->rows[j] : j] + 1]++;
    }
    for (size_t k = 0; k < K; k++) g->tstart[k + 1] += g->tstart[k];
    for (size_t i = 0; i < B; i++) { /* a stable counting sort; tstart[k] ends at treatment k's end */
        size_t j = (size_t)g->idx[i];
        g->order[g->tstart[g->T[g->rows ? (size_t)g->rows[j] : j]]++] = g->idx[i];
    }
    for (size_t k = K; k > 0; k--) g->tstart[k] = g->tstart[k - 1];
    g->tstart[0] = 0;
    for (size_t i = 0; i < B; i++) {
        size_t j = (size_t)g->order[i], r = g->rows ? (size_t)g->rows[j] : j;
        memcpy(g->xb + i * d, g->X + r * d, d * sizeof(cg_real));
        g->tb[i] = g->T[r];
        g->db[i] = g->D[r];
        g->yb[i] = (cg_real)((g->Y[r] - g->ymean) / g->ysd);
        g->pos[i] = (int32_t)cg_rng_below(&g->rng, S);
    }
    for (size_t k = 0; k < K; k++) cg_rng_fill_uniform(&g->rng, g->ds + k * E, B * S, 0.0, 1.0);
    memset(g->mask, 0, K * E * sizeof(cg_real));
    memset(g->onehot, 0, B * K * sizeof(cg_real));
    for (size_t i = 0; i < B; i++) {
        size_t at = (size_t)g->tb[i] * E + i * S + (size_t)g->pos[i];
        g->ds[at] = g->db[i];
        g->mask[at] = 1;
        g->onehot[i * K + (size_t)g->tb[i]] = 1;
    }
}

/* ------------------------------------------------------ curve networks */

/* Curve network c (0: G, 1: I) on n rows whose trunk inputs are `in`
 * [n, in_w], at m doses per row for treatments k0 <= k < k1 (doses of
 * treatment k at ds + k*E, [n*m]): outputs at cout[c] + k*E.  The heads run
 * feature-major (each dose a column of h lines), as the MLP keeps a batch
 * inside: the dose layer's lines, u added along each row's doses, go through
 * the activation straight into the tail, with no transposes. */
static void curve_forward(cg_scigan *g, int c, const cg_real *in, size_t n, size_t m, size_t k0, size_t k1)
{
    block_net *b = &g->net[c == 0 ? NET_G : NET_I];
    size_t h = g->h, K = g->K, E = g->E, nm = n * m, np = fm_cols(nm);
    const cg_real *u = cg_mlp_forward(b->parts[0], in, n, 0, NULL);
    for (size_t k = k0; k < k1; k++) {
        cg_real *z = g->cz[c] + k * h * g->LE, *a = g->ca[c] + k * h * g->LE;
        size_t ld, ldo;
        const cg_real *w = cg_mlp_forward_fm(b->parts[1 + 2 * k], g->ds + k * E, nm, nm, 0, NULL, &ld);
        cg_set_broadcast_forward(z, w, 1, ld, u + k * h, K * h, n, m, h);
        for (size_t j = 0; j < h; j++) {
            memset(z + j * ld + nm, 0, (np - nm) * sizeof(cg_real));
            cg_activation_forward(a + j * ld, z + j * ld, np, (cg_activation)g->cfg.activation, g->act_param);
        }
        const cg_real *o = cg_mlp_forward_fm(b->parts[2 + 2 * k], a, ld, nm, 0, NULL, &ldo);
        memcpy(g->cout[c] + k * E, o, nm * sizeof(cg_real));
        g->cld[c] = ld;
    }
}

/* Backward of the last curve_forward over every treatment, from dout
 * [K][E]: parameter gradients added into the network's block. */
static void curve_backward(cg_scigan *g, int c, const cg_real *dout, size_t n, size_t m)
{
    block_net *b = &g->net[c == 0 ? NET_G : NET_I];
    size_t h = g->h, K = g->K, E = g->E, nm = n * m, np = fm_cols(nm), ld = g->cld[c];
    cg_real *du = g->cdu[c], *da = g->cda;
    memset(du, 0, n * K * h * sizeof(cg_real));
    for (size_t k = 0; k < K; k++) {
        for (size_t j = 0; j < h; j++) memset(da + j * ld, 0, np * sizeof(cg_real));
        cg_mlp_backward_fm(b->parts[2 + 2 * k], da, ld, dout + k * E, nm, 1);
        for (size_t j = 0; j < h; j++)
            cg_activation_backward(da + j * ld, g->cz[c] + k * h * g->LE + j * ld, g->ca[c] + k * h * g->LE + j * ld,
                                   np, (cg_activation)g->cfg.activation, g->act_param);
        cg_set_broadcast_backward(du + k * h, K * h, da, 1, ld, n, m, h);
        cg_mlp_backward_fm(b->parts[1 + 2 * k], NULL, 0, da, ld, 1);
    }
    cg_mlp_backward(b->parts[0], NULL, du);
}

/* G's trunk inputs for n rows: [x | y | onehot(t) | dose | noise from rng] */
static void generator_input(cg_scigan *g, cg_rng *rng, const cg_real *x, const int32_t *t, const cg_real *dose,
                            const cg_real *y, size_t n)
{
    size_t d = g->d, K = g->K, w = g->gin_w;
    for (size_t i = 0; i < n; i++) {
        cg_real *row = g->gin + i * w;
        memcpy(row, x + i * d, d * sizeof(cg_real));
        row[d] = y[i];
        for (size_t k = 0; k < K; k++) row[d + 1 + k] = (int32_t)k == t[i];
        row[d + 1 + K] = dose[i];
        cg_rng_fill_normal(rng, row + d + 2 + K, (size_t)g->cfg.noise_dim, 0.0, 1.0);
    }
}

/* ------------------------------------------------------ discriminators */

/* the sets of the batch, as two lines per treatment (doses, outcomes):
 * G's outcomes with the factual y swapped in */
static void fill_sets(cg_scigan *g)
{
    size_t K = g->K, E = g->E, LE = g->LE, nm = g->B * g->S;
    for (size_t k = 0; k < K; k++) {
        cg_real *e = g->sets + k * LE * 2;
        const cg_real *o = g->cout[0] + k * E, *mk = g->mask + k * E;
        memcpy(e, g->ds + k * E, nm * sizeof(cg_real));
        for (size_t i = 0; i < nm; i++) e[LE + i] = mk[i] != 0 ? g->yb[i / g->S] : o[i];
    }
}

/* Feature-major set layers over n sets of m consecutive columns.  Each
 * sums a set in element order and scales in double, as cg_set_mean_forward
 * and cg_set_concat_mean_backward do, so the bits are theirs. */

/* y: 2w lines (stride ldy) = [the w lines of x (stride ldx), each set's
 * mean of them, repeated over the set] */
static void fm_concat_mean_forward(cg_real *y, size_t ldy, const cg_real *x, size_t ldx, size_t n, size_t m, size_t w)
{
    double inv = 1.0 / (double)m;
    for (size_t j = 0; j < w; j++) {
        const cg_real *xj = x + j * ldx;
        cg_real *yj = y + j * ldy, *mj = y + (w + j) * ldy;
        memcpy(yj, xj, n * m * sizeof(cg_real));
        for (size_t i = 0; i < n; i++) {
            cg_real acc = xj[i * m];
            for (size_t s = 1; s < m; s++) acc += xj[i * m + s];
            acc = (cg_real)(acc * inv);
            for (size_t s = 0; s < m; s++) mj[i * m + s] = acc;
        }
    }
}

/* dx: w lines (stride ldx) += dy's first w lines + the mean over the set
 * of its last w lines (dy: 2w lines, stride ldy) */
static void fm_concat_mean_backward(cg_real *dx, size_t ldx, const cg_real *dy, size_t ldy, size_t n, size_t m,
                                    size_t w)
{
    for (size_t j = 0; j < w; j++) {
        const cg_real *gj = dy + j * ldy, *pj = dy + (w + j) * ldy;
        cg_real *dj = dx + j * ldx;
        for (size_t i = 0; i < n; i++) {
            cg_real pooled = 0;
            for (size_t s = 0; s < m; s++) pooled += pj[i * m + s];
            pooled = (cg_real)(pooled / (double)m);
            for (size_t s = 0; s < m; s++) dj[i * m + s] += gj[i * m + s] + pooled;
        }
    }
}

/* y[i*ldy + j] = the mean over set i of line j of x (w lines, stride ldx) */
static void fm_mean_forward(cg_real *y, size_t ldy, const cg_real *x, size_t ldx, size_t n, size_t m, size_t w)
{
    double inv = 1.0 / (double)m;
    for (size_t j = 0; j < w; j++) {
        const cg_real *xj = x + j * ldx;
        for (size_t i = 0; i < n; i++) {
            cg_real acc = xj[i * m];
            for (size_t s = 1; s < m; s++) acc += xj[i * m + s];
            y[i * ldy + j] = (cg_real)(acc * inv);
        }
    }
}

/* lines dx (w lines, stride ldx, n*m columns) = dy[i*ldy + j] / m over set i */
static void fm_mean_backward(cg_real *dx, size_t ldx, const cg_real *dy, size_t ldy, size_t n, size_t m, size_t w)
{
    cg_real inv = (cg_real)(1.0 / (double)m);
    for (size_t j = 0; j < w; j++) {
        cg_real *dj = dx + j * ldx;
        for (size_t i = 0; i < n; i++) {
            cg_real v = (cg_real)0 + dy[i * ldy + j] * inv; /* 0 + x: the sign of a zero as an addition gives it */
            for (size_t s = 0; s < m; s++) dj[i * m + s] = v;
        }
    }
}

/* zero the first `cols` columns of `lines` lines of stride ld */
static void zero_lines(cg_real *x, size_t lines, size_t ld, size_t cols)
{
    for (size_t j = 0; j < lines; j++) memset(x + j * ld, 0, cols * sizeof(cg_real));
}

/* Both discriminators on the batch's sets: logits into dlog [K][E] and,
 * for K >= 2, tlog [B, K].  With factual_only, the dosage discriminator of
 * treatment k runs on the sets of the rows that received k alone (all its
 * loss reads); otherwise on every row's.  Feature-major throughout: the
 * set layers work on the MLPs' lines, with no transposes. */
static void discriminators_forward(cg_scigan *g, int factual_only)
{
    block_net *dd = &g->net[NET_DOSAGE], *dt = &g->net[NET_TREATMENT];
    size_t B = g->B, S = g->S, K = g->K, E = g->E, LE = g->LE, h = g->h, nm = B * S;
    cg_activation f = (cg_activation)g->cfg.activation;
    const cg_real *r = cg_mlp_forward(dd->parts[0], g->xb, B, 0, NULL);
    for (size_t k = 0; k < K; k++) {
        size_t b0 = factual_only ? g->tstart[k] : 0, nb = factual_only ? g->tstart[k + 1] - b0 : B;
        size_t e0 = b0 * S, ne = nb * S, ld, ldo;
        g->dd_b0[k] = b0, g->dd_nb[k] = nb;
        if (nb == 0) continue;
        cg_real *z1 = g->z1 + k * h * LE, *a1 = g->a1 + k * h * LE;
        fm_concat_mean_forward(g->pbuf, LE, g->sets + k * LE * 2 + e0, LE, nb, S, 2);
        const cg_real *lin = cg_mlp_forward_fm(dd->parts[1 + 2 * k], g->pbuf, LE, ne, 0, NULL, &ld);
        cg_set_broadcast_forward(z1, lin, 1, ld, r + b0 * h, h, nb, S, h);
        for (size_t j = 0; j < h; j++) cg_activation_forward(a1 + j * ld, z1 + j * ld, ne, f, g->act_param);
        fm_concat_mean_forward(g->qbuf, LE, a1, ld, nb, S, h);
        const cg_real *o = cg_mlp_forward_fm(dd->parts[2 + 2 * k], g->qbuf, LE, ne, 0, NULL, &ldo);
        memcpy(g->dlog + k * E + e0, o, ne * sizeof(cg_real));
        g->dd_ld[k] = ld;
    }
    if (K < 2) return;
    for (size_t k = 0; k < K; k++) {
        size_t ld;
        const cg_real *v = cg_mlp_forward_fm(dt->parts[1 + k], g->sets + k * LE * 2, LE, nm, 0, NULL, &ld);
        fm_mean_forward(g->tin + k * h, g->tin_w, v, ld, B, S, h);
    }
    for (size_t i = 0; i < B; i++) memcpy(g->tin + i * g->tin_w + K * h, g->xb + i * g->d, g->d * sizeof(cg_real));
    const cg_real *o = cg_mlp_forward(dt->parts[0], g->tin, B, 0, NULL);
    memcpy(g->tlog, o, B * K * sizeof(cg_real));
}

/* Backward of the last discriminators_forward from ddlog [K][E] and dtlog
 * [B, K]: parameter gradients added when `params`; with dout, the gradient
 * of each element's outcome added into dout [K][E]. */
static void discriminators_backward(cg_scigan *g, int params, cg_real *dout)
{
    block_net *dd = &g->net[NET_DOSAGE], *dt = &g->net[NET_TREATMENT];
    size_t B = g->B, S = g->S, K = g->K, E = g->E, LE = g->LE, h = g->h, nm = B * S;
    if (K >= 2) {
        memset(g->dtin, 0, B * g->tin_w * sizeof(cg_real));
        cg_mlp_backward_ex(dt->parts[0], g->dtin, g->dtlog, params);
    }
    if (params) memset(g->dxr, 0, B * h * sizeof(cg_real));
    for (size_t k = 0; k < K; k++) {
        size_t b0 = g->dd_b0[k], nb = g->dd_nb[k], e0 = b0 * S, ne = nb * S, ld = g->dd_ld[k];
        if (dout) zero_lines(g->de, 2, LE, fm_cols(nm));
        if (nb > 0) {
            zero_lines(g->dq, 2 * h, LE, fm_cols(ne));
            cg_mlp_backward_fm(dd->parts[2 + 2 * k], g->dq, LE, g->ddlog + k * E + e0, ne, params);
            zero_lines(g->dh, h, ld, ne);
            fm_concat_mean_backward(g->dh, ld, g->dq, LE, nb, S, h);
            for (size_t j = 0; j < h; j++)
                cg_activation_backward(g->dh + j * ld, g->z1 + k * h * LE + j * ld, g->a1 + k * h * LE + j * ld, ne,
                                       (cg_activation)g->cfg.activation, g->act_param);
            if (params) cg_set_broadcast_backward(g->dxr + b0 * h, h, g->dh, 1, ld, nb, S, h);
            if (dout) zero_lines(g->dp, 4, LE, fm_cols(ne));
            cg_mlp_backward_fm(dd->parts[1 + 2 * k], dout ? g->dp : NULL, LE, g->dh, ld, params);
            if (dout) fm_concat_mean_backward(g->de + e0, LE, g->dp, LE, nb, S, 2);
        }
        if (K >= 2) {
            fm_mean_backward(g->dh, LE, g->dtin + k * h, g->tin_w, B, S, h);
            cg_mlp_backward_fm(dt->parts[1 + k], dout ? g->de : NULL, LE, g->dh, LE, params);
        }
        if (dout)
            for (size_t i = 0; i < nm; i++) dout[k * E + i] += g->de[LE + i];
    }
    if (params) cg_mlp_backward(dd->parts[0], NULL, g->dxr);
}

/* G in training: the batch's trunk inputs (noise from the model's stream)
 * and G's outcomes at every set's doses; 0, or -1 with err set when they
 * are not finite */
static int generate(cg_scigan *g, char *err)
{
    generator_input(g, &g->rng, g->xb, g->tb, g->db, g->yb, g->B);
    curve_forward(g, 0, g->gin, g->B, g->S, 0, g->K);
    for (size_t k = 0; k < g->K; k++) {
        if (!cg_all_finite(g->cout[0] + k * g->E, g->B * g->S)) {
            cg_set_error(err, "SCIGAN generator G output became non-finite at iteration %lld; lower learning_rate",
                         (long long)g->iters_gan + 1);
            return -1;
        }
    }
    return 0;
}

/* Both discriminators' losses on a new batch, and their gradients in their
 * blocks' gradients (nothing is stepped). */
static cg_status discriminator_grads(cg_scigan *g, double *ld, double *lt, char *err)
{
    size_t B = g->B, S = g->S, K = g->K, E = g->E;
    draw_batch(g);
    if (generate(g, err) < 0) return CG_EFLOAT;
    fill_sets(g);
    discriminators_forward(g, 1);
    memset(g->ddlog, 0, K * E * sizeof(cg_real));
    double dosage = 0, scale = 1.0 / (double)(B * S);
    for (size_t i = 0; i < B; i++) {
        size_t at = (size_t)g->tb[i] * E + i * S;
        dosage += cg_bce_logits_loss(g->ddlog + at, g->dlog + at, g->mask + at, NULL, S, scale);
    }
    double treatment = 0;
    if (K >= 2) {
        memset(g->dtlog, 0, B * K * sizeof(cg_real));
        treatment = cg_bce_logits_loss(g->dtlog, g->tlog, g->onehot, NULL, B * K, 1.0 / (double)(B * K));
    }
    int bad = !isfinite(dosage) ? NET_DOSAGE : !isfinite(treatment) ? NET_TREATMENT : -1;
    if (bad >= 0) {
        cg_set_error(err, "SCIGAN %s loss became non-finite at iteration %lld; lower learning_rate", net_names[bad],
                     (long long)g->iters_gan + 1);
        return CG_EFLOAT;
    }
    block_zero_grad(&g->net[NET_DOSAGE]);
    block_zero_grad(&g->net[NET_TREATMENT]);
    discriminators_backward(g, 1, NULL);
    *ld = dosage;
    *lt = treatment;
    return CG_OK;
}

/* sqrt of the mean of (pred - target)^2 over the factual elements (one per
 * row; `at` gives their index in [K][E]), with its gradient times `weight`
 * added into grad */
static double factual_rmse(const cg_scigan *g, cg_real *grad, const cg_real *pred, double weight)
{
    size_t B = g->B, S = g->S, E = g->E;
    double ss = 0;
    for (size_t i = 0; i < B; i++) {
        double r = pred[(size_t)g->tb[i] * E + i * S + (size_t)g->pos[i]] - (double)g->yb[i];
        ss += r * r;
    }
    double rmse = sqrt(ss / (double)B);
    if (rmse > 0 && weight != 0) {
        double c = weight / ((double)B * rmse);
        for (size_t i = 0; i < B; i++) {
            size_t at = (size_t)g->tb[i] * E + i * S + (size_t)g->pos[i];
            grad[at] += (cg_real)(c * ((double)pred[at] - (double)g->yb[i]));
        }
    }
    return rmse;
}

/* G's loss and its gradient in G's gradient block: on a new batch when
 * `fresh`, else on the batch of the last discriminator step and G's
 * outcomes for it (G has not changed since; the discriminators have) */
static cg_status generator_grads(cg_scigan *g, int fresh, double *lg, char *err)
{
    size_t B = g->B, S = g->S, K = g->K, E = g->E, nm = B * S;
    double alpha = g->cfg.alpha;
    if (fresh) {
        draw_batch(g);
        if (generate(g, err) < 0) return CG_EFLOAT;
    }
    cg_real *dg = g->gbar; /* G's output gradient, [K][E] */
    memset(dg, 0, K * E * sizeof(cg_real));
    double combined = 0;
    if (alpha > 0) {
        fill_sets(g);
        discriminators_forward(g, 0);
        memset(g->ddlog, 0, K * E * sizeof(cg_real));
        if (K >= 2) memset(g->dtlog, 0, B * K * sizeof(cg_real));
        /* G minimises -alpha times the combined loss */
        double scale = -alpha / (double)(K * nm);
        for (size_t k = 0; k < K; k++) {
            if (K >= 2)
                combined += cg_product_bce_loss(g->ddlog + k * E, g->dtlog + k, g->dlog + k * E, g->tlog + k, S, K,
                                                g->mask + k * E, nm, scale);
            else
                combined += cg_bce_logits_loss(g->ddlog, g->dlog, g->mask, NULL, nm, scale);
        }
        combined /= -alpha;
        discriminators_backward(g, 0, dg);
        /* the factual outcome is the observation, not G's */
        for (size_t i = 0; i < B; i++) dg[(size_t)g->tb[i] * E + i * S + (size_t)g->pos[i]] = 0;
    }
    double sup = factual_rmse(g, dg, g->cout[0], 1.0);
    double loss = sup - alpha * combined;
    if (!isfinite(loss)) {
        cg_set_error(err, "SCIGAN generator G loss became non-finite at iteration %lld; lower learning_rate",
                     (long long)g->iters_gan + 1);
        return CG_EFLOAT;
    }
    block_zero_grad(&g->net[NET_G]);
    curve_backward(g, 0, dg, B, S);
    *lg = loss;
    return CG_OK;
}

/* I's loss on a new batch, and its gradient in I's gradient block */
static cg_status inference_grads(cg_scigan *g, double *li, char *err)
{
    size_t B = g->B, S = g->S, K = g->K, E = g->E, nm = B * S;
    draw_batch(g);
    if (generate(g, err) < 0) return CG_EFLOAT;
    /* G's completed sets, the factual outcome swapped in */
    for (size_t k = 0; k < K; k++)
        for (size_t i = 0; i < nm; i++)
            g->gbar[k * E + i] = g->mask[k * E + i] != 0 ? g->yb[i / S] : g->cout[0][k * E + i];
    curve_forward(g, 1, g->xb, B, S, 0, K);
    cg_real *di = g->ddlog; /* I's output gradient, [K][E] */
    memset(di, 0, K * E * sizeof(cg_real));
    double ss = 0;
    for (size_t k = 0; k < K; k++)
        for (size_t i = 0; i < nm; i++) {
            double r = (double)g->cout[1][k * E + i] - g->gbar[k * E + i];
            ss += r * r;
        }
    double curves = sqrt(ss / (double)(K * nm));
    if (curves > 0) {
        double c = 1.0 / ((double)(K * nm) * curves);
        for (size_t k = 0; k < K; k++)
            for (size_t i = 0; i < nm; i++)
                di[k * E + i] = (cg_real)(c * ((double)g->cout[1][k * E + i] - g->gbar[k * E + i]));
    }
    double loss = curves + g->cfg.beta * factual_rmse(g, di, g->cout[1], g->cfg.beta);
    if (!isfinite(loss)) {
        cg_set_error(err, "SCIGAN inference network I loss became non-finite at iteration %lld; lower "
                     "learning_rate", (long long)g->iters_inf + 1);
        return CG_EFLOAT;
    }
    block_zero_grad(&g->net[NET_I]);
    curve_backward(g, 1, di, B, S);
    *li = loss;
    return CG_OK;
}

cg_status cg_scigan_train_gan(cg_scigan *g, size_t n_iter, double *g_loss, double *dosage_loss,
                              double *treatment_loss, char *err)
{
    if (!g->X) {
        cg_set_error(err, "no training data: call set_data first");
        return CG_EINVAL;
    }
    for (size_t it = 0; it < n_iter; it++) {
        double ld = 0, lt = 0, lg = 0;
        cg_status st;
        for (int s = 0; s < g->cfg.d_steps; s++) {
            if ((st = discriminator_grads(g, &ld, &lt, err)) != CG_OK) return st;
            block_step(&g->net[NET_DOSAGE]);
            if (g->K >= 2) block_step(&g->net[NET_TREATMENT]);
        }
        if ((st = generator_grads(g, 0, &lg, err)) != CG_OK) return st;
        block_step(&g->net[NET_G]);
        if (g_loss) g_loss[it] = lg;
        if (dosage_loss) dosage_loss[it] = ld;
        if (treatment_loss) treatment_loss[it] = lt;
        g->iters_gan++;
    }
    return CG_OK;
}

cg_status cg_scigan_train_inference(cg_scigan *g, size_t n_iter, double *i_loss, char *err)
{
    if (!g->X) {
        cg_set_error(err, "no training data: call set_data first");
        return CG_EINVAL;
    }
    block_net *I = &g->net[NET_I];
    for (size_t it = 0; it < n_iter; it++) {
        double loss;
        cg_status st = inference_grads(g, &loss, err);
        if (st != CG_OK) return st;
        block_step(I);
        cg_ema_update(g->i_avg, I->params, I->n_params, g->avg_steps++, EMA_DECAY);
        if (i_loss) i_loss[it] = loss;
        g->iters_inf++;
    }
    return CG_OK;
}

#ifdef CG_TEST_HOOKS
cg_real *cg_scigan_test_block(cg_scigan *g, int net, size_t *n_params, cg_real **grads)
{
    *n_params = g->net[net].n_params;
    *grads = g->net[net].grads;
    return g->net[net].params;
}

double cg_scigan_test_loss(cg_scigan *g, int net)
{
    cg_rng keep = g->rng;
    double a = NAN, b = NAN;
    char err[CG_ERR_LEN];
    cg_status st = net == NET_G   ? generator_grads(g, 1, &a, err)
                   : net == NET_I ? inference_grads(g, &a, err)
                                  : discriminator_grads(g, &a, &b, err);
    g->rng = keep;
    if (st != CG_OK) return NAN;
    return net == NET_TREATMENT ? b : a;
}
#endif

/* -------------------------------------------------- prediction, sampling */

/* Rows per chunk and doses per block for m doses per row: whole rows of
 * doses while they fit in E elements, else one row at a time in blocks of
 * E doses. */
static void chunking(const cg_scigan *g, size_t m, size_t *rows, size_t *per)
{
    if (m <= g->E) {
        size_t r = g->E / m;
        *rows = r < g->NB ? r : g->NB;
        *per = m;
    } else {
        *rows = 1;
        *per = g->E;
    }
}

/* Curve network c at m doses per row (doses[n*m], on [0, 1]) of treatment k
 * for n rows; the trunk inputs of a chunk of rows come from `input(g, r0,
 * rows, ctx)`.  out[n*m] on the outcome scale. */
typedef void (*trunk_input_fn)(cg_scigan *g, size_t r0, size_t rows, void *ctx);

static const cg_real *curve_chunks(cg_scigan *g, int c, cg_real *out, const cg_real *doses, size_t k, size_t n,
                                   size_t m, trunk_input_fn input, void *ctx)
{
    size_t rows, per;
    chunking(g, m, &rows, &per);
    cg_real *ds = g->ds + k * g->E;
    for (size_t r0 = 0; r0 < n; r0 += rows) {
        size_t nr = n - r0 < rows ? n - r0 : rows;
        input(g, r0, nr, ctx);
        for (size_t q0 = 0; q0 < m; q0 += per) {
            size_t nq = m - q0 < per ? m - q0 : per;
            for (size_t i = 0; i < nr; i++) memcpy(ds + i * nq, doses + (r0 + i) * m + q0, nq * sizeof(cg_real));
            curve_forward(g, c, c == 0 ? g->gin : g->xb, nr, nq, k, k + 1);
            const cg_real *o = g->cout[c] + k * g->E;
            for (size_t i = 0; i < nr; i++)
                for (size_t q = 0; q < nq; q++)
                    out[(r0 + i) * m + q0 + q] = (cg_real)(o[i * nq + q] * g->ysd + g->ymean);
        }
    }
    return out;
}

/* checks shared by predict and sample */
static cg_status check_query(const cg_scigan *g, const cg_real *X, const cg_real *doses, size_t n, size_t m, int k,
                             char *err)
{
    if (k < 0 || (size_t)k >= g->K) {
        cg_set_error(err, "treatment %d is outside [0, %zu)", k, g->K);
        return CG_EINVAL;
    }
    if (!cg_all_finite(X, n * g->d) || !cg_all_finite(doses, n * m)) {
        cg_set_error(err, "X or the doses contain NaN or inf");
        return CG_EINVAL;
    }
    return CG_OK;
}

static void copy_rows(cg_scigan *g, size_t r0, size_t rows, void *ctx)
{
    memcpy(g->xb, (const cg_real *)ctx + r0 * g->d, rows * g->d * sizeof(cg_real));
}

cg_status cg_scigan_predict(cg_scigan *g, cg_real *out, const cg_real *X, int k, const cg_real *doses, size_t n,
                            size_t m, char *err)
{
    cg_status st = check_query(g, X, doses, n, m, k, err);
    if (st != CG_OK) return st;
    /* predict with the averaged weights; the training weights are restored after */
    block_net *I = &g->net[NET_I];
    cg_swap_blocks(I->params, g->i_avg, I->n_params);
    curve_chunks(g, 1, out, doses, (size_t)k, n, m, copy_rows, (void *)X);
    cg_swap_blocks(I->params, g->i_avg, I->n_params);
    if (!cg_all_finite(out, n * m)) {
        cg_set_error(err, "SCIGAN inference network I predicts non-finite values after %lld iterations; the model "
                     "diverged", (long long)g->iters_inf);
        return CG_EFLOAT;
    }
    return CG_OK;
}

typedef struct {
    const cg_real *X, *D, *Y;
    const int32_t *T;
    cg_rng *rng;
} observed;

static void observed_rows(cg_scigan *g, size_t r0, size_t rows, void *ctx)
{
    observed *o = ctx;
    for (size_t i = 0; i < rows; i++) g->yb[i] = (cg_real)((o->Y[r0 + i] - g->ymean) / g->ysd);
    generator_input(g, o->rng, o->X + r0 * g->d, o->T + r0, o->D + r0, g->yb, rows);
}

cg_status cg_scigan_sample(cg_scigan *g, cg_real *out, const cg_real *X, const int32_t *T, const cg_real *D,
                           const cg_real *Y, int k, const cg_real *doses, size_t n, size_t m, size_t n_samples,
                           uint64_t seed, char *err)
{
    cg_status st = check_query(g, X, doses, n, m, k, err);
    if (st != CG_OK) return st;
    for (size_t i = 0; i < n; i++) {
        if (T[i] < 0 || (size_t)T[i] >= g->K) {
            cg_set_error(err, "treatment code %d at row %zu is outside [0, %zu)", (int)T[i], i, g->K);
            return CG_EINVAL;
        }
        if (!(D[i] >= 0 && D[i] <= 1) || !isfinite(Y[i])) {
            cg_set_error(err, "row %zu has a dose outside [0, 1] or an outcome that is not finite", i);
            return CG_EINVAL;
        }
    }
    /* a stream of its own, so that sampling leaves the training state alone */
    cg_rng rng;
    cg_rng_seed(&rng, seed);
    observed o = {X, D, Y, T, &rng};
    for (size_t s = 0; s < n_samples; s++) {
        curve_chunks(g, 0, out + s * n * m, doses, (size_t)k, n, m, observed_rows, &o);
        if (!cg_all_finite(out + s * n * m, n * m)) {
            cg_set_error(err, "SCIGAN generator G outputs non-finite values after %lld iterations; the model "
                         "diverged", (long long)g->iters_gan);
            return CG_EFLOAT;
        }
    }
    return CG_OK;
}

/* ---------------------------------------------------------- snapshot */

#define SNAP_MAGIC "CGANSCG"
#define SNAP_VERSION 1u

static void write_all(const cg_scigan *g, cursor *c)
{
    const cg_scigan_config *k = &g->cfg;
    put_header(c, SNAP_MAGIC, SNAP_VERSION);
    const int32_t ints[9] = {k->n_features, k->n_treatments, k->hidden_size, k->n_hidden, k->n_dosage_samples,
                             k->noise_dim,  k->batch_size,   k->d_steps,     k->activation};
    const double reals[4] = {k->alpha, k->beta, k->learning_rate, k->weight_decay};
    put_config(c, ints, 9, reals, 4, k->seed);
    put_f64(c, g->ymean);
    put_f64(c, g->ysd);
    put_i64(c, g->iters_gan);
    put_i64(c, g->iters_inf);
    put(c, g->rng.s, sizeof g->rng.s);
    for (int i = 0; i < N_NETS; i++)
        if (g->net[i].n_parts) put_block(c, g->net[i].params, g->net[i].n_params, g->net[i].opt);
    put_i64(c, g->avg_steps);
    put(c, g->i_avg, g->net[NET_I].n_params * sizeof(cg_real));
}

size_t cg_scigan_snapshot_size(const cg_scigan *g)
{
    cursor c = counting_cursor();
    write_all(g, &c);
    return counted_bytes(&c);
}

cg_status cg_scigan_snapshot(const cg_scigan *g, void *buf, size_t size, char *err)
{
    cursor c = {buf, size, 1};
    write_all(g, &c);
    return finish_write(&c, size, err);
}

cg_status cg_scigan_restore(cg_scigan **out, const void *buf, size_t size, char *err)
{
    *out = NULL;
    cursor c = {(unsigned char *)buf, size, 1};
    int32_t ints[9];
    double reals[4];
    cg_scigan_config k;
    cg_status hst = get_header(&c, SNAP_MAGIC, SNAP_VERSION, "SCIGAN", err);
    if (hst != CG_OK) return hst;
    k.seed = get_config(&c, ints, 9, reals, 4);
    k.n_features = ints[0];
    k.n_treatments = ints[1];
    k.hidden_size = ints[2];
    k.n_hidden = ints[3];
    k.n_dosage_samples = ints[4];
    k.noise_dim = ints[5];
    k.batch_size = ints[6];
    k.d_steps = ints[7];
    k.activation = ints[8];
    k.alpha = reals[0];
    k.beta = reals[1];
    k.learning_rate = reals[2];
    k.weight_decay = reals[3];
    char inner[CG_ERR_LEN] = "";
    if (!c.ok || check_config(&k, inner) != CG_OK) {
        cg_set_error(err, "snapshot holds an invalid configuration%s%s", inner[0] ? ": " : "", inner);
        return CG_ESNAPSHOT;
    }
    /* the parameters and Adam moments must be in the bytes that follow:
     * checked before create, so that a few hostile bytes cannot make it
     * allocate and initialise networks of any size */
    cg_scigan shell;
    scigan_shape(&shell, &k);
    double weights = 0;
    for (int i = 0; i < N_NETS; i++) weights += (i == NET_I ? 4.0 : 3.0) * (double)net_params(&shell, i);
    if (weights * sizeof(cg_real) > (double)c.left) {
        cg_set_error(err, "snapshot is truncated");
        return CG_ESNAPSHOT;
    }
    cg_scigan *g = NULL;
    cg_status st = cg_scigan_create(&g, &k, inner);
    if (st != CG_OK) {
        cg_set_error(err, "snapshot holds an invalid configuration: %s", inner);
        return st == CG_ENOMEM ? CG_ENOMEM : CG_ESNAPSHOT;
    }
    get(&c, &g->ymean, 8);
    get(&c, &g->ysd, 8);
    get(&c, &g->iters_gan, 8);
    get(&c, &g->iters_inf, 8);
    get(&c, g->rng.s, sizeof g->rng.s);
    for (int i = 0; i < N_NETS; i++)
        if (g->net[i].n_parts) get_block(&c, g->net[i].params, g->net[i].n_params, g->net[i].opt);
    get(&c, &g->avg_steps, 8);
    get(&c, g->i_avg, g->net[NET_I].n_params * sizeof(cg_real));
    int scale_ok = g->ysd > 0 && isfinite(g->ysd) && isfinite(g->ymean);
    if (!c.ok || c.left != 0 || !scale_ok) {
        cg_scigan_free(g);
        cg_set_error(err, "snapshot is truncated or corrupt");
        return CG_ESNAPSHOT;
    }
    *out = g;
    return CG_OK;
}
