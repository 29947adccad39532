/* test_core.c: the C core's own tests, with no framework and no Python.
 *
 * Built twice by run.sh: with -DCG_DOUBLE (cg_real = double) and without
 * (cg_real = float), each under ASan+UBSan and under valgrind.  Every CHECK
 * prints a FAIL line with details when it does not hold, and main returns 1
 * when any check failed.  Usage: test_core [-v]   (-v, or CG_TEST_VERBOSE=1
 * in the environment, prints the worst error of every comparison).
 *
 * How gradients are checked
 *  Test inputs live in double "master" arrays whose values are representable
 *  in cg_real, so the core sees exactly the master values.  Every kernel under
 *  test has two evaluations of a scalar objective (a loss, or sum(out * R) for
 *  a fixed random R): through the core, and through a naive double
 *  re-implementation written here.  The two forward passes are compared at the
 *  master point, and the core's analytic gradient is compared with central
 *  differences (h = 1e-6) of the objective, using
 *      rel = |a - b| / max(|a| + |b|, GRAD_FLOOR)     (GRAD_FLOOR = 1e-2).
 *
 *  - double build: the differences go through the core itself, tolerance 1e-6.
 *  - float build: finite differences of float code cannot reach a useful
 *    tolerance.  The objective carries rounding noise of ~6e-8 |f|, so with
 *    h = 1e-6 the noise alone is ~5e-2 |f|; with h = 1e-2 the noise drops to
 *    ~5e-6 |f| but the truncation error is O(h^2) = 1e-4 and, worse, the step
 *    crosses ReLU / leaky-ReLU kinks of hidden units, which gives O(1) errors
 *    on the affected entries.  So in the float build the differences (h =
 *    1e-6) are taken of the double reference at the same point (same dropout
 *    masks), i.e. of the exact function the float code approximates, and the
 *    float analytic gradients must match them to 1e-4 (the rounding of a few
 *    float gemms).  The float forward passes are checked against the same
 *    reference separately, so the float build is checked in both directions
 *    against double arithmetic, with a tighter tolerance than 2e-2.
 */
#include "cgan.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CG_DOUBLE
#define BUILD_NAME "double"
#define FD_ON_CORE 1          /* finite differences through the core itself */
#define GRAD_TOL 1e-6
#define FWD_TOL 1e-12         /* core forward vs double reference, floor 1 */
#define ADAM_TOL 1e-10
#define UNIT_ROUNDOFF (DBL_EPSILON / 2)
#else
#define BUILD_NAME "float"
#define FD_ON_CORE 0          /* finite differences of the double reference */
#define GRAD_TOL 1e-4
#define FWD_TOL 2e-5
#define ADAM_TOL 1e-3         /* 50 float steps; m = b1 m + (1-b1) g cancels near 0 */
#define UNIT_ROUNDOFF (FLT_EPSILON / 2)
#endif
#define FD_H 1e-6
/* Gradient entries smaller than GRAD_FLOOR are compared absolutely, at
 * GRAD_TOL * GRAD_FLOOR: 1e-8 in double, where the finite-difference noise of
 * a loss of size ~4 returned as one double is ulp(4) / 2h ~ 2e-10 per entry;
 * 1e-6 in float, whose gradients carry absolute errors ~1e-7 (ELU's
 * f' = y + a and sigmoid's y (1 - y) cancel in float). */
#define GRAD_FLOOR 1e-2
#define LOSS_TOL 1e-12        /* losses sum in double from the same inputs in both builds */

/* ------------------------------------------------------------ checks */

static int g_checks, g_fails, g_verbose;

static int check_at(int ok, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int check_at(int ok, int line, const char *fmt, ...)
{
    g_checks++;
    if (!ok) {
        va_list ap;
        g_fails++;
        printf("FAIL (" BUILD_NAME ") test_core.c:%d: ", line);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        fflush(stdout);
    }
    return ok;
}
#define CHECK(cond, ...) check_at(!!(cond), __LINE__, __VA_ARGS__)

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "test_core: out of memory\n");
        exit(2);
    }
    return p;
}
static double *dalloc(size_t n) { return xcalloc(n, sizeof(double)); }
static cg_real *ralloc(size_t n) { return xcalloc(n, sizeof(cg_real)); }

/* Test data come from their own stream, seeded once in main. */
static cg_rng g_data;

/* uniform in [lo, hi), rounded to cg_real so the core sees the same value */
static double urand(double lo, double hi)
{
    return (double)(cg_real)(lo + (hi - lo) * cg_rng_uniform(&g_data));
}
static void fill_u(double *x, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) x[i] = urand(lo, hi);
}
static void fill_n(double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = (double)(cg_real)cg_rng_normal(&g_data);
}
/* uniform in [lo, hi) but with |x| >= minabs (keeps kinks away from FD steps) */
static void fill_away(double *x, size_t n, double lo, double hi, double minabs)
{
    for (size_t i = 0; i < n; i++) {
        do x[i] = urand(lo, hi);
        while (fabs(x[i]) < minabs);
    }
}
static void to_real(cg_real *d, const double *s, size_t n)
{
    for (size_t i = 0; i < n; i++) d[i] = (cg_real)s[i];
}
static void to_dbl(double *d, const cg_real *s, size_t n)
{
    for (size_t i = 0; i < n; i++) d[i] = (double)s[i];
}
/* sum((y - base) * R): the objective sum(y * R) shifted by a constant.
 * With base = y at the master point the objective is ~0 there, so its
 * rounding error is relative to the change only, not to |sum(y * R)|: this
 * keeps the finite-difference noise at ~1e-10 instead of ulp(f) / 2h. */
static double dot_c(const double *y, const double *base, const double *R, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (base ? y[i] - base[i] : y[i]) * R[i];
    return s;
}

static double rel_err(double a, double b, double floor)
{
    if (!isfinite(a) || !isfinite(b)) return a == b ? 0 : INFINITY;
    double d = fabs(a - b), s = fabs(a) + fabs(b);
    return d / (s > floor ? s : floor);
}

/* One check: every got[i] matches want[i] within tol (relative, with floor). */
static void check_close(const char *what, const double *got, const double *want, size_t n,
                        double tol, double floor)
{
    double worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double e = rel_err(got[i], want[i], floor);
        if (e > worst || isnan(e)) {
            worst = isnan(e) ? INFINITY : e;
            wi = i;
        }
    }
    if (g_verbose) printf("  %-58s n=%-5zu max rel err %.3g\n", what, n, worst);
    CHECK(worst <= tol, "%s: max rel err %.3g > tol %.3g at [%zu]: got %.17g, want %.17g", what,
          worst, tol, wi, n ? got[wi] : 0.0, n ? want[wi] : 0.0);
}
static void check_close_r(const char *what, const cg_real *got, const double *want, size_t n,
                          double tol, double floor)
{
    double *g = dalloc(n);
    to_dbl(g, got, n);
    check_close(what, g, want, n, tol, floor);
    free(g);
}
/* twice[i] == 2 * once[i] up to a rounding or two (an FMA may fuse the second +=) */
static void check_doubled(const char *what, const cg_real *twice, const cg_real *once, size_t n)
{
    size_t bad = n;
    for (size_t i = 0; i < n && bad == n; i++) {
        double want = 2.0 * (double)once[i];
        if (!(fabs((double)twice[i] - want) <= 4 * UNIT_ROUNDOFF * fabs(want))) bad = i;
    }
    CHECK(bad == n, "%s: backward does not accumulate: at [%zu] twice %.17g, once %.17g", what,
          bad, bad < n ? (double)twice[bad] : 0.0, bad < n ? (double)once[bad] : 0.0);
}

/* Objective: the scalar whose gradient is checked, evaluated from the master
 * arrays through the core (on_core = 1) or the double reference (0). */
typedef double (*objective_fn)(void *ctx, int on_core);

static void fd_check(const char *what, objective_fn f, void *ctx, double *x, size_t n,
                     const cg_real *analytic)
{
    double *num = dalloc(n);
    for (size_t i = 0; i < n; i++) {
        double save = x[i], xp = save + FD_H, xm = save - FD_H;
        x[i] = xp;
        double fp = f(ctx, FD_ON_CORE);
        x[i] = xm;
        double fm = f(ctx, FD_ON_CORE);
        x[i] = save;
        num[i] = (fp - fm) / (xp - xm);
    }
    check_close_r(what, analytic, num, n, GRAD_TOL, GRAD_FLOOR);
    free(num);
}

/* Evaluate f at the master point in the finite-difference mode and keep its
 * outputs y[n] as the base of the objective (see dot_c). */
static double *make_base(objective_fn f, void *ctx, const double *y, size_t n)
{
    double *base = dalloc(n);
    f(ctx, FD_ON_CORE);
    memcpy(base, y, n * sizeof *base);
    return base;
}

/* -------------------------------------------------------- activations */

static const char *act_name(int act)
{
    static const char *names[] = {"identity", "relu", "leaky_relu", "elu", "tanh", "sigmoid"};
    return act >= 0 && act < CG_ACT_COUNT ? names[act] : "unknown";
}

/* a is the parameter as the core sees it, (cg_real)param */
static double ref_act(double x, int act, double a)
{
    switch (act) {
    case CG_ACT_RELU: return x > 0 ? x : 0;
    case CG_ACT_LEAKY_RELU: return x > 0 ? x : a * x;
    case CG_ACT_ELU: return x > 0 ? x : a * expm1(x);
    case CG_ACT_TANH: return tanh(x);
    case CG_ACT_SIGMOID: return 1 / (1 + exp(-x));
    default: return x;
    }
}

typedef struct {
    size_t n;
    int act;
    double param;
    double *x, *R, *y;
    cg_real *xr, *yr;
    double *base;
} act_ctx;

static double act_obj(void *vc, int on_core)
{
    act_ctx *c = vc;
    if (on_core) {
        to_real(c->xr, c->x, c->n);
        cg_activation_forward(c->yr, c->xr, c->n, (cg_activation)c->act, c->param);
        to_dbl(c->y, c->yr, c->n);
    } else {
        double a = (double)(cg_real)c->param;
        for (size_t i = 0; i < c->n; i++) c->y[i] = ref_act(c->x[i], c->act, a);
    }
    return dot_c(c->y, c->base, c->R, c->n);
}

/* ELU over a dense sweep of its negative side (the float build computes
 * expm1 with its own vectorised polynomial): within 4 units in the last
 * place of float of a * expm1(x), relatively, from -100 to 0 (tiny |x|
 * included), -1 * a at -inf, NaN kept */
static void test_elu_sweep(double param)
{
    const size_t n = 200003;
    cg_real *x = ralloc(n), *y = ralloc(n);
    for (size_t i = 0; i < n; i++) x[i] = (cg_real)(-100.0 * pow((double)i / (double)(n - 4), 3));
    x[n - 3] = (cg_real)-1e-30;
    x[n - 2] = (cg_real)-INFINITY;
    x[n - 1] = (cg_real)NAN;
    cg_activation_forward(y, x, n, CG_ACT_ELU, param);
    double a = (double)(cg_real)param, worst = 0;
    for (size_t i = 0; i < n - 2; i++) {
        double want = a * expm1((double)x[i]), err = fabs((double)y[i] - want) / (fabs(want) > 0 ? fabs(want) : 1);
        worst = err > worst ? err : worst;
    }
    double tol = sizeof(cg_real) == 4 ? 4 * 5.96e-8 : 4 * 1.12e-16;
    CHECK(worst <= tol, "ELU(%g) sweep: worst relative error %.3g above %.3g", param, worst, tol);
    CHECK(y[n - 2] == (cg_real)-a, "ELU(%g) at -inf gives %g, not %g", param, (double)y[n - 2], -a);
    CHECK(isnan(y[n - 1]), "ELU(%g) at NaN gives %g, not NaN", param, (double)y[n - 1]);
    free(x);
    free(y);
}

static void test_activation(int act, double param)
{
    char name[128];
    const size_t n = 64;
    act_ctx c = {n, act, param, dalloc(n), dalloc(n), dalloc(n), ralloc(n), ralloc(n), NULL};
    /* |x| > 1e-2 keeps the ReLU-type kinks far from x +- h; a few large |x| for saturation */
    fill_away(c.x, n, -3, 3, 1e-2);
    c.x[0] = 12.5;
    c.x[1] = -12.5;
    fill_u(c.R, n, -1, 1);
    double *yref = dalloc(n);
    act_obj(&c, 0);
    memcpy(yref, c.y, n * sizeof *yref);
    act_obj(&c, 1);
    snprintf(name, sizeof name, "activation %s(%g) forward", act_name(act), param);
    check_close(name, c.y, yref, n, FWD_TOL, 1.0);

    /* y may alias x */
    cg_real *inplace = ralloc(n);
    memcpy(inplace, c.xr, n * sizeof *inplace);
    cg_activation_forward(inplace, inplace, n, (cg_activation)act, param);
    CHECK(memcmp(inplace, c.yr, n * sizeof *inplace) == 0, "activation %s: in-place forward differs",
          act_name(act));

    /* backward in place: d = R on entry, dL/dx on return */
    cg_real *dx = ralloc(n);
    to_real(dx, c.R, n);
    cg_activation_backward(dx, c.xr, c.yr, n, (cg_activation)act, param);
    snprintf(name, sizeof name, "activation %s(%g) dx", act_name(act), param);
    c.base = make_base(act_obj, &c, c.y, n);
    fd_check(name, act_obj, &c, c.x, n, dx);

    free(c.x); free(c.R); free(c.y); free(c.xr); free(c.yr); free(c.base);
    free(yref); free(inplace); free(dx);
}

/* ------------------------------------------------------------ dropout */

/* Feature-major dropout as the MLP runs it: units lines of ld values, n rows
 * drawn row by row, padding columns [n, np) masked to 0, columns [np, ld)
 * untouched; backward multiplies by the mask in place. */
static void test_dropout_layout(size_t units, size_t n, size_t np, size_t ld, double p)
{
    const cg_real sentinel = (cg_real)-12345.25, keep = (cg_real)(1.0 / (1.0 - p));
    size_t size = units * ld;
    cg_real *x = ralloc(size), *y = ralloc(size), *mask = ralloc(size), *d = ralloc(size);
    double *t = dalloc(size);
    fill_u(t, size, -2, 2);
    to_real(x, t, size);
    for (size_t i = 0; i < size; i++) y[i] = mask[i] = sentinel;
    cg_rng rng, ref;
    cg_rng_seed(&rng, 99);
    cg_rng_seed(&ref, 99);
    cg_dropout_forward(y, mask, x, units, n, np, ld, p, &rng);
    size_t bad = 0, kept = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < units; j++) {
            cg_real want = cg_rng_uniform(&ref) >= p ? keep : 0;
            bad += mask[j * ld + i] != want;
            kept += want != 0;
        }
    for (size_t j = 0; j < units; j++)
        for (size_t i = n; i < ld; i++) bad += mask[j * ld + i] != (i < np ? 0 : sentinel);
    CHECK(bad == 0, "dropout %zu units x %zu rows (np %zu, ld %zu): %zu mask cells wrong", units, n, np, ld, bad);
    CHECK(memcmp(&rng, &ref, sizeof rng) == 0, "dropout draws more or fewer numbers than one per row and unit");
    CHECK(n * units < 20 || (kept > 0 && kept < n * units), "dropout p=%g kept %zu of %zu", p, kept, n * units);
    bad = 0;
    for (size_t j = 0; j < units; j++)
        for (size_t i = 0; i < ld; i++)
            bad += y[j * ld + i] != (i < np ? x[j * ld + i] * mask[j * ld + i] : sentinel);
    CHECK(bad == 0, "dropout %zu units x %zu rows: %zu cells of y != x * mask", units, n, bad);
    /* backward: dropout is linear, so dL/dx = dL/dy * mask exactly */
    to_real(d, t, size);
    for (size_t j = 0; j < units; j++) cg_dropout_backward(d + j * ld, mask + j * ld, np);
    bad = 0;
    for (size_t j = 0; j < units; j++)
        for (size_t i = 0; i < np; i++) bad += d[j * ld + i] != x[j * ld + i] * mask[j * ld + i];
    CHECK(bad == 0, "dropout backward %zu units x %zu rows: %zu cells wrong", units, n, bad);
    free(x); free(y); free(mask); free(d); free(t);
}

static void test_dropout(void)
{
    test_dropout_layout(3, 13, 16, 20, 0.3);
    test_dropout_layout(1, 40, 48, 48, 0.5);
    test_dropout_layout(7, 16, 16, 32, 0.1);
    test_dropout_layout(2, 0, 16, 16, 0.5);

    /* rate: the dropped fraction over many values is p within 5 sigma */
    const size_t big = 100000;
    const double rates[] = {0.0, 0.1, 0.5, 0.9};
    cg_real *xb = ralloc(big), *yb = ralloc(big), *mb = ralloc(big);
    for (size_t i = 0; i < big; i++) xb[i] = (cg_real)1.5;
    for (size_t r = 0; r < sizeof rates / sizeof *rates; r++) {
        cg_rng rng;
        cg_rng_seed(&rng, 5 + r);
        double pr = rates[r];
        cg_real kp = (cg_real)(1.0 / (1.0 - pr));
        cg_dropout_forward(yb, mb, xb, 1, big, big, big, pr, &rng);
        size_t z = 0, wrong = 0;
        for (size_t i = 0; i < big; i++) {
            z += mb[i] == 0;
            wrong += !(mb[i] == 0 || mb[i] == kp) || yb[i] != xb[i] * mb[i];
        }
        double frac = (double)z / (double)big, sd = sqrt(pr * (1 - pr) / (double)big);
        CHECK(wrong == 0 && fabs(frac - pr) <= 5 * sd + 1e-12,
              "dropout p=%g: dropped fraction %.5f (5 sigma = %.5f), %zu bad values", pr, frac,
              5 * sd, wrong);
    }
    free(xb); free(yb); free(mb);
}

/* ------------------------------------------------------------- losses */

enum { L_MSE, L_BCE, L_SOFTMAX };

typedef struct {
    int kind;
    size_t n, k;
    double scale;
    double *a, *b, *w;    /* mse: pred, target; bce: z, y; softmax: z */
    int32_t *labels;
    cg_real *ar, *br, *wr;
} loss_ctx;

static double loss_core(loss_ctx *c, cg_real *ga)
{
    size_t na = c->kind == L_SOFTMAX ? c->n * c->k : c->n;
    to_real(c->ar, c->a, na);
    if (c->b) to_real(c->br, c->b, c->n);
    if (c->w) to_real(c->wr, c->w, c->n);
    const cg_real *w = c->w ? c->wr : NULL;
    switch (c->kind) {
    case L_MSE: return cg_mse_loss(ga, c->ar, c->br, w, c->n, c->scale);
    case L_BCE: return cg_bce_logits_loss(ga, c->ar, c->br, w, c->n, c->scale);
    default: return cg_softmax_ce_loss(ga, c->ar, c->labels, w, c->n, c->k, c->scale);
    }
}

static double loss_ref(loss_ctx *c)
{
    double s = 0;
    switch (c->kind) {
    case L_MSE:
        for (size_t i = 0; i < c->n; i++) {
            double d = c->a[i] - c->b[i];
            s += (c->w ? c->w[i] : 1.0) * d * d;
        }
        break;
    case L_BCE:
        for (size_t i = 0; i < c->n; i++) {
            double z = c->a[i], y = c->b[i];
            double l = z >= 0 ? z * (1 - y) + log1p(exp(-z)) : -z * y + log1p(exp(z));
            s += (c->w ? c->w[i] : 1.0) * l;
        }
        break;
    default:
        for (size_t i = 0; i < c->n; i++) {
            const double *z = c->a + i * c->k;
            double mx = z[0], se = 0;
            for (size_t j = 1; j < c->k; j++) mx = fmax(mx, z[j]);
            for (size_t j = 0; j < c->k; j++) se += exp(z[j] - mx);
            s += (c->w ? c->w[i] : 1.0) * (mx + log(se) - z[c->labels[i]]);
        }
        break;
    }
    return c->scale * s;
}

static double loss_obj(void *vc, int on_core)
{
    loss_ctx *c = vc;
    return on_core ? loss_core(c, NULL) : loss_ref(c);
}

static void test_loss(const char *label, loss_ctx *c)
{
    char name[128];
    size_t na = c->kind == L_SOFTMAX ? c->n * c->k : c->n;
    double lc = loss_core(c, NULL), lr = loss_ref(c);
    snprintf(name, sizeof name, "%s value", label);
    check_close(name, &lc, &lr, 1, LOSS_TOL, 1e-300);

    cg_real *ga = ralloc(na), *ga2 = ralloc(na);
    double lg = loss_core(c, ga);
    CHECK(lg == lc, "%s: loss with grad %.17g differs from loss without %.17g", label, lg, lc);
    snprintf(name, sizeof name, "%s grad", label);
    fd_check(name, loss_obj, c, c->a, na, ga);
    if (c->kind == L_SOFTMAX) {
        /* each row of the gradient sums to 0 */
        double worst = 0;
        for (size_t i = 0; i < c->n; i++) {
            double s = 0;
            for (size_t j = 0; j < c->k; j++) s += ga[i * c->k + j];
            worst = fmax(worst, fabs(s));
        }
        CHECK(worst <= 1e-6, "%s: a gradient row sums to %.3g, not 0", label, worst);
    }
    loss_core(c, ga2);
    loss_core(c, ga2);
    snprintf(name, sizeof name, "%s grad", label);
    check_doubled(name, ga2, ga, na);
    free(ga); free(ga2);
}

static void free_loss(loss_ctx *c)
{
    free(c->a); free(c->b); free(c->w); free(c->labels);
    free(c->ar); free(c->br); free(c->wr);
}

static void test_losses(void)
{
    char label[96];
    for (int weighted = 0; weighted < 2; weighted++) {
        size_t n = 13;
        loss_ctx c = {L_MSE, n, 1, weighted ? 0.7 / 13 : 1.0 / 13, dalloc(n), dalloc(n),
                      weighted ? dalloc(n) : NULL, NULL, ralloc(n), ralloc(n), ralloc(n)};
        fill_u(c.a, n, -2, 2);
        fill_u(c.b, n, -2, 2);
        if (c.w) fill_u(c.w, n, 0, 2);
        snprintf(label, sizeof label, "mse%s", weighted ? " weighted" : "");
        test_loss(label, &c);
        free_loss(&c);
    }
    for (int weighted = 0; weighted < 2; weighted++) {
        size_t n = 17;
        loss_ctx c = {L_BCE, n, 1, weighted ? 0.3 / 17 : 1.0 / 17, dalloc(n), dalloc(n),
                      weighted ? dalloc(n) : NULL, NULL, ralloc(n), ralloc(n), ralloc(n)};
        fill_u(c.a, n, -5, 5);
        fill_u(c.b, n, 0, 1);
        c.b[0] = 0, c.b[1] = 1, c.b[2] = 0.5, c.b[3] = 1, c.a[3] = -4.5;
        if (c.w) fill_u(c.w, n, 0, 2);
        snprintf(label, sizeof label, "bce_logits%s", weighted ? " weighted" : "");
        test_loss(label, &c);
        free_loss(&c);
    }
    const size_t ks[] = {2, 3, 5};
    for (size_t ki = 0; ki < 3; ki++)
        for (int weighted = 0; weighted < 2; weighted++) {
            size_t n = 7, k = ks[ki];
            loss_ctx c = {L_SOFTMAX, n, k, weighted ? 0.45 / 7 : 1.0 / 7, dalloc(n * k), NULL,
                          weighted ? dalloc(n) : NULL, xcalloc(n, sizeof(int32_t)),
                          ralloc(n * k), NULL, ralloc(n)};
            fill_u(c.a, n * k, -4, 4);
            for (size_t i = 0; i < n; i++) c.labels[i] = (int32_t)cg_rng_below(&g_data, k);
            c.labels[0] = 0;
            c.labels[1] = (int32_t)k - 1;
            if (c.w) fill_u(c.w, n, 0, 2);
            snprintf(label, sizeof label, "softmax_ce K=%zu%s", k, weighted ? " weighted" : "");
            test_loss(label, &c);
            free_loss(&c);
        }
}

