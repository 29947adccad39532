"""The package's results against tests/data/golden.npz, bit for bit.

tests/golden.py made that file with fixed seeds (see its docstring); any
change to what GANITE, CausalWGAN or CausalGraphWGAN compute, or to the bytes they save,
shows up here.  A deliberate change of results rewrites the file with
``python tests/golden.py`` and says why in its commit."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

pytest.importorskip("pandas")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import golden  # noqa: E402


@pytest.fixture(scope="module")
def recorded():
    with np.load(golden.PATH) as f:
        data = {k: f[k] for k in f.files}
    flags = str(data.pop("meta/cpu_flags"))
    if flags != golden.cpu_flags():
        pytest.skip(f"the golden file was made on a CPU with {flags!r}; this one has {golden.cpu_flags()!r}, "
                    f"so its kernels round differently")
    return data


@pytest.fixture(scope="module")
def computed():
    return golden.compute()


def test_same_entries(recorded, computed):
    assert sorted(recorded) == sorted(computed)


@pytest.mark.parametrize("group", ["ganite/ihdp", "ganite/log3", "ganite/binary3", "wgan/lalonde", "wgan/masses",
                                   "graph/mediator"])
def test_bits_match(recorded, computed, group):
    keys = [k for k in recorded if k.startswith(group + "/")]
    assert keys
    differ = []
    for key in keys:
        a, b = recorded[key], computed[key]
        if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
            differ.append(key)
    assert not differ, f"results differ from the golden file: {differ}"
