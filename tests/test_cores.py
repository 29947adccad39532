"""The core objects of cgan._cgan as the Python package uses them: their
configuration getters, seeded WGAN sampling, the limits the module exports
and the memory figures the models report before they allocate."""
import numpy as np
import pytest

from cgan import _cgan

WGAN_CONFIG = dict(x_dim=4, ctx_dim=2, noise_dim=3, hidden_size=16, n_hidden=2, batch_size=16, critic_steps=2,
                   gp_lambda=5.0, one_sided=1, critic_dropout=0.1, learning_rate=1e-3, beta1=0.5, beta2=0.9,
                   seed=2**64 - 5)
GANITE_CONFIG = dict(n_features=3, n_treatments=3, hidden_size=8, n_hidden=2, noise_dim=1, binary_outcome=0,
                     batch_size=16, d_steps=2, alpha=1.0, beta=2.0, learning_rate=1e-3, weight_decay=0.01, seed=7,
                     crps_weight=0.0)


def _wgan(**change):
    rng = np.random.default_rng(0)
    cfg = dict(WGAN_CONFIG, **change)
    w = _cgan.Wgan(**cfg, column_block=[-1, -1, 0, 0], lower=[0, -np.inf, -np.inf, -np.inf])
    X = rng.normal(size=(64, 4)).astype(np.float32)
    X[:, 0] = np.abs(X[:, 0])
    X[:, 2:] = np.eye(2)[rng.integers(0, 2, 64)]
    ctx = rng.normal(size=(64, cfg["ctx_dim"])).astype(np.float32)
    w.set_data(X, ctx if cfg["ctx_dim"] else None)
    w.train(20)
    return w, ctx


# ------------------------------------------------------------- config

def test_wgan_config_gives_the_constructor_arguments():
    w, _ = _wgan()
    assert w.config == WGAN_CONFIG
    assert type(w.config["one_sided"]) is int and type(w.config["seed"]) is int
    # enough to build the same model again (the layout is passed as before)
    again = _cgan.Wgan(**w.config, column_block=[-1, -1, 0, 0], lower=[0, -np.inf, -np.inf, -np.inf])
    assert again.config == w.config
    restored = _cgan.Wgan.restore(w.snapshot())
    assert restored.config == w.config


def test_wgan_config_replaces_reading_the_snapshot_bytes():
    # the persistence code read x_dim and ctx_dim at a fixed offset of the
    # snapshot; the getter gives the same numbers
    import struct
    w, _ = _wgan(x_dim=4, ctx_dim=0)
    assert struct.unpack_from("=ii", w.snapshot(), 20) == (w.config["x_dim"], w.config["ctx_dim"]) == (4, 0)


def test_ganite_config_gives_the_constructor_arguments_and_the_scale():
    g = _cgan.Ganite(**GANITE_CONFIG)
    cfg = g.config
    assert cfg.pop("outcome_scale") == ((0.0, 1.0),) * 3
    assert cfg == GANITE_CONFIG


def test_config_of_an_uninitialised_core_is_none():
    assert _cgan.Wgan.__new__(_cgan.Wgan).config is None
    assert _cgan.Ganite.__new__(_cgan.Ganite).config is None


# ------------------------------------------------------- seeded sampling

@pytest.mark.parametrize("ctx_dim", [2, 0])
@pytest.mark.parametrize("n", [1, 300, 2500])
def test_seeded_wgan_sample_is_reseed_then_sample(n, ctx_dim):
    w, _ = _wgan(ctx_dim=ctx_dim)
    ctx = np.random.default_rng(n).normal(size=(n, ctx_dim)).astype(np.float32) if ctx_dim else None
    state = w.snapshot()
    seeded = w.sample(n, ctx, seed=123)
    # the model's stream is untouched, so its snapshot is too
    assert w.snapshot() == state
    other = _cgan.Wgan.restore(state)
    other.reseed(123)
    assert other.sample(n, ctx).tobytes() == seeded.tobytes()
    # and an unseeded draw continues the model's own stream as if nothing had happened
    fresh = _cgan.Wgan.restore(state)
    assert w.sample(n, ctx).tobytes() == fresh.sample(n, ctx).tobytes()
    assert not np.array_equal(w.sample(n, ctx, seed=124), seeded) or n == 1


def test_seeded_wgan_sample_checks_the_seed():
    w, ctx = _wgan()
    for bad, exc in ((-1, ValueError), (2**64, ValueError), (1.5, TypeError), ("1", TypeError), (True, TypeError)):
        with pytest.raises(exc, match="seed"):
            w.sample(3, ctx[:3], seed=bad)
    assert w.sample(3, ctx[:3], seed=None).shape == (3, 4)


