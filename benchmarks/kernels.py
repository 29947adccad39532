"""Throughput of the kernels training runs: cgan's C core vs. NumPy matmul.

Usage:
    python benchmarks/kernels.py [--quick]

Both sides run single-threaded.  cgan's kernels are single-threaded by design;
for NumPy, OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS are forced
to 1 in os.environ *before* numpy is imported (BLAS libraries read them only
when they are loaded, so setting them later has no effect).

Two tables:

1. One ReLU layer of width w (in = out = w) on a batch of n rows, forward and
   backward, through the kernel hooks exactly as the MLP runs them in its
   feature-major layout (unit j of every row in one line of ld >= n values):

       forward   Z^T = relu(W^T A^T + b)     gemm_fm, epilogue bias_relu
       backward  dA^T = W dZ^T . (z > 0)      gemm_fm, epilogue gate_relu
                 dW += A^T dZ, db += sum dZ   gemm_nt with the row sums (w not a
                                              multiple of 16), or transpose and
                                              gemm_fm 'add' (w a multiple of 16)

   at every instruction set the CPU runs (auto is what training picks), and
   NumPy's  Y = max(X @ W + b, 0);  dX = (dY @ W.T) * (Y > 0);  dW = X.T @ dY;
   db = dY.sum(0)  on row-major arrays.  Each hook call converts nothing (the
   buffers are float32 and contiguous) but allocates its output, as NumPy does.

2. _cgan.MLP forward + backward of a network [w, w, w, 1] (two ReLU layers and
   a linear output), the whole step in C, against the same step in NumPy.

FLOPs per layer step are counted as 3 * 2 * n * w * w (three products); the
bias, the gate and db are O(n w) and ignored.  In table 2 the FLOPs of the
three layers' products are counted the same way.

Timing: for each shape, each side gets an inner iteration count so that one
timing sample lasts at least MIN_SAMPLE_S; samples are taken interleaved
(cgan, numpy, cgan, numpy, ...) so drift on a noisy shared machine hits every
side alike, and the median sample is reported.  Every shape is checked against
a float64 reference before it is timed.
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
ALIGN = 16  # CG_FM_ALIGN: a line holds n rounded up to it
ISAS = ["baseline", "fma", "avx512"][: ["baseline", "fma", "avx512"].index(_cgan.ISA) + 1]


def blas_name():
    """Short description of the BLAS numpy was built against (best effort)."""
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older numpy: no mode="dicts"
        return "unknown"


def lines(X, ld):
    """X [n, w] as w feature-major lines of ld values (zero padding), flat."""
    n, w = X.shape
    out = np.zeros((w, ld), np.float32)
    out[:, :n] = X.T
    return out.ravel()


def make_inputs(n, w, rng):
    X = rng.standard_normal((n, w), dtype=np.float32)
    W = rng.standard_normal((w, w), dtype=np.float32) / np.float32(np.sqrt(w))
    b = rng.standard_normal(w, dtype=np.float32)
    dY = rng.standard_normal((n, w), dtype=np.float32)
    return X, W, b, dY


def layer_cgan(isa):
    """One layer's forward and backward through the hooks, as mlp.c runs it."""
    def step(W, b, At, dYt, n, ld, w):
        W = W.ravel()  # the hooks take flat buffers (a view: no copy)
        Zt = _cgan.gemm_fm(W, At, w, ld, w, rs=1, cs=w, epilogue="bias_relu", aux=b, isa=isa)
        dZt = dYt * (Zt > 0)
        # the gate: the layer below is a ReLU of its output, the input here
        dAt = _cgan.gemm_fm(W, dZt, w, ld, w, rs=w, cs=1, epilogue="gate_relu", aux=At, isa=isa)
        if w % ALIGN:
            dW, db = _cgan.gemm_nt(At, dZt, w, w, n, lda=ld, ldb=ld, bsum=np.zeros(w, np.float32), isa=isa)
        else:
            T = _cgan.transpose(dZt, w, n, lds=ld, isa=isa)
            dW = _cgan.gemm_fm(At, T, w, w, n, rs=ld, cs=1, epilogue="add", isa=isa)
            db = _cgan.gemm_fm(np.ones(1, np.float32), T, 1, w, n, rs=0, cs=0, epilogue="add", isa=isa)
        return Zt, dAt, dW, db
    return step


def layer_numpy(X, W, b, dY):
    Y = X @ W
    Y += b
    np.maximum(Y, 0, out=Y)
    dZ = dY * (Y > 0)
    dX = (dZ @ W.T) * (X > 0)
    dW = X.T @ dZ
    db = dZ.sum(0)
    return Y, dX, dW, db


def check_layer(X, W, b, dY, n, ld, w):
    """cgan at every set and NumPy against a float64 reference; raise otherwise."""
    X64, W64, b64 = (a.astype(np.float64) for a in (X, W, b))
    Y = np.maximum(X64 @ W64 + b64, 0)
    dZ = dY * (Y > 0)
    ref = (Y, (dZ @ W64.T) * (X64 > 0), X64.T @ dZ, dZ.sum(0))
    runs = {f"cgan[{isa}]": _cgan_layer_rowmajor(isa, X, W, b, dY, n, ld, w) for isa in ["auto", *ISAS]}
    runs["numpy"] = layer_numpy(X, W, b, dY)
    for label, got in runs.items():
        for name, g, r in zip(("Y", "dX", "dW", "db"), got, ref):
            atol = 1e-3 * max(1.0, float(np.abs(r).max()))
            if g.shape != r.shape or not np.allclose(g, r, rtol=1e-3, atol=atol):
                raise AssertionError(f"{label} {name} wrong for n={n}, w={w}")


