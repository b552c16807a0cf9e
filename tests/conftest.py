"""Shared fixtures: tiny ESM-1v checkpoints and a runner for the real workflow in a temp folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))  # this checkout's package, before any installed one

#: real data carried in the repository (fair-esm's TEM-1 example, MIT: tests/data/README.md)
DATA = REPO / "tests" / "data"
MODELS = [f"esm1v_t33_650M_UR90S_{k}" for k in range(1, 6)]


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    """Five tiny random-weight checkpoints in the real ESM-1v format, named like the real ones."""
    from esm1v_scan.scoring.tiny_models import write_tiny_models

    out = tmp_path_factory.mktemp("tiny_models")
    write_tiny_models(out)
    return out


@pytest.fixture(scope="session")
def tiny_model(tiny_dir):
    from esm1v_scan.scoring.models import load_model

    return load_model(MODELS[0], tiny_dir, offline=True)


def write_fasta(path: Path, records: dict[str, str] | str) -> Path:
    text = records if isinstance(records, str) else "".join(f">{k}\n{v}\n" for k, v in records.items())
    path.write_text(text)
    return path


def run_workflow(workdir: Path, config: dict, *args: str, check: bool = True, env=None,
                 timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile with ``config`` (written to workdir/config.yaml)."""
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = workdir / "test-config.yaml"
    cfg.write_text(yaml.safe_dump(config, sort_keys=False))
    cmd = [
        sys.executable, "-m", "snakemake",
        "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir),
        "--configfile", str(cfg),
        "--cores", "2",
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


@pytest.fixture
def base_config(tiny_dir, tmp_path):
    """A config for the tiny models, offline, with its own cache in the temp folder."""
    return {
        "sequences": str(write_fasta(tmp_path / "input.fasta", {
            "sp|P0CG48|UBC_HUMAN": "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG",
            "tiny_2": "MKTAYIAKQRQISFVKSHFSRQ",
        })),
        "models": MODELS,
        "model_dir": str(tiny_dir),
        "offline": True,
        "device": "cpu",
        "threads": 1,
        "cache_dir": str(tmp_path / "cache"),
    }


# -- reproducibility helpers (tests/test_reproducibility.py, tests/test_slurm.py) ---------------

SEQS = {
    "sp|P0CG48|UBC_HUMAN": "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG",
    "tiny_2": "MKTAYIAKQRQISFVKSHFSRQ",
}


def config_for(tmp: Path, tiny_dir: Path, **extra) -> dict:
    """A tiny-model config with its own score cache and weights lock under ``tmp``."""
    tmp.mkdir(parents=True, exist_ok=True)
    return {
        "sequences": str(write_fasta(tmp / "input.fasta", SEQS)),
        "models": MODELS,
        "model_dir": str(tiny_dir),
        "offline": True,
        "device": "cpu",
        "threads": 1,
        "cache_dir": str(tmp / "cache"),
        "weights_lock": str(tmp / "weights.lock.tsv"),
        **extra,
    }


def result_files(wd: Path) -> dict[str, bytes]:
    """Every table and figure of a run (provenance excluded: it records times and hosts)."""
    root = wd / "results"
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "provenance" not in p.parts
    }


def required_tool(name: str, require_env: str, install: str) -> str:
    """The path of an external program a test needs (chromium, bcftools): the test is skipped
    when it is absent, and fails instead when ``$require_env`` is 1 (CI sets it)."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get(require_env) == "1":
            pytest.fail(f"{name} required ({require_env}=1) but not installed")
        pytest.skip(f"{name} not installed ({install})")
    return path
