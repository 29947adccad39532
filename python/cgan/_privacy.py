"""What a synthetic table reveals about the rows it was trained on:
distances to the closest record, exact and near copies, and two
membership-inference attacks, each beside the value that a table drawn
from the population itself would give."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _memory
from ._tabular import column_list, is_column, looks_categorical
from ._validation import _check_no_na, check_float, check_random_state, require_pandas

if TYPE_CHECKING:
    import matplotlib.axes
    import pandas

# a departure toward leakage this many standard errors beyond the reference
# is flagged (one-sided; about 1 in 740 under the reference distribution)
FLAG_Z = 3.0
# bytes of one block of pairwise squared distances
_BLOCK_BYTES = 32 << 20
# kernel widths the density attack chooses from (standardised units), and
# how many synthetic rows choose it
BANDWIDTHS = np.geomspace(0.02, 2.0, 21)
BANDWIDTH_ROWS = 1000

METRICS = ("exact_copies", "near_copies", "closer_to_train", "mia_distance_auc", "mia_density_auc")


def privacy_report(
    synthetic: pandas.DataFrame | Any,
    train: pandas.DataFrame | Any,
    holdout: pandas.DataFrame | Any,
    *,
    columns: Any = None,
    categorical: Any = None,
    near_quantile: float = 0.05,
    random_state: int | np.random.Generator | None = None,
) -> pandas.DataFrame:
    """What a synthetic table reveals about its training rows.

    Works for any synthetic table, from cgan or not. Rows are compared in
    one space: continuous columns divided by their standard deviation in
    ``train``, categorical columns contributing 1 to the squared distance
    when their levels differ. ``holdout`` holds real rows from the same
    population that the synthesizer never saw; each metric is reported
    beside the value that fresh real rows give (``reference``), so a
    synthetic table drawn from the population itself scores near its
    reference whatever the data.

    Parameters
    ----------
    synthetic, train, holdout : DataFrame or 2-D array
        The synthetic rows, the rows the synthesizer was trained on, and
        real rows it was not trained on. Arrays are read as columns 0, 1,
        ...; all three must hold ``columns``.
    columns : list of column names, optional
        The columns compared; default every column of ``train``.
    categorical : list of column names, optional
        Columns compared as categories. Columns that are not numeric, are
        bool or have at most two values in ``train`` are categorical
        anyway.
    near_quantile : float, default 0.05
        Defines a near copy: a row closer to its nearest training row than
        this share of holdout rows are to theirs. In (0, 0.5].
    random_state : int, numpy Generator or None
        Seeds the subsamples that give the attacks equal numbers of
        members and non-members.

    Returns
    -------
    DataFrame
        Indexed by metric, with columns ``value``, ``reference`` (what
        rows from the population give), ``z`` (the departure toward
        leakage in standard errors) and ``flagged`` (``z`` above 3):

        - ``exact_copies``: share of synthetic rows identical to a
          training row (reference: the share of holdout rows that are);
        - ``near_copies``: share of synthetic rows within the near-copy
          distance of a training row (reference: the share of holdout
          rows, about ``near_quantile``);
        - ``closer_to_train``: share of synthetic rows nearer to a training
          row than to a holdout row, with equal numbers of each (ties count
          half; reference 0.5);
        - ``mia_distance_auc``: area under the ROC curve of an attacker
          who calls a real row a member when a synthetic row lies close to
          it (reference 0.5: no better than chance);
        - ``mia_density_auc``: the same for an attacker who scores a row by
          the ratio of the synthetic rows' density to the population's
          density there (Gaussian kernel estimates; half the holdout rows
          estimate the population's density, the other half are the
          non-members).

        ``attrs`` holds ``near_distance`` (the near-copy distance),
        ``columns``, ``categorical``, and ``distances``: each synthetic
        and each holdout row's distance to its nearest training row, which
        :func:`plot_privacy_report` draws.

    Raises
    ------
    ValueError
        If a table lacks a column, holds missing values or infinities, a
        categorical column is continuous in one table, or holdout has
        fewer than 4 rows or synthetic fewer than 2.
    TypeError
        If an argument has the wrong type.
    MemoryError
        If the encoded tables do not fit in the memory available.

    Examples
    --------
    >>> import cgan
    >>> from cgan.datasets import load_lalonde
    >>> df = load_lalonde()
    >>> train, holdout = df.iloc[::2], df.iloc[1::2]
    >>> copies = train.sample(150, random_state=0)  # a "synthesizer" that copies its rows
    >>> report = cgan.privacy_report(copies, train, holdout, random_state=0)
    >>> print(report.loc["exact_copies", "value"], report.loc["exact_copies", "flagged"])
    1.0 True
    """
    pd = require_pandas("privacy_report")
    tables = {"synthetic": synthetic, "train": train, "holdout": holdout}
    for name, t in tables.items():
        tables[name] = _frame(pd, t, name)
    train_df = tables["train"]
    cols = list(train_df.columns) if columns is None else column_list(train_df, columns, "columns")
    if not cols:
        raise ValueError("columns is empty; name at least one column to compare")
    cats = set() if categorical is None else set(column_list(train_df, categorical, "categorical"))
    unknown = cats - set(cols)
    if unknown:
        raise ValueError(f"categorical names columns that are not compared: {sorted(map(str, unknown))}")
    q = check_float(near_quantile, "near_quantile", 0.0, 0.5, low_open=True)
    seed = check_random_state(random_state)
    for name, t in tables.items():
        lacking = [c for c in cols if not is_column(t, c)]
        if lacking:
            raise ValueError(f"{name} lacks the columns {[str(c) for c in lacking]}")
        part = t[cols]
        _check_no_na(part, name)
        tables[name] = part
    if len(tables["holdout"]) < 4:
        raise ValueError(f"holdout has {len(tables['holdout'])} rows; the attacks need at least 4")
    if len(tables["synthetic"]) < 2:
        raise ValueError("synthetic has 1 row; the density attack needs at least 2")
    width = _width(tables, cols, cats)
    _memory.check(8 * width * sum(len(t) for t in tables.values()) * 2 + 4 * _BLOCK_BYTES,
                  f"privacy_report on {width} encoded columns", "compare fewer rows or columns")
    E, categorical_cols = _encode(tables, cols, cats)
    S, R, H = E["synthetic"], E["train"], E["holdout"]
    rng = np.random.default_rng(seed)

    d_syn = np.sqrt(_nearest_sq(S, R))
    d_hold = np.sqrt(_nearest_sq(H, R))
    rows = {}
    # exact copies
    exact_s = share_in(S, R)
    exact_h = share_in(H, R)
    rows["exact_copies"] = (exact_s, exact_h, _two_share_z(exact_s, len(S), exact_h, len(H)))
    # near copies: closer than the near_quantile of holdout rows' distances
    tau = float(np.quantile(d_hold, q))
    near_s = float(np.mean(d_syn <= tau))
    near_h = float(np.mean(d_hold <= tau))
    rows["near_copies"] = (near_s, near_h, _two_share_z(near_s, len(S), near_h, len(H)))
    # closer to train than to holdout, with as many of each
    m = min(len(R), len(H))
    Rm, Hm = R[rng.permutation(len(R))[:m]], H[rng.permutation(len(H))[:m]]
    to_r, to_h = _nearest_sq(S, Rm), _nearest_sq(S, Hm)
    closer = float(np.mean(to_r < to_h) + 0.5 * np.mean(to_r == to_h))
    # the share varies with the synthetic rows and with the two real sets
    rows["closer_to_train"] = (closer, 0.5, (closer - 0.5) / math.sqrt(0.25 / len(S) + 0.25 / m))
    # distance attack: members are training rows, non-members holdout rows
    members = Rm
    score_in, score_out = -_nearest_sq(members, S), -_nearest_sq(Hm, S)
    rows["mia_distance_auc"] = _auc_row(score_in, score_out)
    # density-ratio attack: half the holdout rows estimate the population's
    # density, the other half are the non-members
    half = rng.permutation(len(H))
    ref, outside = H[half[: len(H) // 2]], H[half[len(H) // 2:]]
    inside = R[rng.permutation(len(R))[: len(outside)]]
    h = _bandwidth(S, rng)
    ratio_in = _log_kde(inside, S, h) - _log_kde(inside, ref, h)
    ratio_out = _log_kde(outside, S, h) - _log_kde(outside, ref, h)
    rows["mia_density_auc"] = _auc_row(ratio_in, ratio_out)

    out = pd.DataFrame(
        [(k, float(v), float(r), float(z), bool(z > FLAG_Z)) for k, (v, r, z) in rows.items()],
        columns=["metric", "value", "reference", "z", "flagged"],
    ).set_index("metric")
    out.attrs["near_distance"] = tau
    out.attrs["columns"] = cols
    out.attrs["categorical"] = categorical_cols
    out.attrs["distances"] = {"synthetic": d_syn, "holdout": d_hold}
    return out


def plot_privacy_report(report: pandas.DataFrame, ax: Any = None) -> matplotlib.axes.Axes:
    """Distances to the closest training row, synthetic against holdout rows.

    Histograms of each synthetic and each holdout row's distance to its
    nearest training row, with the near-copy distance marked: a synthetic
    table that copies its training rows piles up left of the holdout rows.

    Parameters
    ----------
    report : DataFrame
        What :func:`privacy_report` returned.
    ax : matplotlib Axes, optional
        Where to draw; default a new figure.

    Returns
    -------
    matplotlib Axes
        The axes drawn on.

    Raises
    ------
    TypeError
        If report is not a privacy_report result or ax is not an Axes.
    ImportError
        If matplotlib is not installed.
    """
    from ._plots import pyplot

    attrs = getattr(report, "attrs", None)
    if not isinstance(attrs, dict) or not isinstance(attrs.get("distances"), dict):
        raise TypeError("report must be the DataFrame that privacy_report returns")
    plt = pyplot("plot_privacy_report")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.5))
    elif not (hasattr(ax, "hist") and hasattr(ax, "axvline")):
        raise TypeError(f"ax must be None or a matplotlib Axes, got {ax!r}")
    d = attrs["distances"]
    both = np.concatenate([d["synthetic"], d["holdout"]])
    bins = np.histogram_bin_edges(both, bins=40)
    ax.hist(d["holdout"], bins=bins, density=True, alpha=0.5, label="holdout (real, unseen)")
    ax.hist(d["synthetic"], bins=bins, density=True, alpha=0.5, label="synthetic")
    ax.axvline(attrs["near_distance"], color="grey", linestyle=":", linewidth=1, label="near-copy distance")
    ax.set_xlabel("distance to the closest training row")
    ax.set_ylabel("density")
    ax.legend()
    return ax


# ----------------------------------------------------------------- tables
def _frame(pd, obj, name):
    if isinstance(obj, pd.DataFrame):
        if obj.columns.has_duplicates:
            raise ValueError(f"{name} has duplicate column names")
        if len(obj) == 0:
            raise ValueError(f"{name} has no rows")
        return obj
    if (type(obj).__module__ or "").startswith("scipy.sparse"):
        raise TypeError(f"{name} is a SciPy sparse matrix; pass {name}.toarray()")
    if not hasattr(obj, "__array__") and not isinstance(obj, (list, tuple)):
        raise TypeError(f"{name} must be a pandas DataFrame or a 2-D array, got {type(obj).__name__}")
    arr = np.asarray(obj)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows by columns), got {arr.ndim} dimension(s)")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} has no rows")
    return pd.DataFrame(arr)


def _is_categorical(col, name, cats):
    return name in cats or col.dtype.kind == "b" or looks_categorical(col)


def _width(tables, cols, cats):
    """Encoded width, from the levels that the three tables hold."""
    width = 0
    for c in cols:
        train_col = tables["train"][c]
        if _is_categorical(train_col, c, cats):
            levels = set()
            for t in tables.values():
                levels.update(_levels(t[c]))
            width += len(levels)
        else:
            width += 1
    return width


def _levels(col):
    return dict.fromkeys(col.to_numpy().tolist())


def _encode(tables, cols, cats):
    """Each table as float64 rows in one space, and the categorical columns."""
    parts = {name: [] for name in tables}
    categorical_cols = []
    for c in cols:
        train_col = tables["train"][c]
        if _is_categorical(train_col, c, cats):
            categorical_cols.append(c)
            levels = {}
            for t in tables.values():
                levels.update(_levels(t[c]))
            index = {v: i for i, v in enumerate(levels)}
            for name, t in tables.items():
                codes = np.fromiter((index[v] for v in t[c].to_numpy().tolist()), dtype=np.int64, count=len(t))
                onehot = np.zeros((len(t), len(index)))
                onehot[np.arange(len(t)), codes] = math.sqrt(0.5)  # a mismatch adds 1 to the squared distance
                parts[name].append(onehot)
            continue
        values = {}
        for name, t in tables.items():
            col = t[c]
            if col.dtype.kind not in "biuf":
                raise TypeError(f"column {c!r} is continuous in train but holds {col.dtype} in {name}")
            values[name] = col.to_numpy(dtype=np.float64)
            if not np.isfinite(values[name]).all():
                raise ValueError(f"column {c!r} of {name} holds infinities")
        sd = float(values["train"].std()) or 1.0
        for name, v in values.items():
            parts[name].append((v / sd)[:, None])
    return {name: np.hstack(p) for name, p in parts.items()}, categorical_cols


# -------------------------------------------------------------- distances
def _pairwise_sq(a, B, bb):
    """Squared distances of the rows of a to the rows of B (bb: their
    squared norms)."""
    d2 = np.einsum("ij,ij->i", a, a)[:, None] + bb[None, :] - 2.0 * (a @ B.T)
    return np.maximum(d2, 0.0, out=d2)


def _blocks(A, B):
    """Blocks (start, squared distances of A[start:stop] to every row of B)."""
    bb = np.einsum("ij,ij->i", B, B)
    step = max(1, _BLOCK_BYTES // (8 * max(1, len(B))))
    for start in range(0, len(A), step):
        yield start, _pairwise_sq(A[start:start + step], B, bb)


def _nearest_sq(A, B):
    """Squared distance of each row of A to its nearest row of B."""
    out = np.empty(len(A))
    for start, d2 in _blocks(A, B):
        out[start:start + len(d2)] = d2.min(axis=1)
    return out


def _log_kde(A, B, h):
    """Log of a Gaussian kernel density estimate from the rows of B, at the
    rows of A, up to a constant that depends only on h and the width."""
    out = np.empty(len(A))
    for start, d2 in _blocks(A, B):
        e = -d2 / (2.0 * h * h)
        top = e.max(axis=1)
        out[start:start + len(d2)] = top + np.log(np.exp(e - top[:, None]).sum(axis=1)) - math.log(len(B))
    return out


def _bandwidth(S, rng):
    """The kernel width of BANDWIDTHS under which the synthetic rows S (at
    most BANDWIDTH_ROWS of them) predict each other best: the largest
    mean leave-one-out log density."""
    sub = S[rng.permutation(len(S))[:BANDWIDTH_ROWS]]
    d2 = _pairwise_sq(sub, sub, np.einsum("ij,ij->i", sub, sub))
    np.fill_diagonal(d2, np.inf)
    best, best_h = -np.inf, BANDWIDTHS[-1]
    for h in BANDWIDTHS:
        e = -d2 / (2.0 * h * h)
        top = e.max(axis=1)
        # the kernel's normalising constant, h ** -width, matters across widths
        loo = top + np.log(np.exp(e - top[:, None]).sum(axis=1)) - S.shape[1] * math.log(h)
        score = float(np.mean(loo))
        if score > best:
            best, best_h = score, float(h)
    return best_h


def share_in(A, B):
    """Share of the rows of A that equal a row of B exactly."""
    a = np.ascontiguousarray(A + 0.0)  # -0.0 and 0.0 compare equal
    b = np.ascontiguousarray(B + 0.0)
    row = np.dtype((np.void, a.dtype.itemsize * a.shape[1]))
    return float(np.isin(a.view(row).ravel(), b.view(row).ravel()).mean())


# -------------------------------------------------------------- statistics
def _two_share_z(p1, n1, p2, n2):
    """z of p1 above p2 for two independent shares (pooled); 0 when both
    shares are 0 or 1."""
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    return (p1 - p2) / math.sqrt(var) if var > 0 else 0.0


def auc(score_in, score_out):
    """Area under the ROC curve of scores meant to be higher for score_in
    than score_out (the Mann-Whitney statistic; ties count half)."""
    both = np.concatenate([score_in, score_out])
    order = np.argsort(both, kind="mergesort")
    ranks = np.empty(len(both))
    sorted_scores = both[order]
    # average ranks over ties
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(both)]
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    n1, n2 = len(score_in), len(score_out)
    return float((ranks[:n1].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n2))


def _auc_row(score_in, score_out):
    """(auc, 0.5, z) with the standard error of the AUC under no signal."""
    n1, n2 = len(score_in), len(score_out)
    a = auc(score_in, score_out)
    se = math.sqrt((n1 + n2 + 1) / (12.0 * n1 * n2))
    return a, 0.5, (a - 0.5) / se
