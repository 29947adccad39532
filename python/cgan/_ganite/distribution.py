"""GANITE's distributional outputs: each arm's conditional distribution
as drawn by the counterfactual generator, its quantiles, quantile effects,
the probability of benefit and calibrated individual intervals.

Each ensemble member draws arm k at x, and the members' quantile functions
are averaged.  A model fitted with ``crps_weight > 0`` has a
generator that sees x and noise only, so every arm's draws come straight
from it.  A model fitted without it has GANITE's generator, which completes
a unit's outcomes from an anchor: as in GANITE.sample, an arm drawn from the
training shares, its outcome the member's mean plus a residual resampled
from that arm's cross-fitted training residuals.

Fit judges each training row's factual outcome by the draws of the member
that did not train on it.  Their CRPS chooses whether the draws are used as
drawn or centred on the ensemble's predicted mean (draw_center_), and
reports as oof_crps_.  Intervals are weighted split-conformal (Lei & Candes
2021) with a locally scaled score: |y - m(x)| / s(x), m the draws' median
and s their mean absolute deviation from it.  The interval for arm k is
m(x) -+ q_k s(x), q_k the weighted 1 - alpha quantile of the scores of the
rows that received arm k, each weighted by its odds (1 - e_k(x)) / e_k(x)
of not receiving arm k, so that the calibration rows stand for the units
whose outcome under k is counterfactual, and the new row itself weighted by
its own odds (Tibshirani et al. 2019): the further a row lies from the rows
that received k, the wider its interval for k.  e_k is one logistic
propensity model fitted to every training row, so that it evaluates on new
rows."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _memory
from .._base import reads
from .._propensity import logistic_coef, logistic_propensity
from .._validation import LIMITS, check_choice, check_float, check_int, check_random_state

if TYPE_CHECKING:
    import pandas
    from numpy.typing import ArrayLike

# draws per training row behind the stored calibration scores
CALIBRATION_DRAWS = 100
# a fixed offset of the fit's seed for the calibration draws, so that they
# leave every other stream of the fit alone
CALIBRATION_STREAM = 27


def is_crps(member):
    return member.core.config.get("crps_weight", 0.0) > 0


def member_draws(member, Z, count, seed, anchors):
    """(count, n, K) draws of each arm's outcome at rows Z from one member,
    on the networks' scale.  anchors is (shares, residual pools) for a
    generator that completes from an anchor; unused by a CRPS generator."""
    n, K = Z.shape[0], member.coef.shape[1]
    line = member.line(Z)
    seq = np.random.SeedSequence(seed)
    if is_crps(member):
        # the anchor inputs are ignored: G draws every arm but the anchor's,
        # so arm 0 comes from a second call anchored on arm 1
        zero, one = np.zeros(n, np.int32), np.ones(n, np.int32)
        seeds = seq.generate_state(2, np.uint64)
        out = member.sample(Z, zero, line[:, 0], count, int(seeds[0]), line)
        out[:, :, 0] = member.sample(Z, one, line[:, 1], count, int(seeds[1]), line)[:, :, 0]
        return out
    shares, resid = anchors
    py_seq, core_seq = seq.spawn(2)
    rng = np.random.default_rng(py_seq)
    core_seeds = core_seq.generate_state(count, np.uint64)
    mu = member.predict(Z, line)
    out = np.empty((count, n, K))
    for s in range(count):
        t = rng.choice(K, size=n, p=shares).astype(np.int32)
        anchor = mu[np.arange(n), t]
        for a in range(K):
            rows = np.flatnonzero(t == a)
            if rows.size:
                anchor[rows] += rng.choice(resid[a], size=rows.size)
        out[s] = member.sample(Z, t, anchor, 1, int(core_seeds[s]), line)[0]
    return out


def anchor_pools(y, mu_oof, smear, codes, K, log):
    """(arm shares, each arm's cross-fitted training residuals on the
    networks' scale): what a generator that completes from an anchor
    draws its anchors from.  mu_oof holds outcome-scale means (smeared
    back from the log scale when log)."""
    rows = np.arange(len(codes))
    if log:
        resid = np.log(y) - np.log(mu_oof[rows, codes] / smear[codes])
    else:
        resid = y - mu_oof[rows, codes]
    shares = np.bincount(codes, minlength=K) / codes.size
    return shares, [resid[codes == a] for a in range(K)]


def ensemble_draws(members, Z, count, seed, anchors, log):
    """(count, n, K) draws in the outcome's units: each member's `count`
    draws sorted, and the sorted draws averaged over the members (their
    quantile functions averaged), so that the ensemble's spread is a
    member's spread, as the calibration judged it, and not widened by the
    members' disagreement on the mean."""
    M = len(members)
    n, K = Z.shape[0], members[0].coef.shape[1]
    out = np.zeros((count, n, K))
    seeds = np.random.SeedSequence(seed).generate_state(M, np.uint64)
    for m, member in enumerate(members):
        d = member_draws(member, Z, count, int(seeds[m]), anchors)
        out += np.sort(np.exp(d) if log else d, axis=0)
    return out / M


def crps_from_draws(draws, y):
    """The fair CRPS estimate of each column's draws (S, n) at y (n,):
    mean |X - y| - mean over pairs |X - X'| / 2, computed from sorted draws."""
    S = draws.shape[0]
    xs = np.sort(draws, axis=0)
    first = np.mean(np.abs(xs - y), axis=0)
    # sum over pairs i < j of (x_j - x_i) = sum_i (2i - S + 1) x_(i)
    weights = (2 * np.arange(S) - S + 1)[:, None]
    pairs = np.sum(weights * xs, axis=0) / (S * (S - 1))
    return first - pairs


def centre(draws, mean, log):
    """Draws (S, ...) moved so that their mean over S is `mean`: shifted,
    or on a log-fitted model (positive draws) rescaled."""
    if log:
        return draws * (mean / np.mean(draws, axis=0))
    return draws + (mean - np.mean(draws, axis=0))


def location_scale(draws):
    """Per column of draws (S, n): the median and the mean absolute
    deviation from it (floored, so that a score is never 0 / 0)."""
    med = np.median(draws, axis=0)
    mad = np.mean(np.abs(draws - med), axis=0)
    return med, np.maximum(mad, 1e-9 * (1 + np.abs(med)))


def calibration_state(members, Z, codes, y, fold, seed, anchors, log, mu_oof):
    """What fit stores for the distributional methods: each training row's
    factual outcome judged by the draws of the member that did not train on
    it, both as drawn and centred on that member's mean (mu_oof): their
    CRPS, and the normalised score |y - median| / deviation of the draws
    of the centring whose mean CRPS is lower, which draw_center_ names
    ({} for a single member, which saw every row)."""
    M = len(members)
    if M < 2:
        return {}
    n = len(codes)
    crps = {"generator": np.empty(n), "mean": np.empty(n)}
    score = {"generator": np.empty(n), "mean": np.empty(n)}
    seeds = np.random.SeedSequence([int(seed), CALIBRATION_STREAM]).generate_state(M, np.uint64)
    for m, member in enumerate(members):
        rows = np.flatnonzero(fold == m)
        if not rows.size:
            continue
        d = member_draws(member, Z[rows], CALIBRATION_DRAWS, int(seeds[m]), anchors)
        d = d[:, np.arange(rows.size), codes[rows]]
        if log:
            d = np.exp(d)
        yr = y[rows]
        for name, draws in (("generator", d), ("mean", centre(d, mu_oof[rows, codes[rows]], log))):
            crps[name][rows] = crps_from_draws(draws, yr)
            med, dev = location_scale(draws)
            score[name][rows] = np.abs(yr - med) / dev
    best = min(("generator", "mean"), key=lambda name: float(np.mean(crps[name])))
    # one propensity function weighs the calibration rows and, at predict
    # time, each new row
    coef = logistic_coef(Z, codes, members[0].coef.shape[1], int(seed))
    return {"draw_center_": best, "_score_fit": score[best], "_crps_fit": crps[best], "_weight_coef": coef,
            "_weight_fit": logistic_propensity(coef, Z)}


# ----------------------------------------------------------- arguments

def check_levels(q, name="q"):
    """Quantile levels as a 1-d float array in (0, 1), and whether q was a scalar."""
    if isinstance(q, (str, bytes)) or q is None:
        raise TypeError(f"{name} must be a number or a sequence of numbers in (0, 1), got {q!r}")
    try:
        arr = np.asarray(q, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or a sequence of numbers in (0, 1), got {q!r}") from None
    if np.asarray(q).dtype.kind == "b":
        raise TypeError(f"{name} must hold numbers in (0, 1), not booleans")
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a number or a 1-d sequence, got shape {arr.shape}")
    flat = arr.ravel()
    if flat.size == 0:
        raise ValueError(f"{name} must hold at least one level")
    if not np.all((flat > 0) & (flat < 1)):
        raise ValueError(f"{name} must lie in (0, 1), got {flat[~((flat > 0) & (flat < 1))][0]!r}")
    return flat, arr.ndim == 0


def check_draws(n_draws):
    return check_int(n_draws, "n_draws", 2, LIMITS["n_samples"])


def check_alpha(alpha):
    value = check_float(alpha, "alpha", 0.0, 1.0, low_open=True)
    if value >= 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    return value


def check_memory(n, count, K, what):
    _memory.check(8 * count * n * K * 3, f"{what} with n_draws={count} on {n} rows",
                  "lower n_draws or pass fewer rows")


# ----------------------------------------------------------- summaries

def weighted_quantile(scores, weights, level, extra_weight):
    """The Lei-Candes weighted quantile: the smallest score s with
    sum(w_i [s_i <= s]) / (sum(w) + extra) >= level; inf when the extra
    mass (the test point's, at +inf) is needed to reach it."""
    order = np.argsort(scores, kind="stable")
    s, w = scores[order], weights[order]
    cum = np.cumsum(w) / (w.sum() + extra_weight)
    hit = np.flatnonzero(cum >= level)
    return float(s[hit[0]]) if hit.size else np.inf


def conformal_multipliers(score, codes, propensity, new_propensity, alpha):
    """(n_new, K): for each new row and arm k, the weighted 1 - alpha
    quantile of the normalised scores of the rows that received k, weights
    (1 - e_k) / e_k, with the new row's own weight (from new_propensity) at
    +inf; infinite where that mass is needed to reach the level.  Per row
    it equals weighted_quantile(scores, weights, 1 - alpha, own weight)."""
    K = propensity.shape[1]
    out = np.empty(new_propensity.shape)
    for k in range(K):
        rows = codes == k
        e = propensity[rows, k]
        order = np.argsort(score[rows], kind="stable")
        s, w = score[rows][order], ((1 - e) / e)[order]
        cum = np.cumsum(w)
        own = (1 - new_propensity[:, k]) / new_propensity[:, k]
        if not s.size:
            out[:, k] = np.inf
            continue
        hit = np.searchsorted(cum, (1 - alpha) * (cum[-1] + own), side="left")
        out[:, k] = np.where(hit < s.size, s[np.minimum(hit, s.size - 1)], np.inf)
    return out


def benefit(d0, d1, threshold, coupling):
    """P(Y(T1) - Y(T0) > threshold) per row from draws (S, n) of each arm:
    'rank' pairs the arms' draws by rank (a unit keeps its rank across the
    arms), 'independent' pairs every draw of one arm with every draw of the
    other."""
    if coupling == "rank":
        return np.mean(np.sort(d1, axis=0) - np.sort(d0, axis=0) > threshold, axis=0)
    S, n = d0.shape
    a = np.sort(d0, axis=0)
    out = np.empty(n)
    for i in range(n):
        # share of pairs with d1 - d0 > threshold: for each draw of arm 1,
        # the draws of arm 0 below it minus the threshold
        out[i] = np.searchsorted(a[:, i], d1[:, i] - threshold, side="left").sum() / (S * S)
    return out


class DistributionMixin:
    """GANITE's distributional methods (see the module docstring)."""

    def _distribution_draws(self, X, n_draws, random_state, what):
        """(standardised rows, (S, n, K) draws in the outcome's units)."""
        Z = self._checked_X(X)
        if self.outcome_type_ == "binary":
            raise ValueError(f"{what} describes a continuous outcome's distribution; a binary outcome's "
                             f"distribution is its probability, which predict gives")
        count = check_draws(n_draws)
        seed = check_random_state(random_state)
        K = len(self.classes_)
        check_memory(Z.shape[0], count, K, f"GANITE.{what}")
        log = self._log_scale()
        members = self._members()
        anchors = None
        if not is_crps(members[0]):
            anchors = anchor_pools(self._y_fit, self._mu_oof, getattr(self, "_smear", np.ones(K)),
                                   self._codes_fit, K, log)
        draws = ensemble_draws(members, Z, count, seed, anchors, log)
        if getattr(self, "draw_center_", "generator") == "mean":
            draws = centre(draws, self._predict_array(Z), log)
        return Z, draws

    def _rows_or_fit(self, X, what):
        """X, or the training rows while the model holds them."""
        if X is not None:
            return X
        self._check_is_fitted()
        data = getattr(self, "_fit_data", None)
        if data is None:
            raise ValueError(f"{what} needs X: a saved or copied model keeps no training rows; pass the rows "
                             f"to describe")
        return data[0] * self._x_scale.astype(np.float32) + self._x_mean.astype(np.float32)

    @reads
    def predict_quantiles(self, X: ArrayLike | pandas.DataFrame, q: float | ArrayLike, *, n_draws: int = 200,
                          random_state: int | np.random.Generator | None = 0) -> np.ndarray:
        """Quantiles of each arm's outcome distribution at each row.

        Each ensemble member's generator draws each potential outcome
        given the row's covariates (``n_draws`` times), and the members'
        quantile functions are averaged.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n, d)
            Rows, with the columns seen in :meth:`fit`.
        q : float or sequence of float in (0, 1)
            Quantile levels.
        n_draws : int, default=200
            Draws per row, arm and ensemble member.
        random_state : int, numpy Generator or None, default=0
            Seeds the draws; the same value gives the same quantiles.

        Returns
        -------
        ndarray of shape (n, K, len(q)), or (n, K) for a scalar q
            ``out[i, k, j]`` is the q[j] quantile of row i's outcome under
            arm ``classes_[k]``.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If q is not numeric, or X is not.
        ValueError
            If a level lies outside (0, 1), X does not match the fit,
            n_draws is below 2, or the outcome is binary.
        """
        levels, scalar = check_levels(q)
        _, draws = self._distribution_draws(X, n_draws, random_state, "predict_quantiles")
        out = np.moveaxis(np.quantile(draws, levels, axis=0), 0, -1)
        return out[:, :, 0] if scalar else out

    @reads
    def effect_quantiles(self, q: float | ArrayLike, X: ArrayLike | pandas.DataFrame | None = None, T0: Any = None,
                         T1: Any = None, *, n_draws: int = 200,
                         random_state: int | np.random.Generator | None = 0) -> np.ndarray | float:
        """Quantile treatment effects over a population of rows.

        The q quantile of the outcome under T1 minus the q quantile of the
        outcome under T0, each quantile taken over the draws of all rows of
        X (the population, or a subgroup when X holds its rows only).

        Parameters
        ----------
        q : float or sequence of float in (0, 1)
            Quantile levels.
        X : array-like or DataFrame of shape (n, d), optional
            The rows that make up the population; None gives the training
            rows (held in memory after fit, not by a loaded model).
        T0, T1 : treatment labels, optional
            As in :meth:`effect`.
        n_draws : int, default=200
            Draws per row, arm and ensemble member.
        random_state : int, numpy Generator or None, default=0
            Seeds the draws.

        Returns
        -------
        ndarray of shape (len(q),), or float for a scalar q

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If q or X is not numeric.
        ValueError
            As :meth:`predict_quantiles`; also if T0 or T1 is not a fitted
            arm, or X is None for a loaded model.
        """
        levels, scalar = check_levels(q)
        self._check_is_fitted()
        t0, t1 = self._arms(T0, T1)
        X = self._rows_or_fit(X, "effect_quantiles")
        _, draws = self._distribution_draws(X, n_draws, random_state, "effect_quantiles")
        out = np.quantile(draws[:, :, t1], levels) - np.quantile(draws[:, :, t0], levels)
        return float(out[0]) if scalar else out

    @reads
    def prob_benefit(self, X: ArrayLike | pandas.DataFrame, threshold: float = 0.0, T0: Any = None, T1: Any = None, *,
                     coupling: str = "rank", n_draws: int = 200,
                     random_state: int | np.random.Generator | None = 0) -> np.ndarray:
        """Probability that T1 raises a row's outcome by more than threshold.

        P(Y(T1) - Y(T0) > threshold | x).  Data identify each arm's
        distribution but not how a unit's outcomes under the two arms go
        together, so this needs an assumption: 'rank' (rank invariance: a
        unit at the u quantile under one arm is at the u quantile under
        the other) or 'independent' (the two outcomes independent given x).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n, d)
            Rows.
        threshold : float, default=0.0
            The gain that counts as benefit, in the outcome's units.
        T0, T1 : treatment labels, optional
            As in :meth:`effect`.
        coupling : {'rank', 'independent'}, default='rank'
            How the arms' draws are paired.
        n_draws : int, default=200
            Draws per row, arm and ensemble member.
        random_state : int, numpy Generator or None, default=0
            Seeds the draws.

        Returns
        -------
        ndarray of shape (n,)
            Probabilities in [0, 1].

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If threshold is not a real number, or X is not numeric.
        ValueError
            If threshold is not finite, coupling is unknown, T0 or T1 is
            not a fitted arm, or as :meth:`predict_quantiles`.
        """
        self._check_is_fitted()
        thr = check_float(threshold, "threshold", -np.inf)
        check_choice(coupling, "coupling", ("rank", "independent"))
        t0, t1 = self._arms(T0, T1)
        _, draws = self._distribution_draws(X, n_draws, random_state, "prob_benefit")
        return benefit(draws[:, :, t0], draws[:, :, t1], thr, coupling)

    @reads
    def predict_interval(self, X: ArrayLike | pandas.DataFrame, alpha: float = 0.1, *, calibrate: bool = True,
                         n_draws: int = 200,
                         random_state: int | np.random.Generator | None = 0) -> tuple[np.ndarray, np.ndarray]:
        """Intervals for each potential outcome of each row.

        With ``calibrate=True`` (the default) the intervals are weighted
        split-conformal (Lei & Candes 2021): the draws' median -+ q_k times
        their mean absolute deviation from it, with q_k set so that the
        training rows that received arm k, weighted by their odds of not
        receiving it, and the row itself, weighted by its own odds, fall
        inside at rate 1 - alpha, each training row judged by the draws of
        the member that did not train on them.  The weights make the
        calibration rows stand for the units whose outcome under k is
        counterfactual; a row unlike those that received k gets a wider
        interval for k.  The odds come from a logistic propensity model
        fitted to the training rows.  With ``calibrate=False``, the draws' quantiles
        at alpha / 2 and 1 - alpha / 2.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n, d)
            Rows.
        alpha : float in (0, 1), default=0.1
            Miscoverage: the intervals aim at 1 - alpha.
        calibrate : bool, default=True
            Conformal calibration (needs n_estimators >= 2).
        n_draws : int, default=200
            Draws per row, arm and ensemble member.
        random_state : int, numpy Generator or None, default=0
            Seeds the draws.

        Returns
        -------
        lower, upper : ndarray of shape (n, K)
            Bounds for the outcome under each arm ``classes_[k]``; infinite
            when too few calibration rows support the level.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If alpha or calibrate has the wrong type.
        ValueError
            If alpha is outside (0, 1), calibrate is True for a model with
            one member, or as :meth:`predict_quantiles`.
        """
        self._check_is_fitted()
        level = check_alpha(alpha)
        if not isinstance(calibrate, (bool, np.bool_)):
            raise TypeError(f"calibrate must be True or False, got {type(calibrate).__name__}")
        if calibrate and getattr(self, "_score_fit", None) is None:
            raise ValueError("calibrate=True needs cross-fitted draws of the training rows, which a model with "
                             "n_estimators=1 (or a binary outcome) does not hold; fit with n_estimators >= 2 or "
                             "pass calibrate=False")
        if calibrate and getattr(self, "_weight_coef", None) is None:
            raise ValueError("calibrate=True needs the propensity model that weighs each new row, which models "
                             "saved by earlier versions do not hold; refit, or pass calibrate=False")
        Z, draws = self._distribution_draws(X, n_draws, random_state, "predict_interval")
        if not calibrate:
            return np.quantile(draws, level / 2, axis=0), np.quantile(draws, 1 - level / 2, axis=0)
        mult = conformal_multipliers(self._score_fit, self._codes_fit, self._weight_fit,
                                     logistic_propensity(self._weight_coef, Z), level)
        med, dev = location_scale(draws.reshape(draws.shape[0], -1))
        med, dev = med.reshape(draws.shape[1:]), dev.reshape(draws.shape[1:])
        with np.errstate(invalid="ignore"):  # an infinite multiplier gives the whole line
            return med - mult * dev, med + mult * dev

    @property
    def oof_crps_(self) -> float:
        """Cross-fitted CRPS of the training rows' factual outcomes; lower is better.

        Each training row's outcome is scored by the continuous ranked
        probability score of the draws, for its arm, of the ensemble member
        that did not train on it (centred as ``draw_center_`` says).  It judges the drawn distributions on
        data alone, so it can compare draw settings (``crps_weight``,
        ``noise_dim``, ``alpha``) on the training rows.

        Raises
        ------
        AttributeError
            If the model is not fitted, or holds no cross-fitted draws
            (``n_estimators=1``, or a binary outcome).
        """
        if not hasattr(self, "classes_"):
            raise AttributeError(f"this {type(self).__name__} is not fitted yet; call fit first")
        if getattr(self, "_crps_fit", None) is None:
            raise AttributeError("oof_crps_ needs cross-fitted draws: fit a continuous outcome with "
                                 "n_estimators >= 2")
        return float(np.mean(self._crps_fit))
