"""Propensity models: P(T = k | x) for the AIPW estimate, the bootstrap and
the overlap report.

Candidates, each fitted in C as a small network with a softmax output:
multinomial logistic regression on x; the same on additive cubic B-splines
of each continuous covariate (of its values, or of its ranks for skewed
covariates); and one ReLU layer of 32 units trained briefly with strong
decay or for longer.  Cross-fitted, the one with the lowest held-out
log-loss is kept; in sample, the logistic one (the flexible ones would
always win there).  docs/design.md says why these candidates."""
from __future__ import annotations

import numpy as np

from . import _cgan

# propensities are clipped below at this value (and renormalised) for AIPW
PROPENSITY_CLIP = 0.01
# fit warns when more than OVERLAP_WARN_SHARE of the training rows have an
# unclipped propensity below OVERLAP_THRESHOLD (or above 1 - it) for some arm
OVERLAP_THRESHOLD = 0.01
OVERLAP_WARN_SHARE = 0.05

# (hidden sizes, activations, Adam steps, penalty, inputs).  The penalty is
# AdamW's decoupled weight decay, except for the spline models: there it is a
# ridge penalty of penalty / (2 n) * |w|^2 on the mean log-loss of n rows, so
# that the many local basis coefficients shrink alike whatever n is.
PROPENSITY_MODELS = {
    "logistic": ([], [], 3000, 1e-3, "x"),
    "additive": ([], [], 3000, 1.0, "splines"),
    "additive-rank": ([], [], 3000, 1.0, "rank-splines"),
    "mlp-short": ([32], ["relu"], 300, 1e-1, "x"),
    "mlp-long": ([32], ["relu"], 3000, 1e-3, "x"),
}
# knots of each continuous covariate's cubic B-spline basis, equally spaced
# from its smallest to its largest value (or rank)
SPLINE_KNOTS = 8
# the spline features are built only while they take at most this many bytes
SPLINE_BYTES = 64 << 20


def propensity(Z, codes, K, fold, seed):
    """P(T = k | x) on standardised covariates Z from the propensity model
    propensity_unclipped picks (cross-fitted over `fold` when given,
    logistic otherwise); clipped at PROPENSITY_CLIP and renormalised."""
    return clip_propensity(propensity_unclipped(Z, codes, K, fold, seed)[0])


def clip_propensity(raw):
    out = np.clip(raw, PROPENSITY_CLIP, 1.0)
    return out / out.sum(axis=1, keepdims=True)


def propensity_groups(n, fold):
    """(train rows, held rows) per cross-fitting fold; one in-sample group
    when fold is None."""
    if fold is None:
        return [(np.arange(n), np.arange(n))]
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(int(fold.max()) + 1)]


def bspline_terms(x, lo, hi):
    """Cubic B-splines of x (float64, shape (n, SPLINE_KNOTS + 2)) on
    SPLINE_KNOTS equally spaced knots from lo to hi (lo < hi).  x is
    clamped to [lo, hi] first, so each function is constant beyond the
    range and outlying rows cannot blow up.  Each row holds at most four
    nonzero values, in [0, 1], that sum to 1."""
    k = SPLINE_KNOTS
    u = np.clip((x - lo) / ((hi - lo) / (k - 1)), 0.0, k - 1)
    i = np.minimum(u.astype(np.int64), k - 2)
    s = u - i
    s2, s3 = s * s, s * s * s
    out = np.zeros((len(x), k + 2))
    rows = np.arange(len(x))
    out[rows, i] = (1 - s) ** 3 / 6
    out[rows, i + 1] = (3 * s3 - 6 * s2 + 4) / 6
    out[rows, i + 2] = (-3 * s3 + 3 * s2 + 3 * s + 1) / 6
    out[rows, i + 3] = s3 / 6
    return out


def unit_ranks(x):
    """Average ranks of x (ties share one) scaled to [0, 1]."""
    values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts
    return (first + (counts - 1) / 2.0)[inverse] / max(len(x) - 1, 1)


def spline_features(Z, ranks=False):
    """Cubic B-splines of each continuous column of Z (of its ranks, with
    ``ranks``), and the other columns as they are, float32; or None when
    the basis would exceed SPLINE_BYTES or no column is continuous.

    A column with fewer than 2 * SPLINE_KNOTS distinct values (binary,
    counts) keeps only its linear term.  A continuous column is replaced
    by its basis, which spans the linear term within the knots' range.
    The knots come from x alone: no treatment or outcome information
    enters the basis."""
    plan = spline_plan(Z)
    return None if plan is None else spline_basis(Z, *plan, ranks=ranks)


def spline_plan(Z):
    """(linear columns, [(column, lo, hi), ...] of the spline columns) of
    spline_features on Z, or None when it builds no basis."""
    n, d = Z.shape
    per_column = SPLINE_KNOTS + 2
    if n * per_column * 4 > SPLINE_BYTES:
        return None
    ranges, linear = [], []
    for j in range(d):
        col = Z[:, j].astype(np.float64)
        lo, hi = col.min(), col.max()
        if hi > lo and len(np.unique(col)) >= 2 * SPLINE_KNOTS:
            ranges.append((j, lo, hi))
        else:
            linear.append(j)
    width = len(linear) + per_column * len(ranges)
    if not ranges or n * width * 4 > SPLINE_BYTES:
        return None
    return linear, ranges


