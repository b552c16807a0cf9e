"""The whole workflow with backend: biolm against the stand-in server: outputs equal to the local
backend's, every fault, a crash and resume, reruns that send nothing, and the token scan."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from biolm_fixtures import TOKEN, fast_config, standin, standin_server  # noqa: F401
from biolm_standin import Fault
from conftest import MODELS, REPO, run_workflow, write_fasta
from esm1v_scan.scoring.biolm import ResponseCache, masked_item

pytestmark = pytest.mark.slow

PROTEINS = {
    "sp|P0CG48|UBC_HUMAN": "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG",
    "tiny_2": "MKTAYIAKQRQISFVKSHFSRQ",
}
NAMES = {"sp_P0CG48_UBC_HUMAN": "sp|P0CG48|UBC_HUMAN", "tiny_2": "tiny_2"}  # file name -> id
BATCHES = 16 + 5  # ceil(76 / 5) + ceil(22 / 5) requests per endpoint


@pytest.fixture(scope="module")
def common(tmp_path_factory, tiny_dir):
    fasta = write_fasta(tmp_path_factory.mktemp("input") / "input.fasta", PROTEINS)
    return {"sequences": str(fasta), "models": MODELS, "model_dir": str(tiny_dir), "offline": True,
            "device": "cpu", "threads": 1}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, common):
    """The reference: the same proteins and tiny models through the local backend."""
    wd = tmp_path_factory.mktemp("local")
    run_workflow(wd, {**common, "cache_dir": str(wd / "cache")})
    return wd


def biolm_config(common, tmp_path, url=None, **biolm) -> dict:
    return {**common, "backend": "biolm", "cache_dir": str(tmp_path / "score_cache"),
            "biolm": fast_config(url, tmp_path / "responses", **{"timeout_s": 10.0, **biolm})}


def assert_outputs_equal_local(wd: Path, local: Path, models=MODELS) -> None:
    for name in NAMES:
        for m in models:
            a = pd.read_csv(wd / f"results/{name}/scores/{m}.tsv", sep="\t")
            b = pd.read_csv(local / f"results/{name}/scores/{m}.tsv", sep="\t")
            assert a[["position", "wt", "mt"]].equals(b[["position", "wt", "mt"]])
            # tables hold 7 significant digits: equal numbers computed in another order can round
            # one unit apart in the 7th digit (1e-5 at |log p| > 10), hence rtol on top of atol
            for col in ["log_prob", "prob", "score"]:
                np.testing.assert_allclose(a[col], b[col], atol=1e-5, rtol=2e-6, err_msg=f"{name} {m} {col}")
        if models == MODELS:
            a = pd.read_csv(wd / f"results/{name}/ensemble.tsv", sep="\t")
            b = pd.read_csv(local / f"results/{name}/ensemble.tsv", sep="\t")
            assert list(a.columns) == list(b.columns) and len(a) == len(b) == len(PROTEINS[NAMES[name]]) * 20
            numeric = a.select_dtypes("number").columns
            np.testing.assert_allclose(a[numeric], b[numeric], atol=1e-5, rtol=2e-6)
            assert (wd / f"results/{name}/heatmap.png").read_bytes()[:4] == b"\x89PNG"


def scan_for(secret: str, roots, texts) -> tuple[int, list[str]]:
    """Every file under roots (hidden folders such as .snakemake/ included) and every text."""
    scanned, found = 0, []
    needle = secret.encode()
    for root in roots:
        for path in [root] if root.is_file() else root.rglob("*"):
            if path.is_file():
                scanned += 1
                if needle in path.read_bytes():
                    found.append(str(path))
    found += [f"output #{i}" for i, t in enumerate(texts) if secret in t]
    return scanned, found


def test_workflow_equals_local_backend_reruns_send_nothing_and_the_token_stays_secret(
        standin, common, local_run, tmp_path):
    env = {"BIOLMAI_TOKEN": TOKEN, "BIOLMAI_BASE_API_URL": standin.url}  # the URL as BioLM's client reads it
    config = biolm_config(common, tmp_path)
    wd = tmp_path / "run"
    outputs = []
    proc = run_workflow(wd, config, env=env)
    outputs.append(proc.stdout + proc.stderr)
    assert_outputs_equal_local(wd, local_run)
    # esm1v-all: one request per batch of 5 positions for all five model jobs together
    assert standin.requests == BATCHES and set(standin.outcomes()) == {"ok"}
    assert {r.endpoint for r in standin.log} == {"esm1v-all"}
    logs = "".join((wd / f"logs/score/{m}/shard0001.log").read_text() for m in MODELS)
    assert f"via BioLM esm1v-all at {standin.url}" in logs
    assert logs.count("items fetched") == 5

    # a rerun: nothing to do, nothing sent
    proc = run_workflow(wd, config, env=env)
    outputs.append(proc.stdout + proc.stderr)
    assert "Nothing to be done" in outputs[-1] and standin.requests == BATCHES
    # outputs and the score cache gone: the response cache answers everything
    shutil.rmtree(wd / "results")
    shutil.rmtree(tmp_path / "score_cache")
    proc = run_workflow(wd, config, env=env)
    outputs.append(proc.stdout + proc.stderr)
    assert standin.requests == BATCHES
    assert_outputs_equal_local(wd, local_run)
    # another FASTA holding one of the proteins, without a score cache: nothing sent for it
    other = {**config, "sequences": str(write_fasta(tmp_path / "other.fasta", {"renamed": PROTEINS["tiny_2"]})),
             "cache_dir": None}
    proc = run_workflow(tmp_path / "other", other, env=env)
    outputs.append(proc.stdout + proc.stderr)
    assert standin.requests == BATCHES
    assert (tmp_path / "other/results/renamed/ensemble.tsv").exists()

    # the report builds, and the token is nowhere: outputs, logs, .snakemake/ metadata, caches,
    # the report, what Snakemake printed
    proc = run_workflow(wd, config, "--report", "report.html", env=env)
    outputs.append(proc.stdout + proc.stderr)
    assert (wd / "report.html").stat().st_size > 10_000
    methods = (wd / "results/provenance/methods.html").read_text()
    assert "were run through the BioLM API [4] (" in methods, methods[:3000]
    assert "endpoint esm1v-all; " in methods
    assert "BioLM API, ESM-1v endpoints" in methods and "sha256" not in methods
    assert list((wd / ".snakemake/metadata").iterdir())
    roots = [wd, tmp_path / "other", tmp_path / "responses", tmp_path / "score_cache"]
    scanned, found = scan_for(TOKEN, roots, outputs)
    assert scanned > 100 and not found, found
    # the scan does see what the jobs wrote: the server URL is in the logs and the metadata
    assert scan_for(standin.url, [wd / "logs", wd / ".snakemake/metadata"], [])[1]


FAULTS = [
    Fault("status", status=429, retry_after="1"),
    Fault("status", status=429),
    Fault("status", status=500),
    Fault("status", status=503),
    Fault("stall", seconds=4),
    Fault("malformed"),
    Fault("wrong_count"),
    Fault("missing_aa"),
    Fault("drop"),
]


def test_every_fault_end_to_end_with_capped_api_jobs(standin, common, local_run, tmp_path):
    """Per-model endpoints, every fault of the contract once, one API job at a time
    (--resources biolm_api=1): the outputs equal the local backend's."""
    standin.inject(*FAULTS)
    config = biolm_config(common, tmp_path, standin.url, endpoint="per-model", timeout_s=2.0, max_attempts=6)
    wd = tmp_path / "run"
    proc = run_workflow(wd, config, "--resources", "biolm_api=1", env={"BIOLMAI_TOKEN": TOKEN})
    assert_outputs_equal_local(wd, local_run)
    outcomes = standin.outcomes()
    assert sorted(o for o in outcomes if o != "ok") == sorted(
        ["status 429", "status 429", "status 500", "status 503", "stall", "malformed", "wrong_count",
         "missing_aa", "drop"])
    assert outcomes.count("ok") == 5 * BATCHES and not standin.faults
    logs = "".join((wd / f"logs/score/{m}/shard0001.log").read_text() for m in MODELS)
    assert logs.count("; retry ") == 9 and "(Retry-After)" in logs
    # one API job at a time: each model's requests form one unbroken block of the server's log
    endpoints = [r.endpoint for r in standin.log]
    blocks = [e for i, e in enumerate(endpoints) if i == 0 or e != endpoints[i - 1]]
    assert sorted(blocks) == [f"esm1v-n{k}" for k in range(1, 6)], blocks
    assert TOKEN not in proc.stdout + proc.stderr + logs


