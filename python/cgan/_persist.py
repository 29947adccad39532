"""Saving and loading fitted models without pickle's code execution.

A saved model is one versioned binary container:

    magic        8 bytes   b"CGANMODL"
    version      uint32    little-endian, FORMAT_VERSION
    header_size  uint64    little-endian
    header       JSON      UTF-8: class, constructor parameters, fitted state,
                           and the sizes of the binary blobs that follow
    blobs        bytes     array data and the C cores' own snapshots, back to back
    checksum     uint32    CRC-32 of everything before it

The header holds only a whitelist of simple values: None, bool, int, float,
str, lists, dicts, and tagged objects for tuples, NumPy arrays and scalars
(dtype, shape and a blob holding the raw bytes), NumPy dtypes, random
generators (their state), the per-column encoders of CausalWGAN and the C
cores (a blob holding the core's versioned snapshot, restored by the core's
bounds-checked loader).  Nothing in a file names code to run: the classes
that can be rebuilt are fixed here.  Every size, offset, dtype and shape is
checked before any state is built, so truncated, corrupted, wrong-version
or hostile bytes raise ValueError.

Pickling a model stores this same container (see BaseEstimator)."""
from __future__ import annotations

import json
import math
import os
import re
import struct
import tempfile
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _cgan
from ._validation import check_path

if TYPE_CHECKING:
    from ._base import BaseEstimator
    from ._ganite import GANITE
    from ._wgan import CausalWGAN

MAGIC = b"CGANMODL"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sIQ")
_CHECKSUM = struct.Struct("<I")
_TAG = "__cgan__"
_MAX_DEPTH = 64
# dtype strings accepted in a file: byte order, kind, item size, datetime unit
_DTYPE = re.compile(r"[<>|=]?[biufcmMUO]\d{0,5}(\[[A-Za-z0-9]{1,4}\])?")
_RAW_KINDS = "biufcmM"  # arrays of these kinds are stored as raw bytes
_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


class _Writer:
    """Turns a value into JSON-ready data, collecting blobs."""

    def __init__(self):
        self.blobs = []

    def blob(self, data: bytes) -> int:
        self.blobs.append(bytes(data))
        return len(self.blobs) - 1

    def value(self, v, where):
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int) and not isinstance(v, np.integer):
            return int(v)
        if isinstance(v, float) and not isinstance(v, np.floating):
            return float(v)
        if isinstance(v, np.generic):
            return {_TAG: "scalar", "array": self.array(np.asarray(v), where)}
        if isinstance(v, np.ndarray):
            return self.array(v, where)
        if isinstance(v, np.dtype):
            return {_TAG: "dtype", "dtype": _dtype_str(v, where)}
        if isinstance(v, list):
            return [self.value(x, f"{where}[{i}]") for i, x in enumerate(v)]
        if isinstance(v, tuple):
            return {_TAG: "tuple", "items": [self.value(x, f"{where}[{i}]") for i, x in enumerate(v)]}
        if isinstance(v, dict):
            if all(isinstance(k, str) for k in v) and _TAG not in v:
                return {k: self.value(x, f"{where}[{k!r}]") for k, x in v.items()}
            return {_TAG: "dict", "items": [[self.value(k, where), self.value(x, f"{where}[{k!r}]")]
                                            for k, x in v.items()]}
        if isinstance(v, _cgan.Ganite):
            return {_TAG: "ganite_core", "blob": self.blob(v.snapshot())}
        if isinstance(v, _cgan.Wgan):
            return {_TAG: "wgan_core", "blob": self.blob(v.snapshot())}
        if isinstance(v, np.random.Generator):
            state = v.bit_generator.state
            return {_TAG: "generator", "state": self.value(state, where)}
        if isinstance(v, np.random.RandomState):
            return {_TAG: "random_state", "state": self.value(v.get_state(legacy=False), where)}
        if type(v).__name__ in _objects() and type(v) is _objects()[type(v).__name__]:
            return {_TAG: "object", "class": type(v).__name__, "state": self.value(dict(vars(v)), where)}
        dtype = _pandas_dtype_data(v)
        if dtype is not None:
            return {_TAG: "pandas_dtype", **{k: self.value(x, where) for k, x in dtype.items()}}
        raise TypeError(f"cannot save {where}: values of type {type(v).__name__} are not supported")

    def array(self, a, where):
        if a.dtype.kind in _RAW_KINDS:
            data = np.ascontiguousarray(a)
            return {_TAG: "ndarray", "dtype": _dtype_str(a.dtype, where), "shape": list(a.shape),
                    "blob": self.blob(data.tobytes())}
        if a.dtype.kind in "UO":
            items = [self.value(x.item() if isinstance(x, np.generic) else x, where) for x in a.ravel().tolist()]
            for x in items:
                if not (x is None or isinstance(x, (bool, int, float, str))):
                    raise TypeError(f"cannot save {where}: an array element of type {type(x).__name__}")
            return {_TAG: "ndarray", "dtype": _dtype_str(a.dtype, where), "shape": list(a.shape), "items": items}
        raise TypeError(f"cannot save {where}: arrays of dtype {a.dtype} are not supported")


