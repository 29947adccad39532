"""cgan.CausalGraphWGAN: graph checks, interventions (constants, arrays,
functions), recovery of a known interventional mean, mediation, dtypes and
limits under interventions, determinism, persistence, threads and bad input."""
import pickle
import threading

import numpy as np
import pytest

import cgan
from cgan._graph.dag import parse_graph

pd = pytest.importorskip("pandas")

TINY = dict(n_iter=60, hidden_size=16, n_hidden=1, critic_steps=2, batch_size=32)


def _mediator_frame(n=400, seed=0):
    """z -> t -> m -> y, z -> y, t -> y: a confounder z, a binary treatment
    t, a mediator m, an integer count k (a child of z), a bounded outcome y
    and a string column g (a child of t)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.int64)
    m = 0.5 * t + 0.3 * z + 0.5 * rng.normal(size=n)
    k = rng.poisson(np.exp(0.3 * z) * 2).astype(np.int32)
    y = np.maximum(0.0, 1.0 + t + m + 0.5 * z + rng.normal(size=n))
    g = np.where(rng.random(n) < 0.3 + 0.4 * t, "yes", "no")
    return pd.DataFrame({"z": z, "t": t, "m": m, "k": k, "g": g, "y": y})


GRAPH = {"z": [], "t": ["z"], "m": ["t", "z"], "k": ["z"], "g": ["t"], "y": ["z", "t", "m"]}


@pytest.fixture(scope="module")
def fitted():
    df = _mediator_frame()
    model = cgan.CausalGraphWGAN(random_state=0, **TINY).fit(df, GRAPH, bounds={"y": (0, None)})
    return df, model


# ------------------------------------------------------------------ graphs
class _DiGraph:
    """What networkx.DiGraph offers that fit reads: nodes and (u, v) edges."""

    def __init__(self, nodes, edges):
        self.nodes, self.edges = nodes, edges

    def is_directed(self):
        return True


def test_graph_forms_give_one_topological_order():
    columns = ["y", "m", "t", "z"]
    as_dict = {"y": ["t", "m"], "m": ["t"], "t": ["z"]}
    as_edges = [("t", "y"), ("m", "y"), ("t", "m"), ("z", "t")]
    expected = {"z": [], "t": ["z"], "m": ["t"], "y": ["m", "t"]}
    for graph in (as_dict, as_edges, _DiGraph(["y", "m", "t", "z"], as_edges)):
        parsed = parse_graph(graph, columns)
        assert parsed == expected
        assert list(parsed) == ["z", "t", "m", "y"]
    # parents follow the data's column order, however they were written
    assert parse_graph({"y": ["m", "t"], "m": ["t"], "t": ["z"]}, columns)["y"] == ["m", "t"]
    # independent nodes keep the data's order
    assert list(parse_graph({"b": [], "a": [], "c": ["a"]}, ["c", "b", "a"])) == ["b", "a", "c"]


def test_networkx_digraph_is_accepted_when_installed():
    nx = pytest.importorskip("networkx")
    g = nx.DiGraph([("z", "t"), ("t", "y"), ("z", "y")])
    assert parse_graph(g, ["z", "t", "y"]) == {"z": [], "t": ["z"], "y": ["z", "t"]}
    with pytest.raises(ValueError, match="directed"):
        parse_graph(nx.Graph([("z", "t")]), ["z", "t"])


@pytest.mark.parametrize(
    "graph, exc, match",
    [
        ({"a": ["b"], "b": ["c"], "c": ["a"]}, ValueError, r"cycle: 'a' -> 'c' -> 'b' -> 'a'"),
        ([("a", "b"), ("b", "a"), ("c", "a")], ValueError, r"cycle: 'a' -> 'b' -> 'a'"),
        ({"a": ["a"], "b": [], "c": []}, ValueError, "self-loop on 'a'"),
        ({"a": [], "b": ["a"], "c": ["nope"]}, ValueError, r"unknown columns\): \['nope'\]"),
        ({"a": [], "b": ["a"]}, ValueError, r"\['c'\] are left out of the graph"),
        ([("a", "b"), ("a", "b"), ("b", "c")], ValueError, "edge 'a' -> 'b' more than once"),
        ({"a": "b", "b": [], "c": []}, TypeError, r"list of parent columns .*\['b'\]"),
        ([("a", "b", "c")], TypeError, r"\(parent, child\) pairs"),
        ("a -> b", TypeError, "graph must be a dict"),
        ({"a": [["b"]], "b": [], "c": []}, TypeError, "column names"),
    ],
)
def test_bad_graphs_are_named(graph, exc, match):
    with pytest.raises(exc, match=match):
        parse_graph(graph, ["a", "b", "c"])


def test_fit_checks_the_graph_against_the_data():
    df = _mediator_frame(60)
    with pytest.raises(ValueError, match="cycle"):
        cgan.CausalGraphWGAN(**TINY).fit(df, {**GRAPH, "z": ["y"]})
    with pytest.raises(ValueError, match=r"\['g'\] are left out"):
        cgan.CausalGraphWGAN(**TINY).fit(df, {k: v for k, v in GRAPH.items() if k != "g"})


# ----------------------------------------------------------- interventions
def test_two_node_linear_scm_recovers_the_interventional_mean():
    # x ~ N(0, 1), y = 1 + 2 x + N(0, 0.5^2): E[y | do(x = 1)] = 3 and the
    # effect of x from 0 to 1 is 2.  The tolerance, 0.3 (0.6 sd of the
    # noise), covers this small, briefly trained model: over seeds 0-4 it
    # missed 3 by at most 0.12 and 2 by at most 0.15.
    rng = np.random.default_rng(1)
    x = rng.normal(size=2000)
    df = pd.DataFrame({"x": x, "y": 1 + 2 * x + 0.5 * rng.normal(size=2000)})
    model = cgan.CausalGraphWGAN(n_iter=1500, hidden_size=32, n_hidden=2, critic_steps=5, batch_size=64,
                                 learning_rate=1e-3, random_state=0).fit(df, [("x", "y")])
    under = model.sample(20000, do={"x": 1.0}, random_state=2)
    assert (under["x"] == 1.0).all()
    assert abs(under["y"].mean() - 3.0) < 0.3
    assert abs(model.ate("x", "y", t0=0.0, t1=1.0, n=20000) - 2.0) < 0.3
    # observationally y keeps its spread: sd(2x + noise) = 2.06
    assert abs(model.sample(20000, random_state=3)["y"].std() - np.sqrt(4.25)) < 0.3


def test_do_takes_constants_arrays_and_functions_of_the_parents(fitted):
    df, model = fitted
    n = 500
    const = model.sample(n, do={"t": 1}, random_state=1)
    assert (const["t"] == 1).all()
    values = np.linspace(-1, 1, n)
    arr = model.sample(n, do={"m": values}, random_state=1)
    assert np.array_equal(arr["m"].to_numpy(), values)
    seen = {}

    def double_z(parents):
        seen["columns"] = list(parents.columns)
        seen["dtypes"] = parents.dtypes.to_dict()
        return 1 - (parents["z"] > 0).astype(int)

    func = model.sample(n, do={"t": double_z}, random_state=1)
    assert seen["columns"] == ["z"] and seen["dtypes"]["z"] == df["z"].dtype
    assert np.array_equal(func["t"].to_numpy(), np.where(func["z"] > 0, 0, 1))
    # a function for a node without parents gets n rows and no columns
    root = model.sample(n, do={"z": lambda parents: np.full(len(parents), 0.25)}, random_state=1)
    assert (root["z"] == 0.25).all()
    # a categorical column takes one of its labels
    assert (model.sample(n, do={"g": "yes"}, random_state=1)["g"] == "yes").all()


def test_interventions_act_on_descendants_only_and_share_the_units(fitted):
    _, model = fitted
    base = model.sample(2000, random_state=4)
    treated = model.sample(2000, do={"t": 1}, random_state=4)
    control = model.sample(2000, do={"t": 0}, random_state=4)
    # z and k do not descend from t: the same units in every world
    for c in ("z", "k"):
        assert np.array_equal(base[c], treated[c]) and np.array_equal(base[c], control[c])
    # the observed world is the world of the treatment each unit received
    for world, level in ((treated, 1), (control, 0)):
        rows = base["t"] == level
        pd.testing.assert_frame_equal(base[rows], world[rows])
    assert not np.array_equal(treated["m"], control["m"])


def test_dtypes_names_and_limits_are_kept_under_interventions(fitted):
    df, model = fitted
    for do in (None, {"t": 1}, {"z": df["z"].max()}, {"m": lambda p: p["z"] * 0.0 + df["m"].min()}):
        s = model.sample(3000, do=do, random_state=5)
        assert list(s.columns) == list(df.columns)
        for c in df.columns:
            assert s[c].dtype == df[c].dtype, (do, c)
        assert set(s["g"]) <= {"yes", "no"} and set(s["t"]) <= {0, 1}
        assert (s["y"] >= 0).all()
        # every continuous column stays within the range seen in fit
        for c in ("z", "m", "y", "k"):
            assert s[c].min() >= df[c].min() and s[c].max() <= df[c].max(), (do, c)


def test_range_margin_widens_the_limits_and_none_removes_them():
    df = _mediator_frame(200)
    wide = cgan.CausalGraphWGAN(range_margin=0.5, random_state=0, **TINY).fit(df, GRAPH)
    spread = df["z"].max() - df["z"].min()
    wide.sample(10, do={"z": df["z"].max() + 0.4 * spread}, random_state=0)
    with pytest.raises(ValueError, match="outside 'z'.s limits"):
        wide.sample(10, do={"z": df["z"].max() + 0.6 * spread})
    free = cgan.CausalGraphWGAN(range_margin=None, random_state=0, **TINY).fit(df, GRAPH)
    free.sample(10, do={"z": 1e6}, random_state=0)
    with pytest.raises(ValueError, match="range_margin"):
        cgan.CausalGraphWGAN(range_margin=-1, **TINY).fit(df, GRAPH)


@pytest.mark.parametrize(
    "do, exc, match",
    [
        ({"nope": 1}, ValueError, "not a node"),
        ({"t": 2}, ValueError, r"levels not seen in fit: \[2\]"),
        ({"g": "maybe"}, ValueError, "levels not seen"),
        ({"z": 1e9}, ValueError, "outside 'z'.s limits"),
        ({"k": 2.5}, ValueError, "non-integers"),
        ({"m": np.zeros(7)}, ValueError, "array of n=10 values"),
        ({"m": np.full(10, np.nan)}, ValueError, "missing values"),
        ({"m": "high"}, TypeError, "must be numbers"),
        ({"m": lambda p: np.zeros(3)}, ValueError, "returned must be a constant or an array of n=10"),
        ([("t", 1)], TypeError, "do must be a dict"),
    ],
)
def test_bad_interventions_are_named(fitted, do, exc, match):
    _, model = fitted
    with pytest.raises(exc, match=match):
        model.sample(10, do=do, random_state=0)


# ---------------------------------------------------------------- effects
def test_mediation_splits_the_total_effect(fitted):
    _, model = fitted
    effects = model.mediation("t", "m", "y", n=5000)
    assert isinstance(effects, cgan.MediationResult)
    assert effects.total == pytest.approx(effects.direct + effects.indirect, abs=1e-9)
    # the total is the ATE of the same draw
    assert effects.total == pytest.approx(model.ate("t", "y", n=5000), abs=1e-9)
    assert model.mediation("t", ["m"], "y", t0=0, t1=1, n=5000) == effects
    for mediators, match in (("z", "not a descendant"), ("g", "not an ancestor"), ("t", "treatment or the outcome"),
                             ([], "at least one")):
        with pytest.raises(ValueError, match=match):
            model.mediation("t", mediators, "y", n=100)
    with pytest.raises(TypeError, match="numeric"):
        model.ate("t", "g", n=100)
    with pytest.raises(ValueError, match="t0 and t1 are required"):
        model.ate("m", "y", n=100)


def test_mediation_on_a_linear_scm_is_close_to_the_truth():
    # t ~ Bernoulli(0.5), m = t + N(0, 0.5^2), y = t + 2 m + N(0, 0.5^2):
    # direct effect 1, indirect 2.  The tolerance 0.4 covers this small,
    # briefly trained model (over seeds 0-4 its errors were at most 0.2).
    rng = np.random.default_rng(2)
    n = 2000
    t = rng.integers(0, 2, n)
    m = t + 0.5 * rng.normal(size=n)
    y = t + 2 * m + 0.5 * rng.normal(size=n)
    df = pd.DataFrame({"t": t, "m": m, "y": y})
    model = cgan.CausalGraphWGAN(n_iter=1500, hidden_size=32, n_hidden=2, critic_steps=5, batch_size=64,
                                 learning_rate=1e-3, random_state=0).fit(df, {"m": ["t"], "y": ["t", "m"]})
    effects = model.mediation("t", "m", "y", n=20000)
    assert abs(effects.direct - 1.0) < 0.4 and abs(effects.indirect - 2.0) < 0.4


def _encoders(df, categorical):
    from cgan._tabular import make_columns

    return make_columns(df, list(df.columns), categorical, {}, [], [], 0.0)


def test_the_line_takes_effect_heterogeneity_only_when_held_out_rows_support_it():
    # y = 1 + 0.3 t + x (+ 1.5 t x) + N(0, 1), t binary: the line's slope
    # of t is OLS's (not shrunk), and the product t*x enters only when it
    # is in the data
    from cgan._tabular import encode_frame
    from cgan._wgan.chain import fit_line, interaction_pairs, main_columns

    rng = np.random.default_rng(3)
    n = 1500
    t = rng.integers(0, 2, n)
    x = rng.normal(size=n)
    for gamma in (0.0, 1.5):
        y = 1 + 0.3 * t + x + gamma * t * x + rng.normal(size=n)
        df = pd.DataFrame({"t": t, "x": x})
        cols = _encoders(df, ["t"])
        C = encode_frame(cols, df).astype(np.float32)
        pairs = interaction_pairs(cols)
        coef = fit_line(C, pairs, main_columns(cols), y, None)
        X = np.column_stack([np.ones(n), C[:, 1:3]] + ([C[:, 1] * C[:, 2]] if gamma else []))
        ols = np.linalg.lstsq(X.astype(np.float64), y, rcond=None)[0]
        # columns: t's two levels, then x, then the product of t's second level with x
        assert pairs == [[1, 2]]
        # (a penalty at most 1e-6 of the products' leaves the main slopes within 0.5% of OLS)
        assert abs(coef[2] - coef[1] - ols[1]) < 5e-3 and abs(coef[3] - ols[2]) < 5e-3, (coef, ols)
        if gamma:
            assert abs(coef[4] - ols[3]) < 0.05
        else:
            assert coef[4] == 0.0


def test_the_residual_wgan_takes_a_categorical_parent_only_when_the_residuals_depend_on_it():
    from cgan._tabular import encode_frame
    from cgan._wgan.chain import wgan_inputs

    rng = np.random.default_rng(4)
    n = 1500
    df = pd.DataFrame({"g": rng.integers(0, 2, n), "h": rng.integers(0, 2, n), "x": rng.normal(size=n)})
    cols = _encoders(df, ["g", "h"])
    C = encode_frame(cols, df).astype(np.float32)
    # the spread doubles with g; h does nothing
    e = rng.normal(size=n) * np.where(df["g"] == 1, 1.4, 0.7)
    assert wgan_inputs(C, cols, e, None) == [0, 1, 4]
    # the mean of e moves with x where h = 1 (a product the line left out)
    e = rng.normal(size=n) + np.where(df["h"] == 1, 0.6, -0.6) * df["x"].to_numpy()
    assert wgan_inputs(C, cols, e, None) == [2, 3, 4]
    assert wgan_inputs(C, cols, rng.normal(size=n), None) == [4]


def test_a_randomised_treatment_keeps_its_effect_without_spurious_heterogeneity():
    # t randomised with a slight chance imbalance in x; y = 2 + t + x +
    # N(0, 1): every unit's effect is 1, so the treated units' effect (ATT)
    # is the ATE; the residual's WGAN, given t, could learn noise as effects
    # that vary with x and make the ATT differ from the ATE.
    rng = np.random.default_rng(6)
    n = 400
    x = rng.normal(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(-0.3 * x))).astype(np.int64)
    df = pd.DataFrame({"x": x, "t": t, "y": 2 + t + x + rng.normal(size=n)})
    model = cgan.CausalGraphWGAN(n_iter=800, hidden_size=32, n_hidden=2, critic_steps=5, batch_size=64,
                                 learning_rate=1e-3, random_state=0).fit(df, {"t": ["x"], "y": ["x", "t"]})
    y_model = model._models[-1]
    assert y_model.inputs == [0]  # x only (t's columns are 1 and 2)
    s0 = model.sample(40000, do={"t": 0}, random_state=1)
    s1 = model.sample(40000, do={"t": 1}, random_state=1)
    treated = model.sample(40000, random_state=1)["t"].to_numpy() == 1
    effect = s1["y"].to_numpy() - s0["y"].to_numpy()
    # (over seeds 0-2 the ATE was within 0.1 of 1 and the ATT within 0.02 of it)
    assert abs(effect.mean() - 1.0) < 0.25
    assert abs(effect[treated].mean() - effect.mean()) < 0.05


def test_the_line_alone_carries_the_linear_part_of_a_nodes_mean(fitted):
    # the calibration takes the linear part of the WGAN's mapped draws (on
    # contexts the chain draws) off the line, so that line and WGAN
    # together have the data's line: the line fitted to the data equals the
    # calibrated line plus the linear part of fresh mapped draws, up to the
    # noise of 40,000 draws
    from cgan._wgan.chain import fit_line, interaction_pairs, line_features, main_columns

    df, model = fitted
    chain = model._chain()
    k = next(i for i, (_, outputs, _, _) in enumerate(chain.steps) if outputs == ["m"])
    m_model, (_, _, inputs, _) = model._models[k], chain.steps[k]
    assert m_model.masses is None and m_model.inputs
    parents = [chain.columns[c] for c in inputs]
    C = chain.context(inputs, {c: df[c].to_numpy() for c in inputs}, len(df))
    pairs = interaction_pairs(parents)
    fitted_line = fit_line(C, pairs, main_columns(parents), chain.columns["m"].standardise(df["m"].to_numpy()), None)
    n = 40000
    ctx = chain.context(inputs, chain.draw(n, 11), n)
    v = m_model.residual(ctx, 13)
    d = C.shape[1]
    terms = [0] + [1 + j for j in m_model.inputs]
    F = np.column_stack([np.ones(n), line_features(ctx, pairs).astype(np.float64)])[:, terms]
    slope = np.linalg.lstsq(F, v, rcond=None)[0]
    assert d == len(m_model.coef) - 1 - len(pairs)
    np.testing.assert_allclose(m_model.coef[terms] + slope, fitted_line[terms], atol=0.03)
    # the terms the WGAN does not take keep the fitted line's slopes
    rest = [j for j in range(len(fitted_line)) if j not in terms]
    np.testing.assert_array_equal(m_model.coef[rest], fitted_line[rest])


def test_roots_keep_the_datas_marginal_laws_and_their_dependence():
    # two skewed, dependent roots: the WGAN says which values go together,
    # the data's quantiles what each column's values are
    rng = np.random.default_rng(5)
    a = rng.exponential(size=1000)
    df = pd.DataFrame({"a": a, "b": a + rng.exponential(size=1000), "c": rng.normal(size=1000)})
    # (seeds 0-1: quantiles within 0.017 sd, correlation 0.66-0.74 against 0.67)
    model = cgan.CausalGraphWGAN(n_iter=1500, hidden_size=32, n_hidden=2, critic_steps=5, batch_size=64,
                                 learning_rate=1e-3, random_state=0).fit(df, {"a": [], "b": [], "c": ["a"]})
    s = model.sample(20000, random_state=1)
    for col in ("a", "b"):
        for q in (0.1, 0.5, 0.9):
            assert abs(np.quantile(s[col], q) - np.quantile(df[col], q)) < 0.05 * df[col].std(), (col, q)
        assert df[col].min() <= s[col].min() and s[col].max() <= df[col].max()
    assert np.corrcoef(s["a"], s["b"])[0, 1] > 0.4


def test_a_categorical_node_follows_its_parents():
    # t ~ Bernoulli(sigmoid(2 z)): the classifier's shares by the sign of z
    rng = np.random.default_rng(3)
    z = rng.normal(size=1500)
    t = (rng.random(1500) < 1 / (1 + np.exp(-2 * z))).astype(int)
    df = pd.DataFrame({"z": z, "t": t})
    model = cgan.CausalGraphWGAN(random_state=0, **TINY).fit(df, {"t": ["z"]})
    assert model.history_["t"]["log_loss"]
    given = model.sample(20000, do={"z": np.tile(df["z"].to_numpy(), 14)[:20000]}, random_state=1)
    for sign in (True, False):
        real = df["t"][(df["z"] > 0) == sign].mean()
        assert abs(given["t"][(given["z"] > 0) == sign].mean() - real) < 0.04


# ------------------------------------------------------------ determinism
def test_same_seed_same_fit_whatever_the_threads(fitted):
    df, model = fitted
    again = cgan.CausalGraphWGAN(random_state=0, n_jobs=2, **TINY).fit(df, GRAPH, bounds={"y": (0, None)})
    assert again.set_params(n_jobs=None).dumps() == model.dumps()
    pd.testing.assert_frame_equal(again.sample(300, do={"t": 1}, random_state=3),
                                  model.sample(300, do={"t": 1}, random_state=3))
    other = cgan.CausalGraphWGAN(random_state=1, **TINY).fit(df, GRAPH, bounds={"y": (0, None)})
    assert not other.sample(50, random_state=3).equals(model.sample(50, random_state=3))


def test_sampling_without_a_seed_continues_the_stream_and_seeded_sampling_changes_nothing(fitted):
    df, model = fitted
    copy = cgan.loads(model.dumps())
    before = model.dumps()
    model.sample(100, do={"t": 0}, random_state=9)
    model.ate("t", "y", n=500, random_state=2)
    assert model.dumps() == before
    first, second = copy.sample(40), copy.sample(40)
    assert not first.equals(second)
    # the stream is part of the saved model
    again = cgan.loads(model.dumps())
    pd.testing.assert_frame_equal(again.sample(40), first)


# ------------------------------------------------------------ persistence
def test_round_trips_sample_identically(fitted, tmp_path):
    df, model = fitted
    expected = model.sample(200, do={"t": 1}, random_state=6)
    path = tmp_path / "graph.cgan"
    model.save(path)
    for restored in (cgan.load(path), cgan.loads(model.dumps()), pickle.loads(pickle.dumps(model))):
        assert isinstance(restored, cgan.CausalGraphWGAN)
        assert restored.graph_ == model.graph_
        pd.testing.assert_frame_equal(restored.sample(200, do={"t": 1}, random_state=6), expected)
        assert restored.mediation("t", "m", "y", n=1000) == model.mediation("t", "m", "y", n=1000)
    unfitted = cgan.loads(cgan.CausalGraphWGAN(n_iter=5).dumps())
    assert unfitted.n_iter == 5 and not hasattr(unfitted, "graph_")


def test_inconsistent_saved_state_is_refused(fitted):
    from cgan import _persist

    _, model = fitted
    state = model._fitted_state()
    for key, value, match in (
        ("graph_", {**model.graph_, "z": ["y"]}, "topological"),
        ("_steps", list(reversed(model._steps)), "_steps"),
        ("_models", model._models[:-1], "one model per step"),
        ("_models", [model._models[1]] + model._models[1:], "joint WGAN"),
        ("_sample_seed", -1, "_sample_seed"),
    ):
        with pytest.raises(ValueError, match=match):
            _persist._build(cgan.CausalGraphWGAN, model.get_params(), {**state, key: value})


# ---------------------------------------------------------------- threads
def test_seeded_draws_from_two_threads_give_the_serial_bits(fitted):
    _, model = fitted
    calls = [lambda: model.sample(500, do={"t": 1}, random_state=11), lambda: model.mediation("t", "m", "y", n=3000)]
    serial = [f() for f in calls]
    for _ in range(5):
        results = [None, None]
        start = threading.Barrier(2)

        def run(i):
            start.wait()
            results[i] = calls[i]()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        pd.testing.assert_frame_equal(results[0], serial[0])
        assert results[1] == serial[1]


# ---------------------------------------------------------- compare, evaluate
def test_compare_reports_balance_before_the_treatment(fitted):
    df, model = fitted
    table = model.compare(df, treatment="t")
    assert np.isfinite(table.loc[["z", "k"], ["real_smd", "synthetic_smd"]].to_numpy()).all()
    assert table.loc[["t", "m", "g", "y"], "real_smd"].isna().all()
    z = df["z"].to_numpy()
    t = df["t"].to_numpy() == 1
    smd = (z[t].mean() - z[~t].mean()) / np.sqrt((z[t].var() + z[~t].var()) / 2)
    assert table.loc["z", "real_smd"] == pytest.approx(smd)
    assert set(table.attrs["propensity_auc"]) == {"real", "synthetic"}
    assert "real_smd" not in model.compare(df).columns
    with pytest.raises(ValueError, match="categorical"):
        model.compare(df, treatment="m")


def test_plot_compare_draws_every_column(fitted):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    df, model = fitted
    figure = model.plot_compare(df, pairs=[("z", "m")])
    assert len([ax for ax in figure.axes if ax.get_visible()]) == len(df.columns) + 1
    with pytest.raises(ValueError, match="not fitted continuous"):
        model.plot_compare(df, pairs=[("z", "g")])


def test_evaluate_draws_graph_data_sets_with_their_own_effects(fitted):
    _, model = fitted

    def naive(X, T, Y):
        assert list(X.columns) == ["z", "k"]
        return Y[T == 1].mean() - Y[T == 0].mean()

    table = cgan.evaluate(model, {"naive": naive}, n_datasets=4, n=300, random_state=0, treatment="t", outcome="y")
    assert table.loc["naive", "bias"] == pytest.approx(table.loc["naive", "mean_estimate"]
                                                       - table.attrs["mean_true_effect"])
    again = cgan.evaluate(model, {"naive": naive}, n_datasets=4, n=300, random_state=0, treatment="t", outcome="y",
                          n_jobs=2)
    pd.testing.assert_frame_equal(table, again)
    with pytest.raises(ValueError, match="treatment= and outcome="):
        cgan.evaluate(model, {"naive": naive}, n_datasets=2)
    chosen = cgan.evaluate(model, {"x": lambda X, T, Y: float(X.shape[1])}, n_datasets=2, n=100,
                           treatment="t", outcome="y", covariates=["m", "z"], random_state=0)
    assert chosen.loc["x", "mean_estimate"] == 2.0


# -------------------------------------------------------------- bad input
def test_fit_rejects_bad_input():
    df = _mediator_frame(100)
    with pytest.raises(TypeError, match="DataFrame"):
        cgan.CausalGraphWGAN(**TINY).fit(df.to_numpy(), GRAPH)
    with pytest.raises(ValueError, match="missing value"):
        cgan.CausalGraphWGAN(**TINY).fit(df.assign(z=np.where(np.arange(100) == 3, np.nan, df.z)), GRAPH)
    with pytest.raises(ValueError, match="batch_size=200"):
        cgan.CausalGraphWGAN(**dict(TINY, batch_size=200)).fit(df, GRAPH)
    with pytest.raises(ValueError, match="root nodes"):
        cgan.CausalGraphWGAN(one_sided={"z": False}, **TINY).fit(df.assign(w=df.z), {**GRAPH, "w": []})
    with pytest.raises(ValueError, match="unknown model"):
        cgan.CausalGraphWGAN(one_sided={"nope": False}, **TINY).fit(df, GRAPH)
    with pytest.raises(ValueError, match="no lower bound"):
        cgan.CausalGraphWGAN(**TINY).fit(df, GRAPH, log=["m"])
    with pytest.raises(RuntimeError, match="not fitted"):
        cgan.CausalGraphWGAN().sample(10)
    with pytest.raises(TypeError, match="synthesizer must be a fitted"):
        cgan.evaluate(cgan.CausalGraphWGAN(), {"f": lambda X, T, Y: 0.0})
