"""GANITE's per-arm linear baseline: the ridge lines, their GCV penalty, and
what the networks learn around them."""
import os
import sys
import warnings

import numpy as np
import pytest

import cgan
from cgan import GANITE
from cgan import _baseline
from cgan._baseline import RIDGE_GRID as _RIDGE_GRID, fit_baseline as _fit_baseline
from cgan._inference import stratified_folds as _stratified_folds

sys.path.insert(0, os.path.dirname(__file__))
import fuzzing  # noqa: E402

FAST = dict(hidden_size=32, n_iter=300, batch_size=64, n_estimators=3)


def _design(A):
    D = np.c_[np.ones(len(A)), A]
    pen = np.eye(D.shape[1])
    pen[0, 0] = 0
    return D, pen


def _gcv_penalty(A, z):
    """The GCV choice over _RIDGE_GRID, per unit of the rows, with the hat
    matrix formed explicitly."""
    D, pen = _design(A)
    W = len(z)
    best = None
    for g in _RIDGE_GRID:
        H = D @ np.linalg.solve(D.T @ D + W * g * pen, D.T)
        df = np.trace(H)
        if df >= W - 1:
            continue
        gcv = np.mean((z - H @ z) ** 2) / (1 - df / W) ** 2
        if best is None or gcv < best[0]:
            best = (gcv, g)
    return _RIDGE_GRID[-1] if best is None else best[1]


def _reference_ridge(A, z, w):
    """Ridge with an unpenalised intercept: the penalty chosen by GCV on the
    distinct rows (w > 0), the line fitted with each row repeated w times."""
    g = _gcv_penalty(A[w > 0], z[w > 0])
    D, pen = _design(np.repeat(A, w, axis=0))
    zr = np.repeat(z, w)
    return np.linalg.solve(D.T @ D + len(zr) * g * pen, D.T @ zr)


def test_fit_baseline_matches_the_textbook_ridge_per_arm(monkeypatch):
    rng = np.random.default_rng(0)
    n, d, K = 150, 4, 3
    Z = rng.normal(size=(n, d)).astype(np.float32)
    codes = rng.integers(0, K, n)
    y = (Z @ [1.0, -2.0, 0.0, 0.3] + 3 * codes + rng.normal(size=n)).astype(np.float32)
    rows = rng.integers(0, n, 2 * n)  # repeats, as a bootstrap resample has
    # blocks of 16 rows exercise the accumulation across blocks
    monkeypatch.setattr(_baseline, "_block_rows", lambda d: 16)
    for subset in (None, rows):
        coef = _fit_baseline(Z, codes, y, subset, K)
        w = np.ones(n, int) if subset is None else np.bincount(subset, minlength=n)
        for k in range(K):
            arm = codes == k
            ref = _reference_ridge(Z[arm].astype(np.float64), y[arm].astype(np.float64), w[arm])
            np.testing.assert_allclose(coef[:, k], ref, rtol=1e-7, atol=1e-9)


