"""Model weights: a resumable download into ``model_dir`` and a lock file of their digests.

``download(url, dest)`` fetches into ``<dest>.part`` with HTTP Range requests, so a transfer cut
halfway (dropped connection, killed job) goes on from where it stopped, within the call and in a
later run; only a complete, verified file is renamed to ``dest``. A server that cannot be reached
at all before any byte arrived (the host name does not resolve, the connection is refused, no
route, the connect times out: no network) stops at once with one line that says how to run offline.

The lock file (``resources/models/weights.lock.tsv`` by default, meant to be committed) holds one
row per model: file name, size, sha256 and where it came from. A download is checked against it
(or adds its row), and every scoring job checks the file it loads, so a run that uses weights other
than the recorded ones stops with a clear error naming the file.

    python -m esm1v_scan.scoring.weights lock resources/models              # record files put there by hand
    python -m esm1v_scan.scoring.weights download esm1v_t33_650M_UR90S_1    # one model, outside Snakemake
"""

from __future__ import annotations

import argparse
import csv
import errno
import fcntl
import io
import logging
import os
import re
import socket
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from esm1v_scan.errors import InputError
from esm1v_scan.files import naming, no_space, sha256_file, write_text
from esm1v_scan.scoring.models import ESM1V_MODELS, check_model_name, file_sha256, remember_sha256

log = logging.getLogger(__name__)

#: Where fair-esm itself downloads the ESM-1v checkpoints from.
DEFAULT_BASE_URL = "https://dl.fbaipublicfiles.com/fair-esm/models"
LOCK_COLUMNS = ["model", "file", "size", "sha256", "source"]
LOCK_HEADER = (
    "# esm1v-scan weights lock: the checkpoints this project was run with. Commit this file;\n"
    "# runs stop when a checkpoint's size or sha256 differs. Written by the download_weights rule\n"
    "# (or: python -m esm1v_scan.scoring.weights lock <model_dir>).\n"
)


class DownloadError(InputError):
    """The download could not be completed (HTTP error, or still interrupted after resuming as
    often as allowed). Reported like bad input: one line, exit 1."""


def weights_url(base_url: str, model: str) -> str:
    return f"{base_url.rstrip('/')}/{model}.pt"


def part_path(dest: str | os.PathLike) -> Path:
    dest = Path(dest)
    return dest.with_name(dest.name + ".part")