def _objects():
    """The only classes a file may rebuild, besides the estimators."""
    from ._wgan import _Column

    return {"_Column": _Column}


def _estimators():
    from ._ganite import GANITE
    from ._wgan import CausalWGAN

    return {"GANITE": GANITE, "CausalWGAN": CausalWGAN}


def _dtype_str(dtype, where):
    s = dtype.str
    if not _DTYPE.fullmatch(s):
        raise TypeError(f"cannot save {where}: dtype {dtype} is not supported")
    return s


def _pandas_dtype_data(v):
    """A pandas extension dtype as plain data, or None if v is not one."""
    module = type(v).__module__ or ""
    if not module.startswith("pandas"):
        return None
    import pandas as pd

    if isinstance(v, pd.CategoricalDtype):
        cats = None if v.categories is None else np.asarray(v.categories.to_numpy())
        return {"name": "category", "categories": cats, "ordered": bool(v.ordered)}
    name = str(v)
    try:
        same = pd.api.types.pandas_dtype(name) == v
    except TypeError:
        same = False
    if not same:
        raise TypeError(f"cannot save the pandas dtype {v!r}: it is not rebuilt from its name")
    return {"name": name}


# ------------------------------------------------------------------ dumps
def dumps(model: BaseEstimator) -> bytes:
    """The model as container bytes (see the module docstring)."""
    # a subclass is saved as the cgan estimator it derives from; pickle
    # rebuilds the subclass, cgan.load the estimator
    bases = [name for name, cls in _estimators().items() if isinstance(model, cls)]
    if not bases:
        raise TypeError(f"cannot save a {type(model).__name__}; only GANITE and CausalWGAN are supported")
    name = bases[0]
    w = _Writer()
    params = model.get_params()
    # the fitted state only (see _FITTED_STATE): attributes a user or a
    # subclass adds are not saved, and the loader accepts nothing else
    fitted = "classes_" in vars(model)
    keep = set().union(*_FITTED_STATE[name]) if fitted else set()
    state = {k: v for k, v in vars(model).items() if k in keep}
    header = {
        "format": "cgan model",
        "class": name,
        "cgan_version": _cgan.__version__,
        "params": {k: w.value(v, k) for k, v in params.items()},
        "state": {k: w.value(v, k) for k, v in state.items()},
    }
    header["blobs"] = [len(b) for b in w.blobs]
    text = json.dumps(header, separators=(",", ":"), allow_nan=True).encode("utf-8")
    body = b"".join([_PREFIX.pack(MAGIC, FORMAT_VERSION, len(text)), text, *w.blobs])
    return body + _CHECKSUM.pack(zlib.crc32(body))


def save(model: BaseEstimator, path: str | os.PathLike[str]) -> None:
    """Write the model to path; an existing file is replaced only once the
    new one is complete."""
    path = check_path(path)
    data = dumps(model)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".cgan-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ------------------------------------------------------------------ loads
