"""Every public name carries a numpydoc docstring that matches its signature.

Checked without the numpydoc package: a one-line summary; a Parameters
section naming exactly the signature's parameters (self excluded; *args and
**kwargs by their starred or bare names), each with a type after ' : ' and a
description; a Returns section when the code returns a value; an Attributes
section on classes.  Sections are read the numpydoc way: a title line
underlined with dashes."""
import ast
import dataclasses
import inspect
import textwrap
import types

import pytest

import cgan
from cgan import datasets

def _public_members(cls):
    """(qualified name, object) of the public methods and properties of cls,
    inherited ones included (BaseEstimator's save, dumps, get_params...)."""
    out = []
    for name in sorted(dir(cls)):
        if name.startswith("_"):
            continue
        attr = inspect.getattr_static(cls, name)
        if isinstance(attr, property):
            out.append((f"{cls.__name__}.{name}", attr))
        elif isinstance(attr, (staticmethod, classmethod)):
            out.append((f"{cls.__name__}.{name}", attr.__func__))
        elif inspect.isfunction(attr):
            out.append((f"{cls.__name__}.{name}", attr))
    return out


def _targets():
    """Every public callable, class and module the docs promise."""
    found = {}
    for name in cgan.__all__:
        obj = getattr(cgan, name)
        if isinstance(obj, str):  # __version__
            continue
        found[name] = obj
    for name in ("load_ihdp", "load_lalonde", "IHDP"):
        found[f"datasets.{name}"] = getattr(datasets, name)
    for cls in (cgan.GANITE, cgan.SCIGAN, cgan.CausalWGAN, cgan.CausalGraphWGAN, cgan.ATEResult, datasets.IHDP):
        found.update(_public_members(cls))
    return found


TARGETS = _targets()


# ------------------------------------------------------------------ parsing
def _docstring(obj):
    doc = obj.__doc__ if not isinstance(obj, property) else obj.fget.__doc__
    return inspect.cleandoc(doc) if doc else ""


def _sections(doc):
    """{title: [lines]} of a cleaned numpydoc docstring; '' is the text
    before the first section."""
    lines = doc.splitlines()
    sections, title, start = {}, "", 0
    i = 0
    while i < len(lines):
        if (i + 1 < len(lines) and lines[i].strip() and set(lines[i + 1].strip()) == {"-"}
                and len(lines[i + 1].strip()) == len(lines[i].strip())):
            sections[title] = lines[start:i]
            title, start = lines[i].strip(), i + 2
            i += 2
            continue
        i += 1
    sections[title] = lines[start:]
    return sections


def _entries(section_lines):
    """[(names, type, description lines)] of a Parameters-like section:
    entries start at the section's own indentation."""
    body = [ln for ln in section_lines]
    indents = [len(ln) - len(ln.lstrip()) for ln in body if ln.strip()]
    if not indents:
        return []
    base = min(indents)
    entries = []
    for ln in body:
        if not ln.strip():
            continue
        if len(ln) - len(ln.lstrip()) == base:
            head, sep, kind = ln.strip().partition(" : ")
            names = [n.strip() for n in head.split(",")]
            entries.append((names, kind.strip() if sep else "", []))
        elif entries:
            entries[-1][2].append(ln.strip())
    return entries


def _signature_names(func, skip_first):
    params = list(inspect.signature(func).parameters.values())
    if skip_first:
        params = params[1:]
    names = []
    for p in params:
        prefix = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        names.append(prefix + p.name)
    return names


def _returns_a_value(func):
    """Whether func's own code returns something other than None."""
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        return False
    tree = ast.parse(source)
    fn = tree.body[0]
    for node in ast.walk(fn):
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(node, ast.Return) and node.value is not None:
            if not (isinstance(node.value, ast.Constant) and node.value.value is None):
                return True
    return False


def _check_parameters(label, doc, names):
    sections = _sections(doc)
    if not names:
        assert not _entries(sections.get("Parameters", [])), f"{label}: Parameters lists names it does not take"
        return
    assert "Parameters" in sections, f"{label}: no Parameters section (takes {names})"
    entries = _entries(sections["Parameters"])
    documented = []
    for entry_names, kind, description in entries:
        assert kind, f"{label}: parameter {entry_names} has no ' : type'"
        assert description, f"{label}: parameter {entry_names} has no description"
        documented.extend(entry_names)
    bare = {n.lstrip("*"): n for n in names}
    listed = [d.lstrip("*") for d in documented]
    missing = [bare[n] for n in bare if n not in listed]
    extra = [d for d in documented if d.lstrip("*") not in bare]
    assert not missing, f"{label}: undocumented parameters {missing}"
    assert not extra, f"{label}: documents parameters it does not take: {extra}"
    assert len(listed) == len(set(listed)), f"{label}: a parameter is documented twice"