def spline_basis(Z, linear, ranges, ranks=False):
    """The features of spline_features for the plan (linear, ranges); with
    the plan of other rows, the same basis on new rows Z (beyond a knot
    range each function is constant)."""
    per_column = SPLINE_KNOTS + 2
    out = np.empty((Z.shape[0], len(linear) + per_column * len(ranges)), dtype=np.float32)
    out[:, :len(linear)] = Z[:, linear]
    for i, (j, lo, hi) in enumerate(ranges):
        at = len(linear) + per_column * i
        col = Z[:, j].astype(np.float64)
        basis = bspline_terms(unit_ranks(col), 0.0, 1.0) if ranks else bspline_terms(col, lo, hi)
        out[:, at:at + per_column] = basis
    return out


def softmax_net(Z, codes, K, seed, model):
    """Propensity model `model` (inputs Z as model_inputs gives them)
    fitted in C to the labels codes in [0, K): a network with a softmax
    output."""
    hidden, acts, n_iter, penalty, inputs = PROPENSITY_MODELS[model]
    ridge = inputs.endswith("splines")
    n = len(codes)
    net = _cgan.MLP([Z.shape[1], *hidden, K], [*acts, "identity"], seed=seed)
    try:
        net.fit_softmax(Z, codes, batch_size=min(256, n), n_iter=n_iter, learning_rate=1e-2,
                        weight_decay=penalty / n if ridge else penalty, decoupled=not ridge)
    except FloatingPointError as exc:
        raise FloatingPointError(f"the propensity model ({model}) diverged: {exc}") from None
    return net


def softmax(net, Z):
    """P(T = k | x) of a softmax_net on rows Z, float64."""
    return softmax_rows(net.forward(Z).astype(np.float64))


def softmax_rows(logits):
    """Each row of float64 logits (modified) turned into probabilities."""
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def fit_propensity(Z, codes, K, groups, seed, model):
    """Held-out P(T = k | x) of one propensity model, fitted in C per group.
    Z holds the model's inputs (a spline basis for the 'additive' models)."""
    out = np.empty((Z.shape[0], K))
    for g, (train, held) in enumerate(groups):
        net = softmax_net(Z[train], codes[train], K, (seed + 7919 * (g + 1)) % 2**64, model)
        out[held] = softmax(net, Z[held])
    return out


def logistic_coef(Z, codes, K, seed):
    """(d + 1, K) float64 coefficients of the logistic propensity model
    fitted to every row of Z (the model propensity(..., fold=None) fits,
    with the same seed): the weights, then the intercepts.  Unlike the
    cross-fitted models, they evaluate on new rows (logistic_propensity)."""
    d = Z.shape[1]
    params = softmax_net(Z, codes, K, (seed + 7919) % 2**64, "logistic").get_params().astype(np.float64)
    return np.vstack([params[:d * K].reshape(d, K), params[d * K:].reshape(1, K)])


def logistic_propensity(coef, Z):
    """Clipped P(T = k | x) on standardised rows Z from logistic_coef's
    coefficients, in float64."""
    return clip_propensity(softmax_rows(np.asarray(Z, dtype=np.float64) @ coef[:-1] + coef[-1]))


def propensity_unclipped(Z, codes, K, fold, seed):
    """Unclipped propensities and the name of the model that gave them.

    Cross-fitted (fold given): every model of PROPENSITY_MODELS is fitted
    (but the 'additive' ones only when spline_features builds a basis) and the one
    with the lowest held-out log-loss is kept.  A misspecified
    propensity model biases AIPW whenever the outcome model is also off, and
    a logistic model cannot follow an assignment such as sigmoid(sin(2 x)).
    In-sample (fold None) the flexible model would always win, so the
    logistic one is used."""
    groups = propensity_groups(Z.shape[0], fold)
    if fold is None:
        return fit_propensity(Z, codes, K, groups, seed, "logistic"), "logistic"
    best = None
    for model in PROPENSITY_MODELS:
        # each spline basis serves one model and is built when it is needed
        inputs = model_inputs(Z, model)
        if inputs is None:
            continue
        probs = fit_propensity(inputs, codes, K, groups, seed, model)
        loss = -np.mean(np.log(np.maximum(probs[np.arange(len(codes)), codes], 1e-300)))
        if best is None or loss < best[0]:
            best = (loss, probs, model)
    return best[1], best[2]


def model_inputs(Z, model):
    """The inputs of propensity model `model` on rows Z: Z itself, or its
    spline basis (None when spline_features builds none)."""
    kind = PROPENSITY_MODELS[model][4]
    return Z if kind == "x" else spline_features(Z, ranks=kind == "rank-splines")


def model_features(Z, model):
    """(inputs, model) for refitting propensity model `model` on rows Z; a
    basis over SPLINE_BYTES falls back to the logistic model on Z, as fit
    would have."""
    features = model_inputs(Z, model)
    return (Z, "logistic") if features is None else (features, model)


_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def overlap_summary(propensity, codes, classes, threshold: float):
    """Per-arm summaries of unclipped propensities: the columns of
    GANITE.overlap_report, as a dict of arrays (one entry per arm) and the
    share of rows with an extreme propensity for any arm."""
    extreme = (propensity < threshold) | (propensity > 1 - threshold)
    K = propensity.shape[1]
    out = {
        "arm": np.asarray(classes),
        "n_received": np.bincount(codes, minlength=K)[:K],
        "min": propensity.min(axis=0),
    }
    qs = np.quantile(propensity, _QUANTILES, axis=0)
    for q, row in zip(_QUANTILES, qs):
        out[f"{100 * q:g}%"] = row
    out["max"] = propensity.max(axis=0)
    out["share_extreme"] = extreme.mean(axis=0)
    return out, float(extreme.any(axis=1).mean())
