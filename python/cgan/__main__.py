"""python -m cgan: fit GANITE to the bundled IHDP replication and report its effects."""
from __future__ import annotations

import argparse
import time

import numpy as np

from . import GANITE, __version__
from .datasets import load_ihdp


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m cgan", description=__doc__)
    ap.add_argument("--random-state", type=int, default=0)
    ap.add_argument("--verbose", action="store_true", help="show training progress")
    args = ap.parse_args(argv)

    data = load_ihdp()
    train = ~data.test
    print(f"cgan {__version__}: GANITE on IHDP replication 1 "
          f"({train.sum()} training rows, {data.test.sum()} test rows, {data.X.shape[1]} covariates)")
    start = time.perf_counter()
    model = GANITE(random_state=args.random_state, n_jobs=-1, verbose=args.verbose)
    model.fit(data.Y[train], data.T[train], X=data.X[train])
    seconds = time.perf_counter() - start

    ate = model.ate()
    lo, hi = model.ate_interval(alpha=0.05)
    true_ate = float(data.true_ite[train].mean())
    pehe_test = float(np.sqrt(np.mean((model.effect(data.X[data.test]) - data.true_ite[data.test]) ** 2)))
    print(f"fitted in {seconds:.1f} s")
    print(f"estimated ATE (training rows):    {ate:.3f}")
    print(f"doubly robust (AIPW) estimate:    {(lo + hi) / 2:.3f}, 95% interval [{lo:.3f}, {hi:.3f}]")
    print(f"true ATE (training rows):         {true_ate:.3f}")
    print(f"absolute error of the estimate:   {abs(ate - true_ate):.3f}")
    print(f"sqrt(PEHE) on the test rows:      {pehe_test:.3f}")


if __name__ == "__main__":
    main()
