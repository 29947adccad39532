"""Module-level shortcuts: cgan.fit, cgan.sample and cgan.ate."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._ganite import GANITE

if TYPE_CHECKING:
    import numpy as np
    import pandas
    from numpy.typing import ArrayLike


def fit(Y: ArrayLike, T: ArrayLike, *, X: ArrayLike | pandas.DataFrame, **params: Any) -> GANITE:
    """Fit a :class:`GANITE` with the given parameters and return it.

    ``cgan.fit(Y, T, X=X, **params)`` is ``GANITE(**params).fit(Y, T, X=X)``.

    Parameters
    ----------
    Y : array-like of shape (n,)
        Observed outcomes.
    T : array-like of shape (n,)
        Treatment received: any labels, at least two distinct values.
    X : array-like or DataFrame of shape (n, d)
        Covariates.
    **params : dict
        Parameters of :class:`GANITE` (``n_iter``, ``random_state``, ...).

    Returns
    -------
    GANITE
        The fitted model.

    Raises
    ------
    TypeError
        If a name in params is not a parameter of GANITE, or an argument
        has the wrong type (see :meth:`GANITE.fit`).
    ValueError
        If the data or a parameter value are invalid (see
        :meth:`GANITE.fit`).

    Examples
    --------
    >>> import cgan
    >>> from cgan.datasets import load_ihdp
    >>> data = load_ihdp()
    >>> model = cgan.fit(data.Y, data.T, X=data.X, n_iter=50, random_state=0)
    >>> model.effect().shape
    (747,)
    """
    return GANITE(**params).fit(Y, T, X=X)


def sample(model: GANITE, X: ArrayLike | pandas.DataFrame, n_samples: int = 1, random_state: int | np.random.Generator | None = None, *,
           T: ArrayLike | None = None, Y: ArrayLike | None = None) -> np.ndarray:
    """Draw potential outcomes from a fitted GANITE.

    ``cgan.sample(model, X, n_samples, random_state, T=T, Y=Y)`` is
    ``model.sample(X, n_samples, random_state, T=T, Y=Y)``; see
    :meth:`GANITE.sample`.

    Parameters
    ----------
    model : GANITE
        A fitted model.
    X : array-like or DataFrame of shape (n, d)
        Covariates of the rows to draw for.
    n_samples : int, default=1
        Number of draws.
    random_state : int, numpy Generator or None, default=None
        Seeds the draws; None draws fresh entropy.
    T : array-like of shape (n,), optional
        Treatment each row received, among ``model.classes_``.
    Y : array-like of shape (n,), optional
        Observed outcome of each row; needs ``T``.

    Returns
    -------
    ndarray of shape (n_samples, n, K)
        Potential outcomes under each of the K arms; with ``T`` and ``Y``, the
        entry of the received arm is the observed Y.

    Raises
    ------
    TypeError
        If model is not a GANITE, or an argument has the wrong type.
    ValueError
        If X, T or Y do not match the fit or each other, Y is given without
        T, or n_samples is below 1.
    """
    if not isinstance(model, GANITE):
        raise TypeError(f"model must be a fitted cgan.GANITE, got {type(model).__name__}")
    return model.sample(X, n_samples, random_state, T=T, Y=Y)


def ate(model_or_Y: GANITE | ArrayLike, *args: Any, **kw: Any) -> float:
    """Average treatment effect, from a fitted model or from data.

    ``cgan.ate(model, X=None, **kw)`` returns ``model.ate(X, **kw)`` for a
    fitted :class:`GANITE` (``T0``, ``T1``, ``method``, ``target``, ``T``,
    ``Y`` as in :meth:`GANITE.ate`).

    ``cgan.ate(Y, T, X=X, T0=None, T1=None, method="plugin", target="ate",
    **params)`` fits a :class:`GANITE` with ``params`` and returns its
    estimate on the rows given.

    Parameters
    ----------
    model_or_Y : GANITE or array-like of shape (n,)
        A fitted model, or the observed outcomes to fit one to.
    *args : positional arguments
        With a model: X, T0 and T1 of :meth:`GANITE.ate`.  With data: T,
        the treatment received (and nothing else).
    **kw : keyword arguments
        With a model: any argument of :meth:`GANITE.ate`.  With data: the
        covariates ``X`` (required), ``T0``, ``T1``, ``method`` and
        ``target`` for the estimate, and any :class:`GANITE` parameter.

    Returns
    -------
    float
        The estimated average effect of T1 against T0.

    Raises
    ------
    TypeError
        If data are given without T or without the keyword X, or an
        argument has the wrong type.
    ValueError
        If an argument value is invalid (see :meth:`GANITE.fit` and
        :meth:`GANITE.ate`).

    Examples
    --------
    >>> import cgan
    >>> from cgan.datasets import load_ihdp
    >>> data = load_ihdp()
    >>> model = cgan.fit(data.Y, data.T, X=data.X, n_iter=50, random_state=0)
    >>> cgan.ate(model) == model.ate()
    True
    """
    if isinstance(model_or_Y, GANITE):
        return model_or_Y.ate(*args, **kw)
    if len(args) != 1:
        raise TypeError("ate takes a fitted GANITE, or Y and T (with X as a keyword) to fit one")
    if "X" not in kw:
        raise TypeError("ate(Y, T, X=...) needs the covariates X as a keyword")
    estimate = {key: kw.pop(key) for key in ("T0", "T1", "method", "target") if key in kw}
    X = kw.pop("X")
    return fit(model_or_Y, args[0], X=X, **kw).ate(**estimate)
