/* cgan.h: the public API of the cgan C core.
 *
 * The core holds the building blocks of every model in cgan (dense layers,
 * activations, losses, multilayer networks, Adam, a seeded RNG) and the
 * adversarial training loops built from them.  It has no Python in it and can
 * be built and tested on its own.
 *
 * Conventions
 *  - Storage and compute are in cg_real: float, or double when CG_DOUBLE is
 *    defined at compile time (the C gradient checks use the double build).
 *    Reductions (losses, means) accumulate in double.
 *  - Matrices are dense and row-major where models take and return them; the
 *    MLP keeps its batches feature-major inside (see matmul).  Shapes are
 *    given in each comment.
 *  - Kernels are forward/backward pairs; outputs come first, then const
 *    inputs, then sizes.  Backward functions ADD into gradient buffers
 *    (those of the parameter-free activations and dropout work in place).
 *  - Functions that can fail return a cg_status and write a message into a
 *    caller-owned buffer `err` of CG_ERR_LEN bytes (err may be NULL).
 *  - Nothing here prints, exits, aborts, asserts on input or keeps global
 *    state.  Each model owns its own RNG.  A model is not safe to use from
 *    two threads at once (its calls share its buffers); the caller
 *    serialises calls on one model.
 *  - Memory: models allocate in create (and the MLP in reserve); the
 *    *_bytes functions say how much before anything is allocated.
 */
#ifndef CGAN_H
#define CGAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef CG_DOUBLE
typedef double cg_real;
#else
typedef float cg_real;
#endif

#define CG_ERR_LEN 256
#define CG_VERSION "0.1.0"

typedef enum {
    CG_OK = 0,
    CG_EINVAL = 1,      /* an argument is out of range */
    CG_ENOMEM = 2,      /* an allocation failed */
    CG_EFLOAT = 3,      /* training produced a NaN or inf */
    CG_EINTERNAL = 4,   /* a bug: a state the core should never reach */
    CG_ESNAPSHOT = 5    /* a snapshot is truncated, corrupt or of another version */
} cg_status;

const char *cg_status_name(cg_status s);

/* ------------------------------------------------------------ limits */
/* Every size limit of the core, defined once: the core checks them when it
 * creates a model, the binding checks arguments against them before any work
 * and exports them as _cgan.LIMITS.  They keep each size in an int and each
 * product of sizes the core forms far from overflowing a size_t. */
#define CG_MAX_FEATURES (1 << 20)           /* GANITE's n_features; units of an MLP layer */
#define CG_MAX_TREATMENTS 1024              /* GANITE's treatment arms, SCIGAN's treatments */
#define CG_MAX_HIDDEN_SIZE (1 << 16)        /* units of a hidden layer of GANITE's and the WGAN's networks */
#define CG_MAX_N_HIDDEN 64                  /* hidden layers of those networks */
#define CG_MAX_LAYERS (CG_MAX_N_HIDDEN + 1) /* dense layers of an MLP (the hidden ones and the output) */
#define CG_MAX_NOISE_DIM 4096               /* noise inputs of a generator */
#define CG_MAX_X_DIM (1 << 16)              /* columns the WGAN generates */
#define CG_MAX_CTX_DIM (1 << 16)            /* columns the WGAN conditions on */
#define CG_MAX_BATCH_SIZE (1 << 24)         /* minibatch rows of GANITE and the WGAN */
#define CG_MAX_INNER_STEPS 1000             /* GANITE's and SCIGAN's d_steps, the WGAN's critic_steps */
#define CG_MAX_DOSAGE_SAMPLES 1024          /* SCIGAN's doses per treatment in a training row */
#define CG_MAX_ITERATIONS ((int64_t)1 << 31) /* iterations of one training call */
#define CG_MAX_ROWS ((int64_t)1 << 31)      /* rows of one MLP forward, minibatch or WGAN sample */
#define CG_MAX_SAMPLES (1 << 20)            /* GANITE's draws per row in one sample call */
#define CG_MAX_SAMPLE_VALUES ((int64_t)4000000000) /* values one sample call returns */
#define CG_MAX_PARAMS ((int64_t)1 << 32)    /* parameters of one MLP */
#define CG_MAX_CACHE_VALUES ((int64_t)1 << 40) /* rows times widest layer of an MLP's cache */

/* CG_OK when every ranges[i] holds lo <= value <= hi; otherwise CG_EINVAL
 * with "name must be between lo and hi, got value" for the first that does
 * not. */
typedef struct {
    const char *name;
    int64_t value, lo, hi;
} cg_range;
cg_status cg_check_ranges(const cg_range *ranges, size_t n, char *err);

/* ------------------------------------------------------------------ RNG */
/* xoshiro256** seeded through splitmix64; one state per model. */
typedef struct { uint64_t s[4]; } cg_rng;

void cg_rng_seed(cg_rng *rng, uint64_t seed);
uint64_t cg_rng_u64(cg_rng *rng);
double cg_rng_uniform(cg_rng *rng);                 /* in [0, 1) */
double cg_rng_normal(cg_rng *rng);                  /* N(0, 1) */
uint64_t cg_rng_below(cg_rng *rng, uint64_t n);     /* uniform in [0, n), unbiased; n >= 1 */
void cg_rng_fill_uniform(cg_rng *rng, cg_real *out, size_t n, double lo, double hi);
void cg_rng_fill_normal(cg_rng *rng, cg_real *out, size_t n, double mean, double sd);
/* minibatch indices drawn with replacement from [0, n_rows) */
void cg_rng_indices(cg_rng *rng, int64_t *out, size_t count, int64_t n_rows);

