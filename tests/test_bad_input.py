"""Argument checking and input handling of every entry point of cgan._cgan.

1. Bad arguments raise ValueError or TypeError whose message names the
   argument (or the problem), never crash and never raise anything else.
2. Inputs are never modified: float64, float32, Fortran-ordered,
   non-contiguous, negatively strided, big-endian, read-only, int and bool
   arrays and nested lists are all accepted, stay byte-for-byte unchanged
   (values, memory of the base array, dtype, strides, flags), and give exactly
   the result of the same values as a float64 C-contiguous array.
"""
import math

import numpy as np
import pytest

from cgan import _cgan as C

# ------------------------------------------------------------- the table

MLP_SIZES, MLP_ACTS = [3, 4, 2], ["relu", "identity"]
MLP_NPARAMS = 3 * 4 + 4 + 4 * 2 + 2
X_MLP = np.linspace(-1, 1, 12).reshape(4, 3)


def _mlp():
    return C.MLP(MLP_SIZES, MLP_ACTS, 0)


def _mlp_forward(X):
    return _mlp().forward(X)


def _mlp_backward(dY):
    m = _mlp()
    m.forward(X_MLP)
    return m.backward(dY), m.get_grads()


def _mlp_set_params(params):
    m = _mlp()
    out = m.set_params(params)
    return out, m.get_params()


def _mlp_fit_mse(X, Y, batch_size, n_iter, **kw):
    m = _mlp()
    losses = m.fit_mse(X, Y, batch_size, n_iter, **kw)
    return losses, m.get_params()


def _mlp_new(**kw):
    m = C.MLP(**kw)
    return m.n_params, m.get_params()


# entry -> (callable, {array argument: (shape, value kind)}, other valid arguments)
# value kinds: "real" (any), "unit" (in [0, 1]), "nonneg" (>= 0)
ENTRIES = {
    "gemm_fm": (C.gemm_fm, {"A": ((6,), "real"), "B": ((48,), "real"), "aux": ((2,), "real"), "C": ((32,), "real")},
                {"m": 2, "n": 16, "k": 3, "epilogue": "bias"}),
    "gemm_nt": (C.gemm_nt, {"A": ((6,), "real"), "B": ((6,), "real"), "C": ((4,), "real"), "bsum": ((2,), "real")},
                {"m": 2, "n": 2, "k": 3}),
    "transpose": (C.transpose, {"src": ((6,), "real"), "dst": ((6,), "real")}, {"rows": 2, "cols": 3, "add": True}),
    "activation_forward": (C.activation_forward, {"x": ((6,), "real")}, {"activation": "elu"}),
    "activation_backward": (C.activation_backward, {"dy": ((6,), "real"), "x": ((6,), "real")},
                            {"activation": "leaky_relu", "param": 0.1}),
    "dropout_forward": (C.dropout_forward, {"x": ((2, 6), "real")}, {"p": 0.5, "seed": 3, "n": 5}),
    "mse_loss": (C.mse_loss, {"prediction": ((5,), "real"), "target": ((5,), "real"), "weight": ((5,), "nonneg")}, {}),
    "bce_logits_loss": (C.bce_logits_loss,
                        {"prediction": ((5,), "real"), "target": ((5,), "unit"), "weight": ((5,), "nonneg")}, {}),
    "softmax_ce_loss": (C.softmax_ce_loss, {"logits": ((4, 3), "real"), "weight": ((4,), "nonneg")},
                        {"labels": np.array([0, 2, 1, 2])}),
    "adam_run": (C.adam_run, {"params": ((5,), "real"), "grads": ((3, 5), "real")}, {"learning_rate": 0.01}),
    "MLP.forward": (_mlp_forward, {"X": ((4, 3), "real")}, {}),
    "MLP.backward": (_mlp_backward, {"dY": ((4, 2), "real")}, {}),
    "MLP.set_params": (_mlp_set_params, {"params": ((MLP_NPARAMS,), "real")}, {}),
    "MLP.fit_mse": (_mlp_fit_mse, {"X": ((8, 3), "real"), "Y": ((8, 2), "real")},
                    {"batch_size": 4, "n_iter": 3, "learning_rate": 0.01}),
    "rng_uniform": (C.rng_uniform, {}, {"seed": 1, "size": 10}),
    "rng_normal": (C.rng_normal, {}, {"seed": 1, "size": 10}),
    "rng_indices": (C.rng_indices, {}, {"seed": 1, "size": 10, "high": 5}),
    "MLP": (_mlp_new, {}, {"sizes": MLP_SIZES, "activations": MLP_ACTS, "seed": 0}),
}
OPTIONAL_ARRAYS = {("gemm_fm", "C"), ("gemm_nt", "C"), ("gemm_nt", "bsum"), ("transpose", "dst"), ("mse_loss", "weight"), ("bce_logits_loss", "weight"),
                   ("softmax_ce_loss", "weight")}


def _values(family, shape, kind, seed):
    """float64 C-contiguous values of a family that every variant can hold exactly."""
    rng = np.random.default_rng(seed)
    if family == "float":
        if kind == "unit":
            v = rng.uniform(size=shape)
        else:
            v = rng.standard_normal(shape) * 2
            if kind == "nonneg":
                v = np.abs(v)
        return v.astype(np.float32).astype(np.float64)
    if family == "int":
        lo = 0 if kind != "real" else -3
        hi = 2 if kind == "unit" else 4
        return rng.integers(lo, hi, size=shape).astype(np.float64)
    return rng.integers(0, 2, size=shape).astype(np.float64)   # bool