def _check_summary(label, doc):
    assert doc, f"{label} has no docstring"
    lines = doc.splitlines()
    assert lines[0].strip(), f"{label}: the docstring does not open with a summary line"
    assert len(lines) == 1 or not lines[1].strip(), f"{label}: the summary runs over more than one line"
    assert lines[0].rstrip().endswith("."), f"{label}: the summary line does not end with a period"


# -------------------------------------------------------------------- tests
@pytest.mark.parametrize("label", sorted(TARGETS))
def test_docstring_follows_numpydoc(label):
    obj = TARGETS[label]
    doc = _docstring(obj)
    _check_summary(label, doc)
    if isinstance(obj, types.ModuleType):
        return
    if isinstance(obj, property):
        return  # documented like an attribute: a summary is enough
    sections = _sections(doc)
    if inspect.isclass(obj):
        init_names = _signature_names(obj.__init__, skip_first=True)
        if dataclasses.is_dataclass(obj):
            # a record's fields are its parameters: listed once, as Attributes
            _check_parameters(label, "\n".join(["Parameters", "----------"] + sections.get("Attributes", [])),
                              init_names)
        else:
            _check_parameters(label, doc, init_names)
            assert "Attributes" in sections, f"{label}: no Attributes section for the fitted attributes"
        return
    is_method = "." in label and not label.startswith("datasets.")
    _check_parameters(label, doc, _signature_names(obj, skip_first=is_method))
    if _returns_a_value(obj):
        assert "Returns" in sections and any(ln.strip() for ln in sections["Returns"]), \
            f"{label}: returns a value but has no Returns section"


def test_every_public_method_is_covered():
    # the list above is built from the classes themselves; make sure it saw them
    for name in ("GANITE.fit", "GANITE.effect", "GANITE.effect_interval", "GANITE.const_marginal_effect",
                 "GANITE.ate_inference", "GANITE.save", "GANITE.get_params", "CausalWGAN.compare",
                 "CausalWGAN.sample", "IHDP.true_ate", "fit", "ate", "evaluate", "datasets.load_ihdp"):
        assert name in TARGETS


# ------------------------------------------------- the checker can fail
def _documented(a, b):
    """Summary line.

    Parameters
    ----------
    a : int
        First.

    Returns
    -------
    int
        a.
    """
    return a


def _two_line_summary():
    """A summary that
    runs on.
    """


def test_checker_catches_an_undocumented_parameter():
    with pytest.raises(AssertionError, match=r"undocumented parameters \['b'\]"):
        _check_parameters("f", _docstring(_documented), _signature_names(_documented, False))


def test_checker_catches_a_parameter_that_does_not_exist():
    doc = _docstring(_documented).replace("    First.", "    First.\nc : float\n    Gone.")
    _check_parameters("f", _docstring(_documented), ["a"])
    with pytest.raises(AssertionError, match=r"does not take: \['c'\]"):
        _check_parameters("f", doc, ["a"])


def test_checker_catches_a_missing_type_and_a_long_summary():
    with pytest.raises(AssertionError, match="no ' : type'"):
        _check_parameters("f", _docstring(_documented).replace("a : int", "a"), ["a"])
    with pytest.raises(AssertionError, match="more than one line"):
        _check_summary("f", _docstring(_two_line_summary))


def test_checker_sees_return_values():
    assert _returns_a_value(_documented)
    assert not _returns_a_value(_two_line_summary)


# ------------------------------------------------------ the examples run
def _all_modules():
    import pkgutil

    return sorted(m.name for m in pkgutil.walk_packages(cgan.__path__, "cgan.") if m.name != "cgan._cgan")


EXAMPLE_MODULES = _all_modules()
NEEDS_PANDAS = {"cgan._evaluate", "cgan._privacy", "cgan._wgan.estimator", "cgan._graph.estimator", "cgan.datasets"}
# modules whose public names carry examples
WITH_EXAMPLES = ("cgan._api", "cgan._ganite.estimator", "cgan._ganite.inference", "cgan._wgan.estimator",
                 "cgan._graph.estimator",
                 "cgan.datasets", "cgan._evaluate", "cgan._persist", "cgan._inference", "cgan._privacy")


@pytest.mark.parametrize("module", EXAMPLE_MODULES)
def test_examples_in_docstrings_run(module):
    import doctest
    import importlib

    if module in NEEDS_PANDAS:
        pytest.importorskip("pandas")
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {module} failed"
    if module in WITH_EXAMPLES:
        assert result.attempted > 0, f"{module} lost its examples"


def test_every_module_is_checked_for_examples():
    assert set(WITH_EXAMPLES) <= set(EXAMPLE_MODULES)
    assert "cgan._ganite.estimator" in EXAMPLE_MODULES
