"""cgan.CausalGraphWGAN against dowhy.gcm on four known structural causal models.

Usage (dowhy is a benchmark-only dependency, never cgan's):
    pip install dowhy pandas tabulate
    python benchmarks/causal_graph.py                        # 4 designs x 20 replications, defaults (~2-3 h on 2 cores)
    python benchmarks/causal_graph.py --quick                # 2 replications, n_iter 1000 (~5 min)
    python benchmarks/causal_graph.py --designs linear,mediator --reps 5
    python benchmarks/causal_graph.py --report               # the tables from the results file only

Each replication draws n rows (default 2,000) from a design with seed r,
fits cgan.CausalGraphWGAN(random_state=r, n_jobs=--jobs) with its defaults
(n_iter=--n-iter overrides) and dowhy.gcm with automatic mechanism
assignment (``gcm.auto.assign_causal_mechanisms`` at its default quality,
then ``gcm.fit``) to the same rows and graph, and scores both against the
design's truth.  Results are appended to --results (a JSON line per
replication and method), so an interrupted run resumes where it stopped.

Designs (z a confounder; the effect is of t from t0 to t1 on y):
  linear        z ~ N(0,1); t = 0.8 z + N(0,1); y = 1.5 t + z + N(0,1).
                Additive and Gaussian: dowhy's model class.  t0, t1 = 0, 1.
  nonlinear     z ~ N(0,1); t = tanh(z) + 0.5 N(0,1);
                y = sin(1.5 t) + 0.5 z^2 + (0.3 + 0.5 |z|) e, e = +-1 with
                equal chance plus 0.3 N(0,1): heteroscedastic, bimodal noise.
                t0, t1 = -0.5, 0.5.
  mediator      z ~ N(0,1); t ~ Bernoulli(sigmoid(0.8 z));
                m = 0.5 + t + 0.5 z + (0.5 + 0.5 t) N(0,1);
                y = max(0, 1 + t + (1 + 0.5 t) m + 0.5 z + N(0,1)): a binary
                treatment, a mediator whose spread depends on t, and an
                outcome bounded at 0 (cgan is told bounds={'y': (0, None)}).
                t0, t1 = 0, 1; also the natural direct and indirect effects
                through m.
  categorical   z ~ N(0,1); c in {a, b, c} with probabilities softmax(0,
                1.5 z, -1.5 z); t ~ Bernoulli(sigmoid(0.5 z + (-0.5, 0, 0.5)[c]));
                y = (1, 2, 0)[c] t + z + (0.5, 1, 2)[c] N(0,1): categorical
                nodes and a spread that depends on the category.  t0, t1 = 0, 1.
dowhy gets the categorical columns (t in the mediator and categorical
designs, c) as strings, as its documentation advises, so that it assigns
classifiers to them.

Truth: each design's structural equations, run with their own noise on
1,000,000 units under do(t0) and do(t1) (and, for the mediator, with m
drawn under t0 and y under t1, on the same units).

Metrics, per replication, then mean and standard error over replications:
  W1(t0), W1(t1)  Wasserstein-1 distance between 20,000 model draws of y
                  under do(t) and the truth's draws (the same for both
                  methods, so a finite-sample floor is common to them);
  |ATE error|     |model's E[y | do(t1)] - E[y | do(t0)] - true ATE|, the
                  model's from 50,000 units per world (cgan: its ate();
                  dowhy: interventional samples drawn from the same roots);
  |NDE|, |NIE| error  (mediator) the same for the natural direct and
                  indirect effects, from nested draws (cgan: its
                  mediation(); dowhy: its fitted mechanisms drawn in order,
                  m under t0 and y under t1, from the same roots).
Target (issue 24): cgan better than dowhy.gcm on every metric on the
non-additive designs, and within its standard error on the additive one.
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import cgan  # noqa: E402
from cgan._fidelity import wasserstein1  # noqa: E402
from _common import cgan_version  # noqa: E402

TRUTH_UNITS = 1_000_000
W1_DRAWS = 20_000
EFFECT_UNITS = 50_000


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# ------------------------------------------------------------------ designs
# Each design runs its structural equations on explicit noise: noise(n, rng)
# draws every exogenous term, equations(noise, t=None, t_m=None) computes
# the columns (t fixed when given; t_m, when given, is the value t takes in
# the mediator's equation: the nested world of the mediation effects).
class Design:
    name = ""
    graph: dict = {}
    t0 = t1 = 0
    categorical: tuple = ()
    bounds: dict = {}
    mediators: tuple = ()
    additive = False

    def data(self, n, seed):
        return pd.DataFrame(self.equations(self.noise(n, np.random.default_rng(seed))))

    def truth(self):
        rng = np.random.default_rng(12345)
        e = self.noise(TRUTH_UNITS, rng)
        y0 = self.equations(e, t=self.t0)["y"]
        y1 = self.equations(e, t=self.t1)["y"]
        out = {"y0": y0, "y1": y1, "ate": float(np.mean(y1 - y0))}
        if self.mediators:
            nested = self.equations(e, t=self.t1, t_m=self.t0)["y"]
            out["nde"] = float(np.mean(nested - y0))
            out["nie"] = float(np.mean(y1 - nested))
        return out


class Linear(Design):
    name, additive = "linear", True
    graph = {"z": [], "t": ["z"], "y": ["z", "t"]}
    t0, t1 = 0.0, 1.0

    def noise(self, n, rng):
        return rng.normal(size=(3, n))

    def equations(self, e, t=None, t_m=None):
        z = e[0]
        t = 0.8 * z + e[1] if t is None else np.full(len(z), t)
        return {"z": z, "t": t, "y": 1.5 * t + z + e[2]}


class Nonlinear(Design):
    name = "nonlinear"
    graph = {"z": [], "t": ["z"], "y": ["z", "t"]}
    t0, t1 = -0.5, 0.5

    def noise(self, n, rng):
        return {"z": rng.normal(size=n), "t": rng.normal(size=n), "sign": rng.choice([-1.0, 1.0], size=n),
                "y": rng.normal(size=n)}

    def equations(self, e, t=None, t_m=None):
        z = e["z"]
        t = np.tanh(z) + 0.5 * e["t"] if t is None else np.full(len(z), t)
        noise = e["sign"] + 0.3 * e["y"]
        return {"z": z, "t": t, "y": np.sin(1.5 * t) + 0.5 * z ** 2 + (0.3 + 0.5 * np.abs(z)) * noise}


class Mediator(Design):
    name = "mediator"
    graph = {"z": [], "t": ["z"], "m": ["z", "t"], "y": ["z", "t", "m"]}
    t0, t1 = 0, 1
    categorical = ("t",)
    bounds = {"y": (0, None)}
    mediators = ("m",)

    def noise(self, n, rng):
        return {"z": rng.normal(size=n), "t": rng.random(n), "m": rng.normal(size=n), "y": rng.normal(size=n)}

    def equations(self, e, t=None, t_m=None):
        z = e["z"]
        n = len(z)
        t = (e["t"] < _sigmoid(0.8 * z)).astype(np.int64) if t is None else np.full(n, t, dtype=np.int64)
        tm = t if t_m is None else np.full(n, t_m, dtype=np.int64)
        m = 0.5 + tm + 0.5 * z + (0.5 + 0.5 * tm) * e["m"]
        y = np.maximum(0.0, 1 + t + (1 + 0.5 * t) * m + 0.5 * z + e["y"])
        return {"z": z, "t": t, "m": m, "y": y}


class Categorical(Design):
    name = "categorical"
    graph = {"z": [], "c": ["z"], "t": ["z", "c"], "y": ["z", "c", "t"]}
    t0, t1 = 0, 1
    categorical = ("t", "c")
    LEVELS = np.array(["a", "b", "c"])

    def noise(self, n, rng):
        return {"z": rng.normal(size=n), "c": rng.random(n), "t": rng.random(n), "y": rng.normal(size=n)}

    def equations(self, e, t=None, t_m=None):
        z = e["z"]
        n = len(z)
        logits = np.column_stack([np.zeros(n), 1.5 * z, -1.5 * z])
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        k = np.minimum((e["c"][:, None] >= np.cumsum(p, axis=1)[:, :-1]).sum(axis=1), 2)
        shift = np.array([-0.5, 0.0, 0.5])[k]
        t = (e["t"] < _sigmoid(0.5 * z + shift)).astype(np.int64) if t is None else np.full(n, t, dtype=np.int64)
        y = np.array([1.0, 2.0, 0.0])[k] * t + z + np.array([0.5, 1.0, 2.0])[k] * e["y"]
        return {"z": z, "c": self.LEVELS[k], "t": t, "y": y}


DESIGNS = {d.name: d for d in (Linear(), Nonlinear(), Mediator(), Categorical())}


# ------------------------------------------------------------------ methods
def run_cgan(design, df, seed, n_iter, jobs):
    kw = {} if n_iter is None else {"n_iter": n_iter}
    t_start = time.perf_counter()
    model = cgan.CausalGraphWGAN(random_state=seed, n_jobs=jobs, **kw).fit(df, design.graph, bounds=design.bounds)
    fit_s = time.perf_counter() - t_start
    t0, t1 = design.t0, design.t1
    out = {"fit_s": fit_s,
           "y0": model.sample(W1_DRAWS, do={"t": t0}, random_state=1)["y"].to_numpy(float),
           "y1": model.sample(W1_DRAWS, do={"t": t1}, random_state=2)["y"].to_numpy(float)}
    if design.mediators:
        effects = model.mediation("t", list(design.mediators), "y", t0=t0, t1=t1, n=EFFECT_UNITS, random_state=3)
        out.update(ate=effects.total, nde=effects.direct, nie=effects.indirect)
    else:
        out["ate"] = model.ate("t", "y", t0=t0, t1=t1, n=EFFECT_UNITS, random_state=3)
    return out


def _dowhy_frame(design, df):
    """The data as dowhy gets it: categorical columns as strings."""
    out = df.copy()
    for c in design.categorical:
        out[c] = out[c].astype(str)
    return out


def _dowhy_value(design, value):
    return str(value) if "t" in design.categorical else value


def run_dowhy(design, df, seed):
    import networkx as nx
    from dowhy import gcm
    from dowhy.graph import get_ordered_predecessors

    np.random.seed(seed)  # dowhy draws from NumPy's global generator
    graph = nx.DiGraph([(p, c) for c, ps in design.graph.items() for p in ps])
    scm = gcm.StructuralCausalModel(graph)
    data = _dowhy_frame(design, df)
    t_start = time.perf_counter()
    gcm.auto.assign_causal_mechanisms(scm, data)
    gcm.fit(scm, data)
    fit_s = time.perf_counter() - t_start
    order = list(nx.topological_sort(graph))
    t0, t1 = _dowhy_value(design, design.t0), _dowhy_value(design, design.t1)

    def world(n, t, base=None, fixed=None):
        """Draws of every node with t set (and the nodes in `fixed` taken
        from `base`); the roots come from `base` when given: the same units."""
        values = {}
        for node in order:
            parents = get_ordered_predecessors(scm.graph, node)
            if node == "t":
                values[node] = np.full(n, t, dtype=object if isinstance(t, str) else float)
            elif fixed and node in fixed:
                values[node] = base[node]
            elif not parents:
                values[node] = base[node] if base is not None else \
                    scm.causal_mechanism(node).draw_samples(n).reshape(-1)
            else:
                X = np.column_stack([values[p] for p in parents])
                values[node] = scm.causal_mechanism(node).draw_samples(X).reshape(-1)
        return values

    w0 = world(EFFECT_UNITS, t0)
    w1 = world(EFFECT_UNITS, t1, base=w0)
    out = {"fit_s": fit_s, "ate": float(np.mean(w1["y"].astype(float)) - np.mean(w0["y"].astype(float)))}
    if design.mediators:
        nested = world(EFFECT_UNITS, t1, base=w0, fixed=set(design.mediators))
        out["nde"] = float(np.mean(nested["y"].astype(float)) - np.mean(w0["y"].astype(float)))
        out["nie"] = float(np.mean(w1["y"].astype(float)) - np.mean(nested["y"].astype(float)))
    out["y0"] = world(W1_DRAWS, t0)["y"].astype(float)
    out["y1"] = world(W1_DRAWS, t1)["y"].astype(float)
    return out


# ------------------------------------------------------------------ scoring
def score(design, truth, got):
    row = {"w1_t0": wasserstein1(got["y0"], truth["y0"]), "w1_t1": wasserstein1(got["y1"], truth["y1"]),
           "ate_err": abs(got["ate"] - truth["ate"]), "fit_s": got["fit_s"]}
    if design.mediators:
        row["nde_err"] = abs(got["nde"] - truth["nde"])
        row["nie_err"] = abs(got["nie"] - truth["nie"])
    return row


METRICS = [("w1_t0", "W1 under do(t0)"), ("w1_t1", "W1 under do(t1)"), ("ate_err", "|ATE error|"),
           ("nde_err", "|NDE error|"), ("nie_err", "|NIE error|")]


def report(results, designs, reps):
    print("\n| design | metric | cgan | dowhy.gcm | cgan - dowhy (se) | target | verdict |")
    print("|---|---|---:|---:|---:|---|---|")
    verdicts = []
    for name in designs:
        design = DESIGNS[name]
        rows = {m: {r["rep"]: r for r in results if r["design"] == name and r["method"] == m}
                for m in ("cgan", "dowhy")}
        common = sorted(set(rows["cgan"]) & set(rows["dowhy"]))[:reps]
        if not common:
            continue
        for key, label in METRICS:
            if key not in rows["cgan"][common[0]]:
                continue
            a = np.array([rows["cgan"][r][key] for r in common])
            b = np.array([rows["dowhy"][r][key] for r in common])
            d = a - b
            k = len(common)
            se = lambda x: x.std(ddof=1) / np.sqrt(k) if k > 1 else float("nan")  # noqa: E731
            if design.additive:
                target, good = "within dowhy's se", a.mean() <= b.mean() + se(b)
            else:
                target, good = "below dowhy", a.mean() < b.mean()
            verdicts.append(good)
            print(f"| {name} (k={k}) | {label} | {a.mean():.4f} ± {se(a):.4f} | {b.mean():.4f} ± {se(b):.4f} | "
                  f"{d.mean():+.4f} ({se(d):.4f}) | {target} | {'PASS' if good else 'MISS'} |")
    print("\nfit seconds (mean):", ", ".join(
        f"{name} cgan {np.mean([r['fit_s'] for r in results if r['design'] == name and r['method'] == 'cgan']):.1f} / "
        f"dowhy {np.mean([r['fit_s'] for r in results if r['design'] == name and r['method'] == 'dowhy']):.1f}"
        for name in designs if any(r["design"] == name for r in results)))
    print(f"targets met: {sum(verdicts)} of {len(verdicts)}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--designs", default=",".join(DESIGNS))
    ap.add_argument("--reps", type=int, default=None, help="replications per design (default 20; 2 with --quick)")
    ap.add_argument("--n", type=int, default=2000, help="rows per replication")
    ap.add_argument("--n-iter", type=int, default=None, help="cgan's n_iter (default: the estimator's)")
    ap.add_argument("--jobs", type=int, default=2, help="cgan's n_jobs")
    ap.add_argument("--quick", action="store_true", help="2 replications, n_iter 1000")
    ap.add_argument("--results", default=None, help="JSON lines file (default benchmarks/results/causal_graph"
                                                    "[-quick].jsonl)")
    ap.add_argument("--report", action="store_true", help="print the tables from the results file only")
    args = ap.parse_args(argv)
    reps = args.reps if args.reps is not None else (2 if args.quick else 20)
    n_iter = args.n_iter if args.n_iter is not None else (1000 if args.quick else None)
    designs = [d.strip() for d in args.designs.split(",")]
    tag = "" if n_iter is None else f"-n_iter{n_iter}"
    path = Path(args.results or Path(__file__).resolve().parent / "results" / f"causal_graph{tag}.jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    results = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    print(f"# cgan.CausalGraphWGAN against dowhy.gcm (cgan {cgan_version()}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}); n={args.n}, {reps} replications, "
          f"cgan n_iter={n_iter or 'default'}, n_jobs={args.jobs}; results in {path}")
    if not args.report:
        truths = {}
        for name in designs:
            truths[name] = truth = DESIGNS[name].truth()
            print(f"{name}: true ATE {truth['ate']:.4f}" + (f", NDE {truth['nde']:.4f}, NIE {truth['nie']:.4f}"
                                                            if DESIGNS[name].mediators else ""), flush=True)
        # replication by replication, so that a run stopped early covers every design
        for rep in range(reps):
            for name in designs:
                design, truth = DESIGNS[name], truths[name]
                df = design.data(args.n, seed=rep)
                for method in ("cgan", "dowhy"):
                    if any(r["design"] == name and r["rep"] == rep and r["method"] == method for r in results):
                        continue
                    got = run_cgan(design, df, rep, n_iter, args.jobs) if method == "cgan" else \
                        run_dowhy(design, df, rep)
                    row = {"design": name, "rep": rep, "method": method, "n": args.n, **score(design, truth, got)}
                    results.append(row)
                    with path.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                    print(f"  {name} rep {rep} {method:<5} " + " ".join(f"{k} {v:.4f}" for k, v in row.items()
                                                                if isinstance(v, float)), flush=True)
    report(results, designs, reps)


if __name__ == "__main__":
    main()
