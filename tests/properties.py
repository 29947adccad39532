"""Property-based tests of cgan's public API over the shapes, dtypes and
values of every argument.

The property, for every public function and method: a call either returns a
correct result (right shape and dtype, finite values, consistent with the
other methods and with the same call on the canonical float64 arrays of the
same values) or raises ValueError or TypeError whose message names the
offending argument.  No other exception, no crash, and no input modified.

An oracle written from the documented contract (not from cgan's code) says
whether each generated argument is valid; a valid one must be accepted, an
invalid one rejected.  Each example perturbs one argument of a valid call,
so the error must name that argument.

tests/test_properties.py runs this module in a child process, so that a
crash (a segfault in the C core) fails that test instead of killing the test
run.  Run it directly with
    python -m pytest -q -p no:warnings tests/properties.py
and set CGAN_PROPERTY_EXAMPLES to run more examples per test than the
default (the defaults keep the whole module under a minute; hypothesis is
derandomized, so every run tries the same examples)."""
from __future__ import annotations

import math
import os
import pickle
import re
import tempfile
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import cgan

pd = pytest.importorskip("pandas")
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:  # the plotting methods are then left out
    plt = None

_SCALE = int(os.environ.get("CGAN_PROPERTY_EXAMPLES", "0"))


def examples(n):
    """Hypothesis settings: n examples (or CGAN_PROPERTY_EXAMPLES), a fixed
    derandomised sequence and no example database."""
    return settings(max_examples=_SCALE or n, derandomize=True, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck), print_blob=False)


F32_MAX = float(np.finfo(np.float32).max)

# ------------------------------------------------------------------ calls


def attempt(fn, *args, **kw):
    """(result, None) or (None, the ValueError/TypeError raised).  Any other
    exception propagates and fails the test.  fit's warning about poor
    overlap is expected on tiny random data; every other warning is turned
    into an error, which fails the test too."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*arms overlap poorly", category=UserWarning)
        try:
            return fn(*args, **kw), None
        except (ValueError, TypeError) as exc:
            return None, exc


def names(exc, *candidates):
    """The message of exc names one of candidates (as a whole word)."""
    msg = str(exc)
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(c)}(?![A-Za-z0-9_])", msg) for c in candidates)


def expect(kind, result, exc, *arg_names):
    """Check the outcome of a call against the oracle's verdict; returns True
    when the call succeeded (so the caller checks the result)."""
    event(f"{kind} {arg_names[0]}: {'accepted' if exc is None else 'rejected'}")
    if kind == "valid":
        assert exc is None, f"a valid call raised {type(exc).__name__}: {exc}"
        return True
    if kind == "invalid":
        assert exc is not None, f"an invalid {arg_names[0]} was accepted"
    if exc is not None:
        assert names(exc, *arg_names), f"{type(exc).__name__} does not name {arg_names}: {exc}"
        return False
    return True


def fingerprint(value):
    """Something equal before and after a call iff the value is unchanged."""
    if isinstance(value, np.ndarray) and value.dtype.kind != "O":
        return ("ndarray", value.dtype.str, value.shape, value.strides, value.flags.writeable, value.tobytes())
    try:
        return ("pickle", pickle.dumps(value))
    except Exception:
        return ("repr", repr(value))


def unchanged(*values):
    """Context manager asserting that the values are not modified."""
    class _Check:
        def __enter__(self):
            self.before = [fingerprint(v) for v in values]

        def __exit__(self, *exc_info):
            if exc_info[0] is None:
                after = [fingerprint(v) for v in values]
                for i, (a, b) in enumerate(zip(self.before, after)):
                    assert a == b, f"argument {i} was modified"
            return False
    return _Check()


# ----------------------------------------------------------- the oracles


def _real_scalar(x):
    return isinstance(x, (bool, int, float, np.bool_, np.integer, np.floating))


def _as_array(value):
    """np.asarray of a non-pandas value, or None when it is ragged."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(value)
    except (ValueError, TypeError):
        return None


def _numeric(arr):
    """('valid', float64 array) | ('invalid', None) | ('either', None) for
    the numbers an array holds: bool, int, uint and float dtypes, or an
    object array of real numbers.  An object array holding strings such as
    '1.5' may be read as numbers or rejected."""
    kind = arr.dtype.kind
    if kind == "O":
        items = arr.ravel().tolist()
        if all(_real_scalar(x) for x in items):
            return "valid", np.array(items, dtype=np.float64).reshape(arr.shape)
        if all(_real_scalar(x) or isinstance(x, str) for x in items):
            return "either", None
        return "invalid", None
    if kind not in "biuf":
        return "invalid", None
    with np.errstate(all="ignore"):
        return "valid", arr.astype(np.float64)


def _finite(kind, arr):
    if kind != "valid":
        return kind, arr
    if not np.all(np.isfinite(arr)) or np.any(np.abs(arr) > F32_MAX):
        return "invalid", None
    return kind, arr


def _frame_numbers(frame):
    """A DataFrame's numbers: every column must have a numeric dtype
    (bool, int, uint, float or their nullable versions; not categorical
    or object)."""
    for dtype in frame.dtypes:
        if isinstance(dtype, pd.CategoricalDtype) or getattr(dtype, "kind", "O") not in "biuf":
            return "invalid", None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arr = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    return "valid", arr


def spec_matrix(value, n_rows=None, n_cols=None, columns=None):
    """Verdict on covariates X: a 2-d array-like or DataFrame of finite
    numbers within float32's range, with at least one row and column (and
    n_rows rows, n_cols columns, and the column names `columns` when it is a
    DataFrame and the model was fitted on one)."""
    if value is None or isinstance(value, pd.Series):
        return "invalid", None
    if isinstance(value, pd.DataFrame):
        if columns is not None and [str(c) for c in value.columns] != list(columns):
            return "invalid", None
        kind, arr = _frame_numbers(value)
    else:
        arr = _as_array(value)
        if arr is None:
            return "invalid", None
        kind, arr = _numeric(arr)
    if kind == "valid":
        if arr.ndim != 2 or 0 in arr.shape:
            return "invalid", None
        if (n_rows is not None and arr.shape[0] != n_rows) or (n_cols is not None and arr.shape[1] != n_cols):
            return "invalid", None
    return _finite(kind, arr)


def _column(value):
    """A 1-d array from a sequence, Series, one-column DataFrame or column
    vector; None when the shape is wrong."""
    if isinstance(value, (pd.Series, pd.DataFrame)):
        if isinstance(value, pd.DataFrame) and value.shape[1] != 1:
            return None
        arr = np.asarray(value.to_numpy())
    else:
        arr = _as_array(value)
        if arr is None:
            return None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    return arr if arr.ndim == 1 else None


def spec_vector(value, n_rows, binary=False):
    """Verdict on an outcome Y: n_rows finite numbers (0 or 1 when binary)."""
    if value is None:
        return "invalid", None
    arr = _column(value)
    if arr is None or len(arr) == 0 or len(arr) != n_rows:
        return "invalid", None
    kind, y = _finite(*_numeric(arr))
    if kind == "valid" and binary and not np.all((y == 0) | (y == 1)):
        return "invalid", None
    return kind, y


def _label_equal(a, b):
    """Labels are equal when equal as numbers (True == 1 == 1.0) or as
    strings; a number never equals a string."""
    if isinstance(a, np.generic):
        a = a.item()
    if isinstance(b, np.generic):
        b = b.item()
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return False


def spec_labels(value, n_rows, classes=None):
    """Verdict on treatment labels T: n_rows labels (numbers, strings or
    booleans; no NaN or None; not mixing numbers and strings), with 2 to
    1024 distinct values for fit, or all among the fitted classes."""
    if value is None:
        return "invalid", None
    arr = _column(value)
    if arr is None or len(arr) == 0 or len(arr) != n_rows:
        return "invalid", None
    kind = arr.dtype.kind
    if kind in "cV":
        return "invalid", None
    if kind in "mMS":
        return "either", None   # timestamps and bytes: labels of debatable use
    items = arr.tolist()
    if kind == "O":
        if all(isinstance(x, str) for x in items):
            pass
        elif all(_real_scalar(x) for x in items):
            pass
        else:
            return "invalid", None
    if kind in "fO" and any(isinstance(x, float) and not math.isfinite(x) for x in items):
        return "invalid", None
    if classes is not None:
        ok = all(any(_label_equal(x, c) for c in classes) for x in items)
        return ("valid", arr) if ok else ("invalid", None)
    distinct = len({(type(x) is str, x) for x in items})
    return ("valid", arr) if 2 <= distinct <= 1024 else ("invalid", None)


def spec_label(value, classes, default_ok=True):
    """Verdict on one treatment label (T0, T1)."""
    if value is None:
        return "valid" if default_ok else "invalid"
    if isinstance(value, (str, bool, int, float, np.generic)) and not isinstance(value, (np.complexfloating, bytes)):
        return "valid" if any(_label_equal(value, c) for c in classes) else "invalid"
    return "invalid"


# -------------------------------------------------------------- the data

