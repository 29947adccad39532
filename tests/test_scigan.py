"""cgan.SCIGAN: known dose-response curves recovered, shapes, pandas in and
out, bad inputs, persistence, determinism and threads, the band's coverage,
sampling and plots.  Models are tiny so that the file runs in seconds."""
import pickle
import threading
import warnings

import numpy as np
import pytest

import cgan
from cgan import _cgan

TINY = dict(hidden_size=8, n_iter=50, batch_size=32, n_estimators=2)


def _continuous(curve, n=400, seed=0, noise=0.1):
    """Y = x0 + curve(dose) + noise, doses U(0, 2)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    dose = rng.uniform(0, 2, n)
    return X, dose, X[:, 0] + curve(dose) + rng.normal(0, noise, n)


def _two_treatments(n=500, seed=1):
    """Treatment 'a': x0 + dose; treatment 'b': x0 + 2 - (dose - 1)^2 on doses in [0, 2]."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    t = np.where(rng.random(n) < 0.5, "a", "b")
    dose = rng.uniform(0, 2, n)
    y = X[:, 0] + np.where(t == "a", dose, 2 - (dose - 1) ** 2) + rng.normal(0, 0.1, n)
    return X, t, dose, y


@pytest.fixture(scope="module")
def linear():
    X, dose, Y = _continuous(lambda d: 2 * d)
    return cgan.SCIGAN(random_state=0, **TINY).fit(Y, dose, X=X), X, dose, Y


@pytest.fixture(scope="module")
def labelled():
    X, t, dose, y = _two_treatments()
    return cgan.SCIGAN(random_state=0, noise_dim=2, **TINY).fit(y, t, X=X, dose=dose), X, t, dose, y


GRID = np.linspace(0.1, 1.9, 7)


# ---------------------------------------------------------------- known curves
def test_linear_dose_response_recovered(linear):
    # tolerance: 0.1 on the average curve (the outcome's noise sd is 0.1, 400 rows)
    model, X, _, _ = linear
    truth = X[:, 0].mean() + 2 * GRID
    assert np.max(np.abs(model.average_dose_response(GRID) - truth)) < 0.1
    # each unit's curve: slope 2 and its own intercept x0
    curves = model.dose_response(X[:50], GRID)
    assert np.max(np.abs(curves - (X[:50, 0, None] + 2 * GRID))) < 0.3
    np.testing.assert_allclose(model.effect(X[:50], T0=0.5, T1=1.5), 2.0, atol=0.15)
    assert abs(model.ate(T0=0.5, T1=1.5) - 2.0) < 0.1
    # the curve rises: its best dose is at the top of the fitted range
    assert np.all(model.optimal_dose(X[:20]) > model.dose_range_[0, 1] - 0.05)


def test_quadratic_dose_response_recovered():
    # Y = x0 + 1 - (dose - 1)^2: the average curve within 0.1, the best dose 1 within 0.1
    X, dose, Y = _continuous(lambda d: 1 - (d - 1) ** 2, seed=2)
    model = cgan.SCIGAN(random_state=0, **TINY).fit(Y, dose, X=X)
    truth = X[:, 0].mean() + 1 - (GRID - 1) ** 2
    assert np.max(np.abs(model.average_dose_response(GRID) - truth)) < 0.1
    np.testing.assert_allclose(model.optimal_dose(X[:30]), 1.0, atol=0.1)
    # the smallest outcome is at either end of the range
    lowest = model.optimal_dose(X[:30], maximize=False)
    assert np.all(np.minimum(lowest - model.dose_range_[0, 0], model.dose_range_[0, 1] - lowest) < 0.25)


def test_several_treatments(labelled):
    model, X, t, dose, y = labelled
    assert list(model.classes_) == ["a", "b"]
    assert model.dose_range_.shape == (2, 2)
    a = model.average_dose_response(GRID, treatment="a")
    b = model.average_dose_response(GRID, treatment="b")
    np.testing.assert_allclose(a, X[:, 0].mean() + GRID, atol=0.15)
    np.testing.assert_allclose(b, X[:, 0].mean() + 2 - (GRID - 1) ** 2, atol=0.15)
    # best (treatment, dose): 'b' near dose 1 gives 2, 'a' at most 2 at dose 2
    labels, best = model.optimal_dose(X[:40])
    assert labels.shape == best.shape == (40,)
    np.testing.assert_allclose(model.optimal_dose(X[:40], treatment="b"), 1.0, atol=0.15)
    assert set(labels) <= {"a", "b"}
    with pytest.raises(ValueError, match="treatment is required"):
        model.dose_response(X[:2], GRID)
    with pytest.raises(ValueError, match="not one of the fitted treatments"):
        model.dose_response(X[:2], GRID, treatment="c")


