"""Argument checks shared by cgan's estimators.

Every public entry point validates here before any work, so that a user gets
a ValueError or TypeError naming the argument and the problem, and the C core
only ever sees finite, well-shaped arrays."""
from __future__ import annotations

import numbers
import os
import sys

import numpy as np

from . import _cgan

_MAX_SEED = 2**64
# the C core's limits (cgan.h), defined there once
LIMITS = dict(_cgan.LIMITS)


def _missing_message(name: str, count: int, first: str) -> str:
    """The one wording for missing values, whatever the argument."""
    return (f"{name} has {count} missing value{'s' if count != 1 else ''} (NaN or NA), the first at {first}; "
            f"impute or drop them")


def _check_not_sparse(obj, name: str) -> None:
    if (type(obj).__module__ or "").startswith("scipy.sparse"):
        raise TypeError(f"{name} is a SciPy sparse matrix; pass {name}.toarray() (cgan's networks take dense rows)")


def _check_no_na(obj, name: str) -> None:
    """A pandas Series or DataFrame without missing values (NaN, None, NA)."""
    missing = obj.isna().to_numpy()
    count = int(missing.sum())
    if count:
        at = np.argwhere(missing)[0]
        first = f"row {at[0]}" + (f", column {obj.columns[at[1]]!r}" if missing.ndim == 2 else "")
        raise ValueError(_missing_message(name, count, first))


def _is_missing(v) -> bool:
    """None, a float NaN, or pandas' NA and NaT."""
    if v is None or (isinstance(v, float) and v != v):
        return True
    pd = sys.modules.get("pandas")
    return pd is not None and (v is pd.NA or v is pd.NaT)


def _is_dataframe(obj) -> bool:
    return hasattr(obj, "columns") and hasattr(obj, "iloc") and hasattr(obj, "dtypes")


def _is_series(obj) -> bool:
    return hasattr(obj, "iloc") and hasattr(obj, "dtype") and not hasattr(obj, "columns")


def feature_names(X):
    """Column names of a DataFrame as an object array, else None."""
    if _is_dataframe(X):
        names = np.asarray([str(c) for c in X.columns], dtype=object)
        return names
    return None


def check_X(X, name: str = "X", n_features: int | None = None) -> np.ndarray:
    """A 2-d float array of finite numbers with at least one row and column."""
    if X is None:
        raise TypeError(f"{name} is required; got None")
    _check_not_sparse(X, name)
    if _is_dataframe(X):
        bad = [str(c) for c, dt in zip(X.columns, X.dtypes) if not _numeric_dtype(dt)]
        if bad:
            raise TypeError(
                f"{name} must hold numbers only; columns {bad[:5]} are not numeric "
                "(encode categories, e.g. with pandas.get_dummies)"
            )
        _check_no_na(X, name)
        arr = X.to_numpy(dtype=np.float64)
    else:
        arr = _as_numeric_array(X, name)
    if arr.ndim == 1:
        raise ValueError(
            f"{name} must be 2-dimensional (rows x features), got a 1-d array of shape {arr.shape}; "
            f"use {name}.reshape(-1, 1) for a single feature"
        )
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-dimensional, got {arr.ndim} dimensions")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} has no rows")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no columns")
    _check_finite(arr, name)
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"{name} has {arr.shape[1]} features, but the model was fitted with {n_features}")
    return arr


def _read_array(obj, name: str) -> np.ndarray:
    try:
        return np.asarray(obj)
    except ValueError as exc:
        raise ValueError(f"{name} could not be read as an array: {exc}") from None


def _one_column(obj, name: str, convert=None) -> np.ndarray:
    """A 1-d array from a sequence, Series, one-column frame or column vector."""
    _check_not_sparse(obj, name)
    if _is_series(obj) or _is_dataframe(obj):
        _check_no_na(obj, name)
        obj = obj.to_numpy()
    arr = _read_array(obj, name) if convert is None else convert(obj)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional, got shape {arr.shape}")
    return arr


def check_vector(y, name: str, n_rows: int | None = None) -> np.ndarray:
    """A 1-d float array of finite numbers (a column vector is accepted)."""
    if y is None:
        raise TypeError(f"{name} is required; got None")
    arr = _one_column(y, name, lambda v: _as_numeric_array(v, name))
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    _check_finite(arr, name)
    if n_rows is not None and arr.shape[0] != n_rows:
        raise ValueError(f"{name} has {arr.shape[0]} entries but X has {n_rows} rows")
    return arr


