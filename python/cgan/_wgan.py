"""cgan.CausalWGAN: synthetic data with known treatment effects.

Following Athey, Imbens, Metzger & Munro (2021), two conditional WGAN-GPs are
fitted to a real data set: one for the covariates given the treatment, one
for the outcome given covariates and treatment.  Sampling draws a treatment
from its empirical distribution, covariates given it, and then the outcome
under every arm from the same covariates, so each synthetic unit carries all
of its potential outcomes and the synthetic population's effects are known.
The training loops run in cgan's C core, with the exact gradient penalty."""
from __future__ import annotations

import numbers
import threading
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _cgan
from ._base import BaseEstimator
from ._progress import Progress, chunks
from ._validation import check_float, check_int, check_random_state, treatment_code

if TYPE_CHECKING:
    import matplotlib.figure
    import pandas


def _require_pandas():
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - exercised only without pandas
        raise ImportError("CausalWGAN works on pandas DataFrames; install pandas") from None
    return pd


class _Column:
    """How one column is encoded: continuous (standardised, with bounds) or
    categorical (one-hot over its levels)."""

    def __init__(self, name, values, categorical, bounds, mass_at_bounds=False, log=False):
        self.name = name
        self.masses = []
        # the model works on u = log1p((x - lower) / log_scale) for a column
        # fitted with log, on x itself otherwise; mean and sd are those of u
        self.log_scale = None
        self.dtype = values.dtype
        self.categorical = categorical
        if categorical:
            levels = _levels(name, values)
            if len(levels) < 2:
                raise ValueError(f"categorical column {name!r} has a single level ({levels[0]!r})")
            self.levels = levels
            self.width = len(levels)
            if bounds is not None:
                raise ValueError(f"bounds are given for {name!r}, which is categorical")
            if log:
                raise ValueError(f"log names {name!r}, which is categorical")
        else:
            v = _continuous(name, values)
            self.width = 1
            lo, hi = (None, None) if bounds is None else bounds
            if lo is not None and v.min() < float(lo):
                raise ValueError(f"column {name!r} has values below its lower bound {lo} in bounds "
                                 f"(minimum {v.min():g})")
            if hi is not None and v.max() > float(hi):
                raise ValueError(f"column {name!r} has values above its upper bound {hi} in bounds "
                                 f"(maximum {v.max():g})")
            self.lower = None if lo is None else float(lo)
            self.upper = None if hi is None else float(hi)
            if log:
                if self.lower is None:
                    raise ValueError(f"log names {name!r}, which has no lower bound; give one in bounds, "
                                     f"e.g. bounds={{{name!r}: (0, None)}}")
                above = v[v > self.lower] - self.lower
                # the median distance above the bound sets where the log bends
                self.log_scale = float(np.median(above)) if above.size else 1.0
            u = self.to_model(v)
            self.mean = float(u.mean())
            sd = float(u.std())
            self.sd = sd if sd > 0 else 1.0
            self.integer = values.dtype.kind in "biu"
            # a bound that two or more rows sit exactly on holds a point mass
            # (a continuous law puts no ties there); with mass_at_bounds the
            # generator draws "at it or not" from a softmax block that follows
            # the value: [value | interior, at lower?, at upper?]
            if mass_at_bounds and (self.lower is None or self.upper is None or self.lower < self.upper):
                for side, b in (("lower", self.lower), ("upper", self.upper)):
                    if b is not None and np.count_nonzero(v == b) >= 2:
                        self.masses.append(side)
            self.width = 1 + (len(self.masses) + 1 if self.masses else 0)

    def to_model(self, x):
        """Values (float64) on the scale the model works on."""
        return x if self.log_scale is None else np.log1p((x - self.lower) / self.log_scale)

    def from_model(self, u):
        if self.log_scale is None:
            return u
        with np.errstate(over="ignore"):  # an overflow is reported by decode
            return self.lower + self.log_scale * np.expm1(u)

    def standardise(self, x):
        return (self.to_model(np.asarray(x, dtype=np.float64)) - self.mean) / self.sd

    def encode(self, values):
        if self.categorical:
            codes = np.searchsorted(self.levels, values)
            codes = np.clip(codes, 0, self.width - 1)
            if not np.all(self.levels[codes] == values):
                raise ValueError(f"column {self.name!r} holds levels not seen in fit")
            return np.eye(self.width, dtype=np.float32)[codes]
        v = values.astype(np.float64)
        value = self.standardise(v).astype(np.float32)[:, None]
        if not self.masses:
            return value
        state = np.zeros(len(v), dtype=np.intp)
        for k, side in enumerate(self.masses, start=1):
            state[v == getattr(self, side)] = k
        return np.concatenate([value, np.eye(len(self.masses) + 1, dtype=np.float32)[state]], axis=1)

    def _at_bounds(self, block):
        """(rows, bound) for each point mass: the rows of an encoded block
        whose drawn indicator names that bound."""
        if not self.masses:
            return []
        state = np.argmax(block[:, 1:], axis=1)
        return [(state == k, getattr(self, side)) for k, side in enumerate(self.masses, start=1)]

    def snap(self, block):
        """The encoded block with its value set to the bound its drawn
        indicator names, as the training rows at a bound are encoded (in place)."""
        for rows, bound in self._at_bounds(block):
            block[rows, 0] = np.float32(self.standardise(bound))
        return block

    def decode(self, block):
        if self.categorical:
            return self.levels[np.argmax(block, axis=1)]
        u = block[:, 0].astype(np.float64) * self.sd + self.mean
        # the core clamps in standardised units; snap to the exact bounds
        # (compared on the model's scale, where the clamp happened)
        at = list(self._at_bounds(block))
        for bound, sign in ((self.lower, 1), (self.upper, -1)):
            if bound is not None:
                b = float(self.to_model(bound))
                at.append((sign * (u - b) <= 1e-6 * (abs(b) + self.sd), bound))
        v = self.from_model(u)
        for rows, bound in at:
            v[rows] = bound
        if not np.all(np.isfinite(v)):
            raise FloatingPointError(f"column {self.name!r}: the generator drew values beyond the float range on "
                                     f"its log scale; the model diverged (lower learning_rate)")
        if self.integer:
            # rounding keeps integers within the bounds, and draws beyond
            # the column's integer type saturate at its limits
            v = np.round(v)
            if self.lower is not None:
                v = np.maximum(v, np.ceil(self.lower))
            if self.upper is not None:
                v = np.minimum(v, np.floor(self.upper))
            if self.dtype.kind == "b":
                lo, hi = 0.0, 1.0
            else:
                info = np.iinfo(self.dtype)
                lo, hi = float(info.min), float(info.max)
                if hi > info.max:  # 2**63 - 1 and 2**64 - 1 round up in float64
                    hi = np.nextafter(hi, 0.0)
            v = np.clip(v, lo, hi)
        return v.astype(self.dtype) if self.dtype.kind in "biuf" else v

    def bounds_std(self):
        if self.categorical:
            return [-np.inf] * self.width, [np.inf] * self.width
        lo = -np.inf if self.lower is None else self.standardise(self.lower)
        hi = np.inf if self.upper is None else self.standardise(self.upper)
        free = self.width - 1
        return [lo] + [-np.inf] * free, [hi] + [np.inf] * free