# ---------------------------------------------------------------- shapes
def test_shapes(linear, labelled):
    model, X, dose, Y = linear
    assert model.dose_response(X[:5], GRID).shape == (5, 7)
    assert model.dose_response(X[:5], 1.0).shape == (5, 1)
    assert model.average_dose_response(GRID).shape == (7,)
    assert model.average_dose_response(GRID, X=X[:9]).shape == (7,)
    assert model.effect(X[:5], T0=0.5, T1=1.5).shape == (5,)
    assert model.effect(X[:5], T0=dose[:5], T1=dose[:5] + 0.1).shape == (5,)
    assert model.effect(T0=0.5, T1=1.5).shape == (len(X),)
    assert model.optimal_dose().shape == (len(X),)
    assert model.sample(X[:4], GRID, n_samples=3, random_state=0).shape == (3, 4, 7)
    assert set(model.history_) == {"generator_loss", "dosage_discriminator_loss", "treatment_discriminator_loss",
                                   "inference_loss"}
    assert all(h.shape == (2, 50) for h in model.history_.values())
    assert model.n_features_in_ == 3 and model.classes_ is None and 0.0 <= model.network_weight_ <= 1.0
    assert np.isfinite(model.score(Y, dose, X=X)) and model.oof_score_ < 0
    lm, LX, t, ld, ly = labelled
    assert lm.score(ly, t, X=LX, dose=ld) > -0.1


# ---------------------------------------------------------------- pandas
def test_pandas_in_pandas_out(linear):
    pd = pytest.importorskip("pandas")
    X, dose, Y = _continuous(lambda d: 2 * d)
    frame = pd.DataFrame(X, columns=["age", "bmi", "score"], index=np.arange(100, 100 + len(X)))
    model = cgan.SCIGAN(random_state=0, **TINY).fit(pd.Series(Y), pd.Series(dose), X=frame)
    assert list(model.feature_names_in_) == ["age", "bmi", "score"]
    curves = model.dose_response(frame.iloc[:4], GRID)
    assert isinstance(curves, pd.DataFrame)
    assert list(curves.index) == [100, 101, 102, 103] and curves.columns.name == "dose"
    np.testing.assert_allclose(curves.columns.to_numpy(), GRID)
    np.testing.assert_array_equal(curves.to_numpy(), model.dose_response(X[:4], GRID))
    average = model.average_dose_response(pd.Series(GRID))
    assert isinstance(average, pd.Series) and average.index.name == "dose"
    effect = model.effect(frame.iloc[:3], T0=0.5, T1=1.5)
    assert isinstance(effect, pd.Series) and list(effect.index) == [100, 101, 102]
    best = model.optimal_dose(frame.iloc[:3])
    assert isinstance(best, pd.Series) and list(best.index) == [100, 101, 102]
    with pytest.raises(ValueError, match="columns differ"):
        model.dose_response(frame[["bmi", "age", "score"]], GRID)
    again = cgan.loads(model.dumps())
    np.testing.assert_array_equal(again.dose_response(frame, GRID).to_numpy(), model.dose_response(frame, GRID).to_numpy())


def test_pandas_treatment_labels_and_unused_categories():
    pd = pytest.importorskip("pandas")
    X, t, dose, y = _two_treatments(n=200)
    T = pd.Series(pd.Categorical(t, categories=["a", "b", "c"]))
    with pytest.raises(ValueError, match="treatment 'c' has no rows"):
        cgan.SCIGAN(**TINY).fit(y, T, X=X, dose=dose)
    model = cgan.SCIGAN(random_state=0, **TINY).fit(y, T.cat.remove_unused_categories(), X=X, dose=dose)
    assert list(model.classes_) == ["a", "b"]


