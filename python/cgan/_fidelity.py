"""Fidelity of synthetic data: real and synthetic columns side by side
(moments, quantiles, Wasserstein-1 or total variation, shares at bounds),
the largest difference between their correlation matrices, the share of
synthetic rows that copy a real one, and covariate balance between
treatment arms (standardised mean differences and how well a propensity
model separates the arms)."""
from __future__ import annotations

import numpy as np

from ._privacy import share_in
from ._propensity import fit_propensity, propensity_groups
from ._tabular import encode_frame
from ._validation import require_pandas


def compare_table(df, syn, cols):
    """One row per column encoder of `cols`: real (df) against synthetic
    (syn) data; see CausalWGAN.compare for the columns and attrs."""
    pd = require_pandas("compare")
    rows = []
    shares = {}
    for c in cols:
        real = df[c.name].to_numpy()
        fake = syn[c.name].to_numpy()
        row = {"column": c.name, "type": "categorical" if c.categorical else "continuous"}
        if c.categorical:
            lv = c.levels
            pr = np.array([(real == v).mean() for v in lv])
            pf = np.array([(fake == v).mean() for v in lv])
            shares[c.name] = {plain(v): (float(a), float(b)) for v, a, b in zip(lv, pr, pf)}
            row.update(real_mean=float(pr[-1]), synthetic_mean=float(pf[-1]),
                       distance=float(0.5 * np.abs(pr - pf).sum()))
        else:
            r, f = real.astype(float), fake.astype(float)
            row.update(real_mean=r.mean(), synthetic_mean=f.mean(), real_sd=r.std(), synthetic_sd=f.std())
            for q in (5, 25, 50, 75, 95):
                row[f"real_q{q}"] = float(np.percentile(r, q))
                row[f"synthetic_q{q}"] = float(np.percentile(f, q))
            row["distance"] = wasserstein1(r, f) / (r.std() or 1.0)
            if c.lower is not None:
                row["real_at_lower"] = float((r == c.lower).mean())
                row["synthetic_at_lower"] = float((f == c.lower).mean())
            if c.upper is not None:
                row["real_at_upper"] = float((r == c.upper).mean())
                row["synthetic_at_upper"] = float((f == c.upper).mean())
        rows.append(row)
    out = pd.DataFrame(rows).set_index("column")
    num_real = numeric_frame(df, cols)
    num_fake = numeric_frame(syn, cols)
    with np.errstate(divide="ignore", invalid="ignore"):  # a constant column has no correlation: 0
        cr = np.nan_to_num(np.corrcoef(num_real, rowvar=False))
        cf = np.nan_to_num(np.corrcoef(num_fake, rowvar=False))
    out.attrs["max_corr_diff"] = float(np.max(np.abs(cr - cf)))
    out.attrs["level_shares"] = shares
    out.attrs["exact_copies"] = share_in(num_fake, num_real)
    return out


def strong_pairs(df, names, k=3):
    """Up to k pairs of the (checked, numeric) columns `names` of df with the
    largest absolute correlation (constant columns have none)."""
    if len(names) < 2:
        return []
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.nan_to_num(np.corrcoef(np.column_stack([df[c].to_numpy(float) for c in names]), rowvar=False))
    order = sorted(((abs(r[i, j]), i, j) for i in range(len(names)) for j in range(i + 1, len(names))
                    if r[i, j] != 0), key=lambda t: -t[0])
    return [(names[i], names[j]) for _, i, j in order[:k]]


def plain(v):
    """A numpy number or bool as the Python one (other labels as they are)."""
    return v.item() if isinstance(v, np.generic) and v.dtype.kind in "biuf" else v


def wasserstein1(a, b):
    """W1 between two samples: the integral of |F_a - F_b|."""
    a, b = np.sort(a), np.sort(b)
    grid = np.sort(np.concatenate([a, b]))
    Fa = np.searchsorted(a, grid[:-1], side="right") / len(a)
    Fb = np.searchsorted(b, grid[:-1], side="right") / len(b)
    return float(np.sum(np.abs(Fa - Fb) * np.diff(grid)))


def numeric_frame(frame, cols):
    parts = []
    for c in cols:
        v = frame[c.name].to_numpy()
        if c.categorical:
            parts.append((v == c.levels[-1]).astype(float) if c.width == 2 else
                         np.searchsorted(c.levels, v).astype(float))
        else:
            parts.append(v.astype(float))
    return np.column_stack(parts)


