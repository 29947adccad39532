"""Inference for average effects: the AIPW math on injected arrays with known
truths, ATT/ATC against NumPy formulas written out here, the bootstrap's
determinism, overlap diagnostics and warnings, ATEResult, and bad input."""
import dataclasses
import pickle
import sys
import warnings

import numpy as np
import pytest

import cgan
from cgan import GANITE, ATEResult
from cgan._inference import aipw

TINY = dict(hidden_size=8, n_iter=50, batch_size=32)


# ---------------------------------------------------- simulated truths
def _simulate(n, K, seed):
    """Confounded data with known potential-outcome means mu and propensities e.

    x0 raises both the chance of the higher arms and the outcome, so a naive
    comparison is biased.  mu_k(x) = 1.5 x0 + 0.5 x1^2 + k (1 + x1)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    logits = np.stack([np.zeros(n), 0.8 * X[:, 0] - 0.5 * X[:, 1], -0.6 * X[:, 0] + 0.4 * X[:, 2]][:K], axis=1)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    t = (rng.random(n)[:, None] > np.cumsum(e, axis=1)).sum(axis=1)
    mu = (1.5 * X[:, 0] + 0.5 * X[:, 1] ** 2)[:, None] + np.arange(K)[None, :] * (1 + X[:, 1])[:, None]
    y = mu[np.arange(n), t] + rng.normal(size=n)
    return X, t, y, mu, e


def _truth(mu, t, a, b, target):
    """The sample version of each estimand: the mean of mu_b - mu_a over the target rows."""
    rows = {"ate": np.ones(len(t), bool), "att": t == b, "atc": t == a}[target]
    return float(np.mean(mu[rows, b] - mu[rows, a]))


CONTRASTS = [(2, 0, 1), (3, 0, 2), (3, 2, 1)]


@pytest.mark.parametrize("K, a, b", CONTRASTS)
@pytest.mark.parametrize("target", ["ate", "att", "atc"])
def test_aipw_is_doubly_robust(K, a, b, target):
    # n = 20,000 rows; the tolerance is 4 influence-function standard errors
    # (0.02 to 0.13 here), so with the truth known a consistent estimator
    # passes with probability 1 - 6e-5 and a biased one (the plug-in is off
    # by more than 0.5 here) cannot.  The last checks show the tolerance has power: with
    # both models wrong the estimate is off by many standard errors.
    X, t, y, mu, e = _simulate(20_000, K, seed=11 + K)
    truth = _truth(mu, t, a, b, target)
    wrong_mu = mu + (2 + 2 * X[:, :1]) * (1 + np.arange(K))  # wrong for every arm, tracking the confounder
    wrong_e = np.full_like(e, 1 / K)
    est, se = aipw(wrong_mu, e, t, y, a, b, target)
    assert abs(est - truth) < 4 * se, ("wrong outcome model, right propensity", est, truth, se)
    est, se = aipw(mu, wrong_e, t, y, a, b, target)
    assert abs(est - truth) < 4 * se, ("right outcome model, wrong propensity", est, truth, se)
    est, se = aipw(wrong_mu, wrong_e, t, y, a, b, target)
    assert abs(est - truth) > 8 * se, ("both wrong should be biased", est, truth, se)
    plugin = float(np.mean((wrong_mu[:, b] - wrong_mu[:, a])[{"ate": slice(None), "att": t == b, "atc": t == a}[target]]))
    assert abs(plugin - truth) > 0.5


@pytest.mark.parametrize("target", ["ate", "att", "atc"])
def test_aipw_standard_error_matches_the_spread_of_estimates(target):
    # 400 fresh samples of 1,000 rows; with a right propensity and a wrong
    # outcome model the standard error still describes the spread.  The sd
    # of 400 draws is known to about 1/sqrt(800) = 3.5%, so 15% is > 4 sigma.
    ests, ses = [], []
    for rep in range(400):
        X, t, y, mu, e = _simulate(1000, 2, seed=1000 + rep)
        wrong_mu = mu + (2 + 2 * X[:, :1]) * (1 + np.arange(2))
        est, se = aipw(wrong_mu, e, t, y, 0, 1, target)
        ests.append(est)
        ses.append(se)
    spread, mean_se = np.std(ests, ddof=1), np.mean(ses)
    assert abs(spread / mean_se - 1) < 0.15, (spread, mean_se)


def _att_reference(mu, e, t, y, a, b):
    """ATT of arm b against a written out from Hahn (1998), row by row."""
    n = len(y)
    treated = [i for i in range(n) if t[i] == b]
    controls = [i for i in range(n) if t[i] == a]
    p = len(treated) / n
    total = sum(y[i] - mu[i, a] for i in treated)
    total -= sum(e[i, b] / e[i, a] * (y[i] - mu[i, a]) for i in controls)
    tau = total / len(treated)
    phi = np.zeros(n)
    for i in treated:
        phi[i] = (y[i] - mu[i, a] - tau) / p
    for i in controls:
        phi[i] = -e[i, b] / e[i, a] * (y[i] - mu[i, a]) / p
    se = np.sqrt(np.sum((phi - phi.mean()) ** 2) / (n - 1) / n)
    return tau, se


def _atc_reference(mu, e, t, y, a, b):
    """ATC of arm b against a: the mean over the rows of arm a of
    mu_b - y, with the missing mu_b corrected from the rows of arm b
    weighted by the odds e_a / e_b."""
    n = len(y)
    controls = t == a
    treated = t == b
    q = controls.mean()
    odds = e[:, a] / e[:, b]
    tau = (np.sum(odds[treated] * (y[treated] - mu[treated, b])) + np.sum(mu[controls, b] - y[controls])) / controls.sum()
    phi = np.where(treated, odds * (y - mu[:, b]), 0.0) + np.where(controls, mu[:, b] - y - tau, 0.0)
    phi /= q
    se = np.sqrt(np.var(phi, ddof=1) / n)
    return tau, se


@pytest.mark.parametrize("K, a, b", CONTRASTS)
def test_att_and_atc_match_numpy_formulas(K, a, b):
    X, t, y, mu, e = _simulate(600, K, seed=3)
    rng = np.random.default_rng(4)
    mu_hat = mu + rng.normal(scale=0.5, size=mu.shape)  # an imperfect model, so every term matters
    e_hat = e * np.exp(rng.normal(scale=0.3, size=e.shape))
    e_hat /= e_hat.sum(axis=1, keepdims=True)
    est, se = aipw(mu_hat, e_hat, t, y, a, b, "att")
    ref, ref_se = _att_reference(mu_hat, e_hat, t, y, a, b)
    assert est == pytest.approx(ref, rel=1e-10, abs=1e-12)
    assert se == pytest.approx(ref_se, rel=1e-10)
    est, se = aipw(mu_hat, e_hat, t, y, a, b, "atc")
    ref, ref_se = _atc_reference(mu_hat, e_hat, t, y, a, b)
    assert est == pytest.approx(ref, rel=1e-10, abs=1e-12)
    assert se == pytest.approx(ref_se, rel=1e-10)
    est, se = aipw(mu_hat, e_hat, t, y, a, b, "ate")
    psi = mu_hat[:, b] - mu_hat[:, a] + (t == b) * (y - mu_hat[:, b]) / e_hat[:, b] \
        - (t == a) * (y - mu_hat[:, a]) / e_hat[:, a]
    assert est == pytest.approx(psi.mean(), rel=1e-10, abs=1e-12)
    assert se == pytest.approx(psi.std(ddof=1) / np.sqrt(len(y)), rel=1e-10)


# --------------------------------------------------------- the estimator
def _data(n=400, seed=0, strength=0.5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    t = rng.binomial(1, 1 / (1 + np.exp(-strength * X[:, 0])))
    y = X @ np.array([1.0, 0.5, 0.0, -1.0]) + 2.0 * t + 0.3 * rng.normal(size=n)
    return X, t, y


@pytest.fixture(scope="module")
def fitted():
    X, t, y = _data()
    return GANITE(random_state=0, **TINY).fit(y, t, X=X), X, t, y


def test_estimator_aipw_uses_the_cross_fitted_arrays(fitted):
    model, X, t, y = fitted
    for target in ("ate", "att", "atc"):
        result = model.ate_inference(target=target)
        ref = {"att": _att_reference, "atc": _atc_reference}.get(target)
        mu, e = model._mu_oof, model.propensity_fit_
        if ref is not None:
            tau, se = ref(mu, e, t, y, 0, 1)
        else:
            psi = mu[:, 1] - mu[:, 0] + t * (y - mu[:, 1]) / e[:, 1] - (1 - t) * (y - mu[:, 0]) / e[:, 0]
            tau, se = psi.mean(), psi.std(ddof=1) / np.sqrt(len(y))
        assert result.estimate == pytest.approx(tau, rel=1e-9)
        assert result.stderr == pytest.approx(se, rel=1e-9)
        assert model.ate(method="aipw", target=target) == result.estimate
        assert result.lo < result.estimate < result.hi
        assert result.hi - result.lo == pytest.approx(2 * 1.959963984540054 * se, rel=1e-9)
        assert (result.method, result.target, result.n, result.propensity_clip) == ("aipw", target, len(y), 0.01)
        assert model.ate_interval(target=target) == (result.lo, result.hi)
    # clipped below at 0.01, then renormalised
    assert np.all(model.propensity_fit_ >= 0.01 / 1.01)
    assert np.allclose(model.propensity_fit_.sum(axis=1), 1.0)


def test_plugin_targets_average_the_effects_of_the_right_rows(fitted):
    model, X, t, y = fitted
    effect = model.effect()
    assert model.ate() == pytest.approx(effect.mean(), rel=1e-12)
    assert model.ate(target="att") == pytest.approx(effect[t == 1].mean(), rel=1e-12)
    assert model.ate(target="atc") == pytest.approx(effect[t == 0].mean(), rel=1e-12)
    new = model.effect(X[:50])
    assert model.ate(X[:50], target="att", T=t[:50]) == pytest.approx(new[t[:50] == 1].mean(), rel=1e-12)
    assert model.ate(X[:50], target="atc", T=t[:50]) == pytest.approx(new[t[:50] == 0].mean(), rel=1e-12)


def test_aipw_on_new_rows(fitted):
    model, X, t, y = fitted
    a = model.ate_inference(X, T=t, Y=y, target="att", random_state=1)
    b = model.ate_inference(X, T=t, Y=y, target="att", random_state=1)
    assert a == b
    assert a.lo < a.estimate < a.hi and a.n == len(y)


def test_module_ate_passes_method_and_target_through():
    X, t, y = _data(n=200)
    model = GANITE(random_state=2, **TINY).fit(y, t, X=X)
    for method in ("plugin", "aipw"):
        for target in ("ate", "att", "atc"):
            got = cgan.ate(y, t, X=X, method=method, target=target, random_state=2, **TINY)
            assert got == model.ate(method=method, target=target)
            assert cgan.ate(model, method=method, target=target) == got
            assert cgan.ate(model, X, T=t, Y=y, method=method, target=target) == \
                model.ate(X, T=t, Y=y, method=method, target=target)


def test_ate_result_is_frozen_and_readable(fitted):
    model = fitted[0]
    result = model.ate_inference(alpha=0.1, target="att")
    assert isinstance(result, ATEResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.estimate = 0.0
    text = repr(result)
    assert "ATT by aipw" in text and "90% interval" in text and "propensity_clip=0.01" in text
    assert f"{result.estimate:.4g}" in text


# ------------------------------------------------------------ bootstrap
def test_bootstrap_is_identical_whatever_n_jobs(fitted):
    model, X, t, y = fitted
    one = model.ate_inference(method="bootstrap", n_bootstrap=6, n_jobs=1, random_state=3)
    two = model.ate_inference(method="bootstrap", n_bootstrap=6, n_jobs=2, random_state=3)
    assert one == two
    other = model.ate_inference(method="bootstrap", n_bootstrap=6, n_jobs=2, random_state=4)
    assert other.stderr != one.stderr
    assert one.method == "bootstrap" and one.propensity_clip == 0.01
    assert one.estimate == model.ate_inference().estimate  # the cross-fitted AIPW estimate
    assert one.lo < one.hi and one.stderr > 0
    narrow = model.ate_inference(method="bootstrap", n_bootstrap=6, alpha=0.5, random_state=3)
    assert one.lo <= narrow.lo <= narrow.hi <= one.hi
    assert model.ate_interval(method="bootstrap", n_bootstrap=6, random_state=3) == (one.lo, one.hi)


def test_bootstrap_on_new_rows_and_after_pickling(fitted):
    model, X, t, y = fitted
    copy = pickle.loads(pickle.dumps(model))
    assert not hasattr(copy, "_fit_data")
    with pytest.raises(ValueError, match="pass X, T and Y"):
        copy.ate_interval(method="bootstrap", n_bootstrap=3)
    # rows given explicitly: the estimate is method='aipw''s on them, the
    # replicates resample them as they resample the training rows (but
    # with the logistic propensity model, as AIPW on new rows uses)
    given = copy.ate_inference(X, T=t, Y=y, method="bootstrap", n_bootstrap=3, target="atc", random_state=5)
    assert given.estimate == copy.ate_inference(X, T=t, Y=y, target="atc", random_state=5).estimate
    kept = model.ate_inference(method="bootstrap", n_bootstrap=3, target="atc", random_state=5)
    assert model.propensity_model_ == "logistic"  # so both refit the same propensity model
    assert given.stderr == pytest.approx(kept.stderr, rel=1e-4)
    # a few treated rows still appear in every resample
    few = np.r_[np.flatnonzero(t == 0)[:100], np.flatnonzero(t == 1)[:2]]
    r = copy.ate_inference(X[few], T=t[few], Y=y[few], method="bootstrap", n_bootstrap=3, target="att",
                           random_state=0)
    assert np.isfinite(r.lo) and np.isfinite(r.hi)
    # one is too few to cross-fit
    one = np.r_[np.flatnonzero(t == 0)[:100], np.flatnonzero(t == 1)[:1]]
    with pytest.raises(ValueError, match="at least 2 rows that received 1; 1 did"):
        copy.ate_inference(X[one], T=t[one], Y=y[one], method="bootstrap", n_bootstrap=3)


def test_bootstrap_predicts_each_row_with_a_model_that_did_not_train_on_it(fitted, monkeypatch):
    import cgan._ganite.members as G

    model, X, t, y = fitted
    Z = model._fit_data[0]
    index = {Z[i].tobytes(): i for i in range(len(Z))}
    calls = []
    real = G.train_core

    class Spy:
        def __init__(self, core, rows):
            self.core, self.rows = core, set(rows.tolist())

        def predict(self, A):
            calls.append((self.rows, {index[row.tobytes()] for row in A}))
            return self.core.predict(A)

    def train(p, X32, codes, y32, K, binary, seed, rows, stop, bar):
        out = real(p, X32, codes, y32, K, binary, seed, rows, stop, bar)
        return None if out is None else ([Spy(core, rows) for core in out[0]], *out[1:])

    monkeypatch.setattr(G, "train_core", train)
    model.ate_inference(method="bootstrap", n_bootstrap=3, random_state=0)
    assert len(calls) == 3 * 2
    for trained, predicted in calls:
        assert predicted and not trained & predicted
        assert set(t[sorted(trained)]) == {0, 1}


def test_unit_folds_keep_copies_together_and_balance_rows():
    from cgan._inference import unit_folds as _unit_folds

    rng = np.random.default_rng(4)
    codes = rng.integers(0, 3, 500)
    arms = [np.flatnonzero(codes == k) for k in range(3)]
    sample = np.concatenate([rng.choice(idx, size=idx.size, replace=True) for idx in arms])
    fold = _unit_folds(sample, codes, 2, np.random.default_rng(7))
    assert fold.shape == sample.shape and set(fold) == {0, 1}
    for unit in np.unique(sample):
        assert len(set(fold[sample == unit])) == 1
    copies = np.bincount(sample).max()
    for k in range(3):
        in_arm = codes[sample] == k
        sizes = np.bincount(fold[in_arm], minlength=2)
        assert abs(sizes[0] - sizes[1]) <= copies
    again = _unit_folds(sample, codes, 2, np.random.default_rng(7))
    assert np.array_equal(again, fold)
    # two units of an arm, one with twice the other's copies: one per fold
    tiny = _unit_folds(np.array([0, 1, 1]), np.zeros(2, dtype=int), 2, np.random.default_rng(0))
    assert sorted(tiny[[0, 1]]) == [0, 1] and tiny[1] == tiny[2]


def test_bootstrap_shows_progress(capsys):
    X, t, y = _data(n=200)
    model = GANITE(random_state=0, **TINY).fit(y, t, X=X)
    model.set_params(verbose=True)
    model.ate_inference(method="bootstrap", n_bootstrap=2)
    assert "bootstrap" in capsys.readouterr().err


# ------------------------------------------------------------- overlap
def test_fit_warns_on_poor_overlap_only():
    X, t, y = _data(n=400, seed=1, strength=8.0)
    with pytest.warns(UserWarning, match="overlap poorly"):
        poor = GANITE(random_state=0, **TINY).fit(y, t, X=X)
    report = poor.overlap_report()
    assert report.attrs["share_extreme_any"] > 0.05
    X, t, y = _data(n=400, seed=1, strength=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        good = GANITE(random_state=0, **TINY).fit(y, t, X=X)
    assert good.overlap_report().attrs["share_extreme_any"] <= 0.05


def test_overlap_report_summaries(fitted, monkeypatch):
    pytest.importorskip("pandas")
    model, X, t, y = fitted
    report = model.overlap_report(threshold=0.3)
    assert list(report.index) == [0, 1]
    assert list(report.columns) == ["n_received", "min", "5%", "25%", "50%", "75%", "95%", "max", "share_extreme"]
    assert list(report["n_received"]) == [np.sum(t == 0), np.sum(t == 1)]
    values = report[["min", "5%", "25%", "50%", "75%", "95%", "max"]].to_numpy()
    assert np.all(np.diff(values, axis=1) >= 0) and np.all((values > 0) & (values < 1))
    # two arms: P(T=0|x) = 1 - P(T=1|x), so the summaries mirror each other
    assert values[0, 0] == pytest.approx(1 - values[1, -1])
    assert report["share_extreme"][0] == pytest.approx(report["share_extreme"][1])
    raw = model._propensity_unclipped[:, 1]
    assert report["share_extreme"][1] == pytest.approx(np.mean((raw < 0.3) | (raw > 0.7)))
    monkeypatch.setitem(sys.modules, "pandas", None)
    plain = model.overlap_report(threshold=0.3)
    assert isinstance(plain, dict)
    assert np.allclose(plain["50%"], report["50%"].to_numpy())
    assert plain["share_extreme_any"] == report.attrs["share_extreme_any"]


def test_plot_overlap_needs_matplotlib(fitted, monkeypatch):
    model = fitted[0]
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="plot_overlap needs matplotlib"):
        model.plot_overlap()


def test_plot_overlap_draws(fitted):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    model = fitted[0]
    ax = model.plot_overlap(bins=10)
    assert len(ax.patches) == 20  # two histograms of 10 bins
    assert "P(T = 1 | x)" in ax.get_xlabel()


# ------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda m, X, t, y: m.ate_interval(alpha=0.0), ValueError, "alpha"),
        (lambda m, X, t, y: m.ate_interval(alpha=1.0), ValueError, "alpha"),
        (lambda m, X, t, y: m.ate_interval(alpha=-0.1), ValueError, "alpha"),
        (lambda m, X, t, y: m.ate_interval(alpha=float("nan")), ValueError, "alpha"),
        (lambda m, X, t, y: m.ate_inference(alpha="0.05"), TypeError, "alpha"),
        (lambda m, X, t, y: m.ate_interval(method="bootstrap", n_bootstrap=1), ValueError, "n_bootstrap"),
        (lambda m, X, t, y: m.ate_interval(method="bootstrap", n_bootstrap=0), ValueError, "n_bootstrap"),
        (lambda m, X, t, y: m.ate_interval(method="bootstrap", n_bootstrap=2.5), TypeError, "n_bootstrap"),
        (lambda m, X, t, y: m.ate_interval(method="bootstrap", n_bootstrap=2, n_jobs=0), ValueError, "n_jobs"),
        (lambda m, X, t, y: m.ate_interval(method="bayes"), ValueError, "method"),
        (lambda m, X, t, y: m.ate_interval(method="plugin"), ValueError, "method"),
        (lambda m, X, t, y: m.ate(method="bootstrap"), ValueError, "method"),
        (lambda m, X, t, y: m.ate(method=None), TypeError, "method"),
        (lambda m, X, t, y: m.ate(target="ato"), ValueError, "target"),
        (lambda m, X, t, y: m.ate_inference(target="ATT"), ValueError, "target"),
        (lambda m, X, t, y: m.ate(X, target="att"), ValueError, "needs T"),
        (lambda m, X, t, y: m.ate(X, target="att", T=np.zeros(len(t))), ValueError, "target='att'.*none of"),
        (lambda m, X, t, y: m.ate(X, target="atc", T=np.ones(len(t))), ValueError, "target='atc'.*none of"),
        (lambda m, X, t, y: m.ate_inference(X, T=np.zeros(len(t)), Y=y, target="att", method="bootstrap",
                                            n_bootstrap=2), ValueError, "none of"),
        (lambda m, X, t, y: m.ate_inference(X, T=np.zeros(len(t)), Y=y), ValueError, "none of"),
        (lambda m, X, t, y: m.ate_interval(X), ValueError, "needs their observed T and Y"),
        (lambda m, X, t, y: m.ate(X, method="aipw", T=t), ValueError, "needs their observed T and Y"),
        (lambda m, X, t, y: m.ate_interval(X, method="bootstrap", Y=y), ValueError, "needs their observed T and Y"),
        (lambda m, X, t, y: m.ate_interval(T=t, Y=y), ValueError, "only used together with X"),
        (lambda m, X, t, y: m.ate(T=t), ValueError, "only used together with X"),
        (lambda m, X, t, y: m.ate(X, T=t[:10]), ValueError, "T has 10 entries"),
        (lambda m, X, t, y: m.ate(X, T=np.full(len(t), 7)), ValueError, "not seen in fit"),
        (lambda m, X, t, y: m.ate(X, Y=y[:10]), ValueError, "Y has 10 entries"),
        (lambda m, X, t, y: m.overlap_report(threshold=0.5), ValueError, "threshold"),
        (lambda m, X, t, y: m.overlap_report(threshold=0), ValueError, "threshold"),
        (lambda m, X, t, y: m.plot_overlap(bins=0), ValueError, "bins"),
    ],
)
def test_bad_input_names_the_argument(fitted, call, exc, match):
    model, X, t, y = fitted
    with pytest.raises(exc, match=match):
        call(model, X, t, y)


def test_methods_need_a_fitted_model():
    for call in (lambda m: m.ate_inference(), lambda m: m.overlap_report(), lambda m: m.ate(target="att")):
        with pytest.raises(RuntimeError, match="not fitted"):
            call(GANITE())


def test_propensity_model_follows_a_nonlinear_assignment():
    # P(T = 1 | x) = sigmoid(2.5 cos(2 x0)) is not monotone in x0, so no
    # logistic model can follow it: the cross-fitted log-loss must pick a
    # flexible model (the additive splines or the MLP), whose propensities
    # then track the truth far better.
    rng = np.random.default_rng(5)
    n = 3000
    X = rng.normal(size=(n, 3))
    e = 1 / (1 + np.exp(-2.5 * np.cos(2 * X[:, 0])))
    t = (rng.uniform(size=n) < e).astype(int)
    y = X[:, 1] + t + rng.normal(size=n)
    model = GANITE(random_state=0, **TINY).fit(y, t, X=X)
    assert model.propensity_model_ != "logistic"
    err = np.sqrt(np.mean((model.propensity_fit_[:, 1] - e) ** 2))
    assert err < 0.12, err  # a constant 0.5 would be off by about 0.33
    # with one member nothing is cross-fitted, and the logistic model is kept
    single = GANITE(random_state=0, n_estimators=1, **TINY).fit(y, t, X=X)
    assert single.propensity_model_ == "logistic"


def test_propensity_model_follows_an_interaction_with_the_mlp():
    # sigmoid(2.5 x0 x1) is flat along each covariate alone: no additive
    # model follows it, so only the MLP can win
    rng = np.random.default_rng(7)
    n = 3000
    X = rng.normal(size=(n, 3))
    e = 1 / (1 + np.exp(-2.5 * X[:, 0] * X[:, 1]))
    t = (rng.uniform(size=n) < e).astype(int)
    y = X[:, 2] + t + rng.normal(size=n)
    model = GANITE(random_state=0, **TINY).fit(y, t, X=X)
    assert model.propensity_model_.startswith("mlp")


def test_additive_propensity_follows_smooth_one_covariate_shapes():
    # the coverage benchmark's nonlinear assignment, sigmoid(0.8 sin(2 x0) +
    # 0.4 (x1^2 - 1)) on 1000 rows: a weak signal that the MLPs follow
    # poorly on 800 rows per fold (RMS error about 0.13, against 0.17 for
    # the logistic model).  The B-spline basis wins the held-out log-loss
    # and roughly halves the logistic model's error.
    rng = np.random.default_rng(8)
    n = 1000
    X = rng.normal(size=(n, 5))
    e = 1 / (1 + np.exp(-(0.8 * np.sin(2 * X[:, 0]) + 0.4 * (X[:, 1] ** 2 - 1))))
    t = (rng.uniform(size=n) < e).astype(int)
    y = X[:, 2] + t + rng.normal(size=n)
    model = GANITE(random_state=0, **TINY).fit(y, t, X=X)
    assert model.propensity_model_ == "additive"
    assert np.sqrt(np.mean((model.propensity_fit_[:, 1] - e) ** 2)) < 0.11


def _de_boor_basis(x, knots, degree):
    """Reference B-splines by the Cox-de Boor recursion, one column per
    function on the full knot vector `knots`."""
    B = np.array([(knots[i] <= x) & (x < knots[i + 1]) for i in range(len(knots) - 1)], dtype=float).T
    for p in range(1, degree + 1):
        nxt = np.zeros((len(x), len(knots) - 1 - p))
        for i in range(len(knots) - 1 - p):
            left = (x - knots[i]) / (knots[i + p] - knots[i]) * B[:, i]
            right = (knots[i + p + 1] - x) / (knots[i + p + 1] - knots[i + 1]) * B[:, i + 1]
            nxt[:, i] = left + right
        B = nxt
    return B


def test_spline_basis_is_cubic_b_splines_and_skips_discrete_columns():
    from cgan._propensity import SPLINE_BYTES as _SPLINE_BYTES, SPLINE_KNOTS as _SPLINE_KNOTS, bspline_terms as _bspline_terms, spline_features as _spline_features

    rng = np.random.default_rng(9)
    n = 2000
    Z = np.column_stack([rng.integers(0, 2, n), rng.normal(size=n), rng.integers(0, 4, n)]).astype(np.float32)
    F = _spline_features(Z)
    # the discrete columns come first, unchanged; the continuous one is
    # replaced by its basis on knots from its smallest to its largest value
    k = _SPLINE_KNOTS
    assert F.shape == (n, 2 + k + 2) and F.dtype == np.float32
    np.testing.assert_array_equal(F[:, :2], Z[:, [0, 2]])
    x = Z[:, 1].astype(np.float64)
    lo, hi = x.min(), x.max()
    np.testing.assert_allclose(F[:, 2:], _bspline_terms(x, lo, hi), rtol=1e-6, atol=1e-7)
    # against the Cox-de Boor recursion on the extended equally spaced knots
    h = (hi - lo) / (k - 1)
    knots = lo + h * np.arange(-3, k + 3)
    grid = np.linspace(lo, hi - 1e-9, 301)
    np.testing.assert_allclose(_bspline_terms(grid, lo, hi), _de_boor_basis(grid, knots, 3), atol=1e-12)
    # a partition of unity that spans cubics inside the range ...
    B = _bspline_terms(grid, lo, hi)
    np.testing.assert_allclose(B.sum(axis=1), 1.0, atol=1e-12)
    assert B.min() >= 0 and np.all((B > 0).sum(axis=1) <= 4)
    for power in (1, 2, 3):
        coef = np.linalg.lstsq(B, grid ** power, rcond=None)[0]
        np.testing.assert_allclose(B @ coef, grid ** power, atol=1e-8 * (1 + np.abs(grid).max() ** power))
    # ... and constant beyond it, so outlying rows cannot blow up
    np.testing.assert_array_equal(_bspline_terms(np.array([lo - 5.0, hi + 5.0]), lo, hi),
                                  _bspline_terms(np.array([lo, hi]), lo, hi))
    # no continuous column, or a basis too big for the budget: not built
    assert _spline_features(Z[:, [0, 2]]) is None
    big = rng.normal(size=(_SPLINE_BYTES // (4 * (k + 2)) + 1, 1)).astype(np.float32)
    assert _spline_features(big) is None


def test_rank_spline_propensity_follows_a_skewed_covariate():
    # x0 lognormal: on equally spaced knots from its min to its max most
    # rows share the first interval, and the assignment, smooth in log x0,
    # is followed poorly (RMS error 0.14-0.18 over seeds 10-12); on x0's
    # ranks the same basis halves that (0.071-0.078) and wins the log-loss
    from cgan._propensity import bspline_terms as _bspline_terms, spline_features as _spline_features, unit_ranks as _unit_ranks

    rng = np.random.default_rng(10)
    n = 1000
    X = rng.normal(size=(n, 3))
    X[:, 0] = np.exp(1.2 * X[:, 0])
    e = 1 / (1 + np.exp(-1.2 * np.sin(2 * np.log(X[:, 0]) / 1.2)))
    t = (rng.uniform(size=n) < e).astype(int)
    y = X[:, 1] + t + rng.normal(size=n)
    model = GANITE(random_state=0, **TINY).fit(y, t, X=X)
    assert model.propensity_model_ == "additive-rank"
    assert np.sqrt(np.mean((model.propensity_fit_[:, 1] - e) ** 2)) < 0.1
    # the basis is the B-splines of the ranks scaled to [0, 1], ties sharing
    # their average rank
    np.testing.assert_allclose(_unit_ranks(np.array([3.0, 1.0, 3.0, 2.0, 9.0])), [0.625, 0.0, 0.625, 0.25, 1.0])
    Z = np.column_stack([X[:, 0], rng.integers(0, 2, n)]).astype(np.float32)
    F = _spline_features(Z, ranks=True)
    np.testing.assert_array_equal(F[:, 0], Z[:, 1])
    np.testing.assert_allclose(F[:, 1:], _bspline_terms(_unit_ranks(Z[:, 0].astype(np.float64)), 0.0, 1.0),
                               rtol=1e-6, atol=1e-7)


def test_propensity_model_on_a_logistic_assignment_is_accurate():
    rng = np.random.default_rng(6)
    n = 3000
    X = rng.normal(size=(n, 3))
    e = 1 / (1 + np.exp(-(0.8 * X[:, 0] - 0.5 * X[:, 1])))
    t = (rng.uniform(size=n) < e).astype(int)
    y = X[:, 1] + t + rng.normal(size=n)
    model = GANITE(random_state=0, **TINY).fit(y, t, X=X)
    assert model.propensity_model_ in ("logistic", "additive", "mlp-short", "mlp-long")
    assert np.sqrt(np.mean((model.propensity_fit_[:, 1] - e) ** 2)) < 0.05
