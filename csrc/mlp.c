/* mlp.c: multilayer perceptrons with one contiguous parameter block.
 *
 * Layer l maps sizes[l] -> sizes[l+1]: z = a_prev W + b, h = f(z), and
 * a = dropout(h) when training with a dropout rate.  The parameter block holds
 * W_0, b_0, W_1, b_1, ... and the gradient block mirrors it, so zeroing,
 * Adam and serialisation are each one loop.  Forward keeps z, h and the
 * dropout masks of the last call for backward; caches are sized for
 * `capacity` rows and grow only in cg_mlp_reserve.
 *
 * Layout: callers pass and receive row-major [n, width] arrays, but inside,
 * a batch is kept feature-major: unit j of all n rows is one line of ld
 * values, n rounded up to CG_FM_ALIGN columns (the padding columns are kept
 * defined and never enter a sum over rows).  With layers a few dozen units
 * wide and batches of hundreds of rows, the batch is then the long dimension
 * of every product (see the feature-major kernels in gemm.c).  The input is
 * transposed in on forward (the copy also serves backward, so the caller may
 * reuse its buffer in between), the output and the input gradient are
 * transposed out. */
#include "cgan.h"
#include "alloc.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct cg_mlp {
    int L;
    int *sizes, *acts;
    double *aparam, *drop;
    size_t n_params, max_width;
    size_t *w_off, *b_off;
    cg_real *params, *grads;
    int view;                    /* params and grads are views into a caller's blocks (not freed here) */
    size_t cap, ldcap, n_last, ld_last;
    int *dropped;                /* per layer: dropout applied in the last forward */
    cg_real *xT;                 /* the last forward's input, [sizes[0], ld] */
    cg_real **z, **h, **a;       /* [sizes[l+1], ld]; h[l] == z[l] for an identity or a
                                  * ReLU activation (z > 0 exactly where max(z, 0) > 0, so
                                  * a ReLU layer keeps only its output), a[l] == h[l]
                                  * when the layer has no dropout */
    cg_real **mask;
    cg_real *out;                /* the last forward's output, row-major [n, sizes[L]] */
    cg_real *dz, *t1, *buf[2];   /* [max_width, ld] scratch */
    /* gradient-penalty buffers (cg_mlp_reserve_penalty), for gp_cap rows:
     * gp_D[l] = G[l+1] * mask * f'(z_l), gp_G[l] = d(sum out)/d a_l,
     * gp_E[l] = second-order injection into z_l; R, P are scratch; sq holds
     * a double per row; S holds the product of fold_last_grads */
    size_t gp_cap;
    cg_real *gp_D, *gp_G, *gp_E, *gp_R, *gp_P, *gp_S;
    double *gp_sq;
    cg_mlp_capture *capture;     /* per-example gradients: see cg_mlp_capture_begin */
};

/* columns computed for n rows, and the line length that holds them: a
 * multiple of 64 values is lengthened so that the lines of a block do not
 * all fall into the same few cache sets */
static size_t fm_cols(size_t n) { return (n + CG_FM_ALIGN - 1) / CG_FM_ALIGN * CG_FM_ALIGN; }
static size_t fm_ld(size_t n)
{
    size_t np = fm_cols(n);
    return np % 64 == 0 ? np + CG_FM_ALIGN : np;
}

/* the row stride of a layer's output gradient transposed to [n, out] (in
 * the dz scratch), lengthened in the same way: the rows of the product's B
 * panels then spread over the cache sets */
static size_t t_ld(size_t out) { return out % 64 == 0 ? out + CG_FM_ALIGN : out; }

/* count values, 64-byte aligned (a panel of a line is then one cache line),
 * from the plan's plain malloc (aligned_alloc is missing from some C
 * runtimes): the block's own address is kept just below the aligned start,
 * for free_lines.  NULL when the plan only counts or has failed. */
static cg_real *alloc_lines(cg_plan *p, size_t count)
{
    unsigned char *raw = cg_plan_alloc(p, cg_add(cg_mul(count, sizeof(cg_real)), 64 + sizeof(void *)), 1, 0);
    if (!raw) return NULL;
    uintptr_t start = ((uintptr_t)(raw + sizeof(void *)) + 63) & ~(uintptr_t)63;
    memcpy((unsigned char *)start - sizeof(void *), &raw, sizeof raw);
    return (cg_real *)start;
}

static void free_lines(cg_real *p)
{
    if (!p) return;
    void *raw;
    memcpy(&raw, (unsigned char *)p - sizeof(void *), sizeof raw);
    cg_free(raw);
}

/* zero columns [n, np) of rows lines of stride ld */
static void zero_pad(cg_real *x, size_t rows, size_t n, size_t np, size_t ld)
{
    if (np > n)
        for (size_t j = 0; j < rows; j++) memset(x + j * ld + n, 0, (np - n) * sizeof(cg_real));
}

static void free_penalty(cg_mlp *m)
{
    free_lines(m->gp_D);
    free_lines(m->gp_G);
    free_lines(m->gp_E);
    free_lines(m->gp_R);
    free_lines(m->gp_P);
    cg_free(m->gp_S);
    cg_free(m->gp_sq);
    m->gp_D = m->gp_G = m->gp_E = m->gp_R = m->gp_P = m->gp_S = NULL;
    m->gp_sq = NULL;
    m->gp_cap = 0;
}

static void free_cache(cg_mlp *m)
{
    for (int l = 0; l < m->L; l++) {
        if (m->a && m->h && m->a[l] != m->h[l]) free_lines(m->a[l]);
        if (m->h && m->z && m->h[l] != m->z[l]) free_lines(m->h[l]);
        if (m->z) free_lines(m->z[l]);
        if (m->mask) free_lines(m->mask[l]);
        if (m->z) m->z[l] = NULL;
        if (m->h) m->h[l] = NULL;
        if (m->mask) m->mask[l] = NULL;
        if (m->a) m->a[l] = NULL;
    }
    free_lines(m->xT);
    free_lines(m->out);
    free_lines(m->dz);
    free_lines(m->t1);
    free_lines(m->buf[0]);
    free_lines(m->buf[1]);
    m->xT = m->out = m->dz = m->t1 = m->buf[0] = m->buf[1] = NULL;
    free_penalty(m);
    m->cap = m->ldcap = 0;
    m->n_last = 0;
}

