"""Coverage of cgan.GANITE's 95% intervals for the average treatment effect.

Simulated designs (seeded, confounded, known population ATE = 2; n = 1000
rows, 5 covariates, noise sd 1):
  linear        e(x) = sigmoid(0.6 x0 - 0.4 x1); mu0 = x0 + 0.5 x1 - 0.5 x2 + 0.3 x3;
                tau(x) = 2 + 0.5 x2
  nonlinear     e(x) = sigmoid(0.8 sin(2 x0) + 0.4 (x1^2 - 1));
                mu0 = sin(2 x0) + 0.5 x1^2 + 0.5 x2 x3 + x4; tau(x) = 1.5 + 0.5 x0^2
  weak overlap  e(x) = sigmoid(2.5 x0 - x1) (about 9% of rows beyond 0.01 / 0.99);
                outcomes as in linear
For each design, --reps replications give the AIPW interval (cross-fitted,
ate_inference) and the plug-in estimate (which has no interval; its mean
|error| is shown); the first --boot-reps of them also give the percentile
bootstrap interval of the cross-fitted AIPW procedure (--n-bootstrap
replicates, each two single-member fits; n_jobs=1 inside each process).
The simulations fit the estimator's default model, which is what a user
gets.  --small-model fits the smaller model that earlier runs used for cost
(--hidden-size, --n-iter; batch 128), whose size was chosen before any
coverage was seen, never tuned on coverage.

IHDP 1-10: the default model on each replication's 672 training rows; the
truth is the in-sample ATE, the mean of mu1 - mu0 over the training rows.
The bootstrap there uses --ihdp-bootstrap replicates.  Test rows are not used.

Target: AIPW coverage in [0.92, 0.98] on the designs with good overlap (linear,
nonlinear); bootstrap coverage >= 0.90.

--speed: n_bootstrap=50 on IHDP replication 1 with the default model, timing
n_jobs=1 and n_jobs=2 alternately (--repeats pairs) and printing the medians
and their ratio (targets: <= 60 s with n_jobs=2, ratio >= 1.7).

    python benchmarks/coverage.py [--reps 200] [--boot-reps 20] [--n-bootstrap 30] [--ihdp-bootstrap 10] [--first-rep 0]
                                  [--jobs 2] [--skip-ihdp | --skip-sim] [--designs nonlinear,...]
                                  [--small-model [--hidden-size H] [--n-iter N]]
    python benchmarks/coverage.py --speed [--repeats 2]
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from multiprocessing import Pool

import numpy as np
from _common import cgan_version
from ihdp import DATA as IHDP_DATA
from ihdp import load as load_ihdp

TRUE_ATE = 2.0
DESIGNS = ("linear", "nonlinear", "weak overlap")
GOOD_OVERLAP = ("linear", "nonlinear")
AIPW_RANGE = (0.92, 0.98)
BOOTSTRAP_MIN = 0.90


def simulate(design: str, rep: int, n: int = 1000):
    rng = np.random.default_rng([DESIGNS.index(design), rep, 2026])
    X = rng.normal(size=(n, 5))
    x0, x1, x2, x3, x4 = X.T
    if design == "nonlinear":
        logit = 0.8 * np.sin(2 * x0) + 0.4 * (x1 ** 2 - 1)
        mu0 = np.sin(2 * x0) + 0.5 * x1 ** 2 + 0.5 * x2 * x3 + x4
        tau = 1.5 + 0.5 * x0 ** 2
    else:
        logit = 0.6 * x0 - 0.4 * x1 if design == "linear" else 2.5 * x0 - x1
        mu0 = x0 + 0.5 * x1 - 0.5 * x2 + 0.3 * x3
        tau = 2.0 + 0.5 * x2
    t = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    y = mu0 + tau * t + rng.normal(size=n)
    return X, t, y


def _fit(params, y, t, X, rep):
    import cgan

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = cgan.GANITE(random_state=rep, **params).fit(y, t, X=X)
    warned = any("overlap" in str(w.message) for w in caught)
    return model, warned


def _score(model, truth, n_bootstrap):
    out = {"plugin": model.ate()}
    r = model.ate_inference(alpha=0.05)
    out["aipw"] = (r.lo, r.hi, r.estimate)
    if n_bootstrap:
        b = model.ate_inference(alpha=0.05, method="bootstrap", n_bootstrap=n_bootstrap, n_jobs=1)
        out["bootstrap"] = (b.lo, b.hi, b.estimate)
    out["truth"] = truth
    return out


def sim_job(job):
    design, rep, params, n_bootstrap = job
    X, t, y = simulate(design, rep)
    model, warned = _fit(params, y, t, X, rep)
    out = _score(model, TRUE_ATE, n_bootstrap)
    out.update(design=design, rep=rep, warned=warned)
    return out


def ihdp_job(job):
    rep, n_bootstrap = job
    X, t, y, tau, test = load_ihdp(rep)
    train = ~test
    model, warned = _fit({}, y[train], t[train], X[train], rep)
    out = _score(model, float(tau[train].mean()), n_bootstrap)
    out.update(design="IHDP 1-10", rep=rep, warned=warned)
    return out


def summarise(results, design, method):
    rows = [r for r in results if r["design"] == design and method in r]
    if not rows:
        return None
    if method == "plugin":
        err = [abs(r["plugin"] - r["truth"]) for r in rows]
        return {"reps": len(rows), "coverage": None, "width": None, "error": float(np.mean(err))}
    lo, hi, est = (np.array([r[method][i] for r in rows]) for i in range(3))
    truth = np.array([r["truth"] for r in rows])
    return {"reps": len(rows), "coverage": float(np.mean((lo <= truth) & (truth <= hi))),
            "width": float(np.mean(hi - lo)), "error": float(np.mean(np.abs(est - truth)))}


def coverage(args):
    small = {"hidden_size": args.hidden_size, "n_iter": args.n_iter, "batch_size": 128} if args.small_model else {}
    designs = [d.strip() for d in args.designs.split(",")] if args.designs else list(DESIGNS)
    unknown = sorted(set(designs) - set(DESIGNS))
    if unknown:
        sys.exit(f"unknown design(s) {unknown}; choose from {list(DESIGNS)}")
    first = args.first_rep
    jobs = [(d, rep, small, args.n_bootstrap if rep < first + args.boot_reps else 0)
            for d in designs for rep in range(first, first + args.reps)] if not args.skip_sim else []
    # the expensive jobs first, so the two processes finish together
    jobs.sort(key=lambda j: -j[3])
    ihdp_jobs = [(rep, args.ihdp_bootstrap) for rep in range(1, 11)] if not args.skip_ihdp else []
    if ihdp_jobs and not IHDP_DATA.exists():
        sys.exit(f"IHDP data not found at {IHDP_DATA}; pass --skip-ihdp")
    start = time.perf_counter()
    with Pool(args.jobs) as pool:
        results = list(pool.imap_unordered(ihdp_job, ihdp_jobs)) + list(pool.imap_unordered(sim_job, jobs))
    minutes = (time.perf_counter() - start) / 60
    print(f"cgan {cgan_version()}: coverage of 95% intervals for the ATE ({minutes:.1f} min, {args.jobs} processes)")
    if jobs:
        if args.small_model:
            print(f"simulations: n = 1000, population ATE = {TRUE_ATE}; model hidden_size={args.hidden_size}, "
                  f"n_iter={args.n_iter}, batch_size=128, n_estimators=5 (smaller than the default)")
        else:
            print(f"simulations: n = 1000, population ATE = {TRUE_ATE}; the default model")
        print(f"replications {args.first_rep}-{args.first_rep + args.reps - 1} of each design; bootstrap: "
              f"{args.n_bootstrap} replicates (2-fold cross-fitted AIPW, single members of that model) on the "
              f"first {min(args.boot_reps, args.reps)} of them")
    if ihdp_jobs:
        print(f"IHDP 1-10: default model, training rows, truth = mean of mu1 - mu0 over them; bootstrap with "
              f"{args.ihdp_bootstrap} replicates (2-fold cross-fitted AIPW, single members of the default model)")
    print()
    print("| design | method | replications | coverage | mean width | mean abs error | fits warned on overlap |")
    print("|---|---|---:|---:|---:|---:|---:|")
    table = {}
    for design in DESIGNS + ("IHDP 1-10",):
        all_rows = [r for r in results if r["design"] == design]
        if not all_rows:
            continue
        warned = f"{sum(r['warned'] for r in all_rows)}/{len(all_rows)}"
        for method in ("aipw", "bootstrap", "plugin"):
            s = summarise(results, design, method)
            if s is None:
                continue
            table[design, method] = s
            cov = "-" if s["coverage"] is None else f"{s['coverage']:.3f}"
            width = "-" if s["width"] is None else f"{s['width']:.3f}"
            print(f"| {design} | {method} | {s['reps']} | {cov} | {width} | {s['error']:.3f} | {warned} |")
    print()
    for design in GOOD_OVERLAP:
        s = table.get((design, "aipw"))
        if s:
            ok = AIPW_RANGE[0] <= s["coverage"] <= AIPW_RANGE[1]
            print(f"target AIPW coverage in [{AIPW_RANGE[0]}, {AIPW_RANGE[1]}] ({design}): "
                  f"{s['coverage']:.3f} -> {'PASS' if ok else 'MISS'}")
    for design in DESIGNS:
        s = table.get((design, "bootstrap"))
        if s:
            ok = s["coverage"] >= BOOTSTRAP_MIN
            print(f"target bootstrap coverage >= {BOOTSTRAP_MIN} ({design}): {s['coverage']:.3f} -> "
                  f"{'PASS' if ok else 'MISS'}")


def speed(args):
    import cgan

    X, t, y, tau, test = load_ihdp(1)
    train = ~test
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = cgan.GANITE(random_state=1).fit(y[train], t[train], X=X[train])
    times = {1: [], 2: []}
    results = {}
    for _ in range(args.repeats):
        for n_jobs in (1, 2):
            start = time.perf_counter()
            results[n_jobs] = model.ate_inference(method="bootstrap", n_bootstrap=50, n_jobs=n_jobs, random_state=0)
            times[n_jobs].append(time.perf_counter() - start)
    one, two = float(np.median(times[1])), float(np.median(times[2]))
    print(f"cgan {cgan_version()}: bootstrap speed, n_bootstrap=50 on IHDP replication 1 (672 rows), default model")
    print(f"n_jobs=1: {', '.join(f'{s:.1f}' for s in times[1])} s (median {one:.1f} s)")
    print(f"n_jobs=2: {', '.join(f'{s:.1f}' for s in times[2])} s (median {two:.1f} s)")
    print(f"ratio n_jobs=1 / n_jobs=2: {one / two:.2f}")
    print(f"identical results across n_jobs: {results[1] == results[2]}")
    print(f"target n_jobs=2 <= 60 s: {two:.1f} s -> {'PASS' if two <= 60 else 'MISS'}")
    print(f"target ratio >= 1.7: {one / two:.2f} -> {'PASS' if one / two >= 1.7 else 'MISS'}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--boot-reps", type=int, default=20)
    ap.add_argument("--first-rep", type=int, default=0,
                    help="simulate replications first-rep .. first-rep + reps - 1 (to extend an earlier run)")
    ap.add_argument("--n-bootstrap", type=int, default=30)
    ap.add_argument("--ihdp-bootstrap", type=int, default=10)
    ap.add_argument("--small-model", action="store_true",
                    help="fit the smaller model of earlier runs (--hidden-size, --n-iter, batch 128) in the "
                         "simulations instead of the estimator's default")
    ap.add_argument("--hidden-size", type=int, default=None, help="with --small-model (default 32)")
    ap.add_argument("--n-iter", type=int, default=None, help="with --small-model (default 500)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--skip-ihdp", action="store_true")
    ap.add_argument("--skip-sim", action="store_true", help="IHDP only")
    ap.add_argument("--designs", default=None, help="comma-separated subset of the simulated designs")
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
    if not args.small_model and (args.hidden_size is not None or args.n_iter is not None):
        ap.error("--hidden-size and --n-iter set the small model; pass --small-model with them")
    args.hidden_size = 32 if args.hidden_size is None else args.hidden_size
    args.n_iter = 500 if args.n_iter is None else args.n_iter
    if args.speed:
        speed(args)
    else:
        coverage(args)


if __name__ == "__main__":
    main()
