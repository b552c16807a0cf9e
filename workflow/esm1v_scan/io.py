"""Two small file helpers used across the package: atomic writes and file hashing.

:func:`atomic_write` writes through a temp file with a unique name in the target's folder, then
renames it over the target (``os.replace``, atomic on POSIX): readers see the old file or the
whole new one, never half of it, and two writers never interleave. The temp file is removed
whatever goes wrong (a full disk, a read-only folder, an exception in the caller's code)."""

from __future__ import annotations

import hashlib
import os
import uuid
from contextlib import contextmanager
from pathlib import Path


def temp_name(path: Path) -> Path:
    """A unique hidden sibling of ``path``: ``.<name>.<pid>.<random>.tmp``."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


@contextmanager
def atomic_write(path, mode: str = "w", **open_args):
    """``with atomic_write(path) as fh: fh.write(...)``; ``path`` appears complete or not at all.
    Creates the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        with open(tmp, mode, **open_args) as fh:
            yield fh
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_path(path):
    """For writers that want a file name (matplotlib, torch.save): yields the temp path, which
    becomes ``path`` when the block ends without an exception."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path, text: str) -> None:
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def write_bytes(path, data: bytes) -> None:
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
