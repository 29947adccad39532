"""cgan.GANITE: individual and average treatment effects with GANITE.

GANITE (Yoon, Jordon & van der Schaar, 2018) trains a counterfactual
generator G against a discriminator D that tries to tell the factual outcome
among the K potential outcomes, then fits an inference network I(x) to G's
completed outcome vectors.  The training loops run in cgan's C core; this
module validates input, shows progress in chunks (so Ctrl-C works) and
exposes the EconML-style effect/ate/ate_interval API."""
from __future__ import annotations

import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _cgan
from ._base import BaseEstimator
from ._inference import (
    METHODS_INTERVAL,
    METHODS_POINT,
    TARGETS,
    ATEResult,
    aipw,
    check_alpha,
    check_choice,
    overlap_summary,
    target_rows,
)
from ._progress import Progress, chunks
from ._validation import (
    check_float,
    check_int,
    check_outcome,
    check_random_state,
    check_treatment,
    check_X,
    encode_treatment,
    feature_names,
    label_repr,
    treatment_code,
)

if TYPE_CHECKING:
    import matplotlib.axes
    import pandas
    from numpy.typing import ArrayLike

_PROPENSITY_CLIP = 0.01
# fit warns when more than this share of the training rows has an unclipped
# propensity below _OVERLAP_THRESHOLD (or above 1 - it) for some arm: beyond
# a few per cent, the AIPW weights of a noticeable part of the sample are
# set by the clip rather than the data, and the outcome model extrapolates.
_OVERLAP_THRESHOLD = 0.01
_OVERLAP_WARN_SHARE = 0.05
_DEFAULT_BOOTSTRAP = 100


def _effective_jobs(n_jobs, n_tasks):
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, (bool, np.bool_)) or not isinstance(n_jobs, (int, np.integer)):
        raise TypeError(f"n_jobs must be None or an integer, got {type(n_jobs).__name__}")
    n_jobs = int(n_jobs)
    if n_jobs == 0:
        raise ValueError("n_jobs must not be 0; use None or 1 for one thread, -1 for all cores")
    cpus = os.cpu_count() or 1
    if n_jobs < 0:
        n_jobs = max(1, cpus + 1 + n_jobs)
    return max(1, min(n_jobs, n_tasks))


def _stratified_folds(codes, n_folds, seed):
    """Fold of each row, balanced within each treatment arm."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(codes), dtype=np.int64)
    offset = 0
    for arm in np.unique(codes):
        idx = np.flatnonzero(codes == arm)
        fold[rng.permutation(idx)] = (np.arange(len(idx)) + offset) % n_folds
        offset += len(idx)
    return fold


def _candidate_transforms(option, y, binary, n_members):
    """The outcome scales fit tries: ['none'], ['log'] or both ('auto' on
    positive continuous outcomes, when cross-fitting can compare them)."""
    positive = not binary and bool(np.all(y > 0))
    if option == "log":
        if binary:
            raise ValueError("outcome_transform='log' needs a continuous outcome, but Y is binary")
        if not positive:
            raise ValueError(f"outcome_transform='log' needs every Y to be positive; the smallest is {y.min():g}")
        return ["log"]
    if option == "auto" and positive and n_members > 1:
        return ["none", "log"]
    return ["none"]


def _from_log(mu_log, y_log, codes, K):
    """Predictions mu_log of log(Y) mapped to E[Y | x] = exp(mu_log) * s_k,
    with Duan's smearing factor s_k, the mean of exp(residual) over the
    rows of arm k.  fit passes the cross-fitted predictions; with a single
    member they are in-sample, whose smaller residuals bias s_k down.
    Returns (predictions, s)."""
    smear = _smearing(y_log, mu_log[np.arange(len(codes)), codes], codes, np.ones(K))
    return np.exp(mu_log) * smear, smear


def _smearing(y_log, fitted_log, codes, default):
    """Duan's factor of each arm: the mean of exp(y_log - fitted_log) over
    the rows of that arm (fitted_log: each row's prediction for the arm it
    received); `default`'s entry for an arm with no rows."""
    resid = np.exp(np.asarray(y_log, dtype=np.float64) - fitted_log)
    return np.array([resid[codes == k].mean() if np.any(codes == k) else default[k] for k in range(len(default))])


def _unit_folds(sample, codes, n_folds, rng):
    """Fold of each row of a resample (`sample`, indices that repeat), with
    every copy of a unit in the same fold.  Within each arm the units are
    shuffled, laid end to end by their copies, and each goes to the fold
    its midpoint falls in: fold sizes differ by at most a unit's copies,
    and an arm with at least n_folds distinct units has one in every fold
    whenever no unit holds more than its share of the copies."""
    units, copies = np.unique(sample, return_counts=True)
    unit_fold = np.empty(len(units), dtype=np.int64)
    for arm in np.unique(codes[units]):
        at = rng.permutation(np.flatnonzero(codes[units] == arm))
        c = copies[at]
        before = np.cumsum(c) - c
        unit_fold[at] = (2 * before + c) * n_folds // (2 * c.sum())
    return unit_fold[np.searchsorted(units, sample)]


# Cross-fitting folds inside each replicate of method='bootstrap'.
_BOOTSTRAP_FOLDS = 2

_ROWS_PER_PASS = 65536  # rows converted at a time, to bound temporaries on big data


def _column_scale(Xa):
    """Column means and standard deviations (1 for constant columns), in
    passes over row blocks so that no full-size temporary is made."""
    n, d = Xa.shape
    total = np.zeros(d)
    for i in range(0, n, _ROWS_PER_PASS):
        total += Xa[i:i + _ROWS_PER_PASS].sum(axis=0, dtype=np.float64)
    mean = total / n
    sq = np.zeros(d)
    for i in range(0, n, _ROWS_PER_PASS):
        block = Xa[i:i + _ROWS_PER_PASS] - mean
        sq += np.einsum("ij,ij->j", block, block)
    sd = np.sqrt(sq / n)
    sd[~(sd > 1e-12 * (np.abs(mean) + 1))] = 1.0
    return mean, sd


def _standardize(Xa, mean, sd):
    """(X - mean) / sd as a C-contiguous float32 array."""
    out = np.empty(Xa.shape, dtype=np.float32)
    for i in range(0, Xa.shape[0], _ROWS_PER_PASS):
        out[i:i + _ROWS_PER_PASS] = (Xa[i:i + _ROWS_PER_PASS] - mean) / sd
    return out


def _propensity(Z, codes, K, fold, seed):
    """P(T = k | x) on standardised covariates Z from the propensity model
    _propensity_unclipped picks (cross-fitted over `fold` when given,
    logistic otherwise); clipped at 0.01 and renormalised."""
    return _clip_propensity(_propensity_unclipped(Z, codes, K, fold, seed)[0])


def _clip_propensity(raw):
    out = np.clip(raw, _PROPENSITY_CLIP, 1.0)
    return out / out.sum(axis=1, keepdims=True)


def _propensity_groups(n, fold):
    """(train rows, held rows) per cross-fitting fold; one in-sample group
    when fold is None."""
    if fold is None:
        return [(np.arange(n), np.arange(n))]
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(int(fold.max()) + 1)]


# The propensity models tried, as (hidden sizes, activations, Adam steps,
# penalty, inputs): multinomial logistic regression on x; the same on an
# additive cubic B-spline basis of x, for assignments that are smooth but
# not linear in each covariate (sigmoid(sin(2 x0) + x1^2), say); and a small
# MLP (one ReLU layer of 32) for interactions, trained briefly with strong
# decay or for longer.  Which MLP budget is right depends on the rows and
# the signal (on 800 rows with a weak signal 3000 steps overfit past a
# constant's log-loss; on 2400 rows with a strong one 300 steps underfit),
# so every candidate competes on held-out log-loss.  The penalty is AdamW's
# decoupled weight decay, except for the spline model: there it is a ridge
# penalty of penalty / (2 n) * |w|^2 on the mean log-loss of n rows (close
# to sklearn's LogisticRegression with C = 1 / penalty, which leaves the
# intercept unpenalised where this penalises the biases too), so that the
# many local basis coefficients shrink the same way whatever n is.
_PROPENSITY_MODELS = {
    "logistic": ([], [], 3000, 1e-3, "x"),
    "additive": ([], [], 3000, 1.0, "splines"),
    "additive-rank": ([], [], 3000, 1.0, "rank-splines"),
    "mlp-short": ([32], ["relu"], 300, 1e-1, "x"),
    "mlp-long": ([32], ["relu"], 3000, 1e-3, "x"),
}
# Each continuous covariate gets a cubic B-spline basis on _SPLINE_KNOTS
# equally spaced knots from its smallest to its largest value.  On a skewed
# covariate (income, say) most rows would then share the first interval, so
# 'additive-rank' puts the same basis on each covariate's ranks (scaled to
# [0, 1]): knots at its quantiles, in effect.  Fewer knots (5) could not follow sin(2 x) and left AIPW biased on the
# coverage benchmark's nonlinear design; natural (restricted) cubic splines,
# unbounded and far from orthogonal, fitted worse under the same penalty.
_SPLINE_KNOTS = 8
# The spline features are built only while they take at most this many
# bytes; on more rows the MLP candidates have data enough for smooth shapes.
_SPLINE_BYTES = 64 << 20


def _bspline_terms(x, lo, hi):
    """Cubic B-splines of x (float64, shape (n, _SPLINE_KNOTS + 2)) on
    _SPLINE_KNOTS equally spaced knots from lo to hi (lo < hi).  x is
    clamped to [lo, hi] first, so each function is constant beyond the
    range and outlying rows cannot blow up.  Each row holds at most four
    nonzero values, in [0, 1], that sum to 1."""
    k = _SPLINE_KNOTS
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


def _unit_ranks(x):
    """Average ranks of x (ties share one) scaled to [0, 1]."""
    values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts
    return (first + (counts - 1) / 2.0)[inverse] / max(len(x) - 1, 1)