def _hashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _is_column(df, name) -> bool:
    return _hashable(name) and name in df.columns


def _column_list(df: pandas.DataFrame, value: Any, what: str) -> list[Any]:
    """A list of column names of df, given as a sequence (not a string)."""
    if isinstance(value, (str, bytes, Mapping)) or not np.iterable(value):
        raise TypeError(f"{what} must be a list of column names, got {type(value).__name__}")
    out = list(value)
    for c in out:
        if not _hashable(c):
            raise TypeError(f"{what} must hold column names, got an element of type {type(c).__name__}")
        if c not in df.columns:
            raise ValueError(f"{what} name a column {c!r} that is not in df (an unknown column); "
                             f"columns are {[str(x) for x in df.columns]}")
    seen = set()
    for c in out:
        if c in seen:
            raise ValueError(f"{what} list the column {c!r} more than once")
        seen.add(c)
    return out


def _check_bounds(name, b):
    """(lower, upper) of a bounds entry, each a finite float or None."""
    if isinstance(b, (str, bytes)) or not np.iterable(b) or len(b) != 2:
        raise TypeError(f"bounds of {name!r} must be a pair (lower, upper), got {b!r}")
    out = []
    for side, v in zip(("lower", "upper"), b):
        if v is None:
            out.append(None)
            continue
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise TypeError(f"bounds of {name!r}: the {side} bound must be a number or None, got {type(v).__name__}")
        if not np.isfinite(float(v)):
            raise ValueError(f"bounds of {name!r}: the {side} bound must be finite or None, got {v}")
        out.append(float(v))
    if out[0] is not None and out[1] is not None and out[0] > out[1]:
        raise ValueError(f"bounds of {name!r} have lower > upper")
    return tuple(out)