def test_fit_baseline_shrinks_noise_and_keeps_signal():
    rng = np.random.default_rng(1)
    n = 400
    Z = rng.normal(size=(n, 3)).astype(np.float32)
    codes = np.zeros(n, int)
    codes[: n // 2] = 1
    noise = rng.normal(size=n)
    # arm 0: a strong line; arm 1: noise around 5
    y = np.where(codes == 0, 2 + Z[:, 0] * 4.0, 5 + noise).astype(np.float32)
    coef = _fit_baseline(Z, codes, y, None, 2)
    assert coef[1, 0] == pytest.approx(4.0, rel=1e-4) and coef[0, 0] == pytest.approx(2.0, abs=1e-4)
    # on the noise arm GCV picks a heavy penalty, which shrinks the slopes
    # to a fraction of least squares' (standard errors about 0.07 each)
    arm = codes == 1
    ols = np.linalg.lstsq(np.c_[np.ones(arm.sum()), Z[arm]], y[arm], rcond=None)[0]
    assert _gcv_penalty(Z[arm].astype(np.float64), y[arm].astype(np.float64)) >= 0.1
    assert np.linalg.norm(coef[1:, 1]) < 0.75 * np.linalg.norm(ols[1:])
    assert coef[0, 1] == pytest.approx(np.mean(y[arm]), abs=0.1)


def test_fit_baseline_with_arms_of_too_few_rows():
    rng = np.random.default_rng(7)
    Z = rng.normal(size=(6, 2)).astype(np.float32)
    Z[:, 1] = 0  # a constant column, as standardising leaves one
    codes = np.array([0, 0, 0, 0, 1, 1])
    y = np.array([1, 2, 3, 4, 7, 9], dtype=np.float32)
    coef = _fit_baseline(Z, codes, y, None, 3)
    # four rows: a line, where the guard df < W - 1 rules out the lightest penalties
    ref = _reference_ridge(Z[:4].astype(np.float64), y[:4].astype(np.float64), np.ones(4, int))
    np.testing.assert_allclose(coef[:, 0], ref, rtol=1e-7, atol=1e-9)
    # two rows: their mean as the intercept; no row: zero
    assert coef[0, 1] == 8 and not np.any(coef[1:, 1])
    assert not np.any(coef[:, 2])
    # one distinct row of arm 0 copied five times is still one row: its
    # outcome, with no slope (copies do not make a line)
    coef = _fit_baseline(Z, codes, y, np.array([0, 0, 0, 0, 0, 4, 5]), 2)
    assert coef[0, 0] == 1 and not np.any(coef[1:, 0])
    assert np.all(np.isfinite(coef))


def test_linear_baseline_extrapolates_linear_effects():
    # effects linear in x0, with a steep control surface; the test rows lie
    # beyond the training range, where networks alone flatten out
    rng = np.random.default_rng(2)
    n = 800
    X = rng.uniform(-1, 1, size=(n, 3))
    t = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    y = 6 * X[:, 0] + t * (1 + 2 * X[:, 0]) + 0.5 * rng.normal(size=n)
    Xn = np.c_[np.linspace(1.5, 2.0, 20), np.zeros((20, 2))]
    tau = 1 + 2 * Xn[:, 0]
    # the networks' own effects: a linear effect model would extrapolate along a line either way
    err = {b: np.abs(GANITE(baseline=b, effect_model="plugin", random_state=0, **FAST).fit(y, t, X=X).effect(Xn)
                     - tau).max() for b in ("linear", "none")}
    # the lines' effect slope has a standard error near 0.5 / sqrt(n/2 *
    # var(x0)) / 0.58 ~ 0.05, so at x0 = 2 the line alone errs by ~0.2
    # at 2 s.e.; the networks' residual adds less than that
    assert err["linear"] < 0.5, err
    assert err["none"] > err["linear"], err


def test_baseline_none_and_binary_outcomes_fit_no_line():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 2))
    t = rng.integers(0, 2, 300)
    y = X[:, 0] + t + rng.normal(size=300)
    fit = dict(FAST, n_iter=20)
    assert not np.any(GANITE(baseline="none", random_state=0, **fit).fit(y, t, X=X)._baseline)
    assert np.any(GANITE(random_state=0, **fit).fit(y, t, X=X)._baseline)
    binary = (y > 0.5).astype(int)
    model = GANITE(random_state=0, **fit).fit(binary, t, X=X)
    assert model.outcome_type_ == "binary" and not np.any(model._baseline)


def test_cross_fitted_predictions_come_from_lines_fitted_without_the_row():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 2))
    t = rng.integers(0, 2, 300)
    y = 3 * X[:, 0] + t + rng.normal(size=300)
    model = GANITE(random_state=0, **dict(FAST, n_iter=20)).fit(y, t, X=X)
    # three members, three different lines, each from its own two folds
    assert model._baseline.shape == (3, 3, 2)
    assert not np.allclose(model._baseline[0], model._baseline[1])
    # member m's lines come from the rows outside fold m, and fold m's rows
    # are predicted by member m: the folds fit draws (its last seed)
    seed = np.random.SeedSequence(0).generate_state(4, np.uint64)[3]
    fold = _stratified_folds(t, 3, int(seed))
    Z = model._checked_X(X)
    y32 = y.astype(np.float32)
    for m, member in enumerate(model._members()):
        np.testing.assert_array_equal(model._baseline[m], _fit_baseline(Z, t, y32, np.flatnonzero(fold != m), 2))
        held = fold == m
        np.testing.assert_allclose(member.predict(Z[held]), model._mu_oof[held], rtol=1e-12)


def test_invalid_baseline_values():
    X = np.random.default_rng(0).normal(size=(300, 2))
    t = np.arange(300) % 2
    for value, exc in (("quadratic", ValueError), ("", ValueError), (1, TypeError), (None, TypeError)):
        with pytest.raises(exc, match="baseline"):
            GANITE(baseline=value).fit(X[:, 0], t, X=X)


