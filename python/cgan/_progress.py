"""Progress display for training loops: tqdm when it is installed, else a
plain line on stderr."""
from __future__ import annotations

import sys
import threading
import time


class Progress:
    def __init__(self, total: int, desc: str, enabled: bool):
        self.total = total
        self.desc = desc
        self.enabled = enabled and total > 0
        self.done = 0
        self._bar = None
        self._last = 0.0
        self._lock = threading.Lock()
        if not self.enabled:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            tqdm = None
        if tqdm is not None:
            self._bar = tqdm(total=total, desc=desc, leave=False)

    def __reduce__(self):
        # a task run in another process reports nothing
        return (type(self), (self.total, self.desc, False))

    def update(self, n: int, **stats: float) -> None:
        with self._lock:
            self._update(n, **stats)

    def _update(self, n: int, **stats: float) -> None:
        self.done += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            if stats:
                self._bar.set_postfix({k: f"{v:.4g}" for k, v in stats.items()}, refresh=False)
            return
        now = time.monotonic()
        if now - self._last >= 1.0 or self.done >= self.total:
            self._last = now
            extra = " ".join(f"{k}={v:.4g}" for k, v in stats.items())
            print(f"\r{self.desc}: {self.done}/{self.total} {extra}", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
        else:
            print(file=sys.stderr, flush=True)


# Seconds of C work per call, so that Ctrl-C (checked between calls) and the
# progress bar are served promptly whatever the model size.
CALL_SECONDS = 0.1


def chunks(total: int, first: int = 1, seconds: float | None = None):
    """Iteration counts summing to `total`, one per call into C, sized from
    the time the previous calls took so that each lasts about `seconds`
    (CALL_SECONDS by default).  The core continues exactly where the last
    call stopped, so the split never changes the results."""
    target = CALL_SECONDS if seconds is None else seconds
    done, size = 0, max(1, first)
    while done < total:
        size = min(size, total - done)
        start = time.perf_counter()
        yield size
        done += size
        per_iter = (time.perf_counter() - start) / size
        grow = size * 4  # at most 4x per call, so one fast call cannot overshoot
        size = max(1, min(grow, int(target / per_iter) if per_iter > 0 else grow))