def make_session(retries: int = 5, backoff: float = 1.0, connect_retries: int = 2) -> requests.Session:
    """A requests session that retries 429/5xx answers ``retries`` times and failed connects
    ``connect_retries`` times (urllib3 Retry; waits 0 s, then 2 s: a host that cannot be reached
    is reported within seconds, see :func:`unreachable`). Interruptions in the middle of a body are
    resumed by :func:`download` itself."""
    retry = Retry(total=retries, connect=connect_retries, read=0, status=retries, backoff_factor=backoff,
                  status_forcelist=(429, 500, 502, 503, 504), allowed_methods=("GET", "HEAD"),
                  raise_on_status=False)
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)")


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total size) of a Content-Range header, None where unknown."""
    m = _CONTENT_RANGE.match(value or "")
    if not m:
        return None, None
    start = int(m.group(1)) if m.group(1) is not None else None
    total = int(m.group(3)) if m.group(3) != "*" else None
    return start, total


#: connect errors (errno) that mean the host cannot be reached at all
_UNREACHABLE_ERRNOS = {
    errno.ECONNREFUSED: "the connection was refused",
    errno.ENETUNREACH: "the network is unreachable",
    errno.EHOSTUNREACH: "no route to the host",
}


def unreachable(err: BaseException) -> str | None:
    """Why the server cannot be reached at all, when ``err`` (a requests/urllib3 error and the
    errors it wraps) says so: the host name does not resolve, the connection is refused, no route
    to the host, or the connect timed out. None for anything else (a read timeout, a connection
    cut in the middle of a body, an HTTP status)."""
    todo, seen = [err], set()
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, (urllib3.exceptions.NameResolutionError, socket.gaierror)):
            return "the host name does not resolve"
        if isinstance(e, requests.exceptions.ConnectTimeout) or (
                isinstance(e, urllib3.exceptions.ConnectTimeoutError)
                and not isinstance(e, urllib3.exceptions.NewConnectionError)):  # its subclass
            return "connecting timed out"
        if isinstance(e, OSError) and e.errno in _UNREACHABLE_ERRNOS:
            return _UNREACHABLE_ERRNOS[e.errno]
        todo += [getattr(e, "reason", None), e.__cause__, e.__context__,
                 *(a for a in e.args if isinstance(a, BaseException))]
    return None


def offline_hint(url: str, why: str, part: Path) -> str:
    """The one line for a server that cannot be reached: how to go on without network."""
    have = part.stat().st_size if part.exists() else 0
    kept = f"; {part} keeps the {have} bytes that arrived before" if have else ""
    return (f"cannot download {url}: {why} (no network here?). Without network: copy the "
            f"checkpoints into model_dir as <model>.pt and set offline: true (README, 'Running "
            f"offline'), or run `make smoke` for an offline test run on tiny random weights{kept}")


def download(url: str, dest: str | os.PathLike, session: requests.Session | None = None,
             attempts: int = 20, chunk: int = 1 << 20, timeout: tuple[float, float] = (10, 120),
             pause: float = 2.0, report_every: float = 30.0) -> Path:
    """Download ``url`` to ``<dest>.part``, resuming what is already there; return that path.

    Each attempt asks for the missing bytes only (``Range: bytes=<have>-``). A server that
    ignores Range (200 instead of 206) makes it start over. Up to ``attempts`` interruptions are
    resumed; HTTP errors such as 404 stop at once, and so does a server that cannot be reached
    (:func:`unreachable`) before any byte of this call arrived: that is no network, not a blip.
    A full disk is an OSError naming the ``.part`` file, which keeps what arrived.
    """
    session = session or make_session()
    part = part_path(dest)
    part.parent.mkdir(parents=True, exist_ok=True)
    problem = "no attempt made"
    received = 0  # bytes that arrived in this call
    for attempt in range(1, attempts + 1):
        have = part.stat().st_size if part.exists() else 0
        headers = {"Accept-Encoding": "identity"}  # byte ranges of the file itself
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            with session.get(url, headers=headers, stream=True, timeout=timeout) as r:
                if r.status_code == 416 and have:
                    _, total = _content_range(r.headers.get("Content-Range"))
                    if total == have:
                        log.info("%s: already complete (%d bytes)", part, have)
                        return part
                    log.warning("%s: %d bytes on disk but the server has %s; starting over",
                                part, have, total)
                    part.unlink()
                    continue
                if r.status_code >= 400:
                    raise DownloadError(f"cannot download {url}: HTTP {r.status_code} {r.reason}")
                if r.status_code == 206:
                    start, total = _content_range(r.headers.get("Content-Range"))
                    if start != have:
                        raise DownloadError(
                            f"{url}: asked for bytes from {have}, the server sent from {start}")
                    mode = "ab"
                    if have:
                        log.info("%s: resuming at %d of %s bytes", url, have, total)
                else:
                    if have:
                        log.warning("%s: the server ignores Range requests; starting over", url)
                    have = 0
                    length = r.headers.get("Content-Length")
                    total = int(length) if length is not None else None
                    mode = "wb"
                try:
                    with part.open(mode) as fh:
                        last = time.monotonic()
                        # read1 hands over every byte that arrived, even when the connection
                        # breaks in the middle of a chunk (iter_content would drop that chunk)
                        while block := r.raw.read1(chunk):
                            fh.write(block)
                            have += len(block)
                            received += len(block)
                            if time.monotonic() - last >= report_every:
                                last = time.monotonic()
                                log.info("%s: %d of %s bytes", part.name, have, total)
                except OSError as err:
                    if no_space(err):
                        raise naming(err, part) from err
                    raise
                if total is not None and have != total:
                    raise requests.exceptions.ConnectionError(
                        f"transfer ended at {have} of {total} bytes")
                log.info("%s: downloaded %d bytes", url, have)
                return part
        except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.Timeout, urllib3.exceptions.HTTPError) as err:
            problem = f"{type(err).__name__}: {err}"
            why = unreachable(err)
            if why and not received:
                raise DownloadError(offline_hint(url, why, part)) from None
            done = part.stat().st_size if part.exists() else 0
            log.warning("%s: interrupted at %d bytes (attempt %d of %d): %s", url, done, attempt,
                        attempts, problem)
            if attempt < attempts:
                time.sleep(min(pause * attempt, 60.0))
    raise DownloadError(
        f"cannot download {url}: interrupted {attempts} times, last: {problem}; {part} keeps "
        f"what arrived and the next run resumes from there")


# --------------------------------------------------------------------------------- lock file --


@dataclass(frozen=True)
class LockEntry:
    model: str
    file: str
    size: int
    sha256: str
    source: str = ""


def read_lock(path: str | os.PathLike) -> dict[str, LockEntry]:
    """The lock's rows by model; an absent file is an empty lock."""
    path = Path(path)
    if not path.exists():
        return {}
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    if not lines:
        return {}
    reader = csv.DictReader(lines, delimiter="\t")
    if reader.fieldnames != LOCK_COLUMNS:
        raise InputError(f"expected the columns {' '.join(LOCK_COLUMNS)}, found "
                         f"{' '.join(reader.fieldnames or [])}", file=path)
    entries = {}
    for row in reader:
        try:
            entry = LockEntry(row["model"], row["file"], int(row["size"]), row["sha256"].lower(),
                              row["source"] or "")
        except (TypeError, ValueError):
            raise InputError(f"malformed row {row}", file=path, record=row.get("model")) from None
        if not re.fullmatch(r"[0-9a-f]{64}", entry.sha256):
            raise InputError(f"'{entry.sha256}' is not a sha256 digest", file=path,
                             record=entry.model)
        entries[entry.model] = entry
    return entries