def _base_kwargs(entry, seed=0):
    fn, arrays, others = ENTRIES[entry]
    kw = dict(others)
    for i, (name, (shape, kind)) in enumerate(arrays.items()):
        kw[name] = _values("float", shape, kind, seed * 100 + i)
    return fn, kw


def _call(fn, kw):
    return fn(**kw)


# ------------------------------------------------------------ utilities

FLAGS = ("C_CONTIGUOUS", "F_CONTIGUOUS", "OWNDATA", "WRITEABLE", "ALIGNED", "WRITEBACKIFCOPY")


def _snapshot(obj):
    if isinstance(obj, np.ndarray):
        base = obj.base if isinstance(obj.base, np.ndarray) else None
        return ("ndarray", obj.tobytes(order="A"), obj.tobytes(), obj.dtype.str, obj.shape, obj.strides,
                tuple(obj.flags[f] for f in FLAGS),
                None if base is None else (base.tobytes(order="A"), base.dtype.str, base.shape))
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, repr(obj), tuple(_snapshot(o) for o in obj))
    return (type(obj).__name__, repr(obj))


def _same(a, b):
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
                and a.tobytes() == b.tobytes())
    if isinstance(a, float):
        return isinstance(b, float) and (a == b or (math.isnan(a) and math.isnan(b)))
    return type(a) is type(b) and a == b


def _expect_error(fn, kw, exc, match):
    """The call raises `exc` (ValueError/TypeError/...) matching `match`; any
    other exception (SystemError, a crash) fails the test."""
    with pytest.raises(exc, match=match):
        fn(**kw)


# ---------------------------------------------- generic array argument checks


