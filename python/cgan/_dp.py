"""The privacy budget of DP-SGD training: the noise multiplier that makes the
planned steps spend exactly (epsilon, delta), and what a set of steps spends.

Every private step of cgan's WGANs is a Poisson-subsampled Gaussian
mechanism (sampling rate q, noise multiplier sigma: each real row's clipped
contribution has sensitivity max_grad_norm under adding or removing the row,
the noise has sd sigma * max_grad_norm).  Their composition is accounted by
dp-accounting's Renyi-DP accountant (Mironov 2017; Mironov, Talwar & Zhang
2019 for the subsampled Gaussian), not by code of cgan's own, and sigma is
found by its calibration routine.  Needs the optional ``dp-accounting``
package: ``pip install cgan[privacy]``."""
from __future__ import annotations

import contextlib
import logging
import math

# the accountant's epsilon for the calibrated noise lies within this share of
# the requested one (below it: calibration never overspends)
EPSILON_RTOL = 1e-3


def _accounting():
    try:
        import dp_accounting
        from dp_accounting import rdp
    except ImportError:  # pragma: no cover - exercised where dp-accounting is absent
        raise ImportError("private training (epsilon=...) needs the dp-accounting package: "
                          "pip install 'cgan[privacy]'") from None
    return dp_accounting, rdp


@contextlib.contextmanager
def _quiet():
    """The accountant logs (absl) each Renyi order it drops as numerically
    unstable; those orders are only left out of the minimum it takes."""
    log = logging.getLogger("absl")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _event(sigma, steps):
    """The DpEvent of `steps`: [(sample_rate, count)] of Poisson-subsampled
    Gaussian steps of noise multiplier sigma, composed."""
    dp_accounting, _ = _accounting()
    parts = [dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)), count)
        for q, count in steps if count > 0]
    return dp_accounting.ComposedDpEvent(parts)


def spent(sigma, steps, delta):
    """The epsilon that `steps` ([(sample_rate, count)]) with noise
    multiplier sigma spend at delta, by the RDP accountant."""
    _, rdp = _accounting()
    with _quiet():
        accountant = rdp.RdpAccountant()
        accountant.compose(_event(sigma, steps))
        return float(accountant.get_epsilon(delta))


def calibrate(epsilon, delta, steps):
    """The noise multiplier with which `steps` ([(sample_rate, count)])
    spend epsilon at delta: the smallest sigma (to EPSILON_RTOL of epsilon)
    whose accounted epsilon does not exceed it."""
    dp_accounting, rdp = _accounting()
    if not any(count > 0 for _, count in steps):
        raise ValueError("there are no private steps to spend the budget on (n_iter=0)")
    with _quiet():
        sigma = dp_accounting.calibrate_dp_mechanism(
            rdp.RdpAccountant, lambda s: _event(s, steps), epsilon, delta,
            dp_accounting.LowerEndpointAndGuess(1e-3, 1.0))
    # tighten until the spent epsilon is within EPSILON_RTOL below the target
    lo, hi = sigma * 0.5, sigma
    while spent(lo, steps, delta) <= epsilon:
        lo *= 0.5
    for _ in range(100):
        if epsilon - spent(hi, steps, delta) <= EPSILON_RTOL * epsilon:
            break
        mid = 0.5 * (lo + hi)
        if spent(mid, steps, delta) <= epsilon:
            hi = mid
        else:
            lo = mid
    return float(hi)


def default_delta(n):
    """delta when none is given: 1 / (10 n), below 1/n as (epsilon, delta)-DP
    needs (a delta of 1/n allows releasing a row outright)."""
    return 1.0 / (10.0 * n)


def check_budget(epsilon, delta, max_grad_norm, n):
    """(epsilon, delta, max_grad_norm) checked, delta defaulted; ValueError
    or TypeError naming the argument."""
    from ._validation import check_float
    epsilon = check_float(epsilon, "epsilon", 0.0, 1e6, low_open=True)
    if delta is None:
        delta = default_delta(n)
    delta = check_float(delta, "delta", 0.0, 1.0, low_open=True)
    if not delta < 1.0 / n:
        raise ValueError(f"delta={delta:g} is not below 1/n = {1.0 / n:g} for the {n} rows: such a delta allows "
                         f"a mechanism that publishes a row outright; give a smaller delta or None (1/(10 n))")
    max_grad_norm = check_float(max_grad_norm, "max_grad_norm", 0.0, 1e6, low_open=True)
    if not math.isfinite(max_grad_norm):  # pragma: no cover - check_float bounds it
        raise ValueError("max_grad_norm must be finite")
    return epsilon, delta, max_grad_norm


# --------------------------------------------------------- declared columns

def declared_columns(df, names, treatment, categorical, bounds, log, levels):
    """Column encoders for the columns `names` of df built from declared
    facts only: a categorical column's levels (levels), a continuous
    column's bounds, standardised by its bounds' midpoint and half-range.
    ValueError naming every fact that is missing."""
    import numpy as np

    from ._tabular import Column
    if levels is None:
        levels = {}
    if not isinstance(levels, dict):
        raise TypeError(f"levels must be a dict mapping a column to its levels, got {type(levels).__name__}")
    for c in levels:
        if c not in names:
            raise ValueError(f"levels name {c!r}, which is not a fitted column")
    missing = []
    if log is not None and not (not isinstance(log, str) and len(log) == 0):
        missing.append("log: the log-scale choice reads the data; pass log=None")
    for c in categorical or []:
        if c not in levels:
            missing.append(f"{c!r}: its levels (categorical columns need levels={{{c!r}: [...]}})")
    cols = []
    for c in names:
        values = df[c].to_numpy()
        if c in levels or c == treatment or values.dtype.kind not in "biuf":
            if c not in levels:
                missing.append(f"{c!r}: its levels (levels={{{c!r}: [...]}})")
                continue
            declared = np.asarray(list(levels[c]), dtype=values.dtype if values.dtype.kind != "f" else None)
            if c in bounds:
                raise ValueError(f"bounds are given for {c!r}, which is categorical (in levels)")
            if len(set(declared.tolist())) < 2:
                raise ValueError(f"levels[{c!r}] must hold at least two distinct levels")
            cols.append(Column(c, declared, True, None))
            continue
        lo, hi = bounds.get(c, (None, None))
        if lo is None or hi is None:
            missing.append(f"{c!r}: finite bounds if continuous (bounds={{{c!r}: (low, high)}}), or its levels "
                           f"if categorical (levels={{{c!r}: [...]}})")
            continue
        if not float(lo) < float(hi):
            raise ValueError(f"bounds of {c!r} must have lower < upper for private training, got ({lo}, {hi})")
        col = Column(c, np.array([float(lo), float(hi)]), False, (lo, hi))
        col.dtype = values.dtype
        col.integer = values.dtype.kind in "biu"
        cols.append(col)
    if missing:
        raise ValueError("private training (epsilon=...) uses only declared column facts; missing: "
                         + "; ".join(missing))
    return cols


def encode_declared(cols, df):
    """The encoded rows of df's columns cols (declared encoders): continuous
    values clipped to their bounds, categorical ones checked against the
    declared levels."""
    import numpy as np
    parts = []
    for col in cols:
        values = df[col.name].to_numpy()
        if col.categorical:
            try:
                parts.append(col.encode(values))
            except ValueError:
                raise ValueError(f"column {col.name!r} holds a level not among those declared in "
                                 f"levels[{col.name!r}]") from None
        else:
            parts.append(col.encode(np.clip(values.astype(np.float64), col.lower, col.upper)))
    return np.ascontiguousarray(np.concatenate(parts, axis=1), dtype=np.float32)
