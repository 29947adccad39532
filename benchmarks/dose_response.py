"""Dose-response benchmark: cgan.SCIGAN and its peers, side by side, on the SCIGAN and VCNet designs.

Usage:
    python benchmarks/dose_response.py --design scigan|vcnet|ihdp_cont [--reps 20] [--methods a,b,...]
                                       [--jobs 2] [--quick] [--covariates twins|ihdp] [--force]
    python benchmarks/dose_response.py --design vcnet --table        # print recorded results only
    python benchmarks/dose_response.py --speed [--speed-reps 5] [--quick]
    python benchmarks/dose_response.py --coverage --design vcnet|ihdp_cont [--reps 20] [--n-bootstrap 100]

Methods (--methods, default all): cgan (cgan.SCIGAN, skipped with a note when cgan has no
SCIGAN), torch_scigan, vcnet, drnet, gps, dml; ``benchmarks/dose_peers.py`` says what each
one mirrors and ``benchmarks/dose_designs.py`` gives each design's formulas, splits and
metrics.  Replications are 0..reps-1 (or a range, --reps 5-9); replication r of a design is
the same data for every method (seeded by the design and r), and every method is seeded
with r.  Methods see the training rows only; every metric is computed on the test rows.
Nothing is tuned here: each method runs at the defaults of its code or package.

Everything runs single-threaded (BLAS and torch: one thread per process; cgan with
n_jobs=1); --jobs runs that many replications at once in separate processes.  Fit times
are wall-clock seconds of ``fit`` alone.

Per-replication results are appended to
``benchmarks/results/dose_response/<design>/<method>.csv`` (``.../quick/...`` with
--quick; the SCIGAN design on IHDP covariates under ``scigan-ihdp``), so an interrupted
run resumes where it stopped (--force recomputes).  The table printed at the end reads
those files: the mean +- standard error over the replications, per method.

--quick: 3 replications and short training (SCIGAN 300 + 600 iterations, VCNet/DRNet 100
epochs; cgan's iteration counts likewise when it accepts them), for development only.

--speed: one training step of cgan.SCIGAN against the PyTorch SCIGAN port at the same
sizes (the SCIGAN design's first replication: 3 treatments, 5 sampled doses, hidden width
64, batch 128): an adversarial step (one generator update and one update of each
discriminator) and an inference-network step, both on one thread in one process, in
alternating blocks; medians of --speed-reps samples.  cgan is timed through its public
fit, as the difference of two fits that differ only in their iteration counts.

--coverage: cgan.SCIGAN only, on a design with one treatment.  Each replication fits cgan at
its defaults, asks ``average_dose_response_interval`` (nominal 95%, --n-bootstrap refits)
for the band of the average curve over the test rows at 33 doses evenly spaced over the
training doses' range, and records the share of those doses where the band holds the true
average curve (the mean over the test rows of the true mu(x, t)), the same share over the
doses between the 5% and 95% quantiles of the training doses, the mean width of the band
and the seconds the band took.  Target: a share of at least 0.90 on average.  Results go to
``.../<design>/cgan_coverage.csv``, resumable like the others.
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import csv  # noqa: E402
import math  # noqa: E402
import multiprocessing  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

# This folder goes last on the path: its coverage.py must not shadow the coverage package (numba imports it).
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]
import dose_designs as designs  # noqa: E402
import dose_peers as peers  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "dose_response"
QUICK_REPS = 3
SPEED_TARGET = 5.0
COVERAGE_TARGET = 0.90
COVERAGE_GRID = 33


# ------------------------------------------------------------------ one (method, replication)
def set_single_thread():
    try:
        import torch

        torch.set_num_threads(1)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
    except ImportError:
        pass


def design_options(design, covariates):
    return {"covariates": covariates} if design == "scigan" else {}


def run_one(job):
    """Fit one method on one replication and score it; returns one result row."""
    design, method, rep_index, quick, covariates = job
    set_single_thread()
    rep = designs.make(design, rep_index, **design_options(design, covariates))
    model = peers.make_method(method, design, rep_index, rep.n_treatments, quick)
    start = time.perf_counter()
    model.fit(rep)
    fit_s = time.perf_counter() - start

    def predict(X, treatment, doses):
        return rep.to_outcome(model.predict(X, treatment, doses))

    def average(X, doses):
        return rep.to_outcome(model.average(X, 0, doses))

    start = time.perf_counter()
    if design == "scigan":
        row = designs.scigan_metrics(rep, predict)
    else:
        row = designs.vcnet_metrics(rep, predict, average)
    if method == "cgan":
        row.update(cgan_api_extras(rep, model) if design == "scigan" else {"cgan_warnings": model.warnings})
    row.update(design=design, method=method, rep=rep_index, fit_s=round(fit_s, 3),
               score_s=round(time.perf_counter() - start, 3), n_train=len(rep.X_train), n_test=len(rep.X_test))
    return row


def cgan_api_extras(rep, model):
    """cgan only: the DPE of the doses its own optimal_dose picks, and the warnings it raised."""
    extras = {}
    try:
        gaps = []
        for t in range(rep.n_treatments):
            chosen = model.optimal_dose(rep.X_test, t)
            best = rep.truth(rep.X_test, t, designs.TRUE_ARGMAX_GRID).max(axis=1)
            at_choice = rep.truth(rep.X_test, t, chosen[:, None])[:, 0]
            gaps.append((best - at_choice) ** 2)
        extras["sqrt_dpe_optimal_dose"] = float(np.sqrt(np.mean(gaps)))
    except Exception as error:  # the benchmark reports it rather than stopping
        extras["sqrt_dpe_optimal_dose"] = float("nan")
        extras["note"] = f"optimal_dose failed: {type(error).__name__}: {error}"[:200]
    extras["cgan_warnings"] = model.warnings
    return extras


def context_row(design, rep_index, covariates):
    """The true average curve given to every unit: what ignoring heterogeneity scores (an oracle)."""
    rep = designs.make(design, rep_index, **design_options(design, covariates))

    def predict(X, treatment, doses):
        return np.repeat(rep.truth(X, treatment, doses).mean(axis=0, keepdims=True), len(X), axis=0)

    if design == "scigan":
        return designs.scigan_metrics(rep, predict)
    return designs.vcnet_metrics(rep, predict, lambda X, doses: rep.truth(X, 0, doses).mean(axis=0))


# ------------------------------------------------------------------ result files
def results_dir(design, quick, covariates):
    name = design if design != "scigan" or covariates == "twins" else f"scigan-{covariates}"
    return RESULTS / ("quick" if quick else "") / name


def read_rows(path):
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def write_rows(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: int(r["rep"])))


def record(path, row):
    """Add or replace this replication's row in the method's file (locked: several runs may share it)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        rows = [r for r in read_rows(path) if int(r["rep"]) != int(row["rep"])]
        write_rows(path, rows + [row])


