"""End-to-end tests of cgan.GANITE against known truths, plus the estimator
conventions (reproducibility, pickle, clone) and argument checks."""
import pickle

import numpy as np
import pytest

import cgan
from cgan import GANITE

FAST = dict(hidden_size=32, n_iter=600, batch_size=128)


def _linear(n=800, tau=2.0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    t = rng.binomial(1, 1 / (1 + np.exp(-0.5 * X[:, 0])))
    y = X @ np.array([1.0, 0.5, 0.0, -1.0]) + tau * t + 0.3 * rng.normal(size=n)
    return X, t, y


def test_linear_constant_effect_is_recovered():
    X, t, y = _linear()
    model = GANITE(random_state=0, **FAST).fit(y, t, X=X)
    # The true effect is 2 for every row; a fitted model should land near it.
    assert abs(model.ate() - 2.0) < 0.25
    assert np.sqrt(np.mean((model.effect() - 2.0) ** 2)) < 0.6
    assert model.predict(X).shape == (len(y), 2)


def test_nonlinear_heterogeneous_effect_is_tracked():
    rng = np.random.default_rng(1)
    n = 1500
    X = rng.normal(size=(n, 3))
    t = rng.binomial(1, 0.5, size=n)
    tau = 1.0 + 0.8 * X[:, 1] ** 2
    y = np.sin(X[:, 0]) + X[:, 2] + tau * t + 0.2 * rng.normal(size=n)
    model = GANITE(random_state=0, hidden_size=64, n_iter=1500, batch_size=128).fit(y, t, X=X)
    est = model.effect(X)
    assert np.corrcoef(est, tau)[0, 1] > 0.6
    # better than the best constant guess (the true ATE for every row)
    assert np.sqrt(np.mean((est - tau) ** 2)) < tau.std()
    assert abs(est.mean() - tau.mean()) < 0.35


def test_three_arms_with_string_labels():
    rng = np.random.default_rng(2)
    n = 1200
    X = rng.normal(size=(n, 3))
    labels = np.array(["placebo", "low", "high"])
    T = labels[rng.integers(0, 3, size=n)]
    shift = {"placebo": 0.0, "low": 1.0, "high": -1.5}
    y = X[:, 0] + np.array([shift[v] for v in T]) + 0.2 * rng.normal(size=n)
    model = GANITE(random_state=0, **FAST).fit(y, T, X=X)
    assert list(model.classes_) == ["high", "low", "placebo"]
    assert model.predict(X).shape == (n, 3)
    assert abs(model.ate(T0="placebo", T1="low") - 1.0) < 0.35
    assert abs(model.ate(T0="placebo", T1="high") + 1.5) < 0.35
    with pytest.raises(ValueError, match="T1 is required"):
        model.effect(X)
    with pytest.raises(ValueError, match="not one of the fitted treatments"):
        model.ate(T0="placebo", T1="medium")


def test_binary_outcome_gives_probabilities():
    rng = np.random.default_rng(3)
    n = 1500
    X = rng.normal(size=(n, 3))
    t = rng.binomial(1, 0.5, size=n)
    logit = X[:, 0] + 1.5 * t - 0.75
    y = rng.binomial(1, 1 / (1 + np.exp(-logit)))
    truth = np.mean(1 / (1 + np.exp(-(X[:, 0] + 0.75))) - 1 / (1 + np.exp(-(X[:, 0] - 0.75))))
    model = GANITE(random_state=0, **FAST).fit(y, t, X=X)
    assert model.outcome_type_ == "binary"
    mu = model.predict(X)
    assert np.all((mu >= 0) & (mu <= 1))
    assert np.sign(model.ate()) == np.sign(truth)
    s = model.sample(X[:50], 5, 0, T=t[:50], Y=y[:50])
    assert set(np.unique(s)) <= {0.0, 1.0}
    # with no observed outcome, every arm is drawn
    s = model.sample(X[:50], 4, random_state=0)
    assert s.shape == (4, 50, 2) and set(np.unique(s)) <= {0.0, 1.0}


def test_single_member_and_ensemble_agree_on_shapes():
    X, t, y = _linear(n=300)
    one = GANITE(random_state=0, n_estimators=1, **FAST).fit(y, t, X=X)
    assert one.history_["ite_loss"].shape == (1, FAST["n_iter"])
    # the networks' own effects: an effect model moves the members' mean
    ens = GANITE(random_state=0, n_estimators=3, effect_model="plugin", **FAST).fit(y, t, X=X)
    members = [member.predict(ens._checked_X(X)) for member in ens._members()]
    assert np.allclose(ens.predict(X), np.mean(members, axis=0), atol=1e-5)


def test_same_seed_same_bits_and_different_seed_differs():
    X, t, y = _linear(n=400)
    a = GANITE(random_state=7, **FAST).fit(y, t, X=X)
    b = GANITE(random_state=7, **FAST).fit(y, t, X=X)
    c = GANITE(random_state=8, **FAST).fit(y, t, X=X)
    assert np.array_equal(a.predict(X), b.predict(X))
    for key in a.history_:
        assert np.array_equal(a.history_[key], b.history_[key])
    assert not np.array_equal(a.predict(X), c.predict(X))


def test_pickle_round_trip_keeps_predictions_and_training_state():
    X, t, y = _linear(n=400)
    model = GANITE(random_state=3, noise_dim=2, **FAST).fit(y, t, X=X)
    clone = pickle.loads(pickle.dumps(model))
    assert np.array_equal(model.predict(X), clone.predict(X))
    assert model.get_params() == clone.get_params()
    # seeded draws agree, and sampling leaves the model as it was
    assert np.array_equal(model.sample(X, 3, 5, T=t, Y=y), clone.sample(X, 3, 5, T=t, Y=y))
    assert np.array_equal(model.sample(X, 3, 5), clone.sample(X, 3, 5))
    assert model.dumps() == clone.dumps()


def test_corrupt_snapshot_is_rejected():
    X, t, y = _linear(n=300)
    model = GANITE(random_state=3, **FAST).fit(y, t, X=X)
    snap = model._cores[0].snapshot()
    # pickles from before the saved-model container held the cores' snapshots
    # in the instance dict; they still load, through the same C checks
    legacy = {k: v for k, v in vars(model).items() if k != "_cores"}
    for bad in (snap[:10], snap[:-1], b"X" * len(snap)):
        with pytest.raises(ValueError, match="snapshot"):
            GANITE().__setstate__(dict(legacy, _core_snapshots=[bad]))
    restored = GANITE()
    restored.__setstate__(dict(legacy, _core_snapshots=[core.snapshot() for core in model._cores]))
    assert np.array_equal(restored.predict(X), model.predict(X))


def test_clone_and_params_follow_sklearn_conventions():
    est = GANITE(hidden_size=16, alpha=0.5)
    params = est.get_params()
    assert params["hidden_size"] == 16 and params["alpha"] == 0.5
    again = type(est)(**params)
    assert again.get_params() == params
    est.set_params(beta=2.0)
    assert est.beta == 2.0
    with pytest.raises(ValueError, match="not a parameter"):
        est.set_params(gamma=1)
    assert "hidden_size=16" in repr(est)
    sklearn = pytest.importorskip("sklearn.base")
    assert sklearn.clone(est).get_params() == est.get_params()


def test_sample_mean_matches_predict():
    X, t, y = _linear(n=600)
    model = GANITE(random_state=0, noise_dim=0, **FAST).fit(y, t, X=X)
    s = model.sample(X, n_samples=10, random_state=0, T=t, Y=y)
    assert s.shape == (10, len(y), 2)
    # factual entries are the observed outcomes
    assert np.allclose(s[:, np.arange(len(y)), t], y, atol=1e-5)
    # counterfactual draws and the inference network agree on average
    cf = 1 - t
    gap = s.mean(0)[np.arange(len(y)), cf] - model.predict(X)[np.arange(len(y)), cf]
    assert abs(gap.mean()) < 0.3
    assert np.sqrt(np.mean(gap**2)) < 0.8


def test_sample_without_observed_outcomes():
    X, t, y = _linear(n=600)
    model = GANITE(random_state=0, noise_dim=0, **FAST).fit(y, t, X=X)
    s = model.sample(X, n_samples=200, random_state=1)
    assert s.shape == (200, len(y), 2)
    assert np.array_equal(s, model.sample(X, n_samples=200, random_state=1))
    assert not np.array_equal(s, model.sample(X, n_samples=200, random_state=2))
    # each arm's draws scatter around the expected outcome, with about the
    # spread of the factual residuals (the outcome noise here has sd 0.3)
    rows = np.arange(len(y))
    resid_sd = np.std(y - model.predict(X)[rows, t])
    gap = s.mean(0) - model.predict(X)
    assert np.all(np.abs(gap.mean(0)) < 0.3)
    assert np.sqrt(np.mean(gap**2)) < 0.8
    assert 0.5 * resid_sd < s.std(0).mean() < 3 * resid_sd
    # with T alone the received arm is drawn, the other completed by G
    s_t = model.sample(X, n_samples=50, random_state=1, T=t)
    assert np.abs(s_t[:, rows, t].mean(0) - model.predict(X)[rows, t]).mean() < 0.3
    assert s_t[:, rows, t].std(0).mean() > 0.5 * resid_sd


def test_history_and_module_shortcuts():
    X, t, y = _linear(n=300)
    model = cgan.fit(y, t, X=X, random_state=0, **FAST)
    assert set(model.history_) == {"generator_loss", "discriminator_loss", "ite_loss"}
    assert model.history_["generator_loss"].shape == (5, FAST["n_iter"])
    assert np.all(np.isfinite(model.history_["ite_loss"]))
    assert np.all(model.history_["ite_loss"][:, -50:].mean(1) < model.history_["ite_loss"][:, :50].mean(1))
    assert cgan.sample(model, X, n_samples=2, T=t, Y=y).shape == (2, 300, 2)
    assert abs(cgan.ate(y, t, X=X, random_state=0, **FAST) - model.ate()) < 1e-12
    assert cgan.ate(model) == model.ate()
    assert cgan.ate(model, X[:50], T0=1, T1=0) == model.ate(X[:50], T0=1, T1=0)
    with pytest.raises(TypeError, match="covariates X"):
        cgan.ate(y, t)
    with pytest.raises(TypeError, match="fitted GANITE"):
        cgan.ate(y)


def test_dataframe_input_keeps_feature_names():
    pd = pytest.importorskip("pandas")
    X, t, y = _linear(n=300)
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = GANITE(random_state=0, **FAST).fit(pd.Series(y), pd.Series(t), X=df)
    assert list(model.feature_names_in_) == ["a", "b", "c", "d"]
    assert np.allclose(model.predict(df), model.predict(X))
    with pytest.raises(ValueError, match="columns differ"):
        model.predict(df[["b", "a", "c", "d"]])


def test_ate_interval_contains_estimate_region():
    X, t, y = _linear(n=800)
    model = GANITE(random_state=0, **FAST).fit(y, t, X=X)
    lo, hi = model.ate_interval(alpha=0.05)
    assert lo < hi
    assert lo - 0.3 < 2.0 < hi + 0.3
    lo2, hi2 = model.ate_interval(alpha=0.5)
    assert lo < lo2 < hi2 < hi
    lo3, hi3 = model.ate_interval(X, T=t, Y=y)
    assert lo3 < hi3


def test_inputs_are_not_modified():
    X, t, y = _linear(n=300)
    X32 = np.asfortranarray(X.astype(np.float32))
    copies = [a.copy() for a in (X32, t, y)]
    model = GANITE(random_state=0, **FAST).fit(y, t, X=X32)
    model.predict(X32)
    model.sample(X32, 2, T=t, Y=y)
    model.sample(X32, 2)
    for a, c in zip((X32, t, y), copies):
        assert a.tobytes() == c.tobytes()


# ------------------------------------------------------------- bad input

X0, T0, Y0 = _linear(n=200)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"X": X0[:, 0]}, ValueError, "2-dimensional"),
        ({"X": X0[:100]}, ValueError, "entries but X has"),
        ({"X": np.where(np.arange(200)[:, None] == 5, np.nan, X0)}, ValueError, r"X has 4 missing values \(NaN or NA\), the first at row 5, column 0"),
        ({"X": np.where(np.arange(200)[:, None] == 5, np.inf, X0)}, ValueError, "inf"),
        ({"X": X0 * 1e39}, ValueError, "float32"),
        ({"X": np.zeros((0, 4))}, ValueError, "no rows"),
        ({"X": np.zeros((200, 0))}, ValueError, "no columns"),
        ({"X": np.array([["a"] * 4] * 200)}, TypeError, "numbers"),
        ({"X": np.array([[object()] * 4] * 200, dtype=object)}, TypeError, "numbers"),
        ({"X": None}, TypeError, "X is required"),
        ({"Y": Y0[:10]}, ValueError, "Y has 10 entries"),
        ({"Y": np.where(np.arange(200) == 3, np.nan, Y0)}, ValueError, "Y has 1 missing value"),
        ({"Y": np.array(["x"] * 200)}, TypeError, "Y must hold numbers"),
        ({"T": np.ones(200)}, ValueError, "at least two distinct"),
        ({"T": T0[:50]}, ValueError, "T has 50 entries"),
        ({"T": np.where(np.arange(200) == 3, np.nan, T0.astype(float))}, ValueError, "T has 1 missing value"),
    ],
)
def test_fit_rejects_bad_data(kwargs, exc, match):
    args = {"Y": Y0, "T": T0, "X": X0}
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        GANITE(**FAST).fit(args["Y"], args["T"], X=args["X"])


