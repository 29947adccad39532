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
generators (their state), registered helper objects (the column encoders)
and the C cores (a blob holding the core's versioned snapshot, restored by
the core's bounds-checked loader).  Nothing in a file names code to run:
only classes registered here can be rebuilt.  Every size, offset, dtype and
shape is checked before any state is built, so truncated, corrupted,
wrong-version or hostile bytes raise ValueError.

The container knows no estimator.  Each estimator class registers itself
(register_estimator) and answers for its own state: model._fitted_state()
gives what to save, and the module the class names as _persistence gives
STATE_KEYS (the attributes a fitted model holds: required, optional),
ADDED_PARAMS (parameters added after the format was first written, with the
values that reproduce earlier versions), check_state(state) (checks loaded
state) and legacy_state(state) (converts a pickle from before the
container).  Helper objects register with register_object (and rebuild
through their _from_saved(state)), C core types with register_core.

Pickling a model stores this same container (see BaseEstimator)."""
from __future__ import annotations

import copyreg
import json
import math
import os
import re
import stat
import struct
import tempfile
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _cgan, _memory
from ._validation import check_path

if TYPE_CHECKING:
    from ._base import BaseEstimator

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

# The registries: what a file may rebuild.
_ESTIMATORS: dict[str, type] = {}
_OBJECTS: dict[str, type] = {}
_OBJECT_NAMES: dict[type, str] = {}
_CORES: dict[str, type] = {}


def register_estimator(cls: type) -> type:
    """Let files hold `cls` under its class name (a class decorator)."""
    _ESTIMATORS[cls.__name__] = cls
    return cls


def register_object(cls: type, name: str | None = None) -> type:
    """Let files hold instances of `cls` (under `name`, default its class
    name); loading rebuilds them with cls._from_saved(attributes)."""
    name = cls.__name__ if name is None else name
    _OBJECTS[name] = cls
    _OBJECT_NAMES[cls] = name
    return cls


def rebuild(cls: type, state: dict[str, Any], check: Any) -> Any:
    """An instance of a registered class with the saved attributes `state`,
    once check(state) has passed (it raises ValueError otherwise): what a
    class's _from_saved does."""
    check(state)
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    return obj


def register_core(tag: str, core_type: type) -> None:
    """Let files hold C cores of `core_type` (with snapshot() and
    restore(bytes)) under `tag`, and pickle such cores as their snapshots
    (a worker of a parallel backend sends back the cores it trained)."""
    _CORES[tag] = core_type
    copyreg.pickle(core_type, _reduce_core)


def _reduce_core(core):
    return (type(core).restore, (core.snapshot(),))


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
        for tag, core_type in _CORES.items():
            if isinstance(v, core_type):
                return {_TAG: tag, "blob": self.blob(v.snapshot())}
        if isinstance(v, np.random.Generator):
            state = v.bit_generator.state
            return {_TAG: "generator", "state": self.value(state, where)}
        if isinstance(v, np.random.RandomState):
            return {_TAG: "random_state", "state": self.value(v.get_state(legacy=False), where)}
        if type(v) in _OBJECT_NAMES:
            return {_TAG: "object", "class": _OBJECT_NAMES[type(v)], "state": self.value(dict(vars(v)), where)}
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
    if "pyarrow" in name:
        # saved as the dtype that needs no optional package: pandas' own
        # strings, or the NumPy dtype of the values
        if isinstance(v, pd.StringDtype):
            return {"name": "string"}
        raise TypeError(f"cannot save the pandas dtype {v!r}: it needs pyarrow to be rebuilt; convert the column "
                        f"to a NumPy dtype before fit")
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
    bases = [name for name, cls in _ESTIMATORS.items() if isinstance(model, cls)]
    if not bases:
        raise TypeError(f"cannot save a {type(model).__name__}; only {', '.join(_ESTIMATORS)} are supported")
    name = bases[0]
    w = _Writer()
    params = model.get_params()
    # the fitted state only: attributes a user or a subclass adds are not
    # saved, and the loader accepts nothing else
    state = model._fitted_state()
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
        if type(tag) is not str:
            raise ValueError(f"a tag must be a string, got {type(tag).__name__}")
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
        if tag in _CORES:
            return _restore(_CORES[tag], self.blob(v.get("blob")))
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
            cls = _OBJECTS.get(name) if type(name) is str else None
            if cls is None:
                raise ValueError(f"class {v.get('class')!r} cannot be loaded")
            return cls._from_saved(_attributes(cls, self.value(_field(v, "state", dict), depth + 1)))
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
        if "pyarrow" in name:
            raise ValueError(f"the pandas dtype {name!r} needs pyarrow; saved models hold only dtypes that need "
                             f"no optional package")
        try:
            return pd.api.types.pandas_dtype(name)
        except (TypeError, ValueError, ImportError) as exc:
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


def _prefix(data):
    """The header size from the container's first _PREFIX.size bytes, after
    checking its magic and format version."""
    if len(data) < _PREFIX.size or data[:8] != MAGIC:
        raise ValueError("bad magic bytes or too short")
    _, version, header_size = _PREFIX.unpack_from(data)
    if version != FORMAT_VERSION:
        raise ValueError(f"saved with format version {version}; this cgan reads version {FORMAT_VERSION}")
    return header_size


def _header(text):
    """(header dict, blob sizes) from the header's bytes."""
    try:
        header = json.loads(text.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"the header is not valid JSON: {exc}") from None
    if type(header) is not dict:
        raise ValueError("the header must be a JSON object")
    sizes = _field(header, "blobs", list)
    for size in sizes:
        if type(size) is not int or size < 0:
            raise ValueError(f"blob size {size!r} is invalid")
    return header, sizes


def _split(data):
    """(header dict, blobs) from container bytes, validating the framing."""
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    if len(data) < _PREFIX.size + _CHECKSUM.size:
        raise ValueError("bad magic bytes or too short")
    header_size = _prefix(data)
    body_end = len(data) - _CHECKSUM.size
    (checksum,) = _CHECKSUM.unpack_from(data, body_end)
    if zlib.crc32(data[:body_end]) != checksum:
        raise ValueError("the saved model is corrupt (checksum mismatch) or truncated")
    if header_size > body_end - _PREFIX.size:
        raise ValueError(f"header size {header_size} exceeds the data")
    start = _PREFIX.size
    header, sizes = _header(data[start:start + header_size])
    offset = start + header_size
    blobs = []
    for size in sizes:
        if size > body_end - offset:
            raise ValueError(f"blob size {size!r} exceeds the data")
        blobs.append(data[offset:offset + size])
        offset += size
    if offset != body_end:
        raise ValueError(f"{body_end - offset} bytes after the last blob")
    return header, blobs


# the largest header a file that is not a regular file (a pipe, a device)
# may declare; a regular file's own size bounds its header
_MAX_STREAM_HEADER = 1 << 28


def _read(path):
    """The container bytes of the file at path, read only as far as its
    header declares: the magic, the version and the sizes are checked
    first, a file of another size than declared is refused, and nothing
    past the declared end is read."""
    with open(path, "rb") as f:
        info = os.fstat(f.fileno())
        regular = stat.S_ISREG(info.st_mode)
        prefix = f.read(_PREFIX.size)
        header_size = _prefix(prefix)
        room = info.st_size - _PREFIX.size - _CHECKSUM.size if regular else _MAX_STREAM_HEADER
        if header_size > room:
            raise ValueError(f"the header size {header_size} exceeds the file ({info.st_size} bytes)" if regular
                             else f"the header size {header_size} is beyond {_MAX_STREAM_HEADER} bytes")
        text = f.read(header_size)
        if len(text) != header_size:
            raise ValueError("the file ends inside the header")
        _, sizes = _header(text)
        rest = sum(sizes) + _CHECKSUM.size
        total = _PREFIX.size + header_size + rest
        if regular and total != info.st_size:
            raise ValueError(f"the header declares {total} bytes, but the file holds {info.st_size}")
        _memory.check(2 * total, f"loading {path!r}", "free memory or load it on a larger machine")
        body = f.read(rest)
        if len(body) != rest:
            raise ValueError("the file ends before the size its header declares")
        if not regular and f.read(1):
            raise ValueError("the data go on past the size the header declares")
    return prefix + text + body


def loads(data: bytes, expected: type | None = None) -> BaseEstimator:
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
    GANITE, CausalWGAN or another cgan estimator
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


def _loads(data, expected):
    header, blobs = _split(data)
    if header.get("format") != "cgan model":
        raise ValueError("the header does not describe a cgan model")
    name = header.get("class")
    cls = _ESTIMATORS.get(name) if type(name) is str else None
    if cls is None:
        raise ValueError(f"unknown model class {header.get('class')!r}")
    if expected is not None:
        if not issubclass(expected, cls):
            raise ValueError(f"the data holds a {cls.__name__}, not a {expected.__name__}")
        cls = expected
    reader = _Reader(blobs)
    params = reader.value(_field(header, "params", dict))
    state = reader.value(_field(header, "state", dict))
    return _build(cls, params, state)


def _build(cls, params, state):
    """An instance of cls from saved parameters and fitted state, both checked."""
    if type(params) is dict:
        # files written before a parameter existed load with the value that
        # behaves as those versions did
        for key, value in cls._persistence.ADDED_PARAMS.items():
            params.setdefault(key, value)
    if type(params) is not dict or set(params) != set(cls._param_names()):
        raise ValueError(f"the saved parameters do not match {cls.__name__}'s")
    state = _attributes(cls, state)
    _check_state(cls, state)
    model = cls.__new__(cls)
    model.__dict__.update(params)
    model.__dict__.update(state)
    return model


def load(path: str | os.PathLike[str]) -> BaseEstimator:
    """Read a model that ``model.save(path)`` wrote.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.

    Returns
    -------
    GANITE, CausalWGAN or another cgan estimator
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
    try:
        return _loads(_read(path), None)
    except ValueError as exc:
        raise ValueError(f"path {path!r} does not hold a valid saved cgan model: {exc}") from None


# ------------------------------------------------------ state consistency
def _check_state(cls, state):
    """An unfitted model holds no fitted state; a fitted one holds exactly
    the attributes its class lists, which the class then checks."""
    required, optional = cls._persistence.STATE_KEYS
    if cls._fitted_marker not in state:
        if state:
            raise ValueError(f"an unfitted model's state holds {sorted(state)[:5]}")
        return
    missing, stray = required - set(state), set(state) - required - optional
    if missing or stray:
        raise ValueError(f"saved {cls.__name__} state lacks {sorted(missing)[:5]} or holds unknown {sorted(stray)[:5]}")
    cls._persistence.check_state(state)


def check_names_and_history(state: dict[str, Any], d: int) -> None:
    """An estimator's saved feature_names_in_ (when present: d names) and
    history_ (loss names to arrays)."""
    names = state.get("feature_names_in_")
    if names is not None and (not isinstance(names, np.ndarray) or names.shape != (d,)):
        raise ValueError(f"saved feature_names_in_ must have shape ({d},)")
    history = state.get("history_")
    if type(history) is not dict or not all(type(k) is str and isinstance(h, np.ndarray) for k, h in history.items()):
        raise ValueError("saved history_ must map loss names to arrays")


def check_array(state: dict[str, Any], key: str, ndim: int, kind: str = "f", shape: tuple[int, ...] | None = None,
                finite: bool = False) -> np.ndarray:
    """state[key] as a saved array of `ndim` dimensions (and dtype kind in
    `kind`, the given shape and only finite values, when asked)."""
    a = state.get(key)
    if not isinstance(a, np.ndarray) or a.ndim != ndim or (kind and a.dtype.kind not in kind):
        raise ValueError(f"saved {key} must be a {ndim}-d array")
    if shape is not None and a.shape != tuple(shape):
        raise ValueError(f"saved {key} must have shape {tuple(shape)}, got {a.shape}")
    if finite and not np.all(np.isfinite(a)):
        raise ValueError(f"saved {key} must hold finite values only")
    return a


def restore_core(core_type: type, data: bytes) -> Any:
    """A C core from snapshot bytes (pickles from before the container held
    them as bytes); every failure is a ValueError."""
    return _restore(core_type, data)


# ------------------------------------------------------------ pickling
def legacy_state(cls: type, state: Mapping[str, Any]) -> dict[str, Any]:
    """The state of a pickle from before the container (a plain __dict__
    with the cores' snapshots), converted by the class and checked as a
    loaded file is, for an instance of cls (a cgan estimator or a subclass
    of one)."""
    if not isinstance(state, Mapping):
        raise ValueError(f"a pickled {cls.__name__} must hold a dict of its attributes, got {type(state).__name__}")
    state = cls._persistence.legacy_state(dict(state))
    for key in cls._transient_attributes + cls._runtime_attributes:
        state.pop(key, None)
    names = set(cls._param_names()) | set(cls._persistence.ADDED_PARAMS)
    params = {k: v for k, v in state.items() if k in names}
    fitted = {k: v for k, v in state.items() if k not in names}
    return vars(_build(cls, params, fitted))