class _Reader:
    """Rebuilds values from header data; every check raises ValueError."""

    def __init__(self, blobs):
        self.blobs = blobs

    def blob(self, index):
        if type(index) is not int or not 0 <= index < len(self.blobs):
            raise ValueError(f"blob index {index!r} is out of range")
        return self.blobs[index]

    def value(self, v, depth=0):
        if depth > _MAX_DEPTH:
            raise ValueError("the header is nested too deeply")
        if v is None or type(v) in (bool, int, float, str):
            return v
        if type(v) is list:
            return [self.value(x, depth + 1) for x in v]
        if type(v) is not dict:
            raise ValueError(f"unexpected header value of type {type(v).__name__}")
        if _TAG not in v:
            return {k: self.value(x, depth + 1) for k, x in v.items()}
        tag = v[_TAG]
        if tag == "tuple":
            return tuple(self.value(x, depth + 1) for x in _list(v, "items"))
        if tag == "dict":
            out = {}
            for pair in _list(v, "items"):
                if type(pair) is not list or len(pair) != 2:
                    raise ValueError("a dict entry must be a [key, value] pair")
                key = self.value(pair[0], depth + 1)
                try:
                    out[key] = self.value(pair[1], depth + 1)
                except TypeError:
                    raise ValueError("a dict key is not hashable") from None
            return out
        if tag == "ndarray":
            return self.array(v, depth)
        if tag == "scalar":
            a = self.array(_field(v, "array", dict), depth)
            if a.ndim != 0:
                raise ValueError("a NumPy scalar must have shape ()")
            return a[()]
        if tag == "dtype":
            return _dtype(_field(v, "dtype", str))
        if tag == "ganite_core":
            return _restore(_cgan.Ganite, self.blob(v.get("blob")))
        if tag == "wgan_core":
            return _restore(_cgan.Wgan, self.blob(v.get("blob")))
        if tag == "generator":
            state = self.value(_field(v, "state", dict), depth + 1)
            name = state.get("bit_generator") if isinstance(state, dict) else None
            if name not in _GENERATORS:
                raise ValueError(f"unknown random bit generator {name!r}")
            bit = getattr(np.random, name)()
            try:
                bit.state = state
            except Exception as exc:  # NumPy's checks raise several types; all mean a bad state
                raise ValueError(f"invalid {name} state: {exc}") from None
            return np.random.Generator(bit)
        if tag == "random_state":
            state = self.value(_field(v, "state", dict), depth + 1)
            rs = np.random.RandomState()
            try:
                rs.set_state(state)
            except Exception as exc:  # as above
                raise ValueError(f"invalid RandomState state: {exc}") from None
            return rs
        if tag == "object":
            name = v.get("class")
            cls = _objects().get(name) if type(name) is str else None
            if cls is None:
                raise ValueError(f"class {v.get('class')!r} cannot be loaded")
            obj = cls.__new__(cls)
            obj.__dict__.update(_attributes(cls, self.value(_field(v, "state", dict), depth + 1)))
            return obj
        if tag == "pandas_dtype":
            return self.pandas_dtype(v, depth)
        raise ValueError(f"unknown tag {tag!r} in the header")

    def array(self, v, depth):
        dtype = _dtype(_field(v, "dtype", str))
        shape = _field(v, "shape", list)
        if len(shape) > 32 or any(type(s) is not int or not 0 <= s < 2**62 for s in shape):
            raise ValueError(f"invalid array shape {shape!r}")
        count = math.prod(shape)
        if dtype.kind in _RAW_KINDS:
            data = self.blob(v.get("blob"))
            if dtype.itemsize == 0 or count * dtype.itemsize != len(data):
                raise ValueError(f"array of shape {tuple(shape)} and dtype {dtype} does not fit its {len(data)} bytes")
            try:
                return np.frombuffer(data, dtype=dtype).reshape(shape).copy()
            except (TypeError, ValueError) as exc:  # e.g. a zero-size array with an absurd shape
                raise ValueError(f"invalid array of shape {tuple(shape)}: {exc}") from None
        items = _list(v, "items")
        if len(items) != count:
            raise ValueError(f"array of shape {tuple(shape)} has {len(items)} items")
        for x in items:
            if not (x is None or type(x) in (bool, int, float, str)):
                raise ValueError("array items must be None, bool, int, float or str")
            if dtype.kind == "U" and type(x) is not str:
                raise ValueError("a string array holds a non-string item")
        if dtype.kind == "U":
            if any(len(x) > max(dtype.itemsize // 4, 1) for x in items):
                raise ValueError(f"a string is longer than dtype {dtype} allows")
            return np.array(items, dtype=dtype).reshape(shape)
        out = np.empty(count, dtype=object)
        out[:] = items
        return out.reshape(shape)

    def pandas_dtype(self, v, depth):
        try:
            import pandas as pd
        except ImportError:
            raise ValueError("this model holds a pandas dtype; install pandas to load it") from None
        name = _field(v, "name", str)
        if name == "category":
            cats = self.value(v.get("categories"), depth + 1)
            if cats is not None and not (isinstance(cats, np.ndarray) and cats.ndim == 1):
                raise ValueError("categories must be a 1-d array")
            ordered = v.get("ordered")
            if type(ordered) is not bool:
                raise ValueError("'ordered' must be a bool")
            try:
                return pd.CategoricalDtype(cats, ordered=ordered)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"invalid categories: {exc}") from None
        try:
            return pd.api.types.pandas_dtype(name)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"unknown pandas dtype {name!r}: {exc}") from None


