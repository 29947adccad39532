"""cgan.CausalWGAN: synthetic data with known treatment effects.

Following Athey, Imbens, Metzger & Munro (2021), two conditional WGAN-GPs are
fitted to a real data set: one for the covariates given the treatment, one
for the outcome given covariates and treatment.  Sampling draws a treatment
from its empirical distribution, covariates given it, and then the outcome
under every arm from the same covariates, so each synthetic unit carries all
of its potential outcomes and the synthetic population's effects are known.
The columns are encoded by cgan._tabular, each WGAN is trained by core.py,
and state.py describes what a fitted model saves."""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _cgan, _memory, _persist, _plots
from .._base import BaseEstimator, writes
from .._fidelity import compare_table, strong_pairs
from .._persist import register_estimator
from .._progress import Progress
from .._tabular import (
    Column,
    blocks,
    bound_indicators,
    check_bounds_map,
    check_complete,
    check_frame,
    check_known,
    check_role,
    column_list,
    decode_rows,
    encode_frame,
    hashable,
    levels_of,
    looks_categorical,
)
from .._threads import Stop, effective_jobs, map_threads
from .._validation import LIMITS, check_int, check_random_state, require_pandas, treatment_code
from . import core as _core
from . import state as _state
from .core import draw, seeds

if TYPE_CHECKING:
    import matplotlib.figure
    import pandas

_persist.register_core("wgan_core", _cgan.Wgan)

_MODELS = ("covariates", "outcome")
# ate and att draw their Monte Carlo units this many at a time
_MC_ROWS = 16384


def potential_label(classes, level):
    """The column name sample gives the potential outcome under level."""
    if len(classes) == 2 and set(np.asarray(classes).tolist()) <= {0, 1, False, True}:
        return f"y{int(level)}"
    return f"y_{level}"


