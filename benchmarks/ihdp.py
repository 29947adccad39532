"""IHDP benchmark for cgan.GANITE: replications 1-10 with the standard test rows.

For each replication the model is fitted on the 672 training rows and scored
on both the training rows (in-sample) and the 75 test rows (out-of-sample):
  sqrt(PEHE) = sqrt(mean((tau_hat - (mu1 - mu0))^2)),  |ATE error| = |mean(tau_hat) - mean(mu1 - mu0)|.
"AIPW ATE err in" is the error of the centre of ate_interval (the cross-fitted
doubly robust estimate).  The test rows are never used to choose anything: the defaults were chosen on
training rows only.

    python benchmarks/ihdp.py [--reps 1-10] [--jobs 2] [--param value ...]
e.g. python benchmarks/ihdp.py --hidden_size 30 --n_iter 10000
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from multiprocessing import Pool

import numpy as np
from _common import SHARED_DATA

DATA = SHARED_DATA / "ihdp"
TARGET_PEHE, TARGET_ATE = 1.0, 0.2


def load(rep: int):
    d = np.loadtxt(DATA / f"ihdp_npci_{rep}.csv", delimiter=",")
    rows = np.loadtxt(DATA / "ihdp_npci_1-10.test_rows.csv", delimiter=",", skiprows=1).astype(int)
    test = np.zeros(len(d), bool)
    test[rows[rows[:, 0] == rep, 2]] = True
    return d[:, 5:], d[:, 0].astype(int), d[:, 1], d[:, 4] - d[:, 3], test


def run(job):
    rep, params = job
    import cgan

    X, t, y, tau, test = load(rep)
    train = ~test
    t0 = time.perf_counter()
    model = cgan.GANITE(random_state=rep, **params).fit(y[train], t[train], X=X[train])
    sec = time.perf_counter() - t0
    out = {"rep": rep, "sec": sec, "scale": getattr(model, "outcome_transform_", "none")}
    for name, mask in (("in", train), ("out", test)):
        est = model.effect(X[mask])
        out[f"pehe_{name}"] = float(np.sqrt(np.mean((est - tau[mask]) ** 2)))
        out[f"ate_{name}"] = float(abs(est.mean() - tau[mask].mean()))
    lo, hi = model.ate_interval()
    out["covered"] = bool(lo <= tau[train].mean() <= hi)
    out["ate_aipw_in"] = float(abs((lo + hi) / 2 - tau[train].mean()))
    return out


def parse_reps(text: str):
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(x) for x in text.split(",")]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", default="1-10")
    ap.add_argument("--jobs", type=int, default=2)
    args, rest = ap.parse_known_args(argv)
    params = {}
    for key, value in zip(rest[::2], rest[1::2]):
        params[key.lstrip("-")] = json.loads(value)
    if not DATA.exists():
        sys.exit(f"IHDP data not found at {DATA}")
    reps = parse_reps(args.reps)
    with Pool(args.jobs) as pool:
        res = pool.map(run, [(r, params) for r in reps])
    print(f"cgan.GANITE on IHDP, parameters {params or 'defaults'}\n")
    print("| rep | sqrt(PEHE) in | sqrt(PEHE) out | ATE err in | ATE err out | AIPW ATE err in | interval covers "
          "| scale | fit s |")
    print("|---:|---:|---:|---:|---:|---:|:---:|:---:|---:|")
    for r in res:
        print(f"| {r['rep']} | {r['pehe_in']:.3f} | {r['pehe_out']:.3f} | {r['ate_in']:.3f} | {r['ate_out']:.3f} "
              f"| {r['ate_aipw_in']:.3f} | {'yes' if r['covered'] else 'no'} | {r['scale']} | {r['sec']:.1f} |")
    mean = {k: float(np.mean([r[k] for r in res]))
            for k in ("pehe_in", "pehe_out", "ate_in", "ate_out", "ate_aipw_in", "sec")}
    sem = {k: float(np.std([r[k] for r in res], ddof=1) / np.sqrt(len(res))) if len(res) > 1 else 0.0
           for k in mean}
    print(f"| mean ± se | {mean['pehe_in']:.3f} ± {sem['pehe_in']:.3f} | {mean['pehe_out']:.3f} ± {sem['pehe_out']:.3f} "
          f"| {mean['ate_in']:.3f} ± {sem['ate_in']:.3f} | {mean['ate_out']:.3f} ± {sem['ate_out']:.3f} "
          f"| {mean['ate_aipw_in']:.3f} ± {sem['ate_aipw_in']:.3f} "
          f"| {sum(r['covered'] for r in res)}/{len(res)} | | {mean['sec']:.1f} |")
    med = {k: float(np.median([r[k] for r in res])) for k in mean}
    print(f"| median | {med['pehe_in']:.3f} | {med['pehe_out']:.3f} | {med['ate_in']:.3f} | {med['ate_out']:.3f} "
          f"| {med['ate_aipw_in']:.3f} | | | {med['sec']:.1f} |")
    ok_p = mean["pehe_out"] <= TARGET_PEHE
    ok_a = mean["ate_out"] <= TARGET_ATE
    print(f"\ntarget out-of-sample mean sqrt(PEHE) <= {TARGET_PEHE}: {mean['pehe_out']:.3f} -> {'PASS' if ok_p else 'MISS'}")
    print(f"target out-of-sample mean |ATE error| <= {TARGET_ATE}: {mean['ate_out']:.3f} -> {'PASS' if ok_a else 'MISS'}")


if __name__ == "__main__":
    main()
