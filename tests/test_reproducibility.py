"""Reproducibility end to end: byte-identical reruns, provenance (also in the report), weights
downloaded from a local server and verified against the lock, no network from compute jobs, and a
scoring job killed mid-run."""

import hashlib
import os
import platform
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import psutil
import pytest
import yaml

from conftest import MODELS, REPO, config_for, result_files, run_workflow, write_fasta
from esm1v_scan.scoring import weights
from weights_server import WeightsServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, tiny_dir):
    """The tiny workflow run twice from scratch, each with its own cache (no masking by it)."""
    runs = []
    for k in (1, 2):
        tmp = tmp_path_factory.mktemp(f"run{k}")
        wd = tmp / "work"
        run_workflow(wd, config_for(tmp, tiny_dir))
        runs.append(wd)
    return runs


def test_reruns_are_byte_identical(two_runs):
    a, b = (result_files(wd) for wd in two_runs)
    assert sorted(a) == sorted(b)
    names = set(a)
    for name in ["sp_P0CG48_UBC_HUMAN", "tiny_2"]:
        assert {f"{name}/ensemble.tsv", f"{name}/heatmap.png", f"{name}/heatmap.svg"} <= names
        assert {f"{name}/scores/{m}.tsv" for m in MODELS} <= names
    assert {"sequences.tsv", "mask_plan.tsv"} <= names
    differ = [k for k in a if a[k] != b[k]]
    assert differ == []
    # both runs computed everything (separate caches): nothing came from a cache hit
    for wd in two_runs:
        for m in MODELS:
            log = (wd / f"logs/score/{m}/shard0001.log").read_text()
            assert "2 scored" in log and "0 cache hits" in log


def test_provenance_records_versions_digests_device_config_and_commit(two_runs, tiny_dir):
    import esm
    import snakemake
    import torch

    wd = two_runs[0]
    prov = yaml.safe_load((wd / "results/provenance/provenance.yaml").read_text())
    assert prov["versions"] == {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "fair-esm": esm.__version__,
        "snakemake": snakemake.__version__,
    }
    assert set(prov["models"]) == set(MODELS)
    for m in MODELS:
        digest = hashlib.sha256((tiny_dir / f"{m}.pt").read_bytes()).hexdigest()
        assert prov["models"][m]["sha256"] == digest
        assert prov["models"][m]["source"] == str(tiny_dir / f"{m}.pt")
        assert prov["models"][m]["identity"] == f"fair-esm:sha256:{digest}:fp32"
    assert prov["scoring"]["device"] == "cpu"
    assert prov["scoring"]["precision"] == "fp32"
    assert prov["scoring"]["strategy"] == "masked-marginals"
    # the resolved config: the run's own values and the schema's defaults
    assert prov["config"]["models"] == MODELS and prov["config"]["device"] == "cpu"
    assert prov["config"]["heatmap"] == {"row_width": 80, "value": "score_mean"}
    assert prov["config"]["shard_residues"] == 200000
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert prov["workflow"]["git"]["commit"] == head
    assert {j["workflow_git"]["commit"] for j in prov["jobs"]} == {head}
    assert isinstance(prov["workflow"]["git"]["dirty"], bool)
    assert [(j["model"], j["shard"]) for j in prov["jobs"]] == [(m, "shard0001") for m in MODELS]
    assert all(j["checkpoint"]["weights_lock"] == "not recorded in a weights lock"
               for j in prov["jobs"])
    # the report carries it, under its own category
    run_workflow(wd, yaml.safe_load((wd / "test-config.yaml").read_text()),
                 "--report", "report.zip")
    with zipfile.ZipFile(wd / "report.zip") as z:
        names = z.namelist()
        member = [n for n in names if n.endswith("provenance.yaml")]
        assert member, names
        assert yaml.safe_load(z.read(member[0]))["versions"] == prov["versions"]
        assert any("Provenance" in z.read(n).decode(errors="ignore") for n in names
                   if n.endswith((".html", ".js")))