void cg_mlp_free(cg_mlp *m)
{
    if (!m) return;
    if (m->sizes) free_cache(m);
    if (m->view) m->params = m->grads = NULL;
    void *tables[] = {m->sizes, m->acts, m->aparam, m->drop, m->w_off, m->b_off, m->params, m->grads,
                      m->dropped, m->z, m->h, m->a, m->mask, m};
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) cg_free(tables[i]);
}

/* create's allocations: the struct, its per-layer tables and, unless the
 * network is a view, the parameter and gradient blocks (zeroed), or only
 * their bytes when the plan counts (then the pointers go to a shell on the
 * stack) */
static cg_mlp *mlp_alloc(cg_plan *p, int L, size_t n_params, int view)
{
    cg_mlp shell, *m = cg_plan_alloc(p, 1, sizeof *m, 1), *t = m ? m : &shell;
    size_t nl = (size_t)L;
    t->sizes = cg_plan_alloc(p, nl + 1, sizeof *t->sizes, 0);
    t->acts = cg_plan_alloc(p, nl, sizeof *t->acts, 0);
    t->aparam = cg_plan_alloc(p, nl, sizeof *t->aparam, 0);
    t->drop = cg_plan_alloc(p, nl, sizeof *t->drop, 1);
    t->w_off = cg_plan_alloc(p, nl, sizeof *t->w_off, 0);
    t->b_off = cg_plan_alloc(p, nl, sizeof *t->b_off, 0);
    t->dropped = cg_plan_alloc(p, nl, sizeof *t->dropped, 1);
    t->z = cg_plan_alloc(p, nl, sizeof *t->z, 1);
    t->h = cg_plan_alloc(p, nl, sizeof *t->h, 1);
    t->a = cg_plan_alloc(p, nl, sizeof *t->a, 1);
    t->mask = cg_plan_alloc(p, nl, sizeof *t->mask, 1);
    if (!view) {
        t->params = cg_plan_alloc(p, n_params, sizeof *t->params, 1);
        t->grads = cg_plan_alloc(p, n_params, sizeof *t->grads, 1);
    }
    return m;
}

/* The activation cache for capacity rows (see cg_mlp_reserve), into m's
 * pointers; when the plan only counts, m may be a shell (shell_of). */
static void cache_alloc(cg_mlp *m, size_t capacity, cg_plan *p)
{
    size_t ld = fm_ld(capacity), big = cg_mul(ld, m->max_width);
    /* dz also holds an output gradient transposed to [capacity, t_ld(out)],
     * and t_ld(out) <= out + CG_FM_ALIGN */
    size_t tbig = cg_mul(capacity, m->max_width + CG_FM_ALIGN);
    for (int l = 0; l < m->L; l++) {
        size_t cnt = cg_mul(ld, (size_t)m->sizes[l + 1]);
        m->z[l] = alloc_lines(p, cnt);
        int keep_z = m->acts[l] != CG_ACT_IDENTITY && m->acts[l] != CG_ACT_RELU;
        m->h[l] = keep_z ? alloc_lines(p, cnt) : m->z[l];
        m->mask[l] = m->drop[l] > 0 ? alloc_lines(p, cnt) : NULL;
        m->a[l] = m->drop[l] > 0 ? alloc_lines(p, cnt) : m->h[l];
    }
    m->xT = alloc_lines(p, cg_mul(ld, (size_t)m->sizes[0]));
    m->out = alloc_lines(p, cg_mul(capacity, (size_t)m->sizes[m->L]));
    m->dz = alloc_lines(p, big > tbig ? big : tbig);
    m->t1 = alloc_lines(p, big);
    m->buf[0] = alloc_lines(p, big);
    m->buf[1] = alloc_lines(p, big);
}

/* The gradient-penalty buffers (see cg_mlp_reserve_penalty) for the cache's
 * rows, into m's pointers (or a shell's when the plan only counts). */
static void penalty_alloc(cg_mlp *m, cg_plan *p)
{
    size_t sum = 0;
    for (int l = 0; l <= m->L; l++) sum += (size_t)m->sizes[l];
    m->gp_D = alloc_lines(p, cg_mul(m->ldcap, sum));
    m->gp_G = alloc_lines(p, cg_mul(m->ldcap, sum));
    m->gp_E = alloc_lines(p, cg_mul(m->ldcap, sum));
    m->gp_R = alloc_lines(p, cg_mul(m->ldcap, m->max_width));
    m->gp_P = alloc_lines(p, cg_mul(m->ldcap, m->max_width));
    m->gp_sq = cg_plan_alloc(p, m->ldcap, sizeof *m->gp_sq, 0);
    /* the last hidden layer's weights and one value per unit */
    size_t last = m->L >= 2 ? (size_t)m->sizes[m->L - 2] * (size_t)m->sizes[m->L - 1] : 0;
    m->gp_S = cg_plan_alloc(p, cg_add(last, m->max_width), sizeof *m->gp_S, 0);
}

/* A network's shape without its memory, for counting what it allocates:
 * the struct's tables point into the shell's own arrays. */
typedef struct {
    cg_mlp m;
    int sizes[CG_MAX_LAYERS + 1], acts[CG_MAX_LAYERS];
    double drop[CG_MAX_LAYERS];
    cg_real *z[CG_MAX_LAYERS], *h[CG_MAX_LAYERS], *a[CG_MAX_LAYERS], *mask[CG_MAX_LAYERS];
} mlp_shell;

/* 0 with s holding spec's shape and capacity rows, or -1 when create would
 * refuse the shape (a layer count or size out of range) or the count could
 * overflow */
static int shell_of(mlp_shell *s, const cg_mlp_spec *spec, size_t capacity)
{
    int L = spec->n_layers;
    if (L < 1 || L > CG_MAX_LAYERS || capacity > SIZE_MAX / 4) return -1;
    memset(&s->m, 0, sizeof s->m);
    s->m.L = L;
    for (int l = 0; l <= L; l++) {
        if (spec->sizes[l] < 1 || spec->sizes[l] > CG_MAX_FEATURES) return -1;
        s->sizes[l] = spec->sizes[l];
        if ((size_t)s->sizes[l] > s->m.max_width) s->m.max_width = (size_t)s->sizes[l];
    }
    for (int l = 0; l < L; l++) {
        s->acts[l] = spec->activations[l];
        s->drop[l] = spec->dropout ? spec->dropout[l] : 0.0;
        s->m.n_params = cg_add(s->m.n_params, (size_t)s->sizes[l] * s->sizes[l + 1] + s->sizes[l + 1]);
    }
    s->m.sizes = s->sizes, s->m.acts = s->acts, s->m.drop = s->drop;
    s->m.z = s->z, s->m.h = s->h, s->m.a = s->a, s->m.mask = s->mask;
    s->m.cap = capacity ? capacity : 1;
    s->m.ldcap = fm_ld(s->m.cap);
    return 0;
}

