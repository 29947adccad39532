"""The per-arm linear baseline: each arm's ridge regression of the outcome
on the standardised covariates, its penalty chosen by generalised
cross-validation.  GANITE's networks learn what the lines leave, so that
effects extrapolate along the lines.  Only per-arm moments are formed (in
C, a block of rows at a time), so memory is O(n + K d^2)."""
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


def fits_baseline(d, K):
    return 8 * K * (d + 1) ** 2 <= BASELINE_BYTES


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
    """The ridge penalty GCV picks from RIDGE_GRID for one arm's moments
    (as _cgan.arm_moments gives them); None with fewer than 3 rows."""
    if gram[0, 0] < 3:
        return None
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
    return RIDGE_GRID[-1] if best is None else best[1]


def fit_baseline(Z, codes, y, rows, K, stop=None):
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


def line(Z, coef):
    """Each arm's line (coef, as fit_baseline returns) on the rows Z,
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


