"""SCIGAN's band for the average dose-response curve: a percentile bootstrap
over refits, as a mixin of the estimator.  The resampling plans live in
cgan._inference; this holds how SCIGAN's fitted state feeds them."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .._base import reads
from .._inference import DEFAULT_BOOTSTRAP, MAX_BOOTSTRAP, resample_plans, smallest_training_rows
from .._progress import Progress
from .._threads import Stop, effective_jobs, map_threads
from .._validation import check_alpha, check_int, check_random_state
from .members import check_memory, to_unit, train_member

if TYPE_CHECKING:
    import pandas
    from numpy.typing import ArrayLike

# the stream of the band's resamples, apart from every other bootstrap's
BAND_TAG = 0xD05E


class DoseInference:
    """The bootstrap band of a fitted SCIGAN's average curve."""

    @reads
    def average_dose_response_interval(self, doses: ArrayLike, X: ArrayLike | pandas.DataFrame | None = None,
                                       treatment: Any = None, *, alpha: float = 0.05,
                                       n_bootstrap: int = DEFAULT_BOOTSTRAP, n_jobs: int | None = None,
                                       random_state: int | np.random.Generator | None = None) -> tuple[Any, Any]:
        """A pointwise (1 - alpha) band (lo, hi) for the average dose-response curve.

        A percentile bootstrap over refits: ``n_bootstrap`` single-member
        SCIGAN models (the model's other parameters) are fitted to
        resamples of the training rows, drawn with replacement within each
        treatment so that every treatment keeps its size; each gives the
        average curve (over its resample's units when X is None, over X
        otherwise), and the band at each dose is the alpha/2 and
        1 - alpha/2 quantiles of the replicates.  It carries the
        variability of the sample and of training the networks, and errs
        on the wide side: the replicates are single models while
        :meth:`average_dose_response` averages ``n_estimators``.  The
        coverage of the true curve is measured in benchmarks/ (see
        docs/design.md).

        Parameters
        ----------
        doses : array-like of shape (m,)
            Doses (non-negative numbers).
        X : array-like or DataFrame of shape (n, d), optional
            The units to average over; None gives the training rows.
        treatment : treatment label, optional
            As in :meth:`dose_response`.
        alpha : float in (0, 1), default=0.05
            One minus the band's pointwise level.
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
        lo, hi : tuple of two ndarrays of shape (m,), or of two Series
            The band's bounds at each dose; Series indexed by dose when
            doses or X is a pandas object.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If alpha, n_bootstrap or n_jobs has the wrong type, or X or the
            doses are not numeric.
        ValueError
            If alpha is outside (0, 1), n_bootstrap is below 2, n_jobs is 0,
            a dose is negative, the treatment is not a fitted one, X does
            not match the fit, or ``batch_size`` exceeds the rows a
            bootstrap model trains on.

        Warns
        -----
        UserWarning
            When a dose lies outside the treatment's fitted range.

        See Also
        --------
        average_dose_response : the curve itself.
        plot_dose_response : the curve and this band, drawn.
        """
        self._check_is_fitted()
        k = self._code(treatment)
        grid = self._grid(doses)
        self._warn_outside(grid, k, stacklevel=3)
        Z = self._checked_X(X)
        lo, hi = self._interval(grid, Z, X is None, k, alpha, n_bootstrap, n_jobs, random_state)
        return self._series(lo, grid, doses, X, "lo"), self._series(hi, grid, doses, X, "hi")

    def _interval(self, grid, Z, training_rows, k, alpha, n_bootstrap, n_jobs, random_state):
        """The band's (lo, hi) at grid for treatment code k over rows Z (the
        training rows when `training_rows`: each replicate averages over
        its own resample)."""
        level = check_alpha(alpha)
        replicates = check_int(n_bootstrap, "n_bootstrap", 2, MAX_BOOTSTRAP)
        jobs = effective_jobs(n_jobs, replicates)
        p = self._check_params()
        codes, K = self._codes_fit, self._n_treatments()
        names = self.classes_ if self.classes_ is not None else np.array(["the treatment"], dtype=object)
        seed = check_random_state(self.random_state if random_state is None else random_state)
        # resamples are cheap: drawn first, so that a batch_size too large
        # for them is reported before any network is trained
        plans = resample_plans(codes, names, replicates, 1, (), seed, BAND_TAG)
        smallest = smallest_training_rows(plans, 1)
        if p["batch_size"] > smallest:
            raise ValueError(f"batch_size={p['batch_size']} is larger than the {smallest} rows a bootstrap model "
                             f"trains on; lower it with set_params(batch_size=...)")
        check_memory(p, Z.shape[1], K, jobs, "the bootstrap")
        fit_Z = self._Z_fit
        unit = np.ascontiguousarray(self._unit_doses(), dtype=np.float32)
        y32 = np.ascontiguousarray(self._y_fit, dtype=np.float32)
        stop = Stop()
        bar = Progress(replicates * (p["n_iter"] + p["n_iter_ite"]), "SCIGAN bootstrap", bool(self.verbose))
        shared = (self, p, fit_Z, codes, unit, y32, K, plans, None if training_rows else Z, k, grid, stop, bar)
        try:
            draws = map_threads(_band_replicate, replicates, jobs, stop, shared=shared)
        finally:
            bar.close()
        lo, hi = np.quantile(np.stack(draws), [level / 2, 1 - level / 2], axis=0)
        return lo, hi

    def _unit_doses(self):
        """The training doses on each treatment's [0, 1] scale."""
        return to_unit(self._dose_fit, self.dose_range_[self._codes_fit, 0], self.dose_range_[self._codes_fit, 1])


def _band_replicate(shared, b):
    """Replicate b of the band: one member fitted to resample b, its average
    curve over its resample's units (Z None) or over Z; shared is (model, p,
    fit_Z, codes, unit doses, y32, K, plans, Z, k, grid, stop, bar)."""
    model, p, fit_Z, codes, unit, y32, K, plans, Z, k, grid, stop, bar = shared
    sample, _, core_seed, _ = plans[b]
    out = train_member(p, fit_Z, codes, unit, y32, K, core_seed, sample, stop, bar, model.network_weight_)
    if out is None:
        return None
    return model._row_mean(fit_Z[sample] if Z is None else Z, k, grid, [out[0]])