def _write_lock(path: Path, entries: dict[str, LockEntry]) -> None:
    buf = io.StringIO()
    buf.write(LOCK_HEADER)
    writer = csv.DictWriter(buf, fieldnames=LOCK_COLUMNS, delimiter="\t", lineterminator="\n")
    writer.writeheader()
    for model in sorted(entries):
        writer.writerow(asdict(entries[model]))
    write_text(path, buf.getvalue())


@contextmanager
def _locked(folder: Path):
    """Hold an exclusive lock on ``folder`` (parallel download jobs update the same lock file)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def mismatch(entry: LockEntry, path: Path, size: int, sha256: str | None) -> str | None:
    """Why ``path`` is not the file ``entry`` records (None when it is)."""
    if size != entry.size:
        what = "truncated" if size < entry.size else "longer than recorded"
        return f"{size} bytes, the lock records {entry.size} ({what})"
    if sha256 is not None and sha256 != entry.sha256:
        return f"sha256 {sha256}, the lock records {entry.sha256}"
    return None


def _mismatch_error(model: str, path: Path, lock: Path, why: str) -> InputError:
    return InputError(
        f"checkpoint of model '{model}' does not match {lock}: {why}. The file is corrupt, "
        "incomplete or other weights: delete it to download it again, or delete its row from the "
        "lock if you changed weights on purpose", file=path)


def check_size(lock: str | os.PathLike | None, model: str, path: str | os.PathLike) -> None:
    """Cheap parse-time check: the file's size against the lock (no hashing)."""
    if not lock:
        return
    entry = read_lock(lock).get(model)
    path = Path(path)
    if entry is not None:
        why = mismatch(entry, path, path.stat().st_size, None)
        if why:
            raise _mismatch_error(model, path, Path(lock), why)


