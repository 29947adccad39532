"""The per-arm baseline: each arm's ridge regression of the outcome on the
standardised covariates, its penalty chosen by generalised
cross-validation, with an identity link (a line) or a log link (the
exponential of a line, fitted by iteratively reweighted least squares).
GANITE's networks learn what the baselines leave, so that effects
extrapolate along them.  Only per-arm moments are formed (in C, a block of
rows at a time), so memory is O(n + K d^2)."""
from __future__ import annotations

import numpy as np

from . import _cgan

# Ridge penalties tried, per unit of the arm's row weight (the covariates are
# standardised, so each column's sum of squares is about that weight): from
# almost least squares to almost intercept-only.
RIDGE_GRID = np.logspace(-6, 3, 37)
# Lines are fitted while the arms' Gram matrices, K (d + 1)^2 doubles in all,
# take at most this many bytes (d up to about 2,000 with two arms).
BASELINE_BYTES = 64 << 20
# Iteratively reweighted least-squares steps of a log-link fit at most, and
# the relative change of the coefficients that ends them early.
LOG_LINK_STEPS = 30
LOG_LINK_TOL = 1e-8
# A log link's linear predictor is clipped to +-MAX_LOG_MEAN, so that exp
# never overflows float64.
MAX_LOG_MEAN = 700.0
# A log link needs at least this many rows with a positive outcome in its arm.
LOG_LINK_MIN_POSITIVE = 10
# The moments are formed from float32-range values: a working outcome
# beyond this (a row whose mean has all but underflowed) ends the fit.
_WORKING_MAX = float(np.finfo(np.float32).max)


def fits_baseline(d, K):
    return 8 * K * (d + 1) ** 2 <= BASELINE_BYTES