def test_a_killed_run_resumes_without_asking_again(standin, common, local_run, tmp_path):
    """SIGKILL the whole run mid-way: every cache entry on disk is whole, and the resumed run asks
    only for the positions that were not stored."""
    standin.latency_s = 0.2
    config = {**biolm_config(common, tmp_path, standin.url, endpoint="per-model", items_per_request=1,
                             max_in_flight=2), "models": MODELS[:1]}
    wd = tmp_path / "run"
    wd.mkdir()
    (wd / "test-config.yaml").write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(wd),
           "--configfile", str(wd / "test-config.yaml"), "--cores", "2"]
    run = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                           env={**os.environ, "BIOLMAI_TOKEN": TOKEN})
    deadline = time.monotonic() + 120
    while standin.outcomes().count("ok") < 12 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert standin.wait_idle()  # the killed client's last requests are answered into the void
    assert standin.outcomes().count("ok") >= 12
    entries = list((tmp_path / "responses").glob("??/*.json"))
    stored = len(entries)
    before = {e.stem for e in entries}
    assert 1 <= stored < 98
    for entry in entries:  # whole entries only (a killed write leaves at most a hidden temp file)
        assert len(yaml.safe_load(entry.read_text())["scores"]["esm1v-n1"]) == 20
    standin.reset()
    run_workflow(wd, config, "--unlock", env={"BIOLMAI_TOKEN": TOKEN})
    run_workflow(wd, config, "--rerun-incomplete", env={"BIOLMAI_TOKEN": TOKEN})
    assert standin.requests == 98 - stored
    sent = {ResponseCache.key(standin.url, "esm1v-n1", item) for item in standin.answered_items()}
    every = {ResponseCache.key(standin.url, "esm1v-n1", masked_item(seq, p, 1022))
             for seq in PROTEINS.values() for p in range(1, len(seq) + 1)}
    assert sent == every - before  # exactly what was missing, each once
    assert_outputs_equal_local(wd, local_run, models=MODELS[:1])