# ------------------------------------------------------------------ tables
def mean_se(values):
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "n/a"
    mean = statistics.fmean(values)
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    return f"{fmt(mean)} ± {fmt(se)}"


def fmt(value):
    if math.isnan(value):
        return "nan"
    if value == 0:
        return "0"
    digits = max(0, 3 - int(math.floor(math.log10(abs(value)))) - 1)
    return f"{value:.{min(digits, 6)}f}"


def print_table(design, methods, reps, quick, covariates, context=None):
    folder = results_dir(design, quick, covariates)
    metrics = designs.METRICS[design]
    header = ["method"] + [designs.METRIC_LABELS[m] for m in metrics] + ["fit s", "reps"]
    print("| " + " | ".join(header) + " |")
    print("|---|" + "---:|" * (len(header) - 1))
    extras = []
    for method in methods:
        rows = [r for r in read_rows(folder / f"{method}.csv") if int(r["rep"]) in reps]
        if not rows:
            continue
        cells = [mean_se([float(r[m]) for r in rows]) for m in metrics]
        fit = statistics.fmean(float(r["fit_s"]) for r in rows)
        print(f"| {peers.LABELS[method]} | " + " | ".join(cells) + f" | {fit:.1f} | {len(rows)} |")
        if method == "cgan" and "sqrt_dpe_optimal_dose" in rows[0]:
            extras.append(f"cgan.SCIGAN, DPE of its own optimal_dose: "
                          f"√DPE {mean_se([float(r['sqrt_dpe_optimal_dose']) for r in rows])}; "
                          f"warnings raised {sum(int(r.get('cgan_warnings') or 0) for r in rows)}")
            notes = sorted({r['note'] for r in rows if r.get('note')})
            extras += notes
    if context:
        cells = [mean_se([c[m] for c in context]) for m in metrics]
        print("| context: the true average curve for every unit (oracle) | " + " | ".join(cells)
              + f" | | {len(context)} |")
    for line in extras:
        print(f"\n{line}")
    print_paired(folder, methods, reps, metrics)