# ----------------------------------------------------------------- limits

def test_limits_are_a_dict_of_ints_the_cores_enforce():
    L = _cgan.LIMITS
    assert type(L) is dict and all(type(k) is str and type(v) is int and v > 0 for k, v in L.items())
    assert L["hidden_size"] == 65536 and L["n_hidden"] == 64 and L["n_layers"] == L["n_hidden"] + 1
    for key in ("hidden_size", "n_hidden", "noise_dim", "batch_size", "d_steps", "n_features", "n_treatments"):
        with pytest.raises(ValueError, match=f"{key} must be between .* and {L[key]}, got {L[key] + 1}"):
            _cgan.Ganite(**dict(GANITE_CONFIG, **{key: L[key] + 1}))
    for key in ("x_dim", "ctx_dim", "critic_steps"):
        with pytest.raises(ValueError, match=f"{key} must be between .* and {L[key]}, got {L[key] + 1}"):
            _cgan.Wgan(**dict(WGAN_CONFIG, **{key: L[key] + 1}))
    with pytest.raises(ValueError, match=f"n_samples must be between 1 and {L['n_samples']}"):
        _cgan.Ganite(**GANITE_CONFIG).sample(np.ones((2, 3)), [0, 1], [0.0, 1.0], L["n_samples"] + 1, 0)
    w, ctx = _wgan()
    with pytest.raises(ValueError, match=f"n must be between 1 and {L['n_rows']}"):
        w.sample(L["n_rows"] + 1, ctx)
    with pytest.raises(ValueError, match=f"n_steps must be between 0 and {L['n_iter']}"):
        w.train(L["n_iter"] + 1)
    with pytest.raises(ValueError, match=f"sizes must have between 2 and {L['n_layers'] + 1} entries"):
        _cgan.MLP([2] * (L["n_layers"] + 2), ["relu"] * (L["n_layers"] + 1), seed=0)


def test_the_deepest_networks_the_limits_allow_train():
    deep = _cgan.Ganite(**dict(GANITE_CONFIG, n_hidden=_cgan.LIMITS["n_hidden"], hidden_size=2))
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    deep.set_data(X.astype(np.float32), rng.integers(0, 3, 40).astype(np.int32), X[:, 0].astype(np.float32))
    assert np.all(np.isfinite(deep.train_counterfactual(3)[0]))
    net = _cgan.MLP([3] + [2] * _cgan.LIMITS["n_layers"], ["tanh"] * _cgan.LIMITS["n_layers"], seed=0)
    assert net.forward(X).shape == (40, 2)


# ----------------------------------------------------------------- memory

def _second_difference(f, h):
    return f(h + 1) - 2 * f(h) + f(h - 1)


@pytest.mark.parametrize("n_hidden", [1, 2, 3, 5])
def test_ganite_nbytes_grows_with_the_square_of_hidden_size(n_hidden):
    """Each network has n_hidden - 1 hidden-to-hidden matrices of h^2
    weights, held four times (params, grads, Adam's m and v); I's moving
    average holds its once more: 13 (n_hidden - 1) float32 copies of h^2.
    Everything else grows linearly in h (for h above the input widths), so
    the second difference in h is exactly 2 * 4 * 13 (n_hidden - 1)."""
    def f(h):
        return _cgan.Ganite.nbytes(**dict(GANITE_CONFIG, hidden_size=h, n_hidden=n_hidden))

    for h in (40, 300, 900):
        assert _second_difference(f, h) == 2 * 4 * 13 * (n_hidden - 1)
    assert f(400) > f(300) > f(40)


@pytest.mark.parametrize("n_hidden", [1, 2, 4])
def test_wgan_nbytes_grows_with_the_square_of_hidden_size(n_hidden):
    """Two networks of four copies each, G's moving average, and (with two
    hidden layers or more) the gradient penalty's copy of the critic's last
    hidden weights: 9 (n_hidden - 1) + [n_hidden >= 2] float32 copies of h^2."""
    def f(h):
        return _cgan.Wgan.nbytes(**dict(WGAN_CONFIG, hidden_size=h, n_hidden=n_hidden))

    for h in (40, 500):
        assert _second_difference(f, h) == 2 * 4 * (9 * (n_hidden - 1) + (n_hidden >= 2))


def _lines_bytes(count):
    """an aligned block of the activation cache: count float32 values, 64
    bytes of alignment slack and the pointer kept for free"""
    return 4 * count + 64 + 8