@pytest.mark.parametrize(
    "params, exc, match",
    [
        ({"hidden_size": 0}, ValueError, "hidden_size"),
        ({"hidden_size": -3}, ValueError, "hidden_size"),
        ({"hidden_size": 10**9}, ValueError, "hidden_size"),
        ({"hidden_size": 2.5}, TypeError, "hidden_size"),
        ({"batch_size": 10**6}, ValueError, "batch_size"),
        ({"batch_size": 500}, ValueError, "larger than the 200 training rows"),
        ({"n_iter": -1}, ValueError, "n_iter"),
        ({"n_estimators": 0}, ValueError, "n_estimators"),
        ({"d_steps": 0}, ValueError, "d_steps"),
        ({"alpha": -1.0}, ValueError, "alpha"),
        ({"alpha": float("nan")}, ValueError, "alpha"),
        ({"beta": "big"}, ValueError, "beta"),
        ({"beta": [1.0]}, TypeError, "beta"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate"),
        ({"noise_dim": -1}, ValueError, "noise_dim"),
        ({"outcome": "ordinal"}, ValueError, "outcome"),
        ({"outcome": "binary"}, ValueError, "only 0 and 1"),
        ({"random_state": -5}, ValueError, "random_state"),
        ({"random_state": "seed"}, TypeError, "random_state"),
    ],
)
def test_fit_rejects_bad_parameters(params, exc, match):
    p = dict(FAST, batch_size=64)
    p.update(params)
    with pytest.raises(exc, match=match):
        GANITE(**p).fit(Y0, T0, X=X0)


def test_methods_need_fit_and_matching_shapes():
    with pytest.raises(RuntimeError, match="not fitted"):
        GANITE().predict(X0)
    model = GANITE(random_state=0, **dict(FAST, n_iter=50, batch_size=64)).fit(Y0, T0, X=X0)
    with pytest.raises(ValueError, match="fitted with 4"):
        model.predict(X0[:, :3])
    with pytest.raises(ValueError, match="not seen in fit"):
        model.sample(X0, 2, T=np.full(200, 5), Y=Y0)
    with pytest.raises(ValueError, match="n_samples"):
        model.sample(X0, 0)
    with pytest.raises(ValueError, match="Y needs T"):
        model.sample(X0, 2, Y=Y0)
    with pytest.raises(ValueError, match="alpha"):
        model.ate_interval(alpha=1.5)
    with pytest.raises(ValueError, match="needs their observed T and Y"):
        model.ate_interval(X0)


def test_threads_do_not_change_results():
    X, t, y = _linear(n=400)
    one = GANITE(random_state=5, n_estimators=3, n_jobs=1, **FAST).fit(y, t, X=X)
    two = GANITE(random_state=5, n_estimators=3, n_jobs=2, **FAST).fit(y, t, X=X)
    assert np.array_equal(one.predict(X), two.predict(X))
    assert np.array_equal(one.history_["generator_loss"], two.history_["generator_loss"])
    lo1, hi1 = one.ate_interval()
    lo2, hi2 = two.ate_interval()
    assert lo1 == lo2 and hi1 == hi2
    with pytest.raises(ValueError, match="n_jobs"):
        GANITE(n_jobs=0, **FAST).fit(y, t, X=X)


def test_verbose_progress_goes_to_stderr(capsys):
    X, t, y = _linear(n=300)
    GANITE(random_state=0, n_estimators=2, verbose=True, **dict(FAST, n_iter=300)).fit(y, t, X=X)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "GANITE" in captured.err or "GANITE" in captured.out