# ---------------------------------------------------------------- bad inputs
def test_bad_inputs(linear):
    model, X, dose, Y = linear
    bad = dose.copy()
    bad[3] = -0.5
    with pytest.raises(ValueError, match="non-negative.*-0.5 at row 3"):
        cgan.SCIGAN(**TINY).fit(Y, bad, X=X)
    bad[3] = np.nan
    with pytest.raises(ValueError, match="T has 1 missing value"):
        cgan.SCIGAN(**TINY).fit(Y, bad, X=X)
    with pytest.raises(ValueError, match="dose has 1 missing value"):
        cgan.SCIGAN(**TINY).fit(Y, np.zeros(len(Y)), X=X, dose=bad)
    with pytest.raises(TypeError, match="X is required"):
        cgan.SCIGAN(**TINY).fit(Y, dose, X=None)
    with pytest.raises(ValueError, match="batch_size=32 is larger than the 20 training rows"):
        cgan.SCIGAN(**TINY).fit(Y[:20], dose[:20], X=X[:20])
    with pytest.raises(ValueError, match="dose has 399 entries but X has 400 rows"):
        cgan.SCIGAN(**TINY).fit(Y, np.zeros(len(Y)), X=X, dose=dose[:-1])
    with pytest.raises(TypeError, match="T must hold numbers"):
        cgan.SCIGAN(**TINY).fit(Y, np.array(["a"] * len(Y)), X=X)
    with pytest.raises(ValueError, match="n_dosage_samples must be between 2"):
        cgan.SCIGAN(n_dosage_samples=1).fit(Y, dose, X=X)
    with pytest.raises(ValueError, match="activation must be one of"):
        cgan.SCIGAN(activation="softplus").fit(Y, dose, X=X)
    with pytest.raises(ValueError, match="doses must hold doses, which are non-negative"):
        model.dose_response(X[:2], [0.5, -1.0])
    with pytest.raises(ValueError, match="doses has 1 missing value"):
        model.average_dose_response([0.5, np.nan])
    with pytest.raises(ValueError, match="treatment must be None"):
        model.dose_response(X[:2], GRID, treatment="a")
    with pytest.raises(ValueError, match="X has 2 features, but the model was fitted with 3"):
        model.dose_response(X[:2, :2], GRID)
    with pytest.raises(ValueError, match="T1 must be one dose or one per row"):
        model.effect(X[:3], T0=0.5, T1=[0.5, 1.0])
    with pytest.raises(ValueError, match="Y needs T"):
        model.sample(X[:2], GRID, Y=Y[:2])
    with pytest.raises(RuntimeError, match="not fitted"):
        cgan.SCIGAN().dose_response(X, GRID)
    with pytest.raises(ValueError, match="alpha must lie in"):
        model.average_dose_response_interval(GRID, alpha=1.5)
    with pytest.raises(ValueError, match="n_bootstrap must be between 2"):
        model.average_dose_response_interval(GRID, n_bootstrap=1)


