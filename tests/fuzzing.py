"""Mutations of saved models for fuzzing cgan.loads.

Shared by tests/test_persist.py (driven by hypothesis) and
benchmarks/fuzz_loader.py (driven by a seeded NumPy generator, for long runs
under a sanitizer build).  Every mutation takes `draw(lo, hi)`, which returns
an int in [lo, hi].  The container framing is rebuilt here from the format's
description, independently of cgan._persist."""
from __future__ import annotations

import json
import struct
import zlib

import numpy as np

import cgan

MAGIC = b"CGANMODL"
PREFIX = struct.Struct("<8sIQ")

# values that hit boundaries: sizes, counts, ids and tags
INTERESTING_INTS = [0, 1, -1, 2, 3, 7, 255, 1024, 65535, 65536, 2**20, 2**24, 2**31 - 1, -(2**31), 2**32, 2**62,
                    2**63 - 1, 2**64, -(2**63), 10**30]
INTERESTING_VALUES = INTERESTING_INTS + [
    None, True, False, 0.5, -0.0, 1e308, float("nan"), float("inf"), "", "x", "GANITE", "CausalWGAN", "SCIGAN",
    "__cgan__", "ndarray", "tuple", "dict", "object", "ganite_core", "wgan_core", "scigan_core", "generator", "dtype",
    "scalar", "<f8", "<f4",
    "|O", "<U3", "|b1", "<M8[ns]", "V8", "f8,i4", "predict", "__class__", "_Column", "PCG64", [], {}, [0, 1],
    {"__cgan__": "ndarray", "dtype": "<f8", "shape": [2**40], "blob": 0},
    {"__cgan__": "ndarray", "dtype": "<U2", "shape": [2], "items": ["abc", 1]},
    {"__cgan__": "object", "class": "_Column", "state": {"predict": 1}},
    {"__cgan__": "ganite_core", "blob": 0}, {"__cgan__": "wgan_core", "blob": 1},
    {"__cgan__": "scigan_core", "blob": 0},
    {"__cgan__": "generator", "state": {"bit_generator": "PCG64", "state": {"state": -1, "inc": "x"}}},
    {"__cgan__": "pandas_dtype", "name": "category", "categories": None, "ordered": 1},
    {"__cgan__": "dict", "items": [[[1], 2]]}, json.loads("[" * 200 + "]" * 200),
]


def tiny_models():
    """Container bytes of small fitted models: GANITE (continuous, binary
    with string arms and named columns), SCIGAN (two labelled treatments
    with doses) and, with pandas, CausalWGAN."""
    rng = np.random.default_rng(0)
    n = 48
    X = rng.normal(size=(n, 3))
    T = rng.integers(0, 2, n)
    Y = X[:, 0] + T + rng.normal(size=n)
    small = dict(hidden_size=3, n_hidden=1, n_iter=2, batch_size=16, random_state=0)
    out = [cgan.GANITE(n_estimators=2, **small).fit(Y, T, X=X).dumps()]
    dose = rng.uniform(0, 3, n)
    out.append(cgan.SCIGAN(n_estimators=2, n_dosage_samples=3, **small).fit(Y + dose, np.array(["a", "b"])[T], X=X,
                                                                            dose=dose).dumps())
    try:
        import pandas as pd
    except ImportError:
        return out
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    arms = np.array(["ctl", "low", "high"])[rng.integers(0, 3, n)]
    out.append(cgan.GANITE(n_estimators=1, **small).fit((Y > 0.5).astype(int), arms, X=frame).dumps())
    df = pd.DataFrame({"t": T, "y": np.abs(Y), "age": rng.integers(20, 60, n),
                       "group": rng.choice(["u", "v", "w"], n), "score": rng.normal(size=n)})
    wgan = cgan.CausalWGAN(critic_steps=1, **{**small, "random_state": np.random.default_rng(1)})
    out.append(wgan.fit(df, treatment="t", outcome="y", bounds={"y": (0, None)}).dumps())
    return out


def split(data):
    """(header dict, blobs) of well-formed container bytes."""
    _, _, size = PREFIX.unpack_from(data)
    header = json.loads(data[PREFIX.size:PREFIX.size + size])
    blobs, offset = [], PREFIX.size + size
    for n in header["blobs"]:
        blobs.append(data[offset:offset + n])
        offset += n
    return header, blobs


