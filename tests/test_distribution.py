"""GANITE's distributional outputs against a design whose distributions are
known in closed form, plus shapes, pandas, bad input, persistence and
determinism.

The design: x ~ N(0, I_3); Y(0) = x_0 + N(0, 1), Y(1) = x_0 + 2 + N(0, 2^2);
the arm is drawn with propensity sigmoid(x_1 / 2).  So at x the q quantile
of arm 0 is x_0 + z_q and of arm 1 x_0 + 2 + 2 z_q; over the population
Y(0) ~ N(0, 2) and Y(1) ~ N(2, 5); under rank invariance
Y(1) - Y(0) = 2 + Z, under independence N(2, 5)."""
from __future__ import annotations

import pickle
from statistics import NormalDist

import numpy as np
import pytest

import cgan
from cgan._ganite import distribution as dist


class norm:
    """The standard normal's cdf, pdf and ppf on arrays (the standard library's NormalDist)."""
    _dist = NormalDist()
    cdf = staticmethod(np.vectorize(_dist.cdf, otypes=[float]))
    pdf = staticmethod(np.vectorize(_dist.pdf, otypes=[float]))
    ppf = staticmethod(np.vectorize(_dist.inv_cdf, otypes=[float]))

SD = (1.0, 2.0)
SHIFT = (0.0, 2.0)
FAST = dict(n_iter=300, n_estimators=2, hidden_size=32, batch_size=128, random_state=0)


