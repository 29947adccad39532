"""Parallel work on a Dask cluster through joblib: evaluate's data sets, the
bootstrap's replicates and GANITE's ensemble members sent to the workers of
a real dask.distributed.LocalCluster (two worker processes) give the bits
of a serial run on one machine."""
import numpy as np
import pytest

pd = pytest.importorskip("pandas")
joblib = pytest.importorskip("joblib")
distributed = pytest.importorskip("distributed")

import cgan  # noqa: E402

TINY = dict(hidden_size=8, n_iter=20, batch_size=32, random_state=3)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=50)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def _data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    T = rng.integers(0, 2, n)
    return X, T, X[:, 0] + 2 * T + rng.normal(size=n)


def _on_cluster(fn, client, tasks, at_least=2):
    """fn() under joblib's dask backend, checking that its `tasks` tasks ran
    on the cluster's workers (joblib may batch several into one)."""
    stream = distributed.get_task_stream(client)
    try:
        with stream, joblib.parallel_config(backend="dask"):
            return fn()
    finally:
        ran = len(stream.data)  # collected when the stream's block ends
        assert min(tasks, at_least) <= ran <= tasks, f"{ran} cluster tasks for {tasks} tasks"


def test_ganite_members_on_the_cluster_match_a_serial_fit(client):
    X, T, Y = _data()
    # threads on one machine (n_jobs is a saved parameter, so both runs set it)
    serial = cgan.GANITE(n_estimators=3, n_jobs=2, **TINY).fit(Y, T, X=X)
    remote = _on_cluster(lambda: cgan.GANITE(n_estimators=3, n_jobs=2, **TINY).fit(Y, T, X=X), client, 3)
    assert np.array_equal(serial.predict(X), remote.predict(X))
    assert np.array_equal(serial.history_["ite_loss"], remote.history_["ite_loss"])
    assert serial.dumps() == remote.dumps()


def test_bootstrap_replicates_on_the_cluster_match_serial_ones(client):
    X, T, Y = _data(seed=1)
    model = cgan.GANITE(n_estimators=2, **TINY).fit(Y, T, X=X)
    serial = model.ate_inference(method="bootstrap", n_bootstrap=4, random_state=0)
    remote = _on_cluster(lambda: model.ate_inference(method="bootstrap", n_bootstrap=4, n_jobs=2, random_state=0),
                         client, 4)
    assert serial == remote


def test_evaluate_on_the_cluster_matches_a_serial_run(client):
    X, T, Y = _data(seed=2)
    df = pd.DataFrame({"t": T, "y": Y, "a": X[:, 0], "b": X[:, 1]})
    synth = cgan.CausalWGAN(hidden_size=8, n_hidden=1, n_iter=10, batch_size=32, critic_steps=1,
                            random_state=0).fit(df, treatment="t", outcome="y")

    def naive(X, T, Y):
        return Y[T == 1].mean() - Y[T == 0].mean()

    serial = cgan.evaluate(synth, {"naive": naive}, n_datasets=6, n=100, random_state=4)
    remote = _on_cluster(lambda: cgan.evaluate(synth, {"naive": naive}, n_datasets=6, n=100, n_jobs=2,
                                               random_state=4), client, 6)
    pd.testing.assert_frame_equal(serial, remote)
    assert np.array_equal(serial.attrs["true_effects"], remote.attrs["true_effects"])


def test_an_estimator_error_on_a_worker_names_the_estimator(client):
    X, T, Y = _data(seed=3)
    df = pd.DataFrame({"t": T, "y": Y, "a": X[:, 0]})
    synth = cgan.CausalWGAN(hidden_size=8, n_hidden=1, n_iter=5, batch_size=32, critic_steps=1,
                            random_state=0).fit(df, treatment="t", outcome="y")

    def broken(X, T, Y):
        return X["no such column"].mean()

    with pytest.raises(KeyError, match="estimator 'broken' on data set"):
        _on_cluster(lambda: cgan.evaluate(synth, {"broken": broken}, n_datasets=4, n=50, n_jobs=2,
                                          random_state=0), client, 4, at_least=1)


def test_the_synthesizer_travels_to_the_cluster_once_not_once_per_task(client, monkeypatch):
    from cgan import _threads

    X, T, Y = _data(seed=5)
    df = pd.DataFrame({"t": T, "y": Y, "a": X[:, 0]})
    synth = cgan.CausalWGAN(hidden_size=8, n_hidden=1, n_iter=5, batch_size=32, critic_steps=1,
                            random_state=0).fit(df, treatment="t", outcome="y")
    pickled = []

    def getstate(self):
        pickled.append(1)
        return self.__dict__

    monkeypatch.setattr(_threads._Shared, "__getstate__", getstate, raising=False)
    counts = []
    for n_datasets in (8, 40):
        pickled.clear()
        _on_cluster(lambda: cgan.evaluate(synth, {"mean": lambda X, T, Y: float(Y.mean())}, n_datasets=n_datasets,
                                          n=50, n_jobs=2, random_state=0), client, n_datasets)
        counts.append(len(pickled))
    # serialised a fixed few times to scatter it (3 on an idle machine),
    # however many tasks use it; sent with each batch of tasks it was
    # serialised 36 and 72 times
    assert 1 <= min(counts) and max(counts) <= 6, counts


def test_ray_through_its_joblib_backend_gives_the_serial_bits():
    ray = pytest.importorskip("ray")
    from ray.util.joblib import register_ray

    X, T, Y = _data(seed=6)
    serial = cgan.GANITE(n_estimators=2, n_jobs=2, **TINY).fit(Y, T, X=X)
    register_ray()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        with joblib.parallel_config(backend="ray"):
            remote = cgan.GANITE(n_estimators=2, n_jobs=2, **TINY).fit(Y, T, X=X)
    finally:
        ray.shutdown()
    assert serial.dumps() == remote.dumps()
