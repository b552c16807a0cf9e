"""Content-addressed score cache: what is known is never computed (or paid for) again.

An entry is keyed by everything that determines the numbers: the backend and model identity (the
checkpoint's sha256, the name of downloaded weights, or the API endpoint), precision, strategy,
window size and the sequence's sha256. It holds the score table of the positions scored so far, so
a later request for more positions (a mutation list, then a full scan) computes only the rest.
Sequence names and ids are not in the key: the same protein in two projects (or under two names)
sharing one cache folder is scored once.

Layout: ``<cache_dir>/<key[:2]>/<key>.tsv`` (the table of :mod:`esm1v_scan.scoring.score_tables`) and
``<key>.json`` (the key's parts, for people). The table's last line is ``#sha256:<digest of the
lines before it>``, so an entry and its integrity check are written in one file. Writes are atomic (:func:`esm1v_scan.files.atomic_write`): a killed job leaves the old entry or the new one, and
two jobs writing the same entry at once (two projects scoring the same protein) never interleave; a
writer merges in the positions another one stored meanwhile. An entry whose table does not match
its digest (edited, truncated, rounded) or does not read back as a valid table for its sequence
(foreign) is ignored and recomputed, with a warning on the console.

A cache folder the job cannot write to (read-only, a full disk) is still read: the failed write is
a warning on the console, and the job's outputs are written all the same.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from esm1v_scan.inputs.fasta import AMINO_ACIDS
from esm1v_scan.files import sha256_bytes, write_bytes, write_text
from esm1v_scan.errors import console_warning
from esm1v_scan.scoring.score_tables import COLUMNS, FLOAT_FORMAT, read_table

FORMAT = 1
DIGEST_TAG = "#sha256:"
STALE_TEMP_SECONDS = 3600.0

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


def split_digest(blob: bytes) -> tuple[bytes, str | None]:
    """(the table's bytes, None) when ``blob`` ends with the digest of what precedes it, else
    (b"", why not)."""
    body, sep, last = blob.rstrip(b"\n").rpartition(b"\n")
    if not sep or not last.startswith(DIGEST_TAG.encode()):
        return b"", "no digest line at its end: truncated, or written by an older version"
    if last[len(DIGEST_TAG):].decode("ascii", "replace") != sha256_bytes(body + b"\n"):
        return b"", "its content does not match the digest written with it: edited or truncated"
    return body + b"\n", None


def encode_entry(table: pd.DataFrame) -> bytes:
    """The bytes of a cache entry: the table, then its digest line."""
    data = table.to_csv(sep="\t", index=False, float_format=FLOAT_FORMAT, lineterminator="\n")
    data = data.encode()
    return data + f"{DIGEST_TAG}{sha256_bytes(data)}\n".encode()


def read_entry(path) -> pd.DataFrame:
    """The table of a cache entry; ValueError if it does not match its digest."""
    data, why = split_digest(Path(path).read_bytes())
    if why:
        raise ValueError(f"{path}: {why}")
    return read_table(io.BytesIO(data))


class ScoreCache:
    def __init__(self, root: str | os.PathLike | None):
        self.root = Path(root) if root else None
        self.hits = 0  # proteins answered from the cache alone
        self.misses = 0  # proteins with positions to compute
        self.rejected = 0  # entries that did not read back valid, recomputed
        self.write_failures = 0  # entries that could not be written (read-only folder, full disk)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.tsv"

    def load(self, key: str, sequence: str) -> pd.DataFrame | None:
        """The cached table of ``sequence`` under ``key``, or None (absent, off, or invalid)."""
        if self.root is None:
            return None
        path = self._path(key)
        if not path.exists():
            return None
        try:  # one read of one file: the digest and the table it covers are of one write
            table = read_entry(path)
            why = check_table(table, sequence)
        except (UnicodeDecodeError, pd.errors.ParserError, OSError) as err:
            why = f"unreadable ({type(err).__name__})"
        except ValueError as err:  # the digest does not match
            why = str(err).removeprefix(f"{path}: ")
        if why is None:
            return table
        self.rejected += 1
        console_warning(log, f"score cache entry {path} is invalid ({why}): recomputing it")
        return None

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
        try:
            write_bytes(path, encode_entry(table))
            write_text(path.with_suffix(".json"), json.dumps(parts, sort_keys=True, indent=1) + "\n")
        except OSError as err:
            self.write_failures += 1
            console_warning(log, f"could not write score cache entry {path} ({err}); the scores "
                                 "are in this job's outputs but not cached")
        else:
            sweep_temp_files(path)
        return table


def sweep_temp_files(path: Path, older_than: float = STALE_TEMP_SECONDS) -> None:
    """Remove the temp files of ``path``'s entry that killed writers left behind (a live writer's
    temp file is seconds old)."""
    now = time.time()
    for tmp in path.parent.glob(f".{path.stem}.*.tmp"):
        try:
            if now - tmp.stat().st_mtime > older_than:
                tmp.unlink()
        except OSError:  # gone meanwhile, or not ours to remove
            pass
