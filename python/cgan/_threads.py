"""The one thread pool behind every parallel loop in cgan: ensemble members,
bootstrap replicates, the synthesizers' networks and evaluate's data sets.

Tasks are independent and seeded by their index, never by the thread that
runs them, so results are the same whatever the number of threads.  The C
core releases the GIL, so the threads really run in parallel."""
from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any

from ._validation import check_jobs


def effective_jobs(n_jobs: Any, n_tasks: int, name: str = "n_jobs") -> int:
    """Threads to use for n_tasks tasks: n_jobs checked, at most n_tasks."""
    return max(1, min(check_jobs(n_jobs, name), n_tasks))


def map_threads(task: Callable[[int], Any], n_tasks: int, n_jobs: int,
                stop: threading.Event | None = None) -> list[Any]:
    """[task(i) for i in range(n_tasks)] on n_jobs threads.

    The first exception (Ctrl-C included) ends the run: `stop` is set so that
    running tasks can return early, tasks not yet started are dropped, and
    the exception is raised once the running ones have returned."""
    try:
        if n_jobs <= 1:
            return [task(i) for i in range(n_tasks)]
        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            futures = [pool.submit(task, i) for i in range(n_tasks)]
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
