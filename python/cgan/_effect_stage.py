"""The effect stage: models of the effects fitted to cross-fitted nuisances by
the R-loss (Nie & Wager's R-learner), and the choice among them.

Given cross-fitted potential outcomes mu (n, K) and propensities e (n, K) of
the training rows, the R-loss of effects tau_k(x) against arm 0 (k = 1 ..
K - 1) is

    mean_i ( y_i - m(x_i) - sum_k (1[t_i = k] - e_k(x_i)) tau_k(x_i) )^2,

with m(x) = sum_k e_k(x) mu_k(x).  Its weights (1[t = k] - e_k)^2 are
bounded, so rows with extreme propensities cannot blow it up as inverse
weights would.  The candidates (EFFECT_MODELS), simplest first:

  'constant'  tau_k a constant per arm;
  'linear'    tau_k linear in the standardised covariates;
  'additive'  the same plus cubic B-splines of each continuous covariate;
  'plugin'    tau_k = mu_k - mu_0, the estimator's own effects.

The parametric ones are ridge regressions on the R-loss, each arm's
intercept unpenalised, the penalty chosen by generalised cross-validation.
'auto' scores each candidate by its cross-fitted R-loss (fitted on all
folds but one, scored on that one) and keeps the lowest.  Only moments of
the design are formed, a block of rows at a time, so memory is O(n + q^2)
for q = (K - 1) (p + 1) columns."""
from __future__ import annotations

import numpy as np

from ._propensity import SPLINE_KNOTS, bspline_terms

EFFECT_MODELS = ("constant", "linear", "additive", "plugin")  # simplest first
# ridge penalties tried, relative to the mean eigenvalue of the penalised
# part of the design's Gram matrix
RIDGE_GRID = np.logspace(-6, 3, 37)
# the parametric candidates compete while their Gram matrix, q^2 doubles,
# takes at most this many bytes (q about 2,900)
STAGE_BYTES = 64 << 20
# rows per block when the design's moments are accumulated
_BLOCK_ROWS = 4096


def spline_range(Z):
    """(column, lo, hi) rows of shape (c, 3) for the continuous columns of Z
    (at least 2 * SPLINE_KNOTS distinct values), whose B-splines the
    'additive' model adds; the knots span each column's range."""
    out = []
    for j in range(Z.shape[1]):
        col = Z[:, j]
        lo, hi = float(col.min()), float(col.max())
        if hi > lo and len(np.unique(col)) >= 2 * SPLINE_KNOTS:
            out.append((j, lo, hi))
    return np.array(out, dtype=np.float64).reshape(-1, 3)


def features(Z, model, splines):
    """The covariates of an effect model on rows Z, float64 of shape (n, p):
    none for 'constant', Z for 'linear', Z and the B-splines of the columns
    in `splines` (spline_range's rows) for 'additive'."""
    Zd = np.asarray(Z, dtype=np.float64)
    if model == "constant":
        return np.zeros((len(Zd), 0))
    if model == "linear" or not len(splines):
        return Zd
    bases = [bspline_terms(Zd[:, int(j)], lo, hi) for j, lo, hi in splines]
    return np.hstack([Zd, *bases])


def r_terms(mu, propensity, codes, y):
    """(residual, contrast) of the R-loss: y - m(x) of shape (n,), and
    1[t = k] - e_k(x) for k = 1 .. K - 1 of shape (n, K - 1)."""
    K = mu.shape[1]
    residual = np.asarray(y, dtype=np.float64) - np.sum(propensity * mu, axis=1)
    contrast = np.eye(K)[codes][:, 1:] - propensity[:, 1:]
    return residual, contrast


def _design(F, contrast):
    """The R-loss design of rows F (n, p): (n, (K - 1) (p + 1)), arm k's
    block contrast_k * [1, F]."""
    F1 = np.hstack([np.ones((len(F), 1)), F])
    return (contrast[:, :, None] * F1[:, None, :]).reshape(len(F), -1)


def fits_stage(p, K):
    """Whether a parametric candidate of p covariates fits STAGE_BYTES."""
    q = (K - 1) * (p + 1)
    return 8 * q * q <= STAGE_BYTES


def moments(F, contrast, residual, groups):
    """The design's moments per group of rows: gram (G, q, q), cross (G, q)
    and the residuals' sum of squares (G,), for groups[i] in [0, G)."""
    G = int(groups.max()) + 1
    q = contrast.shape[1] * (F.shape[1] + 1)
    gram, cross, sq = np.zeros((G, q, q)), np.zeros((G, q)), np.zeros(G)
    for start in range(0, len(F), _BLOCK_ROWS):
        block = slice(start, start + _BLOCK_ROWS)
        D, r, g = _design(F[block], contrast[block]), residual[block], groups[block]
        for k in np.unique(g):
            rows = g == k
            gram[k] += D[rows].T @ D[rows]
            cross[k] += D[rows].T @ r[rows]
            sq[k] += r[rows] @ r[rows]
    return gram, cross, sq


