"""The one pool behind every parallel loop in cgan: ensemble members,
bootstrap replicates, the synthesizers' networks and evaluate's data sets.

Tasks are independent and seeded by their index, never by the worker that
runs them, so results are the same whatever the number of workers.  On one
machine they run in threads (the C core releases the GIL).  A user who
configures joblib with another backend (``joblib.parallel_config(backend=
"dask")`` with a ``dask.distributed.Client``, or Ray's) sends them to that
backend's workers instead, as scikit-learn does; joblib is needed only
then."""
from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any

from ._validation import check_jobs


class Stop(threading.Event):
    """The event that tells running tasks to return early.  A task sent to
    another process gets a fresh one (joblib's backends cancel remote work
    themselves)."""

    def __reduce__(self):
        return (type(self), ())


class _Shared:
    """What every task of one run shares.  joblib's Dask backend sends an
    argument that is large (by sys.getsizeof) and can be weakly referenced
    to the workers once and reuses it for every task; a tuple is neither,
    so the payload travels in this wrapper, which reports its size."""

    def __init__(self, payload):
        self.payload = payload

    def __sizeof__(self):
        # arrays count by their bytes; any other object (a fitted model) is
        # taken to be large, which is what makes the backend scatter it once
        items = self.payload if isinstance(self.payload, tuple) else (self.payload,)
        return sum(getattr(x, "nbytes", 1 << 20) for x in items)


def _call_shared(task, shared, i):
    return task(shared.payload, i)


def _joblib_backend():
    """(backend, n_jobs) of joblib's active configuration when it is set to
    a backend that does not run threads of this process; else None.  joblib
    is only looked at once the user has imported it."""
    if "joblib" not in sys.modules:
        return None
    from joblib.parallel import get_active_backend

    backend, n_jobs = get_active_backend(prefer="threads")
    if getattr(backend, "uses_threads", False):
        return None
    return backend, n_jobs


def effective_jobs(n_jobs: Any, n_tasks: int, name: str = "n_jobs") -> int:
    """Workers to use for n_tasks tasks: n_jobs checked, at most n_tasks.
    None means 1, or the n_jobs of a joblib backend the user configured."""
    if n_jobs is None:
        configured = _joblib_backend()
        if configured is not None and configured[1] is not None:
            n_jobs = configured[1]
    return max(1, min(check_jobs(n_jobs, name), n_tasks))


def map_threads(task: Callable[..., Any], n_tasks: int, n_jobs: int, stop: threading.Event | None = None,
                shared: Any = None) -> list[Any]:
    """[task(i) for i in range(n_tasks)] on n_jobs workers; with `shared`,
    task(shared, i), so that a backend on other machines ships `shared` to
    each worker once rather than once per task.

    The first exception (Ctrl-C included) ends the run: `stop` is set so that
    running tasks can return early, tasks not yet started are dropped, and
    the exception is raised once the running ones have returned."""
    def call(i):
        return task(i) if shared is None else task(shared, i)

    configured = _joblib_backend() if n_jobs > 1 else None
    try:
        if configured is not None:
            from joblib import Parallel, delayed

            if shared is None:
                return list(Parallel(n_jobs=n_jobs)(delayed(task)(i) for i in range(n_tasks)))
            box = _Shared(shared)
            return list(Parallel(n_jobs=n_jobs)(delayed(_call_shared)(task, box, i) for i in range(n_tasks)))
        if n_jobs <= 1:
            return [call(i) for i in range(n_tasks)]
        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            futures = [pool.submit(call, i) for i in range(n_tasks)]
            try:
                wait(futures, return_when=FIRST_EXCEPTION)
                failed = next((f for f in futures if f.done() and not f.cancelled() and f.exception() is not None),
                              None)
                if failed is not None:
                    raise failed.exception()
            except BaseException:
                # before the pool's exit, which waits for the running tasks
                if stop is not None:
                    stop.set()
                for f in futures:
                    f.cancel()
                raise
            return [f.result() for f in futures]
    except BaseException:
        if stop is not None:
            stop.set()
        raise
