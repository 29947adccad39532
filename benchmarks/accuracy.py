"""Individual-effect accuracy of cgan.GANITE against the specialised learners,
side by side on the same rows.

Designs (every method is fitted on the training rows only and scored on held-out rows):
  ihdp     IHDP replications 1-10 (NPCI setting A), the standard 672/75 split.
  npci     fresh replications of NPCI setting A (Hill's response surface B) on the
           IHDP covariates: beta drawn from {0, .1, .2, .3, .4} with probabilities
           (.6, .1, .1, .1, .1); mu0 = exp((x + 0.5) beta), mu1 = x beta + omega with
           omega chosen so that the effect on the treated is 4; unit-variance noise;
           a seeded 672/75 split.  The formula reproduces the shipped replications
           exactly (mu1 is linear in x and log mu0 = (x + 0.5) beta, to 1e-14).
  nw1-nw4  Nie & Wager's setups A-D, the formulas of causalml's
           synthetic_data(mode=1..4) (sigma 1): 2,000 training rows, d = 12, and
           1,000 test rows drawn from the same design.
  wide     60 covariates, 20 of them categorical (3-6 levels, one-hot coded:
           130 columns), strong confounding (about a third of the rows have a
           propensity below 0.01 or above 0.99), a non-linear baseline and effects
           that vary with continuous and categorical covariates, some of them
           confounders; 3,000 training and 1,000 test rows.
  twins    Twins with the GANITE protocol (benchmarks/twins.py): confounded
           treatment, 80/20 split; PEHE against the binary y1 - y0.
Metrics: out-of-sample sqrt(PEHE) against the noiseless effect (Twins: the
binary y1 - y0) and |ATE error| = |mean of estimated effects - mean of true
effects| on the test rows; the in-sample sqrt(PEHE) on the training rows; the
fit time (one thread: *_NUM_THREADS=1, torch.set_num_threads(1), n_jobs=1).

Methods:
  cgan        cgan.GANITE at its defaults (--cgan key=value ... overrides,
              --label names the variant)
  snet        CATENets SNet (PyTorch), batch norm off
  tarnet      CATENets TARNet, batch norm off
  flextenet   CATENets FlexTENet
  cforest     EconML CausalForestDML(discrete_treatment=True)
  drlearner   EconML DRLearner
each at its documented defaults otherwise, seeded by the replication.  Every
method gets covariates standardised by the training rows' means and sds
(cgan standardises inside the estimator as well).  Peers run in this script
only; cgan never imports them.

Results are appended to --out (a JSON-lines file) as each fit finishes, and
jobs already there (same design, replication and label) are skipped, so a run
can be stopped and resumed, and the peers need running once.

    python benchmarks/accuracy.py run --designs ihdp,npci --methods cgan,snet --jobs 2 [--reps N]
    python benchmarks/accuracy.py run --methods cgan --label alpha0 --cgan alpha=0
    python benchmarks/accuracy.py run --methods cgan --variant old beta=10 baseline=linear   # two variants
    python benchmarks/accuracy.py table [--designs ...] [--labels cgan,snet,...]
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from multiprocessing import Pool  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _common import SHARED_DATA, cgan_version  # noqa: E402

# benchmarks/coverage.py would shadow the coverage package, which numba (under
# econml) imports: drop this directory from the path once _common is loaded
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

DESIGNS = ("ihdp", "npci", "nw1", "nw2", "nw3", "nw4", "wide", "twins")
REPS = {"ihdp": 10, "npci": 30, "nw1": 20, "nw2": 20, "nw3": 20, "nw4": 20, "wide": 20, "twins": 10}
PEERS = ("snet", "tarnet", "flextenet", "cforest", "drlearner")
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "accuracy.jsonl"
TWINS_ATE_TARGET = 0.01


# ------------------------------------------------------------------ designs
def _ihdp_covariates():
    d = np.loadtxt(SHARED_DATA / "ihdp" / "ihdp_npci_1.csv", delimiter=",")
    return d[:, 5:], d[:, 0].astype(int)


def ihdp(rep):
    d = np.loadtxt(SHARED_DATA / "ihdp" / f"ihdp_npci_{rep}.csv", delimiter=",")
    rows = np.loadtxt(SHARED_DATA / "ihdp" / "ihdp_npci_1-10.test_rows.csv", delimiter=",", skiprows=1).astype(int)
    test = np.zeros(len(d), bool)
    test[rows[rows[:, 0] == rep, 2]] = True
    return d[:, 5:], d[:, 0].astype(int), d[:, 1], d[:, 4] - d[:, 3], ~test, test


def npci(rep):
    X, t = _ihdp_covariates()
    rng = np.random.default_rng([1, rep, 2026])
    beta = rng.choice([0.0, 0.1, 0.2, 0.3, 0.4], size=X.shape[1], p=[0.6, 0.1, 0.1, 0.1, 0.1])
    mu0 = np.exp((X + 0.5) @ beta)
    lin = X @ beta
    omega = 4.0 - np.mean(lin[t == 1] - mu0[t == 1])
    mu1 = lin + omega
    y = np.where(t == 1, mu1, mu0) + rng.normal(size=len(t))
    test = np.zeros(len(t), bool)
    test[rng.choice(len(t), 75, replace=False)] = True
    return X, t, y, mu1 - mu0, ~test, test


def nie_wager(mode, rep, n_train=2000, n_test=1000, d=12):
    """Setups A-D of Nie & Wager (causalml.dataset.synthetic_data, sigma 1)."""
    rng = np.random.default_rng([2, mode, rep, 2026])
    n = n_train + n_test
    X = rng.uniform(size=(n, d)) if mode == 1 else rng.normal(size=(n, d))
    x0, x1, x2, x3, x4 = X[:, :5].T
    if mode == 1:
        b = np.sin(np.pi * x0 * x1) + 2 * (x2 - 0.5) ** 2 + x3 + 0.5 * x4
        e = np.clip(np.sin(np.pi * x0 * x1), 0.1, 0.9)
        tau = (x0 + x1) / 2
    elif mode == 2:
        b = np.maximum.reduce([np.zeros(n), x0 + x1, x2]) + np.maximum(0.0, x3 + x4)
        e = np.full(n, 0.5)
        tau = x0 + np.log1p(np.exp(x1))
    elif mode == 3:
        b = 2 * np.log1p(np.exp(x0 + x1 + x2))
        e = 1 / (1 + np.exp(x1 + x2))
        tau = np.ones(n)
    else:
        b = (np.maximum(0.0, x0 + x1 + x2) + np.maximum(0.0, x3 + x4)) / 2
        e = 1 / (1 + np.exp(-x0) + np.exp(-x1))
        tau = np.maximum(0.0, x0 + x1 + x2) - np.maximum(0.0, x3 + x4)
    t = (rng.random(n) < e).astype(int)
    y = b + (t - 0.5) * tau + rng.normal(size=n)
    train = np.arange(n) < n_train
    return X, t, y, tau, train, ~train


WIDE_CONTINUOUS, WIDE_CATEGORICAL = 40, 20


def wide(rep, n_train=3000, n_test=1000):
    """The wide, confounded design: see the module docstring."""
    rng = np.random.default_rng([3, rep, 2026])
    n = n_train + n_test
    # continuous covariates: a common factor gives them correlation 0.3; every
    # fifth is skewed (a log-normal, standardised)
    Z = 0.55 * rng.normal(size=(n, 1)) + 0.84 * rng.normal(size=(n, WIDE_CONTINUOUS))
    for j in range(0, WIDE_CONTINUOUS, 5):
        v = np.exp(0.8 * Z[:, j])
        Z[:, j] = (v - v.mean()) / v.std()
    levels = [3 + (j % 4) for j in range(WIDE_CATEGORICAL)]
    C = np.column_stack([rng.choice(k, size=n, p=rng.dirichlet(np.full(k, 3.0))) for k in levels])
    # categorical 0 and 1 depend on the first continuous covariates, so that
    # they confound together
    C[:, 0] = np.digitize(Z[:, 0] + 0.7 * rng.normal(size=n), [-0.6, 0.6])  # 3 levels
    x0, x1, x2, x3, x4, x5, x6, x7 = Z[:, :8].T
    c0, c1, c2, c3 = C[:, :4].T
    logit = 2.8 * (1.3 * x0 - x1 + 0.8 * x2 + 0.8 * (c0 == 2) - 0.8 * (c1 == 0) + 0.5 * np.sin(2 * x3) - 0.3)
    e = 1 / (1 + np.exp(-logit))
    mu0 = (1.5 * np.tanh(x0) + x1 + 0.5 * x2 ** 2 + 0.7 * x3 * x4 + 0.6 * np.abs(x5) + 0.4 * _many_small_terms(Z)
           + np.array([0.0, 0.8, -0.6])[c0] + 0.5 * (c2 == 1) - 0.4 * (c3 == 2) + 0.3 * (C[:, 4] == 0))
    tau = (1.0 + 0.8 * x0 + 0.6 * np.maximum(0.0, x2) - 0.5 * x6 * (c1 == 1) + 0.8 * (c0 == 2)
           - 0.7 * (c2 == 0) + 0.4 * np.sin(2 * x7))
    t = (rng.random(n) < e).astype(int)
    y = mu0 + t * tau + rng.normal(size=n)
    onehot = [np.eye(k)[C[:, j]] for j, k in enumerate(levels)]
    X = np.column_stack([Z, *onehot])
    train = np.arange(n) < n_train
    return X, t, y, tau, train, ~train


def _many_small_terms(Z):
    """A sum of many small linear terms (covariates 8-39), so that the
    baseline depends on most of the continuous covariates."""
    w = np.linspace(-0.3, 0.3, Z.shape[1] - 8)
    return Z[:, 8:] @ w


def twins(rep):
    raw = np.loadtxt(SHARED_DATA / "twins" / "Twin_data.csv.gz", delimiter=",", skiprows=1)
    x, y = raw[:, :30], (raw[:, 30:32] < 9999).astype(np.float64)
    rng = np.random.default_rng(rep)  # the protocol of benchmarks/twins.py, seed for seed
    n, d = x.shape
    w = rng.uniform(-0.01, 0.01, size=d)
    p = 1.0 / (1.0 + np.exp(-(x @ w + rng.normal(0.0, 0.01, size=n))))
    p = np.minimum(1.0, p / (2.0 * p.mean()))
    t = rng.binomial(1, p)
    yf = np.where(t == 1, y[:, 1], y[:, 0])
    perm = rng.permutation(n)
    train = np.zeros(n, bool)
    train[perm[:int(0.8 * n)]] = True
    return x, t, yf, y[:, 1] - y[:, 0], train, ~train


def load(design, rep):
    if design == "ihdp":
        return ihdp(rep)
    if design == "npci":
        return npci(rep)
    if design.startswith("nw"):
        return nie_wager(int(design[2:]), rep)
    if design == "wide":
        return wide(rep)
    return twins(rep)


def replications(design, count):
    first = 0 if design == "twins" else 1
    return list(range(first, first + count))


# ------------------------------------------------------------------ methods
def fit_cgan(params, X, t, y, rep, binary):
    import cgan
    from cgan import _effect_stage as stage

    extra = {"outcome": "binary"} if binary else {}
    seen = []
    real_choose = stage.choose

    def choose(*args, **kwargs):  # keeps the effect stage's inputs
        seen.append(args[:6])
        return real_choose(*args, **kwargs)

    stage.choose = choose
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = cgan.GANITE(random_state=rep, n_jobs=1, **extra, **params).fit(y, t, X=X)
    finally:
        stage.choose = real_choose
    info = {k: getattr(model, k) for k in ("outcome_transform_", "effect_model_") if hasattr(model, k)}
    if hasattr(model, "beta_"):
        info["beta_"] = model.beta_
    if not seen or params.get("effect_model", "auto") != "auto" or model.classes_.size != 2:
        return model.effect, info
    # the effect-model candidates' cross-fitted R-losses (training rows
    # only), what each choice rule picks, and every candidate's effects,
    # scored with the rest
    Z, mu, e, codes, yf, fold = seen[-1]
    _, _, splines, losses = real_choose(Z, mu, e, codes, yf, fold, stage.EFFECT_MODELS)
    info["rule_picks"] = {rule: stage.pick(losses, rule) for rule in ("min", "1se")}
    info["r_loss"] = {m: float(v.mean()) for m, v in losses.items()}
    # each candidate's paired R-loss difference against the plugin (mean,
    # standard error), and the AIPW estimate of the training rows with the
    # plug-in correction it adds (cross-fitted mu and propensities)
    info["r_diff"] = {m: [float((v - losses["plugin"]).mean()),
                          float((v - losses["plugin"]).std(ddof=1) / np.sqrt(len(v)))] for m, v in losses.items()}
    aipw = model.ate_inference(method="aipw")
    is1, is0 = (codes == 1).astype(float), (codes == 0).astype(float)
    corr = is1 * (yf - mu[:, 1]) / e[:, 1] - is0 * (yf - mu[:, 0]) / e[:, 0]
    info["aipw_train"] = [aipw.estimate, aipw.stderr, float(corr.mean()), float(corr.std(ddof=1) / np.sqrt(len(corr)))]
    coefs = {m: stage.fit(Z, mu, e, codes, yf, m, splines) for m in losses if m != "plugin"}

    def candidates(rows):
        Zc = model._checked_X(rows)
        mu_z = cgan._ganite.members.ensemble_mean(model._members(), Zc,
                                                  model._smear if model._log_scale() else None)
        out = {"plugin": mu_z[:, 1] - mu_z[:, 0]}
        out.update({m: stage.effects(stage.features(Zc, m, splines), c, 2)[:, 0] for m, c in coefs.items()})
        return out

    info["_candidates"] = candidates
    return model.effect, info


def fit_catenets(name, X, t, y, rep, binary):
    import torch
    from catenets.models.torch import SNet, FlexTENet, TARNet

    torch.set_num_threads(1)
    torch.manual_seed(rep)
    d = X.shape[1]
    if name == "snet":
        model = SNet(d, binary_y=binary, batch_norm=False, seed=rep)
    elif name == "tarnet":
        model = TARNet(d, binary_y=binary, batch_norm=False, seed=rep)
    else:
        model = FlexTENet(d, binary_y=binary, seed=rep)
    model.fit(X, y, t)
    return lambda Z: model.predict(Z).detach().cpu().numpy().ravel(), {}


def fit_econml(name, X, t, y, rep, binary):
    from econml.dml import CausalForestDML
    from econml.dr import DRLearner

    if name == "cforest":
        model = CausalForestDML(discrete_treatment=True, random_state=rep, n_jobs=1)
    else:
        model = DRLearner(random_state=rep)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(y, t, X=X)
    return lambda Z: np.asarray(model.effect(Z)).ravel(), {}


def run_job(job):
    design, rep, method, label, params = job
    X, t, y, tau, train, test = load(design, rep)
    binary = design == "twins"
    mean, sd = X[train].mean(axis=0), X[train].std(axis=0)
    sd[sd == 0] = 1.0
    Xs = (X - mean) / sd
    start = time.perf_counter()
    if method == "cgan":
        effect, info = fit_cgan(params, Xs[train], t[train], y[train], rep, binary)
    elif method in ("snet", "tarnet", "flextenet"):
        effect, info = fit_catenets(method, Xs[train], t[train], y[train], rep, binary)
    else:
        effect, info = fit_econml(method, Xs[train], t[train], y[train], rep, binary)
    seconds = time.perf_counter() - start
    out = {"design": design, "rep": rep, "label": label, "method": method, "params": params, "seconds": seconds,
           "build": cgan_version() if method == "cgan" else None, **info}
    candidates = out.pop("_candidates", None)
    for name, rows in (("in", train), ("out", test)):
        est = effect(Xs[rows])
        out[f"pehe_{name}"] = float(np.sqrt(np.mean((est - tau[rows]) ** 2)))
        out[f"ate_{name}"] = float(abs(est.mean() - tau[rows].mean()))
        if candidates is not None:
            cand = candidates(Xs[rows])
            out[f"candidates_{name}"] = {m: [float(np.sqrt(np.mean((v - tau[rows]) ** 2))),
                                              float(abs(v.mean() - tau[rows].mean()))]
                                          for m, v in cand.items()}
            # signed means of each candidate's and the final effects, and of the true ones
            out[f"means_{name}"] = {**{m: float(v.mean()) for m, v in cand.items()}, "final": float(est.mean()),
                                    "true": float(tau[rows].mean())}
    return out


# ------------------------------------------------------------------ running and tables
def read_results(path):
    if not Path(path).exists():
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def parse_value(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def cmd_run(args):
    designs = args.designs.split(",")
    methods = args.methods.split(",")
    # cgan variants: (label, parameters); --variant adds more, fitted in the
    # same run and interleaved replication by replication
    variants = [(args.label or "cgan", {k: parse_value(v) for k, v in (kv.split("=", 1) for kv in args.cgan)})]
    for spec in args.variant or []:
        variants.append((spec[0], {k: parse_value(v) for k, v in (kv.split("=", 1) for kv in spec[1:])}))
    # jobs recorded in any results file beside --out are done (files of
    # other benchmarks, whose records have no label, are passed over)
    done = {(r["design"], r["rep"], r["label"]) for path in Path(args.out).parent.glob("*.jsonl")
            for r in read_results(path) if "label" in r}
    jobs = []
    for design in designs:
        reps = replications(design, args.reps or REPS[design])
        for rep in reps:
            for method in methods:
                for label, params in (variants if method == "cgan" else [(method, {})]):
                    if (design, rep, label) not in done:
                        jobs.append((design, rep, method, label, params))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    print(f"{len(jobs)} fits; cgan {cgan_version()}", flush=True)
    deadline = time.time() + args.hours * 3600 if args.hours else None
    with Pool(args.jobs, maxtasksperchild=20) as pool, open(args.out, "a") as f:
        for r in pool.imap_unordered(run_job, jobs):
            f.write(json.dumps(r) + "\n")
            f.flush()
            print(f"{r['design']} {r['rep']} {r['label']}: pehe out {r['pehe_out']:.3f} ate out {r['ate_out']:.3f} "
                  f"{r['seconds']:.1f} s", flush=True)
            if deadline and time.time() > deadline:
                print("time budget reached; stopping", flush=True)
                pool.terminate()
                break


def summary(rows):
    p = np.array([r["pehe_out"] for r in rows])
    a = np.array([r["ate_out"] for r in rows])
    s = np.array([r["seconds"] for r in rows])
    se = (lambda v: float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0)
    return {"n": len(rows), "pehe": p.mean(), "pehe_se": se(p), "pehe_med": np.median(p), "ate": a.mean(),
            "ate_se": se(a), "pehe_in": np.mean([r["pehe_in"] for r in rows]), "sec": s.mean(), "sec_se": se(s),
            "sec_med": np.median(s)}


def cmd_table(args):
    results, seen = [], set()
    for r in (r for path in args.out.split(",") for r in read_results(path)):
        if (r["design"], r["rep"], r["label"]) not in seen:  # the first record of a fit counts
            seen.add((r["design"], r["rep"], r["label"]))
            results.append(r)
    designs = args.designs.split(",")
    labels = args.labels.split(",") if args.labels else None
    for design in designs:
        rows = [r for r in results if r["design"] == design]
        if not rows:
            continue
        names = labels or sorted({r["label"] for r in rows})
        # compare on the replications every shown method has finished
        common = set.intersection(*[{r["rep"] for r in rows if r["label"] == m} for m in names if
                                    any(r["label"] == m for r in rows)])
        print(f"\n### {design}: {len(common)} replications\n")
        print("| method | mean √PEHE out | median √PEHE out | mean \\|ATE err\\| out | √PEHE in | fit s (median) |")
        print("|---|---:|---:|---:|---:|---:|")
        stats = {}
        for m in names:
            sel = sorted((r for r in rows if r["label"] == m and r["rep"] in common), key=lambda r: r["rep"])
            if not sel:
                continue
            s = stats[m] = summary(sel)
            print(f"| {m} | {s['pehe']:.3f} ± {s['pehe_se']:.3f} | {s['pehe_med']:.3f} | {s['ate']:.3f} ± "
                  f"{s['ate_se']:.3f} | {s['pehe_in']:.3f} | {s['sec']:.1f} ({s['sec_med']:.1f}) |")
        peers = [m for m in stats if m in PEERS]
        if design == "twins":  # its target needs no peer
            for m in stats:
                if m not in PEERS:
                    a = stats[m]["ate"]
                    print(f"\n{m}: mean |ATE err| out {a:.4f} <= {TWINS_ATE_TARGET}: "
                          f"{'PASS' if a <= TWINS_ATE_TARGET else 'MISS'}")
        for m in stats:
            if m in PEERS or not peers:
                continue
            best = {k: min(stats[p][k] for p in peers) for k in ("pehe", "pehe_med", "ate")}
            checks = [f"{k} {stats[m][k]:.3f} vs {best[k]:.3f} {'PASS' if stats[m][k] <= best[k] else 'MISS'}"
                      for k in ("pehe", "pehe_med", "ate")]
            print(f"\n{m} against the best peer: " + "; ".join(checks))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run")
    run.add_argument("--designs", default=",".join(DESIGNS))
    run.add_argument("--methods", default="cgan," + ",".join(PEERS))
    run.add_argument("--reps", type=int, default=None, help="replications per design (default: REPS)")
    run.add_argument("--jobs", type=int, default=2)
    run.add_argument("--label", default=None, help="name of the cgan variant (default 'cgan')")
    run.add_argument("--cgan", nargs="*", default=[], help="GANITE parameters as key=value")
    run.add_argument("--variant", nargs="+", action="append", metavar="LABEL [KEY=VALUE ...]",
                     help="another cgan variant fitted in the same run (repeatable)")
    run.add_argument("--hours", type=float, default=None, help="stop after this many hours")
    run.add_argument("--out", default=str(DEFAULT_OUT))
    table = sub.add_parser("table")
    table.add_argument("--designs", default=",".join(DESIGNS))
    table.add_argument("--labels", default=None)
    table.add_argument("--out", default=str(DEFAULT_OUT), help="results files, comma-separated")
    args = ap.parse_args(argv)
    if args.cmd == "run":
        cmd_run(args)
    else:
        cmd_table(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
