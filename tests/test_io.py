"""esm1v_scan.files: atomic writes leave the old file or the whole new one, never a temp file."""

import errno
import hashlib
import os

import pytest

from esm1v_scan import files


def test_atomic_write_replaces_whole_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "t.txt"
    files.write_text(target, "old\n")
    with pytest.raises(RuntimeError):
        with files.atomic_write(target) as fh:
            fh.write("half of the new")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["t.txt"]


def test_a_failed_rename_removes_the_temp_file(tmp_path, monkeypatch):
    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "replace", full)
    with pytest.raises(OSError):
        files.write_bytes(tmp_path / "x.bin", b"data")
    assert list(tmp_path.iterdir()) == []


def test_temp_names_are_unique_per_writer(tmp_path):
    names = {files.temp_name(tmp_path / "t.tsv").name for _ in range(100)}
    assert len(names) == 100 and all(n.startswith(".t.tsv.") and n.endswith(".tmp") for n in names)
    assert all(f".{os.getpid()}." in n for n in names)


def test_sha256_file(tmp_path):
    data = os.urandom(5_000_003)
    (tmp_path / "f").write_bytes(data)
    assert files.sha256_file(tmp_path / "f", chunk=1 << 20) == hashlib.sha256(data).hexdigest()


# -- a full disk: one line naming the file, nothing partial left --------------------------------

#: A rule script whose output table meets a full disk after 1,000 bytes (``files.open`` patched: the
#: real file takes the bytes up to there, then the write fails with ENOSPC, as on a full disk).
FULL_DISK_SCRIPT = r"""
import errno, sys, types
import pandas as pd
from esm1v_scan import files
from esm1v_scan.pipeline.rule_scripts import rule_script
from esm1v_scan.scoring.score_tables import write_table

real_open = open


class Full:
    def __init__(self, fh):
        self.fh, self.room = fh, 1000

    def write(self, data):
        if len(data) > self.room:
            self.fh.write(data[: self.room])
            self.fh.flush()
            self.room = 0
            raise OSError(int(sys.argv[3]), "full")
        self.room -= len(data)
        return self.fh.write(data)

    def __getattr__(self, name):
        return getattr(self.fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fh.close()


files.open = lambda *a, **k: Full(real_open(*a, **k))
out, log = sys.argv[1], sys.argv[2]
snakemake = types.SimpleNamespace(rule="protein_files", log=[log], output=[out])
with rule_script(snakemake) as logger:
    logger.info("writing %s", out)
    write_table(pd.DataFrame({"position": range(1, 5001), "score": 0.5}), out)
"""


@pytest.mark.parametrize("code, what", [(errno.ENOSPC, "no space left on device"),
                                        (errno.EDQUOT, "disk quota exceeded")])
def test_a_full_disk_in_a_rule_script_is_one_line_naming_the_file(tmp_path, code, what):
    import subprocess
    import sys

    from conftest import REPO

    out, log = tmp_path / "results" / "positions.tsv", tmp_path / "job.log"
    proc = subprocess.run([sys.executable, "-c", FULL_DISK_SCRIPT, str(out), str(log), str(code)],
                          capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO / "workflow")})
    line = f"esm1v-scan: {out}: {what}; free some space and run again"
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [line]  # no traceback
    assert log.read_text().splitlines()[-1] == line
    assert list(out.parent.iterdir()) == []  # neither the table nor its temp file


def test_a_full_disk_names_the_target_not_the_temp_file(tmp_path):
    target = tmp_path / "all.parquet"
    with pytest.raises(OSError) as err:
        with files.atomic_path(target) as tmp:
            tmp.write_bytes(b"PAR1 half a table")
            raise OSError(errno.ENOSPC, "Error writing bytes to file")  # pyarrow: no file name
    assert (err.value.errno, err.value.filename) == (errno.ENOSPC, str(target))
    assert str(err.value) == f"[Errno {errno.ENOSPC}] No space left on device: '{target}'"
    with pytest.raises(OSError) as err:
        with files.atomic_write(target, "wb") as fh:
            raise OSError(errno.EDQUOT, "Disk quota exceeded", fh.name)  # the temp file
    assert err.value.filename == str(target)
    assert list(tmp_path.iterdir()) == []
    # other errors, and a full disk met while writing another file, pass unchanged
    other = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "log"))
    for raised in (PermissionError(errno.EACCES, "denied"), other):
        with pytest.raises(OSError) as err:
            with files.atomic_write(target) as fh:
                raise raised
        assert err.value is raised


def test_read_parquet_keeps_the_named_proteins_rows(tmp_path):
    import pandas as pd

    from esm1v_scan.scoring.score_tables import read_parquet

    table = pd.DataFrame({"name": ["a", "a", "b", "c", "c"], "position": [1, 2, 1, 1, 2]})
    table.to_parquet(tmp_path / "shard.parquet")
    got = read_parquet(tmp_path / "shard.parquet", names={"c", "a"})
    assert list(zip(got["name"], got["position"])) == [("a", 1), ("a", 2), ("c", 1), ("c", 2)]
    assert read_parquet(tmp_path / "shard.parquet", "b")["position"].tolist() == [1]
    assert len(read_parquet(tmp_path / "shard.parquet")) == 5
