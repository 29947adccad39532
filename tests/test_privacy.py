"""cgan.privacy_report: distances against brute-force NumPy references, the
attacks' statistics against their definitions, and the verdicts on tables
that copy their training rows and on tables drawn from the population."""
import math

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

import cgan
from cgan import _privacy

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings
from hypothesis import strategies as st


def population(n, rng):
    """Rows of one population: two correlated continuous columns, an
    integer count, a three-level category and a binary flag."""
    z = rng.standard_normal((n, 2))
    return pd.DataFrame({
        "income": np.exp(1.0 + 0.6 * z[:, 0]) * 1000,
        "age": 40 + 10 * (0.5 * z[:, 0] + 0.8 * z[:, 1]),
        "visits": rng.poisson(3, n),
        "region": rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2]),
        "treated": (rng.random(n) < 0.4).astype(int),
    })


@pytest.fixture(scope="module")
def tables():
    rng = np.random.default_rng(7)
    return population(400, rng), population(300, rng)


def brute_distances(A, B, cols, categorical, train):
    """Distance of each row of A to its nearest row of B, pair by pair."""
    out = []
    for i in range(len(A)):
        best = math.inf
        for j in range(len(B)):
            s = 0.0
            for c in cols:
                a, b = A[c].iloc[i], B[c].iloc[j]
                if c in categorical:
                    s += float(a != b)
                else:
                    s += ((float(a) - float(b)) / (train[c].astype(float).std(ddof=0) or 1.0)) ** 2
            best = min(best, s)
        out.append(math.sqrt(best))
    return np.array(out)


def test_distances_match_a_pair_by_pair_reference(tables):
    train, holdout = tables
    syn = population(40, np.random.default_rng(1))
    report = cgan.privacy_report(syn, train.iloc[:60], holdout.iloc[:30], random_state=0)
    cols = list(train.columns)
    cats = {"region", "treated"}
    assert set(report.attrs["categorical"]) == cats
    want = brute_distances(syn, train.iloc[:60], cols, cats, train.iloc[:60])
    np.testing.assert_allclose(report.attrs["distances"]["synthetic"], want, rtol=1e-9, atol=1e-9)
    want_h = brute_distances(holdout.iloc[:30], train.iloc[:60], cols, cats, train.iloc[:60])
    np.testing.assert_allclose(report.attrs["distances"]["holdout"], want_h, rtol=1e-9, atol=1e-9)
    tau = np.quantile(want_h, 0.05)
    assert report.attrs["near_distance"] == pytest.approx(tau)
    assert report.loc["near_copies", "value"] == pytest.approx(np.mean(want <= tau + 1e-12))


def test_blocks_give_the_same_numbers_as_one_block(tables, monkeypatch):
    train, holdout = tables
    syn = population(250, np.random.default_rng(2))
    whole = cgan.privacy_report(syn, train, holdout, random_state=3)
    monkeypatch.setattr(_privacy, "_BLOCK_BYTES", 8 * 50)
    blocked = cgan.privacy_report(syn, train, holdout, random_state=3)
    pd.testing.assert_frame_equal(whole, blocked, rtol=1e-12)


def test_log_kde_matches_its_formula():
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((7, 3)), rng.standard_normal((11, 3))
    h = 0.7
    d2 = ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)
    want = np.log(np.exp(-d2 / (2 * h * h)).mean(axis=1))
    np.testing.assert_allclose(_privacy._log_kde(A, B, h), want, rtol=1e-12)
    # far from every kernel the log stays finite (no underflow to -inf)
    far = _privacy._log_kde(A + 1e3, B, 0.01)
    assert np.isfinite(far).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=30), st.lists(st.integers(0, 5), min_size=1, max_size=30))
def test_auc_is_the_share_of_pairs_ordered_right(a, b):
    a, b = np.array(a, float), np.array(b, float)
    pairs = (a[:, None] > b[None, :]).mean() + 0.5 * (a[:, None] == b[None, :]).mean()
    assert _privacy.auc(a, b) == pytest.approx(pairs, abs=1e-12)
    assert _privacy.auc(a, b) + _privacy.auc(b, a) == pytest.approx(1.0, abs=1e-12)


def test_two_share_z_against_its_formula():
    p1, n1, p2, n2 = 0.3, 100, 0.2, 200
    p = (30 + 40) / 300
    want = (p1 - p2) / math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    assert _privacy._two_share_z(p1, n1, p2, n2) == pytest.approx(want)
    assert _privacy._two_share_z(0.0, 10, 0.0, 10) == 0.0


def test_a_table_of_training_rows_is_flagged_on_every_metric(tables):
    train, holdout = tables
    copies = train.sample(300, random_state=0)
    report = cgan.privacy_report(copies, train, holdout, random_state=0)
    assert report["flagged"].all(), report
    assert report.loc["exact_copies", "value"] == 1.0


def test_jittered_training_rows_are_flagged_as_near_copies(tables):
    train, holdout = tables
    rng = np.random.default_rng(5)
    near = train.copy()
    near["income"] = near["income"] * np.exp(rng.normal(0, 0.01, len(near)))
    near["age"] = near["age"] + rng.normal(0, 0.1, len(near))
    report = cgan.privacy_report(near, train, holdout, random_state=0)
    assert report.loc["exact_copies", "value"] == 0.0
    assert not report.loc["exact_copies", "flagged"]
    for m in ("near_copies", "closer_to_train", "mia_distance_auc"):
        assert report.loc[m, "flagged"], report