/* ------------------------------------------------------------ matmul */
/* Feature-major kernels (used by the MLP, which keeps a batch as one line of
 * ld values per unit, ld >= n rounded up to CG_FM_ALIGN).
 *
 * cg_gemm_fm: C[m, n] = A[m, k] B[k, n] with A(i, p) = A[i*rs + p*cs] (so
 * either layout of A, or rs = cs = 0 for a constant) and B, C (and aux where
 * used) of row stride ld; n must be a multiple of CG_FM_ALIGN.  Each value of
 * C is computed the same way whatever m and n.  The epilogue:
 *   CG_EPI_STORE      C = AB
 *   CG_EPI_ADD        C += AB (AB summed first, then added)
 *   CG_EPI_BIAS       C = AB + aux[i] (a bias per row)
 *   CG_EPI_BIAS_RELU  C = max(AB + aux[i], 0)
 *   CG_EPI_GATE_RELU  C = AB * (aux > 0), aux[m, n] of stride ld (the ReLU
 *                     derivative of the pre-activations aux) */
#define CG_FM_ALIGN 16
typedef enum {
    CG_EPI_STORE = 0,
    CG_EPI_ADD = 1,
    CG_EPI_BIAS = 2,
    CG_EPI_BIAS_RELU = 3,
    CG_EPI_GATE_RELU = 4
} cg_epilogue;
void cg_gemm_fm(cg_real *C, const cg_real *A, size_t rs, size_t cs, const cg_real *B, size_t m, size_t n, size_t k,
                size_t ld, cg_epilogue epi, const cg_real *aux);
/* cg_gemm_fm with B of row stride ldb, and C (and aux) of row stride ldc */
void cg_gemm_fm_strided(cg_real *C, size_t ldc, const cg_real *A, size_t rs, size_t cs, const cg_real *B, size_t ldb,
                        size_t m, size_t n, size_t k, cg_epilogue epi, const cg_real *aux);
/* C[m, n] (row stride ldc) += A[m, k] B[n, k]^T, A and B of row strides lda,
 * ldb; and bsum[j] += sum_p B[j, p] when bsum is not NULL. */
void cg_gemm_nt(cg_real *C, size_t ldc, const cg_real *A, size_t lda, const cg_real *B, size_t ldb, size_t m,
                size_t n, size_t k, cg_real *bsum);
/* dst[j*ldd + i] = src[i*lds + j] (add = 1: +=) for i < rows, j < cols.
 * src must hold rows * lds values: a row's last block may be read whole,
 * past column cols (never past the end of src). */
void cg_transpose(cg_real *dst, size_t ldd, const cg_real *src, size_t lds, size_t rows, size_t cols, int add);

/* The instruction sets the kernels above are built for.  Training runs the
 * best one the CPU has; the _isa forms run a named one (a set the CPU or the
 * build lacks runs as the best it has), so that tests and benchmarks can
 * check and time each.  AVX512 and FMA give the same bits in cg_gemm_fm
 * (cg_gemm_nt and cg_transpose run their FMA form under AVX512); the
 * baseline's products round twice where the others fuse. */
typedef enum { CG_ISA_AUTO = 0, CG_ISA_BASELINE = 1, CG_ISA_FMA = 2, CG_ISA_AVX512 = 3 } cg_isa;
cg_isa cg_isa_best(void);
void cg_gemm_fm_isa(cg_isa isa, cg_real *C, size_t ldc, const cg_real *A, size_t rs, size_t cs, const cg_real *B,
                    size_t ldb, size_t m, size_t n, size_t k, cg_epilogue epi, const cg_real *aux);
void cg_gemm_nt_isa(cg_isa isa, cg_real *C, size_t ldc, const cg_real *A, size_t lda, const cg_real *B, size_t ldb,
                    size_t m, size_t n, size_t k, cg_real *bsum);
void cg_transpose_isa(cg_isa isa, cg_real *dst, size_t ldd, const cg_real *src, size_t lds, size_t rows, size_t cols,
                      int add);

/* ---------------------------------------------------------- kernels */
typedef enum {
    CG_ACT_IDENTITY = 0,
    CG_ACT_RELU = 1,
    CG_ACT_LEAKY_RELU = 2,   /* slope `param` for x < 0 */
    CG_ACT_ELU = 3,          /* param * (exp(x) - 1) for x < 0 */
    CG_ACT_TANH = 4,
    CG_ACT_SIGMOID = 5,
    CG_ACT_COUNT = 6
} cg_activation;

/* y[n] = f(x[n]); y may alias x. */
void cg_activation_forward(cg_real *y, const cg_real *x, size_t n, cg_activation act, double param);
/* d[n] *= f'(x[n]), in place: d holds dL/dy on entry and dL/dx on return;
 * y = f(x) is passed so that tanh/sigmoid/ELU reuse it. */
void cg_activation_backward(cg_real *restrict d, const cg_real *restrict x, const cg_real *restrict y, size_t n,
                            cg_activation act, double param);

/* Inverted dropout, p in [0, 1), over feature-major lines: x, y and mask
 * are [units, ld], unit j of row i at j*ld + i.  mask is 0 or 1/(1-p) for
 * rows i < n, drawn row by row (unit by unit within a row), and 0 in the
 * padding columns [n, np); y = x * mask over np columns (y may alias x). */
void cg_dropout_forward(cg_real *y, cg_real *mask, const cg_real *x, size_t units, size_t n, size_t np, size_t ld,
                        double p, cg_rng *rng);
/* d[n] *= mask[n], in place (dL/dy in, dL/dx out) */
void cg_dropout_backward(cg_real *d, const cg_real *mask, size_t n);