def _generic_array_cases():
    cases = []
    for entry, (fn, arrays, _) in ENTRIES.items():
        for arg, (shape, kind) in arrays.items():
            nd = len(shape)
            ones = np.ones(shape)
            a = re_name = arg

            def with_value(x, pos=-1, dtype=np.float64, shape=shape):
                v = np.ones(shape, dtype=dtype)
                v.flat[pos] = x
                return v

            dim_msg = rf"{re_name} must be {nd}-dimensional"
            lower = ones[0] if nd == 2 else np.float64(1.0)
            specs = [
                ("ndim+1", ones[None], ValueError, dim_msg),
                ("ndim-1", lower, ValueError, dim_msg),
                ("ndim+2", ones[None, None], ValueError, dim_msg),
                ("nan", with_value(np.nan), ValueError, rf"{a} contains NaN"),
                ("nan-first", with_value(np.nan, 0), ValueError, rf"{a} contains NaN at flat index 0"),
                ("nan-float32", with_value(np.nan, dtype=np.float32), ValueError, rf"{a} contains NaN"),
                ("nan-float16", with_value(np.nan, dtype=np.float16), ValueError, rf"{a} contains NaN"),
                ("inf", with_value(np.inf), ValueError, rf"{a} contains inf"),
                ("-inf-float32", with_value(-np.inf, dtype=np.float32), ValueError, rf"{a} contains inf"),
                ("1e39", with_value(1e39), ValueError, rf"{a} contains a value beyond float32"),
                ("-1e39", with_value(-1e39), ValueError, rf"{a} contains a value beyond float32"),
                ("1e300", with_value(1e300, 0), ValueError, rf"{a} contains a value beyond float32"),
                ("zero-rows", np.ones((0,) + shape[1:]), ValueError, rf"{a} has no rows"),
                ("empty-list", [], ValueError, rf"{a} has no rows" if nd == 1 else dim_msg),
                ("object", ones.astype(object), TypeError, rf"{a} must hold real numbers"),
                ("object-mixed", np.array([1.0, "x", None] * (ones.size // 3 + 1), dtype=object)[: ones.size]
                 .reshape(shape), TypeError, rf"{a} must hold real numbers"),
                ("string", ones.astype(str), TypeError, rf"{a} must hold real numbers"),
                ("bytes", ones.astype("S3"), TypeError, rf"{a} must hold real numbers"),
                ("complex", ones.astype(complex), TypeError, rf"{a} must hold real numbers"),
                ("datetime", np.zeros(shape, dtype="M8[D]"), TypeError, rf"{a} must hold real numbers"),
                ("str-scalar", "abc", TypeError, rf"{a} must hold real numbers"),
                ("ragged", [[1.0, 2.0], [1.0]], ValueError, rf"{a} could not be read as an array"),
            ]
            if nd == 2:
                specs.append(("zero-cols", np.ones((shape[0], 0)), ValueError, rf"{a} has no columns"))
                specs.append(("zero-both", np.ones((0, 0)), ValueError, rf"{a} has no rows"))
            if (entry, arg) not in OPTIONAL_ARRAYS:
                specs.append(("None", None, TypeError, rf"{a} must be an array"))
            for cid, value, exc, msg in specs:
                cases.append(pytest.param(entry, arg, value, exc, msg, id=f"{entry}-{arg}-{cid}"))
    return cases


@pytest.mark.parametrize("entry,arg,value,exc,match", _generic_array_cases())
def test_bad_array_argument(entry, arg, value, exc, match):
    fn, kw = _base_kwargs(entry)
    kw[arg] = value
    _expect_error(fn, kw, exc, match)


# -------------------------------------------- entry-specific bad arguments

SPECIFIC = [
    # feature-major products
    ("gemm_fm", {"n": 10}, ValueError, r"n must be a multiple of 16, got 10"),
    ("gemm_fm", {"m": 0}, ValueError, r"m must be between 1 and"),
    ("gemm_fm", {"k": 4}, ValueError, r"A has 6 values, too few for 2 x 4 values at strides \(4, 1\)"),
    ("gemm_fm", {"aux": np.ones(1)}, ValueError, r"aux has 1 values, too few for 1 x 2 values"),
    ("gemm_fm", {"epilogue": "gate_relu"}, ValueError, r"aux has 2 values, too few for 2 x 16 values"),
    ("gemm_fm", {"m": 2**31 + 1}, ValueError, r"m must be between 1 and 2147483648"),
    ("gemm_fm", {"epilogue": 3}, ValueError, r"epilogue must be one of"),
    ("gemm_fm", {"isa": "neon"}, ValueError, r"isa must be one of"),
    ("gemm_fm", {"ldc": 15}, ValueError, r"ldc must be between 16 and"),
    ("gemm_nt", {"lda": 2}, ValueError, r"lda must be between 3 and"),
    ("gemm_nt", {"n": 3}, ValueError, r"B has 6 values, too few for 3 x 3 values"),
    ("transpose", {"lds": 4}, ValueError, r"src has 6 values, too few for 2 x 4 values"),
    ("transpose", {"rows": 0}, ValueError, r"rows must be between 1 and"),
    # activations
    ("activation_forward", {"activation": "foo"}, ValueError, r"activation must be one of .*'foo'"),
    ("activation_forward", {"activation": "ReLU"}, ValueError, r"activation must be one of"),
    ("activation_forward", {"activation": "relu "}, ValueError, r"activation must be one of"),
    ("activation_forward", {"activation": ""}, ValueError, r"activation must be one of"),
    ("activation_forward", {"activation": "softmax"}, ValueError, r"activation must be one of"),
    ("activation_forward", {"activation": b"relu"}, TypeError, r"activation must be a string"),
    ("activation_forward", {"activation": 1}, TypeError, r"activation must be a string"),
    ("activation_forward", {"activation": None}, TypeError, r"activation must be a string"),
    ("activation_forward", {"param": -0.1}, ValueError, r"param must lie"),
    ("activation_forward", {"param": float("nan")}, ValueError, r"param must lie"),
    ("activation_forward", {"param": float("inf")}, ValueError, r"param must lie"),
    ("activation_forward", {"param": 1e7}, ValueError, r"param must lie"),
    ("activation_forward", {"param": "0.1"}, TypeError, r"param must be a number"),
    ("activation_forward", {"param": True}, TypeError, r"param must be a number"),
    ("activation_backward", {"dy": np.ones(5)}, ValueError, r"dy has 5 entries but x has 6"),
    ("activation_backward", {"activation": "gelu"}, ValueError, r"activation must be one of"),
    ("activation_backward", {"param": -1}, ValueError, r"param must lie"),
    # dropout
    ("dropout_forward", {"p": 1.0}, ValueError, r"p must lie"),
    ("dropout_forward", {"p": 1}, ValueError, r"p must lie"),
    ("dropout_forward", {"p": 1.5}, ValueError, r"p must lie"),
    ("dropout_forward", {"p": -0.1}, ValueError, r"p must lie"),
    ("dropout_forward", {"p": -1e-300}, ValueError, r"p must lie"),
    ("dropout_forward", {"p": float("nan")}, ValueError, r"p must lie"),
    ("dropout_forward", {"p": float("-inf")}, ValueError, r"p must lie"),
    ("dropout_forward", {"p": "0.5"}, TypeError, r"p must be a number"),
    ("dropout_forward", {"p": None}, TypeError, r"p must be a number"),
    ("dropout_forward", {"p": True}, TypeError, r"p must be a number"),
    ("dropout_forward", {"seed": -1}, ValueError, r"seed must be an integer in \[0, 2\*\*64\)"),
    ("dropout_forward", {"seed": 2**64}, ValueError, r"seed must be an integer in \[0, 2\*\*64\)"),
    ("dropout_forward", {"seed": 1.0}, TypeError, r"seed must be an integer"),
    ("dropout_forward", {"seed": "1"}, TypeError, r"seed must be an integer"),
    ("dropout_forward", {"seed": None}, TypeError, r"seed must be an integer"),
    ("dropout_forward", {"seed": True}, TypeError, r"seed must be an integer"),
    ("dropout_forward", {"seed": np.float64(1)}, TypeError, r"seed must be an integer"),
    ("dropout_forward", {"n": 7}, ValueError, r"n must be between 0 and 6, got 7"),
    ("dropout_forward", {"n": -1}, ValueError, r"n must be between 0 and 6, got -1"),
    ("dropout_forward", {"n": 2.0}, TypeError, r"n must be an integer"),
    # pointwise losses
    ("mse_loss", {"target": np.ones(4)}, ValueError, r"target has 4 entries but prediction has 5"),
    ("mse_loss", {"weight": np.ones(4)}, ValueError, r"weight has 4 entries but the data have 5 rows"),
    ("mse_loss", {"weight": -np.ones(5)}, ValueError, r"weight must be non-negative"),
    ("mse_loss", {"weight": np.ones((5, 1))}, ValueError, r"weight must be 1-dimensional"),
    ("bce_logits_loss", {"target": np.full(5, 1.5)}, ValueError, r"target must lie in \[0, 1\]"),
    ("bce_logits_loss", {"target": np.full(5, -0.5)}, ValueError, r"target must lie in \[0, 1\]"),
    ("bce_logits_loss", {"target": np.ones(6)}, ValueError, r"target has 6 entries but prediction has 5"),
    ("bce_logits_loss", {"weight": np.array([1, 1, -1e-3, 1, 1])}, ValueError, r"weight must be non-negative"),
    # softmax cross-entropy
    ("softmax_ce_loss", {"labels": np.array([0, 1, 2])}, ValueError, r"labels must be 1-dimensional with 4 entries"),
    ("softmax_ce_loss", {"labels": np.zeros((4, 1), int)}, ValueError, r"labels must be 1-dimensional with 4"),
    ("softmax_ce_loss", {"labels": np.int64(0)}, ValueError, r"labels must be 1-dimensional"),
    ("softmax_ce_loss", {"labels": np.array([0, 1, 3, 0])}, ValueError, r"labels must lie in \[0, 3\), got 3"),
    ("softmax_ce_loss", {"labels": np.array([0, -1, 2, 0])}, ValueError, r"labels must lie in \[0, 3\), got -1"),
    ("softmax_ce_loss", {"labels": np.array([0, 2**40, 2, 0])}, ValueError, r"labels must lie in \[0, 3\)"),
    ("softmax_ce_loss", {"labels": np.array([0, 2**63 + 1, 2, 0], np.uint64)}, ValueError, r"labels must lie"),
    ("softmax_ce_loss", {"labels": np.array([0.0, 1.0, 2.0, 0.0])}, TypeError, r"labels must hold integer"),
    ("softmax_ce_loss", {"labels": np.array(["0", "1", "2", "0"])}, TypeError, r"labels must hold integer"),
    ("softmax_ce_loss", {"labels": np.array([0, 1, 2, 0], object)}, TypeError, r"labels must hold integer"),
    ("softmax_ce_loss", {"labels": None}, TypeError, r"labels must hold integer"),
    ("softmax_ce_loss", {"labels": [0, 1, 2, 5]}, ValueError, r"labels must lie in \[0, 3\), got 5 at index 3"),
    ("softmax_ce_loss", {"weight": np.ones(3)}, ValueError, r"weight has 3 entries but the data have 4 rows"),
    ("softmax_ce_loss", {"weight": -np.ones(4)}, ValueError, r"weight must be non-negative"),
    # RNG
    ("rng_uniform", {"seed": -1}, ValueError, r"seed must be an integer in \[0, 2\*\*64\)"),
    ("rng_uniform", {"seed": 2**64}, ValueError, r"seed must be an integer in \[0, 2\*\*64\)"),
    ("rng_uniform", {"seed": 0.5}, TypeError, r"seed must be an integer"),
    ("rng_uniform", {"size": -1}, ValueError, r"size must be between 0 and"),
    ("rng_uniform", {"size": 2**62}, ValueError, r"size must be between 0 and"),
    ("rng_uniform", {"size": 2**64}, ValueError, r"size must be between 0 and"),
    ("rng_uniform", {"size": 10.0}, TypeError, r"size must be an integer"),
    ("rng_uniform", {"size": None}, TypeError, r"size must be an integer"),
    ("rng_normal", {"seed": -5}, ValueError, r"seed must be an integer in \[0, 2\*\*64\)"),
    ("rng_normal", {"size": -3}, ValueError, r"size must be between 0 and"),
    ("rng_normal", {"size": 2**62}, ValueError, r"size must be between 0 and"),
    ("rng_normal", {"size": "10"}, TypeError, r"size must be an integer"),
    ("rng_indices", {"seed": -1}, ValueError, r"seed must be an integer in \[0, 2\*\*64\)"),
    ("rng_indices", {"seed": [1]}, TypeError, r"seed must be an integer"),
    ("rng_indices", {"size": -1}, ValueError, r"size must be between 0 and"),
    ("rng_indices", {"size": 2**62}, ValueError, r"size must be between 0 and"),
    ("rng_indices", {"high": 0}, ValueError, r"high must be between 1 and"),
    ("rng_indices", {"high": -7}, ValueError, r"high must be between 1 and"),
    ("rng_indices", {"high": 2**63}, ValueError, r"high must be between 1 and"),
    ("rng_indices", {"high": 2**70}, ValueError, r"high must be between 1 and"),
    ("rng_indices", {"high": 5.0}, TypeError, r"high must be an integer"),
    ("rng_indices", {"high": True}, TypeError, r"high must be an integer"),
    # Adam
    ("adam_run", {"grads": np.ones((3, 4))}, ValueError, r"grads has 4 columns but params has 5 entries"),
    ("adam_run", {"learning_rate": 0.0}, ValueError, r"learning_rate must lie"),
    ("adam_run", {"learning_rate": -1e-3}, ValueError, r"learning_rate must lie"),
    ("adam_run", {"learning_rate": 11.0}, ValueError, r"learning_rate must lie"),
    ("adam_run", {"learning_rate": float("nan")}, ValueError, r"learning_rate must lie"),
    ("adam_run", {"learning_rate": "0.1"}, TypeError, r"learning_rate must be a number"),
    ("adam_run", {"learning_rate": True}, TypeError, r"learning_rate must be a number"),
    ("adam_run", {"beta1": 1.0}, ValueError, r"beta1 must lie"),
    ("adam_run", {"beta1": -0.1}, ValueError, r"beta1 must lie"),
    ("adam_run", {"beta2": 1.0}, ValueError, r"beta2 must lie"),
    ("adam_run", {"beta2": float("inf")}, ValueError, r"beta2 must lie"),
    ("adam_run", {"eps": 0.0}, ValueError, r"eps must lie"),
    ("adam_run", {"eps": -1e-8}, ValueError, r"eps must lie"),
    ("adam_run", {"weight_decay": -0.1}, ValueError, r"weight_decay must lie"),
    ("adam_run", {"weight_decay": float("nan")}, ValueError, r"weight_decay must lie"),
    # MLP constructor
    ("MLP", {"sizes": [3]}, ValueError, r"sizes must have between 2 and 66 entries, got 1"),
    ("MLP", {"sizes": []}, ValueError, r"sizes must have between 2 and 66 entries, got 0"),
    ("MLP", {"sizes": [3] * 1000}, ValueError, r"sizes must have between 2 and 66 entries, got 1000"),
    ("MLP", {"sizes": [3, 0, 2]}, ValueError, r"each entry of sizes must be between 1 and \d+, got 0"),
    ("MLP", {"sizes": [3, -4, 2]}, ValueError, r"each entry of sizes must be between 1 and \d+, got -4"),
    ("MLP", {"sizes": [3, 10**9, 2]}, ValueError, r"each entry of sizes must be between 1 and \d+, got 1000000000"),
    ("MLP", {"sizes": [3, 2**64, 2]}, ValueError, r"each entry of sizes must be between"),
    ("MLP", {"sizes": [2**20, 2**20, 2]}, ValueError, r"parameters"),
    ("MLP", {"sizes": [3, 4.0, 2]}, TypeError, r"each entry of sizes must be an integer"),
    ("MLP", {"sizes": [3, "4", 2]}, TypeError, r"each entry of sizes must be an integer"),
    ("MLP", {"sizes": [3, None, 2]}, TypeError, r"each entry of sizes must be an integer"),
    ("MLP", {"sizes": [3, True, 2]}, TypeError, r"each entry of sizes must be an integer"),
    ("MLP", {"sizes": 5}, TypeError, r"sizes must be a sequence"),
    ("MLP", {"sizes": None}, TypeError, r"sizes must be a sequence"),
    ("MLP", {"activations": ["relu"]}, ValueError, r"activations must have 2 entries \(one per layer\), got 1"),
    ("MLP", {"activations": ["relu", "foo"]}, ValueError, r"each entry of activations must be one of .*'foo'"),
    ("MLP", {"activations": "ab"}, ValueError, r"each entry of activations must be one of"),
    ("MLP", {"activations": [1, "relu"]}, TypeError, r"each entry of activations must be a string"),
    ("MLP", {"activations": None}, TypeError, r"activations must be a sequence"),
    ("MLP", {"seed": -1}, ValueError, r"seed must be an integer in \[0, 2\*\*64\)"),
    ("MLP", {"seed": 2**64}, ValueError, r"seed must be an integer in \[0, 2\*\*64\)"),
    ("MLP", {"seed": 1.5}, TypeError, r"seed must be an integer"),
    ("MLP", {"seed": None}, TypeError, r"seed must be an integer"),
    ("MLP", {"activation_params": [0.2]}, ValueError, r"activation_params must have 2 entries"),
    ("MLP", {"activation_params": [-1.0, 0.2]}, ValueError, r"activation_params must lie"),
    ("MLP", {"activation_params": [float("nan"), 0.2]}, ValueError, r"activation_params must lie"),
    ("MLP", {"activation_params": ["a", 0.2]}, TypeError, r"activation_params must be a number"),
    ("MLP", {"activation_params": 0.2}, TypeError, r"activation_params must be a sequence"),
    ("MLP", {"dropout": [1.0, 0.0]}, ValueError, r"dropout must lie"),
    ("MLP", {"dropout": [-0.1, 0.0]}, ValueError, r"dropout must lie"),
    ("MLP", {"dropout": [float("nan"), 0.0]}, ValueError, r"dropout must lie"),
    ("MLP", {"dropout": [0.5]}, ValueError, r"dropout must have 2 entries"),
    ("MLP", {"dropout": 0.5}, TypeError, r"dropout must be a sequence"),
    # MLP methods
    ("MLP.forward", {"X": np.ones((4, 5))}, ValueError, r"X has 5 columns but the network takes 3 inputs"),
    ("MLP.forward", {"X": np.ones((4, 2))}, ValueError, r"X has 2 columns but the network takes 3 inputs"),
    ("MLP.backward", {"dY": np.ones((5, 2))}, ValueError, r"dY must have shape \(4, 2\)"),
    ("MLP.backward", {"dY": np.ones((4, 3))}, ValueError, r"dY must have shape \(4, 2\)"),
    ("MLP.set_params", {"params": np.ones(MLP_NPARAMS - 1)}, ValueError, rf"params must have {MLP_NPARAMS} entries, got {MLP_NPARAMS - 1}"),
    ("MLP.set_params", {"params": np.ones(MLP_NPARAMS + 1)}, ValueError, rf"params must have {MLP_NPARAMS} entries"),
    ("MLP.fit_mse", {"X": np.ones((8, 5))}, ValueError, r"X has 5 columns but the network takes 3 inputs"),
    ("MLP.fit_mse", {"Y": np.ones((7, 2))}, ValueError, r"Y must have shape \(8, 2\), got \(7, 2\)"),
    ("MLP.fit_mse", {"Y": np.ones((8, 1))}, ValueError, r"Y must have shape \(8, 2\), got \(8, 1\)"),
    ("MLP.fit_mse", {"batch_size": 9}, ValueError, r"batch_size \(9\) is larger than the number of rows \(8\)"),
    ("MLP.fit_mse", {"batch_size": 0}, ValueError, r"batch_size must be between 1"),
    ("MLP.fit_mse", {"batch_size": -1}, ValueError, r"batch_size must be between 1"),
    ("MLP.fit_mse", {"batch_size": 2**40}, ValueError, r"batch_size must be between 1"),
    ("MLP.fit_mse", {"batch_size": 4.0}, TypeError, r"batch_size must be an integer"),
    ("MLP.fit_mse", {"batch_size": None}, TypeError, r"batch_size must be an integer"),
    ("MLP.fit_mse", {"n_iter": -1}, ValueError, r"n_iter must be between 0"),
    ("MLP.fit_mse", {"n_iter": 2**40}, ValueError, r"n_iter must be between 0"),
    ("MLP.fit_mse", {"n_iter": 3.0}, TypeError, r"n_iter must be an integer"),
    ("MLP.fit_mse", {"learning_rate": 0.0}, ValueError, r"learning_rate must lie"),
    ("MLP.fit_mse", {"learning_rate": -0.01}, ValueError, r"learning_rate must lie"),
    ("MLP.fit_mse", {"learning_rate": float("inf")}, ValueError, r"learning_rate must lie"),
    ("MLP.fit_mse", {"learning_rate": "fast"}, TypeError, r"learning_rate must be a number"),
    ("MLP.fit_mse", {"weight_decay": -1.0}, ValueError, r"weight_decay must lie"),
    ("MLP.fit_mse", {"weight_decay": float("nan")}, ValueError, r"weight_decay must lie"),
]


@pytest.mark.parametrize("entry,override,exc,match",
                         [pytest.param(*c, id=f"{c[0]}-{'-'.join(c[1])}-{i}") for i, c in enumerate(SPECIFIC)])
def test_bad_argument(entry, override, exc, match):
    fn, kw = _base_kwargs(entry)
    kw.update(override)
    _expect_error(fn, kw, exc, match)


@pytest.mark.parametrize("entry", list(ENTRIES))
def test_valid_base_call_succeeds(entry):
    # the baseline every bad-argument case perturbs must itself be accepted,
    # otherwise those cases would pass for the wrong reason
    fn, kw = _base_kwargs(entry)
    fn(**kw)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if not e.startswith("MLP")])
