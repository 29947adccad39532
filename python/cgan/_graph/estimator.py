"""cgan.CausalGraphWGAN: synthetic data along a user's causal graph, with
interventional and mediation queries.

Like CausalGAN (Kocaoglu et al., 2018) and DECAF (van Breugel et al.,
2021), a model is fitted per node of a DAG over the columns of a data set:
the nodes without parents share one joint WGAN-GP (their law as in the
data), every other continuous node gets a conditional WGAN-GP given its
parents, and every other categorical node a classifier given its parents
(chain.py says why).  Sampling runs in topological order; an intervention
replaces a node's values and its descendants are drawn from them.  All
worlds drawn with one seed share each node's noise row by row, so
differences between interventions are unit-level effects, and nested
interventions give natural direct and indirect effects.  The columns are
encoded by cgan._tabular, the models fitted and drawn by _wgan.chain, and
state.py describes what a fitted model saves."""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _memory
from .._base import writes
from .._persist import register_estimator
from .._tabular import (
    bound_indicators,
    check_bounds_map,
    check_complete,
    check_frame,
    check_log,
    check_margin,
    encode_frame,
    hashable,
    make_columns,
    to_frame,
)
from .._validation import LIMITS, check_int, check_random_state, label_repr, require_pandas
from .._wgan import core as _core
from .._wgan.chain import Chain, fit_steps, monte_carlo
from .._wgan.core import seeds
from .._wgan.synthesizer import Experiment, Synthesizer
from . import state as _state
from .dag import ancestors, descendants, parse_graph

if TYPE_CHECKING:
    import pandas


@dataclass(frozen=True)
class MediationResult:
    """The effects :meth:`CausalGraphWGAN.mediation` returns.

    A frozen record, built from its fields in this order.

    Attributes
    ----------
    total : float
        E[Y(t1, M(t1))] - E[Y(t0, M(t0))], the average effect.
    direct : float
        E[Y(t1, M(t0))] - E[Y(t0, M(t0))], the natural direct effect.
    indirect : float
        E[Y(t1, M(t1))] - E[Y(t1, M(t0))], the natural indirect effect;
        total = direct + indirect.

    Examples
    --------
    >>> from cgan import MediationResult
    >>> MediationResult(3.0, 1.0, 2.0).indirect
    2.0
    """

    total: float
    direct: float
    indirect: float


def _model_name(nodes):
    """How errors name a step's model: its node, or the roots it draws."""
    return f"root nodes {nodes}" if len(nodes) > 1 else repr(nodes[0])