N, D = 10, 3
_rng = np.random.default_rng(20240601)
X0 = _rng.integers(-4, 5, size=(N, D)).astype(np.float64)
X0[:, 1] = np.arange(N) - 4.0      # no constant column
T0 = np.arange(N) % 2
Y0 = X0[:, 0] + 2.0 * T0 + _rng.integers(-1, 2, N)
YB0 = (np.arange(N) % 3 == 0).astype(np.float64)
ARMS3 = np.array(["ctl", "low", "high"])[np.arange(N) % 3]
TINY = dict(hidden_size=4, n_hidden=1, n_iter=3, batch_size=4, random_state=0)


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*arms overlap poorly")
        return fn(*args, **kw)


def _models():
    # batch 2: the bootstrap's models train on about half of the 10 rows
    small = dict(TINY, batch_size=2)
    cont = _quiet(cgan.GANITE(n_estimators=2, noise_dim=1, **small).fit, Y0, T0, X=X0)
    frame = pd.DataFrame(X0, columns=["a", "b", "c"], index=np.arange(100, 100 + N))
    binary3 = _quiet(cgan.GANITE(n_estimators=1, **small).fit, YB0, ARMS3, X=frame)
    return cont, binary3


GANITE_CONT, GANITE_BIN3 = _models()
FITTED = {"cont": (GANITE_CONT, T0, Y0, None), "bin3": (GANITE_BIN3, ARMS3, YB0, ["a", "b", "c"])}

# ------------------------------------------------------------ strategies

VALUE_FAMILIES = ["ints", "floats", "constant", "nan", "inf", "-inf", "big", "just-finite", "huge", "tiny", "-0"]


def _values(draw, shape, base=None):
    """float64 values of a family; `base` (same shape) for the plain family."""
    family = draw(st.sampled_from(["base"] * 6 + VALUE_FAMILIES) if base is not None else
                  st.sampled_from(VALUE_FAMILIES))
    size = int(np.prod(shape))
    if family == "base":
        return base.astype(np.float64).copy()
    if family == "ints":
        v = np.array(draw(st.lists(st.integers(-5, 5), min_size=size, max_size=size)), dtype=np.float64)
    elif family == "floats":
        v = np.array(draw(st.lists(st.floats(-1e3, 1e3, width=32), min_size=size, max_size=size)),
                     dtype=np.float64)
    elif family == "constant":
        v = np.full(size, float(draw(st.integers(-3, 3))))
    else:
        v = np.array(draw(st.lists(st.integers(-3, 3), min_size=size, max_size=size)), dtype=np.float64)
        if size:
            special = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "big": 1e39, "just-finite": 3.0e38,
                       "huge": 1e300, "tiny": 1e-45, "-0": -0.0}[family]
            v[draw(st.integers(0, size - 1))] = special
    return v.reshape(shape)


def _ints_ok(v, lo, hi):
    return np.all(np.isfinite(v)) and np.all(v == np.round(v)) and np.all((v >= lo) & (v <= hi))


CONTAINERS = [
    "float64", "fortran", "strided", "reversed", "readonly", "bigendian", "float32", "float16", "longdouble",
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool", "complex", "object", "object-none", "object-str", "object-numstr",
    "str", "bytes", "datetime", "timedelta", "list", "tuple", "frame", "frame-int", "frame-nullable",
    "frame-category", "frame-object", "frame-bool", "frame-str", "series", "ragged", "3d", "1d", "scalar",
    "none", "string", "dict",
]


# containers that hold numbers as documented (the oracle still judges the result)
GOOD_CONTAINERS = ["float64", "fortran", "strided", "reversed", "readonly", "bigendian", "float32", "longdouble",
                   "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool", "object", "list",
                   "tuple", "frame", "frame-int", "frame-bool", "series"]


def _contain(draw, v, kind="matrix", names=None, good=False):
    """v (a float64 array) in a container of the drawn kind."""
    c = draw(st.sampled_from(GOOD_CONTAINERS if good else ["float64"] * 4 + CONTAINERS))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if c == "float64":
            return v.copy()
        if c == "fortran":
            return np.asfortranarray(v)
        if c == "strided":
            base = np.zeros(v.shape[:-1] + (2 * v.shape[-1],)) if v.ndim else np.zeros(2)
            view = base[..., ::2] if v.ndim else base[:1]
            view[...] = v
            return view
        if c == "reversed":
            return np.ascontiguousarray(v[::-1])[::-1] if v.ndim else v.copy()
        if c == "readonly":
            a = v.copy()
            a.flags.writeable = False
            return a
        if c == "bigendian":
            return v.astype(">f8")
        if c in ("float32", "float16", "longdouble", "complex"):
            return v.astype({"float32": np.float32, "float16": np.float16, "longdouble": np.longdouble,
                             "complex": np.complex128}[c])
        if c[:3] in ("int", "uin") or c in ("datetime", "timedelta"):
            info = np.iinfo(c) if c[:3] in ("int", "uin") else np.iinfo(np.int64)
            lo, hi = max(int(info.min), -2**53), min(int(info.max), 2**53)
            if not _ints_ok(v, lo, hi):
                return v.copy()
            dtype = {"datetime": "M8[s]", "timedelta": "m8[s]"}.get(c, c)
            return v.astype(np.int64).astype(dtype)
        if c == "bool":
            return v != 0
        if c == "object":
            return v.astype(object)
        if c in ("object-none", "object-str", "object-numstr"):
            a = v.astype(object)
            if a.size:
                a.flat[draw(st.integers(0, a.size - 1))] = {"object-none": None, "object-str": "x",
                                                            "object-numstr": "1.5"}[c]
            return a
        if c == "str":
            return v.astype(str)
        if c == "bytes":
            return v.astype("S8")
        if c == "list":
            return v.tolist()
        if c == "tuple":
            return tuple(map(tuple, v.tolist())) if v.ndim == 2 else tuple(v.tolist())
        if c == "ragged":
            rows = v.tolist() if v.ndim == 2 else [v.tolist()]
            return rows + [[1.0] * (len(rows[0]) + 1 if rows else 2)]
        if c == "3d":
            return v[None]
        if c == "1d":
            return v.ravel()
        if c == "scalar":
            return 1.5
        if c == "none":
            return None
        if c == "string":
            return "X"
        if c == "dict":
            return {"a": 1}
        # pandas containers
        index = draw(st.sampled_from(["default", "shifted", "strings", "shuffled"]))
        n = v.shape[0] if v.ndim else 1
        idx = {"default": None, "shifted": np.arange(7, 7 + n), "strings": [f"r{i}" for i in range(n)],
               "shuffled": np.random.default_rng(n).permutation(n)}[index]
        if c == "series" or kind == "vector" and v.ndim == 1:
            s = pd.Series(v.ravel() if v.ndim else [float(v)], index=None if v.ndim > 1 else idx)
            return s.astype({"frame-int": "Int64", "frame-nullable": "Float64", "frame-category": "category",
                             "frame-object": object, "frame-bool": bool, "frame-str": str}.get(c, "float64")) \
                if (c != "frame-int" or _ints_ok(v, -2**53, 2**53)) else s
        m = v if v.ndim == 2 else v.reshape(-1, 1) if v.ndim == 1 else np.array([[float(v)]])
        cols = names if names is not None and len(names) == m.shape[1] else [f"c{j}" for j in range(m.shape[1])]
        frame = pd.DataFrame(m, columns=cols, index=idx)
        if m.shape[1] == 0:
            return frame
        j = draw(st.integers(0, m.shape[1] - 1))
        col = frame.columns[j]
        if c == "frame-int" and _ints_ok(m[:, j], -2**53, 2**53):
            frame[col] = frame[col].astype("Int64")
        elif c == "frame-nullable":
            frame[col] = frame[col].astype("Float64")
            if len(frame) and draw(st.booleans()):
                frame.loc[frame.index[0], col] = pd.NA
        elif c == "frame-category":
            frame[col] = frame[col].astype("category")
        elif c == "frame-object":
            frame[col] = frame[col].astype(object)
        elif c == "frame-bool":
            frame[col] = frame[col] != 0
        elif c == "frame-str":
            frame[col] = frame[col].astype(str)
        return frame


def _good_values(draw, base):
    family = draw(st.sampled_from(["base", "base", "ints", "constant-col"]))
    if family == "ints":
        return np.array(draw(st.lists(st.integers(-5, 5), min_size=base.size, max_size=base.size)),
                        dtype=np.float64).reshape(base.shape)
    v = base.astype(np.float64).copy()
    if family == "constant-col":
        v[..., 0] = 2.0
    return v


@st.composite
def matrices(draw, n_rows, n_cols, base=None, names=None):
    """Covariates: half the time a documented kind of input (the oracle
    judges it all the same), otherwise anything."""
    if base is not None and draw(st.booleans()):
        return _contain(draw, _good_values(draw, base), "matrix", names, good=True)
    rows = draw(st.sampled_from([n_rows] * 4 + [0, 1, n_rows - 1, n_rows + 1]))
    cols = draw(st.sampled_from([n_cols] * 4 + [0, 1, n_cols + 1]))
    b = base if base is not None and base.shape == (rows, cols) else None
    return _contain(draw, _values(draw, (rows, cols), b), "matrix", names)


@st.composite
def vectors(draw, n_rows, base=None):
    if base is not None and draw(st.booleans()):
        v = _good_values(draw, base)
        return _contain(draw, v.reshape(-1, 1) if draw(st.integers(0, 5)) == 0 else v, "vector", good=True)
    rows = draw(st.sampled_from([n_rows] * 4 + [0, 1, n_rows - 1, n_rows + 1]))
    b = base if base is not None and base.shape == (rows,) else None
    v = _values(draw, (rows,), b)
    if draw(st.integers(0, 9)) == 0:
        v = v.reshape(-1, 1)       # a column vector is accepted
    return _contain(draw, v, "vector")