def test_missing_and_unknown_arguments_raise_type_error(entry):
    fn, kw = _base_kwargs(entry)
    with pytest.raises(TypeError):
        fn()
    with pytest.raises(TypeError):
        fn(**kw, no_such_argument=1)


RANGE_MESSAGES = [
    ("dropout_forward", "p", 1.5, ["1.5", "[0, 1)"]),
    ("activation_forward", "param", -2.0, ["-2.0", "[0, 1e+06]"]),
    ("adam_run", "learning_rate", 0.0, ["0.0", "(0, 10]"]),
    ("adam_run", "beta1", 1.0, ["1.0", "[0, 1)"]),
    ("adam_run", "beta2", 2.0, ["2.0", "[0, 1)"]),
    ("adam_run", "eps", -1.0, ["-1.0", "(0, 1]"]),
    ("adam_run", "weight_decay", -3.0, ["-3.0", "[0, 1000]"]),
    ("MLP", "dropout", [1.0, 0.0], ["1.0", "[0, 1)"]),
    ("MLP", "activation_params", [-4.0, 0.2], ["-4.0", "[0, 1e+06]"]),
    ("MLP.fit_mse", "learning_rate", -0.5, ["-0.5", "(0, 10]"]),
]


def test_number_argument_errors_show_range_and_value():
    # e.g. "p must lie in [0, 1), got 1.5": the allowed range and the
    # offending value, for every real-valued argument (one shared helper)
    bad = []
    for entry, arg, value, needles in RANGE_MESSAGES:
        fn, kw = _base_kwargs(entry)
        kw[arg] = value
        with pytest.raises(ValueError, match=arg) as info:
            fn(**kw)
        msg = str(info.value)
        if "%" in msg or not all(n in msg for n in needles):
            bad.append(f"{entry}({arg}={value!r}): {msg!r}")
    assert not bad, "\n".join(bad)