@register_estimator
class CausalGraphWGAN(Synthesizer):
    """Synthetic data along a causal graph, with interventions and mediation.

    Given a DAG over the columns of a data set, a model is fitted for each
    node given its parents: the nodes without parents are drawn together
    by one WGAN-GP (their joint law, as in the data), every other
    continuous node by a conditional WGAN-GP with the exact gradient
    penalty, and every other categorical node by a classifier (logistic,
    or additive splines of continuous parents, whichever predicts held-out
    rows better).  The models train in parallel threads.  Sampling follows
    the graph's order; interventions (``do``) replace a node's values, and
    its descendants are drawn from them, so interventional, nested
    (mediation) and observational worlds of the same synthetic units can be
    drawn.  Needs pandas.

    Parameters
    ----------
    hidden_size : int, default=128
        Width of each hidden layer of the generators and critics.
    n_hidden : int, default=3
        Hidden layers per network.
    batch_size : int, default=32
        Rows per minibatch; must not exceed the rows of the data.
    n_iter : int, default=10000
        Generator steps for each WGAN.
    critic_steps : int, default=15
        Critic steps per generator step.
    gp_lambda : float, default=5.0
        Weight of the gradient penalty ``lambda * (|grad| - 1)**2``, whose
        parameter gradient is computed exactly (double backprop).
    one_sided : bool or dict, default=True
        Penalise only gradient norms above 1 (True), or every departure
        from 1 (False).  A dict keyed by node sets the side per node's
        WGAN (nodes it does not name are one-sided); the root nodes share
        one WGAN, so the dict must give them one side.
    critic_dropout : float, default=0.0
        Dropout rate of the critics' hidden layers, in [0, 0.99].
    learning_rate : float, default=2e-4
        Adam step size of every network.
    betas : tuple, default=(0.9, 0.999)
        Adam's (beta1, beta2).
    noise_dim : int or None, default=None
        Generator noise; None uses the width of what is generated.
    derive_indicators : bool, default=True
        Among the root nodes, set a two-level column that marks exactly
        the rows where a continuous root sits on one of its ``bounds``
        from the synthetic value of that column (as CausalWGAN does).
    mass_at_bounds : bool, default=False
        For the root nodes' WGAN: model the rows that sit exactly on a
        bound of a continuous column as a point mass drawn from a softmax,
        when at least two rows do; otherwise the point mass comes from
        values the generator pushes past the bound, which are clamped.  A
        continuous node with parents always draws its point masses from a
        classifier.
    range_margin : float or None, default=0.0
        Keep each continuous column's synthetic values within the range
        observed in :meth:`fit`, widened on each side by this share of the
        range; a side with a bound in ``bounds`` is kept at the bound
        instead.  None keeps them within ``bounds`` only.  Interventions
        must lie within the same limits.  The root nodes' continuous
        columns follow the data's law, within its range, either way.
    random_state : int, numpy Generator or None, default=None
        Seeds the fit and the default stream of :meth:`sample`; the same
        value gives the same fit, whatever ``n_jobs`` is.
    n_jobs : int or None, default=None
        Threads: the nodes' models train in parallel with n_jobs >= 2.
    verbose : bool, default=False
        Show training progress (tqdm when installed).

    Attributes
    ----------
    graph_ : dict
        Each column mapped to the list of its parents, in topological
        order (parents before children).
    history_ : dict
        Per node: its WGAN's per-generator-step 'critic_loss',
        'generator_loss' and 'penalty' arrays (the root nodes share one
        WGAN and its history), or ``{'log_loss': {model: held-out
        log-loss}}`` for a categorical node's classifier.

    See Also
    --------
    CausalWGAN : the graph in which every covariate causes one treatment
        and one outcome, with potential outcomes in every sample.
    cgan.evaluate : Monte Carlo ranking of estimators on synthetic copies.

    Examples
    --------
    >>> import numpy as np, pandas as pd, cgan
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=500)
    >>> t = (z + rng.normal(size=500) > 0).astype(int)
    >>> y = t + z + rng.normal(size=500)
    >>> df = pd.DataFrame({"z": z, "t": t, "y": y})
    >>> model = cgan.CausalGraphWGAN(n_iter=50, critic_steps=2, random_state=0)
    >>> model = model.fit(df, {"z": [], "t": ["z"], "y": ["z", "t"]})
    >>> model.sample(1000, do={"t": 1}, random_state=1)["t"].unique()
    array([1])
    >>> effects = model.ate("t", "y", t0=0, t1=1)
    """
    _fitted_marker = "graph_"

    # ------------------------------------------------------------------ fit
    @writes
    def fit(self, df: pandas.DataFrame, graph: Any, *, categorical: Collection[Any] | None = None,
            bounds: Mapping[Any, Any] | None = None, log: str | Sequence[Any] | None = "auto") -> CausalGraphWGAN:
        """Fit a model per node of ``graph`` to ``df``.

        Parameters
        ----------
        df : pandas.DataFrame
            The data, one row per unit, without missing values; every
            column is a node of the graph.
        graph : dict, list of pairs or networkx.DiGraph
            The causal graph over df's columns: a dict mapping each column
            to the list of its parents (``[]`` for none; a column that
            appears only as a parent has none), a list of
            ``(parent, child)`` edges, or a ``networkx.DiGraph`` (any object
            with ``nodes`` and ``edges`` of that form).  It must be acyclic.
        categorical : collection of column labels, optional
            Columns to treat as categorical; None treats non-numeric
            columns and numeric columns with at most two distinct values
            as categorical.
        bounds : dict, optional
            Maps a continuous column to (lower, upper), either of which may
            be None, e.g. ``{"earnings": (0, None)}``.  Generated values are
            kept within them, so a bound that data sit on keeps its point
            mass.
        log : 'auto', list of column labels or None, default='auto'
            Continuous columns with a lower bound to model on a log scale,
            log1p((x - lower) / s) with s the median distance of the rows
            above the bound; samples are mapped back.  'auto' takes the
            columns with a lower bound whose values above it span more than
            an order of magnitude (their 99th percentile is more than 25
            times their median distance from the bound); None takes none.

        Returns
        -------
        self : CausalGraphWGAN
            The fitted synthesizer.

        Raises
        ------
        TypeError
            If df is not a DataFrame, graph is not one of the forms above,
            or a parameter has the wrong type.
        ValueError
            If the graph has a cycle (named in the message), a self-loop or
            a repeated edge, names a column that is not in df, or leaves
            one of df's columns out; a column has missing values; a
            categorical column has a single level; a bound is not finite,
            reversed, given for a categorical column or violated by the
            data; ``log`` names a categorical column or one without a lower
            bound; ``one_sided`` gives the root nodes different sides;
            ``batch_size`` exceeds the rows; or a parameter is out of range.
        ImportError
            If pandas is not installed.
        MemoryError
            If the networks and the encoded data would not fit in memory.
        """
        check_frame(df)
        columns = list(df.columns)
        parents = parse_graph(graph, columns)
        bounds = check_bounds_map(df, bounds)
        log = check_log(df, log)
        check_complete(df, columns)
        p = _core.check_params(self, list(parents))
        margin = check_margin(self.range_margin)
        n = len(df)
        if p["batch_size"] > n:
            raise ValueError(f"batch_size={p['batch_size']} is larger than the {n} rows of df")
        roots = [c for c in parents if not parents[c]]
        # point-mass indicators belong to the roots' joint model; a node
        # with parents draws its own (LinearWgan)
        cols = dict(zip(columns, make_columns(df, columns, categorical, bounds, log,
                                              roots if self.mass_at_bounds else [], margin)))
        steps = [roots] + [[c] for c in parents if parents[c]]
        sides = p["one_sided"]
        if len({sides[c] for c in roots}) > 1:
            raise ValueError(f"one_sided gives the root nodes {roots} different sides; they share one model")
        step_seeds = seeds(check_random_state(self.random_state), len(steps) + 1)
        derived = bound_indicators([cols[c] for c in roots], df) if self.derive_indicators else []
        specs = []
        for step, s in zip(steps, step_seeds):
            out = [cols[c] for c in step]
            inputs = [cols[q] for q in parents[step[0]]] if step is not roots else []
            X = encode_frame(out, df)
            C = encode_frame(inputs, df) if inputs else X[:, :0]
            # a categorical node gets a classifier (frequencies for a lone
            # categorical root), a continuous node with parents a line and a
            # WGAN, the roots' joint law a WGAN
            if len(step) == 1 and out[0].categorical:
                kind = "classifier"
            elif inputs:
                kind, X, out = "linear", df[step[0]].to_numpy(), out + inputs
            else:
                kind = "joint"
            specs.append((_model_name(step), kind, out, X, C, s))
        p = dict(p, one_sided={_model_name(step): sides[step[0]] for step in steps})
        results = fit_steps(p, specs, self.n_jobs, "CausalGraphWGAN", self.verbose)
        models = [model for model, _ in results]
        Chain([(model, step, [] if i == 0 else parents[step[0]], derived if i == 0 else [])
               for i, (step, model) in enumerate(zip(steps, models))], cols).calibrate(step_seeds[-1])
        history = {}
        for step, (_, hist) in zip(steps, results):
            for c in step:
                history[c] = hist
        # published only once training has finished: an interrupted fit
        # leaves the model as it was
        self._publish({
            "graph_": parents, "_steps": steps, "_models": models,
            "_cols": [cols[c] for c in columns], "_derived": derived, "history_": history,
            "_sample_seed": step_seeds[-1], "_columns": columns, "_n_fit": n,
            "_dtypes": {c: df[c].dtype for c in columns},
        })
        return self

    # --------------------------------------------------------------- sample
    def _chain(self):
        columns = dict(zip(self._columns, self._cols))
        steps = []
        for i, (step, model) in enumerate(zip(self._steps, self._models)):
            inputs = [] if i == 0 else self.graph_[step[0]]
            steps.append((model, step, inputs, self._derived if i == 0 else []))
        return Chain(steps, columns)

    def _encoders(self):
        return list(self._cols)

    def _column(self, name):
        return self._cols[self._columns.index(name)]

    def _node(self, name, what):
        """name, checked to be a node of the fitted graph."""
        if not hashable(name) or name not in self.graph_:
            raise ValueError(f"{what} {name!r} is not a node of the graph; the nodes are {list(self.graph_)}")
        return name

    def _sample_bytes(self, n, worlds=1):
        """About what drawing `worlds` worlds of n units allocates, with
        the frame of one (float64 columns, with a copy)."""
        return worlds * self._chain().nbytes(n) + 16 * n * len(self._columns)

    def _values(self, name, value, n, what):
        """An intervention's values for column `name`: a constant or an
        array of n values, checked against the column and returned as n
        values of the labels or dtype it was fitted with."""
        col = self._column(name)
        try:
            v = np.asarray(value)
        except Exception:
            raise TypeError(f"{what} must be a constant or an array of n values, got {type(value).__name__}") \
                from None
        if v.ndim == 0:
            # a constant is checked once and repeated
            return np.repeat(self._values(name, v[None], 1, what), n)
        if v.ndim != 1 or len(v) != n:
            raise ValueError(f"{what} must be a constant or an array of n={n} values, got shape {v.shape}")
        pd = require_pandas("CausalGraphWGAN")
        if pd.isna(v).any():
            raise ValueError(f"{what} holds missing values")
        if col.categorical:
            index = {level: k for k, level in enumerate(col.levels.tolist())}
            items = v.tolist()
            unseen = [x for x in dict.fromkeys(items) if x not in index]
            if unseen:
                raise ValueError(f"{what} holds levels not seen in fit: {unseen[:5]}; the levels of {name!r} are "
                                 f"{[label_repr(x) for x in col.levels]}")
            return col.levels[np.array([index[x] for x in items], dtype=np.intp)]
        if v.dtype.kind not in "biuf":
            raise TypeError(f"{what} must be numbers for the continuous column {name!r}, got dtype {v.dtype}")
        x = v.astype(np.float64)
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{what} holds inf")
        outside = (x < col.low) if col.low is not None else np.zeros(n, bool)
        if col.high is not None:
            outside |= x > col.high
        if outside.any():
            low = "-inf" if col.low is None else f"{col.low:g}"
            limits = f"[{low}, {'inf' if col.high is None else f'{col.high:g}'}]"
            raise ValueError(f"{what} holds {x[outside][0]:g}, outside {name!r}'s limits {limits} (its bounds, or the "
                             f"range seen in fit); widen them with bounds or range_margin")
        if col.integer and not np.array_equal(x, np.round(x)):
            raise ValueError(f"{what} holds non-integers, but {name!r} holds integers")
        return x.astype(col.dtype)

    def _interventions(self, do, n):
        """`do` as {node: function of the values drawn so far -> n values}."""
        if do is None:
            return {}
        if not isinstance(do, Mapping):
            raise TypeError(f"do must be a dict of column -> value, array or function, got {type(do).__name__}")
        out = {}
        for name, value in do.items():
            self._node(name, "do names")
            what = f"do[{name!r}]"
            if callable(value):
                out[name] = self._function(name, value, n, what)
            else:
                fixed = self._values(name, value, n, what)
                out[name] = lambda values, fixed=fixed: fixed
        return out

    def _function(self, name, f, n, what):
        """An intervention given as a function of the node's parents: it
        gets a DataFrame of their sampled values (with their names and
        dtypes; no columns for a root) and returns a constant or n values."""
        parents = self.graph_[name]

        def apply(values):
            pd = require_pandas("CausalGraphWGAN")
            frame = to_frame(values, parents, self._dtypes) if parents else pd.DataFrame(index=range(n))
            result = f(frame)
            if hasattr(result, "to_numpy"):
                result = result.to_numpy()
            return self._values(name, result, n, f"the values {what} returned")

        return apply

    def sample(self, n: int, do: Mapping[Any, Any] | None = None,
               random_state: int | np.random.Generator | None = None) -> pandas.DataFrame:
        """Draw n synthetic units along the graph, under interventions if given.

        Nodes are drawn in topological order, each given its parents'
        synthetic values; a node in ``do`` takes the given values instead,
        and its descendants are drawn from them.  Draws with one seed share
        each node's noise, so ``sample(n, do={"t": 0}, random_state=s)``
        and ``sample(n, do={"t": 1}, random_state=s)`` are the same units
        under two treatments.

        Parameters
        ----------
        n : int
            Rows to draw (at least 1).
        do : dict, optional
            Interventions: maps a column to a constant, an array of n
            values, or a function that gets a DataFrame of the column's
            sampled parents (n rows; no columns for a node without
            parents) and returns a constant or n values.  Values must be
            levels seen in fit (categorical) or numbers within the column's
            limits (its bounds and, by default, the range seen in fit).
        random_state : int, numpy Generator or None, default=None
            Seeds the draw.  None continues the model's own stream, so
            successive calls give fresh data sets.

        Returns
        -------
        pandas.DataFrame
            n rows of every column, in the order of the data given to fit,
            with their names and dtypes.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If n is not an integer, random_state has the wrong type, or
            do is not a dict or holds values of the wrong type.
        ValueError
            If n is below 1, do names a column that is not a node, or an
            intervention's values are not n values the column can take.
        MemoryError
            If the draw would not fit in memory.
        """
        with self._holding(write=random_state is None):
            self._check_is_fitted()
            n = check_int(n, "n", 1, LIMITS["n_rows"])
            interventions = self._interventions(do, n)
            _memory.check(self._sample_bytes(n), f"CausalGraphWGAN.sample with n={n}",
                          "lower n, or draw several smaller data sets")
            values = self._chain().draw(n, self._seed(random_state), do=interventions)
        return to_frame(values, self._columns, self._dtypes)

    # -------------------------------------------------------------- effects
    def _contrast(self, treatment, t0, t1):
        """(t0, t1), checked; the two levels of a two-level categorical
        treatment by default."""
        col = self._column(treatment)
        if t0 is None or t1 is None:
            if not (col.categorical and col.width == 2):
                raise ValueError(f"t0 and t1 are required for the treatment {treatment!r}, which is not a "
                                 f"two-level categorical column")
            t0 = col.levels[0] if t0 is None else t0
            t1 = col.levels[1] if t1 is None else t1
        for name, value in (("t0", t0), ("t1", t1)):
            if not (np.isscalar(value) or isinstance(value, np.generic)):
                raise TypeError(f"{name} must be one value of {treatment!r}, got {type(value).__name__}")
        return t0, t1

    def _roles(self, treatment, outcome):
        """Check that treatment and outcome are two nodes, the outcome
        numeric (the model is fitted)."""
        self._node(treatment, "treatment")
        self._node(outcome, "outcome")
        if treatment == outcome:
            raise ValueError("treatment and outcome must be different columns")
        self._numeric_outcome(outcome)

    def _numeric_outcome(self, outcome):
        col = self._column(outcome)
        kind = (col.levels if col.categorical else np.zeros(0, col.dtype)).dtype.kind
        if kind not in "biuf":
            raise TypeError(f"outcome {outcome!r} must be numeric or bool (effects are differences of means), "
                            f"got labels of dtype {col.levels.dtype}")

    def _worlds(self, rows, seed, treatment, arms, nested=None):
        """Draws of the same rows units: one world per treatment value of
        `arms`, and with `nested` = (mediators, t1, t0) the world under t1
        whose mediators take their values under t0; the nodes that are not
        descendants of the treatment are drawn once."""
        chain = self._chain()
        keep = [c for c in self.graph_ if c != treatment and c not in descendants(self.graph_, treatment)]
        worlds, given = [], None
        for value in arms:
            do = {treatment: self._interventions({treatment: value}, rows)[treatment]}
            world = chain.draw(rows, seed, do=do, given=given)
            given = {c: world[c] for c in keep}
            worlds.append(world)
        if nested is not None:
            mediators, t1, base = nested
            do = self._interventions({treatment: t1, **{m: worlds[base][m] for m in mediators}}, rows)
            worlds.append(chain.draw(rows, seed, do=do, given=given))
        return worlds

    def _mean_differences(self, n, random_state, treatment, outcome, arms, nested, contrasts):
        """Means over n units of outcome differences between worlds: each
        contrast (a, b) gives mean(world[a][outcome] - world[b][outcome])."""
        n = check_int(n, "n", 1, LIMITS["n_rows"])
        with self._holding(write=random_state is None):
            worlds = 2 + (nested is not None)
            _memory.check(self._sample_bytes(min(n, 16384), worlds), f"CausalGraphWGAN effects with n={n}",
                          "free memory")
            sums = np.zeros(len(contrasts))

            def piece(rows, seed):
                drawn = self._worlds(rows, seed, treatment, arms, nested)
                y = [np.asarray(w[outcome], dtype=np.float64) for w in drawn]
                sums[:] += [float((y[a] - y[b]).sum()) for a, b in contrasts]
                return 0.0, rows

            _, count = monte_carlo(n, self._seed(random_state), piece)
        return sums / count

    def ate(self, treatment: Any, outcome: Any, t0: Any = None, t1: Any = None, n: int = 200_000,
            random_state: int | np.random.Generator | None = 0) -> float:
        """The synthetic population's average effect of setting treatment to t1 against t0.

        E[outcome | do(treatment = t1)] - E[outcome | do(treatment = t0)],
        from a Monte Carlo draw of n units under both interventions (the
        same units in both).

        Parameters
        ----------
        treatment : column label
            The column intervened on.
        outcome : column label
            A numeric or bool column (0/1 levels average to shares).
        t0, t1 : value, optional
            The two values of the treatment; by default the two levels of a
            two-level categorical treatment (required otherwise).
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
            If the outcome is not numeric, or an argument has the wrong type.
        ValueError
            If treatment or outcome is not a node, they coincide, t0 or t1
            is not a value the treatment can take, or n is below 1.

        See Also
        --------
        mediation : the same effect split into direct and indirect parts.
        """
        with self._holding(write=random_state is None):
            self._check_is_fitted()
            self._roles(treatment, outcome)
            t0, t1 = self._contrast(treatment, t0, t1)
            return float(self._mean_differences(n, random_state, treatment, outcome, [t0, t1], None, [(1, 0)])[0])

    def mediation(self, treatment: Any, mediators: Any, outcome: Any, t0: Any = None, t1: Any = None,
                  n: int = 200_000, random_state: int | np.random.Generator | None = 0) -> MediationResult:
        """Total, natural direct and natural indirect effects of t1 against t0.

        From nested interventions on the same units: with Y(t, M(t')) the
        outcome when the treatment is set to t and the mediators take the
        values they would take under t',

        - total = E[Y(t1, M(t1))] - E[Y(t0, M(t0))],
        - direct = E[Y(t1, M(t0))] - E[Y(t0, M(t0))],
        - indirect = E[Y(t1, M(t1))] - E[Y(t1, M(t0))],

        so total = direct + indirect.  Other descendants of the treatment
        respond to it as drawn (their paths count as direct).

        Parameters
        ----------
        treatment : column label
            The column intervened on.
        mediators : column label or list of column labels
            Descendants of the treatment that are ancestors of the outcome.
        outcome : column label
            A numeric or bool column.
        t0, t1 : value, optional
            As in :meth:`ate`.
        n : int, default=200000
            Units drawn, 16,384 at a time.
        random_state : int, numpy Generator or None, default=0
            Seeds the draw.

        Returns
        -------
        MediationResult
            Its fields total, direct and indirect.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        TypeError
            If the outcome is not numeric, or an argument has the wrong type.
        ValueError
            If a column is not a node, a mediator is the treatment or the
            outcome, is not a descendant of the treatment or not an
            ancestor of the outcome, t0 or t1 is not a value the treatment
            can take, or n is below 1.
        """
        with self._holding(write=random_state is None):
            self._check_is_fitted()
            self._roles(treatment, outcome)
            if hashable(mediators) and mediators in self.graph_:
                mediators = [mediators]
            if isinstance(mediators, (str, bytes, Mapping)) or not np.iterable(mediators):
                raise TypeError(f"mediators must be a column label or a list of them, got {mediators!r}")
            mediators = list(mediators)
            if not mediators or len(set(map(repr, mediators))) != len(mediators):
                raise ValueError(f"mediators must name at least one column, each once; got {mediators}")
            below, above = descendants(self.graph_, treatment), ancestors(self.graph_, outcome)
            for m in mediators:
                self._node(m, "mediator")
                if m in (treatment, outcome):
                    raise ValueError(f"mediator {m!r} is the treatment or the outcome")
                if m not in below:
                    raise ValueError(f"mediator {m!r} is not a descendant of the treatment {treatment!r}")
                if m not in above:
                    raise ValueError(f"mediator {m!r} is not an ancestor of the outcome {outcome!r}")
            t0, t1 = self._contrast(treatment, t0, t1)
            total, direct, indirect = self._mean_differences(n, random_state, treatment, outcome, [t0, t1],
                                                             (mediators, t1, 0), [(1, 0), (2, 0), (1, 2)])
        return MediationResult(float(total), float(direct), float(indirect))

    # -------------------------------------------------------------- compare
    def compare(self, df: pandas.DataFrame, n: int | None = None, random_state: int | np.random.Generator | None = 0,
                treatment: Any = None) -> pandas.DataFrame:
        """Real and synthetic data side by side, one row per column.

        Per column: mean, sd, quantiles, Wasserstein-1 distance (continuous,
        in units of the real sd) or total variation distance (categorical),
        and the share at each bound; with a treatment, the balance of the
        columns measured before it between its arms.

        Parameters
        ----------
        df : pandas.DataFrame
            The real data, with the fitted columns.
        n : int or None, default=None
            Synthetic rows to draw (at least 50,000 are drawn); None uses
            the rows of df.
        random_state : int, numpy Generator or None, default=0
            Seeds the synthetic draw.
        treatment : column label, optional
            A categorical node whose arms to compare the columns that are
            not its descendants across.

        Returns
        -------
        pandas.DataFrame
            As :meth:`CausalWGAN.compare`: indexed by column, with the
            attrs 'level_shares', 'max_corr_diff' and 'exact_copies'; with a treatment,
            the columns ``real_smd`` and ``synthetic_smd`` (NaN for the
            treatment and its descendants) and the attr 'propensity_auc'.

        Raises
        ------
        RuntimeError
            If the model is not fitted.
        ValueError
            If n is below 1, df lacks one of the fitted columns, or the
            treatment is not a categorical node.
        """
        with self._holding(write=random_state is None):
            self._check_is_fitted()
            t_col, covariates = None, []
            if treatment is not None:
                self._node(treatment, "treatment")
                t_col = self._column(treatment)
                if not t_col.categorical:
                    raise ValueError(f"treatment {treatment!r} must be a categorical column to compare its arms")
                below = descendants(self.graph_, treatment)
                covariates = [c for c in self._cols if c.name != treatment and c.name not in below]
            return self._compare(df, n, random_state, t_col, covariates)

    def _experiment(self, T0, T1, treatment, outcome, covariates):
        """evaluate's data sets: the observed world of the graph, with the
        units' own effect of setting the treatment to T1 against T0."""
        if treatment is None or outcome is None:
            raise ValueError("evaluate needs treatment= and outcome= to draw data sets from a CausalGraphWGAN")
        self._roles(treatment, outcome)
        t0, t1 = self._contrast(treatment, T0, T1)
        below = descendants(self.graph_, treatment)
        if covariates is None:
            covariates = [c for c in self._columns if c != treatment and c != outcome and c not in below]
        else:
            if isinstance(covariates, (str, bytes, Mapping)) or not np.iterable(covariates):
                raise TypeError(f"covariates must be a list of column labels, got {type(covariates).__name__}")
            covariates = list(covariates)
            for c in covariates:
                self._node(c, "covariate")
                if c in (treatment, outcome):
                    raise ValueError(f"covariates include {c!r}, which is the treatment or the outcome")
        if not covariates:
            raise ValueError(f"no column precedes the treatment {treatment!r}; pass covariates=")

        return Experiment(self._n_fit, lambda rows: self._sample_bytes(rows, 3),
                          (treatment, outcome, t0, t1, list(covariates)))

    def _experiment_data(self, roles, rows, seed):
        treatment, outcome, t0, t1, covariates = roles
        with self._holding(write=False):
            observed = self._chain().draw(rows, seed)
            worlds = self._worlds(rows, seed, treatment, [t0, t1])
        y0, y1 = (np.asarray(w[outcome], dtype=np.float64) for w in worlds)
        frame = to_frame(observed, self._columns, self._dtypes)
        return frame[covariates], frame[treatment].to_numpy(), frame[outcome].to_numpy(), float((y1 - y0).mean())

    # ------------------------------------------------------- persistence
    _persistence = _state