def ridge(gram, cross, sq, n, free):
    """Ridge coefficients (q,) from the moments of n rows, the columns in
    `free` (a boolean mask) unpenalised, the penalty chosen by GCV over
    RIDGE_GRID times the mean eigenvalue of the penalised part (after the
    free columns are projected out)."""
    f, p = np.flatnonzero(free), np.flatnonzero(~free)
    Sff = gram[np.ix_(f, f)]
    inv = np.linalg.pinv(Sff)
    coef = np.zeros(len(free))
    if not p.size:
        coef[f] = inv @ cross[f]
        return coef
    Sfp = gram[np.ix_(f, p)]
    A = inv @ Sfp  # the free columns' regression on the penalised ones
    S = gram[np.ix_(p, p)] - Sfp.T @ A
    r = cross[p] - Sfp.T @ (inv @ cross[f])
    syy = max(sq - cross[f] @ inv @ cross[f], 0.0)
    e, V = np.linalg.eigh((S + S.T) / 2)
    e = np.maximum(e, 0.0)
    z = V.T @ r
    scale = max(float(e.mean()), np.finfo(float).tiny)
    best = None
    for lam in scale * RIDGE_GRID:
        df = f.size + np.sum(e / (e + lam))
        if df >= n - 1:
            continue
        rss = max(syy - np.sum(z * z * (e + 2 * lam) / (e + lam) ** 2), 0.0)
        gcv = rss / n / (1.0 - df / n) ** 2
        if best is None or gcv < best[0]:
            best = (gcv, lam)
    lam = scale * RIDGE_GRID[-1] if best is None else best[1]
    coef[p] = V @ (z / (e + lam))
    coef[f] = inv @ (cross[f] - Sfp @ coef[p])
    return coef


def effects(F, coef, K):
    """Effects (n, K - 1) of a parametric model with coefficients coef
    (K - 1, p + 1) on rows of covariates F (n, p)."""
    return coef[:, 0] + F @ coef[:, 1:].T


def _fit(gram, cross, sq, n, K):
    q = gram.shape[-1]
    free = np.zeros(q, dtype=bool)
    free[:: q // (K - 1)] = True  # each arm's intercept
    return ridge(gram, cross, sq, n, free).reshape(K - 1, -1)


def fit(Z, mu, propensity, codes, y, model, splines):
    """Coefficients (K - 1, p + 1) of the parametric effect model `model`
    fitted to the R-loss of rows Z (repeats count as weights), with
    cross-fitted potential outcomes mu and propensities of those rows."""
    residual, contrast = r_terms(mu, propensity, codes, y)
    F = features(Z, model, splines)
    gram, cross, sq = moments(F, contrast, residual, np.zeros(len(F), dtype=np.intp))
    return _fit(gram[0], cross[0], sq[0], len(F), mu.shape[1])


def choose(Z, mu_oof, propensity, codes, y, fold, options, rule="min"):
    """The effect model of `options` (names of EFFECT_MODELS, simplest
    first) chosen by cross-fitted R-loss, refitted on every row.  Each
    parametric candidate is fitted on all folds but one and scored on that
    one; 'plugin' scores the cross-fitted mu_oof's own effects.  rule
    'min' keeps the lowest mean loss; '1se' the simplest candidate whose
    rows' losses exceed the lowest one's by at most one standard error of
    the mean paired difference.  Returns (model, coef (K - 1, p + 1) or
    None for 'plugin', splines (spline_range of Z), each scored
    candidate's R-loss per row)."""
    K = mu_oof.shape[1]
    row_losses, coefs = {}, {}
    residual, contrast = r_terms(mu_oof, propensity, codes, y)
    splines = spline_range(Z)
    for model in options:
        if model == "plugin":
            tau = mu_oof[:, 1:] - mu_oof[:, :1]
            row_losses[model] = (residual - np.sum(contrast * tau, axis=1)) ** 2
            coefs[model] = None
            continue
        F = features(Z, model, splines)
        if not fits_stage(F.shape[1], K):
            continue
        gram, cross, sq = moments(F, contrast, residual, fold)
        total = gram.sum(axis=0), cross.sum(axis=0), sq.sum()
        loss = np.empty(len(y))
        for k in range(len(sq)):
            held = fold == k
            c = _fit(total[0] - gram[k], total[1] - cross[k], total[2] - sq[k], int(np.sum(~held)), K)
            loss[held] = (residual[held] - np.sum(contrast[held] * effects(F[held], c, K), axis=1)) ** 2
        row_losses[model] = loss
        coefs[model] = _fit(*total, len(y), K)
    best = pick(row_losses, rule)
    return best, coefs[best], splines, row_losses


def pick(row_losses, rule="min"):
    """The candidate of row_losses (name: loss per row, simplest first) that
    `rule` keeps (see choose)."""
    means = {m: float(v.mean()) for m, v in row_losses.items()}
    best = min(means, key=means.get)  # the first, the simplest, of equals
    if rule == "min":
        return best
    for m, v in row_losses.items():  # simplest first
        diff = v - row_losses[best]
        if diff.mean() <= diff.std() / np.sqrt(len(diff)):
            return m
    return best
