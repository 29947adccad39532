"""What a private WGAN step costs beside a plain one, at batch 256.

Usage:
    nice -n 10 python benchmarks/dp_step.py              # 15 samples per side
    python benchmarks/dp_step.py --samples 5 --steps 4

Two WGAN cores of CausalWGAN's shapes on LaLonde's CPS sample (16,177 rows:
12 columns of covariates and treatment without context; 1 outcome column
given those 12) at its default networks (3 hidden layers of 128) and
critic_steps 15.  The plain core samples 256 rows per critic step; the
private one Poisson-samples each row at rate 256 / 16,177 (256 rows
expected), clips each row's whole contribution and adds noise (and, for the
outcome core, does the same for the generator step, which reads real rows'
contexts).  Each sample times `--steps` generator steps (each with its 15
critic steps) of one side, the sides interleaved; medians per generator
step, and the ratio private / plain.  One thread.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from cgan import _cgan

DATA = os.environ.get("CGAN_SHARED_DATA", "/work/shared/data")


def core(x_dim, ctx_dim, private, n, seed=0):
    kw = dict(x_dim=x_dim, ctx_dim=ctx_dim, noise_dim=x_dim, hidden_size=128, n_hidden=3, batch_size=256,
              critic_steps=15, gp_lambda=5.0, one_sided=1, critic_dropout=0.0, learning_rate=2e-4, beta1=0.9,
              beta2=0.999, seed=seed)
    w = _cgan.Wgan(**kw)
    if private:
        w.set_privacy(1.0, 1.0, 256 / n)
    return w


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=15)
    ap.add_argument("--steps", type=int, default=4)
    args = ap.parse_args()
    import pandas as pd
    df = pd.read_csv(os.path.join(DATA, "jobs", "nsw_dw_cps.csv"))
    n = len(df)
    # standardised stand-ins of the encoded rows (the cost does not depend on the values)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 12)).astype(np.float32)
    y = rng.standard_normal((n, 1)).astype(np.float32)
    rows = []
    for name, data, ctx in (("covariates and treatment (12 columns, no context)", X, None),
                            ("outcome (1 column given 12)", y, X)):
        cores = {}
        for private in (False, True):
            w = core(data.shape[1], 0 if ctx is None else ctx.shape[1], private, n)
            w.set_data(data, ctx)
            w.train(1)  # warm up
            cores[private] = w
        times = {False: [], True: []}
        for _ in range(args.samples):
            for private in (False, True):
                t0 = time.perf_counter()
                cores[private].train(args.steps)
                times[private].append((time.perf_counter() - t0) / args.steps)
        plain, dp = statistics.median(times[False]), statistics.median(times[True])
        rows.append((name, plain * 1e3, dp * 1e3, dp / plain))
        print(f"{name}: plain {plain * 1e3:.1f} ms, private {dp * 1e3:.1f} ms, ratio {dp / plain:.2f}", flush=True)
    print()
    print("| model | plain ms / generator step | private ms / generator step | private / plain |")
    print("|---|---:|---:|---:|")
    for name, a, b, r in rows:
        print(f"| {name} | {a:.1f} | {b:.1f} | {r:.2f} |")


if __name__ == "__main__":
    main()