def check_treatment(T, n_rows: int | None = None):
    """Labels of a treatment with at least two arms -> (classes, codes)."""
    if T is None:
        raise TypeError("T is required; got None")
    arr = _one_column(T, "T")
    if arr.shape[0] == 0:
        raise ValueError("T is empty")
    if n_rows is not None and arr.shape[0] != n_rows:
        raise ValueError(f"T has {arr.shape[0]} entries but X has {n_rows} rows")
    if arr.dtype.kind == "c":
        raise TypeError("T must hold labels (numbers, strings or booleans), got complex numbers")
    if arr.dtype.kind == "f":
        _check_finite(arr, "T")
    elif arr.dtype.kind == "O":
        missing = [i for i, v in enumerate(arr) if _is_missing(v)]
        if missing:
            raise ValueError(_missing_message("T", len(missing), f"row {missing[0]}"))
        try:
            classes, codes = np.unique(arr, return_inverse=True)
        except TypeError as exc:
            raise TypeError(f"T mixes label types that cannot be ordered: {exc}") from None
        return _check_classes(classes, codes)
    classes, codes = np.unique(arr, return_inverse=True)
    return _check_classes(classes, codes)


def _check_classes(classes, codes):
    if len(classes) < 2:
        raise ValueError(f"T must have at least two distinct treatments, got only {list(classes)}")
    if len(classes) > LIMITS["n_treatments"]:
        raise ValueError(f"T has {len(classes)} distinct values; at most {LIMITS['n_treatments']} treatment arms "
                         f"are supported")
    return classes, codes.astype(np.int32).ravel()


def encode_treatment(T, classes, name: str = "T", n_rows: int | None = None) -> np.ndarray:
    """Codes of T's labels in the fitted classes."""
    if T is None:
        raise TypeError(f"{name} is required; got None")
    arr = _one_column(T, name)
    if n_rows is not None and arr.shape[0] != n_rows:
        raise ValueError(f"{name} has {arr.shape[0]} entries but X has {n_rows} rows")
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must hold labels (numbers, strings or booleans), got complex numbers")
    lookup = {_label_key(c): i for i, c in enumerate(classes)}
    try:
        return np.fromiter((lookup[_label_key(v)] for v in arr), dtype=np.int32, count=arr.shape[0])
    except KeyError as exc:
        raise ValueError(
            f"{name} contains the label {exc.args[0]!r}, which was not seen in fit; known treatments: "
            f"{list(classes)}"
        ) from None


def treatment_code(value, classes, name: str) -> int:
    """Code of one treatment label."""
    if not (np.isscalar(value) or isinstance(value, numbers.Number)):
        raise TypeError(f"{name} must be one treatment label (a number, string or bool), got "
                        f"{type(value).__name__}")
    for i, c in enumerate(classes):
        if _label_key(c) == _label_key(value):
            return i
    raise ValueError(f"{name}={value!r} is not one of the fitted treatments {list(classes)}")


def label_repr(v) -> str:
    """repr of a treatment label as the user wrote it: 1, not np.int64(1)."""
    return repr(v.item() if isinstance(v, np.generic) else v)