/* Logits far out: finite values equal to the analytic ones. */
static void test_loss_extremes(void)
{
    const double zs[] = {100, -100, 1000, -1000, 30, -30};
    const double ys[] = {0, 1, 0.5};
    for (size_t i = 0; i < sizeof zs / sizeof *zs; i++)
        for (size_t j = 0; j < 3; j++) {
            double z = zs[i], y = ys[j];
            cg_real zr = (cg_real)z, yr = (cg_real)y, g = 0;
            double l = cg_bce_logits_loss(&g, &zr, &yr, NULL, 1, 1.0);
            /* the exact values: softplus written for each sign, sigmoid(z) - y */
            double lref = z >= 0 ? z * (1 - y) + log1p(exp(-z)) : -z * y + log1p(exp(z));
            double sig = z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
            double gref = sig - y;
            CHECK(isfinite(l) && isfinite((double)g) && rel_err(l, lref, 1e-6) <= 1e-12 &&
                      rel_err((double)g, gref, 1e-6) <= 1e-6,
                  "bce_logits z=%g y=%g: loss %.17g (want %.17g), grad %.17g (want %.17g)", z, y, l,
                  lref, (double)g, gref);
        }
    {
        /* the values the brief names: z=100: y=0 -> 100, y=1 -> ~0, grad 1 and ~0 */
        cg_real z = 100, y0 = 0, y1 = 1, g0 = 0, g1 = 0;
        double l0 = cg_bce_logits_loss(&g0, &z, &y0, NULL, 1, 1.0);
        double l1 = cg_bce_logits_loss(&g1, &z, &y1, NULL, 1, 1.0);
        CHECK(fabs(l0 - 100) < 1e-9 && fabs(l1) < 1e-30 && fabs((double)g0 - 1) < 1e-7 &&
                  fabs((double)g1) < 1e-30,
              "bce_logits z=100: loss(y=0) %.17g grad %.17g, loss(y=1) %.17g grad %.17g", l0,
              (double)g0, l1, (double)g1);
    }
    {
        /* weighted, scaled, a vector of extreme logits at once */
        cg_real z[4] = {1000, -1000, 100, -100}, y[4] = {0, 0, 1, 1}, w[4] = {0.5, 2, 3, 0.25};
        cg_real g[4] = {0};
        double l = cg_bce_logits_loss(g, z, y, w, 4, 0.5);
        double lref = 0.5 * (0.5 * 1000 + 2 * log1p(exp(-1000.0)) + 3 * log1p(exp(-100.0)) +
                             0.25 * (100 + log1p(exp(-100.0))));
        double gref[4] = {0.5 * 0.5, 0, 0, -0.5 * 0.25};
        int ok = isfinite(l) && rel_err(l, lref, 1e-6) <= 1e-12;
        for (int i = 0; i < 4; i++) ok = ok && fabs((double)g[i] - gref[i]) <= 1e-7;
        CHECK(ok, "bce_logits weighted extremes: loss %.17g want %.17g, grad %g %g %g %g", l, lref,
              (double)g[0], (double)g[1], (double)g[2], (double)g[3]);
    }
    {
        /* softmax CE with logits of 1e4 */
        cg_real z[3] = {1e4, -1e4, 0}, g[3] = {0};
        int32_t lab = 1;
        double l = cg_softmax_ce_loss(g, z, &lab, NULL, 1, 3, 1.0);
        CHECK(isfinite(l) && fabs(l - 2e4) <= 1e-9 * 2e4 && fabs((double)g[0] - 1) < 1e-7 &&
                  fabs((double)g[1] + 1) < 1e-7 && fabs((double)g[2]) < 1e-7,
              "softmax_ce logits +-1e4: loss %.17g (want 2e4), grad %g %g %g", l, (double)g[0],
              (double)g[1], (double)g[2]);
        cg_real z2[3] = {1e4, 1e4, 1e4}, g2[3] = {0};
        int32_t lab2 = 0;
        l = cg_softmax_ce_loss(g2, z2, &lab2, NULL, 1, 3, 1.0);
        CHECK(isfinite(l) && fabs(l - log(3.0)) <= 1e-12 && fabs((double)g2[0] + 2.0 / 3) < 1e-7 &&
                  fabs((double)g2[1] - 1.0 / 3) < 1e-7 && fabs((double)g2[2] - 1.0 / 3) < 1e-7,
              "softmax_ce logits all 1e4: loss %.17g (want log 3), grad %g %g %g", l,
              (double)g2[0], (double)g2[1], (double)g2[2]);
        cg_real z3[2] = {-1e4, -1e4}, g3[2] = {0};
        int32_t lab3 = 1;
        l = cg_softmax_ce_loss(g3, z3, &lab3, NULL, 1, 2, 1.0);
        CHECK(isfinite(l) && fabs(l - log(2.0)) <= 1e-12 && fabs((double)g3[0] - 0.5) < 1e-7 &&
                  fabs((double)g3[1] + 0.5) < 1e-7,
              "softmax_ce logits all -1e4: loss %.17g (want log 2), grad %g %g", l, (double)g3[0],
              (double)g3[1]);
    }
}

/* ---------------------------------------------------------------- MLP */

typedef struct {
    cg_mlp *m;
    int L;
    const int *sizes, *acts;
    size_t n, np, n_in, n_out, max_w;
    int train;
    uint64_t seed;
    double *P, *X, *R, *out, *bufA, *bufB;
    cg_real *Xr;
    double *base;
    double kink;  /* the last reference forward's smallest |z| at a ReLU, leaky ReLU or ELU */
} mlp_ctx;

/* Through the core: params and X from the masters, the rng reseeded so that
 * dropout draws the same masks every time. */
static const cg_real *mlp_core_forward(mlp_ctx *c)
{
    cg_rng rng;
    cg_rng_seed(&rng, c->seed);
    to_real(cg_mlp_params(c->m), c->P, c->np);
    to_real(c->Xr, c->X, c->n * c->n_in);
    return cg_mlp_forward(c->m, c->Xr, c->n, c->train, &rng);
}

/* Naive double forward over the documented parameter layout (W_l[in,out]
 * then b_l[out] per layer), drawing dropout masks in the core's order. */
static void mlp_ref_forward(mlp_ctx *c)
{
    cg_rng rng;
    cg_rng_seed(&rng, c->seed);
    c->kink = INFINITY;
    const double *prev = c->X, *P = c->P;
    double *cur = c->bufA, *other = c->bufB;
    for (int l = 0; l < c->L; l++) {
        size_t in = (size_t)c->sizes[l], out = (size_t)c->sizes[l + 1];
        const double *W = P, *b = P + in * out;
        P += in * out + out;
        double a = (double)(cg_real)cg_mlp_act_param(c->m, l), p = cg_mlp_dropout(c->m, l);
        double keep = (double)(cg_real)(1.0 / (1.0 - p));
        for (size_t i = 0; i < c->n; i++)
            for (size_t j = 0; j < out; j++) {
                double s = b[j];
                for (size_t q = 0; q < in; q++) s += prev[i * in + q] * W[q * out + j];
                if (c->acts[l] == CG_ACT_RELU || c->acts[l] == CG_ACT_LEAKY_RELU || c->acts[l] == CG_ACT_ELU)
                    c->kink = fmin(c->kink, fabs(s));
                cur[i * out + j] = ref_act(s, c->acts[l], a);
            }
        if (c->train && p > 0)
            for (size_t i = 0; i < c->n * out; i++) cur[i] *= cg_rng_uniform(&rng) >= p ? keep : 0;
        prev = cur;
        double *t = cur;
        cur = other;
        other = t;
    }
    memcpy(c->out, prev, c->n * c->n_out * sizeof *c->out);
}

static double mlp_obj(void *vc, int on_core)
{
    mlp_ctx *c = vc;
    if (on_core) {
        const cg_real *o = mlp_core_forward(c);
        if (!o) return NAN;
        to_dbl(c->out, o, c->n * c->n_out);
    } else {
        mlp_ref_forward(c);
    }
    return dot_c(c->out, c->base, c->R, c->n * c->n_out);
}

static void test_mlp(const char *label, int L, const int *sizes, const int *acts,
                     const double *aparam, const double *drop, size_t n, int train)
{
    char name[160];
    char err[CG_ERR_LEN] = "";
    cg_mlp_spec spec = {L, sizes, acts, aparam, drop};
    cg_mlp *m = NULL;
    cg_status st = cg_mlp_create(&m, &spec, n, err);
    if (!CHECK(st == CG_OK && m, "%s: cg_mlp_create: %s (%s)", label, cg_status_name(st), err))
        return;

    /* accessors */
    size_t np = 0, max_w = 0;
    for (int l = 0; l < L; l++) np += (size_t)sizes[l] * sizes[l + 1] + sizes[l + 1];
    for (int l = 0; l <= L; l++) max_w = (size_t)sizes[l] > max_w ? (size_t)sizes[l] : max_w;
    int acc_ok = cg_mlp_n_params(m) == np && cg_mlp_n_layers(m) == L;
    for (int l = 0; l <= L; l++) acc_ok = acc_ok && cg_mlp_size(m, l) == sizes[l];
    for (int l = 0; l < L; l++) {
        double want_ap = aparam ? aparam[l] : acts[l] == CG_ACT_LEAKY_RELU ? 0.2 : 1.0;
        acc_ok = acc_ok && cg_mlp_activation(m, l) == acts[l] && cg_mlp_act_param(m, l) == want_ap &&
                 cg_mlp_dropout(m, l) == (drop ? drop[l] : 0.0);
    }
    CHECK(acc_ok, "%s: accessors do not reflect the spec", label);

    /* Xavier-uniform weights within their bound, zero biases */
    cg_rng r;
    cg_rng_seed(&r, 7);
    cg_mlp_init(m, &r);
    const cg_real *pp = cg_mlp_params(m);
    int init_ok = 1;
    size_t off = 0;
    for (int l = 0; l < L; l++) {
        size_t in = (size_t)sizes[l], out = (size_t)sizes[l + 1];
        double bound = sqrt(6.0 / (double)(in + out)), maxabs = 0;
        for (size_t i = 0; i < in * out; i++) maxabs = fmax(maxabs, fabs((double)pp[off + i]));
        init_ok = init_ok && maxabs <= bound * (1 + 1e-6) && maxabs > 0.3 * bound * (in * out > 8);
        for (size_t j = 0; j < out; j++) init_ok = init_ok && pp[off + in * out + j] == 0;
        off += in * out + out;
    }
    CHECK(init_ok, "%s: cg_mlp_init is not Xavier-uniform with zero biases", label);

    size_t n_in = (size_t)sizes[0], n_out = (size_t)sizes[L];
    mlp_ctx c = {m, L, sizes, acts, n, np, n_in, n_out, max_w, train, 1234, dalloc(np),
                 dalloc(n * n_in), dalloc(n * n_out), dalloc(n * n_out), dalloc(n * max_w),
                 dalloc(n * max_w), ralloc(n * n_in), NULL, 0};
    to_dbl(c.P, pp, np);
    /* random biases too, so that their gradients are not trivial */
    off = 0;
    for (int l = 0; l < L; l++) {
        off += (size_t)sizes[l] * sizes[l + 1];
        fill_u(c.P + off, (size_t)sizes[l + 1], -0.5, 0.5);
        off += (size_t)sizes[l + 1];
    }
    fill_n(c.X, n * n_in);
    /* keep every pre-activation of a kinked layer 1e-3 from its kink (a few
     * redraws of X), so that neither the float rounding of z nor a step of
     * the finite differences crosses it */
    for (int tries = 0; tries < 50; tries++) {
        mlp_ref_forward(&c);
        if (c.kink > 1e-3) break;
        fill_n(c.X, n * n_in);
    }
    CHECK(c.kink > 1e-3, "%s: no input keeps the kinks 1e-3 away", label);
    fill_u(c.R, n * n_out, -1, 1);

    double *oref = dalloc(n * n_out);
    mlp_obj(&c, 0);
    memcpy(oref, c.out, n * n_out * sizeof *oref);
    mlp_obj(&c, 1);
    snprintf(name, sizeof name, "%s forward", label);
    check_close(name, c.out, oref, n * n_out, FWD_TOL, 1.0);

    /* analytic gradients at the master point */
    cg_real *Rr = ralloc(n * n_out), *dX = ralloc(n * n_in), *G = ralloc(np);
    to_real(Rr, c.R, n * n_out);
    mlp_core_forward(&c);
    cg_mlp_zero_grad(m);
    cg_mlp_backward(m, dX, Rr);
    memcpy(G, cg_mlp_grads(m), np * sizeof *G);
    c.base = make_base(mlp_obj, &c, c.out, n * n_out);
    snprintf(name, sizeof name, "%s d(params)", label);
    fd_check(name, mlp_obj, &c, c.P, np, G);
    snprintf(name, sizeof name, "%s d(input)", label);
    fd_check(name, mlp_obj, &c, c.X, n * n_in, dX);

    /* dX = NULL gives the same parameter gradients; a second backward adds */
    cg_real *dX2 = ralloc(n * n_in);
    mlp_core_forward(&c);
    cg_mlp_zero_grad(m);
    size_t nz = 0;
    for (size_t i = 0; i < np; i++) nz += cg_mlp_grads(m)[i] != 0;
    CHECK(nz == 0, "%s: cg_mlp_zero_grad left %zu nonzero gradients", label, nz);
    cg_mlp_backward(m, NULL, Rr);
    CHECK(memcmp(cg_mlp_grads(m), G, np * sizeof *G) == 0,
          "%s: parameter gradients differ when dX is NULL", label);
    cg_mlp_backward(m, dX2, Rr);
    CHECK(memcmp(dX2, dX, n * n_in * sizeof *dX) == 0, "%s: dX differs on a second backward",
          label);
    snprintf(name, sizeof name, "%s grads", label);
    check_doubled(name, cg_mlp_grads(m), G, np);

    /* a range of input columns only (and no parameter gradients): the same
     * values as those columns of the full input gradient */
    if (n_in >= 2) {
        size_t c0 = 1, nc = n_in - 1 < 2 ? n_in - 1 : 2;
        cg_real *dXc = ralloc(n * nc), *G2 = ralloc(np);
        memcpy(G2, cg_mlp_grads(m), np * sizeof *G2);
        cg_mlp_backward_cols(m, dXc, nc, c0, nc, Rr, 0);
        int same = memcmp(G2, cg_mlp_grads(m), np * sizeof *G2) == 0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < nc; j++) same = same && dXc[i * nc + j] == dX[i * n_in + c0 + j];
        CHECK(same, "%s: cg_mlp_backward_cols differs from the full input gradient", label);
        free(dXc);
        free(G2);
    }

    cg_mlp_free(m);
    free(c.P); free(c.X); free(c.R); free(c.out); free(c.bufA); free(c.bufB); free(c.Xr);
    free(c.base);
    free(oref); free(Rr); free(dX); free(G); free(dX2);
}

static void test_mlps(void)
{
    {
        static const int sizes[] = {4, 3}, acts[] = {CG_ACT_TANH};
        test_mlp("mlp depth 1 [tanh]", 1, sizes, acts, NULL, NULL, 5, 1);
    }
    {
        static const int sizes[] = {5, 8, 2}, acts[] = {CG_ACT_RELU, CG_ACT_IDENTITY};
        static const double drop[] = {0.25, 0};
        test_mlp("mlp depth 2 [relu+dropout, identity]", 2, sizes, acts, NULL, drop, 6, 1);
        test_mlp("mlp depth 2 eval mode (dropout off)", 2, sizes, acts, NULL, drop, 6, 0);
    }
    {
        static const int sizes[] = {3, 7, 6, 2};
        static const int acts[] = {CG_ACT_LEAKY_RELU, CG_ACT_ELU, CG_ACT_SIGMOID};
        static const double ap[] = {0.1, 0.7, 0}, drop[] = {0, 0.2, 0};
        test_mlp("mlp depth 3 [leaky(0.1), elu(0.7)+dropout, sigmoid]", 3, sizes, acts, ap, drop, 6,
                 1);
    }
    {
        static const int sizes[] = {6, 9, 5, 4, 3};
        static const int acts[] = {CG_ACT_ELU, CG_ACT_TANH, CG_ACT_RELU, CG_ACT_LEAKY_RELU};
        static const double drop[] = {0.1, 0, 0.3, 0};
        test_mlp("mlp depth 4 [elu+do, tanh, relu+do, leaky]", 4, sizes, acts, NULL, drop, 7, 1);
    }
    {
        /* widths that are whole panels: weight gradients as one product */
        static const int sizes[] = {5, 16, 32, 2};
        static const int acts[] = {CG_ACT_RELU, CG_ACT_TANH, CG_ACT_IDENTITY};
        static const double drop[] = {0.2, 0, 0};
        test_mlp("mlp depth 3 [relu+dropout, tanh, identity], 16 and 32 wide", 3, sizes, acts, NULL, drop, 20,
                 1);
    }
    {
        static const int sizes[] = {2, 5, 5, 5, 1};
        static const int acts[] = {CG_ACT_SIGMOID, CG_ACT_IDENTITY, CG_ACT_TANH, CG_ACT_SIGMOID};
        test_mlp("mlp depth 4 [sigmoid, identity, tanh, sigmoid]", 4, sizes, acts, NULL, NULL, 1, 1);
    }
}

/* Capacity: forward beyond it returns NULL; reserve grows it; a failed
 * reserve leaves the network usable. */
static void test_mlp_capacity(void)
{
    static const int sizes[] = {3, 4, 2}, acts[] = {CG_ACT_TANH, CG_ACT_IDENTITY};
    cg_mlp_spec spec = {2, sizes, acts, NULL, NULL};
    char err[CG_ERR_LEN] = "";
    cg_mlp *m = NULL;
    cg_status st = cg_mlp_create(&m, &spec, 2, err);
    if (!CHECK(st == CG_OK, "capacity: create failed: %s", err)) return;
    cg_rng r;
    cg_rng_seed(&r, 3);
    cg_mlp_init(m, &r);
    cg_real X[10 * 3];
    for (int i = 0; i < 30; i++) X[i] = (cg_real)(0.1 * (i % 7) - 0.3);
    CHECK(cg_mlp_forward(m, X, 2, 0, NULL) != NULL, "capacity: forward at capacity returned NULL");
    CHECK(cg_mlp_forward(m, X, 3, 0, NULL) == NULL, "capacity: forward past capacity did not fail");
    st = cg_mlp_reserve(m, 10, err);
    CHECK(st == CG_OK, "capacity: reserve(10): %s", err);
    const cg_real *o = cg_mlp_forward(m, X, 10, 0, NULL);
    cg_real o10[20];
    if (CHECK(o != NULL, "capacity: forward of 10 rows after reserve(10) returned NULL"))
        memcpy(o10, o, sizeof o10);
    err[0] = 0;
    st = cg_mlp_reserve(m, (size_t)1 << 45, err);
    CHECK(st == CG_EINVAL && err[0], "capacity: reserve(2^45) gave %s, message '%s'",
          cg_status_name(st), err);
    o = cg_mlp_forward(m, X, 10, 0, NULL);
    CHECK(o && memcmp(o, o10, sizeof o10) == 0, "capacity: network unusable after a failed reserve");
    /* rows are independent: the first 2 rows equal a 2-row forward */
    o = cg_mlp_forward(m, X, 2, 0, NULL);
    CHECK(o && memcmp(o, o10, 4 * sizeof *o) == 0, "capacity: 2-row forward differs from 10-row");
    cg_mlp_free(m);
}

/* ------------------------------------------ feature-major kernels */

/* Largest |C - reference| / bound over C's m x n entries (row stride ldc),
 * against a double product of A (element (i, p) at i*rs + p*cs) and B (row
 * stride ldb) with epilogue epi (C0 the initial C, b the bias, gate the
 * gate, both of row stride ldc where they are matrices); counts into
 * *guard_bad the cells of columns [n, ldc) that no longer hold sentinel. */
static double fm_error_ratio(const cg_real *C, size_t ldc, const double *A, size_t rs, size_t cs, const double *B,
                             size_t ldb, const double *C0, const double *b, const double *gate, size_t m, size_t n,
                             size_t k, int epi, cg_real sentinel, size_t *guard_bad)
{
    double worst = 0;
    *guard_bad = 0;
    for (size_t i = 0; i < m; i++) {
        for (size_t j = n; j < ldc; j++) *guard_bad += C[i * ldc + j] != sentinel;
        for (size_t j = 0; j < n; j++) {
            double s = 0, sabs = 0;
            for (size_t p = 0; p < k; p++) {
                double t = A[i * rs + p * cs] * B[p * ldb + j];
                s += t;
                sabs += fabs(t);
            }
            if (epi == CG_EPI_ADD) s += C0[i * ldc + j], sabs += fabs(C0[i * ldc + j]);
            if (epi == CG_EPI_BIAS || epi == CG_EPI_BIAS_RELU) s += b[i], sabs += fabs(b[i]);
            if (epi == CG_EPI_BIAS_RELU) s = s > 0 ? s : 0;
            if (epi == CG_EPI_GATE_RELU) s = gate[i * ldc + j] > 0 ? s : 0;
            double bound = 2 * (double)(k + 3) * UNIT_ROUNDOFF * sabs;
            double e = fabs((double)C[i * ldc + j] - s);
            double ratio = e == 0 ? 0 : bound > 0 ? e / bound : INFINITY;
            if (!(ratio <= worst)) worst = isnan(ratio) ? INFINITY : ratio;
        }
    }
    return worst;
}

static const char *isa_name(cg_isa isa)
{
    static const char *names[] = {"auto", "baseline", "fma", "avx512"};
    return names[isa];
}

/* cg_gemm_fm at one instruction set against a double reference, for A
 * stored [m, k] (trans 0) or [k, m] (trans 1) and every epilogue; columns
 * [n, ld) must stay untouched. */
static void test_gemm_fm_shape(cg_isa isa, size_t m, size_t n, size_t k, size_t ld)
{
    const cg_real sentinel = (cg_real)-12345.25;
    double *A = dalloc(m * k + 1), *B = dalloc(k * ld + 1), *C0 = dalloc(m * ld + 1), *b = dalloc(m + 1);
    double *gate = dalloc(m * ld + 1);
    fill_u(A, m * k, -1, 1);
    fill_u(B, k * ld, -1, 1);
    fill_u(C0, m * ld, -1, 1);
    fill_u(b, m, -1, 1);
    fill_u(gate, m * ld, -1, 1);
    cg_real *Ar = ralloc(m * k + 1), *Br = ralloc(k * ld + 1), *C = ralloc(m * ld + 1), *br = ralloc(m + 1);
    cg_real *gr = ralloc(m * ld + 1), *first = ralloc(m * ld + 1);
    to_real(Br, B, k * ld);
    to_real(br, b, m);
    to_real(gr, gate, m * ld);
    for (int ta = 0; ta < 2; ta++) {
        size_t rs = ta ? 1 : k, cs = ta ? m : 1;
        to_real(Ar, A, m * k);
        for (int epi = CG_EPI_STORE; epi <= CG_EPI_GATE_RELU; epi++) {
            for (size_t i = 0; i < m * ld; i++) C[i] = (i % ld) < n ? (cg_real)C0[i] : sentinel;
            const cg_real *aux = epi == CG_EPI_GATE_RELU ? gr : br;
            cg_gemm_fm_isa(isa, C, ld, Ar, rs, cs, Br, ld, m, n, k, (cg_epilogue)epi, aux);
            size_t guard_bad;
            double worst = fm_error_ratio(C, ld, A, rs, cs, B, ld, C0, b, gate, m, n, k, epi, sentinel, &guard_bad);
            if (g_verbose)
                printf("  gemm_fm[%s] %zux%zux%zu ld=%zu ta=%d epi=%d: max err/bound %.3g\n", isa_name(isa), m, n,
                       k, ld, ta, epi, worst);
            CHECK(worst <= 1 && guard_bad == 0,
                  "gemm_fm[%s] m=%zu n=%zu k=%zu ld=%zu ta=%d epi=%d: error/bound %.3g, %zu padding cells written",
                  isa_name(isa), m, n, k, ld, ta, epi, worst, guard_bad);
            if (epi == CG_EPI_STORE) memcpy(first, C, m * ld * sizeof *C);
        }
        /* the same inputs give bit-identical outputs, and a row's values do
         * not depend on how many rows are computed with it */
        for (size_t i = 0; i < m * ld; i++) C[i] = sentinel;
        cg_gemm_fm_isa(isa, C, ld, Ar, rs, cs, Br, ld, m, n, k, CG_EPI_STORE, NULL);
        int same = memcmp(C, first, m * ld * sizeof *C) == 0;
        if (m > 1) {
            cg_gemm_fm_isa(isa, C, ld, Ar + rs, rs, cs, Br, ld, m - 1, n, k, CG_EPI_STORE, NULL);
            same = same && memcmp(C, first + ld, (m - 1) * ld * sizeof *C) == 0;
        }
        CHECK(same, "gemm_fm[%s] %zux%zux%zu ta=%d: a repeated or a shorter product differs", isa_name(isa), m, n,
              k, ta);
        /* CG_EPI_ADD sums the product before adding it: the same product
         * added twice to zero doubles exactly (within one block of k) */
        if (k <= 256) {
            memset(C, 0, m * ld * sizeof *C);
            cg_gemm_fm_isa(isa, C, ld, Ar, rs, cs, Br, ld, m, n, k, CG_EPI_ADD, NULL);
            cg_gemm_fm_isa(isa, C, ld, Ar, rs, cs, Br, ld, m, n, k, CG_EPI_ADD, NULL);
            size_t bad = 0;
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++) bad += C[i * ld + j] != 2 * first[i * ld + j];
            CHECK(bad == 0, "gemm_fm[%s] %zux%zux%zu ta=%d: adding a product twice is not exact (%zu cells)",
                  isa_name(isa), m, n, k, ta, bad);
        }
    }
    free(A); free(B); free(C0); free(b); free(gate);
    free(Ar); free(Br); free(C); free(br); free(gr); free(first);
}

/* cg_gemm_fm_strided: B of row stride ldb, C and the gate of row stride ldc,
 * against a double reference for every epilogue (A read transposed, as the
 * weight gradients read it, and as stored); columns [n, ldc) stay untouched,
 * and the values are those of cg_gemm_fm on B copied to stride ldc. */
