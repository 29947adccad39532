"""Private training of CausalWGAN (epsilon=...): the noise calibration
against the accountant, the refusal of undeclared column facts, the spent
budget and its persistence, determinism, and bad input.  The per-example
clipping and the noise are checked against one-example passes in the C
tests (csrc/tests/test_core.c, test_dp)."""
import io

import numpy as np
import pytest

import cgan
from cgan import _cgan, _dp

pd = pytest.importorskip("pandas")
pytest.importorskip("dp_accounting")

FAST = dict(n_iter=20, hidden_size=16, n_hidden=2, critic_steps=2, batch_size=32)
LEVELS = {"t": [0, 1], "flag": [False, True], "region": ["east", "north", "south"]}
BOUNDS = {"age": (18, 60), "earn": (0, 20000)}


def _frame(n=200, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.binomial(1, 0.4, n)
    age = rng.integers(18, 60, n)
    region = np.array(["north", "south", "east"])[rng.integers(0, 3, n)]
    flag = rng.binomial(1, 0.3, n).astype(bool)
    earn = np.clip(rng.normal(2000 + 1000 * t, 3000, n), 0, None)
    return pd.DataFrame({"t": t, "age": age, "region": region, "flag": flag, "earn": earn})


def _fit(df=None, **params):
    df = _frame() if df is None else df
    model = cgan.CausalWGAN(epsilon=params.pop("epsilon", 2.0), random_state=params.pop("random_state", 0),
                            **{**FAST, **params})
    return model.fit(df, treatment="t", outcome="earn", bounds=BOUNDS, levels=LEVELS, log=None)


@pytest.fixture(scope="module")
def private():
    return _fit()


@pytest.mark.parametrize("epsilon,delta,q,count", [(1.0, 1e-5, 0.01, 1000), (3.0, 1e-4, 0.15, 250),
                                                   (10.0, 1e-6, 0.05, 5000)])
def test_calibrated_noise_spends_the_budget(epsilon, delta, q, count):
    sigma = _dp.calibrate(epsilon, delta, [(q, count)])
    spent = _dp.spent(sigma, [(q, count)], delta)
    assert spent <= epsilon
    assert spent >= epsilon * (1 - _dp.EPSILON_RTOL)
    # the calibration is the least noise that stays within the budget
    assert _dp.spent(sigma * 0.99, [(q, count)], delta) > epsilon


def test_the_accountant_is_dp_accountings_for_the_subsampled_gaussian():
    from dp_accounting import GaussianDpEvent, PoissonSampledDpEvent, SelfComposedDpEvent
    from dp_accounting.rdp import RdpAccountant

    accountant = RdpAccountant()
    accountant.compose(SelfComposedDpEvent(PoissonSampledDpEvent(0.1, GaussianDpEvent(1.3)), 400))
    assert _dp.spent(1.3, [(0.1, 400)], 1e-5) == pytest.approx(accountant.get_epsilon(1e-5), rel=1e-12)
    # two parts compose as one of their total steps
    assert _dp.spent(1.3, [(0.1, 150), (0.1, 250)], 1e-5) == pytest.approx(_dp.spent(1.3, [(0.1, 400)], 1e-5),
                                                                          rel=1e-9)


def test_fit_reports_the_budget_it_spent_and_its_split(private):
    spent = private.privacy_spent_
    n = len(_frame())
    assert spent["epsilon_requested"] == 2.0
    assert 2.0 * (1 - _dp.EPSILON_RTOL) <= spent["epsilon"] <= 2.0
    assert spent["delta"] == pytest.approx(1 / (10 * n)) and spent["delta"] < 1 / n
    assert spent["sample_rate"] == pytest.approx(32 / n)
    steps = FAST["n_iter"] * FAST["critic_steps"]
    split = spent["split"]
    assert [v["steps"] for v in split.values()] == [steps, steps, FAST["n_iter"], 0]
    q, sigma = spent["sample_rate"], spent["noise_multiplier"]
    # every part spends less alone than all of them together, which is the total
    assert all(v["epsilon_alone"] < spent["epsilon"] for v in split.values())
    assert _dp.spent(sigma, [(q, 2 * steps + FAST["n_iter"])], spent["delta"]) == pytest.approx(spent["epsilon"])
    assert private.history_ == {"covariates": {}, "treatment": {}, "outcome": {}}


def test_a_non_private_fit_spends_nothing():
    df = _frame()
    model = cgan.CausalWGAN(random_state=0, **FAST).fit(df, treatment="t", outcome="earn",
                                                         bounds={"earn": (0, None)})
    assert model.privacy_spent_ is None


def test_private_samples_keep_declared_levels_bounds_and_dtypes(private):
    s = private.sample(400, random_state=1)
    df = _frame()
    assert list(s.columns) == list(df.columns) + ["y0", "y1"]
    assert set(s["region"]) <= set(LEVELS["region"]) and set(s["t"]) <= {0, 1}
    assert s["age"].between(18, 60).all() and s["earn"].between(0, 20000).all()
    for c in df.columns:
        assert s[c].dtype == df[c].dtype, c
    assert np.allclose(s["earn"], np.where(s["t"] == 1, s["y1"], s["y0"]))
    assert np.isfinite(private.ate())


def test_same_seed_same_private_model_whatever_the_threads():
    a = _fit(n_jobs=1).sample(300, random_state=3)
    b = _fit(n_jobs=2).sample(300, random_state=3)
    pd.testing.assert_frame_equal(a, b)
    c = _fit(random_state=1).sample(300, random_state=3)
    assert not a.equals(c)


def test_persistence_keeps_privacy_spent(private):
    loaded = cgan.loads(private.dumps())
    assert loaded.privacy_spent_ == private.privacy_spent_
    assert loaded.get_params()["epsilon"] == 2.0
    pd.testing.assert_frame_equal(loaded.sample(100, random_state=4), private.sample(100, random_state=4))
    buf = io.BytesIO(private.dumps())
    assert cgan.loads(buf.getvalue()).privacy_spent_["noise_multiplier"] == private.privacy_spent_["noise_multiplier"]


def test_a_tampered_privacy_record_does_not_load(private):
    from cgan._wgan import state
    st = dict(vars(private))
    st = {k: st[k] for k in state.STATE_KEYS[0] | (state.STATE_KEYS[1] & set(st))}
    st["privacy_spent_"] = {"epsilon": 1.0}
    with pytest.raises(ValueError, match="privacy_spent_"):
        state.check_state(st)
    st["privacy_spent_"] = None
    with pytest.raises(ValueError, match="privacy_spent_"):
        state.check_state(st)


def test_data_outside_the_declared_bounds_are_clipped_not_reported():
    df = _frame()
    df.loc[0, "earn"] = 1e9
    model = _fit(df)
    assert model.sample(200, random_state=0)["earn"].max() <= 20000


def test_missing_column_facts_are_named():
    df = _frame()
    model = cgan.CausalWGAN(epsilon=1.0, **FAST)
    with pytest.raises(ValueError, match=r"'age': finite bounds.*'t': its levels"):
        model.fit(df, treatment="t", outcome="earn", bounds={"earn": (0, 20000)},
                  levels={"flag": [False, True], "region": ["east", "north", "south"]}, log=None)
    with pytest.raises(ValueError, match=r"'region': its levels"):
        model.fit(df, treatment="t", outcome="earn", bounds=BOUNDS, levels={"t": [0, 1], "flag": [False, True]},
                  log=None)
    with pytest.raises(ValueError, match=r"'earn': finite bounds"):
        model.fit(df, treatment="t", outcome="earn", bounds={"age": (18, 60), "earn": (0, None)}, levels=LEVELS,
                  log=None)
    with pytest.raises(ValueError, match="log=None"):
        model.fit(df, treatment="t", outcome="earn", bounds=BOUNDS, levels=LEVELS)
    with pytest.raises(ValueError, match=r"'flag': its levels \(categorical"):
        model.fit(df, treatment="t", outcome="earn", bounds=BOUNDS, levels={"t": [0, 1], "region": ["a", "b"]},
                  categorical=["flag"], log=None)


def test_undeclared_levels_in_the_data_are_refused():
    levels = dict(LEVELS, region=["north", "south"])
    with pytest.raises(ValueError, match=r"'region' holds a level not among those declared"):
        cgan.CausalWGAN(epsilon=1.0, **FAST).fit(_frame(), treatment="t", outcome="earn", bounds=BOUNDS,
                                                 levels=levels, log=None)


@pytest.mark.parametrize("params,error,match", [
    (dict(epsilon=0.0), ValueError, "epsilon"),
    (dict(epsilon=-1.0), ValueError, "epsilon"),
    (dict(epsilon=float("nan")), ValueError, "epsilon"),
    (dict(epsilon="3"), TypeError, "epsilon"),
    (dict(epsilon=1.0, delta=0.5), ValueError, "delta"),
    (dict(epsilon=1.0, delta=0.0), ValueError, "delta"),
    (dict(epsilon=1.0, max_grad_norm=0.0), ValueError, "max_grad_norm"),
    (dict(epsilon=1.0, max_grad_norm=True), TypeError, "max_grad_norm"),
])
def test_bad_budgets_are_named(params, error, match):
    with pytest.raises(error, match=match):
        cgan.CausalWGAN(**FAST, **params).fit(_frame(), treatment="t", outcome="earn", bounds=BOUNDS, levels=LEVELS,
                                              log=None)


def test_bad_levels_are_named():
    model = cgan.CausalWGAN(epsilon=1.0, **FAST)
    with pytest.raises(TypeError, match="levels must be a dict"):
        model.fit(_frame(), treatment="t", outcome="earn", bounds=BOUNDS, levels=[0, 1], log=None)
    with pytest.raises(ValueError, match="levels name 'nope'"):
        model.fit(_frame(), treatment="t", outcome="earn", bounds=BOUNDS, levels=dict(LEVELS, nope=[1, 2]),
                  log=None)
    with pytest.raises(ValueError, match="at least two distinct"):
        model.fit(_frame(), treatment="t", outcome="earn", bounds=BOUNDS, levels=dict(LEVELS, t=[1, 1]), log=None)


def test_core_set_privacy_checks_its_arguments():
    w = _cgan.Wgan(x_dim=2, ctx_dim=0, noise_dim=2, hidden_size=4, n_hidden=1, batch_size=4, critic_steps=1,
                   gp_lambda=1.0, one_sided=1, critic_dropout=0.0, learning_rate=1e-3, beta1=0.5, beta2=0.9, seed=0)
    for args, name in [((-1.0, 1.0, 0.5), "noise_multiplier"), ((1.0, 0.0, 0.5), "max_grad_norm"),
                       ((1.0, 1.0, 0.0), "sample_rate"), ((1.0, 1.0, 1.5), "sample_rate")]:
        with pytest.raises(ValueError, match=name):
            w.set_privacy(*args)
    w.set_privacy(1.0, 1.0, 0.5)
    w.set_data(np.random.default_rng(0).random((16, 2), dtype=np.float32))
    c, g, p = w.train(3)
    assert np.isfinite(c).all() and np.isfinite(g).all()


# ------------------------------------------- per-example clipping, NumPy reference

def _clipped_reference(m, sizes, acts, passes, max_norm, sigma, noise):
    """NumPy DP-SGD sum: each example's gradient (the sum over `passes`
    [(X, dOut)] of its row's parameter gradient, by tests/reference.py),
    clipped to max_norm, summed, plus sigma * max_norm * noise."""
    import reference as ref
    n = passes[0][0].shape[0]
    per = np.zeros((n, m.n_params))
    params = m.get_params()
    for i in range(n):
        for X, dOut in passes:
            _, cache = ref.mlp_forward(params, sizes, acts, X[i:i + 1])
            per[i] += ref.mlp_backward(params, sizes, acts, cache, dOut[i:i + 1])[1]
    sq = (per ** 2).sum(axis=1)
    factor = np.minimum(1.0, max_norm / np.sqrt(sq))
    return sq, factor, (factor[:, None] * per).sum(axis=0) + sigma * max_norm * noise


@pytest.mark.parametrize("acts", [["relu", "relu", "identity"], ["tanh", "leaky_relu", "identity"]])
def test_per_example_clipping_matches_numpy(acts):
    import os
    import sys
    sys.path.insert(0, os.path.dirname(__file__))
    sizes = [5, 7, 6, 1]
    m = _cgan.MLP(sizes, acts, 3)
    rng = np.random.default_rng(8)
    n = 11
    real, fake = rng.normal(size=(n, 5)).astype(np.float32), rng.normal(size=(n, 5)).astype(np.float32)
    passes = [(real, -np.ones((n, 1), np.float32)), (fake, np.ones((n, 1), np.float32))]
    m.zero_grad()
    m.per_example_begin(n, 2)
    for X, d in passes:
        m.forward(X)
        m.backward(d)
    sq = m.per_example_end()
    assert not m.get_grads().any()  # nothing was added to the gradient block
    max_norm, sigma = float(np.median(np.sqrt(sq))), 0.7  # about half the examples are clipped
    noise = rng.normal(size=m.n_params)
    want_sq, factor, want = _clipped_reference(m, sizes, acts, passes, max_norm, sigma, noise)
    np.testing.assert_allclose(sq, want_sq, rtol=2e-5)
    assert 0 < np.sum(factor < 1) < n
    m.per_example_accumulate(np.minimum(1.0, max_norm / np.sqrt(sq)))
    got = m.get_grads().astype(np.float64) + sigma * max_norm * noise
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
    # each clipped example's contribution has norm max_norm exactly
    assert np.allclose(np.sqrt(want_sq) * factor, np.minimum(np.sqrt(want_sq), max_norm))


def test_per_example_capture_misuse_is_refused():
    m = _cgan.MLP([3, 4, 1], ["relu", "identity"], 0)
    with pytest.raises(RuntimeError, match="per_example_begin"):
        m.per_example_end()
    m.per_example_begin(2, 1)
    m.forward(np.zeros((5, 3), np.float32))
    m.backward(np.ones((5, 1), np.float32))
    with pytest.raises(ValueError, match="overflowed"):
        m.per_example_end()
    with pytest.raises(ValueError, match="rows"):
        m.per_example_begin(0, 1)
