"""GANITE's inference for effects: effect_interval (bootstrap), ate (plug-in
or AIPW), ate_inference and ate_interval (AIPW or bootstrap), as a mixin of
the estimator.  The statistics live in cgan._inference and
cgan._propensity; this holds how GANITE's fitted state feeds them."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _propensity
from .._base import reads
from .._inference import (
    BOOTSTRAP_FOLDS,
    DEFAULT_BOOTSTRAP,
    MAX_BOOTSTRAP,
    METHODS_INTERVAL,
    METHODS_POINT,
    TARGETS,
    ATEResult,
    aipw,
    normal_interval,
    resample_plans,
    smallest_training_rows,
    target_rows,
)
from .._progress import Progress
from .._propensity import PROPENSITY_CLIP
from .._scales import from_log
from .._threads import Stop, effective_jobs, map_threads
from .._validation import (
    check_alpha,
    check_choice,
    check_int,
    check_outcome,
    check_random_state,
    encode_treatment,
    label_repr,
)
from .members import check_memory, train_replicate

if TYPE_CHECKING:
    import pandas
    from numpy.typing import ArrayLike


class EffectInference:
    """Effect intervals and average effects of a fitted GANITE."""

    @reads
    def effect_interval(self, X: ArrayLike | pandas.DataFrame | None = None, *, T0: Any = None, T1: Any = None, alpha: float = 0.05,
                        n_bootstrap: int = DEFAULT_BOOTSTRAP, n_jobs: int | None = None,
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
        replicates = check_int(n_bootstrap, "n_bootstrap", 2, MAX_BOOTSTRAP)
        jobs = effective_jobs(n_jobs, replicates)
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

    @reads
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

    @reads
    def ate_interval(self, X: ArrayLike | pandas.DataFrame | None = None, T0: Any = None, T1: Any = None, *, T: ArrayLike | None = None,
                     Y: ArrayLike | None = None, alpha: float = 0.05, method: str = "aipw", target: str = "ate",
                     n_bootstrap: int = DEFAULT_BOOTSTRAP, n_jobs: int | None = None,
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

    @reads
    def ate_inference(self, X: ArrayLike | pandas.DataFrame | None = None, T0: Any = None, T1: Any = None, *, T: ArrayLike | None = None,
                      Y: ArrayLike | None = None, alpha: float = 0.05, method: str = "aipw", target: str = "ate",
                      n_bootstrap: int = DEFAULT_BOOTSTRAP, n_jobs: int | None = None,
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
            'aipw': the doubly robust (AIPW) estimate with a normal interval
            from its influence function.  'bootstrap': the same estimate
            with a percentile interval from ``n_bootstrap`` repetitions of
            the whole cross-fitted procedure on resamples (see Notes).
        target : {'ate', 'att', 'atc'}, default='ate'
            All rows, the rows that received T1, or those that received T0.
        n_bootstrap : int, default=100
            Bootstrap replicates (at least 2), each two fits of a single
            model; 100 pin the 2.5% and 97.5% percentiles only roughly.
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

        Notes
        -----
        AIPW uses the ensemble's potential outcomes mu and propensities e
        (``propensity_model_``; logistic on new rows) clipped below at 0.01
        and renormalised.  For the ATE, psi_i = mu_T1 - mu_T0 +
        1[t_i = T1](y_i - mu_T1)/e_T1 - 1[t_i = T0](y_i - mu_T0)/e_T0 and the
        estimate is mean(psi); the ATT follows Hahn (1998) and the ATC
        mirrors it.  On the training rows mu and e are cross-fitted
        (n_estimators >= 2; with one member they are in-sample and the
        interval is too narrow).

        The bootstrap resamples the rows within each arm, splits each
        resample's units into two folds, fits a single-member GANITE and the
        propensity model on each fold's complement and computes the AIPW
        estimate from the held-out predictions; the standard error is the
        replicates' standard deviation.  It includes the variability of
        refitting the networks, which the influence function does not.  With
        X=None it refits on the training data that :meth:`fit` keeps in
        memory (not saved or pickled: after loading, pass X, T and Y).

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
        replicates = check_int(n_bootstrap, "n_bootstrap", 2, MAX_BOOTSTRAP)
        jobs = effective_jobs(n_jobs, replicates)
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
            propensity = _propensity.propensity(Z, codes, len(self.classes_), None, seed)
        for arm, role in ((t0, "T0"), (t1, "T1")):
            if not np.any(codes == arm):
                raise ValueError(
                    f"method={method!r} compares the rows that received T0 with those that received T1, but none "
                    f"of the {len(codes)} rows received {role}={label_repr(self.classes_[arm])}"
                )
        estimate, stderr = aipw(mu, propensity, codes, y, t0, t1, target)
        lo, hi = normal_interval(estimate, stderr, level)
        return ATEResult(estimate, stderr, lo, hi, level, "aipw", target, len(y), PROPENSITY_CLIP), rows

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
        features, model = _propensity.model_features(Z, model)

        def replicate_aipw(members, sample, fold, seed):
            # each resampled row predicted by the member that did not see its unit
            mu = np.empty((len(sample), K))
            for f, member in enumerate(members):
                held = np.flatnonzero(fold == f)
                mu[held] = member.predict(Z[sample[held]])
            if self._log_scale():
                mu, _ = from_log(mu, y32[sample], codes[sample], K)
            groups = [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(len(members))]
            e = _propensity.clip_propensity(_propensity.fit_propensity(features[sample], codes[sample], K, groups, seed,
                                                                      model))
            return aipw(mu, e, codes[sample], y[sample], t0, t1, target)[0]

        estimates = np.array(self._refit_replicates(Z, codes, y32, replicates, jobs, random_state, 0xB0075,
                                                    "GANITE bootstrap", replicate_aipw, folds=BOOTSTRAP_FOLDS,
                                                    arms_needed=(t0, t1)), dtype=np.float64)
        lo, hi = np.quantile(estimates, [level / 2, 1 - level / 2])
        return ATEResult(estimate, float(estimates.std(ddof=1)), float(lo), float(hi), level, "bootstrap", target,
                         len(codes), PROPENSITY_CLIP)

    def _refit_replicates(self, Z, codes, y32, replicates, jobs, random_state, tag, desc, summarize, folds=1,
                          arms_needed=()):
        """[summarize(...)] for `replicates` refits with the model's
        parameters, in `jobs` threads, on the resamples of
        _inference.resample_plans: with folds=1 each replicate fits one
        member to its resample and gives summarize(member, rows); with more,
        one member per fold's complement, and summarize(members, rows, fold
        of each row, seed).  Each replicate's resample and fits come from its
        own child seed, so the results do not depend on which thread runs it
        or in what order."""
        p = self._check_params()
        K = len(self.classes_)
        binary = self.outcome_type_ == "binary"
        seed = check_random_state(self.random_state if random_state is None else random_state)
        # resamples and folds are cheap: drawn first, so that a batch_size too
        # large for them is reported before any network is trained
        plans = resample_plans(codes, self.classes_, replicates, folds, arms_needed, seed, tag)
        smallest = smallest_training_rows(plans, folds)
        if p["batch_size"] > smallest:
            raise ValueError(f"batch_size={p['batch_size']} is larger than the {smallest} rows the smallest bootstrap "
                             f"model trains on; lower it with set_params(batch_size=...)")
        check_memory(p, Z.shape[1], K, binary, len(codes), jobs * folds, "the bootstrap")
        stop = Stop()
        bar = Progress(replicates * folds * (p["n_iter"] + p["n_iter_ite"]), desc, bool(self.verbose))

        shared = (p, Z, codes, y32, K, binary, plans, folds, summarize, stop, bar)
        try:
            return map_threads(train_replicate, replicates, jobs, stop, shared=shared)
        finally:
            bar.close()
