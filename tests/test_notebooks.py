"""Every notebook in notebooks/ runs top to bottom (code cells executed in
order in one namespace, without a Jupyter kernel).  A notebook that shows
cgan next to a package cgan does not depend on runs only where that package
is installed, and is skipped elsewhere."""
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
# notebook -> modules it imports that are neither cgan's dependencies nor its test extras
OPTIONAL_MODULES = {"03_econml_dowhy.ipynb": ("dowhy",)}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch):
    for module in OPTIONAL_MODULES.get(path.name, ()):
        pytest.importorskip(module, reason=f"{path.name} needs {module}, which cgan does not depend on")
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


def test_optional_modules_name_existing_notebooks():
    names = {p.name for p in NOTEBOOKS}
    assert set(OPTIONAL_MODULES) <= names
