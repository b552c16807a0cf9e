"""Content-addressed score cache: what is known is never computed (or paid for) again.

An entry is keyed by everything that determines the numbers: the backend and model identity (the
checkpoint's sha256, the name of downloaded weights, or the API endpoint), precision, strategy,
window size and the sequence's sha256. It holds the score table of the positions scored so far, so
a later request for more positions (a mutation list, then a full scan) computes only the rest.
Writes are atomic (temp file + rename): a killed job leaves either the old entry or the new one.
Jobs for different models never share a key, so parallel jobs never write the same file.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd

from .tables import read_table, write_table

FORMAT = 1


def cache_key(**parts) -> str:
    blob = json.dumps({"format": FORMAT, **parts}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class ScoreCache:
    def __init__(self, root: str | os.PathLike | None):
        self.root = Path(root) if root else None
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.tsv"

    def load(self, key: str) -> pd.DataFrame | None:
        if self.root is None:
            return None
        path = self._path(key)
        if not path.exists():
            return None
        try:
            return read_table(path)
        except (OSError, ValueError, pd.errors.ParserError):
            return None  # unreadable entry: recompute and overwrite

    def store(self, key: str, table: pd.DataFrame, parts: dict) -> None:
        if self.root is None:
            return
        path = self._path(key)
        write_table(table, path)
        meta = path.with_suffix(".json")
        tmp = meta.with_name(f".{meta.name}.tmp{os.getpid()}")
        tmp.write_text(json.dumps(parts, sort_keys=True, indent=1) + "\n")
        tmp.replace(meta)
