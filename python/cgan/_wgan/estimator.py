"""cgan.CausalWGAN: synthetic data with known treatment effects.

After Athey, Imbens, Metzger & Munro (2021), conditional models are fitted
to a real data set along its causal order: a WGAN-GP for the covariates, a
classifier for the treatment given them (its propensity), and a WGAN-GP for
the outcome given covariates and treatment.  Sampling draws covariates,
then a treatment, then the outcome under every arm from the same
covariates and the same noise, so each synthetic unit carries all of its
potential outcomes and the synthetic population's effects are known.  The
columns are encoded by cgan._tabular, the models are fitted and drawn by
chain.py, and state.py describes what a fitted model saves.  Models saved
before the covariates came first (the covariates given the treatment, the
treatment from its frequencies) still load and sample as they were fitted."""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _cgan, _dp, _memory, _persist
from .._base import writes
from .._persist import register_estimator
from .._tabular import (
    bound_indicators,
    check_bounds_map,
    check_complete,
    check_frame,
    check_log,
    check_margin,
    check_role,
    column_list,
    encode_frame,
    levels_of,
    make_columns,
    to_frame,
)
from .._progress import Progress
from .._threads import Stop, effective_jobs, map_threads
from .._validation import LIMITS, check_float, check_int, check_random_state, treatment_code
from . import core as _core
from . import state as _state
from .chain import Chain, Classifier, fit_steps, monte_carlo
from .core import seeds
from .synthesizer import Experiment, Synthesizer

if TYPE_CHECKING:
    import pandas

_persist.register_core("wgan_core", _cgan.Wgan)

_MODELS = ("covariates", "outcome")


def potential_label(classes, level):
    """The column name sample gives the potential outcome under level."""
    if len(classes) == 2 and set(np.asarray(classes).tolist()) <= {0, 1, False, True}:
        return f"y{int(level)}"
    return f"y_{level}"


