"""Content-addressed score cache: what is known is never computed (or paid for) again.

An entry is keyed by everything that determines the numbers: the backend and model identity (the
checkpoint's sha256, the name of downloaded weights, or the API endpoint), precision, strategy,
window size and the sequence's sha256. It holds the score table of the positions scored so far, so
a later request for more positions (a mutation list, then a full scan) computes only the rest.
Sequence names and ids are not in the key: the same protein in two projects (or under two names)
sharing one cache folder is scored once.

Layout: ``<cache_dir>/<key[:2]>/<key>.tsv`` (the table of :mod:`esm1v_scan.tables`) and
``<key>.json`` (the key's parts, for people). Writes are atomic (a temp file with a unique name,
then a rename): a killed job leaves the old entry or the new one, and two jobs writing the same
entry at once (two projects scoring the same protein) never interleave; a writer merges in the
positions another one stored meanwhile. An entry that does not read back as a valid table for its
sequence (truncated, edited, foreign) is ignored and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from .fasta import AMINO_ACIDS
from .tables import COLUMNS, FLOAT_FORMAT, read_table

FORMAT = 1

log = logging.getLogger(__name__)


def cache_key(**parts) -> str:
    blob = json.dumps({"format": FORMAT, **parts}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def check_table(table: pd.DataFrame, sequence: str) -> str | None:
    """None if ``table`` is a complete score table for some positions of ``sequence``, else why not."""
    if list(table.columns) != COLUMNS:
        return f"columns {list(table.columns)}"
    if len(table) == 0 or len(table) % 20:
        return f"{len(table)} rows, not 20 per position"
    pos = table["position"].to_numpy()
    if not np.issubdtype(pos.dtype, np.integer):
        return "non-integer positions"
    by_pos = pos.reshape(-1, 20)
    if not (by_pos == by_pos[:, :1]).all() or len(np.unique(by_pos[:, 0])) != len(by_pos):
        return "positions not in blocks of 20 rows"
    if by_pos.min() < 1 or by_pos.max() > len(sequence):
        return f"positions outside 1..{len(sequence)}"
    if not (table["mt"].astype(str).to_numpy().reshape(-1, 20) == np.array(list(AMINO_ACIDS))).all():
        return "substitutions not in the 20-amino-acid order"
    wt = table["wt"].astype(str).to_numpy()[::20]
    if any(sequence[p - 1] != w for p, w in zip(by_pos[:, 0], wt)):
        return "wild-type residues differ from the sequence"
    for col in ("log_prob", "prob", "score"):
        values = pd.to_numeric(table[col], errors="coerce").to_numpy()
        if not np.isfinite(values).all():
            return f"missing or non-numeric {col}"
    return None


class ScoreCache:
    def __init__(self, root: str | os.PathLike | None):
        self.root = Path(root) if root else None
        self.hits = 0  # proteins answered from the cache alone
        self.misses = 0  # proteins with positions to compute
        self.rejected = 0  # entries that did not read back valid, recomputed

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.tsv"

    def load(self, key: str, sequence: str) -> pd.DataFrame | None:
        """The cached table of ``sequence`` under ``key``, or None (absent, off, or invalid)."""
        if self.root is None:
            return None
        path = self._path(key)
        if not path.exists():
            return None
        try:
            table = read_table(path)
            why = check_table(table, sequence)
        except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
            why = f"unreadable ({type(err).__name__})"
        if why:
            self.rejected += 1
            log.warning("score cache entry %s is invalid (%s): recomputing it", path, why)
            return None
        return table

    def store(self, key: str, table: pd.DataFrame, parts: dict, sequence: str) -> pd.DataFrame:
        """Write the entry (merged with positions another job stored meanwhile); returns it."""
        if self.root is None:
            return table
        path = self._path(key)
        current = self.load(key, sequence)
        if current is not None:
            extra = current[~current["position"].isin(set(table["position"]))]
            if len(extra):
                table = pd.concat([table, extra], ignore_index=True)
                table = table.sort_values(["position"], kind="stable").reset_index(drop=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        tag = f"{os.getpid()}.{uuid.uuid4().hex[:8]}"
        tmp = path.with_name(f".{path.name}.{tag}.tmp")
        table.to_csv(tmp, sep="\t", index=False, float_format=FLOAT_FORMAT, lineterminator="\n")
        os.replace(tmp, path)
        meta = path.with_suffix(".json")
        tmp = meta.with_name(f".{meta.name}.{tag}.tmp")
        tmp.write_text(json.dumps(parts, sort_keys=True, indent=1) + "\n")
        os.replace(tmp, meta)
        return table
