"""RSS stays flat over 1,000 fit/predict/sample/pickle cycles.

A leak of one float32 buffer per call in the binding or the core (tens of
bytes upwards) would grow RSS by well over the 1 MB allowed after warm-up."""
import gc
import pickle

import numpy as np
import pytest

import cgan

CYCLES = 1000
WARM_UP = 100
ALLOWED_KIB = 1024


def _rss_kib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    pytest.skip("VmRSS is not available on this platform")


def _growth_kib(cycle):
    for i in range(WARM_UP):
        cycle(i)
    gc.collect()
    before = _rss_kib()
    for i in range(CYCLES):
        cycle(i)
    gc.collect()
    return _rss_kib() - before


def _data(n=64):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    T = rng.integers(0, 2, n)
    return X, T, X[:, 0] + T + rng.normal(size=n)


def test_ganite_cycles_keep_rss_flat():
    _rss_kib()
    X, T, Y = _data()

    def cycle(i):
        model = cgan.GANITE(hidden_size=4, n_hidden=1, n_iter=2, n_estimators=1, batch_size=16,
                            noise_dim=1, random_state=i).fit(Y, T, X=X)
        model.predict(X)
        model.sample(X, 2, 0, T=T, Y=Y)
        model.sample(X, 2, 1)
        again = pickle.loads(pickle.dumps(model))
        assert again.predict(X).shape == (len(Y), 2)

    growth = _growth_kib(cycle)
    assert growth <= ALLOWED_KIB, f"RSS grew by {growth} KiB over {CYCLES} GANITE cycles"


def test_causal_wgan_cycles_keep_rss_flat():
    pd = pytest.importorskip("pandas")
    _rss_kib()
    X, T, Y = _data()
    df = pd.DataFrame({"t": T, "y": np.abs(Y), "a": X[:, 0], "g": np.where(X[:, 1] > 0, "u", "v")})

    def cycle(i):
        model = cgan.CausalWGAN(hidden_size=4, n_hidden=1, n_iter=2, batch_size=16, critic_steps=1,
                                random_state=i).fit(df, treatment="t", outcome="y")
        model.sample(10)
        again = pickle.loads(pickle.dumps(model))
        assert len(again.sample(5)) == 5

    growth = _growth_kib(cycle)
    assert growth <= ALLOWED_KIB, f"RSS grew by {growth} KiB over {CYCLES} CausalWGAN cycles"
