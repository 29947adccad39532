"""Threads: different models fitted concurrently give the bits of serial
fits; one model used from two threads at once raises RuntimeError and is
left intact."""
import threading

import numpy as np
import pytest

import cgan
from cgan import _cgan


def _data(seed, n=200):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    T = rng.integers(0, 2, n)
    return X, T, X[:, 0] + 2 * T + rng.normal(size=n)


def _in_threads(tasks):
    """Run the callables at once, one thread each; return their results."""
    results, errors = [None] * len(tasks), []
    start = threading.Barrier(len(tasks))

    def run(i):
        start.wait()
        try:
            results[i] = tasks[i]()
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(tasks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def test_two_ganites_in_threads_match_serial_fits():
    sets = [_data(0), _data(1)]
    X_new = np.random.default_rng(9).normal(size=(30, 4))

    def fit(k):
        X, T, Y = sets[k]
        model = cgan.GANITE(hidden_size=8, n_iter=300, n_estimators=2, batch_size=32, noise_dim=1,
                            random_state=10 + k)
        model.fit(Y, T, X=X)
        return model.predict(X_new), model.history_["generator_loss"], model.sample(X, 2, 0, T=T, Y=Y)

    serial = [fit(0), fit(1)]
    threaded = _in_threads([lambda: fit(0), lambda: fit(1)])
    for a, b in zip(serial, threaded):
        for x, y in zip(a, b):
            assert np.array_equal(x, y)
    assert not np.array_equal(serial[0][0], serial[1][0])


def test_two_causal_wgans_in_threads_match_serial_fits():
    pd = pytest.importorskip("pandas")
    frames = []
    for seed in (0, 1):
        X, T, Y = _data(seed)
        frames.append(pd.DataFrame({"t": T, "y": Y, "a": X[:, 0], "g": np.where(X[:, 1] > 0, "u", "v")}))

    def fit(k):
        model = cgan.CausalWGAN(hidden_size=8, n_hidden=2, n_iter=100, batch_size=16, critic_steps=2,
                                random_state=20 + k)
        model.fit(frames[k], treatment="t", outcome="y")
        return model.sample(100), model.history_["outcome"]["critic_loss"]

    serial = [fit(0), fit(1)]
    threaded = _in_threads([lambda: fit(0), lambda: fit(1)])
    for (frame_a, loss_a), (frame_b, loss_b) in zip(serial, threaded):
        pd.testing.assert_frame_equal(frame_a, frame_b)
        assert np.array_equal(loss_a, loss_b)


def _ganite_core(X, T, Y):
    core = _cgan.Ganite(n_features=X.shape[1], n_treatments=2, hidden_size=32, n_hidden=2, noise_dim=0,
                        binary_outcome=0, batch_size=64, d_steps=2, alpha=1.0, beta=1.0, learning_rate=1e-3,
                        weight_decay=0.0, seed=5)
    core.set_data(X.astype(np.float32), T.astype(np.int32), Y.astype(np.float32))
    return core


def _collide(train, use):
    """Call `use` from this thread while `train` runs in another; return
    how many calls raised RuntimeError (the rest must have succeeded
    before or after the training call held the model)."""
    refused = 0
    worker = threading.Thread(target=train)
    worker.start()
    while worker.is_alive():
        try:
            use()
        except RuntimeError as exc:
            assert "in use by another thread" in str(exc)
            refused += 1
    worker.join()
    return refused


def test_one_ganite_core_from_two_threads_raises_and_is_not_corrupted():
    X, T, Y = _data(2)
    busy, quiet = _ganite_core(X, T, Y), _ganite_core(X, T, Y)
    X32 = X[:20].astype(np.float32)
    losses = {}
    refused = _collide(lambda: losses.setdefault("busy", busy.train_counterfactual(1500)),
                       lambda: (busy.predict(X32), busy.snapshot()))
    assert refused > 0
    # the refused calls left no trace: the same training without them gives the same bits
    assert np.array_equal(losses["busy"][0], quiet.train_counterfactual(1500)[0])
    assert np.array_equal(busy.predict(X32), quiet.predict(X32))
    assert busy.snapshot() == quiet.snapshot()


def test_one_wgan_core_from_two_threads_raises_and_is_not_corrupted():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    C = np.eye(2, dtype=np.float32)[rng.integers(0, 2, 200)]

    def core():
        w = _cgan.Wgan(x_dim=3, ctx_dim=2, noise_dim=3, hidden_size=32, n_hidden=2, batch_size=32, critic_steps=3,
                       gp_lambda=5.0, one_sided=1, critic_dropout=0.0, learning_rate=1e-4, beta1=0.5, beta2=0.9,
                       seed=8, column_block=np.full(3, -1), lower=np.full(3, -np.inf), upper=np.full(3, np.inf))
        w.set_data(X, C)
        return w

    busy, quiet = core(), core()
    refused = _collide(lambda: busy.train(300), lambda: busy.snapshot())
    assert refused > 0
    quiet.train(300)
    assert busy.snapshot() == quiet.snapshot()


def test_saving_while_the_model_refits_in_another_thread_gives_a_loadable_model():
    X, T, Y = _data(4, n=400)
    model = cgan.GANITE(hidden_size=32, n_iter=2000, n_estimators=1, batch_size=64, random_state=0)
    model.fit(Y, T, X=X)
    cores = model._cores
    # a refit trains new cores and swaps them in near its end, then predicts
    # with them: a save at that moment finds a core busy and raises
    # RuntimeError (counted by _collide); every other save is a whole model,
    # and as the refit uses the same seed, each predicts the same bits
    X_new = X[:10]
    before = model.predict(X_new)
    saved = []
    _collide(lambda: model.fit(Y, T, X=X), lambda: saved.append(model.dumps()))
    assert saved
    for data in saved:
        loaded = cgan.loads(data)
        assert np.array_equal(loaded.predict(X_new), before)  # the refit uses the same seed
    assert model._cores is not cores
