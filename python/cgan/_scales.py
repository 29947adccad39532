"""Scales: covariates standardised for the networks, and the outcome scale
GANITE learns on ('none' or 'log', mapped back with Duan's smearing factor
per arm so that predictions estimate E[Y | x])."""
from __future__ import annotations

import numpy as np

_ROWS_PER_PASS = 65536  # rows converted at a time, to bound temporaries on big data


def column_scale(Xa):
    """Column means and standard deviations (1 for constant columns), in
    passes over row blocks so that no full-size temporary is made."""
    n, d = Xa.shape
    total = np.zeros(d)
    for i in range(0, n, _ROWS_PER_PASS):
        total += Xa[i:i + _ROWS_PER_PASS].sum(axis=0, dtype=np.float64)
    mean = total / n
    sq = np.zeros(d)
    for i in range(0, n, _ROWS_PER_PASS):
        block = Xa[i:i + _ROWS_PER_PASS] - mean
        sq += np.einsum("ij,ij->j", block, block)
    sd = np.sqrt(sq / n)
    sd[~(sd > 1e-12 * (np.abs(mean) + 1))] = 1.0
    return mean, sd


def standardize(Xa, mean, sd):
    """(X - mean) / sd as a C-contiguous float32 array."""
    out = np.empty(Xa.shape, dtype=np.float32)
    for i in range(0, Xa.shape[0], _ROWS_PER_PASS):
        out[i:i + _ROWS_PER_PASS] = (Xa[i:i + _ROWS_PER_PASS] - mean) / sd
    return out


def candidate_transforms(option, y, binary, n_members):
    """The outcome scales fit tries: ['none'], ['log'] or both ('auto' on
    positive continuous outcomes, when cross-fitting can compare them)."""
    positive = not binary and bool(np.all(y > 0))
    if option == "log":
        if binary:
            raise ValueError("outcome_transform='log' needs a continuous outcome, but Y is binary")
        if not positive:
            raise ValueError(f"outcome_transform='log' needs every Y to be positive; the smallest is {y.min():g}")
        return ["log"]
    if option == "auto" and positive and n_members > 1:
        return ["none", "log"]
    return ["none"]


def from_log(mu_log, y_log, codes, K):
    """Predictions mu_log of log(Y) mapped to E[Y | x] = exp(mu_log) * s_k,
    with Duan's smearing factor s_k, the mean of exp(residual) over the
    rows of arm k.  fit passes the cross-fitted predictions; with a single
    member they are in-sample, whose smaller residuals bias s_k down.
    Returns (predictions, s)."""
    smear = smearing(y_log, mu_log[np.arange(len(codes)), codes], codes, np.ones(K))
    return np.exp(mu_log) * smear, smear


def smearing(y_log, fitted_log, codes, default):
    """Duan's factor of each arm: the mean of exp(y_log - fitted_log) over
    the rows of that arm (fitted_log: each row's prediction for the arm it
    received); `default`'s entry for an arm with no rows."""
    resid = np.exp(np.asarray(y_log, dtype=np.float64) - fitted_log)
    return np.array([resid[codes == k].mean() if np.any(codes == k) else default[k] for k in range(len(default))])