def _block_rows(d):
    """Rows per block for row-wise passes over d float64 columns: about 8 MiB."""
    return max(1, (8 << 20) // (8 * (d + 1)))


def _weighted_and_distinct_moments(Z, codes, y, rows, K, stop):
    """(w, moments, distinct): each row's copies in `rows` (None: every row
    once), the arms' moments with the rows so weighed, and those of the
    distinct rows (the same object when no row repeats); None once `stop`
    is set."""
    w = None if rows is None else np.bincount(rows, minlength=Z.shape[0]).astype(np.float64)
    pair = _moments_pair(Z, codes, y, w, K, stop)
    return None if pair is None else (w, *pair)


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
    """(penalty, GCV score): the ridge penalty GCV picks from RIDGE_GRID for
    one arm's moments (as _cgan.arm_moments gives them), and its GCV
    estimate of the mean squared prediction error (None for the score when
    every penalty leaves too few degrees of freedom); (None, None) with
    fewer than 3 rows."""
    if gram[0, 0] < 3:
        return None, None
    W, _, _, S, r, syy = _centred(gram, cross, sq)
    e, V = np.linalg.eigh(S)
    e = np.maximum(e, 0.0)
    q = V.T @ r
    best = None
    for lam in W * RIDGE_GRID:
        df = 1.0 + np.sum(e / (e + lam))
        if df >= W - 1:
            continue
        rss = max(syy - np.sum(q * q * (e + 2 * lam) / (e + lam) ** 2), 0.0)
        gcv = rss / W / (1.0 - df / W) ** 2
        if best is None or gcv < best[0]:
            best = (gcv, lam / W)
    return (RIDGE_GRID[-1], None) if best is None else (best[1], best[0])


def fit_baseline(Z, codes, y, rows, K, stop=None, log_arms=()):
    """fit_baseline_scored's lines alone (None once `stop` is set), the
    arms in `log_arms` with a log link instead: E[y | x] = exp(line),
    fitted by iteratively reweighted least squares (Gaussian errors, so
    outcomes of any sign are allowed), each step a ridge fit as
    fit_baseline_scored's with weights mu^2 / mean(mu^2) on the working
    outcome eta + (y - mu) / mu; it starts from the line of log(y), y raised
    to the 5% quantile of the arm's positive outcomes.  Such an arm needs
    LOG_LINK_MIN_POSITIVE rows with a positive outcome."""
    out = fit_baseline_scored(Z, codes, y, rows, K, stop)
    if out is None or not len(log_arms):
        return None if out is None else out[0]
    w = None if rows is None else np.bincount(rows, minlength=Z.shape[0]).astype(np.float64)
    return _log_lines(Z, codes, y, w, K, stop, sorted(log_arms), out[0])


def fit_baseline_scored(Z, codes, y, rows, K, stop=None):
    """Each arm's ridge regression of y on the standardised covariates Z,
    over `rows` (repeats count as weights; None: every row), with an
    unpenalised intercept, its penalty chosen by generalised
    cross-validation from RIDGE_GRID.  On a resample the penalty is
    chosen on the distinct rows, as on the data (copies of a row would look
    like independent confirmations and draw the penalty down), and the
    line is then fitted with the copies as weights.  Only per-arm moments
    are formed, in C, a block of rows at a time, so the memory is O(n + K
    d^2).  Returns coef of shape (d + 1, K), row 0 the intercepts (an arm
    with fewer than 3 rows gets its mean, 0 with none), or None once
    `stop` is set.  Z may be any object with shape and row-block slicing
    that gives float32 arrays (features computed a block at a time).  With
    the lines comes their score: the arms' GCV estimates of the mean
    squared prediction error, averaged with the arms' row weights (an arm
    without a GCV estimate counts with its mean's residual variance)."""
    d = Z.shape[1]
    both = _weighted_and_distinct_moments(Z, codes, y, rows, K, stop)
    if both is None:
        return None
    _, moments, distinct = both
    gram, cross, sq = moments
    coef = np.zeros((d + 1, K))
    score, weight = 0.0, 0.0
    for k in range(K):
        W = gram[k, 0, 0]
        penalty, gcv = _ridge_penalty(distinct[0][k], distinct[1][k], distinct[2][k])
        if penalty is None or W < 3:
            coef[0, k] = cross[k, 0] / W if W > 0 else 0.0
            if W > 0:
                score += max(sq[k] - W * coef[0, k] ** 2, 0.0)
                weight += W
            continue
        _, xbar, ybar, S, r, syy = _centred(gram[k], cross[k], sq[k])
        b = np.linalg.solve(S + W * penalty * np.eye(d), r)
        coef[0, k] = ybar - xbar @ b
        coef[1:, k] = b
        score += W * (syy / W if gcv is None else gcv)
        weight += W
    return coef, score / weight if weight > 0 else 0.0


def _ridge_lines(moments, distinct, arms, coef):
    """coef[:, k] for each k in arms: the ridge line of arm k's moments (as
    _arm_moments gives them), its penalty chosen by GCV on `distinct`'s;
    an arm with fewer than 3 rows of weight gets its mean (0 with none)."""
    gram, cross, sq = moments
    d = gram.shape[1] - 1
    for k in arms:
        W = gram[k, 0, 0]
        coef[:, k] = 0.0
        penalty, _ = _ridge_penalty(distinct[0][k], distinct[1][k], distinct[2][k])
        if penalty is None or W < 3:
            coef[0, k] = cross[k, 0] / W if W > 0 else 0.0
            continue
        _, xbar, ybar, S, r, _ = _centred(gram[k], cross[k], sq[k])
        b = np.linalg.solve(S + W * penalty * np.eye(d), r)
        coef[0, k] = ybar - xbar @ b
        coef[1:, k] = b


def _moments_pair(Z, codes, y, w, K, stop, scale=None):
    """(moments, distinct): _arm_moments with row weights w (None: every
    row once) times `scale` (per-row weights of a reweighted fit; None: 1),
    and the same with the rows of positive w counted once (the same when no
    row repeats); None once `stop` is set."""
    both = w if scale is None else (scale if w is None else w * scale)
    moments = _arm_moments(Z, codes, y, both, K, stop)
    if moments is None:
        return None
    if w is None or not np.any(w > 1):
        return moments, moments
    once = np.where(w > 0, 1.0, 0.0) if scale is None else np.where(w > 0, scale, 0.0)
    distinct = _arm_moments(Z, codes, y, once, K, stop)
    return None if distinct is None else (moments, distinct)


def _log_lines(Z, codes, y, w, K, stop, arms, coef):
    """coef with the columns of `arms` refitted with a log link (see
    fit_baseline), or None once `stop` is set."""
    yd = np.asarray(y, dtype=np.float64)
    base = np.ones(len(yd)) if w is None else w
    in_arms = np.isin(codes, arms) & (base > 0)
    floor = np.zeros(K)
    for k in arms:
        positive = yd[(codes == k) & (base > 0) & (yd > 0)]
        if positive.size < LOG_LINK_MIN_POSITIVE:
            raise ValueError(f"a log link for arm {k} needs {LOG_LINK_MIN_POSITIVE} rows with a positive outcome; "
                             f"it has {positive.size}")
        floor[k] = np.quantile(positive, 0.05)
    start = np.zeros(len(yd))
    start[in_arms] = np.log(np.maximum(yd[in_arms], floor[codes[in_arms]]))
    pair = _moments_pair(Z, codes, start, w, K, stop, in_arms.astype(np.float64))
    if pair is None:
        return None
    _ridge_lines(*pair, arms, coef)
    for _ in range(LOG_LINK_STEPS):
        eta = np.clip(_linear_predictor(Z, coef)[np.arange(len(yd)), codes], -MAX_LOG_MEAN, MAX_LOG_MEAN)
        mu = np.exp(eta)
        with np.errstate(over="ignore"):
            weight = np.where(in_arms, mu * mu, 0.0)
        for k in arms:
            arm = in_arms & (codes == k)
            if not np.all(np.isfinite(weight[arm])):
                # mu^2 overflows where eta passes ~355: the same weights,
                # relative to the arm's largest, from the exponent
                weight[arm] = np.exp(2 * (eta[arm] - np.max(eta[arm])))
            weight[arm] /= max(np.average(weight[arm], weights=base[arm]), np.finfo(float).tiny)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            working = np.where(in_arms, eta + (yd - mu) / mu, 0.0)
        if not np.all(np.abs(working) <= _WORKING_MAX):
            break  # a row's mean (nearly) underflowed: keep the last step
        pair = _moments_pair(Z, codes, working, w, K, stop, weight)
        if pair is None:
            return None
        new = coef.copy()
        _ridge_lines(*pair, arms, new)
        if not np.all(np.isfinite(new)):
            break
        change = np.max(np.abs(new[:, arms] - coef[:, arms])) / (1.0 + np.max(np.abs(coef[:, arms])))
        coef = new
        if change < LOG_LINK_TOL:
            break
    return coef


def _linear_predictor(Z, coef):
    """Z @ coef[1:] + coef[0], float64 of shape (n, K), a block of rows at a
    time."""
    out = np.empty((Z.shape[0], coef.shape[1]))
    step = _block_rows(Z.shape[1])
    for start in range(0, Z.shape[0], step):
        block = slice(start, start + step)
        with np.errstate(over="ignore", invalid="ignore"):
            out[block] = np.asarray(Z[block], dtype=np.float64) @ coef[1:] + coef[0]
    return out


def line(Z, coef, log_arms=()):
    """Each arm's baseline (coef, as fit_baseline returns; the arms in
    log_arms with a log link) on the rows Z, float64 of shape (n, K)."""
    out = _linear_predictor(Z, coef)
    for k in log_arms:
        out[:, k] = np.exp(np.clip(out[:, k], -MAX_LOG_MEAN, MAX_LOG_MEAN))
    if not np.all(np.isfinite(out)):
        raise ValueError("the baseline's lines give non-finite values on these rows; the model's saved "
                         "lines or the covariates are out of range")
    return out


def choose_links(Z, codes, y, fold, K, stop=None):
    """The arms whose baseline takes a log link: those where the log link's
    cross-fitted squared error (fitted on the other folds, scored on each
    fold's rows of the arm) is below the identity link's.  Only arms with
    LOG_LINK_MIN_POSITIVE positive outcomes in every fold's training rows
    compete.  Returns a sorted tuple of arm codes, or None once `stop` is
    set."""
    yd = np.asarray(y, dtype=np.float64)
    folds = int(fold.max()) + 1
    candidates = [k for k in range(K)
                  if all(np.count_nonzero((codes == k) & (fold != f) & (yd > 0)) >= LOG_LINK_MIN_POSITIVE
                         for f in range(folds))]
    if not candidates:
        return ()
    error = np.zeros((2, K))
    for f in range(folds):
        train, held = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        for link, log_arms in enumerate(((), candidates)):
            coef = fit_baseline(Z, codes, y, train, K, stop, log_arms)
            if coef is None:
                return None
            fitted = line(Z[held], coef, log_arms)[np.arange(held.size), codes[held]]
            with np.errstate(over="ignore"):  # a diverged log link's error is inf, and loses
                np.add.at(error[link], codes[held], (yd[held] - fitted) ** 2)
    return tuple(k for k in candidates if error[1, k] < error[0, k])


def fit_baseline_loo(Z, codes, y, rows, K, stop=None):
    """fit_baseline_scored with each arm's penalty chosen by exact
    leave-one-out error instead of GCV.

    GCV replaces every row's leverage by the average one; when a few rows
    sit far out in the features (a basis of the dose times the covariates,
    say), their leave-one-out residuals e_i / (1 - h_ii) are much larger
    than GCV's and GCV picks too small a penalty.  Ridge's leave-one-out
    residuals are exact from one eigendecomposition per arm: with S the
    centred X'X = V diag(e) V' and q_i = V'(x_i - xbar), for each penalty l,
    h_ii = 1/W + sum_j q_ij^2 / (e_j + l) and the fit's deviation from the
    mean is sum_j q_ij (V'r)_j / (e_j + l).  A second pass over the rows, a
    block at a time, gives every penalty's mean squared leave-one-out
    residual (and its standard error); the penalty kept is the one of the
    smallest error.  As in fit_baseline, the choice is made
    on the distinct rows of a resample and the fit then weighs the copies.
    Returns (coef, score, stderr): the leave-one-out mean squared error over
    the arms' rows at the penalties kept and its standard error (for choices
    between such fits, as of their features), or None once `stop` is set."""
    n, d = Z.shape
    both = _weighted_and_distinct_moments(Z, codes, y, rows, K, stop)
    if both is None:
        return None
    w, moments, distinct = both
    arms = {}
    for k in range(K):
        if distinct[0][k][0, 0] >= 3:
            W, xbar, ybar, S, r, _ = _centred(distinct[0][k], distinct[1][k], distinct[2][k])
            e, V = np.linalg.eigh(S)
            arms[k] = (W, xbar, ybar, np.maximum(e, 0.0), V, V.T @ r, W * RIDGE_GRID,
                       np.zeros(len(RIDGE_GRID)), np.zeros(len(RIDGE_GRID)))
    keep = np.ones(n, dtype=bool) if w is None else w > 0
    step = _block_rows(d)
    for start in range(0, n, step):
        if stop is not None and stop.is_set():
            return None
        block = slice(start, start + step)
        F = np.asarray(Z[block], dtype=np.float64)
        c, yb, kb = codes[block], np.asarray(y[block], dtype=np.float64), keep[block]
        for k, (W, xbar, ybar, e, V, qr, lams, press, press2) in arms.items():
            at = np.flatnonzero((c == k) & kb)
            if not at.size:
                continue
            q = (F[at] - xbar) @ V
            inv = 1.0 / (e[:, None] + lams[None, :])  # (p, penalties)
            h = 1.0 / W + (q * q) @ inv
            fit = q @ (qr[:, None] * inv)
            sq_loo = (((yb[at] - ybar)[:, None] - fit) / np.maximum(1.0 - h, 1e-12)) ** 2
            press += sq_loo.sum(axis=0)
            press2 += (sq_loo * sq_loo).sum(axis=0)
    gram, cross, sq = moments
    coef = np.zeros((d + 1, K))
    score, var, weight = 0.0, 0.0, 0.0
    for k in range(K):
        W = gram[k, 0, 0]
        if k not in arms or W < 3:
            coef[0, k] = cross[k, 0] / W if W > 0 else 0.0
            if W > 0:
                score += max(sq[k] - W * coef[0, k] ** 2, 0.0)
                weight += W
            continue
        Wd, press, press2 = arms[k][0], arms[k][7], arms[k][8]
        mse = press / Wd
        se = np.sqrt(np.maximum(press2 / Wd - mse ** 2, 0.0) / Wd)
        pick = int(np.argmin(mse))
        _, xbar, ybar, S, r, _ = _centred(gram[k], cross[k], sq[k])
        b = np.linalg.solve(S + W * RIDGE_GRID[pick] * np.eye(d), r)
        coef[0, k] = ybar - xbar @ b
        coef[1:, k] = b
        score += mse[pick] * W
        var += (se[pick] * W) ** 2
        weight += W
    if weight == 0:
        return coef, 0.0, 0.0
    return coef, score / weight, np.sqrt(var) / weight
