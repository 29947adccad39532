"""cgan.evaluate: rank effect estimators by Monte Carlo on synthetic data
whose true effects are known."""
from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _memory
from ._threads import effective_jobs, map_threads
from ._validation import LIMITS, check_int, check_random_state, require_pandas
from ._wgan.synthesizer import Synthesizer

if TYPE_CHECKING:
    import pandas

    from ._graph import CausalGraphWGAN
    from ._wgan import CausalWGAN


def evaluate(synthesizer: CausalWGAN | CausalGraphWGAN, estimators: dict[str, Callable[..., Any]],
             n_datasets: int = 100, n: int | None = None, n_jobs: int | None = None,
             random_state: int | np.random.Generator | None = None, T0: Any = None, T1: Any = None, *,
             treatment: Any = None, outcome: Any = None, covariates: Any = None) -> pandas.DataFrame:
    """Bias, RMSE and coverage of effect estimators over synthetic data sets.

    Each of ``n_datasets`` data sets is drawn from the fitted synthesizer
    with its own seed, so its units carry every potential outcome and its
    true average effect is known; every estimator is run on it.

    Parameters
    ----------
    synthesizer : CausalWGAN or CausalGraphWGAN
        A fitted synthesizer.
    estimators : dict
        Maps a name to a callable ``f(X, T, Y)`` (X a DataFrame of the
        covariates, T and Y arrays) returning an estimate of the average
        effect of T1 against T0, or a tuple ``(estimate, lower, upper)``.
        Each call gets its own copies of X, T and Y.
    n_datasets : int, default=100
        Synthetic data sets to draw.
    n : int or None, default=None
        Rows per data set; None uses the size of the fitted data.
    n_jobs : int or None, default=None
        Workers over data sets (None: 1, or the n_jobs of a configured joblib
        backend; -1: all cores).  Threads by default; under
        ``joblib.parallel_config(backend="dask")`` the data sets go to a
        Dask cluster's workers.  Draws are seeded per data set, so results
        do not depend on it.
    random_state : int, numpy Generator or None, default=None
        Seeds the data sets.
    T0, T1 : treatment label or value, optional
        The contrast: T0 defaults to the first treatment level, T1 to the
        second (required with more than two levels, and for a continuous
        treatment of a CausalGraphWGAN).
    treatment, outcome : column label, optional
        For a CausalGraphWGAN, the treatment and outcome columns (required);
        a CausalWGAN has its own.
    covariates : list of column labels, optional
        For a CausalGraphWGAN, the columns the estimators get as X; None
        gives those that are not descendants of the treatment (nor the
        outcome), which are measured before it.

    Returns
    -------
    pandas.DataFrame
        Indexed by estimator: mean estimate, bias, sd, RMSE and coverage
        (NaN when no interval was returned), all against each data set's
        own true average effect (the mean of its units' potential-outcome
        differences): sd is the standard deviation of the errors over data
        sets (ddof=1), so that rmse**2 = bias**2 + sd**2 * (k - 1) / k for
        k data sets.  ``result.attrs['true_effects']`` holds those
        effects and ``result.attrs['mean_true_effect']`` their mean.

    Raises
    ------
    TypeError
        If synthesizer is not a fitted CausalWGAN or CausalGraphWGAN,
        estimators is not a non-empty dict of callables, or a count has
        the wrong type.
    ValueError
        If n_datasets, n or n_jobs is out of range, T1 is missing with more
        than two treatments, the roles do not fit the synthesizer (see
        treatment, outcome and covariates), or an estimator returns a tuple that is not
        (estimate, lower, upper), a value that is not finite, an interval
        with lower > upper, or an interval for some data sets and none for
        others.  The error names the estimator and the data set; an error
        an estimator raises stops the run in the same way.
    ImportError
        If pandas is not installed.

    See Also
    --------
    CausalWGAN.sample : one synthetic data set.

    Examples
    --------
    >>> import cgan
    >>> from cgan.datasets import load_lalonde
    >>> wgan = cgan.CausalWGAN(n_iter=20, critic_steps=2, random_state=0)
    >>> wgan = wgan.fit(load_lalonde(), treatment="t", outcome="re78")
    >>> def naive(X, T, Y):
    ...     return Y[T == 1].mean() - Y[T == 0].mean()
    >>> table = cgan.evaluate(wgan, {"difference in means": naive}, n_datasets=3, random_state=0)
    >>> list(table.columns)
    ['mean_estimate', 'bias', 'sd', 'rmse', 'coverage']
    """
    pd = require_pandas("evaluate")

    # a synthesizer describes its Monte Carlo data sets (Synthesizer._experiment)
    if not isinstance(synthesizer, Synthesizer) or not synthesizer._is_fitted():
        what = "an unfitted one" if isinstance(synthesizer, Synthesizer) else type(synthesizer).__name__
        raise TypeError(f"synthesizer must be a fitted cgan.CausalWGAN or cgan.CausalGraphWGAN, got {what}")
    if not isinstance(estimators, dict) or not estimators:
        raise TypeError("estimators must be a non-empty dict of name -> callable(X, T, Y)")
    for name, f in estimators.items():
        if not callable(f):
            raise TypeError(f"estimator {name!r} is not callable")
    n_datasets = check_int(n_datasets, "n_datasets", 1, 1 << 20)
    jobs = effective_jobs(n_jobs, n_datasets)
    seed = check_random_state(random_state)
    seeds = np.random.SeedSequence(seed).generate_state(n_datasets, np.uint64)
    design = synthesizer._experiment(T0, T1, treatment, outcome, covariates)
    rows = check_int(design.rows if n is None else n, "n", 2, LIMITS["n_rows"])
    # each running data set holds its draw and the copies its estimators get
    _memory.check(2 * jobs * design.nbytes(rows), f"evaluate with n={rows} rows per data set and "
                  f"{jobs} at a time", "lower n or n_jobs")

    # the synthesizer and the estimators travel to each worker once
    shared = (synthesizer, estimators, rows, [int(s) for s in seeds], design.roles)
    # the first error (or an interrupt) ends the run: data sets not yet
    # started are dropped, and those running finish
    results = map_threads(_one_dataset, n_datasets, jobs, shared=shared)
    truths = np.array([r[0] for r in results])
    table = []
    for name in estimators:
        est = np.array([r[1][name][0] for r in results])
        lo = np.array([r[1][name][1] for r in results])
        hi = np.array([r[1][name][2] for r in results])
        none = np.isnan(lo)
        if none.any() and not none.all():
            raise ValueError(f"estimator {name!r} returned an interval on data set {int(np.argmin(none))} "
                             f"but none on data set {int(np.argmax(none))}; return one always or never")
        err = est - truths
        cover = np.nan if np.all(np.isnan(lo)) else float(np.mean((lo <= truths) & (truths <= hi)))
        table.append({"estimator": name, "mean_estimate": est.mean(), "bias": err.mean(),
                      "sd": err.std(ddof=1) if len(err) > 1 else 0.0,
                      "rmse": float(np.sqrt(np.mean(err ** 2))), "coverage": cover})
    frame = pd.DataFrame(table).set_index("estimator")
    frame.attrs["true_effects"] = truths
    frame.attrs["mean_true_effect"] = float(truths.mean())
    return frame


