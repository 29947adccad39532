"""What cgan's WGAN synthesizers share: their sampling stream, the checks
of real data, compare's table with covariate balance, plot_compare, and
the interface through which cgan.evaluate draws Monte Carlo data sets."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .. import _plots
from .._base import BaseEstimator
from .._fidelity import balance, compare_table, strong_pairs
from .._tabular import check_frame, check_known, hashable
from .._validation import LIMITS, check_int, check_random_state
from .chain import next_seed

if TYPE_CHECKING:
    import matplotlib.figure
    import pandas


# compare draws at least this many synthetic rows: the synthetic means of
# heavy-tailed columns (earnings) are Monte Carlo estimates, within about
# 1% of the model's own at this size (2.5% at 10,000 rows)
COMPARE_ROWS = 50_000


class Experiment(NamedTuple):
    """How cgan.evaluate draws from a synthesizer: `rows` per data set by
    default, `nbytes(rows)` for one draw, and `roles`, the picklable
    description that _experiment_data(roles, rows, seed) turns into
    (X, T, Y, true effect) of one data set, wherever it runs."""
    rows: int
    nbytes: Callable[[int], float]
    roles: tuple


class Synthesizer(BaseEstimator):
    """Base of the WGAN synthesizers (see the module docstring): their
    parameters, which each documents, are stored here."""

    def __init__(self, *, hidden_size: int = 128, n_hidden: int = 3, batch_size: int = 32, n_iter: int = 10000,
                 critic_steps: int = 15, gp_lambda: float = 5.0, one_sided: bool | dict[Any, bool] = True,
                 critic_dropout: float = 0.0, learning_rate: float = 2e-4, betas: tuple[float, float] = (0.9, 0.999),
                 noise_dim: int | None = None, derive_indicators: bool = True, mass_at_bounds: bool = False,
                 range_margin: float | None = 0.0, random_state: int | np.random.Generator | None = None,
                 n_jobs: int | None = None, verbose: bool = False) -> None:
        self.hidden_size = hidden_size
        self.n_hidden = n_hidden
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.critic_steps = critic_steps
        self.gp_lambda = gp_lambda
        self.one_sided = one_sided
        self.critic_dropout = critic_dropout
        self.learning_rate = learning_rate
        self.betas = betas
        self.noise_dim = noise_dim
        self.derive_indicators = derive_indicators
        self.mass_at_bounds = mass_at_bounds
        self.range_margin = range_margin
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _seed(self, random_state):
        """The seed of a draw: random_state's, or the next of the model's
        own stream when it is None (the caller then holds the write lock)."""
        return next_seed(self) if random_state is None else check_random_state(random_state)

    def _encoders(self):
        """The fitted columns' encoders, in the order compare lists them."""
        raise NotImplementedError

    def _experiment(self, T0, T1, treatment, outcome, covariates) -> Experiment:
        """evaluate's data sets for these roles, checked (see Experiment)."""
        raise NotImplementedError

    def _experiment_data(self, roles, rows, seed):
        """(X, T, Y, the data set's own true effect) of one data set of
        `rows` units from the stream `seed`."""
        raise NotImplementedError

    def _check_real(self, df, names=None):
        """The column encoders of the fitted columns (those in `names` when
        given), after checking that df holds them with values they encode."""
        self._check_is_fitted()
        check_frame(df)
        cols = [c for c in self._encoders() if names is None or c.name in names]
        check_known(df, cols)
        return cols

    def _compare(self, df, n, random_state, treatment=None, covariates=()):
        """compare's table of all fitted columns, with the balance of
        `covariates` (encoders) between the arms of `treatment` (an encoder,
        or None for none)."""
        with self._holding(write=random_state is None):
            cols = self._check_real(df)
            n = len(df) if n is None else check_int(n, "n", 1, LIMITS["n_rows"])
            seed = self._seed(random_state)
            syn = self.sample(max(n, COMPARE_ROWS), random_state=seed)
        table = compare_table(df, syn, cols)
        if treatment is not None and covariates:
            smds, auc = balance(df, syn, treatment, covariates, seed)
            for column, values in smds.items():
                table[column] = [values.get(c, np.nan) for c in table.index]
            table.attrs["propensity_auc"] = auc
        return table

    def plot_compare(self, df: pandas.DataFrame, columns: Sequence[Any] | None = None,
                     random_state: int | np.random.Generator | None = 0,
                     pairs: Sequence[tuple[Any, Any]] | None = None) -> matplotlib.figure.Figure:
        """Real and synthetic marginals and pairwise scatters (needs matplotlib).

        Parameters
        ----------
        df : pandas.DataFrame
            The real data.
        columns : list of column labels, optional
            Columns to plot; None plots every fitted column.
        random_state : int, numpy Generator or None, default=0
            Seeds the synthetic draw (at least 10,000 rows).
        pairs : list of (column, column) pairs, optional
            Pairs of fitted continuous columns to draw as scatters of real
            and synthetic rows (as many synthetic rows as real ones).  None
            picks up to three among the continuous columns plotted: the
            pairs whose real correlation is largest in absolute value
            (a constant column pairs with none); ``[]`` draws none.

        Returns
        -------
        matplotlib.figure.Figure
            One panel per column: histograms for continuous columns, bars
            of level shares for categorical ones; then one scatter panel
            per pair.

        Raises
        ------
        ImportError
            If matplotlib is not installed.
        RuntimeError
            If the model is not fitted.
        TypeError
            If columns or pairs is not a list.
        ValueError
            If df lacks one of the columns, columns names a column fit did
            not model, or a pair is not two different fitted continuous
            columns.
        """
        _plots.pyplot("plot_compare")
        with self._holding(write=random_state is None):
            self._check_is_fitted()
            fitted = [c.name for c in self._encoders()]
            if columns is None:
                cols = fitted
            else:
                if isinstance(columns, (str, bytes, Mapping)) or not np.iterable(columns):
                    raise TypeError(f"columns must be a list of column names, got {type(columns).__name__}")
                cols = list(columns)
                unknown = [c for c in cols if not hashable(c) or c not in fitted]
                if unknown or not cols:
                    raise ValueError(f"columns must name some of the fitted columns {fitted}; got {cols}")
            continuous = [c.name for c in self._encoders() if not c.categorical]
            if pairs is not None:
                if isinstance(pairs, (str, bytes, Mapping)) or not np.iterable(pairs):
                    raise TypeError(f"pairs must be a list of (column, column) pairs, got {type(pairs).__name__}")
                pairs = list(pairs)
                for pair in pairs:
                    if isinstance(pair, (str, bytes)) or not np.iterable(pair) or len(pair) != 2:
                        raise ValueError(f"pairs must hold (column, column) pairs, got {pair!r}")
                    bad = [c for c in pair if not hashable(c) or c not in continuous]
                    if bad:
                        raise ValueError(f"pairs name {bad}, which are not fitted continuous columns {continuous}")
                    if pair[0] == pair[1]:
                        raise ValueError(f"pairs hold ({pair[0]!r}, {pair[1]!r}); a pair needs two different columns")
            self._check_real(df, list(dict.fromkeys(cols + [c for pair in pairs or () for c in pair])))
            if pairs is None:
                pairs = strong_pairs(df, [c for c in continuous if c in cols])
            syn = self.sample(max(len(df), 10_000), random_state=random_state)
        return _plots.real_against_synthetic(df, syn, cols, pairs)
