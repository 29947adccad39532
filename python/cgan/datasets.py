"""Data bundled with cgan: IHDP replication 1 (Hill, 2011; the NPCI setting
used by Shalit et al. and GANITE), with its true potential-outcome means."""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np


@dataclass(frozen=True)
class IHDP:
    X: np.ndarray          # (747, 25) covariates
    T: np.ndarray          # (747,) treatment, 0 or 1
    Y: np.ndarray          # (747,) factual outcome
    Y_cf: np.ndarray       # (747,) the simulated counterfactual outcome
    mu0: np.ndarray        # (747,) true mean outcome under control
    mu1: np.ndarray        # (747,) true mean outcome under treatment
    test: np.ndarray       # (747,) bool, the standard 75 test rows
    feature_names: tuple

    @property
    def true_ite(self) -> np.ndarray:
        return self.mu1 - self.mu0

    @property
    def true_ate(self) -> float:
        return float(np.mean(self.mu1 - self.mu0))


def load_ihdp() -> IHDP:
    """IHDP replication 1 with its standard train/test split (672/75 rows)."""
    with resources.files("cgan").joinpath("data/ihdp_npci_1.csv").open("r") as fh:
        header = fh.readline().strip().split(",")
        data = np.loadtxt(fh, delimiter=",")
    return IHDP(
        X=data[:, 5:30], T=data[:, 0].astype(np.int64), Y=data[:, 1], Y_cf=data[:, 2],
        mu0=data[:, 3], mu1=data[:, 4], test=data[:, 30].astype(bool), feature_names=tuple(header[5:30]),
    )