def design(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    T = (rng.random(n) < 1 / (1 + np.exp(-X[:, 1] / 2))).astype(int)
    Y0 = X[:, 0] + SD[0] * rng.normal(size=n)
    Y1 = X[:, 0] + SHIFT[1] + SD[1] * rng.normal(size=n)
    return X, T, np.where(T == 1, Y1, Y0), np.stack([Y0, Y1], 1)


@pytest.fixture(scope="module")
def data():
    return design(3000, 0)


@pytest.fixture(scope="module")
def crps_model(data):
    X, T, Y, _ = data
    return cgan.GANITE(noise_dim=4, crps_weight=1.0, **FAST).fit(Y, T, X=X)


@pytest.fixture(scope="module")
def anchored_model(data):
    X, T, Y, _ = data
    return cgan.GANITE(**FAST).fit(Y, T, X=X)


def true_quantiles(X, levels):
    z = norm.ppf(levels)
    return np.stack([X[:, :1] + SHIFT[k] + SD[k] * z[None, :] for k in range(2)], 1)


# ------------------------------------------------------------ the kernels

def test_crps_from_draws_matches_the_pairwise_formula():
    rng = np.random.default_rng(1)
    draws, y = rng.normal(size=(7, 5)), rng.normal(size=5)
    pairs = np.abs(draws[:, None, :] - draws[None, :, :]).sum(axis=(0, 1)) / (2 * 7 * 6)
    want = np.abs(draws - y).mean(0) - pairs
    np.testing.assert_allclose(dist.crps_from_draws(draws, y), want, rtol=1e-12)


def test_crps_from_draws_approaches_the_gaussian_closed_form():
    # CRPS(N(0, 1), y) = y (2 Phi(y) - 1) + 2 phi(y) - 1 / sqrt(pi)
    draws = norm.ppf((np.arange(20000) + 0.5) / 20000)[:, None].repeat(3, 1)
    y = np.array([0.0, 1.0, -2.5])
    want = y * (2 * norm.cdf(y) - 1) + 2 * norm.pdf(y) - 1 / np.sqrt(np.pi)
    np.testing.assert_allclose(dist.crps_from_draws(draws, y), want, atol=1e-3)


def test_weighted_quantile_matches_a_direct_count():
    rng = np.random.default_rng(2)
    s, w = rng.random(50), rng.random(50) + 0.1
    for level in (0.1, 0.5, 0.9):
        got = dist.weighted_quantile(s, w, level, 0.7)
        total = w.sum() + 0.7
        assert np.sum(w[s <= got]) / total >= level
        assert np.sum(w[s < got]) / total < level
    assert dist.weighted_quantile(s, w, 0.999, 100.0) == np.inf


def test_conformal_multipliers_use_each_rows_own_weight():
    rng = np.random.default_rng(3)
    n, K = 80, 3
    score, codes = rng.random(n), np.arange(n) % K
    e = rng.dirichlet(np.ones(K), n)
    new = rng.dirichlet(np.ones(K), 6)
    new[0] = [0.98, 0.01, 0.01]  # a weight of 98 for arms 1 and 2: no quantile reaches 0.9
    got = dist.conformal_multipliers(score, codes, e, new, 0.1)
    for i in range(len(new)):
        for k in range(K):
            rows = codes == k
            w = (1 - e[rows, k]) / e[rows, k]
            own = (1 - new[i, k]) / new[i, k]
            assert got[i, k] == dist.weighted_quantile(score[rows], w, 0.9, own)
    assert np.isinf(got[0, 1:]).all() and np.isfinite(got[1:]).any()


def test_benefit_matches_brute_force():
    rng = np.random.default_rng(3)
    d0, d1 = rng.normal(size=(30, 4)), rng.normal(1, 2, size=(30, 4))
    brute = np.mean(d1[:, None, :] - d0[None, :, :] > 0.5, axis=(0, 1))
    np.testing.assert_allclose(dist.benefit(d0, d1, 0.5, "independent"), brute)
    ranked = np.mean(np.sort(d1, 0) - np.sort(d0, 0) > 0.5, axis=0)
    np.testing.assert_allclose(dist.benefit(d0, d1, 0.5, "rank"), ranked)


# ------------------------------------------------------------ closed-form design

@pytest.mark.parametrize("which", ["crps_model", "anchored_model"])
def test_quantiles_match_the_conditional_distribution(which, request):
    model = request.getfixturevalue(which)
    X = design(400, 5)[0]
    levels = np.array([0.1, 0.5, 0.9])
    got = model.predict_quantiles(X, levels)
    assert got.shape == (400, 2, 3)
    err = np.abs(got - true_quantiles(X, levels)).mean(axis=0)
    # each arm's quantiles within a third of arm 0's sd, on average over rows
    assert np.all(err < 0.35 * np.array(SD)[:, None]), err
    assert np.all(np.diff(got, axis=2) >= 0)


def test_crps_generator_learns_each_arms_spread(crps_model):
    X = design(400, 6)[0]
    q = crps_model.predict_quantiles(X, [0.25, 0.75])
    iqr = (q[:, :, 1] - q[:, :, 0]).mean(0)
    want = 2 * norm.ppf(0.75) * np.array(SD)
    np.testing.assert_allclose(iqr, want, rtol=0.2)


def test_effect_quantiles_match_the_population_closed_form(crps_model):
    X = design(2000, 7)[0]
    levels = np.array([0.1, 0.5, 0.9])
    z = norm.ppf(levels)
    want = SHIFT[1] + z * (np.sqrt(1 + SD[1] ** 2) - np.sqrt(1 + SD[0] ** 2))
    got = crps_model.effect_quantiles(levels, X, n_draws=100)
    np.testing.assert_allclose(got, want, atol=0.3)
    assert isinstance(crps_model.effect_quantiles(0.5, X[:50]), float)
    # a subgroup: rows with x_0 > 1 move both arms alike, so the median effect stays near 2
    assert abs(crps_model.effect_quantiles(0.5, X[X[:, 0] > 1]) - SHIFT[1]) < 0.4


@pytest.mark.parametrize("coupling, sd", [("rank", SD[1] - SD[0]), ("independent", np.hypot(*SD))])
def test_prob_benefit_matches_the_closed_form(crps_model, coupling, sd):
    X = design(500, 8)[0]
    got = crps_model.prob_benefit(X, threshold=1.0, coupling=coupling)
    assert got.shape == (500,) and np.all((got >= 0) & (got <= 1))
    assert abs(got.mean() - norm.cdf((SHIFT[1] - 1.0) / sd)) < 0.08


@pytest.mark.parametrize("which", ["crps_model", "anchored_model"])
def test_calibrated_intervals_cover_at_the_nominal_rate(which, request):
    model = request.getfixturevalue(which)
    X = design(2000, 9)[0]
    lo, hi = model.predict_interval(X, alpha=0.1)
    assert lo.shape == hi.shape == (2000, 2) and np.all(lo < hi)
    mean = X[:, :1] + np.array(SHIFT)
    cover = norm.cdf((hi - mean) / np.array(SD)) - norm.cdf((lo - mean) / np.array(SD))
    assert np.all(np.abs(cover.mean(0) - 0.9) < 0.04), cover.mean(0)
    lo80, hi80 = model.predict_interval(X, alpha=0.2)
    assert np.all(hi80 - lo80 < hi - lo)
    raw_lo, raw_hi = model.predict_interval(X, alpha=0.1, calibrate=False)
    assert np.all(raw_lo < raw_hi)


def test_each_rows_conformal_weight_follows_its_own_propensity(crps_model):
    # the design's assignment is sigmoid(x_1 / 2): a row with x_1 = -3 is
    # unlike the rows that received arm 1, so its arm-1 multiplier is larger
    model = crps_model
    X = design(2000, 11)[0]
    Z = (X - model._x_mean) / model._x_scale
    e = dist.logistic_propensity(model._weight_coef, Z)
    truth = 1 / (1 + np.exp(-X[:, 1] / 2))
    # a logistic fit to 3,000 rows: off by a few hundredths, most at the extremes of x_1
    assert np.mean(np.abs(e[:, 1] - truth)) < 0.03 and np.max(np.abs(e[:, 1] - truth)) < 0.1
    grid = np.zeros((2, 3))
    grid[:, 1] = (-3.0, 3.0)
    Zg = (grid - model._x_mean) / model._x_scale
    mult = dist.conformal_multipliers(model._score_fit, model._codes_fit, model._weight_fit,
                                      dist.logistic_propensity(model._weight_coef, Zg), 0.1)
    assert mult[0, 1] > mult[1, 1] and mult[1, 0] > mult[0, 0]
    # the counterfactual coverage: rows weighted by their true chance of not
    # receiving the arm, each row's coverage in closed form; within 0.03 of 0.9
    lo, hi = model.predict_interval(X, alpha=0.1)
    mean = X[:, :1] + np.array(SHIFT)
    cover = norm.cdf((hi - mean) / np.array(SD)) - norm.cdf((lo - mean) / np.array(SD))
    away = np.stack([truth, 1 - truth], 1)
    counterfactual = np.sum(cover * away, 0) / away.sum(0)
    assert np.all(np.abs(counterfactual - 0.9) < 0.03), counterfactual


def test_oof_crps_is_near_the_closed_form(crps_model, data):
    X, T, _, _ = data
    # the expected CRPS of the true distribution: sd / sqrt(pi) per arm
    ideal = np.mean(np.array(SD)[T] / np.sqrt(np.pi))
    # (a sample of 3,000 rows scatters its mean CRPS by a few per cent around the expectation)
    assert 0.95 * ideal <= crps_model.oof_crps_ < 1.15 * ideal
    assert crps_model.draw_center_ in ("generator", "mean")


# ------------------------------------------------------------ API

def test_shapes_and_pandas(crps_model):
    pd = pytest.importorskip("pandas")
    X, T, Y, _ = design(300, 10)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    model = cgan.GANITE(noise_dim=2, crps_weight=1.0, n_iter=20, n_estimators=2, batch_size=64,
                        random_state=0).fit(pd.Series(Y), pd.Series(T), X=frame)
    assert model.predict_quantiles(frame.iloc[:4], 0.5).shape == (4, 2)
    assert model.predict_quantiles(frame.iloc[:4], [0.5]).shape == (4, 2, 1)
    np.testing.assert_array_equal(model.predict_quantiles(frame.iloc[:4], 0.3), model.predict_quantiles(X[:4], 0.3))
    assert model.effect_quantiles([0.2, 0.8]).shape == (2,)  # the training rows
    assert model.prob_benefit(frame.iloc[:3]).shape == (3,)
    with pytest.raises(ValueError, match="columns"):
        model.predict_quantiles(frame[["b", "a", "c"]], 0.5)


def test_string_labels_and_three_arms():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(600, 2))
    T = rng.choice(["a", "b", "c"], size=600)
    Y = X[:, 0] + (T == "c") * 3 + rng.normal(size=600)
    model = cgan.GANITE(noise_dim=2, crps_weight=1.0, n_iter=30, n_estimators=2, batch_size=64,
                        random_state=0).fit(Y, T, X=X)
    assert model.predict_quantiles(X[:5], [0.1, 0.9]).shape == (5, 3, 2)
    with pytest.raises(ValueError, match="T1 is required"):
        model.prob_benefit(X[:5])
    assert model.prob_benefit(X[:5], T0="a", T1="c").shape == (5,)
    assert model.effect_quantiles(0.5, X, T0="a", T1="c") > 1.5
    lo, hi = model.predict_interval(X[:5])
    assert lo.shape == (5, 3)