/* ------------------------------------------------------------ losses */
/* Each loss returns scale * sum_i w_i * l_i (w may be NULL for all ones) and,
 * when grad is not NULL, adds d(loss)/d(input) into grad.  scale is usually
 * 1/n.  Sums run in double. */

/* l_i = (pred_i - target_i)^2, over n values */
double cg_mse_loss(cg_real *grad, const cg_real *pred, const cg_real *target,
                   const cg_real *w, size_t n, double scale);
/* l_i = BCE(sigmoid(z_i), y_i), computed from logits without overflow */
double cg_bce_logits_loss(cg_real *grad, const cg_real *z, const cg_real *y,
                          const cg_real *w, size_t n, double scale);
/* z[n,k] logits, labels[n] in [0,k): l_i = -log softmax(z_i)[labels_i] */
double cg_softmax_ce_loss(cg_real *grad, const cg_real *z, const int32_t *labels,
                          const cg_real *w, size_t n, size_t k, double scale);
/* l_i = BCE(sigmoid(a_i) sigmoid(c_i'), y_i), c_i' = c[(i / m) * ldc] (one
 * second logit per set of m elements, read with stride ldc): the
 * probability of SCIGAN's hierarchical discriminator, the product of a
 * dosage and a treatment discriminator's, from logits without overflow.
 * grad_a[i] and grad_c[(i / m) * ldc] (either may be NULL) are added to. */
double cg_product_bce_loss(cg_real *grad_a, cg_real *grad_c, const cg_real *a, const cg_real *c, size_t m, size_t ldc,
                           const cg_real *y, size_t n, double scale);

/* -------------------------------------------------------- set layers */
/* A batch of n sets of m elements: rows i*m .. i*m + m - 1 of a row-major
 * array of width w are set i.  With dense layers these make DeepSets'
 * layers (Zaheer et al. 2017): invariant = a per-element map pooled by
 * cg_set_mean; equivariant = cg_set_concat_mean then a dense layer
 * (x Gamma + mean(x) Lambda + b).  Backward passes add. */

/* y[n, w] (row stride ldy) = the mean of each set's rows of x[n*m, w] */
void cg_set_mean_forward(cg_real *y, size_t ldy, const cg_real *x, size_t n, size_t m, size_t w);
/* dx[i*m + s, :] += dy[i, :] / m (dy of row stride ldy) */
void cg_set_mean_backward(cg_real *dx, const cg_real *dy, size_t ldy, size_t n, size_t m, size_t w);
/* y[n*m, 2w] = [x, the mean of x over the element's set] */
void cg_set_concat_mean_forward(cg_real *y, const cg_real *x, size_t n, size_t m, size_t w);
/* dx[n*m, w] += dy[:, :w] + the mean over the element's set of dy[:, w:] */
void cg_set_concat_mean_backward(cg_real *dx, const cg_real *dy, size_t n, size_t m, size_t w);
/* y[i*m + s, j] = x[i*m + s, j] + c[i*ldc + j] (one row of c per set) for
 * j < w, element j of row r of x and y at r*rs + j*cs (row-major: rs = w,
 * cs = 1; the lines of a feature-major batch: rs = 1, cs = ld); y may
 * alias x */
void cg_set_broadcast_forward(cg_real *y, const cg_real *x, size_t rs, size_t cs, const cg_real *c, size_t ldc,
                              size_t n, size_t m, size_t w);
/* dc[i*ldc + j] += the sum of dy over set i (x's gradient is dy) */
void cg_set_broadcast_backward(cg_real *dc, size_t ldc, const cg_real *dy, size_t rs, size_t cs, size_t n, size_t m,
                               size_t w);

/* --------------------------------------------------------------- MLP */
/* A multilayer perceptron: sizes[0] inputs, sizes[n_layers] outputs, with an
 * activation (and optional dropout) after each dense layer.  All parameters
 * sit in one block: for each layer W[in,out] then b[out].  grads has the
 * same layout.  Activations are cached for backward up to `capacity` rows. */
typedef struct cg_mlp cg_mlp;

typedef struct {
    int n_layers;
    const int *sizes;              /* n_layers + 1 entries, each >= 1 */
    const int *activations;        /* n_layers entries of cg_activation */
    const double *act_params;      /* n_layers entries, or NULL for defaults */
    const double *dropout;         /* n_layers entries in [0,1), or NULL */
} cg_mlp_spec;

cg_status cg_mlp_create(cg_mlp **out, const cg_mlp_spec *spec, size_t capacity, char *err);
/* Memory, before anything is allocated.  cg_mlp_bytes: what cg_mlp_create
 * (spec, capacity) allocates (the struct and tables, params and grads, the
 * activation cache for capacity rows); cg_mlp_reserve growing the cache to
 * n rows frees it and allocates the cache part of cg_mlp_bytes(spec, n).
 * cg_mlp_penalty_bytes: what cg_mlp_reserve_penalty allocates for capacity
 * rows.  Both count a spec within the size limits whatever its parameter
 * count, and give SIZE_MAX when the count overflows or the layer count, a
 * size (or, for the penalty, the one output) is out of range.
 * cg_mlp_spec_n_params: the parameters of such a spec (SIZE_MAX likewise). */
size_t cg_mlp_bytes(const cg_mlp_spec *spec, size_t capacity);
size_t cg_mlp_penalty_bytes(const cg_mlp_spec *spec, size_t capacity);
size_t cg_mlp_spec_n_params(const cg_mlp_spec *spec);

