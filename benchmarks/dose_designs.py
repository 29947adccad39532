"""Dose-response designs whose true curves are known, and the metrics their papers score them with.

Three designs, each a function ``make_<design>(rep)`` that returns one seeded replication:

``scigan``
    The semi-synthetic simulation of SCIGAN (Bica, Jordon & van der Schaar, NeurIPS 2020;
    the formulas of the authors' ``data_simulation.py``), on real covariates that can be
    shipped instead of TCGA: Twins' 30 covariates (11,400 rows; ``covariates='ihdp'`` gives
    IHDP's 25 covariates, 747 rows).  Each covariate is min-max scaled to [0, 1] and each row
    scaled to unit norm; for each of the three treatments three vectors v0, v1, v2 with
    entries U(0, 10), each scaled to unit norm.  With a_j = v_j . x, outcomes (scaled by 10):
        t0: a0 + 12 d (d - 0.75 a1 / a2)^2
        t1: a0 + sin(pi (a1 / a2) d)
        t2: a0 + 12 (a1 d - a2 d^2)
    For each treatment a dosage is drawn from Beta(alpha, beta) whose mode is the code's
    optimal dose (alpha = dosage selection bias 2; beta = (alpha - 1) / opt + 2 - alpha, or 1
    when opt <= 0.001 or opt >= 1; for t1 and t2 the draw is flipped to 1 - d when
    opt <= 0.001); the treatment is drawn with probabilities softmax(kappa * y_t / max_t y_t)
    (kappa = treatment selection bias 2); the observed outcome gets N(0, 0.2^2) noise.
    Splits 70/10/20 train/validation/test, stratified by treatment.  The validation rows are
    not used by any method (the authors' code does not use them either).
    Methods are given y min-max scaled with the *training* rows' min and max (the authors
    scale with the whole data set's, test rows included) and predictions are mapped back.

``vcnet``
    Simulation 1 of VCNet (Nie, Ye, Liu & Nicolae, ICLR 2021; the authors' ``simu1.py``):
    x ~ U[0, 1]^6, t = sigmoid(t~ + N(0, 0.5^2)) with
        t~ = (10 sin(max(x1, x2, x3)) + max(x3, x4, x5)^3) / (1 + (x1 + x5)^2)
             + sin(0.5 x3) (1 + exp(x4 - 0.5 x3)) + x3^2 + 2 sin(x4) + 2 x5 - 6.5,
        y = cos(2 pi (t - 0.5)) (t^2 + 4 max(x1, x6)^3 / (1 + 2 x3^2) sin(x4)) + N(0, 0.5^2);
    500 training and 200 test rows (the code writes 3.14159 for pi).

``ihdp_cont``
    VCNet's IHDP continuous-treatment variant (the authors' ``ihdp_generate_data.py``) on the
    747 x 25 IHDP covariates of the shared data (the same units and column order as the
    authors' ``ihdp.csv``).  Scaling: the authors' code maps each column to (x - min) / max of
    its raw values; our copy holds the six continuous columns standardised (the raw values
    are not shipped), so those six are scaled by (x - min) / (max - min); the other 19
    columns hold the raw codes and get the authors' (x - min) / max.  With 0-based columns,
    c1 = {3, 6..14}, c2 = {15..24}, m = the mean over rows of the row means over c1 (the
    code uses c1 for both of its means; kept), x1..x5 = columns 0, 1, 2, 4, 5:
        t = sigmoid(2 (x1 / (1 + x2) + max(x3, x4, x5) / (0.2 + min(x3, x4, x5))
                       + tanh(5 (sum(x[c2]) / 10 - m)) - 2 + N(0, 0.5^2)))
        y = sin(3 pi t) / (1.2 - t) (1.5 tanh(5 (sum(x[c1]) / 10 - m))
                                     + 0.5 exp(0.2 (x1 - x5)) / (0.1 + min(x2, x3, x4))) + N(0, 0.5^2)
    (the code's "v2" factors 1.5 and 0.5).  471 training rows, the other 276 test rows.  The
    authors draw t and y once and re-split 100 times; here each replication draws t, y and
    the split afresh from its seed.

Metrics (``scigan_metrics``, ``vcnet_metrics``) are computed on the test rows only:

* MISE: for each test unit (and treatment), the integral over d in [0, 1] of the squared
  error of the individual dose-response curve, by Romberg's rule on 65 doses
  (linspace(eps, 1, 65), as in the authors' evaluation; they integrate with a step of 1/65,
  here 1/64, the step of that grid), averaged over units (and treatments).  The SCIGAN
  design reports sqrt(MISE) like the SCIGAN paper; the VCNet designs report MISE itself.
* DPE (SCIGAN): per unit and treatment, the squared gap between the true outcome at the
  true best dose and the true outcome at the dose the model picks (the argmax of its curve
  on 257 doses; the authors refine their 65-point argmax with SLSQP); sqrt of the mean.
* PE (SCIGAN): per unit, the squared gap between the true outcome at the true best
  (treatment, dose) and the true outcome at the pair the model picks (the treatment whose
  predicted best value is highest, at its picked dose); sqrt of the mean.  This is the
  paper's definition; the authors' evaluation code instead picks the treatment by the true
  outcome at the picked doses and compares the true optimum with the model's *predicted*
  value there.
* AMSE (VCNet): the mean over the test rows' own treatment values t_j of
  (psi_hat(t_j) - psi(t_j))^2, where psi(t) is the average over the test rows of the true
  mu(x, t) and psi_hat the method's average curve over the same rows (the authors' code
  averages the truth over all 747 rows for IHDP and over the test rows for simulation 1).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from scipy.integrate import romb

SHARED_DATA = Path(os.environ.get("CGAN_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))

DESIGNS = ("scigan", "vcnet", "ihdp_cont")
# one stream per design and replication: default_rng([DESIGN_STREAM[design], rep])
DESIGN_STREAM = {"scigan": 20200, "vcnet": 20210, "ihdp_cont": 20211}

EPS = np.finfo(float).eps
MISE_GRID = np.linspace(EPS, 1.0, 65)  # 2^6 + 1 doses, Romberg's rule
ARGMAX_GRID = np.linspace(EPS, 1.0, 257)  # where DPE and PE look for each curve's best dose
TRUE_ARGMAX_GRID = np.linspace(0.0, 1.0, 4097)  # the true best dose, to 1/4096


@dataclass
class Replication:
    """One seeded draw of a design: what the methods may see, and the truth they are scored on.

    ``y_train`` is what the methods are given (for the SCIGAN design, min-max scaled with the
    training rows' range); ``to_outcome`` maps a method's predictions back to outcome units.
    ``truth(X, treatment, doses)`` gives the noiseless outcomes, shape (len(X), len(doses)).
    """

    design: str
    rep: int
    n_treatments: int
    X_train: np.ndarray
    treatment_train: np.ndarray  # int labels 0..K-1 (all 0 for a single continuous treatment)
    dose_train: np.ndarray  # in [0, 1]
    y_train: np.ndarray
    X_test: np.ndarray
    dose_test: np.ndarray  # the test rows' own doses: the AMSE grid of the VCNet designs
    truth: Callable[[np.ndarray, int, np.ndarray], np.ndarray]
    y_offset: float = 0.0
    y_scale: float = 1.0
    info: dict = field(default_factory=dict)

    def to_outcome(self, values):
        return np.asarray(values, dtype=float) * self.y_scale + self.y_offset


def make(design: str, rep: int, **options) -> Replication:
    if design == "scigan":
        return make_scigan(rep, **options)
    if design == "vcnet":
        return make_vcnet(rep)
    if design == "ihdp_cont":
        return make_ihdp_cont(rep)
    raise ValueError(f"design must be one of {DESIGNS}, got {design!r}")


# ------------------------------------------------------------------ covariates
def load_twins_covariates() -> np.ndarray:
    """Twins' 30 covariates, raw codes (11,400 rows)."""
    import pandas as pd

    data = pd.read_csv(SHARED_DATA / "twins" / "Twin_data.csv.gz", header=None, skiprows=1)
    return data.iloc[:, :30].to_numpy(dtype=float)


def load_ihdp_covariates() -> np.ndarray:
    """IHDP's 25 covariates x1..x25 (747 rows; the same in every NPCI replication)."""
    data = np.loadtxt(SHARED_DATA / "ihdp" / "ihdp_npci_1.csv", delimiter=",")
    return data[:, 5:30]


# ------------------------------------------------------------------ SCIGAN's simulation
SCIGAN_SCALE = 10.0
SCIGAN_NOISE_SD = 0.2


def scigan_normalise(raw: np.ndarray) -> np.ndarray:
    """Min-max scale each column, then scale each row to unit norm (constant columns dropped)."""
    lo, hi = raw.min(0), raw.max(0)
    keep = hi > lo
    x = (raw[:, keep] - lo[keep]) / (hi[keep] - lo[keep])
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("a row has every covariate at its minimum; it cannot be scaled to unit norm")
    return x / norms


def scigan_outcome(a: np.ndarray, treatment: int, dose) -> np.ndarray:
    """Noiseless outcome of treatment `treatment` at `dose`; a[..., j] = v_j . x.

    `a` has shape (n, 3) and `dose` broadcasts against (n, 1) (e.g. (n, m) or (m,)).
    """
    a0, a1, a2 = a[:, 0:1], a[:, 1:2], a[:, 2:3]
    d = np.asarray(dose, dtype=float)
    if treatment == 0:
        y = a0 + 12.0 * d * (d - 0.75 * a1 / a2) ** 2
    elif treatment == 1:
        y = a0 + np.sin(np.pi * (a1 / a2) * d)
    elif treatment == 2:
        y = a0 + 12.0 * (a1 * d - a2 * d**2)
    else:
        raise ValueError(f"treatment must be 0, 1 or 2, got {treatment}")
    return SCIGAN_SCALE * y


def scigan_mode_dose(a: np.ndarray, treatment: int) -> np.ndarray:
    """The 'optimal dosage' the authors' simulation centres each treatment's dosage draw on."""
    a1, a2 = a[:, 1], a[:, 2]
    if treatment == 0:
        b = 0.75 * a1 / a2
        return np.where(b >= 0.75, b / 3.0, 1.0)
    if treatment == 1:
        return a2 / (2.0 * a1)
    return a1 / (2.0 * a2)


def beta_for_mode(alpha: float, mode: np.ndarray) -> np.ndarray:
    """Beta(alpha, beta) has its mode at `mode`; beta = 1 at the edges, as in the authors' code."""
    edge = (mode <= 0.001) | (mode >= 1.0)
    safe = np.where(edge, 0.5, mode)
    return np.where(edge, 1.0, (alpha - 1.0) / safe + (2.0 - alpha))


def stratified_split(labels: np.ndarray, test_fraction: float, validation_fraction: float, seed: int):
    """Train / validation / test indices, stratified by label, as the authors' get_split_indices."""
    from sklearn.model_selection import StratifiedShuffleSplit

    n = len(labels)
    n_test, n_val = int(np.floor(n * test_fraction)), int(np.floor(n * validation_fraction))
    rest, test = next(StratifiedShuffleSplit(1, test_size=n_test, random_state=seed).split(np.zeros(n), labels))
    train, val = next(StratifiedShuffleSplit(1, test_size=n_val, random_state=seed + 1)
                      .split(np.zeros(len(rest)), labels[rest]))
    return rest[train], rest[val], test


def make_scigan(rep: int, covariates: str = "twins", treatment_bias: float = 2.0,
                dosage_bias: float = 2.0) -> Replication:
    rng = np.random.default_rng([DESIGN_STREAM["scigan"], rep])
    raw = load_twins_covariates() if covariates == "twins" else load_ihdp_covariates()
    x = scigan_normalise(raw)
    n, p = x.shape
    n_treatments = 3
    v = rng.uniform(0.0, 10.0, size=(n_treatments, 3, p))
    v /= np.linalg.norm(v, axis=2, keepdims=True)

    a = np.einsum("tjp,np->ntj", v, x)  # a[i, t, j] = v[t, j] . x_i
    doses = np.empty((n, n_treatments))
    outcomes = np.empty((n, n_treatments))
    for t in range(n_treatments):
        mode = scigan_mode_dose(a[:, t], t)
        d = rng.beta(dosage_bias, beta_for_mode(dosage_bias, mode))
        if t > 0:
            d = np.where(mode <= 0.001, 1.0 - d, d)
        doses[:, t] = d
        outcomes[:, t] = scigan_outcome(a[:, t], t, d[:, None])[:, 0]
    logits = treatment_bias * outcomes / outcomes.max(axis=1, keepdims=True)
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    treatment = (rng.random(n)[:, None] > np.cumsum(prob, axis=1)).sum(axis=1).clip(max=n_treatments - 1)
    rows = np.arange(n)
    dose = doses[rows, treatment]
    y = outcomes[rows, treatment] + rng.normal(0.0, SCIGAN_NOISE_SD, size=n)

    train, val, test = stratified_split(treatment, 0.2, 0.1, seed=int(rng.integers(2**31 - 1)))
    lo, hi = y[train].min(), y[train].max()

    def truth(X, treatment_index, grid):
        return scigan_outcome(np.einsum("jp,np->nj", v[treatment_index], X), treatment_index, grid)

    return Replication(
        design="scigan", rep=rep, n_treatments=n_treatments,
        X_train=x[train], treatment_train=treatment[train], dose_train=dose[train], y_train=(y[train] - lo) / (hi - lo),
        X_test=x[test], dose_test=dose[test], truth=truth, y_offset=float(lo), y_scale=float(hi - lo),
        info=dict(covariates=covariates, n_train=len(train), n_validation=len(val), n_test=len(test),
                  treatment_shares=np.bincount(treatment[train], minlength=n_treatments) / len(train)))


# ------------------------------------------------------------------ VCNet's simulation 1
def vcnet_outcome(x: np.ndarray, t) -> np.ndarray:
    """mu(x, t) of simulation 1; x (n, 6), t broadcasting against (n, 1)."""
    t = np.asarray(t, dtype=float)
    x1, x3, x4, x6 = x[:, 0:1], x[:, 2:3], x[:, 3:4], x[:, 5:6]
    return np.cos(2 * np.pi * (t - 0.5)) * (t**2 + 4 * np.maximum(x1, x6) ** 3 / (1 + 2 * x3**2) * np.sin(x4))


def make_vcnet(rep: int, n_train: int = 500, n_test: int = 200) -> Replication:
    rng = np.random.default_rng([DESIGN_STREAM["vcnet"], rep])
    n = n_train + n_test
    x = rng.random((n, 6))
    x1, x2, x3, x4, x5 = (x[:, j] for j in range(5))
    logit = ((10 * np.sin(np.maximum.reduce([x1, x2, x3])) + np.maximum.reduce([x3, x4, x5]) ** 3) / (1 + (x1 + x5) ** 2)
             + np.sin(0.5 * x3) * (1 + np.exp(x4 - 0.5 * x3)) + x3**2 + 2 * np.sin(x4) + 2 * x5 - 6.5)
    t = 1 / (1 + np.exp(-(logit + rng.normal(0, 0.5, n))))
    y = vcnet_outcome(x, t[:, None])[:, 0] + rng.normal(0, 0.5, n)
    train, test = np.arange(n_train), np.arange(n_train, n)

    def truth(X, treatment_index, grid):
        return vcnet_outcome(X, grid)

    return Replication(
        design="vcnet", rep=rep, n_treatments=1,
        X_train=x[train], treatment_train=np.zeros(n_train, int), dose_train=t[train], y_train=y[train],
        X_test=x[test], dose_test=t[test], truth=truth, info=dict(n_train=n_train, n_test=n_test))


# ------------------------------------------------------------------ VCNet's IHDP variant
IHDP_C1 = np.array([3, 6, 7, 8, 9, 10, 11, 12, 13, 14])
IHDP_C2 = np.arange(15, 25)
IHDP_CONTINUOUS = np.arange(6)  # standardised in our copy


def ihdp_cont_covariates() -> np.ndarray:
    raw = load_ihdp_covariates()
    lo, hi = raw.min(0), raw.max(0)
    x = (raw - lo) / hi  # the authors' scaling, right for the raw codes
    x[:, IHDP_CONTINUOUS] = (raw[:, IHDP_CONTINUOUS] - lo[IHDP_CONTINUOUS]) / (hi - lo)[IHDP_CONTINUOUS]
    return x


def ihdp_cont_outcome(x: np.ndarray, t, mean_c1: float) -> np.ndarray:
    """mu(x, t) of the IHDP variant; t broadcasting against (n, 1)."""
    t = np.asarray(t, dtype=float)
    x1, x2, x3, x4, x5 = (x[:, j:j + 1] for j in (0, 1, 2, 4, 5))
    modifier = (1.5 * np.tanh(5 * (x[:, IHDP_C1].sum(1, keepdims=True) / 10 - mean_c1))
                + 0.5 * np.exp(0.2 * (x1 - x5)) / (0.1 + np.minimum(np.minimum(x2, x3), x4)))
    return np.sin(3 * np.pi * t) / (1.2 - t) * modifier


def make_ihdp_cont(rep: int, n_train: int = 471) -> Replication:
    rng = np.random.default_rng([DESIGN_STREAM["ihdp_cont"], rep])
    x = ihdp_cont_covariates()
    n = len(x)
    mean_c1 = x[:, IHDP_C1].mean(1).mean()
    x1, x2, x3, x4, x5 = (x[:, j] for j in (0, 1, 2, 4, 5))
    t_lin = (x1 / (1 + x2) + np.maximum.reduce([x3, x4, x5]) / (0.2 + np.minimum.reduce([x3, x4, x5]))
             + np.tanh(5 * (x[:, IHDP_C2].sum(1) / 10 - mean_c1)) - 2)
    t = 1 / (1 + np.exp(-2 * (t_lin + rng.normal(0, 0.5, n))))
    y = ihdp_cont_outcome(x, t[:, None], mean_c1)[:, 0] + rng.normal(0, 0.5, n)
    order = rng.permutation(n)
    train, test = order[:n_train], order[n_train:]

    def truth(X, treatment_index, grid):
        return ihdp_cont_outcome(X, grid, mean_c1)

    return Replication(
        design="ihdp_cont", rep=rep, n_treatments=1,
        X_train=x[train], treatment_train=np.zeros(n_train, int), dose_train=t[train], y_train=y[train],
        X_test=x[test], dose_test=t[test], truth=truth, info=dict(n_train=n_train, n_test=n - n_train))


# ------------------------------------------------------------------ metrics
def integrated_squared_error(true_curves: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per row, the integral over [0, 1] of the squared error on MISE_GRID (Romberg)."""
    return romb((true_curves - predicted) ** 2, dx=1.0 / (len(MISE_GRID) - 1), axis=1)


def scigan_metrics(rep: Replication, predict) -> dict:
    """sqrt(MISE), sqrt(DPE), sqrt(PE) on the test rows.

    predict(X, treatment, doses) -> (n, len(doses)) in outcome units.
    """
    X = rep.X_test
    n, K = len(X), rep.n_treatments
    mise = np.empty((n, K))
    true_best = np.empty((n, K))  # true outcome at the true best dose
    true_at_pick = np.empty((n, K))  # true outcome at the model's best dose
    predicted_best = np.empty((n, K))  # the model's value at its best dose
    for t in range(K):
        mise[:, t] = integrated_squared_error(rep.truth(X, t, MISE_GRID), predict(X, t, MISE_GRID))
        curves = predict(X, t, ARGMAX_GRID)
        pick = curves.argmax(axis=1)
        predicted_best[:, t] = curves[np.arange(n), pick]
        true_at_pick[:, t] = rep.truth(X, t, ARGMAX_GRID[pick][:, None])[:, 0]
        true_best[:, t] = rep.truth(X, t, TRUE_ARGMAX_GRID).max(axis=1)
    dpe = (true_best - true_at_pick) ** 2
    chosen = predicted_best.argmax(axis=1)
    pe = (true_best.max(axis=1) - true_at_pick[np.arange(n), chosen]) ** 2
    return {"sqrt_mise": float(np.sqrt(mise.mean())), "sqrt_dpe": float(np.sqrt(dpe.mean())),
            "sqrt_pe": float(np.sqrt(pe.mean()))}


def vcnet_metrics(rep: Replication, predict, average) -> dict:
    """AMSE of the average curve at the test rows' doses, and MISE of the individual curves.

    predict(X, 0, doses) -> (n, len(doses)); average(X, doses) -> (len(doses),), outcome units.
    """
    X = rep.X_test
    grid = rep.dose_test
    psi = rep.truth(X, 0, grid).mean(axis=0)
    amse = np.mean((average(X, grid) - psi) ** 2)
    mise = integrated_squared_error(rep.truth(X, 0, MISE_GRID), predict(X, 0, MISE_GRID)).mean()
    return {"amse": float(amse), "mise": float(mise)}


METRICS = {"scigan": ("sqrt_mise", "sqrt_dpe", "sqrt_pe"), "vcnet": ("amse", "mise"), "ihdp_cont": ("amse", "mise")}
METRIC_LABELS = {"sqrt_mise": "√MISE", "sqrt_dpe": "√DPE", "sqrt_pe": "√PE", "amse": "AMSE", "mise": "MISE"}
