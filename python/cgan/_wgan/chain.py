"""Chains of conditional models sampled in order: what cgan's synthesizers
draw from, and how they fit them.

Each step of a chain draws some columns given the values of columns drawn
before it: a WGAN with the data's marginal laws (the joint law of columns
without parents), a line and a
conditional WGAN of what it leaves (a continuous column given its parents,
with a classifier for its point masses), or a classifier (a categorical
column given its parents; frequencies when it has none).  Every step draws from
its own seed, derived from the one seed of the call, and each row's noise
depends only on that seed and the row's position, so two calls with the
same seed share every step's noise row by row: the worlds of different
interventions hold the same units, and their differences are unit-level
effects.  An intervention (``do``) replaces a column's values; the steps
after it draw from the replaced values.  Limits: no step may depend on a
column drawn after it (the caller orders the steps)."""
from __future__ import annotations

import numpy as np

from .. import _cgan
from .._baseline import fit_baseline_loo, line
from .._persist import rebuild, register_object
from .._progress import Progress
from .._propensity import SPLINE_KNOTS, fit_propensity, propensity_groups, softmax_net, spline_basis, spline_plan
from .._tabular import blocks, decode_rows
from .._threads import Stop, effective_jobs, map_threads
from . import core as _core
from .core import dims, draw, seeds

# Monte Carlo averages draw this many units at a time
MC_ROWS = 16384
# a line-and-WGAN model maps QUANTILES quantiles of at least CALIBRATION_ROWS
# residual draws onto the data's, and draws a value beyond the column's
# limits again up to REDRAWS times
CALIBRATION_ROWS = 20000
QUANTILES = 201
REDRAWS = 4
# a classifier matches its moments on synthetic contexts while its Newton
# system has at most this many unknowns
MATCH_SIZE = 2000
# a classifier picks its model by held-out log-loss over this many folds
# (with fewer rows than MIN_CV_ROWS it is the logistic model)
FOLDS = 5
MIN_CV_ROWS = 50
CANDIDATES = ("logistic", "additive")


class Classifier:
    """A categorical column's law given the encoded columns before it: a
    multinomial logistic regression on them, or on an additive cubic spline
    basis of their continuous ones, whichever has the lower held-out
    log-loss (5 folds); without context, the column's frequencies.

    A categorical law is a vector of probabilities, which cross-entropy
    estimates directly; a WGAN fitted to one draws near-one-hot outputs
    and overstates how much the parents decide the level (docs/design.md,
    "A categorical node given its parents")."""

    def __init__(self, kind, width, sizes=None, params=None, linear=None, ranges=None, probs=None, offset=None,
                 moments=None, shift=None):
        self.kind = kind
        self.width = width
        self.sizes = sizes
        self.params = params
        self.linear = linear
        self.ranges = ranges
        self.probs = probs
        self.offset = offset
        # the data's mean of [1, context] times the indicator of each level,
        # (width, 1 + context columns), and the linear term added to the
        # logits so that draws on the contexts of sampling match them
        # (Chain.calibrate), (1 + context columns, width)
        self.moments = moments
        self.shift = shift

    @classmethod
    def fit(cls, Z, codes, K, seed):
        """(classifier, {'log_loss': {model: held-out log-loss}}) for
        labels codes in [0, K) given the context rows Z (float32)."""
        n, d = Z.shape
        if d == 0:
            probs = np.bincount(codes, minlength=K).astype(np.float64) / n
            return cls("frequencies", K, probs=probs), {"log_loss": {}}
        plan = spline_plan(Z)
        inputs = {"logistic": Z}
        if plan is not None:
            inputs["additive"] = spline_basis(Z, *plan)
        losses = {}
        if n >= MIN_CV_ROWS and len(inputs) > 1:
            fold = np.arange(n) % FOLDS
            np.random.default_rng(seed).shuffle(fold)
            groups = propensity_groups(n, fold)
            for model, Zm in inputs.items():
                probs = fit_propensity(Zm, codes, K, groups, seed, model)
                losses[model] = float(-np.mean(np.log(np.maximum(probs[np.arange(n), codes], 1e-300))))
            kind = min(losses, key=losses.get)
        else:
            kind = "logistic"
        net = softmax_net(inputs[kind], codes, K, seed, kind)
        linear, ranges = ([], []) if kind == "logistic" else (list(plan[0]), [[j, lo, hi] for j, lo, hi in plan[1]])
        sizes = [inputs[kind].shape[1], K]
        X1 = np.column_stack([np.ones(n), Z.astype(np.float64)])
        model = cls(kind, K, sizes=sizes, params=net.get_params(), linear=[int(j) for j in linear],
                    ranges=[[int(j), float(lo), float(hi)] for j, lo, hi in ranges], offset=np.zeros(K),
                    moments=np.eye(K)[codes].T @ X1 / n, shift=np.zeros((d + 1, K)))
        model.offset = calibrated_offset(model._logits(Z), np.bincount(codes, minlength=K) / n)
        return model, {"log_loss": losses}

    def match(self, Z):
        """Set `shift` so that on the context rows Z (drawn as at sampling)
        the mean of [1, z] times each level's probability equals the
        data's (`moments`): the levels' shares and each context column's
        mean by level, so the data's imbalances between the levels, and no
        more, carry over to synthetic data whose contexts differ from the
        data's.  Newton's method on the convex objective whose gradient is
        that difference; skipped when the system would exceed MATCH_SIZE."""
        K, d1 = self.width, Z.shape[1] + 1
        if (K - 1) * d1 > MATCH_SIZE:
            return
        X1 = np.column_stack([np.ones(len(Z)), Z.astype(np.float64)])
        base = self._logits(Z) + self.offset
        shift = np.zeros((d1, K))
        for _ in range(50):
            p = _softmax(base + X1 @ shift)
            grad = (p.T @ X1 / len(Z) - self.moments)[1:].ravel()
            if np.max(np.abs(grad)) < 1e-9:
                break
            H = np.empty((K - 1, d1, K - 1, d1))
            for k in range(1, K):
                for m in range(1, K):
                    w = p[:, k] * ((k == m) - p[:, m])
                    H[k - 1, :, m - 1, :] = (X1 * w[:, None]).T @ X1 / len(Z)
            H = H.reshape((K - 1) * d1, (K - 1) * d1)
            step = np.linalg.lstsq(H + 1e-9 * np.eye(len(H)), grad, rcond=None)[0]
            shift[:, 1:] -= step.reshape(K - 1, d1).T
        self.shift = shift

    def _logits(self, Z):
        if self.kind == "additive":
            Z = spline_basis(Z, self.linear, [tuple(r) for r in self.ranges])
        # a network of its own per call: forward keeps buffers, so one
        # shared network could not serve two threads
        net = _cgan.MLP(self.sizes, ["identity"], seed=0)
        net.set_params(self.params)
        return net.forward(np.ascontiguousarray(Z, dtype=np.float32)).astype(np.float64)

    def probabilities(self, Z):
        """(n, width) probabilities of each level given the context rows Z."""
        if self.kind == "frequencies":
            return np.repeat(self.probs[None, :], Z.shape[0], axis=0)
        logits = self._logits(Z) + self.offset
        return _softmax(logits + self.shift[0] + Z.astype(np.float64) @ self.shift[1:])

    def draw(self, Z, seed):
        """One-hot draws (float32), one per row of Z: row i takes the
        level where the i-th uniform of the stream `seed` falls among the
        cumulative probabilities."""
        p = self.probabilities(Z)
        u = np.random.default_rng(seed).random(len(p))
        code = np.minimum((u[:, None] >= np.cumsum(p, axis=1)[:, :-1]).sum(axis=1), self.width - 1)
        return np.eye(self.width, dtype=np.float32)[code]

    @classmethod
    def _from_saved(cls, state):
        return rebuild(cls, state, check_saved_classifier)