/* The networks of the training loops: n_hidden ReLU layers of `hidden`
 * units, each followed by dropout at rate `dropout`, then a linear layer of
 * `out` units.  cg_mlp_stack_init fills s and points s->spec at s's own
 * tables (so s must not be copied); an n_hidden outside [1,
 * CG_MAX_N_HIDDEN] gives a spec of 0 layers, which create refuses. */
typedef struct {
    cg_mlp_spec spec;
    int sizes[CG_MAX_LAYERS + 1], acts[CG_MAX_LAYERS];
    double dropout[CG_MAX_LAYERS];
} cg_mlp_stack;
void cg_mlp_stack_init(cg_mlp_stack *s, int in, int hidden, int n_hidden, int out, double dropout);
/* The same with n_hidden >= 0 hidden layers of activation `act` (cg_activation) and an output layer of
 * activation out_act; an n_hidden outside [0, CG_MAX_N_HIDDEN] gives a spec of 0 layers. */
void cg_mlp_stack_init_act(cg_mlp_stack *s, int in, int hidden, int n_hidden, int out, double dropout, int act,
                           int out_act);
/* A network that is one part of a larger parameter block: cg_mlp_create,
 * but its parameters and gradients are params[n] and grads[n] of the
 * caller's blocks (n = cg_mlp_spec_n_params(spec)), read and written in
 * place and never freed by the network, so several networks can share one
 * block, one Adam and one snapshot.  The blocks must outlive the network.
 * cg_mlp_view_bytes: what it allocates (cg_mlp_bytes without the two
 * blocks). */
cg_status cg_mlp_create_view(cg_mlp **out, const cg_mlp_spec *spec, size_t capacity, cg_real *params, cg_real *grads,
                             char *err);
size_t cg_mlp_view_bytes(const cg_mlp_spec *spec, size_t capacity);
void cg_mlp_free(cg_mlp *m);
/* Grows the activation cache to hold `capacity` rows. */
cg_status cg_mlp_reserve(cg_mlp *m, size_t capacity, char *err);
/* Xavier-uniform weights, zero biases. */
void cg_mlp_init(cg_mlp *m, cg_rng *rng);

size_t cg_mlp_n_params(const cg_mlp *m);
int cg_mlp_n_layers(const cg_mlp *m);
int cg_mlp_size(const cg_mlp *m, int i);           /* sizes[i] */
int cg_mlp_activation(const cg_mlp *m, int i);
double cg_mlp_act_param(const cg_mlp *m, int i);
double cg_mlp_dropout(const cg_mlp *m, int i);
cg_real *cg_mlp_params(cg_mlp *m);
cg_real *cg_mlp_grads(cg_mlp *m);
void cg_mlp_zero_grad(cg_mlp *m);

/* Forward X[n, sizes[0]] -> returns a pointer to the internal output buffer
 * [n, sizes[n_layers]], valid until the next forward.  train != 0 applies
 * dropout with draws from rng.  n must not exceed the reserved capacity
 * (returns NULL then; call cg_mlp_reserve first). */
const cg_real *cg_mlp_forward(cg_mlp *m, const cg_real *X, size_t n, int train, cg_rng *rng);
/* Backward from dOut[n, out] of the last forward: adds parameter gradients
 * into grads and, when dX is not NULL, adds input gradients into dX[n, in]. */
void cg_mlp_backward(cg_mlp *m, cg_real *dX, const cg_real *dOut);
/* As cg_mlp_backward; param_grads = 0 skips the parameter gradients (used
 * when a generator is trained through a frozen discriminator). */
void cg_mlp_backward_ex(cg_mlp *m, cg_real *dX, const cg_real *dOut, int param_grads);
/* As cg_mlp_backward_ex, for callers that need only the input columns
 * [col0, col0 + ncols) of the input gradient (e.g. the generator's share of a
 * discriminator's input): dX[i*ldx + (j - col0)] += d/d input[i, j] for
 * those j (clipped to the input width); the other columns are not computed. */
void cg_mlp_backward_cols(cg_mlp *m, cg_real *dX, size_t ldx, size_t col0, size_t ncols, const cg_real *dOut,
                          int param_grads);

/* Feature-major forms, for callers that keep a batch feature-major between
 * networks and so transpose nothing: the input as lines XT[sizes[0], ldx]
 * (n values each, ldx >= n; copied, so the caller may reuse them), the
 * output as the network's own lines, [sizes[L], *ld] (n values each, then
 * padding), valid until the next forward (NULL when n exceeds the reserved
 * capacity or ldx < n).  Backward takes the output gradient as lines
 * dOutT[sizes[L], ldo] (ldo >= n) and, when dXT is not NULL, adds the input
 * gradient into the lines dXT[sizes[0], ldx], ldx >= n rounded up to
 * CG_FM_ALIGN, whose padding columns gain 0 (nothing happens for ldo < n or
 * too short an ldx).  The bits are those of cg_mlp_forward/backward_ex. */
const cg_real *cg_mlp_forward_fm(cg_mlp *m, const cg_real *XT, size_t ldx, size_t n, int train, cg_rng *rng,
                                 size_t *ld);
void cg_mlp_backward_fm(cg_mlp *m, cg_real *dXT, size_t ldx, const cg_real *dOutT, size_t ldo, int param_grads);

/* Gradient penalty of a one-output critic (WGAN-GP), for the rows of the
 * last forward: P = scale * sum_i pen(|q_i|) with q_i the gradient of output
 * i with respect to the first n_pen inputs of row i, and pen(r) = (r - 1)^2,
 * or max(0, r - 1)^2 when one_sided.  Adds the exact dP/dparams (double
 * backprop, including second derivatives of the activations) into grads.
 * Needs cg_mlp_reserve_penalty after the last cg_mlp_reserve.  norms[n]
 * receives |q_i| when not NULL. */