def _spline_features(Z, ranks=False):
    """Cubic B-splines of each continuous column of Z (of its ranks, with
    ``ranks``), and the other columns as they are, float32; or None when
    the basis would exceed _SPLINE_BYTES or no column is continuous.

    A column with fewer than 2 * _SPLINE_KNOTS distinct values (binary,
    counts) keeps only its linear term.  A continuous column is replaced
    by its basis, which spans the linear term within the knots' range.
    The knots come from x alone: no treatment or outcome information
    enters the basis."""
    n, d = Z.shape
    per_column = _SPLINE_KNOTS + 2
    if n * per_column * 4 > _SPLINE_BYTES:
        return None
    ranges, linear = [], []
    for j in range(d):
        col = Z[:, j].astype(np.float64)
        lo, hi = col.min(), col.max()
        if hi > lo and len(np.unique(col)) >= 2 * _SPLINE_KNOTS:
            ranges.append((j, lo, hi))
        else:
            linear.append(j)
    width = len(linear) + per_column * len(ranges)
    if not ranges or n * width * 4 > _SPLINE_BYTES:
        return None
    out = np.empty((n, width), dtype=np.float32)
    out[:, :len(linear)] = Z[:, linear]
    for i, (j, lo, hi) in enumerate(ranges):
        at = len(linear) + per_column * i
        col = Z[:, j].astype(np.float64)
        basis = _bspline_terms(_unit_ranks(col), 0.0, 1.0) if ranks else _bspline_terms(col, lo, hi)
        out[:, at:at + per_column] = basis
    return out


def _fit_propensity(Z, codes, K, groups, seed, model):
    """Held-out P(T = k | x) of one propensity model, fitted in C per group.
    Z holds the model's inputs (a spline basis for the 'additive' models)."""
    n, d = Z.shape
    hidden, acts, n_iter, penalty, inputs = _PROPENSITY_MODELS[model]
    ridge = inputs.endswith("splines")
    out = np.empty((n, K))
    for g, (train, held) in enumerate(groups):
        net = _cgan.MLP([d, *hidden, K], [*acts, "identity"], seed=(seed + 7919 * (g + 1)) % 2**64)
        try:
            net.fit_softmax(Z[train], codes[train], batch_size=min(256, len(train)), n_iter=n_iter,
                            learning_rate=1e-2, weight_decay=penalty / len(train) if ridge else penalty,
                            decoupled=not ridge)
        except FloatingPointError as exc:
            raise FloatingPointError(f"the propensity model ({model}) diverged: {exc}") from None
        logits = net.forward(Z[held]).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        out[held] = e / e.sum(axis=1, keepdims=True)
    return out


def _propensity_unclipped(Z, codes, K, fold, seed):
    """Unclipped propensities and the name of the model that gave them.

    Cross-fitted (fold given): every model of _PROPENSITY_MODELS is fitted
    (but the 'additive' ones only when _spline_features builds a basis) and the one
    with the lowest held-out log-loss is kept.  A misspecified
    propensity model biases AIPW whenever the outcome model is also off, and
    a logistic model cannot follow an assignment such as sigmoid(sin(2 x)).
    In-sample (fold None) the flexible model would always win, so the
    logistic one is used."""
    groups = _propensity_groups(Z.shape[0], fold)
    if fold is None:
        return _fit_propensity(Z, codes, K, groups, seed, "logistic"), "logistic"
    best = None
    for model, spec in _PROPENSITY_MODELS.items():
        # each spline basis serves one model and is built when it is needed
        inputs = Z if spec[4] == "x" else _spline_features(Z, ranks=spec[4] == "rank-splines")
        if inputs is None:
            continue
        probs = _fit_propensity(inputs, codes, K, groups, seed, model)
        loss = -np.mean(np.log(np.maximum(probs[np.arange(len(codes)), codes], 1e-300)))
        if best is None or loss < best[0]:
            best = (loss, probs, model)
    return best[1], best[2]


# Ridge penalties the baseline tries, per unit of the arm's row weight (the
# covariates are standardised, so each column's sum of squares is about
# that weight): from almost least squares to almost intercept-only.
_RIDGE_GRID = np.logspace(-6, 3, 37)


