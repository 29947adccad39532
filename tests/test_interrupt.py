"""Ctrl-C stops a long fit or bootstrap promptly: training runs in chunks and checks for
signals between them, in one thread or several."""
import signal
import subprocess
import sys
import time

import pytest

CHILD = r"""
import signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)
import numpy as np, cgan
rng = np.random.default_rng(0)
X = rng.normal(size=(4000, 8)); t = rng.integers(0, 2, 4000); y = X[:, 0] + t
print("ready", flush=True)
try:
    cgan.GANITE(n_iter=1_000_000, n_jobs=int(sys.argv[1])).fit(y, t, X=X)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(0)
sys.exit(3)
"""


BOOTSTRAP_CHILD = r"""
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
import numpy as np, cgan
rng = np.random.default_rng(0)
X = rng.normal(size=(400, 4)); t = rng.integers(0, 2, 400); y = X[:, 0] + t
model = cgan.GANITE(random_state=0, hidden_size=8, n_iter=50, batch_size=32).fit(y, t, X=X)
model.set_params(n_iter=1_000_000)  # replicates use the model's current parameters
print("ready", flush=True)
try:
    model.ate_interval(method="bootstrap", n_bootstrap=4, n_jobs=int(sys.argv[1]))
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(0)
sys.exit(3)
"""


def _interrupted(child, n_jobs):
    """Run `child` in a subprocess, send SIGINT once it is training, and
    return its exit code and output.  Uninterrupted, each child would run
    for hours; the timeout only guards against hanging."""
    proc = subprocess.Popen([sys.executable, "-c", child, str(n_jobs)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    return proc.returncode, out


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_sigint_stops_fit(n_jobs):
    returncode, out = _interrupted(CHILD, n_jobs)
    assert returncode == 0, out
    assert "interrupted" in out


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_sigint_stops_the_bootstrap(n_jobs):
    returncode, out = _interrupted(BOOTSTRAP_CHILD, n_jobs)
    assert returncode == 0, out
    assert "interrupted" in out
