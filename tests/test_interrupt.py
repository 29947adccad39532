"""Ctrl-C stops a long fit or bootstrap promptly: training runs in chunks and checks for
signals between them, in one thread or several."""
import signal
import subprocess
import sys
import time

import pytest

# Two fits, each interrupted: a new model must stay unfitted, and a fitted
# one must keep its previous fit ({look} gives the same before and after).
TWO_FITS = r"""
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
import numpy as np, pandas as pd, cgan
rng = np.random.default_rng(0)
jobs = int(sys.argv[1])
{data}
fresh = cgan.{cls}(n_iter=1_000_000, n_jobs=jobs)
fitted = cgan.{cls}(n_iter={short}, hidden_size=8, random_state=0).fit({args})
before = {look}
print("ready", flush=True)
try:
    fresh.fit({args})
except KeyboardInterrupt:
    assert not hasattr(fresh, "classes_") and not hasattr(fresh, "history_")
    fitted.set_params(n_iter=1_000_000, n_jobs=jobs)
    print("again", flush=True)
    try:
        fitted.fit({args})
    except KeyboardInterrupt:
        {same}(({look}), before)
        print("interrupted", flush=True)
        sys.exit(0)
sys.exit(3)
"""

CHILD = TWO_FITS.format(
    data="X = rng.normal(size=(4000, 8)); t = rng.integers(0, 2, 4000); y = X[:, 0] + t",
    cls="GANITE", short=20, args="y, t, X=X", look="fitted.predict(X[:50])",
    same="np.testing.assert_array_equal")


# A bootstrap of a fitted model, interrupted.
BAND = r"""
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
import numpy as np, cgan
rng = np.random.default_rng(0)
X = rng.normal(size=(400, 4)); {data}
model = cgan.{cls}(random_state=0, hidden_size=8, n_iter={short}, batch_size=32{extra}).fit({args})
model.set_params(n_iter=1_000_000)  # replicates use the model's current parameters
print("ready", flush=True)
try:
    model.{call}
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(0)
sys.exit(3)
"""

BOOTSTRAP_CHILD = BAND.format(
    data="t = rng.integers(0, 2, 400); y = X[:, 0] + t", cls="GANITE", short=50, extra="", args="y, t, X=X",
    call='ate_interval(method="bootstrap", n_bootstrap=4, n_jobs=int(sys.argv[1]))')


WGAN_CHILD = TWO_FITS.format(
    data='df = pd.DataFrame({"t": rng.integers(0, 2, 400), "x": rng.normal(size=400), "y": rng.normal(size=400)})',
    cls="CausalWGAN", short=5, args='df, treatment="t", outcome="y"', look="fitted.sample(20, random_state=1)",
    same="pd.testing.assert_frame_equal")

SCIGAN_CHILD = TWO_FITS.format(
    data="X = rng.normal(size=(2000, 4)); d = rng.uniform(0, 2, 2000); y = X[:, 0] + d",
    cls="SCIGAN", short=5, args="y, d, X=X", look="fitted.dose_response(X[:50], [0.5, 1.5])",
    same="np.testing.assert_array_equal")


SCIGAN_BAND_CHILD = BAND.format(
    data="d = rng.uniform(0, 2, 400); y = X[:, 0] + d", cls="SCIGAN", short=20, extra=", n_estimators=2",
    args="y, d, X=X", call="average_dose_response_interval([0.5, 1.5], n_bootstrap=4, n_jobs=int(sys.argv[1]))")


def _interrupted(child, n_jobs):
    """Run `child` in a subprocess, send SIGINT once it is training, and
    return its exit code and output.  Uninterrupted, each child would run
    for hours; the timeout only guards against hanging."""
    proc = subprocess.Popen([sys.executable, "-c", child, str(n_jobs)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        if "again" in child:  # a second fit to interrupt
            assert proc.stdout.readline().strip() == "again"
            time.sleep(1.0)
            proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    return proc.returncode, out


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("child", [CHILD, WGAN_CHILD, BOOTSTRAP_CHILD, SCIGAN_CHILD, SCIGAN_BAND_CHILD],
                         ids=["ganite-fit", "wgan-fit", "bootstrap", "scigan-fit", "scigan-band"])
def test_sigint_stops_training(child, n_jobs):
    returncode, out = _interrupted(child, n_jobs)
    assert returncode == 0, out
    assert "interrupted" in out


def test_chunks_sum_to_the_total_and_adapt():
    from cgan._progress import chunks

    for total in (0, 1, 3, 1000):
        sizes = list(chunks(total, seconds=1e-9))
        assert sum(sizes) == total and all(s >= 1 for s in sizes)
    # a budget far above the cost grows the calls, 4x at a time
    assert list(chunks(1000, first=4, seconds=1e9)) == [4, 16, 64, 256, 660]


@pytest.mark.parametrize("seconds", [0.0, 1e9])
def test_the_split_into_calls_never_changes_a_fit(monkeypatch, seconds):
    """Training is cut into calls by elapsed time; the core continues exactly,
    so one-iteration calls and calls of hundreds give the same bits."""
    import numpy as np
    import pandas as pd

    import cgan
    from cgan import _progress

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    t = rng.integers(0, 2, 300)
    y = X[:, 0] + t + rng.normal(size=300)
    df = pd.DataFrame({"t": t, "x": X[:, 0], "y": y})

    def run():
        g = cgan.GANITE(hidden_size=8, n_iter=60, batch_size=32, noise_dim=1, n_estimators=2, random_state=0)
        g.fit(y, t, X=X)
        w = cgan.CausalWGAN(hidden_size=8, n_hidden=1, n_iter=12, critic_steps=2, random_state=0)
        w.fit(df, treatment="t", outcome="y")
        s = cgan.SCIGAN(hidden_size=8, n_iter=30, batch_size=32, noise_dim=1, n_estimators=2, random_state=0)
        s.fit(y, np.abs(X[:, 1]), X=X)
        return (g.predict(X), g.history_["ite_loss"], w.sample(50, random_state=1), s.dose_response(X, [0.2, 1.0]),
                s.history_["generator_loss"])

    reference = run()
    monkeypatch.setattr(_progress, "CALL_SECONDS", seconds)
    other = run()
    assert np.array_equal(reference[0], other[0])
    assert np.array_equal(reference[1], other[1])
    pd.testing.assert_frame_equal(reference[2], other[2])
    assert np.array_equal(reference[3], other[3])
    assert np.array_equal(reference[4], other[4])