def _field(v, key, kind):
    x = v.get(key)
    if type(x) is not kind:
        raise ValueError(f"header field {key!r} must be a {kind.__name__}")
    return x


def _list(v, key):
    return _field(v, key, list)


def _dtype(s):
    if len(s) > 16 or not _DTYPE.fullmatch(s):
        raise ValueError(f"dtype {s!r} is not allowed")
    try:
        return np.dtype(s)
    except (TypeError, ValueError):
        raise ValueError(f"invalid dtype {s!r}") from None


def _attributes(cls, state):
    """Attribute names from a file: plain identifiers that do not shadow
    anything the class defines."""
    if type(state) is not dict:
        raise ValueError("an object's state must be a dict")
    for key in state:
        if type(key) is not str or not key.isidentifier() or key.startswith("__") or hasattr(cls, key):
            raise ValueError(f"{key!r} is not a valid attribute of {cls.__name__}")
    return state


def _restore(core_type, data):
    """A C core from its snapshot bytes; every failure is a ValueError."""
    try:
        return core_type.restore(data)
    except MemoryError:
        raise ValueError("the snapshot asks for more memory than is available") from None


def _split(data):
    """(header dict, blobs) from container bytes, validating the framing."""
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    if len(data) < _PREFIX.size + _CHECKSUM.size or data[:8] != MAGIC:
        raise ValueError("bad magic bytes or too short")
    magic, version, header_size = _PREFIX.unpack_from(data)
    if version != FORMAT_VERSION:
        raise ValueError(f"saved with format version {version}; this cgan reads version {FORMAT_VERSION}")
    body_end = len(data) - _CHECKSUM.size
    (checksum,) = _CHECKSUM.unpack_from(data, body_end)
    if zlib.crc32(data[:body_end]) != checksum:
        raise ValueError("the saved model is corrupt (checksum mismatch) or truncated")
    if header_size > body_end - _PREFIX.size:
        raise ValueError(f"header size {header_size} exceeds the data")
    start = _PREFIX.size
    try:
        header = json.loads(data[start:start + header_size].decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"the header is not valid JSON: {exc}") from None
    if type(header) is not dict:
        raise ValueError("the header must be a JSON object")
    sizes = _field(header, "blobs", list)
    offset = start + header_size
    blobs = []
    for size in sizes:
        if type(size) is not int or size < 0 or size > body_end - offset:
            raise ValueError(f"blob size {size!r} is invalid or exceeds the data")
        blobs.append(data[offset:offset + size])
        offset += size
    if offset != body_end:
        raise ValueError(f"{body_end - offset} bytes after the last blob")
    return header, blobs


