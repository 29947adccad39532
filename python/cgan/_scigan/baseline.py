"""SCIGAN's baseline: each treatment's ridge regression of the outcome on
the standardised covariates with coefficients that vary with the dose,

    b_k(x, u) = c_k + x . v_k + sum_j B_j(u) (s a_kj + [j > 0] x . w_kj),

B the cubic B-splines of the dose on the treatment's [0, 1] scale (clamped
there) with uniform interior knots.  The number of knots and each treatment's
penalty are chosen among KNOTS and cgan._baseline.RIDGE_GRID by exact
leave-one-out error on the training rows, by the one-standard-error rule
(the simplest fit within a standard error of the best); when the arms' Gram matrices of the varying coefficients would
be too large, the coefficients of x do not vary (b = c + B(u) . a + x . w).
The networks learn what the baseline leaves, as GANITE's learn what its
per-arm lines leave (cgan._baseline, whose GCV ridge fits these too)."""
from __future__ import annotations

import numpy as np

from .. import _baseline

# interior knots tried (cubic splines: KNOTS[i] + 4 basis functions)
KNOTS = (1, 3, 5)
DEGREE = 3
# The ridge penalty is the same for every feature; scaling a column by s
# divides its penalty by s^2.  The dose's main curve is scaled up so that it
# is barely penalised: shrunk to zero, it would flatten where doses are
# rare, at the ends of the range.
MAIN_SCALE = 10.0


def bsplines(u, n_interior):
    """The cubic B-spline basis with n_interior uniform interior knots on
    [0, 1] (clamped ends) at u clipped to [0, 1]: shape u.shape + (n_interior
    + 4,), float64; the values of each point sum to 1 (Cox-de Boor)."""
    u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
    knots = np.r_[np.zeros(DEGREE), np.linspace(0.0, 1.0, n_interior + 2), np.ones(DEGREE)]
    # degree 0: the interval each point falls in (1 falls in the last one)
    spans = len(knots) - 1
    at = np.clip(np.searchsorted(knots, u, side="right") - 1, DEGREE, spans - DEGREE - 1)
    basis = (np.arange(spans) == at[..., None]).astype(np.float64)
    for p in range(1, DEGREE + 1):
        out = np.zeros(u.shape + (spans - p,))
        for j in range(spans - p):
            left, right = knots[j + p] - knots[j], knots[j + p + 1] - knots[j + 1]
            if left > 0:
                out[..., j] += (u - knots[j]) / left * basis[..., j]
            if right > 0:
                out[..., j] += (knots[j + p + 1] - u) / right * basis[..., j + 1]
        basis = out
    return basis


class DoseFeatures:
    """The baseline's features of rows Z (standardised covariates) at unit
    doses u: [s B(u), x, x (x) B(u)[:, 1:]] (varying coefficients: x's
    coefficient and its departures along the dose, which the penalty shrinks
    towards a coefficient that does not vary) or [s B(u), x]; s =
    MAIN_SCALE.  A block of rows at a time, as float32: it stands in for a
    2-d array in cgan._baseline, which only takes its shape and row
    blocks."""

    def __init__(self, Z, u, n_interior, varying):
        self.Z, self.u, self.n_interior, self.varying = Z, u, n_interior, varying
        self.shape = (Z.shape[0], width(Z.shape[1], n_interior, varying))

    def __getitem__(self, rows):
        Z = np.asarray(self.Z[rows], dtype=np.float64)
        B = bsplines(self.u[rows], self.n_interior)
        parts = [MAIN_SCALE * B, Z]
        if self.varying:
            parts.append((Z[:, :, None] * B[:, None, 1:]).reshape(len(Z), -1))
        return np.ascontiguousarray(np.hstack(parts), dtype=np.float32)


def fits(d, K, n_interior, varying):
    """Whether the arms' Gram matrices of these features fit the baseline's budget."""
    return _baseline.fits_baseline(width(d, n_interior, varying), K)


def width(d, n_interior, varying):
    """The number of features (DoseFeatures' columns)."""
    nb = n_interior + DEGREE + 1
    return nb + d + (d * (nb - 1) if varying else 0)


def fit(Z, codes, u, y, rows, K, stop):
    """The baseline fitted on `rows` (repeats count as weights; None: every
    row), with the fewest knots of KNOTS whose leave-one-out error is within
    one standard error of the smallest.  Returns (coef of shape (p + 1, K),
    basis = [n_interior, varying]), or None once `stop` is set."""
    d = Z.shape[1]
    varying = fits(d, K, KNOTS[0], True)
    fitted = []
    for n_interior in KNOTS:
        if varying and not fits(d, K, n_interior, True):
            break
        out = _baseline.fit_baseline_loo(DoseFeatures(Z, u, n_interior, varying), codes, y, rows, K, stop)
        if out is None:
            return None
        fitted.append((n_interior, *out))
    best = min(range(len(fitted)), key=lambda i: fitted[i][2])
    n_interior, coef = next((f[0], f[1]) for f in fitted if f[2] <= fitted[best][2] + fitted[best][3])
    return coef, np.array([n_interior, int(varying)], dtype=np.int64)


def evaluate(Z, u, coef, basis, k):
    """Treatment k's baseline for rows Z at unit doses u (n, m): float64
    (n, m)."""
    n_interior, varying = int(basis[0]), bool(basis[1])
    nb, d = n_interior + DEGREE + 1, Z.shape[1]
    c = coef[:, k]
    B = bsplines(u, n_interior)  # (n, m, nb)
    Z64 = np.asarray(Z, dtype=np.float64)
    # the coefficient of each B_j for each row: s a_j, plus x . w_j for j >= 1
    V = np.broadcast_to(MAIN_SCALE * c[1:1 + nb], (len(Z64), nb)).copy()
    if varying:
        V[:, 1:] += Z64 @ c[1 + nb + d:].reshape(d, nb - 1)
    out = np.einsum("nj,nmj->nm", V, B) + (Z64 @ c[1 + nb:1 + nb + d])[:, None] + c[0]
    if not np.all(np.isfinite(out)):
        raise ValueError("the baseline gives non-finite values on these rows; the model's saved baseline or the "
                         "covariates are out of range")
    return out
