"""Threads: different models fitted concurrently give the bits of serial
fits; calls on one core object from several threads run one at a time (each
waits for the object's lock with the GIL released) and give the bits of the
same calls made serially."""
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
    """Call `use` from this thread, over and over, while `train` runs in
    another; return the results of the calls that ran while it did.  Calls
    on a busy object wait for it, so none raises."""
    results = []
    worker = threading.Thread(target=train)
    worker.start()
    while worker.is_alive():
        results.append(use())
    worker.join()
    return results


def _wgan_core(X, C, seed=8):
    w = _cgan.Wgan(x_dim=3, ctx_dim=2, noise_dim=3, hidden_size=32, n_hidden=2, batch_size=32, critic_steps=3,
                   gp_lambda=5.0, one_sided=1, critic_dropout=0.0, learning_rate=1e-4, beta1=0.5, beta2=0.9,
                   seed=seed, column_block=np.full(3, -1), lower=np.full(3, -np.inf), upper=np.full(3, np.inf))
    w.set_data(X, C)
    return w


def _wgan_data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    return X, np.eye(2, dtype=np.float32)[rng.integers(0, 2, 200)]


def test_calls_on_a_training_ganite_core_wait_and_see_it_before_or_after():
    X, T, Y = _data(2)
    busy, quiet = _ganite_core(X, T, Y), _ganite_core(X, T, Y)
    X32 = X[:20].astype(np.float32)
    before = busy.predict(X32).tobytes(), busy.snapshot()
    losses = {}
    seen = _collide(lambda: losses.setdefault("busy", busy.train_counterfactual(300)[0]),
                    lambda: (busy.predict(X32).tobytes(), busy.snapshot()))
    assert seen
    # the waiting calls left no trace: the same training without them gives the same bits
    assert np.array_equal(losses["busy"], quiet.train_counterfactual(300)[0])
    after = quiet.predict(X32).tobytes(), quiet.snapshot()
    assert busy.predict(X32).tobytes() == after[0] and busy.snapshot() == after[1]
    # each call ran wholly before or wholly after the training call
    assert all(r in (before, after) for r in seen)


def test_calls_on_a_training_wgan_core_wait_and_see_it_before_or_after():
    X, C = _wgan_data()
    busy, quiet = _wgan_core(X, C), _wgan_core(X, C)
    before = busy.snapshot()
    seen = _collide(lambda: busy.train(100), busy.snapshot)
    assert seen
    quiet.train(100)
    assert busy.snapshot() == quiet.snapshot()
    assert all(s in (before, quiet.snapshot()) for s in seen)


def _hammer(calls, repeats=20):
    """Each callable from its own thread, `repeats` times, all started at
    once; the results per callable."""
    return _in_threads([lambda f=f: [f() for _ in range(repeats)] for f in calls])


def test_concurrent_predicts_and_samples_on_one_ganite_core_give_the_serial_bits():
    X, T, Y = _data(5)
    core = _ganite_core(X, T, Y)
    core.train_counterfactual(200)
    core.train_ite(200)
    X32, T32, Y32 = X.astype(np.float32), T.astype(np.int32), Y.astype(np.float32)
    serial_predict = core.predict(X32).tobytes()
    serial_sample = core.sample(X32, T32, Y32, 3, 11).tobytes()
    runs = _hammer([lambda: core.predict(X32).tobytes(), lambda: core.predict(X32).tobytes(),
                    lambda: core.sample(X32, T32, Y32, 3, 11).tobytes()])
    assert all(r == serial_predict for r in runs[0] + runs[1])
    assert all(r == serial_sample for r in runs[2])


def test_concurrent_seeded_samples_on_one_wgan_core_give_the_serial_bits():
    """sample(n, context, seed=s) draws from a stream of its own, so threads
    sampling one core with different seeds cannot take each other's draws
    (as reseed followed by sample could)."""
    X, C = _wgan_data()
    core = _wgan_core(X, C)
    core.train(50)
    ctx = C[:150]
    serial = [core.sample(150, ctx, seed=s).tobytes() for s in range(3)]
    state = core.snapshot()
    runs = _hammer([lambda s=s: core.sample(150, ctx, seed=s).tobytes() for s in range(3)])
    for want, got in zip(serial, runs):
        assert all(r == want for r in got)
    assert core.snapshot() == state


def test_concurrent_mlp_forwards_give_the_serial_bits():
    net = _cgan.MLP([4, 64, 64, 2], ["relu", "tanh", "identity"], seed=1)
    Xs = [np.random.default_rng(i).normal(size=(300 + 50 * i, 4)) for i in range(3)]
    serial = [net.forward(X).tobytes() for X in Xs]
    runs = _hammer([lambda X=X: net.forward(X).tobytes() for X in Xs])
    for want, got in zip(serial, runs):
        assert all(r == want for r in got)


def test_a_call_waiting_for_the_lock_releases_the_gil():
    """While one thread trains and another waits for the same core, this
    thread keeps running Python: neither holds the GIL."""
    X, C = _wgan_data()
    core = _wgan_core(X, C)
    started = threading.Event()

    def train():
        started.set()
        core.train(300)

    def wait():
        started.wait()
        core.snapshot()

    threads = [threading.Thread(target=train), threading.Thread(target=wait)]
    for t in threads:
        t.start()
    started.wait()
    ticks = 0
    while threads[0].is_alive():
        ticks += 1
    for t in threads:
        t.join()
    assert ticks > 1000


def test_arguments_are_read_before_the_lock_is_taken():
    """Converting an argument can run Python code (__array__) that calls the
    same object: it runs before the call takes the lock, so it neither
    deadlocks nor sees a half-done call."""
    X, T, Y = _data(6)
    core = _ganite_core(X, T, Y)
    X32 = X[:5].astype(np.float32)
    inner = []

    class Rows:
        def __array__(self, dtype=None, copy=None):
            inner.append(core.predict(X32))
            return X32

    assert np.array_equal(core.predict(Rows()), core.predict(X32))
    assert np.array_equal(inner[0], core.predict(X32))


def test_saving_while_the_model_refits_in_another_thread_gives_a_loadable_model():
    X, T, Y = _data(4, n=400)
    model = cgan.GANITE(hidden_size=32, n_iter=2000, n_estimators=1, batch_size=64, random_state=0)
    model.fit(Y, T, X=X)
    cores = model._cores
    # a refit trains new cores and swaps them in near its end, then predicts
    # with them: a save at that moment waits for the busy core (it raised
    # RuntimeError before the cores had locks); every save is a whole model,
    # and as the refit uses the same seed, each predicts the same bits
    # estimator-level lock: main (whether a save may see the cores of a refit
    # half swapped in is the estimator's business, not the core's)
    X_new = X[:10]
    before = model.predict(X_new)
    saved = []
    _collide(lambda: model.fit(Y, T, X=X), lambda: saved.append(model.dumps()))
    assert saved
    for data in saved:
        loaded = cgan.loads(data)
        assert np.array_equal(loaded.predict(X_new), before)  # the refit uses the same seed
    assert model._cores is not cores
