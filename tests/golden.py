"""Golden outputs: what fixed seeds give for every public result of GANITE,
CausalWGAN and CausalGraphWGAN, so that restructuring the package can be
checked bit for bit.

``python tests/golden.py`` writes tests/data/golden.npz from the installed
cgan; tests/test_golden.py recomputes every entry and compares the bits.
The file was first written at commit fc6c386 (before the package was laid
out along its seams).  Training runs through CPU-specific kernels (the GEMM
picks 512-bit, FMA or baseline code at run time), so the bits hold only on a
CPU with the same instruction sets; the file records which ones it was made
with, and the test skips elsewhere."""
from __future__ import annotations

import hashlib
import os
import sys
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PATH = os.path.join(HERE, "data", "golden.npz")
# the instruction sets that decide which kernels run
FLAGS = ("avx512f", "fma", "avx2")


def cpu_flags() -> str:
    """The FLAGS this CPU has, comma-separated ('' when unknown)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return ",".join(x for x in FLAGS if x in have)
    except OSError:
        pass
    return ""


def _frame_arrays(prefix, frame, out):
    """A DataFrame as arrays: each column's values (object columns as str),
    its index and attrs that hold numbers."""
    out[f"{prefix}/columns"] = np.array([str(c) for c in frame.columns])
    out[f"{prefix}/index"] = np.array([str(i) for i in frame.index])
    for c in frame.columns:
        v = frame[c].to_numpy()
        out[f"{prefix}/col/{c}"] = v.astype(str) if v.dtype.kind == "O" else v
    for key, value in frame.attrs.items():
        if isinstance(value, (float, int, np.ndarray)):
            out[f"{prefix}/attrs/{key}"] = np.asarray(value)
        elif isinstance(value, dict):
            out[f"{prefix}/attrs/{key}"] = np.array(repr(sorted((str(k), repr(v)) for k, v in value.items())))


def _bytes(b):
    """Container bytes by their length and SHA-256 (equal hashes: equal bytes)."""
    return np.array(f"{len(b)}:{hashlib.sha256(b).hexdigest()}")


def _ganite_cases():
    from cgan import GANITE
    from cgan.datasets import load_ihdp

    data = load_ihdp()
    small = dict(hidden_size=24, n_iter=40, batch_size=64, random_state=3)
    rng = np.random.default_rng(11)
    n = 240
    X3 = rng.normal(size=(n, 4))
    T3 = rng.integers(0, 3, n)
    Y3 = np.exp(0.4 * X3[:, 0] + 0.3 * T3 + 0.3 * rng.normal(size=n))  # positive: 'auto' tries log
    Yb = (X3[:, 1] + 0.5 * (T3 == 2) + rng.normal(size=n) > 0).astype(float)
    return [
        ("ihdp", GANITE(n_estimators=3, **small), data.Y, data.T, data.X, (0, 1)),
        ("log3", GANITE(n_estimators=2, noise_dim=2, **small), Y3, T3, X3, (0, 2)),
        ("binary3", GANITE(n_estimators=2, **small), Yb, T3, X3, (1, 2)),
    ]


def ganite_outputs(out):
    for name, model, Y, T, X, (t0, t1) in _ganite_cases():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(Y, T, X=X)
        p = f"ganite/{name}"
        out[f"{p}/dumps_fit"] = _bytes(model.dumps())
        out[f"{p}/predict"] = model.predict()
        out[f"{p}/predict_new"] = model.predict(X[:17] + 0.25)
        out[f"{p}/effect"] = model.effect(X[:30], T0=t0, T1=t1)
        out[f"{p}/sample_anchor"] = model.sample(X[:20], 3, random_state=5, T=T[:20], Y=Y[:20])
        out[f"{p}/sample_t"] = model.sample(X[:20], 2, random_state=6, T=T[:20])
        out[f"{p}/sample_free"] = model.sample(X[:20], 4, random_state=7)
        out[f"{p}/ate_plugin"] = np.array([model.ate(T0=t0, T1=t1), model.ate(T0=t0, T1=t1, target="att")])
        for target in ("ate", "att", "atc"):
            r = model.ate_inference(T0=t0, T1=t1, target=target)
            out[f"{p}/aipw_{target}"] = np.array([r.estimate, r.stderr, r.lo, r.hi])
        r = model.ate_inference(X[:120], t0, t1, T=T[:120], Y=Y[:120], random_state=9)
        out[f"{p}/aipw_new"] = np.array([r.estimate, r.stderr, r.lo, r.hi])
        r = model.ate_inference(T0=t0, T1=t1, method="bootstrap", n_bootstrap=3, random_state=4)
        out[f"{p}/bootstrap"] = np.array([r.estimate, r.stderr, r.lo, r.hi])
        lo, hi = model.effect_interval(X[:10], T0=t0, T1=t1, n_bootstrap=2, random_state=8)
        out[f"{p}/effect_interval"] = np.stack([lo, hi])
        report = model.overlap_report()
        _frame_arrays(f"{p}/overlap", report, out)
        out[f"{p}/oof_score"] = np.array(model.oof_score_)
        out[f"{p}/propensity_model"] = np.array(model.propensity_model_)
        out[f"{p}/outcome_transform"] = np.array(model.outcome_transform_)
        out[f"{p}/dumps"] = _bytes(model.dumps())


def wgan_outputs(out):
    import cgan
    from cgan.datasets import load_lalonde

    df = load_lalonde()
    earnings = {c: (0, None) for c in ("re74", "re75", "re78")}
    cases = [
        ("lalonde", cgan.CausalWGAN(n_iter=30, critic_steps=3, hidden_size=32, random_state=2),
         dict(bounds=earnings, log=["re78"])),
        ("masses", cgan.CausalWGAN(n_iter=25, critic_steps=2, hidden_size=24, n_hidden=2, mass_at_bounds=True,
                                   one_sided={"covariates": False}, n_jobs=2, random_state=5),
         dict(bounds=earnings)),
    ]
    for name, model, kw in cases:
        model.fit(df, treatment="t", outcome="re78", **kw)
        p = f"wgan/{name}"
        out[f"{p}/dumps_fit"] = _bytes(model.dumps())
        _frame_arrays(f"{p}/sample", model.sample(300, random_state=1), out)
        _frame_arrays(f"{p}/compare", model.compare(df, random_state=2), out)
        out[f"{p}/ate"] = np.array([model.ate(n=5000, random_state=3), model.att(n=5000, random_state=3)])

        def naive(X, T, Y):
            return Y[T == 1].mean() - Y[T == 0].mean()

        def with_interval(X, T, Y):
            d = naive(X, T, Y)
            return d, d - 500.0, d + 500.0

        table = cgan.evaluate(model, {"naive": naive, "interval": with_interval}, n_datasets=4, n=200,
                              random_state=6, n_jobs=2)
        _frame_arrays(f"{p}/evaluate", table, out)
        # sample without a seed continues the model's stream, which is saved
        first = model.sample(50)
        _frame_arrays(f"{p}/stream1", first, out)
        out[f"{p}/dumps_after_stream"] = _bytes(model.dumps())


def graph_outputs(out):
    import pandas as pd

    import cgan

    rng = np.random.default_rng(21)
    n = 300
    z = rng.normal(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.int64)
    m = 0.5 * t + 0.3 * z + 0.5 * rng.normal(size=n)
    g = np.where(rng.random(n) < 0.3 + 0.4 * t, "yes", "no")
    y = np.maximum(0.0, 1.0 + t + m + 0.5 * z + rng.normal(size=n))
    df = pd.DataFrame({"z": z, "t": t, "m": m, "g": g, "y": y})
    graph = {"z": [], "t": ["z"], "m": ["z", "t"], "g": ["t"], "y": ["z", "t", "m"]}
    model = cgan.CausalGraphWGAN(n_iter=30, critic_steps=3, hidden_size=24, n_hidden=2, n_jobs=2, random_state=4)
    model.fit(df, graph, bounds={"y": (0, None)})
    p = "graph/mediator"
    out[f"{p}/dumps_fit"] = _bytes(model.dumps())
    _frame_arrays(f"{p}/sample", model.sample(300, random_state=1), out)
    _frame_arrays(f"{p}/do_constant", model.sample(200, do={"t": 1}, random_state=2), out)
    _frame_arrays(f"{p}/do_array", model.sample(200, do={"m": np.linspace(-1, 2, 200)}, random_state=2), out)
    _frame_arrays(f"{p}/do_function", model.sample(200, do={"t": lambda q: (q["z"] > 0).astype(int)},
                                                   random_state=2), out)
    effects = model.mediation("t", "m", "y", n=5000, random_state=3)
    out[f"{p}/effects"] = np.array([model.ate("t", "y", n=5000, random_state=3), effects.total, effects.direct,
                                    effects.indirect])
    _frame_arrays(f"{p}/compare", model.compare(df, random_state=2, treatment="t"), out)

    def naive(X, T, Y):
        return Y[T == 1].mean() - Y[T == 0].mean()

    _frame_arrays(f"{p}/evaluate", cgan.evaluate(model, {"naive": naive}, n_datasets=3, n=200, random_state=6,
                                                 n_jobs=2, treatment="t", outcome="y"), out)
    _frame_arrays(f"{p}/stream1", model.sample(50), out)
    out[f"{p}/dumps_after_stream"] = _bytes(model.dumps())


def compute() -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    ganite_outputs(out)
    wgan_outputs(out)
    graph_outputs(out)
    return out


def main() -> None:
    out = compute()
    out["meta/cpu_flags"] = np.array(cpu_flags())
    os.makedirs(os.path.dirname(PATH), exist_ok=True)
    np.savez_compressed(PATH, **out)
    print(f"wrote {len(out)} entries to {PATH} (cpu flags: {cpu_flags()!r})", file=sys.stderr)


if __name__ == "__main__":
    main()