def test_models_saved_before_the_baseline_load_without_lines():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 2))
    t = np.arange(200) % 2
    y = X[:, 0] + t + rng.normal(size=200)
    model = GANITE(baseline="none", random_state=0, **dict(FAST, n_iter=10, n_estimators=2)).fit(y, t, X=X)
    old = fuzzing.legacy(model, params=["baseline"], state=["_baseline"])
    assert old.baseline == "none" and not hasattr(old, "_baseline")
    assert np.array_equal(old.predict(X), model.predict(X))
    assert np.array_equal(old.sample(X[:20], 3, 5), model.sample(X[:20], 3, 5))


def test_saved_lines_are_checked():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(200, 2))
    t = np.arange(200) % 2
    y = X[:, 0] + t + rng.normal(size=200)
    model = GANITE(random_state=0, **dict(FAST, n_iter=10, n_estimators=2)).fit(y, t, X=X)
    twin = cgan.loads(model.dumps())
    assert np.array_equal(twin._baseline, model._baseline)
    assert np.array_equal(twin.predict(X), model.predict(X))
    for bad in (model._baseline[:, :2], np.full_like(model._baseline, np.nan)):
        model_bad = cgan.loads(model.dumps())
        model_bad._baseline = bad
        with pytest.raises(ValueError, match="_baseline"):
            cgan.loads(model_bad.dumps())


def test_lines_are_fitted_on_the_log_scale_when_the_networks_are():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(400, 2))
    t = np.arange(400) % 2
    y = np.exp(1 + 0.8 * X[:, 0] + 0.3 * t + 0.3 * rng.normal(size=400))
    model = GANITE(outcome_transform="log", random_state=0, **dict(FAST, n_iter=20)).fit(y, t, X=X)
    # the slope of x0 is 0.8 per unit of x0, so 0.8 sd(x0) on the standardised scale
    slopes = model._baseline[:, 1, :] / np.std(X[:, 0])
    np.testing.assert_allclose(slopes, 0.8, atol=0.1)
    assert np.all(model.predict(X) > 0)


def test_draws_from_the_arms_alone_follow_the_lines():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(600, 2))
    t = np.arange(600) % 2
    y = 10 * X[:, 0] + 3 * t + rng.normal(size=600)
    model = GANITE(random_state=0, **FAST).fit(y, t, X=X)
    draws = model.sample(X, 20, random_state=1, T=t)
    gap = draws.mean(0) - model.predict(X)
    # the anchors scatter by the residual sd (about 1) around the lines,
    # which carry the slope of 10: their average sits on predict
    assert abs(gap.mean()) < 0.2 and np.sqrt(np.mean(gap ** 2)) < 1.0


def test_bootstrap_replicates_fit_their_own_lines(monkeypatch):
    rng = np.random.default_rng(10)
    X = rng.normal(size=(300, 2))
    t = np.arange(300) % 2
    y = 2 * X[:, 0] + t + rng.normal(size=300)
    # the networks' own effects: replicates of a parametric effect model refit no member
    model = GANITE(effect_model="plugin", random_state=0, **dict(FAST, n_iter=20)).fit(y, t, X=X)
    calls = []
    real = _baseline.fit_baseline

    def spy(Z, codes, y, rows, K, stop=None, log_arms=()):
        calls.append(rows)
        return real(Z, codes, y, rows, K, stop, log_arms)

    monkeypatch.setattr(_baseline, "fit_baseline", spy)
    lo, hi = model.effect_interval(X[:5], n_bootstrap=3, random_state=0)
    assert len(calls) == 3 and all(len(r) == 300 and len(np.unique(r)) < 300 for r in calls)
    assert np.all(lo <= hi)


def test_saved_lines_must_fit_the_model():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(200, 2))
    t = np.arange(200) % 2
    y = X[:, 0] + t + rng.normal(size=200)
    fast = dict(FAST, n_iter=10, n_estimators=2)
    model = GANITE(random_state=0, **fast).fit(y, t, X=X)
    model._baseline = model._baseline[:1]  # one member's lines for two members
    with pytest.raises(ValueError, match="_baseline"):
        cgan.loads(model.dumps())
    binary = GANITE(random_state=0, **fast).fit((y > 0.5).astype(int), t, X=X)
    binary._baseline = binary._baseline + 1.0
    with pytest.raises(ValueError, match="zero for a binary outcome"):
        cgan.loads(binary.dumps())
    huge = GANITE(random_state=0, **fast).fit(y, t, X=X)
    huge._baseline = huge._baseline * 1e307
    with pytest.raises(ValueError, match="non-finite"):
        cgan.loads(huge.dumps()).predict(X * 100)