def _block_rows(d):
    """Rows per block for row-wise passes over d float64 columns: about 8 MiB."""
    return max(1, (8 << 20) // (8 * (d + 1)))


def _arm_moments(Z, codes, y, w, K, stop):
    """(gram, cross, sq) of _cgan.arm_moments summed over blocks of rows
    (weights w; None: every row once), or None once `stop` is set."""
    n, d = Z.shape
    gram, cross, sq = np.zeros((K, d + 1, d + 1)), np.zeros((K, d + 1)), np.zeros(K)
    step = _block_rows(d)
    for start in range(0, n, step):
        if stop is not None and stop.is_set():
            return None
        block = slice(start, start + step)
        g, c, q = _cgan.arm_moments(Z[block], codes[block], y[block], K, None if w is None else w[block])
        gram += g
        cross += c
        sq += q
    return gram, cross, sq


def _centred(gram, cross, sq):
    """One arm's moments (as _cgan.arm_moments gives them) about its means:
    (weight W, covariate means, outcome mean, centred X'X, centred X'y,
    centred y'y); W > 0."""
    W = gram[0, 0]
    xbar, ybar = gram[0, 1:] / W, cross[0] / W
    return (W, xbar, ybar, gram[1:, 1:] - W * np.outer(xbar, xbar), cross[1:] - W * xbar * ybar,
            max(sq - W * ybar * ybar, 0.0))


def _ridge_penalty(gram, cross, sq):
    """The ridge penalty GCV picks from _RIDGE_GRID for one arm's moments
    (as _cgan.arm_moments gives them); None with fewer than 3 rows."""
    if gram[0, 0] < 3:
        return None
    W, _, _, S, r, syy = _centred(gram, cross, sq)
    e, V = np.linalg.eigh(S)
    e = np.maximum(e, 0.0)
    q = V.T @ r
    best = None
    for lam in W * _RIDGE_GRID:
        df = 1.0 + np.sum(e / (e + lam))
        if df >= W - 1:
            continue
        rss = max(syy - np.sum(q * q * (e + 2 * lam) / (e + lam) ** 2), 0.0)
        gcv = rss / W / (1.0 - df / W) ** 2
        if best is None or gcv < best[0]:
            best = (gcv, lam / W)
    return _RIDGE_GRID[-1] if best is None else best[1]


def _fit_baseline(Z, codes, y, rows, K, stop=None):
    """Each arm's ridge regression of y on the standardised covariates Z,
    over `rows` (repeats count as weights; None: every row), with an
    unpenalised intercept, its penalty chosen by generalised
    cross-validation from _RIDGE_GRID.  On a resample the penalty is
    chosen on the distinct rows, as on the data (copies of a row would look
    like independent confirmations and draw the penalty down), and the
    line is then fitted with the copies as weights.  Only per-arm moments
    are formed, in C, a block of rows at a time, so the memory is O(n + K
    d^2).  Returns coef of shape (d + 1, K), row 0 the intercepts (an arm
    with fewer than 3 rows gets its mean, 0 with none), or None once
    `stop` is set."""
    n, d = Z.shape
    w = None if rows is None else np.bincount(rows, minlength=n).astype(np.float64)
    moments = _arm_moments(Z, codes, y, w, K, stop)
    if moments is None:
        return None
    distinct = moments
    if w is not None and np.any(w > 1):
        distinct = _arm_moments(Z, codes, y, (w > 0).astype(np.float64), K, stop)
        if distinct is None:
            return None
    gram, cross, sq = moments
    coef = np.zeros((d + 1, K))
    for k in range(K):
        W = gram[k, 0, 0]
        penalty = _ridge_penalty(distinct[0][k], distinct[1][k], distinct[2][k])
        if penalty is None or W < 3:
            coef[0, k] = cross[k, 0] / W if W > 0 else 0.0
            continue
        _, xbar, ybar, S, r, _ = _centred(gram[k], cross[k], sq[k])
        b = np.linalg.solve(S + W * penalty * np.eye(d), r)
        coef[0, k] = ybar - xbar @ b
        coef[1:, k] = b
    return coef


def _line(Z, coef):
    """Each arm's line (coef, as _fit_baseline returns) on the rows Z,
    float64 of shape (n, K), a block of rows at a time."""
    out = np.empty((Z.shape[0], coef.shape[1]))
    step = _block_rows(Z.shape[1])
    for start in range(0, Z.shape[0], step):
        block = slice(start, start + step)
        with np.errstate(over="ignore", invalid="ignore"):
            out[block] = np.asarray(Z[block], dtype=np.float64) @ coef[1:] + coef[0]
    if not np.all(np.isfinite(out)):
        raise ValueError("the baseline's lines give non-finite values on these rows; the model's saved "
                         "lines or the covariates are out of range")
    return out


class _Member:
    """One trained GANITE core and the per-arm line (coef, as
    _fit_baseline returns) it was trained around: the core learned each
    arm's outcome minus the line, on the networks' scale, and the member's
    predictions and draws add the line back."""

    __slots__ = ("core", "coef")

    def __init__(self, core, coef):
        self.core, self.coef = core, coef

    def line(self, Z):
        return _line(Z, self.coef)

    def predict(self, Z, line=None):
        """Predictions for rows Z; `line`, when given, is self.line(Z)."""
        return self.core.predict(Z).astype(np.float64) + (self.line(Z) if line is None else line)

    def sample(self, Z, t, anchor, n_samples, seed, line=None):
        """core.sample with the anchor outcomes taken off the line and every
        draw put back on it; `line`, when given, is self.line(Z)."""
        if line is None:
            line = self.line(Z)
        residual = np.asarray(anchor, dtype=np.float64) - line[np.arange(len(t)), t]
        return self.core.sample(Z, t, residual, n_samples, seed) + line


# The lines are fitted while each arm's Gram matrix, K (d + 1)^2 doubles in
# all, takes at most this many bytes (d up to about 2,000 with two arms);
# wider data take no baseline.
_BASELINE_BYTES = 64 << 20


def _fits_baseline(d, K):
    return 8 * K * (d + 1) ** 2 <= _BASELINE_BYTES


def _train_member(p, X32, codes, y32, K, binary, seed, rows, stop, bar):
    """A _Member trained on `rows` of (X32, codes, y32) (all when None;
    repeats allowed): the per-arm ridge line first, when p['baseline'] is
    'linear' and the outcome continuous, then the core on the residuals.
    Returns (member, generator, discriminator and inference losses), or
    None when stopped."""
    coef = np.zeros((X32.shape[1] + 1, K))
    target = y32
    if p["baseline"] == "linear" and not binary and _fits_baseline(X32.shape[1], K):
        coef = _fit_baseline(X32, codes, y32, rows, K, stop)
        if coef is None:
            return None
        target = _line(X32, coef)[np.arange(len(codes)), codes]
        target = np.ascontiguousarray(y32 - target, dtype=np.float32)
    out = _train_core(p, X32, codes, target, K, binary, seed, rows, stop, bar)
    return None if out is None else (_Member(out[0], coef), *out[1:])


def _train_core(p, X32, codes, y32, K, binary, seed, rows, stop, bar):
    """One GANITE model trained in C on `rows` of (X32, codes, y32) (all rows
    when None; repeats allowed), in chunks so that `stop` and the progress
    bar are served.  Returns (core, generator, discriminator and inference
    losses), or None when stopped."""
    core = _cgan.Ganite(
        n_features=X32.shape[1], n_treatments=K, hidden_size=p["hidden_size"], n_hidden=p["n_hidden"],
        noise_dim=p["noise_dim"], binary_outcome=int(binary), batch_size=p["batch_size"],
        d_steps=p["d_steps"], alpha=p["alpha"], beta=p["beta"], learning_rate=p["learning_rate"],
        weight_decay=p["weight_decay"], seed=int(seed),
    )
    core.set_data(X32, codes, y32, rows=rows, copy=False)
    g_all, d_all, i_all = [np.zeros(0)], [np.zeros(0)], [np.zeros(0)]
    try:
        for size in chunks(p["n_iter"]):
            if stop.is_set():
                return None
            g, dl = core.train_counterfactual(size)
            g_all.append(g)
            d_all.append(dl)
            bar.update(len(g), G=float(g[-1]), D=float(dl[-1]))
        for size in chunks(p["n_iter_ite"]):
            if stop.is_set():
                return None
            il = core.train_ite(size)
            i_all.append(il)
            bar.update(len(il), I=float(il[-1]))
    finally:
        core.clear_data()
    return core, np.concatenate(g_all), np.concatenate(d_all), np.concatenate(i_all)


def _covariates(X, W):
    """(argument name, covariates) from fit's X and W, of which exactly one
    must be given: GANITE has no separate controls."""
    if X is not None and W is not None:
        raise ValueError(
            "GANITE conditions on every covariate and has no separate controls W: pass the covariates as X or "
            "as W, not both (join them into one X, e.g. with numpy.hstack or pandas.concat(axis=1))"
        )
    if X is None and W is None:
        raise TypeError("X is required; got None (fit needs the covariates, as X or as W, EconML's name for controls)")
    return ("X", X) if X is not None else ("W", W)


def _map_threads(task, n_tasks, n_jobs, stop):
    """[task(i) for i in range(n_tasks)] on n_jobs threads; `stop` is set on
    any exception (Ctrl-C included) so that running tasks return early."""
    try:
        if n_jobs == 1:
            return [task(i) for i in range(n_tasks)]
        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            futures = [pool.submit(task, i) for i in range(n_tasks)]
            try:
                return [f.result() for f in futures]
            except BaseException:
                # before the pool's exit, which waits for the running tasks
                stop.set()
                raise
    except BaseException:
        stop.set()
        raise


class GANITE(BaseEstimator):
    """Treatment effects with generative adversarial nets (GANITE).

    A counterfactual generator completes each unit's vector of potential
    outcomes against a discriminator that tries to tell the factual entry,
    and an inference network learns the completed vectors from the
    covariates (Yoon, Jordon & van der Schaar, 2018).  Any number of arms
    with any labels, continuous or binary outcomes.  Method names and
    shapes follow EconML's CATE estimators (``effect``, ``effect_interval``,
    ``const_marginal_effect``, ``ate``, ``ate_interval``,
    ``ate_inference``), so DoWhy's EconML wrapper can drive it (see
    notebooks/03_econml_dowhy.ipynb).

    Parameters
    ----------
    hidden_size : int, default=128
        Width of each hidden layer of the generator, discriminator and
        inference networks.
    n_hidden : int, default=2
        Hidden layers per network.
    n_estimators : int, default=5
        GANITE models, each with its own seed, whose predictions are
        averaged.  Adversarial training on small samples is noisy; on the
        training rows of IHDP (at n_iter 1000), averaging five cut
        sqrt(PEHE) by about a quarter and the ATE error by more than half.
        With two or more, the rows are split into n_estimators folds
        (balanced by arm) and member m trains on all folds but m, which
        gives the cross-fitted predictions that :meth:`ate_interval` and
        :attr:`oof_score_` need.
    batch_size : int, default=256
        Rows per minibatch; must not exceed the number of training rows.
    n_iter : int, default=250
        Iterations of the counterfactual block (each has ``d_steps``
        discriminator steps and one generator step).  hidden_size and
        weight_decay were chosen by in-sample PEHE on the training rows of
        IHDP replications 1-10 (never the test rows).  n_iter was then
        chosen by the cross-fitted held-out factual loss (each member
        scored on the fold it did not train on), which needs no
        counterfactual truth: on IHDP, Twins and a simulated nonlinear
        design, 250 iterations of each block beat 1000, which overfit the
        inference network (see benchmarks/README.md).  Larger data sets
        want more iterations (on 50,000 simulated rows 8000 beat 250);
        compare settings by :attr:`oof_score_`.
    n_iter_ite : int or None, default=None
        Iterations of the inference block; None uses ``n_iter``.
    d_steps : int, default=2
        Discriminator steps per generator step.
    alpha : float, default=1.0
        Weight of the adversarial term in the generator loss
        (supervised loss - alpha * discriminator loss).
    beta : float, default=10.0
        Weight of the factual entry in the inference network's loss; each
        counterfactual entry (G's completion) has weight 1.  The GANITE
        reference weighting is 1.  The default 10 keeps I close to the
        observed outcomes where G's completions are biased in the mean (as
        on Twins); it was chosen on training rows only, by held-out
        factual loss and in-sample effect errors on IHDP and Twins (see
        benchmarks/README.md).
    learning_rate : float, default=1e-3
        Adam step size for all three networks.  Predictions use an
        exponential moving average of the inference network's weights.
    weight_decay : float, default=0.1
        Decoupled (AdamW) weight decay.  Each step multiplies the weights by
        ``1 - learning_rate * weight_decay``, so that product must be at
        most 1.
    noise_dim : int, default=0
        Dimensions of the generator's Gaussian noise.  0 gives a
        deterministic generator; a positive value makes :meth:`sample` draw
        varied counterfactuals.
    outcome : {'auto', 'continuous', 'binary'}, default='auto'
        'auto' treats an outcome holding only 0 and 1 as binary.
    outcome_transform : {'auto', 'none', 'log'}, default='auto'
        The scale the networks learn a continuous outcome on.  'log' fits
        log(Y) (every Y must be positive) and maps predictions back with
        Duan's smearing factor per arm, so that they estimate E[Y | x]:
        for skewed positive outcomes such as costs or earnings, whose
        effects grow with the level.  'auto' fits both scales when every
        Y is positive (twice the work) and keeps the one with the lower
        cross-fitted squared error in Y's own units (see ``oof_score_``),
        which needs n_estimators >= 2; otherwise, and for a binary
        outcome, it means 'none'.
    baseline : {'linear', 'none'}, default='linear'
        'linear' fits each arm's ridge regression of the outcome (on the
        networks' scale) on the covariates, its penalty chosen by
        generalised cross-validation, and trains the networks on what the
        lines leave; predictions and draws add the lines back.  The
        networks then learn only the departures from linearity, which
        they do with less data, and effects extrapolate along the lines
        rather than along whatever slopes the networks learnt from the few
        rows at the edge of the data.  Each ensemble
        member fits its lines on its own rows, so the cross-fitted
        predictions stay honest.  A binary outcome takes no baseline, nor
        do data so wide that the arms' Gram matrices would pass 64 MiB
        (about 2,000 covariates with two arms).
        Chosen on IHDP's training rows, where it cut the in-sample
        sqrt(PEHE) from 0.91 to 0.70 (see benchmarks/README.md).
    random_state : int, numpy Generator or None, default=None
        Seeds the model's own random stream.  The same value gives
        bit-identical fits.
    n_jobs : int or None, default=None
        Threads that train ensemble members in parallel (None: 1; -1: all
        cores).  Results are bit-identical whatever the value.
    verbose : bool, default=False
        Show training progress (tqdm when installed).

    Attributes
    ----------
    classes_ : ndarray
        The treatment labels, sorted; column k of :meth:`predict` is arm
        ``classes_[k]``.
    n_features_in_ : int
        Columns of the covariates seen in :meth:`fit`.
    feature_names_in_ : ndarray of str
        Their names; present when the covariates were a DataFrame.
    outcome_type_ : str
        'continuous' or 'binary'.
    history_ : dict of ndarray
        'generator_loss', 'discriminator_loss' and 'ite_loss', each of shape
        (n_estimators, iterations).
    propensity_fit_ : ndarray of shape (n, K)
        The training rows' propensities, cross-fitted, clipped at 0.01 and
        renormalised; AIPW uses them.
    outcome_transform_ : {'none', 'log'}
        The outcome scale the fitted networks use.
    propensity_model_ : str
        The propensity model behind them: 'logistic' (multinomial logistic
        regression), 'additive' (the same, ridge-penalised, on cubic
        B-splines of each continuous covariate with eight equally spaced
        knots; tried while the basis takes at most 64 MiB), 'additive-rank'
        (the same on each covariate's ranks, for skewed ones), 'mlp-short' or 'mlp-long' (one ReLU layer of 32 units, 300
        Adam steps with weight decay 0.1, or 3000 with 0.001), whichever had
        the lowest cross-fitted log-loss; 'logistic' when n_estimators is 1.

    See Also
    --------
    cgan.fit : fit in one call.
    cgan.CausalWGAN : synthetic data with known effects, to test estimators.

    Examples
    --------
    >>> from cgan import GANITE
    >>> from cgan.datasets import load_ihdp
    >>> data = load_ihdp()
    >>> model = GANITE(n_iter=50, random_state=0).fit(data.Y, data.T, X=data.X)
    >>> model.predict(data.X[:3]).shape
    (3, 2)
    >>> model.effect(data.X[:3]).shape
    (3,)
    >>> lo, hi = model.ate_interval()
    >>> bool(lo < hi)
    True
    """

    def __init__(
        self,
        *,
        hidden_size: int = 128,
        n_hidden: int = 2,
        n_estimators: int = 5,
        batch_size: int = 256,
        n_iter: int = 250,
        n_iter_ite: int | None = None,
        d_steps: int = 2,
        alpha: float = 1.0,
        beta: float = 10.0,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.1,
        noise_dim: int = 0,
        outcome: str = "auto",
        outcome_transform: str = "auto",
        baseline: str = "linear",
        random_state: int | np.random.Generator | None = None,
        n_jobs: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.hidden_size = hidden_size
        self.n_hidden = n_hidden
        self.n_estimators = n_estimators
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.n_iter_ite = n_iter_ite
        self.d_steps = d_steps
        self.alpha = alpha
        self.beta = beta
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.noise_dim = noise_dim
        self.outcome = outcome
        self.outcome_transform = outcome_transform
        self.baseline = baseline
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def _check_params(self):
        p = {
            "hidden_size": check_int(self.hidden_size, "hidden_size", 1, 65536),
            "n_hidden": check_int(self.n_hidden, "n_hidden", 1, 64),
            "n_estimators": check_int(self.n_estimators, "n_estimators", 1, 1000),
            "batch_size": check_int(self.batch_size, "batch_size", 1, 1 << 24),
            "n_iter": check_int(self.n_iter, "n_iter", 0, 1 << 31),
            "n_iter_ite": check_int(self.n_iter if self.n_iter_ite is None else self.n_iter_ite,
                                    "n_iter_ite", 0, 1 << 31),
            "d_steps": check_int(self.d_steps, "d_steps", 1, 1000),
            "alpha": check_float(self.alpha, "alpha", 0.0),
            "beta": check_float(self.beta, "beta", 0.0),
            "learning_rate": check_float(self.learning_rate, "learning_rate", 0.0, 10.0, low_open=True),
            "weight_decay": check_float(self.weight_decay, "weight_decay", 0.0, 1e3),
            "noise_dim": check_int(self.noise_dim, "noise_dim", 0, 4096),
        }
        check_choice(self.outcome, "outcome", ("auto", "continuous", "binary"))
        p["outcome_transform"] = check_choice(self.outcome_transform, "outcome_transform", ("auto", "none", "log"))
        p["baseline"] = check_choice(self.baseline, "baseline", ("linear", "none"))
        if p["learning_rate"] * p["weight_decay"] > 1:
            # AdamW multiplies every weight by 1 - learning_rate * weight_decay per step: below -1 the
            # weights grow geometrically and training overflows within a few steps
            raise ValueError(f"learning_rate * weight_decay must be at most 1, got {p['learning_rate']:g} * "
                             f"{p['weight_decay']:g}; lower one of them")
        _effective_jobs(self.n_jobs, 1)
        if not isinstance(self.verbose, (bool, np.bool_, int)):
            raise TypeError(f"verbose must be a bool, got {type(self.verbose).__name__}")
        return p

    def fit(self, Y: ArrayLike, T: ArrayLike, *, X: ArrayLike | pandas.DataFrame | None = None,
            W: ArrayLike | pandas.DataFrame | None = None) -> GANITE:
        """Fit the counterfactual and inference blocks.

        Parameters
        ----------
        Y : array-like of shape (n,)
            Observed outcomes.
        T : array-like of shape (n,)
            Treatment received: any labels (numbers, strings, booleans);
            at least two distinct values.
        X : array-like or DataFrame of shape (n, d), optional
            Covariates (required unless they are given as W).
        W : array-like or DataFrame of shape (n, d), optional
            The covariates under EconML's name for controls, so that callers
            that pass confounders as ``W`` (DoWhy's EconML wrapper does)
            work unchanged.  GANITE conditions on every covariate and draws
            no line between effect modifiers and controls, so W is another
            way to give X: pass one of them, not both.  Methods that take
            new rows (:meth:`predict`, :meth:`effect`, ...) then take the
            same columns as their ``X``.

        Returns
        -------
        self : GANITE
            The fitted estimator.

        Raises
        ------
        TypeError
            If neither X nor W is given, or an argument has the wrong type
            (non-numeric columns, labels that cannot be ordered).
        ValueError
            If both X and W are given; if the arrays disagree in length,
            hold NaN or inf, T has fewer than two arms, or ``batch_size``
            exceeds the rows each ensemble member trains on; if
            ``outcome_transform='log'`` meets a binary Y or a Y that is not
            positive; or if a parameter set in ``__init__`` is out of range.

        Warns
        -----
        UserWarning
            When more than 5% of the rows have an estimated propensity
            below 0.01 or above 0.99 for some arm (see
            :meth:`overlap_report`).
        """
        p = self._check_params()
        name, X = _covariates(X, W)
        Xa = check_X(X, name)
        n, d = Xa.shape
        classes, codes = check_treatment(T, n)
        y, binary = check_outcome(Y, self.outcome, n)
        if p["batch_size"] > n:
            raise ValueError(f"batch_size={p['batch_size']} is larger than the {n} training rows; lower batch_size")
        seed = check_random_state(self.random_state)
        K = len(classes)
        M = p["n_estimators"]
        seeds = np.random.SeedSequence(seed).generate_state(M + 1, np.uint64)
        fold = _stratified_folds(codes, M, int(seeds[M]))
        for m in range(M if M > 1 else 0):
            if np.count_nonzero(fold != m) < p["batch_size"]:
                raise ValueError(
                    f"batch_size={p['batch_size']} is larger than the {np.count_nonzero(fold != m)} rows each "
                    f"ensemble member trains on; lower batch_size or n_estimators"
                )
        # One standardised float32 copy of the covariates, shared by every
        # member: networks train poorly on features of very different scales.
        transforms = _candidate_transforms(p["outcome_transform"], y, binary, M)
        x_mean, x_scale = _column_scale(Xa)
        X32 = _standardize(Xa, x_mean, x_scale)
        bar = Progress(len(transforms) * M * (p["n_iter"] + p["n_iter_ite"]), "GANITE", bool(self.verbose))
        stop = threading.Event()
        n_jobs = _effective_jobs(self.n_jobs, M)
        best = None
        try:
            for transform in transforms:
                y32 = np.ascontiguousarray(np.log(y) if transform == "log" else y, dtype=np.float32)

                def train_member(member):
                    rows = np.flatnonzero(fold != member) if M > 1 else None
                    return _train_member(p, X32, codes, y32, K, binary, seeds[member], rows, stop, bar)

                # Members are independent and release the GIL, so threads
                # run them in parallel; each owns its RNG, so results do not
                # depend on n_jobs.
                results = _map_threads(train_member, M, n_jobs, stop)
                mu_oof = np.zeros((n, K))
                for member, result in enumerate(results):
                    held = np.flatnonzero(fold == member) if M > 1 else slice(None)
                    mu_oof[held] = result[0].predict(X32[held])
                smear = np.ones(K)
                if transform == "log":
                    mu_oof, smear = _from_log(mu_oof, y32, codes, K)
                loss = float(np.mean((y - mu_oof[np.arange(n), codes]) ** 2))
                if best is None or loss < best[0]:
                    best = (loss, transform, results, mu_oof, smear, y32)
        finally:
            bar.close()
        _, transform, results, mu_oof, smear, y32 = best
        history = {
            "generator_loss": [r[1] for r in results],
            "discriminator_loss": [r[2] for r in results],
            "ite_loss": [r[3] for r in results],
        }
        self._cores = [r[0].core for r in results]
        self._baseline = np.stack([r[0].coef for r in results])
        self.outcome_transform_ = transform
        self._smear = smear
        self._x_mean, self._x_scale = x_mean, x_scale
        self.classes_ = classes
        self.n_features_in_ = d
        names = feature_names(X)
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.outcome_type_ = "binary" if binary else "continuous"
        self.history_ = {k: np.stack(v) for k, v in history.items()}
        self._mu_fit = self._predict_array(X32)
        raw, self.propensity_model_ = _propensity_unclipped(X32, codes, K, fold if M > 1 else None, seed)
        self.propensity_fit_ = _clip_propensity(raw)
        self._propensity_unclipped = raw
        self._mu_oof = mu_oof
        self._codes_fit = codes
        self._y_fit = np.asarray(y, dtype=np.float64)
        # The bootstrap refits on resamples of these rows.  Kept in memory
        # only: _transient_attributes keeps it out of saves and pickles.
        self._fit_data = (X32, codes, y32)
        _, share = overlap_summary(raw, codes, classes, _OVERLAP_THRESHOLD)
        if share > _OVERLAP_WARN_SHARE:
            warnings.warn(
                f"{100 * share:.1f}% of the training rows have an estimated propensity below "
                f"{_OVERLAP_THRESHOLD:g} or above {1 - _OVERLAP_THRESHOLD:g} for some arm: the arms overlap "
                f"poorly, so effects there rest on extrapolation and AIPW weights on the clip at "
                f"{_PROPENSITY_CLIP:g}. See overlap_report() and plot_overlap().",
                UserWarning,
                stacklevel=2,
            )
        return self

    # ------------------------------------------------------------ predict
    def _members(self):
        """The ensemble as _Members: each core with its baseline line
        (none in models saved before the baseline existed)."""
        coefs = getattr(self, "_baseline", None)
        if coefs is None:
            coefs = np.zeros((len(self._cores), self.n_features_in_ + 1, len(self.classes_)))
        return [_Member(core, coef) for core, coef in zip(self._cores, coefs)]

    def _predict_array(self, Z):
        """Ensemble mean of the potential outcomes for standardised rows Z."""
        members = self._members()
        mu = self._member_predict(members[0], Z)
        for member in members[1:]:
            mu += self._member_predict(member, Z)
        return mu / len(members)

    def _member_predict(self, member, Z, smear=None):
        """One member's expected potential outcomes for rows Z, float64, in
        the outcome's units (back from the log scale when fitted on it,
        with the model's smearing factors unless `smear` is given)."""
        mu = member.predict(Z)
        if self._log_scale():
            return np.exp(mu) * (self._smear if smear is None else smear)
        return mu

    def _log_scale(self):
        # models saved before outcome_transform existed were fitted on Y
        return getattr(self, "outcome_transform_", "none") == "log"

    def _to_model_scale(self, y):
        """Observed outcomes y on the scale the networks were fitted on."""
        if not self._log_scale():
            return y
        if not np.all(y > 0):
            raise ValueError(f"Y must be positive for a model fitted on log(Y) (outcome_transform_='log'); "
                             f"the smallest is {y.min():g}")
        return np.log(y)

    def _replicate_smear(self, member, Z, codes, y_model, sample):
        """Smearing factors of a bootstrap replicate's member: Duan's per-arm
        mean of exp(residual) on the rows its resample left out (the
        model's own factor for an arm with none); None off the log scale."""
        if not self._log_scale():
            return None
        out = np.ones(len(codes), dtype=bool)
        out[sample] = False
        held = np.flatnonzero(out)
        if not held.size:
            return self._smear.copy()
        pred = member.predict(Z[held])[np.arange(held.size), codes[held]]
        return _smearing(np.asarray(y_model)[held], pred, codes[held], self._smear)

    def _checked_X(self, X):
        """X validated against the fit and standardised as in fit."""
        self._check_is_fitted()
        Xa = check_X(X, "X", self.n_features_in_)
        names = feature_names(X)
        fitted = getattr(self, "feature_names_in_", None)
        if names is not None and fitted is not None and list(names) != list(fitted):
            raise ValueError("X's columns differ from those seen in fit (names or order)")
        return _standardize(Xa, self._x_mean, self._x_scale)

    def predict(self, X: ArrayLike | pandas.DataFrame | None = None) -> np.ndarray:
        """Potential outcomes under every arm, shape (n, K).

        The ensemble's mean prediction; for a binary outcome, probabilities.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n, d), optional
            Rows to predict, with the columns seen in :meth:`fit`; None
            gives the training rows.

        Returns
        -------
        ndarray of shape (n, K)
            Column k is the outcome under arm ``classes_[k]``.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If X is not numeric.
        ValueError
            If X does not have the fitted number of columns (or, as a
            DataFrame, their names and order), or holds NaN or inf, or
            the baseline's lines overflow on it.
        """
        if X is None:
            self._check_is_fitted()
            return self._mu_fit.copy()
        Z = self._checked_X(X)
        return self._predict_array(Z)

    def score(self, Y: ArrayLike, T: ArrayLike, *, X: ArrayLike | pandas.DataFrame) -> float:
        """Score the prediction of held-out rows' factual outcomes; higher is better.

        Only the outcome under the received arm is ever observed, so this
        scores that arm's prediction: the negative mean squared error for a
        continuous outcome, the negative mean log-loss (probabilities
        clipped to [1e-7, 1 - 1e-7]) for a binary one.  It does not measure
        the error of the effects themselves, which no held-out data can.

        Parameters
        ----------
        Y : array-like of shape (n,)
            Observed outcomes.
        T : array-like of shape (n,)
            Treatments received, among ``classes_``.
        X : array-like or DataFrame of shape (n, d)
            Covariates.

        Returns
        -------
        float
            Negative mean squared error, or negative mean log-loss.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If an argument is not numeric (T may hold any labels).
        ValueError
            If X does not match the fit, T holds a label not seen in fit,
            or the lengths differ, or Y is not 0/1 for a binary outcome.
        """
        Z = self._checked_X(X)
        n = Z.shape[0]
        codes = encode_treatment(T, self.classes_, "T", n)
        y, _ = check_outcome(Y, self.outcome_type_, n)
        return self._factual_score(self._predict_array(Z), codes, y)

    def _factual_score(self, mu, codes, y):
        """score's formula for predictions mu (n, K) of rows that received codes."""
        factual = mu[np.arange(len(codes)), codes]
        if self.outcome_type_ == "binary":
            p = np.clip(factual, 1e-7, 1 - 1e-7)
            return float(np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))
        return float(-np.mean((y - factual) ** 2))

    @property
    def oof_score_(self) -> float:
        """Cross-fitted :meth:`score` of the training rows; higher is better.

        Each training row is predicted by the ensemble member that did not
        train on it, and the factual predictions are scored as in
        :meth:`score` (negative MSE, or negative log-loss for a binary
        outcome).  These are single members, each trained on (M - 1) / M of
        the rows, so the full ensemble usually scores a little better on
        new rows.  Like scikit-learn's ``oob_score_``, it measures
        generalisation without a separate validation set, so it can compare
        settings such as ``n_iter`` on the training data alone; cgan's own
        defaults were chosen this way.  Like :meth:`score`, it judges only
        the factual outcomes, not the effects.

        Raises
        ------
        AttributeError
            If the model is not fitted, or was fitted with
            ``n_estimators=1`` (no member is held out from any row).
        """
        if not hasattr(self, "classes_"):
            raise AttributeError(f"this {type(self).__name__} is not fitted yet; call fit first")
        if not hasattr(self, "_mu_oof"):
            raise AttributeError("oof_score_ needs the cross-fitted predictions, which models pickled by cgan "
                                 "versions before them do not hold; refit the model")
        if len(self._cores) < 2:
            raise AttributeError("oof_score_ needs cross-fitting: fit with n_estimators >= 2 "
                                 "(this model has a single member, which saw every row)")
        return self._factual_score(self._mu_oof, self._codes_fit, self._y_fit)

    def _arms(self, T0, T1):
        K = len(self.classes_)
        t0 = 0 if T0 is None else treatment_code(T0, self.classes_, "T0")
        if T1 is None:
            if K > 2:
                raise ValueError(f"T1 is required when there are {K} treatments; choose one of {list(self.classes_)}")
            t1 = 1
        else:
            t1 = treatment_code(T1, self.classes_, "T1")
        return t0, t1

    def effect(self, X: ArrayLike | pandas.DataFrame | None = None, T0: Any = None, T1: Any = None) -> np.ndarray:
        """Individual effects mu_T1(x) - mu_T0(x), shape (n,).

        EconML's ``effect(X, T0=..., T1=...)``: with a one-dimensional
        outcome the result is a vector.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n, d), optional
            Rows to evaluate, with the columns seen in :meth:`fit`; None
            gives the training rows.
        T0 : treatment label, optional
            The baseline arm; defaults to ``classes_[0]``.
        T1 : treatment label, optional
            The arm compared with it; defaults to ``classes_[1]`` (required
            when there are more than two arms).

        Returns
        -------
        ndarray of shape (n,)
            The difference of the predicted outcomes under T1 and T0
            (probabilities for a binary outcome).

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If X is not numeric.
        ValueError
            If T0 or T1 is not a fitted arm, T1 is missing with more than
            two arms, or X does not match the fit.

        See Also
        --------
        effect_interval : bootstrap intervals for these effects.
        const_marginal_effect : every arm against the first at once.
        """
        self._check_is_fitted()
        t0, t1 = self._arms(T0, T1)
        mu = self.predict(X)
        return mu[:, t1] - mu[:, t0]

    def const_marginal_effect(self, X: ArrayLike | pandas.DataFrame | None = None) -> np.ndarray:
        """Effects of every arm against the first, shape (n, K - 1).

        EconML's layout for a discrete treatment: column j is ``effect(X, T0=classes_[0], T1=classes_[j + 1])``, so the
        shape is (n, K - 1), as EconML's ``const_marginal_effect`` gives for
        a discrete treatment with K arms and a one-dimensional outcome (the
        arm dimension is kept even when K is 2).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n, d), optional
            Rows to evaluate, with the columns seen in :meth:`fit`; None
            gives the training rows.

        Returns
        -------
        ndarray of shape (n, K - 1)
            Column j holds mu_{classes_[j + 1]}(x) - mu_{classes_[0]}(x).

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If X is not numeric.
        ValueError
            If X does not have the fitted number of columns (or names), or
            holds NaN or inf.

        See Also
        --------
        effect : one contrast, shape (n,).
        """
        mu = self.predict(X)
        return mu[:, 1:] - mu[:, :1]

    def effect_interval(self, X: ArrayLike | pandas.DataFrame | None = None, *, T0: Any = None, T1: Any = None, alpha: float = 0.05,
                        n_bootstrap: int = _DEFAULT_BOOTSTRAP, n_jobs: int | None = None,
                        random_state: int | np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Percentile-bootstrap intervals (lo, hi) for the individual effects.

        EconML's ``effect_interval``: for the effects of T1 against T0 on
        the rows of X, two arrays of shape (n,).  ``n_bootstrap`` single-member GANITE models (the model's other
        parameters) are fitted to resamples of the training rows, drawn with
        replacement within each arm so that every arm keeps its size; each
        predicts the effect of every row of X, and row i's interval is the
        alpha/2 and 1 - alpha/2 quantiles of its replicates.  The interval
        shows how much the fitted effect moves with the sample and the
        training noise; it does not correct the GAN's bias, so it need not
        cover the true individual effect at the nominal rate.  The
        replicates are single models while :meth:`effect` averages
        ``n_estimators``, so the interval errs on the wide side.  For the
        average effect, :meth:`ate_inference` gives a doubly robust
        interval.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n, d), optional
            Rows to evaluate, with the columns seen in :meth:`fit`; None
            gives the training rows.
        T0, T1 : treatment label, optional
            As in :meth:`effect`.
        alpha : float in (0, 1), default=0.05
            One minus the interval's level.
        n_bootstrap : int, default=100
            Bootstrap replicates (at least 2); each costs one fit of a
            single model.
        n_jobs : int or None, default=None
            Threads that fit replicates in parallel (None: 1; -1: all
            cores).  Results are bit-identical whatever the value.
        random_state : int, numpy Generator or None, default=None
            Seeds the bootstrap; None uses the model's ``random_state``.

        Returns
        -------
        lo, hi : tuple of two ndarrays of shape (n,)
            Lower and upper bounds for each row.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If alpha, n_bootstrap or n_jobs has the wrong type, or X is
            not numeric.
        ValueError
            If alpha is outside (0, 1), n_bootstrap is below 2, n_jobs is 0,
            T0 or T1 is not a fitted arm (or T1 is missing with more than two
            arms), X does not match the fit, or the model no longer holds its
            training data (it is not pickled or saved): fit it again.

        See Also
        --------
        effect : the point estimates.
        ate_inference : intervals for the average effect.
        """
        self._check_is_fitted()
        level = check_alpha(alpha)
        t0, t1 = self._arms(T0, T1)
        replicates = check_int(n_bootstrap, "n_bootstrap", 2, 1 << 24)
        jobs = _effective_jobs(n_jobs, replicates)
        data = getattr(self, "_fit_data", None)
        if data is None:
            raise ValueError(
                "effect_interval refits on the training data, which this model no longer holds (they are not "
                "pickled or saved); fit the model again"
            )
        Z, codes, y32 = data
        rows = Z if X is None else self._checked_X(X)

        def effects(member, sample):
            mu_b = self._member_predict(member, rows, self._replicate_smear(member, Z, codes, y32, sample))
            return mu_b[:, t1] - mu_b[:, t0]

        draws = self._refit_replicates(Z, codes, y32, replicates, jobs, random_state, 0xEFFEC7,
                                       "GANITE effect bootstrap", effects)
        lo, hi = np.quantile(np.stack(draws), [level / 2, 1 - level / 2], axis=0)
        return lo, hi

    def ate(self, X: ArrayLike | pandas.DataFrame | None = None, T0: Any = None, T1: Any = None, *, method: str = "plugin",
            target: str = "ate", T: ArrayLike | None = None, Y: ArrayLike | None = None) -> float:
        """Average effect of T1 against T0.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n, d), optional
            Rows to average over; None gives the training rows.
        T0, T1 : treatment label, optional
            As in :meth:`effect`.
        method : {'plugin', 'aipw'}, default='plugin'
            'plugin' averages :meth:`effect` over the target rows.  'aipw' is
            the doubly robust estimate that :meth:`ate_inference` reports
            (it needs T and Y when X is given).
        target : {'ate', 'att', 'atc'}, default='ate'
            Average over all rows ('ate'), the rows that received T1
            ('att') or the rows that received T0 ('atc').  With X given,
            'att' and 'atc' need T.
        T, Y : array-like of shape (n,) or None
            Treatment received and outcome of the rows of X (checked when
            given; the plug-in uses only T, and only for 'att' and 'atc').

        Returns
        -------
        float
            The estimate.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If method or target is not a string, or X is not numeric.
        ValueError
            If method or target is not one of the choices, T0 or T1 is not
            a fitted arm, X, T or Y do not match the fit or each other, T
            or Y is given without X, or the target rows are empty.

        See Also
        --------
        ate_inference : the estimate with a standard error and interval.
        """
        self._check_is_fitted()
        check_choice(method, "method", METHODS_POINT)
        check_choice(target, "target", TARGETS)
        if method == "aipw":
            return self._aipw_result(X, T0, T1, T, Y, 0.05, target, None)[0].estimate
        t0, t1 = self._arms(T0, T1)
        if X is None:
            self._only_with_X(T, Y)
            mu, codes = self._mu_fit, self._codes_fit
        else:
            Z = self._checked_X(X)
            mu, codes = self._predict_array(Z), None
            if T is None and target != "ate":
                raise ValueError(f"target={target!r} on new rows needs T, the treatment each row of X received")
            if T is not None:
                codes = encode_treatment(T, self.classes_, "T", Z.shape[0])
            if Y is not None:
                check_outcome(Y, self.outcome_type_, Z.shape[0])
        rows = target_rows(codes, t0, t1, target, self.classes_)
        return float(np.mean(mu[rows, t1] - mu[rows, t0]))

    def ate_interval(self, X: ArrayLike | pandas.DataFrame | None = None, T0: Any = None, T1: Any = None, *, T: ArrayLike | None = None,
                     Y: ArrayLike | None = None, alpha: float = 0.05, method: str = "aipw", target: str = "ate",
                     n_bootstrap: int = _DEFAULT_BOOTSTRAP, n_jobs: int | None = None,
                     random_state: int | np.random.Generator | None = None) -> tuple[float, float]:
        """A (1 - alpha) confidence interval (lo, hi) for the average effect.

        The same computation as :meth:`ate_inference`, which describes the
        methods and also returns the estimate and its standard error.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n, d), optional
            Rows to estimate on; None gives the training rows.
        T0, T1 : treatment label, optional
            As in :meth:`effect`.
        T, Y : array-like of shape (n,), optional
            Treatment received and outcome of the rows of X; required with
            X.
        alpha : float in (0, 1), default=0.05
            One minus the interval's level.
        method : {'aipw', 'bootstrap'}, default='aipw'
            Doubly robust normal interval, or percentile bootstrap.
        target : {'ate', 'att', 'atc'}, default='ate'
            All rows, the rows that received T1, or those that received T0.
        n_bootstrap : int, default=100
            Bootstrap replicates (at least 2); used by 'bootstrap' only.
        n_jobs : int or None, default=None
            Threads that fit bootstrap replicates in parallel.
        random_state : int, numpy Generator or None, default=None
            Seeds the bootstrap; None uses the model's ``random_state``.

        Returns
        -------
        lo, hi : tuple of two floats
            The interval's bounds.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If alpha, method, target, n_bootstrap or n_jobs has the wrong
            type.
        ValueError
            As :meth:`ate_inference`.
        """
        result = self.ate_inference(X, T0, T1, T=T, Y=Y, alpha=alpha, method=method, target=target,
                                    n_bootstrap=n_bootstrap, n_jobs=n_jobs, random_state=random_state)
        return result.lo, result.hi

    def ate_inference(self, X: ArrayLike | pandas.DataFrame | None = None, T0: Any = None, T1: Any = None, *, T: ArrayLike | None = None,
                      Y: ArrayLike | None = None, alpha: float = 0.05, method: str = "aipw", target: str = "ate",
                      n_bootstrap: int = _DEFAULT_BOOTSTRAP, n_jobs: int | None = None,
                      random_state: int | np.random.Generator | None = None) -> ATEResult:
        """Average effect of T1 against T0 with a standard error and interval.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n, d), optional
            Rows to estimate on; None gives the training rows.
        T0, T1 : treatment label, optional
            As in :meth:`effect`.
        T, Y : array-like of shape (n,), optional
            Treatment received and outcome of the rows of X; required with X.
        alpha : float in (0, 1), default=0.05
            The interval's level is 1 - alpha.
        method : {'aipw', 'bootstrap'}, default='aipw'
            'aipw': the doubly robust estimate, consistent when either the
            outcome model or the propensity model is right, with a normal
            interval from its influence function.  mu are the ensemble's
            potential outcomes; e are propensities fitted in C
            (``propensity_model_``: multinomial logistic regression, the
            same on a spline basis, or a small MLP, whichever predicts T
            best out of fold; logistic on new rows), clipped below at 0.01
            (``propensity_clip``) and renormalised.  For the ATE,
            psi_i = mu_T1 - mu_T0 + 1[t_i = T1](y_i - mu_T1)/e_T1
            - 1[t_i = T0](y_i - mu_T0)/e_T0 and the estimate is mean(psi).
            For the ATT (Hahn, 1998), the estimate is
            sum_i [1[t_i = T1](y_i - mu_T0) - 1[t_i = T0] (e_T1/e_T0)(y_i - mu_T0)] / n_T1,
            and the ATC mirrors it.  With K arms each contrast uses the
            multinomial propensities of its two arms.  On the training rows
            (X=None) mu and e are cross-fitted: each row's come from models
            that did not see it (n_estimators >= 2; with one member they are
            in-sample and the interval is too narrow).  On new rows the
            ensemble has not seen them, and a propensity model is fitted to
            them.
            'bootstrap': the AIPW estimate, with a percentile interval from
            ``n_bootstrap`` repetitions of the whole cross-fitted AIPW
            procedure on resamples of the rows (drawn with replacement
            within each arm, so that every arm keeps its size).  Each
            replicate splits its resampled units into two folds (every copy
            of a unit in one fold), fits a single-member GANITE (the model's
            other parameters) and the propensity model
            (``propensity_model_``; logistic on new rows) on each fold's
            complement, and computes the AIPW estimate of the target from
            the held-out predictions.  The standard error is the replicates'
            standard deviation.  Unlike the influence-function interval it
            includes the variability of refitting the networks.  Each
            replicate's models learn from half a resample, where the
            estimate's learn from (n_estimators - 1) / n_estimators of the
            rows, so the replicates are noisier than the estimate, and the
            interval, a percentile interval, need not be centred on it.  The
            outcome scale (``outcome_transform_``) and the propensity model
            are the fit's, not chosen again per replicate.  A resample whose
            folds would leave T0 or T1 out of some model's rows is redrawn.
            With X=None it refits on the training data kept in memory by
            :meth:`fit`, which is not pickled: after unpickling, pass X, T
            and Y.  On new rows the estimate is method='aipw''s there (the
            fitted ensemble's predictions, a logistic propensity fitted to
            the rows), while the replicates refit GANITE on resamples of the
            new rows alone.
        target : {'ate', 'att', 'atc'}, default='ate'
            All rows, the rows that received T1, or those that received T0.
        n_bootstrap : int, default=100
            Bootstrap replicates (at least 2).  Each costs two fits of a
            single model, so the default costs about 40 fits of the default
            five-member ensemble; 100 replicates pin the 2.5% and 97.5%
            percentiles only roughly, so use more for a final analysis.
        n_jobs : int or None, default=None
            Threads that fit bootstrap replicates in parallel (None: 1; -1:
            all cores).  Results are bit-identical whatever the value.
        random_state : int, numpy Generator or None, default=None
            Seeds the bootstrap (and the propensity model on new rows);
            None uses the model's ``random_state``.

        Returns
        -------
        ATEResult
            Estimate, standard error, interval, and how they were made.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If alpha, method, target, n_bootstrap or n_jobs has the wrong
            type, or X is not numeric.
        ValueError
            If alpha is outside (0, 1), method or target is not one of the
            choices, n_bootstrap is below 2, n_jobs is 0, T0 or T1 is not a
            fitted arm, X is given without T and Y (or T, Y without X), the
            arrays do not match the fit or each other, no row received T0
            or T1 or the target arm ('bootstrap': fewer than two rows
            received T0 or T1), ``batch_size`` exceeds the rows a bootstrap
            model trains on (about half the rows), or 'bootstrap' with
            X=None finds no training data (after unpickling).

        See Also
        --------
        ate_interval : the interval alone.
        ATEResult : the record returned.

        Examples
        --------
        >>> from cgan import GANITE
        >>> from cgan.datasets import load_ihdp
        >>> data = load_ihdp()
        >>> model = GANITE(n_iter=50, random_state=0).fit(data.Y, data.T, X=data.X)
        >>> result = model.ate_inference(target="att")
        >>> result.method, result.target, result.n
        ('aipw', 'att', 747)
        """
        self._check_is_fitted()
        level = check_alpha(alpha)
        check_choice(method, "method", METHODS_INTERVAL)
        check_choice(target, "target", TARGETS)
        # every argument is checked, including those the method ignores
        replicates = check_int(n_bootstrap, "n_bootstrap", 2, 1 << 24)
        jobs = _effective_jobs(n_jobs, replicates)
        if random_state is not None:
            random_state = check_random_state(random_state)
        if method == "aipw":
            return self._aipw_result(X, T0, T1, T, Y, level, target, random_state)[0]
        return self._bootstrap_result(X, T0, T1, T, Y, level, target, replicates, jobs, random_state)

    @staticmethod
    def _only_with_X(T, Y):
        if T is not None or Y is not None:
            raise ValueError("T and Y are only used together with X")

    def _new_rows(self, X, T, Y, what):
        """Standardised X with the codes of T and the outcomes Y, checked."""
        if T is None or Y is None:
            raise ValueError(f"{what} on new rows needs their observed T and Y as well as X")
        Z = self._checked_X(X)
        n = Z.shape[0]
        codes = encode_treatment(T, self.classes_, "T", n)
        y, _ = check_outcome(Y, self.outcome_type_, n)
        return Z, codes, y

    def _aipw_result(self, X, T0, T1, T, Y, level, target, random_state, method="aipw"):
        """The AIPW ATEResult, and the rows' (Z, codes, y) when X is given
        (None otherwise); `method` names the caller in error messages."""
        t0, t1 = self._arms(T0, T1)
        rows = None
        if X is None:
            self._only_with_X(T, Y)
            mu, propensity, codes, y = self._mu_oof, self.propensity_fit_, self._codes_fit, self._y_fit
        else:
            rows = Z, codes, y = self._new_rows(X, T, Y, f"method={method!r}")
            mu = self._predict_array(Z)
            seed = check_random_state(self.random_state if random_state is None else random_state)
            propensity = _propensity(Z, codes, len(self.classes_), None, seed)
        for arm, role in ((t0, "T0"), (t1, "T1")):
            if not np.any(codes == arm):
                raise ValueError(
                    f"method={method!r} compares the rows that received T0 with those that received T1, but none "
                    f"of the {len(codes)} rows received {role}={label_repr(self.classes_[arm])}"
                )
        estimate, stderr = aipw(mu, propensity, codes, y, t0, t1, target)
        z = -NormalDist().inv_cdf(level / 2)  # the lower tail keeps tiny alphas exact (1 - 1e-300 == 1)
        return ATEResult(estimate, stderr, estimate - z * stderr, estimate + z * stderr, level, "aipw", target,
                         len(y), _PROPENSITY_CLIP), rows

    def _bootstrap_result(self, X, T0, T1, T, Y, level, target, replicates, jobs, random_state):
        """The AIPW estimate with a percentile interval from `replicates`
        refits of the whole cross-fitted AIPW procedure on resamples."""
        t0, t1 = self._arms(T0, T1)
        # the point estimate is method='aipw''s on the same rows
        point, rows = self._aipw_result(X, T0, T1, T, Y, level, target, random_state, "bootstrap")
        estimate = point.estimate
        if X is None:
            data = getattr(self, "_fit_data", None)
            if data is None:
                raise ValueError(
                    "method='bootstrap' with X=None refits on the training data, which this model no longer holds "
                    "(they are not pickled); pass X, T and Y"
                )
            Z, codes, y32 = data
            y, model = self._y_fit, self.propensity_model_
        else:
            Z, codes, y = rows
            y32 = np.ascontiguousarray(self._to_model_scale(y), dtype=np.float32)
            model = "logistic"  # as method='aipw' on new rows
        K = len(self.classes_)
        kind = _PROPENSITY_MODELS[model][4]
        features = Z if kind == "x" else _spline_features(Z, ranks=kind == "rank-splines")
        if features is None:  # a basis over the budget: what the fit would have fallen back to
            features, model = Z, "logistic"

        def replicate_aipw(members, sample, fold, seed):
            # each resampled row predicted by the member that did not see its unit
            mu = np.empty((len(sample), K))
            for f, member in enumerate(members):
                held = np.flatnonzero(fold == f)
                mu[held] = member.predict(Z[sample[held]])
            if self._log_scale():
                mu, _ = _from_log(mu, y32[sample], codes[sample], K)
            groups = [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(len(members))]
            e = _clip_propensity(_fit_propensity(features[sample], codes[sample], K, groups, seed, model))
            return aipw(mu, e, codes[sample], y[sample], t0, t1, target)[0]

        estimates = np.array(self._refit_replicates(Z, codes, y32, replicates, jobs, random_state, 0xB0075,
                                                    "GANITE bootstrap", replicate_aipw, folds=_BOOTSTRAP_FOLDS,
                                                    arms_needed=(t0, t1)), dtype=np.float64)
        lo, hi = np.quantile(estimates, [level / 2, 1 - level / 2])
        return ATEResult(estimate, float(estimates.std(ddof=1)), float(lo), float(hi), level, "bootstrap", target,
                         len(codes), _PROPENSITY_CLIP)

    def _refit_replicates(self, Z, codes, y32, replicates, jobs, random_state, tag, desc, summarize, folds=1,
                          arms_needed=()):
        """[summarize(...)] for `replicates` refits, in `jobs` threads, with
        the model's parameters, on resamples of the rows of (Z, codes, y32)
        drawn with replacement within each arm so that every arm keeps its
        size.  With folds=1 each replicate is one member fitted to the
        resample, and gives summarize(member, rows).  With more, the resampled
        units are split into `folds` folds of about equal rows (all copies
        of a unit in one fold; _unit_folds), one member is fitted on each
        fold's complement, and the replicate gives summarize(members, rows,
        fold of each row, seed); a resample whose split leaves some
        complement without an arm of `arms_needed` is redrawn from the
        replicate's own stream.  Each replicate's resample and fits come
        from its own child seed, so the results do not depend on which
        thread runs it or in what order."""
        p = self._check_params()
        n, K = len(codes), len(self.classes_)
        arms = [idx for idx in (np.flatnonzero(codes == k) for k in range(K)) if idx.size]
        for arm in arms_needed:
            if np.count_nonzero(codes == arm) < folds:
                raise ValueError(
                    f"the bootstrap cross-fits each resample over {folds} folds, which needs at least {folds} rows "
                    f"that received {label_repr(self.classes_[arm])}; {np.count_nonzero(codes == arm)} did"
                )
        binary = self.outcome_type_ == "binary"
        seed = check_random_state(self.random_state if random_state is None else random_state)
        children = np.random.SeedSequence([seed, tag]).spawn(replicates)
        # resamples and folds are cheap: drawn here, so that a batch_size too
        # large for them is reported before any network is trained
        plans = []
        for child in children:
            if folds == 1:
                resample_seed, core_seed = child.generate_state(2, np.uint64)
                rng = np.random.default_rng(int(resample_seed))
                sample = np.concatenate([rng.choice(idx, size=idx.size, replace=True) for idx in arms])
                plans.append((sample, None, core_seed, ()))
                continue
            resample_seed, core_seed, *member_seeds = child.generate_state(2 + folds, np.uint64)
            rng = np.random.default_rng(int(resample_seed))
            for _ in range(1000):
                sample = np.concatenate([rng.choice(idx, size=idx.size, replace=True) for idx in arms])
                fold = _unit_folds(sample, codes, folds, rng)
                if all(np.any(codes[sample[fold != f]] == arm) for f in range(folds) for arm in arms_needed):
                    break
            else:
                raise ValueError("the bootstrap could not draw resamples whose folds each hold both compared arms; "
                                 "too few rows received one of them")
            plans.append((sample, fold, core_seed, member_seeds))
        smallest = min(len(sample) if fold is None else min(np.count_nonzero(fold != f) for f in range(folds))
                       for sample, fold, _, _ in plans)
        if p["batch_size"] > smallest:
            raise ValueError(f"batch_size={p['batch_size']} is larger than the {smallest} rows the smallest bootstrap "
                             f"model trains on; lower it with set_params(batch_size=...)")
        stop = threading.Event()
        bar = Progress(replicates * folds * (p["n_iter"] + p["n_iter_ite"]), desc, bool(self.verbose))

        def replicate(b):
            sample, fold, core_seed, member_seeds = plans[b]
            if fold is None:
                out = _train_member(p, Z, codes, y32, K, binary, core_seed, sample, stop, bar)
                return None if out is None else summarize(out[0], sample)
            members = []
            for f in range(folds):
                out = _train_member(p, Z, codes, y32, K, binary, member_seeds[f], sample[fold != f], stop, bar)
                if out is None:
                    return None
                members.append(out[0])
            return summarize(members, sample, fold, int(core_seed) % 2**63)

        try:
            return _map_threads(replicate, replicates, jobs, stop)
        finally:
            bar.close()

    # ----------------------------------------------------------- overlap
    def overlap_report(self, threshold: float = _OVERLAP_THRESHOLD) -> pandas.DataFrame | dict[str, Any]:
        """Summarise the training rows' estimated propensities, arm by arm.

        Row k summarises P(T = classes_[k] | x) over all training rows, as
        cross-fitted by :meth:`fit` and before clipping: ``n_received`` (rows
        that received arm k), ``min``, the 5%, 25%, 50%, 75% and 95%
        quantiles, ``max``, and ``share_extreme``, the share of rows whose
        propensity for arm k is below ``threshold`` or above
        1 - threshold.  With two arms both rows give the same share.
        The share of rows extreme for any arm (what :meth:`fit` warns on
        when it exceeds 5% at threshold 0.01) is ``attrs['share_extreme_any']``.

        Parameters
        ----------
        threshold : float in (0, 0.5), default=0.01
            Propensities below it or above 1 - threshold count as extreme.

        Returns
        -------
        pandas.DataFrame or dict
            A DataFrame indexed by arm when pandas is installed; otherwise
            a dict of arrays (one entry per arm, with the labels under
            'arm') plus the float 'share_extreme_any'.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If threshold is not a real number.
        ValueError
            If threshold is outside (0, 0.5).

        See Also
        --------
        plot_overlap : the same propensities as histograms.
        """
        self._check_is_fitted()
        thr = check_float(threshold, "threshold", 0.0, 0.5, low_open=True)
        if thr >= 0.5:
            raise ValueError(f"threshold must lie in (0, 0.5), got {threshold}")
        table, share = overlap_summary(self._propensity_unclipped, self._codes_fit, self.classes_, thr)
        try:
            import pandas as pd
        except ImportError:
            table["share_extreme_any"] = share
            return table
        frame = pd.DataFrame(table).set_index("arm")
        frame.attrs["share_extreme_any"] = share
        return frame

    def plot_overlap(self, ax: Any = None, *, bins: int = 30,
                     threshold: float = _OVERLAP_THRESHOLD) -> matplotlib.axes.Axes | np.ndarray:
        """Plot histograms of the training rows' propensities by arm received.

        Needs matplotlib.

        With two arms, one panel shows P(T = classes_[1] | x) for the rows of
        each arm; with K > 2 arms, panel k shows P(T = classes_[k] | x) for
        the rows that received arm k and for the others.  Dotted lines mark
        ``threshold`` and 1 - threshold.  Propensities are cross-fitted and
        unclipped, as in :meth:`overlap_report`.

        Parameters
        ----------
        ax : matplotlib Axes or sequence of Axes, optional
            One Axes with two arms, K of them with K > 2 arms; None
            creates a figure.
        bins : int, default=30
            Histogram bins over [0, 1].
        threshold : float in (0, 0.5), default=0.01
            Where the dotted lines are drawn.

        Returns
        -------
        matplotlib.axes.Axes or ndarray of Axes
            The Axes (two arms) or an array of K Axes.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If bins or threshold has the wrong type.
        ValueError
            If bins is below 1, threshold is outside (0, 0.5), or ax holds
            the wrong number of Axes.
        ImportError
            If matplotlib is not installed.
        """
        self._check_is_fitted()
        n_bins = check_int(bins, "bins", 1, 10_000)
        thr = check_float(threshold, "threshold", 0.0, 0.5, low_open=True)
        if thr >= 0.5:
            raise ValueError(f"threshold must lie in (0, 0.5), got {threshold}")
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("plot_overlap needs matplotlib; install it with `pip install matplotlib`") from None
        K = len(self.classes_)
        panels = [1] if K == 2 else list(range(K))
        figure = None
        if ax is None:
            figure, grid = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5), squeeze=False)
            axes = list(grid[0])
        else:
            axes = [ax] if hasattr(ax, "hist") else list(np.ravel(np.asarray(ax, dtype=object)))
            if not all(hasattr(a, "hist") and hasattr(a, "axvline") for a in axes):
                raise TypeError(f"ax must be None, a matplotlib Axes or a sequence of Axes, got {ax!r}")
            if len(axes) != len(panels):
                raise ValueError(f"ax must be {'one Axes' if K == 2 else f'a sequence of {K} Axes'}, "
                                 f"got {len(axes)}")
        raw, codes = self._propensity_unclipped, self._codes_fit
        edges = np.linspace(0.0, 1.0, n_bins + 1)
        for axis, k in zip(axes, panels):
            mine = codes == k
            other = f"received {self.classes_[0]}" if K == 2 else "received another arm"
            axis.hist(raw[mine, k], bins=edges, alpha=0.5, label=f"received {self.classes_[k]}")
            axis.hist(raw[~mine, k], bins=edges, alpha=0.5, label=other)
            for x in (thr, 1 - thr):
                axis.axvline(x, color="grey", linestyle=":", linewidth=1)
            axis.set_xlabel(f"P(T = {self.classes_[k]} | x)")
            axis.set_ylabel("rows")
            axis.legend()
        if figure is not None:
            figure.tight_layout()
        return axes[0] if len(axes) == 1 else np.array(axes, dtype=object)

    def sample(self, X: ArrayLike | pandas.DataFrame, n_samples: int = 1, random_state: int | np.random.Generator | None = None, *,
               T: ArrayLike | None = None, Y: ArrayLike | None = None) -> np.ndarray:
        """Draw potential outcomes from the fitted generator.

        Each draw anchors one arm of each row and completes the other arms
        with the counterfactual generator G, given (x, anchor arm, anchor
        outcome):

        * with ``T`` and ``Y``, the anchor is the observed arm and outcome,
          which the draw keeps;
        * with ``T`` alone, the anchor outcome is drawn for arm ``T``: the
          model's expected outcome plus a residual resampled from that arm's
          cross-fitted training residuals (a Bernoulli draw for a binary
          outcome);
        * with neither, the anchor arm is drawn from the arms' shares in the
          training data, then its outcome as with ``T`` alone.

        A model fitted on log(Y) (``outcome_transform_ == 'log'``) does all
        of this on the log scale (its expected log outcome plus a log
        residual, the log of an observed Y) and returns exp of the draws.

        Parameters
        ----------
        X : array-like of shape (n, n_features_in_)
            Covariates of the rows to draw for.
        n_samples : int, default=1
            Number of draws.
        random_state : int, numpy Generator or None, default=None
            Seeds the draws; the same value gives the same draws.  None draws
            fresh entropy.  Sampling never changes the fitted model.
        T : array-like of shape (n,), optional
            Observed arm of each row, labels from ``classes_``.
        Y : array-like of shape (n,), optional
            Observed outcome of each row; needs ``T``.

        Returns
        -------
        ndarray of shape (n_samples, n, K)
            ``out[s, i, k]`` is draw s of row i's outcome under arm
            ``classes_[k]`` (0.0 or 1.0 for a binary outcome).  Draw s comes
            from ensemble member ``s % n_estimators``.

        Raises
        ------
        ValueError
            If X, T or Y are malformed or mismatched, T holds an unknown label,
            Y is given without T, Y is not positive for a model fitted on
            log(Y), or n_samples is not a positive int.
        """
        Z = self._checked_X(X)
        n, K = Z.shape[0], len(self.classes_)
        count = check_int(n_samples, "n_samples", 1, 1 << 20)
        if Y is not None and T is None:
            raise ValueError("Y needs T: pass the observed arm of each row with its outcome")
        codes = None if T is None else encode_treatment(T, self.classes_, "T", n)
        y = None if Y is None else check_outcome(Y, self.outcome_type_, n)[0]
        binary = self.outcome_type_ == "binary"
        # the networks draw on the scale they were fitted on
        log = self._log_scale()
        y_obs = y
        if y is not None:
            y = self._to_model_scale(y)
        members = self._members()
        children = np.random.SeedSequence(check_random_state(random_state)).spawn(len(members))
        if y is None:
            fit_codes = self._codes_fit
            shares = np.bincount(fit_codes, minlength=K) / fit_codes.size
            if not binary:
                rows = np.arange(fit_codes.size)
                if log:
                    resid = np.log(self._y_fit) - np.log(self._mu_oof[rows, fit_codes] / self._smear[fit_codes])
                else:
                    resid = self._y_fit - self._mu_oof[rows, fit_codes]
                resid = [resid[fit_codes == a] for a in range(K)]
        M = len(members)
        out = np.empty((count, n, K))
        for m, member in enumerate(members):
            draws = range(m, count, M)
            if not draws:
                continue
            py_seq, core_seq = children[m].spawn(2)
            line = member.line(Z)  # once per member, not per draw
            if y is not None:
                seed = int(core_seq.generate_state(1, np.uint64)[0])
                out[m::M] = member.sample(Z, codes, y, len(draws), seed, line)
                continue
            rng = np.random.default_rng(py_seq)
            core_seeds = core_seq.generate_state(len(draws), np.uint64)
            mu = member.predict(Z, line)
            for j, s in enumerate(draws):
                t = codes if codes is not None else rng.choice(K, size=n, p=shares).astype(np.int32)
                mean = mu[np.arange(n), t]
                if binary:
                    anchor = (rng.random(n) < mean).astype(np.float64)
                else:
                    anchor = mean.copy()
                    for a in range(K):
                        rows = np.flatnonzero(t == a)
                        if rows.size:
                            anchor[rows] += rng.choice(resid[a], size=rows.size)
                out[s] = member.sample(Z, t, anchor, 1, int(core_seeds[j]), line)[0]
        if log:
            out = np.exp(out)
        if y is not None:  # the anchors are the observed outcomes, kept exactly
            out[:, np.arange(n), codes] = y_obs
        return out

    # -------------------------------------------------------------- pickle
    # save, dumps and pickle share BaseEstimator's validated container
    # (_persist); these attributes are left out of it
    _transient_attributes = ("_fit_data",)