def _label_key(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def check_outcome(Y, outcome: str, n_rows: int) -> tuple[np.ndarray, bool]:
    """The outcome vector and whether it is binary."""
    y = check_vector(Y, "Y", n_rows)
    if not isinstance(outcome, str) or outcome not in ("auto", "continuous", "binary"):
        raise ValueError(f"outcome must be 'auto', 'continuous' or 'binary', got {outcome!r}")
    is01 = bool(np.all((y == 0) | (y == 1)))
    if outcome == "binary" and not is01:
        raise ValueError("outcome='binary' needs Y to hold only 0 and 1")
    binary = outcome == "binary" or (outcome == "auto" and is01)
    return y, binary


def check_int(value, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def check_float(value, name: str, low: float, high: float | None = None, low_open: bool = False) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    ok = np.isfinite(value) and (value > low if low_open else value >= low)
    if high is not None:
        ok = ok and value <= high
    if not ok:
        lo = f"> {low}" if low_open else f">= {low}"
        hi = f" and <= {high}" if high is not None else ""
        raise ValueError(f"{name} must be finite, {lo}{hi}; got {value}")
    return value


def check_path(path, name: str = "path") -> str:
    """A file path from a str, bytes or os.PathLike (never a file descriptor)."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{name} must be a str, bytes or os.PathLike file path, got {type(path).__name__}")
    return os.fsdecode(os.fspath(path))


def check_random_state(random_state) -> int:
    """One 64-bit seed from None, an int, a numpy Generator or RandomState."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
    if isinstance(random_state, (bool, np.bool_)):
        raise TypeError("random_state must be None, an int or a numpy random generator, got bool")
    if isinstance(random_state, numbers.Integral):
        value = int(random_state)
        if not 0 <= value < _MAX_SEED:
            raise ValueError(f"random_state must lie in [0, 2**64), got {value}")
        return value
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63, dtype=np.int64))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**63 - 1, dtype=np.int64))
    raise TypeError(
        f"random_state must be None, an int or a numpy random generator, got {type(random_state).__name__}"
    )


def _numeric_dtype(dt) -> bool:
    try:
        return np.dtype(dt).kind in "biuf"
    except TypeError:
        # pandas extension dtypes (nullable Int64, boolean, Float64)
        return getattr(dt, "kind", "O") in "biuf"


def _as_numeric_array(obj, name: str) -> np.ndarray:
    try:
        arr = np.asarray(obj)
    except ValueError as exc:
        raise ValueError(f"{name} could not be read as an array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        if arr.dtype.kind == "O":
            missing = [i for i, v in enumerate(arr.ravel()) if _is_missing(v)]
            if missing:
                raise ValueError(_missing_message(name, len(missing), f"flat index {missing[0]}"))
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError):
                raise TypeError(f"{name} must hold numbers, got an object array with non-numeric entries") from None
        else:
            raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    return arr


def _check_finite(arr: np.ndarray, name: str) -> None:
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr)
        if not finite.all():
            nan = np.isnan(arr)
            bad = nan if nan.any() else ~finite
            idx = np.argwhere(bad)[0]
            where = f"row {idx[0]}" + (f", column {idx[1]}" if arr.ndim == 2 else "")
            if nan.any():
                raise ValueError(_missing_message(name, int(nan.sum()), where))
            raise ValueError(f"{name} contains inf at {where}; drop or clip those rows")
        big = np.abs(arr) > np.finfo(np.float32).max
        if big.any():
            raise ValueError(f"{name} holds values beyond float32's range (about 3.4e38)")


def check_choice(value, name: str, allowed) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {list(allowed)}; got {type(value).__name__}")
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value


def check_alpha(alpha) -> float:
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"alpha must be a real number in (0, 1), got {type(alpha).__name__}")
    value = float(alpha)
    # 1e-300: the normal quantile of alpha / 2 must stay a normal float
    if not 1e-300 <= value < 1.0:
        raise ValueError(f"alpha must lie in (0, 1) and be at least 1e-300, got {alpha}")
    return value


def is_flag(value) -> bool:
    """A bool, a NumPy bool, or the integer 0 or 1."""
    return isinstance(value, (bool, np.bool_)) or isinstance(value, numbers.Integral) and value in (0, 1)


def check_flag(value, name: str) -> bool:
    if not is_flag(value):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def check_verbose(value) -> bool:
    if not isinstance(value, (bool, np.bool_, numbers.Integral)):
        raise TypeError(f"verbose must be a bool, got {type(value).__name__}")
    return bool(value)


def check_jobs(n_jobs, name: str = "n_jobs") -> int:
    """Threads asked for: None is 1, a negative value counts back from the
    number of CPUs (-1: all of them); 0 is refused."""
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, (bool, np.bool_)) or not isinstance(n_jobs, numbers.Integral):
        raise TypeError(f"{name} must be None or an integer, got {type(n_jobs).__name__}")
    n_jobs = int(n_jobs)
    if n_jobs == 0:
        raise ValueError(f"{name} must not be 0; use None or 1 for one thread, -1 for all cores")
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    return n_jobs


def require_pandas(what: str = "this"):
    """The pandas module, or an ImportError saying who needs it."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - exercised only without pandas
        raise ImportError(f"{what} works on pandas DataFrames; install pandas") from None
    return pd
