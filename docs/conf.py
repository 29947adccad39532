"""Sphinx configuration of cgan's documentation site.

Build: ``pip install ".[docs]"`` then ``sphinx-build -W -b html docs docs/_build/html``.
The guide pages include the README's sections (one source of truth), the API
pages are generated from the docstrings (numpydoc style, read by napoleon),
and the notebooks are rendered from their saved outputs (not run again)."""
import os
import shutil

import cgan  # the installed package (pip install ".[docs]" installs it), with its compiled core

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

project = "cgan"
author = "the cgan developers"
release = version = cgan.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "myst_nb",
]
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True, "show-inheritance": False}
autodoc_typehints = "description"
autodoc_typehints_format = "short"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
# attributes as fields of the class, not entries that duplicate its properties
napoleon_use_ivar = True
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]
nb_execution_mode = "off"
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "README.md", "notebooks/.ipynb_checkpoints"]
html_theme = "alabaster"
html_title = f"cgan {version}"
# links in the README and the benchmark notes point at files of the
# repository (csrc/, benchmarks/), which are not pages of the site
suppress_warnings = ["myst.xref_missing"]


def _copy_notebooks(app):
    """The executed notebooks, as pages (copied from notebooks/ at each build)."""
    source = os.path.join(ROOT, "notebooks")
    target = os.path.join(HERE, "notebooks")
    os.makedirs(target, exist_ok=True)
    for name in sorted(os.listdir(source)):
        if name.endswith(".ipynb"):
            shutil.copyfile(os.path.join(source, name), os.path.join(target, name))
    figures = os.path.join(source, "figures")
    if os.path.isdir(figures):
        shutil.copytree(figures, os.path.join(target, "figures"), dirs_exist_ok=True)


def setup(app):
    app.connect("builder-inited", _copy_notebooks)
