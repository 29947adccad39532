"""cgan.evaluate on a Dask cluster against threads on one machine.

Usage:
    python benchmarks/cluster.py                 # 200 data sets of LaLonde's 445 rows
    python benchmarks/cluster.py --datasets 40   # shorter

Needs joblib and dask.distributed (``pip install ".[dask]"``).  Fits a
CausalWGAN to the experimental LaLonde sample bundled with cgan, then runs
the same Monte Carlo (--datasets data sets; three estimators of the ATE: the
difference in means, OLS, and a small GANITE's AIPW estimate with its
interval, which costs about a second per data set) three ways, side by side
in one process:

1. one thread (n_jobs=1);
2. threads on this machine (n_jobs=2);
3. a dask.distributed.LocalCluster of two single-threaded worker processes,
   reached through ``joblib.parallel_config(backend="dask")`` (n_jobs=2).

It prints the wall time of each and checks that the three tables are
identical to the bit.  Then the transfer cost: the size of what every task
shares (the fitted synthesizer and the estimators, pickled), and how many
times it was serialised for the cluster run, against the number of tasks
(cgan hands it to joblib as one argument, which joblib's Dask backend
scatters to the workers once)."""
from __future__ import annotations

import argparse
import pickle
import time

import numpy as np

import cgan
from cgan import _threads
from cgan.datasets import load_lalonde

from _common import cgan_version


def naive(X, T, Y):
    return float(Y[T == 1].mean() - Y[T == 0].mean())


def ols(X, T, Y):
    A = np.column_stack([np.ones(len(T)), T, X.to_numpy(float)])
    return float(np.linalg.lstsq(A, Y, rcond=None)[0][1])


def ganite_aipw(X, T, Y):
    model = cgan.GANITE(hidden_size=32, n_iter=100, n_estimators=2, batch_size=64, random_state=0)
    result = model.fit(Y, T, X=X).ate_inference()
    return result.estimate, result.lo, result.hi


def main() -> None:
    import distributed
    import joblib

    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=int, default=200)
    ap.add_argument("--n-iter", type=int, default=2000)
    args = ap.parse_args()
    from importlib.metadata import version

    print(f"cgan {cgan_version()}; joblib {joblib.__version__}, distributed {version('distributed')}")
    df = load_lalonde()
    synth = cgan.CausalWGAN(n_iter=args.n_iter, random_state=0, n_jobs=2)
    synth.fit(df, treatment="t", outcome="re78", bounds={c: (0, None) for c in ("re74", "re75", "re78")})
    estimators = {"difference in means": naive, "OLS": ols, "GANITE AIPW": ganite_aipw}
    run = dict(n_datasets=args.datasets, random_state=1)

    def timed(label, fn):
        start = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - start
        print(f"{label:<40} {seconds:8.2f} s")
        return out, seconds

    one, t1 = timed("one thread", lambda: cgan.evaluate(synth, estimators, n_jobs=1, **run))
    threads, t2 = timed("threads, n_jobs=2", lambda: cgan.evaluate(synth, estimators, n_jobs=2, **run))
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=50)
    client = distributed.Client(cluster)
    pickled = []
    getstate = getattr(_threads._Shared, "__getstate__", None)
    _threads._Shared.__getstate__ = lambda self: (pickled.append(1), self.__dict__)[1]
    try:
        with joblib.parallel_config(backend="dask"):
            remote, t3 = timed("LocalCluster, 2 worker processes", lambda: cgan.evaluate(synth, estimators, n_jobs=2,
                                                                                      **run))
    finally:
        if getstate is None:
            del _threads._Shared.__getstate__
        client.close()
        cluster.close()
    same = all(a.equals(b) and np.array_equal(a.attrs["true_effects"], b.attrs["true_effects"])
               for a, b in ((one, threads), (one, remote)))
    print(f"identical tables: {same}")
    print(one.to_string(float_format=lambda v: f"{v:.2f}"))
    payload = len(pickle.dumps((synth, estimators)))
    print(f"shared by every task: {payload / 1024:.0f} KiB pickled; serialised {len(pickled)} times for "
          f"{args.datasets} data sets on the cluster")
    print(f"speed-up over one thread: threads {t1 / t2:.2f}x, cluster {t1 / t3:.2f}x")


if __name__ == "__main__":
    main()