@pytest.mark.parametrize("call, exc, match", [
    (lambda m, X: m.predict_quantiles(X, 1.0), ValueError, "q must lie in"),
    (lambda m, X: m.predict_quantiles(X, [0.5, 0.0]), ValueError, "q must lie in"),
    (lambda m, X: m.predict_quantiles(X, []), ValueError, "at least one"),
    (lambda m, X: m.predict_quantiles(X, [[0.5]]), ValueError, "1-d"),
    (lambda m, X: m.predict_quantiles(X, "0.5"), TypeError, "q must be"),
    (lambda m, X: m.predict_quantiles(X, True), TypeError, "booleans"),
    (lambda m, X: m.predict_quantiles(X, float("nan")), ValueError, "q must lie in"),
    (lambda m, X: m.predict_quantiles(X, 0.5, n_draws=1), ValueError, "n_draws"),
    (lambda m, X: m.predict_quantiles(X, 0.5, n_draws=2.5), TypeError, "n_draws"),
    (lambda m, X: m.predict_quantiles(X[:, :2], 0.5), ValueError, "columns|features"),
    (lambda m, X: m.predict_interval(X, alpha=0.0), ValueError, "alpha"),
    (lambda m, X: m.predict_interval(X, alpha=1.0), ValueError, "alpha"),
    (lambda m, X: m.predict_interval(X, alpha="0.1"), TypeError, "alpha"),
    (lambda m, X: m.predict_interval(X, calibrate="yes"), TypeError, "calibrate"),
    (lambda m, X: m.prob_benefit(X, threshold=float("nan")), ValueError, "threshold"),
    (lambda m, X: m.prob_benefit(X, threshold="1"), TypeError, "threshold"),
    (lambda m, X: m.prob_benefit(X, coupling="copula"), ValueError, "coupling"),
    (lambda m, X: m.prob_benefit(X, T1=7), ValueError, "T1"),
    (lambda m, X: m.effect_quantiles(0.5, X, T0="x"), ValueError, "T0"),
])
def test_bad_arguments_name_the_argument(crps_model, call, exc, match):
    X = design(10, 12)[0]
    with pytest.raises(exc, match=match):
        call(crps_model, X)