cg_status cg_mlp_reserve_penalty(cg_mlp *m, char *err);
cg_status cg_mlp_gradient_penalty(cg_mlp *m, size_t n_pen, int one_sided, double scale, double *penalty,
                                  double *norms, char *err);

/* Per-example gradients (for DP-SGD; see mlp.c).  While a capture is
 * attached (begin .. end), backward and gradient_penalty add nothing to
 * grads: each product they would add is kept instead, and row i of every
 * pass run in between (all of the same row count, at most `rows`) counts
 * as part of example i.  sqnorms: sq[i] = |example i's gradient|^2 for the
 * rows of the capture (cg_mlp_capture_rows); accumulate: grads +=
 * sum_i weight[i] * example i's gradient (it consumes the capture).
 * terms_per_layer: the products per layer and example that the capture
 * holds (1 per backward, 1 per penalty, 2 with a second-order activation).
 * end returns CG_EINVAL when the capture overflowed. */
typedef struct cg_mlp_capture cg_mlp_capture;
size_t cg_mlp_capture_bytes(const cg_mlp_spec *spec, size_t rows, int terms_per_layer);
cg_status cg_mlp_capture_create(cg_mlp_capture **out, const cg_mlp_spec *spec, size_t rows, int terms_per_layer,
                                char *err);
void cg_mlp_capture_free(cg_mlp_capture *c);
void cg_mlp_capture_begin(cg_mlp *m, cg_mlp_capture *c);
cg_status cg_mlp_capture_end(cg_mlp *m, char *err);
size_t cg_mlp_capture_rows(const cg_mlp_capture *c);
void cg_mlp_capture_sqnorms(const cg_mlp *m, const cg_mlp_capture *c, double *sq);
void cg_mlp_capture_accumulate(cg_mlp *m, cg_mlp_capture *c, const double *weight);

/* -------------------------------------------------------------- Adam */
typedef struct {
    double lr, beta1, beta2, eps, weight_decay;
    int decoupled;      /* 1: AdamW (decoupled weight decay), 0: L2 added to the gradient */
} cg_adam_config;

typedef struct cg_adam cg_adam;
cg_status cg_adam_create(cg_adam **out, size_t n_params, const cg_adam_config *cfg, char *err);
/* what cg_adam_create allocates (the state and the moments m and v) */
size_t cg_adam_bytes(size_t n_params);
void cg_adam_free(cg_adam *a);
/* New hyperparameters for an existing optimiser; its moments and step count stay. */
cg_status cg_adam_configure(cg_adam *a, const cg_adam_config *cfg, char *err);
/* One step over the whole block, with torch.optim.Adam/AdamW's formulas. */
void cg_adam_step(cg_adam *a, cg_real *params, const cg_real *grads);
int64_t cg_adam_steps(const cg_adam *a);
cg_real *cg_adam_m(cg_adam *a);
cg_real *cg_adam_v(cg_adam *a);
void cg_adam_set_steps(cg_adam *a, int64_t t);
const cg_adam_config *cg_adam_get_config(const cg_adam *a);

/* avg[n] += (1 - d) (params - avg), d = min(max_decay, (1 + t) / (10 + t)):
 * a moving average of a parameter block after step t, whose warm-up keeps
 * the early steps from holding on to the initialisation.  The models
 * predict or sample with such averages, swapped in with cg_swap_blocks. */
void cg_ema_update(cg_real *avg, const cg_real *params, size_t n, int64_t t, double max_decay);
/* exchange the contents of a[n] and b[n] */
void cg_swap_blocks(cg_real *a, cg_real *b, size_t n);

/* ------------------------------------------------- a supervised loop */
/* Minibatch regression of Y[n, out] on X[n, in] with MSE and Adam, for
 * n_iter steps of batch_size rows drawn with replacement.  Writes the
 * minibatch loss of each step into losses[n_iter] (may be NULL).  Grows the
 * cache to batch_size rows, and holds batch_size * ((in + 2 out) *
 * sizeof(cg_real) + 12) bytes of batch buffers while it runs. */
cg_status cg_mlp_fit_mse(cg_mlp *m, cg_adam *opt, cg_rng *rng,
                         const cg_real *X, const cg_real *Y, size_t n,
                         size_t batch_size, size_t n_iter, double *losses, char *err);
/* The same loop for classification: softmax cross-entropy of the network's
 * sizes[L] >= 2 logits against labels[n] in [0, sizes[L]). */
cg_status cg_mlp_fit_softmax(cg_mlp *m, cg_adam *opt, cg_rng *rng, const cg_real *X, const int32_t *labels,
                             size_t n, size_t batch_size, size_t n_iter, double *losses, char *err);

/* ------------------------------------------------------------ GANITE */
/* GANITE (Yoon, Jordon & van der Schaar, 2018) for K >= 2 treatment arms.
 *
 * Counterfactual block: a generator G(x, onehot(t), y, z) -> K potential
 * outcomes, and a discriminator D(x, ybar) that guesses which of the K entries
 * of ybar is the factual one (ybar holds the observed y at t and G's values
 * elsewhere).  D has one logit for K = 2 and K softmax logits otherwise.
 *   D loss = CE(D(x, ybar), t)
 *   G loss = supervised(G_t, y) - alpha * D loss
 * ITE block: I(x) -> K outcomes, fitted to ybar, with the factual entry
 * weighted by beta.
 * Continuous outcomes are standardised internally; binary outcomes are
 * modelled as logits (G and I) with cross-entropy losses. */