def print_paired(folder, methods, reps, metrics):
    """cgan minus each peer, replication by replication (the same data): mean +- standard error."""
    if "cgan" not in methods:
        return
    own = {int(r["rep"]): r for r in read_rows(folder / "cgan.csv") if int(r["rep"]) in reps}
    lines = []
    for method in methods:
        peer = {int(r["rep"]): r for r in read_rows(folder / f"{method}.csv") if int(r["rep"]) in reps}
        common = sorted(set(own) & set(peer))
        if method == "cgan" or len(common) < 2:
            continue
        cells = [mean_se([float(own[i][m]) - float(peer[i][m]) for i in common]) for m in metrics]
        lines.append(f"| {peers.LABELS[method]} | " + " | ".join(cells) + f" | {len(common)} |")
    if lines:
        print("\ncgan.SCIGAN minus each peer on the replications both have (negative: cgan lower):\n")
        print("| peer | " + " | ".join(designs.METRIC_LABELS[m] for m in metrics) + " | reps |")
        print("|---|" + "---:|" * (len(metrics) + 1))
        print("\n".join(lines))


# ------------------------------------------------------------------ speed
SPEED_SETTINGS = {  # the peer's sizes, and the names cgan.SCIGAN may give each setting
    "hidden width 64": (64, ("hidden_size", "h_dim")),
    "set-layer width 64": (64, ("hidden_size_set", "set_hidden_size", "h_inv_eqv_dim")),
    "2 hidden layers per head": (2, ("n_hidden",)),
    "batch 128": (128, ("batch_size",)),
    "5 sampled doses": (5, ("n_dosage_samples", "num_dosage_samples", "n_dose_samples")),
    "noise of K x 5 = 15": (15, ("noise_dim",)),
    "ELU": ("elu", ("activation",)),
    "alpha 1": (1.0, ("alpha",)),
    "one discriminator step per generator step": (1, ("d_steps",)),
    "learning rate 1e-3": (1e-3, ("learning_rate",)),
    "no weight decay": (0.0, ("weight_decay",)),
    "one model": (1, ("n_estimators",)),
    "one thread": (1, ("n_jobs",)),
}
INFERENCE_ITER_NAMES = ("n_iter_ite", "n_iter_inference")


def cgan_speed_parameters(cls):
    accepted = peers.estimator_parameters(cls)
    params, missing = {}, []
    for setting, (value, names) in SPEED_SETTINGS.items():
        name = next((n for n in names if n in accepted), None)
        if name is None:
            missing.append(setting)
        else:
            params[name] = value
    inference = next((n for n in INFERENCE_ITER_NAMES if n in accepted), None)
    return params, missing, inference, "n_iter" in accepted


def speed(reps, quick):
    import torch

    set_single_thread()
    rep = designs.make("scigan", 0)
    TorchSCIGAN = peers.make_torch_scigan_class()
    peer = TorchSCIGAN(random_state=0).setup(rep.X_train, rep.treatment_train, rep.dose_train, rep.y_train,
                                            rep.n_treatments)
    print(f"## Speed: SCIGAN training steps, single thread; torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}\n")
    print(f"data: the SCIGAN design, replication 0: {len(rep.X_train)} training rows, {rep.X_train.shape[1]} "
          f"covariates, {rep.n_treatments} treatments.  Peer (benchmarks/dose_peers.py, TorchSCIGAN): h_dim 64, "
          f"h_inv_eqv_dim 64, batch 128, 5 sampled doses, noise 15, ELU, fused Adam lr 1e-3.  An adversarial "
          f"step is one generator update and one update of each discriminator (the authors' loop runs two "
          f"generator updates per discriminator update; each update draws its own batch)\n")

    def per_step(fn, k):
        start = time.perf_counter()
        fn(k)
        return (time.perf_counter() - start) / k * 1e3

    budget = 0.2 if quick else 0.5  # seconds of the peer per timing sample
    peer.adversarial_steps(3)
    peer.inference_iterations(3)
    k_adv = max(3, int(budget * 1e3 / per_step(peer.adversarial_steps, 5)))
    k_inf = max(3, int(budget * 1e3 / per_step(peer.inference_iterations, 5)))

    cgan_timer = None
    if peers.cgan_has_scigan():
        cgan_timer, note = make_cgan_timer(rep)
        print(note + "\n")
    else:
        print("cgan has no SCIGAN yet: only the peer is timed.\n")

    rows = []
    for label, peer_fn, k, kind in (("adversarial step", peer.adversarial_steps, k_adv, "adversarial"),
                                    ("inference-network step", peer.inference_iterations, k_inf, "inference")):
        torch_ms, cgan_ms = [], []
        for _ in range(reps):
            if cgan_timer is not None:
                value = cgan_timer(kind, max(k, 200))
                if value is not None:
                    cgan_ms.append(value)
            torch_ms.append(per_step(peer_fn, k))
        rows.append((label, k, statistics.median(cgan_ms) if cgan_ms else None, statistics.median(torch_ms)))
    print("| step | torch steps per sample | cgan ms/step | torch ms/step | torch/cgan | target >= 5x |")
    print("|---|---:|---:|---:|---:|---|")
    for label, k, c, t in rows:
        ratio = f"{t / c:.1f}x" if c else "n/a"
        verdict = ("PASS" if t / c >= SPEED_TARGET else "MISS") if c else "(cgan.SCIGAN not available)"
        cgan_cell = f"{c:.3f}" if c else "n/a"
        print(f"| {label} | {k} | {cgan_cell} | {t:.3f} | {ratio} | {verdict} |")
    return rows


