"""scikit-learn interplay: clone, score, and GridSearchCV through the
adapter the README documents (scikit-learn calls fit(X, y) positionally,
GANITE's fit is fit(Y, T, *, X))."""
import pickle

import numpy as np
import pytest

import cgan

SMALL = dict(hidden_size=4, n_hidden=1, n_iter=30, batch_size=16, n_estimators=1)


def _data(n=120, seed=0, binary=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    T = rng.integers(0, 2, n)
    Y = 2 * X[:, 0] + T + 0.1 * rng.normal(size=n)
    return X, T, ((Y > 0.5).astype(float) if binary else Y)


try:
    from sklearn.base import BaseEstimator as SklearnBase
except ImportError:  # the grid-search test skips; the score tests still run
    SklearnBase = object


class GANITEOnXT(cgan.GANITE, SklearnBase):
    """The README's adapter: [X | T] as scikit-learn's X, the outcome as y.
    scikit-learn's BaseEstimator comes last, for the tags its searches read."""

    def fit(self, XT, y):
        XT = np.asarray(XT)
        return super().fit(y, XT[:, -1], X=XT[:, :-1])

    def score(self, XT, y):
        XT = np.asarray(XT)
        return super().score(y, XT[:, -1], X=XT[:, :-1])


def test_score_is_the_negative_factual_error():
    X, T, Y = _data()
    model = cgan.GANITE(random_state=0, **SMALL).fit(Y[:80], T[:80], X=X[:80])
    mu = model.predict(X[80:])
    expected = -np.mean((Y[80:] - mu[np.arange(40), T[80:]]) ** 2)
    assert model.score(Y[80:], T[80:], X=X[80:]) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="T"):
        model.score(Y[80:], T[80:] + 5, X=X[80:])


def test_score_of_a_binary_outcome_is_the_negative_log_loss():
    X, T, Y = _data(binary=True)
    model = cgan.GANITE(random_state=0, **SMALL).fit(Y[:80], T[:80], X=X[:80])
    p = np.clip(model.predict(X[80:])[np.arange(40), T[80:]], 1e-7, 1 - 1e-7)
    expected = np.mean(Y[80:] * np.log(p) + (1 - Y[80:]) * np.log(1 - p))
    assert model.score(Y[80:], T[80:], X=X[80:]) == pytest.approx(expected, rel=1e-12)
    assert model.score(Y[80:], T[80:], X=X[80:]) < 0


def test_oof_score_is_the_factual_score_of_held_out_members():
    X, T, Y = _data(n=160)
    model = cgan.GANITE(random_state=0, **{**SMALL, "n_estimators": 4}).fit(Y, T, X=X)
    mu = model._mu_oof  # row i predicted by the member that did not train on it
    expected = -np.mean((Y - mu[np.arange(160), T]) ** 2)
    assert model.oof_score_ == pytest.approx(expected, rel=1e-12)
    # the in-sample ensemble has seen most rows, so it scores them better
    assert model.score(Y, T, X=X) > model.oof_score_
    again = cgan.loads(model.dumps())
    assert again.oof_score_ == model.oof_score_


def test_oof_score_tracks_a_held_out_score_where_the_in_sample_score_does_not():
    # noise sd 1 and an ensemble that overfits the 400 training rows: the
    # in-sample score flatters the model (-0.67), the cross-fitted one is
    # close to the score on 4000 fresh rows (-1.07 against -1.17).  A mean
    # of 400 squared errors of sd ~1.4 has a standard error of ~0.07, so
    # the tolerance, 0.25 * 1.17 = 0.29, is about four of them.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(4400, 3))
    T = rng.integers(0, 2, 4400)
    Y = np.sin(2 * X[:, 0]) + X[:, 1] + T * (1 + X[:, 2]) + rng.normal(size=4400)
    model = cgan.GANITE(random_state=0, hidden_size=64, n_iter=600, batch_size=64).fit(Y[:400], T[:400], X=X[:400])
    fresh = model.score(Y[400:], T[400:], X=X[400:])
    inside = model.score(Y[:400], T[:400], X=X[:400])
    assert abs(model.oof_score_ - fresh) < 0.25 * abs(fresh)
    assert abs(model.oof_score_ - fresh) < abs(inside - fresh)


