"""cgan.SCIGAN: dose-response curves with SCIGAN.

SCIGAN (Bica, Jordon & van der Schaar, NeurIPS 2020) trains a generator G
that completes, for each training unit, its outcomes at sampled doses of
every treatment, against a hierarchical discriminator that tries to tell
the factual (treatment, dose) pair; an inference network I(x, t, dose) then
learns G's completed curves and the factual outcomes.  The training loops
run in cgan's C core; this module validates input, trains the ensemble
(members.py) and exposes the EconML-style API; inference.py holds the
bootstrap band of the average curve and state.py what a fitted model
saves."""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _cgan, _memory, _persist, _plots
from .._base import BaseEstimator, reads, writes
from .._inference import stratified_folds
from .._persist import register_estimator
from .._progress import Progress
from .._scales import column_scale, standardize
from .._threads import Stop, effective_jobs, map_threads
from .._validation import (
    LIMITS,
    check_choice,
    check_dose,
    check_float,
    check_int,
    check_jobs,
    check_random_state,
    check_treatment,
    check_vector,
    check_verbose,
    check_X,
    encode_treatment,
    feature_names,
    is_flag,
    label_repr,
    treatment_code,
)
from . import state as _state
from .inference import DoseInference
from .members import Member, check_memory, curves, network_weight, to_unit, train_fold_member

if TYPE_CHECKING:
    import matplotlib.axes
    import pandas
    from numpy.typing import ArrayLike

_persist.register_core("scigan_core", _cgan.Scigan)

ACTIVATIONS = ("relu", "elu", "leaky_relu", "tanh")
# doses optimal_dose tries across a treatment's fitted range, then around the best of them
OPTIMUM_GRID = 129
OPTIMUM_REFINE = 33


def _unused_categories(T):
    """Categories of a pandas categorical T that no row holds."""
    cat = getattr(T, "cat", None)
    if cat is None or not hasattr(T, "value_counts"):
        return []
    counts = T.value_counts(sort=False)
    return [c for c in cat.categories if counts.get(c, 0) == 0]


def _is_pandas(obj) -> bool:
    return (type(obj).__module__ or "").startswith("pandas")