def _cgan_layer_rowmajor(isa, X, W, b, dY, n, ld, w):
    """The hooks' outputs as row-major arrays, for the check."""
    Zt, dAt, dW, db = layer_cgan(isa)(W, b, lines(X, ld), lines(dY, ld), n, ld, w)
    rows = lambda t: t.reshape(w, ld)[:, :n].T  # noqa: E731
    return rows(Zt), rows(dAt), dW.reshape(w, w), db


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


def timed(sides, samples):
    """Median seconds per call of each (fn, args), sampled interleaved."""
    iters = [calibrate(fn, args) for fn, args in sides]
    times = [[] for _ in sides]
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(samples):  # interleaved: A B C A B C ...
            for (fn, args), it, t in zip(sides, iters, times):
                t0 = time.perf_counter()
                for _ in range(it):
                    fn(*args)
                t.append((time.perf_counter() - t0) / it)
    finally:
        if gc_was_enabled:
            gc.enable()
    return [statistics.median(t) for t in times]


def bench_layer(n, w, samples, rng):
    X, W, b, dY = make_inputs(n, w, rng)
    ld = -(-n // ALIGN) * ALIGN
    check_layer(X, W, b, dY, n, ld, w)
    hook_args = (W, b, lines(X, ld), lines(dY, ld), n, ld, w)
    sides = [(layer_cgan(isa), hook_args) for isa in ["auto", *ISAS]] + [(layer_numpy, (X, W, b, dY))]
    flops = 3 * 2 * n * w * w
    return [flops / t / 1e9 for t in timed(sides, samples)]


def mlp_step_cgan(net, X, dY):
    net.forward(X)
    net.backward(dY)


def mlp_step_numpy(params, X, dY):
    (W0, b0), (W1, b1), (W2, b2) = params
    h0 = np.maximum(X @ W0 + b0, 0)
    h1 = np.maximum(h0 @ W1 + b1, 0)
    out = h1 @ W2 + b2
    d1 = (dY @ W2.T) * (h1 > 0)
    d0 = (d1 @ W1.T) * (h0 > 0)
    grads = (h1.T @ dY, dY.sum(0), h0.T @ d1, d1.sum(0), X.T @ d0, d0.sum(0))
    return out, d0 @ W0.T, grads


def bench_mlp(n, w, samples, rng):
    net = _cgan.MLP([w, w, w, 1], ["relu", "relu", "identity"], seed=0)
    p = net.get_params()
    params, off = [], 0
    for a, c in ((w, w), (w, w), (w, 1)):
        params.append((p[off:off + a * c].reshape(a, c), p[off + a * c:off + a * c + c]))
        off += a * c + c
    X = rng.standard_normal((n, w), dtype=np.float32)
    dY = rng.standard_normal((n, 1), dtype=np.float32)
    out = net.forward(X)
    expect = mlp_step_numpy(params, X, dY)[0]
    if not np.allclose(out, expect, rtol=1e-3, atol=1e-3 * max(1.0, float(np.abs(expect).max()))):
        raise AssertionError(f"MLP forward wrong for n={n}, w={w}")
    flops = 3 * 2 * n * (2 * w * w + w)
    t_c, t_n = timed([(mlp_step_cgan, (net, X, dY)), (mlp_step_numpy, (params, X, dY))], samples)
    return flops / t_c / 1e9, flops / t_n / 1e9


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="7 samples per side instead of 21")
    opts = ap.parse_args(argv)
    samples = 7 if opts.quick else 21

    print(f"python {platform.python_version()}, numpy {np.__version__} (BLAS: {blas_name()}), "
          f"cgan._cgan {getattr(_cgan, '__version__', '?')}, kernels at {_cgan.ISA}")
    print(f"threads: OPENBLAS/OMP/MKL_NUM_THREADS=1; {samples} interleaved samples per side, "
          f">= {MIN_SAMPLE_S * 1e3:.0f} ms each, medians; float32; GFLOP/s = 6*n*w*w per layer / time")
    print()

    rng = np.random.default_rng(0)
    start = time.perf_counter()
    labels = ["auto", *ISAS]
    print("One ReLU layer, forward + backward (the hooks as the MLP runs them):")
    print("| batch | width | " + " | ".join(f"cgan[{s}]" for s in labels) + " | numpy | auto/numpy |")
    print("|------:|------:|" + "---------:|" * len(labels) + "------:|-----------:|")
    for n in BATCHES:
        for w in WIDTHS:
            g = bench_layer(n, w, samples, rng)
            print(f"| {n:5d} | {w:5d} | " + " | ".join(f"{v:8.2f}" for v in g[:-1]) + f" | {g[-1]:5.2f} "
                  f"| {g[0] / g[-1]:10.2f} |")
    print()
    print("MLP [w, w, w, 1] forward + backward (_cgan.MLP, the whole step in C):")
    print("| batch | width | cgan GFLOP/s | numpy GFLOP/s | ratio (cgan/numpy) |")
    print("|------:|------:|-------------:|--------------:|-------------------:|")
    for n in BATCHES:
        for w in WIDTHS:
            g_c, g_n = bench_mlp(n, w, samples, rng)
            print(f"| {n:5d} | {w:5d} | {g_c:12.2f} | {g_n:13.2f} | {g_c / g_n:18.2f} |")
    print()
    print(f"(elapsed {time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