@st.composite
def label_vectors(draw, n_rows, base):
    """Treatment labels: the base labels in another container, or labels of
    another kind (numbers, strings, booleans, mixtures, NaN, None)."""
    good = draw(st.booleans())
    rows = n_rows if good else draw(st.sampled_from([n_rows] * 4 + [0, 1, n_rows - 1, n_rows + 1]))
    base = np.asarray(base)
    if rows <= len(base):
        labels = base[:rows]
    else:
        labels = np.concatenate([base, base[:rows - len(base)]])
    good_kinds = ["same", "float", "object", "category", "series", "frame", "column", "list", "int8", "uint64"]
    how = draw(st.sampled_from(good_kinds if good else
                               ["same"] * 3 + ["float", "bool", "str", "object", "mixed", "nan", "none", "one",
                                               "many", "complex", "bytes", "category", "series", "frame",
                                               "column", "2d", "list", "shifted", "int8", "uint64", "datetime",
                                               "ragged"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if how == "same":
            return labels.copy()
        if how == "float":
            return labels.astype(float) if labels.dtype.kind in "biuf" else labels.copy()
        if how == "bool":
            return labels.astype(bool) if labels.dtype.kind in "biuf" else labels.copy()
        if how == "str":
            return labels.astype(str)
        if how == "object":
            return labels.astype(object)
        if how in ("mixed", "nan", "none"):
            out = labels.astype(object)
            if len(out):
                out[draw(st.integers(0, len(out) - 1))] = {"mixed": "z" if labels.dtype.kind != "U" else 1,
                                                           "nan": float("nan"), "none": None}[how]
            return out
        if how == "one":
            return np.full(rows, labels[0] if rows else 0)
        if how == "many":
            return np.arange(rows) % draw(st.sampled_from([3, 1025]))
        if how == "complex":
            return labels.astype(complex) if labels.dtype.kind in "biuf" else labels.copy()
        if how == "bytes":
            return labels.astype("S4")
        if how == "category":
            return pd.Series(pd.Categorical(labels))
        if how == "series":
            return pd.Series(labels, index=np.arange(50, 50 + rows))
        if how == "frame":
            return pd.DataFrame({"t": labels})
        if how == "column":
            return labels.reshape(-1, 1)
        if how == "2d":
            return np.stack([labels, labels], axis=1)
        if how == "list":
            return labels.tolist()
        if how == "ragged":
            return [[x] for x in labels.tolist()[:-1]] + [[0, 1]] if rows else [[0, 1], [0]]
        if how == "shifted":
            return labels.astype(float) + 0.5 if labels.dtype.kind in "biuf" else np.char.add(labels.astype(str), "_")
        if how == "int8":
            return labels.astype(np.int8) if labels.dtype.kind in "biu" else labels.copy()
        if how == "uint64":
            return labels.astype(np.uint64) if labels.dtype.kind in "biu" else labels.copy()
        return labels.astype(np.int64).astype("M8[D]") if labels.dtype.kind in "biu" else labels.copy()


# bad scalars shared by every hyperparameter
BAD_SCALARS = [None, True, False, "1", b"1", [1], (1,), {"a": 1}, float("nan"), float("inf"), -float("inf"),
               1j, np.array([1, 2]), object()]


def _int_param(lo, hi, valid):
    """(valid values, invalid values) of an integer parameter in [lo, hi]."""
    invalid = [lo - 1, hi + 1, 2**64, -(2**63) - 1, 1.5, float(lo), np.float64(max(lo, 1)), *BAD_SCALARS]
    if lo - 1 == 0 and 0 in valid:
        invalid.remove(0)
    return valid + [np.int8(valid[0]), np.uint64(abs(valid[-1]))], invalid


def _float_param(lo, hi, valid, low_open=False):
    invalid = [lo - 1.0, hi * 2 + 1.0, *BAD_SCALARS]
    if low_open:
        invalid.append(lo)
    # float32 of an inner value: float32 of a bound may round outside the range
    return valid + [np.float32(valid[1]), int(valid[-1]) if float(valid[-1]).is_integer() else valid[0]], invalid


SEEDS_OK = [None, 0, 7, 2**64 - 1, np.uint64(3), np.random.default_rng(1), np.random.RandomState(2)]
SEEDS_BAD = [-1, 2**64, 1.5, "0", True, [1, 2], np.float64(1.0), object()]

GANITE_PARAMS = {
    "hidden_size": _int_param(1, 65536, [1, 2, 4]),
    "n_hidden": _int_param(1, 64, [1, 2]),
    "n_estimators": _int_param(1, 1000, [1, 2]),
    "batch_size": _int_param(1, 1 << 24, [1, 2, 4]),
    "n_iter": _int_param(0, 1 << 31, [0, 1, 3]),
    "n_iter_ite": ([None, 0, 2, np.int16(1)], [-1, 2**31 + 1, 2.0, "2", True, float("nan")]),
    "d_steps": _int_param(1, 1000, [1, 2]),
    "alpha": _float_param(0.0, 1e6, [0.0, 0.5, 1e6]),
    "beta": (_float_param(0.0, 1e6, [0.0, 1.0, 1e6])[0] + ["auto"],
             _float_param(0.0, 1e6, [0.0, 1.0, 1e6])[1] + ["Auto", ""]),
    "learning_rate": _float_param(0.0, 10.0, [1e-4, 1e-2, 1.0], low_open=True),
    "weight_decay": _float_param(0.0, 1e3, [0.0, 0.1, 1e3]),
    "noise_dim": _int_param(0, 4096, [0, 1, 3]),
    # a positive value needs noise_dim >= 1, so the values valid whatever the others are
    "crps_weight": ([0.0, 0, np.float32(0.0)], [-1.0, 2e6, float("nan"), float("inf"), "1", True, None, [1.0]]),
    "outcome": (["auto", "continuous"], ["binary", "Binary", "", "ordinal", *BAD_SCALARS]),
    # Y0 is not all positive, so 'log' is refused for the data, not the value
    "outcome_transform": (["auto", "none"], ["log", "Log", "", "sqrt", *BAD_SCALARS]),
    "baseline": (["auto", "linear", "none"], ["Linear", "", "quadratic", *BAD_SCALARS]),
    "effect_model": (["auto", "plugin"], ["Linear", "", "quadratic", *BAD_SCALARS]),
    "random_state": (SEEDS_OK, SEEDS_BAD),
    "n_jobs": ([None, 1, 2, -1, -100, np.int32(2)], [0, 1.0, True, "2", [1], float("nan")]),
    "verbose": ([False, True, 0, 1, np.bool_(False)], ["yes", None, 1.5, [True], float("nan")]),
}

WGAN_PARAMS = {
    "hidden_size": _int_param(1, 65536, [1, 3]),
    "n_hidden": _int_param(1, 64, [1, 2]),
    "batch_size": _int_param(1, 1 << 24, [1, 4]),
    "n_iter": _int_param(0, 1 << 31, [0, 1, 2]),
    "critic_steps": _int_param(1, 1000, [1, 2]),
    "gp_lambda": _float_param(0.0, 1e6, [0.0, 5.0, 1e6]),
    "one_sided": ([True, False, np.bool_(True), {}, {"covariates": False}, {"outcome": 0, "covariates": True}],
                  ["yes", None, 2, 0.5, [True], float("nan"), {"critic": True}, {"outcome": "no"},
                   {"covariates": 2}, {0: True}]),
    "critic_dropout": _float_param(0.0, 0.99, [0.0, 0.5, 0.99]),
    "learning_rate": _float_param(0.0, 10.0, [1e-4, 1e-2], low_open=True),
    "betas": ([(0.9, 0.999), [0.5, 0.9], (0.0, 0.0), (np.float32(0.5), 0.99)],
              [(0.9,), (0.9, 0.99, 0.9), (1.0, 0.9), (0.9, 1.0), (-0.1, 0.9), ("a", 0.9), (0.9, None), 0.9, None,
               "ab", (float("nan"), 0.9)]),
    "noise_dim": ([None, 1, 3], [0, -1, 4097, 1.5, "2", True, float("nan")]),
    "derive_indicators": ([True, False, np.bool_(True), 0, 1], ["yes", None, 2, 0.5, [True], float("nan")]),
    "mass_at_bounds": ([True, False, np.bool_(True), 0, 1], ["yes", None, 2, 0.5, [True], float("nan")]),
    "range_margin": ([0.0, 0.1, 1, np.float32(0.5), None], [-0.1, float("nan"), float("inf"), "0.1", True, [0.1]]),
    "random_state": (SEEDS_OK, SEEDS_BAD),
    "n_jobs": ([None, 1, 2, -1, np.int64(1)], [0, 1.5, True, "2", [1], float("nan")]),
    "verbose": ([False, True, 0, 1], ["yes", None, 1.5, [True], float("nan")]),
    # a valid epsilon needs declared column facts, which the generic fit does not give
    "epsilon": ([None], [0.0, -1.0, float("nan"), float("inf"), "3", True, [1.0]]),
    "delta": ([None, 1e-9, 1e-5], [0.0, 1.0, -1e-3, float("nan"), "0.1", True, [1e-5]]),
    "max_grad_norm": _float_param(0.0, 1e6, [0.1, 1.0], low_open=True),
}


@st.composite
def param_sets(draw, spec, small):
    """Parameters from spec: every one valid, or one invalid.  Returns
    (params, name of the invalid one or None)."""
    params = dict(small)
    for name in draw(st.lists(st.sampled_from(sorted(spec)), max_size=4, unique=True)):
        params[name] = draw(st.sampled_from(spec[name][0]))
    bad = draw(st.one_of(st.none(), st.sampled_from(sorted(spec))))
    if bad is not None:
        params[bad] = draw(st.sampled_from(spec[bad][1]))
    return params, bad


# ================================================================= GANITE


def _check_fitted(model, n, K, binary):
    mu = model.predict()
    assert mu.shape == (n, K) and mu.dtype == np.float64 and np.all(np.isfinite(mu))
    if binary:
        assert np.all((mu >= 0) & (mu <= 1))
    eff = model.effect(T0=model.classes_[0], T1=model.classes_[1])
    assert eff.shape == (n,)
    np.testing.assert_array_equal(eff, mu[:, 1] - mu[:, 0])
    assert model.ate(T0=model.classes_[0], T1=model.classes_[1]) == np.mean(mu[:, 1] - mu[:, 0])
    e = model.propensity_fit_
    assert e.shape == (n, K) and np.all(np.isfinite(e)) and np.allclose(e.sum(axis=1), 1.0)
    assert len(model.classes_) == K


@examples(120)
@given(st.data())
def test_ganite_fit_data(data):
    which = data.draw(st.sampled_from(["X", "Y", "T", "T"]))
    X, Y, T = X0, Y0, T0
    if which == "X":
        X = data.draw(matrices(N, D, X0))
        kind, canon = spec_matrix(X, N)
    elif which == "Y":
        Y = data.draw(vectors(N, Y0))
        kind, canon = spec_vector(Y, N)
    else:
        T = data.draw(label_vectors(N, T0))
        kind, canon = spec_labels(T, N)
    model = cgan.GANITE(n_estimators=data.draw(st.sampled_from([1, 2])), **TINY)
    with unchanged(X, Y, T):
        result, exc = attempt(model.fit, Y, T, X=X)
    if not expect(kind, result, exc, which):
        return
    assert result is model
    K = len(model.classes_)
    _check_fitted(model, N, K, model.outcome_type_ == "binary")
    if canon is not None:
        # the same values as plain float64 (or plain labels) give the same bits
        args = {"X": X0, "Y": Y0, "T": T0}
        args[which] = canon
        twin = _quiet(cgan.GANITE(**model.get_params()).fit, args["Y"], args["T"], X=args["X"])
        np.testing.assert_array_equal(model.predict(), twin.predict())


@examples(60)
@given(param_sets(GANITE_PARAMS, dict(TINY, n_estimators=1)))
def test_ganite_fit_parameters(case):
    params, bad = case
    model = cgan.GANITE(**params)
    assert all(model.get_params()[k] is v for k, v in params.items())   # stored as given, checked by fit
    result, exc = attempt(model.fit, Y0, T0, X=X0)
    # each valid alone, but AdamW's decay factor 1 - lr * decay would fall below 0
    over = bad not in ("learning_rate", "weight_decay") and \
        float(params.get("learning_rate", 1e-3)) * float(params.get("weight_decay", 0.1)) > 1
    if bad is None and over:
        bad = "weight_decay"
    if bad is None:
        assert exc is None, f"valid parameters {params} raised {type(exc).__name__}: {exc}"
        _check_fitted(model, N, 2, False)
    else:
        assert exc is not None, f"{bad}={params[bad]!r} was accepted"
        # with one more invalid parameter, either error may come first
        assert names(exc, bad) or (over and names(exc, "weight_decay")), \
            f"{type(exc).__name__} does not name {bad}: {exc}"


def _model(data):
    key = data.draw(st.sampled_from(sorted(FITTED)))
    return FITTED[key]


@examples(80)
@given(st.data())
def test_ganite_predict_effect_ate_on_new_X(data):
    model, T, Y, columns = _model(data)
    X = data.draw(matrices(N, D, X0, names=columns))
    kind, canon = spec_matrix(X, None, D, columns=columns if columns else None)
    if X is None:
        kind = "valid"    # X=None: the training rows
    K = len(model.classes_)
    t0, t1 = model.classes_[0], model.classes_[K - 1]
    with unchanged(X):
        mu, exc = attempt(model.predict, X)
        eff, exc2 = attempt(model.effect, X, T0=t0, T1=t1)
        ate, exc3 = attempt(model.ate, X, T0=t0, T1=t1)
    assert (exc is None) == (exc2 is None) == (exc3 is None), (exc, exc2, exc3)
    if not expect(kind, mu, exc, "X"):
        return
    m = len(mu)
    assert mu.shape == (m, K) and mu.dtype == np.float64 and np.all(np.isfinite(mu))
    np.testing.assert_array_equal(eff, mu[:, K - 1] - mu[:, 0])
    assert ate == np.mean(mu[:, K - 1] - mu[:, 0])
    if canon is not None:
        frame = pd.DataFrame(canon, columns=columns) if columns else canon
        np.testing.assert_array_equal(mu, model.predict(frame))
    if X is None:
        np.testing.assert_array_equal(mu, model.predict())


@examples(100)
@given(st.data())
def test_ganite_methods_on_rows(data):
    """score, sample, ate with T and Y, and the AIPW inference on new rows:
    one of X, T, Y perturbed."""
    model, Tb, Yb, columns = _model(data)
    binary = model.outcome_type_ == "binary"
    which = data.draw(st.sampled_from(["X", "T", "Y", "T"]))
    X, T, Y = (pd.DataFrame(X0, columns=columns) if columns else X0), Tb, Yb
    if which == "X":
        X = data.draw(matrices(N, D, X0, names=columns))
        kind, _ = spec_matrix(X, N, D, columns=columns)
    elif which == "T":
        T = data.draw(label_vectors(N, Tb))
        kind, _ = spec_labels(T, N, classes=list(model.classes_))
    else:
        Y = data.draw(vectors(N, Yb))
        kind, _ = spec_vector(Y, N, binary=binary)
    method = data.draw(st.sampled_from(["score", "sample", "ate", "inference"]))
    if which == "Y" and Y is None and method in ("sample", "ate"):
        kind = "valid"   # with T alone, sample draws the observed arm's outcome and the plug-in never reads Y
    K = len(model.classes_)
    with unchanged(X, T, Y):
        if method == "score":
            out, exc = attempt(model.score, Y, T, X=X)
        elif method == "sample":
            k = data.draw(st.integers(1, 3))
            out, exc = attempt(model.sample, X, n_samples=k, random_state=0, T=T, Y=Y)
        elif method == "ate":
            target = data.draw(st.sampled_from(["ate", "att", "atc"]))
            out, exc = attempt(model.ate, X, model.classes_[0], model.classes_[1], T=T, Y=Y, target=target)
        else:
            out, exc = attempt(model.ate_inference, X, model.classes_[0], model.classes_[1], T=T, Y=Y)
    # estimands over rows that received an arm fail, naming the arm, when no row did
    extra = ("T0", "T1", "target") if which == "T" and method in ("ate", "inference") else ()
    if kind == "valid" and exc is not None and extra and names(exc, *extra) and "none of" in str(exc):
        return
    if not expect(kind, out, exc, which, *extra):
        return
    if method == "score":
        assert isinstance(out, float) and math.isfinite(out) and out <= 0
    elif method == "sample":
        assert out.shape == (k, N, K) and out.dtype == np.float64 and np.all(np.isfinite(out))
        codes = np.array([[_label_equal(t, c) for c in model.classes_] for t in _column(T).tolist()])
        # the draws keep the observed outcomes, bit for bit
        for s in range(k):
            if Y is not None:
                np.testing.assert_array_equal(out[s][codes], np.asarray(_column(Y), dtype=np.float64))
        if binary:
            assert np.all((out == 0) | (out == 1))
    elif method == "ate":
        assert isinstance(out, float) and math.isfinite(out)
    else:
        assert isinstance(out, cgan.ATEResult) and out.n == N and out.method == "aipw"
        assert math.isfinite(out.estimate) and out.stderr >= 0 and out.lo <= out.estimate <= out.hi


@examples(60)
@given(st.data())
def test_ganite_treatment_labels_of_effect_and_ate(data):
    model, _, _, _ = _model(data)
    classes = list(model.classes_)
    pool = classes + [np.str_(classes[0]) if isinstance(classes[0], str) else np.int8(classes[0]),
                      float(classes[-1]) if not isinstance(classes[-1], str) else classes[-1] + " ",
                      True, False, 2, -1, 0.5, "0", "ctl", "high", None, float("nan"), [classes[0]],
                      np.array(classes), np.array([classes[0]]), b"ctl", 1j, {}]
    T0v = data.draw(st.sampled_from(pool))
    T1v = data.draw(st.sampled_from(pool))
    which = data.draw(st.sampled_from(["T0", "T1"]))
    if which == "T0":
        T1v = classes[-1]
        kind = spec_label(T0v, classes)
    else:
        T0v = classes[0]
        kind = spec_label(T1v, classes, default_ok=len(classes) == 2)
    fn = data.draw(st.sampled_from(["effect", "ate", "ate_inference"]))
    out, exc = attempt(getattr(model, fn), None, T0v, T1v)
    if not expect(kind, out, exc, which):
        return
    if fn == "effect":
        assert out.shape == (N,) and np.all(np.isfinite(out))
    elif fn == "ate":
        assert math.isfinite(out)
    else:
        assert math.isfinite(out.estimate) and out.lo <= out.hi


CHOICE_BAD = ["", "ATE", "plug-in", None, 1, b"ate", ["ate"], float("nan")]


@examples(70)
@given(st.data())
def test_ganite_inference_arguments(data):
    model, _, _, _ = _model(data)
    K = len(model.classes_)
    valid = {
        "alpha": [0.05, 0.5, 1e-6, 0.999, np.float32(0.1), 1e-300],
        "method": ["aipw", "bootstrap"],
        "target": ["ate", "att", "atc"],
        "n_bootstrap": [2, 3, np.int8(2)],
        "n_jobs": [None, 1, 2, -1],
        "random_state": [None, 0, np.random.default_rng(3)],
    }
    invalid = {
        "alpha": [0, 0.0, 1, 1.0, -0.1, 1.5, *BAD_SCALARS],
        "method": ["plugin", "Bootstrap", *CHOICE_BAD],
        "target": ["ato", *CHOICE_BAD],
        "n_bootstrap": [1, 0, -3, 2.0, 2**24 + 1, *BAD_SCALARS],
        "n_jobs": [0, 1.5, True, "1", [2]],
        "random_state": SEEDS_BAD,
    }
    kw = {k: data.draw(st.sampled_from(v)) for k, v in valid.items() if data.draw(st.booleans())}
    kw.setdefault("n_bootstrap", 2)
    bad = data.draw(st.one_of(st.none(), st.sampled_from(sorted(invalid))))
    if bad:
        kw[bad] = data.draw(st.sampled_from(invalid[bad]))
    T0v, T1v = model.classes_[0], model.classes_[K - 1]
    fn = data.draw(st.sampled_from(["ate_inference", "ate_interval"]))
    out, exc = attempt(getattr(model, fn), None, T0v, T1v, **kw)
    if not expect("invalid" if bad else "valid", out, exc, bad or "-"):
        return
    result = out if fn == "ate_inference" else attempt(model.ate_inference, None, T0v, T1v, **kw)[0]
    assert result.method == kw.get("method", "aipw") and result.target == kw.get("target", "ate")
    assert result.alpha == float(kw.get("alpha", 0.05)) and result.n == N
    assert all(math.isfinite(v) for v in (result.estimate, result.stderr, result.lo, result.hi))
    assert result.lo <= result.hi and result.stderr >= 0
    if result.method == "aipw":
        assert result.lo <= result.estimate <= result.hi
        assert model.ate(None, T0v, T1v, method="aipw", target=result.target) == result.estimate
    repr(result)
    if fn == "ate_interval":
        assert out == (result.lo, result.hi) or isinstance(kw.get("random_state"), np.random.Generator)


THRESHOLDS = [0.01, 0.2, 0.4999, np.float32(0.1), 1e-9, 0, 0.5, -0.1, 1.0, *BAD_SCALARS]


def _threshold_kind(threshold):
    ok = _real_scalar(threshold) and not isinstance(threshold, (bool, np.bool_)) and 0 < float(threshold) < 0.5
    return "valid" if ok else "invalid"


@examples(20)
@given(st.data())
def test_ganite_plot_overlap(data):
    if plt is None:
        pytest.skip("needs matplotlib")
    model, _, _, _ = _model(data)
    K = len(model.classes_)
    # mostly valid thresholds and bins, so that the checks of ax are reached
    threshold = data.draw(st.sampled_from(THRESHOLDS[:5] * 4 + THRESHOLDS))
    kind = _threshold_kind(threshold)
    bins = data.draw(st.sampled_from([1, 5, 30, np.int16(7)] * 4 + [0, -1, 2.5, 10**5, *BAD_SCALARS]))
    bins_ok = isinstance(bins, (int, np.integer)) and not isinstance(bins, bool) and 1 <= bins <= 10_000
    ax = data.draw(st.sampled_from(["none", "axes", "wrong-count", "string", "list-of-strings", "int"]))
    if ax in ("axes", "wrong-count"):
        _, grid = plt.subplots(1, (1 if K == 2 else K) + (ax == "wrong-count"), squeeze=False)
        axv = grid[0][0] if (K == 2 and ax == "axes") else list(grid[0])
    else:
        axv = {"none": None, "string": "ax", "list-of-strings": ["a"] * K, "int": 3}[ax]
    bad = [n for n, ok in (("threshold", kind == "valid"), ("bins", bins_ok),
                           ("ax", ax in ("none", "axes"))) if not ok]
    try:
        out, exc = attempt(model.plot_overlap, axv, bins=bins, threshold=threshold)
        if expect("invalid" if bad else "valid", out, exc, *(bad or ["-"])):
            axes = [out] if K == 2 else list(out)
            assert len(axes) == (1 if K == 2 else K) and all(hasattr(a, "hist") for a in axes)
    finally:
        plt.close("all")


@examples(30)
@given(st.data())
def test_ganite_overlap_report(data):
    model, _, _, _ = _model(data)
    threshold = data.draw(st.sampled_from(THRESHOLDS))
    kind = _threshold_kind(threshold)
    out, exc = attempt(model.overlap_report, threshold)
    if not expect(kind, out, exc, "threshold"):
        return
    assert list(out.index) == list(model.classes_) and out["n_received"].sum() == N
    q = out[["min", "5%", "25%", "50%", "75%", "95%", "max"]].to_numpy()
    assert np.all(np.diff(q, axis=1) >= 0) and np.all((q >= 0) & (q <= 1))
    assert np.all((out["share_extreme"] >= 0) & (out["share_extreme"] <= 1))
    assert 0 <= out.attrs["share_extreme_any"] <= 1


# ============================================================ module API


@examples(40)
@given(st.data())
def test_module_shortcuts(data):
    what = data.draw(st.sampled_from(["fit", "ate-data", "ate-model", "sample"]))
    if what == "sample":
        model_arg = data.draw(st.sampled_from(["ganite", "wgan", "none", "string", "class"]))
        m = {"ganite": GANITE_CONT, "wgan": cgan.CausalWGAN(), "none": None, "string": "model",
             "class": cgan.GANITE}[model_arg]
        k = data.draw(st.sampled_from([1, 2, 0, -1, 1.0, None, "2", 2**21]))
        k_ok = isinstance(k, int) and 1 <= k <= 2**20
        rs = data.draw(st.sampled_from([None, 0, 7, np.random.default_rng(1), -1, 1.5, "0", True]))
        rs_ok = rs is None or isinstance(rs, np.random.Generator) or (type(rs) is int and rs >= 0)
        observed = data.draw(st.sampled_from(["T and Y", "T", "neither", "Y"]))
        kw = {"T": T0, "Y": Y0} if observed == "T and Y" else {"T": T0} if observed == "T" else \
            {"Y": Y0} if observed == "Y" else {}
        # in the order sample checks them
        bad = [n for n, ok in (("model", model_arg == "ganite"), ("n_samples", k_ok), ("Y", observed != "Y"),
                               ("random_state", rs_ok)) if not ok]
        out, exc = attempt(cgan.sample, m, X0, n_samples=k, random_state=rs, **kw)
        if expect("invalid" if bad else "valid", out, exc, *(bad[:1] or ["-"])):
            assert out.shape == (k, N, 2) and np.all(np.isfinite(out))
            if observed == "T and Y":
                np.testing.assert_array_equal(out[:, np.arange(N), np.asarray(T0, dtype=int)],
                                              np.broadcast_to(np.float32(Y0), (k, N)))
        return
    extra = data.draw(st.sampled_from([{}, {"n_estimators": 2}, {"noise_dim": 1}, {"no_such": 1},
                                       {"hidden_size": 0}, {"X ": 1}]))
    bad = [k for k in extra if k not in GANITE_PARAMS or extra[k] == 0]
    params = {**TINY, "n_estimators": 1, **extra}
    if what == "fit":
        out, exc = attempt(cgan.fit, Y0, T0, X=X0, **params)
        if expect("invalid" if bad else "valid", out, exc, *(bad or ["-"])):
            twin = _quiet(cgan.GANITE(**params).fit, Y0, T0, X=X0)
            np.testing.assert_array_equal(out.predict(), twin.predict())
        return
    if what == "ate-model":
        kw = data.draw(st.sampled_from([{}, {"method": "aipw"}, {"target": "att"}, {"T1": 1}, {"T1": 5},
                                        {"method": "bootstrap"}, {"X": X0}, {"X": X0[:, :2]}]))
        out, exc = attempt(cgan.ate, GANITE_CONT, **kw)
        expected, exc2 = attempt(GANITE_CONT.ate, **kw)
        assert (exc is None) == (exc2 is None) and (exc is None or str(exc) == str(exc2))
        assert exc is not None or out == expected
        return
    form = data.draw(st.sampled_from(["ok", "no-X", "no-T", "extra-positional", "estimate-kw"]))
    if form == "ok":
        out, exc = attempt(cgan.ate, Y0, T0, X=X0, **params)
        if expect("invalid" if bad else "valid", out, exc, *(bad or ["-"])):
            assert out == _quiet(cgan.GANITE(**params).fit, Y0, T0, X=X0).ate()
    elif form == "no-X":
        out, exc = attempt(cgan.ate, Y0, T0, **params)
        expect("invalid", out, exc, "X")
    elif form == "no-T":
        out, exc = attempt(cgan.ate, Y0, X=X0, **params)
        expect("invalid", out, exc, "T")
    elif form == "extra-positional":
        out, exc = attempt(cgan.ate, Y0, T0, X0, X=X0, **params)
        expect("invalid", out, exc, "X", "T")
    else:
        method = data.draw(st.sampled_from(["plugin", "aipw", "bogus"]))
        out, exc = attempt(cgan.ate, Y0, T0, X=X0, method=method, target="att", **params)
        bad = bad or (["method"] if method == "bogus" else [])
        if expect("invalid" if bad else "valid", out, exc, *(bad or ["-"])):
            assert math.isfinite(out)


@examples(30)
@given(st.data())
def test_ate_result_fields(data):
    good = dict(estimate=1.0, stderr=0.5, lo=0.0, hi=2.0, alpha=0.05, method="aipw", target="ate", n=10,
                propensity_clip=0.01)
    bad_values = {
        "estimate": ["1", None, [1.0], 1j], "stderr": [-1.0, "0.5", None, float("nan")],
        "lo": ["0", None], "hi": ["2", None, -1.0], "alpha": [0.0, 1.0, "0.05", None, True],
        "method": ["plugin", None, 1], "target": ["ATE", None], "n": [0, -1, 1.5, "10", None, True],
        "propensity_clip": [-0.1, 1.0, "0.01", float("nan")],
    }
    ok_values = {"estimate": [np.float64(2.0), 3, -1e300], "stderr": [0.0, float("inf"), np.float32(1)],
                 "lo": [-float("inf"), np.float64(0.5)], "hi": [float("inf"), 2]}
    kw = dict(good)
    field = data.draw(st.sampled_from(sorted(bad_values)))
    is_bad = data.draw(st.booleans()) or field not in ok_values
    kw[field] = data.draw(st.sampled_from(bad_values[field] if is_bad else ok_values[field]))
    out, exc = attempt(cgan.ATEResult, **kw)
    if expect("invalid" if is_bad else "valid", out, exc, field):
        text = repr(out)
        assert text.startswith("ATEResult(ATE by aipw")


# ============================================================= CausalWGAN


def _wgan_frame(n=12):
    rng = np.random.default_rng(5)
    return pd.DataFrame({
        "t": np.arange(n) % 2,
        "y": np.abs(rng.normal(size=n)).round(3),
        "age": rng.integers(20, 60, n),
        "group": np.array(["u", "v", "w"])[np.arange(n) % 3],
        "score": rng.normal(size=n).round(3),
    })


WFRAME = _wgan_frame()
WTINY = dict(hidden_size=3, n_hidden=1, n_iter=2, batch_size=4, critic_steps=1, random_state=0)
WGAN = cgan.CausalWGAN(**WTINY).fit(WFRAME, treatment="t", outcome="y", bounds={"y": (0, None)})

# (name, change to WFRAME, verdict, names the error may use)
FRAME_CHANGES = [
    ("same", lambda d: d, "valid", ()),
    ("index", lambda d: d.set_index(np.arange(100, 100 + len(d))), "valid", ()),
    ("string-index", lambda d: d.set_index(np.array([f"r{i}" for i in range(len(d))])), "valid", ()),
    ("shuffled", lambda d: d.sample(frac=1.0, random_state=1), "valid", ()),
    ("int-names", lambda d: d.rename(columns={"age": 7}), "valid", ()),
    ("bool-treatment", lambda d: d.assign(t=d["t"] == 1), "valid", ()),
    ("string-treatment", lambda d: d.assign(t=np.where(d["t"] == 1, "treated", "control")), "valid", ()),
    ("three-arms", lambda d: d.assign(t=np.arange(len(d)) % 3), "valid", ()),
    ("category-treatment", lambda d: d.assign(t=d["t"].astype("category")), "valid", ()),
    ("category-covariate", lambda d: d.assign(group=d["group"].astype("category")), "valid", ()),
    ("float32", lambda d: d.assign(score=d["score"].astype(np.float32)), "valid", ()),
    ("int8", lambda d: d.assign(age=d["age"].astype(np.int8)), "valid", ()),
    ("bool-covariate", lambda d: d.assign(flag=np.arange(len(d)) % 4 == 0), "valid", ()),
    # a numeric column with at most two values counts as categorical, so a
    # constant one is a category of a single level
    ("constant-continuous", lambda d: d.assign(score=1.5), "either", ("score",)),
    ("nullable", lambda d: d.assign(age=d["age"].astype("Int64")), "valid", ()),
    ("huge-but-finite", lambda d: d.assign(score=d["score"] * 1e30), "valid", ()),
    ("binary-outcome", lambda d: d.assign(y=np.arange(len(d)) % 2), "valid", ()),
    ("no-rows", lambda d: d.iloc[:0], "invalid", ("df",)),
    ("few-rows", lambda d: d.iloc[:3], "invalid", ("batch_size",)),
    ("nan", lambda d: d.assign(score=np.where(np.arange(len(d)) == 2, np.nan, d["score"])), "invalid",
     ("score",)),
    ("inf", lambda d: d.assign(score=np.where(np.arange(len(d)) == 2, np.inf, d["score"])), "invalid",
     ("score",)),
    ("-inf-outcome", lambda d: d.assign(y=np.where(np.arange(len(d)) == 1, -np.inf, d["y"])), "invalid",
     ("y",)),
    ("beyond-float32", lambda d: d.assign(score=d["score"] * 1e300), "invalid", ("score",)),
    ("nullable-na", lambda d: d.assign(age=pd.array([None] + list(d["age"][1:]), dtype="Int64")), "invalid",
     ("age",)),
    ("none-in-strings", lambda d: d.assign(group=[None] + list(d["group"][1:])), "invalid", ("group",)),
    ("mixed-objects", lambda d: d.assign(group=[1] + list(d["group"][1:])), "invalid", ("group",)),
    ("complex", lambda d: d.assign(score=d["score"] + 1j), "invalid", ("score",)),
    ("one-arm", lambda d: d.assign(t=0), "invalid", ("t", "treatment")),
    ("nan-treatment", lambda d: d.assign(t=np.where(np.arange(len(d)) == 0, np.nan, d["t"])), "invalid",
     ("t", "treatment")),
    ("single-level-category", lambda d: d.assign(group="u"), "invalid", ("group",)),
    ("duplicate-names", lambda d: d.set_axis(["t", "y", "age", "age", "score"], axis=1), "invalid",
     ("df", "age")),
    ("datetime", lambda d: d.assign(when=pd.Timestamp("2020-01-01") + pd.to_timedelta(np.arange(len(d)), "D")),
     "either", ("when",)),
]


@examples(70)
@given(st.data())
def test_wgan_fit_data(data):
    name, change, kind, culprits = data.draw(st.sampled_from(FRAME_CHANGES))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = change(WFRAME.copy())
    model = cgan.CausalWGAN(**WTINY)
    with unchanged(df):
        out, exc = attempt(model.fit, df, treatment="t", outcome="y")
    if not expect(kind, out, exc, *(culprits or ["-"])):
        return
    assert out is model
    _check_wgan(model, df)


def _check_wgan(model, df, bounds=None):
    classes = np.unique(df[model.treatment_].to_numpy())
    assert list(model.classes_) == list(classes)
    syn = model.sample(7, random_state=1)
    labels = [model._potential_label(c) for c in model.classes_]
    used = [c for c in df.columns if c in (model.treatment_, model.outcome_, *model.covariates_)]
    assert list(syn.columns) == used + labels and len(syn) == 7
    for c in used:
        col = syn[c]
        assert not col.isna().any(), c
        if c == model.treatment_ or c not in (model.outcome_, *model.covariates_) or \
                df[c].dtype.kind not in "biuf" or df[c].nunique() <= 2:
            assert set(col.tolist()) <= set(df[c].tolist()), c
        else:
            assert np.all(np.isfinite(col.to_numpy(dtype=np.float64))), c
    for lab in labels:
        assert np.all(np.isfinite(syn[lab].to_numpy(dtype=np.float64)))
    # the outcome is the potential outcome of the arm received
    for c, lab in zip(model.classes_, labels):
        rows = (syn[model.treatment_] == c).to_numpy()
        np.testing.assert_array_equal(syn[model.outcome_].to_numpy()[rows], syn[lab].to_numpy()[rows])
    if len(model.classes_) == 2 and df[model.outcome_].dtype.kind in "biuf":
        a = model.ate(n=20, random_state=3)
        again = model.sample(20, random_state=3)
        assert a == float((again[labels[1]].to_numpy(float) - again[labels[0]].to_numpy(float)).mean())
        assert math.isfinite(model.att(n=20, random_state=4))


@examples(70)
@given(st.data())
def test_wgan_fit_arguments(data):
    df = WFRAME
    arg = data.draw(st.sampled_from(["treatment", "outcome", "covariates", "categorical", "bounds", "log",
                                     "params"]))
    kw = dict(treatment="t", outcome="y")
    if arg == "log":
        # y and score have lower bounds; age has none
        kw["bounds"] = {"y": (0, None), "score": (-10.0, None)}
    if arg == "params":
        params, bad = data.draw(param_sets(WGAN_PARAMS, WTINY))
        model = cgan.CausalWGAN(**params)
        out, exc = attempt(model.fit, df, **kw)
        if expect("invalid" if bad else "valid", out, exc, bad or "-"):
            _check_wgan(model, df)
        return
    choices = {
        "treatment": [("t", "valid"), ("group", "valid"), ("y", "invalid"), ("nope", "invalid"),
                      (None, "invalid"), (["t"], "invalid"), (0, "invalid"), (("t",), "invalid")],
        "outcome": [("y", "valid"), ("score", "valid"), ("t", "invalid"), ("nope", "invalid"),
                    (None, "invalid"), (["y"], "invalid"), (1.5, "invalid")],
        "covariates": [(None, "valid"), (["age"], "valid"), (("age", "group"), "valid"),
                       (np.array(["score"]), "valid"), (pd.Index(["age"]), "valid"), ([], "invalid"),
                       (["nope"], "invalid"), (["t"], "invalid"), ("age", "invalid"), (5, "invalid"),
                       ([["age"]], "invalid"), (["age", "age"], "invalid")],
        "categorical": [(None, "valid"), (["group"], "valid"), (["group", "age"], "valid"),
                        ([], "invalid", "group"),
                        (["nope"], "invalid"), ("group", "invalid"), (3, "invalid"), ([["group"]], "invalid")],
        "bounds": [(None, "valid"), ({}, "valid"), ({"y": (0, None)}, "valid"), ({"y": [None, 100]}, "valid"),
                   ({"score": (-10.0, 10.0)}, "valid"), ({"nope": (0, 1)}, "invalid"),
                   ({"y": (1, None)}, "invalid"), ({"y": (0, 0.1)}, "invalid"), ({"y": 5}, "invalid"),
                   ({"y": (0,)}, "invalid"), ({"y": ("a", None)}, "invalid"), ({"y": (np.nan, None)}, "invalid"),
                   ({"y": (2, 1)}, "invalid"), ({"group": (0, 1)}, "invalid"), ([("y", (0, 1))], "invalid"),
                   ("y", "invalid"), ({"y": (0, np.inf)}, "invalid")],
        "log": [(None, "valid"), ([], "valid"), (["y"], "valid"), (("y", "score"), "valid"),
                (np.array(["score"]), "valid"), (["age"], "invalid"), (["group"], "invalid"),
                (["t"], "invalid"), (["nope"], "invalid"), ("y", "invalid"), (5, "invalid"),
                ([["y"]], "invalid"), (["y", "y"], "invalid"), ({"y": True}, "invalid")],
    }
    value, kind, *also = data.draw(st.sampled_from(choices[arg]))
    kw[arg] = value
    model = cgan.CausalWGAN(**WTINY)
    out, exc = attempt(model.fit, df, **kw)
    if expect(kind, out, exc, arg, *also):
        _check_wgan(model, df)


@examples(60)
@given(st.data())
def test_wgan_methods(data):
    what = data.draw(st.sampled_from(["sample", "ate", "att", "compare"] + (["plot_compare"] if plt else [])))
    n_ok = [1, 5, np.int64(3)]
    n_bad = [0, -1, 1.5, "5", None, True, 2**40, float("nan")]
    if what == "sample":
        bad = data.draw(st.sampled_from([None, "n", "random_state"]))
        n = data.draw(st.sampled_from(n_bad if bad == "n" else n_ok))
        rs = data.draw(st.sampled_from(SEEDS_BAD if bad == "random_state" else [None, 0, 5]))
        out, exc = attempt(WGAN.sample, n, random_state=rs)
        if expect("invalid" if bad else "valid", out, exc, bad or "-"):
            assert len(out) == n and not out.isna().any().any()
        return
    if what in ("ate", "att"):
        arm_ok = [None, 0, 1, np.int64(1), True]
        arm_bad = [2, "1", 0.5, float("nan"), [1], np.array([0, 1]), "t"]
        bad = data.draw(st.sampled_from([None, "T0", "T1", "n", "random_state"]))
        kw = {"T0": data.draw(st.sampled_from(arm_bad if bad == "T0" else arm_ok)),
              "T1": data.draw(st.sampled_from(arm_bad if bad == "T1" else arm_ok)),
              "n": data.draw(st.sampled_from(n_bad if bad == "n" else n_ok)),
              "random_state": data.draw(st.sampled_from(SEEDS_BAD if bad == "random_state" else [0, None]))}
        out, exc = attempt(getattr(WGAN, what), **kw)
        if what == "att" and not bad and exc is not None and "none of" in str(exc):
            assert names(exc, "n"), exc    # a small draw may hold no treated unit
            return
        if expect("invalid" if bad else "valid", out, exc, bad or "-"):
            assert isinstance(out, float) and (math.isfinite(out) or what == "att")
        return
    change = data.draw(st.sampled_from(["same", "subset", "missing-column", "extra-column", "strings-in-numbers",
                                        "nan", "not-a-frame", "no-rows", "new-level"]))
    df = WFRAME.copy()
    verdict, culprit = "valid", ("df",)
    if change == "subset":
        df = df.iloc[:5]
    elif change == "missing-column":
        df = df.drop(columns=["score"])
        verdict, culprit = "invalid", ("df", "score")
    elif change == "extra-column":
        df = df.assign(extra=1.0)
    elif change == "strings-in-numbers":
        df = df.assign(score=df["score"].astype(str) + "x")
        verdict, culprit = "invalid", ("df", "score")
    elif change == "nan":
        df = df.assign(score=np.nan)
        verdict, culprit = "invalid", ("df", "score")
    elif change == "not-a-frame":
        df = df.to_numpy()
        verdict = "invalid"
    elif change == "no-rows":
        df = df.iloc[:0]
        verdict = "invalid"
    elif change == "new-level":
        df = df.assign(group="zz")
        verdict = "either"
    n_arg = data.draw(st.sampled_from([None, 50] if verdict == "valid" or data.draw(st.booleans()) else [0, "3"]))
    if n_arg in (0, "3"):
        verdict, culprit = ("invalid", ("n",)) if verdict == "valid" else (verdict, culprit + ("n",))
    with unchanged(df):
        if what == "compare":
            out, exc = attempt(WGAN.compare, df, n=n_arg)
        else:
            cols = data.draw(st.sampled_from([None, ["y"], ["nope"], "y"]))
            if cols == ["y"] and change in ("missing-column", "strings-in-numbers", "nan"):
                verdict, culprit = "valid", ()     # only the plotted columns are read
            if cols not in (None, ["y"]):
                verdict, culprit = "invalid", culprit + ("columns",)
            try:
                out, exc = attempt(WGAN.plot_compare, df, columns=cols)
            finally:
                plt.close("all")
            expect(verdict, out, exc, *(culprit or ("-",)))
            return
    if not expect(verdict, out, exc, *culprit):
        return
    assert list(out.index) == ["t", "age", "group", "score", "y"]
    assert np.all(np.isfinite(out["distance"].to_numpy(float))) and np.all(out["distance"] >= 0)
    assert 0 <= out.attrs["max_corr_diff"] <= 2


def _diff_in_means(X, T, Y):
    if not (np.any(T == 1) and np.any(T == 0)):
        return 0.0     # a tiny synthetic data set may miss an arm
    return float(Y[T == 1].mean() - Y[T == 0].mean())


@examples(50)
@given(st.data())
def test_evaluate(data):
    valid = {
        "synthesizer": [WGAN], "estimators": [{"dm": _diff_in_means},
                                              {"dm": _diff_in_means, "ci": lambda X, T, Y: (0.0, -1.0, 1.0)}],
        "n_datasets": [1, 2, np.int32(2)], "n": [None, 8, 2], "n_jobs": [1, 2],
        "random_state": [None, 0, np.random.default_rng(0)], "T0": [None, 0], "T1": [None, 1, np.int64(1)],
    }
    invalid = {
        "synthesizer": [GANITE_CONT, cgan.CausalWGAN(), None, "wgan", cgan.CausalWGAN],
        "estimators": [{}, [], None, {"a": 1}, {"bad": lambda X, T, Y: "abc"}, {"bad": lambda X, T, Y: None},
                       {"bad": lambda X, T, Y: (1.0, 2.0)}, {"bad": lambda X, T, Y: [1.0, 0.0, 2.0, 3.0]},
                       _diff_in_means],
        "n_datasets": [0, -1, 1.5, "2", None, True, 2**21],
        "n": [1, 0, -5, 2.5, "8", True],
        "n_jobs": [0, -1, 1.5, None, "2", True],
        "random_state": SEEDS_BAD,
        "T0": [2, "0", 0.5, [0], float("nan")],
        "T1": [2, "1", 1.5, [1], float("nan")],
    }
    kw = {k: data.draw(st.sampled_from(v)) for k, v in valid.items()}
    kw["n_datasets"] = min(int(kw["n_datasets"]), 2)
    bad = data.draw(st.one_of(st.none(), st.sampled_from(sorted(invalid))))
    culprits = [bad] if bad else ["-"]
    if bad:
        kw[bad] = data.draw(st.sampled_from(invalid[bad]))
        if bad == "estimators" and isinstance(kw[bad], dict) and kw[bad]:
            culprits = ["estimators", *kw[bad]]
    if kw["T0"] is not None and kw["T1"] is not None and _label_equal(kw["T0"], kw["T1"]) and not bad:
        return
    out, exc = attempt(cgan.evaluate, **kw)
    if not expect("invalid" if bad else "valid", out, exc, *culprits):
        return
    assert list(out.index) == list(kw["estimators"])
    truths = out.attrs["true_effects"]
    assert truths.shape == (kw["n_datasets"],) and np.all(np.isfinite(truths))
    for name, row in out.iterrows():
        assert row["rmse"] >= abs(row["bias"]) - 1e-12
        assert (name == "ci") == (not math.isnan(row["coverage"]))


# ============================================================ persistence


def _same_model(a, b):
    """a and b predict (GANITE) or sample (CausalWGAN) the same bits."""
    assert type(a) is type(b)
    if isinstance(a, cgan.GANITE):
        np.testing.assert_array_equal(a.predict(), b.predict())
    else:
        pd.testing.assert_frame_equal(a.sample(6, random_state=1), b.sample(6, random_state=1))


@examples(50)
@given(st.data())
def test_params_and_persistence(data):
    """get_params/set_params, dumps/loads and save/load of both estimators."""
    model = data.draw(st.sampled_from([GANITE_CONT, GANITE_BIN3, WGAN]))
    spec = GANITE_PARAMS if isinstance(model, cgan.GANITE) else WGAN_PARAMS
    what = data.draw(st.sampled_from(["set_params", "save", "load", "loads"]))
    if what == "set_params":
        clone = type(model)(**model.get_params())
        assert clone.get_params().keys() == model.get_params().keys() == set(spec)
        key = data.draw(st.sampled_from(sorted(spec) + ["nope", "classes_", "n_iter "]))
        value = data.draw(st.sampled_from([1, None, "x", 2.5]))
        out, exc = attempt(clone.set_params, **{key: value})
        if expect("valid" if key in spec else "invalid", out, exc, key):
            assert out is clone and clone.get_params()[key] is value
        return
    if what == "loads":
        good = model.dumps()
        data_arg = data.draw(st.sampled_from(["bytes", "bytearray", "memoryview", "str", "none", "int", "list",
                                              "ndarray", "empty", "truncated"]))
        value = {"bytes": good, "bytearray": bytearray(good), "memoryview": memoryview(good), "str": "CGANMODL",
                 "none": None, "int": 3, "list": list(good[:8]), "ndarray": np.frombuffer(good, np.uint8),
                 "empty": b"", "truncated": good[:-1]}[data_arg]
        out, exc = attempt(cgan.loads, value)
        if expect("valid" if data_arg in ("bytes", "bytearray", "memoryview") else "invalid", out, exc, "data"):
            _same_model(out, model)
        return
    import pathlib
    with tempfile.TemporaryDirectory() as tmp:
        good = os.path.join(tmp, "model.cgan")
        path_kind = data.draw(st.sampled_from(["str", "pathlib", "bytes", "none", "int", "bool", "float", "list",
                                               "missing-dir", "directory"]))
        path = {"str": good, "pathlib": pathlib.Path(good), "bytes": os.fsencode(good), "none": None, "int": 5,
                "bool": True, "float": 1.5, "list": [good], "missing-dir": os.path.join(tmp, "no", "m.cgan"),
                "directory": tmp}[path_kind]
        valid = path_kind in ("str", "pathlib", "bytes")
        if what == "load":
            model.save(good)
        try:
            out, exc = attempt(model.save if what == "save" else cgan.load, path)
        except OSError:
            # a path of the right type that the OS cannot write or read
            assert path_kind in ("missing-dir", "directory")
            return
        if expect("valid" if valid else "invalid", out, exc, "path"):
            _same_model(cgan.load(good) if what == "save" else out, model)


# =============================================================== datasets


def test_datasets():
    """The bundled data sets take no arguments and hold what they document."""
    from cgan import datasets

    ihdp = datasets.load_ihdp()
    n = len(ihdp.T)
    assert ihdp.X.shape == (n, 25) and ihdp.X.dtype == np.float64 and np.all(np.isfinite(ihdp.X))
    for v in (ihdp.Y, ihdp.Y_cf, ihdp.mu0, ihdp.mu1):
        assert v.shape == (n,) and v.dtype == np.float64 and np.all(np.isfinite(v))
    assert set(np.unique(ihdp.T)) == {0, 1} and ihdp.test.dtype == bool and len(ihdp.feature_names) == 25
    assert ihdp.true_ate == float(np.mean(ihdp.mu1 - ihdp.mu0))
    frame = datasets.load_lalonde()
    assert frame.shape == (445, 12) and not frame.isna().any().any()
    for load in (datasets.load_ihdp, datasets.load_lalonde):
        with pytest.raises(TypeError):
            load(1)


# ------------------------------------------------------------------ SCIGAN

DOSE0 = np.linspace(0.0, 2.0, N)
SCIGAN_TINY = dict(hidden_size=4, n_hidden=1, n_iter=3, batch_size=2, n_dosage_samples=3, random_state=0)


def spec_doses(value, n_rows):
    """Verdict on doses: n_rows finite, non-negative numbers (beyond
    float32's range they may be accepted or refused)."""
    arr = _column(value) if value is not None else None
    if arr is None or len(arr) == 0 or len(arr) != n_rows:
        return "invalid", None
    kind, d = _numeric(arr)
    if kind != "valid":
        return kind, None
    if not np.all(np.isfinite(d)) or np.any(d < 0):
        return "invalid", None
    return ("either", None) if np.any(d > F32_MAX) else ("valid", d)


def spec_grid(value):
    """Verdict on the doses of a query: one number, or a 1-d array-like
    (or a column) of at least one, each a dose as for spec_doses."""
    if isinstance(value, (bool, int, float, np.generic)):
        value = np.reshape(value, 1)
    arr = _column(value) if value is not None else None
    if arr is None or len(arr) == 0:
        return "invalid", None
    return spec_doses(arr, len(arr))


@examples(60)
@given(st.data())
def test_scigan_fit_data_and_curves(data):
    """fit on X, Y or the doses perturbed (one continuous treatment, or two
    labelled ones with doses): a clear error naming the argument, or a
    model whose curves, effects and best doses are finite."""
    labelled = data.draw(st.booleans())
    which = data.draw(st.sampled_from(["X", "Y", "dose", "dose"]))
    X, Y, dose = X0, Y0, DOSE0
    rows = X0   # the rows to query the fitted model on
    if which == "X":
        X = data.draw(matrices(N, D, X0))
        kind, rows = spec_matrix(X, N)
    elif which == "Y":
        Y = data.draw(vectors(N, Y0))
        kind, _ = spec_vector(Y, N)
    else:
        dose = data.draw(vectors(N, DOSE0))
        kind, _ = spec_doses(dose, N)
    model = cgan.SCIGAN(n_estimators=data.draw(st.sampled_from([1, 2])), **SCIGAN_TINY)
    with unchanged(X, Y, dose):
        if labelled:
            result, exc = attempt(model.fit, Y, np.array(["a", "b"])[T0], X=X, dose=dose)
        else:
            result, exc = attempt(model.fit, Y, dose, X=X)
    arg = "T" if which == "dose" and not labelled else which
    if not expect(kind, result, exc, arg):
        return
    assert result is model
    if rows is None:   # accepted though the oracle could not say: the covariates as given
        rows = X
    treatment = "b" if labelled else None
    lo, hi = model.dose_range_[-1]
    grid = np.linspace(lo, hi, 5)
    curves = model.dose_response(rows, grid, treatment=treatment)
    assert curves.shape == (N, 5) and np.all(np.isfinite(curves))
    assert np.all(np.isfinite(model.average_dose_response(grid, treatment=treatment)))
    assert np.all(np.isfinite(model.effect(rows, T0=lo, T1=hi, treatment=treatment)))
    best = model.optimal_dose(rows, treatment=treatment)
    assert np.all((best >= lo) & (best <= hi))
    draws = model.sample(rows, grid, 2, 0, treatment=treatment)
    assert draws.shape == (2, N, 5) and np.all(np.isfinite(draws))


@examples(60)
@given(st.data())
def test_scigan_doses_of_a_query(data):
    """dose_response on perturbed doses: an error naming doses, or finite
    curves (with a UserWarning when a dose lies beyond the fitted range)."""
    model = FITTED_SCIGAN
    doses = data.draw(vectors(4, np.array([0.0, 0.5, 1.5, 2.0])))
    kind, grid = spec_grid(doses)
    beyond = grid is not None and bool(np.any(grid > model.dose_range_[0, 1]))
    with unchanged(doses), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            curves, exc = model.dose_response(X0, doses), None
        except (ValueError, TypeError) as error:
            curves, exc = None, error
    if not expect(kind, curves, exc, "doses"):
        return
    assert curves.shape == (N, len(grid) if grid is not None else curves.shape[1]) and np.all(np.isfinite(curves))
    if kind == "valid":
        warned = [w for w in caught if issubclass(w.category, UserWarning) and "outside the range" in str(w.message)]
        assert bool(warned) == beyond, [str(w.message) for w in caught]


FITTED_SCIGAN = _quiet(cgan.SCIGAN(n_estimators=2, **SCIGAN_TINY).fit, Y0, DOSE0, X=X0)