register_object(Classifier)


def _softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def calibrated_offset(logits, shares, rounds=50):
    """Offsets to add to each level's logits so that the mean probability
    of every level over the rows equals its share in them (the intercepts
    of the maximum-likelihood fit; a network trained on minibatches stops
    near them, a point or so off)."""
    offset = np.zeros(len(shares))
    for _ in range(rounds):
        mean = _softmax(logits + offset).mean(axis=0)
        offset += np.log(shares) - np.log(mean)
        offset -= offset[0]
    return offset


class LinearWgan:
    """A continuous column given the encoded columns before it (its
    context): a ridge line on the context, and a conditional WGAN of what
    the line leaves (the residual, in units of its sd).  When rows sit on
    a bound of the column (two or more), a classifier first draws whether
    a unit is at the lower bound, at the upper bound or between (the
    interior), and the line and the WGAN are fitted to the interior rows.

    The line carries the linear part of the column's mean given the
    context exactly (a WGAN alone shrinks how much its output moves with
    its context, and a WGAN given a few hundred rows learns their noise as
    effects): a ridge line whose products of a categorical parent's levels
    with the continuous parents (effects that vary with the other parents)
    enter only when they predict held-out rows better (fit_line), and from
    which the linear part of the WGAN's mapped draws on the contexts of
    sampling is taken away (Chain.calibrate).  The WGAN carries the shape
    of the rest: non-linear effects, skew, several modes, a spread that
    depends on the context; it takes the continuous parents and only those
    categorical parents on which the residuals are seen to depend
    (wgan_inputs).  A draw between the bounds that falls beyond the
    column's limits is drawn again.  Its parts: `core` (the WGAN), `coef`
    (the line: intercept, then one slope per context column, in
    standardised units of the column, then one per product of `pairs`),
    `inputs` (the context columns the WGAN takes; None in models saved
    before they were chosen: all, and no linear part taken away), `drawn`
    and `target` (a WGAN draw r stands for the residual np.interp(r, drawn,
    target): drawn holds QUANTILES quantiles of the WGAN's draws on the
    training contexts, target the same quantiles of the residuals, so that
    the residuals' spread and tails are those of the data while the WGAN
    says where in them a unit falls), `sides` (the bounds that hold point
    masses, 'lower' and/or 'upper') and `masses` (their classifier, or
    None)."""

    def __init__(self, core, coef, drawn, target, sides, masses, pairs=None, inputs=None):
        self.core = core
        self.coef = coef
        # [categorical context column, continuous context column] pairs
        # whose products the line also takes (after the context's columns)
        self.pairs = [] if pairs is None else pairs
        # the context columns the WGAN takes (None: all of them)
        self.inputs = inputs
        self.drawn = drawn
        self.target = target
        self.sides = sides
        self.masses = masses

    @classmethod
    def fit(cls, p, name, col, values, C, seed, stop, bar, owner, parents=()):
        """(model, WGAN history) for the column encoder `col` with raw
        values `values` given the context rows C, encoded from the column
        encoders `parents`; None when `stop` is set."""
        s_masses, s_wgan, s_calibrate = seeds(seed, 3)
        x = values.astype(np.float64)
        sides = [side for side in ("lower", "upper")
                 if getattr(col, side) is not None and np.count_nonzero(x == getattr(col, side)) >= 2]
        state = np.zeros(len(x), dtype=np.intp)
        for k, side in enumerate(sides, start=1):
            state[x == getattr(col, side)] = k
        masses = Classifier.fit(C, state, len(sides) + 1, s_masses)[0] if sides else None
        inner = state == 0
        if np.count_nonzero(inner) < max(p["batch_size"], 3):
            raise ValueError(f"{owner}'s {name} model: only {np.count_nonzero(inner)} rows lie between the bounds of "
                             f"{col.name!r}, fewer than batch_size={p['batch_size']}")
        Ci = np.ascontiguousarray(C[inner])
        s = col.standardise(x[inner])
        pairs = interaction_pairs(parents)
        coef = fit_line(Ci, pairs, main_columns(parents), s, stop)
        if coef is None:
            return None
        residual = s - line(line_features(Ci, pairs), coef[:, None])[:, 0]
        scale = float(residual.std()) or 1.0
        inputs = wgan_inputs(Ci, parents, residual / scale, stop)
        if inputs is None:
            return None
        Cw = np.ascontiguousarray(Ci[:, inputs])
        trained = _core.train(p, name, None, (residual / scale).astype(np.float32)[:, None], Cw, s_wgan, stop,
                              bar, owner)
        if trained is None:
            return None
        # the quantiles of the WGAN's draws on the training contexts are
        # mapped onto those of the residuals (Chain.calibrate maps those on
        # the contexts of sampling once the chain is fitted)
        reps = -(-CALIBRATION_ROWS // len(Ci))
        g = draw(trained[0], reps * len(Ci), np.tile(Cw, (reps, 1)) if inputs else None,
                 s_calibrate)[:, 0].astype(np.float64)
        levels = np.linspace(0.0, 1.0, QUANTILES)
        drawn, target = np.quantile(g, levels), np.quantile(residual, levels)
        return cls(trained[0], coef, drawn, target, sides, masses, pairs, inputs), trained[1]

    def residual(self, ctx, seed):
        """One WGAN draw per context row (encoded, all the context's
        columns), mapped onto the data's residuals (float64)."""
        wctx = ctx if self.inputs is None else ctx[:, self.inputs]
        r = draw(self.core, len(ctx), wctx if wctx.shape[1] else None, seed)[:, 0].astype(np.float64)
        return np.interp(r, self.drawn, self.target)

    def draw(self, col, n, ctx, seed):
        """n values of the column given the context rows ctx (decoded).
        A draw between the bounds that falls beyond the column's limits is
        drawn again (from further streams of the seed, each row from its
        own position, up to REDRAWS times, then clamped), so that the
        classifier alone decides the point masses."""
        s_masses, *s_wgan = seeds(seed, 2 + REDRAWS)
        base = line(line_features(ctx, self.pairs), self.coef[:, None])[:, 0]
        lo, hi = (b[0] for b in col.bounds_std())
        s = np.full(n, np.nan)
        for stream in s_wgan:
            value = base + self.residual(ctx, stream)
            take = np.isnan(s) & (lo <= value) & (value <= hi)
            s[take] = value[take]
            if not np.isnan(s).any():
                break
        missing = np.isnan(s)
        s[missing] = np.clip(value[missing], lo, hi)
        if self.masses is not None:
            state = np.argmax(self.masses.draw(ctx, s_masses), axis=1)
            for k, side in enumerate(self.sides, start=1):
                s[state == k] = col.standardise(getattr(col, side))
        return col.decode(s[:, None])

    @classmethod
    def _from_saved(cls, state):
        # models saved before the WGAN's inputs were chosen give it all
        return rebuild(cls, {"inputs": None, **state}, check_saved_linear)


register_object(LinearWgan)


# the line of a LinearWgan takes at most this many products of a
# categorical parent's level with a continuous parent
MAX_PAIRS = 256


def interaction_pairs(parents):
    """[categorical context column, continuous context column] for every
    level but the first of each categorical parent and every continuous
    parent, in the encoded context of the encoders `parents`: the line then
    has a slope per level (a treatment's effect may depend on the other
    parents, as in GANITE's per-arm lines); none beyond MAX_PAIRS."""
    levels, continuous, j = [], [], 0
    for c in parents:
        if c.categorical:
            levels += list(range(j + 1, j + c.width))
        else:
            continuous.append(j)
        j += c.width
    pairs = [[a, b] for a in levels for b in continuous]
    return pairs if len(pairs) <= MAX_PAIRS else []


def wgan_linear_part(model, r, ctx):
    """The linear part of a LinearWgan's mapped WGAN draws r on the context
    rows ctx, as a change of its line's coefficients: the least-squares
    line of the mapped draws on the terms of the line that involve only
    columns the WGAN takes (its products among them when the line took the
    products; zero elsewhere, and zero when there are too few rows).  The
    data's residuals have no linear part on the line's own terms; on terms
    the line left out they may (a product of two categorical parents shows
    partly as a product with a continuous one), and the WGAN keeps it."""
    d = len(model.coef) - 1 - len(model.pairs)
    taken = set(model.inputs)
    products = bool(np.any(model.coef[1 + d:]))
    terms = [0] + [1 + j for j in model.inputs] + [1 + d + k for k, (a, b) in enumerate(model.pairs)
                                                  if products and a in taken and b in taken]
    F = np.column_stack([np.ones(len(r)), line_features(ctx, model.pairs).astype(np.float64)])[:, terms]
    change = np.zeros(len(model.coef))
    if len(r) > F.shape[1]:
        change[terms] = np.linalg.lstsq(F, np.interp(r, model.drawn, model.target), rcond=None)[0]
    return change


def line_features(C, pairs):
    """The context rows C with the products `pairs` appended (float32)."""
    if not pairs:
        return C
    a, b = np.array(pairs).T
    return np.ascontiguousarray(np.concatenate([C, C[:, a] * C[:, b]], axis=1), dtype=np.float32)


# the context's columns enter the line with this weight, so that the ridge
# penalty on their slopes is 1 / MAIN_WEIGHT^2 of the products' (the data's
# linear dependence on the parents, a treatment's effect among it, is not
# shrunk towards zero; the first level column of a categorical parent keeps
# weight 1, as the intercept and the other levels determine it)
MAIN_WEIGHT = 1000.0


def main_columns(parents):
    """The context columns of the encoders `parents` but the first level
    column of each categorical parent (those the intercept and the other
    levels determine)."""
    out, j = [], 0
    for c in parents:
        out += list(range(j + 1 if c.categorical else j, j + c.width))
        j += c.width
    return out


def _loo_line(F, y, weights, stop):
    """(coef, leave-one-out mean squared error, its standard error) of the
    ridge line of y on the columns of F (penalty by exact leave-one-out
    error), each column scaled by `weights` before the fit; coef (intercept
    first) applies to the unscaled columns.  None once `stop` is set."""
    if F.shape[1] == 0:
        n = len(y)
        loo = (y - y.mean()) * (n / (n - 1.0)) ** 2 if n > 1 else np.zeros(n)
        sq = loo * (y - y.mean())
        return np.array([y.mean()]), float(sq.mean()), float(sq.std() / np.sqrt(max(n, 1)))
    out = fit_baseline_loo(np.ascontiguousarray(F * weights, dtype=np.float32), np.zeros(len(y), np.int32), y,
                           None, 1, stop)
    if out is None:
        return None
    coef, mse, se = out
    coef = coef[:, 0].copy()
    coef[1:] *= weights
    return coef, mse, se


def better(challenger, incumbent):
    """Whether a (coef, error, standard error) fit beats another by more
    than its own standard error (the simpler incumbent otherwise stays)."""
    return challenger[1] + challenger[2] < incumbent[1]


def fit_line(C, pairs, main, y, stop):
    """The line of a LinearWgan: intercept, one slope per context column of
    C, one per product of `pairs` (0 when left out), fitted by ridge with
    the penalty chosen by leave-one-out error and the context columns
    `main` nearly unpenalised (see MAIN_WEIGHT).  The products (how a categorical parent
    changes the slopes of the continuous ones: effect heterogeneity) enter
    only when their leave-one-out error beats the line without them by more
    than its standard error.  None once `stop` is set."""
    weights = np.ones(C.shape[1])
    weights[main] = MAIN_WEIGHT
    base = _loo_line(C, y, weights, stop)
    if base is None:
        return None
    coef = np.concatenate([base[0], np.zeros(len(pairs))])
    if pairs:
        full = _loo_line(line_features(C, pairs), y, np.concatenate([weights, np.ones(len(pairs))]), stop)
        if full is None:
            return None
        if better(full, base):
            coef = full[0]
    return coef


def loo_errors(F, y):
    """Each row's squared leave-one-out error of the least-squares line of
    y on the columns of F (with an intercept; a ridge of 1e-8 per row keeps
    collinear columns solvable)."""
    X = np.column_stack([np.ones(len(y)), F.astype(np.float64)])
    A = X.T @ X + 1e-8 * len(y) * np.eye(X.shape[1])
    A[0, 0] -= 1e-8 * len(y)
    P = np.linalg.solve(A, X.T)
    h = np.einsum("ij,ji->i", X, P)
    return ((y - X @ (P @ y)) / np.maximum(1.0 - h, 1e-12)) ** 2


# a categorical parent enters a LinearWgan's WGAN when its columns lower the
# leave-one-out error of the residuals' mean or spread by this many
# standard errors of the rows' paired differences
DEPENDENCE_Z = 2.0


def wgan_inputs(C, parents, e, stop):
    """The context columns of C (encoded from the encoders `parents`) that
    a LinearWgan's WGAN takes: every continuous parent's, and a
    categorical parent's only when the data show the residuals e depend on
    it: when its levels and their products with the other columns predict
    e or |e| (its spread) better, by leave-one-out error, than the other
    columns alone, by DEPENDENCE_Z standard errors of the difference.  A
    categorical parent the WGAN does not take acts through the line (and
    the point masses) alone, so that noise in a few hundred residuals does
    not become effects that vary with the other parents.  None once `stop`
    is set."""
    groups, j = [], 0
    for c in parents:
        groups.append((c, list(range(j, j + c.width))))
        j += c.width
    keep = []
    for c, cols in groups:
        if stop is not None and stop.is_set():
            return None
        if not c.categorical:
            keep += cols
            continue
        others = [k for k in range(C.shape[1]) if k not in cols]
        O = C[:, others].astype(np.float64)
        L = C[:, cols[1:]].astype(np.float64)
        W = np.concatenate([O, L] + [L[:, [a]] * O for a in range(L.shape[1])], axis=1)
        for target in (e, np.abs(e)):
            gain = loo_errors(O, target) - loo_errors(W, target)
            if gain.mean() > DEPENDENCE_Z * gain.std() / np.sqrt(len(gain)):
                keep += cols
                break
    return sorted(keep)


class JointWgan:
    """Columns without parents: one WGAN of their joint law, whose draws of
    each continuous column are mapped onto the data's law of that column.

    A draw strictly between the column's limits takes the level (the share
    of the WGAN's draws below it) it has among the WGAN's draws between the
    limits, scaled to the share of draws between them; a draw on a limit
    (clamped there) a level drawn uniformly within the share on that limit
    (from the row's own position in a stream of the seed); the value is the
    data's quantile at that level.  The WGAN thus gives the dependence
    between the columns, the data each column's law (its point masses
    included), within the range seen in fit.  A column with point-mass
    indicators (mass_at_bounds) keeps the WGAN's indicators: only its draws
    between the limits are mapped onto the data's values between them.
    `maps` holds [position of the column's value in the encoded rows,
    QUANTILES quantiles of the WGAN's draws between the limits, the data's
    QUANTILES quantiles (of all rows, or of those between the limits for a
    column with indicators), the share of draws on the lower limit, on the
    upper] per continuous column."""

    def __init__(self, core, maps):
        self.core = core
        self.maps = maps

    @classmethod
    def fit(cls, p, name, cols, X, seed, stop, bar, owner):
        """(model, WGAN history) for the encoded rows X of the encoders cols;
        None when `stop` is set."""
        s_wgan, s_calibrate = seeds(seed, 2)
        trained = _core.train(p, name, cols, X, X[:, :0], s_wgan, stop, bar, owner)
        if trained is None:
            return None
        drawn = draw(trained[0], max(CALIBRATION_ROWS, len(X)), None, s_calibrate)
        levels = np.linspace(0.0, 1.0, QUANTILES)
        maps = []
        for j, col in _continuous(cols):
            inner, low, high = _sides(col, drawn, j)
            real = X[:, j] if not col.masses else X[_sides(col, X, j)[0], j]
            if np.count_nonzero(inner) >= 2 and real.size >= 2:
                maps.append([j, np.quantile(drawn[inner, j].astype(np.float64), levels),
                             np.quantile(real.astype(np.float64), levels), float(low.mean()), float(high.mean())])
        return cls(trained[0], maps), trained[1]

    def sample(self, cols, n, seed):
        """n encoded rows (float32), each continuous column mapped."""
        s_wgan, s_levels = seeds(seed, 2)
        X = draw(self.core, n, None, s_wgan)
        by_position = dict(_continuous(cols))
        u = np.random.default_rng(s_levels).random((n, len(self.maps)))
        levels = np.linspace(0.0, 1.0, QUANTILES)
        for k, (j, drawn, target, p_low, p_high) in enumerate(self.maps):
            col = by_position[j]
            inner, low, high = _sides(col, X, j)
            if col.masses:
                X[inner, j] = np.interp(X[inner, j].astype(np.float64), drawn, target).astype(np.float32)
                continue
            level = np.empty(n)
            level[inner] = p_low + (1 - p_low - p_high) * np.interp(X[inner, j].astype(np.float64), drawn, levels)
            level[low] = p_low * u[low, k]
            level[high] = 1 - p_high * u[high, k]
            X[:, j] = np.interp(level, levels, target).astype(np.float32)
        return X

    @classmethod
    def _from_saved(cls, state):
        return rebuild(cls, state, check_saved_joint)


register_object(JointWgan)


def _continuous(cols):
    """(position of its value in the encoded rows, encoder) of each
    continuous column of cols."""
    out, j = [], 0
    for c in cols:
        if not c.categorical:
            out.append((j, c))
        j += c.width
    return out


def _sides(col, X, j):
    """Boolean rows of the encoded X for the continuous column col (its
    value at position j): strictly between its limits (and, with point-mass
    indicators, not marked as on a bound), on its lower limit, on its upper."""
    lo, hi = (np.float32(b[0]) for b in col.bounds_std())
    v = X[:, j]
    inner, low, high = (v > lo) & (v < hi), v <= lo, v >= hi
    for at, _ in col._at_bounds(X[:, j:j + col.width]):
        inner &= ~at
    return inner, low & ~inner, high & ~inner


def check_saved_joint(a):
    """Raise ValueError unless `a` holds a consistent JointWgan's attributes."""
    if set(a) != {"core", "maps"} or not isinstance(a["core"], _cgan.Wgan) or type(a["maps"]) is not list:
        raise ValueError("a saved joint WGAN must hold a WGAN core and a list of maps")
    out, ctx = dims(a["core"])
    seen = set()
    for m in a["maps"]:
        if not (type(m) is list and len(m) == 5 and type(m[0]) is int and 0 <= m[0] < out and m[0] not in seen
                and ctx == 0 and all(type(x) is float and 0 <= x <= 1 for x in m[3:]) and m[3] + m[4] <= 1):
            raise ValueError("a saved joint WGAN's maps must name distinct columns of its output, once each, "
                             "with the shares of draws on their limits")
        seen.add(m[0])
        for q in m[1:3]:
            if not (isinstance(q, np.ndarray) and q.dtype == np.float64 and q.shape == (QUANTILES,)
                    and np.all(np.isfinite(q)) and np.all(np.diff(q) >= 0)):
                raise ValueError(f"a saved joint WGAN's maps must hold {QUANTILES} finite, sorted quantiles")


def check_saved_linear(a):
    """Raise ValueError unless `a` holds a consistent LinearWgan's attributes."""
    if set(a) != {"core", "coef", "drawn", "target", "sides", "masses", "pairs", "inputs"}:
        raise ValueError("a saved line-and-WGAN model must hold core, coef, drawn, target, sides, masses, pairs "
                         "and inputs")
    if not isinstance(a["core"], _cgan.Wgan):
        raise ValueError("a saved line-and-WGAN model's core must be a WGAN core")
    out, width = dims(a["core"])
    inputs, pairs, coef = a["inputs"], a["pairs"], a["coef"]
    ctx = width
    if inputs is not None:
        if not (isinstance(coef, np.ndarray) and coef.ndim == 1 and type(pairs) is list):
            raise ValueError("a saved line-and-WGAN model's line must be a 1-d array and its pairs a list")
        ctx = len(coef) - 1 - len(pairs)
        if type(inputs) is not list or len(inputs) != width or not all(
                type(j) is int and 0 <= j < ctx for j in inputs) or inputs != sorted(set(inputs)):
            raise ValueError("a saved line-and-WGAN model's inputs must be distinct, sorted columns of its context, "
                             "one per input of its WGAN")
    if type(pairs) is not list or len(pairs) > MAX_PAIRS or not all(
            type(q) is list and len(q) == 2 and all(type(j) is int and 0 <= j < ctx for j in q) for q in pairs):
        raise ValueError("a saved line-and-WGAN model's pairs must be [column, column] pairs of its context")
    if out != 1 or not (isinstance(coef, np.ndarray) and coef.dtype == np.float64
                        and coef.shape == (ctx + 1 + len(pairs),) and np.all(np.isfinite(coef))):
        raise ValueError("a saved line-and-WGAN model's line must have one finite coefficient per context column "
                         "and an intercept")
    for key in ("drawn", "target"):
        q = a[key]
        if not (isinstance(q, np.ndarray) and q.dtype == np.float64 and q.shape == (QUANTILES,)
                and np.all(np.isfinite(q)) and np.all(np.diff(q) >= 0)):
            raise ValueError(f"a saved line-and-WGAN model's {key} must be {QUANTILES} finite, sorted quantiles")
    sides, masses = a["sides"], a["masses"]
    if sides not in ([], ["lower"], ["upper"], ["lower", "upper"]):
        raise ValueError("a saved line-and-WGAN model's sides must list 'lower' and/or 'upper'")
    if (masses is None) != (not sides) or masses is not None and not (
            type(masses) is Classifier and masses.width == len(sides) + 1 and context_width(masses) == ctx):
        raise ValueError("a saved line-and-WGAN model's point masses must be a classifier of its sides")


def check_saved_classifier(a):
    """Raise ValueError unless `a` holds a consistent classifier's attributes."""
    if set(a) != {"kind", "width", "sizes", "params", "linear", "ranges", "probs", "offset", "moments", "shift"}:
        raise ValueError("a saved classifier must hold kind, width, sizes, params, linear, ranges, probs, offset, "
                         "moments and shift")
    K = a["width"]
    if type(K) is not int or not 2 <= K <= 1 << 16:
        raise ValueError("a saved classifier's width must be an int of at least 2")
    if a["kind"] == "frequencies":
        p = a["probs"]
        if not (isinstance(p, np.ndarray) and p.shape == (K,) and p.dtype == np.float64 and np.all(p >= 0)
                and abs(p.sum() - 1) < 1e-9) or any(a[k] is not None for k in ("sizes", "params", "linear", "ranges",
                                                                                "offset", "moments", "shift")):
            raise ValueError("a saved classifier of frequencies must hold K probabilities only")
        return
    if a["kind"] not in CANDIDATES or a["probs"] is not None:
        raise ValueError(f"a saved classifier's kind must be one of {CANDIDATES + ('frequencies',)}")
    sizes, params = a["sizes"], a["params"]
    if type(sizes) is not list or len(sizes) != 2 or not all(type(s) is int and s >= 1 for s in sizes) \
            or sizes[1] != K:
        raise ValueError("a saved classifier's sizes must be [inputs, width]")
    if not (isinstance(params, np.ndarray) and params.dtype == np.float32 and params.shape == ((sizes[0] + 1) * K,)
            and np.all(np.isfinite(params))):
        raise ValueError("a saved classifier's params must be its finite float32 weights and biases")
    offset = a["offset"]
    if not (isinstance(offset, np.ndarray) and offset.dtype == np.float64 and offset.shape == (K,)
            and np.all(np.isfinite(offset))):
        raise ValueError("a saved classifier's offset must be K finite float64 values")
    linear, ranges = a["linear"], a["ranges"]
    if type(linear) is not list or type(ranges) is not list or not all(type(j) is int and j >= 0 for j in linear):
        raise ValueError("a saved classifier's spline plan must be lists")
    for r in ranges:
        if not (type(r) is list and len(r) == 3 and type(r[0]) is int and r[0] >= 0
                and all(type(x) is float and np.isfinite(x) for x in r[1:]) and r[1] < r[2]):
            raise ValueError("a saved classifier's spline ranges must be [column, lo, hi] with lo < hi")
    d = len(linear) + len(ranges) if a["kind"] == "additive" else sizes[0]
    for key, shape in (("moments", (K, d + 1)), ("shift", (d + 1, K))):
        m = a[key]
        if not (isinstance(m, np.ndarray) and m.dtype == np.float64 and m.shape == shape and np.all(np.isfinite(m))):
            raise ValueError(f"a saved classifier's {key} must be finite float64 values of shape {shape}")
    width = len(linear) + len(ranges) * (SPLINE_KNOTS + 2)
    columns = sorted(linear + [r[0] for r in ranges])
    if a["kind"] == "logistic" and (linear or ranges) or a["kind"] == "additive" and (
            not ranges or width != sizes[0] or columns != list(range(len(columns)))):
        raise ValueError("a saved classifier's spline plan does not match its inputs")


def context_width(model):
    """The context width a step's model expects."""
    if isinstance(model, LinearWgan) and model.inputs is not None:
        return len(model.coef) - 1 - len(model.pairs)
    if isinstance(model, (LinearWgan, JointWgan)):
        return dims(model.core)[1]
    if isinstance(model, Classifier):
        if model.kind == "frequencies":
            return 0
        if model.kind == "logistic":
            return model.sizes[0]
        return len(model.linear) + len(model.ranges)
    return _core.dims(model)[1]


class Chain:
    """Steps drawn in order.  steps: [(model, outputs, inputs, derived)]:
    a WGAN core or a Classifier, the labels of the columns it draws, the
    labels of the columns its context is encoded from, and the derived
    indicators among its outputs ([indicator, source, bound, level] as
    positions in outputs, see _tabular.bound_indicators).  columns maps
    every label to its Column."""

    def __init__(self, steps, columns):
        self.steps = steps
        self.columns = columns

    def draw(self, n, seed, do=None, given=None):
        """{label: values} of n units from the stream `seed`.  do maps a
        label to a function of the values drawn so far (a dict) that gives
        its n values; given maps a label to values to take instead of a
        draw (a world the call shares units with).  A step is skipped when
        do or given supplies all its columns."""
        do, given = do or {}, given or {}
        values = {}
        for (model, outputs, inputs, derived), s in zip(self.steps, seeds(seed, len(self.steps))):
            if not all(c in do or c in given for c in outputs):
                ctx = self.context(inputs, values, n)
                cols = [self.columns[c] for c in outputs]
                if isinstance(model, Classifier):
                    values.update(decode_rows(cols, model.draw(ctx, s)))
                elif isinstance(model, LinearWgan):
                    values[outputs[0]] = model.draw(cols[0], n, ctx, s)
                else:
                    values.update(self._wgan_draw(model, cols, derived, n, ctx, s))
            for c in outputs:
                if c in do:
                    values[c] = do[c](values)
                elif c in given:
                    values[c] = given[c]
        return values

    def calibrate(self, seed, n=None):
        """Fit what depends on the contexts of sampling to contexts the
        chain itself draws (steps in order, each on the draws of the steps
        before it): each classifier's moments (Classifier.match), and the
        map of each line-and-WGAN step's draws onto the data's residuals.
        A WGAN given a context can learn its training rows' residuals from
        the context alone, and then draws them faithfully on those rows but
        too narrowly on others; a classifier fitted on the data's contexts
        carries a different imbalance between its levels to synthetic ones
        (docs/design.md)."""
        n = CALIBRATION_ROWS if n is None else n
        levels = np.linspace(0.0, 1.0, QUANTILES)
        for k, ((model, outputs, inputs, _), s) in enumerate(zip(self.steps, seeds(seed, len(self.steps)))):
            classifier = model.masses if isinstance(model, LinearWgan) else model
            if not isinstance(model, LinearWgan) and not (isinstance(model, Classifier) and inputs):
                continue
            values = Chain(self.steps[:k], self.columns).draw(n, s)
            ctx = self.context(inputs, values, n)
            if classifier is not None:
                classifier.match(ctx)
            if not isinstance(model, LinearWgan):
                continue
            s_masses, s_wgan = seeds(s, 2)
            wctx = ctx if model.inputs is None else ctx[:, model.inputs]
            r = draw(model.core, n, wctx if wctx.shape[1] else None, s_wgan)[:, 0].astype(np.float64)
            if model.masses is not None:
                inner = np.argmax(model.masses.draw(ctx, s_masses), axis=1) == 0
                r, ctx = r[inner], ctx[inner]
            if r.size >= 2:
                model.drawn = np.quantile(r, levels)
            if model.inputs is not None:
                model.coef = model.coef - wgan_linear_part(model, r, ctx)

    def context(self, inputs, values, n):
        """The encoded columns `inputs` of values, (n, width) float32."""
        if not inputs:
            return np.zeros((n, 0), dtype=np.float32)
        return np.concatenate([self.columns[c].encode(values[c]) for c in inputs], axis=1).astype(np.float32)

    def _wgan_draw(self, model, cols, derived, n, ctx, seed):
        """The decoded draws of a WGAN step (a JointWgan, or a bare core in
        models saved before those existed): point masses snapped to their
        bounds, and each derived indicator set from its source column."""
        if isinstance(model, JointWgan):
            X = model.sample(cols, n, seed)
        else:
            X = draw(model, n, ctx if ctx.shape[1] else None, seed)
        parts = [block for _, block in blocks(cols, X)]
        for c, block in zip(cols, parts):
            c.snap(block)
        for i, j, bound, code in derived:
            at = cols[j].decode(parts[j]) == bound
            parts[i][:] = np.eye(2, dtype=np.float32)[np.where(at, code, 1 - code)]
        return decode_rows(cols, X)

    def nbytes(self, n):
        """About what a draw of n units allocates: every step's encoded
        output and context (float32, with a copy), its decoded columns (8
        bytes a value, with a copy), a classifier's basis and a line's
        float64 columns."""
        total = 0
        for model, outputs, inputs, _ in self.steps:
            width = sum(self.columns[c].width for c in outputs)
            ctx = sum(self.columns[c].width for c in inputs)
            classifier = model.masses if isinstance(model, LinearWgan) else model
            basis = classifier.sizes[0] if isinstance(classifier, Classifier) and classifier.sizes else 0
            # a line-and-WGAN step holds a few float64 columns on top
            extra = 8 * 4 if isinstance(model, LinearWgan) else 0
            total += 4 * 2 * (width + ctx + basis) + 8 * (2 * len(outputs) + width) + extra
        return n * total


def fit_steps(p, specs, n_jobs, owner, verbose):
    """Fit the models of a chain in parallel threads: specs holds
    (name, kind, columns, X, C, seed) for each, kind 'joint' (a JointWgan of
    the encoded columns X, without context), 'linear' (a LinearWgan; X the
    column's raw values, C the context, columns the column's encoder and
    then its parents') or 'classifier' (X the one-hot column); the result
    is [(model, history)] in order."""
    # the WGANs' networks and data, all at once
    _core.check_memory(p, [(name, 1 if kind == "linear" else X.shape[1], C.shape[1])
                           for name, kind, _, X, C, _ in specs if kind != "classifier"], len(specs[0][3]), owner)
    bar = Progress(sum(kind != "classifier" for _, kind, *_ in specs) * p["n_iter"], owner, bool(verbose))
    stop = Stop()

    def task(i):
        name, kind, cols, X, C, seed = specs[i]
        if kind == "linear":
            return LinearWgan.fit(p, name, cols[0], X, C, seed, stop, bar, owner, cols[1:])
        if kind == "joint":
            return JointWgan.fit(p, name, cols, X, seed, stop, bar, owner)
        return Classifier.fit(C, np.argmax(X, axis=1), X.shape[1], seed)

    try:
        return map_threads(task, len(specs), effective_jobs(n_jobs, len(specs)), stop)
    finally:
        bar.close()


def monte_carlo(n, seed, piece):
    """(sum, count) over n units drawn MC_ROWS at a time: piece(rows, seed)
    returns the (sum, count) of one piece; the first piece is drawn from
    `seed` itself, so that up to MC_ROWS units give the draw that a single
    call with that seed gives."""
    total, count = 0.0, 0
    for i, start in enumerate(range(0, n, MC_ROWS)):
        s = seed if i == 0 else int(np.random.SeedSequence([seed, i]).generate_state(1, np.uint64)[0])
        part, k = piece(min(MC_ROWS, n - start), s)
        total += part
        count += k
    return total, count


def next_seed(model):
    """The seed of the next draw from a synthesizer's own stream, which
    moves on, so that successive calls without a seed differ (the caller
    holds the write lock)."""
    seed = model._sample_seed
    model._sample_seed = seeds(seed, 4)[3]
    return seed