def test_doses_outside_the_fitted_range_warn(linear):
    model, X, _, _ = linear
    lo, hi = model.dose_range_[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.dose_response(X[:2], [lo, hi])  # the range itself is fine
    with pytest.warns(UserWarning, match=r"1 of the doses \(3 to 3\) lie outside the range fitted"):
        curves = model.dose_response(X[:2], [0.5, 3.0])
    assert np.all(np.isfinite(curves))
    with pytest.warns(UserWarning, match="extrapolated"):
        model.effect(X[:2], T0=0.0, T1=5.0)


# ---------------------------------------------------------------- persistence
def test_persistence(labelled, tmp_path):
    model, X, t, dose, y = labelled
    want = model.dose_response(X[:20], GRID, treatment="b")
    for again in (cgan.loads(model.dumps()), pickle.loads(pickle.dumps(model))):
        assert type(again) is cgan.SCIGAN and again.get_params() == model.get_params()
        np.testing.assert_array_equal(again.dose_response(X[:20], GRID, treatment="b"), want)
        np.testing.assert_array_equal(again.sample(X[:5], GRID, 2, 7, treatment="a"),
                                      model.sample(X[:5], GRID, 2, 7, treatment="a"))
    path = tmp_path / "scigan.cgan"
    model.save(path)
    np.testing.assert_array_equal(cgan.load(path).average_dose_response(GRID, treatment="a"),
                                  model.average_dose_response(GRID, treatment="a"))
    data = bytearray(model.dumps())
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(ValueError, match="not a valid saved cgan model"):
        cgan.loads(bytes(data))
    unfitted = cgan.loads(cgan.SCIGAN(n_iter=7).dumps())
    assert unfitted.n_iter == 7 and not hasattr(unfitted, "dose_range_")


def test_a_loaded_model_refits_its_band(linear):
    model, _, _, _ = linear
    again = cgan.loads(model.dumps())
    lo, hi = model.average_dose_response_interval(GRID, n_bootstrap=3, random_state=2)
    lo2, hi2 = again.average_dose_response_interval(GRID, n_bootstrap=3, random_state=2)
    np.testing.assert_array_equal(lo, lo2)
    np.testing.assert_array_equal(hi, hi2)


# ---------------------------------------------------------------- determinism and threads
def test_same_seed_same_bits_whatever_n_jobs():
    X, t, dose, y = _two_treatments(n=300)
    fits = [cgan.SCIGAN(random_state=5, n_jobs=jobs, **TINY).fit(y, t, X=X, dose=dose) for jobs in (1, 2, 2)]
    for model in fits[1:]:
        # the same bytes but for the n_jobs parameter
        assert model.set_params(n_jobs=1).dumps() == fits[0].dumps()
    other = cgan.SCIGAN(random_state=6, **TINY).fit(y, t, X=X, dose=dose)
    assert not np.array_equal(other.dose_response(X[:5], GRID, treatment="a"),
                              fits[0].dose_response(X[:5], GRID, treatment="a"))
    bands = [fits[0].average_dose_response_interval(GRID, treatment="a", n_bootstrap=3, n_jobs=jobs,
                                                    random_state=1) for jobs in (1, 2)]
    np.testing.assert_array_equal(bands[0][0], bands[1][0])
    np.testing.assert_array_equal(bands[0][1], bands[1][1])


def test_concurrent_reads_match_serial(labelled):
    model, X, _, _, _ = labelled
    serial = [model.dose_response(X[i::4], GRID, treatment="a") for i in range(4)]
    out = [None] * 4
    start = threading.Barrier(4)

    def read(i):
        start.wait()
        out[i] = model.dose_response(X[i::4], GRID, treatment="a")

    threads = [threading.Thread(target=read, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for a, b in zip(serial, out):
        np.testing.assert_array_equal(a, b)


def test_sampling_is_seeded_and_leaves_the_model_alone(labelled):
    model, X, t, dose, y = labelled
    before = model.dumps()
    a = model.sample(X[:6], GRID, 4, random_state=3, treatment="b")
    b = model.sample(X[:6], GRID, 4, random_state=3, treatment="b")
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[0], a[2])  # noise_dim=2: draws differ
    anchored = model.sample(X[:6], GRID, 2, random_state=3, treatment="b", T=t[:6], dose=dose[:6], Y=y[:6])
    assert anchored.shape == (2, 6, 7) and np.all(np.isfinite(anchored))
    # G's draws follow the curve: their mean is near the inference network's
    draws = model.sample(X[:40], GRID, 8, random_state=4, treatment="a")
    assert np.mean(np.abs(draws.mean(axis=0) - model.dose_response(X[:40], GRID, treatment="a"))) < 0.5
    assert model.dumps() == before


# ---------------------------------------------------------------- the band
def test_band_covers_the_true_average_curve():
    # four data sets, 20 replicates each: the nominal 95% band covers the
    # true average curve at 90% of the grid points or more on average (the
    # issue's target, which benchmarks/ measures on the dose-response
    # designs), and is not made wide to do it: its mean width stays under
    # 0.5 (the outcome's noise sd is 0.3 and x0's mean over 300 rows has sd
    # 0.06, so an honest band is about 0.25 wide)
    covered, widths = [], []
    for seed in range(4):
        X, dose, Y = _continuous(lambda d: np.sin(1.5 * d), n=300, seed=10 + seed, noise=0.3)
        model = cgan.SCIGAN(random_state=seed, **TINY).fit(Y, dose, X=X)
        lo, hi = model.average_dose_response_interval(GRID, alpha=0.05, n_bootstrap=20, random_state=seed)
        truth = X[:, 0].mean() + np.sin(1.5 * GRID)
        assert np.all(lo <= hi)
        covered.append(np.mean((lo <= truth) & (truth <= hi)))
        widths.append(np.mean(hi - lo))
    assert np.mean(covered) >= 0.9, covered
    assert np.mean(widths) < 0.5, widths


# ---------------------------------------------------------------- resources and errors
def test_memory_preflight(monkeypatch, linear):
    _, X, dose, Y = linear
    monkeypatch.setenv("CGAN_MEMORY_LIMIT", "1MiB")
    with pytest.raises(MemoryError, match="hidden_size=64"):
        cgan.SCIGAN(n_iter=1).fit(Y, dose, X=X)
    config = dict(n_features=3, n_treatments=2, hidden_size=16, n_hidden=2, n_dosage_samples=5, noise_dim=0,
                  batch_size=32, d_steps=1, activation="relu", alpha=1.0, beta=1.0, learning_rate=1e-3,
                  weight_decay=0.0, seed=0)
    assert _cgan.Scigan.nbytes(**config) < _cgan.Scigan.nbytes(**dict(config, hidden_size=32))
    with pytest.raises(ValueError, match="activation must be nonlinear"):
        _cgan.Scigan.nbytes(**dict(config, activation="identity"))


def test_a_diverged_network_is_named_not_returned_as_nan(linear):
    # a core whose averaged inference weights turned non-finite (written into
    # the end of its snapshot, where they sit): predictions raise instead of
    # returning NaN (csrc/tests/test_core.c checks every network's message)
    model, X, _, _ = linear
    broken = cgan.loads(model.dumps())
    snapshot = bytearray(broken._cores[0].snapshot())
    snapshot[-16:] = np.full(4, np.nan, dtype=np.float32).tobytes()
    broken._cores[0] = _cgan.Scigan.restore(bytes(snapshot))
    with pytest.raises(FloatingPointError, match=r"SCIGAN inference network I predicts non-finite values after "
                                                 r"50 iterations"):
        broken.dose_response(X[:3], GRID)


def test_plot(linear):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    model, _, _, _ = linear
    ax = model.plot_dose_response(n_bootstrap=3, random_state=0, n_curves=2)
    assert len(ax.lines) == 3 and len(ax.collections) == 1
    ax = model.plot_dose_response(GRID, band=False)
    assert len(ax.lines) == 1 and not ax.collections


def test_sklearn_conventions():
    model = cgan.SCIGAN(hidden_size=7, random_state=3)
    assert model.get_params()["hidden_size"] == 7
    assert repr(model) == "SCIGAN(hidden_size=7, random_state=3)"
    sklearn_base = pytest.importorskip("sklearn.base")
    clone = sklearn_base.clone(model)
    assert clone.get_params() == model.get_params() and clone is not model


# ---------------------------------------------------------------- the C core's binding
CORE = dict(n_features=3, n_treatments=2, hidden_size=8, n_hidden=1, n_dosage_samples=4, noise_dim=1, batch_size=16,
            d_steps=1, activation="relu", alpha=1.0, beta=1.0, learning_rate=1e-3, weight_decay=0.0, seed=3)


def test_the_core_checks_its_arguments_and_leaves_inputs_unchanged():
    rng = np.random.default_rng(0)
    X, T, D = rng.normal(size=(40, 3)), rng.integers(0, 2, 40), rng.uniform(0, 1, 40)
    Y = X[:, 0] + D
    core = _cgan.Scigan(**CORE)
    assert core.config == dict(CORE, outcome_scale=(0.0, 1.0))
    with pytest.raises(RuntimeError, match="call set_data first"):
        core.train_gan(2)
    for args, match in [((X[:, :2], T, D, Y), "X has 2 columns but the model was built for 3"),
                        ((X, np.where(T == 0, 2, T), D, Y), r"T must lie in \[0, 2\), got 2"),
                        ((X, T, np.where(D > 0.5, 1.5, D), Y), r"dose 1.5 at row 0 is outside \[0, 1\]"),
                        ((X, T, D[:-1], Y), "dose has 39 entries but X has 40 rows"),
                        ((X, T, D, np.where(D > 0.5, np.nan, Y)), "Y contains NaN")]:
        with pytest.raises(ValueError, match=match):
            core.set_data(*args)
    with pytest.raises(ValueError, match=r"row index 40 is outside \[0, 40\)"):
        core.set_data(X, T, D, Y, rows=list(range(20)) + [40])
    # float64, Fortran-ordered and strided inputs: the bits of float32
    # C-contiguous ones, and the caller's arrays unchanged
    XF, DS = np.asfortranarray(X), np.repeat(D, 2)[::2]
    kept = [a.copy() for a in (XF, T, DS, Y)]
    core.set_data(XF, T, DS, Y)
    twin = _cgan.Scigan(**CORE)
    twin.set_data(np.ascontiguousarray(X, dtype=np.float32), T.astype(np.int32), D.astype(np.float32),
                  Y.astype(np.float32))
    for c in (core, twin):
        c.train_gan(3)
        c.train_inference(2)
    for a, b in zip((XF, T, DS, Y), kept):
        np.testing.assert_array_equal(a, b)
    grid = np.tile(np.linspace(0, 1, 5), (40, 1))
    assert core.snapshot() == twin.snapshot()
    np.testing.assert_array_equal(core.predict(XF, 1, grid), twin.predict(X.astype(np.float32), 1, grid))
    with pytest.raises(ValueError, match="treatment must be between 0 and 1, got 2"):
        core.predict(X, 2, grid)
    with pytest.raises(ValueError, match="doses has 39 rows but X has 40"):
        core.predict(X, 0, grid[:-1])
    with pytest.raises(ValueError, match="doses contains NaN"):
        core.predict(X, 0, np.where(grid > 0.5, np.nan, grid))
    with pytest.raises(ValueError, match="n_samples must be between 1"):
        core.sample(X, T, D, Y, 0, grid, 0, 1)
    with pytest.raises(ValueError, match="seed must be an integer"):
        core.sample(X, T, D, Y, 0, grid, 1, -1)
