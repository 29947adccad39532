"""Module-level shortcuts: cgan.fit, cgan.sample and cgan.ate."""
from __future__ import annotations

from ._ganite import GANITE


def fit(Y, T, *, X, **params) -> GANITE:
    """Fit a :class:`GANITE` with the given parameters and return it."""
    return GANITE(**params).fit(Y, T, X=X)


def sample(model: GANITE, X, T, Y, n_samples: int = 100):
    """Counterfactual draws from a fitted model, shape (n_samples, n, K)."""
    if not isinstance(model, GANITE):
        raise TypeError(f"model must be a fitted cgan.GANITE, got {type(model).__name__}")
    return model.sample(X, T, Y, n_samples=n_samples)


def ate(Y, T, *, X, T0=None, T1=None, method="plugin", target="ate", **params) -> float:
    """Fit a :class:`GANITE` and return its average effect of T1 against T0
    on the rows given; ``method`` ('plugin' or 'aipw') and ``target`` ('ate',
    'att' or 'atc') are as in :meth:`GANITE.ate`, the other keywords are
    GANITE's parameters."""
    return fit(Y, T, X=X, **params).ate(T0=T0, T1=T1, method=method, target=target)