size_t cg_mlp_spec_n_params(const cg_mlp_spec *spec)
{
    mlp_shell s;
    return shell_of(&s, spec, 1) < 0 ? SIZE_MAX : s.m.n_params;
}

void cg_mlp_stack_init(cg_mlp_stack *s, int in, int hidden, int n_hidden, int out, double dropout)
{
    cg_mlp_stack_init_act(s, in, hidden, n_hidden >= 1 ? n_hidden : -1, out, dropout, CG_ACT_RELU, CG_ACT_IDENTITY);
}

void cg_mlp_stack_init_act(cg_mlp_stack *s, int in, int hidden, int n_hidden, int out, double dropout, int act,
                           int out_act)
{
    int L = n_hidden >= 0 && n_hidden <= CG_MAX_N_HIDDEN ? n_hidden + 1 : 0;
    s->sizes[0] = in;
    for (int l = 0; l + 1 < L; l++) {
        s->sizes[l + 1] = hidden;
        s->acts[l] = act;
        s->dropout[l] = dropout;
    }
    if (L) {
        s->sizes[L] = out;
        s->acts[L - 1] = out_act;
        s->dropout[L - 1] = 0;
    }
    s->spec = (cg_mlp_spec){L, s->sizes, s->acts, NULL, s->dropout};
}

/* what create allocates for spec and capacity rows (a view: without the
 * parameter and gradient blocks) */
static size_t mlp_bytes(const cg_mlp_spec *spec, size_t capacity, int view)
{
    mlp_shell s;
    if (shell_of(&s, spec, capacity) < 0) return SIZE_MAX;
    cg_plan p = {0, 1, 0};
    mlp_alloc(&p, s.m.L, s.m.n_params, view);
    cache_alloc(&s.m, s.m.cap, &p);
    return p.bytes;
}

size_t cg_mlp_bytes(const cg_mlp_spec *spec, size_t capacity) { return mlp_bytes(spec, capacity, 0); }
size_t cg_mlp_view_bytes(const cg_mlp_spec *spec, size_t capacity) { return mlp_bytes(spec, capacity, 1); }

size_t cg_mlp_penalty_bytes(const cg_mlp_spec *spec, size_t capacity)
{
    mlp_shell s;
    if (shell_of(&s, spec, capacity) < 0 || s.sizes[s.m.L] != 1) return SIZE_MAX;
    cg_plan p = {0, 1, 0};
    penalty_alloc(&s.m, &p);
    return p.bytes;
}

cg_status cg_mlp_reserve(cg_mlp *m, size_t capacity, char *err)
{
    if (capacity <= m->cap) return CG_OK;
    if (capacity > (size_t)CG_MAX_CACHE_VALUES / (m->max_width ? m->max_width : 1)) {
        cg_set_error(err, "batch of %zu rows is too large for the network cache", capacity);
        return CG_EINVAL;
    }
    free_cache(m);
    cg_plan p = {0, 0, 0};
    cache_alloc(m, capacity, &p);
    if (p.failed) {
        free_cache(m);
        cg_set_error(err, "out of memory reserving a cache of %zu rows", capacity);
        return CG_ENOMEM;
    }
    m->cap = capacity;
    m->ldcap = fm_ld(capacity);
    m->n_last = 0;
    return CG_OK;
}