@register_estimator
class SCIGAN(DoseInference, BaseEstimator):
    """Dose-response curves with generative adversarial nets (SCIGAN).

    For treatments given at a dose (a drug's dosage, a subsidy's amount), a
    generator completes each training unit's outcomes at sampled doses of
    every treatment, against a hierarchical discriminator (a dosage
    discriminator per treatment over the set of (dose, outcome) pairs, and
    a treatment discriminator) that tries to tell the factual pair; an
    inference network then learns each unit's whole dose-response curve
    from G's completions and the factual outcomes (Bica, Jordon & van der
    Schaar, NeurIPS 2020).  One continuous treatment (``fit(Y, T, X=X)``
    with T the dose) or several treatments with doses
    (``fit(Y, T, X=X, dose=dose)``).  docs/design.md explains the networks,
    the ensemble and how the defaults were chosen.

    Parameters
    ----------
    hidden_size : int, default=64
        Width of every hidden layer of the four networks.
    n_hidden : int, default=1
        Hidden layers of each treatment's dose head, counting the layer
        where the dose enters (1: that layer, then the output; the paper
        has two).
    n_estimators : int, default=5
        SCIGAN models, each with its own seed, whose curves are averaged.
        With two or more, member m trains on all folds of the rows but
        fold m (folds balanced by treatment), which gives the cross-fitted
        predictions that :attr:`oof_score_` uses.
    batch_size : int, default=128
        Rows per minibatch; must not exceed the rows each member trains on.
    n_iter : int, default=250
        Iterations of the adversarial block, each ``d_steps`` steps of both
        discriminators then one generator step (on the last discriminator
        step's minibatch).
    n_iter_ite : int or None, default=None
        Iterations of the inference network; None uses ``n_iter``.
    d_steps : int, default=1
        Discriminator steps per generator step.
    alpha : float, default=1.0
        Weight of the adversarial term in the generator's loss (its
        factual term is sqrt(MSE)); 0 trains G without the discriminators.
    beta : float, default=10.0
        Weight of the factual term in the inference network's loss
        (sqrt(MSE) to G's completed curves + beta * sqrt(factual MSE); the
        paper weighs them equally).
    learning_rate : float, default=1e-3
        Adam step size for all four networks.  Predictions use an
        exponential moving average of the inference network's weights.
    weight_decay : float, default=0.0
        Decoupled (AdamW) weight decay; ``learning_rate * weight_decay``
        must be at most 1.
    noise_dim : int, default=0
        Dimensions of the generator's Gaussian noise; 0 gives a
        deterministic generator, a positive value varied :meth:`sample`
        draws.
    n_dosage_samples : int, default=5
        Doses per treatment in each training row's sets (the factual dose
        among them).
    activation : {'relu', 'elu', 'leaky_relu', 'tanh'}, default='relu'
        Activation of every hidden layer.
    baseline : {'linear', 'none'}, default='linear'
        'linear' fits, for each treatment, a ridge regression of the
        outcome on the standardised covariates whose coefficients vary with
        the dose (cubic B-splines of the dose, their number of knots and the
        penalty chosen by generalised cross-validation), and trains the
        networks on what it leaves, so that curves extrapolate along it.
        'none' gives the networks alone, as in the SCIGAN paper.
    random_state : int, numpy Generator or None, default=None
        Seeds the model's own random stream.  The same value gives
        bit-identical fits.
    n_jobs : int or None, default=None
        Threads that train ensemble members in parallel (None: 1; -1: all
        cores).  Results are bit-identical whatever the value.
    verbose : bool, default=False
        Show training progress (tqdm when installed).

    Attributes
    ----------
    classes_ : ndarray or None
        The treatment labels, sorted, when fitted with ``dose``; None for
        one continuous treatment.
    dose_range_ : ndarray of shape (n_treatments, 2)
        The smallest and largest training dose of each treatment: the
        range the curves are fitted on (the networks see each treatment's
        doses scaled to [0, 1] over it).
    n_features_in_ : int
        Columns of the covariates seen in :meth:`fit`.
    feature_names_in_ : ndarray of str
        Their names; present when the covariates were a DataFrame.
    network_weight_ : float
        The weight in [0, 1] of the networks' part of every curve: by least
        squares, how far the members' held-out predictions of the rows they
        did not train on follow what the baseline leaves (1 with one
        member, which held no rows out).
    history_ : dict of ndarray
        'generator_loss', 'dosage_discriminator_loss',
        'treatment_discriminator_loss' and 'inference_loss', each of shape
        (n_estimators, iterations).

    See Also
    --------
    cgan.GANITE : treatments without doses.

    Examples
    --------
    >>> import numpy as np
    >>> from cgan import SCIGAN
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3))
    >>> dose = rng.uniform(0, 1, 300)
    >>> Y = X[:, 0] + 2 * dose - dose ** 2 + rng.normal(0, 0.1, 300)
    >>> model = SCIGAN(n_iter=100, n_estimators=2, random_state=0).fit(Y, dose, X=X)
    >>> model.dose_response(X[:2], [0.2, 0.5, 0.8]).shape
    (2, 3)
    >>> model.average_dose_response([0.2, 0.5, 0.8]).shape
    (3,)
    >>> bool(0.6 < model.optimal_dose(X[:1])[0] <= 1.0)
    True
    """

    _fitted_marker = "dose_range_"
    _persistence = _state

    def __init__(
        self,
        *,
        hidden_size: int = 64,
        n_hidden: int = 1,
        n_estimators: int = 5,
        batch_size: int = 128,
        n_iter: int = 250,
        n_iter_ite: int | None = None,
        d_steps: int = 1,
        alpha: float = 1.0,
        beta: float = 10.0,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        noise_dim: int = 0,
        n_dosage_samples: int = 5,
        activation: str = "relu",
        baseline: str = "linear",
        random_state: int | np.random.Generator | None = None,
        n_jobs: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.hidden_size = hidden_size
        self.n_hidden = n_hidden
        self.n_estimators = n_estimators
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.n_iter_ite = n_iter_ite
        self.d_steps = d_steps
        self.alpha = alpha
        self.beta = beta
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.noise_dim = noise_dim
        self.n_dosage_samples = n_dosage_samples
        self.activation = activation
        self.baseline = baseline
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _check_params(self):
        p = {
            "hidden_size": check_int(self.hidden_size, "hidden_size", 1, LIMITS["hidden_size"]),
            "n_hidden": check_int(self.n_hidden, "n_hidden", 1, LIMITS["n_hidden"]),
            "n_estimators": check_int(self.n_estimators, "n_estimators", 1, 1000),
            "batch_size": check_int(self.batch_size, "batch_size", 1, LIMITS["batch_size"]),
            "n_iter": check_int(self.n_iter, "n_iter", 0, LIMITS["n_iter"]),
            "n_iter_ite": check_int(self.n_iter if self.n_iter_ite is None else self.n_iter_ite,
                                    "n_iter_ite", 0, LIMITS["n_iter"]),
            "d_steps": check_int(self.d_steps, "d_steps", 1, LIMITS["d_steps"]),
            "alpha": check_float(self.alpha, "alpha", 0.0, 1e6),
            "beta": check_float(self.beta, "beta", 0.0, 1e6),
            "learning_rate": check_float(self.learning_rate, "learning_rate", 0.0, 10.0, low_open=True),
            "weight_decay": check_float(self.weight_decay, "weight_decay", 0.0, 1e3),
            "noise_dim": check_int(self.noise_dim, "noise_dim", 0, LIMITS["noise_dim"]),
            "n_dosage_samples": check_int(self.n_dosage_samples, "n_dosage_samples", 2, LIMITS["n_dosage_samples"]),
            "activation": check_choice(self.activation, "activation", ACTIVATIONS),
            "baseline": check_choice(self.baseline, "baseline", ("linear", "none")),
        }
        if p["learning_rate"] * p["weight_decay"] > 1:
            # AdamW multiplies every weight by 1 - learning_rate * weight_decay per step
            raise ValueError(f"learning_rate * weight_decay must be at most 1, got {p['learning_rate']:g} * "
                             f"{p['weight_decay']:g}; lower one of them")
        check_jobs(self.n_jobs)
        check_verbose(self.verbose)
        return p

    @writes
    def fit(self, Y: ArrayLike, T: ArrayLike, *, X: ArrayLike | pandas.DataFrame,
            dose: ArrayLike | None = None) -> SCIGAN:
        """Fit the adversarial block and the inference network.

        Parameters
        ----------
        Y : array-like of shape (n,)
            Observed outcomes.
        T : array-like of shape (n,)
            With ``dose=None``, the treatment itself, a continuous dose
            (non-negative numbers).  With ``dose`` given, the treatment
            each unit received: any labels (numbers, strings, booleans;
            one or more treatments).
        X : array-like or DataFrame of shape (n, d)
            Covariates.
        dose : array-like of shape (n,), optional
            The dose of each unit's treatment (non-negative numbers).

        Returns
        -------
        self : SCIGAN
            The fitted estimator.

        Raises
        ------
        TypeError
            If X is missing or an argument has the wrong type (non-numeric
            covariates, doses or outcomes; labels that cannot be ordered).
        ValueError
            If the arrays disagree in length, hold NaN or inf, a dose is
            negative, a treatment (a category of a pandas categorical T)
            has no rows, ``batch_size`` exceeds the rows each ensemble
            member trains on, or a parameter set in ``__init__`` is out of
            range.
        """
        p = self._check_params()
        if X is None:
            raise TypeError("X is required; got None (fit needs the covariates)")
        Xa = check_X(X, "X")
        n, d = Xa.shape
        if dose is None:
            doses = check_dose(T, "T", n)
            classes, codes = None, np.zeros(n, dtype=np.int32)
        else:
            unused = _unused_categories(T)
            if unused:
                raise ValueError(f"treatment {label_repr(unused[0])} has no rows: every treatment needs training "
                                 f"rows (drop the unused categories of T, e.g. with T.cat.remove_unused_categories())")
            classes, codes = check_treatment(T, n, min_classes=1)
            doses = check_dose(dose, "dose", n)
        y = np.asarray(check_vector(Y, "Y", n), dtype=np.float64)
        K = 1 if classes is None else len(classes)
        M = p["n_estimators"]
        if p["batch_size"] > n:
            raise ValueError(f"batch_size={p['batch_size']} is larger than the {n} training rows; lower batch_size")
        seed = check_random_state(self.random_state)
        seeds = np.random.SeedSequence(seed).generate_state(M + 1, np.uint64)
        fold = stratified_folds(codes, M, int(seeds[M]))
        for m in range(M if M > 1 else 0):
            if np.count_nonzero(fold != m) < p["batch_size"]:
                raise ValueError(f"batch_size={p['batch_size']} is larger than the {np.count_nonzero(fold != m)} rows "
                                 f"each ensemble member trains on; lower batch_size or n_estimators")
        # the standardised float32 covariates (kept), and every member at once
        _memory.check(4 * n * d + 24 * n, f"SCIGAN.fit on X of {n} rows and {d} columns", "pass fewer rows or columns")
        check_memory(p, d, K, M, "SCIGAN.fit")
        dose_range = np.array([[doses[codes == k].min(), doses[codes == k].max()] for k in range(K)])
        x_mean, x_scale = column_scale(Xa)
        Z = standardize(Xa, x_mean, x_scale)
        dose32 = np.ascontiguousarray(to_unit(doses, dose_range[codes, 0], dose_range[codes, 1]), dtype=np.float32)
        y32 = np.ascontiguousarray(y, dtype=np.float32)
        bar = Progress(M * (p["n_iter"] + p["n_iter_ite"]), "SCIGAN", bool(self.verbose))
        stop = Stop()
        try:
            # members are independent and release the GIL; each owns its RNG,
            # so the results do not depend on n_jobs (nor on the backend)
            shared = (p, Z, codes, dose32, y32, K, seeds, fold if M > 1 else None, stop, bar)
            results = map_threads(train_fold_member, M, effective_jobs(self.n_jobs, M), stop, shared=shared)
        finally:
            bar.close()
        members = [r[0] for r in results]
        # each row's baseline and networks' part from the member that did not
        # train on it; with one member, in-sample and the networks weigh 1
        base, net = np.empty(n), np.empty(n)
        for m, member in enumerate(members):
            held = np.flatnonzero(fold == m) if M > 1 else np.arange(n)
            base[held], net[held] = member.factual_parts(Z[held], codes[held], dose32[held])
        weight = network_weight(y, base, net) if M > 1 else 1.0
        mu_oof = base + weight * net
        names = ("generator_loss", "dosage_discriminator_loss", "treatment_discriminator_loss", "inference_loss")
        state = {
            "_cores": [m.core for m in members], "_baseline": [m.coef for m in members],
            "_basis": np.stack([m.basis for m in members]), "network_weight_": weight, "_x_mean": x_mean, "_x_scale": x_scale, "classes_": classes, "dose_range_": dose_range,
            "n_features_in_": d,
            "history_": {name: np.stack([r[1 + i] for r in results]) for i, name in enumerate(names)},
            # the training rows: average_dose_response's default rows and
            # what the bootstrap resamples (saved with the model)
            "_Z_fit": Z, "_codes_fit": codes, "_dose_fit": doses, "_y_fit": y, "_mu_oof": mu_oof,
        }
        feature_names_in = feature_names(X)
        if feature_names_in is not None:
            state["feature_names_in_"] = feature_names_in
        self._publish(state, drop=() if feature_names_in is not None else ("feature_names_in_",))
        return self

    # --------------------------------------------------------- helpers
    def _n_treatments(self):
        return 1 if self.classes_ is None else len(self.classes_)

    def _code(self, treatment, name="treatment"):
        """The code of a treatment argument (None: the only treatment)."""
        if self.classes_ is None:
            if treatment is not None:
                raise ValueError(f"{name} must be None: this model was fitted on one continuous treatment "
                                 f"(fit with dose=None), got {treatment!r}")
            return 0
        if treatment is None:
            if len(self.classes_) == 1:
                return 0
            raise ValueError(f"{name} is required when there are {len(self.classes_)} treatments; choose one of "
                             f"{list(self.classes_)}")
        return treatment_code(treatment, self.classes_, name)

    def _label(self, k):
        return "the treatment" if self.classes_ is None else f"treatment {label_repr(self.classes_[k])}"

    def _checked_X(self, X):
        """X validated against the fit and standardised as in fit; None:
        the training rows."""
        self._check_is_fitted()
        if X is None:
            return self._Z_fit
        Xa = check_X(X, "X", self.n_features_in_)
        names = feature_names(X)
        fitted = getattr(self, "feature_names_in_", None)
        if names is not None and fitted is not None and list(names) != list(fitted):
            raise ValueError("X's columns differ from those seen in fit (names or order)")
        _memory.check(4 * Xa.size, f"SCIGAN on the {Xa.shape[0]} rows of X", "pass X in smaller batches of rows")
        return standardize(Xa, self._x_mean, self._x_scale)

    def _warn_outside(self, doses, k, stacklevel):
        """Warn when doses reach outside treatment k's fitted range."""
        lo, hi = self.dose_range_[k]
        slack = 1e-9 * max(abs(lo), abs(hi), 1.0)
        outside = (doses < lo - slack) | (doses > hi + slack)
        if np.any(outside):
            warnings.warn(
                f"{int(np.count_nonzero(outside))} of the doses ({doses[outside].min():g} to {doses[outside].max():g}) "
                f"lie outside the range fitted for {self._label(k)}, [{lo:g}, {hi:g}]: the curve there is "
                f"extrapolated, with no training rows to support it",
                UserWarning, stacklevel=stacklevel + 1)

    def _members(self):
        return [Member(core, coef, basis, self.network_weight_)
                for core, coef, basis in zip(self._cores, self._baseline, self._basis)]

    def _curves(self, Z, k, D, members=None):
        """The ensemble's (or `members`') outcomes of treatment code k at raw
        doses D (n, m) for standardised rows Z; float64 (n, m)."""
        n, m = D.shape
        _memory.check(4 * 8 * n * m, f"SCIGAN curves of {n} rows at {m} doses", "pass fewer rows or doses")
        lo, hi = self.dose_range_[k]
        return curves(self._members() if members is None else members, Z, k, to_unit(D, lo, hi))

    def _grid(self, doses, name="doses"):
        """A 1-d array of query doses, checked (one number is a grid of one)."""
        if isinstance(doses, (int, float, np.generic)) or (isinstance(doses, np.ndarray) and doses.ndim == 0):
            doses = np.reshape(doses, 1)
        return check_dose(doses, name)

    @staticmethod
    def _frame(values, X, doses):
        """values (n, m) as a DataFrame indexed like X (a DataFrame) with
        the doses as columns; else the array."""
        if not _is_pandas(X) or not hasattr(X, "index"):
            return values
        import pandas as pd

        columns = pd.Index(np.asarray(doses, dtype=float), name="dose")
        return pd.DataFrame(values, index=X.index, columns=columns)

    # --------------------------------------------------------- curves
    @reads
    def dose_response(self, X: ArrayLike | pandas.DataFrame, doses: ArrayLike,
                      treatment: Any = None) -> np.ndarray | pandas.DataFrame:
        """Each unit's expected outcome at each dose, shape (n, len(doses)).

        The ensemble's inference networks at the given doses of one
        treatment.  Doses outside the treatment's fitted range
        (:attr:`dose_range_`) are evaluated with a warning: the curve is
        extrapolated there.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n, d)
            Covariates, with the columns seen in :meth:`fit`.
        doses : array-like of shape (m,)
            Doses (non-negative numbers).
        treatment : treatment label, optional
            Which treatment's curve; required when fitted with several
            treatments, None for one continuous treatment.

        Returns
        -------
        ndarray of shape (n, m) or DataFrame
            Row i, column j: the expected outcome of unit i at ``doses[j]``;
            a DataFrame indexed like X, with the doses as columns, when X
            is one.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If X or doses are not numeric.
        ValueError
            If X does not match the fit, a dose is negative or not finite,
            or the treatment is not a fitted one (or missing when there are
            several).

        Warns
        -----
        UserWarning
            When a dose lies outside the treatment's fitted range.
        """
        self._check_is_fitted()
        if X is None:
            raise TypeError("X is required; got None (average_dose_response averages over the training rows)")
        k = self._code(treatment)
        grid = self._grid(doses)
        self._warn_outside(grid, k, stacklevel=3)
        Z = self._checked_X(X)
        values = self._curves(Z, k, np.broadcast_to(grid, (Z.shape[0], grid.size)))
        return self._frame(values, X, grid)

    @reads
    def average_dose_response(self, doses: ArrayLike, X: ArrayLike | pandas.DataFrame | None = None,
                              treatment: Any = None) -> np.ndarray | pandas.Series:
        """The average dose-response curve, shape (len(doses),).

        The mean over units of their curves (:meth:`dose_response`).

        Parameters
        ----------
        doses : array-like of shape (m,)
            Doses (non-negative numbers).
        X : array-like or DataFrame of shape (n, d), optional
            The units to average over; None gives the training rows.
        treatment : treatment label, optional
            As in :meth:`dose_response`.

        Returns
        -------
        ndarray of shape (m,) or Series
            The mean expected outcome at each dose; a Series indexed by
            dose when doses or X is a pandas object.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If X or doses are not numeric.
        ValueError
            As :meth:`dose_response`.

        Warns
        -----
        UserWarning
            When a dose lies outside the treatment's fitted range.

        See Also
        --------
        average_dose_response_interval : a bootstrap band for it.
        """
        self._check_is_fitted()
        k = self._code(treatment)
        grid = self._grid(doses)
        self._warn_outside(grid, k, stacklevel=3)
        Z = self._checked_X(X)
        curve = self._row_mean(Z, k, grid)
        return self._series(curve, grid, doses, X)

    def _row_mean(self, Z, k, grid, members=None):
        """The mean over rows Z of the curves at grid, in blocks of rows so
        that memory stays bounded."""
        total = np.zeros(grid.size)
        block = max(1, (1 << 20) // max(grid.size, 1))
        for r0 in range(0, Z.shape[0], block):
            rows = Z[r0:r0 + block]
            total += self._curves(rows, k, np.broadcast_to(grid, (rows.shape[0], grid.size)), members).sum(axis=0)
        return total / Z.shape[0]

    @staticmethod
    def _series(values, grid, doses, X, name=None):
        """values (m,) as a Series indexed by dose when doses or X is a
        pandas object; else the array."""
        if not (_is_pandas(doses) or _is_pandas(X)):
            return values
        import pandas as pd

        return pd.Series(values, index=pd.Index(grid, name="dose"), name=name)

    @reads
    def effect(self, X: ArrayLike | pandas.DataFrame | None = None, T0: Any = 0.0, T1: Any = 1.0, *,
               treatment: Any = None) -> np.ndarray | pandas.Series:
        """Individual effects of moving the dose from T0 to T1, shape (n,).

        EconML's ``effect(X, T0=..., T1=...)`` for a continuous treatment:
        mu(x, T1) - mu(x, T0) for each unit, on one treatment's curve.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n, d), optional
            Units to evaluate; None gives the training rows.
        T0 : float or array-like of shape (n,), default=0.0
            The baseline dose (one for all units, or one per unit).
        T1 : float or array-like of shape (n,), default=1.0
            The dose compared with it.
        treatment : treatment label, optional
            As in :meth:`dose_response`.

        Returns
        -------
        ndarray of shape (n,) or Series
            The effects; a Series indexed like X when X is a DataFrame.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If X, T0 or T1 are not numeric.
        ValueError
            If X does not match the fit, T0 or T1 is negative, not finite
            or of the wrong length, or the treatment is not a fitted one.

        Warns
        -----
        UserWarning
            When T0 or T1 lies outside the treatment's fitted range.
        """
        self._check_is_fitted()
        k = self._code(treatment)
        Z = self._checked_X(X)
        n = Z.shape[0]
        pair = []
        for value, name in ((T0, "T0"), (T1, "T1")):
            d = self._grid(value, name)
            if d.size not in (1, n):
                raise ValueError(f"{name} must be one dose or one per row of X ({n}), got {d.size}")
            self._warn_outside(d, k, stacklevel=3)
            pair.append(np.broadcast_to(d, (n,)))
        values = self._curves(Z, k, np.stack(pair, axis=1))
        out = values[:, 1] - values[:, 0]
        if _is_pandas(X):
            import pandas as pd

            return pd.Series(out, index=X.index, name="effect")
        return out

    @reads
    def ate(self, X: ArrayLike | pandas.DataFrame | None = None, T0: Any = 0.0, T1: Any = 1.0, *,
            treatment: Any = None) -> float:
        """Average effect of moving the dose from T0 to T1.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n, d), optional
            Units to average over; None gives the training rows.
        T0, T1 : float or array-like of shape (n,)
            As in :meth:`effect`.
        treatment : treatment label, optional
            As in :meth:`dose_response`.

        Returns
        -------
        float
            The mean of :meth:`effect`.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        ValueError
            As :meth:`effect`.
        """
        return float(np.mean(np.asarray(self.effect(X, T0, T1, treatment=treatment))))

    @reads
    def optimal_dose(self, X: ArrayLike | pandas.DataFrame | None = None, treatment: Any = None, *,
                     maximize: bool = True) -> Any:
        """Each unit's best dose: where its predicted curve peaks.

        The curve of each unit is searched over the treatment's fitted
        range (:attr:`dose_range_`) on 129 doses, then on 33 doses around
        the best of them.  Fitted with several treatments and called
        without ``treatment``, the best (treatment, dose) pair of each unit.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n, d), optional
            Units; None gives the training rows.
        treatment : treatment label, optional
            Whose curve; with several treatments and None, every
            treatment's curve is searched and the best pair returned.
        maximize : bool, default=True
            Seek the largest outcome; False seeks the smallest (an outcome
            that is a harm).

        Returns
        -------
        ndarray of shape (n,), or a tuple (treatments, doses)
            The best dose of each unit; with several treatments and
            ``treatment=None``, the best treatment's labels and its doses.
            pandas Series indexed like X when X is a DataFrame.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If maximize is not a bool or X is not numeric.
        ValueError
            If X does not match the fit or the treatment is not a fitted
            one.
        """
        self._check_is_fitted()
        if not is_flag(maximize):
            raise TypeError(f"maximize must be a bool, got {maximize!r}")
        sign = 1.0 if maximize else -1.0
        Z = self._checked_X(X)
        K = self._n_treatments()
        if treatment is not None or K == 1:
            codes = [self._code(treatment)]
        else:
            codes = list(range(K))
        best_value, best_dose, best_code = None, None, None
        for k in codes:
            dose, value = self._argmax(Z, k, sign)
            if best_value is None:
                best_value, best_dose, best_code = value, dose, np.full(Z.shape[0], k)
            else:
                better = value > best_value
                best_value = np.where(better, value, best_value)
                best_dose = np.where(better, dose, best_dose)
                best_code = np.where(better, k, best_code)
        out = best_dose
        if len(codes) > 1:
            labels = self.classes_[best_code]
            if _is_pandas(X):
                import pandas as pd

                return (pd.Series(labels, index=X.index, name="treatment"),
                        pd.Series(out, index=X.index, name="dose"))
            return labels, out
        if _is_pandas(X):
            import pandas as pd

            return pd.Series(out, index=X.index, name="dose")
        return out

    def _argmax(self, Z, k, sign):
        """(dose, sign * value) at the best of treatment k's doses per row."""
        lo, hi = self.dose_range_[k]
        grid = np.linspace(lo, hi, OPTIMUM_GRID)
        n = Z.shape[0]
        values = sign * self._curves(Z, k, np.broadcast_to(grid, (n, grid.size)))
        at = values.argmax(axis=1)
        step = (hi - lo) / (OPTIMUM_GRID - 1)
        # around the best grid dose, one step either side
        fine = np.clip(grid[at, None] + np.linspace(-step, step, OPTIMUM_REFINE), lo, hi)
        fine_values = sign * self._curves(Z, k, fine)
        pick = fine_values.argmax(axis=1)
        rows = np.arange(n)
        return fine[rows, pick], fine_values[rows, pick]

    # --------------------------------------------------------- scores
    @reads
    def score(self, Y: ArrayLike, T: ArrayLike, *, X: ArrayLike | pandas.DataFrame,
              dose: ArrayLike | None = None) -> float:
        """Score the prediction of held-out rows' factual outcomes; higher is better.

        The negative mean squared error of each row's predicted outcome at
        the treatment and dose it received (the only one observed); it does
        not measure the error of the curves elsewhere, which no held-out
        data can.

        Parameters
        ----------
        Y : array-like of shape (n,)
            Observed outcomes.
        T : array-like of shape (n,)
            As in :meth:`fit`: the doses (one continuous treatment) or the
            treatment labels.
        X : array-like or DataFrame of shape (n, d)
            Covariates.
        dose : array-like of shape (n,), optional
            The doses, with treatment labels in T.

        Returns
        -------
        float
            The negative mean squared error.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        ValueError
            If the arguments do not match the fit or each other.
        """
        Z = self._checked_X(X)
        codes, doses = self._observed(T, dose, Z.shape[0])
        y = check_vector(Y, "Y", Z.shape[0])
        return float(-np.mean((y - self._factual(Z, codes, doses)) ** 2))

    def _observed(self, T, dose, n):
        """(codes, doses) of observed rows, given as fit takes them."""
        if self.classes_ is None:
            if dose is not None:
                raise ValueError("dose must be None: this model was fitted on one continuous treatment, whose "
                                 "doses are T")
            return np.zeros(n, dtype=np.int32), check_dose(T, "T", n)
        if dose is None:
            raise ValueError("dose is required: this model was fitted with treatment labels in T and their doses")
        return encode_treatment(T, self.classes_, "T", n), check_dose(dose, "dose", n)

    def _factual(self, Z, codes, doses, members=None):
        """Predicted outcomes at each row's own (treatment, dose)."""
        out = np.empty(Z.shape[0])
        for k in range(self._n_treatments()):
            rows = np.flatnonzero(codes == k)
            if rows.size:
                out[rows] = self._curves(Z[rows], k, doses[rows, None], members)[:, 0]
        return out

    @property
    @reads
    def oof_score_(self) -> float:
        """Cross-fitted :meth:`score` of the training rows; higher is better.

        Each training row is predicted by the ensemble member that did not
        train on it, at the treatment and dose it received.  Like
        scikit-learn's ``oob_score_``, it measures generalisation without a
        separate validation set, so it can compare settings on the
        training data alone; cgan's defaults were chosen this way.

        Raises
        ------
        AttributeError
            If the model is not fitted, or was fitted with
            ``n_estimators=1`` (no member is held out from any row).
        """
        if not self._is_fitted():
            raise AttributeError(f"this {type(self).__name__} is not fitted yet; call fit first")
        if len(self._cores) < 2:
            raise AttributeError("oof_score_ needs cross-fitting: fit with n_estimators >= 2 "
                                 "(this model has a single member, which saw every row)")
        return float(-np.mean((self._y_fit - self._mu_oof) ** 2))

    # --------------------------------------------------------- sampling
    @reads
    def sample(self, X: ArrayLike | pandas.DataFrame, doses: ArrayLike, n_samples: int = 1,
               random_state: int | np.random.Generator | None = None, *, treatment: Any = None,
               T: ArrayLike | None = None, dose: ArrayLike | None = None, Y: ArrayLike | None = None) -> np.ndarray:
        """Draw each unit's curve at the given doses from the fitted generator.

        Each draw anchors one observation of each unit, (treatment, dose,
        outcome), and the generator G completes the curve given it and
        fresh noise (varied draws need ``noise_dim > 0``):

        * with ``T`` (and ``dose``, with treatment labels) and ``Y``, the
          anchor is the observed one;
        * with ``T`` alone, the anchor outcome is drawn: the model's
          expected outcome there plus a residual resampled from that
          treatment's cross-fitted training residuals;
        * with neither, the anchor treatment is drawn from the treatments'
          shares in the training data and its dose from that treatment's
          training doses, then its outcome as with ``T`` alone.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n, d)
            Covariates.
        doses : array-like of shape (m,)
            Doses at which to draw each curve.
        n_samples : int, default=1
            Number of draws.
        random_state : int, numpy Generator or None, default=None
            Seeds the draws; the same value gives the same draws.  Sampling
            never changes the fitted model.
        treatment : treatment label, optional
            Whose curve to draw, as in :meth:`dose_response`.
        T : array-like of shape (n,), optional
            Observed treatments, as :meth:`fit` takes them (the doses, for
            one continuous treatment).
        dose : array-like of shape (n,), optional
            Observed doses, with treatment labels in T.
        Y : array-like of shape (n,), optional
            Observed outcomes; needs T.

        Returns
        -------
        ndarray of shape (n_samples, n, m)
            ``out[s, i, j]``: draw s of unit i's outcome at ``doses[j]``.
            Draw s comes from ensemble member ``s % n_estimators``.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        ValueError
            If the arguments are malformed or mismatched, Y is given
            without T, or n_samples is not a positive int.

        Warns
        -----
        UserWarning
            When a dose lies outside the treatment's fitted range.
        """
        self._check_is_fitted()
        k = self._code(treatment)
        grid = self._grid(doses)
        self._warn_outside(grid, k, stacklevel=3)
        Z = self._checked_X(X)
        n, m, K = Z.shape[0], grid.size, self._n_treatments()
        count = check_int(n_samples, "n_samples", 1, LIMITS["n_samples"])
        _memory.check(8 * 2 * count * n * m, f"SCIGAN.sample with n_samples={count} on {n} rows at {m} doses",
                      "lower n_samples or pass fewer rows or doses")
        if Y is not None and T is None:
            raise ValueError("Y needs T: pass the observed treatment of each row with its outcome")
        codes = doses_obs = None
        if T is not None:
            codes, doses_obs = self._observed(T, dose, n)
        elif dose is not None:
            raise ValueError("dose needs T: pass the treatment each row received with its dose")
        y = None if Y is None else np.asarray(check_vector(Y, "Y", n), dtype=np.float64)
        members = self._members()
        M = len(members)
        query = np.broadcast_to(to_unit(grid, *self.dose_range_[k]), (n, m))
        children = np.random.SeedSequence(check_random_state(random_state)).spawn(M)
        shares = np.bincount(self._codes_fit, minlength=K) / self._codes_fit.size
        resid = self._y_fit - self._mu_oof
        out = np.empty((count, n, m))
        for index, member in enumerate(members):
            draws = range(index, count, M)
            if not draws:
                continue
            py_seq, core_seq = children[index].spawn(2)
            core_seeds = core_seq.generate_state(len(draws), np.uint64)
            rng = np.random.default_rng(py_seq)
            for j, s in enumerate(draws):
                t, d_obs, y_obs = codes, doses_obs, y
                if t is None:
                    t = rng.choice(K, size=n, p=shares).astype(np.int32)
                    d_obs = np.empty(n)
                    for a in range(K):
                        rows = np.flatnonzero(t == a)
                        if rows.size:
                            d_obs[rows] = rng.choice(self._dose_fit[self._codes_fit == a], size=rows.size)
                if y_obs is None:
                    y_obs = self._factual(Z, t, d_obs, [member])
                    for a in range(K):
                        rows = np.flatnonzero(t == a)
                        if rows.size:
                            y_obs[rows] += rng.choice(resid[self._codes_fit == a], size=rows.size)
                unit = to_unit(d_obs, self.dose_range_[t, 0], self.dose_range_[t, 1])
                out[s] = member.sample(Z, t, unit, y_obs, k, query, core_seeds[j])
        return out

    # --------------------------------------------------------- plots
    @reads
    def plot_dose_response(self, doses: ArrayLike | None = None, X: ArrayLike | pandas.DataFrame | None = None, *,
                           treatment: Any = None, ax: Any = None, band: bool = True, alpha: float = 0.05,
                           n_bootstrap: int = 100, n_jobs: int | None = None,
                           random_state: int | np.random.Generator | None = None,
                           n_curves: int = 0) -> matplotlib.axes.Axes:
        """Plot the average dose-response curve with its bootstrap band.

        Needs matplotlib.

        Parameters
        ----------
        doses : array-like of shape (m,), optional
            Doses to draw at; None gives 101 doses across the treatment's
            fitted range.
        X : array-like or DataFrame of shape (n, d), optional
            Units to average over; None gives the training rows.
        treatment : treatment label, optional
            As in :meth:`dose_response`.
        ax : matplotlib Axes, optional
            Where to draw; None creates a figure.
        band : bool, default=True
            Draw the (1 - alpha) band of
            :meth:`average_dose_response_interval` (it refits the model
            ``n_bootstrap`` times).
        alpha : float in (0, 1), default=0.05
            One minus the band's level.
        n_bootstrap : int, default=100
            Bootstrap replicates of the band.
        n_jobs : int or None, default=None
            Threads that fit replicates in parallel.
        random_state : int, numpy Generator or None, default=None
            Seeds the bootstrap.
        n_curves : int, default=0
            Also draw the curves of the first n_curves units, thin.

        Returns
        -------
        matplotlib.axes.Axes
            The Axes drawn on.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        ImportError
            If matplotlib is not installed.
        ValueError
            As :meth:`average_dose_response_interval`.
        """
        self._check_is_fitted()
        k = self._code(treatment)
        if not is_flag(band):
            raise TypeError(f"band must be a bool, got {band!r}")
        count = check_int(n_curves, "n_curves", 0)
        lo, hi = self.dose_range_[k]
        grid = np.linspace(lo, hi, 101) if doses is None else self._grid(doses)
        self._warn_outside(grid, k, stacklevel=3)
        Z = self._checked_X(X)
        curve = self._row_mean(Z, k, grid)
        interval = None
        if band:
            interval = self._interval(grid, Z, X is None, k, alpha, n_bootstrap, n_jobs, random_state)
        units = self._curves(Z[:count], k, np.broadcast_to(grid, (min(count, Z.shape[0]), grid.size))) if count else None
        name = "" if self.classes_ is None else f" of {label_repr(self.classes_[k])}"
        return _plots.dose_response(grid, curve, interval, units, ax, f"average dose response{name}", alpha)