static void test_gemm_fm_strided_shape(cg_isa isa, size_t m, size_t n, size_t k, size_t ldb, size_t ldc)
{
    const cg_real sentinel = (cg_real)-12345.25;
    double *A = dalloc(m * k + 1), *B = dalloc(k * ldb + 1), *C0 = dalloc(m * ldc + 1), *b = dalloc(m + 1);
    double *gate = dalloc(m * ldc + 1);
    fill_u(A, m * k, -1, 1);
    fill_u(B, k * ldb, -1, 1);
    fill_u(C0, m * ldc, -1, 1);
    fill_u(b, m, -1, 1);
    fill_u(gate, m * ldc, -1, 1);
    cg_real *Ar = ralloc(m * k + 1), *Br = ralloc(k * ldb + 1), *Bc = ralloc(k * ldc + 1), *C = ralloc(m * ldc + 1);
    cg_real *C2 = ralloc(m * ldc + 1), *br = ralloc(m + 1), *gr = ralloc(m * ldc + 1);
    to_real(Ar, A, m * k);
    to_real(Br, B, k * ldb);
    for (size_t p = 0; p < k; p++)
        for (size_t j = 0; j < ldc; j++) Bc[p * ldc + j] = j < n ? Br[p * ldb + j] : 0;
    to_real(br, b, m);
    to_real(gr, gate, m * ldc);
    for (int ta = 0; ta < 2; ta++) {
        size_t rs = ta ? 1 : k, cs = ta ? m : 1;
        for (int epi = CG_EPI_STORE; epi <= CG_EPI_GATE_RELU; epi++) {
            for (size_t i = 0; i < m * ldc; i++) C[i] = C2[i] = (i % ldc) < n ? (cg_real)C0[i] : sentinel;
            const cg_real *aux = epi == CG_EPI_GATE_RELU ? gr : br;
            cg_gemm_fm_isa(isa, C, ldc, Ar, rs, cs, Br, ldb, m, n, k, (cg_epilogue)epi, aux);
            cg_gemm_fm_isa(isa, C2, ldc, Ar, rs, cs, Bc, ldc, m, n, k, (cg_epilogue)epi, aux);
            size_t guard_bad;
            double worst = fm_error_ratio(C, ldc, A, rs, cs, B, ldb, C0, b, gate, m, n, k, epi, sentinel, &guard_bad);
            CHECK(worst <= 1 && guard_bad == 0,
                  "gemm_fm_strided[%s] m=%zu n=%zu k=%zu ldb=%zu ldc=%zu ta=%d epi=%d: error/bound %.3g, %zu "
                  "padding cells written", isa_name(isa), m, n, k, ldb, ldc, ta, epi, worst, guard_bad);
            CHECK(memcmp(C, C2, m * ldc * sizeof *C) == 0,
                  "gemm_fm_strided[%s] m=%zu n=%zu k=%zu ldb=%zu ldc=%zu ta=%d epi=%d: differs from B at stride ldc",
                  isa_name(isa), m, n, k, ldb, ldc, ta, epi);
        }
    }
    free(A); free(B); free(C0); free(b); free(gate);
    free(Ar); free(Br); free(Bc); free(C); free(C2); free(br); free(gr);
}

/* cg_gemm_nt: C[m, n] (row stride ldc) += A[m, k] B[n, k]^T, and the row
 * sums of B on the side */
static void test_gemm_nt_shape(cg_isa isa, size_t m, size_t n, size_t k)
{
    size_t lda = k + 3, ldb = k + 5, ldc = n + 2;
    double *A = dalloc(m * lda + 1), *B = dalloc(n * ldb + 1), *C0 = dalloc(m * ldc + 1);
    fill_u(A, m * lda, -1, 1);
    fill_u(B, n * ldb, -1, 1);
    fill_u(C0, m * ldc, -1, 1);
    cg_real *Ar = ralloc(m * lda + 1), *Br = ralloc(n * ldb + 1), *C = ralloc(m * ldc + 1);
    to_real(Ar, A, m * lda);
    to_real(Br, B, n * ldb);
    to_real(C, C0, m * ldc);
    cg_real *bs = ralloc(n + 1);
    for (size_t j = 0; j < n; j++) bs[j] = (cg_real)0.5;
    cg_gemm_nt_isa(isa, C, ldc, Ar, lda, Br, ldb, m, n, k, bs);
    double worst = 0, bworst = 0;
    for (size_t j = 0; j < n; j++) {
        double s = 0.5, sabs = 0.5;
        for (size_t p = 0; p < k; p++) s += B[j * ldb + p], sabs += fabs(B[j * ldb + p]);
        double bound = 2 * (double)(k + 2) * UNIT_ROUNDOFF * sabs, e = fabs((double)bs[j] - s);
        double ratio = e == 0 ? 0 : bound > 0 ? e / bound : INFINITY;
        if (!(ratio <= bworst)) bworst = isnan(ratio) ? INFINITY : ratio;
    }
    CHECK(bworst <= 1, "gemm_nt[%s] m=%zu n=%zu k=%zu: row sums of B, error/bound %.3g", isa_name(isa), m, n, k,
          bworst);
    /* without bsum: the same products */
    cg_real *C2 = ralloc(m * ldc + 1);
    to_real(C2, C0, m * ldc);
    cg_gemm_nt_isa(isa, C2, ldc, Ar, lda, Br, ldb, m, n, k, NULL);
    CHECK(m == 0 || memcmp(C, C2, m * ldc * sizeof *C) == 0, "gemm_nt[%s] m=%zu n=%zu k=%zu: bsum changes C",
          isa_name(isa), m, n, k);
    free(bs);
    free(C2);
    size_t guard_bad = 0;
    for (size_t i = 0; i < m; i++) {
        for (size_t j = n; j < ldc; j++) guard_bad += C[i * ldc + j] != (cg_real)C0[i * ldc + j];
        for (size_t j = 0; j < n; j++) {
            double s = C0[i * ldc + j], sabs = fabs(s);
            for (size_t p = 0; p < k; p++) {
                double t = A[i * lda + p] * B[j * ldb + p];
                s += t;
                sabs += fabs(t);
            }
            double bound = 2 * (double)(k + 2) * UNIT_ROUNDOFF * sabs;
            double e = fabs((double)C[i * ldc + j] - s);
            double ratio = e == 0 ? 0 : bound > 0 ? e / bound : INFINITY;
            if (!(ratio <= worst)) worst = isnan(ratio) ? INFINITY : ratio;
        }
    }
    if (g_verbose) printf("  gemm_nt[%s] %zux%zux%zu: max err/bound %.3g\n", isa_name(isa), m, n, k, worst);
    CHECK(worst <= 1 && guard_bad == 0, "gemm_nt[%s] m=%zu n=%zu k=%zu: error/bound %.3g, %zu other cells changed",
          isa_name(isa), m, n, k, worst, guard_bad);
    free(A); free(B); free(C0); free(Ar); free(Br); free(C);
}

/* cg_transpose, exact, plain and adding */
static void test_transpose_shape(cg_isa isa, size_t rows, size_t cols)
{
    const cg_real sentinel = (cg_real)-12345.25;
    size_t lds = cols + (cols % 3), ldd = rows + 5;
    double *S = dalloc(rows * lds + 1), *D0 = dalloc(cols * ldd + 1);
    fill_u(S, rows * lds, -1, 1);
    fill_u(D0, cols * ldd, -1, 1);
    cg_real *Sr = ralloc(rows * lds + 1), *D = ralloc(cols * ldd + 1);
    to_real(Sr, S, rows * lds);
    for (int add = 0; add < 2; add++) {
        for (size_t t = 0; t < cols * ldd; t++) D[t] = (t % ldd) < rows ? (cg_real)D0[t] : sentinel;
        cg_transpose_isa(isa, D, ldd, Sr, lds, rows, cols, add);
        size_t bad = 0;
        for (size_t j = 0; j < cols; j++)
            for (size_t i = 0; i < ldd; i++) {
                cg_real want = i >= rows ? sentinel : add ? (cg_real)D0[j * ldd + i] + Sr[i * lds + j] : Sr[i * lds + j];
                bad += D[j * ldd + i] != want;
            }
        CHECK(bad == 0, "transpose[%s] %zux%zu add=%d: %zu cells wrong", isa_name(isa), rows, cols, add, bad);
    }
    free(S); free(D0); free(Sr); free(D);
}

/* The fused sets (FMA, AVX512) give the same bits as each other and as
 * what training runs (the best set); the baseline rounds each product, so
 * it only has to meet the error bound above. */
static void test_fm_same_bits(size_t m, size_t n, size_t k)
{
    cg_real *A = ralloc(m * k), *B = ralloc(k * n), *nb = ralloc(n), *nb2 = ralloc(n);
    cg_real *C = ralloc(m * n), *C2 = ralloc(m * n);
    double *t = dalloc(m * k + k * n);
    fill_u(t, m * k + k * n, -1, 1);
    to_real(A, t, m * k);
    to_real(B, t + m * k, k * n);
    cg_isa best = cg_isa_best();
    cg_gemm_fm(C, A, k, 1, B, m, n, k, n, CG_EPI_STORE, NULL);
    cg_gemm_fm_isa(best, C2, n, A, k, 1, B, n, m, n, k, CG_EPI_STORE, NULL);
    CHECK(memcmp(C, C2, m * n * sizeof *C) == 0, "gemm_fm %zux%zux%zu: training's product differs from %s", m, n, k,
          isa_name(best));
    if (best == CG_ISA_AVX512) {
        cg_gemm_fm_isa(CG_ISA_FMA, C2, n, A, k, 1, B, n, m, n, k, CG_EPI_STORE, NULL);
        CHECK(memcmp(C, C2, m * n * sizeof *C) == 0, "gemm_fm %zux%zux%zu: avx512 and fma differ", m, n, k);
    }
    /* nt: training's product is the fma one whenever the CPU has fma */
    memset(C, 0, m * n * sizeof *C);
    memset(C2, 0, m * n * sizeof *C);
    cg_gemm_nt(C, n, A, k, B, k, m, n < k ? n : k, k, nb);
    cg_gemm_nt_isa(best == CG_ISA_AVX512 ? CG_ISA_FMA : best, C2, n, A, k, B, k, m, n < k ? n : k, k, nb2);
    CHECK(memcmp(C, C2, m * n * sizeof *C) == 0 && memcmp(nb, nb2, n * sizeof *nb) == 0,
          "gemm_nt %zux%zux%zu: training's product differs from the fma one", m, n, k);
    free(A); free(B); free(nb); free(nb2); free(C); free(C2); free(t);
}

static void test_fm_kernels(void)
{
    static const size_t fm[][4] = {
        {1, 16, 1, 16},  {2, 32, 30, 48},   {30, 256, 29, 272}, {7, 48, 300, 64}, {13, 16, 5, 16},
        {3, 64, 2, 80},  {6, 16, 257, 32},  {1, 48, 30, 48},    {4, 96, 7, 112},  {5, 16, 0, 16},
    };
    /* {m, n, k, ldb, ldc}: the weight-gradient shapes (B rows lengthened
     * past a multiple of 64 values, C rows not), and a C wider than B */
    static const size_t fms[][5] = {{128, 128, 256, 144, 128}, {18, 128, 300, 144, 128}, {1, 64, 33, 80, 64},
                                    {7, 32, 5, 32, 48},        {13, 16, 257, 17, 16}};
    static const size_t nt[][3] = {{1, 1, 1}, {29, 30, 256}, {30, 2, 256}, {30, 1, 255}, {5, 7, 13},
                                   {4, 4, 3}, {3, 3, 8},     {10, 11, 0},  {8, 5, 33},  {0, 4, 9}};
    static const size_t tr[][2] = {{256, 29}, {747, 25}, {2, 256}, {256, 2}, {9, 9},  {8, 8},
                                   {17, 3},   {3, 17},   {1, 1},   {16, 30}, {24, 7}, {0, 3}};
    /* every set this CPU runs (a set above the best would run as the best) */
    for (int isa = CG_ISA_BASELINE; isa <= (int)cg_isa_best(); isa++) {
        for (size_t s = 0; s < sizeof fm / sizeof *fm; s++)
            test_gemm_fm_shape((cg_isa)isa, fm[s][0], fm[s][1], fm[s][2], fm[s][3]);
        for (size_t s = 0; s < sizeof fms / sizeof *fms; s++)
            test_gemm_fm_strided_shape((cg_isa)isa, fms[s][0], fms[s][1], fms[s][2], fms[s][3], fms[s][4]);
        for (size_t s = 0; s < sizeof nt / sizeof *nt; s++) test_gemm_nt_shape((cg_isa)isa, nt[s][0], nt[s][1], nt[s][2]);
        for (size_t s = 0; s < sizeof tr / sizeof *tr; s++) test_transpose_shape((cg_isa)isa, tr[s][0], tr[s][1]);
    }
    test_fm_same_bits(13, 48, 300);
    test_fm_same_bits(7, 16, 3);
    if (g_verbose) printf("  kernels run at %s\n", isa_name(cg_isa_best()));
}

/* --------------------------------------------------------------- Adam */

static void test_adam_case(const char *label, cg_adam_config cfg, size_t n, int steps)
{
    char err[CG_ERR_LEN] = "";
    cg_adam *a = NULL;
    cg_status st = cg_adam_create(&a, n, &cfg, err);
    if (!CHECK(st == CG_OK && a, "%s: cg_adam_create: %s", label, err)) return;
    const cg_adam_config *got = cg_adam_get_config(a);
    CHECK(got->lr == cfg.lr && got->beta1 == cfg.beta1 && got->beta2 == cfg.beta2 &&
              got->eps == cfg.eps && got->weight_decay == cfg.weight_decay &&
              got->decoupled == cfg.decoupled,
          "%s: cg_adam_get_config differs from the config", label);

    double *p = dalloc(n), *m = dalloc(n), *v = dalloc(n), *g = dalloc(n);
    cg_real *pr = ralloc(n), *gr = ralloc(n);
    fill_u(p, n, -1, 1);
    to_real(pr, p, n);
    const double b1 = cfg.beta1, b2 = cfg.beta2;
    for (int t = 1; t <= steps; t++) {
        /* a fixed sequence of O(1) normals; with n > 3 one coordinate is
         * always 0 (so eps matters), one has a trend, one is tiny */
        fill_n(g, n);
        if (n > 3) {
            g[0] = 0;
            g[1] = 0.05 * t;
            g[2] *= 1e-3;
        }
        for (size_t i = 0; i < n; i++) g[i] = (double)(cg_real)g[i];
        to_real(gr, g, n);
        cg_adam_step(a, pr, gr);
        for (size_t i = 0; i < n; i++) {
            double gi = g[i];
            if (cfg.decoupled)
                p[i] *= 1 - cfg.lr * cfg.weight_decay;
            else
                gi += cfg.weight_decay * p[i];
            m[i] = b1 * m[i] + (1 - b1) * gi;
            v[i] = b2 * v[i] + (1 - b2) * gi * gi;
            p[i] -= cfg.lr / (1 - pow(b1, t)) * m[i] / (sqrt(v[i]) / sqrt(1 - pow(b2, t)) + cfg.eps);
        }
    }
    char name[128];
    snprintf(name, sizeof name, "%s params after %d steps", label, steps);
    check_close_r(name, pr, p, n, ADAM_TOL, 1e-12);
    snprintf(name, sizeof name, "%s m after %d steps", label, steps);
    check_close_r(name, cg_adam_m(a), m, n, ADAM_TOL, 1e-12);
    snprintf(name, sizeof name, "%s v after %d steps", label, steps);
    check_close_r(name, cg_adam_v(a), v, n, ADAM_TOL, 1e-12);
    CHECK(cg_adam_steps(a) == steps, "%s: cg_adam_steps %" PRId64 ", want %d", label,
          cg_adam_steps(a), steps);
    cg_adam_set_steps(a, 7);
    CHECK(cg_adam_steps(a) == 7, "%s: cg_adam_set_steps(7) then steps %" PRId64, label,
          cg_adam_steps(a));
    cg_adam_free(a);
    free(p); free(m); free(v); free(g); free(pr); free(gr);
}

static void test_adam(void)
{
    test_adam_case("adam", (cg_adam_config){1e-2, 0.9, 0.999, 1e-8, 0, 0}, 11, 50);
    test_adam_case("adam L2", (cg_adam_config){3e-3, 0.5, 0.99, 1e-6, 0.1, 0}, 11, 50);
    test_adam_case("adamw", (cg_adam_config){1e-2, 0.9, 0.999, 1e-8, 0.05, 1}, 11, 50);
    test_adam_case("adamw beta1=0", (cg_adam_config){0.1, 0.0, 0.9, 1e-4, 0.2, 1}, 11, 50);
    test_adam_case("adam 1 param", (cg_adam_config){0.5, 0.8, 0.95, 1e-3, 0, 0}, 1, 50);
    /* a gradient that stops (a dead ReLU unit): m and v decay to exactly 0,
     * never through the subnormal range, and the parameter stays put */
    cg_adam *a = NULL;
    char err[CG_ERR_LEN];
    cg_adam_config cfg = {1e-3, 0.5, 0.9, 1e-8, 0, 0};
    if (CHECK(cg_adam_create(&a, 2, &cfg, err) == CG_OK, "adam flush: create: %s", err)) {
        cg_real p[2] = {1, -1}, g[2] = {0.5, -2};
        cg_adam_step(a, p, g);
        g[0] = g[1] = 0;
        int subnormal = 0;
        for (int t = 0; t < 8000; t++) { /* 0.9^8000 < DBL_MIN */
            cg_adam_step(a, p, g);
            for (int i = 0; i < 2; i++)
                if (fpclassify(cg_adam_m(a)[i]) == FP_SUBNORMAL || fpclassify(cg_adam_v(a)[i]) == FP_SUBNORMAL)
                    subnormal = 1;
        }
        CHECK(!subnormal, "adam flush: a moment went subnormal");
        CHECK(cg_adam_m(a)[0] == 0 && cg_adam_v(a)[0] == 0 && cg_adam_m(a)[1] == 0 && cg_adam_v(a)[1] == 0,
              "adam flush: moments of a zero gradient end at 0");
        CHECK(isfinite(p[0]) && isfinite(p[1]), "adam flush: parameters finite");
        cg_adam_free(a);
    }
}

/* ---------------------------------------------------------------- RNG */

static void test_rng(void)
{
    cg_rng a, b;
    /* splitmix64 seeding: its published outputs for seed 1234567 */
    static const uint64_t sm[4] = {6457827717110365317ULL, 3203168211198807973ULL,
                                   9817491932198370423ULL, 4593380528125082431ULL};
    cg_rng_seed(&a, 1234567);
    CHECK(memcmp(a.s, sm, sizeof sm) == 0, "rng: seeding is not splitmix64 (s[0] = %" PRIu64 ")",
          a.s[0]);
    /* xoshiro256** from state {1, 2, 3, 4}: the reference implementation's outputs */
    static const uint64_t xo[10] = {11520ULL, 0ULL, 1509978240ULL, 1215971899390074240ULL,
                                    1216172134540287360ULL, 607988272756665600ULL,
                                    16172922978634559625ULL, 8476171486693032832ULL,
                                    10595114339597558777ULL, 2904607092377533576ULL};
    a.s[0] = 1, a.s[1] = 2, a.s[2] = 3, a.s[3] = 4;
    int xo_ok = 1;
    for (int i = 0; i < 10; i++) xo_ok = xo_ok && cg_rng_u64(&a) == xo[i];
    CHECK(xo_ok, "rng: cg_rng_u64 is not xoshiro256**");

    /* same seed: identical streams, of every kind of draw */
    cg_rng_seed(&a, 42);
    cg_rng_seed(&b, 42);
    int same = 1;
    for (int i = 0; i < 1000; i++) {
        same = same && cg_rng_u64(&a) == cg_rng_u64(&b);
        same = same && cg_rng_uniform(&a) == cg_rng_uniform(&b);
        same = same && cg_rng_normal(&a) == cg_rng_normal(&b);
        same = same && cg_rng_below(&a, 1000 + i) == cg_rng_below(&b, 1000 + i);
    }
    CHECK(same, "rng: the same seed gave different streams");
    /* different seeds: different streams */
    const uint64_t pairs[][2] = {{42, 43}, {0, 1}, {1, (uint64_t)1 << 63}};
    for (int pi = 0; pi < 3; pi++) {
        cg_rng_seed(&a, pairs[pi][0]);
        cg_rng_seed(&b, pairs[pi][1]);
        int eq = 0;
        for (int i = 0; i < 1000; i++) eq += cg_rng_u64(&a) == cg_rng_u64(&b);
        CHECK(eq == 0, "rng: seeds %" PRIu64 " and %" PRIu64 " agree on %d of 1000 draws",
              pairs[pi][0], pairs[pi][1], eq);
    }
    cg_rng_seed(&a, 0);
    CHECK((a.s[0] | a.s[1] | a.s[2] | a.s[3]) != 0, "rng: seed 0 gives the all-zero state");

    /* uniform: in [0, 1), mean 1/2 and variance 1/12 within 5 sigma */
    const int N = 100000;
    cg_rng_seed(&a, 2024);
    double s = 0, s2 = 0, lo = 1, hi = 0;
    for (int i = 0; i < N; i++) {
        double u = cg_rng_uniform(&a);
        s += u;
        s2 += u * u;
        lo = fmin(lo, u);
        hi = fmax(hi, u);
    }
    double mean = s / N, var = s2 / N - mean * mean;
    CHECK(lo >= 0 && hi < 1, "rng uniform: range [%.17g, %.17g] outside [0, 1)", lo, hi);
    CHECK(fabs(mean - 0.5) <= 5 * sqrt(1.0 / 12 / N), "rng uniform: mean %.6f (5 sigma %.6f)", mean,
          5 * sqrt(1.0 / 12 / N));
    CHECK(fabs(var - 1.0 / 12) <= 5 * sqrt(1.0 / 180 / N), "rng uniform: variance %.6f, want %.6f",
          var, 1.0 / 12);

    /* normal: mean 0, variance 1, and P(|x| < 1) = 0.6827 within 5 sigma */
    s = s2 = 0;
    int inside = 0, finite = 1;
    for (int i = 0; i < N; i++) {
        double x = cg_rng_normal(&a);
        finite = finite && isfinite(x);
        s += x;
        s2 += x * x;
        inside += fabs(x) < 1;
    }
    mean = s / N;
    var = s2 / N - mean * mean;
    double pin = (double)inside / N, p68 = 0.6826894921370859;
    CHECK(finite && fabs(mean) <= 5 / sqrt((double)N), "rng normal: mean %.5f (5 sigma %.5f)", mean,
          5 / sqrt((double)N));
    CHECK(fabs(var - 1) <= 5 * sqrt(2.0 / N), "rng normal: variance %.5f (5 sigma %.5f)", var,
          5 * sqrt(2.0 / N));
    CHECK(fabs(pin - p68) <= 5 * sqrt(p68 * (1 - p68) / N), "rng normal: P(|x|<1) = %.5f", pin);

    /* fills */
    cg_real *buf = ralloc((size_t)N);
    cg_rng_fill_uniform(&a, buf, (size_t)N, -3, 5);
    s = 0;
    int in_range = 1;
    for (int i = 0; i < N; i++) {
        in_range = in_range && buf[i] >= -3 && buf[i] <= 5;
        s += buf[i];
    }
    CHECK(in_range && fabs(s / N - 1) <= 5 * 8 / sqrt(12.0 * N),
          "rng fill_uniform(-3, 5): mean %.5f, in range %d", s / N, in_range);
    cg_rng_fill_normal(&a, buf, (size_t)N, 2, 3);
    s = s2 = 0;
    for (int i = 0; i < N; i++) {
        s += buf[i];
        s2 += (double)buf[i] * buf[i];
    }
    mean = s / N;
    var = s2 / N - mean * mean;
    CHECK(fabs(mean - 2) <= 5 * 3 / sqrt((double)N) && fabs(var - 9) <= 5 * 9 * sqrt(2.0 / N),
          "rng fill_normal(2, 3): mean %.5f, variance %.5f", mean, var);

    /* below(n): always < n, every value equally likely within 5 sigma */
    const uint64_t small[] = {1, 2, 3, 7};
    for (int si = 0; si < 4; si++) {
        uint64_t nn = small[si];
        long counts[7] = {0};
        int below_ok = 1;
        for (int i = 0; i < N; i++) {
            uint64_t x = cg_rng_below(&a, nn);
            if (x >= nn) below_ok = 0;
            else counts[x]++;
        }
        double p = 1.0 / (double)nn, sd = sqrt(N * p * (1 - p));
        double worst = 0;
        for (uint64_t j = 0; j < nn; j++) worst = fmax(worst, fabs(counts[j] - N * p));
        CHECK(below_ok && worst <= 5 * sd + 1e-9,
              "rng below(%" PRIu64 "): out of range %d, worst count deviation %.1f (5 sigma %.1f)",
              nn, !below_ok, worst, 5 * sd);
    }
    const uint64_t bigs[] = {((uint64_t)1 << 40) + 1, ((uint64_t)1 << 63) + 1, UINT64_MAX};
    for (int bi = 0; bi < 3; bi++) {
        uint64_t nn = bigs[bi];
        int below_ok = 1, upper = 0;
        double sum = 0;
        for (int i = 0; i < N; i++) {
            uint64_t x = cg_rng_below(&a, nn);
            below_ok = below_ok && x < nn;
            sum += (double)x / (double)nn;
            upper += x >= nn / 2;
        }
        double mu = sum / N, fu = (double)upper / N;
        CHECK(below_ok && fabs(mu - 0.5) <= 5 * sqrt(1.0 / 12 / N) &&
                  fabs(fu - 0.5) <= 5 * 0.5 / sqrt((double)N),
              "rng below(%" PRIu64 "): in range %d, mean/n %.5f, upper half %.5f", nn, below_ok, mu,
              fu);
    }

    /* indices: in range, every row reachable */
    int64_t idx[5000];
    const int64_t rows[] = {1, 5, 1000, (int64_t)1 << 40};
    for (int ri = 0; ri < 4; ri++) {
        cg_rng_indices(&a, idx, 5000, rows[ri]);
        int ok = 1, seen[5] = {0};
        for (int i = 0; i < 5000; i++) {
            ok = ok && idx[i] >= 0 && idx[i] < rows[ri];
            if (rows[ri] == 5 && ok) seen[idx[i]] = 1;
        }
        if (rows[ri] == 5) ok = ok && seen[0] && seen[1] && seen[2] && seen[3] && seen[4];
        CHECK(ok, "rng indices over %" PRId64 " rows: out of range or a row never drawn", rows[ri]);
    }
    free(buf);
}