/* cg_mlp_create, or cg_mlp_create_view when params is not NULL */
static cg_status mlp_create(cg_mlp **out, const cg_mlp_spec *spec, size_t capacity, cg_real *params, cg_real *grads,
                            char *err)
{
    *out = NULL;
    int L = spec->n_layers;
    cg_status st = cg_check_ranges(&(cg_range){"n_layers", L, 1, CG_MAX_LAYERS}, 1, err);
    if (st != CG_OK) return st;
    size_t n_params = 0, max_width = 0;
    for (int l = 0; l <= L; l++) {
        if (spec->sizes[l] < 1 || spec->sizes[l] > CG_MAX_FEATURES) {
            cg_set_error(err, "layer size %d must be between 1 and %d, got %d", l, CG_MAX_FEATURES, spec->sizes[l]);
            return CG_EINVAL;
        }
        if ((size_t)spec->sizes[l] > max_width) max_width = (size_t)spec->sizes[l];
        if (l < L) n_params += (size_t)spec->sizes[l] * spec->sizes[l + 1] + spec->sizes[l + 1];
    }
    if (n_params > (size_t)CG_MAX_PARAMS) {
        cg_set_error(err, "network has %zu parameters, more than %lld", n_params, (long long)CG_MAX_PARAMS);
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
    cg_plan p = {0, 0, 0};
    cg_mlp *m = mlp_alloc(&p, L, n_params, params != NULL);
    if (p.failed) {
        cg_mlp_free(m);
        cg_set_error(err, "out of memory creating a network of %zu parameters", n_params);
        return CG_ENOMEM;
    }
    if (params) {
        m->view = 1;
        m->params = params;
        m->grads = grads;
    }
    m->L = L;
    m->n_params = n_params;
    m->max_width = max_width;
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
    st = cg_mlp_reserve(m, capacity ? capacity : 1, err);
    if (st != CG_OK) {
        cg_mlp_free(m);
        return st;
    }
    *out = m;
    return CG_OK;
}

cg_status cg_mlp_create(cg_mlp **out, const cg_mlp_spec *spec, size_t capacity, char *err)
{
    return mlp_create(out, spec, capacity, NULL, NULL, err);
}

cg_status cg_mlp_create_view(cg_mlp **out, const cg_mlp_spec *spec, size_t capacity, cg_real *params, cg_real *grads,
                             char *err)
{
    if (!params || !grads) {
        *out = NULL;
        cg_set_error(err, "a view network needs parameter and gradient blocks");
        return CG_EINVAL;
    }
    return mlp_create(out, spec, capacity, params, grads, err);
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

/* Layer l's weight gradient dW[in, out] += P^T-by-dZ over n rows, from its
 * input lines P[in, ld] and output gradient lines dZ[out, ld], and its bias
 * gradient (the row sums of dZ) when with_db.  When out is a whole number of
 * panels, dZ is transposed (into the dz scratch) and the gradient is one
 * ordinary product over the rows, whatever the batch; otherwise it is a
 * block of dot products, which need a long batch to pay for their sums
 * across lanes. */
/* dW[in, out] += P dZ^T over n rows, and db[out] += the row sums of dZ
 * when db is not NULL (P: layer l's input lines, dZ: its output lines) */
static void weight_product(cg_mlp *m, int l, const cg_real *P, const cg_real *dZ, size_t n, size_t ld, cg_real *dW,
                           cg_real *db)
{
    size_t in = (size_t)m->sizes[l], out = (size_t)m->sizes[l + 1];
    if (out % CG_FM_ALIGN == 0) {
        static const cg_real one = 1;
        cg_real *T = m->dz;
        size_t ldt = t_ld(out);
        cg_transpose(T, ldt, dZ, ld, out, n, 0);
        cg_gemm_fm_strided(dW, out, P, ld, 1, T, ldt, in, out, n, CG_EPI_ADD, NULL);
        if (db) cg_gemm_fm_strided(db, out, &one, 0, 0, T, ldt, 1, out, n, CG_EPI_ADD, NULL);
    } else {
        cg_gemm_nt(dW, out, P, ld, dZ, ld, in, out, n, db);
    }
}

static void capture_term(cg_mlp_capture *c, const cg_mlp *m, int l, const cg_real *P, const cg_real *dZ, size_t n,
                         size_t ld, int with_db);

static void layer_param_grads(cg_mlp *m, int l, const cg_real *P, const cg_real *dZ, size_t n, size_t ld,
                              int with_db)
{
    if (m->capture) {
        capture_term(m->capture, m, l, P, dZ, n, ld, with_db);
        return;
    }
    weight_product(m, l, P, dZ, n, ld, m->grads + m->w_off[l], with_db ? m->grads + m->b_off[l] : NULL);
}

/* The layers of a forward pass over the n rows of m->xT (filled and
 * padded by the caller, lines of fm_ld(n)); returns the last layer's lines. */
static const cg_real *forward_layers(cg_mlp *m, size_t n, int train, cg_rng *rng)
{
    size_t np = fm_cols(n), ld = fm_ld(n);
    const cg_real *prev = m->xT;
    for (int l = 0; l < m->L; l++) {
        size_t in = (size_t)m->sizes[l], out = (size_t)m->sizes[l + 1];
        const cg_real *W = m->params + m->w_off[l], *b = m->params + m->b_off[l];
        /* z^T = W^T a_prev^T + b, with a ReLU in the product's epilogue */
        if (m->acts[l] == CG_ACT_RELU) {
            cg_gemm_fm(m->h[l], W, 1, out, prev, out, np, in, ld, CG_EPI_BIAS_RELU, b);
        } else {
            cg_gemm_fm(m->z[l], W, 1, out, prev, out, np, in, ld, CG_EPI_BIAS, b);
            if (m->h[l] != m->z[l])
                for (size_t j = 0; j < out; j++)
                    cg_activation_forward(m->h[l] + j * ld, m->z[l] + j * ld, np, (cg_activation)m->acts[l],
                                          m->aparam[l]);
        }
        m->dropped[l] = train && m->drop[l] > 0 && rng;
        if (m->dropped[l]) {
            cg_dropout_forward(m->a[l], m->mask[l], m->h[l], out, n, np, ld, m->drop[l], rng);
        } else if (m->a[l] != m->h[l]) {
            for (size_t j = 0; j < out; j++) memcpy(m->a[l] + j * ld, m->h[l] + j * ld, np * sizeof(cg_real));
        }
        prev = m->a[l];
    }
    m->n_last = n;
    m->ld_last = ld;
    return prev;
}

/* X[n, sizes[0]] -> [n, sizes[L]] */
const cg_real *cg_mlp_forward(cg_mlp *m, const cg_real *X, size_t n, int train, cg_rng *rng)
{
    if (n > m->cap) return NULL;
    size_t np = fm_cols(n), ld = fm_ld(n), in0 = (size_t)m->sizes[0], outL = (size_t)m->sizes[m->L];
    cg_transpose(m->xT, ld, X, in0, n, in0, 0);
    zero_pad(m->xT, in0, n, np, ld);
    const cg_real *last = forward_layers(m, n, train, rng);
    cg_transpose(m->out, outL, last, ld, outL, n, 0);
    return m->out;
}

/* XT[sizes[0], ldx] lines -> the output's lines [sizes[L], *ld] */
const cg_real *cg_mlp_forward_fm(cg_mlp *m, const cg_real *XT, size_t ldx, size_t n, int train, cg_rng *rng,
                                 size_t *ld)
{
    if (n > m->cap || ldx < n) return NULL;
    size_t np = fm_cols(n), ldm = fm_ld(n), in0 = (size_t)m->sizes[0];
    for (size_t j = 0; j < in0; j++) memcpy(m->xT + j * ldm, XT + j * ldx, n * sizeof(cg_real));
    zero_pad(m->xT, in0, n, np, ldm);
    *ld = ldm;
    return forward_layers(m, n, train, rng);
}

/* dOut[n, sizes[L]] -> grads +=, dX[n, sizes[0]] += */
void cg_mlp_backward(cg_mlp *m, cg_real *dX, const cg_real *dOut)
{
    cg_mlp_backward_ex(m, dX, dOut, 1);
}

void cg_mlp_backward_ex(cg_mlp *m, cg_real *dX, const cg_real *dOut, int param_grads)
{
    size_t in0 = (size_t)m->sizes[0];
    cg_mlp_backward_cols(m, dX, in0, 0, in0, dOut, param_grads);
}

/* The backward pass from the output gradient's lines in dA (m->t1,
 * padded with zeros) of the last forward: parameter gradients when
 * param_grads; the input gradient's rows [col0, col0 + ncols) added into dX
 * (row-major, stride ldx) or, when fm, into the lines of dX (stride ldx,
 * every padded column), when dX is not NULL. */
static void backward_layers(cg_mlp *m, cg_real *dX, size_t ldx, size_t col0, size_t ncols, int param_grads, int fm)
{
    size_t n = m->n_last, np = fm_cols(n), ld = m->ld_last;
    cg_real *dA = m->t1;
    int gated = 0; /* dA already holds dZ: the ReLU derivative was applied in the product */
    int which = 0;
    for (int l = m->L - 1; l >= 0; l--) {
        size_t in = (size_t)m->sizes[l], out = (size_t)m->sizes[l + 1];
        if (!gated) {
            for (size_t j = 0; j < out && (m->dropped[l] || m->acts[l] != CG_ACT_IDENTITY); j++) {
                size_t o = j * ld;
                if (m->dropped[l]) cg_dropout_backward(dA + o, m->mask[l] + o, np);
                cg_activation_backward(dA + o, m->z[l] + o, m->h[l] + o, np, (cg_activation)m->acts[l],
                                       m->aparam[l]);
            }
        }
        const cg_real *dZ = dA, *W = m->params + m->w_off[l];
        if (param_grads) {
            const cg_real *prev = l > 0 ? m->a[l - 1] : m->xT;
            layer_param_grads(m, l, prev, dZ, n, ld, 1);
        }
        cg_real *dst = m->buf[which];
        which ^= 1;
        if (l == 0) {
            /* the input gradient: rows [col0, col0 + ncols) of W dZ^T, transposed out */
            if (!dX || col0 >= in) break;
            size_t nc = ncols < in - col0 ? ncols : in - col0;
            if (fm) {
                /* dZ's padding columns are 0, so the padding of dX gains 0 */
                cg_gemm_fm_strided(dX, ldx, W + col0 * out, out, 1, dZ, ld, nc, np, out, CG_EPI_ADD, NULL);
            } else {
                cg_gemm_fm(dst, W + col0 * out, out, 1, dZ, nc, np, out, ld, CG_EPI_STORE, NULL);
                cg_transpose(dX, ldx, dst, ld, nc, n, 1);
            }
            break;
        }
        /* dA_prev^T = W dZ^T, times the ReLU derivative below when it can go in the product */
        gated = m->acts[l - 1] == CG_ACT_RELU && !m->dropped[l - 1];
        cg_gemm_fm(dst, W, out, 1, dZ, in, np, out, ld, gated ? CG_EPI_GATE_RELU : CG_EPI_STORE,
                   gated ? m->z[l - 1] : NULL);
        dA = dst;
    }
}

void cg_mlp_backward_cols(cg_mlp *m, cg_real *dX, size_t ldx, size_t col0, size_t ncols, const cg_real *dOut,
                          int param_grads)
{
    size_t n = m->n_last;
    if (n == 0 || m->cap == 0) return; /* no forward since the cache was (re)built */
    size_t np = fm_cols(n), ld = m->ld_last, outL = (size_t)m->sizes[m->L];
    cg_transpose(m->t1, ld, dOut, outL, n, outL, 0);
    zero_pad(m->t1, outL, n, np, ld);
    backward_layers(m, dX, ldx, col0, ncols, param_grads, 0);
}

void cg_mlp_backward_fm(cg_mlp *m, cg_real *dXT, size_t ldx, const cg_real *dOutT, size_t ldo, int param_grads)
{
    size_t n = m->n_last;
    if (n == 0 || m->cap == 0 || ldo < n || (dXT && ldx < fm_cols(n))) return;
    size_t np = fm_cols(n), ld = m->ld_last, outL = (size_t)m->sizes[m->L];
    for (size_t j = 0; j < outL; j++) memcpy(m->t1 + j * ld, dOutT + j * ldo, n * sizeof(cg_real));
    zero_pad(m->t1, outL, n, np, ld);
    backward_layers(m, dXT, ldx, 0, (size_t)m->sizes[0], param_grads, 1);
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
    cg_plan p = {0, 0, 0};
    cg_real *xb = cg_plan_alloc(&p, cg_mul(batch_size, in), sizeof *xb, 0);
    cg_real *yb = cg_plan_alloc(&p, cg_mul(batch_size, out), sizeof *yb, 0);
    int32_t *lb = cg_plan_alloc(&p, batch_size, sizeof *lb, 0);
    cg_real *dout = cg_plan_alloc(&p, cg_mul(batch_size, out), sizeof *dout, 0);
    int64_t *idx = cg_plan_alloc(&p, batch_size, sizeof *idx, 0);
    if (p.failed) {
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
    cg_free(xb);
    cg_free(yb);
    cg_free(lb);
    cg_free(dout);
    cg_free(idx);
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
    free_penalty(m);
    cg_plan p = {0, 0, 0};
    penalty_alloc(m, &p);
    if (p.failed) {
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

#if defined(__GNUC__)
#define CG_ALWAYS_INLINE __attribute__((always_inline))
#else
#define CG_ALWAYS_INLINE
#endif

/* d1 = f'(z), d2 = f''(z) over a layer's lines (rows x np, stride ld).  The
 * activation is a constant in each case, so act_derivs folds to one
 * branch-free loop that vectorises, instead of a switch per element. */
static inline CG_ALWAYS_INLINE void derivs_loop(int act, double a, const cg_real *z, const cg_real *y,
                                                              size_t rows, size_t np, size_t ld, cg_real *d1,
                                                              cg_real *d2)
{
    for (size_t j = 0; j < rows; j++) {
        const cg_real *restrict zj = z + j * ld, *restrict yj = y + j * ld;
        cg_real *restrict e1 = d1 + j * ld, *restrict e2 = d2 + j * ld;
        for (size_t i = 0; i < np; i++) act_derivs(act, a, zj[i], yj[i], &e1[i], &e2[i]);
    }
}

static void layer_derivs(const cg_mlp *m, int l, size_t np, size_t ld, cg_real *d1, cg_real *d2)
{
    const cg_real *z = m->z[l], *y = m->h[l];
    size_t rows = (size_t)m->sizes[l + 1];
    double a = m->aparam[l];
    switch (m->acts[l]) {
    case CG_ACT_RELU: derivs_loop(CG_ACT_RELU, a, z, y, rows, np, ld, d1, d2); break;
    case CG_ACT_LEAKY_RELU: derivs_loop(CG_ACT_LEAKY_RELU, a, z, y, rows, np, ld, d1, d2); break;
    case CG_ACT_ELU: derivs_loop(CG_ACT_ELU, a, z, y, rows, np, ld, d1, d2); break;
    case CG_ACT_TANH: derivs_loop(CG_ACT_TANH, a, z, y, rows, np, ld, d1, d2); break;
    case CG_ACT_SIGMOID: derivs_loop(CG_ACT_SIGMOID, a, z, y, rows, np, ld, d1, d2); break;
    default: derivs_loop(CG_ACT_IDENTITY, a, z, y, rows, np, ld, d1, d2); break;
    }
}

/* layer l's f'(z) is the 0/1 gate (z > 0) with nothing else to multiply
 * in: a ReLU layer without dropout in the last forward */
static int relu_gate(const cg_mlp *m, int l) { return m->acts[l] == CG_ACT_RELU && !m->dropped[l]; }

/* The second backward's last two layers, when the output is one identity
 * unit without dropout and layer k = L-2 is a ReLU without dropout.  Then
 * D_k = w . g for every row, with w = W_{k+1} (a column) and g = (z_k > 0),
 * so one product S = R_k g^T [s_k, s_{k+1}] gives both gradients:
 *   dW_k += S diag(w),   dW_{k+1}[j] += sum_i W_k[i, j] S[i, j]
 * (the second is sum over rows of R_{k+1} = (R_k W_k) . g), which spares
 * the product R_k W_k.  g is scratch of s_{k+1} lines (not R's). */
static void fold_last_grads(cg_mlp *m, const cg_real *R, cg_real *g, size_t n, size_t np, size_t ld)
{
    int k = m->L - 2;
    size_t in = (size_t)m->sizes[k], out = (size_t)m->sizes[k + 1];
    cg_real *S = m->gp_S, *acc = m->gp_S + in * out;
    for (size_t j = 0; j < out; j++) {
        const cg_real *restrict zj = m->z[k] + j * ld;
        cg_real *restrict gj = g + j * ld;
        for (size_t i = 0; i < np; i++) gj[i] = i < n && zj[i] > 0;
    }
    memset(S, 0, in * out * sizeof(cg_real));
    weight_product(m, k, R, g, n, ld, S, NULL);
    const cg_real *restrict W = m->params + m->w_off[k], *restrict w = m->params + m->w_off[k + 1];
    cg_real *restrict dW = m->grads + m->w_off[k], *restrict dw = m->grads + m->w_off[k + 1];
    memset(acc, 0, out * sizeof(cg_real));
    for (size_t i = 0; i < in; i++) {
        const cg_real *restrict Si = S + i * out, *restrict Wi = W + i * out;
        cg_real *restrict dWi = dW + i * out;
        for (size_t j = 0; j < out; j++) {
            dWi[j] += Si[j] * w[j];
            acc[j] += Wi[j] * Si[j];
        }
    }
    for (size_t j = 0; j < out; j++) dw[j] += acc[j];
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
 * Shapes (row-major terms): G_l [n, s_l], D_l and E_l [n, s_{l+1}]; all are
 * kept feature-major like the activations. */
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
    size_t np = fm_cols(n), ld = m->ld_last;
    size_t offD[CG_MAX_LAYERS + 1], offG[CG_MAX_LAYERS + 2];
    offG[0] = 0;
    for (int l = 0; l <= L; l++) offG[l + 1] = offG[l] + ld * (size_t)m->sizes[l];
    offD[0] = 0;
    for (int l = 0; l < L; l++) offD[l + 1] = offD[l] + ld * (size_t)m->sizes[l + 1];
    cg_real *Gl[CG_MAX_LAYERS + 1], *Dl[CG_MAX_LAYERS], *El[CG_MAX_LAYERS];
    for (int l = 0; l <= L; l++) Gl[l] = m->gp_G + offG[l];
    for (int l = 0; l < L; l++) {
        Dl[l] = m->gp_D + offD[l];
        El[l] = m->gp_E + offD[l];
    }
    /* f' and f'' of the layer being processed; the backward pass's scratch
     * buffers (max_width lines) are free here */
    cg_real *d1 = m->dz, *d2 = m->t1;
    int second_order = 0;
    for (int l = 0; l < L; l++)
        if (m->acts[l] == CG_ACT_ELU || m->acts[l] == CG_ACT_TANH || m->acts[l] == CG_ACT_SIGMOID) second_order = 1;
    /* Without a second-order layer, G_{l+1} of a hidden layer serves only to
     * form D_l: for a ReLU layer without dropout, D_l = G_{l+1} . (z_l > 0)
     * is then the epilogue of the product that makes G_{l+1}, and G_{l+1} is
     * never stored (the same products and factors as the general path). */
    int have_D = 0;
    /* first backward: input gradient of sum(out) (zero in the padding columns) */
    for (size_t i = 0; i < np; i++) Gl[L][i] = i < n;
    for (int l = L - 1; l >= 0; l--) {
        size_t in = (size_t)m->sizes[l], out = (size_t)m->sizes[l + 1];
        if (!have_D) {
            layer_derivs(m, l, np, ld, d1, d2);
            for (size_t j = 0; j < out; j++) {
                const cg_real *restrict Gn = Gl[l + 1] + j * ld, *restrict e1 = d1 + j * ld;
                cg_real *restrict D = Dl[l] + j * ld;
                if (m->dropped[l]) {
                    const cg_real *restrict mk = m->mask[l] + j * ld;
                    for (size_t i = 0; i < np; i++) D[i] = Gn[i] * mk[i] * e1[i];
                } else {
                    for (size_t i = 0; i < np; i++) D[i] = Gn[i] * e1[i];
                }
            }
        }
        have_D = l > 0 && !second_order && relu_gate(m, l - 1);
        if (have_D)
            cg_gemm_fm(Dl[l - 1], m->params + m->w_off[l], out, 1, Dl[l], in, np, out, ld, CG_EPI_GATE_RELU,
                       m->z[l - 1]);
        else
            cg_gemm_fm(Gl[l], m->params + m->w_off[l], out, 1, Dl[l], in, np, out, ld, CG_EPI_STORE, NULL);
    }
    /* the penalty and its gradient with respect to q = G_0[:, :n_pen] */
    size_t in0 = (size_t)m->sizes[0];
    cg_real *R = m->gp_R, *P = m->gp_P;
    double *sq = m->gp_sq;
    for (size_t j = 0; j < in0; j++) memset(R + j * ld, 0, np * sizeof(cg_real));
    for (size_t i = 0; i < n; i++) sq[i] = 0;
    for (size_t j = 0; j < n_pen; j++) {
        const cg_real *q = Gl[0] + j * ld;
        for (size_t i = 0; i < n; i++) sq[i] += (double)q[i] * q[i];
    }
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        double r = sqrt(sq[i]);
        if (norms) norms[i] = r;
        double excess = r - 1;
        if (one_sided && excess < 0) excess = 0;
        total += excess * excess;
        sq[i] = excess != 0 && r > 0 ? scale * 2 * excess / r : 0; /* now dP/dq_i / q_i */
    }
    for (size_t j = 0; j < n_pen; j++) {
        const cg_real *q = Gl[0] + j * ld;
        for (size_t i = 0; i < n; i++)
            if (sq[i] != 0) R[j * ld + i] = (cg_real)(sq[i] * q[i]);
    }
    *penalty = scale * total;
    if (!isfinite(*penalty)) {
        cg_set_error(err, "the gradient penalty is not finite");
        return CG_EFLOAT;
    }
    /* second backward, bottom to top; R_L is not needed, nor E without a
     * second-order layer */
    int fold = !m->capture && !second_order && L >= 2 && relu_gate(m, L - 2) && m->acts[L - 1] == CG_ACT_IDENTITY &&
               !m->dropped[L - 1];
    for (int l = 0; l < L; l++) {
        size_t in = (size_t)m->sizes[l], out = (size_t)m->sizes[l + 1];
        const cg_real *W = m->params + m->w_off[l];
        if (fold && l == L - 2) {
            fold_last_grads(m, R, P, n, np, ld);
            break;
        }
        layer_param_grads(m, l, R, Dl[l], n, ld, 0);
        if (l == L - 1 && !second_order) break;
        if (!second_order && relu_gate(m, l)) {
            /* R_{l+1} = (R_l W_l) . (z_l > 0) in the product's epilogue */
            cg_gemm_fm(P, W, 1, out, R, out, np, in, ld, CG_EPI_GATE_RELU, m->z[l]);
            cg_real *t = R;
            R = P;
            P = t;
            continue;
        }
        cg_gemm_fm(P, W, 1, out, R, out, np, in, ld, CG_EPI_STORE, NULL);
        layer_derivs(m, l, np, ld, d1, d2);
        for (size_t j = 0; j < out; j++) {
            size_t o = j * ld;
            const cg_real *restrict Gn = Gl[l + 1] + o, *restrict Pj = P + o;
            const cg_real *restrict e1 = d1 + o, *restrict e2 = d2 + o;
            cg_real *restrict E = El[l] + o, *restrict Rj = R + o;
            if (m->dropped[l]) {
                const cg_real *restrict mk = m->mask[l] + o;
                for (size_t i = 0; i < np; i++) {
                    E[i] = Pj[i] * Gn[i] * mk[i] * e2[i];
                    Rj[i] = Pj[i] * mk[i] * e1[i];
                }
            } else {
                for (size_t i = 0; i < np; i++) {
                    E[i] = Pj[i] * Gn[i] * e2[i];
                    Rj[i] = Pj[i] * e1[i];
                }
            }
        }
    }
    if (!second_order) return CG_OK;
    /* push E through the forward graph: dZ_l = E_l + (dZ_{l+1} W_{l+1}^T) . m_l . f'(z_l) */
    cg_real *dZ = m->buf[0], *dA = m->buf[1];
    for (size_t j = 0; j < (size_t)m->sizes[L]; j++) memcpy(dZ + j * ld, El[L - 1] + j * ld, np * sizeof(cg_real));
    for (int l = L - 1; l >= 0; l--) {
        size_t in = (size_t)m->sizes[l], out = (size_t)m->sizes[l + 1];
        const cg_real *prev = l > 0 ? m->a[l - 1] : m->xT, *W = m->params + m->w_off[l];
        layer_param_grads(m, l, prev, dZ, n, ld, 1);
        if (l == 0) break;
        cg_gemm_fm(dA, W, out, 1, dZ, in, np, out, ld, CG_EPI_STORE, NULL);
        layer_derivs(m, l - 1, np, ld, d1, d2);
        for (size_t j = 0; j < in; j++) {
            size_t o = j * ld;
            const cg_real *restrict E = El[l - 1] + o, *restrict dAj = dA + o, *restrict e1 = d1 + o;
            cg_real *restrict dZj = dZ + o;
            if (m->dropped[l - 1]) {
                const cg_real *restrict mk = m->mask[l - 1] + o;
                for (size_t i = 0; i < np; i++) dZj[i] = E[i] + dAj[i] * mk[i] * e1[i];
            } else {
                for (size_t i = 0; i < np; i++) dZj[i] = E[i] + dAj[i] * e1[i];
            }
        }
    }
    return CG_OK;
}

/* ------------------------------------------------- per-example gradients */

/* A capture holds the products that a batch's parameter gradient is the sum
 * of.  Every dense layer's weight gradient is a sum over rows of outer
 * products: dW_l += sum_i U[:, i] V[:, i]^T, with U the lines that enter
 * the layer (activations in the forward graph, R in the penalty's second
 * backward) and V the gradient lines at its output (plus V's row sums for
 * the bias).  Row i of every pass captured between begin and end belongs to
 * example i, so example i's gradient of layer l is sum_t U_t[:, i] V_t[:, i]^T
 * over the terms t of layer l, and its squared norm is
 *   sum_{t, t'} (U_t[:, i] . U_t'[:, i]) (V_t[:, i] . V_t'[:, i])
 * (+ sum over the terms with a bias of V_t[:, i] . V_t'[:, i]),
 * a few dot products per row instead of a per-example gradient.  A
 * weighted sum of the examples' gradients is the ordinary product with V's
 * columns scaled (Goodfellow 2015's trick, extended to several rows and to
 * the penalty's terms per example). */
typedef struct {
    int layer, with_db;
    size_t ld;
    cg_real *U, *V;
} capture_rec;

struct cg_mlp_capture {
    int max_terms, n_terms, failed;
    size_t rows, n, values, used;
    capture_rec *rec;
    cg_real *store;
    double *gu, *gv;
};

static size_t capture_values(const cg_mlp_spec *spec, size_t rows, int terms_per_layer)
{
    size_t widths = 0;
    for (int l = 0; l < spec->n_layers; l++) widths = cg_add(widths, (size_t)spec->sizes[l] + (size_t)spec->sizes[l + 1]);
    return cg_mul(cg_mul(widths, fm_ld(rows)), (size_t)terms_per_layer);
}

static void capture_plan(cg_mlp_capture *c, const cg_mlp_spec *spec, size_t rows, int terms_per_layer, cg_plan *p)
{
    c->max_terms = spec->n_layers * terms_per_layer;
    c->rec = cg_plan_alloc(p, (size_t)c->max_terms, sizeof *c->rec, 1);
    c->values = capture_values(spec, rows, terms_per_layer);
    c->store = cg_plan_alloc(p, c->values, sizeof *c->store, 0);
    c->gu = cg_plan_alloc(p, rows, sizeof *c->gu, 0);
    c->gv = cg_plan_alloc(p, rows, sizeof *c->gv, 0);
}

size_t cg_mlp_capture_bytes(const cg_mlp_spec *spec, size_t rows, int terms_per_layer)
{
    cg_mlp_capture shell;
    cg_plan p = {0, 1, 0};
    cg_plan_alloc(&p, 1, sizeof shell, 1);
    capture_plan(&shell, spec, rows, terms_per_layer, &p);
    return p.bytes;
}

void cg_mlp_capture_free(cg_mlp_capture *c)
{
    if (!c) return;
    cg_free(c->rec);
    cg_free(c->store);
    cg_free(c->gu);
    cg_free(c->gv);
    cg_free(c);
}

cg_status cg_mlp_capture_create(cg_mlp_capture **out, const cg_mlp_spec *spec, size_t rows, int terms_per_layer,
                                char *err)
{
    *out = NULL;
    if (rows == 0 || terms_per_layer < 1) {
        cg_set_error(err, "a capture needs rows >= 1 and terms_per_layer >= 1");
        return CG_EINVAL;
    }
    cg_plan p = {0, 0, 0};
    cg_mlp_capture *c = cg_plan_alloc(&p, 1, sizeof *c, 1);
    if (c) capture_plan(c, spec, rows, terms_per_layer, &p);
    if (!c || p.failed) {
        cg_mlp_capture_free(c);
        cg_set_error(err, "out of memory reserving per-example gradients for %zu rows", rows);
        return CG_ENOMEM;
    }
    c->rows = rows;
    *out = c;
    return CG_OK;
}

void cg_mlp_capture_begin(cg_mlp *m, cg_mlp_capture *c)
{
    c->n_terms = 0;
    c->used = 0;
    c->n = 0;
    c->failed = 0;
    m->capture = c;
}

cg_status cg_mlp_capture_end(cg_mlp *m, char *err)
{
    cg_mlp_capture *c = m->capture;
    m->capture = NULL;
    if (c && c->failed) {
        cg_set_error(err, "a per-example capture overflowed (more rows or terms than it was created for, or "
                     "passes of different row counts)");
        return CG_EINVAL;
    }
    return CG_OK;
}

static void capture_term(cg_mlp_capture *c, const cg_mlp *m, int l, const cg_real *P, const cg_real *dZ, size_t n,
                         size_t ld, int with_db)
{
    size_t in = (size_t)m->sizes[l], out = (size_t)m->sizes[l + 1], np = fm_cols(n);
    size_t need = (in + out) * ld;
    if (c->failed) return;
    if (c->n_terms >= c->max_terms || n > c->rows || (c->n && c->n != n) || c->used + need > c->values) {
        c->failed = 1;
        return;
    }
    c->n = n;
    capture_rec *r = &c->rec[c->n_terms++];
    r->layer = l;
    r->with_db = with_db;
    r->ld = ld;
    r->U = c->store + c->used;
    r->V = r->U + in * ld;
    c->used += need;
    /* the rows, then zeros up to the line's end */
    for (size_t j = 0; j < in; j++) {
        memcpy(r->U + j * ld, P + j * ld, n * sizeof(cg_real));
        memset(r->U + j * ld + n, 0, (ld - n) * sizeof(cg_real));
    }
    for (size_t j = 0; j < out; j++) {
        memcpy(r->V + j * ld, dZ + j * ld, n * sizeof(cg_real));
        memset(r->V + j * ld + n, 0, (ld - n) * sizeof(cg_real));
    }
    (void)np;
}

/* acc[i] = sum_j A[j, i] B[j, i] over `lines` lines */
static void line_dots(double *acc, const cg_real *A, const cg_real *B, size_t lines, size_t n, size_t ld)
{
    for (size_t i = 0; i < n; i++) acc[i] = 0;
    for (size_t j = 0; j < lines; j++) {
        const cg_real *restrict a = A + j * ld, *restrict b = B + j * ld;
        for (size_t i = 0; i < n; i++) acc[i] += (double)a[i] * b[i];
    }
}

size_t cg_mlp_capture_rows(const cg_mlp_capture *c) { return c->n; }

void cg_mlp_capture_sqnorms(const cg_mlp *m, const cg_mlp_capture *c, double *sq)
{
    size_t n = c->n;
    for (size_t i = 0; i < n; i++) sq[i] = 0;
    for (int a = 0; a < c->n_terms; a++) {
        const capture_rec *ra = &c->rec[a];
        size_t in = (size_t)m->sizes[ra->layer], out = (size_t)m->sizes[ra->layer + 1];
        for (int b = a; b < c->n_terms; b++) {
            const capture_rec *rb = &c->rec[b];
            if (rb->layer != ra->layer) continue;
            double k = a == b ? 1.0 : 2.0;
            line_dots(c->gu, ra->U, rb->U, in, n, ra->ld);
            line_dots(c->gv, ra->V, rb->V, out, n, ra->ld);
            int bias = ra->with_db && rb->with_db;
            for (size_t i = 0; i < n; i++) sq[i] += k * c->gv[i] * (c->gu[i] + bias);
        }
    }
}

void cg_mlp_capture_accumulate(cg_mlp *m, cg_mlp_capture *c, const double *weight)
{
    size_t n = c->n;
    for (int t = 0; t < c->n_terms; t++) {
        capture_rec *r = &c->rec[t];
        size_t out = (size_t)m->sizes[r->layer + 1];
        for (size_t j = 0; j < out; j++) {
            cg_real *v = r->V + j * r->ld;
            for (size_t i = 0; i < n; i++) v[i] = (cg_real)(v[i] * weight[i]);
        }
        weight_product(m, r->layer, r->U, r->V, n, r->ld, m->grads + m->w_off[r->layer],
                       r->with_db ? m->grads + m->b_off[r->layer] : NULL);
    }
}
