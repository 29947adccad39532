"""A canary audit of CausalWGAN's privacy: a membership-inference attack on
one inserted row over many fits, and the lower bound on epsilon it proves.

Usage:
    nice -n 10 python benchmarks/dp_audit.py                 # 60 fits with the canary, 60 without, per setting
    python benchmarks/dp_audit.py --fits 20 --settings 1

Data: LaLonde's experimental sample (445 rows).  The canary is one row far
from every real one (a treated, married 55-year-old graduate with earnings
near the declared upper bounds in all three years).  For each setting
(a private CausalWGAN at epsilon = --epsilon, and the same small networks
without privacy as the attack's control), half the fits train on the data
with the canary and half without, each from its own seed.  The attack draws
5,000 rows from each fitted model and scores it by the log of a
Gaussian-kernel density of its rows at the canary (its five continuous
columns, in units of their declared ranges): a model that learnt the canary draws rows near it.

At each threshold on the score, (epsilon, delta)-DP bounds the attack's
true-positive rate by e^epsilon * FPR + delta and its true-negative rate
likewise, so
    epsilon >= max(log((TPR - delta) / FPR), log((TNR - delta) / FNR));
with TPR, TNR replaced by their one-sided 97.5% Clopper-Pearson lower
bounds and FPR, FNR by their upper bounds, the best threshold's value is a
lower bound that holds with 95% confidence (the threshold is chosen on the
same fits, which makes the bound optimistic for the attacker, not for the
claim).  With k fits per side the largest bound the audit can show is
about log(k / 3.7) (no error at all): printed as `max_provable`.
"""
from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import pandas as pd
from scipy import stats

import cgan

DATA = os.environ.get("CGAN_SHARED_DATA", "/work/shared/data")
BINARY = ["t", "black", "hispanic", "married", "nodegree", "u74", "u75"]
BOUNDS = {"age": (16, 60), "education": (0, 18), "re74": (0, 40000), "re75": (0, 40000), "re78": (0, 60000)}
CANARY = {"t": 1, "age": 55, "education": 16, "black": 0, "hispanic": 0, "married": 1, "nodegree": 0,
          "re74": 39000.0, "re75": 39000.0, "re78": 59000.0, "u74": 0, "u75": 0}
SMALL = dict(n_iter=300, critic_steps=5, hidden_size=64, n_hidden=2, batch_size=64, learning_rate=1e-3)


def fit(df, epsilon, seed):
    model = cgan.CausalWGAN(random_state=seed, epsilon=epsilon, n_jobs=1, **SMALL)
    if epsilon is None:
        return model.fit(df, treatment="t", outcome="re78", bounds={c: (lo, None) for c, (lo, _) in BOUNDS.items()})
    return model.fit(df, treatment="t", outcome="re78", bounds=BOUNDS, levels={c: [0, 1] for c in BINARY}, log=None)


def score(model, columns, seed):
    """Log of a Gaussian-kernel density (width 0.1) of 5,000 synthetic rows
    at the canary, over its continuous columns in units of their declared
    ranges."""
    cont = [c for c in columns if c in BOUNDS]
    s = model.sample(5000, random_state=seed)[cont].to_numpy(float)
    scale = np.array([BOUNDS[c][1] - BOUNDS[c][0] for c in cont])
    c = np.array([CANARY[k] for k in cont], float)
    z = -(((s - c) / scale) ** 2).sum(axis=1) / (2 * 0.1 ** 2)
    return float(z.max() + np.log(np.mean(np.exp(z - z.max()))))


def cp_upper(k, n, alpha=0.025):
    return 1.0 if k >= n else float(stats.beta.ppf(1 - alpha, k + 1, n - k))


def cp_lower(k, n, alpha=0.025):
    return 0.0 if k <= 0 else float(stats.beta.ppf(alpha, k, n - k + 1))


def epsilon_lower_bound(scores_in, scores_out, delta):
    """The largest 95%-confidence lower bound on epsilon over thresholds."""
    best = 0.0
    n_in, n_out = len(scores_in), len(scores_out)
    for tau in np.unique(np.concatenate([scores_in, scores_out])):
        tp = int(np.sum(scores_in >= tau))
        fp = int(np.sum(scores_out >= tau))
        tpr_lo, fpr_hi = cp_lower(tp, n_in), cp_upper(fp, n_out)
        tnr_lo, fnr_hi = cp_lower(n_out - fp, n_out), cp_upper(n_in - tp, n_in)
        for num, den in ((tpr_lo - delta, fpr_hi), (tnr_lo - delta, fnr_hi)):
            if num > 0 and den > 0:
                best = max(best, math.log(num / den))
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fits", type=int, default=60, help="fits with the canary, and as many without")
    ap.add_argument("--epsilon", type=float, default=1.0)
    ap.add_argument("--settings", type=int, default=2, help="1: the private setting only")
    args = ap.parse_args()
    df = pd.read_csv(os.path.join(DATA, "jobs", "nsw_dw_experimental.csv"))
    df = df[list(CANARY)]
    with_canary = pd.concat([df, pd.DataFrame([CANARY]).astype(df.dtypes.to_dict())], ignore_index=True)
    columns = list(CANARY)
    delta = 1.0 / (10 * len(with_canary))
    settings = [args.epsilon, None][:args.settings]
    print(f"{len(df)} rows (+1 canary), {args.fits} fits per side, delta {delta:.2e}", flush=True)
    rows = []
    for epsilon in settings:
        t0 = time.perf_counter()
        s_in, s_out = [], []
        for k in range(args.fits):
            s_in.append(score(fit(with_canary, epsilon, 2 * k), columns, 10_000 + k))
            s_out.append(score(fit(df, epsilon, 2 * k + 1), columns, 20_000 + k))
        s_in, s_out = np.array(s_in), np.array(s_out)
        lb = epsilon_lower_bound(s_in, s_out, delta)
        auc = float(np.mean(s_in[:, None] > s_out[None, :]) + 0.5 * np.mean(s_in[:, None] == s_out[None, :]))
        took = time.perf_counter() - t0
        label = "none (control)" if epsilon is None else f"{epsilon:g}"
        rows.append((label, args.fits, auc, lb, math.log(args.fits / 3.69), took))
        print(f"epsilon {label}: attack AUC {auc:.3f}, empirical epsilon >= {lb:.3f} (95%), "
              f"median score in {np.median(s_in):.3g} / out {np.median(s_out):.3g}, {took:.0f} s", flush=True)
    print()
    print("| claimed epsilon | fits per side | attack AUC | empirical epsilon lower bound (95%) | max_provable | s |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, k, auc, lb, mx, took in rows:
        print(f"| {label} | {k} | {auc:.3f} | {lb:.3f} | {mx:.2f} | {took:.0f} |")


if __name__ == "__main__":
    main()