/* ---------------------------------------------------------- validation */

static void expect_mlp_einval(const char *what, int L, const int *sizes, const int *acts,
                              const double *ap, const double *drop, size_t capacity)
{
    cg_mlp_spec spec = {L, sizes, acts, ap, drop};
    char err[CG_ERR_LEN] = "";
    cg_mlp *dummy = (cg_mlp *)&spec; /* never dereferenced: create must overwrite it */
    cg_mlp *m = dummy;
    cg_status st = cg_mlp_create(&m, &spec, capacity, err);
    CHECK(st == CG_EINVAL && m == NULL && err[0] != 0,
          "cg_mlp_create(%s): status %s, out %s, message '%s'", what, cg_status_name(st),
          m == NULL ? "NULL" : "not NULL", err);
    if (m && m != dummy) cg_mlp_free(m);
}

static void test_validation(void)
{
    static const int sizes[] = {3, 4, 2}, acts[] = {CG_ACT_RELU, CG_ACT_IDENTITY};
    static const int zero_size[] = {3, 0, 2}, neg_size[] = {-3, 4, 2};
    static const int bad_act[] = {CG_ACT_RELU, 99}, neg_act[] = {-1, CG_ACT_RELU};
    static const double d_one[] = {1.0, 0}, d_neg[] = {0, -0.1}, d_ok[] = {0.5, 0};
    const double d_nan[] = {NAN, 0}, ap_inf[] = {INFINITY, 1};
    expect_mlp_einval("n_layers 0", 0, sizes, acts, NULL, NULL, 4);
    expect_mlp_einval("n_layers -1", -1, sizes, acts, NULL, NULL, 4);
    expect_mlp_einval("n_layers CG_MAX_LAYERS + 1", CG_MAX_LAYERS + 1, sizes, acts, NULL, NULL, 4);
    expect_mlp_einval("a size 0", 2, zero_size, acts, NULL, NULL, 4);
    expect_mlp_einval("a size -3", 2, neg_size, acts, NULL, NULL, 4);
    expect_mlp_einval("activation 99", 2, sizes, bad_act, NULL, NULL, 4);
    expect_mlp_einval("activation -1", 2, sizes, neg_act, NULL, NULL, 4);
    expect_mlp_einval("dropout 1.0", 2, sizes, acts, NULL, d_one, 4);
    expect_mlp_einval("dropout -0.1", 2, sizes, acts, NULL, d_neg, 4);
    expect_mlp_einval("dropout NaN", 2, sizes, acts, NULL, d_nan, 4);
    expect_mlp_einval("act_param inf", 2, sizes, acts, ap_inf, NULL, 4);
    expect_mlp_einval("capacity 2^45", 2, sizes, acts, NULL, NULL, (size_t)1 << 45);
    {
        cg_mlp_spec spec = {2, sizes, acts, NULL, d_ok};
        char err[CG_ERR_LEN] = "";
        cg_mlp *m = NULL;
        cg_status st = cg_mlp_create(&m, &spec, 0, err);
        CHECK(st == CG_OK && m, "cg_mlp_create with dropout 0.5, capacity 0: %s", err);
        cg_mlp_free(m);
    }
    cg_mlp_free(NULL); /* must be a no-op */
    cg_adam_free(NULL);

    const cg_adam_config good = {1e-3, 0.9, 0.999, 1e-8, 0, 0};
    struct {
        const char *what;
        cg_adam_config cfg;
    } bad[] = {
        {"lr 0", {0, 0.9, 0.999, 1e-8, 0, 0}},
        {"lr -1e-3", {-1e-3, 0.9, 0.999, 1e-8, 0, 0}},
        {"lr NaN", {NAN, 0.9, 0.999, 1e-8, 0, 0}},
        {"lr inf", {INFINITY, 0.9, 0.999, 1e-8, 0, 0}},
        {"beta1 1", {1e-3, 1.0, 0.999, 1e-8, 0, 0}},
        {"beta2 1", {1e-3, 0.9, 1.0, 1e-8, 0, 0}},
        {"beta1 1.5", {1e-3, 1.5, 0.999, 1e-8, 0, 0}},
        {"beta2 -0.1", {1e-3, 0.9, -0.1, 1e-8, 0, 0}},
        {"eps 0", {1e-3, 0.9, 0.999, 0, 0, 1}},
        {"weight decay -1", {1e-3, 0.9, 0.999, 1e-8, -1, 1}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char err[CG_ERR_LEN] = "";
        cg_adam *a = (cg_adam *)&bad[i];
        cg_status st = cg_adam_create(&a, 10, &bad[i].cfg, err);
        CHECK(st == CG_EINVAL && a == NULL && err[0] != 0,
              "cg_adam_create(%s): status %s, out %s, message '%s'", bad[i].what,
              cg_status_name(st), a == NULL ? "NULL" : "not NULL", err);
        if (st == CG_OK && a) cg_adam_free(a);
    }
    {
        char err[CG_ERR_LEN] = "";
        cg_adam *a = NULL;
        cg_status st = cg_adam_create(&a, 0, &good, err);
        CHECK(st == CG_OK && a && cg_adam_steps(a) == 0, "cg_adam_create with 0 params: %s", err);
        cg_adam_free(a);
    }

    /* status names and the small helpers */
    const char *names[6];
    int names_ok = 1;
    for (int i = 0; i < 6; i++) {
        names[i] = cg_status_name((cg_status)i);
        names_ok = names_ok && names[i] && names[i][0];
        for (int j = 0; j < i; j++) names_ok = names_ok && strcmp(names[i], names[j]) != 0;
    }
    CHECK(names_ok && strcmp(cg_status_name((cg_status)99), "unknown status") == 0,
          "cg_status_name: names missing, repeated, or no fallback");
    char err[CG_ERR_LEN];
    memset(err, 'x', sizeof err);
    char longmsg[400];
    memset(longmsg, 'a', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = 0;
    cg_set_error(NULL, "%s", longmsg); /* must be a no-op */
    cg_set_error(err, "%s", longmsg);
    CHECK(strlen(err) == CG_ERR_LEN - 1, "cg_set_error: a long message gave length %zu", strlen(err));
    cg_set_error(err, "n=%d %s", 3, "rows");
    CHECK(strcmp(err, "n=3 rows") == 0, "cg_set_error: formatted '%s'", err);
    const cg_range at_bounds[] = {{"width", 5, 1, 5}, {"depth", 1, 1, 5}};
    CHECK(cg_check_ranges(at_bounds, 2, err) == CG_OK, "cg_check_ranges refuses a value at a bound");
    const cg_range second_bad[] = {{"width", 5, 1, 5}, {"depth", 6, 1, 5}, {"rows", -1, 0, 5}};
    CHECK(cg_check_ranges(second_bad, 3, err) == CG_EINVAL && strcmp(err, "depth must be between 1 and 5, got 6") == 0,
          "cg_check_ranges: '%s'", err);
    CHECK(cg_check_ranges(&(cg_range){"rows", INT64_MIN, 0, 5}, 1, err) == CG_EINVAL,
          "cg_check_ranges accepts INT64_MIN");

    cg_real fin[5] = {0, -1, (cg_real)1e30, 3, -(cg_real)1e-30};
    CHECK(cg_all_finite(fin, 5) && cg_all_finite(fin, 0), "cg_all_finite: finite values rejected");
    int nf_ok = 1;
    const cg_real specials[3] = {(cg_real)INFINITY, -(cg_real)INFINITY, (cg_real)NAN};
    for (int i = 0; i < 3; i++)
        for (int pos = 0; pos < 5; pos++) {
            cg_real t[5];
            memcpy(t, fin, sizeof t);
            t[pos] = specials[i];
            nf_ok = nf_ok && !cg_all_finite(t, 5);
        }
    CHECK(nf_ok, "cg_all_finite: an inf or NaN passed");
}

/* ----------------------------------------------------------- training */

static cg_mlp *make_mlp(int L, const int *sizes, const int *acts, const double *drop, uint64_t seed)
{
    cg_mlp_spec spec = {L, sizes, acts, NULL, drop};
    char err[CG_ERR_LEN] = "";
    cg_mlp *m = NULL;
    if (cg_mlp_create(&m, &spec, 1, err) != CG_OK) {
        CHECK(0, "make_mlp: %s", err);
        return NULL;
    }
    cg_rng r;
    cg_rng_seed(&r, seed);
    cg_mlp_init(m, &r);
    return m;
}

static double full_mse(cg_mlp *m, const cg_real *X, const cg_real *Y, size_t n)
{
    if (cg_mlp_reserve(m, n, NULL) != CG_OK) return NAN;
    const cg_real *o = cg_mlp_forward(m, X, n, 0, NULL);
    return o ? cg_mse_loss(NULL, o, Y, NULL, n, 1.0 / (double)n) : NAN;
}

static void test_fit_mse(void)
{
    const size_t n = 200, d = 3, iters = 2000;
    static const int sizes[] = {3, 16, 1}, acts[] = {CG_ACT_RELU, CG_ACT_IDENTITY};
    const double w[3] = {1.5, -2.0, 0.5};
    cg_real *X = ralloc(n * d), *Y = ralloc(n);
    for (size_t i = 0; i < n; i++) {
        double y = 0.3;
        for (size_t j = 0; j < d; j++) {
            X[i * d + j] = (cg_real)cg_rng_normal(&g_data);
            y += w[j] * X[i * d + j];
        }
        Y[i] = (cg_real)(y + 0.1 * cg_rng_normal(&g_data));
    }
    cg_mlp *m = make_mlp(2, sizes, acts, NULL, 11);
    if (!m) return;
    cg_adam_config cfg = {1e-2, 0.9, 0.999, 1e-8, 0, 0};
    char err[CG_ERR_LEN] = "";
    cg_adam *opt = NULL;
    if (!CHECK(cg_adam_create(&opt, cg_mlp_n_params(m), &cfg, err) == CG_OK, "adam: %s", err)) {
        cg_mlp_free(m);
        return;
    }
    cg_rng rng;
    cg_rng_seed(&rng, 12);

    /* bad batch sizes and empty data are rejected, without stepping */
    const size_t bad_batches[] = {0, n + 1};
    for (int i = 0; i < 2; i++) {
        err[0] = 0;
        cg_status st = cg_mlp_fit_mse(m, opt, &rng, X, Y, n, bad_batches[i], 10, NULL, err);
        CHECK(st == CG_EINVAL && err[0] && cg_adam_steps(opt) == 0,
              "fit_mse batch_size %zu: status %s, message '%s', %" PRId64 " steps",
              bad_batches[i], cg_status_name(st), err, cg_adam_steps(opt));
    }
    err[0] = 0;
    cg_status st = cg_mlp_fit_mse(m, opt, &rng, X, Y, 0, 1, 10, NULL, err);
    CHECK(st == CG_EINVAL && err[0], "fit_mse with n=0: status %s, message '%s'",
          cg_status_name(st), err);

    double before = full_mse(m, X, Y, n);
    double *losses = dalloc(iters);
    st = cg_mlp_fit_mse(m, opt, &rng, X, Y, n, 32, iters, losses, err);
    double after = full_mse(m, X, Y, n);
    CHECK(st == CG_OK, "fit_mse on a linear problem: %s (%s)", cg_status_name(st), err);
    int fin = 1;
    double first = 0, last = 0;
    for (size_t i = 0; i < iters; i++) fin = fin && isfinite(losses[i]);
    for (size_t i = 0; i < 20; i++) first += losses[i] / 20;
    for (size_t i = iters - 100; i < iters; i++) last += losses[i] / 100;
    CHECK(fin && after <= before / 10 && last <= first / 10,
          "fit_mse: full-data loss %.4g -> %.4g, minibatch loss %.4g -> %.4g (want 10x lower)",
          before, after, first, last);
    CHECK(cg_adam_steps(opt) == (int64_t)iters, "fit_mse: %" PRId64 " Adam steps, want %zu",
          cg_adam_steps(opt), iters);
    cg_adam_free(opt);
    cg_mlp_free(m);

    /* An absurd learning rate: non-finite values, reported as CG_EFLOAT.
     * lr = 1e6 is not enough: Adam's steps are bounded by ~lr, so weights
     * grow linearly and (in double) the loss stays finite for thousands of
     * steps.  lr = 1e300 overflows on the first steps in both builds. */
    m = make_mlp(2, sizes, acts, NULL, 11);
    cfg.lr = 1e300;
    opt = NULL;
    if (m && CHECK(cg_adam_create(&opt, cg_mlp_n_params(m), &cfg, err) == CG_OK, "adam: %s", err)) {
        err[0] = 0;
        st = cg_mlp_fit_mse(m, opt, &rng, X, Y, n, 32, 50, losses, err);
        CHECK(st == CG_EFLOAT && err[0] && cg_adam_steps(opt) < 50,
              "fit_mse with lr=1e300: status %s, message '%s', %" PRId64 " steps",
              cg_status_name(st), err, cg_adam_steps(opt));
    }
    cg_adam_free(opt);
    cg_mlp_free(m);
    free(X); free(Y); free(losses);
}

/* Training twice from one seed gives bit-identical parameters. */
static int train_once(uint64_t seed, cg_real **params_out, double *losses, size_t iters)
{
    static const int sizes[] = {3, 8, 8, 1};
    static const int acts[] = {CG_ACT_ELU, CG_ACT_TANH, CG_ACT_IDENTITY};
    static const double drop[] = {0.2, 0.1, 0};
    const size_t n = 64;
    cg_real X[64 * 3], Y[64];
    cg_rng data;
    cg_rng_seed(&data, 77); /* the same data for every seed */
    cg_rng_fill_normal(&data, X, n * 3, 0, 1);
    for (size_t i = 0; i < n; i++) Y[i] = (cg_real)(X[i * 3] * X[i * 3 + 1] - X[i * 3 + 2]);
    cg_mlp *m = make_mlp(3, sizes, acts, drop, seed);
    if (!m) return 0;
    cg_adam_config cfg = {5e-3, 0.9, 0.999, 1e-8, 1e-3, 1};
    cg_adam *opt = NULL;
    char err[CG_ERR_LEN] = "";
    cg_status st = cg_adam_create(&opt, cg_mlp_n_params(m), &cfg, err);
    cg_rng rng;
    cg_rng_seed(&rng, seed ^ 0x5eed);
    if (st == CG_OK) st = cg_mlp_fit_mse(m, opt, &rng, X, Y, n, 16, iters, losses, err);
    CHECK(st == CG_OK, "determinism: training with seed %" PRIu64 ": %s", seed, err);
    size_t np = cg_mlp_n_params(m);
    *params_out = ralloc(np);
    memcpy(*params_out, cg_mlp_params(m), np * sizeof(cg_real));
    cg_adam_free(opt);
    cg_mlp_free(m);
    return (int)np;
}

static void test_determinism(void)
{
    const size_t iters = 300;
    double *l1 = dalloc(iters), *l2 = dalloc(iters), *l3 = dalloc(iters);
    cg_real *p1 = NULL, *p2 = NULL, *p3 = NULL;
    int n1 = train_once(2024, &p1, l1, iters);
    int n2 = train_once(2024, &p2, l2, iters);
    int n3 = train_once(2025, &p3, l3, iters);
    CHECK(n1 > 0 && n1 == n2 && memcmp(p1, p2, (size_t)n1 * sizeof *p1) == 0 &&
              memcmp(l1, l2, iters * sizeof *l1) == 0,
          "determinism: two fits from seed 2024 differ");
    CHECK(n1 > 0 && n1 == n3 && memcmp(p1, p3, (size_t)n1 * sizeof *p1) != 0,
          "determinism: seeds 2024 and 2025 gave identical parameters");
    free(l1); free(l2); free(l3); free(p1); free(p2); free(p3);
}

/* --------------------------------------------------------------- main */

/* Gradient penalty (WGAN-GP): the exact parameter gradient of
 * P = scale * sum_i (|d out_i / d x_i[:n_pen]| - 1)^2 against central
 * differences of P itself, for critics with every activation, dropout and
 * context columns.  Double build: through the core, rel err <= GRAD_TOL. */
#ifdef CG_DOUBLE
static double gp_value(cg_mlp *m, const cg_real *X, size_t n, uint64_t seed, size_t n_pen, int one_sided)
{
    cg_rng r;
    cg_rng_seed(&r, seed);
    cg_mlp_forward(m, X, n, 1, &r);
    double pen = 0;
    char err[CG_ERR_LEN];
    cg_real *saved = ralloc(cg_mlp_n_params(m));
    memcpy(saved, cg_mlp_grads(m), cg_mlp_n_params(m) * sizeof(cg_real));
    cg_mlp_gradient_penalty(m, n_pen, one_sided, 1.0 / (double)n, &pen, NULL, err);
    memcpy(cg_mlp_grads(m), saved, cg_mlp_n_params(m) * sizeof(cg_real));
    free(saved);
    return pen;
}
#endif

/* hidden layers of activations act0, act1 with dropout rates drop0, drop1 */
static void test_penalty_mixed(int act0, int act1, double drop0, double drop1, int one_sided, double wscale, int h1,
                               int h2)
{
    size_t n = 7, in = 5, n_pen = 3;
    int sizes[4] = {(int)in, h1, h2, 1};
    int acts[3] = {act0, act1, CG_ACT_IDENTITY};
    double dropout[3] = {drop0, drop1, 0};
    int act = act0 == act1 ? act0 : -1;
    double drop = drop0 > drop1 ? drop0 : drop1;
    cg_mlp_spec spec = {3, sizes, acts, NULL, dropout};
    cg_mlp *m = NULL;
    char err[CG_ERR_LEN];
    if (cg_mlp_create(&m, &spec, n, err) != CG_OK) {
        CHECK(0, "penalty: create: %s", err);
        return;
    }
    cg_rng r;
    cg_rng_seed(&r, 5);
    cg_mlp_init(m, &r);
    size_t np = cg_mlp_n_params(m);
    cg_real *p = cg_mlp_params(m);
    for (size_t i = 0; i < np; i++) p[i] *= (cg_real)wscale; /* move norms away from 1 */
    /* each case draws its inputs from a stream of its own, so tests added
     * or reordered elsewhere never move the points it differentiates at */
    cg_rng outer = g_data;
    cg_rng_seed(&g_data, 0x5eed0000u + (uint64_t)(act0 * 1000003 + act1 * 10007 + one_sided * 101 + h1 * 13 + h2) +
                             ((uint64_t)(wscale * 8) << 32) + ((uint64_t)(drop0 * 10 + drop1 * 100) << 40));
    cg_real *X = ralloc(n * in);
    for (size_t i = 0; i < n * in; i++) X[i] = (cg_real)urand(-1.5, 1.5);
    g_data = outer;
    CHECK(cg_mlp_reserve_penalty(m, err) == CG_OK, "penalty: reserve: %s", err);
    uint64_t seed = 77;
    cg_rng_seed(&r, seed);
    cg_mlp_forward(m, X, n, 1, &r);
    cg_mlp_zero_grad(m);
    double pen = 0, norms[7];
    CHECK(cg_mlp_gradient_penalty(m, n_pen, one_sided, 1.0 / (double)n, &pen, norms, err) == CG_OK,
          "penalty: %s", err);
    double *analytic = dalloc(np);
    to_dbl(analytic, cg_mlp_grads(m), np);
    double worst = 0;
    size_t worst_i = 0;
#ifdef CG_DOUBLE
    for (size_t i = 0; i < np; i++) {
        cg_real keep = p[i];
        double h = FD_H;
        p[i] = (cg_real)(keep + h);
        double up = gp_value(m, X, n, seed, n_pen, one_sided);
        p[i] = (cg_real)(keep - h);
        double down = gp_value(m, X, n, seed, n_pen, one_sided);
        p[i] = keep;
        double fd = (up - down) / (2 * h);
        double e = rel_err(analytic[i], fd, GRAD_FLOOR);
        if (e > worst) worst = e, worst_i = i;
    }
    double tol = GRAD_TOL;
#else
    /* The penalty is itself a derivative: float differences of it need a
     * step so large that ReLU kinks are crossed.  The double build checks
     * the same source against differences; here the gradient must be finite. */
    double tol = 0;
    for (size_t i = 0; i < np; i++)
        if (!isfinite(analytic[i])) worst = 1, worst_i = i;
#endif
    CHECK(worst <= tol, "penalty grad (%s, %dx%d, dropout %.1f, %s): worst rel err %.3g at param %zu",
          act >= 0 ? act_name(act) : "mixed", h1, h2, drop, one_sided ? "one-sided" : "two-sided", worst, worst_i);
    /* the penalty from the norms it reports */
    double again = 0;
    for (size_t i = 0; i < n; i++) {
        double e = norms[i] - 1;
        if (one_sided && e < 0) e = 0;
        again += e * e / (double)n;
    }
    CHECK(fabs(again - pen) <= 1e-9 * (1 + pen), "penalty value matches its norms");
    /* a critic linear in x has |q| = |W1 W2 W3| for every row: check a norm directly */
    free(analytic);
    free(X);
    cg_mlp_free(m);
}

static void test_penalty_case(int act, double drop, int one_sided, double wscale, int h1, int h2)
{
    test_penalty_mixed(act, act, drop, 0, one_sided, wscale, h1, h2);
}

static void test_penalty(void)
{
    int acts[] = {CG_ACT_RELU, CG_ACT_LEAKY_RELU, CG_ACT_ELU, CG_ACT_TANH, CG_ACT_SIGMOID, CG_ACT_IDENTITY};
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        test_penalty_case(acts[a], 0.0, 0, 1.0, 6, 4);
        test_penalty_case(acts[a], 0.0, 0, 3.0, 6, 4);
        test_penalty_case(acts[a], 0.3, 0, 2.0, 6, 4);
        test_penalty_case(acts[a], 0.0, 1, 3.0, 6, 4);
    }
    /* layers a whole number of panels wide (weight gradients as one product
     * over the rows instead of dot products) */
    test_penalty_case(CG_ACT_RELU, 0.3, 0, 2.0, 16, 32);
    test_penalty_case(CG_ACT_TANH, 0.0, 0, 1.0, 32, 16);
    test_penalty_case(CG_ACT_ELU, 0.2, 1, 3.0, 16, 16);
    /* a ReLU last hidden layer without dropout under the identity output:
     * its two weight gradients come from one product (fold_last_grads) */
    test_penalty_case(CG_ACT_RELU, 0.0, 0, 2.0, 16, 32);
    test_penalty_case(CG_ACT_RELU, 0.0, 1, 3.0, 32, 16);
    test_penalty_mixed(CG_ACT_TANH, CG_ACT_RELU, 0.0, 0.0, 0, 2.0, 16, 32);
    /* a ReLU layer's derivative goes into the epilogue of a product when it
     * has no dropout and no layer has a second derivative: mix the cases */
    test_penalty_mixed(CG_ACT_RELU, CG_ACT_RELU, 0.0, 0.3, 0, 2.0, 16, 32);
    test_penalty_mixed(CG_ACT_RELU, CG_ACT_LEAKY_RELU, 0.0, 0.0, 1, 3.0, 6, 16);
    test_penalty_mixed(CG_ACT_RELU, CG_ACT_TANH, 0.0, 0.0, 0, 2.0, 16, 6);
    test_penalty_mixed(CG_ACT_SIGMOID, CG_ACT_RELU, 0.0, 0.0, 0, 2.0, 6, 16);
    /* identity critic: q is exactly the product of the weights, per row */
    int sizes[3] = {2, 1, 1};
    int acts2[2] = {CG_ACT_IDENTITY, CG_ACT_IDENTITY};
    cg_mlp_spec spec = {2, sizes, acts2, NULL, NULL};
    cg_mlp *m = NULL;
    char err[CG_ERR_LEN];
    if (cg_mlp_create(&m, &spec, 4, err) == CG_OK) {
        cg_real *p = cg_mlp_params(m); /* W0[2x1], b0[1], W1[1x1], b1[1] */
        p[0] = 3, p[1] = 4, p[2] = 0.5, p[3] = 2, p[4] = -1;
        cg_real X[8] = {1, 2, 3, 4, -1, 0, 5, 5};
        cg_mlp_reserve_penalty(m, err);
        cg_mlp_forward(m, X, 4, 0, NULL);
        double pen, norms[4];
        cg_mlp_zero_grad(m);
        cg_mlp_gradient_penalty(m, 2, 0, 0.25, &pen, norms, err);
        CHECK(fabs(norms[0] - 10) < 1e-5 && fabs(norms[3] - 10) < 1e-5, "identity critic norm |(6, 8)| = 10, got %g",
              norms[0]);
        CHECK(fabs(pen - 81) < 1e-3, "identity critic penalty (10-1)^2 = 81, got %g", pen);
        CHECK(cg_mlp_gradient_penalty(m, 3, 0, 1, &pen, NULL, err) == CG_EINVAL, "n_pen beyond the input rejected");
        cg_mlp_free(m);
    }
    int sizes3[3] = {2, 3, 2};
    spec.sizes = sizes3;
    if (cg_mlp_create(&m, &spec, 4, err) == CG_OK) {
        CHECK(cg_mlp_reserve_penalty(m, err) == CG_EINVAL, "penalty needs one output");
        cg_mlp_free(m);
    }
}

/* WGAN lifecycle: training with bounds and a softmax block, samples that
 * respect the bounds exactly and are one-hot in the block, a snapshot that
 * restores to the same stream, and rejected configurations. */
static void test_wgan(void)
{
    size_t n = 96, p = 4, c = 2;
    char err[CG_ERR_LEN];
    cg_real *X = ralloc(n * p), *C = ralloc(n * c), *S = ralloc(n * p), *S2 = ralloc(n * p);
    for (size_t i = 0; i < n; i++) {
        double u = urand(-1, 1);
        X[i * p + 0] = (cg_real)(u > 0 ? u : 0); /* point mass at the lower bound 0 */
        X[i * p + 1] = (cg_real)urand(-1, 1);
        int k = (int)(i % 2);
        X[i * p + 2] = (cg_real)(k == 0);
        X[i * p + 3] = (cg_real)(k == 1);
        C[i * c + 0] = (cg_real)(i % 3 == 0);
        C[i * c + 1] = (cg_real)urand(-1, 1);
    }
    int blocks[4] = {-1, -1, 0, 0};
    double lo[4] = {0, -INFINITY, -INFINITY, -INFINITY}, hi[4] = {INFINITY, 0.5, INFINITY, INFINITY};
    cg_wgan_config cfg = {4, 2, 4, 16, 2, 16, 3, 5.0, 0, 0.1, 1e-3, 0.9, 0.999, 11};
    cg_wgan *w = NULL, *v = NULL;
    CHECK(cg_wgan_create(&w, &cfg, blocks, lo, hi, err) == CG_OK, "wgan create: %s", err);
    if (!w) goto done;
    CHECK(cg_wgan_train(w, 1, NULL, NULL, NULL, err) == CG_EINVAL, "wgan trains without data");
    CHECK(cg_wgan_set_data(w, X, C, n, err) == CG_OK, "wgan set_data: %s", err);
    double cl[30], gl[30], pl[30];
    CHECK(cg_wgan_train(w, 30, cl, gl, pl, err) == CG_OK, "wgan train: %s", err);
    int finite = 1;
    for (int i = 0; i < 30; i++) finite &= isfinite(cl[i]) && isfinite(gl[i]) && isfinite(pl[i]) && pl[i] >= 0;
    CHECK(finite, "wgan losses finite, penalty non-negative");
    CHECK(cg_wgan_sample(w, S, C, n, err) == CG_OK, "wgan sample: %s", err);
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        ok &= S[i * p + 0] >= 0 && S[i * p + 1] <= (cg_real)0.5;
        ok &= (S[i * p + 2] == 1 && S[i * p + 3] == 0) || (S[i * p + 2] == 0 && S[i * p + 3] == 1);
    }
    CHECK(ok, "wgan samples respect bounds and are one-hot in the softmax block");
    size_t size = cg_wgan_snapshot_size(w);
    unsigned char *buf = xcalloc(size, 1);
    CHECK(cg_wgan_snapshot(w, buf, size, err) == CG_OK, "wgan snapshot: %s", err);
    CHECK(cg_wgan_restore(&v, buf, size, err) == CG_OK, "wgan restore: %s", err);
    if (v) {
        /* a seeded draw is reseed + sample, and leaves the model's stream alone */
        CHECK(cg_wgan_sample_seeded(w, S, C, n, 3, err) == CG_OK, "wgan seeded sample: %s", err);
        unsigned char *after = xcalloc(size, 1);
        cg_wgan_snapshot(w, after, size, err);
        CHECK(memcmp(buf, after, size) == 0, "a seeded wgan sample changed the model's state");
        free(after);
        cg_wgan_reseed(v, 3);
        cg_wgan_sample(v, S2, C, n, err);
        CHECK(memcmp(S, S2, n * p * sizeof(cg_real)) == 0, "seeded sample differs from reseed + sample");
        cg_wgan_reseed(w, 3);
        cg_wgan_sample(w, S, C, n, err);
        CHECK(memcmp(S, S2, n * p * sizeof(cg_real)) == 0, "restored wgan samples the same bits");
        cg_wgan_free(v);
        v = NULL;
    }
    CHECK(cg_wgan_restore(&v, buf, size / 2, err) == CG_ESNAPSHOT && !v, "truncated wgan snapshot rejected");
    free(buf);
    int bad_blocks[4] = {-1, -1, 0, -1};
    cg_wgan *z = NULL;
    CHECK(cg_wgan_create(&z, &cfg, bad_blocks, NULL, NULL, err) == CG_EINVAL && !z, "one-level block rejected");
    double badlo[4] = {1, 0, 0, 0}, badhi[4] = {0, 1, 1, 1};
    CHECK(cg_wgan_create(&z, &cfg, NULL, badlo, badhi, err) == CG_EINVAL && !z, "lower > upper rejected");
    cfg.critic_steps = 0;
    CHECK(cg_wgan_create(&z, &cfg, NULL, NULL, NULL, err) == CG_EINVAL && !z, "critic_steps 0 rejected");
    /* the deepest networks the limits allow: the critic then has CG_MAX_LAYERS
     * layers, the most the gradient penalty's per-layer tables hold */
    cg_wgan_config deep = cfg;
    deep.critic_steps = 1;
    deep.n_hidden = CG_MAX_N_HIDDEN;
    deep.hidden_size = 3;
    deep.batch_size = 8;
    CHECK(cg_wgan_create(&z, &deep, blocks, lo, hi, err) == CG_OK, "wgan with %d hidden layers: %s",
          CG_MAX_N_HIDDEN, err);
    if (z) {
        CHECK(cg_wgan_set_data(z, X, C, n, err) == CG_OK && cg_wgan_train(z, 2, NULL, NULL, NULL, err) == CG_OK,
              "wgan with %d hidden layers trains: %s", CG_MAX_N_HIDDEN, err);
        cg_wgan_free(z);
        z = NULL;
    }
    deep.n_hidden = CG_MAX_N_HIDDEN + 1;
    CHECK(cg_wgan_create(&z, &deep, blocks, lo, hi, err) == CG_EINVAL && !z, "wgan with %d hidden layers accepted",
          CG_MAX_N_HIDDEN + 1);
done:
    cg_wgan_free(w);
    cg_wgan_free(NULL);
    free(X);
    free(C);
    free(S);
    free(S2);
}