def test_configuration_errors(standin, common, tmp_path):
    # wt-marginals cannot work through the API: one line at parse time, before any job
    bad = {**biolm_config(common, tmp_path, standin.url), "strategy": "wt-marginals"}
    proc = run_workflow(tmp_path / "wt", bad, check=False, env={"BIOLMAI_TOKEN": TOKEN})
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out
    assert "esm1v-scan: strategy: wt-marginals needs the local backend: BioLM's API only scores masked" in out
    assert not (tmp_path / "wt/results").exists()
    # no token: a dry run works (and shows the API resource), a real run stops at the first job
    config = biolm_config(common, tmp_path, standin.url)
    proc = run_workflow(tmp_path / "dry", config, "-n", env={"BIOLMAI_TOKEN": ""})
    assert "biolm_api=1" in proc.stdout + proc.stderr
    proc = run_workflow(tmp_path / "notoken", config, check=False, env={"BIOLMAI_TOKEN": ""})
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "esm1v-scan: BIOLMAI_TOKEN is not set: backend: biolm needs your BioLM API token" in out
    assert not list((tmp_path / "notoken").glob("results/*/scores/*.tsv"))
    assert standin.requests == 0


def test_a_failing_run_says_each_error_once_and_promises_no_resume_without_a_cache(
        standin, common, tmp_path):
    """Two model jobs fail: esm1v-n1 on a refused token (HTTP 401), esm1v-n2 on answers with a
    probability of 0 (log p = -inf), which are malformed: retried, then one line naming the
    sequence and position. What Snakemake prints (with the job logs, show-failed-logs) holds each
    job's error line once; with the response cache off nothing claims answers are cached; no
    table is written, so no -inf reaches ensemble.tsv, positions.tsv or summary.tsv."""
    standin.inject(Fault("status", status=401, endpoint="esm1v-n1", body={"detail": "Invalid token."}))
    standin.always = Fault("zero_score")
    config = {**common, "models": MODELS[:2], "backend": "biolm", "cache_dir": str(tmp_path / "score_cache"),
              "biolm": fast_config(standin.url, None, endpoint="per-model", max_in_flight=1, max_attempts=2)}
    wd = tmp_path / "run"
    proc = run_workflow(wd, config, check=False, env={"BIOLMAI_TOKEN": TOKEN})
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out
    refused = (f"esm1v-scan: BioLM refused the API token (HTTP 401) at {standin.url}/esm1v-n1/predict/: check "
               "that BIOLMAI_TOKEN holds a valid BioLM API token with access to esm1v-n1\n")
    malformed = re.compile(r"esm1v-scan: BioLM esm1v-n2: sequence 'sp\|P0CG48\|UBC_HUMAN', positions 1-5: no valid "
                           r"answer after 2 attempts \(last: answer breaks the API contract at position 1: item 0: "
                           r"score of [A-Y] is 0\.0, not a probability in \(0, 1\]\)\n")
    assert out.count(refused) == 1, out
    assert len(malformed.findall(out)) == 1, out
    # nothing else said twice, nothing else said (besides the run's cost forecast, once)
    assert out.count("esm1v-scan:") - out.count("esm1v-scan: forecast:") == 2
    assert out.count("esm1v-scan: forecast:") == 1
    logs = {m: (wd / f"logs/score/{m}/shard0001.log").read_text() for m in MODELS[:2]}
    assert logs[MODELS[0]].count(refused) == 1 and len(malformed.findall(logs[MODELS[1]])) == 1
    assert "rerun to resume" not in out and "are cached" not in out
    assert standin.outcomes().count("zero_score") == 2 and "status 401" in standin.outcomes()
    assert not list(wd.glob("results/*/ensemble.tsv")) and not (wd / "results/summary.tsv").exists()
    assert not list(wd.glob("results/shards/*/scores/*.parquet"))
    assert not list((tmp_path / "score_cache").glob("??/*.tsv"))
    assert TOKEN not in out
