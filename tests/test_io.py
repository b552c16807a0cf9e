"""esm1v_scan.io: atomic writes leave the old file or the whole new one, never a temp file."""

import errno
import hashlib
import os

import pytest

from esm1v_scan import io


def test_atomic_write_replaces_whole_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "t.txt"
    io.write_text(target, "old\n")
    with pytest.raises(RuntimeError):
        with io.atomic_write(target) as fh:
            fh.write("half of the new")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["t.txt"]


def test_a_failed_rename_removes_the_temp_file(tmp_path, monkeypatch):
    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io.os, "replace", full)
    with pytest.raises(OSError):
        io.write_bytes(tmp_path / "x.bin", b"data")
    assert list(tmp_path.iterdir()) == []


def test_temp_names_are_unique_per_writer(tmp_path):
    names = {io.temp_name(tmp_path / "t.tsv").name for _ in range(100)}
    assert len(names) == 100 and all(n.startswith(".t.tsv.") and n.endswith(".tmp") for n in names)
    assert all(f".{os.getpid()}." in n for n in names)


def test_sha256_file(tmp_path):
    data = os.urandom(5_000_003)
    (tmp_path / "f").write_bytes(data)
    assert io.sha256_file(tmp_path / "f", chunk=1 << 20) == hashlib.sha256(data).hexdigest()