/* Per-example gradients (DP-SGD): a capture of three passes (real rows'
 * scores, fake rows' scores, the penalty at interpolates) gives each
 * example's squared gradient norm and any weighted sum of the examples'
 * gradients; the reference runs the same three passes on one example at a
 * time and reads the gradient.  act1 is the hidden layers' activation (tanh
 * brings the penalty's second-order term). */
static void test_dp_capture_case(int act, double gp, int one_sided, int with_backward)
{
    enum { IN = 5, NPEN = 3, N = 19 };
    int sizes[4] = {IN, 7, 6, 1}, acts[3] = {act, act, CG_ACT_IDENTITY};
    char err[CG_ERR_LEN] = "", label[96];
    cg_mlp *m = make_mlp(3, sizes, acts, NULL, 41);
    cg_mlp_spec spec = {3, sizes, acts, NULL, NULL};
    cg_mlp_capture *cap = NULL;
    if (!m) return;
    CHECK(cg_mlp_reserve(m, N, err) == CG_OK && cg_mlp_reserve_penalty(m, err) == CG_OK, "reserve: %s", err);
    CHECK(cg_mlp_capture_create(&cap, &spec, N, 4, err) == CG_OK, "capture create: %s", err);
    if (!cap) goto done;
    cg_rng r;
    cg_rng_seed(&r, 977);
    cg_real Xr[N * IN], Xf[N * IN], Xi[N * IN], ones[N], minus[N], one = 1, mone = -1;
    for (size_t i = 0; i < N * IN; i++) {
        Xr[i] = (cg_real)(2 * cg_rng_uniform(&r) - 1);
        Xf[i] = (cg_real)(2 * cg_rng_uniform(&r) - 1);
        Xi[i] = (cg_real)(2 * cg_rng_uniform(&r) - 1);
    }
    for (size_t i = 0; i < N; i++) ones[i] = 1, minus[i] = -1;
    size_t P = cg_mlp_n_params(m);
    double pen;
    cg_mlp_zero_grad(m);
    cg_mlp_capture_begin(m, cap);
    if (with_backward) {
        cg_mlp_forward(m, Xr, N, 1, NULL);
        cg_mlp_backward(m, NULL, minus);
        cg_mlp_forward(m, Xf, N, 1, NULL);
        cg_mlp_backward(m, NULL, ones);
    }
    cg_mlp_forward(m, Xi, N, 1, NULL);
    CHECK(cg_mlp_gradient_penalty(m, NPEN, one_sided, gp, &pen, NULL, err) == CG_OK, "penalty: %s", err);
    CHECK(cg_mlp_capture_end(m, err) == CG_OK, "capture end: %s", err);
    int untouched = 1;
    for (size_t j = 0; j < P; j++) untouched &= cg_mlp_grads(m)[j] == 0;
    CHECK(untouched, "a capture left the gradient block alone");
    double sq[N], wt[N], *ref_sq = dalloc(N), *ref_sum = dalloc(P), *got = dalloc(P);
    cg_mlp_capture_sqnorms(m, cap, sq);
    for (size_t i = 0; i < N; i++) wt[i] = 0.25 + 0.5 * cg_rng_uniform(&r);
    cg_mlp_capture_accumulate(m, cap, wt);
    to_dbl(got, cg_mlp_grads(m), P);
    for (size_t i = 0; i < N; i++) {
        cg_mlp_zero_grad(m);
        if (with_backward) {
            cg_mlp_forward(m, Xr + i * IN, 1, 1, NULL);
            cg_mlp_backward(m, NULL, &mone);
            cg_mlp_forward(m, Xf + i * IN, 1, 1, NULL);
            cg_mlp_backward(m, NULL, &one);
        }
        cg_mlp_forward(m, Xi + i * IN, 1, 1, NULL);
        cg_mlp_gradient_penalty(m, NPEN, one_sided, gp, &pen, NULL, err);
        const cg_real *g = cg_mlp_grads(m);
        ref_sq[i] = 0;
        for (size_t j = 0; j < P; j++) {
            ref_sq[i] += (double)g[j] * g[j];
            ref_sum[j] += wt[i] * (double)g[j];
        }
    }
    double tol = sizeof(cg_real) == 4 ? 2e-4 : 1e-10;
    snprintf(label, sizeof label, "dp capture %s gp=%g%s%s: squared norms", act_name(act), gp,
             one_sided ? " one-sided" : "", with_backward ? "" : " (penalty only)");
    check_close(label, sq, ref_sq, N, tol, 1e-6);
    snprintf(label, sizeof label, "dp capture %s gp=%g%s%s: weighted sum", act_name(act), gp,
             one_sided ? " one-sided" : "", with_backward ? "" : " (penalty only)");
    double scale = 0;
    for (size_t j = 0; j < P; j++) scale = fabs(ref_sum[j]) > scale ? fabs(ref_sum[j]) : scale;
    /* relative to the largest entry: a float sum of a few terms cancels */
    check_close(label, got, ref_sum, P, tol, 1e-3 * scale);
    /* a capture with fewer rows than a pass fails at end, not in memory */
    cg_mlp_capture *small = NULL;
    CHECK(cg_mlp_capture_create(&small, &spec, 2, 1, err) == CG_OK, "small capture: %s", err);
    if (small) {
        cg_mlp_capture_begin(m, small);
        cg_mlp_forward(m, Xr, N, 1, NULL);
        cg_mlp_backward(m, NULL, ones);
        CHECK(cg_mlp_capture_end(m, err) == CG_EINVAL, "an overflowing capture is reported");
        cg_mlp_capture_free(small);
    }
    free(ref_sq);
    free(ref_sum);
    free(got);
done:
    cg_mlp_capture_free(cap);
    cg_mlp_free(m);
}

/* Poisson sampling: the rows are increasing and distinct, a sample taken
 * in chunks is the sample taken at once, and each row's inclusion rate
 * is q (binomial z-scores); the noise is the stream's normals times sd,
 * added and divided as stated. */
static void test_dp_parts(void)
{
    enum { N = 200, TRIALS = 3000 };
    const double q = 0.07;
    int64_t rows[N], chunk[N];
    int counts[N] = {0};
    cg_rng a, b;
    cg_rng_seed(&a, 5);
    int ordered = 1, same = 1;
    for (int t = 0; t < TRIALS; t++) {
        cg_rng_seed(&b, 1000 + (uint64_t)t);
        cg_rng_seed(&a, 1000 + (uint64_t)t);
        int64_t next = 0;
        size_t k = cg_poisson_rows(&a, q, N, &next, rows, N);
        ordered &= next == N;
        for (size_t i = 0; i < k; i++) {
            counts[rows[i]]++;
            if (i) ordered &= rows[i] > rows[i - 1];
        }
        size_t got = 0;
        next = 0;
        while (next < N) {
            size_t part = cg_poisson_rows(&b, q, N, &next, chunk + got, 3);
            if (part == 0) break;
            got += part;
        }
        same &= got == k && memcmp(chunk, rows, k * sizeof *rows) == 0;
    }
    CHECK(ordered, "poisson rows increasing, within range, sample complete");
    CHECK(same, "a poisson sample in chunks of 3 equals the sample at once");
    double worst = 0, total = 0;
    for (int i = 0; i < N; i++) {
        double z = (counts[i] - TRIALS * q) / sqrt(TRIALS * q * (1 - q));
        worst = fabs(z) > worst ? fabs(z) : worst;
        total += counts[i];
    }
    double zt = (total - (double)N * TRIALS * q) / sqrt((double)N * TRIALS * q * (1 - q));
    CHECK(worst < 4.5 && fabs(zt) < 4.5, "poisson inclusion rate q: worst row |z| %.2f, total |z| %.2f", worst,
          fabs(zt));
    int64_t next = 0;
    cg_rng_seed(&a, 9);
    CHECK(cg_poisson_rows(&a, 1.0, 10, &next, rows, N) == 10 && rows[9] == 9, "q = 1 takes every row");
    enum { P = 37 };
    cg_real g[P], noise[P], ref[P];
    double want[P];
    for (int j = 0; j < P; j++) g[j] = (cg_real)(0.1 * j - 1);
    cg_rng_seed(&a, 77);
    cg_rng_seed(&b, 77);
    cg_rng_fill_normal(&b, ref, P, 0.0, 1.0);
    for (int j = 0; j < P; j++) want[j] = ((double)g[j] + 2.5 * (double)ref[j]) / 12.0;
    cg_dp_finish(&a, g, noise, P, 2.5, 12.0);
    check_close_r("dp noise: (g + sd * N(0, 1)) / divisor", g, want, P, sizeof(cg_real) == 4 ? 1e-6 : 1e-14, 1e-9);
}

/* A private WGAN trains, gives the same bits from the same seed, and
 * refuses bad settings. */
static void test_dp_wgan(void)
{
    size_t n = 64, p = 3, c = 2;
    char err[CG_ERR_LEN];
    cg_real *X = ralloc(n * p), *C = ralloc(n * c);
    cg_rng r;
    cg_rng_seed(&r, 3);
    for (size_t i = 0; i < n * p; i++) X[i] = (cg_real)cg_rng_uniform(&r);
    for (size_t i = 0; i < n * c; i++) C[i] = (cg_real)cg_rng_uniform(&r);
    cg_wgan_config cfg = {3, 2, 3, 8, 2, 8, 2, 5.0, 1, 0.0, 1e-3, 0.5, 0.9, 21};
    cg_real *params[2] = {NULL, NULL};
    size_t np = 0;
    for (int run = 0; run < 2; run++) {
        cg_wgan *w = NULL;
        CHECK(cg_wgan_create(&w, &cfg, NULL, NULL, NULL, err) == CG_OK, "dp wgan create: %s", err);
        if (!w) break;
        CHECK(cg_wgan_set_privacy(w, -1, 1, 0.5, err) == CG_EINVAL, "negative noise multiplier refused");
        CHECK(cg_wgan_set_privacy(w, 1, 0, 0.5, err) == CG_EINVAL, "zero clipping norm refused");
        CHECK(cg_wgan_set_privacy(w, 1, 1, 1.5, err) == CG_EINVAL, "sample rate above 1 refused");
        CHECK(cg_wgan_set_privacy(w, 1.1, 1.0, 8.0 / 64, err) == CG_OK, "dp set: %s", err);
        CHECK(cg_wgan_set_data(w, X, C, n, err) == CG_OK, "dp set_data: %s", err);
        double cl[5], gl[5], pl[5];
        CHECK(cg_wgan_train(w, 5, cl, gl, pl, err) == CG_OK, "dp train: %s", err);
        int finite = 1;
        for (int i = 0; i < 5; i++) finite &= isfinite(cl[i]) && isfinite(gl[i]) && pl[i] >= 0;
        CHECK(finite, "dp wgan losses finite");
        size_t size = cg_wgan_snapshot_size(w);
        params[run] = xcalloc(size, 1);
        cg_wgan_snapshot(w, params[run], size, err);
        np = size;
        cg_wgan_free(w);
    }
    if (params[0] && params[1]) CHECK(memcmp(params[0], params[1], np) == 0, "dp wgan: same seed, same bits");
    free(params[0]);
    free(params[1]);
    free(X);
    free(C);
}

static void test_dp(void)
{
    test_dp_capture_case(CG_ACT_RELU, 5.0, 0, 1);
    test_dp_capture_case(CG_ACT_RELU, 5.0, 1, 1);
    test_dp_capture_case(CG_ACT_LEAKY_RELU, 2.0, 0, 1);
    test_dp_capture_case(CG_ACT_TANH, 3.0, 0, 1);
    test_dp_capture_case(CG_ACT_ELU, 3.0, 0, 0);
    test_dp_parts();
    test_dp_wgan();
}

/* GANITE lifecycle: training on a row subset, prediction, sampling, and a
 * snapshot that restores to the same predictions and RNG stream; corrupt
 * snapshots are rejected.  Run under the sanitizers and valgrind. */
static void test_ganite_case(int K, int binary, int noise_dim)
{
    size_t n = 120, d = 3;
    char err[CG_ERR_LEN];
    cg_real *X = ralloc(n * d), *Y = ralloc(n);
    int32_t *T = xcalloc(n, sizeof(int32_t));
    int64_t *rows = xcalloc(n, sizeof(int64_t));
    size_t n_rows = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) X[i * d + j] = (cg_real)urand(-1, 1);
        T[i] = (int32_t)(i % (size_t)K);
        Y[i] = binary ? (cg_real)(urand(0, 1) < 0.5 + 0.3 * X[i * d]) : (cg_real)(X[i * d] + T[i] + 0.1 * urand(-1, 1));
        if (i % 4 != 0) rows[n_rows++] = (int64_t)i;
    }
    cg_ganite_config cfg = {(int)d, K, 8, 2, noise_dim, binary, 16, 2, 1.0, 1.0, 1e-3, 0.01, 99, 0.0};
    cg_ganite *g = NULL, *h = NULL;
    CHECK(cg_ganite_create(&g, &cfg, err) == CG_OK, "ganite K=%d create: %s", K, err);
    if (!g) goto done;
    CHECK(cg_ganite_train_ite(g, 1, NULL, err) == CG_EINVAL && err[0], "ganite trains without data");
    CHECK(cg_ganite_set_data(g, X, T, Y, n, rows, n_rows, err) == CG_OK, "ganite set_data: %s", err);
    int64_t bad_row = (int64_t)n;
    CHECK(cg_ganite_set_data(g, X, T, Y, n, &bad_row, 1, err) == CG_EINVAL, "ganite accepts row %lld", (long long)bad_row);
    CHECK(cg_ganite_set_data(g, X, T, Y, n, rows, n_rows, err) == CG_OK, "ganite set_data again: %s", err);
    {
        /* the outcome scale of each arm, against a direct computation */
        double mean[3], sd[3], ok = 1;
        cg_ganite_outcome_scale(g, mean, sd);
        for (int k = 0; k < K; k++) {
            double s1 = 0, s2 = 0, cnt = 0;
            for (size_t j = 0; j < n_rows; j++)
                if (T[rows[j]] == k) s1 += Y[rows[j]], cnt += 1;
            double mk = binary ? 0 : s1 / cnt;
            for (size_t j = 0; j < n_rows; j++)
                if (T[rows[j]] == k) s2 += (Y[rows[j]] - mk) * (Y[rows[j]] - mk);
            double sk = binary ? 1 : sqrt(s2 / cnt);
            ok = ok && fabs(mean[k] - mk) <= 1e-12 * (1 + fabs(mk)) && fabs(sd[k] - sk) <= 1e-12 * sk;
        }
        CHECK(ok, "K=%d binary=%d: per-arm outcome scale differs from the direct computation", K, binary);
    }
    double gl[20], dl[20], il[20];
    CHECK(cg_ganite_train_counterfactual(g, 20, gl, dl, err) == CG_OK, "ganite counterfactual: %s", err);
    CHECK(cg_ganite_train_ite(g, 20, il, err) == CG_OK, "ganite ite: %s", err);
    int finite = 1;
    for (int i = 0; i < 20; i++) finite &= isfinite(gl[i]) && isfinite(dl[i]) && isfinite(il[i]);
    CHECK(finite, "ganite losses finite");
    cg_real *p1 = ralloc(n * (size_t)K), *p2 = ralloc(n * (size_t)K), *s = ralloc(3 * n * (size_t)K);
    CHECK(cg_ganite_predict(g, p1, X, n, err) == CG_OK, "ganite predict: %s", err);
    int in_range = 1;
    for (size_t i = 0; i < n * (size_t)K; i++) in_range &= isfinite(p1[i]) && (!binary || (p1[i] >= 0 && p1[i] <= 1));
    CHECK(in_range, "ganite predictions finite (and probabilities when binary)");
    {
        /* The inference block completes rows from a cache when one call runs
         * G on at least n_rows rows (20 x 16 >= 90 here), and per minibatch
         * otherwise (1 x 16 < 90): a twin trained one iteration per call
         * must predict the same bits. */
        cg_ganite *twin = NULL;
        cg_real *pt = ralloc(n * (size_t)K);
        CHECK(cg_ganite_create(&twin, &cfg, err) == CG_OK, "twin create: %s", err);
        if (twin) {
            int ok = cg_ganite_set_data(twin, X, T, Y, n, rows, n_rows, err) == CG_OK &&
                     cg_ganite_train_counterfactual(twin, 20, NULL, NULL, err) == CG_OK;
            for (int i = 0; ok && i < 20; i++) ok = cg_ganite_train_ite(twin, 1, NULL, err) == CG_OK;
            ok = ok && cg_ganite_predict(twin, pt, X, n, err) == CG_OK;
            CHECK(ok, "twin training: %s", err);
            CHECK(ok && memcmp(pt, p1, n * (size_t)K * sizeof(cg_real)) == 0,
                  "K=%d binary=%d noise=%d: cached and per-batch completions differ", K, binary, noise_dim);
        }
        cg_ganite_free(twin);
        free(pt);
    }
    CHECK(cg_ganite_sample(g, s, X, T, Y, n, 3, 11, err) == CG_OK, "ganite sample: %s", err);
    int factual = 1;
    for (size_t r = 0; r < 3; r++)
        for (size_t i = 0; i < n; i++) factual &= s[(r * n + i) * (size_t)K + (size_t)T[i]] == Y[i];
    CHECK(factual, "ganite samples keep the factual outcome");
    size_t size = cg_ganite_snapshot_size(g);
    unsigned char *buf = xcalloc(size, 1);
    CHECK(cg_ganite_snapshot(g, buf, size - 1, err) == CG_EINVAL, "ganite snapshot into a short buffer");
    CHECK(cg_ganite_snapshot(g, buf, size, err) == CG_OK, "ganite snapshot: %s", err);
    CHECK(cg_ganite_restore(&h, buf, size, err) == CG_OK, "ganite restore: %s", err);
    if (h) {
        CHECK(cg_ganite_predict(h, p2, X, n, err) == CG_OK, "restored predict: %s", err);
        CHECK(memcmp(p1, p2, n * (size_t)K * sizeof(cg_real)) == 0, "restored model predicts the same bits");
        cg_real *s2 = ralloc(3 * n * (size_t)K);
        /* sampling draws from its own seeded stream: the same seed gives
         * the same draws, before and after a round trip and a first draw */
        cg_ganite_sample(g, s, X, T, Y, n, 3, 12, err);
        cg_ganite_sample(h, s2, X, T, Y, n, 3, 11, err);
        cg_ganite_sample(h, s2, X, T, Y, n, 3, 12, err);
        CHECK(memcmp(s, s2, 3 * n * (size_t)K * sizeof(cg_real)) == 0, "restored model samples the same bits");
        /* ... and leaves the training state alone: g sampled once since the
         * snapshot and h twice, yet they train on to the same bits */
        int ok = cg_ganite_set_data(h, X, T, Y, n, rows, n_rows, err) == CG_OK &&
                 cg_ganite_train_counterfactual(g, 3, NULL, NULL, err) == CG_OK &&
                 cg_ganite_train_counterfactual(h, 3, NULL, NULL, err) == CG_OK &&
                 cg_ganite_train_ite(g, 3, NULL, err) == CG_OK && cg_ganite_train_ite(h, 3, NULL, err) == CG_OK &&
                 cg_ganite_predict(g, p1, X, n, err) == CG_OK && cg_ganite_predict(h, p2, X, n, err) == CG_OK;
        CHECK(ok && memcmp(p1, p2, n * (size_t)K * sizeof(cg_real)) == 0, "sampling changed the training stream");
        free(s2);
        cg_ganite_free(h);
        h = NULL;
    }
    CHECK(cg_ganite_restore(&h, buf, size - 3, err) == CG_ESNAPSHOT && !h, "truncated snapshot rejected");
    buf[0] ^= 0xFF;
    CHECK(cg_ganite_restore(&h, buf, size, err) == CG_ESNAPSHOT && !h, "bad magic rejected");
    buf[0] ^= 0xFF;
    buf[8] ^= 0x7F; /* version */
    CHECK(cg_ganite_restore(&h, buf, size, err) == CG_ESNAPSHOT && !h, "bad version rejected");
    free(buf);
    free(p1);
    free(p2);
    free(s);
