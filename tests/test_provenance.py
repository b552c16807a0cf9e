"""Provenance records: what a scoring job records for the local and a remote backend, and how the
run's document gathers them."""

import datetime as dt
import hashlib
import subprocess
from types import SimpleNamespace

import torch

from conftest import MODELS, REPO
from esm1v_scan.outputs import provenance
from esm1v_scan.scoring.score_cache import ScoreCache
from esm1v_scan.scoring.local import LocalScorer


def test_local_job_record(tiny_model, tiny_dir, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    scorer = LocalScorer(tiny_model, device="cpu", batch_size=4, precision="bf16")
    cache = ScoreCache(None)
    cache.hits, cache.misses = 1, 2
    rec = provenance.job_record(scorer, model=MODELS[0], shard="shard0001", backend_name="local",
                                strategy="wt-marginals", cache=cache)
    digest = hashlib.sha256((tiny_dir / f"{MODELS[0]}.pt").read_bytes()).hexdigest()
    assert rec["checkpoint"] == {"source": str(tiny_dir / f"{MODELS[0]}.pt"), "sha256": digest,
                                 "size": (tiny_dir / f"{MODELS[0]}.pt").stat().st_size}
    assert rec["identity"] == f"fair-esm:sha256:{digest}:bf16:fast"
    assert (rec["device"], rec["precision"], rec["batch_size"]) == ("cpu", "bf16", 4)
    assert rec["packages"]["torch"] == torch.__version__
    assert rec["slurm_job_id"] == "4242"
    assert rec["cache"] == {"hits": 1, "scored": 2}
    assert "endpoint" not in rec and "date" not in rec
    # the tiny checkpoints are marked: the record, and the run's document, say so
    assert rec["published_esm1v"] is False and rec["weights"] == "random weights - not ESM-1v"
    doc = provenance.build([rec], {}, REPO, git={"commit": None, "dirty": None})
    assert doc["weights"] == f"random weights - not ESM-1v: {MODELS[0]}"
    assert doc["models"][MODELS[0]]["published_esm1v"] is False
    assert provenance.random_weights([rec]) and not provenance.random_weights([{"model": "x"}])


def test_remote_job_record_has_endpoint_and_date():
    api = SimpleNamespace(identity="biolm:esm1v-n1:v3",
                          endpoint="https://biolm.ai/api/v3/esm1v-n1/predict/")
    rec = provenance.job_record(api, model=MODELS[0], shard="shard0002", backend_name="biolm",
                                strategy="masked-marginals")
    assert rec["endpoint"] == "https://biolm.ai/api/v3/esm1v-n1/predict/"
    assert rec["date"] == dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert "checkpoint" not in rec and "device" not in rec
    doc = provenance.build([rec], {"backend": "biolm"}, REPO, git={"commit": None, "dirty": None})
    assert doc["models"][MODELS[0]] == {"identity": "biolm:esm1v-n1:v3", "published_esm1v": True,
                                       "endpoint": rec["endpoint"], "dates": [rec["date"]]}
    assert doc["weights"] == "ESM-1v" and rec["weights"] == "ESM-1v"


def test_build_summarises_jobs():
    def job(model, shard, device):
        return {"model": model, "shard": shard, "identity": f"id-{model}", "device": device,
                "precision": "fp32", "strategy": "masked-marginals", "backend": "local",
                "python": "3.11.7", "packages": {"torch": "2.13.0", "fair-esm": "2.0.0"},
                "checkpoint": {"source": f"/m/{model}.pt", "sha256": "0" * 64}}
    jobs = [job(MODELS[1], "shard0002", "cuda:0 (NVIDIA H100)"), job(MODELS[0], "shard0001", "cpu"),
            job(MODELS[1], "shard0001", "cuda:0 (NVIDIA H100)")]
    doc = provenance.build(jobs, {"device": "auto"}, REPO, snakemake_version="9.27.1")
    assert [(j["model"], j["shard"]) for j in doc["jobs"]] == [
        (MODELS[0], "shard0001"), (MODELS[1], "shard0001"), (MODELS[1], "shard0002")]
    assert doc["scoring"]["device"] == ["cpu", "cuda:0 (NVIDIA H100)"]  # jobs disagree: all shown
    assert doc["scoring"]["precision"] == "fp32"  # jobs agree: one value
    assert doc["versions"] == {"python": "3.11.7", "torch": "2.13.0", "fair-esm": "2.0.0",
                               "snakemake": "9.27.1"}
    assert doc["models"][MODELS[0]]["source"] == f"/m/{MODELS[0]}.pt"
    assert doc["config"] == {"device": "auto"}


def test_git_state(tmp_path):
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    state = provenance.git_state(REPO)
    assert state["commit"] == head and isinstance(state["dirty"], bool)
    assert provenance.git_state(tmp_path) == {"commit": None, "dirty": None}