def _cache_bytes(sizes, acts, dropout, n):
    """the activation cache of an MLP for n rows, as cgan.h lays it out:
    feature-major lines of ld values per unit (n rounded up to 16, and 16
    more when a multiple of 64), per layer z (and h = f(z) unless f is ReLU or
    the identity, and the dropout mask and output with dropout), the input
    lines, the row-major output, and four scratch blocks of the widest layer"""
    ld = -(-n // 16) * 16
    ld += 16 if ld % 64 == 0 else 0
    widest = max(sizes)
    total = 0
    for out, act, p in zip(sizes[1:], acts, dropout):
        copies = 1 + (act not in ("relu", "identity")) + 2 * (p > 0)
        total += copies * _lines_bytes(ld * out)
    total += _lines_bytes(ld * sizes[0]) + _lines_bytes(n * sizes[-1])
    total += _lines_bytes(max(ld * widest, n * (widest + 16))) + 3 * _lines_bytes(ld * widest)
    return total


@pytest.mark.parametrize("sizes,acts,dropout", [
    ([3, 30, 1], ["relu", "identity"], [0, 0]),
    ([5, 64, 40, 2], ["tanh", "relu", "identity"], [0.3, 0.1, 0]),
    ([100, 8, 3], ["elu", "sigmoid"], [0, 0]),
])
def test_mlp_nbytes_grows_by_the_documented_cache(sizes, acts, dropout):
    def f(n):
        return _cgan.MLP.nbytes(sizes, acts, capacity=n, dropout=dropout)

    for a, b in ((1, 17), (17, 64), (64, 1000), (1000, 4096)):
        assert f(b) - f(a) == _cache_bytes(sizes, acts, dropout, b) - _cache_bytes(sizes, acts, dropout, a)
    # the parameter block: params and grads
    base = f(1) - _cache_bytes(sizes, acts, dropout, 1)
    n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    assert 8 * n_params < base < 8 * n_params + 4096


def test_nbytes_take_the_constructors_arguments_and_check_them():
    assert _cgan.Ganite.nbytes(**GANITE_CONFIG) == _cgan.Ganite.nbytes(*GANITE_CONFIG.values())
    # set_data's cache of completed outcomes: 4 K bytes a training row, without noise only
    no_noise = dict(GANITE_CONFIG, noise_dim=0)
    assert (_cgan.Ganite.nbytes(**no_noise, n_rows=1000) - _cgan.Ganite.nbytes(**no_noise)
            == 1000 * GANITE_CONFIG["n_treatments"] * 4)
    assert _cgan.Ganite.nbytes(**GANITE_CONFIG, n_rows=1000) == _cgan.Ganite.nbytes(**GANITE_CONFIG)
    for bad, exc, match in ((dict(hidden_size=0), ValueError, "hidden_size must be between 1 and 65536"),
                            (dict(n_rows=-1), ValueError, "n_rows must be between 0"),
                            (dict(seed="1"), TypeError, "seed must be an integer")):
        with pytest.raises(exc, match=match):
            _cgan.Ganite.nbytes(**dict(GANITE_CONFIG, **bad))
    with pytest.raises(TypeError, match="seed"):
        _cgan.Ganite.nbytes(**{k: v for k, v in GANITE_CONFIG.items() if k != "seed"})
    assert _cgan.Wgan.nbytes(**WGAN_CONFIG, column_block=[-1, -1, 0, 0]) == _cgan.Wgan.nbytes(**WGAN_CONFIG)
    with pytest.raises(ValueError, match="critic_dropout must lie"):
        _cgan.Wgan.nbytes(**dict(WGAN_CONFIG, critic_dropout=1.0))
    with pytest.raises(ValueError, match="capacity must be between 1"):
        _cgan.MLP.nbytes([2, 3], ["relu"], capacity=0)
    with pytest.raises(ValueError, match="one output"):
        _cgan.MLP.nbytes([2, 3], ["relu"], penalty=True)
    assert _cgan.MLP.nbytes([2, 3, 1], ["relu", "identity"], capacity=50, penalty=True) > \
        _cgan.MLP.nbytes([2, 3, 1], ["relu", "identity"], capacity=50)


def test_nbytes_of_a_model_too_big_to_build_is_computed_not_allocated():
    # the configuration that grew to 24 GB and was killed: said before anything is allocated
    big = dict(GANITE_CONFIG, n_treatments=2, hidden_size=30000, batch_size=8)
    assert _cgan.Ganite.nbytes(**big) > 10 * 2**30
    biggest = dict(GANITE_CONFIG, hidden_size=_cgan.LIMITS["hidden_size"], n_hidden=_cgan.LIMITS["n_hidden"])
    assert _cgan.Ganite.nbytes(**biggest) > 13 * 63 * 4 * 2**32
