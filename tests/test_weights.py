"""Weights: resumable download from a local HTTP server, the lock file, offline guarantees."""

import hashlib
import os

import pytest
import requests

from conftest import MODELS
from esm1v_scan.scoring import models
from esm1v_scan.scoring import weights
from esm1v_scan.errors import InputError
from weights_server import WeightsServer

M1 = MODELS[0]
SIZE = 3_000_017  # a few MB, not a multiple of the download chunk


@pytest.fixture
def served(tmp_path):
    """A server with one fake checkpoint (random bytes: the download does not parse it)."""
    root = tmp_path / "www"
    root.mkdir()
    data = os.urandom(SIZE)
    (root / f"{M1}.pt").write_bytes(data)
    with WeightsServer(root) as server:
        yield server, data


def fetch(server, tmp_path, **kw):
    kw.setdefault("lock", tmp_path / "weights.lock.tsv")
    return weights.fetch_model(M1, tmp_path / "models", server.url, pause=0, **kw)


def test_download_records_the_lock_and_renames_only_when_complete(served, tmp_path):
    server, data = served
    path = fetch(server, tmp_path)
    assert path == tmp_path / "models" / f"{M1}.pt"
    assert path.read_bytes() == data
    assert not weights.part_path(path).exists()
    lock = weights.read_lock(tmp_path / "weights.lock.tsv")
    assert lock[M1] == weights.LockEntry(M1, f"{M1}.pt", SIZE, hashlib.sha256(data).hexdigest(),
                                         f"{server.url}/{M1}.pt")
    assert (tmp_path / "weights.lock.tsv").read_text().startswith("# esm1v-scan weights lock")
    # the digest is remembered: the scoring job does not hash 2.6 GB again
    assert models.file_sha256(path) == hashlib.sha256(data).hexdigest()
    assert path.with_name(path.name + ".sha256.json").exists()
    # present and verified: no second request
    fetch(server, tmp_path)
    assert len(server.requests) == 1 and server.requests[0]["range"] is None