typedef struct {
    int n_features;        /* d >= 1 */
    int n_treatments;      /* K >= 2 */
    int hidden_size;       /* width of each hidden layer */
    int n_hidden;          /* hidden layers per network (>= 1) */
    int noise_dim;         /* dimensions of G's noise; 0 gives a deterministic G */
    int binary_outcome;    /* 1: y in {0, 1} */
    int batch_size;
    int d_steps;           /* discriminator steps per generator step */
    double alpha, beta;
    double learning_rate;
    double weight_decay;   /* AdamW decoupled weight decay */
    uint64_t seed;
    /* Weight of the CRPS of G's draws of the factual outcome (two draws per
     * row).  0: GANITE's G, which sees the factual arm and outcome.  > 0
     * (needs noise_dim >= 1 and a continuous outcome): G sees x and noise
     * only, so each arm's draws estimate that arm's conditional
     * distribution; the CRPS replaces the factual squared error. */
    double crps_weight;
} cg_ganite_config;

typedef struct cg_ganite cg_ganite;

cg_status cg_ganite_create(cg_ganite **out, const cg_ganite_config *cfg, char *err);
/* Memory, before anything is allocated: cg_ganite_bytes is what
 * cg_ganite_create allocates (the three networks with their caches for
 * max(batch_size, 1024) rows, their Adam moments, I's moving average, the
 * batch buffers); SIZE_MAX when the count overflows.  cg_ganite_data_bytes
 * is what cg_ganite_set_data allocates for n_rows training rows (its cache
 * of completed outcomes: n_rows * K * sizeof(cg_real) when noise_dim = 0,
 * else 0; it only grows).  Training, predict and sample allocate nothing:
 * they run in chunks of at most 1024 rows through those buffers. */
size_t cg_ganite_bytes(const cg_ganite_config *cfg);
size_t cg_ganite_data_bytes(const cg_ganite_config *cfg, size_t n_rows);
void cg_ganite_free(cg_ganite *g);
const cg_ganite_config *cg_ganite_get_config(const cg_ganite *g);
/* Attach training data X[n,d], T[n] in [0,K), Y[n], of which the model
 * trains on rows[n_rows] (rows = NULL: all n; several models can share one
 * copy of the data, e.g. for cross-fitting).  Not copied: the arrays must
 * stay alive and unchanged while training.  Fixes the outcome scaling. */
cg_status cg_ganite_set_data(cg_ganite *g, const cg_real *X, const int32_t *T, const cg_real *Y,
                             size_t n, const int64_t *rows, size_t n_rows, char *err);
/* Forget the training data (training then needs set_data again). */
void cg_ganite_clear_data(cg_ganite *g);
/* n_iter more iterations of the counterfactual block (d_steps D steps and one
 * G step each); per-iteration losses go to g_loss/d_loss (either may be NULL). */
cg_status cg_ganite_train_counterfactual(cg_ganite *g, size_t n_iter, double *g_loss, double *d_loss,
                                         char *err);
/* n_iter more iterations of the ITE block. */
cg_status cg_ganite_train_ite(cg_ganite *g, size_t n_iter, double *i_loss, char *err);
/* Start the ITE block afresh with the factual weight beta: I's weights are
 * drawn again from the model's stream, its Adam moments, step count and
 * moving average are cleared; G and D are kept.  Copies of one model
 * (restored from one snapshot) restarted with different beta values give
 * I the same initial weights and minibatches, so that their held-out losses
 * differ by beta alone. */
cg_status cg_ganite_restart_ite(cg_ganite *g, double beta, char *err);
/* out[n,K]: I's potential outcomes on the outcome scale (probabilities for a
 * binary outcome), from an exponential moving average of I's weights. */
cg_status cg_ganite_predict(cg_ganite *g, cg_real *out, const cg_real *X, size_t n, char *err);
/* out[n_samples, n, K]: draws of the potential outcomes from G given the
 * observed (X, T, Y); the factual entry is the observed Y.  Binary outcomes
 * are drawn as Bernoulli(G's probability).  The draws come from a stream
 * seeded by `seed`; the model's own RNG is not touched. */
cg_status cg_ganite_sample(cg_ganite *g, cg_real *out, const cg_real *X, const int32_t *T,
                           const cg_real *Y, size_t n, size_t n_samples, uint64_t seed, char *err);
/* Versioned snapshot of the whole state (config, scaling, parameters, Adam
 * moments, RNG).  size() gives the byte count; save writes it; load creates
 * a model from it. */
size_t cg_ganite_snapshot_size(const cg_ganite *g);
cg_status cg_ganite_snapshot(const cg_ganite *g, void *buf, size_t size, char *err);
cg_status cg_ganite_restore(cg_ganite **out, const void *buf, size_t size, char *err);
/* mean[K], sd[K]: the outcome scale of each arm (0 and 1 for a binary outcome) */
void cg_ganite_outcome_scale(const cg_ganite *g, double *mean, double *sd);
/* Per-arm weighted moments of the rows a_r = [1, X[r, :]] (length d + 1)
 * and outcomes Y[r], for the per-arm ridge lines GANITE learns around.
 * For every row r with T[r] = k (in [0, K)) and weight w_r (w[r], or 1 when
 * w is NULL; rows of weight 0 are skipped) this adds
 *   w_r a_r a_r^T into gram[k] ((d + 1) x (d + 1), row-major, symmetric),
 *   w_r Y[r] a_r into cross[k] (d + 1), and w_r Y[r]^2 into sq[k],
 * accumulating in double in row order onto what the outputs hold (zero them
 * first; gram must be symmetric on entry).  CG_EINVAL on a label outside
 * [0, K), a negative or non-finite weight, or d < 0 or K < 1. */
