"""Divergence through the public API: a NaN or inf in a loss raises
FloatingPointError naming the network and the iteration, and a model never
silently returns NaN.

The triggers are legal settings: learning_rate=10 (the largest allowed) with
no weight decay on 16 hidden layers of 16 units.  Adam moves every weight by
about the learning rate per step, so activations grow geometrically with the
depth and overflow float32 within a few iterations.  Which network overflows
first depends on the seed (and on rounding), so these tests accept any of the
networks of the model; csrc/tests/test_core.c checks the message of each
network on a deliberately diverged state."""
import re
import warnings

import numpy as np
import pytest

import cgan

pd = pytest.importorskip("pandas")

WILD = dict(hidden_size=16, n_hidden=16, learning_rate=10.0, batch_size=16)
SEEDS = range(4)
ITERATION = r"at iteration [1-9]\d*\b"


def _data(n=64):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    T = rng.integers(0, 2, n)
    return X, T, X[:, 0] + T + rng.normal(size=n)


def _fit_ganite(seed, **params):
    X, T, Y = _data()
    model = cgan.GANITE(**{**WILD, "weight_decay": 0.0, "n_estimators": 1, "n_iter": 300, "random_state": seed,
                           **params})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*overlap poorly")
        with pytest.raises(FloatingPointError) as info:
            model.fit(Y, T, X=X)
    return model, str(info.value)


@pytest.mark.parametrize("seed", SEEDS)
def test_ganite_divergence_names_the_network_and_iteration(seed):
    model, msg = _fit_ganite(seed)
    assert re.search(r"GANITE (generator G|discriminator D|inference network I) .*non-finite " + ITERATION, msg), msg
    # the failed fit left no fitted state behind: nothing can predict NaN
    with pytest.raises(RuntimeError, match="not fitted"):
        model.predict()


@pytest.mark.parametrize("seed", SEEDS)
def test_ganite_inference_network_divergence(seed):
    # without the counterfactual block (n_iter=0) only I trains
    _, msg = _fit_ganite(seed, n_iter=0, n_iter_ite=300)
    assert re.search(r"GANITE inference network I loss became non-finite " + ITERATION, msg), msg


def test_ganite_refit_that_diverges_keeps_the_previous_fit():
    X, T, Y = _data()
    model = cgan.GANITE(hidden_size=8, n_hidden=1, n_estimators=1, n_iter=20, batch_size=16, random_state=0)
    before = model.fit(Y, T, X=X).predict(X)
    model.set_params(**WILD, weight_decay=0.0, n_iter=300)
    with pytest.raises(FloatingPointError, match=ITERATION):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*overlap poorly")
            model.fit(Y, T, X=X)
    np.testing.assert_array_equal(model.predict(X), before)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_bootstrap_replicate_divergence_propagates(n_jobs):
    X, T, Y = _data()
    model = cgan.GANITE(hidden_size=8, n_hidden=1, n_estimators=1, n_iter=20, batch_size=16, random_state=0)
    model.fit(Y, T, X=X)
    # replicates are fitted with the model's current parameters
    model.set_params(**WILD, weight_decay=0.0, n_iter=300)
    with pytest.raises(FloatingPointError) as info:
        model.ate_inference(method="bootstrap", n_bootstrap=2, n_jobs=n_jobs)
    assert re.search(r"GANITE (generator G|discriminator D|inference network I) .*" + ITERATION, str(info.value))


@pytest.mark.parametrize("seed", SEEDS)
def test_wgan_divergence_names_the_model_network_and_iteration(seed):
    X, T, Y = _data()
    df = pd.DataFrame({"t": T, "y": Y, "a": X[:, 0], "b": X[:, 1]})
    model = cgan.CausalWGAN(**WILD, n_iter=300, critic_steps=1, betas=(0.0, 0.0), random_state=seed)
    with pytest.raises(FloatingPointError) as info:
        model.fit(df, treatment="t", outcome="y")
    msg = str(info.value)
    assert re.search(r"^CausalWGAN's (covariates|outcome) model: WGAN (critic|generator) .*non-finite " + ITERATION,
                     msg), msg
    with pytest.raises(RuntimeError, match="not fitted"):
        model.sample(5)