def test_bad_fit_parameters():
    X, T, Y, _ = design(200, 13)
    with pytest.raises(ValueError, match="noise_dim"):
        cgan.GANITE(crps_weight=1.0, n_iter=1, batch_size=32).fit(Y, T, X=X)
    with pytest.raises(ValueError, match="crps_weight"):
        cgan.GANITE(crps_weight=-1.0, noise_dim=1).fit(Y, T, X=X)
    with pytest.raises(ValueError, match="binary"):
        cgan.GANITE(crps_weight=1.0, noise_dim=1, n_iter=1, batch_size=32).fit((Y > 0).astype(int), T, X=X)


def test_binary_outcome_and_single_member_refuse_clearly():
    X, T, Y, _ = design(200, 14)
    binary = cgan.GANITE(n_iter=2, n_estimators=2, batch_size=32, random_state=0).fit((Y > 0).astype(int), T, X=X)
    with pytest.raises(ValueError, match="binary"):
        binary.predict_quantiles(X, 0.5)
    single = cgan.GANITE(n_iter=2, n_estimators=1, batch_size=32, random_state=0).fit(Y, T, X=X)
    with pytest.raises(ValueError, match="n_estimators"):
        single.predict_interval(X)
    assert single.predict_interval(X, calibrate=False)[0].shape == (200, 2)
    with pytest.raises(AttributeError, match="n_estimators"):
        single.oof_crps_
    with pytest.raises(RuntimeError):
        cgan.GANITE().predict_quantiles(X, 0.5)