@register_estimator
class CausalWGAN(Synthesizer):
    """Synthetic data with known effects from conditional WGAN-GPs.

    Conditional models are fitted to a data set along its causal order
    (after Athey, Imbens, Metzger & Munro, 2021): a WGAN-GP draws the
    covariates, a classifier the treatment given them, and a second
    WGAN-GP the outcome given covariates and treatment.  Each synthetic
    unit gets its outcome under every arm, so the synthetic population's
    effects are known; :func:`cgan.evaluate` ranks estimators on it.  It
    is :class:`CausalGraphWGAN` on the graph in which every covariate
    causes the treatment and the outcome.  Needs pandas.

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
        that generates one column (the outcome) at a bound.  The
        treatment's classifier has no penalty.
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
        For the covariates; the outcome's point masses are always drawn by
        a classifier.
    range_margin : float or None, default=0.0
        Keep the outcome's synthetic values within the range observed in
        :meth:`fit`, widened on each side by this share of the range (0.1:
        a tenth of it); a side with a bound in ``bounds`` is kept at the
        bound instead.  None keeps them within ``bounds`` only.  The
        continuous covariates follow the data's law, within its range,
        either way.
    random_state : int, numpy Generator or None, default=None
        Seeds the fit and the default stream of :meth:`sample`; the same
        value gives the same fit.
    n_jobs : int or None, default=None
        Threads: the models train in parallel with n_jobs >= 2.
    verbose : bool, default=False
        Show training progress (tqdm when installed).
    epsilon : float or None, default=None
        Train with differential privacy: the fitted model is
        (epsilon, delta)-differentially private with respect to adding or
        removing one row of the data given to :meth:`fit` (see
        docs/guide/privacy.md for what this covers).  Every WGAN step that
        reads real rows runs DP-SGD (Poisson sampling at rate
        batch_size / n, each row's clipped contribution, Gaussian noise),
        with the one noise multiplier that makes all the planned steps
        spend exactly this budget by the Renyi-DP accountant of
        dp-accounting (``pip install cgan[privacy]``).  The fit then uses
        no fact of the data but the rows' clipped gradients: every
        continuous column needs finite bounds in ``bounds``, every
        categorical column (the treatment included) its levels in
        ``levels``, and ``log`` must be None; the treatment is drawn
        jointly with the covariates by one WGAN, the outcome by a WGAN
        given both.  None trains without privacy.
    delta : float or None, default=None
        The delta of the budget; must be below 1/n.  None uses 1/(10 n).
    max_grad_norm : float, default=1.0
        The norm each row's gradient is clipped to in private training.

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
    history_ : dict of dict
        ``history_['covariates']`` and ``history_['outcome']`` hold each
        WGAN's per-generator-step 'critic_loss', 'generator_loss' and
        'penalty', each of shape (n_iter,); ``history_['treatment']``
        holds ``{'log_loss': {model: held-out log-loss}}`` of the
        treatment's candidate classifiers.
    derived_ : dict
        Each derived indicator column (see ``derive_indicators``) mapped
        to the column it is derived from; empty when there are none.
    privacy_spent_ : dict or None
        After a private fit: ``epsilon`` and ``delta`` spent (the
        accountant's epsilon for the calibrated noise, at most the one
        requested), ``noise_multiplier``, ``max_grad_norm``,
        ``sample_rate``, ``accountant``, and ``split``: each private part
        of the fit with its steps and the epsilon it would spend alone
        (the parts compose to the total; the column facts are declared and
        spend nothing).  None after a fit without privacy.

    See Also
    --------
    cgan.evaluate : Monte Carlo ranking of estimators on synthetic copies.
    CausalGraphWGAN : the same for any causal graph over the columns.
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
                 critic_steps: int = 15, gp_lambda: float = 5.0, one_sided: bool | dict[Any, bool] = True,
                 critic_dropout: float = 0.0, learning_rate: float = 2e-4, betas: tuple[float, float] = (0.9, 0.999),
                 noise_dim: int | None = None, derive_indicators: bool = True, mass_at_bounds: bool = False,
                 range_margin: float | None = 0.0, random_state: int | np.random.Generator | None = None,
                 n_jobs: int | None = None, verbose: bool = False, epsilon: float | None = None,
                 delta: float | None = None, max_grad_norm: float = 1.0) -> None:
        super().__init__(hidden_size=hidden_size, n_hidden=n_hidden, batch_size=batch_size, n_iter=n_iter,
                         critic_steps=critic_steps, gp_lambda=gp_lambda, one_sided=one_sided,
                         critic_dropout=critic_dropout, learning_rate=learning_rate, betas=betas, noise_dim=noise_dim,
                         derive_indicators=derive_indicators, mass_at_bounds=mass_at_bounds,
                         range_margin=range_margin, random_state=random_state, n_jobs=n_jobs, verbose=verbose)
        self.epsilon = epsilon
        self.delta = delta
        self.max_grad_norm = max_grad_norm

    # ------------------------------------------------------------------ fit
    @writes
    def fit(self, df: pandas.DataFrame, *, treatment: Any, outcome: Any, covariates: Sequence[Any] | None = None,
            categorical: Collection[Any] | None = None, bounds: Mapping[Any, Any] | None = None,
            log: str | Sequence[Any] | None = "auto", levels: Mapping[Any, Sequence[Any]] | None = None) -> CausalWGAN:
        """Fit the covariate, treatment and outcome models to ``df``.

        Categorical columns are one-hot coded (the generator draws a level);
        continuous ones are standardised, and clamped to their bounds, so
        that a bounded column keeps its point masses (earnings at 0), and
        to the range observed here (see ``range_margin``).

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
        log : 'auto', list of column labels or None, default='auto'
            Continuous columns with a lower bound to model on a log scale,
            as log1p((x - lower) / s) with s the median distance of the
            rows above the bound, e.g. ``log=["re78"]`` for earnings.  A
            long right tail is then far less extreme in the units the
            networks see; samples are mapped back, so the bounds and the
            point mass at the lower bound are kept.  'auto' takes the
            columns with a lower bound whose values above it span more
            than an order of magnitude (their 99th percentile is more than
            25 times their median distance from the bound); None takes
            none.  Must be None in private training (``epsilon``).
        levels : dict, optional
            Maps a categorical column to its levels, e.g. ``{"t": [0, 1]}``:
            the declared levels that private training (``epsilon``) needs
            for the treatment and every categorical column; the columns it
            names are the categorical ones then.  Ignored without
            ``epsilon``.

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
            or a parameter is out of range; in private training
            (``epsilon``), also when a column fact the fit needs is not
            declared (the message names each: bounds of a continuous
            column, levels of a categorical one, ``log``), or a column
            holds a level not declared.
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
        log = check_log(df, log)
        for c in [] if log == "auto" else log:
            if c not in covariates and c != outcome:
                raise ValueError(f"log names {c!r}, which is neither a covariate nor the outcome")
        check_complete(df, [treatment, outcome] + covariates)
        if categorical is not None:
            column_list(df, categorical, "categorical")
        self._check_params()
        if self.epsilon is not None:
            return self._fit_private(df, treatment, outcome, covariates, categorical, bounds, log, levels)
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
        margin = check_margin(self.range_margin)
        s_cov, s_t, s_out, sample_seed = seeds(check_random_state(self.random_state), 4)
        # point-mass indicators belong to the covariates' joint model; the
        # outcome model draws its own (LinearWgan)
        t_col, out_col, *cov_cols = make_columns(df, [treatment, outcome] + covariates, categorical, bounds, log,
                                                 covariates if self.mass_at_bounds else [], margin,
                                                 always_categorical=[treatment])
        n = len(df)
        if p["batch_size"] > n:
            raise ValueError(f"batch_size={p['batch_size']} is larger than the {n} rows of df")
        T1 = t_col.encode(t_values)
        derived = bound_indicators(cov_cols, df) if self.derive_indicators else []
        Xc = encode_frame(cov_cols, df)
        results = fit_steps(p, [
            ("covariates", "joint", cov_cols, Xc, Xc[:, :0], s_cov),
            ("treatment", "classifier", [t_col], T1, Xc, s_t),
            ("outcome", *(("classifier", [out_col], out_col.encode(df[outcome].to_numpy())) if out_col.categorical
                          else ("linear", [out_col, *cov_cols, t_col], df[outcome].to_numpy())),
             np.concatenate([Xc, T1], axis=1), s_out),
        ], self.n_jobs, "CausalWGAN", self.verbose)
        models = [model for model, _ in results]
        names = [c.name for c in cov_cols]
        Chain([(models[0], names, [], derived), (models[1], [treatment], names, []),
               (models[2], [outcome], names + [treatment], [])],
              {c.name: c for c in [t_col, out_col] + cov_cols}).calibrate(s_out)
        # published only once training has finished: an interrupted fit
        # leaves the model as it was
        self._publish({
            "_cov_gan": models[0], "_t_model": models[1], "_out_gan": models[2],
            "_sample_seed": sample_seed,
            "history_": {"covariates": results[0][1], "treatment": results[1][1], "outcome": results[2][1]},
            "_t_col": t_col, "_cov_cols": cov_cols, "_out_col": out_col, "_derived": derived,
            "treatment_": treatment, "outcome_": outcome, "covariates_": covariates, "classes_": classes,
            "_t_freq": np.array([(t_values == c).mean() for c in classes]),
            "_columns": list(df.columns), "_n_fit": n, "_dtypes": {c: df[c].dtype for c in df.columns},
            "privacy_spent_": None,
        })
        return self

    def _fit_private(self, df, treatment, outcome, covariates, categorical, bounds, log, levels):
        """fit with DP-SGD from declared column facts (see ``epsilon``)."""
        p = self._check_params()
        n = len(df)
        epsilon, delta, clip = _dp.check_budget(self.epsilon, self.delta, self.max_grad_norm, n)
        if p["batch_size"] > n:
            raise ValueError(f"batch_size={p['batch_size']} is larger than the {n} rows of df")
        names = covariates + [treatment, outcome]
        cols = _dp.declared_columns(df, names, treatment, categorical, bounds, log, levels)
        cov_cols, t_col, out_col = cols[:-2], cols[-2], cols[-1]
        classes = t_col.levels
        taken = [lab for lab in (potential_label(classes, level) for level in classes) if lab in names]
        if taken:
            raise ValueError(f"sample names the potential outcomes {taken}, which would overwrite columns of the "
                             f"same names; rename those columns")
        X = _dp.encode_declared(cov_cols + [t_col], df)
        Y = _dp.encode_declared([out_col], df)
        q = p["batch_size"] / n
        critic = p["n_iter"] * p["critic_steps"]
        # the covariate model has no context: its generator reads no real
        # row; the outcome model's generator is given real rows' contexts
        parts = {"covariates and treatment (critic steps)": critic, "outcome (critic steps)": critic,
                 "outcome (generator steps, given real rows' contexts)": p["n_iter"]}
        steps = [(q, sum(parts.values()))]
        sigma = _dp.calibrate(epsilon, delta, steps)
        _core.check_memory(p, [("covariates", X.shape[1], 0), ("outcome", Y.shape[1], X.shape[1])], n,
                           "CausalWGAN", private=True)
        s_cov, s_out, s_freq, sample_seed = seeds(check_random_state(self.random_state), 4)
        privacy = (sigma, clip, q)
        bar = Progress(2 * p["n_iter"], "CausalWGAN", bool(self.verbose))
        stop = Stop()
        specs = [("covariates", cov_cols + [t_col], X, X[:, :0], s_cov), ("outcome", [out_col], Y, X, s_out)]

        def task(i):
            name, enc, rows, ctx, seed = specs[i]
            return _core.train(p, name, enc, rows, ctx, seed, stop, bar, "CausalWGAN", privacy)

        try:
            results = map_threads(task, 2, effective_jobs(self.n_jobs, 2), stop)
        finally:
            bar.close()
        cov_gan, out_gan = (core for core, _ in results)
        # the treatment's shares as the private model draws them
        # (post-processing; used by models that draw the treatment alone)
        drawn = _core.draw(cov_gan, 20_000, None, s_freq)[:, X.shape[1] - t_col.width:]
        freq = np.bincount(np.argmax(drawn, axis=1), minlength=t_col.width) / len(drawn)
        spent = _dp.spent(sigma, steps, delta)
        self._publish({
            "_cov_gan": cov_gan, "_out_gan": out_gan, "_private": True, "_sample_seed": sample_seed,
            # the losses are computed on real rows without noise: not released
            "history_": {"covariates": {}, "treatment": {}, "outcome": {}},
            "_t_col": t_col, "_cov_cols": cov_cols, "_out_col": out_col, "_derived": [],
            "treatment_": treatment, "outcome_": outcome, "covariates_": covariates, "classes_": classes,
            "_t_freq": freq, "_columns": list(df.columns), "_n_fit": n,
            "_dtypes": {c: df[c].dtype for c in df.columns},
            "privacy_spent_": {
                "epsilon": spent, "delta": delta, "epsilon_requested": epsilon, "noise_multiplier": sigma,
                "max_grad_norm": clip, "sample_rate": q, "accountant": "Renyi DP (dp-accounting), add/remove one row",
                "split": {part: {"steps": count, "epsilon_alone": _dp.spent(sigma, [(q, count)], delta)}
                          for part, count in parts.items()} | {"column facts (declared)": {"steps": 0,
                                                                                            "epsilon_alone": 0.0}},
            },
        })
        return self

    def _check_params(self):
        p = _core.check_params(self, _MODELS)
        # the budget's arguments are checked whether or not they are used
        if self.epsilon is not None:
            check_float(self.epsilon, "epsilon", 0.0, 1e6, low_open=True)
        if self.delta is not None:
            check_float(self.delta, "delta", 0.0, 1.0, low_open=True)
            if not self.delta < 1.0:
                raise ValueError(f"delta must be < 1, got {self.delta}")
        check_float(self.max_grad_norm, "max_grad_norm", 0.0, 1e6, low_open=True)
        return p

    # --------------------------------------------------------------- sample
    def _potential_label(self, level):
        return potential_label(self.classes_, level)

    def sample(self, n: int, random_state: int | np.random.Generator | None = None) -> pandas.DataFrame:
        """Draw a synthetic data set of n units with all their potential outcomes.

        Covariates are drawn, a treatment given them, then the outcome
        under every arm from those covariates with the same noise (so the
        arms differ by the effect of the treatment alone); the outcome
        column holds the one under the drawn treatment.

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
            return self._draw(n, self._seed(random_state))

    def _chain(self):
        """The fitted models as a chain: covariates, treatment given them,
        outcome given both; or, for a model saved before the covariates
        came first, the treatment from its frequencies, covariates given
        it, then the outcome."""
        cov = [c.name for c in self._cov_cols]
        t, y = self.treatment_, self.outcome_
        derived = getattr(self, "_derived", [])
        columns = {c.name: c for c in [self._t_col, self._out_col] + self._cov_cols}
        if getattr(self, "_private", False):
            # one WGAN draws the covariates and the treatment, one the outcome
            return Chain([(self._cov_gan, cov + [t], [], []), (self._out_gan, [y], cov + [t], [])], columns)
        if "_t_model" in vars(self):
            steps = [(self._cov_gan, cov, [], derived), (self._t_model, [t], cov, [])]
        else:
            frequencies = Classifier("frequencies", len(self.classes_), probs=np.asarray(self._t_freq, np.float64))
            steps = [(frequencies, [t], [], []), (self._cov_gan, cov, [t], derived)]
        return Chain(steps + [(self._out_gan, [y], cov + [t], [])], columns)

    def _sample_bytes(self, n):
        """About what a draw of n units allocates: the chain's draws of the
        units and of each arm's outcomes, the potential outcomes and the
        frame (float64, with copies)."""
        K = len(self.classes_)
        return 2 * self._chain().nbytes(n) + n * (4 * K * self._out_col.width + 8 * 2 * (len(self._columns) + K))

    def _draw(self, n, seed):
        """The synthetic data set of n units drawn from the stream `seed`:
        every arm's outcomes come from the same covariates and the same
        noise, and the outcome column holds the one of the arm drawn."""
        chain = self._chain()
        t, y = self.treatment_, self.outcome_
        # the outcome is taken from the potential outcomes below
        data = chain.draw(n, seed, do={y: lambda values: None})
        given = {c.name: data[c.name] for c in self._cov_cols}
        potentials = {}
        for k, level in enumerate(self.classes_):
            arm = np.repeat(self.classes_[k:k + 1], n)
            potentials[level] = chain.draw(n, seed, do={t: lambda values, arm=arm: arm}, given=given)[y]
        received = data[t]
        outcome = np.empty(n, dtype=potentials[self.classes_[0]].dtype)
        for level in self.classes_:
            outcome[received == level] = potentials[level][received == level]
        data[y] = outcome
        frame = to_frame(data, self._columns, self._dtypes)
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
        that received T1 when treated_only), drawn 16,384 at a time: the
        first piece from the seed itself, so up to 16,384 units give the
        draw sample(n, random_state) gives."""
        n = check_int(n, "n", 1, LIMITS["n_rows"])
        with self._holding(write=random_state is None):
            t0, t1 = self._arms(T0, T1)
            y0, y1, treatment = self._potential_label(t0), self._potential_label(t1), self.treatment_

            def piece(rows, seed):
                df = self._draw(rows, seed)
                diff = df[y1].to_numpy(float) - df[y0].to_numpy(float)
                if treated_only:
                    diff = diff[df[treatment].to_numpy() == t1]
                return float(diff.sum()), diff.size

            total, count = monte_carlo(n, self._seed(random_state), piece)
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
    def _encoders(self):
        return [self._t_col] + self._cov_cols + [self._out_col]

    def compare(self, df: pandas.DataFrame, n: int | None = None, random_state: int | np.random.Generator | None = 0) -> pandas.DataFrame:
        """Real and synthetic data side by side, one row per column.

        Per column: mean, sd, quantiles, Wasserstein-1 distance (continuous,
        in units of the real sd) or total variation distance (categorical),
        and the share at each bound; per covariate, its balance between the
        arms in each.

        Parameters
        ----------
        df : pandas.DataFrame
            The real data, with the columns seen in :meth:`fit`.
        n : int or None, default=None
            Synthetic rows to draw (at least 50,000 are drawn); None uses
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
            sets it beside what fresh real rows give.  Balance:
            ``real_smd`` and ``synthetic_smd`` hold each covariate's
            standardised mean difference between the arms (the second
            level of ``classes_`` against the first; with more arms,
            ``real_smd_<level>`` and ``synthetic_smd_<level>`` for each
            against the first; NaN for the treatment and the outcome); a
            categorical covariate enters by its last level's indicator (by
            the level whose two differences are furthest apart when it has
            more than two).  In a synthetic copy of an experiment they
            should match the real ones: a gap is confounding that the real
            data do not have.  ``result.attrs['propensity_auc']`` is
            ``{'real': auc, 'synthetic': auc}``, the area under the ROC
            curve of a cross-fitted logistic propensity model in each (0.5:
            the covariates do not separate the arms).

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
            self._check_is_fitted()
            return self._compare(df, n, random_state, self._t_col, self._cov_cols)

    def _experiment(self, T0, T1, treatment, outcome, covariates):
        """evaluate's data sets: the fitted covariates, treatment and
        outcome, and each data set's own average effect of T1 against T0."""
        for role, given, fitted in (("treatment", treatment, self.treatment_), ("outcome", outcome, self.outcome_)):
            if given is not None and given != fitted:
                raise ValueError(f"{role}={given!r} is not the CausalWGAN's {role} {fitted!r}")
        if covariates is not None:
            raise ValueError("covariates cannot be chosen for a CausalWGAN: its estimators get the fitted ones")
        t0, t1 = self._arms(T0, T1)
        return Experiment(self._n_fit, self._sample_bytes, (self._potential_label(t0), self._potential_label(t1)))

    def _experiment_data(self, roles, rows, seed):
        lab0, lab1 = roles
        df = self.sample(rows, random_state=seed)
        truth = float((df[lab1].to_numpy(float) - df[lab0].to_numpy(float)).mean())
        return df[list(self.covariates_)], df[self.treatment_].to_numpy(), df[self.outcome_].to_numpy(), truth

    # ------------------------------------------------------- persistence
    _persistence = _state
