"""The response cache: BioLM's answers on disk, one small JSON file per (base URL, endpoint,
masked item), so a rerun, a resumed run or another FASTA holding the same protein sends nothing
for what is already known. With ``esm1v-all`` one answer holds all five models; the five per-model
jobs share it, and a lock per request batch (``flock``) makes sure concurrent jobs never pay twice
for the same batch."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from esm1v_scan.files import write_text

try:  # POSIX; elsewhere concurrent jobs may fetch the same batch twice (harmless, costs requests)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
#: lock files per response cache; two batches sharing one only wait for each other (rare)
LOCK_STRIPES = 4096


@contextlib.contextmanager
def _flock(lock: Path, blocking: bool):
    """Hold an exclusive flock on ``lock``; yields False when not ``blocking`` and it is taken."""
    with open(lock, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        except OSError:  # a file system without flock: go on unlocked
            yield True
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class ResponseCache:
    """One JSON file per (base URL, endpoint, masked item): ``{"scores": {slug: {aa: p}}}``.

    ``root=None`` keeps answers in memory only (for this scorer's lifetime); with a folder nothing
    is held in memory (a shard of 200,000 residues would not fit).
    """

    def __init__(self, root: str | os.PathLike | None):
        self.root = Path(root) if root else None
        self._memory: dict[str, dict] = {}

    @staticmethod
    def key(base_url: str, endpoint: str, item: str) -> str:
        blob = json.dumps([CACHE_FORMAT, base_url, endpoint, item])
        return hashlib.sha256(blob.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        if self.root is None:
            return self._memory.get(key)
        path = self._path(key)
        try:
            entry = json.loads(path.read_text())
            scores = entry["scores"]
            if entry.get("format") != CACHE_FORMAT or not isinstance(scores, dict):
                raise ValueError("unknown format")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("response cache: unreadable entry %s, fetching it again", path)
            return None
        return scores

    def put(self, key: str, scores: dict) -> None:
        if self.root is None:
            self._memory[key] = scores
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, json.dumps({"format": CACHE_FORMAT, "scores": scores}))

    @contextlib.contextmanager
    def claim(self, keys: Sequence[str], blocking: bool):
        """Hold the lock of a request batch (one of LOCK_STRIPES files, chosen by its keys) while
        fetching it, so another job (or thread) needing the same batch waits and then reads the
        answer from the cache instead of paying again. Yields False when ``blocking`` is False and
        someone else holds it."""
        if self.root is None or fcntl is None:
            yield True
            return
        stripe = int(hashlib.sha256("".join(keys).encode()).hexdigest()[:8], 16) % LOCK_STRIPES
        lock = self.root / "locks" / f"{stripe:04d}.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        with _flock(lock, blocking) as mine:
            yield mine
