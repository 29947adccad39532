"""Every notebook in notebooks/ runs top to bottom (code cells executed in
order in one namespace, without a Jupyter kernel)."""
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = json.loads(path.read_text())
    namespace = {"__name__": "__main__"}
    ran = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        exec(compile(source, f"{path.name}[cell {ran}]", "exec"), namespace)
        ran += 1
    assert ran > 0


def test_notebooks_exist():
    assert NOTEBOOKS, "notebooks/ holds no notebooks"