@pytest.mark.parametrize("seed", range(5))
def test_a_table_drawn_from_the_population_is_not_flagged(seed):
    rng = np.random.default_rng(100 + seed)
    train, holdout, syn = population(400, rng), population(300, rng), population(400, rng)
    report = cgan.privacy_report(syn, train, holdout, random_state=seed)
    assert not report["flagged"].any(), report
    assert (report["z"].abs() < 3.5).all(), report
    assert abs(report.loc["mia_distance_auc", "value"] - 0.5) < 0.1


def test_arrays_give_the_report_of_frames(tables):
    train, holdout = tables
    num = ["income", "age", "visits"]
    syn = population(100, np.random.default_rng(3))
    a = cgan.privacy_report(syn[num].to_numpy(), train[num].to_numpy(), holdout[num].to_numpy(), random_state=1)
    f = cgan.privacy_report(syn[num], train[num], holdout[num], random_state=1)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), f.reset_index(drop=True))


def test_columns_and_categorical_choose_what_is_compared(tables):
    train, holdout = tables
    syn = population(100, np.random.default_rng(4)).assign(y1=0.0)  # extra columns are ignored
    r = cgan.privacy_report(syn, train, holdout, columns=["age", "visits"], categorical=["visits"],
                            random_state=0)
    assert r.attrs["columns"] == ["age", "visits"]
    assert r.attrs["categorical"] == ["visits"]


def test_seed_fixes_the_report_and_inputs_are_left_alone(tables):
    train, holdout = tables
    syn = population(120, np.random.default_rng(6))
    before = [t.copy() for t in (syn, train, holdout)]
    a = cgan.privacy_report(syn, train, holdout, random_state=11)
    b = cgan.privacy_report(syn, train, holdout, random_state=11)
    pd.testing.assert_frame_equal(a, b)
    for t, t0 in zip((syn, train, holdout), before):
        pd.testing.assert_frame_equal(t, t0)


@pytest.mark.parametrize("change, kwargs, error, match", [
    (lambda s, t, h: (s.drop(columns="age"), t, h), {}, ValueError, "synthetic lacks the columns"),
    (lambda s, t, h: (s, t, h.iloc[:3]), {}, ValueError, "at least 4"),
    (lambda s, t, h: (s.assign(age=np.nan), t, h), {}, ValueError, "synthetic has 60 missing values"),
    (lambda s, t, h: (s, t, h.assign(age=np.inf)), {}, ValueError, "holdout holds infinities"),
    (lambda s, t, h: (s.assign(age="old"), t, h), {}, TypeError, "continuous in train"),
    (lambda s, t, h: (s, t, h), {"near_quantile": 0.0}, ValueError, "near_quantile"),
    (lambda s, t, h: (s, t, h), {"near_quantile": 0.7}, ValueError, "near_quantile"),
    (lambda s, t, h: (s, t, h), {"columns": ["nope"]}, ValueError, "nope"),
    (lambda s, t, h: (s, t, h), {"columns": []}, ValueError, "columns is empty"),
    (lambda s, t, h: (s, t, h), {"columns": ["age"], "categorical": ["region"]}, ValueError, "not compared"),
    (lambda s, t, h: (s, t, h), {"random_state": "x"}, TypeError, "random_state"),
    (lambda s, t, h: (s["age"].to_numpy(), t, h), {}, ValueError, "synthetic must be 2-D"),
    (lambda s, t, h: (s, "train.csv", h), {}, TypeError, "train must be a pandas DataFrame"),
    (lambda s, t, h: (s.iloc[:0], t, h), {}, ValueError, "synthetic has no rows"),
    (lambda s, t, h: (s.iloc[:1], t, h), {}, ValueError, "synthetic has 1 row"),
])
def test_bad_input_is_named(tables, change, kwargs, error, match):
    train, holdout = tables
    syn = population(60, np.random.default_rng(8))
    s, t, h = change(syn, train, holdout)
    with pytest.raises(error, match=match):
        cgan.privacy_report(s, t, h, **kwargs)


def test_plot_draws_both_distributions(tables):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    train, holdout = tables
    report = cgan.privacy_report(train.sample(100, random_state=0), train, holdout, random_state=0)
    ax = cgan.plot_privacy_report(report)
    assert len(ax.patches) == 80  # two histograms of 40 bins
    with pytest.raises(TypeError, match="report must be"):
        cgan.plot_privacy_report(train)


def test_bandwidth_maximises_the_leave_one_out_likelihood():
    rng = np.random.default_rng(0)
    S = np.vstack([rng.standard_normal((40, 2)), rng.standard_normal((40, 2)) * 0.1 + 3])
    d2 = ((S[:, None, :] - S[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)

    def loo(h):
        e = -d2 / (2 * h * h)
        top = e.max(axis=1, keepdims=True)
        return np.mean(top[:, 0] + np.log(np.exp(e - top).sum(axis=1)) - 2 * np.log(h))

    want = max(_privacy.BANDWIDTHS, key=loo)
    assert _privacy._bandwidth(S, np.random.default_rng(1)) == pytest.approx(want)
