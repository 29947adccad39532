"""save/load, dumps/loads and pickle: one validated container.

A loaded model must predict and sample bit for bit as the saved one;
truncated, corrupted, wrong-version or hostile bytes must raise ValueError
and nothing else.  The fuzz test's default run is short; CGAN_FUZZ_EXAMPLES
raises it, and benchmarks/fuzz_loader.py runs the same mutations for
100,000+ inputs against a sanitizer build."""
import json
import os
import pickle
import struct
import sys
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cgan

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzzing  # noqa: E402

pd = pytest.importorskip("pandas")

SMALL = dict(hidden_size=4, n_hidden=1, n_iter=20, batch_size=16)


def _data(n=60, seed=0, binary=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    T = rng.integers(0, 2, n)
    Y = X[:, 0] + 2 * T + rng.normal(size=n)
    return X, T, ((Y > 1).astype(float) if binary else Y)


@pytest.fixture(scope="module")
def ganite():
    X, T, Y = _data()
    return cgan.GANITE(n_estimators=2, noise_dim=2, random_state=3, **SMALL).fit(Y, T, X=X), (X, T, Y)


@pytest.fixture(scope="module")
def corpus():
    return fuzzing.tiny_models()


def _wgan_frame(n=60):
    rng = np.random.default_rng(1)
    return pd.DataFrame({"t": rng.integers(0, 2, n), "y": np.abs(rng.normal(size=n)),
                         "age": rng.integers(20, 60, n), "group": rng.choice(["u", "v", "w"], n),
                         7: rng.normal(size=n)})


def _same_fitted_state(a, b):
    assert type(a) is type(b)
    assert a.get_params().keys() == b.get_params().keys()
    skip = {"_cores", "_cov_gan", "_out_gan", *getattr(type(a), "_transient_attributes", ())}
    for key, value in vars(a).items():
        if key in skip:
            continue
        other = vars(b)[key]
        if isinstance(value, np.ndarray):
            assert value.dtype == other.dtype and np.array_equal(value, other), key
        elif isinstance(value, dict) and key == "history_":
            assert value.keys() == other.keys()


def test_ganite_round_trip_predicts_and_samples_identically(ganite, tmp_path):
    model, (X, T, Y) = ganite
    path = tmp_path / "model.cgan"
    model.save(path)
    loaded = cgan.load(path)
    _same_fitted_state(model, loaded)
    assert np.array_equal(loaded.predict(X), model.predict(X))
    assert np.array_equal(loaded.predict(), model.predict())
    assert loaded.ate_interval() == model.ate_interval()
    # seeded draws match
    twin = cgan.loads(model.dumps())
    assert np.array_equal(twin.sample(X, 4, 7, T=T, Y=Y), model.sample(X, 4, 7, T=T, Y=Y))
    assert np.array_equal(twin.sample(X, 3, 8), model.sample(X, 3, 8))
    assert repr(loaded) == repr(model)


def test_pickle_stores_the_container(ganite):
    model, (X, _, _) = ganite
    state = model.__getstate__()
    assert set(state) == {"cgan_model"} and state["cgan_model"][:8] == b"CGANMODL"
    again = pickle.loads(pickle.dumps(model))
    assert np.array_equal(again.predict(X), model.predict(X))
    # a pickled GANITE's state cannot be set on a CausalWGAN
    with pytest.raises(ValueError, match="GANITE"):
        cgan.CausalWGAN().__setstate__(state)


def test_binary_string_arms_and_named_columns_round_trip():
    X, _, Y = _data(binary=True)
    arms = np.array(["a", "bb", "ccc"])[np.random.default_rng(2).integers(0, 3, len(Y))]
    frame = pd.DataFrame(X, columns=["x1", "x2", "x3"])
    model = cgan.GANITE(n_estimators=1, random_state=np.random.default_rng(5), **SMALL).fit(Y, arms, X=frame)
    loaded = cgan.loads(model.dumps())
    assert loaded.outcome_type_ == "binary" and list(loaded.classes_) == ["a", "bb", "ccc"]
    assert list(loaded.feature_names_in_) == ["x1", "x2", "x3"]
    assert np.array_equal(loaded.predict(frame), model.predict(frame))
    # the generator's state is saved with the model
    assert loaded.random_state.bit_generator.state == model.random_state.bit_generator.state
    with pytest.raises(ValueError, match="columns"):
        loaded.predict(frame[["x2", "x1", "x3"]])


def test_causal_wgan_round_trip_samples_identically(tmp_path):
    df = _wgan_frame()
    model = cgan.CausalWGAN(hidden_size=4, n_hidden=1, n_iter=5, batch_size=16, critic_steps=2, betas=(0.5, 0.9),
                            random_state=0).fit(df, treatment="t", outcome="y", bounds={"y": (0, None)})
    model.save(tmp_path / "wgan.cgan")
    loaded = cgan.load(tmp_path / "wgan.cgan")
    assert loaded.betas == (0.5, 0.9) and loaded.covariates_ == model.covariates_
    pd.testing.assert_frame_equal(loaded.sample(50), model.sample(50))
    pd.testing.assert_frame_equal(loaded.sample(20), model.sample(20))  # the unseeded sample stream continues
    pd.testing.assert_frame_equal(loaded.sample(30, random_state=4), model.sample(30, random_state=4))
    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(model)).sample(9), model.sample(9))