def make_cgan_timer(rep):
    """Time cgan.SCIGAN's steps through its public fit: (fit(n + k) - fit(n)) / k, same seed and data.

    The difference of two fits removes what a fit does once (checks, scaling, baselines)."""
    import cgan

    params, missing, inference_name, has_n_iter = cgan_speed_parameters(cgan.SCIGAN)
    if not has_n_iter:
        return None, "cgan.SCIGAN has no n_iter parameter: it cannot be timed per step here."
    base = 20

    def fit_seconds(n_adv, n_inf):
        kwargs = dict(params, random_state=0, n_iter=n_adv)
        if inference_name:
            kwargs[inference_name] = n_inf
        model = cgan.SCIGAN(**kwargs)
        start = time.perf_counter()
        model.fit(rep.y_train, rep.treatment_train, X=rep.X_train, dose=rep.dose_train)
        return time.perf_counter() - start

    try:
        fit_seconds(2, 2)
    except ValueError as error:  # a value the estimator refuses (e.g. an activation it lacks): drop the extras
        for setting in ("ELU", "noise of K x 5 = 15"):
            value, names = SPEED_SETTINGS[setting]
            for name in names:
                if params.pop(name, None) is not None:
                    missing.append(f"{setting} (refused: {error})")

    def timer(kind, k):
        if kind == "adversarial":
            return (fit_seconds(base + k, base) - fit_seconds(base, base)) / k * 1e3
        if inference_name is None:
            return None
        return (fit_seconds(base, base + k) - fit_seconds(base, base)) / k * 1e3

    note = (f"cgan.SCIGAN timed as (fit(n_iter = {base} + k) - fit(n_iter = {base})) / k, k >= 200, with {params}"
            + (f"; inference steps through {inference_name}" if inference_name else "; no inference-step count")
            + (f"; settings it has no parameter for: {', '.join(missing)}" if missing else ""))
    return timer, note


# ------------------------------------------------------------------ band coverage
def coverage_one(job):
    """cgan only: does the bootstrap band of the average curve over the test rows hold the true one?"""
    design, rep_index, n_bootstrap = job
    set_single_thread()
    rep = designs.make(design, rep_index)
    model = peers.make_method("cgan", design, rep_index, rep.n_treatments)
    start = time.perf_counter()
    model.fit(rep)
    fit_s = time.perf_counter() - start
    grid = np.linspace(rep.dose_train.min(), rep.dose_train.max(), COVERAGE_GRID)
    start = time.perf_counter()
    lo, hi = model.average_interval(rep.X_test, grid, n_bootstrap)
    band_s = time.perf_counter() - start
    lo, hi = rep.to_outcome(lo), rep.to_outcome(hi)
    truth = rep.truth(rep.X_test, 0, grid).mean(axis=0)
    covered = (lo <= truth) & (truth <= hi)
    low, high = np.quantile(rep.dose_train, [0.05, 0.95])
    inner = (grid >= low) & (grid <= high)
    return {"covered": float(np.mean(covered)), "covered_inner": float(np.mean(covered[inner])),
            "width": float(np.mean(hi - lo)),
            "n_bootstrap": n_bootstrap, "grid": COVERAGE_GRID, "design": design, "method": "cgan", "rep": rep_index,
            "fit_s": round(fit_s, 3), "band_s": round(band_s, 3)}