def _levels(name, values):
    """The sorted distinct values of a categorical column."""
    try:
        return np.unique(values)
    except TypeError as exc:
        raise TypeError(f"column {name!r} mixes values that cannot be ordered ({exc}); use one type of label") \
            from None


def _continuous(name, values):
    """A continuous column as float64: numbers, finite, within float32's range."""
    if values.dtype.kind not in "biuf":
        raise TypeError(f"column {name!r} holds non-numbers (dtype {values.dtype}), so it can only be categorical")
    v = values.astype(np.float64)
    if not np.all(np.isfinite(v)):
        raise ValueError(f"column {name!r} contains inf; drop or clip those rows")
    if np.any(np.abs(v) > np.finfo(np.float32).max):
        raise ValueError(f"column {name!r} holds values beyond float32's range (about 3.4e38)")
    return v


def _encode(columns, df):
    return np.concatenate([c.encode(df[c.name].to_numpy()) for c in columns], axis=1).astype(np.float32)


def _layout(columns):
    block, lower, upper, b = [], [], [], 0
    for c in columns:
        if c.categorical:
            block += [b] * c.width
            b += 1
        else:
            block.append(-1)
            if c.width > 1:  # the point-mass indicator of a bounded column
                block += [b] * (c.width - 1)
                b += 1
        lo, hi = c.bounds_std()
        lower += lo
        upper += hi
    return np.array(block), np.array(lower), np.array(upper)


def _blocks(columns, X):
    """(column, view of its columns of the encoded matrix X), in order."""
    j = 0
    for c in columns:
        yield c, X[:, j:j + c.width]
        j += c.width


def _decode(columns, X):
    return {c.name: c.decode(block) for c, block in _blocks(columns, X)}


def _indicators(cols, df):
    """[[i, j, bound, code], ...]: covariate i is categorical with two
    levels, and its level `code` marks exactly the rows where continuous
    covariate j sits on `bound` (one of j's bounds), as LaLonde's u74
    marks re74 == 0.  Such a column is a function of another, and sampling
    sets it from that one."""
    # rows at each bound of each bounded continuous column, computed once
    at_bound = [(j, b, df[x.name].to_numpy().astype(np.float64) == b) for j, x in enumerate(cols)
                if not x.categorical for b in (x.lower, x.upper) if b is not None]
    found = []
    for i, c in enumerate(cols):
        if not c.categorical or c.width != 2 or not at_bound:
            continue
        level1 = np.argmax(c.encode(df[c.name].to_numpy()), axis=1) == 1
        for j, b, at in at_bound:
            match = next(([i, j, b, code] for code, rows in ((1, level1), (0, ~level1))
                          if np.array_equal(at, rows)), None)
            if match is not None:
                found.append(match)
                break
    return found


_MODELS = ("covariates", "outcome")


def _is_flag(value):
    return isinstance(value, (bool, np.bool_)) or isinstance(value, numbers.Integral) and value in (0, 1)