def test_user_arrays_are_not_modified(crps_model):
    X = design(20, 15)[0]
    q = np.array([0.2, 0.7])
    X0, q0 = X.copy(), q.copy()
    crps_model.predict_quantiles(X, q)
    crps_model.predict_interval(X)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(q, q0)


# ------------------------------------------------------------ persistence and determinism

def test_persistence_keeps_every_output(crps_model, tmp_path):
    X = design(50, 16)[0]
    path = tmp_path / "m.cgan"
    crps_model.save(path)
    for copy in (cgan.load(path), pickle.loads(pickle.dumps(crps_model))):
        np.testing.assert_array_equal(copy.predict_quantiles(X, [0.1, 0.9]), crps_model.predict_quantiles(X, [0.1, 0.9]))
        for a, b in zip(copy.predict_interval(X), crps_model.predict_interval(X)):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(copy.prob_benefit(X), crps_model.prob_benefit(X))
        assert copy.oof_crps_ == crps_model.oof_crps_ and copy.draw_center_ == crps_model.draw_center_
    loaded = cgan.load(path)
    with pytest.raises(ValueError, match="needs X"):
        loaded.effect_quantiles(0.5)


def test_saved_conformal_weights_are_checked(crps_model):
    from cgan._ganite.state import STATE_KEYS, check_state
    state = {k: v for k, v in vars(crps_model).items() if k in STATE_KEYS[0] | STATE_KEYS[1]}
    check_state(dict(state))
    for key, bad in (("_weight_fit", state["_weight_fit"] * 0), ("_weight_coef", state["_weight_coef"][:-1])):
        with pytest.raises(ValueError, match=key):
            check_state({**state, key: bad})
    with pytest.raises(ValueError, match="_weight_coef and _weight_fit"):
        check_state({k: v for k, v in state.items() if k != "_weight_fit"})
    # a model saved before the weights existed still gives its raw intervals
    old = pickle.loads(pickle.dumps(crps_model))
    del old._weight_coef, old._weight_fit
    X = design(5, 18)[0]
    with pytest.raises(ValueError, match="refit"):
        old.predict_interval(X)
    assert old.predict_interval(X, calibrate=False)[0].shape == (5, 2)


@pytest.mark.parametrize("crps", [0.0, 1.0])
def test_same_seed_same_bits_whatever_n_jobs(crps):
    X, T, Y, _ = design(400, 17)
    kw = dict(noise_dim=2, crps_weight=crps, n_iter=30, n_estimators=3, batch_size=64, random_state=4)
    one = cgan.GANITE(n_jobs=1, **kw).fit(Y, T, X=X)
    two = cgan.GANITE(n_jobs=2, **kw).fit(Y, T, X=X)
    np.testing.assert_array_equal(one.predict_quantiles(X[:30], [0.1, 0.5]), two.predict_quantiles(X[:30], [0.1, 0.5]))
    for a, b in zip(one.predict_interval(X[:30]), two.predict_interval(X[:30])):
        np.testing.assert_array_equal(a, b)
    assert one.oof_crps_ == two.oof_crps_
    np.testing.assert_array_equal(one.effect_quantiles([0.3], X, random_state=9),
                                  two.effect_quantiles([0.3], X, random_state=9))
    assert not np.array_equal(one.predict_quantiles(X[:30], 0.5, random_state=1),
                              one.predict_quantiles(X[:30], 0.5, random_state=2))


def test_core_refuses_a_crps_generator_without_noise():
    from cgan import _cgan
    cfg = dict(n_features=3, n_treatments=2, hidden_size=8, n_hidden=1, noise_dim=0, binary_outcome=0,
               batch_size=16, d_steps=1, alpha=1.0, beta=1.0, learning_rate=1e-3, weight_decay=0.0, seed=1)
    with pytest.raises(ValueError, match="noise_dim"):
        _cgan.Ganite(**cfg, crps_weight=1.0)
    with pytest.raises(ValueError, match="crps_weight"):
        _cgan.Ganite(**cfg, crps_weight=-1.0)
    core = _cgan.Ganite(**dict(cfg, noise_dim=2), crps_weight=0.5)
    again = _cgan.Ganite.restore(core.snapshot())
    assert again.config["crps_weight"] == 0.5 and again.snapshot() == core.snapshot()
