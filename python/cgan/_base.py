"""The estimator base: scikit-learn's parameter conventions without the
dependency.  __init__ stores its arguments; get_params/set_params read and
write them, so sklearn.base.clone and grid searches work.  save/dumps and
pickling share one versioned container (see _persist)."""
from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, TypeVar

from . import _persist

if TYPE_CHECKING:
    import os

_Estimator = TypeVar("_Estimator", bound="BaseEstimator")


class BaseEstimator:
    @classmethod
    def _param_names(cls):
        sig = inspect.signature(cls.__init__)
        return sorted(p.name for p in sig.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters and their current values.

        Parameters
        ----------
        deep : bool, default=True
            Accepted for scikit-learn's ``clone`` and grid searches; cgan's
            estimators hold no nested estimators, so it changes nothing.

        Returns
        -------
        dict
            Every parameter of ``__init__`` mapped to its value.

        See Also
        --------
        set_params : change them.
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self: _Estimator, **params: Any) -> _Estimator:
        """Set constructor parameters, as scikit-learn's estimators do.

        Values are stored as given and checked at the next :meth:`fit`; a
        fitted model keeps its fit until then.

        Parameters
        ----------
        **params : dict
            Parameter names of ``__init__`` and their new values.

        Returns
        -------
        self
            The estimator, so calls can be chained.

        Raises
        ------
        ValueError
            If a name is not a parameter of the estimator.

        Examples
        --------
        >>> from cgan import GANITE
        >>> GANITE().set_params(n_iter=200, random_state=0)
        GANITE(n_iter=200, random_state=0)
        """
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"{key!r} is not a parameter of {type(self).__name__}; valid parameters: {valid}")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__)
        changed = []
        for name, p in sig.parameters.items():
            if name == "self" or p.kind == p.VAR_KEYWORD:
                continue
            value = getattr(self, name)
            if p.default is inspect.Parameter.empty or value is not p.default and value != p.default:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def _check_is_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet; call fit first")

    # ------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the model to ``path``; read it back with :func:`cgan.load`.

        The file is a versioned binary container (parameters, fitted state
        and the C cores' snapshots) that loading validates and never runs
        code from.  An existing file is replaced only once the new one is
        complete.  Training data kept for the bootstrap are not saved.

        Parameters
        ----------
        path : str or os.PathLike
            File to write.

        Raises
        ------
        TypeError
            If a parameter holds a value the container cannot store (an
            object other than None, bools, numbers, strings, lists, tuples,
            dicts, NumPy arrays and generators).
        OSError
            If the file cannot be written.

        See Also
        --------
        dumps : the same bytes, in memory.
        cgan.load : read the file back.
        """
        _persist.save(self, path)

    def dumps(self) -> bytes:
        """The bytes :meth:`save` writes; read them back with :func:`cgan.loads`.

        Returns
        -------
        bytes
            The versioned container: parameters, fitted state and the C
            cores' snapshots.

        Raises
        ------
        TypeError
            If a parameter holds a value the container cannot store.
        """
        return _persist.dumps(self)

    def __getstate__(self) -> dict[str, bytes]:
        # pickle stores the same validated container as save
        return {"cgan_model": _persist.dumps(self)}

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict) and set(state) == {"cgan_model"}:
            state = vars(_persist.loads(state["cgan_model"], expected=type(self)))
        else:
            state = _persist.legacy_state(type(self), state)
        self.__dict__.update(state)