def test_uninitialised_mlp_raises_instead_of_crashing():
    m = C.MLP.__new__(C.MLP)
    assert m.n_params == 0
    calls = [
        lambda: m.forward(X_MLP), lambda: m.backward(np.ones((4, 2))), lambda: m.set_params(np.ones(3)),
        lambda: m.fit_mse(X_MLP, np.ones((4, 2)), 2, 1), lambda: m.zero_grad(), lambda: m.get_params(),
        lambda: m.get_grads(),
    ]
    for call in calls:
        with pytest.raises(RuntimeError, match="not initialised"):
            call()


def test_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="forward"):
        _mlp().backward(np.ones((4, 2)))


def test_failed_calls_leave_the_network_unchanged():
    m = _mlp()
    p = m.get_params()
    out = m.forward(X_MLP)
    for bad in (lambda: m.set_params(np.full(MLP_NPARAMS, np.nan)),
                lambda: m.set_params(np.ones(MLP_NPARAMS - 1)),
                lambda: m.forward(np.ones((4, 5))),
                lambda: m.fit_mse(X_MLP, np.ones((4, 2)), 5, 3),
                lambda: m.fit_mse(X_MLP, np.full((4, 2), np.inf), 2, 3),
                lambda: m.backward(np.ones((3, 2)))):
        with pytest.raises((ValueError, TypeError)):
            bad()
    assert m.get_params().tobytes() == p.tobytes()
    # the forward cache is intact: backward still refers to the last good forward
    dX = m.backward(np.ones((4, 2)))
    assert dX.shape == (4, 3)
    assert m.forward(X_MLP).tobytes() == out.tobytes()


