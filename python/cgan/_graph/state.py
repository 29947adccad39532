"""What a fitted CausalGraphWGAN holds, and the checks a loaded one must pass.

The persistence container (cgan._persist) asks CausalGraphWGAN for these
through BaseEstimator's protocol."""
from __future__ import annotations

import numpy as np

from .._tabular import Column, is_label, valid_indicator
from .._wgan.chain import Classifier, JointWgan, LinearWgan, context_width
from .._wgan.core import dims

# The attributes a fit sets: a saved fitted model holds exactly these.
STATE_KEYS = (
    {"graph_", "_steps", "_models", "_cols", "_derived", "history_", "_sample_seed", "_columns", "_n_fit",
     "_dtypes"},
    set(),
)
# no parameter was added after the format was first written
ADDED_PARAMS: dict = {}


def check_state(state):
    """Raise ValueError unless `state` (holding exactly STATE_KEYS' keys) is
    a consistent fitted CausalGraphWGAN."""
    columns = state.get("_columns")
    if type(columns) is not list or not columns or not all(is_label(c) for c in columns) or \
            len(set(map(repr, columns))) != len(columns):
        raise ValueError("saved _columns must be a non-empty list of distinct column labels")
    graph = state.get("graph_")
    if type(graph) is not dict or sorted(map(repr, graph)) != sorted(map(repr, columns)) or \
            set(graph) != set(columns):
        raise ValueError("saved graph_ must map every column to its parents")
    seen = set()
    for node, parents in graph.items():
        # parents before children: the saved order is topological, so acyclic
        if type(parents) is not list or not all(is_label(p) and p in seen for p in parents) or \
                len(set(parents)) != len(parents):
            raise ValueError("saved graph_ must list each column's distinct parents, in topological order")
        seen.add(node)
    cols = state.get("_cols")
    if type(cols) is not list or len(cols) != len(columns) or \
            not all(type(c) is Column and c.name == name for c, name in zip(cols, columns)):
        raise ValueError("saved _cols must hold one column encoder per column, in order")
    by_name = dict(zip(columns, cols))
    roots = [c for c in graph if not graph[c]]
    steps = state.get("_steps")
    if steps != [roots] + [[c] for c in graph if graph[c]]:
        raise ValueError("saved _steps must be the root nodes, then each other node in topological order")
    models = state.get("_models")
    if type(models) is not list or len(models) != len(steps):
        raise ValueError("saved _models must hold one model per step")
    for i, (step, model) in enumerate(zip(steps, models)):
        out = sum(by_name[c].width for c in step)
        ctx = 0 if i == 0 else sum(by_name[c].width for c in graph[step[0]])
        if len(step) == 1 and by_name[step[0]].categorical:  # a classifier, also as a lone root
            if type(model) is not Classifier or model.width != out or context_width(model) != ctx or \
                    (model.kind == "frequencies") != (ctx == 0):
                raise ValueError(f"saved model of {step[0]!r} must be a classifier of its levels given its parents")
        elif i == 0:
            if type(model) is not JointWgan or dims(model.core) != (out, 0):
                raise ValueError(f"saved model of the roots {step} must be a joint WGAN of their columns")
        elif type(model) is not LinearWgan or context_width(model) != ctx or \
                any(getattr(by_name[step[0]], side) is None for side in model.sides):
            raise ValueError(f"saved model of {step[0]!r} must be a line and WGAN of its values given its parents")
    derived = state.get("_derived")
    root_cols = [by_name[c] for c in roots]
    if type(derived) is not list or not all(valid_indicator(d, root_cols) for d in derived) or \
            len({d[0] for d in derived}) != len(derived):
        raise ValueError("saved _derived must list [indicator, source, bound, level] of distinct two-level "
                         "root columns, each derived from a bound of a continuous one")
    if type(state.get("_sample_seed")) is not int or not 0 <= state["_sample_seed"] < 2**64:
        raise ValueError("saved _sample_seed must be an int in [0, 2**64)")
    if type(state.get("_n_fit")) is not int or state["_n_fit"] < 1:
        raise ValueError("saved _n_fit must be a positive int")
    dtypes = state.get("_dtypes")
    if type(dtypes) is not dict or set(dtypes) != set(columns) or not all(
            isinstance(v, np.dtype) or (type(v).__module__ or "").startswith("pandas") for v in dtypes.values()):
        raise ValueError("saved _dtypes must map every column to its dtype")
    if type(state.get("history_")) is not dict:
        raise ValueError("saved history_ must be a dict")


def legacy_state(state):
    """There are no pickles of CausalGraphWGAN from before the container."""
    return state
