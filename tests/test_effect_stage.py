"""The effect stage (cgan._effect_stage): ridge on the R-loss against the
hat-matrix formulas, the choice of effect model against known effects and
oracle nuisances, and GANITE's effect_model and beta='auto'."""
import os
import sys

import numpy as np
import pytest

import cgan
from cgan import GANITE
from cgan import _effect_stage as stage

sys.path.insert(0, os.path.dirname(__file__))
import fuzzing  # noqa: E402

FAST = dict(hidden_size=32, n_iter=60, batch_size=64, n_estimators=3)


def _reference_ridge(D, r, free):
    """Ridge of r on D with the columns in `free` unpenalised, the penalty
    chosen by GCV over stage.RIDGE_GRID times the mean eigenvalue of the
    penalised block after the free columns are projected out; the hat
    matrix is formed explicitly."""
    n = len(r)
    F, P = D[:, free], D[:, ~free]
    Pp = P - F @ np.linalg.lstsq(F, P, rcond=None)[0]
    scale = np.mean(np.linalg.eigvalsh(Pp.T @ Pp))
    pen = np.diag((~free).astype(float))
    best = None
    for lam in scale * stage.RIDGE_GRID:
        M = np.linalg.solve(D.T @ D + lam * pen, D.T)
        H = D @ M
        df = np.trace(H)
        if df >= n - 1:
            continue
        gcv = np.mean((r - H @ r) ** 2) / (1 - df / n) ** 2
        if best is None or gcv < best[0]:
            best = (gcv, M @ r)
    return best[1]


def test_ridge_matches_the_hat_matrix_formulas():
    rng = np.random.default_rng(0)
    n, q = 90, 7
    D = rng.normal(size=(n, q))
    D[:, 0] = 1.0
    r = D @ rng.normal(size=q) * 0.3 + rng.normal(size=n)
    free = np.zeros(q, dtype=bool)
    free[[0, 4]] = True
    coef = stage.ridge(D.T @ D, D.T @ r, r @ r, n, free)
    np.testing.assert_allclose(coef, _reference_ridge(D, r, free), rtol=1e-8, atol=1e-10)
    # with every column free it is least squares
    np.testing.assert_allclose(stage.ridge(D.T @ D, D.T @ r, r @ r, n, np.ones(q, dtype=bool)),
                               np.linalg.lstsq(D, r, rcond=None)[0], rtol=1e-8)