def test_arm_moments_checks_its_arguments():
    from cgan import _cgan
    X = np.zeros((4, 2), dtype=np.float32)
    T, Y = np.array([0, 1, 0, 1]), np.ones(4)
    gram, cross, sq = _cgan.arm_moments(X, T, Y, 2, weights=[1, 0, 2, 1])
    assert gram.shape == (2, 3, 3) and cross.shape == (2, 3) and sq.shape == (2,)
    assert gram[0, 0, 0] == 3 and gram[1, 0, 0] == 1 and sq.tolist() == [3.0, 1.0]
    for kwargs, exc, match in (
            (dict(T=[0, 2, 0, 1]), ValueError, "T must lie in"),
            (dict(Y=np.ones(3)), ValueError, "Y has 3 entries"),
            (dict(Y=[1, 1, np.nan, 1]), ValueError, "Y"),
            (dict(weights=[1, -1, 1, 1]), ValueError, "negative"),
            (dict(weights=[1, 1, 1]), ValueError, "weights must be 1-dimensional"),
            (dict(weights=["a"] * 4), TypeError, "weights"),
            (dict(n_arms=0), ValueError, "n_arms"),
            (dict(X=np.zeros((4, 2), dtype=complex)), TypeError, "X")):
        args = dict(X=X, T=T, Y=Y, n_arms=2)
        args.update(kwargs)
        with pytest.raises(exc, match=match):
            _cgan.arm_moments(args.pop("X"), args.pop("T"), args.pop("Y"), args.pop("n_arms"), **args)


def test_data_too_wide_for_the_lines_fit_none(monkeypatch):
    monkeypatch.setattr(_baseline, "BASELINE_BYTES", 8 * 2 * 3 ** 2 - 1)  # two covariates no longer fit
    rng = np.random.default_rng(13)
    X = rng.normal(size=(200, 2))
    t = np.arange(200) % 2
    y = X[:, 0] + t + rng.normal(size=200)
    model = GANITE(random_state=0, **dict(FAST, n_iter=10, n_estimators=2)).fit(y, t, X=X)
    assert not np.any(model._baseline)


def _weighted_gcv_ridge(A, z, v):
    """Ridge of z on [1, A] with weights v and an unpenalised intercept, the
    penalty chosen from _RIDGE_GRID (per unit of the total weight W) by the
    weighted GCV rss / W / (1 - df / W)^2, hat matrix formed explicitly."""
    D, pen = _design(A)
    W = v.sum()
    Dw, zw = D * np.sqrt(v)[:, None], z * np.sqrt(v)
    best = None
    for g in _RIDGE_GRID:
        M = np.linalg.solve(Dw.T @ Dw + W * g * pen, Dw.T)
        H = Dw @ M
        df = np.trace(H)
        if df >= W - 1:
            continue
        gcv = np.sum((zw - H @ zw) ** 2) / W / (1 - df / W) ** 2
        if best is None or gcv < best[0]:
            best = (gcv, M @ zw)
    return best[1]


def _reference_log_link(A, y):
    """Iteratively reweighted least squares for E[y | a] = exp([1, a] b):
    weighted GCV ridge steps on the working outcome, from the ridge line of
    log(y) (y raised to the 5% quantile of the positive values)."""
    floor = np.quantile(y[y > 0], 0.05)
    b = _weighted_gcv_ridge(A, np.log(np.maximum(y, floor)), np.ones(len(y)))
    for _ in range(_baseline.LOG_LINK_STEPS):
        eta = b[0] + A @ b[1:]
        mu = np.exp(eta)
        v = mu ** 2 / np.mean(mu ** 2)
        new = _weighted_gcv_ridge(A, eta + (y - mu) / mu, v)
        change = np.max(np.abs(new - b)) / (1 + np.max(np.abs(b)))
        b = new
        if change < _baseline.LOG_LINK_TOL:
            break
    return b