def loads(data: bytes, expected: type | None = None) -> GANITE | CausalWGAN:
    """Rebuild a model from the bytes ``model.dumps()`` returned.

    Every size, offset, dtype and shape is checked before any state is
    built, and nothing in the bytes names code to run, so truncated,
    corrupted, wrong-version or hostile data raise ValueError.

    Parameters
    ----------
    data : bytes
        The container, as written by :meth:`GANITE.dumps`,
        :meth:`CausalWGAN.dumps` or read from a file that ``save`` wrote.
    expected : type, optional
        The class to build: the estimator the bytes hold or a subclass of
        it (pickle passes the pickled object's class).  None builds the
        estimator named in the bytes.

    Returns
    -------
    GANITE or CausalWGAN
        The model, fitted if it was fitted when saved.

    Raises
    ------
    ValueError
        If the bytes are not a valid cgan container, or hold a model of
        another class than ``expected``.
    TypeError
        If ``expected`` is neither None nor a class.

    See Also
    --------
    load : the same from a file.

    Examples
    --------
    >>> import cgan
    >>> model = cgan.loads(cgan.GANITE(n_iter=10).dumps())
    >>> model.n_iter
    10
    """
    if expected is not None and not isinstance(expected, type):
        raise TypeError(f"expected must be None or a class, got {type(expected).__name__}")
    try:
        return _loads(data, expected)
    except ValueError as exc:
        raise ValueError(f"data is not a valid saved cgan model: {exc}") from None


# Parameters added after the format was first written, with the value that
# reproduces what earlier versions did.
_ADDED_PARAMS = {"CausalWGAN": {"mass_at_bounds": False, "derive_indicators": False},
                 "GANITE": {"outcome_transform": "none", "baseline": "none"}}


def _loads(data, expected):
    header, blobs = _split(data)
    if header.get("format") != "cgan model":
        raise ValueError("the header does not describe a cgan model")
    name = header.get("class")
    cls = _estimators().get(name) if type(name) is str else None
    if cls is None:
        raise ValueError(f"unknown model class {header.get('class')!r}")
    if expected is not None:
        if not issubclass(expected, cls):
            raise ValueError(f"the data holds a {cls.__name__}, not a {expected.__name__}")
        cls = expected
    reader = _Reader(blobs)
    params = reader.value(_field(header, "params", dict))
    if type(params) is dict:
        # files written before a parameter existed load with the value that
        # behaves as those versions did
        for key, value in _ADDED_PARAMS.get(name, {}).items():
            params.setdefault(key, value)
    if type(params) is not dict or set(params) != set(cls._param_names()):
        raise ValueError(f"the saved parameters do not match {cls.__name__}'s")
    state = _attributes(cls, reader.value(_field(header, "state", dict)))
    _check_state(name, state)
    model = cls.__new__(cls)
    model.__dict__.update(params)
    model.__dict__.update(state)
    return model


def load(path: str | os.PathLike[str]) -> GANITE | CausalWGAN:
    """Read a model that ``model.save(path)`` wrote.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.

    Returns
    -------
    GANITE or CausalWGAN
        The model, fitted if it was fitted when saved.

    Raises
    ------
    ValueError
        If the file is not a valid cgan container (see :func:`loads`).
    TypeError
        If ``path`` is not a str, bytes or os.PathLike.
    OSError
        If the file cannot be read.

    See Also
    --------
    loads : the same from bytes.
    """
    path = check_path(path)
    with open(path, "rb") as f:
        data = f.read()
    try:
        return _loads(data, None)
    except ValueError as exc:
        raise ValueError(f"path {path!r} does not hold a valid saved cgan model: {exc}") from None


# ------------------------------------------------------ state consistency
def _array(state, key, ndim, kind="f"):
    a = state.get(key)
    if not isinstance(a, np.ndarray) or a.ndim != ndim or (kind and a.dtype.kind not in kind):
        raise ValueError(f"saved {key} must be a {ndim}-d array")
    return a


