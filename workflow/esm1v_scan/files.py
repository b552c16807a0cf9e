"""Two small file helpers used across the package: atomic writes and file hashing.

:func:`atomic_write` writes through a temp file with a unique name in the target's folder, then
renames it over the target (``os.replace``, atomic on POSIX): readers see the old file or the
whole new one, never half of it, and two writers never interleave. The temp file is removed
whatever goes wrong (a full disk, a read-only folder, an exception in the caller's code). A full
disk or an exhausted quota is raised as an OSError whose ``filename`` is the file being written
(not its temp name): :func:`esm1v_scan.pipeline.rule_scripts.rule_script` turns it into one line."""

from __future__ import annotations

import errno
import hashlib
import os
import uuid
from contextlib import contextmanager
from pathlib import Path


#: errno values of a full disk (ENOSPC) and of an exhausted disk quota (EDQUOT)
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def no_space(err: BaseException) -> bool:
    """Whether ``err`` is a full disk or an exhausted quota."""
    return isinstance(err, OSError) and err.errno in NO_SPACE


def naming(err: OSError, path, temp=None) -> OSError:
    """A full disk or quota while writing ``path`` (through its temp file ``temp``) as an OSError
    naming ``path``: writers raise it without a file name, or with the temp file's. Any other
    error, or one naming another file, is returned unchanged."""
    if not no_space(err) or err.filename not in (None, None if temp is None else str(temp)):
        return err
    return OSError(err.errno, os.strerror(err.errno), str(path))


def temp_name(path: Path) -> Path:
    """A unique hidden sibling of ``path``: ``.<name>.<pid>.<random>.tmp``."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


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
    except OSError as err:
        if (named := naming(err, path, tmp)) is not err:
            raise named from err
        raise
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_write(path, mode: str = "w", **open_args):
    """``with atomic_write(path) as fh: fh.write(...)``; ``path`` appears complete or not at all.
    Creates the parent folder."""
    with atomic_path(path) as tmp, open(tmp, mode, **open_args) as fh:
        yield fh


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