def test_causal_wgan_saved_before_point_masses_loads(tmp_path):
    # files written before mass_at_bounds existed have neither the parameter
    # nor the columns' masses; they load as models without point masses
    df = _wgan_frame()
    model = cgan.CausalWGAN(hidden_size=4, n_hidden=1, n_iter=5, batch_size=16, critic_steps=2,
                            random_state=0).fit(df, treatment="t", outcome="y", bounds={"y": (0, None)})
    header, blobs = fuzzing.split(cgan._persist.dumps(model))
    del header["params"]["mass_at_bounds"]
    for col in header["state"]["_cov_cols"] + [header["state"]["_t_col"], header["state"]["_out_col"]]:
        del col["state"]["masses"]
    old = cgan.loads(fuzzing.build(header, blobs))
    assert old.mass_at_bounds is False and old._out_col.masses == []
    pd.testing.assert_frame_equal(old.sample(40, random_state=1), model.sample(40, random_state=1))
    # a categorical column never carries point masses
    header["state"]["_t_col"]["state"]["masses"] = ["lower"]
    with pytest.raises(ValueError, match="categorical column cannot have point masses"):
        cgan.loads(fuzzing.build(header, blobs))


def test_only_the_fitted_state_is_saved_and_accepted(ganite):
    ganite, (X, T, Y) = ganite
    # an attribute of the user's own is not saved
    mine = cgan.loads(ganite.dumps())
    mine.note = "mine"
    again = cgan.loads(mine.dumps())
    assert not hasattr(again, "note")
    assert np.array_equal(again.predict(X), ganite.predict(X))
    # a fitted state missing what sampling and AIPW read is rejected at load,
    # not met as an AttributeError later
    broken = cgan.loads(ganite.dumps())
    broken.__dict__["_mU_oof"] = broken.__dict__.pop("_mu_oof")
    with pytest.raises(ValueError, match=r"lacks \['_mu_oof'\]"):
        cgan.loads(broken.dumps())
    # and so is fitted state on a model that says it is unfitted
    unfitted = cgan.GANITE()
    unfitted._cores = list(ganite._cores)
    with pytest.raises(ValueError, match="unfitted model's state"):
        cgan.loads(_persist_dumps_raw(unfitted))


def _persist_dumps_raw(model):
    """dumps without the filter to the fitted state, as a hostile writer would."""
    from cgan import _persist

    skip = set(model.get_params()) | set(model._runtime_attributes) | {"_fitted_state"}
    model._fitted_state = lambda: {k: v for k, v in vars(model).items() if k not in skip}
    try:
        return _persist.dumps(model)
    finally:
        del model._fitted_state


