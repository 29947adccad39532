"""Every public signature carries type hints, and py.typed ships with the package.

The public surface is found by walking it, not listed by hand: the callables
in ``cgan.__all__``, the public functions of ``cgan.datasets``, and every
public method and property of the public classes (inherited ones included,
so BaseEstimator's get_params, set_params, save and dumps are covered),
each class's ``__init__`` too.  A new public method without hints fails
here.  Annotations are only read with ``inspect.signature`` (they are
strings under ``from __future__ import annotations``), never evaluated, so
neither pandas nor matplotlib is needed."""
import importlib.resources
import inspect
import pathlib
import re
import types

import pytest

import cgan
from cgan import datasets

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _public_classes():
    classes = [getattr(cgan, name) for name in cgan.__all__ if inspect.isclass(getattr(cgan, name))]
    classes += [obj for name, obj in vars(datasets).items()
                if not name.startswith("_") and inspect.isclass(obj) and obj.__module__ == datasets.__name__]
    return classes


def _targets():
    """(qualified name, function, is_method) of every public callable."""
    out = []
    for name in cgan.__all__:
        obj = getattr(cgan, name)
        if inspect.isfunction(obj):
            out.append((f"cgan.{name}", obj, False))
    for name, obj in sorted(vars(datasets).items()):
        if not name.startswith("_") and inspect.isfunction(obj) and obj.__module__ == datasets.__name__:
            out.append((f"cgan.datasets.{name}", obj, False))
    for cls in _public_classes():
        out.append((f"{cls.__name__}.__init__", cls.__init__, True))
        for name in sorted(dir(cls)):
            if name.startswith("_"):
                continue
            attr = inspect.getattr_static(cls, name)
            label = f"{cls.__name__}.{name}"
            if isinstance(attr, property):
                out.append((label, attr.fget, True))
            elif isinstance(attr, staticmethod):
                out.append((label, attr.__func__, False))
            elif isinstance(attr, classmethod):
                out.append((label, attr.__func__, True))
            elif inspect.isfunction(attr):
                out.append((label, attr, True))
    return out


TARGETS = _targets()


def test_surface_is_found():
    names = {label for label, _, _ in TARGETS}
    expected = {
        "cgan.fit", "cgan.sample", "cgan.ate", "cgan.evaluate", "cgan.load", "cgan.loads",
        "cgan.datasets.load_ihdp", "cgan.datasets.load_lalonde",
        "GANITE.__init__", "GANITE.fit", "GANITE.predict", "GANITE.score", "GANITE.effect",
        "GANITE.const_marginal_effect", "GANITE.effect_interval", "GANITE.ate", "GANITE.ate_interval",
        "GANITE.ate_inference", "GANITE.overlap_report", "GANITE.plot_overlap", "GANITE.sample",
        "GANITE.get_params", "GANITE.set_params", "GANITE.save", "GANITE.dumps",
        "CausalWGAN.__init__", "CausalWGAN.fit", "CausalWGAN.sample", "CausalWGAN.ate", "CausalWGAN.att",
        "CausalWGAN.compare", "CausalWGAN.plot_compare", "CausalWGAN.get_params", "CausalWGAN.set_params",
        "CausalWGAN.save", "CausalWGAN.dumps",
        "SCIGAN.__init__", "SCIGAN.fit", "SCIGAN.dose_response", "SCIGAN.average_dose_response",
        "SCIGAN.average_dose_response_interval", "SCIGAN.effect", "SCIGAN.optimal_dose", "SCIGAN.sample",
        "SCIGAN.score", "SCIGAN.plot_dose_response", "SCIGAN.save", "SCIGAN.dumps",
        "CausalGraphWGAN.__init__", "CausalGraphWGAN.fit", "CausalGraphWGAN.sample", "CausalGraphWGAN.ate",
        "CausalGraphWGAN.mediation", "CausalGraphWGAN.compare", "CausalGraphWGAN.plot_compare",
        "ATEResult.__init__", "IHDP.__init__", "IHDP.true_ite", "IHDP.true_ate",
    }
    assert expected <= names, sorted(expected - names)


def _missing_hints(func, is_method):
    sig = inspect.signature(func)
    params = list(sig.parameters.values())
    if is_method and params and params[0].name in ("self", "cls"):
        params = params[1:]
    missing = [p.name for p in params if p.annotation is inspect.Parameter.empty]
    if sig.return_annotation is inspect.Signature.empty:
        missing.append("return")
    return missing


@pytest.mark.parametrize("label, func, is_method", TARGETS, ids=[t[0] for t in TARGETS])
def test_signature_is_annotated(label, func, is_method):
    missing = _missing_hints(func, is_method)
    assert not missing, f"{label} lacks type hints for: {', '.join(missing)}"


@pytest.mark.parametrize("cls", _public_classes(), ids=lambda c: c.__name__)
def test_init_returns_none(cls):
    assert inspect.signature(cls.__init__).return_annotation in (None, "None")


def test_missing_hints_are_detected():
    class Probe:
        def good(self, a: int, *args: object, **kw: object) -> None:
            pass

        def no_return(self, a: int):
            pass

        def bare(self, a) -> int:
            return a

    assert _missing_hints(Probe.good, True) == []
    assert _missing_hints(Probe.no_return, True) == ["return"]
    assert _missing_hints(Probe.bare, True) == ["a"]


def test_annotations_cost_nothing_at_run_time():
    # every module with public signatures postpones its annotations
    files = sorted((ROOT / "python" / "cgan").rglob("*.py"))
    assert len(files) > 10
    for path in files:
        source = path.read_text()
        if "def " in source:
            assert "from __future__ import annotations" in source, path


def test_py_typed_is_package_data():
    assert importlib.resources.files("cgan").joinpath("py.typed").is_file()
    config = (ROOT / "pyproject.toml").read_text()
    section = re.search(r"^\[tool\.setuptools\.package-data\]\s*\n(.*?)(?=^\[|\Z)", config, re.M | re.S)
    assert section is not None, "pyproject.toml declares no [tool.setuptools.package-data]"
    cgan_line = re.search(r"^cgan\s*=\s*\[(.*?)\]", section.group(1), re.M | re.S)
    assert cgan_line is not None, "package-data has no entry for cgan"
    assert '"py.typed"' in cgan_line.group(1) or "'py.typed'" in cgan_line.group(1)


def test_public_modules_have_no_unannotated_functions():
    # module-level public functions outside __all__ (cgan._persist.save/dumps) are annotated too
    from cgan import _api, _evaluate, _persist
    for module in (_api, _evaluate, _persist):
        for name, obj in vars(module).items():
            if name.startswith("_") or not isinstance(obj, types.FunctionType) or obj.__module__ != module.__name__:
                continue
            assert not _missing_hints(obj, False), f"{module.__name__}.{name}"
