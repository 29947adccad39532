"""Inference for average effects: the ATEResult record, doubly robust
(AIPW) estimates of the ATE, ATT and ATC with influence-function standard
errors, and the resampling plans of the bootstrap.

Everything here works on plain arrays (potential-outcome predictions mu,
propensities e, treatment codes, outcomes), so that an estimator only
gathers them and the math can be tested on injected arrays.  The standard
errors are asymptotic: they assume mu and e were fitted on other rows
(cross-fitting) or converge fast enough."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from ._validation import check_alpha, check_choice, label_repr

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


def normal_interval(estimate: float, stderr: float, alpha: float) -> tuple[float, float]:
    """The (1 - alpha) normal interval estimate -+ z stderr."""
    z = -NormalDist().inv_cdf(alpha / 2)  # the lower tail keeps tiny alphas exact (1 - 1e-300 == 1)
    return estimate - z * stderr, estimate + z * stderr


# ------------------------------------------------------------- resampling
DEFAULT_BOOTSTRAP = 100
MAX_BOOTSTRAP = 1 << 24
# cross-fitting folds inside each replicate of the AIPW bootstrap
BOOTSTRAP_FOLDS = 2


def stratified_folds(codes, n_folds, seed):
    """Fold of each row, balanced within each treatment arm."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(codes), dtype=np.int64)
    offset = 0
    for arm in np.unique(codes):
        idx = np.flatnonzero(codes == arm)
        fold[rng.permutation(idx)] = (np.arange(len(idx)) + offset) % n_folds
        offset += len(idx)
    return fold


def unit_folds(sample, codes, n_folds, rng):
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


def resample_plans(codes, classes, replicates: int, folds: int, arms_needed, seed: int, tag: int):
    """The resamples of a bootstrap, drawn with replacement within each arm
    so that every arm keeps its size: one (sample, fold, core_seed,
    member_seeds) per replicate.  With folds=1, fold is None and the
    replicate fits one model to the sample; with more, fold splits the
    resampled units (every copy of a unit in one fold; unit_folds) and
    member_seeds seed one model per fold's complement.  A resample whose
    split leaves some complement without an arm of `arms_needed` is redrawn
    from the replicate's own stream.  Each replicate's draws come from its
    own child seed of (seed, tag), so they do not depend on the order in
    which replicates run."""
    arms = [idx for idx in (np.flatnonzero(codes == k) for k in range(len(classes))) if idx.size]
    for arm in arms_needed:
        if np.count_nonzero(codes == arm) < folds:
            raise ValueError(
                f"the bootstrap cross-fits each resample over {folds} folds, which needs at least {folds} rows "
                f"that received {label_repr(classes[arm])}; {np.count_nonzero(codes == arm)} did"
            )
    plans = []
    for child in np.random.SeedSequence([seed, tag]).spawn(replicates):
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
            fold = unit_folds(sample, codes, folds, rng)
            if all(np.any(codes[sample[fold != f]] == arm) for f in range(folds) for arm in arms_needed):
                break
        else:
            raise ValueError("the bootstrap could not draw resamples whose folds each hold both compared arms; "
                             "too few rows received one of them")
        plans.append((sample, fold, core_seed, member_seeds))
    return plans


def smallest_training_rows(plans, folds: int) -> int:
    """The fewest rows any model of resample_plans' plans trains on."""
    return min(len(sample) if fold is None else min(np.count_nonzero(fold != f) for f in range(folds))
               for sample, fold, _, _ in plans)
