"""The estimator base: scikit-learn's parameter conventions without the
dependency, one lock model for threads, and the persistence protocol.

- __init__ stores its arguments; get_params/set_params read and write them,
  so sklearn.base.clone and grid searches work.
- Threads: calls that change a model (fit, set_params, unpickling) hold its
  lock exclusively; calls that only read it (predict, effect, ate, sample
  with its own seed, dumps, ...) share it, so they run concurrently with
  each other and never see a fit half done.  A fit assembles its fitted
  state and publishes it in one step (_publish).
- save/dumps and pickling share one versioned container (see _persist),
  which asks the class for its state: _fitted_state() and the module named
  by _persistence (see _persist)."""
from __future__ import annotations

import contextlib
import functools
import inspect
import threading
import types
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from . import _persist

if TYPE_CHECKING:
    import os

_Estimator = TypeVar("_Estimator", bound="BaseEstimator")
_F = TypeVar("_F", bound=Callable[..., Any])


class _ReadWriteLock:
    """Many readers or one writer.  A thread may nest reads, and the writer
    may read (a fit predicts); a reader asking to write would wait for
    itself, so that raises RuntimeError instead.  Waiting writers go
    before new readers, so a stream of reads cannot starve a fit."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers: dict[int, int] = {}
        self._writer: int | None = None
        self._depth = 0
        self._waiting = 0

    def acquire_read(self) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                self._depth += 1
                return
            if me not in self._readers:
                while self._writer is not None or self._waiting:
                    self._cond.wait()
            self._readers[me] = self._readers.get(me, 0) + 1

    def release_read(self) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                self._depth -= 1
                return
            self._readers[me] -= 1
            if not self._readers[me]:
                del self._readers[me]
                self._cond.notify_all()

    def acquire_write(self) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                self._depth += 1
                return
            if me in self._readers:
                raise RuntimeError("a call that changes the model was made from inside one that reads it")
            self._waiting += 1
            try:
                while self._writer is not None or self._readers:
                    self._cond.wait()
            finally:
                self._waiting -= 1
            self._writer, self._depth = me, 1

    def release_write(self) -> None:
        with self._cond:
            self._depth -= 1
            if not self._depth:
                self._writer = None
                self._cond.notify_all()


def _locked(write: bool) -> Callable[[_F], _F]:
    def decorate(method: _F) -> _F:
        @functools.wraps(method)
        def locked(self, *args, **kwargs):
            with self._holding(write):
                return method(self, *args, **kwargs)
        return locked  # type: ignore[return-value]
    return decorate


# run a method holding the model's lock shared (it only reads the model) or
# exclusively (it changes the model)
reads = _locked(write=False)
writes = _locked(write=True)


def check_saved_classes(state: dict[str, Any]) -> np.ndarray:
    """The saved treatment labels classes_, checked: 2 to 1024 of them."""
    classes = state.get("classes_")
    if not isinstance(classes, np.ndarray) or classes.ndim != 1 or not 2 <= len(classes) <= 1024:
        raise ValueError("saved classes_ must be a 1-d array of 2 to 1024 labels")
    return classes


class BaseEstimator:
    # The persistence protocol (see _persist): the module that describes the
    # fitted state of an estimator (STATE_KEYS, ADDED_PARAMS, check_state,
    # legacy_state), and the attribute whose presence marks a fitted model.
    _persistence: types.ModuleType
    _fitted_marker = "classes_"
    # attributes kept in memory only (never saved or pickled)
    _transient_attributes: tuple[str, ...] = ()
    # what every instance gets from __new__ (its locks)
    _runtime_attributes = ("_lock",)

    def __new__(cls, *args: Any, **kwargs: Any):
        obj = super().__new__(cls)
        obj._make_locks()
        return obj

    def _make_locks(self) -> None:
        # every instance has its locks, however it was made (constructor,
        # unpickling, cgan.load); they are neither parameters nor state
        self._lock = _ReadWriteLock()
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

    @writes
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

    @contextlib.contextmanager
    def _holding(self, write: bool) -> Iterator[None]:
        """Hold the model's lock, exclusively when `write`."""
        lock = self._lock
        (lock.acquire_write if write else lock.acquire_read)()
        try:
            yield
        finally:
            (lock.release_write if write else lock.release_read)()

    def _is_fitted(self) -> bool:
        return self._fitted_marker in vars(self)

    def _check_is_fitted(self) -> None:
        if not self._is_fitted():
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet; call fit first")

    def _publish(self, state: dict[str, Any], drop: tuple[str, ...] = ()) -> None:
        """Make a fit's state the model's in one step: attributes in `drop`
        go, those of `state` are set (the caller holds the write lock)."""
        for key in drop:
            self.__dict__.pop(key, None)
        self.__dict__.update(state)

    # --------------------------------------------------- persistence protocol
    def _fitted_state(self) -> dict[str, Any]:
        """The attributes to save, in the order the fit set them; empty
        when the model is not fitted."""
        if not self._is_fitted():
            return {}
        keep = set().union(*self._persistence.STATE_KEYS)
        return {k: v for k, v in vars(self).items() if k in keep}

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

    @reads
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

    @reads
    def __getstate__(self) -> dict[str, bytes]:
        # pickle stores the same validated container as save
        return {"cgan_model": _persist.dumps(self)}

    def __setstate__(self, state: Any) -> None:
        if "_lock" not in vars(self):
            # pickles of protocol 0 and 1 rebuild the object without __new__
            self._make_locks()
        with self._holding(write=True):
            if isinstance(state, dict) and set(state) == {"cgan_model"}:
                state = vars(_persist.loads(state["cgan_model"], expected=type(self)))
            else:
                state = _persist.legacy_state(type(self), state)
            for key in self._runtime_attributes:
                state.pop(key, None)
            self.__dict__.update(state)
