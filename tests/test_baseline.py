"""GANITE's per-arm linear baseline: the ridge lines, their GCV penalty, and
what the networks learn around them."""
import os
import sys

import numpy as np
import pytest

import cgan
from cgan import GANITE
from cgan import _ganite
from cgan._ganite import _RIDGE_GRID, _fit_baseline

sys.path.insert(0, os.path.dirname(__file__))
import fuzzing  # noqa: E402

FAST = dict(hidden_size=32, n_iter=300, batch_size=64, n_estimators=3)


def _reference_ridge(A, z, w):
    """Weighted ridge with an unpenalised intercept, penalty by GCV over
    _RIDGE_GRID: the textbook formulas, with the hat matrix formed
    explicitly (rows repeated `w` times)."""
    A, z = np.repeat(A, w, axis=0), np.repeat(z, w)
    W, p = len(z), A.shape[1]
    D = np.c_[np.ones(W), A]
    pen = np.eye(p + 1)
    pen[0, 0] = 0
    best = None
    for g in _RIDGE_GRID:
        H = D @ np.linalg.solve(D.T @ D + W * g * pen, D.T)
        df = np.trace(H)
        if df >= W - 1:
            continue
        gcv = np.mean((z - H @ z) ** 2) / (1 - df / W) ** 2
        if best is None or gcv < best[0]:
            best = (gcv, g)
    return np.linalg.solve(D.T @ D + W * best[1] * pen, D.T @ z)


def test_fit_baseline_matches_the_textbook_ridge_per_arm(monkeypatch):
    rng = np.random.default_rng(0)
    n, d, K = 150, 4, 3
    Z = rng.normal(size=(n, d)).astype(np.float32)
    codes = rng.integers(0, K, n)
    y = (Z @ [1.0, -2.0, 0.0, 0.3] + 3 * codes + rng.normal(size=n)).astype(np.float32)
    rows = rng.integers(0, n, 2 * n)  # repeats, as a bootstrap resample has
    # blocks of 16 rows exercise the accumulation across blocks
    monkeypatch.setattr(_ganite, "_ROWS_PER_PASS", 16)
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
    # ridge shrinks the noise arm's slopes below least squares' (whose
    # standard errors are about 1 / sqrt(200) = 0.07 each)
    arm = codes == 1
    ols = np.linalg.lstsq(np.c_[np.ones(arm.sum()), Z[arm]], y[arm], rcond=None)[0]
    assert np.linalg.norm(coef[1:, 1]) <= np.linalg.norm(ols[1:]) and np.linalg.norm(coef[1:, 1]) < 0.3
    assert coef[0, 1] == pytest.approx(np.mean(y[arm]), abs=0.1)


def test_fit_baseline_with_arms_of_too_few_rows():
    Z = np.arange(10, dtype=np.float32).reshape(5, 2)
    codes = np.array([0, 0, 0, 0, 1])
    y = np.array([1, 2, 3, 4, 7], dtype=np.float32)
    coef = _fit_baseline(Z, codes, y, None, 3)
    # one row: its outcome as the intercept; no row: zero
    assert coef[0, 1] == 7 and not np.any(coef[1:, 1])
    assert not np.any(coef[:, 2])
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
    err = {b: np.abs(GANITE(baseline=b, random_state=0, **FAST).fit(y, t, X=X).effect(Xn) - tau).max()
           for b in ("linear", "none")}
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
    members = model._members()
    Z = model._checked_X(X)
    hits = 0
    for m, member in enumerate(members):
        pred = member.predict(Z)
        hits += np.count_nonzero(np.all(np.isclose(pred, model._mu_oof), axis=1))
    assert hits == len(y)  # every row's cross-fitted prediction is exactly one member's


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
    header, blobs = fuzzing.split(cgan._persist.dumps(model))
    del header["params"]["baseline"], header["state"]["_baseline"]
    old = cgan.loads(fuzzing.build(header, blobs))
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