# ----------------------------------------------- layouts, dtypes, immutability


def _strided(v, dtype):
    """A non-contiguous view (every other element of the last axis) holding v."""
    shape = v.shape[:-1] + (2 * v.shape[-1],)
    base = np.full(shape, 7, dtype=dtype)
    view = base[..., ::2]
    view[...] = v
    return view


def _reversed(v, dtype):
    base = np.ascontiguousarray(v[(slice(None, None, -1),) * v.ndim], dtype=dtype)
    return base[(slice(None, None, -1),) * v.ndim]


def _readonly(v, dtype):
    a = v.astype(dtype)
    a.flags.writeable = False
    return a


VARIANTS = {
    # family "float": float32-representable values
    "float64": ("float", lambda v: v.copy()),
    "float32": ("float", lambda v: v.astype(np.float32)),
    "float64-fortran": ("float", lambda v: np.asfortranarray(v)),
    "float32-fortran": ("float", lambda v: np.asfortranarray(v, dtype=np.float32)),
    "float64-strided": ("float", lambda v: _strided(v, np.float64)),
    "float32-strided": ("float", lambda v: _strided(v, np.float32)),
    "float64-reversed": ("float", lambda v: _reversed(v, np.float64)),
    "float32-reversed": ("float", lambda v: _reversed(v, np.float32)),
    "float64-bigendian": ("float", lambda v: v.astype(">f8")),
    "float32-bigendian": ("float", lambda v: v.astype(">f4")),
    "float32-readonly": ("float", lambda v: _readonly(v, np.float32)),
    "float64-readonly": ("float", lambda v: _readonly(v, np.float64)),
    "list": ("float", lambda v: v.tolist()),
    "tuple-of-lists": ("float", lambda v: tuple(v.tolist())),
    # family "int": small integers
    "int64": ("int", lambda v: v.astype(np.int64)),
    "int32": ("int", lambda v: v.astype(np.int32)),
    "int8-strided": ("int", lambda v: _strided(v, np.int8)),
    "int16-fortran": ("int", lambda v: np.asfortranarray(v, dtype=np.int16)),
    "int-list": ("int", lambda v: v.astype(np.int64).tolist()),
    # family "bool"
    "bool": ("bool", lambda v: v.astype(bool)),
    "bool-strided": ("bool", lambda v: _strided(v, bool)),
    "uint8": ("bool", lambda v: v.astype(np.uint8)),
}


