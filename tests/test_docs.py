"""The documentation site has a page for every public name: docs/api/index.rst
lists each of them in an autosummary that generates its page (.ci/run builds
the site with warnings as errors, which fails on a name autodoc cannot find)."""
import inspect
import pathlib
import re

import cgan
from cgan import datasets

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _listed():
    text = (ROOT / "docs" / "api" / "index.rst").read_text()
    return set(re.findall(r"^\s+(cgan(?:\.\w+)+)\s*$", text, re.M))


def test_every_public_name_has_a_page():
    public = {f"cgan.{name}" for name in cgan.__all__ if name not in ("__version__", "datasets")}
    public |= {f"cgan.datasets.{name}" for name, obj in vars(datasets).items()
               if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
               and obj.__module__ == datasets.__name__}
    missing = public - _listed()
    assert not missing, f"public names without an API page: {sorted(missing)}"


def test_every_listed_name_exists():
    for dotted in _listed():
        obj = cgan
        for part in dotted.split(".")[1:]:
            obj = getattr(obj, part)


def test_the_guide_includes_every_readme_section():
    readme = (ROOT / "README.md").read_text()
    sections = re.findall(r"^## (.+)$", readme, re.M)
    pages = "\n".join(p.read_text() for p in (ROOT / "docs").rglob("*.md"))
    for title in sections:
        if title == "Further reading":  # links to the docs themselves
            continue
        assert f'"## {title}"' in pages, f"the README section {title!r} is on no page of the site"