# The attributes a fit sets (feature_names_in_ only for named columns); a
# saved fitted model must hold exactly these, so that no method meets a
# missing or stray attribute after a load.
_FITTED_STATE = {
    "GANITE": ({"_codes_fit", "_cores", "_mu_fit", "_mu_oof", "_propensity_unclipped", "_x_mean", "_x_scale",
                "_y_fit", "classes_", "history_", "n_features_in_", "outcome_type_", "propensity_fit_",
                "propensity_model_"}, {"feature_names_in_", "outcome_transform_", "_smear", "_baseline"}),
    "CausalWGAN": ({"_columns", "_cov_cols", "_cov_gan", "_dtypes", "_n_fit", "_out_col", "_out_gan",
                    "_sample_seed", "_t_col", "_t_freq", "classes_", "covariates_", "history_", "outcome_",
                    "treatment_"}, {"_derived"}),
}


def _check_state(name, state):
    """The fitted state holds what prediction and sampling rely on, with
    consistent sizes; an unfitted model holds no fitted state."""
    if "classes_" not in state:
        if state:
            raise ValueError(f"an unfitted model's state holds {sorted(state)[:5]}")
        return
    required, optional = _FITTED_STATE[name]
    missing, stray = required - set(state), set(state) - required - optional
    if missing or stray:
        raise ValueError(f"saved {name} state lacks {sorted(missing)[:5]} or holds unknown {sorted(stray)[:5]}")
    classes = state["classes_"]
    if not isinstance(classes, np.ndarray) or classes.ndim != 1 or not 2 <= len(classes) <= 1024:
        raise ValueError("saved classes_ must be a 1-d array of 2 to 1024 labels")
    K = len(classes)
    if name == "GANITE":
        d = state.get("n_features_in_")
        if type(d) is not int or d < 1:
            raise ValueError("saved n_features_in_ must be a positive int")
        cores = state.get("_cores")
        if type(cores) is not list or not cores or not all(isinstance(c, _cgan.Ganite) for c in cores):
            raise ValueError("saved _cores must be a non-empty list of GANITE cores")
        binary = state.get("outcome_type_") == "binary"
        if state.get("outcome_type_") not in ("binary", "continuous"):
            raise ValueError("saved outcome_type_ must be 'binary' or 'continuous'")
        for core in cores:
            cfg = core.config
            if cfg["n_features"] != d or cfg["n_treatments"] != K or bool(cfg["binary_outcome"]) != binary:
                raise ValueError("a saved core does not match n_features_in_, classes_ or outcome_type_")
        for key in ("_x_mean", "_x_scale"):
            if _array(state, key, 1).shape != (d,) or not np.all(np.isfinite(state[key])):
                raise ValueError(f"saved {key} must be finite, of shape ({d},)")
        if not np.all(state["_x_scale"] > 0):
            raise ValueError("saved _x_scale must be positive")
        n = _array(state, "_mu_fit", 2).shape[0]
        for key in ("_mu_fit", "propensity_fit_", "_mu_oof", "_propensity_unclipped"):
            if _array(state, key, 2).shape != (n, K):
                raise ValueError(f"saved {key} must have shape ({n}, {K})")
        codes = _array(state, "_codes_fit", 1, "iu")
        if codes.shape != (n,) or (n and not 0 <= codes.min() <= codes.max() < K):
            raise ValueError(f"saved _codes_fit must hold {n} treatment codes in [0, {K})")
        # binary fits from earlier builds kept integer outcomes, which load as floats
        if isinstance(state.get("_y_fit"), np.ndarray) and state["_y_fit"].dtype.kind in "iub":
            state["_y_fit"] = state["_y_fit"].astype(np.float64)
        if _array(state, "_y_fit", 1).shape != (n,) or not np.all(np.isfinite(state["_y_fit"])):
            raise ValueError(f"saved _y_fit must hold {n} finite outcomes")
        from ._ganite import _PROPENSITY_MODELS

        if state.get("propensity_model_", "logistic") not in _PROPENSITY_MODELS:
            raise ValueError(f"saved propensity_model_ must be one of {sorted(_PROPENSITY_MODELS)}")
        # models saved before outcome_transform existed hold neither: 'none'
        if ("outcome_transform_" in state) != ("_smear" in state):
            raise ValueError("saved outcome_transform_ and _smear must come together")
        if "outcome_transform_" in state:
            if state["outcome_transform_"] not in ("none", "log") or (binary and state["outcome_transform_"] == "log"):
                raise ValueError("saved outcome_transform_ must be 'none', or 'log' for a continuous outcome")
            smear = _array(state, "_smear", 1)
            if smear.shape != (K,) or not np.all(np.isfinite(smear)) or not np.all(smear > 0):
                raise ValueError(f"saved _smear must hold {K} positive finite factors")
            if state["outcome_transform_"] == "log" and not (np.all(state["_y_fit"] > 0) and
                                                             np.all(state["_mu_oof"] > 0)):
                raise ValueError("saved _y_fit and _mu_oof must be positive for outcome_transform_='log'")
        # models saved before the baseline existed hold none: zero lines
        if "_baseline" in state:
            coef = _array(state, "_baseline", 3)
            if coef.shape != (len(cores), d + 1, K) or not np.all(np.isfinite(coef)):
                raise ValueError(f"saved _baseline must hold finite lines of shape ({len(cores)}, {d + 1}, {K})")
            if binary and np.any(coef):
                raise ValueError("saved _baseline must be zero for a binary outcome")
        names = state.get("feature_names_in_")
        if names is not None and (not isinstance(names, np.ndarray) or names.shape != (d,)):
            raise ValueError(f"saved feature_names_in_ must have shape ({d},)")
    elif name == "CausalWGAN":
        from ._wgan import _Column

        for key in ("_cov_gan", "_out_gan"):
            if not isinstance(state.get(key), _cgan.Wgan):
                raise ValueError(f"saved {key} must be a WGAN core")
        cols = state.get("_cov_cols")
        if type(cols) is not list or not cols:
            raise ValueError("saved _cov_cols must be a non-empty list")
        for col in cols + [state.get("_t_col"), state.get("_out_col")]:
            _check_column(col, _Column)
        if state["_t_col"].width != K:
            raise ValueError("saved _t_col does not match classes_")
        freq = _array(state, "_t_freq", 1)
        if freq.shape != (K,) or not np.all(freq >= 0) or not abs(freq.sum() - 1) < 1e-6:
            raise ValueError("saved _t_freq must be K probabilities")
        # models saved before derived indicators existed derive none
        derived = state.get("_derived", [])
        if type(derived) is not list or not all(_valid_indicator(d, cols) for d in derived) or \
                len({d[0] for d in derived}) != len(derived):
            raise ValueError("saved _derived must list [indicator, source, bound, level] of distinct two-level "
                             "covariates, each derived from a bound of a continuous one")
        x_dim = sum(c.width for c in cols)
        for key, width, ctx in (("_cov_gan", x_dim, K), ("_out_gan", state["_out_col"].width, x_dim + K)):
            if _wgan_dims(state[key].snapshot()) != (width, ctx):
                raise ValueError(f"saved {key} does not match the saved columns")
        if type(state.get("_sample_seed")) is not int or not 0 <= state["_sample_seed"] < 2**64:
            raise ValueError("saved _sample_seed must be an int in [0, 2**64)")
        columns = state.get("_columns")
        if type(columns) is not list or not all(_is_label(c) for c in columns):
            raise ValueError("saved _columns must be a list of column labels")
        dtypes = state.get("_dtypes")
        if type(dtypes) is not dict or set(dtypes) != set(columns) or not all(
                isinstance(v, np.dtype) or (type(v).__module__ or "").startswith("pandas") for v in dtypes.values()):
            raise ValueError("saved _dtypes must map every column to its dtype")
        covariates = state.get("covariates_")
        if (type(covariates) is not list or [c.name for c in cols] != covariates
                or state.get("treatment_") != state["_t_col"].name or state.get("outcome_") != state["_out_col"].name
                or not set(covariates) | {state["treatment_"], state["outcome_"]} <= set(columns)):
            raise ValueError("saved column roles do not match the saved columns")