def _oracle(n=3000, K=2, tau=lambda X: 1 + 0.5 * X[:, 1], seed=1):
    """Rows of a design with known effects, and the true potential outcomes
    and propensities (the oracle nuisances)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    logits = np.column_stack([np.zeros(n)] + [0.6 * k * X[:, 0] for k in range(1, K)])
    e = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    codes = np.minimum((rng.random((n, 1)) > np.cumsum(e, axis=1)).sum(axis=1), K - 1)
    mu = np.column_stack([X[:, 0] + np.sin(X[:, 2]) + k * tau(X) for k in range(K)])
    y = mu[np.arange(n), codes] + rng.normal(size=n)
    fold = rng.integers(0, 5, n)
    return X, codes, y, mu, e, fold


def test_the_plugin_r_loss_is_the_factual_error():
    for K in (2, 3):
        X, codes, y, mu, e, fold = _oracle(n=500, K=K)
        noisy = mu + np.random.default_rng(K).normal(size=mu.shape)
        _, _, _, losses = stage.choose(X, noisy, e, codes, y, fold, ("plugin",))
        assert losses["plugin"].mean() == pytest.approx(np.mean((y - noisy[np.arange(len(y)), codes]) ** 2), rel=1e-12)


def test_a_linear_effect_is_recovered_from_oracle_nuisances():
    X, codes, y, mu, e, fold = _oracle(n=8000)
    model, coef, _, losses = stage.choose(X, mu, e, codes, y, fold, ("constant", "linear"))
    assert model == "linear" and losses["linear"].mean() < losses["constant"].mean()
    # the slopes' standard errors are about 0.025
    np.testing.assert_allclose(coef[0], [1.0, 0.0, 0.5, 0.0, 0.0], atol=0.08)


def test_a_constant_effect_gets_flat_effects():
    X, codes, y, mu, e, fold = _oracle(tau=lambda X: np.full(len(X), 2.0))
    model, coef, splines, _ = stage.choose(X, mu, e, codes, y, fold, ("constant", "linear", "additive"))
    tau = stage.effects(stage.features(X, model, splines), coef, 2)
    # the intercept's standard error is about 0.04
    assert np.sqrt(np.mean((tau - 2.0) ** 2)) < 0.12


def test_three_arms_get_an_effect_each():
    X, codes, y, mu, e, fold = _oracle(n=8000, K=3)
    model, coef, _, _ = stage.choose(X, mu, e, codes, y, fold, ("linear",))
    # arm k's effect against arm 0 is k (1 + 0.5 x1)
    np.testing.assert_allclose(coef[:, :3], [[1.0, 0.0, 0.5], [2.0, 0.0, 1.0]], atol=0.12)


def test_cross_fitted_losses_refit_without_each_fold():
    X, codes, y, mu, e, fold = _oracle(n=600)
    noisy = mu + np.random.default_rng(3).normal(scale=0.3, size=mu.shape)
    splines = stage.spline_range(X)
    _, _, _, losses = stage.choose(X, noisy, e, codes, y, fold, ("linear", "additive"))
    residual, contrast = stage.r_terms(noisy, e, codes, y)
    for model in ("linear", "additive"):
        error = 0.0
        for f in range(5):
            train, held = fold != f, fold == f
            coef = stage.fit(X[train], noisy[train], e[train], codes[train], y[train], model, splines)
            tau = stage.effects(stage.features(X[held], model, splines), coef, 2)
            error += np.sum((residual[held] - contrast[held, 0] * tau[:, 0]) ** 2)
        assert losses[model].mean() == pytest.approx(error / len(y), rel=1e-9)


def test_the_one_standard_error_rule_keeps_the_simplest_close_candidate():
    rng = np.random.default_rng(6)
    n = 400
    base = rng.exponential(size=n)
    noise = rng.normal(size=n)
    # 'linear' is better than 'constant' by far less than a standard error
    # of the paired difference, 'additive' by far more
    close = {"constant": base + 0.01 + 0.5 * noise, "linear": base}
    assert stage.pick(close, "min") == "linear" and stage.pick(close, "1se") == "constant"
    far = {"constant": base + 1.0 + 0.1 * noise, "linear": base}
    assert stage.pick(far, "1se") == "linear"
    # the lowest mean, the first of equals
    tied = {"constant": base, "linear": base.copy()}
    assert stage.pick(tied, "min") == stage.pick(tied, "1se") == "constant"


def test_features_add_splines_of_the_continuous_columns_only():
    rng = np.random.default_rng(4)
    X = np.column_stack([rng.normal(size=200), rng.integers(0, 2, 200), rng.uniform(size=200)])
    splines = stage.spline_range(X)
    assert splines[:, 0].tolist() == [0.0, 2.0]
    assert stage.features(X, "constant", splines).shape == (200, 0)
    assert stage.features(X, "linear", splines).shape == (200, 3)
    F = stage.features(X, "additive", splines)
    assert F.shape == (200, 3 + 2 * (stage.SPLINE_KNOTS + 2))
    np.testing.assert_allclose(F[:, 3:3 + stage.SPLINE_KNOTS + 2].sum(axis=1), 1.0)


def _ganite_data(n=600, seed=5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    t = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    tau = 1 + 0.5 * X[:, 1]
    y = X[:, 0] + np.sin(X[:, 2]) + t * tau + rng.normal(size=n)
    return X, t, y, tau


def _plugin_r_losses(models, reference):
    """Each model's cross-fitted contrasts scored by the R-loss whose outcome
    model and propensities are those of `reference` (mean per model)."""
    residual, contrast = stage.r_terms(reference._mu_oof, reference.propensity_fit_, reference._codes_fit,
                                       reference._y_fit)
    return {b: float(np.mean((residual - contrast[:, 0] * (m._mu_oof[:, 1] - m._mu_oof[:, 0])) ** 2))
            for b, m in models.items()}


def test_beta_auto_keeps_the_beta_whose_effects_have_the_lowest_r_loss():
    X, t, y, _ = _ganite_data()
    fixed = {b: GANITE(beta=b, effect_model="plugin", random_state=0, **FAST).fit(y, t, X=X)
             for b in cgan._ganite.selection.BETA_GRID}
    # the propensities do not depend on beta
    for m in fixed.values():
        np.testing.assert_array_equal(m.propensity_fit_, fixed[1.0].propensity_fit_)
    # the best predictor of the held-out outcomes gives the R-loss its outcome model
    predictor = max(fixed, key=lambda b: fixed[b].oof_score_)
    losses = _plugin_r_losses(fixed, fixed[predictor])
    best = min(losses, key=losses.get)
    auto = GANITE(effect_model="plugin", random_state=0, **FAST).fit(y, t, X=X)
    assert auto.beta_ == best
    # the fixed-beta fit trains the same counterfactual block and I from the same start
    assert np.array_equal(auto._mu_oof, fixed[best]._mu_oof)
    np.testing.assert_array_equal(auto.effect(X), fixed[best].effect(X))
    # with every effect model competing, a parametric winner keeps the best predictor's members
    both = GANITE(random_state=0, **FAST).fit(y, t, X=X)
    if both.effect_model_ == "plugin":
        assert both.beta_ == best
    else:
        assert both.beta_ == predictor
        assert np.array_equal(both._mu_oof, fixed[predictor]._mu_oof)


def test_a_binary_outcome_takes_the_fixed_weight_and_the_networks_contrasts():
    X, t, y, _ = _ganite_data(n=400)
    yb = (y > np.median(y)).astype(float)
    auto = GANITE(random_state=0, **FAST).fit(yb, t, X=X)
    assert auto.beta_ == cgan._ganite.selection.BINARY_BETA and auto.effect_model_ == "plugin"
    fixed = GANITE(beta=cgan._ganite.selection.BINARY_BETA, effect_model="plugin", random_state=0,
                   **FAST).fit(yb, t, X=X)
    np.testing.assert_array_equal(auto.predict(X), fixed.predict(X))
    # set explicitly, the parameters still hold for a binary outcome
    other = GANITE(beta=3.0, effect_model="constant", random_state=0, **FAST).fit(yb, t, X=X)
    assert other.beta_ == 3.0 and other.effect_model_ == "constant"
    mu = other.predict(X)
    inside = np.all((mu > 0) & (mu < 1), axis=1)  # probabilities off the clip at 0 and 1
    assert inside.sum() > len(X) // 2 and np.ptp(other.effect(X)[inside]) < 1e-9


def test_choose_effect_takes_the_factual_weight_whose_contrasts_fit_the_r_loss():
    rng = np.random.default_rng(3)
    n = 800
    X = rng.normal(size=(n, 2))
    e = np.full((n, 2), 0.5)
    codes = (rng.random(n) < 0.5).astype(np.intp)
    mu0, tau = X[:, 0], 1.0 + np.sin(2 * X[:, 1])  # effects no parametric candidate follows
    y = mu0 + codes * tau + 0.1 * rng.normal(size=n)
    fold = np.arange(n) % 4
    truth = np.c_[mu0, mu0 + tau]
    shrunk = np.c_[mu0 + 0.5 * tau, mu0 + 0.5 * tau]  # the same m, no effect
    scored = [(0.1, 0, shrunk, np.ones(2)), (0.2, 1, truth, np.ones(2))]
    p = {"effect_model": "auto", "n_estimators": 4}
    pick, model, coef, _ = cgan._ganite.selection.choose_effect(p, X, scored, 0, e, codes, y, fold)
    assert (pick, model) == (1, "plugin") and coef.shape == (1, 1) and not coef.any()
    # without the networks' contrasts among the options the best predictor's members stay
    pick, model, _, _ = cgan._ganite.selection.choose_effect(dict(p, effect_model="linear"), X, scored, 0, e, codes,
                                                             y, fold)
    assert (pick, model) == (0, "linear")


def test_effect_model_linear_gives_linear_effects_and_keeps_the_arms_mean():
    X, t, y, _ = _ganite_data()
    plugin = GANITE(effect_model="plugin", random_state=0, **FAST).fit(y, t, X=X)
    linear = GANITE(effect_model="linear", random_state=0, **FAST).fit(y, t, X=X)
    assert linear.effect_model_ == "linear" and plugin.effect_model_ == "plugin"
    tau = linear.effect(X)
    design = np.c_[np.ones(len(X)), X]
    fitted = design @ np.linalg.lstsq(design, tau, rcond=None)[0]
    np.testing.assert_allclose(tau, fitted, atol=1e-6)  # X is standardised in float32
    mu, mu_plugin = linear.predict(X), plugin.predict(X)
    share = np.bincount(t) / len(t)
    np.testing.assert_allclose(mu @ share, mu_plugin @ share, atol=1e-9)
    np.testing.assert_allclose(linear.predict(), linear._predict_array(linear._fit_data[0]))
    assert linear.effect_model_ in stage.EFFECT_MODELS
    lo, hi = linear.effect_interval(X[:50], n_bootstrap=20, random_state=1)
    assert lo.shape == (50,) and np.all(lo <= hi)
    assert np.mean((lo <= tau[:50]) & (tau[:50] <= hi)) > 0.9
    np.testing.assert_array_equal(lo, linear.effect_interval(X[:50], n_bootstrap=20, random_state=1)[0])


def test_effect_model_needs_cross_fitting_and_a_known_name():
    X, t, y, _ = _ganite_data(n=200)
    with pytest.raises(ValueError, match="n_estimators"):
        GANITE(effect_model="linear", **dict(FAST, n_iter=5, n_estimators=1)).fit(y, t, X=X)
    with pytest.raises(ValueError, match="effect_model"):
        GANITE(effect_model="quadratic", **dict(FAST, n_iter=5)).fit(y, t, X=X)
    with pytest.raises(ValueError, match="beta"):
        GANITE(beta="grid", **dict(FAST, n_iter=5)).fit(y, t, X=X)
    model = GANITE(random_state=0, **dict(FAST, n_iter=5, n_estimators=1)).fit(y, t, X=X)
    assert model.effect_model_ == "plugin"


def test_effect_models_are_saved_checked_and_absent_in_old_files():
    X, t, y, _ = _ganite_data(n=300)
    model = GANITE(effect_model="additive", random_state=0, **dict(FAST, n_iter=10)).fit(y, t, X=X)
    twin = cgan.loads(model.dumps())
    assert twin.effect_model_ == "additive"
    assert np.array_equal(twin.effect(X), model.effect(X))
    for key, bad in (("_effect_coef", model._effect_coef[:, :3]), ("effect_model_", "cubic"),
                     ("_effect_splines", model._effect_splines[:, :2])):
        broken = cgan.loads(model.dumps())
        setattr(broken, key, bad)
        with pytest.raises(ValueError, match=key):
            cgan.loads(broken.dumps())
    old = fuzzing.legacy(model, params=["effect_model"], state=["effect_model_", "_effect_coef", "_effect_splines"])
    assert old.effect_model == "plugin" and not hasattr(old, "effect_model_")
    plugin = cgan._ganite.members.ensemble_mean(model._members(), model._checked_X(X), None)
    np.testing.assert_array_equal(old.predict(X), plugin)