done:
    cg_ganite_free(g);
    cg_ganite_free(NULL);
    free(X);
    free(Y);
    free(T);
    free(rows);
}

/* Restarting the inference block: copies of one model restarted with the
 * same beta train to the same bits, another beta to other bits; the copy
 * takes the new beta, and a negative or non-finite beta is refused. */
static void test_ganite_restart(void)
{
    size_t n = 96, d = 3;
    char err[CG_ERR_LEN];
    cg_real *X = ralloc(n * d), *Y = ralloc(n), *p[3];
    int32_t *T = xcalloc(n, sizeof(int32_t));
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) X[i * d + j] = (cg_real)urand(-1, 1);
        T[i] = (int32_t)(i % 2);
        Y[i] = (cg_real)(X[i * d] + T[i] + 0.1 * urand(-1, 1));
    }
    cg_ganite_config cfg = {(int)d, 2, 8, 2, 0, 0, 16, 2, 1.0, 10.0, 1e-3, 0.01, 5, 0.0};
    cg_ganite *g = NULL, *copy[3] = {NULL, NULL, NULL};
    const double beta[3] = {2.0, 2.0, 7.0};
    unsigned char *buf = NULL;
    int ok = cg_ganite_create(&g, &cfg, err) == CG_OK && cg_ganite_set_data(g, X, T, Y, n, NULL, 0, err) == CG_OK &&
             cg_ganite_train_counterfactual(g, 10, NULL, NULL, err) == CG_OK;
    CHECK(ok, "restart setup: %s", err);
    if (!ok) goto done;
    size_t size = cg_ganite_snapshot_size(g);
    buf = xcalloc(size, 1);
    CHECK(cg_ganite_snapshot(g, buf, size, err) == CG_OK, "restart snapshot: %s", err);
    for (int c = 0; c < 3; c++) {
        p[c] = ralloc(n * 2);
        ok = cg_ganite_restore(&copy[c], buf, size, err) == CG_OK &&
             cg_ganite_set_data(copy[c], X, T, Y, n, NULL, 0, err) == CG_OK &&
             cg_ganite_restart_ite(copy[c], beta[c], err) == CG_OK &&
             cg_ganite_train_ite(copy[c], 8, NULL, err) == CG_OK && cg_ganite_predict(copy[c], p[c], X, n, err) == CG_OK;
        CHECK(ok, "restarted copy %d: %s", c, err);
    }
    CHECK(memcmp(p[0], p[1], n * 2 * sizeof(cg_real)) == 0, "copies restarted with one beta differ");
    CHECK(memcmp(p[0], p[2], n * 2 * sizeof(cg_real)) != 0, "copies restarted with two betas agree");
    CHECK(cg_ganite_get_config(copy[2])->beta == 7.0, "restart did not set beta");
    CHECK(cg_ganite_restart_ite(g, -1.0, err) == CG_EINVAL && err[0], "restart accepts beta -1");
    CHECK(cg_ganite_restart_ite(g, NAN, err) == CG_EINVAL, "restart accepts beta NaN");
    CHECK(cg_ganite_get_config(g)->beta == 10.0, "a refused restart changed beta");
    for (int c = 0; c < 3; c++) free(p[c]);
done:
    for (int c = 0; c < 3; c++) cg_ganite_free(copy[c]);
    cg_ganite_free(g);
    free(buf);
    free(X);
    free(Y);
    free(T);
}

static void test_ganite(void)
{
    char err[CG_ERR_LEN];
    cg_ganite *g = NULL;
    cg_ganite_config bad = {3, 1, 8, 2, 0, 0, 16, 2, 1.0, 1.0, 1e-3, 0, 1, 0.0};
    CHECK(cg_ganite_create(&g, &bad, err) == CG_EINVAL && !g && err[0], "ganite rejects K=1");
    bad.n_treatments = 2;
    bad.batch_size = 0;
    CHECK(cg_ganite_create(&g, &bad, err) == CG_EINVAL && !g, "ganite rejects batch_size 0");
    bad.batch_size = 16;
    bad.alpha = -1;
    CHECK(cg_ganite_create(&g, &bad, err) == CG_EINVAL && !g, "ganite rejects alpha < 0");
    test_ganite_case(2, 0, 0);
    test_ganite_case(2, 1, 2);
    test_ganite_case(3, 0, 3);
    test_ganite_case(3, 1, 0);
    test_ganite_restart();
}

/* ------------------------------------------------------------- memory */

#ifdef CG_ALLOC_HOOK
/* run.sh builds with CG_ALLOC_HOOK, so every allocation of the core comes
 * here: each block carries the size asked for in a header, and the bytes the
 * core holds (live) and the most it held (peak) can be read around a call. */
static size_t g_live, g_peak;

typedef union {
    size_t size;
    max_align_t align;
} block_head;

static void *hook_alloc(size_t bytes, int zero)
{
    block_head *h = zero ? calloc(1, sizeof *h + bytes) : malloc(sizeof *h + bytes);
    if (!h) return NULL;
    h->size = bytes;
    g_live += bytes;
    if (g_live > g_peak) g_peak = g_live;
    return h + 1;
}

void *cg_hook_malloc(size_t bytes) { return hook_alloc(bytes, 0); }
void *cg_hook_calloc(size_t bytes) { return hook_alloc(bytes, 1); }
void cg_hook_free(void *p)
{
    if (!p) return;
    block_head *h = (block_head *)p - 1;
    g_live -= h->size;
    free(h);
}

/* the bytes a call holds when it returns and the most it held on the way,
 * from live = base */
typedef struct {
    size_t base;
} watch;
static watch watch_from_here(void)
{
    g_peak = g_live;
    return (watch){g_live};
}
static size_t held(watch w) { return g_live - w.base; }
static size_t peaked(watch w) { return g_peak - w.base; }

static void check_bytes(const char *what, size_t got, size_t want)
{
    CHECK(got == want, "%s: %zu bytes, the *_bytes function says %zu", what, got, want);
}

static void test_mlp_memory(int L, const int *sizes, const int *acts, const double *drop, size_t cap)
{
    char err[CG_ERR_LEN] = "", what[96];
    cg_mlp_spec spec = {L, sizes, acts, NULL, drop};
    cg_mlp *m = NULL;
    watch w = watch_from_here();
    if (!CHECK(cg_mlp_create(&m, &spec, cap, err) == CG_OK, "memory: mlp create: %s", err)) return;
    snprintf(what, sizeof what, "mlp of %d layers, create for %zu rows", L, cap);
    check_bytes(what, held(w), cg_mlp_bytes(&spec, cap));
    check_bytes(what, peaked(w), cg_mlp_bytes(&spec, cap));
    /* growing the cache frees the old one first: then it holds the cache for the new rows */
    cg_mlp_reserve(m, 5 * cap + 3, err);
    snprintf(what, sizeof what, "mlp of %d layers, reserve(%zu)", L, 5 * cap + 3);
    check_bytes(what, held(w), cg_mlp_bytes(&spec, 5 * cap + 3));
    if (sizes[L] == 1) {
        watch pw = watch_from_here();
        CHECK(cg_mlp_reserve_penalty(m, err) == CG_OK, "memory: reserve_penalty: %s", err);
        check_bytes("mlp gradient-penalty buffers", held(pw), cg_mlp_penalty_bytes(&spec, 5 * cap + 3));
    }
    /* a forward and backward within the cache allocate nothing; a fit holds
     * its batch buffers only while it runs */
    size_t n = cap, in = (size_t)sizes[0], out = (size_t)sizes[L];
    cg_real *X = ralloc(n * in), *Y = ralloc(n * out), *dX = ralloc(n * in);
    for (size_t i = 0; i < n * in; i++) X[i] = (cg_real)(0.01 * (double)(i % 17));
    cg_rng rng;
    cg_rng_seed(&rng, 1);
    watch fw = watch_from_here();
    cg_mlp_forward(m, X, n, 1, &rng);
    cg_mlp_backward(m, dX, Y);
    CHECK(peaked(fw) == 0, "mlp forward and backward allocated %zu bytes", peaked(fw));
    cg_adam *opt = NULL;
    cg_adam_config ac = {1e-3, 0.9, 0.999, 1e-8, 0, 1};
    watch aw = watch_from_here();
    cg_adam_create(&opt, cg_mlp_n_params(m), &ac, err);
    check_bytes("adam create", held(aw), cg_adam_bytes(cg_mlp_n_params(m)));
    aw = watch_from_here();
    cg_mlp_fit_mse(m, opt, &rng, X, Y, n, n, 2, NULL, err);
    check_bytes("mlp fit batch buffers", peaked(aw), n * ((in + 2 * out) * sizeof(cg_real) + 12));
    CHECK(held(aw) == 0, "mlp fit kept %zu bytes", held(aw));
    cg_adam_free(opt);
    cg_mlp_free(m);
    CHECK(held(w) == 0, "mlp free left %zu bytes", held(w));
    free(X);
    free(Y);
    free(dX);
}

static void test_ganite_memory(int K, int noise_dim, int batch)
{
    char err[CG_ERR_LEN] = "", what[96];
    size_t n = 1500, d = 4, nr = n - 7;
    cg_ganite_config cfg = {(int)d, K, 12, 2, noise_dim, 0, batch, 1, 1.0, 1.0, 1e-3, 0, 3, 0.0};
    cg_real *X = ralloc(n * d), *Y = ralloc(n), *out = ralloc(2 * n * (size_t)K);
    int32_t *T = xcalloc(n, sizeof *T);
    int64_t *rows = xcalloc(nr, sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) X[i * d + j] = (cg_real)urand(-1, 1);
        T[i] = (int32_t)(i % (size_t)K);
        Y[i] = (cg_real)urand(-1, 1);
    }
    for (size_t j = 0; j < nr; j++) rows[j] = (int64_t)(j + 7);
    snprintf(what, sizeof what, "ganite K=%d noise_dim=%d batch %d", K, noise_dim, batch);
    cg_ganite *g = NULL;
    watch w = watch_from_here();
    if (!CHECK(cg_ganite_create(&g, &cfg, err) == CG_OK, "memory: %s: %s", what, err)) goto done;
    check_bytes(what, held(w), cg_ganite_bytes(&cfg));
    check_bytes(what, peaked(w), cg_ganite_bytes(&cfg));
    watch sw = watch_from_here();
    CHECK(cg_ganite_set_data(g, X, T, Y, n, rows, nr, err) == CG_OK, "memory: set_data: %s", err);
    check_bytes("ganite set_data", held(sw), cg_ganite_data_bytes(&cfg, nr));
    sw = watch_from_here();
    cg_ganite_train_counterfactual(g, 3, NULL, NULL, err);
    cg_ganite_train_ite(g, 3, NULL, err);
    cg_ganite_predict(g, out, X, n, err);
    cg_ganite_sample(g, out, X, T, Y, n, 2, 5, err);
    CHECK(peaked(sw) == 0, "%s: training, predict and sample allocated %zu bytes", what, peaked(sw));
    cg_ganite_free(g);
    CHECK(held(w) == 0, "%s: free left %zu bytes", what, held(w));
done:
    free(X);
    free(Y);
    free(out);
    free(T);
    free(rows);
}

static void test_wgan_memory(int x_dim, int ctx_dim, int batch, double dropout)
{
    char err[CG_ERR_LEN] = "", what[96];
    size_t n = 1300;
    cg_wgan_config cfg = {x_dim, ctx_dim, 3, 10, 2, batch, 2, 5.0, 1, dropout, 1e-3, 0.5, 0.9, 4};
    cg_real *X = ralloc(n * (size_t)x_dim), *C = ralloc(n * (size_t)(ctx_dim + 1)), *S = ralloc(n * (size_t)x_dim);
    for (size_t i = 0; i < n * (size_t)x_dim; i++) X[i] = (cg_real)urand(-1, 1);
    for (size_t i = 0; i < n * (size_t)ctx_dim; i++) C[i] = (cg_real)urand(-1, 1);
    snprintf(what, sizeof what, "wgan x_dim=%d ctx_dim=%d batch %d", x_dim, ctx_dim, batch);
    cg_wgan *w = NULL, *v = NULL;
    watch wa = watch_from_here();
    if (!CHECK(cg_wgan_create(&w, &cfg, NULL, NULL, NULL, err) == CG_OK, "memory: %s: %s", what, err)) goto done;
    check_bytes(what, held(wa), cg_wgan_bytes(&cfg));
    check_bytes(what, peaked(wa), cg_wgan_bytes(&cfg));
    watch sw = watch_from_here();
    cg_wgan_set_data(w, X, ctx_dim ? C : NULL, n, err);
    cg_wgan_train(w, 2, NULL, NULL, NULL, err);
    cg_wgan_sample(w, S, ctx_dim ? C : NULL, n, err);
    cg_wgan_sample_seeded(w, S, ctx_dim ? C : NULL, n, 9, err);
    CHECK(peaked(sw) == 0, "%s: set_data, train and sample allocated %zu bytes", what, peaked(sw));
    size_t size = cg_wgan_snapshot_size(w);
    unsigned char *buf = xcalloc(size, 1);
    cg_wgan_snapshot(w, buf, size, err);
    sw = watch_from_here();
    CHECK(cg_wgan_restore(&v, buf, size, err) == CG_OK, "memory: wgan restore: %s", err);
    check_bytes("wgan restore", held(sw), cg_wgan_bytes(&cfg));
    check_bytes("wgan restore (peak)", peaked(sw), cg_wgan_bytes(&cfg) + 20 * (size_t)x_dim);
    free(buf);
    cg_wgan_free(v);
    cg_wgan_free(w);
    CHECK(held(wa) == 0, "%s: free left %zu bytes", what, held(wa));
done:
    free(X);
    free(C);
    free(S);
}
#endif

/* What create allocates is what the *_bytes functions say, exactly (counted
 * through the allocation hook); calls after create allocate nothing but what
 * cgan.h says; counts that overflow saturate at SIZE_MAX. */
static void test_memory(void)
{
#ifdef CG_ALLOC_HOOK
    {
        static const int sizes[] = {5, 16, 7, 1}, acts[] = {CG_ACT_RELU, CG_ACT_TANH, CG_ACT_IDENTITY};
        static const double drop[] = {0.2, 0, 0};
        test_mlp_memory(3, sizes, acts, drop, 33);
        test_mlp_memory(3, sizes, acts, NULL, 64);
    }
    {
        static const int sizes[] = {3, 30, 2}, acts[] = {CG_ACT_ELU, CG_ACT_IDENTITY};
        test_mlp_memory(2, sizes, acts, NULL, 1);
    }
    test_ganite_memory(2, 0, 16);
    test_ganite_memory(3, 2, 1100);
    test_wgan_memory(3, 2, 16, 0.2);
    test_wgan_memory(2, 0, 1030, 0.0);
#else
    printf("  memory: counted only in a build with -DCG_ALLOC_HOOK (run.sh builds it so)\n");
#endif
    /* saturation instead of wrapping */
    int wide[CG_MAX_LAYERS + 1], acts[CG_MAX_LAYERS];
    for (int l = 0; l <= CG_MAX_LAYERS; l++) wide[l] = CG_MAX_FEATURES;
    for (int l = 0; l < CG_MAX_LAYERS; l++) acts[l] = CG_ACT_TANH;
    cg_mlp_spec huge = {CG_MAX_LAYERS, wide, acts, NULL, NULL};
    CHECK(cg_mlp_bytes(&huge, (size_t)1 << 40) == SIZE_MAX, "cg_mlp_bytes wrapped instead of saturating");
    CHECK(cg_mlp_bytes(&huge, 1) > (size_t)CG_MAX_LAYERS << 40 && cg_mlp_bytes(&huge, 1) < SIZE_MAX,
          "cg_mlp_bytes of %d layers of %d units: %zu", CG_MAX_LAYERS, CG_MAX_FEATURES, cg_mlp_bytes(&huge, 1));
    huge.n_layers = CG_MAX_LAYERS + 1;
    CHECK(cg_mlp_bytes(&huge, 1) == SIZE_MAX && cg_mlp_spec_n_params(&huge) == SIZE_MAX,
          "cg_mlp_bytes counts a spec create refuses");
    huge.n_layers = 2;
    wide[1] = 0;
    CHECK(cg_mlp_bytes(&huge, 1) == SIZE_MAX, "cg_mlp_bytes counts a layer of 0 units");
    CHECK(cg_mlp_penalty_bytes(&huge, 1) == SIZE_MAX, "cg_mlp_penalty_bytes counts a network of 2^20 outputs");
    /* the biggest models the limits allow are counted, not wrapped: an
     * upper bound on their parameters times the four copies per network */
    cg_ganite_config g = {CG_MAX_FEATURES, CG_MAX_TREATMENTS, CG_MAX_HIDDEN_SIZE, CG_MAX_N_HIDDEN, CG_MAX_NOISE_DIM,
                          0, CG_MAX_BATCH_SIZE, 1, 1, 1, 1e-3, 0, 1, 0.0};
    size_t gb = cg_ganite_bytes(&g);
    CHECK(gb > (size_t)3 * 4 * (CG_MAX_N_HIDDEN - 1) * ((size_t)CG_MAX_HIDDEN_SIZE * CG_MAX_HIDDEN_SIZE) * sizeof(cg_real),
          "cg_ganite_bytes of the largest GANITE: %zu", gb);
    cg_wgan_config wc = {CG_MAX_X_DIM, CG_MAX_CTX_DIM, CG_MAX_NOISE_DIM, CG_MAX_HIDDEN_SIZE, CG_MAX_N_HIDDEN,
                         CG_MAX_BATCH_SIZE, 1, 1, 0, 0, 1e-3, 0.5, 0.9, 1};
    size_t wb = cg_wgan_bytes(&wc);
    CHECK(wb > (size_t)2 * 4 * (CG_MAX_N_HIDDEN - 1) * ((size_t)CG_MAX_HIDDEN_SIZE * CG_MAX_HIDDEN_SIZE) * sizeof(cg_real),
          "cg_wgan_bytes of the largest WGAN: %zu", wb);
}

/* ------------------------------------------------------------ divergence */

/* Offset of network block `index` (n_params, params, Adam steps, m, v; see
 * put_net in snapshot.h) of a snapshot whose first block starts at `first`. */
static size_t net_block(const unsigned char *buf, size_t first, int index)
{
    size_t off = first;
    for (int i = 0; i < index; i++) {
        int64_t np;
        memcpy(&np, buf + off, 8);
        off += 8 + 3 * (size_t)np * sizeof(cg_real) + 8;
    }
    return off;
}

static size_t net_params(const unsigned char *buf, size_t off)
{
    int64_t np;
    memcpy(&np, buf + off, 8);
    return (size_t)np;
}

/* NaN into `count` reals at byte `off`: the state of a network that diverged */
static void poison(unsigned char *buf, size_t off, size_t count)
{
    cg_real nan = (cg_real)NAN;
    for (size_t i = 0; i < count; i++) memcpy(buf + off + i * sizeof(cg_real), &nan, sizeof nan);
}

/* The error names the network and the iteration (`want` and `iteration`). */
static int names(const char *err, const char *want, const char *iteration)
{
    return strstr(err, want) != NULL && strstr(err, iteration) != NULL;
}

/* A network whose weights turn non-finite stops training, prediction and
 * sampling with CG_EFLOAT and a message naming that network and the
 * iteration.  The diverged state is made by writing NaN into one network's
 * block of a snapshot (the layout of write_all in ganite.c and wgan_write in
 * wgan.c), so no test-only hook is needed in the core. */
static void test_divergence_ganite(int binary)
{
    size_t n = 64, d = 3;
    const int K = 2;
    char err[CG_ERR_LEN];
    cg_real *X = ralloc(n * d), *Y = ralloc(n), *out = ralloc(2 * n * K);
    int32_t *T = xcalloc(n, sizeof(int32_t));
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) X[i * d + j] = (cg_real)urand(-1, 1);
        T[i] = (int32_t)(i % 2);
        Y[i] = binary ? (cg_real)(i % 3 == 0) : (cg_real)(X[i * d] + T[i]);
    }
    cg_ganite_config cfg = {(int)d, K, 8, 2, 1, binary, 16, 2, 1.0, 1.0, 1e-3, 0.01, 5, 0.0};
    cg_ganite *g = NULL;
    unsigned char *buf = NULL, *bad = NULL;
    if (!CHECK(cg_ganite_create(&g, &cfg, err) == CG_OK, "divergence: ganite create: %s", err)) goto done;
    CHECK(cg_ganite_set_data(g, X, T, Y, n, NULL, 0, err) == CG_OK &&
              cg_ganite_train_counterfactual(g, 2, NULL, NULL, err) == CG_OK && cg_ganite_train_ite(g, 4, NULL, err) == CG_OK,
          "divergence: ganite trains: %s", err);
    size_t size = cg_ganite_snapshot_size(g);
    buf = xcalloc(size, 1);
    bad = xcalloc(size, 1);
    CHECK(cg_ganite_snapshot(g, buf, size, err) == CG_OK, "divergence: ganite snapshot: %s", err);
    /* header 20, 8 ints, 4 doubles, seed, (mean, sd) per arm, 2 counters, rng */
    size_t first = 20 + 32 + 32 + 8 + 16 * (size_t)K + 16 + 32;
    size_t offG = net_block(buf, first, 0), offD = net_block(buf, first, 1), offI = net_block(buf, first, 2);
    size_t nI = net_params(buf, offI);
    size_t avg = net_block(buf, first, 3) + 8;
    if (!CHECK(avg + nI * sizeof(cg_real) == size, "divergence: ganite snapshot layout (%zu + %zu != %zu)", avg,
               nI * sizeof(cg_real), size))
        goto done;
    struct {
        const char *what;
        size_t off, count;
        int call; /* 0 counterfactual, 1 ite, 2 predict, 3 sample */
        const char *want, *iteration;
    } cases[] = {
        {"G weights, training", offG + 8, net_params(buf, offG), 0, "generator G", "iteration 3"},
        {"D weights, training", offD + 8, net_params(buf, offD), 0, "discriminator D", "iteration 3"},
        {"I weights, training", offI + 8, nI, 1, "inference network I", "iteration 5"},
        {"I averaged weights, predict", avg, nI, 2, "inference network I", "after 4 iterations"},
        {"G weights, sample", offG + 8, net_params(buf, offG), 3, "generator G", "after 2 iterations"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memcpy(bad, buf, size);
        poison(bad, cases[c].off, cases[c].count);
        cg_ganite *h = NULL;
        if (!CHECK(cg_ganite_restore(&h, bad, size, err) == CG_OK, "divergence: restore (%s): %s", cases[c].what, err))
            continue;
        cg_status st = CG_OK;
        err[0] = 0;
        if (cases[c].call <= 1) {
            st = cg_ganite_set_data(h, X, T, Y, n, NULL, 0, err);
            if (st == CG_OK)
                st = cases[c].call == 0 ? cg_ganite_train_counterfactual(h, 3, NULL, NULL, err)
                                        : cg_ganite_train_ite(h, 3, NULL, err);
        } else if (cases[c].call == 2) {
            st = cg_ganite_predict(h, out, X, n, err);
        } else {
            st = cg_ganite_sample(h, out, X, T, Y, n, 2, 5, err);
        }
        CHECK(st == CG_EFLOAT && names(err, cases[c].want, cases[c].iteration),
              "divergence (binary=%d, %s): status %s, message '%s' (want '%s', '%s')", binary, cases[c].what,
              cg_status_name(st), err, cases[c].want, cases[c].iteration);
        cg_ganite_free(h);
    }
done:
    cg_ganite_free(g);
    free(buf);
    free(bad);
    free(X);
    free(Y);
    free(T);
    free(out);
}