def _valid_indicator(d, cols):
    """d is [i, j, bound, code]: covariate i a two-level categorical,
    covariate j a continuous column with `bound` as one of its bounds."""
    if type(d) is not list or len(d) != 4 or not all(type(v) is int for v in (d[0], d[1], d[3])):
        return False
    i, j, bound, code = d
    if not (0 <= i < len(cols) and 0 <= j < len(cols) and code in (0, 1) and type(bound) is float):
        return False
    return (cols[i].categorical and cols[i].width == 2 and not cols[j].categorical
            and bound in (cols[j].lower, cols[j].upper))


def _check_column(col, column_type):
    if type(col) is not column_type:
        raise ValueError("a saved column encoder is missing or of the wrong type")
    a = vars(col)
    if "name" not in a or not _is_label(a["name"]):
        raise ValueError("a saved column's name must be a str, number or None")
    if type(a.get("width")) is not int or a["width"] < 1 or not isinstance(a.get("dtype"), np.dtype):
        raise ValueError("a saved column has an invalid width or dtype")
    if a.get("categorical") is True:
        levels = a.get("levels")
        if not isinstance(levels, np.ndarray) or levels.shape != (a["width"],) or a["width"] < 2:
            raise ValueError("a saved categorical column's levels do not match its width")
        if a.setdefault("masses", []) != []:
            raise ValueError("a saved categorical column cannot have point masses")
    elif a.get("categorical") is False:
        if not all(type(a.get(k)) is float for k in ("mean", "sd")) or not a["sd"] > 0:
            raise ValueError("a saved continuous column needs a float mean and a positive sd")
        for k in ("lower", "upper"):
            if k not in a or not (a[k] is None or type(a[k]) is float):
                raise ValueError(f"a saved column's {k} bound must be a float or None")
        # columns saved before point masses existed have none
        masses = a.setdefault("masses", [])
        if (type(masses) is not list or masses not in ([], ["lower"], ["upper"], ["lower", "upper"])
                or any(a[k] is None for k in masses)):
            raise ValueError("a saved column's point masses must be a list of its bounds ('lower', 'upper')")
        if a["width"] != (len(masses) + 2 if masses else 1):
            raise ValueError("a saved continuous column's width does not match its point masses")
        if type(a.get("integer")) is not bool:
            raise ValueError("a saved column's 'integer' flag must be a bool")
        # columns saved before the log scale existed are linear
        scale = a.setdefault("log_scale", None)
        if scale is not None and not (type(scale) is float and np.isfinite(scale) and scale > 0
                                      and a["lower"] is not None):
            raise ValueError("a saved column's log_scale must be None, or a positive float with a lower bound")
    else:
        raise ValueError("a saved column's 'categorical' flag must be a bool")


