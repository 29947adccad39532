"""Fidelity of synthetic data: real and synthetic columns side by side
(moments, quantiles, Wasserstein-1 or total variation, shares at bounds)
the largest difference between their correlation matrices, and the share
of synthetic rows that copy a real one."""
from __future__ import annotations

import numpy as np

from ._privacy import share_in
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
