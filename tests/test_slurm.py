"""The tiny workflow through a real single-node SLURM cluster (tests/slurm/cluster.sh: slurmctld,
slurmd, slurmdbd + MariaDB, munge from Debian's packages) with the repository's SLURM profile, its
two placeholders filled in; its outputs must equal a local run's, byte for byte.

Needs root and the Debian packages (`tests/slurm/cluster.sh install`). Without them the tests are
skipped, unless ESM1V_SCAN_REQUIRE_SLURM=1 (CI sets it), which turns that into a failure.
"""

import os
import re
import shutil
import subprocess

import pytest
import yaml

from conftest import MODELS, REPO, config_for, result_files, run_workflow

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

CLUSTER = REPO / "tests/slurm/cluster.sh"
DAEMONS = ("slurmctld", "slurmd", "slurmdbd", "sbatch", "sacct", "munged", "mariadbd")


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "the test cluster must be started as root"
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    absent = [d for d in DAEMONS if shutil.which(d, path=path) is None]
    if absent:
        return f"not installed: {' '.join(absent)} (run tests/slurm/cluster.sh install)"
    return None


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A running cluster for this module; yields the extra Snakemake arguments it needs."""
    why = _missing()
    if why:
        if os.environ.get("ESM1V_SCAN_REQUIRE_SLURM") == "1":
            pytest.fail(f"SLURM test required but {why}")
        pytest.skip(why)
    state = tmp_path_factory.mktemp("slurm-state")
    start = subprocess.run([str(CLUSTER), "start", str(state)], capture_output=True, text=True,
                           timeout=300)
    if start.returncode != 0:
        subprocess.run([str(CLUSTER), "stop", str(state)], capture_output=True, timeout=300)
        pytest.fail(f"cluster.sh start failed:\n{start.stderr[-6000:]}")
    try:
        yield start.stdout.split()
    finally:
        stop = subprocess.run([str(CLUSTER), "stop", str(state)], capture_output=True, text=True,
                              timeout=300)
        assert stop.returncode == 0, stop.stderr[-4000:]


@pytest.fixture
def profile(tmp_path):
    """profiles/slurm with its placeholders filled in for the test cluster (what a user does)."""
    text = (REPO / "profiles/slurm/config.yaml").read_text()
    assert text.count("<YOUR_PARTITION>") == 1 and text.count("<YOUR_ACCOUNT>") == 1
    folder = tmp_path / "profile"
    folder.mkdir()
    (folder / "config.yaml").write_text(
        text.replace("<YOUR_PARTITION>", "debug").replace("<YOUR_ACCOUNT>", "root"))
    return folder


def run_slurm(wd, config, profile, slurm, *args, check=True):
    return run_workflow(wd, config, "--workflow-profile", str(profile), *slurm, *args,
                        check=check, timeout=900)


def submitted(out: str) -> dict[str, str]:
    """SLURM job id -> log path, from Snakemake's 'submitted with SLURM jobid' lines."""
    return dict(re.findall(r"submitted with SLURM jobid (\d+) \(log: ([^)]*)\)", out))


def test_tiny_workflow_through_slurm_equals_a_local_run(slurm, profile, tmp_path, tiny_dir):
    wd = tmp_path / "slurm" / "work"
    # (the job logs kept: the forecast check below reads them)
    proc = run_slurm(wd, config_for(tmp_path / "slurm", tiny_dir), profile, slurm,
                     "--slurm-keep-successful-logs")
    out = proc.stdout + proc.stderr
    # the five scoring jobs, and only they, went through sbatch (local rules stayed here)
    jobs = submitted(out)
    assert len(jobs) == len(MODELS), out[-4000:]
    assert {re.search(r"rule_(\w+?)/", log).group(1) for log in jobs.values()} == {"score"}
    # the cost forecast: once, from the Snakemake that submits; the jobs on the node, which
    # parse the Snakefile again (--mode remote), print none
    assert out.count("esm1v-scan: forecast: ") == 1, out[-4000:]
    for log in jobs.values():
        text = (wd / log).read_text()  # wd / an absolute path is that path
        assert "rule score" in text, text[-2000:]  # the job's own log
        assert "esm1v-scan: forecast" not in text, text[-2000:]
    acct = subprocess.run(["sacct", "-n", "-X", "-P", "-j", ",".join(jobs),
                           "-o", "JobID,State,Partition,Account,ReqMem,AllocCPUS"],
                          capture_output=True, text=True, check=True).stdout.split()
    rows = sorted(line.split("|") for line in acct)
    assert [r[0] for r in rows] == sorted(jobs)
    assert all(r[1:] == ["COMPLETED", "debug", "root", "12000M", "1"] for r in rows), rows
    # each scoring job recorded the SLURM job it ran in
    prov = yaml.safe_load((wd / "results/provenance/provenance.yaml").read_text())
    assert sorted(j["slurm_job_id"] for j in prov["jobs"]) == sorted(jobs)
    assert prov["scoring"]["device"] == "cpu"

    local = tmp_path / "local" / "work"
    run_workflow(local, config_for(tmp_path / "local", tiny_dir))
    a, b = result_files(wd), result_files(local)
    assert sorted(a) == sorted(b) and "tiny_2/heatmap.svg" in a
    assert [k for k in a if a[k] != b[k]] == []
    local_prov = yaml.safe_load((local / "results/provenance/provenance.yaml").read_text())
    assert {j["slurm_job_id"] for j in local_prov["jobs"]} == {None}


@pytest.mark.parametrize("gpu_resource, flag", [("gpu", "--gpus=1"),
                                                 ("gres:a100", "--gres=gpu:a100:1")])
def test_a_gpu_scoring_job_asks_sbatch_for_a_gpu(slurm, profile, tmp_path, tiny_dir,
                                                 gpu_resource, flag):
    """With a GPU device, scoring jobs reach sbatch with the GPU request; this cluster has no
    GPU, so sbatch refuses them and Snakemake shows the call it made."""
    config = config_for(tmp_path, tiny_dir, models=MODELS[:1], device="cuda",
                        gpu_resource=gpu_resource)
    proc = run_slurm(tmp_path / "work", config, profile, slurm, "--retries", "0", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    calls = [line for line in out.splitlines() if line.strip().startswith("sbatch --")]
    assert calls, out[-4000:]
    for call in calls:
        assert f" {flag}" in call and " --mem 12000" in call and " -p debug" in call, call
    assert "sbatch: error: Invalid generic resource (gres) specification" in out
