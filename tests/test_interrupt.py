"""Ctrl-C stops a long fit promptly: training runs in chunks and checks for
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


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_sigint_stops_fit(n_jobs):
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(n_jobs)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        # a fit of a million iterations that is not interrupted would run
        # for hours; the timeout only guards against hanging
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert "interrupted" in out
