"""Progress lines of a scoring job (positions done, rate, ETA): no torch here, so the runner and
the BioLM backend import it without loading torch."""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


class Progress:
    """Logs 'positions done of total, rate, ETA' at most every ``every`` seconds (and at the end).

    Positions taken from the score cache count as done (``cached``) but not into the rate, so the
    ETA is the time the positions still to compute will take.
    """

    def __init__(self, total: int, label: str, every: float = 30.0):
        self.total, self.label, self.every = total, label, every
        self.done = 0
        self.cached = 0
        self.start = self.last = time.monotonic()

    def update(self, n: int, cached: bool = False) -> None:
        self.done += n
        if cached:
            self.cached += n
        now = time.monotonic()
        if now - self.last >= self.every or self.done >= self.total:
            self.last = now
            computed = self.done - self.cached
            rate = computed / max(now - self.start, 1e-9)
            left = self.total - self.done
            eta = "0 s" if left <= 0 else (f"{left / rate:.0f} s" if rate > 0 else "unknown")
            log.info(
                "%s: %d/%d positions (%d from cache), %.2f positions/s, ETA %s",
                self.label, self.done, self.total, self.cached, rate, eta,
            )
