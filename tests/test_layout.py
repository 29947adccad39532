"""The package's layout: every module imports on its own (no import circle
hides behind the package's import order), persistence names no estimator
and no private attribute, and the shared pieces are shared."""
import ast
import pathlib
import pkgutil
import subprocess
import sys

import pytest

import cgan

ROOT = pathlib.Path(cgan.__file__).resolve().parent
MODULES = sorted(m.name for m in pkgutil.walk_packages(cgan.__path__, "cgan.") if m.name != "cgan._cgan")


def _imports(path):
    """The cgan modules a file imports at its top level, as absolute names."""
    tree = ast.parse(path.read_text())
    package = "cgan" + "".join("." + p for p in path.relative_to(ROOT).parent.parts)
    out = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("cgan"):
                out.add(mod)
                out.update(f"{mod}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("cgan"))
    return {m for m in out if m in MODULES or m == "cgan"}


def _module_path(name):
    rel = pathlib.Path(*name.split(".")[1:])
    return ROOT / rel / "__init__.py" if (ROOT / rel).is_dir() else ROOT / rel.with_suffix(".py")


def test_no_import_circle():
    graph = {m: _imports(_module_path(m)) - {"cgan"} for m in MODULES}
    done, active = set(), []

    def visit(m):
        if m in active:
            raise AssertionError("import circle: " + " -> ".join(active[active.index(m):] + [m]))
        if m in done:
            return
        active.append(m)
        for n in sorted(graph.get(m, ())):
            # a package's __init__ importing its own submodules is not a circle
            if not n.startswith(m + "."):
                visit(n)
        active.pop()
        done.add(m)

    for m in MODULES:
        visit(m)


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports_alone(module):
    # a fresh interpreter that imports only this module (and what it needs)
    code = f"import importlib; importlib.import_module({module!r})"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]


def test_persistence_names_no_estimator_or_private_attribute():
    # the container asks each class for its state; its code (docstrings
    # aside) names no estimator, no C core type and no fitted attribute
    tree = ast.parse((ROOT / "_persist.py").read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | \
        {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not names & {"GANITE", "CausalWGAN", "Ganite", "Wgan", "Column", "_ganite", "_wgan"}
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    strings = {n.value for n in ast.walk(tree)
               if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings}
    assert not {s for s in strings for word in ("classes_", "_cores", "_mu_oof", "_cov_gan", "GANITE", "CausalWGAN")
                if word in s}


def test_one_thread_pool():
    # every parallel loop goes through _threads.map_threads
    for path in ROOT.rglob("*.py"):
        if path.name == "_threads.py":
            continue
        assert "ThreadPoolExecutor" not in path.read_text(), path
