"""What cgan.CausalWGAN's synthetic copies of LaLonde reveal about their
training rows: cgan.privacy_report beside two references.

Usage:
    python benchmarks/privacy_report.py                       # experimental and CPS, seeds 0-2
    python benchmarks/privacy_report.py --samples experimental --seeds 0

For each sample and seed the rows are split at random in half: the
synthesizer trains on one half (train) and never sees the other (holdout).
Three tables of len(train) rows are then reported against train and
holdout:

  * "CausalWGAN"  CausalWGAN(random_state=seed) at its defaults, fitted on
                  train with treatment t and outcome re78, sampled once;
  * "CausalWGAN eps=3"  the private CausalWGAN(epsilon=3) of
                  benchmarks/dp_fidelity.py (its networks and steps, the
                  column facts declared), fitted on train, sampled once;
  * "resampled"   rows drawn with replacement from train: a synthesizer
                  that memorised its data, which the report must flag;
  * "population"  rows drawn with replacement from half the holdout rows,
                  reported against train and the other half: what a table
                  drawn from the population itself scores.

Data: $CGAN_SHARED_DATA/jobs/nsw_dw_{experimental,cps}.csv (default
/work/shared/data).
"""
from __future__ import annotations

import argparse
import os
import time

import sys

import cgan
import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
import dp_fidelity  # noqa: E402

DATA = os.environ.get("CGAN_SHARED_DATA", "/work/shared/data")


def tables(df, seed):
    """(synthetic tables by name, train, holdout) for one split."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(df))
    train = df.iloc[order[: len(df) // 2]].reset_index(drop=True)
    holdout = df.iloc[order[len(df) // 2:]].reset_index(drop=True)
    t0 = time.perf_counter()
    model = cgan.CausalWGAN(random_state=seed).fit(train, treatment="t", outcome="re78")
    fit_s = time.perf_counter() - t0
    syn = model.sample(len(train), random_state=seed + 1000)[list(df.columns)]
    private = dp_fidelity.fit(train, 3.0, seed).sample(len(train), random_state=seed + 1000)[list(df.columns)]
    resampled = train.sample(len(train), replace=True, random_state=seed)
    half = len(holdout) // 2
    population = holdout.iloc[:half].sample(len(train), replace=True, random_state=seed)
    return {"CausalWGAN": (syn, train, holdout),
            "CausalWGAN eps=3": (private, train, holdout),
            "resampled": (resampled, train, holdout),
            "population": (population, train, holdout.iloc[half:])}, fit_s


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", default="experimental,cps")
    ap.add_argument("--seeds", default="0,1,2")
    args = ap.parse_args()
    rows = []
    for sample in args.samples.split(","):
        df = pd.read_csv(os.path.join(DATA, "jobs", f"nsw_dw_{sample}.csv"))
        for seed in map(int, args.seeds.split(",")):
            sets, fit_s = tables(df, seed)
            print(f"{sample} seed {seed}: {len(df)} rows, CausalWGAN fit {fit_s:.1f} s", flush=True)
            for name, (syn, train, holdout) in sets.items():
                t0 = time.perf_counter()
                rep = cgan.privacy_report(syn, train, holdout, random_state=seed)
                took = time.perf_counter() - t0
                for metric, r in rep.iterrows():
                    rows.append({"sample": sample, "seed": seed, "table": name, "metric": metric,
                                 "value": r["value"], "reference": r["reference"], "z": r["z"],
                                 "flagged": bool(r["flagged"]), "report_s": took})
    out = pd.DataFrame(rows)
    summary = out.groupby(["sample", "table", "metric"], sort=False).agg(
        value=("value", "mean"), reference=("reference", "mean"), z=("z", "mean"),
        flagged=("flagged", "sum"), seeds=("seed", "nunique"), report_s=("report_s", "median"))
    with pd.option_context("display.width", 160, "display.max_rows", 200):
        print(summary.round(3).to_markdown() if _has_tabulate() else summary.round(3))


def _has_tabulate():
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