#define CG_MAX_MOMENT_FEATURES (1 << 15) /* columns of X in cg_arm_moments' binding */
cg_status cg_arm_moments(const cg_real *X, const int32_t *T, const cg_real *Y, const double *w, size_t n, int d,
                         int K, double *gram, double *cross, double *sq, char *err);

/* -------------------------------------------------------------- WGAN */
/* A conditional WGAN-GP: G(noise, context) -> p columns, critic(x, context)
 * -> score, with the exact gradient penalty.  See wgan.c. */
typedef struct {
    int x_dim, ctx_dim, noise_dim;
    int hidden_size, n_hidden;
    int batch_size, critic_steps;
    double gp_lambda;
    int one_sided;           /* 1: penalise only gradient norms above 1 */
    double critic_dropout;
    double learning_rate, beta1, beta2;
    uint64_t seed;
} cg_wgan_config;

typedef struct cg_wgan cg_wgan;
/* column_block[x_dim]: -1 for a continuous column, else the id of its
 * categorical (softmax) block, increasing along the columns; lower/upper
 * [x_dim]: bounds of continuous columns (+-inf for none); any may be NULL. */
cg_status cg_wgan_create(cg_wgan **out, const cg_wgan_config *cfg, const int *column_block, const double *lower,
                         const double *upper, char *err);
void cg_wgan_free(cg_wgan *w);
/* What cg_wgan_create allocates (the two networks with their caches for
 * max(batch_size, 1024) rows, the critic's gradient-penalty buffers, the Adam
 * moments, G's moving average, the batch buffers and the column layout),
 * before anything is allocated; SIZE_MAX when the count overflows.
 * set_data, train and sample allocate nothing (sampling runs in chunks of
 * 1024 rows); restore holds x_dim * 20 bytes more while it runs. */
size_t cg_wgan_bytes(const cg_wgan_config *cfg);
const cg_wgan_config *cg_wgan_get_config(const cg_wgan *w);
/* X[n, x_dim] real rows (categorical blocks one-hot), Ctx[n, ctx_dim]; not copied. */
cg_status cg_wgan_set_data(cg_wgan *w, const cg_real *X, const cg_real *Ctx, size_t n, char *err);
void cg_wgan_clear_data(cg_wgan *w);
/* Restart the model's random stream from a seed (e.g. for reproducible sampling). */
void cg_wgan_reseed(cg_wgan *w, uint64_t seed);
/* n_steps generator steps, each after critic_steps critic steps; per-step
 * losses go to the arrays given (each may be NULL). */
cg_status cg_wgan_train(cg_wgan *w, size_t n_steps, double *critic_loss, double *generator_loss,
                        double *penalty, char *err);
/* out[n, x_dim]: samples given ctx[n, ctx_dim], from an exponential moving
 * average of the generator's weights; categorical blocks one-hot. */
cg_status cg_wgan_sample(cg_wgan *w, cg_real *out, const cg_real *ctx, size_t n, char *err);
/* cg_wgan_sample drawing from a stream seeded by `seed`: the model's own RNG
 * is not touched, and the draws are those of cg_wgan_reseed(w, seed)
 * followed by cg_wgan_sample.  Uses the model's buffers, as sampling does. */
cg_status cg_wgan_sample_seeded(cg_wgan *w, cg_real *out, const cg_real *ctx, size_t n, uint64_t seed, char *err);
/* Private training (DP-SGD, see wgan.c): from here on every train step
 * Poisson-samples real rows at sample_rate, clips each row's whole
 * contribution to a step's gradient to max_grad_norm, and adds Gaussian
 * noise of sd noise_multiplier * max_grad_norm to the sum, for the critic's
 * steps and, with a context, the generator's.  Allocates
 * cg_wgan_privacy_bytes(cfg) on its first call.  Not kept in snapshots. */
cg_status cg_wgan_set_privacy(cg_wgan *w, double noise_multiplier, double max_grad_norm, double sample_rate,
                              char *err);
size_t cg_wgan_privacy_bytes(const cg_wgan_config *cfg);
/* The parts of a private step, for tests: cg_poisson_rows takes rows of
 * [0, n) with probability q each, from *next on, at most max of them, and
 * moves *next past them (n once the sample is complete); cg_dp_finish sets
 * g = (g + N(0, sd^2) drawn into noise) / divisor over count values. */
size_t cg_poisson_rows(cg_rng *rng, double q, int64_t n, int64_t *next, int64_t *rows, size_t max);
void cg_dp_finish(cg_rng *rng, cg_real *g, cg_real *noise, size_t count, double sd, double divisor);
/* Versioned snapshot of the whole state, as for GANITE. */
size_t cg_wgan_snapshot_size(const cg_wgan *w);
cg_status cg_wgan_snapshot(const cg_wgan *w, void *buf, size_t size, char *err);
cg_status cg_wgan_restore(cg_wgan **out, const void *buf, size_t size, char *err);

/* ------------------------------------------------------------ SCIGAN */
/* SCIGAN (Bica, Jordon & van der Schaar, NeurIPS 2020): dose-response
 * curves for K >= 1 treatments, each given at a dose in [0, 1].  A
 * generator G(x, y, t, dose, z) outputs each treatment's outcomes at S
 * sampled doses (the factual one among them); a dosage discriminator per
 * treatment (DeepSets-equivariant over the set of (dose, outcome) pairs)
 * and a treatment discriminator (invariant per treatment) try to tell the
 * factual pair, their probabilities multiplied; an inference network
 * I(x, t, dose) is fitted to G's completed sets and the factual outcomes.
 * See scigan.c for the networks and losses. */
