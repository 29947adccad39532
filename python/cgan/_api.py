"""Module-level shortcuts: cgan.fit, cgan.sample and cgan.ate."""
from __future__ import annotations

from ._ganite import GANITE


def fit(Y, T, *, X, **params) -> GANITE:
    """Fit a :class:`GANITE` with the given parameters and return it."""
    return GANITE(**params).fit(Y, T, X=X)


def sample(model: GANITE, X, n_samples: int = 1, random_state=None, *, T=None, Y=None):
    """Draws of the potential outcomes from a fitted model, shape (n_samples, n, K).

    The same as ``model.sample(X, n_samples, random_state, T=T, Y=Y)``; see
    :meth:`GANITE.sample`.
    """
    if not isinstance(model, GANITE):
        raise TypeError(f"model must be a fitted cgan.GANITE, got {type(model).__name__}")
    return model.sample(X, n_samples, random_state, T=T, Y=Y)


def ate(model_or_Y, *args, **kw) -> float:
    """Average treatment effect, from a fitted model or from data.

    ``cgan.ate(model, X=None, **kw)`` returns ``model.ate(X, **kw)`` for a
    fitted :class:`GANITE` (``T0``, ``T1``, ``method``, ``target``, ``T``,
    ``Y`` as in :meth:`GANITE.ate`).

    ``cgan.ate(Y, T, X=X, T0=None, T1=None, method="plugin", target="ate",
    **params)`` fits a :class:`GANITE` with ``params`` and returns its
    estimate on the rows given.
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
