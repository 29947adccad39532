"""Memory preflight: what a call will allocate, checked before it does.

Every fit, sample and evaluation computes the bytes it needs (networks, Adam
state, batch buffers, outputs) and raises MemoryError, naming the parameter
that drives the figure, when they exceed the budget: the memory the system
reports available at the time of the call, or CGAN_MEMORY_LIMIT when that
environment variable is set (bytes, or a number with a unit: 512MiB, 2GiB,
2GB).  Work that can be cut into pieces (Monte Carlo averages) is cut
instead of refused."""
from __future__ import annotations

import os
import re

_UNITS = {"": 1, "b": 1, "bytes": 1, "k": 10**3, "kb": 10**3, "kib": 2**10, "m": 10**6, "mb": 10**6,
          "mib": 2**20, "g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12, "tib": 2**40}
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([A-Za-z]*)\s*")


def parse_size(text: str) -> int:
    """Bytes from '1073741824', '512MiB', '2GiB', '2 GB' and the like."""
    match = _SIZE.fullmatch(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(f"CGAN_MEMORY_LIMIT must be a number of bytes, optionally with a unit such as MiB or "
                         f"GiB (e.g. 2GiB), got {text!r}")
    return int(float(match.group(1)) * _UNITS[unit])


def _available() -> int | None:
    """Bytes the system can give now: Linux's MemAvailable, else free
    physical pages; None when neither is known."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def budget() -> tuple[int | None, str]:
    """(bytes a call may allocate, where the figure comes from)."""
    text = os.environ.get("CGAN_MEMORY_LIMIT")
    if text:
        return parse_size(text), "CGAN_MEMORY_LIMIT"
    return _available(), "the memory available"


def fmt(nbytes: float) -> str:
    """A byte count for people: '512 bytes', '3.2 MiB', '24.0 GiB'."""
    if nbytes < 1024:
        return f"{int(nbytes)} bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        nbytes /= 1024
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.1f} {unit}"
    raise AssertionError("unreachable")


def check(nbytes: float, what: str, fix: str) -> None:
    """Raise MemoryError if nbytes exceed the budget; `what` names the call
    and the parameter behind the figure, `fix` says what to change."""
    limit, source = budget()
    if limit is not None and nbytes > limit:
        raise MemoryError(f"{what} needs about {fmt(nbytes)}, more than {source} ({fmt(limit)}); {fix}")


def fits(nbytes: float) -> bool:
    limit, _ = budget()
    return limit is None or nbytes <= limit
