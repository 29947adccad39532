"""How fast Ctrl-C stops cgan's training loops.

Usage:
    python benchmarks/interrupt.py [--trials 5] [--wait 1.5]

Each case runs in a child process: it fits on synthetic data (747 rows and 25
covariates, the size of an IHDP replication, for GANITE; 445 rows and 11
columns, the size of the LaLonde experimental sample, for CausalWGAN) with
iteration counts that would take hours, prints "ready", and is sent SIGINT
--wait seconds later.  The latency is the time from the signal to the child's
line saying that KeyboardInterrupt reached user code, measured in the parent
with time.perf_counter.  Cases: GANITE with default parameters at n_jobs=1
and 2, a large GANITE (hidden 512, batch 512) at n_jobs=1, the bootstrap
(ate_interval(method="bootstrap"), n_jobs=2), and CausalWGAN with default
parameters at n_jobs=1 and 2.  Medians (and maxima) over --trials.

Target (the design's): KeyboardInterrupt within 0.5 s.  Training calls into C
in pieces sized to take about cgan._progress.CALL_SECONDS (0.1 s) each, and
Ctrl-C is honoured between them.
"""
from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import time

TARGET_S = 0.5

PRELUDE = r"""
import signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)
import numpy as np, pandas as pd, cgan
rng = np.random.default_rng(0)
X = rng.normal(size=(747, 25)); t = rng.integers(0, 2, 747); y = X[:, 0] + t + rng.normal(size=747)
df = pd.DataFrame(rng.normal(size=(445, 10)), columns=[f"x{i}" for i in range(10)])
df["t"] = rng.integers(0, 2, 445)
"""

CASES = {
    "GANITE defaults, n_jobs=1": "cgan.GANITE(n_iter=10**7, n_jobs=1).fit(y, t, X=X)",
    "GANITE defaults, n_jobs=2": "cgan.GANITE(n_iter=10**7, n_jobs=2).fit(y, t, X=X)",
    "GANITE hidden 512, batch 512": "cgan.GANITE(n_iter=10**7, hidden_size=512, batch_size=512, n_estimators=1).fit(y, t, X=X)",
    "bootstrap, n_jobs=2": ("m = cgan.GANITE(n_iter=50, random_state=0).fit(y, t, X=X); m.set_params(n_iter=10**7)\n"
                            "print('ready', flush=True)\nm.ate_interval(method='bootstrap', n_bootstrap=50, n_jobs=2)"),
    "CausalWGAN defaults, n_jobs=1": "cgan.CausalWGAN(n_iter=10**7, n_jobs=1).fit(df, treatment='t', outcome='x0')",
    "CausalWGAN defaults, n_jobs=2": "cgan.CausalWGAN(n_iter=10**7, n_jobs=2).fit(df, treatment='t', outcome='x0')",
}


def child_source(call: str) -> str:
    ready = "" if "print('ready'" in call else "print('ready', flush=True)\n"
    body = "\n".join("    " + line for line in (ready + call).splitlines())
    return PRELUDE + "try:\n" + body + "\nexcept KeyboardInterrupt:\n    print('interrupted', flush=True)\n    sys.exit(0)\nsys.exit(3)\n"


def latency(call: str, wait: float) -> float:
    proc = subprocess.Popen([sys.executable, "-c", child_source(call)], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"child did not start: {line!r}")
        time.sleep(wait)
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        line = proc.stdout.readline().strip()
        got = time.perf_counter()
        proc.wait(timeout=60)
        if line != "interrupted" or proc.returncode != 0:
            raise RuntimeError(f"child ended with {proc.returncode}: {line!r}")
        return got - sent
    finally:
        proc.kill()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--wait", type=float, default=1.5, help="seconds of training before the signal")
    args = ap.parse_args(argv)
    print("| case | median latency s | max latency s | target <= 0.5 s |")
    print("|---|---:|---:|:---:|")
    worst = 0.0
    for name, call in CASES.items():
        times = [latency(call, args.wait) for _ in range(args.trials)]
        worst = max(worst, statistics.median(times))
        ok = statistics.median(times) <= TARGET_S
        print(f"| {name} | {statistics.median(times):.3f} | {max(times):.3f} | {'PASS' if ok else 'MISS'} |", flush=True)
    print(f"\nworst median {worst:.3f} s -> {'PASS' if worst <= TARGET_S else 'MISS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
