"""GANITE's EconML-shaped surface: fit with W, const_marginal_effect and
effect_interval, and the calls DoWhy's EconML wrapper makes (a one-column
DataFrame T, a Series Y, X=None with the covariates as W, keyword T0/T1)."""
import pickle

import numpy as np
import pytest

from cgan import GANITE

TINY = dict(hidden_size=8, n_iter=50, batch_size=32, n_estimators=2)


def _data(n=240, seed=0, arms=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    t = rng.integers(0, arms, size=n)
    y = X[:, 0] + 1.5 * (t == 1) - 1.0 * (t == 2) + 0.3 * rng.normal(size=n)
    return X, t, y


@pytest.fixture(scope="module")
def fitted():
    X, t, y = _data()
    return GANITE(random_state=0, **TINY).fit(y, t, X=X), X, t, y


# ----------------------------------------------------------------- fit(W=)
def test_covariates_given_as_W_fit_the_same_model_as_X(fitted):
    model, X, t, y = fitted
    via_w = GANITE(random_state=0, **TINY).fit(y, t, W=X)
    np.testing.assert_array_equal(via_w.predict(X), model.predict(X))
    assert via_w.n_features_in_ == X.shape[1]
    np.testing.assert_array_equal(via_w.effect(), model.effect())


def test_W_and_X_together_or_neither_are_refused():
    X, t, y = _data()
    with pytest.raises(ValueError, match="as X or as W, not both"):
        GANITE(**TINY).fit(y, t, X=X, W=X[:, :1])
    with pytest.raises(TypeError, match="needs the covariates"):
        GANITE(**TINY).fit(y, t)
    with pytest.raises(ValueError, match="^W must be 2-dimensional"):
        GANITE(**TINY).fit(y, t, W=X[:, 0])
    with pytest.raises(ValueError, match=r"W has \d+ missing values? \(NaN or NA\)"):
        GANITE(**TINY).fit(y, t, W=np.where(X > 2, np.nan, X))


def test_the_calls_dowhys_econml_wrapper_makes():
    pd = pytest.importorskip("pandas")
    X, t, y = _data()
    W = pd.DataFrame(X, columns=["a", "b", "c"])
    W["flag"] = W["a"] > 0  # pandas.get_dummies gives bool columns
    T = pd.DataFrame({"treatment": t})
    model = GANITE(random_state=0, **TINY).fit(Y=pd.Series(y), T=T, X=None, W=W)
    assert list(model.feature_names_in_) == ["a", "b", "c", "flag"]
    tau = model.effect(None, T0=0, T1=1)
    assert tau.shape == (len(y),)
    np.testing.assert_allclose(tau, model.effect(W, T0=0, T1=1), rtol=1e-6, atol=1e-6)
    # DoWhy stacks one effect column per treatment value and averages them
    assert np.mean(np.stack([tau], axis=1), axis=0).shape == (1,)


# ---------------------------------------------------- const_marginal_effect
def test_const_marginal_effect_has_one_column_per_non_baseline_arm(fitted):
    model, X, t, y = fitted
    cme = model.const_marginal_effect(X[:7])
    assert cme.shape == (7, 1)
    np.testing.assert_array_equal(cme[:, 0], model.effect(X[:7], T0=0, T1=1))
    assert model.const_marginal_effect().shape == (len(y), 1)
    np.testing.assert_array_equal(model.const_marginal_effect()[:, 0], model.effect())


def test_const_marginal_effect_with_three_labelled_arms():
    X, t, y = _data(arms=3)
    labels = np.array(["control", "high", "low"])
    model = GANITE(random_state=0, **TINY).fit(y, labels[t], X=X)
    cme = model.const_marginal_effect(X)
    assert cme.shape == (len(y), 2)
    for j, arm in enumerate(model.classes_[1:]):
        np.testing.assert_array_equal(cme[:, j], model.effect(X, T0="control", T1=arm))


# ----------------------------------------------------------- effect_interval
def test_effect_interval_shapes_nesting_and_reproducibility(fitted):
    model, X, t, y = fitted
    lo, hi = model.effect_interval(X[:9], T0=0, T1=1, n_bootstrap=6, random_state=3)
    assert lo.shape == hi.shape == (9,)
    assert np.all(lo <= hi) and np.any(lo < hi)
    again = model.effect_interval(X[:9], n_bootstrap=6, random_state=3, n_jobs=2)
    np.testing.assert_array_equal(again[0], lo)
    np.testing.assert_array_equal(again[1], hi)
    narrow_lo, narrow_hi = model.effect_interval(X[:9], n_bootstrap=6, random_state=3, alpha=0.5)
    assert np.all(lo <= narrow_lo) and np.all(narrow_hi <= hi)
    other = model.effect_interval(X[:9], n_bootstrap=6, random_state=4)
    assert not np.array_equal(other[0], lo)
    # the reversed contrast mirrors the interval
    rev_lo, rev_hi = model.effect_interval(X[:9], T0=1, T1=0, n_bootstrap=6, random_state=3)
    np.testing.assert_allclose(rev_lo, -hi, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rev_hi, -lo, rtol=1e-12, atol=1e-12)


def test_effect_interval_on_the_training_rows_and_after_pickling(fitted):
    model, X, t, y = fitted
    lo, hi = model.effect_interval(n_bootstrap=3, random_state=0)
    assert lo.shape == (len(y),)
    given = model.effect_interval(X, n_bootstrap=3, random_state=0)
    np.testing.assert_allclose(given[0], lo, rtol=1e-6, atol=1e-6)
    copy = pickle.loads(pickle.dumps(model))
    with pytest.raises(ValueError, match="fit the model again"):
        copy.effect_interval(X[:3], n_bootstrap=3)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda m, X: m.effect_interval(X, alpha=0.0), ValueError, "alpha"),
        (lambda m, X: m.effect_interval(X, alpha="0.1"), TypeError, "alpha"),
        (lambda m, X: m.effect_interval(X, n_bootstrap=1), ValueError, "n_bootstrap"),
        (lambda m, X: m.effect_interval(X, n_bootstrap=3.0), TypeError, "n_bootstrap"),
        (lambda m, X: m.effect_interval(X, n_bootstrap=3, n_jobs=0), ValueError, "n_jobs"),
        (lambda m, X: m.effect_interval(X, n_bootstrap=3, n_jobs="all"), TypeError, "n_jobs"),
        (lambda m, X: m.effect_interval(X, T1=5, n_bootstrap=3), ValueError, "T1=5"),
        (lambda m, X: m.effect_interval(X, T0="a", n_bootstrap=3), ValueError, "T0='a'"),
        (lambda m, X: m.effect_interval(X[:, :2], n_bootstrap=3), ValueError, "X has 2 features"),
        (lambda m, X: m.effect_interval(X, n_bootstrap=3, random_state="x"), TypeError, "random_state"),
        (lambda m, X: m.const_marginal_effect(X[:, :2]), ValueError, "X has 2 features"),
        (lambda m, X: m.const_marginal_effect(X[:, 0]), ValueError, "X must be 2-dimensional"),
        (lambda m, X: m.const_marginal_effect([["a", "b", "c"]]), TypeError, "X must hold numbers"),
    ],
)
def test_bad_input_names_the_argument(fitted, call, exc, match):
    model, X, t, y = fitted
    with pytest.raises(exc, match=match):
        call(model, X)


def test_new_methods_need_a_fitted_model():
    for call in (lambda m: m.const_marginal_effect(), lambda m: m.effect_interval()):
        with pytest.raises(RuntimeError, match="not fitted"):
            call(GANITE())