def _layout_cases():
    cases = []
    for entry, (fn, arrays, _) in ENTRIES.items():
        for arg in arrays:
            for variant in VARIANTS:
                cases.append(pytest.param(entry, arg, variant, id=f"{entry}-{arg}-{variant}"))
    return cases


@pytest.mark.parametrize("entry,arg,variant", _layout_cases())
def test_layouts_and_dtypes_agree_and_inputs_are_unchanged(entry, arg, variant):
    family, make = VARIANTS[variant]
    fn, kw = _base_kwargs(entry, seed=1)
    shape, kind = ENTRIES[entry][1][arg]
    values = _values(family, shape, kind, seed=7)
    kw[arg] = values
    expect_snap = {k: _snapshot(v) for k, v in kw.items()}
    expect = _call(fn, kw)
    assert {k: _snapshot(v) for k, v in kw.items()} == expect_snap

    kw[arg] = make(values)
    if isinstance(kw[arg], np.ndarray):
        assert np.array_equal(kw[arg], values)    # the variant holds the same values
    before = {k: _snapshot(v) for k, v in kw.items()}
    got = _call(fn, kw)
    assert {k: _snapshot(v) for k, v in kw.items()} == before, "an input was modified"
    assert _same(got, expect), (got, expect)
    # and once more: calling again (e.g. on a cached, converted input) is stable
    assert _same(_call(fn, kw), expect)


@pytest.mark.parametrize("entry,arg", [pytest.param(e, a, id=f"{e}-{a}") for e, (_, arrs, _) in ENTRIES.items()
                                       for a in arrs])
def test_float64_is_rounded_to_nearest_float32(entry, arg):
    # values that float32 cannot hold give exactly the result of their
    # round-to-nearest float32 conversion
    fn, kw = _base_kwargs(entry, seed=2)
    shape, kind = ENTRIES[entry][1][arg]
    v = np.random.default_rng(3).uniform(0.0, 1.0, size=shape) * (1 if kind != "real" else 3)
    assert not np.array_equal(v, v.astype(np.float32))
    kw[arg] = v
    snap = _snapshot(v)
    got = _call(fn, kw)
    assert _snapshot(v) == snap
    kw[arg] = v.astype(np.float32)
    assert _same(got, _call(fn, kw))


LABEL_VARIANTS = {
    "int64": lambda l: l.astype(np.int64),
    "int32": lambda l: l.astype(np.int32),
    "uint8": lambda l: l.astype(np.uint8),
    "int16-strided": lambda l: _strided(l, np.int16),
    "int64-reversed": lambda l: _reversed(l, np.int64),
    "int64-readonly": lambda l: _readonly(l, np.int64),
    "int32-bigendian": lambda l: l.astype(">i4"),
    "list": lambda l: l.astype(np.int64).tolist(),
}