def _is_label(v):
    """A column label that pandas and dicts accept: a scalar or a tuple of them."""
    if type(v) is tuple:
        return all(_is_label(x) for x in v)
    return v is None or type(v) in (bool, int, float, str)


def _wgan_dims(snapshot):
    """(x_dim, ctx_dim) from a WGAN snapshot: the first two config ints after
    its 20-byte header (magic, version, byte order, real size)."""
    return struct.unpack_from("=ii", snapshot, 20)


# ------------------------------------------------------------ pickling
def legacy_state(cls: type, state: Mapping[str, Any]) -> dict[str, Any]:
    """Pickled state from before the container (a plain __dict__ with the
    cores' snapshots) as a state dict with restored cores, for an instance
    of cls (a cgan estimator or a subclass of one)."""
    name = next((n for n, base in _estimators().items() if issubclass(cls, base)), cls.__name__)
    state = dict(state)
    if name == "GANITE" and "_core_snapshots" in state:
        state["_cores"] = [_restore(_cgan.Ganite, s) for s in state.pop("_core_snapshots")]
    for key in ("_cov_gan", "_out_gan"):
        if isinstance(state.get(key), bytes):
            state[key] = _restore(_cgan.Wgan, state[key])
    # parameters and column attributes added since, as in _loads
    for key, value in _ADDED_PARAMS.get(name, {}).items():
        state.setdefault(key, value)
    if name == "CausalWGAN":
        cols = state.get("_cov_cols")
        for col in (cols if isinstance(cols, list) else []) + [state.get("_t_col"), state.get("_out_col")]:
            if col is not None and not hasattr(col, "masses"):
                col.masses = []
            if col is not None and not hasattr(col, "log_scale"):
                col.log_scale = None
    return state
