"""Inference for average effects: the ATEResult record, doubly robust (AIPW)
estimates of the ATE, ATT and ATC with influence-function standard errors,
and propensity overlap summaries.

Everything here works on plain arrays (potential-outcome predictions mu,
propensities e, treatment codes, outcomes), so that the estimator layer in
_ganite.py only gathers them and the math can be tested on injected arrays.
The standard errors are asymptotic: they assume mu and e were fitted on other
rows (cross-fitting) or converge fast enough; they do not account for a
biased outcome model when the propensity is also wrong."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ._validation import label_repr

METHODS_POINT = ("plugin", "aipw")
METHODS_INTERVAL = ("aipw", "bootstrap")
TARGETS = ("ate", "att", "atc")


@dataclass(frozen=True, repr=False)
class ATEResult:
    """An average effect of T1 against T0 with its uncertainty.

    :meth:`GANITE.ate_inference` returns it; it is a frozen record, built
    from its fields in this order.

    Attributes
    ----------
    estimate : float
        The point estimate: ``method='aipw'``'s estimate, for both
        ``method='aipw'`` and ``method='bootstrap'``.
    stderr : float
        Standard error: from the influence function (AIPW) or the standard
        deviation of the bootstrap replicates.
    lo, hi : float
        The (1 - alpha) confidence interval.
    alpha : float
        The interval's level is 1 - alpha.
    method : str
        'aipw' or 'bootstrap'.
    target : str
        'ate' (all rows), 'att' (rows that received T1) or 'atc' (rows that
        received T0).
    n : int
        Rows the estimate is computed on (all of them, whatever the target).
    propensity_clip : float or None
        Propensities were clipped below at this value; None for a method
        that uses no propensity (cgan's two methods both use one).

    See Also
    --------
    GANITE.ate_inference : computes it.

    Examples
    --------
    >>> from cgan import ATEResult
    >>> ATEResult(2.0, 0.5, 1.02, 2.98, 0.05, "aipw", "ate", 400, 0.01)
    ATEResult(ATE by aipw: estimate=2, stderr=0.5, 95% interval [1.02, 2.98], n=400, propensity_clip=0.01)
    """

    estimate: float
    stderr: float
    lo: float
    hi: float
    alpha: float
    method: str
    target: str
    n: int
    propensity_clip: float | None = None

    def __post_init__(self) -> None:
        for name in ("estimate", "stderr", "lo", "hi"):
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
                raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
            if math.isnan(value):
                raise ValueError(f"{name} must not be NaN")
        if not self.stderr >= 0:
            raise ValueError(f"stderr must be non-negative, got {self.stderr}")
        if not self.lo <= self.hi:
            raise ValueError(f"lo must not exceed hi, got lo={self.lo} and hi={self.hi}")
        check_alpha(self.alpha)
        check_choice(self.method, "method", METHODS_INTERVAL)
        check_choice(self.target, "target", TARGETS)
        if isinstance(self.n, (bool, np.bool_)) or not isinstance(self.n, numbers.Integral):
            raise TypeError(f"n must be an integer, got {type(self.n).__name__}")
        if self.n < 1:
            raise ValueError(f"n must be at least 1, got {self.n}")
        clip = self.propensity_clip
        if clip is not None:
            if isinstance(clip, (bool, np.bool_)) or not isinstance(clip, numbers.Real):
                raise TypeError(f"propensity_clip must be None or a real number, got {type(clip).__name__}")
            if not 0 < clip < 1:
                raise ValueError(f"propensity_clip must lie in (0, 1), got {clip}")

    def __repr__(self) -> str:
        level = f"{100 * (1 - self.alpha):g}%"
        clip = "" if self.propensity_clip is None else f", propensity_clip={self.propensity_clip:g}"
        return (f"ATEResult({self.target.upper()} by {self.method}: estimate={self.estimate:.4g}, "
                f"stderr={self.stderr:.4g}, {level} interval [{self.lo:.4g}, {self.hi:.4g}], "
                f"n={self.n}{clip})")


def check_choice(value, name: str, allowed) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {list(allowed)}; got {type(value).__name__}")
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value


def check_alpha(alpha) -> float:
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"alpha must be a real number in (0, 1), got {type(alpha).__name__}")
    value = float(alpha)
    # 1e-300: the normal quantile of alpha / 2 must stay a normal float
    if not 1e-300 <= value < 1.0:
        raise ValueError(f"alpha must lie in (0, 1) and be at least 1e-300, got {alpha}")
    return value


def target_rows(codes, t0: int, t1: int, target: str, arm_names) -> np.ndarray | slice:
    """The rows an effect of `target` averages over, checked to be non-empty."""
    if target == "ate":
        return slice(None)
    arm, role = (t1, "T1") if target == "att" else (t0, "T0")
    rows = np.flatnonzero(codes == arm)
    if rows.size == 0:
        raise ValueError(
            f"target={target!r} averages over the rows that received {role}={label_repr(arm_names[arm])}, "
            f"but none of the {len(codes)} rows did"
        )
    return rows


def aipw(mu, propensity, codes, y, t0: int, t1: int, target: str):
    """Doubly robust estimate of the effect of arm t1 against arm t0, and its
    standard error from the efficient influence function.

    mu : (n, K) predicted potential outcomes; propensity : (n, K) P(T = k | x)
    (already clipped); codes : (n,) arms received; y : (n,) outcomes.

    ATE: psi_i = mu1 - mu0 + 1[t=1](y - mu1)/e1 - 1[t=0](y - mu0)/e0,
         estimate mean(psi), stderr sd(psi)/sqrt(n).
    ATT (rows with t = t1; Hahn 1998): with r = e1/e0,
         num_i = 1[t=1](y - mu0) - 1[t=0] r (y - mu0),  estimate sum(num)/n1,
         phi_i = (num_i - 1[t=1] estimate) / (n1/n),  stderr sd(phi)/sqrt(n).
    ATC (rows with t = t0) is minus the ATT of t0 against t1 with the roles
         of the arms swapped: num_i = 1[t=1] (e0/e1)(y - mu1) - 1[t=0](y - mu1),
         divided by n0.
    Here 1 and 0 stand for t1 and t0 and e1, e0 for the multinomial
    propensities of those two arms, so with K arms each contrast uses only
    the rows of its two arms in the correction terms."""
    n = len(y)
    is1 = (codes == t1).astype(np.float64)
    is0 = (codes == t0).astype(np.float64)
    e1, e0 = propensity[:, t1], propensity[:, t0]
    m1, m0 = mu[:, t1], mu[:, t0]
    if target == "ate":
        psi = m1 - m0 + is1 * (y - m1) / e1 - is0 * (y - m0) / e0
        estimate = float(psi.mean())
        stderr = float(psi.std(ddof=1) / np.sqrt(n)) if n > 1 else float("inf")
        return estimate, stderr
    if target == "att":
        num = is1 * (y - m0) - is0 * (e1 / e0) * (y - m0)
        member = is1
    else:
        num = is1 * (e0 / e1) * (y - m1) - is0 * (y - m1)
        member = is0
    n_target = member.sum()
    estimate = float(num.sum() / n_target)
    phi = (num - member * estimate) / (n_target / n)
    stderr = float(phi.std(ddof=1) / np.sqrt(n)) if n > 1 else float("inf")
    return estimate, stderr


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