# ---------------------------------------------------------------- balance
SEPARATION_PIECES = 5


def smd(x, a, b):
    """Standardised mean difference of x between the rows a and b (boolean
    masks): the difference of means over the root of the mean of the two
    variances (0 when both are constant, NaN when an arm is empty)."""
    if not a.any() or not b.any():
        return float("nan")
    xa, xb = x[a], x[b]
    sd = np.sqrt((xa.var() + xb.var()) / 2)
    return float((xa.mean() - xb.mean()) / sd) if sd > 0 else 0.0


def balance(df, syn, treatment, covariates, seed):
    """Covariate balance between the arms of the categorical column encoder
    `treatment`, in the real rows df and the synthetic rows syn.

    Returns ({smd column: {covariate: value}}, {'real': auc, 'synthetic':
    auc}).  For two arms the columns are real_smd and synthetic_smd, the
    standardised mean difference of the second arm against the first; with
    more arms, real_smd_<level> and synthetic_smd_<level> for each arm
    against the first.  A two-level covariate enters as its last level's
    indicator; one with more levels by the level whose real and synthetic
    differences are furthest apart.  auc is how well a cross-fitted
    logistic propensity model on the covariates separates the arms: the
    area under its ROC curve (the mean over arms, one against the rest,
    with more than two), 0.5 for none: on the real rows, and on synthetic
    pieces of as many rows (the mean over up to SEPARATION_PIECES)."""
    levels = treatment.levels
    out, auc = {}, {}
    frames = {"real": df, "synthetic": syn}
    arms = {k: np.asarray(f[treatment.name].to_numpy()) for k, f in frames.items()}
    for level in levels[1:]:
        suffix = "" if len(levels) == 2 else f"_{level}"
        real_col, syn_col = {}, {}
        for c in covariates:
            pairs = []
            for indicator in _indicators(c):
                values = {k: indicator(f[c.name].to_numpy()) for k, f in frames.items()}
                pairs.append(tuple(smd(values[k], arms[k] == level, arms[k] == levels[0]) for k in frames))
            real_col[c.name], syn_col[c.name] = max(pairs, key=lambda p: abs(p[0] - p[1]))
        out[f"real_smd{suffix}"] = real_col
        out[f"synthetic_smd{suffix}"] = syn_col
    # the cross-fitted AUC depends on the rows a model learns from, so the
    # synthetic one is the mean over pieces of the real data's size
    m = len(df)
    auc["real"] = _separation(df, treatment, covariates, seed)
    pieces = [syn.iloc[k * m:(k + 1) * m] for k in range(max(1, min(SEPARATION_PIECES, len(syn) // m)))]
    auc["synthetic"] = float(np.mean([_separation(piece, treatment, covariates, seed) for piece in pieces]))
    return out, auc


def _indicators(c):
    """How a covariate enters an SMD: its values, its last level's
    indicator (two levels), or each level's (more)."""
    if not c.categorical:
        return [lambda v: v.astype(float)]
    levels = c.levels[-1:] if c.width == 2 else c.levels
    return [lambda v, lv=lv: (v == lv).astype(float) for lv in levels]


def _separation(frame, treatment, covariates, seed):
    """AUC of the cross-fitted (5 folds) logistic propensity of the arms of
    `treatment` given the encoded covariates of `frame`."""
    codes = np.searchsorted(treatment.levels, frame[treatment.name].to_numpy())
    K = treatment.width
    n = len(codes)
    counts = np.bincount(codes, minlength=K)
    if np.count_nonzero(counts) < 2 or n < 10:
        return float("nan")
    fold = np.arange(n) % 5
    np.random.default_rng(seed).shuffle(fold)
    probs = fit_propensity(encode_frame(covariates, frame), codes, K, propensity_groups(n, fold), seed, "logistic")
    arms = [1] if K == 2 else [k for k in range(K) if 0 < counts[k] < n]
    return float(np.mean([auc_score(probs[:, k], codes == k) for k in arms]))


def auc_score(score, positive):
    """Area under the ROC curve of `score` for the rows `positive`: the
    chance that a positive row outscores a negative one (ties count half)."""
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    ranks = np.empty(len(s))
    # average ranks (1-based) over ties
    _, start, count = np.unique(s, return_index=True, return_counts=True)
    avg = start + (count + 1) / 2.0
    ranks[order] = np.repeat(avg, count)
    n1 = int(positive.sum())
    n0 = len(score) - n1
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
