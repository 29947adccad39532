"""Runs the property-based tests of tests/properties.py in child processes.

Those tests call every public function with generated arguments; a bug in
the C core could crash the interpreter, which inside this process would end
the whole test run without a report.  Each group runs in its own
`python -m pytest` child with a timeout: a crash shows up here as a failed
test with the child's output (pytest's faulthandler prints the Python stack
of a fatal signal), and a hang as a timeout.

The child runs with pytest's warnings plugin off: tests/properties.py turns
every warning raised inside a cgan call into an error itself (hypothesis's
own failure reporting must not trip over unrelated deprecation warnings).
CGAN_PROPERTY_EXAMPLES, passed through, sets the examples per test."""
import os
import re
import signal
import subprocess
import sys

import pytest

import cgan

pytest.importorskip("hypothesis")
pytest.importorskip("pandas")

HERE = os.path.dirname(os.path.abspath(__file__))
GROUPS = {"ganite": "ganite", "api-wgan-evaluate": "not ganite"}
TIMEOUT = 600   # seconds; a default run takes well under a minute


def _run(selection):
    env = dict(os.environ)
    # the child imports the cgan this process imported (a build tree or an install)
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(cgan.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([package_root] + [p for p in [env.get("PYTHONPATH")] if p])
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:warnings",
           os.path.join(HERE, "properties.py"), "-k", selection]
    try:
        proc = subprocess.run(cmd, env=env, cwd=os.path.dirname(HERE), capture_output=True, text=True,
                              timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the property tests ({selection}) hung for {TIMEOUT} s:\n{(exc.stdout or '')[-4000:]}")
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("group", list(GROUPS))
def test_public_api_properties(group):
    code, out = _run(GROUPS[group])
    if code < 0:
        name = signal.Signals(-code).name
        pytest.fail(f"the property tests ({group}) crashed with {name}:\n{out[-8000:]}")
    assert code == 0, f"the property tests ({group}) failed (exit code {code}):\n{out[-8000:]}"
    passed = re.search(r"(\d+) passed", out)
    assert passed and int(passed.group(1)) >= 5, f"too few property tests ran:\n{out[-2000:]}"