static void test_divergence_wgan(double gp_lambda)
{
    size_t n = 48, p = 3, c = 1;
    char err[CG_ERR_LEN];
    cg_real *X = ralloc(n * p), *C = ralloc(n * c), *S = ralloc(n * p);
    for (size_t i = 0; i < n; i++) {
        X[i * p + 0] = (cg_real)urand(-1, 1);
        X[i * p + 1] = (cg_real)(i % 2 == 0); /* a categorical block of two levels */
        X[i * p + 2] = (cg_real)(i % 2 == 1);
        C[i] = (cg_real)urand(-1, 1);
    }
    int blocks[3] = {-1, 0, 0};
    cg_wgan_config cfg = {(int)p, (int)c, 2, 8, 2, 16, 2, gp_lambda, 1, 0.0, 1e-3, 0.5, 0.9, 7};
    cg_wgan *w = NULL;
    unsigned char *buf = NULL, *bad = NULL;
    if (!CHECK(cg_wgan_create(&w, &cfg, blocks, NULL, NULL, err) == CG_OK, "divergence: wgan create: %s", err))
        goto done;
    CHECK(cg_wgan_set_data(w, X, C, n, err) == CG_OK && cg_wgan_train(w, 2, NULL, NULL, NULL, err) == CG_OK,
          "divergence: wgan trains: %s", err);
    size_t size = cg_wgan_snapshot_size(w);
    buf = xcalloc(size, 1);
    bad = xcalloc(size, 1);
    CHECK(cg_wgan_snapshot(w, buf, size, err) == CG_OK, "divergence: wgan snapshot: %s", err);
    /* header 20, 8 ints, 5 doubles, seed, (block, lower, upper) per column, steps, rng */
    size_t first = 20 + 32 + 40 + 8 + 20 * p + 8 + 32;
    size_t offG = net_block(buf, first, 0), offC = net_block(buf, first, 1);
    size_t nG = net_params(buf, offG), avg = net_block(buf, first, 2);
    if (!CHECK(avg + nG * sizeof(cg_real) == size, "divergence: wgan snapshot layout")) goto done;
    const char *critic = gp_lambda > 0 ? "critic gradient penalty" : "critic loss";
    struct {
        const char *what;
        size_t off, count;
        int sample;
        const char *want, *iteration;
    } cases[] = {
        {"generator weights, training", offG + 8, nG, 0, "generator", "iteration 3"},
        {"critic weights, training", offC + 8, net_params(buf, offC), 0, critic, "iteration 3"},
        {"averaged generator, sample", avg, nG, 1, "generator", "after 2 iterations"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        memcpy(bad, buf, size);
        poison(bad, cases[k].off, cases[k].count);
        cg_wgan *v = NULL;
        if (!CHECK(cg_wgan_restore(&v, bad, size, err) == CG_OK, "divergence: wgan restore: %s", err)) continue;
        err[0] = 0;
        cg_status st = cases[k].sample ? cg_wgan_sample(v, S, C, n, err) : cg_wgan_set_data(v, X, C, n, err);
        if (!cases[k].sample && st == CG_OK) st = cg_wgan_train(v, 3, NULL, NULL, NULL, err);
        CHECK(st == CG_EFLOAT && names(err, cases[k].want, cases[k].iteration),
              "divergence (wgan, gp_lambda=%g, %s): status %s, message '%s' (want '%s', '%s')", gp_lambda,
              cases[k].what, cg_status_name(st), err, cases[k].want, cases[k].iteration);
        cg_wgan_free(v);
    }
done:
    cg_wgan_free(w);
    free(buf);
    free(bad);
    free(X);
    free(C);
    free(S);
}

static void test_divergence(void)
{
    test_divergence_ganite(0);
    test_divergence_ganite(1);
    test_divergence_wgan(5.0);
    test_divergence_wgan(0.0);
}

/* cg_arm_moments against direct sums, unweighted and weighted, accumulated
 * over two calls (the caller sums blocks of rows); and its argument checks. */
static void test_arm_moments(void)
{
    const size_t n = 41, half = 17;
    const int d = 4, K = 3;
    const size_t m = (size_t)d + 1;
    cg_real *X = ralloc(n * (size_t)d), *Y = ralloc(n);
    double *xd = dalloc(n * (size_t)d), *yd = dalloc(n), *w = dalloc(n);
    int32_t *T = xcalloc(n, sizeof(int32_t));
    fill_n(xd, n * (size_t)d);
    fill_u(yd, n, -3, 3);
    to_real(X, xd, n * (size_t)d);
    to_real(Y, yd, n);
    for (size_t r = 0; r < n; r++) {
        T[r] = (int32_t)cg_rng_below(&g_data, (uint64_t)K);
        w[r] = (double)cg_rng_below(&g_data, 4); /* bootstrap-like counts, zeros included */
    }
    char err[CG_ERR_LEN];
    for (int weighted = 0; weighted < 2; weighted++) {
        double *gram = dalloc((size_t)K * m * m), *cross = dalloc((size_t)K * m), *sq = dalloc((size_t)K);
        double *wg = dalloc((size_t)K * m * m), *wc = dalloc((size_t)K * m), *ws = dalloc((size_t)K);
        const double *wt = weighted ? w : NULL;
        cg_status s1 = cg_arm_moments(X, T, Y, wt, half, d, K, gram, cross, sq, err);
        cg_status s2 = cg_arm_moments(X + half * (size_t)d, T + half, Y + half, wt ? wt + half : NULL, n - half, d,
                                      K, gram, cross, sq, err);
        CHECK(s1 == CG_OK && s2 == CG_OK, "arm_moments: status %d %d", (int)s1, (int)s2);
        for (size_t r = 0; r < n; r++) {
            double wr = weighted ? w[r] : 1.0, a[5] = {1, xd[r * 4], xd[r * 4 + 1], xd[r * 4 + 2], xd[r * 4 + 3]};
            for (size_t i = 0; i < m; i++) {
                for (size_t j = 0; j < m; j++) wg[(size_t)T[r] * m * m + i * m + j] += wr * a[i] * a[j];
                wc[(size_t)T[r] * m + i] += wr * yd[r] * a[i];
            }
            ws[T[r]] += wr * yd[r] * yd[r];
        }
        char label[64];
        snprintf(label, sizeof label, "arm_moments gram%s", weighted ? " weighted" : "");
        check_close(label, gram, wg, (size_t)K * m * m, 1e-12, 1e-9);
        snprintf(label, sizeof label, "arm_moments cross%s", weighted ? " weighted" : "");
        check_close(label, cross, wc, (size_t)K * m, 1e-12, 1e-9);
        snprintf(label, sizeof label, "arm_moments sq%s", weighted ? " weighted" : "");
        check_close(label, sq, ws, (size_t)K, 1e-12, 1e-9);
        free(gram), free(cross), free(sq), free(wg), free(wc), free(ws);
    }
    double gram[3 * 25] = {0}, cross[15] = {0}, sq[3] = {0};
    T[5] = K;
    CHECK(cg_arm_moments(X, T, Y, NULL, n, d, K, gram, cross, sq, err) == CG_EINVAL, "arm_moments: label K");
    T[5] = -1;
    CHECK(cg_arm_moments(X, T, Y, NULL, n, d, K, gram, cross, sq, err) == CG_EINVAL, "arm_moments: label -1");
    T[5] = 0;
    w[3] = -1;
    CHECK(cg_arm_moments(X, T, Y, w, n, d, K, gram, cross, sq, err) == CG_EINVAL, "arm_moments: negative weight");
    w[3] = NAN;
    CHECK(cg_arm_moments(X, T, Y, w, n, d, K, gram, cross, sq, err) == CG_EINVAL, "arm_moments: NaN weight");
    CHECK(cg_arm_moments(X, T, Y, NULL, n, d, 0, gram, cross, sq, err) == CG_EINVAL, "arm_moments: K = 0");
    CHECK(cg_arm_moments(X, T, Y, NULL, n, -1, K, gram, cross, sq, err) == CG_EINVAL, "arm_moments: d < 0");
    free(X), free(Y), free(xd), free(yd), free(w), free(T);
}

/* ------------------------------------------------------------ SCIGAN */
/* Everything below runs after the tests above, so that its draws from the
 * test data stream leave their data unchanged. */

/* The hierarchical discriminator's loss, BCE(sigmoid(a) sigmoid(c), y), one
 * c per set of m elements read with stride ldc: value against the direct
 * double formula, gradients (of a and of c together) against finite
 * differences, accumulation, and extreme logits. */
typedef struct {
    size_t n, m, ldc, n_c;
    double scale;
    double *v, *y;        /* v = [a (n) | c (n_c)] */
    cg_real *ar, *cr, *yr;
} pbce_ctx;

static double pbce_core(pbce_ctx *c, cg_real *ga, cg_real *gc)
{
    to_real(c->ar, c->v, c->n);
    to_real(c->cr, c->v + c->n, c->n_c);
    to_real(c->yr, c->y, c->n);
    return cg_product_bce_loss(ga, gc, c->ar, c->cr, c->m, c->ldc, c->yr, c->n, c->scale);
}

static double pbce_ref(pbce_ctx *c)
{
    double s = 0;
    for (size_t i = 0; i < c->n; i++) {
        double a = c->v[i], cc = c->v[c->n + (i / c->m) * c->ldc], y = c->y[i];
        double p = 1 / (1 + exp(-a)) / (1 + exp(-cc));
        s += -y * log(p) - (1 - y) * log1p(-p);
    }
    return c->scale * s;
}

static double pbce_obj(void *vc, int on_core)
{
    pbce_ctx *c = vc;
    return on_core ? pbce_core(c, NULL, NULL) : pbce_ref(c);
}

static void test_product_bce(void)
{
    pbce_ctx c = {12, 3, 2, 0, 1.0 / 12, NULL, NULL, NULL, NULL, NULL};
    c.n_c = (c.n / c.m) * c.ldc;
    size_t nv = c.n + c.n_c;
    c.v = dalloc(nv), c.y = dalloc(c.n), c.ar = ralloc(c.n), c.cr = ralloc(c.n_c), c.yr = ralloc(c.n);
    fill_u(c.v, nv, -4, 4);
    for (size_t i = 0; i < c.n; i++) c.y[i] = i % 3 == 0;
    c.y[1] = 0.25;
    double lc = pbce_core(&c, NULL, NULL), lr = pbce_ref(&c);
    check_close("product_bce value", &lc, &lr, 1, LOSS_TOL, 1e-300);
    cg_real *ga = ralloc(c.n), *gc = ralloc(c.n_c), *g = ralloc(nv);
    pbce_core(&c, ga, gc);
    memcpy(g, ga, c.n * sizeof(cg_real));
    memcpy(g + c.n, gc, c.n_c * sizeof(cg_real));
    fd_check("product_bce grad (a, c)", pbce_obj, &c, c.v, nv, g);
    for (size_t j = 0; j < c.n_c; j += c.ldc)
        CHECK(gc[j + 1] == 0, "product_bce wrote the gradient of an unused c entry");
    cg_real *ga2 = ralloc(c.n), *gc2 = ralloc(c.n_c);
    pbce_core(&c, ga2, gc2);
    pbce_core(&c, ga2, gc2);
    check_doubled("product_bce grad a", ga2, ga, c.n);
    check_doubled("product_bce grad c", gc2, gc, c.n_c);
    /* far-out logits: finite; with c -> +inf it is the plain BCE of a */
    for (size_t i = 0; i < c.n; i++) c.v[i] = (i % 2 ? 1 : -1) * 60.0 * (double)(i + 1);
    for (size_t j = 0; j < c.n_c; j++) c.v[c.n + j] = 800;
    memset(ga, 0, c.n * sizeof(cg_real));
    memset(gc, 0, c.n_c * sizeof(cg_real));
    double big = pbce_core(&c, ga, gc);
    cg_real *ga3 = ralloc(c.n);
    double plain = cg_bce_logits_loss(ga3, c.ar, c.yr, NULL, c.n, c.scale);
    CHECK(isfinite(big) && cg_all_finite(ga, c.n) && cg_all_finite(gc, c.n_c), "product_bce far out is not finite");
    check_close("product_bce at c = +inf equals bce", &big, &plain, 1, 1e-12, 1e-12);
    for (size_t j = 0; j < c.n_c; j++) c.v[c.n + j] = -800;
    double low = pbce_core(&c, NULL, NULL);
    CHECK(isfinite(low), "product_bce at c = -inf is not finite: %g", low);
    free(c.v), free(c.y), free(c.ar), free(c.cr), free(c.yr);
    free(ga), free(gc), free(g), free(ga2), free(gc2), free(ga3);
}

/* The set kernels: forward against direct double sums, backward (of the
 * objective sum(y * R)) against finite differences, accumulation. */
enum { SET_MEAN, SET_CONCAT, SET_BROADCAST };

typedef struct {
    int kind;
    size_t n, m, w, ld;   /* ld: the mean's output stride, the broadcast's context stride */
    size_t nx, ny;        /* input values (x, then c for broadcast), output values */
    double *x, *R, *y, *base;
    cg_real *xr, *yr;
} set_ctx;

static void set_ref(set_ctx *c, double *y)
{
    size_t n = c->n, m = c->m, w = c->w;
    memset(y, 0, c->ny * sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < w; j++) {
            double mean = 0;
            for (size_t s = 0; s < m; s++) mean += c->x[(i * m + s) * w + j] / (double)m;
            for (size_t s = 0; s < m; s++) {
                double x = c->x[(i * m + s) * w + j];
                if (c->kind == SET_MEAN) y[i * c->ld + j] = mean;
                if (c->kind == SET_CONCAT) {
                    y[(i * m + s) * 2 * w + j] = x;
                    y[(i * m + s) * 2 * w + w + j] = mean;
                }
                if (c->kind == SET_BROADCAST) y[(i * m + s) * w + j] = x + c->x[n * m * w + i * c->ld + j];
            }
        }
}

static void set_core(set_ctx *c)
{
    to_real(c->xr, c->x, c->nx);
    memset(c->yr, 0, c->ny * sizeof(cg_real));
    if (c->kind == SET_MEAN) cg_set_mean_forward(c->yr, c->ld, c->xr, c->n, c->m, c->w);
    if (c->kind == SET_CONCAT) cg_set_concat_mean_forward(c->yr, c->xr, c->n, c->m, c->w);
    if (c->kind == SET_BROADCAST)
        cg_set_broadcast_forward(c->yr, c->xr, c->w, 1, c->xr + c->n * c->m * c->w, c->ld, c->n, c->m, c->w);
    to_dbl(c->y, c->yr, c->ny);
}

static double set_obj(void *vc, int on_core)
{
    set_ctx *c = vc;
    if (on_core)
        set_core(c);
    else
        set_ref(c, c->y);
    return dot_c(c->y, c->base, c->R, c->ny);
}

/* the kernel's backward from dy = R into g[nx] (x's gradient, then c's) */
static void set_backward(set_ctx *c, cg_real *g)
{
    cg_real *dy = ralloc(c->ny);
    to_real(dy, c->R, c->ny);
    size_t nm = c->n * c->m;
    if (c->kind == SET_MEAN) cg_set_mean_backward(g, dy, c->ld, c->n, c->m, c->w);
    if (c->kind == SET_CONCAT) cg_set_concat_mean_backward(g, dy, c->n, c->m, c->w);
    if (c->kind == SET_BROADCAST) {
        for (size_t i = 0; i < nm * c->w; i++) g[i] += dy[i]; /* x's gradient is dy */
        cg_set_broadcast_backward(g + nm * c->w, c->ld, dy, c->w, 1, c->n, c->m, c->w);
    }
    free(dy);
}

static void test_set_kernel(int kind, size_t n, size_t m, size_t w, size_t ld)
{
    static const char *names[] = {"set_mean", "set_concat_mean", "set_broadcast"};
    char name[96];
    size_t nm = n * m;
    set_ctx c = {kind, n, m, w, ld, nm * w, 0, NULL, NULL, NULL, NULL, NULL, NULL};
    if (kind == SET_BROADCAST) c.nx += n * ld;
    c.ny = kind == SET_MEAN ? n * ld : kind == SET_CONCAT ? nm * 2 * w : nm * w;
    c.x = dalloc(c.nx), c.R = dalloc(c.ny), c.y = dalloc(c.ny), c.xr = ralloc(c.nx), c.yr = ralloc(c.ny);
    fill_u(c.x, c.nx, -2, 2);
    fill_u(c.R, c.ny, -1, 1);
    if (kind == SET_MEAN)
        for (size_t i = 0; i < n; i++)
            for (size_t j = w; j < ld; j++) c.R[i * ld + j] = 0; /* the stride's gap is not written */
    double *want = dalloc(c.ny);
    set_ref(&c, want);
    set_core(&c);
    snprintf(name, sizeof name, "%s n=%zu m=%zu w=%zu forward", names[kind], n, m, w);
    check_close(name, c.y, want, c.ny, FWD_TOL, 1.0);
    cg_real *g = ralloc(c.nx), *g2 = ralloc(c.nx);
    set_backward(&c, g);
    c.base = make_base(set_obj, &c, c.y, c.ny);
    snprintf(name, sizeof name, "%s n=%zu m=%zu w=%zu backward", names[kind], n, m, w);
    fd_check(name, set_obj, &c, c.x, c.nx, g);
    set_backward(&c, g2);
    set_backward(&c, g2);
    check_doubled(name, g2, g, c.nx);
    if (kind == SET_BROADCAST) {
        /* y may alias x */
        cg_real *in = ralloc(nm * w);
        to_real(in, c.x, nm * w);
        cg_set_broadcast_forward(in, in, w, 1, c.xr + nm * w, ld, n, m, w);
        CHECK(memcmp(in, c.yr, nm * w * sizeof(cg_real)) == 0, "set_broadcast in place differs");
        /* feature-major lines (rs = 1, cs = a line's length): the same values, transposed */
        size_t line = nm + 3;
        cg_real *fm = ralloc(w * line), *out = ralloc(w * line), *dc = ralloc(n * ld), *dc_rm = ralloc(n * ld);
        cg_real *dy = ralloc(nm * w), *dyT = ralloc(w * line);
        to_real(dy, c.R, nm * w);
        for (size_t r = 0; r < nm; r++)
            for (size_t j = 0; j < w; j++) fm[j * line + r] = c.xr[r * w + j], dyT[j * line + r] = dy[r * w + j];
        cg_set_broadcast_forward(out, fm, 1, line, c.xr + nm * w, ld, n, m, w);
        int same = 1;
        for (size_t r = 0; r < nm; r++)
            for (size_t j = 0; j < w; j++) same &= out[j * line + r] == c.yr[r * w + j];
        CHECK(same, "set_broadcast on feature-major lines differs from row-major");
        cg_set_broadcast_backward(dc, ld, dyT, 1, line, n, m, w);
        cg_set_broadcast_backward(dc_rm, ld, dy, w, 1, n, m, w);
        CHECK(memcmp(dc, dc_rm, n * ld * sizeof(cg_real)) == 0, "set_broadcast backward on lines differs");
        free(in), free(fm), free(out), free(dc), free(dc_rm), free(dy), free(dyT);
    }
    free(c.x), free(c.R), free(c.y), free(c.xr), free(c.yr), free(c.base), free(want), free(g), free(g2);
}

static void test_set_kernels(void)
{
    test_set_kernel(SET_MEAN, 3, 4, 5, 7);
    test_set_kernel(SET_MEAN, 1, 1, 2, 2);
    test_set_kernel(SET_CONCAT, 3, 4, 5, 0);
    test_set_kernel(SET_CONCAT, 2, 1, 3, 0);
    test_set_kernel(SET_BROADCAST, 3, 4, 5, 8);
    test_set_kernel(SET_BROADCAST, 4, 2, 1, 1);
}

/* A view network computes what an owning one with the same parameters
 * does, writes its gradients into the caller's block at its offset and
 * leaves the rest alone, and frees nothing of the block. */
static void test_mlp_view(void)
{
    char err[CG_ERR_LEN];
    cg_mlp_stack s;
    cg_mlp_stack_init_act(&s, 3, 6, 1, 2, 0, CG_ACT_ELU, CG_ACT_TANH);
    size_t np = cg_mlp_spec_n_params(&s.spec), n = 9, off = 5;
    cg_real *block = ralloc(np + 2 * off), *grads = ralloc(np + 2 * off);
    cg_mlp *own = NULL, *view = NULL;
    CHECK(cg_mlp_create_view(&view, &s.spec, n, NULL, grads, err) == CG_EINVAL && !view, "view without a block");
    if (!CHECK(cg_mlp_create(&own, &s.spec, n, err) == CG_OK &&
                   cg_mlp_create_view(&view, &s.spec, n, block + off, grads + off, err) == CG_OK,
               "mlp view create: %s", err))
        goto done;
    CHECK(cg_mlp_n_params(view) == np && cg_mlp_params(view) == block + off && cg_mlp_activation(view, 1) == CG_ACT_TANH,
          "mlp view shape");
    cg_rng rng;
    cg_rng_seed(&rng, 4);
    cg_mlp_init(own, &rng);
    memcpy(block + off, cg_mlp_params(own), np * sizeof(cg_real));
    cg_real *X = ralloc(n * 3), *dY = ralloc(n * 2), *o1 = ralloc(n * 2);
    for (size_t i = 0; i < n * 3; i++) X[i] = (cg_real)urand(-1, 1);
    for (size_t i = 0; i < n * 2; i++) dY[i] = (cg_real)urand(-1, 1);
    memcpy(o1, cg_mlp_forward(own, X, n, 0, NULL), n * 2 * sizeof(cg_real));
    const cg_real *o2 = cg_mlp_forward(view, X, n, 0, NULL);
    CHECK(memcmp(o1, o2, n * 2 * sizeof(cg_real)) == 0, "mlp view forward differs from the owning network");
    cg_mlp_backward(own, NULL, dY);
    cg_mlp_backward(view, NULL, dY);
    CHECK(memcmp(cg_mlp_grads(own), grads + off, np * sizeof(cg_real)) == 0, "mlp view gradients differ");
    {
        /* the feature-major forms give the bits of the row-major ones */
        size_t ldx = n + 5, ldi = (n + CG_FM_ALIGN - 1) / CG_FM_ALIGN * CG_FM_ALIGN + 1, ld = 0;
        cg_real *XT = ralloc(3 * ldx), *dYT = ralloc(2 * ldx), *dX = ralloc(n * 3), *dXT = ralloc(3 * ldi);
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < 3; j++) XT[j * ldx + i] = X[i * 3 + j];
            for (size_t j = 0; j < 2; j++) dYT[j * ldx + i] = dY[i * 2 + j];
        }
        cg_real *g1 = ralloc(np);
        cg_mlp_forward(own, X, n, 0, NULL);
        cg_mlp_zero_grad(own);
        cg_mlp_backward(own, dX, dY);
        memcpy(g1, cg_mlp_grads(own), np * sizeof(cg_real));
        const cg_real *lines = cg_mlp_forward_fm(own, XT, ldx, n, 0, NULL, &ld);
        int same = lines != NULL && ld >= n;
        for (size_t i = 0; same && i < n; i++)
            for (size_t j = 0; j < 2; j++) same &= lines[j * ld + i] == o1[i * 2 + j];
        CHECK(same, "mlp forward_fm differs from forward");
        cg_mlp_zero_grad(own);
        cg_mlp_backward_fm(own, dXT, ldi, dYT, ldx, 1);
        same = memcmp(g1, cg_mlp_grads(own), np * sizeof(cg_real)) == 0;
        for (size_t i = 0; same && i < n; i++)
            for (size_t j = 0; j < 3; j++) same &= dXT[j * ldi + i] == dX[i * 3 + j];
        for (size_t j = 0; same && j < 3; j++)
            for (size_t i = n; i < ldi; i++) same &= dXT[j * ldi + i] == 0;
        CHECK(same, "mlp backward_fm differs from backward (or wrote the padding)");
        CHECK(cg_mlp_forward_fm(own, XT, n - 1, n, 0, NULL, &ld) == NULL, "forward_fm with ldx < n");
        free(XT), free(dYT), free(dX), free(dXT), free(g1);
    }
    int outside = 0;
    for (size_t i = 0; i < off; i++) outside |= grads[i] != 0 || grads[off + np + i] != 0;
    CHECK(!outside, "mlp view wrote outside its part of the block");
    free(X), free(dY), free(o1);
