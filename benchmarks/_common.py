"""Shared by the benchmark scripts: where the shared data sets live, and how
to name the build that produced a figure."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import cgan

# $CGAN_SHARED_DATA, or shared/data beside the repository
SHARED_DATA = Path(os.environ.get("CGAN_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def cgan_version() -> str:
    """cgan's version, plus the repository commit when run from a checkout."""
    try:
        rev = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    return getattr(cgan, "__version__", "?") + (f" (repo {rev})" if rev else "")