def verify(lock: str | os.PathLike | None, model: str, path: str | os.PathLike,
           sha256: str | None = None) -> LockEntry | None:
    """Check ``path`` against the lock's row for ``model``; return the row (None if the lock has
    none, or no lock is used). Raises InputError naming the file on any difference."""
    if not lock:
        return None
    path = Path(path)
    entry = read_lock(lock).get(model)
    if entry is None:
        log.warning("%s: model %s has no row in %s; it is not verified (run the download_weights "
                    "rule or `python -m esm1v_scan.scoring.weights lock` to record it)", path, model, lock)
        return None
    why = mismatch(entry, path, path.stat().st_size, sha256 or file_sha256(path))
    if why:
        raise _mismatch_error(model, path, Path(lock), why)
    return entry


def record(lock: str | os.PathLike, entry: LockEntry) -> LockEntry:
    """Add ``entry`` to the lock unless the lock already has a row for that model; return the
    lock's row (compare it with ``entry`` to detect a mismatch)."""
    lock = Path(lock)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with _locked(lock.parent):
        entries = read_lock(lock)
        if entry.model in entries:
            return entries[entry.model]
        entries[entry.model] = entry
        _write_lock(lock, entries)
        log.info("recorded %s (%d bytes, sha256 %s) in %s", entry.file, entry.size, entry.sha256,
                 lock)
        return entry


def fetch_model(model: str, model_dir: str | os.PathLike, base_url: str = DEFAULT_BASE_URL,
                lock: str | os.PathLike | None = None, offline: bool = False,
                session: requests.Session | None = None, **download_args) -> Path:
    """Download one model's checkpoint into ``model_dir`` (resumably), check it against the lock
    (or record it there), and only then give it its final name. Returns the checkpoint path."""
    check_model_name(model)
    dest = Path(model_dir) / f"{model}.pt"
    if dest.exists():
        verify(lock, model, dest)
        return dest
    if offline:
        raise InputError(f"model '{model}': no checkpoint at {dest} and offline mode is on; "
                         "download it on a machine with network (offline: false)")
    url = weights_url(base_url, model)
    part = download(url, dest, session=session, **download_args)
    size, digest = part.stat().st_size, sha256_file(part)
    entry = LockEntry(model, dest.name, size, digest, url)
    if lock:
        recorded = record(lock, entry)
        why = mismatch(recorded, part, size, digest)
        if why:
            part.unlink()  # what arrived is not what the lock wants: the next try starts afresh
            raise _mismatch_error(model, dest, Path(lock), f"the download from {url} has {why}")
    os.replace(part, dest)
    remember_sha256(dest, digest)
    log.info("%s: %d bytes, sha256 %s", dest, size, digest)
    return dest


def lock_present(model_dir: str | os.PathLike, lock: str | os.PathLike,
                 models=ESM1V_MODELS) -> list[LockEntry]:
    """Record (or verify) every checkpoint present in ``model_dir``."""
    out = []
    for model in models:
        path = Path(model_dir) / f"{model}.pt"
        if not path.exists():
            continue
        entry = LockEntry(model, path.name, path.stat().st_size, file_sha256(path), "local file")
        recorded = record(lock, entry)
        why = mismatch(recorded, path, entry.size, entry.sha256)
        if why:
            raise _mismatch_error(model, path, Path(lock), why)
        out.append(recorded)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m esm1v_scan.scoring.weights", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    dl = sub.add_parser("download", help="download checkpoints into --model-dir")
    dl.add_argument("models", nargs="+")
    dl.add_argument("--model-dir", default="resources/models")
    dl.add_argument("--base-url", default=DEFAULT_BASE_URL)
    dl.add_argument("--lock", default="resources/models/weights.lock.tsv")
    lk = sub.add_parser("lock", help="record the checkpoints present in a folder")
    lk.add_argument("model_dir")
    lk.add_argument("--lock", default="resources/models/weights.lock.tsv")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        if args.cmd == "download":
            for model in args.models:
                fetch_model(model, args.model_dir, args.base_url, args.lock)
        else:
            for entry in lock_present(args.model_dir, args.lock):
                print(f"{entry.model}\t{entry.size}\t{entry.sha256}")
    except (InputError, DownloadError) as err:
        raise SystemExit(f"esm1v-scan: {err}") from None


if __name__ == "__main__":
    main()