done:
    cg_mlp_free(own);
    cg_mlp_free(view);
    free(block);
    free(grads);
}

/* training data for SCIGAN: y = x0 + treatment + dose-response */
static void scigan_data(size_t n, size_t d, int K, cg_real *X, int32_t *T, cg_real *D, cg_real *Y)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) X[i * d + j] = (cg_real)urand(-1, 1);
        T[i] = (int32_t)(i % (size_t)K);
        D[i] = (cg_real)urand(0, 1);
        Y[i] = (cg_real)(X[i * d] + T[i] + 2 * D[i] * (1 - D[i]) + 0.1 * urand(-1, 1));
    }
}

static cg_scigan_config scigan_small(int d, int K)
{
    cg_scigan_config c = {d, K, 6, 2, 3, 1, 8, 1, CG_ACT_ELU, 1.0, 1.0, 1e-3, 0.01, 17};
    return c;
}

static int same_snapshot(cg_scigan *a, cg_scigan *b)
{
    size_t sa = cg_scigan_snapshot_size(a), sb = cg_scigan_snapshot_size(b);
    if (sa != sb) return 0;
    unsigned char *ba = xcalloc(sa, 1), *bb = xcalloc(sb, 1);
    cg_scigan_snapshot(a, ba, sa, NULL);
    cg_scigan_snapshot(b, bb, sb, NULL);
    int same = memcmp(ba, bb, sa) == 0;
    free(ba);
    free(bb);
    return same;
}

/* SCIGAN lifecycle: training on a row subset, in chunks or at once (same
 * bits), prediction (the same bits whatever the chunking of rows and
 * doses), sampling from its own stream, a snapshot that restores to the
 * same predictions and stream; rejected configurations, data and
 * snapshots. */
static void test_scigan_case(int K, int activation)
{
    size_t n = 90, d = 3;
    char err[CG_ERR_LEN];
    cg_real *X = ralloc(n * d), *D = ralloc(n), *Y = ralloc(n);
    int32_t *T = xcalloc(n, sizeof(int32_t));
    int64_t *rows = xcalloc(n, sizeof(int64_t));
    size_t n_rows = 0;
    scigan_data(n, d, K, X, T, D, Y);
    for (size_t i = 0; i < n; i++)
        if (i % 5 != 0) rows[n_rows++] = (int64_t)i;
    cg_scigan_config cfg = scigan_small((int)d, K);
    cfg.activation = activation;
    cg_scigan *g = NULL, *h = NULL, *twin = NULL;
    size_t m = 7, big = 1100; /* more doses per row than a chunk holds */
    cg_real *doses = ralloc(n * big), *p1 = ralloc(n * big), *p2 = ralloc(n * big), *s1 = ralloc(2 * n * m),
            *s2 = ralloc(2 * n * m);
    for (size_t i = 0; i < n * big; i++) doses[i] = (cg_real)urand(0, 1);
    if (!CHECK(cg_scigan_create(&g, &cfg, err) == CG_OK, "scigan K=%d create: %s", K, err)) goto done;
    CHECK(cg_scigan_train_gan(g, 1, NULL, NULL, NULL, err) == CG_EINVAL && err[0], "scigan trains without data");
    CHECK(cg_scigan_set_data(g, X, T, D, Y, n, rows, n_rows, err) == CG_OK, "scigan set_data: %s", err);
    {
        double mean, sd, s1v = 0, s2v = 0;
        cg_scigan_outcome_scale(g, &mean, &sd);
        for (size_t j = 0; j < n_rows; j++) s1v += Y[rows[j]];
        s1v /= (double)n_rows;
        for (size_t j = 0; j < n_rows; j++) s2v += (Y[rows[j]] - s1v) * (Y[rows[j]] - s1v);
        s2v = sqrt(s2v / (double)n_rows);
        CHECK(fabs(mean - s1v) <= 1e-12 * (1 + fabs(s1v)) && fabs(sd - s2v) <= 1e-12 * s2v,
              "scigan outcome scale (%g, %g) differs from (%g, %g)", mean, sd, s1v, s2v);
    }
    double gl[6], dl[6], tl[6], il[6];
    CHECK(cg_scigan_train_gan(g, 6, gl, dl, tl, err) == CG_OK, "scigan train_gan: %s", err);
    CHECK(cg_scigan_train_inference(g, 6, il, err) == CG_OK, "scigan train_inference: %s", err);
    int finite = 1;
    for (int i = 0; i < 6; i++)
        finite &= isfinite(gl[i]) && isfinite(dl[i]) && dl[i] > 0 && isfinite(tl[i]) && isfinite(il[i]) && il[i] > 0 &&
                  (K >= 2 ? tl[i] > 0 : tl[i] == 0);
    CHECK(finite, "scigan K=%d losses finite (and the treatment discriminator's 0 when K = 1)", K);
    /* the same model trained in chunks of iterations gives the same bits */
    if (CHECK(cg_scigan_create(&twin, &cfg, err) == CG_OK, "scigan twin: %s", err)) {
        int ok = cg_scigan_set_data(twin, X, T, D, Y, n, rows, n_rows, err) == CG_OK &&
                 cg_scigan_train_gan(twin, 2, NULL, NULL, NULL, err) == CG_OK &&
                 cg_scigan_train_gan(twin, 4, NULL, NULL, NULL, err) == CG_OK &&
                 cg_scigan_train_inference(twin, 5, NULL, err) == CG_OK &&
                 cg_scigan_train_inference(twin, 1, NULL, err) == CG_OK;
        CHECK(ok && same_snapshot(g, twin), "scigan K=%d: training in chunks changes the state", K);
        cg_scigan_free(twin);
        twin = NULL;
    }
    for (int k = 0; k < K; k++) {
        CHECK(cg_scigan_predict(g, p1, X, k, doses, n, m, err) == CG_OK, "scigan predict: %s", err);
        CHECK(cg_all_finite(p1, n * m), "scigan predictions finite");
        /* row by row, and one dose at a time: the same bits */
        int same = 1;
        for (size_t i = 0; i < n && same; i++) {
            cg_scigan_predict(g, p2, X + i * d, k, doses + i * m, 1, m, err);
            same = memcmp(p2, p1 + i * m, m * sizeof(cg_real)) == 0;
            for (size_t q = 0; q < m && same; q++) {
                cg_scigan_predict(g, p2, X + i * d, k, doses + i * m + q, 1, 1, err);
                same = p2[0] == p1[i * m + q];
            }
        }
        CHECK(same, "scigan K=%d: predictions depend on how rows and doses are chunked", K);
    }
    CHECK(cg_scigan_predict(g, p1, X, K - 1, doses, 3, big, err) == CG_OK, "scigan predict (%zu doses): %s", big, err);
    {
        int same = 1;
        for (size_t i = 0; i < 3 && same; i++) {
            cg_scigan_predict(g, p2, X + i * d, K - 1, doses + i * big + 1000, 1, big - 1000, err);
            same = memcmp(p2, p1 + i * big + 1000, (big - 1000) * sizeof(cg_real)) == 0;
        }
        CHECK(same, "scigan K=%d: predictions in dose blocks differ", K);
    }
    CHECK(cg_scigan_predict(g, p1, X, K, doses, n, m, err) == CG_EINVAL, "scigan predicts treatment K");
    CHECK(cg_scigan_sample(g, s1, X, T, D, Y, 0, doses, n, m, 2, 11, err) == CG_OK, "scigan sample: %s", err);
    CHECK(cg_all_finite(s1, 2 * n * m), "scigan samples finite");
    size_t size = cg_scigan_snapshot_size(g);
    unsigned char *buf = xcalloc(size, 1);
    CHECK(cg_scigan_snapshot(g, buf, size - 1, err) == CG_EINVAL, "scigan snapshot into a short buffer");
    CHECK(cg_scigan_snapshot(g, buf, size, err) == CG_OK, "scigan snapshot: %s", err);
    if (CHECK(cg_scigan_restore(&h, buf, size, err) == CG_OK, "scigan restore: %s", err)) {
        CHECK(same_snapshot(g, h), "scigan restore changes the state");
        cg_scigan_predict(g, p1, X, 0, doses, n, m, err);
        cg_scigan_predict(h, p2, X, 0, doses, n, m, err);
        CHECK(memcmp(p1, p2, n * m * sizeof(cg_real)) == 0, "restored scigan predicts other bits");
        /* sampling draws from its own seeded stream and leaves the training state alone */
        cg_scigan_sample(h, s2, X, T, D, Y, 0, doses, n, m, 2, 12, err);
        cg_scigan_sample(h, s2, X, T, D, Y, 0, doses, n, m, 2, 11, err);
        CHECK(memcmp(s1, s2, 2 * n * m * sizeof(cg_real)) == 0, "restored scigan samples other bits");
        int ok = cg_scigan_set_data(h, X, T, D, Y, n, rows, n_rows, err) == CG_OK &&
                 cg_scigan_train_gan(g, 2, NULL, NULL, NULL, err) == CG_OK &&
                 cg_scigan_train_gan(h, 2, NULL, NULL, NULL, err) == CG_OK &&
                 cg_scigan_train_inference(g, 2, NULL, err) == CG_OK &&
                 cg_scigan_train_inference(h, 2, NULL, err) == CG_OK;
        CHECK(ok && same_snapshot(g, h), "scigan sampling changed the training stream");
        cg_scigan_free(h);
        h = NULL;
    }
    CHECK(cg_scigan_restore(&h, buf, size - 3, err) == CG_ESNAPSHOT && !h, "truncated scigan snapshot rejected");
    buf[0] ^= 0xFF;
    CHECK(cg_scigan_restore(&h, buf, size, err) == CG_ESNAPSHOT && !h, "scigan snapshot with a bad magic rejected");
    buf[0] ^= 0xFF;
    buf[20] = 0x7F; /* n_features beyond the limit */
    CHECK(cg_scigan_restore(&h, buf, size, err) == CG_ESNAPSHOT && !h, "scigan snapshot with a bad config rejected");
    free(buf);
    /* bad data */
    D[3] = (cg_real)1.5;
    CHECK(cg_scigan_set_data(g, X, T, D, Y, n, NULL, 0, err) == CG_EINVAL && strstr(err, "dose"), "dose 1.5: %s", err);
    D[3] = (cg_real)0.5;
    T[4] = K;
    CHECK(cg_scigan_set_data(g, X, T, D, Y, n, NULL, 0, err) == CG_EINVAL, "treatment K accepted");
    T[4] = 0;
    int64_t bad_row = (int64_t)n;
    CHECK(cg_scigan_set_data(g, X, T, D, Y, n, &bad_row, 1, err) == CG_EINVAL, "row n accepted");
    CHECK(cg_scigan_set_data(g, X, T, D, Y, 5, NULL, 0, err) == CG_EINVAL, "batch_size above the rows accepted");
done:
    cg_scigan_free(g);
    cg_scigan_free(NULL);
    free(X), free(D), free(Y), free(T), free(rows), free(doses), free(p1), free(p2), free(s1), free(s2);
}

static void test_scigan(void)
{
    char err[CG_ERR_LEN];
    cg_scigan *g = NULL;
    cg_scigan_config bad = scigan_small(3, 2);
    bad.n_treatments = 0;
    CHECK(cg_scigan_create(&g, &bad, err) == CG_EINVAL && !g && err[0], "scigan rejects K = 0");
    bad = scigan_small(3, 2);
    bad.n_dosage_samples = 1;
    CHECK(cg_scigan_create(&g, &bad, err) == CG_EINVAL && !g, "scigan rejects one dosage sample");
    bad = scigan_small(3, 2);
    bad.activation = CG_ACT_IDENTITY;
    CHECK(cg_scigan_create(&g, &bad, err) == CG_EINVAL && !g, "scigan rejects an identity activation");
    bad = scigan_small(3, 2);
    bad.alpha = NAN;
    CHECK(cg_scigan_create(&g, &bad, err) == CG_EINVAL && !g, "scigan rejects alpha NaN");
    bad = scigan_small(3, 2);
    bad.hidden_size = 1 << 12;
    bad.n_treatments = 1 << 9;
    CHECK(cg_scigan_create(&g, &bad, err) == CG_EINVAL && !g && cg_scigan_bytes(&bad) == SIZE_MAX,
          "scigan rejects K * hidden_size beyond the layer limit");
    test_scigan_case(1, CG_ACT_ELU);
    test_scigan_case(3, CG_ACT_ELU);
    test_scigan_case(2, CG_ACT_RELU);
}

/* The gradients of every network's training loss (G's, I's, each
 * discriminator's) against central differences of the loss through the
 * whole model, in the double build: the kernels are checked one by one
 * above, and this checks how scigan.c joins them (the sets, the factual
 * swap, the masks, the broadcasts, the heads). */
static void test_scigan_gradients(int K, int noise_dim)
{
#ifdef CG_DOUBLE
    size_t n = 40, d = 3;
    char err[CG_ERR_LEN];
    cg_real *X = ralloc(n * d), *D = ralloc(n), *Y = ralloc(n);
    int32_t *T = xcalloc(n, sizeof(int32_t));
    scigan_data(n, d, K, X, T, D, Y);
    cg_scigan_config cfg = scigan_small((int)d, K);
    cfg.hidden_size = 4;
    cfg.batch_size = 5;
    cfg.noise_dim = noise_dim;
    cg_scigan *g = NULL;
    if (!CHECK(cg_scigan_create(&g, &cfg, err) == CG_OK && cg_scigan_set_data(g, X, T, D, Y, n, NULL, 0, err) == CG_OK &&
                   cg_scigan_train_gan(g, 3, NULL, NULL, NULL, err) == CG_OK &&
                   cg_scigan_train_inference(g, 3, NULL, err) == CG_OK,
               "scigan gradients: setup: %s", err))
        goto done;
    static const char *names[] = {"G", "I", "dosage discriminator", "treatment discriminator"};
    for (int net = 0; net < 4; net++) {
        size_t np;
        cg_real *grads, *params = cg_scigan_test_block(g, net, &np, &grads);
        if (np == 0) continue;
        double loss = cg_scigan_test_loss(g, net);
        CHECK(isfinite(loss), "scigan %s loss: %g", names[net], loss);
        cg_real *analytic = ralloc(np);
        memcpy(analytic, grads, np * sizeof(cg_real));
        double *num = dalloc(np);
        for (size_t i = 0; i < np; i++) {
            cg_real save = params[i];
            params[i] = save + FD_H;
            double fp = cg_scigan_test_loss(g, net);
            params[i] = save - FD_H;
            double fm = cg_scigan_test_loss(g, net);
            params[i] = save;
            num[i] = (fp - fm) / (2 * FD_H);
        }
        char label[96];
        snprintf(label, sizeof label, "scigan K=%d noise=%d: %s loss gradient", K, noise_dim, names[net]);
        check_close_r(label, analytic, num, np, GRAD_TOL, GRAD_FLOOR);
        double norm = 0;
        for (size_t i = 0; i < np; i++) norm += fabs(analytic[i]);
        CHECK(norm > 0, "%s is zero", label);
        free(analytic);
        free(num);
    }
done:
    cg_scigan_free(g);
    free(X), free(D), free(Y), free(T);
#else
    (void)K;
    (void)noise_dim;
    printf("  scigan gradients: checked by finite differences in the double build\n");
#endif
}

#ifdef CG_ALLOC_HOOK
static void test_scigan_memory(int K, int batch)
{
    char err[CG_ERR_LEN] = "", what[96];
    size_t n = 1200, d = 4, m = 5;
    cg_scigan_config cfg = scigan_small((int)d, K);
    cfg.batch_size = batch;
    cg_real *X = ralloc(n * d), *D = ralloc(n), *Y = ralloc(n), *doses = ralloc(n * m), *out = ralloc(2 * n * m);
    int32_t *T = xcalloc(n, sizeof *T);
    scigan_data(n, d, K, X, T, D, Y);
    for (size_t i = 0; i < n * m; i++) doses[i] = (cg_real)urand(0, 1);
    snprintf(what, sizeof what, "scigan K=%d batch %d", K, batch);
    cg_scigan *g = NULL, *h = NULL;
    watch w = watch_from_here();
    if (!CHECK(cg_scigan_create(&g, &cfg, err) == CG_OK, "memory: %s: %s", what, err)) goto done;
    check_bytes(what, held(w), cg_scigan_bytes(&cfg));
    check_bytes(what, peaked(w), cg_scigan_bytes(&cfg));
    watch sw = watch_from_here();
    cg_scigan_set_data(g, X, T, D, Y, n, NULL, 0, err);
    cg_scigan_train_gan(g, 2, NULL, NULL, NULL, err);
    cg_scigan_train_inference(g, 2, NULL, err);
    cg_scigan_predict(g, out, X, 0, doses, n, m, err);
    cg_scigan_sample(g, out, X, T, D, Y, K - 1, doses, n, m, 2, 3, err);
    CHECK(peaked(sw) == 0, "%s: set_data, training, predict and sample allocated %zu bytes", what, peaked(sw));
    size_t size = cg_scigan_snapshot_size(g);
    unsigned char *buf = xcalloc(size, 1);
    cg_scigan_snapshot(g, buf, size, err);
    sw = watch_from_here();
    CHECK(cg_scigan_restore(&h, buf, size, err) == CG_OK, "memory: scigan restore: %s", err);
    check_bytes("scigan restore", held(sw), cg_scigan_bytes(&cfg));
    free(buf);
    cg_scigan_free(h);
    cg_scigan_free(g);
    CHECK(held(w) == 0, "%s: free left %zu bytes", what, held(w));
    /* a view network allocates what cg_mlp_view_bytes says */
    cg_mlp_stack s;
    cg_mlp_stack_init_act(&s, 5, 7, 2, 3, 0.1, CG_ACT_RELU, CG_ACT_IDENTITY);
    cg_real *block = ralloc(cg_mlp_spec_n_params(&s.spec)), *grads = ralloc(cg_mlp_spec_n_params(&s.spec));
    cg_mlp *view = NULL;
    w = watch_from_here();
    CHECK(cg_mlp_create_view(&view, &s.spec, 40, block, grads, err) == CG_OK, "memory: view: %s", err);
    check_bytes("mlp view create", held(w), cg_mlp_view_bytes(&s.spec, 40));
    CHECK(cg_mlp_bytes(&s.spec, 40) - cg_mlp_view_bytes(&s.spec, 40) == 2 * cg_mlp_spec_n_params(&s.spec) * sizeof(cg_real),
          "a view's bytes are not those of a network without its two blocks");
    cg_mlp_free(view);
    CHECK(held(w) == 0, "mlp view free left %zu bytes", held(w));
    free(block);
    free(grads);
done:
    free(X), free(D), free(Y), free(doses), free(out), free(T);
}
#endif

/* A network of SCIGAN's whose weights turn non-finite stops training,
 * prediction and sampling with CG_EFLOAT and a message naming it and the
 * iteration (NaN written into its block of a snapshot, as for GANITE). */
static void test_divergence_scigan(int K)
{
    size_t n = 40, d = 3, m = 4;
    char err[CG_ERR_LEN];
    cg_real *X = ralloc(n * d), *D = ralloc(n), *Y = ralloc(n), *doses = ralloc(n * m), *out = ralloc(2 * n * m);
    int32_t *T = xcalloc(n, sizeof(int32_t));
    scigan_data(n, d, K, X, T, D, Y);
    for (size_t i = 0; i < n * m; i++) doses[i] = (cg_real)urand(0, 1);
    cg_scigan_config cfg = scigan_small((int)d, K);
    cg_scigan *g = NULL;
    unsigned char *buf = NULL, *bad = NULL;
    if (!CHECK(cg_scigan_create(&g, &cfg, err) == CG_OK && cg_scigan_set_data(g, X, T, D, Y, n, NULL, 0, err) == CG_OK &&
                   cg_scigan_train_gan(g, 2, NULL, NULL, NULL, err) == CG_OK &&
                   cg_scigan_train_inference(g, 4, NULL, err) == CG_OK,
               "divergence: scigan: %s", err))
        goto done;
    size_t size = cg_scigan_snapshot_size(g);
    buf = xcalloc(size, 1);
    bad = xcalloc(size, 1);
    cg_scigan_snapshot(g, buf, size, err);
    /* header 20, 9 ints, 4 doubles, seed, mean and sd, 2 counters, rng */
    size_t first = 20 + 36 + 32 + 8 + 16 + 16 + 32, nets = K >= 2 ? 4 : 3;
    size_t offG = net_block(buf, first, 0), offI = net_block(buf, first, 1), offD = net_block(buf, first, 2);
    size_t nI = net_params(buf, offI), avg = net_block(buf, first, (int)nets) + 8;
    if (!CHECK(avg + nI * sizeof(cg_real) == size, "divergence: scigan snapshot layout (%zu + %zu != %zu)", avg,
               nI * sizeof(cg_real), size))
        goto done;
    struct {
        const char *what;
        size_t off, count;
        int call; /* 0 train_gan, 1 train_inference, 2 predict, 3 sample */
        const char *want, *iteration;
    } cases[] = {
        {"G weights, training", offG + 8, net_params(buf, offG), 0, "generator G", "iteration 3"},
        {"dosage discriminator weights", offD + 8, net_params(buf, offD), 0, "dosage discriminator", "iteration 3"},
        {"I weights, training", offI + 8, nI, 1, "inference network I", "iteration 5"},
        {"I averaged weights, predict", avg, nI, 2, "inference network I", "after 4 iterations"},
        {"G weights, sample", offG + 8, net_params(buf, offG), 3, "generator G", "after 2 iterations"},
        {"treatment discriminator weights", K >= 2 ? net_block(buf, first, 3) + 8 : 0,
         K >= 2 ? net_params(buf, net_block(buf, first, 3)) : 0, 0, "treatment discriminator", "iteration 3"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        if (cases[c].count == 0) continue;
        memcpy(bad, buf, size);
        poison(bad, cases[c].off, cases[c].count);
        cg_scigan *h = NULL;
        if (!CHECK(cg_scigan_restore(&h, bad, size, err) == CG_OK, "divergence: restore (%s): %s", cases[c].what, err))
            continue;
        cg_status st = CG_OK;
        err[0] = 0;
        if (cases[c].call <= 1) {
            st = cg_scigan_set_data(h, X, T, D, Y, n, NULL, 0, err);
            if (st == CG_OK)
                st = cases[c].call == 0 ? cg_scigan_train_gan(h, 3, NULL, NULL, NULL, err)
                                        : cg_scigan_train_inference(h, 3, NULL, err);
        } else if (cases[c].call == 2) {
            st = cg_scigan_predict(h, out, X, 0, doses, n, m, err);
        } else {
            st = cg_scigan_sample(h, out, X, T, D, Y, 0, doses, n, m, 2, 5, err);
        }
        CHECK(st == CG_EFLOAT && names(err, cases[c].want, cases[c].iteration),
              "divergence (scigan K=%d, %s): status %s, message '%s' (want '%s', '%s')", K, cases[c].what,
              cg_status_name(st), err, cases[c].want, cases[c].iteration);
        cg_scigan_free(h);
    }
done:
    cg_scigan_free(g);
    free(buf), free(bad), free(X), free(D), free(Y), free(doses), free(out), free(T);
}

static void test_scigan_all(void)
{
    test_product_bce();
    test_set_kernels();
    test_mlp_view();
    test_scigan();
    test_scigan_gradients(1, 0);
    test_scigan_gradients(3, 2);
    test_divergence_scigan(1);
    test_divergence_scigan(3);
#ifdef CG_ALLOC_HOOK
    test_scigan_memory(1, 16);
    test_scigan_memory(3, 300);
#endif
}

int main(int argc, char **argv)
{
    const char *env = getenv("CG_TEST_VERBOSE");
    g_verbose = env && env[0] && strcmp(env, "0") != 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            g_verbose = 1;
        } else {
            fprintf(stderr, "usage: %s [-v]\n", argv[0]);
            return 2;
        }
    }
    cg_rng_seed(&g_data, 20240601);

    test_rng();
    test_fm_kernels();
    test_activation(CG_ACT_IDENTITY, 0);
    test_activation(CG_ACT_RELU, 0);
    test_activation(CG_ACT_LEAKY_RELU, 0.2);
    test_activation(CG_ACT_LEAKY_RELU, 0.01);
    test_activation(CG_ACT_ELU, 1.0);
    test_activation(CG_ACT_ELU, 0.5);
    test_elu_sweep(1.0);
    test_elu_sweep(0.5);
    test_activation(CG_ACT_TANH, 0);
    test_activation(CG_ACT_SIGMOID, 0);
    test_dropout();
    test_losses();
    test_loss_extremes();
    test_mlps();
    test_mlp_capacity();
    test_adam();
    test_validation();
    test_fit_mse();
    test_determinism();
    test_ganite();
    test_penalty();
    test_wgan();
    test_dp();
    test_divergence();
    test_memory();
    test_arm_moments(); /* its draws would shift the data of the tests above */
    test_scigan_all();  /* after the others, for the same reason */

    printf("test_core (%s): %d checks, %d failures\n", BUILD_NAME, g_checks, g_fails);
    return g_fails ? 1 : 0;
}