@pytest.mark.parametrize("binary", [False, True])
def test_oof_score_uses_score_s_formula(binary):
    # with one member the stored predictions are in-sample, so the helper
    # that both share must give exactly score() on the training rows
    X, T, Y = _data(n=160, binary=binary)
    model = cgan.GANITE(random_state=0, **SMALL).fit(Y, T, X=X)
    assert model._factual_score(model._mu_oof, model._codes_fit, model._y_fit) == model.score(Y, T, X=X)


def test_oof_score_of_a_binary_outcome_is_a_negative_log_loss():
    X, T, Y = _data(n=160, binary=True)
    model = cgan.GANITE(random_state=0, **{**SMALL, "n_estimators": 2}).fit(Y, T, X=X)
    p = np.clip(model._mu_oof[np.arange(160), T], 1e-7, 1 - 1e-7)
    assert model.oof_score_ == pytest.approx(np.mean(Y * np.log(p) + (1 - Y) * np.log(1 - p)), rel=1e-12)
    assert model.oof_score_ < 0


def test_oof_score_needs_a_fitted_cross_fitted_model():
    X, T, Y = _data()
    assert not hasattr(cgan.GANITE(), "oof_score_")
    with pytest.raises(AttributeError, match="not fitted"):
        cgan.GANITE().oof_score_
    single = cgan.GANITE(random_state=0, **SMALL).fit(Y, T, X=X)
    with pytest.raises(AttributeError, match="n_estimators >= 2"):
        single.oof_score_


def test_a_better_fit_scores_higher():
    X, T, Y = _data(n=400)
    held = slice(300, None)
    short = cgan.GANITE(random_state=0, **{**SMALL, "n_iter": 1}).fit(Y[:300], T[:300], X=X[:300])
    long = cgan.GANITE(random_state=0, **{**SMALL, "n_iter": 1500, "hidden_size": 16}).fit(Y[:300], T[:300], X=X[:300])
    assert long.score(Y[held], T[held], X=X[held]) > short.score(Y[held], T[held], X=X[held])


def test_clone_and_grid_search():
    pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, KFold

    model = cgan.GANITE(hidden_size=7, random_state=3)
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()

    X, T, Y = _data(n=150)
    XT = np.column_stack([X, T])
    grid = {"hidden_size": [2, 8], "n_iter": [1, 200]}
    search = GridSearchCV(GANITEOnXT(random_state=0, n_hidden=1, batch_size=16, n_estimators=1), grid,
                          cv=KFold(3, shuffle=True, random_state=0))
    search.fit(XT, Y)
    assert set(search.cv_results_["params"][0]) == {"hidden_size", "n_iter"}
    assert search.best_params_["n_iter"] == 200  # one iteration cannot fit y = 2 x0 + t
    # each split's score is GANITE.score on the held-out rows
    folds = list(KFold(3, shuffle=True, random_state=0).split(XT))
    train, test = folds[0]
    best = GANITEOnXT(random_state=0, n_hidden=1, batch_size=16, n_estimators=1, **search.best_params_)
    best.fit(XT[train], Y[train])
    assert search.cv_results_["split0_test_score"][search.best_index_] == best.score(XT[test], Y[test])
    # the refitted best estimator predicts like GANITE itself and pickles
    plain = cgan.GANITE(random_state=0, n_hidden=1, batch_size=16, n_estimators=1, **search.best_params_)
    plain.fit(Y, T, X=X)
    assert np.array_equal(search.best_estimator_.predict(X), plain.predict(X))
    again = pickle.loads(pickle.dumps(search.best_estimator_))
    assert type(again) is GANITEOnXT and np.array_equal(again.predict(X), plain.predict(X))