def build(header, blobs, version=1):
    """Container bytes from a header and blobs (the header's blob sizes are
    written as given)."""
    text = json.dumps(header).encode()
    return reseal(PREFIX.pack(MAGIC, version, len(text)) + text + b"".join(blobs) + b"\0\0\0\0")


def legacy(model, params=(), state=()):
    """`model` saved as a cgan build from before `params` and fitted
    attributes `state` existed would have saved it (those entries left out
    of the file), then loaded."""
    header, blobs = split(cgan._persist.dumps(model))
    for key in params:
        del header["params"][key]
    for key in state:
        del header["state"][key]
    return cgan.loads(build(header, blobs))


def reseal(data):
    """data with its trailing CRC-32 recomputed, so mutations reach the parser."""
    if len(data) < 4:
        return data
    body = data[:-4]
    return body + struct.pack("<I", zlib.crc32(body))


def _random_bytes(draw, n):
    return bytes(draw(0, 255) for _ in range(n))


def _nodes(value, path=()):
    """Paths of every node of a JSON value."""
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _nodes(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _nodes(v, path + (i,))


def _replace(value, path, new):
    if not path:
        return new
    value[path[0]] = _replace(value[path[0]], path[1:], new)
    return value


def mutate(data, corpus, draw):
    """One mutation of `data` (valid container bytes), chosen by draw."""
    op = draw(0, 9)
    n = len(data)
    if op == 0:  # truncate
        return data[:draw(0, n - 1)]
    if op == 1:  # flip bits
        b = bytearray(data)
        for _ in range(draw(1, 8)):
            b[draw(0, n - 1)] ^= 1 << draw(0, 7)
        return reseal(bytes(b)) if draw(0, 1) else bytes(b)
    if op == 2:  # overwrite a range
        i = draw(0, n - 1)
        chunk = _random_bytes(draw, draw(1, 16))
        return reseal(data[:i] + chunk + data[i + len(chunk):])
    if op == 3:  # insert
        i = draw(0, n)
        return reseal(data[:i] + _random_bytes(draw, draw(1, 16)) + data[i:])
    if op == 4:  # delete
        i = draw(0, n - 1)
        return reseal(data[:i] + data[i + draw(1, 64):])
    if op == 5:  # splice two saved models
        other = corpus[draw(0, len(corpus) - 1)]
        return reseal(data[:draw(0, n)] + other[draw(0, len(other)):])
    header, blobs = split(data)
    if op == 6:  # replace one node of the header
        paths = list(_nodes(header))
        path = paths[draw(0, len(paths) - 1)]
        new = INTERESTING_VALUES[draw(0, len(INTERESTING_VALUES) - 1)]
        header = _replace(header, path, json.loads(json.dumps(new)))
        return build(header, blobs)
    if op == 7:  # mutate a blob (array data or a C core snapshot), framing intact
        if not blobs:
            return data
        k = draw(0, len(blobs) - 1)
        blob = bytearray(blobs[k])
        if blob:
            if draw(0, 1):  # a 32-bit field among the core snapshots' header and configuration
                i = min(draw(0, 80) // 4 * 4, max(len(blob) - 4, 0))
                value = INTERESTING_INTS[draw(0, len(INTERESTING_INTS) - 1)]
                blob[i:i + 4] = struct.pack("<I", value % 2**32)[:len(blob) - i]
            else:
                for _ in range(draw(1, 4)):
                    blob[draw(0, len(blob) - 1)] = draw(0, 255)
        if draw(0, 3) == 0:  # and sometimes its length too
            blob = blob[:draw(0, len(blob))]
            header["blobs"][k] = len(blob)
        blobs[k] = bytes(blob)
        return build(header, blobs)
    if op == 8:  # wrong version or header size
        if draw(0, 1):
            return build(header, blobs, version=INTERESTING_INTS[draw(0, 12)] % 2**32)
        size = INTERESTING_INTS[draw(0, len(INTERESTING_INTS) - 1)] % 2**64
        return reseal(data[:8 + 4] + struct.pack("<Q", size) + data[PREFIX.size:])
    # op 9: random bytes after a valid prefix
    return reseal(MAGIC + struct.pack("<I", 1) + _random_bytes(draw, draw(0, 64)))


def check_load(data):
    """Load data; return the model, or None when it is rejected with
    ValueError.  Any other exception propagates (and fails the caller)."""
    try:
        model = cgan.loads(data)
    except ValueError:
        return None
    assert isinstance(model, (cgan.GANITE, cgan.SCIGAN, cgan.CausalWGAN))
    return model