def _one_dataset(shared, i):
    """(true effect, {estimator: (estimate, lower, upper)}) on data set i,
    drawn with its own seed, so results do not depend on the workers."""
    synthesizer, estimators, rows, seeds, roles = shared
    X, T, Y, truth = synthesizer._experiment_data(roles, rows, seeds[i])
    out = {}
    for name, f in estimators.items():
        where = f"estimator {name!r} on data set {i}"
        try:
            # each estimator gets its own copy: what one writes, the next never sees
            r = f(X.copy(), T.copy(), Y.copy())
        except Exception as exc:
            raise _named(exc, where) from exc
        if isinstance(r, tuple):
            if len(r) != 3:
                raise ValueError(f"{where} must return an estimate or (estimate, lower, upper), "
                                 f"got a tuple of {len(r)}")
            out[name] = tuple(_number(v, where) for v in r)
            if not out[name][1] <= out[name][2]:
                raise ValueError(f"{where} returned an interval with lower {out[name][1]} > upper {out[name][2]}")
        else:
            out[name] = (_number(r, where), np.nan, np.nan)
    return truth, out


def _named(exc, where):
    """An estimator's exception re-raised with `where` (the estimator and
    data set) in its message: of the same type when that type takes one
    message, else a RuntimeError."""
    message = f"{where} raised {type(exc).__name__}: {exc}"
    try:
        named = type(exc)(message)
    except Exception:
        named = None
    if type(named) is not type(exc) or str(where) not in str(named):
        named = RuntimeError(message)
    return named


def _number(value, where):
    """An estimator's output as a finite float; `where` names the estimator
    and data set in errors."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where} must return a number or (estimate, lower, upper), "
                        f"got {type(value).__name__}")
    if not np.isfinite(float(value)):
        raise ValueError(f"{where} returned {float(value)}; an estimate and its interval must be finite")
    return float(value)