@pytest.mark.parametrize("variant", list(LABEL_VARIANTS))
def test_softmax_labels_layouts_agree_and_are_unchanged(variant):
    fn, kw = _base_kwargs("softmax_ce_loss")
    labels = np.array([2, 0, 1, 2])
    kw["labels"] = labels
    expect = _call(fn, kw)
    kw["labels"] = LABEL_VARIANTS[variant](labels)
    before = {k: _snapshot(v) for k, v in kw.items()}
    got = _call(fn, kw)
    assert {k: _snapshot(v) for k, v in kw.items()} == before
    assert _same(got, expect)


def test_softmax_bool_labels_are_class_indices():
    fn, kw = _base_kwargs("softmax_ce_loss")
    kw["labels"] = np.array([1, 0, 0, 1])
    expect = _call(fn, kw)
    kw["labels"] = np.array([True, False, False, True])
    assert _same(_call(fn, kw), expect)


SPEC_VARIANTS = {
    "lists": dict(sizes=[3, 5, 2], activations=["leaky_relu", "identity"], activation_params=[0.25, 1.0],
                  dropout=[0.5, 0.0]),
    "tuples": dict(sizes=(3, 5, 2), activations=("leaky_relu", "identity"), activation_params=(0.25, 1.0),
                   dropout=(0.5, 0.0)),
    "int64-array": dict(sizes=np.array([3, 5, 2]), activations=np.array(["leaky_relu", "identity"]),
                        activation_params=np.array([0.25, 1.0]), dropout=np.array([0.5, 0.0])),
    "int32-strided": dict(sizes=_strided(np.array([3.0, 5.0, 2.0]), np.int32),
                          activations=["leaky_relu", "identity"],
                          activation_params=_strided(np.array([0.25, 1.0]), np.float32),
                          dropout=_reversed(np.array([0.5, 0.0]), np.float32)),
    "numpy-scalars": dict(sizes=[np.int16(3), np.uint64(5), np.int8(2)], activations=["leaky_relu", "identity"],
                          activation_params=[np.float32(0.25), np.float64(1.0)], dropout=[np.float16(0.5), 0]),
}


@pytest.mark.parametrize("variant", list(SPEC_VARIANTS))
def test_mlp_constructor_accepts_sequences_and_leaves_them_unchanged(variant):
    spec = SPEC_VARIANTS[variant]
    before = {k: _snapshot(v) for k, v in spec.items()}
    m = C.MLP(seed=11, **spec)
    assert {k: _snapshot(v) for k, v in spec.items()} == before
    ref_m = C.MLP(seed=11, **SPEC_VARIANTS["lists"])
    assert m.n_params == ref_m.n_params == 3 * 5 + 5 + 5 * 2 + 2
    assert m.get_params().tobytes() == ref_m.get_params().tobytes()
    X = np.linspace(-2, 2, 12).reshape(4, 3)
    assert m.forward(X).tobytes() == ref_m.forward(X).tobytes()
    assert m.forward(X, train=True).tobytes() == ref_m.forward(X, train=True).tobytes()


def test_list_of_lists_inputs_work():
    A = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    np.testing.assert_array_equal(C.gemm_fm(A, [1] * 48, 2, 16, 3, epilogue="bias", aux=[0.5, -0.5]),
                                  [6.5] * 16 + [14.5] * 16)
    # the products take flat buffers: plain lists
    dW, db = C.gemm_nt(A, [1, 0, 1, 0, 1, 1], 2, 2, 3, bsum=[0, 0])
    np.testing.assert_array_equal(dW, [4, 5, 10, 11])
    np.testing.assert_array_equal(db, [2, 2])
    np.testing.assert_array_equal(C.transpose([1, 2, 3, 4, 5, 6], 2, 3), [1, 4, 2, 5, 3, 6])
    loss, grad = C.mse_loss([1, 2], [1, 4])
    assert loss == 2.0 and grad.tolist() == [0.0, -2.0]
    loss, _ = C.softmax_ce_loss([[0.0, 0.0], [0.0, 0.0]], [0, 1])
    assert loss == pytest.approx(math.log(2), rel=1e-12)
    m = _mlp()
    assert _same(m.forward(X_MLP.tolist()), _mlp().forward(X_MLP))
    assert C.adam_run([1.0, 2.0], [[0.1, -0.1]]).shape == (2,)


def test_longdouble_input_is_accepted_or_names_the_argument():
    # np.longdouble is a real float dtype: every array argument must either
    # convert it like float64 or reject it with a message naming the argument
    bad = []
    for entry, (fn, arrays, _) in ENTRIES.items():
        for arg, (shape, kind) in arrays.items():
            fn, kw = _base_kwargs(entry, seed=4)
            values = _values("float", shape, kind, seed=5)
            kw[arg] = values
            expect = _call(fn, kw)
            kw[arg] = values.astype(np.longdouble)
            snap = _snapshot(kw[arg])
            try:
                got = _call(fn, kw)
            except (TypeError, ValueError) as e:
                if arg not in str(e):
                    bad.append(f"{entry}({arg}): {type(e).__name__}: {e}")
            else:
                if not _same(got, expect):
                    bad.append(f"{entry}({arg}): result differs from float64")
            assert _snapshot(kw[arg]) == snap
    assert not bad, "\n".join(bad)