typedef struct {
    int n_features;        /* d >= 1 */
    int n_treatments;      /* K >= 1 */
    int hidden_size;       /* width of every hidden layer */
    int n_hidden;          /* hidden layers of each treatment's dose head (>= 1) */
    int n_dosage_samples;  /* S >= 2: doses per treatment in a training row */
    int noise_dim;         /* G's Gaussian noise inputs (0: none) */
    int batch_size;
    int d_steps;           /* discriminator steps (both discriminators) per generator step */
    int activation;        /* cg_activation of the hidden layers (not identity) */
    double alpha;          /* weight of the adversarial term in G's loss */
    double beta;           /* weight of the factual term in I's loss */
    double learning_rate;
    double weight_decay;   /* AdamW decoupled weight decay */
    uint64_t seed;
} cg_scigan_config;

typedef struct cg_scigan cg_scigan;

cg_status cg_scigan_create(cg_scigan **out, const cg_scigan_config *cfg, char *err);
/* What cg_scigan_create allocates (the four networks with their caches, Adam
 * moments, I's moving average, the batch buffers), before anything is;
 * SIZE_MAX for a configuration create refuses or a count that overflows.
 * set_data, training, predict and sample allocate nothing. */
size_t cg_scigan_bytes(const cg_scigan_config *cfg);
void cg_scigan_free(cg_scigan *g);
const cg_scigan_config *cg_scigan_get_config(const cg_scigan *g);
/* Attach training data X[n, d], T[n] in [0, K), D[n] doses in [0, 1] and
 * Y[n], of which the model trains on rows[n_rows] (NULL: all n).  Not
 * copied: the arrays must stay alive and unchanged while training.  Fixes
 * the outcome scaling (mean and sd of the training rows' Y). */
cg_status cg_scigan_set_data(cg_scigan *g, const cg_real *X, const int32_t *T, const cg_real *D, const cg_real *Y,
                             size_t n, const int64_t *rows, size_t n_rows, char *err);
void cg_scigan_clear_data(cg_scigan *g);
/* n_iter more iterations of the adversarial block (d_steps steps of both
 * discriminators, then one generator step); per-iteration losses into the
 * arrays given (any may be NULL; the treatment discriminator's is 0 when
 * K = 1). */
cg_status cg_scigan_train_gan(cg_scigan *g, size_t n_iter, double *g_loss, double *dosage_loss,
                              double *treatment_loss, char *err);
/* n_iter more iterations of the inference network. */
cg_status cg_scigan_train_inference(cg_scigan *g, size_t n_iter, double *i_loss, char *err);
/* out[n, m]: I's outcomes of treatment k at doses[n, m] (in [0, 1]) for the
 * rows of X[n, d], on the outcome scale, from a moving average of I's
 * weights. */
cg_status cg_scigan_predict(cg_scigan *g, cg_real *out, const cg_real *X, int k, const cg_real *doses, size_t n,
                            size_t m, char *err);
/* out[n_samples, n, m]: draws from G of treatment k's outcomes at doses[n,
 * m], given each row's observed (T, D, Y) and fresh noise, from a stream
 * seeded by `seed` (the model's own RNG is not touched). */
cg_status cg_scigan_sample(cg_scigan *g, cg_real *out, const cg_real *X, const int32_t *T, const cg_real *D,
                           const cg_real *Y, int k, const cg_real *doses, size_t n, size_t m, size_t n_samples,
                           uint64_t seed, char *err);
/* the outcome scale: Y = mean + sd * (the networks' scale) */
void cg_scigan_outcome_scale(const cg_scigan *g, double *mean, double *sd);
/* Versioned snapshot of the whole state, as for GANITE. */
size_t cg_scigan_snapshot_size(const cg_scigan *g);
cg_status cg_scigan_snapshot(const cg_scigan *g, void *buf, size_t size, char *err);
cg_status cg_scigan_restore(cg_scigan **out, const void *buf, size_t size, char *err);

#ifdef CG_TEST_HOOKS
/* For the C tests' finite differences only (built with -DCG_TEST_HOOKS):
 * network `net`'s parameter block (0 G, 1 I, 2 the dosage, 3 the treatment
 * discriminator; n_params = 0 for the last when K = 1) and its gradient
 * block; and the loss that trains it, on the batch the model's stream
 * would draw next (the stream is restored, so every call sees the same
 * batch), its gradient left in the gradient block and nothing stepped
 * (NaN on an error). */
cg_real *cg_scigan_test_block(cg_scigan *g, int net, size_t *n_params, cg_real **grads);
double cg_scigan_test_loss(cg_scigan *g, int net);
#endif

/* helpers shared by the training loops */
void cg_set_error(char *err, const char *fmt, ...);
int cg_all_finite(const cg_real *x, size_t n);
/* The checks GANITE's and SCIGAN's set_data share: n > 0 rows of X (n, d),
 * finite, with treatment codes T in [0, K) and finite outcomes Y; rows
 * (n_rows of them, each in [0, n); NULL for every row, when *n_rows
 * becomes n), at least batch_size of them.  CG_OK, or CG_EINVAL naming the
 * first problem. */
cg_status cg_check_training_data(const cg_real *X, size_t d, const int32_t *T, int K, const cg_real *Y, size_t n,
                                 const int64_t *rows, size_t *n_rows, size_t batch_size, char *err);

#ifdef __cplusplus
}
#endif
#endif
