"""A user's causal graph over the columns of a DataFrame: read from a dict
of parents, a list of edges or a networkx-style DiGraph (duck-typed:
networkx is never imported), checked (unknown or missing columns,
self-loops, repeated edges, cycles, each named in the error), and put in
topological order.  Ties are broken by the columns' order in the data, so
the same graph always gives the same order however it was written."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .._tabular import hashable


def _edges(graph):
    """(nodes, edges) as written: nodes in order of first mention."""
    nodes = []
    if isinstance(graph, Mapping):
        edges = []
        for child, parents in graph.items():
            if not hashable(child):
                raise TypeError(f"graph keys must be column names, got {type(child).__name__}")
            if isinstance(parents, (str, bytes, Mapping)) or not np.iterable(parents):
                raise TypeError(f"graph[{child!r}] must be a list of parent columns (use [] for none, "
                                f"[{parents!r}] for one), got {type(parents).__name__}")
            nodes.append(child)
            for parent in parents:
                if not hashable(parent):
                    raise TypeError(f"graph[{child!r}] must hold column names, got {type(parent).__name__}")
                edges.append((parent, child))
        return nodes, edges
    if hasattr(graph, "edges") and hasattr(graph, "nodes") and not isinstance(graph, (str, bytes)):
        # a networkx DiGraph, or anything with its nodes and (u, v) edges
        if callable(getattr(graph, "is_directed", None)) and not graph.is_directed():
            raise ValueError("graph must be directed; got an undirected graph")
        nodes = list(graph.nodes)
        edges = [tuple(e)[:2] for e in graph.edges]
    elif isinstance(graph, (list, tuple)):
        edges = []
        for e in graph:
            if isinstance(e, (str, bytes)) or not np.iterable(e) or len(e) != 2:
                raise TypeError(f"a graph given as a list must hold (parent, child) pairs, got {e!r}")
            edges.append(tuple(e))
    else:
        raise TypeError(f"graph must be a dict of column -> list of parents, a list of (parent, child) edges or "
                        f"a networkx DiGraph, got {type(graph).__name__}")
    for e in edges:
        for v in e:
            if not hashable(v):
                raise TypeError(f"graph edges must join column names, got {type(v).__name__}")
    return nodes, edges


def parse_graph(graph, columns):
    """{node: [parents]} in topological order, parents in the order of
    `columns` (the data's columns), after checking the graph against them."""
    nodes, edges = _edges(graph)
    for u, v in edges:
        nodes += [u, v]
    nodes = list(dict.fromkeys(nodes))
    known = set(columns)
    unknown = [v for v in nodes if v not in known]
    if unknown:
        raise ValueError(f"graph names columns that are not in df (unknown columns): {unknown}; "
                         f"df's columns are {list(columns)}")
    left_out = [c for c in columns if c not in set(nodes)]
    if left_out:
        raise ValueError(f"df's columns {left_out} are left out of the graph; add them (a column without parents "
                         f"maps to [] in a dict of parents) or drop them from df")
    loops = [u for u, v in edges if u == v]
    if loops:
        raise ValueError(f"graph has a self-loop on {loops[0]!r} (a column cannot be its own parent)")
    seen = set()
    for e in edges:
        if e in seen:
            raise ValueError(f"graph lists the edge {e[0]!r} -> {e[1]!r} more than once")
        seen.add(e)
    position = {c: i for i, c in enumerate(columns)}
    parents = {c: [] for c in columns}
    for u, v in edges:
        parents[v].append(u)
    for c in parents:
        parents[c].sort(key=position.get)
    return {c: parents[c] for c in _topological(parents, columns)}


def _topological(parents, columns):
    """The nodes in an order where every parent comes before its children
    (Kahn's algorithm, ties by `columns` order); ValueError naming a cycle."""
    children = {c: [] for c in columns}
    for c, ps in parents.items():
        for p in ps:
            children[p].append(c)
    waiting = {c: len(parents[c]) for c in columns}
    position = {c: i for i, c in enumerate(columns)}
    ready = sorted((c for c in columns if not waiting[c]), key=position.get)
    order = []
    while ready:
        c = ready.pop(0)
        order.append(c)
        for child in children[c]:
            waiting[child] -= 1
            if not waiting[child]:
                ready.append(child)
                ready.sort(key=position.get)
    if len(order) < len(columns):
        cycle = _a_cycle(parents, {c for c in columns if waiting[c]}, columns)
        raise ValueError("graph has a cycle: " + " -> ".join(repr(c) for c in cycle))
    return order


def _a_cycle(parents, left, columns):
    """One cycle among the nodes `left` (each of which has a parent in
    `left`), as [a, b, ..., a] along the edges' direction."""
    start = next(c for c in columns if c in left)
    path, at = [], start
    # walk backwards along parents inside `left` until a node repeats
    while at not in path:
        path.append(at)
        at = next(p for p in parents[at] if p in left)
    cycle = path[path.index(at):]
    cycle.reverse()
    # named from its column that comes first in the data
    first = min(range(len(cycle)), key=lambda i: columns.index(cycle[i]))
    cycle = cycle[first:] + cycle[:first]
    return cycle + [cycle[0]]


def descendants(parents, node):
    """The nodes reachable from `node` along the edges (not node itself)."""
    children = {c: [] for c in parents}
    for c, ps in parents.items():
        for p in ps:
            children[p].append(c)
    return _reached(children, node)


def ancestors(parents, node):
    """The nodes from which `node` is reachable (not node itself)."""
    return _reached(parents, node)


def _reached(neighbours, node):
    """The nodes reached from `node` through `neighbours` (a dict of lists)."""
    out, stack = set(), [node]
    while stack:
        for other in neighbours[stack.pop()]:
            if other not in out:
                out.add(other)
                stack.append(other)
    return out
