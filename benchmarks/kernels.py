"""Dense-layer forward+backward throughput: cgan's C core vs. NumPy matmul.

Usage:
    python benchmarks/kernels.py [--quick]

Both sides run single-threaded.  cgan's GEMM is single-threaded by design; for
NumPy, OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS are forced to 1
in os.environ *before* numpy is imported (BLAS libraries read them only when
they are loaded, so setting them later has no effect).

One "step" is a dense layer's forward pass followed by its backward pass:

    cgan : Y = _cgan.dense_forward(X, W, b); dX, dW, db = _cgan.dense_backward(dY, X, W)
    numpy: Y = X @ W; Y += b; dX = dY @ W.T; dW = X.T @ dY; db = dY.sum(0)

all in float32 with C-contiguous inputs (so cgan does no conversion).  FLOPs per
step are counted as 3 * 2 * n * in * out (three GEMMs); the bias add and the db
reduction are O(n * out) and are ignored.

Timing: for each shape, each side gets an inner iteration count so that one
timing sample lasts at least MIN_SAMPLE_S; samples are taken interleaved
(cgan, numpy, cgan, numpy, ...) so drift on a noisy shared machine hits both
sides alike, and the median sample is reported.  Every shape is checked for
correctness against a float64 reference before it is timed.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from cgan import _cgan  # noqa: E402

BATCHES = (32, 256, 1024)
WIDTHS = (30, 128, 512)
MIN_SAMPLE_S = 0.025  # each timing sample lasts at least this long
TARGET_SHAPE = (256, 128)  # (batch, width)
TARGET_RATIO = 0.60


def blas_name():
    """Short description of the BLAS numpy was built against (best effort)."""
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older numpy: no mode="dicts"
        return "unknown"


def make_inputs(n, width, rng):
    fan_in = fan_out = width
    X = rng.standard_normal((n, fan_in), dtype=np.float32)
    W = (rng.standard_normal((fan_in, fan_out), dtype=np.float32) / np.float32(np.sqrt(fan_in)))
    b = rng.standard_normal(fan_out, dtype=np.float32)
    dY = rng.standard_normal((n, fan_out), dtype=np.float32)
    for a in (X, W, b, dY):
        assert a.dtype == np.float32 and a.flags.c_contiguous
    return X, W, b, dY


def step_cgan(X, W, b, dY):
    Y = _cgan.dense_forward(X, W, b)
    dX, dW, db = _cgan.dense_backward(dY, X, W)
    return Y, dX, dW, db


def step_numpy(X, W, b, dY):
    Y = X @ W
    Y += b
    dX = dY @ W.T
    dW = X.T @ dY
    db = dY.sum(0)
    return Y, dX, dW, db


def check(X, W, b, dY):
    """Both implementations must match a float64 reference; raise otherwise."""
    X64, W64, b64, dY64 = (a.astype(np.float64) for a in (X, W, b, dY))
    ref = (X64 @ W64 + b64, dY64 @ W64.T, X64.T @ dY64, dY64.sum(0))
    names = ("Y", "dX", "dW", "db")
    for label, fn in (("cgan", step_cgan), ("numpy", step_numpy)):
        got = fn(X, W, b, dY)
        for name, g, r in zip(names, got, ref):
            if g.shape != r.shape or g.dtype != np.float32:
                raise AssertionError(f"{label} {name}: shape/dtype {g.shape}/{g.dtype}, expected {r.shape}/float32")
            atol = 1e-3 * max(1.0, float(np.abs(r).max()))
            if not np.allclose(g, r, rtol=1e-3, atol=atol):
                err = float(np.abs(g - r).max())
                raise AssertionError(f"{label} {name} wrong for shape {X.shape}x{W.shape}: max abs err {err:.3g}")


def calibrate(fn, args):
    """Inner iteration count such that one sample takes >= MIN_SAMPLE_S."""
    fn(*args)  # warm-up
    iters = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(iters):
            fn(*args)
        dt = time.perf_counter() - t0
        if dt >= MIN_SAMPLE_S:
            return iters
        # aim ~20% over the threshold, at least doubling
        iters = max(2 * iters, int(iters * 1.2 * MIN_SAMPLE_S / max(dt, 1e-9)) + 1)


def sample(fn, args, iters):
    t0 = time.perf_counter()
    for _ in range(iters):
        fn(*args)
    return (time.perf_counter() - t0) / iters


def bench_shape(n, width, samples, rng):
    args = make_inputs(n, width, rng)
    check(*args)
    it_c = calibrate(step_cgan, args)
    it_n = calibrate(step_numpy, args)
    t_c, t_n = [], []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(samples):  # interleaved: A B A B ...
            t_c.append(sample(step_cgan, args, it_c))
            t_n.append(sample(step_numpy, args, it_n))
    finally:
        if gc_was_enabled:
            gc.enable()
    flops = 3 * 2 * n * width * width
    return flops / statistics.median(t_c) / 1e9, flops / statistics.median(t_n) / 1e9


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="7 samples per side instead of 21")
    opts = ap.parse_args(argv)
    samples = 7 if opts.quick else 21

    print(f"python {platform.python_version()}, numpy {np.__version__} (BLAS: {blas_name()}), "
          f"cgan._cgan {getattr(_cgan, '__version__', '?')}")
    print(f"threads: OPENBLAS/OMP/MKL_NUM_THREADS=1; {samples} interleaved samples per side, "
          f">= {MIN_SAMPLE_S * 1e3:.0f} ms each, medians; float32; "
          f"GFLOP/s = 6*n*in*out / time (bias/db ignored)")
    print()

    rng = np.random.default_rng(0)
    rows = []
    start = time.perf_counter()
    for n in BATCHES:
        for width in WIDTHS:
            g_c, g_n = bench_shape(n, width, samples, rng)
            rows.append((n, width, g_c, g_n, g_c / g_n))

    print("| batch | width | cgan GFLOP/s | numpy GFLOP/s | ratio (cgan/numpy) |")
    print("|------:|------:|-------------:|--------------:|-------------------:|")
    for n, width, g_c, g_n, r in rows:
        print(f"| {n:5d} | {width:5d} | {g_c:12.2f} | {g_n:13.2f} | {r:18.2f} |")
    print()

    target = next(r for r in rows if (r[0], r[1]) == TARGET_SHAPE)
    verdict = "PASS" if target[4] >= TARGET_RATIO else "MISS"
    print(f"target: ratio >= {TARGET_RATIO:.2f} at batch {TARGET_SHAPE[0]} x width {TARGET_SHAPE[1]}: "
          f"{target[4]:.2f} -> {verdict}")
    print(f"(elapsed {time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