def run_coverage(design, reps, n_bootstrap, force):
    if design not in ("vcnet", "ihdp_cont"):
        raise SystemExit("--coverage needs a design with one treatment: vcnet or ihdp_cont")
    path = results_dir(design, False, "twins") / "cgan_coverage.csv"
    done = {int(r["rep"]) for r in read_rows(path) if int(r["n_bootstrap"]) == n_bootstrap}
    for r in reps:
        if force or r not in done:
            row = coverage_one((design, r, n_bootstrap))
            record(path, row)
            print(f"rep {r}: covered {row['covered']:.3f}, width {row['width']:.3f}, band {row['band_s']:.0f}s",
                  flush=True)
    rows = [r for r in read_rows(path) if int(r["rep"]) in reps and int(r["n_bootstrap"]) == n_bootstrap]
    if rows:
        share = [float(r["covered"]) for r in rows]
        verdict = "PASS" if statistics.fmean(share) >= COVERAGE_TARGET else "MISS"
        print(f"\n## {design}: band of the average curve, nominal 95%, {n_bootstrap} bootstrap refits, "
              f"{COVERAGE_GRID} doses over the training range\n")
        inner = [float(r["covered_inner"]) for r in rows if r.get("covered_inner")]
        print(f"share of doses covered {mean_se(share)} over {len(rows)} replications "
              f"(target >= {COVERAGE_TARGET:.2f}: {verdict}); between the training doses' 5% and 95% quantiles "
              f"{mean_se(inner)} ({len(inner)} replications); mean width "
              f"{mean_se([float(r['width']) for r in rows])}; band {statistics.fmean(float(r['band_s']) for r in rows):.0f} s")


# ------------------------------------------------------------------ main
def parse_reps(text, quick):
    if text is None:
        return list(range(QUICK_REPS if quick else 20))
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return list(range(int(text)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--design", choices=designs.DESIGNS)
    ap.add_argument("--reps", help="count (0..N-1) or range a-b; default 20 (3 with --quick)")
    ap.add_argument("--methods", default=",".join(peers.METHODS))
    ap.add_argument("--covariates", choices=("twins", "ihdp"), default="twins", help="SCIGAN design only")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--force", action="store_true", help="recompute replications already recorded")
    ap.add_argument("--table", action="store_true", help="print the recorded results only")
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--speed-reps", type=int, default=5)
    ap.add_argument("--coverage", action="store_true", help="cgan's band of the average curve (vcnet, ihdp_cont)")
    ap.add_argument("--n-bootstrap", type=int, default=100, help="refits per band with --coverage")
    args = ap.parse_args(argv)

    if args.speed:
        speed(args.speed_reps, args.quick)
        return
    if args.design is None:
        ap.error("--design is required (or --speed)")
    if args.coverage:
        run_coverage(args.design, parse_reps(args.reps, False), args.n_bootstrap, args.force)
        return
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = set(methods) - set(peers.METHODS)
    if unknown:
        ap.error(f"unknown methods {sorted(unknown)}; choose from {peers.METHODS}")
    reps = parse_reps(args.reps, args.quick)
    if "cgan" in methods and not peers.cgan_has_scigan():
        print("note: cgan has no SCIGAN yet (cgan.SCIGAN is built on branch 'scigan'); its row is skipped.\n")
        methods.remove("cgan")
    folder = results_dir(args.design, args.quick, args.covariates)

    if not args.table:
        done = {(m, int(r["rep"])) for m in methods for r in read_rows(folder / f"{m}.csv")}
        jobs = [(args.design, m, r, args.quick, args.covariates) for m in methods for r in reps
                if args.force or (m, r) not in done]
        started = time.perf_counter()
        pool = multiprocessing.get_context("spawn").Pool(args.jobs) if args.jobs > 1 else None
        results = pool.imap_unordered(run_one, jobs) if pool else map(run_one, jobs)
        for i, row in enumerate(results, 1):
            record(folder / f"{row['method']}.csv", row)
            shown = ", ".join(f"{k} {row[k]:.4g}" for k in designs.METRICS[args.design])
            print(f"[{i}/{len(jobs)} {time.perf_counter() - started:.0f}s] {row['method']} rep {row['rep']}: "
                  f"{shown}, fit {row['fit_s']:.1f}s", flush=True)
        if pool:
            pool.close()
            pool.join()

    import cgan
    from _common import cgan_version

    context = [context_row(args.design, r, args.covariates) for r in reps]
    covariates = f", {args.covariates} covariates" if args.design == "scigan" else ""
    print(f"\n## {args.design}{covariates}: replications {reps[0]}-{reps[-1]}{' (quick)' if args.quick else ''}; "
          f"cgan {cgan_version()}; mean ± standard error over replications, test rows\n")
    del cgan
    print_table(args.design, methods, set(reps), args.quick, args.covariates, context)


if __name__ == "__main__":
    main()