def test_weights_are_downloaded_resumably_locked_and_verified(tmp_path, tiny_dir):
    """model_dir starts empty: the download rule fetches the five checkpoints from a local server
    (one transfer cut halfway and resumed), records them in the lock, the run completes; a
    checkpoint changed afterwards stops the next run with an error naming the file."""
    models_dir = tmp_path / "models"
    size = (tiny_dir / f"{MODELS[0]}.pt").stat().st_size
    config = config_for(tmp_path, tiny_dir, model_dir=str(models_dir), offline=False)
    wd = tmp_path / "work"
    with WeightsServer(tiny_dir) as server:
        server.cuts = [size // 2]
        config["weights_url"] = server.url
        # `snakemake weights` (e.g. on a login node): the downloads and nothing else
        proc = run_workflow(wd, config, "weights")
        assert "rule score:" not in proc.stdout + proc.stderr
        assert not (wd / "results").exists()
        requests = list(server.requests)
        run_workflow(wd, config)
        assert server.requests == requests  # weights there: no request, no second download
    assert sorted(r["path"] for r in requests if r["range"] is None) == sorted(f"/{m}.pt" for m in MODELS)
    resumed = [r for r in requests if r["range"] is not None]
    assert len(resumed) == 1 and resumed[0]["range"] == f"bytes={size // 2}-"
    lock = weights.read_lock(tmp_path / "weights.lock.tsv")
    for m in MODELS:
        data = (tiny_dir / f"{m}.pt").read_bytes()
        assert (models_dir / f"{m}.pt").read_bytes() == data
        assert lock[m].sha256 == hashlib.sha256(data).hexdigest() and lock[m].size == len(data)
        assert lock[m].source == f"{server.url}/{m}.pt"
    assert list(models_dir.glob("*.part")) == []
    prov = yaml.safe_load((wd / "results/provenance/provenance.yaml").read_text())
    assert {j["checkpoint"]["weights_lock"] for j in prov["jobs"]} == {f"matches {tmp_path / 'weights.lock.tsv'}"}

    # same size, other bytes: only the sha256 check in the scoring job can see it
    victim = models_dir / f"{MODELS[3]}.pt"
    data = bytearray(victim.read_bytes())
    data[size // 3] ^= 0x55
    victim.write_bytes(bytes(data))
    proc = run_workflow(wd, config, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"esm1v-scan: {victim}: checkpoint of model '{MODELS[3]}' does not match" in out
    assert "Traceback" not in (wd / f"logs/score/{MODELS[3]}/shard0001.log").read_text()
    assert not (wd / f"results/shards/shard0001/scores/{MODELS[3]}.parquet").exists()
    # truncated: caught at parse time by its size, before any job
    victim.write_bytes(bytes(data[: size // 2]))
    proc = run_workflow(wd, config, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"{victim}: checkpoint of model '{MODELS[3]}' does not match" in out
    assert f"{size // 2} bytes, the lock records {size} (truncated)" in out
    assert "Traceback" not in out


GUARD = '''
import os, socket
_log = os.environ["NETWORK_GUARD_LOG"]
with open(_log + ".procs", "a") as fh:
    fh.write(" ".join(__import__("sys").argv)[:200] + "\\n")
def _blocked(what):
    with open(_log, "a") as fh:
        fh.write(f"{os.getpid()} {what}\\n")
    raise OSError(f"network blocked by the test guard: {what}")
_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex
def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _blocked(address)
    return _connect(self, address)
def connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _blocked(address)
    return _connect_ex(self, address)
socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
_getaddrinfo = socket.getaddrinfo
def getaddrinfo(host, *args, **kwargs):
    _blocked(f"getaddrinfo {host}")
socket.getaddrinfo = getaddrinfo
'''


def test_scoring_never_touches_the_network_when_the_weights_are_present(tmp_path, tiny_dir):
    """Every Python process of the run (Snakemake and each job) gets a guard that records and
    refuses any internet connection or name lookup; offline is *off*, the checkpoints present."""
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD)
    log = tmp_path / "network.log"
    env = {"PYTHONPATH": str(guard), "NETWORK_GUARD_LOG": str(log)}
    # the guard works: a plain download attempt is caught and recorded
    probe = subprocess.run([sys.executable, "-c", "import urllib.request as u; "
                            "u.urlopen('https://dl.fbaipublicfiles.com/fair-esm/models', timeout=5)"],
                           env={**os.environ, **env}, capture_output=True, text=True)
    assert probe.returncode != 0 and "network blocked by the test guard" in probe.stderr
    assert "dl.fbaipublicfiles.com" in log.read_text()
    log.unlink()
    wd = tmp_path / "work"
    run_workflow(wd, config_for(tmp_path, tiny_dir, offline=False), env=env)
    assert not log.exists(), log.read_text()
    procs = (guard.parent / "network.log.procs").read_text()
    assert "score.py" in procs  # the scoring jobs ran under the guard
    assert (wd / "results/tiny_2/heatmap.png").exists()


def _scoring_process(wd: Path):
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or [])
            if "score.py" in cmd and ".snakemake" in cmd and proc.info["cwd"] == str(wd):
                return proc
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


def _block_at_cache_entry(clean_cache: Path, cache: Path, seq_id: str) -> Path:
    """Put a FIFO where ``seq_id``'s entry (as a clean run stored it) goes in ``cache``: a scoring
    job that reaches that protein blocks reading it, a deterministic pause point (no timing)."""
    import json

    meta = next(m for m in clean_cache.rglob("*.json") if json.loads(m.read_text())["id"] == seq_id)
    fifo = cache / meta.parent.name / meta.with_suffix(".tsv").name
    fifo.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(fifo)
    return fifo


def _release(fifo: Path) -> None:
    """Unblock every job reading ``fifo`` (they read an empty, invalid entry) and remove it."""
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    fifo.unlink()
    os.close(fd)


def _blocked_at_fifo(wd: Path) -> list[int]:
    """Processes working in ``wd`` that wait in open() of a FIFO (Linux: their wchan)."""
    pids = []
    for proc in psutil.process_iter(["cwd"]):
        try:
            if proc.info["cwd"] == str(wd) and Path(f"/proc/{proc.pid}/wchan").read_text() in (
                    "wait_for_partner", "fifo_open"):
                pids.append(proc.pid)
        except OSError:
            continue
    return pids


def _wait_for(what, timeout=300):
    deadline = time.monotonic() + timeout  # a safety net against hanging, not a timed assertion
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what.__doc__}")


def _kill_setup(tmp_path, tiny_dir):
    """A FASTA of a short then a long protein for one model; the clean run's results; the work
    folder and config of a run whose scoring job will block before the long protein."""
    import random

    rng = random.Random(7)
    seqs = {"short": "MKTAYIAKQRQISFVKSHFSRQ",
            "long": "M" + "".join(rng.choice("ACDEFGHIKLMNPQRSTVWY") for _ in range(399))}
    fasta = write_fasta(tmp_path / "kill.fasta", seqs)

    def cfg(name):
        return {**config_for(tmp_path / name, tiny_dir), "sequences": str(fasta),
                "models": [MODELS[0]]}

    clean = tmp_path / "clean" / "work"
    run_workflow(clean, cfg("clean"))
    wd = tmp_path / "killed" / "work"
    wd.mkdir(parents=True)
    (wd / "test-config.yaml").write_text(yaml.safe_dump(cfg("killed")))
    fifo = _block_at_cache_entry(tmp_path / "clean" / "cache", tmp_path / "killed" / "cache", "long")
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(wd), "--configfile", str(wd / "test-config.yaml"), "--cores", "2"]
    return clean, wd, cfg("killed"), fifo, cmd


def test_a_scoring_job_killed_midway_leaves_no_partial_output_and_a_rerun_finishes(tmp_path, tiny_dir):
    """One scoring job scores a short then a long protein. It is SIGKILLed while it waits at the
    long one's cache entry, the short one scored and cached: nothing of the job is left (its
    outputs are all or nothing), the rerun finishes the job (the short protein from the cache),
    and the outputs equal those of an uninterrupted run."""
    clean, wd, cfg, fifo, cmd = _kill_setup(tmp_path, tiny_dir)
    shard_table = wd / f"results/shards/shard0001/scores/{MODELS[0]}.parquet"
    job_log = wd / f"logs/score/{MODELS[0]}/shard0001.log"
    run = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def blocked_job():
            """the scoring job, blocked at the long protein"""
            return _blocked_at_fifo(wd) and _scoring_process(wd)
        victim = _wait_for(blocked_job)
        assert "short: scored 22 positions" in job_log.read_text()
        assert not shard_table.exists()
        os.kill(victim.pid, signal.SIGKILL)
        out, _ = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGINT)
            run.wait(60)
        fifo.unlink(missing_ok=True)
    assert run.returncode != 0
    assert "Error in rule score:" in out
    # no partial output
    assert not shard_table.exists() and not (wd / "results/short").exists()
    assert not (wd / f"results/provenance/jobs/{MODELS[0]}/shard0001.json").exists()
    assert not (wd / "results/short/ensemble.tsv").exists()

    rerun = run_workflow(wd, cfg)
    assert "rule score:" in rerun.stdout + rerun.stderr
    assert "short: all 22 positions from cache" in job_log.read_text()
    a, b = result_files(wd), result_files(clean)
    assert sorted(a) == sorted(b) and "long/heatmap.png" in a
    assert [k for k in a if a[k] != b[k]] == []


def test_after_kill_9_of_snakemake_a_rerun_beside_the_orphan_job_finishes_whole(tmp_path, tiny_dir):
    """kill -9 of Snakemake leaves its lock and an orphan scoring job that keeps running. The
    recovery the README gives (--unlock, then run again) works while the orphan still runs: the
    orphan and the new job score and write the same tables at the same time, and the run ends
    with complete tables equal to an uninterrupted run's, no temp files, and the invalid cache
    entry reported on the console."""
    clean, wd, cfg, fifo, cmd = _kill_setup(tmp_path, tiny_dir)
    run = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    orphan = rerun = None
    try:
        def blocked_job():
            """the scoring job, blocked at the long protein"""
            return _blocked_at_fifo(wd) and _scoring_process(wd)
        orphan = _wait_for(blocked_job)
        run.kill()
        run.wait(60)
        assert orphan.is_running()  # on its own now
        locked = run_workflow(wd, cfg, check=False)
        assert locked.returncode != 0 and "--unlock" in locked.stdout + locked.stderr
        run_workflow(wd, cfg, "--unlock")
        rerun = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        def two_jobs():
            """the rerun's scoring job, blocked at the FIFO beside the orphan"""
            return len(_blocked_at_fifo(wd)) >= 2
        _wait_for(two_jobs)
        _release(fifo)  # both read an empty entry, both score the long protein, both write
        out, _ = rerun.communicate(timeout=300)
        orphan.wait(300)
    finally:
        for proc in (rerun, run):
            if proc is not None and proc.poll() is None:
                proc.kill()
        if orphan is not None and orphan.is_running():
            orphan.kill()
        fifo.unlink(missing_ok=True)
    assert rerun.returncode == 0, out[-3000:]
    assert "esm1v-scan: warning: score cache entry" in out and "is invalid" in out
    a, b = result_files(wd), result_files(clean)
    assert sorted(a) == sorted(b) and "long/heatmap.png" in a
    assert [k for k in a if a[k] != b[k]] == []
    assert not [f for f in tmp_path.rglob("*.tmp")]


def test_a_stopped_run_resumes_without_redoing_finished_jobs(tmp_path, tiny_dir):
    """Two models score a short then a long protein, one job each, side by side. Model 2's job
    finishes; model 1's scores the short protein and waits at the long one. SIGTERM to the run's
    process group (`kill -TERM -- -<pgid>`; Ctrl-C sends SIGINT to it) stops it at once: model 1's
    job ends by SIGTERM with one line in its log and leaves no output and no temp file, Snakemake
    exits. The rerun redoes model 1's job only (the short protein from the score cache), leaves
    model 2's table as it was, and ends with the outputs of an uninterrupted run."""
    import base64
    import json
    import random

    rng = random.Random(7)
    seqs = {"short": "MKTAYIAKQRQISFVKSHFSRQ",
            "long": "M" + "".join(rng.choice("ACDEFGHIKLMNPQRSTVWY") for _ in range(399))}
    fasta = write_fasta(tmp_path / "stop.fasta", seqs)
    two = MODELS[:2]

    def cfg(name):
        return {**config_for(tmp_path / name, tiny_dir), "sequences": str(fasta), "models": two}

    clean = tmp_path / "clean" / "work"
    run_workflow(clean, cfg("clean"))
    # model 1's cache entry of the long protein becomes a FIFO in the stopped run's cache
    sha = hashlib.sha256((tiny_dir / f"{two[0]}.pt").read_bytes()).hexdigest()
    meta = next(m for m in (tmp_path / "clean" / "cache").rglob("*.json")
                if json.loads(m.read_text())["id"] == "long" and sha in json.loads(m.read_text())["backend"])
    fifo = tmp_path / "stopped" / "cache" / meta.parent.name / meta.with_suffix(".tsv").name
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)

    wd = tmp_path / "stopped" / "work"
    wd.mkdir(parents=True)
    config = cfg("stopped")
    (wd / "test-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    table = {m: wd / f"results/shards/shard0001/scores/{m}.parquet" for m in two}
    record = {m: wd / f"results/provenance/jobs/{m}/shard0001.json" for m in two}
    job_log = wd / f"logs/score/{two[0]}/shard0001.log"
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(wd), "--configfile", str(wd / "test-config.yaml"), "--cores", "2"]
    run = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True)
    try:
        def recorded():
            """the outputs Snakemake has recorded as finished (its metadata, base64 file names)"""
            meta = wd / ".snakemake" / "metadata"
            return {base64.urlsafe_b64decode(f.name).decode() for f in meta.iterdir()} if meta.exists() else set()

        def model_2_done_and_model_1_waiting():
            """model 2's job finished for Snakemake, model 1's job blocked at the long protein"""
            done = {str(p.relative_to(wd)) for p in (table[two[1]], record[two[1]])}
            return done <= recorded() and _blocked_at_fifo(wd)
        _wait_for(model_2_done_and_model_1_waiting)
        finished = table[two[1]].stat().st_mtime_ns, record[two[1]].read_bytes()
        assert "short: scored 22 positions" in job_log.read_text()
        os.killpg(run.pid, signal.SIGTERM)
        # one signal is enough: Snakemake 9.27's own handler could deadlock on its scheduler's
        # lock on a busy machine (seen twice in full-suite runs; esm1v_scan.pipeline.snakemake_fixes)
        out, _ = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(60)
        fifo.unlink(missing_ok=True)
    assert run.returncode != 0
    assert job_log.read_text().splitlines()[-1].startswith("esm1v-scan: score stopped by SIGTERM; ")
    assert "died with <Signals.SIGTERM: 15>" in out
    assert not table[two[0]].exists() and not record[two[0]].exists()
    assert not (wd / "results/ensemble.parquet").exists()
    assert not [f for f in tmp_path.rglob("*.tmp")]

    rerun = run_workflow(wd, config)
    said = rerun.stdout + rerun.stderr
    jobs = [block for block in said.split("\n\n") if "rule score:" in block]
    assert len(jobs) == 1 and f"model={two[0]}" in jobs[0], jobs
    assert (table[two[1]].stat().st_mtime_ns, record[two[1]].read_bytes()) == finished
    assert "short: all 22 positions from cache" in job_log.read_text()
    a, b = result_files(wd), result_files(clean)
    assert sorted(a) == sorted(b) and "long/heatmap.png" in a
    assert [k for k in a if a[k] != b[k]] == []