def test_a_transfer_cut_halfway_resumes_with_a_range_request(served, tmp_path):
    server, data = served
    server.cuts = [SIZE // 2]
    path = fetch(server, tmp_path)
    assert path.read_bytes() == data
    assert [r["range"] for r in server.requests] == [None, f"bytes={SIZE // 2}-"]


def test_an_interrupted_download_resumes_in_the_next_run(served, tmp_path):
    server, data = served
    server.cuts = [1_234_567]
    with pytest.raises(weights.DownloadError, match="interrupted 1 times") as err:
        fetch(server, tmp_path, attempts=1)
    assert "the next run resumes" in str(err.value)
    dest = tmp_path / "models" / f"{M1}.pt"
    assert not dest.exists()  # never a half file under the final name
    assert weights.part_path(dest).stat().st_size == 1_234_567
    assert weights.read_lock(tmp_path / "weights.lock.tsv") == {}
    fetch(server, tmp_path)
    assert dest.read_bytes() == data
    assert server.requests[-1]["range"] == "bytes=1234567-"
    assert len(server.requests) == 2


def test_a_complete_part_file_is_finished_without_downloading_again(served, tmp_path):
    server, data = served
    dest = tmp_path / "models" / f"{M1}.pt"
    dest.parent.mkdir()
    weights.part_path(dest).write_bytes(data)  # killed after the last byte, before the rename
    fetch(server, tmp_path)
    assert dest.read_bytes() == data
    assert server.requests == [{"path": f"/{M1}.pt", "range": f"bytes={SIZE}-"}]


def test_a_server_ignoring_range_makes_it_start_over(served, tmp_path):
    server, data = served
    server.ignore_range = True
    dest = tmp_path / "models" / f"{M1}.pt"
    dest.parent.mkdir()
    weights.part_path(dest).write_bytes(b"stale bytes of something else")
    fetch(server, tmp_path)
    assert dest.read_bytes() == data


def test_http_errors_stop_at_once_with_the_url(served, tmp_path):
    server, _ = served
    with pytest.raises(weights.DownloadError, match=rf"cannot download {server.url}/{MODELS[1]}.pt: HTTP 404"):
        weights.fetch_model(MODELS[1], tmp_path / "models", server.url, pause=0)
    assert len(server.requests) == 1


def test_a_download_differing_from_the_lock_is_rejected(served, tmp_path):
    server, data = served
    lock = tmp_path / "weights.lock.tsv"
    weights.record(lock, weights.LockEntry(M1, f"{M1}.pt", SIZE, "ab" * 32, "elsewhere"))
    with pytest.raises(InputError) as err:
        fetch(server, tmp_path)
    msg = str(err.value)
    dest = tmp_path / "models" / f"{M1}.pt"
    assert msg.startswith(f"{dest}: checkpoint of model '{M1}' does not match {lock}")
    assert f"sha256 {hashlib.sha256(data).hexdigest()}, the lock records {'ab' * 32}" in msg
    assert not dest.exists() and not weights.part_path(dest).exists()
    assert weights.read_lock(lock)[M1].sha256 == "ab" * 32  # the lock is never rewritten


def test_verify_names_the_file_for_corrupt_and_truncated_checkpoints(tmp_path):
    path = tmp_path / f"{M1}.pt"
    data = os.urandom(10_000)
    path.write_bytes(data)
    lock = tmp_path / "lock.tsv"
    weights.lock_present(tmp_path, lock)
    assert weights.verify(lock, M1, path).sha256 == hashlib.sha256(data).hexdigest()
    corrupt = bytearray(data)
    corrupt[5000] ^= 0xFF
    path.write_bytes(bytes(corrupt))  # same size: only the digest tells
    with pytest.raises(InputError, match=rf"^{path}: checkpoint of model '{M1}' does not match .*sha256"):
        weights.verify(lock, M1, path)
    weights.check_size(lock, M1, path)  # the cheap check cannot see it, and says nothing
    path.write_bytes(data[:4000])
    with pytest.raises(InputError, match=r"4000 bytes, the lock records 10000 \(truncated\)"):
        weights.check_size(lock, M1, path)
    # no lock, or no row: nothing to verify against
    assert weights.verify(None, M1, path) is None
    assert weights.verify(lock, MODELS[1], path) is None


def test_a_malformed_lock_is_an_input_error_naming_it(tmp_path):
    lock = tmp_path / "lock.tsv"
    lock.write_text("model\tsha\n" + f"{M1}\tabc\n")
    with pytest.raises(InputError, match=rf"^{lock}: expected the columns model file size sha256 source"):
        weights.read_lock(lock)
    lock.write_text("model\tfile\tsize\tsha256\tsource\n" + f"{M1}\tx.pt\t12\tnot-a-digest\t\n")
    with pytest.raises(InputError, match=rf"record '{M1}': 'not-a-digest' is not a sha256"):
        weights.read_lock(lock)


def test_offline_never_downloads(served, tmp_path):
    server, _ = served
    with pytest.raises(InputError, match="offline mode is on"):
        fetch(server, tmp_path, offline=True)
    assert server.requests == []


def test_offline_load_never_takes_fair_esm_hub(tmp_path, tiny_dir, monkeypatch):
    """The local backend's only network path is fair-esm's hub loader: offline never reaches it,
    with or without the file; online without a file it does (so the patch is on the right spot)."""
    import esm

    calls = []

    def hub(name):
        calls.append(name)
        raise ConnectionError("network used")

    monkeypatch.setattr(esm.pretrained, "load_model_and_alphabet_hub", hub)
    with pytest.raises(InputError, match="offline mode is on"):
        models.load_model(M1, tmp_path, offline=True)
    assert models.load_model(M1, tiny_dir, offline=True).source == str(tiny_dir / f"{M1}.pt")
    assert models.load_model(M1, tiny_dir, offline=False).source == str(tiny_dir / f"{M1}.pt")
    assert calls == []
    with pytest.raises(InputError, match=rf"model '{M1}': .*download.*network used"):
        models.load_model(M1, tmp_path, offline=False)
    assert calls == [M1]


def test_lock_cli_records_present_files(tiny_dir, tmp_path, capsys):
    lock = tmp_path / "lock.tsv"
    weights.main(["lock", str(tiny_dir), "--lock", str(lock)])
    rows = weights.read_lock(lock)
    assert sorted(rows) == MODELS
    for m in MODELS:
        assert rows[m].sha256 == hashlib.sha256((tiny_dir / f"{m}.pt").read_bytes()).hexdigest()
    assert capsys.readouterr().out.count("\n") == 5


@pytest.mark.parametrize("how", ["new_file", "same_inode"])
def test_a_checkpoint_replaced_with_size_and_mtime_kept_is_hashed_again(tmp_path, how):
    """cp -p / rsync -t of other weights of the same size over a verified checkpoint: size and
    mtime match the hash memo, but the file is another one and the lock must reject it."""
    path = tmp_path / f"{M1}.pt"
    data = os.urandom(10_000)
    path.write_bytes(data)
    lock = tmp_path / "lock.tsv"
    weights.lock_present(tmp_path, lock)
    assert weights.verify(lock, M1, path).sha256 == hashlib.sha256(data).hexdigest()  # memo written
    st = path.stat()
    other = os.urandom(10_000)
    if how == "new_file":  # rsync -t: a temp file renamed over the checkpoint
        tmp = tmp_path / "incoming"
        tmp.write_bytes(other)
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(tmp, path)
    else:  # cp -p onto the existing file: same inode, rewritten in place
        path.write_bytes(other)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    assert models.file_sha256(path) == hashlib.sha256(other).hexdigest()
    with pytest.raises(InputError, match="the lock records"):
        weights.verify(lock, M1, path)


# -- no network: stop within seconds, with the way to run offline --------------------------------

@pytest.fixture
def pauses(monkeypatch):
    """Every pause the download (and urllib3's retries) asks for, instead of sleeping."""
    asked = []
    monkeypatch.setattr(weights.time, "sleep", asked.append)  # the time module urllib3 uses too
    return asked


@pytest.fixture
def refused_url():
    """A port on 127.0.0.1 that refuses connections (bound, never listening)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/models"


@pytest.mark.parametrize("where, why", [("unresolvable", "the host name does not resolve"),
                                        ("refused", "the connection was refused")])
def test_no_network_stops_at_once_pointing_to_offline_mode(tmp_path, pauses, caplog, refused_url,
                                                           where, why):
    base = "http://esm1v-weights.invalid/models" if where == "unresolvable" else refused_url
    with pytest.raises(weights.DownloadError) as err:
        weights.fetch_model(M1, tmp_path / "models", base)
    msg = str(err.value)
    assert msg.startswith(f"cannot download {base}/{M1}.pt: {why} (no network here?). ")
    assert "set offline: true" in msg and "`make smoke`" in msg and "model_dir as <model>.pt" in msg
    assert "\n" not in msg
    # one attempt: urllib3's two connect retries (0 s and 2 s apart), no resuming
    assert pauses == [2.0]
    assert "interrupted" not in caplog.text
    assert not (tmp_path / "models" / f"{M1}.pt").exists()


def test_a_part_file_says_what_it_keeps_when_the_network_is_gone(tmp_path, pauses, refused_url):
    dest = tmp_path / "models" / f"{M1}.pt"
    dest.parent.mkdir()
    weights.part_path(dest).write_bytes(b"x" * 1234)  # from an earlier run
    with pytest.raises(weights.DownloadError, match=rf"{weights.part_path(dest)} keeps the 1234 "
                                                    "bytes that arrived before$"):
        weights.fetch_model(M1, dest.parent, refused_url)
    assert weights.part_path(dest).read_bytes() == b"x" * 1234


def test_a_lookup_failing_mid_download_is_resumed_not_reported_offline(served, tmp_path, pauses):
    """Bytes arrived in this call: a failed connect after that is a blip, the download resumes."""
    server, data = served
    server.cuts = [SIZE // 3]
    session = weights.make_session()
    calls = []

    def get(url, **kw):
        calls.append(url)
        if len(calls) == 2:  # the first resume meets a failed name lookup
            url = "http://esm1v-weights.invalid/x.pt"
        return requests.Session.get(session, url, **kw)

    session.get = get
    path = fetch(server, tmp_path, session=session)
    assert path.read_bytes() == data
    assert len(calls) == 3
    assert [r["range"] for r in server.requests] == [None, f"bytes={SIZE // 3}-"]


def test_a_full_disk_names_the_part_file_and_keeps_what_arrived(served, tmp_path, monkeypatch):
    """ENOSPC while writing the download: an OSError naming the .part file (rule_script makes it
    one line), and what arrived stays for the next run to resume."""
    import errno
    import pathlib

    from esm1v_scan.pipeline.rule_scripts import no_space_line

    server, data = served
    real_open = pathlib.Path.open

    class Full:
        def __init__(self, fh):
            self.fh = fh

        def write(self, block):
            self.fh.write(block[:1000])
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    def open_(self, mode="r", *args, **kw):
        fh = real_open(self, mode, *args, **kw)
        return Full(fh) if self.name.endswith(".part") and "b" in mode and "r" not in mode else fh

    monkeypatch.setattr(pathlib.Path, "open", open_)
    dest = tmp_path / "models" / f"{M1}.pt"
    with pytest.raises(OSError) as err:
        fetch(server, tmp_path)
    assert (err.value.errno, err.value.filename) == (errno.ENOSPC, str(weights.part_path(dest)))
    assert no_space_line(err.value) == (f"{weights.part_path(dest)}: no space left on device; "
                                        "free some space and run again")
    assert weights.part_path(dest).read_bytes() == data[:1000]
    assert not dest.exists() and len(server.requests) == 1