@register_estimator
class CausalWGAN(BaseEstimator):
    """Synthetic data with known effects from conditional WGAN-GPs.

    Two conditional WGAN-GPs are fitted to a data set (Athey, Imbens,
    Metzger & Munro, 2021): one draws the covariates given the treatment,
    the other the outcome given covariates and treatment.  Each synthetic
    unit gets its outcome under every arm, so the synthetic population's
    effects are known; :func:`cgan.evaluate` ranks estimators on it.
    Needs pandas.

    Parameters
    ----------
    hidden_size : int, default=128
        Width of each hidden layer of the generators and critics.
    n_hidden : int, default=3
        Hidden layers per network.
    batch_size : int, default=32
        Rows per minibatch; must not exceed the rows of the data.
    n_iter : int, default=10000
        Generator steps for each of the two WGANs.
    critic_steps : int, default=15
        Critic steps per generator step.
    gp_lambda : float, default=5.0
        Weight of the gradient penalty ``lambda * (|grad| - 1)**2``, whose
        parameter gradient is computed exactly (double backprop).
    one_sided : bool or dict, default=True
        Penalise only gradient norms above 1 (True), or every departure
        from 1 (False, the two-sided penalty).  A dict sets the side per
        model, ``{"covariates": False, "outcome": True}``; a model it does
        not name is one-sided.  The two-sided penalty can trap a model
        that generates one column (the outcome) at a bound.
    critic_dropout : float, default=0.0
        Dropout rate of the critics' hidden layers, in [0, 0.99].
    learning_rate : float, default=2e-4
        Adam step size of every network.
    betas : tuple, default=(0.9, 0.999)
        Adam's (beta1, beta2).
    noise_dim : int or None, default=None
        Generator noise; None uses the width of what is generated.
    derive_indicators : bool, default=True
        Set a two-level covariate that marks exactly the rows where a
        continuous covariate sits on one of its ``bounds`` (LaLonde's u74
        is 1 exactly when re74 is 0, given ``bounds={"re74": (0, None)}``)
        from the synthetic value of that covariate, so that the two always
        agree, as they do in the real data.  The match is exact equality
        on every row of the data; ``derived_`` lists the columns found
        (check it for a coincidental match in small data).
    mass_at_bounds : bool, default=False
        Model the rows that sit exactly on a bound of a continuous column
        (earnings of 0) as a point mass, when at least two rows do: the
        generator draws "at the bound or above it" from a softmax, as for
        a categorical column, alongside the value, and a draw at the bound
        is set to it exactly.  Otherwise the point mass comes only from
        values the generator pushes past the bound, which are clamped.
    random_state : int, numpy Generator or None, default=None
        Seeds the fit and the default stream of :meth:`sample`; the same
        value gives the same fit.
    n_jobs : int or None, default=None
        Threads: the two WGANs train in parallel with n_jobs >= 2.
    verbose : bool, default=False
        Show training progress (tqdm when installed).

    Attributes
    ----------
    treatment_ : column label
        The treatment column given to :meth:`fit`.
    outcome_ : column label
        The outcome column.
    covariates_ : list of column labels
        The covariate columns, in the order generated.
    classes_ : ndarray
        The treatment levels, sorted.
    history_ : dict of dict of ndarray
        ``history_['covariates']`` and ``history_['outcome']`` hold each
        WGAN's per-generator-step 'critic_loss', 'generator_loss' and
        'penalty', each of shape (n_iter,).
    derived_ : dict
        Each derived indicator column (see ``derive_indicators``) mapped
        to the column it is derived from; empty when there are none.

    See Also
    --------
    cgan.evaluate : Monte Carlo ranking of estimators on synthetic copies.
    cgan.datasets.load_lalonde : the data set of the reference study.

    Examples
    --------
    >>> import cgan
    >>> from cgan.datasets import load_lalonde
    >>> wgan = cgan.CausalWGAN(n_iter=20, critic_steps=2, random_state=0)
    >>> wgan = wgan.fit(load_lalonde(), treatment="t", outcome="re78", bounds={"re78": (0, None)})
    >>> synthetic = wgan.sample(1000, random_state=1)
    >>> synthetic.shape
    (1000, 14)
    >>> list(synthetic.columns[-2:])
    ['y0', 'y1']
    """
    def __init__(self, *, hidden_size: int = 128, n_hidden: int = 3, batch_size: int = 32, n_iter: int = 10000,
                 critic_steps: int = 15, gp_lambda: float = 5.0, one_sided: bool | dict[str, bool] = True,
                 critic_dropout: float = 0.0, learning_rate: float = 2e-4, betas: tuple[float, float] = (0.9, 0.999),
                 noise_dim: int | None = None, derive_indicators: bool = True, mass_at_bounds: bool = False,
                 random_state: int | np.random.Generator | None = None, n_jobs: int | None = None, verbose: bool = False) -> None:
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
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
    # ------------------------------------------------------------------ fit
    @writes
    def fit(self, df: pandas.DataFrame, *, treatment: Any, outcome: Any, covariates: Sequence[Any] | None = None,
            categorical: Collection[Any] | None = None, bounds: Mapping[Any, Any] | None = None,
            log: Sequence[Any] | None = None) -> CausalWGAN:
        """Fit the covariate and outcome generators to ``df``.

        Categorical columns are one-hot coded (the generator draws a level);
        continuous ones are standardised, and a bounded column is clamped
        to its bounds so that it keeps its point masses (earnings at 0).

        Parameters
        ----------
        df : pandas.DataFrame
            The data, one row per unit, without missing values.
        treatment : column label
            The treatment column; at least two levels.
        outcome : column label
            The outcome column.
        covariates : list of column labels, optional
            The covariates; None uses every column but the treatment and
            the outcome.
        categorical : collection of column labels, optional
            Columns to treat as categorical; None treats non-numeric
            columns and numeric columns with at most two distinct values
            as categorical.
        bounds : dict, optional
            Maps a continuous column to (lower, upper), either of which may
            be None, e.g. ``{"re78": (0, None)}``.  Generated values are
            kept within them.
        log : list of column labels, optional
            Continuous columns with a lower bound to model on a log scale,
            as log1p((x - lower) / s) with s the median distance of the
            rows above the bound, e.g. ``log=["re78"]`` for earnings.  A
            long right tail is then far less extreme in the units the
            networks see; samples are mapped back, so the bounds and the
            point mass at the lower bound are kept.

        Returns
        -------
        self : CausalWGAN
            The fitted synthesizer.

        Raises
        ------
        TypeError
            If df is not a DataFrame, the outcome is not numeric or bool,
            or a parameter has the wrong type.
        ValueError
            If a named column is missing, the treatment and outcome
            coincide, a column has missing values, the treatment or a
            categorical column has a single level, a bound is not finite,
            reversed, given for the treatment, a categorical or an unused
            column, or violated by the data, a potential-outcome name
            (``y0``, ``y1``, ``y_<label>``) is already a column's,
            ``log`` names a categorical column, the treatment or a
            column without a lower bound, ``batch_size`` exceeds the rows,
            or a parameter is out of range.
        ImportError
            If pandas is not installed.
        """
        check_frame(df)
        for role, col in (("treatment", treatment), ("outcome", outcome)):
            check_role(df, role, col)
        if treatment == outcome:
            raise ValueError("treatment and outcome must be different columns")
        if covariates is None:
            covariates = [c for c in df.columns if c not in (treatment, outcome)]
        covariates = column_list(df, covariates, "covariates")
        for c in covariates:
            if c in (treatment, outcome):
                raise ValueError(f"covariates include {c!r}, which is the treatment or the outcome")
        if not covariates:
            raise ValueError("there are no covariates")
        bounds = check_bounds_map(df, bounds)
        log = set() if log is None else set(column_list(df, log, "log"))
        for c in log:
            if c not in covariates and c != outcome:
                raise ValueError(f"log names {c!r}, which is neither a covariate nor the outcome")
        check_complete(df, [treatment, outcome] + covariates)
        if categorical is None:
            cat = {c for c in [outcome] + covariates if looks_categorical(df[c])}
        else:
            cat = set(column_list(df, categorical, "categorical"))
        for c in bounds:
            if c == treatment or (c not in covariates and c != outcome):
                raise ValueError(f"bounds name {c!r}, which is neither a covariate nor the outcome")
        if df[outcome].to_numpy().dtype.kind not in "biuf":
            raise TypeError(f"outcome {outcome!r} must be numeric or bool (effects are differences of outcomes), "
                            f"got dtype {df[outcome].dtype}")
        t_values = df[treatment].to_numpy()
        classes = levels_of(treatment, t_values)
        if len(classes) < 2:
            raise ValueError(f"treatment {treatment!r} has a single level ({classes[0]!r})")
        fitted = [treatment, outcome] + covariates
        taken = [lab for lab in (potential_label(classes, level) for level in classes) if lab in fitted]
        if taken:
            raise ValueError(f"sample names the potential outcomes {taken}, which would overwrite columns of the "
                             f"same names; rename those columns")
        p = self._check_params()
        s_cov, s_out, sample_seed = seeds(check_random_state(self.random_state), 3)
        t_col = Column(treatment, t_values, True, None)
        masses = bool(self.mass_at_bounds)
        cov_cols = [Column(c, df[c].to_numpy(), c in cat, bounds.get(c), masses, c in log) for c in covariates]
        out_col = Column(outcome, df[outcome].to_numpy(), outcome in cat, bounds.get(outcome), masses, outcome in log)
        n = len(df)
        if p["batch_size"] > n:
            raise ValueError(f"batch_size={p['batch_size']} is larger than the {n} rows of df")
        T1 = t_col.encode(t_values)
        derived = bound_indicators(cov_cols, df) if self.derive_indicators else []
        Xc = encode_frame(cov_cols, df)
        Yc = out_col.encode(df[outcome].to_numpy())
        specs = [
            ("covariates", cov_cols, Xc, T1, s_cov),
            ("outcome", [out_col], Yc, np.concatenate([Xc, T1], axis=1), s_out),
        ]
        _core.check_memory(p, [(name, X.shape[1], C.shape[1]) for name, _, X, C, _ in specs], n, "CausalWGAN")
        bar = Progress(2 * p["n_iter"], "CausalWGAN", bool(self.verbose))
        stop = Stop()
        try:
            results = map_threads(lambda i: _core.train(p, *specs[i], stop, bar, "CausalWGAN"), 2,
                                  effective_jobs(self.n_jobs, 2), stop)
        finally:
            bar.close()
        # published only once training has finished: an interrupted fit
        # leaves the model as it was
        self._publish({
            "_cov_gan": results[0][0], "_out_gan": results[1][0], "_sample_seed": sample_seed,
            "history_": {"covariates": results[0][1], "outcome": results[1][1]},
            "_t_col": t_col, "_cov_cols": cov_cols, "_out_col": out_col, "_derived": derived,
            "treatment_": treatment, "outcome_": outcome, "covariates_": covariates, "classes_": classes,
            "_t_freq": np.array([(t_values == c).mean() for c in classes]),
            "_columns": list(df.columns), "_n_fit": n, "_dtypes": {c: df[c].dtype for c in df.columns},
        })
        return self

    def _check_params(self):
        return _core.check_params(self, _MODELS)

    # --------------------------------------------------------------- sample
    def _potential_label(self, level):
        return potential_label(self.classes_, level)

    def sample(self, n: int, random_state: int | np.random.Generator | None = None) -> pandas.DataFrame:
        """Draw a synthetic data set of n units with all their potential outcomes.

        A treatment is drawn from its empirical frequencies, covariates
        given it, then the outcome under every arm from those covariates;
        the outcome column holds the one under the drawn treatment.

        Parameters
        ----------
        n : int
            Rows to draw (at least 1).
        random_state : int, numpy Generator or None, default=None
            Seeds the draw.  None continues the model's own stream, so
            successive calls give fresh data sets.

        Returns
        -------
        pandas.DataFrame
            The fitted columns (treatment, covariates and outcome, in the
            order of the data given to fit, with their names and dtypes;
            columns fit did not model are left out) plus the potential
            outcome under every arm: ``y0`` and ``y1`` for a 0/1
            treatment, ``y_<label>`` otherwise.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If n is not an integer or random_state has the wrong type.
        ValueError
            If n is below 1 or random_state is a negative integer.
        """
        # without a seed the call continues the model's stream: it writes
        with self._holding(write=random_state is None):
            self._check_is_fitted()
            n = check_int(n, "n", 1, LIMITS["n_rows"])
            _memory.check(self._sample_bytes(n), f"CausalWGAN.sample with n={n}",
                          "lower n, or draw several smaller data sets")
            seed = self._next_seed() if random_state is None else check_random_state(random_state)
            return self._draw(n, seed)

    def _next_seed(self):
        """The seed of the next draw from the model's own stream, which
        moves on, so that successive calls without a seed differ (the
        caller holds the write lock)."""
        seed = self._sample_seed
        self._sample_seed = seeds(seed, 4)[3]
        return seed

    def _sample_bytes(self, n):
        """About what a draw of n units allocates: the encoded covariates and
        each arm's context and outcomes (float32), the decoded columns, the
        potential outcomes and the frame (float64), with copies."""
        K = len(self.classes_)
        x_dim = sum(c.width for c in self._cov_cols)
        columns = len(self._columns) + K
        return n * (4 * (2 * x_dim + 2 * K + self._out_col.width) + 8 * (2 * columns + K + 2)) * 2

    def _draw(self, n, seed):
        """The synthetic data set of n units drawn from the stream `seed`."""
        pd = require_pandas("CausalWGAN")
        s_t, s_cov, s_out = seeds(seed, 3)
        rng = np.random.default_rng(s_t)
        K = len(self.classes_)
        codes = rng.choice(K, size=n, p=self._t_freq)
        T1 = np.eye(K, dtype=np.float32)[codes]
        Xc = self._covariate_sample(n, T1, s_cov)
        # the outcome under every arm, one stream through the arms in turn
        eye = np.eye(K, dtype=np.float32)
        ctx = np.concatenate([np.concatenate([Xc, np.repeat(eye[k:k + 1], n, axis=0)], axis=1) for k in range(K)])
        rows = draw(self._out_gan, K * n, ctx, s_out)
        potentials = {level: self._out_col.decode(rows[k * n:(k + 1) * n]) for k, level in enumerate(self.classes_)}
        data = decode_rows(self._cov_cols, Xc)
        data[self.treatment_] = self.classes_[codes]
        y = np.empty(n, dtype=potentials[self.classes_[0]].dtype)
        for k, level in enumerate(self.classes_):
            y[codes == k] = potentials[level][codes == k]
        data[self.outcome_] = y
        frame = pd.DataFrame({c: data[c] for c in self._columns if c in data})
        for c in frame.columns:
            try:
                frame[c] = frame[c].astype(self._dtypes[c])
            except (TypeError, ValueError):
                pass
        for level in self.classes_:
            frame[self._potential_label(level)] = potentials[level]
        return frame

    @property
    def derived_(self) -> dict[Any, Any]:
        """Each derived indicator column mapped to its source column."""
        if not self._is_fitted():
            raise AttributeError("this CausalWGAN is not fitted yet; call fit first")
        cols = self._cov_cols
        return {cols[i].name: cols[j].name for i, j, _, _ in getattr(self, "_derived", [])}

    def _covariate_sample(self, n, T1, seed):
        """n rows of encoded covariates drawn given the one-hot treatments
        T1 by the covariate model, with each derived indicator set from its
        source column and that column's rows at the bound set exactly on it
        (as the outcome model saw such rows in fit), and point masses
        snapped likewise."""
        X = draw(self._cov_gan, n, T1, seed)
        parts = [block for _, block in blocks(self._cov_cols, X)]
        for c, block in zip(self._cov_cols, parts):
            c.snap(block)
        for i, j, bound, code in getattr(self, "_derived", []):
            source = self._cov_cols[j]
            at = source.decode(parts[j]) == bound
            # decoding rounds and snaps values next to the bound onto it: the
            # outcome model gets them exactly there, as in the training rows
            parts[j][at, 0] = np.float32(source.standardise(bound))
            parts[i][:] = np.eye(2, dtype=np.float32)[np.where(at, code, 1 - code)]
        return X

    def _arms(self, T0, T1):
        """The fitted labels of T0 and T1 (defaults: the first two levels)."""
        self._check_is_fitted()
        t0 = self.classes_[0] if T0 is None else self.classes_[treatment_code(T0, self.classes_, "T0")]
        if T1 is None:
            if len(self.classes_) > 2:
                raise ValueError("T1 is required when there are more than two treatments")
            t1 = self.classes_[1]
        else:
            t1 = self.classes_[treatment_code(T1, self.classes_, "T1")]
        return t0, t1

    def _effects(self, n, random_state, treated_only, T0, T1):
        """The mean potential-outcome difference over n drawn units (those
        that received T1 when treated_only), drawn _MC_ROWS at a time: the
        first piece from the seed itself, so up to _MC_ROWS units give the
        draw sample(n, random_state) gives."""
        n = check_int(n, "n", 1, LIMITS["n_rows"])
        with self._holding(write=random_state is None):
            t0, t1 = self._arms(T0, T1)
            y0, y1, treatment = self._potential_label(t0), self._potential_label(t1), self.treatment_
            seed = self._next_seed() if random_state is None else check_random_state(random_state)
            total, count = 0.0, 0
            for i, start in enumerate(range(0, n, _MC_ROWS)):
                piece = seed if i == 0 else int(np.random.SeedSequence([seed, i]).generate_state(1, np.uint64)[0])
                df = self._draw(min(_MC_ROWS, n - start), piece)
                diff = df[y1].to_numpy(float) - df[y0].to_numpy(float)
                if treated_only:
                    diff = diff[df[treatment].to_numpy() == t1]
                total += float(diff.sum())
                count += diff.size
        if count == 0:
            raise ValueError(f"none of the n={n} synthetic units received T1={t1!r}, so they have no ATT; raise n")
        return total / count

    def ate(self, T0: Any = None, T1: Any = None, n: int = 200_000, random_state: int | np.random.Generator | None = 0) -> float:
        """The synthetic population's average effect of T1 against T0.

        Computed as the mean potential-outcome difference over a Monte Carlo
        draw of n units.

        Parameters
        ----------
        T0, T1 : treatment label, optional
            T0 defaults to the first level of ``classes_``, T1 to the second
            (required with more than two levels).
        n : int, default=200000
            Units drawn, 16,384 at a time, so any n fits in memory.
        random_state : int, numpy Generator or None, default=0
            Seeds the draw; a fixed default makes the value reproducible.

        Returns
        -------
        float
            The average effect.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If n or random_state has the wrong type.
        ValueError
            If n is below 1, T0 or T1 is not a treatment level, or T1 is
            missing with more than two levels.

        See Also
        --------
        att : the effect on the units that received T1.
        """
        return self._effects(n, random_state, False, T0, T1)

    def att(self, T0: Any = None, T1: Any = None, n: int = 200_000, random_state: int | np.random.Generator | None = 0) -> float:
        """The synthetic population's average effect on the units that received T1.

        Parameters
        ----------
        T0, T1 : treatment label, optional
            As in :meth:`ate`.
        n : int, default=200000
            Units drawn (16,384 at a time); the average is over those of
            them that received T1.
        random_state : int, numpy Generator or None, default=0
            Seeds the draw.

        Returns
        -------
        float
            The average effect on the treated.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If n or random_state has the wrong type.
        ValueError
            If n is below 1, T0 or T1 is not a treatment level, or T1 is
            missing with more than two levels.
        """
        return self._effects(n, random_state, True, T0, T1)

    # -------------------------------------------------------------- compare
    def _check_real(self, df, names=None):
        """The column encoders of the fitted columns (those in `names` when
        given), after checking that df holds them with values they encode."""
        self._check_is_fitted()
        check_frame(df)
        cols = [c for c in [self._t_col] + self._cov_cols + [self._out_col] if names is None or c.name in names]
        check_known(df, cols)
        return cols

    def compare(self, df: pandas.DataFrame, n: int | None = None, random_state: int | np.random.Generator | None = 0) -> pandas.DataFrame:
        """Real and synthetic data side by side, one row per column.

        Per column: mean, sd, quantiles, Wasserstein-1 distance (continuous,
        in units of the real sd) or total variation distance (categorical),
        and the share at each bound.

        Parameters
        ----------
        df : pandas.DataFrame
            The real data, with the columns seen in :meth:`fit`.
        n : int or None, default=None
            Synthetic rows to draw (at least 10,000 are drawn); None uses
            the rows of df.
        random_state : int, numpy Generator or None, default=0
            Seeds the synthetic draw.

        Returns
        -------
        pandas.DataFrame
            Indexed by column.  For a categorical column ``real_mean`` and
            ``synthetic_mean`` are the shares of its last level (the 1 of a
            0/1 column), and ``distance`` is the total variation over all
            its levels; ``result.attrs['level_shares']`` maps each
            categorical column to a dict of level -> (real share,
            synthetic share).  ``result.attrs['max_corr_diff']`` holds
            the largest absolute difference between the real and synthetic
            correlation matrices (a two-level column enters as 0/1, one
            with more levels by its level's rank).
            ``result.attrs['exact_copies']`` is the share of synthetic rows
            identical to a row of df on the fitted columns; rows of coarse
            data coincide by chance too, so :func:`cgan.privacy_report`
            sets it beside what fresh real rows give.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        ValueError
            If n is below 1, or df lacks one of the fitted columns.

        See Also
        --------
        plot_compare : the same as histograms.
        """
        with self._holding(write=random_state is None):
            cols = self._check_real(df)
            n = len(df) if n is None else check_int(n, "n", 1, LIMITS["n_rows"])
            syn = self.sample(max(n, 10_000), random_state=random_state)
        return compare_table(df, syn, cols)

    def plot_compare(self, df: pandas.DataFrame, columns: Sequence[Any] | None = None,
                     random_state: int | np.random.Generator | None = 0,
                     pairs: Sequence[tuple[Any, Any]] | None = None) -> matplotlib.figure.Figure:
        """Real and synthetic marginals and pairwise scatters (needs matplotlib).

        Parameters
        ----------
        df : pandas.DataFrame
            The real data.
        columns : list of column labels, optional
            Columns to plot; None plots the treatment, the covariates and
            the outcome.
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
            fitted = [self.treatment_] + list(self.covariates_) + [self.outcome_]
            if columns is None:
                cols = fitted
            else:
                if isinstance(columns, (str, bytes, Mapping)) or not np.iterable(columns):
                    raise TypeError(f"columns must be a list of column names, got {type(columns).__name__}")
                cols = list(columns)
                unknown = [c for c in cols if not hashable(c) or c not in fitted]
                if unknown or not cols:
                    raise ValueError(f"columns must name some of the fitted columns {fitted}; got {cols}")
            continuous = [c.name for c in self._cov_cols + [self._out_col] if not c.categorical]
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

    # ------------------------------------------------------- persistence
    _persistence = _state
