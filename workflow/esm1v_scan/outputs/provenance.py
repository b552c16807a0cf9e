"""Provenance: what produced a run's numbers, written next to them.

Each scoring job writes a small JSON record (:func:`job_record`) of what it actually used on the
machine it ran on: model file and sha256 (or the API endpoint and date), device and its name,
precision, batch size, strategy, Python/torch/fair-esm versions, cache hits. The ``provenance``
rule gathers them with the resolved config, the software versions of the submit host and the
workflow's git commit into ``results/provenance/provenance.yaml`` (:func:`build`), which the report
shows.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from esm1v_scan.files import write_text

#: How records, figures and the report mark weights that are not the published ESM-1v.
RANDOM_STAMP = "random weights - not ESM-1v"

#: Distributions whose versions are recorded (those that change numbers, figures or the DAG).
SCORING_PACKAGES = ("torch", "fair-esm", "numpy", "pandas", "requests")
HOST_PACKAGES = ("snakemake", "snakemake-executor-plugin-slurm", "pandas", "numpy", "matplotlib",
                 "biopython", "pyyaml")


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def versions(packages) -> dict[str, str | None]:
    out = {}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state(folder: str | os.PathLike) -> dict:
    """Commit of the git repository holding ``folder``, and whether tracked files differ from it
    (``dirty``). Both None outside a repository or without git."""
    def git(*args):
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                              timeout=30)
    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return {"commit": None, "dirty": None}
        status = git("status", "--porcelain", "--untracked-files=no")
        dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
        return {"commit": head.stdout.strip(), "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def package_origin() -> dict:
    """Where this esm1v_scan came from: the git source and commit a module was pinned to (the
    ``source.json`` next to a copy taken from Snakemake's source cache, rules/common.smk), else the
    folder holding the package and its git state."""
    from esm1v_scan import __version__

    home = Path(__file__).resolve().parents[2]  # workflow/
    pinned = home / "source.json"
    if pinned.is_file():
        origin = json.loads(pinned.read_text())
        return {"version": __version__, "source": origin["source"], "ref": origin["ref"],
                "git": {"commit": origin["commit"], "dirty": False}}
    return {"version": __version__, "source": str(home), "git": git_state(home)}


def device_description(device) -> str:
    """'cpu' or 'cuda:0 (NVIDIA H100 80GB HBM3)'."""
    text = str(device)
    if getattr(device, "type", None) == "cuda":
        import torch

        text += f" ({torch.cuda.get_device_name(device)})"
    return text


def job_record(backend, *, model: str, shard: str, backend_name: str, strategy: str,
               cache=None) -> dict:
    """What one scoring job used, for any backend (see :mod:`esm1v_scan.scoring.job`)."""
    rec = {
        "model": model,
        "shard": shard,
        "backend": backend_name,
        "identity": backend.identity,
        "strategy": strategy,
        "host": socket.gethostname(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),  # None outside a SLURM job
        "finished": utc_now(),
        "python": platform.python_version(),
        "packages": versions(SCORING_PACKAGES),
    }
    loaded = getattr(backend, "loaded", None)
    rec["published_esm1v"] = True if loaded is None else loaded.published  # the API serves ESM-1v
    rec["weights"] = "ESM-1v" if rec["published_esm1v"] else RANDOM_STAMP
    if loaded is not None:  # the local fair-esm backend
        rec["checkpoint"] = {"source": loaded.source, "sha256": _sha_of(loaded.identity)}
        if loaded.source and Path(loaded.source).is_file():
            rec["checkpoint"]["size"] = Path(loaded.source).stat().st_size
    for attr in ("device", "precision", "batch_size", "endpoint", "long_windows"):
        if getattr(backend, attr, None) is not None:
            value = getattr(backend, attr)
            rec[attr] = device_description(value) if attr == "device" else value
    if getattr(backend, "endpoint", None) is not None:
        rec["date"] = _dt.datetime.now(_dt.timezone.utc).date().isoformat()
    if cache is not None:
        rec["cache"] = {"hits": cache.hits, "scored": cache.misses}
    return rec


def random_weights(jobs: list[dict]) -> bool:
    """Whether any job scored with weights that are not the published ESM-1v (a record without
    the field predates the check and counts as published)."""
    return any(not j.get("published_esm1v", True) for j in jobs)


def read_jobs(paths) -> list[dict]:
    """The job records (JSON) at ``paths``."""
    return [json.loads(Path(p).read_text()) for p in paths]


def _sha_of(identity: str) -> str | None:
    return identity.split(":", 1)[1] if identity.startswith("sha256:") else None


def write_json(record: dict, path: str | os.PathLike) -> None:
    write_text(path, json.dumps(record, indent=1, sort_keys=True) + "\n")


def _one_or_all(values):
    """A single value when every job agrees, else the sorted distinct values."""
    distinct = sorted({json.dumps(v, sort_keys=True) for v in values})
    decoded = [json.loads(v) for v in distinct]
    return decoded[0] if len(decoded) == 1 else decoded


def build(jobs: list[dict], config: dict, workflow_dir: str | os.PathLike, git: dict | None = None,
          snakemake_version: str | None = None, origin: dict | None = None,
          project: dict | None = None) -> dict:
    """The run's provenance document (plain data, for YAML). ``git`` and ``snakemake_version``
    default to what this process sees; ``origin`` is :func:`package_origin` of the rules' package
    (its version, source and git state win over ``workflow_dir``/``git``), ``project`` the
    Snakefile that ran the workflow (a module's user project) and its git state."""
    host_packages = versions(HOST_PACKAGES)
    if snakemake_version:
        host_packages["snakemake"] = snakemake_version
    jobs = sorted(jobs, key=lambda j: (j["model"], j["shard"]))
    models = {}
    for j in jobs:
        entry = models.setdefault(j["model"], {"identity": j["identity"]})
        if "published_esm1v" in j:
            entry["published_esm1v"] = entry.get("published_esm1v", True) and j["published_esm1v"]
        if "checkpoint" in j:
            entry.update({k: v for k, v in j["checkpoint"].items()})
        if "endpoint" in j:
            entry["endpoint"] = j["endpoint"]
            entry.setdefault("dates", set()).add(j["date"])
    for entry in models.values():
        if "dates" in entry:
            entry["dates"] = sorted(entry["dates"])
    scoring = {}
    for key in ("device", "precision", "strategy", "backend", "python"):
        values = [j[key] for j in jobs if key in j]
        if values:
            scoring[key] = _one_or_all(values)
    for pkg in ("torch", "fair-esm"):
        values = [j["packages"].get(pkg) for j in jobs]
        if values:
            scoring[pkg] = _one_or_all(values)
    summary = {
        "python": scoring.get("python", platform.python_version()),
        "torch": scoring.get("torch"),
        "fair-esm": scoring.get("fair-esm"),
        "snakemake": host_packages.get("snakemake"),
    }
    random = sorted(m for m, e in models.items() if not e.get("published_esm1v", True))
    return {
        "weights": f"{RANDOM_STAMP}: {', '.join(random)}" if random else "ESM-1v",
        "created": utc_now(),
        "versions": summary,
        "workflow": {
            "name": "esm1v-scan",
            "directory": str(workflow_dir),
            "git": git if git is not None else git_state(workflow_dir),
            **(origin or {}),
        },
        "project": project,
        "submit_host": {
            "host": socket.gethostname(),
            "python": platform.python_version(),
            "python_executable": sys.executable,
            "packages": host_packages,
        },
        "scoring": scoring,
        "models": models,
        "config": config,
        "jobs": jobs,
    }
