"""Plots (matplotlib, imported only when a plot is drawn): propensity
overlap by arm, and real against synthetic marginals and scatters."""
from __future__ import annotations

import numpy as np


def pyplot(what: str):
    """matplotlib.pyplot, or an ImportError naming the plot that needs it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(f"{what} needs matplotlib; install it with `pip install matplotlib`") from None
    return plt


def overlap(raw, codes, classes, ax, n_bins, thr):
    """Histograms of the propensities raw (n, K) by arm received (codes):
    one panel for two arms (P(T = classes[1] | x)), K panels otherwise.
    Returns the Axes, or an array of them."""
    plt = pyplot("plot_overlap")
    K = len(classes)
    panels = [1] if K == 2 else list(range(K))
    figure = None
    if ax is None:
        figure, grid = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5), squeeze=False)
        axes = list(grid[0])
    else:
        axes = [ax] if hasattr(ax, "hist") else list(np.ravel(np.asarray(ax, dtype=object)))
        if not all(hasattr(a, "hist") and hasattr(a, "axvline") for a in axes):
            raise TypeError(f"ax must be None, a matplotlib Axes or a sequence of Axes, got {ax!r}")
        if len(axes) != len(panels):
            raise ValueError(f"ax must be {'one Axes' if K == 2 else f'a sequence of {K} Axes'}, "
                             f"got {len(axes)}")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    for axis, k in zip(axes, panels):
        mine = codes == k
        other = f"received {classes[0]}" if K == 2 else "received another arm"
        axis.hist(raw[mine, k], bins=edges, alpha=0.5, label=f"received {classes[k]}")
        axis.hist(raw[~mine, k], bins=edges, alpha=0.5, label=other)
        for x in (thr, 1 - thr):
            axis.axvline(x, color="grey", linestyle=":", linewidth=1)
        axis.set_xlabel(f"P(T = {classes[k]} | x)")
        axis.set_ylabel("rows")
        axis.legend()
    if figure is not None:
        figure.tight_layout()
    return axes[0] if len(axes) == 1 else np.array(axes, dtype=object)


def real_against_synthetic(df, syn, cols, pairs):
    """A figure of the columns `cols` of df (real) and syn (synthetic):
    histograms of continuous columns, bars of level shares, then one
    scatter panel per pair of `pairs`."""
    plt = pyplot("plot_compare")
    k = len(cols) + len(pairs)
    ncol = min(4, k)
    nrow = (k + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.6 * nrow), squeeze=False)
    for ax, (a, b) in zip(axes.ravel()[len(cols):], pairs):
        m = len(df)
        ax.scatter(df[a].to_numpy(float), df[b].to_numpy(float), s=4, alpha=0.4, label="real")
        ax.scatter(syn[a].to_numpy(float)[:m], syn[b].to_numpy(float)[:m], s=4, alpha=0.4, label="synthetic")
        ax.set_xlabel(str(a))
        ax.set_ylabel(str(b))
    for ax, c in zip(axes.ravel(), cols):
        r, f = df[c].to_numpy(), syn[c].to_numpy()
        if r.dtype.kind in "biuf" and len(np.unique(r)) > 2:
            bins = np.histogram_bin_edges(np.concatenate([r, f]).astype(float), bins=30)
            ax.hist(r.astype(float), bins=bins, density=True, alpha=0.5, label="real")
            ax.hist(f.astype(float), bins=bins, density=True, alpha=0.5, label="synthetic")
        else:
            lv = np.unique(r)
            x = np.arange(len(lv))
            ax.bar(x - 0.2, [(r == v).mean() for v in lv], 0.4, label="real")
            ax.bar(x + 0.2, [(f == v).mean() for v in lv], 0.4, label="synthetic")
            ax.set_xticks(x, [str(v) for v in lv])
        ax.set_title(str(c))
    for ax in axes.ravel()[k:]:
        ax.set_visible(False)
    axes.ravel()[0].legend()
    fig.tight_layout()
    return fig


def dose_response(grid, curve, interval, units, ax, label, alpha):
    """The average curve over `grid`, its band `interval` (lo, hi; or None)
    and, thin, the curves of `units` (rows of an array; or None).  Returns
    the Axes."""
    plt = pyplot("plot_dose_response")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.8))
    elif not (hasattr(ax, "plot") and hasattr(ax, "fill_between")):
        raise TypeError(f"ax must be None or a matplotlib Axes, got {ax!r}")
    if units is not None:
        for i, row in enumerate(units):
            ax.plot(grid, row, color="grey", linewidth=0.6, alpha=0.5, label="units" if i == 0 else None)
    if interval is not None:
        ax.fill_between(grid, interval[0], interval[1], alpha=0.25, label=f"{100 * (1 - alpha):g}% band")
    ax.plot(grid, curve, linewidth=2, label=label)
    ax.set_xlabel("dose")
    ax.set_ylabel("outcome")
    ax.legend()
    return ax
