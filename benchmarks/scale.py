"""Cost against the number of rows: GANITE.fit, the AIPW interval and
CausalWGAN.fit from 10^3 to 10^6 rows.

Usage:
    python benchmarks/scale.py                       # n = 1e3, 1e4, 1e5, 1e6
    python benchmarks/scale.py --sizes 1000,100000   # some of them

Each measurement runs in a fresh process, which reports its wall time and
its peak resident memory (VmHWM) before and after the call, so that one
call's peak does not hide another's.  Data: a simulated design with 20
covariates (a quarter binary), a logistic treatment and a nonlinear
outcome; CausalWGAN gets the same rows as a DataFrame with the treatment
and the outcome.  GANITE runs at its defaults (one thread); CausalWGAN with
n_iter=1000 (its cost per step does not depend on n, so the default 10,000
steps take ten times as long at every size)."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

from _common import cgan_version

CHILD = r"""
import json, sys, time
import numpy as np
import cgan

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0

what, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
d = 20
X = rng.normal(size=(n, d))
X[:, 15:] = X[:, 15:] > 0
T = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0] + 0.5 * X[:, 1]))).astype(int)
Y = X[:, 0] + np.sin(2 * X[:, 2]) + T * (1 + X[:, 3] ** 2) + rng.normal(size=n)
base = hwm()
start = time.perf_counter()
if what == "ganite":
    cgan.GANITE(random_state=0).fit(Y, T, X=X)
elif what == "aipw":
    model = cgan.GANITE(random_state=0, n_iter=20).fit(Y, T, X=X)
    base = hwm()
    start = time.perf_counter()
    model.ate_interval()
else:
    import pandas as pd
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(d)]).assign(t=T, y=Y)
    cgan.CausalWGAN(n_iter=1000, random_state=0).fit(df, treatment="t", outcome="y")
print(json.dumps({"seconds": time.perf_counter() - start, "peak": hwm(), "before": base}))
"""


def measure(what, n):
    out = subprocess.run([sys.executable, "-c", CHILD, what, str(n)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000,1000000")
    ap.add_argument("--what", default="ganite,aipw,wgan")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"cgan {cgan_version()}")
    labels = {"ganite": "GANITE.fit (defaults)", "aipw": "ate_interval (AIPW, training rows)",
              "wgan": "CausalWGAN.fit (n_iter=1000)"}
    for what in args.what.split(","):
        print(f"\n{labels[what]}")
        print(f"{'n':>10} {'seconds':>10} {'peak RSS MiB':>13} {'added MiB':>10}")
        for n in sizes:
            r = measure(what, n)
            print(f"{n:>10} {r['seconds']:>10.2f} {r['peak'] / 2**20:>13.0f} {(r['peak'] - r['before']) / 2**20:>10.0f}",
                  flush=True)


if __name__ == "__main__":
    main()