def test_unfitted_models_round_trip():
    for model in (cgan.GANITE(hidden_size=7, outcome="binary"), cgan.CausalWGAN(betas=(0.1, 0.2), noise_dim=3)):
        loaded = cgan.loads(model.dumps())
        assert loaded.get_params() == model.get_params()
        assert not hasattr(loaded, "classes_")


def test_save_replaces_a_file_only_when_complete(ganite, tmp_path):
    model, (X, _, _) = ganite
    path = tmp_path / "model.cgan"
    path.write_bytes(b"old")
    model.save(str(path))
    assert path.read_bytes() == model.dumps()
    assert os.listdir(tmp_path) == ["model.cgan"]  # no temporary file left behind
    with pytest.raises(TypeError, match="not supported"):
        cgan.GANITE(random_state=object()).dumps()
    assert os.listdir(tmp_path) == ["model.cgan"]


def test_every_truncation_is_rejected(corpus):
    data = corpus[0]
    for end in range(len(data)):
        with pytest.raises(ValueError):
            cgan.loads(data[:end])


def test_framing_errors_name_the_problem(corpus):
    data = corpus[0]
    header, blobs = fuzzing.split(data)
    with pytest.raises(ValueError, match="format version 2"):
        cgan.loads(fuzzing.build(header, blobs, version=2))
    with pytest.raises(ValueError, match="magic"):
        cgan.loads(b"\x80\x04" + data)  # e.g. a pickle
    with pytest.raises(ValueError, match="checksum"):
        cgan.loads(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    with pytest.raises(ValueError, match="after the last blob"):
        cgan.loads(fuzzing.reseal(data[:-4] + b"\0" + data[-4:]))
    with pytest.raises(TypeError, match="bytes"):
        cgan.loads("CGANMODL")


def _hostile(data, edit):
    header, blobs = fuzzing.split(data)
    edit(header, blobs)
    return fuzzing.build(header, blobs)


@pytest.mark.parametrize("edit, message", [
    (lambda h, b: h.update({"class": "os.system"}), "unknown model class"),
    (lambda h, b: h["state"].update({"predict": 1}), "not a valid attribute"),
    (lambda h, b: h["state"].update({"__class__": "GANITE"}), "not a valid attribute"),
    (lambda h, b: h["params"].update({"exec": 1}), "parameters"),
    (lambda h, b: h["state"].update({"x_": {"__cgan__": "object", "class": "Popen", "state": {}}}), "cannot be loaded"),
    (lambda h, b: h["state"].update({"x_": {"__cgan__": "pickle", "data": "gASV"}}), "unknown tag"),
    (lambda h, b: h["state"]["_x_mean"].update({"shape": [4]}), "does not fit"),
    (lambda h, b: h["state"]["_x_mean"].update({"dtype": "|O"}), "items"),
    (lambda h, b: h["state"]["_x_mean"].update({"dtype": "f8,i4"}), "not allowed"),
    (lambda h, b: h["state"]["_x_mean"].update({"blob": 99}), "out of range"),
    (lambda h, b: h["state"].update({"_x_scale": h["state"]["_x_mean"]}), "positive"),
    (lambda h, b: h["state"].update({"n_features_in_": 4}), "does not match"),
    (lambda h, b: h["state"].update({"classes_": [0, 1]}), "classes_"),
    (lambda h, b: h["state"].update({"_cores": []}), "_cores"),
    (lambda h, b: h["state"].pop("_smear"), "must come together"),
    (lambda h, b: h["state"].update({"outcome_transform_": "sqrt"}), "outcome_transform_ must be"),
    (lambda h, b: h["state"].update({"_smear": h["state"]["_x_mean"]}), "_smear must hold"),
    (lambda h, b: h["state"].update({"x_": json.loads("[" * 500 + "]" * 500)}), "deeply"),
    (lambda h, b: h.update({"blobs": h["blobs"][:-1]}), "after the last blob"),
])
def test_hostile_headers_are_rejected(corpus, edit, message):
    with pytest.raises(ValueError, match=message):
        cgan.loads(_hostile(corpus[0], edit))


def test_json_nested_beyond_the_parser_is_rejected(corpus):
    text = b'{"format":"cgan model","blobs":[],"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    data = fuzzing.reseal(struct.pack("<8sIQ", b"CGANMODL", 1, len(text)) + text + b"\0\0\0\0")
    with pytest.raises(ValueError, match="not valid JSON"):
        cgan.loads(data)


def test_hostile_core_snapshots_are_rejected(corpus):
    header, blobs = fuzzing.split(corpus[0])
    core = header["state"]["_cores"][0]["blob"]
    # a snapshot claiming networks of 2^33 parameters, in a few bytes: the C
    # loader must refuse it before allocating anything
    huge = bytearray(blobs[core][:92])
    huge[20:52] = struct.pack("=8i", 1000, 2, 65536, 2, 0, 0, 32, 1)
    for snapshot in (bytes(huge), blobs[core][:-1], b"CGANGNT\0" + blobs[core][8:12] * 30, blobs[core][:20]):
        edited = list(blobs)
        edited[core] = snapshot
        header["blobs"][core] = len(snapshot)
        with pytest.raises(ValueError, match="snapshot"):
            cgan.loads(fuzzing.build(header, edited))


def test_checksum_is_crc32_of_the_body(corpus):
    data = corpus[-1]
    assert struct.unpack("<I", data[-4:])[0] == zlib.crc32(data[:-4])


@settings(max_examples=int(os.environ.get("CGAN_FUZZ_EXAMPLES", "300")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_fuzz_mutated_models_load_or_raise_value_error(corpus, data):
    def draw(lo, hi):
        return data.draw(st.integers(lo, hi))

    seed_model = corpus[draw(0, len(corpus) - 1)]
    fuzzing.check_load(fuzzing.mutate(seed_model, corpus, draw))


@settings(max_examples=int(os.environ.get("CGAN_FUZZ_EXAMPLES", "300")) // 3, deadline=None)
@given(st.binary(max_size=256), st.booleans())
def test_fuzz_random_bytes_raise_value_error(raw, framed):
    data = fuzzing.reseal(b"CGANMODL\x01\x00\x00\x00" + raw) if framed else raw
    with pytest.raises(ValueError):
        cgan.loads(data)


def test_loaded_cores_continue_training_as_the_saved_ones():
    # the estimators have no warm start, but their C cores do: a loaded
    # core trained further gives the bits the saved core gives
    X, T, Y = _data(seed=4)
    model = cgan.GANITE(n_estimators=2, noise_dim=2, random_state=3, **SMALL).fit(Y, T, X=X)
    loaded = cgan.loads(model.dumps())
    X32 = ((X - model._x_mean) / model._x_scale).astype(np.float32)
    for a, b in zip(model._cores, loaded._cores):
        for core in (a, b):
            core.set_data(X32, T.astype(np.int32), Y.astype(np.float32))
        assert all(np.array_equal(u, v) for u, v in zip(a.train_counterfactual(30), b.train_counterfactual(30)))
        assert np.array_equal(a.train_ite(30), b.train_ite(30))
        assert a.snapshot() == b.snapshot()
        for core in (a, b):
            core.clear_data()


def test_binary_outcome_given_as_integers_round_trips():
    rng = np.random.default_rng(12)
    X = rng.normal(size=(200, 2))
    t = np.arange(200) % 2
    y = (X[:, 0] + t + rng.normal(size=200) > 0.5).astype(np.int64)
    model = cgan.GANITE(random_state=0, n_iter=10, n_estimators=2, hidden_size=16, batch_size=64).fit(y, t, X=X)
    twin = cgan.loads(model.dumps())
    assert twin.outcome_type_ == "binary" and twin._y_fit.dtype == np.float64
    np.testing.assert_array_equal(twin.predict(X), model.predict(X))
    # files that kept the integers still load
    model._y_fit = y
    old = cgan.loads(cgan._persist.dumps(model))
    np.testing.assert_array_equal(old._y_fit, y.astype(np.float64))