def test_log_link_matches_the_textbook_irls_per_arm():
    rng = np.random.default_rng(11)
    n, d = 240, 3
    Z = rng.normal(size=(n, d)).astype(np.float32)
    codes = rng.integers(0, 2, n)
    mean = np.where(codes == 0, np.exp(1.0 + Z @ [0.6, -0.3, 0.0]), 2 + Z[:, 0])
    y = (mean + 0.5 * rng.normal(size=n)).astype(np.float32)
    coef = _fit_baseline(Z, codes, y, None, 2, log_arms=(0,))
    arm = codes == 0
    ref = _reference_log_link(Z[arm].astype(np.float64), y[arm].astype(np.float64))
    np.testing.assert_allclose(coef[:, 0], ref, rtol=1e-6, atol=1e-8)
    # arm 1 keeps its ridge line
    np.testing.assert_array_equal(coef[:, 1], _fit_baseline(Z, codes, y, None, 2)[:, 1])
    np.testing.assert_allclose(coef[:, 0], [1.0, 0.6, -0.3, 0.0], atol=0.05)
    line = _baseline.line(Z, coef, (0,))
    np.testing.assert_allclose(line[:, 0], np.exp(coef[0, 0] + Z.astype(np.float64) @ coef[1:, 0]))


def test_links_are_chosen_by_held_out_error_per_arm():
    rng = np.random.default_rng(12)
    n = 900
    Z = rng.normal(size=(n, 3)).astype(np.float32)
    codes = rng.integers(0, 2, n)
    mean = np.where(codes == 0, np.exp(1.5 + 0.8 * Z[:, 0]), 1 + 2 * Z[:, 1])
    y = (mean + rng.normal(size=n)).astype(np.float32)
    fold = _stratified_folds(codes, 5, 0)
    assert _baseline.choose_links(Z, codes, y, fold, 2) == (0,)
    # an arm with too few positive outcomes does not compete
    y_neg = np.where(codes == 0, -np.abs(y), y).astype(np.float32)
    assert 0 not in _baseline.choose_links(Z, codes, y_neg, fold, 2)
    with pytest.raises(ValueError, match="positive"):
        _fit_baseline(Z, codes, y_neg, None, 2, log_arms=(0,))


def test_ganite_takes_a_log_link_where_the_outcome_is_exponential():
    rng = np.random.default_rng(13)
    n = 700
    X = rng.normal(size=(n, 3))
    t = (rng.random(n) < 0.4).astype(int)
    mu0, mu1 = np.exp(1.0 + 0.8 * X[:, 0]), 3 + X[:, 0]
    y = np.where(t == 1, mu1, mu0) + rng.normal(size=n)
    fit = dict(FAST, n_iter=100, outcome_transform="none")
    model = GANITE(random_state=0, **fit).fit(y, t, X=X)
    assert model.baseline_link_[0] == "log"
    linear = GANITE(baseline="linear", random_state=0, **fit).fit(y, t, X=X)
    assert list(linear.baseline_link_) == ["identity", "identity"]
    assert model.oof_score_ > linear.oof_score_
    twin = cgan.loads(model.dumps())
    assert np.array_equal(twin.predict(X), model.predict(X)) and list(twin.baseline_link_) == list(model.baseline_link_)
    broken = cgan.loads(model.dumps())
    broken.baseline_link_ = np.array(["log", "cubic"])
    with pytest.raises(ValueError, match="baseline_link_"):
        cgan.loads(broken.dumps())


def test_log_link_weights_survive_an_overflowing_mean():
    # IHDP covariates with an outcome of mean zero and wide noise: in one
    # fold the log link's iterations reach eta > 355, where mu^2 overflowed
    # and the weights became NaN (a ValueError from the moments)
    from cgan.datasets import load_ihdp

    data = load_ihdp()
    X = np.asarray(data.X, dtype=np.float64)
    T = np.asarray(data.T).astype(int)
    n, d = X.shape
    rng = np.random.default_rng([3, 3])
    b = rng.normal(0, 0.5, d) / np.sqrt(d)
    rng.normal(0, 0.5, d)  # the draw the design spends on an effect it does not use
    mu = X @ b * 2
    e = rng.normal(size=(1, n, 2))
    Y = np.stack([mu + e[0, :, 0], mu + 3 * e[0, :, 1]], -1)[np.arange(n), T]
    test = np.zeros(n, bool)
    test[rng.choice(n, n // 5, replace=False)] = True
    model = cgan.GANITE(n_iter=1, n_estimators=3, beta=10.0, random_state=3007)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the overlap warning
        model.fit(Y[~test], T[~test], X=X[~test])
    assert np.all(np.isfinite(model.predict(X[test])))