def _check_sides(one_sided):
    """one_sided as {model: bool} for both WGANs."""
    if _is_flag(one_sided):
        return dict.fromkeys(_MODELS, bool(one_sided))
    if not isinstance(one_sided, dict):
        raise TypeError(f"one_sided must be a bool or a dict of bools keyed by 'covariates' and 'outcome', "
                        f"got {one_sided!r}")
    unknown = [k for k in one_sided if k not in _MODELS]
    if unknown:
        raise ValueError(f"one_sided has unknown model(s) {unknown!r}; the models are 'covariates' and 'outcome'")
    for k, v in one_sided.items():
        if not _is_flag(v):
            raise TypeError(f"one_sided[{k!r}] must be a bool, got {v!r}")
    return {k: bool(one_sided.get(k, True)) for k in _MODELS}


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
        Generator steps for each of the two WGANs.  On LaLonde's 445 rows
        the raw-scale outcome's sd levelled off 8-14% low from 10,000 to
        20,000 steps, and ``fit(..., log=[outcome])`` brought it within 3%
        at 10,000 (see benchmarks/README.md); 10,000 steps fit in 30-90 s.
    critic_steps : int, default=15
        Critic steps per generator step.
    gp_lambda : float, default=5.0
        Weight of the gradient penalty lambda * (|grad| - 1)^2, whose
        parameter gradient is computed exactly (double backprop).
    one_sided : bool or dict, default=True
        Penalise only gradient norms above 1 (True), or every departure
        from 1 (False, the two-sided penalty).  A dict sets the side per
        model, ``{"covariates": False, "outcome": True}``; a model it does
        not name is one-sided.  The two-sided penalty pins the critic's
        slope at +-1; along one generated column (the outcome model) the
        slope cannot change sign without crossing the penalised region,
        and LaLonde's re78 fell to its bound at 0 with it on 3 seeds of 3.
        The one-sided penalty trained stably there, as in the reference
        implementation.  With LaLonde's ten covariates the two-sided
        penalty matched re74's and re75's means more closely, but it was
        worse on other designs (see benchmarks/README.md).
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
        on every row of the data; check ``derived_`` for a coincidental
        one in small data.  The covariate model still generates the
        indicator with the rest (it helps the generator split the point
        mass from the other values); sampling then overwrites it, before
        the outcome model sees the covariates.  Left as generated, u74 and re74 disagreed on 3.9%
        of LaLonde's synthetic rows, u75 and re75 on 4.6%.  ``derived_`` lists these columns.
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
        pd = _require_pandas()
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
        if len(df) == 0:
            raise ValueError("df has no rows")
        names = [str(c) for c in df.columns]
        if df.columns.has_duplicates:
            dup = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
            raise ValueError(f"df has duplicate column names {dup}")
        for role, col in (("treatment", treatment), ("outcome", outcome)):
            if not _is_column(df, col):
                if not _hashable(col):
                    raise TypeError(f"{role} must be one column name, got {type(col).__name__}")
                raise ValueError(f"{role} column {col!r} is not in df; columns are {names}")
        if treatment == outcome:
            raise ValueError("treatment and outcome must be different columns")
        if covariates is None:
            covariates = [c for c in df.columns if c not in (treatment, outcome)]
        covariates = _column_list(df, covariates, "covariates")
        for c in covariates:
            if c in (treatment, outcome):
                raise ValueError(f"covariates include {c!r}, which is the treatment or the outcome")
        if not covariates:
            raise ValueError("there are no covariates")
        if bounds is None:
            bounds = {}
        if not isinstance(bounds, Mapping):
            raise TypeError(f"bounds must be a dict of column -> (lower, upper), got {type(bounds).__name__}")
        bounds = dict(bounds)
        for c, b in bounds.items():
            if not _is_column(df, c):
                raise ValueError(f"bounds name an unknown column {c!r}")
            bounds[c] = _check_bounds(c, b)
        log = set() if log is None else set(_column_list(df, log, "log"))
        for c in log:
            if c not in covariates and c != outcome:
                raise ValueError(f"log names {c!r}, which is neither a covariate nor the outcome")
        for c in [treatment, outcome] + covariates:
            col = df[c]
            if col.isna().all():
                raise ValueError(f"column {c!r} is all NaN")
            if col.isna().any():
                raise ValueError(f"column {c!r} has {int(col.isna().sum())} missing values; impute or drop them")
            if col.dtype.kind == "c":
                raise TypeError(f"column {c!r} holds complex numbers, which are neither continuous nor categories")
        if categorical is None:
            cat = {c for c in [outcome] + covariates if _looks_categorical(df[c])}
        else:
            cat = set(_column_list(df, categorical, "categorical"))
        for c in bounds:
            if c == treatment or (c not in covariates and c != outcome):
                raise ValueError(f"bounds name {c!r}, which is neither a covariate nor the outcome")
        if df[outcome].to_numpy().dtype.kind not in "biuf":
            raise TypeError(f"outcome {outcome!r} must be numeric or bool (effects are differences of outcomes), "
                            f"got dtype {df[outcome].dtype}")
        t_values = df[treatment].to_numpy()
        classes = _levels(treatment, t_values)
        if len(classes) < 2:
            raise ValueError(f"treatment {treatment!r} has a single level ({classes[0]!r})")
        fitted = [treatment, outcome] + covariates
        taken = [lab for lab in (_potential_label(classes, level) for level in classes) if lab in fitted]
        if taken:
            raise ValueError(f"sample names the potential outcomes {taken}, which would overwrite columns of the "
                             f"same names; rename those columns")
        p = self._check_params()
        seed = check_random_state(self.random_state)
        s_cov, s_out, sample_seed = (int(s) for s in np.random.SeedSequence(seed).generate_state(3, np.uint64))
        t_col = _Column(treatment, t_values, True, None)
        masses = bool(self.mass_at_bounds)
        cov_cols = [_Column(c, df[c].to_numpy(), c in cat, bounds.get(c), masses, c in log) for c in covariates]
        out_col = _Column(outcome, df[outcome].to_numpy(), outcome in cat, bounds.get(outcome), masses, outcome in log)
        n = len(df)
        if p["batch_size"] > n:
            raise ValueError(f"batch_size={p['batch_size']} is larger than the {n} rows of df")
        T1 = t_col.encode(t_values)
        derived = _indicators(cov_cols, df) if self.derive_indicators else []
        Xc = _encode(cov_cols, df)
        Yc = out_col.encode(df[outcome].to_numpy())
        specs = [
            ("covariates", cov_cols, Xc, T1, s_cov),
            ("outcome", [out_col], Yc, np.concatenate([Xc, T1], axis=1), s_out),
        ]
        bar = Progress(2 * p["n_iter"], "CausalWGAN", bool(self.verbose))
        stop = threading.Event()

        def train(spec):
            name, cols, X, C, s = spec
            block, lower, upper = _layout(cols)
            nz = p["noise_dim"] or X.shape[1]
            w = _cgan.Wgan(
                x_dim=X.shape[1], ctx_dim=C.shape[1], noise_dim=nz, hidden_size=p["hidden_size"],
                n_hidden=p["n_hidden"], batch_size=p["batch_size"], critic_steps=p["critic_steps"],
                gp_lambda=p["gp_lambda"], one_sided=int(p["one_sided"][name]), critic_dropout=p["critic_dropout"],
                learning_rate=p["learning_rate"], beta1=p["beta1"], beta2=p["beta2"], seed=s,
                column_block=block, lower=lower, upper=upper,
            )
            w.set_data(X, C)
            hist = {"critic_loss": [], "generator_loss": [], "penalty": []}
            try:
                for size in chunks(p["n_iter"]):
                    if stop.is_set():
                        return None
                    c, g, pen = w.train(size)
                    hist["critic_loss"].append(c)
                    hist["generator_loss"].append(g)
                    hist["penalty"].append(pen)
                    bar.update(len(c), critic=float(c[-1]))
            except FloatingPointError as exc:
                # the core names the network and the iteration; say which of the two WGANs
                raise FloatingPointError(f"CausalWGAN's {name} model: {exc}") from None
            finally:
                w.clear_data()
            return w, {k: np.concatenate(v) if v else np.zeros(0) for k, v in hist.items()}

        try:
            if self.n_jobs is not None and self.n_jobs != 1:
                with ThreadPoolExecutor(max_workers=2) as pool:
                    futures = [pool.submit(train, s) for s in specs]
                    try:
                        results = [f.result() for f in futures]
                    except BaseException:
                        stop.set()
                        raise
            else:
                results = [train(s) for s in specs]
        finally:
            bar.close()
        # set only once training has finished: an interrupted fit leaves the model as it was
        self._cov_gan, self._out_gan = results[0][0], results[1][0]
        self._sample_seed = sample_seed
        self.history_ = {"covariates": results[0][1], "outcome": results[1][1]}
        self._t_col, self._cov_cols, self._out_col = t_col, cov_cols, out_col
        self._derived = derived
        self.treatment_, self.outcome_, self.covariates_ = treatment, outcome, covariates
        self.classes_ = classes
        self._t_freq = np.array([(t_values == c).mean() for c in classes])
        self._columns = list(df.columns)
        self._n_fit = n
        self._dtypes = {c: df[c].dtype for c in df.columns}
        return self

    def _check_params(self):
        betas = self.betas
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise TypeError("betas must be a pair (beta1, beta2)")
        sides = _check_sides(self.one_sided)
        if self.n_jobs is not None:
            if isinstance(self.n_jobs, (bool, np.bool_)) or not isinstance(self.n_jobs, numbers.Integral):
                raise TypeError(f"n_jobs must be None or an integer, got {type(self.n_jobs).__name__}")
            if self.n_jobs == 0:
                raise ValueError("n_jobs must not be 0; use None or 1 for one thread, 2 or more (or -1) for two")
        for name in ("derive_indicators", "mass_at_bounds"):
            value = getattr(self, name)
            if not _is_flag(value):
                raise TypeError(f"{name} must be a bool, got {value!r}")
        if not isinstance(self.verbose, (bool, np.bool_, numbers.Integral)):
            raise TypeError(f"verbose must be a bool, got {type(self.verbose).__name__}")
        return {
            "one_sided": sides,
            "hidden_size": check_int(self.hidden_size, "hidden_size", 1, 65536),
            "n_hidden": check_int(self.n_hidden, "n_hidden", 1, 64),
            "batch_size": check_int(self.batch_size, "batch_size", 1, 1 << 24),
            "n_iter": check_int(self.n_iter, "n_iter", 0, 1 << 31),
            "critic_steps": check_int(self.critic_steps, "critic_steps", 1, 1000),
            "gp_lambda": check_float(self.gp_lambda, "gp_lambda", 0.0, 1e6),
            "critic_dropout": check_float(self.critic_dropout, "critic_dropout", 0.0, 0.99),
            "learning_rate": check_float(self.learning_rate, "learning_rate", 0.0, 10.0, low_open=True),
            "beta1": check_float(betas[0], "betas[0]", 0.0, 0.999),
            "beta2": check_float(betas[1], "betas[1]", 0.0, 0.99999),
            "noise_dim": None if self.noise_dim is None else check_int(self.noise_dim, "noise_dim", 1, 4096),
        }

    # --------------------------------------------------------------- sample
    def _potential_label(self, level):
        return _potential_label(self.classes_, level)

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
        pd = _require_pandas()
        if not hasattr(self, "classes_"):
            raise RuntimeError("this CausalWGAN is not fitted yet; call fit first")
        n = check_int(n, "n", 1, 1 << 31)
        seed = self._sample_seed if random_state is None else check_random_state(random_state)
        s_t, s_cov, s_out = (int(s) for s in np.random.SeedSequence(seed).generate_state(3, np.uint64))
        if random_state is None:
            # successive calls without a seed give fresh draws
            self._sample_seed = int(np.random.SeedSequence(seed).generate_state(4, np.uint64)[3])
        rng = np.random.default_rng(s_t)
        K = len(self.classes_)
        codes = rng.choice(K, size=n, p=self._t_freq)
        T1 = np.eye(K, dtype=np.float32)[codes]
        self._cov_gan.reseed(s_cov)
        Xc = self._covariate_sample(n, T1)
        self._out_gan.reseed(s_out)
        potentials = {}
        for k, level in enumerate(self.classes_):
            ctx = np.concatenate([Xc, np.repeat(np.eye(K, dtype=np.float32)[k:k + 1], n, axis=0)], axis=1)
            potentials[level] = self._out_col.decode(self._out_gan.sample(n, ctx))
        data = _decode(self._cov_cols, Xc)
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
        if not hasattr(self, "classes_"):
            raise AttributeError("this CausalWGAN is not fitted yet; call fit first")
        cols = self._cov_cols
        return {cols[i].name: cols[j].name for i, j, _, _ in getattr(self, "_derived", [])}

    def _covariate_sample(self, n, T1):
        """n rows of encoded covariates drawn given the one-hot treatments
        T1 by the covariate model, with each derived indicator set from its
        source column and that column's rows at the bound set exactly on it
        (as the outcome model saw such rows in fit), and point masses
        snapped likewise."""
        X = self._cov_gan.sample(n, T1)
        blocks = [block for _, block in _blocks(self._cov_cols, X)]
        for c, block in zip(self._cov_cols, blocks):
            c.snap(block)
        for i, j, bound, code in getattr(self, "_derived", []):
            source = self._cov_cols[j]
            at = source.decode(blocks[j]) == bound
            # decoding rounds and snaps values next to the bound onto it: the
            # outcome model gets them exactly there, as in the training rows
            blocks[j][at, 0] = np.float32(source.standardise(bound))
            blocks[i][:] = np.eye(2, dtype=np.float32)[np.where(at, code, 1 - code)]
        return X

    def _arms(self, T0, T1):
        """The fitted labels of T0 and T1 (defaults: the first two levels)."""
        if not hasattr(self, "classes_"):
            raise RuntimeError("this CausalWGAN is not fitted yet; call fit first")
        t0 = self.classes_[0] if T0 is None else self.classes_[treatment_code(T0, self.classes_, "T0")]
        if T1 is None:
            if len(self.classes_) > 2:
                raise ValueError("T1 is required when there are more than two treatments")
            t1 = self.classes_[1]
        else:
            t1 = self.classes_[treatment_code(T1, self.classes_, "T1")]
        return t0, t1

    def _effects(self, n, random_state, treated_only, T0, T1):
        t0, t1 = self._arms(T0, T1)
        df = self.sample(n, random_state=random_state)
        diff = df[self._potential_label(t1)].to_numpy(float) - df[self._potential_label(t0)].to_numpy(float)
        if treated_only:
            diff = diff[df[self.treatment_].to_numpy() == t1]
            if diff.size == 0:
                raise ValueError(f"none of the n={n} synthetic units received T1={t1!r}, so they have no ATT; "
                                 f"raise n")
        return float(diff.mean())

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
            Units drawn.
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
        return self._effects(check_int(n, "n", 1, 1 << 31), random_state, False, T0, T1)

    def att(self, T0: Any = None, T1: Any = None, n: int = 200_000, random_state: int | np.random.Generator | None = 0) -> float:
        """The synthetic population's average effect on the units that received T1.

        Parameters
        ----------
        T0, T1 : treatment label, optional
            As in :meth:`ate`.
        n : int, default=200000
            Units drawn; the average is over those of them that received T1.
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
        return self._effects(check_int(n, "n", 1, 1 << 31), random_state, True, T0, T1)

    # -------------------------------------------------------------- compare
    def _check_real(self, df, names=None):
        """The column encoders of the fitted columns (those in `names` when
        given), after checking that df holds them with values the fit could
        have seen: no missing values, known levels, finite numbers."""
        pd = _require_pandas()
        if not hasattr(self, "classes_"):
            raise RuntimeError("this CausalWGAN is not fitted yet; call fit first")
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
        if len(df) == 0:
            raise ValueError("df has no rows")
        cols = [c for c in [self._t_col] + self._cov_cols + [self._out_col] if names is None or c.name in names]
        missing = [c.name for c in cols if not _is_column(df, c.name)]
        if missing:
            raise ValueError(f"df lacks the fitted columns {missing}")
        for c in cols:
            col = df[c.name]
            if isinstance(col, pd.DataFrame):
                raise ValueError(f"df has more than one column named {c.name!r}")
            if col.isna().any():
                raise ValueError(f"column {c.name!r} of df has missing values")
            values = col.to_numpy()
            if c.categorical:
                known = set(np.asarray(c.levels).tolist())
                unseen = [v for v in dict.fromkeys(values.tolist()) if v not in known]
                if unseen:
                    raise ValueError(f"column {c.name!r} of df holds levels not seen in fit: {unseen[:5]}")
            else:
                _continuous(c.name, values)
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
        pd = _require_pandas()
        cols = self._check_real(df)
        n = len(df) if n is None else check_int(n, "n", 1, 1 << 31)
        syn = self.sample(max(n, 10_000), random_state=random_state)
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
                shares[c.name] = {_plain(v): (float(a), float(b)) for v, a, b in zip(lv, pr, pf)}
                row.update(real_mean=float(pr[-1]), synthetic_mean=float(pf[-1]),
                           distance=float(0.5 * np.abs(pr - pf).sum()))
            else:
                r, f = real.astype(float), fake.astype(float)
                row.update(real_mean=r.mean(), synthetic_mean=f.mean(), real_sd=r.std(), synthetic_sd=f.std())
                for q in (5, 25, 50, 75, 95):
                    row[f"real_q{q}"] = float(np.percentile(r, q))
                    row[f"synthetic_q{q}"] = float(np.percentile(f, q))
                row["distance"] = _wasserstein1(r, f) / (r.std() or 1.0)
                if c.lower is not None:
                    row["real_at_lower"] = float((r == c.lower).mean())
                    row["synthetic_at_lower"] = float((f == c.lower).mean())
                if c.upper is not None:
                    row["real_at_upper"] = float((r == c.upper).mean())
                    row["synthetic_at_upper"] = float((f == c.upper).mean())
            rows.append(row)
        out = pd.DataFrame(rows).set_index("column")
        num_real = _numeric_frame(df, cols)
        num_fake = _numeric_frame(syn, cols)
        with np.errstate(divide="ignore", invalid="ignore"):  # a constant column has no correlation: 0
            cr = np.nan_to_num(np.corrcoef(num_real, rowvar=False))
            cf = np.nan_to_num(np.corrcoef(num_fake, rowvar=False))
        out.attrs["max_corr_diff"] = float(np.max(np.abs(cr - cf)))
        out.attrs["level_shares"] = shares
        return out

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
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("plot_compare needs matplotlib; install it") from None
        if not hasattr(self, "classes_"):
            raise RuntimeError("this CausalWGAN is not fitted yet; call fit first")
        fitted = [self.treatment_] + list(self.covariates_) + [self.outcome_]
        if columns is None:
            cols = fitted
        else:
            if isinstance(columns, (str, bytes, Mapping)) or not np.iterable(columns):
                raise TypeError(f"columns must be a list of column names, got {type(columns).__name__}")
            cols = list(columns)
            unknown = [c for c in cols if not _hashable(c) or c not in fitted]
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
                bad = [c for c in pair if not _hashable(c) or c not in continuous]
                if bad:
                    raise ValueError(f"pairs name {bad}, which are not fitted continuous columns {continuous}")
                if pair[0] == pair[1]:
                    raise ValueError(f"pairs hold ({pair[0]!r}, {pair[1]!r}); a pair needs two different columns")
        self._check_real(df, list(dict.fromkeys(cols + [c for pair in pairs or () for c in pair])))
        if pairs is None:
            pairs = _strong_pairs(df, [c for c in continuous if c in cols])
        syn = self.sample(max(len(df), 10_000), random_state=random_state)
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


def _strong_pairs(df, names, k=3):
    """Up to k pairs of the (checked, numeric) columns `names` of df with the
    largest absolute correlation (constant columns have none)."""
    if len(names) < 2:
        return []
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.nan_to_num(np.corrcoef(np.column_stack([df[c].to_numpy(float) for c in names]), rowvar=False))
    order = sorted(((abs(r[i, j]), i, j) for i in range(len(names)) for j in range(i + 1, len(names))
                    if r[i, j] != 0), key=lambda t: -t[0])
    return [(names[i], names[j]) for _, i, j in order[:k]]


def _plain(v):
    """A numpy number or bool as the Python one (other labels as they are)."""
    return v.item() if isinstance(v, np.generic) and v.dtype.kind in "biuf" else v


def _potential_label(classes, level):
    """The column name sample gives the potential outcome under level."""
    if len(classes) == 2 and set(np.asarray(classes).tolist()) <= {0, 1, False, True}:
        return f"y{int(level)}"
    return f"y_{level}"


def _looks_categorical(col) -> bool:
    if col.dtype.kind not in "biuf":
        return True
    return col.nunique() <= 2


def _wasserstein1(a, b):
    """W1 between two samples: the integral of |F_a - F_b|."""
    a, b = np.sort(a), np.sort(b)
    grid = np.sort(np.concatenate([a, b]))
    Fa = np.searchsorted(a, grid[:-1], side="right") / len(a)
    Fb = np.searchsorted(b, grid[:-1], side="right") / len(b)
    return float(np.sum(np.abs(Fa - Fb) * np.diff(grid)))


def _numeric_frame(frame, cols):
    parts = []
    for c in cols:
        v = frame[c.name].to_numpy()
        if c.categorical:
            parts.append((v == c.levels[-1]).astype(float) if c.width == 2 else
                         np.searchsorted(c.levels, v).astype(float))
        else:
            parts.append(v.astype(float))
    return np.column_stack(parts)
