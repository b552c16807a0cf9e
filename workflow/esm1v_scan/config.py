"""Config checks run while the Snakefile is parsed: one line per problem, before any job.

:func:`validate` runs Snakemake's schema validation (which also fills in the defaults) and turns
its error, a first line followed by the whole schema, into one line naming the key; an unknown key
gets the nearest valid one. :func:`check_device` stops a run that would execute ``device: cuda``
scoring jobs on this machine when torch sees no CUDA GPU.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import yaml

from .errors import InputError


def _where(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _one_line(error, schema: dict) -> str:
    """A jsonschema ValidationError as one line naming the config key."""
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = list(error.schema.get("properties", {}))
        unknown = [k for k in error.instance if k not in known]
        if unknown:
            key = unknown[0]
            near = difflib.get_close_matches(str(key), known, n=1, cutoff=0.5)
            hint = f"; did you mean '{near[0]}'?" if near else f"; valid keys: {', '.join(known)}"
            prefix = _where(error.absolute_path)
            name = f"{prefix}.{key}" if error.absolute_path else key
            return f"unknown config key '{name}'{hint}"
    message = error.message.splitlines()[0]
    if len(message) > 200:
        message = message[:200].rsplit(" ", 1)[0] + " ..."
    return f"config key '{_where(error.absolute_path)}': {message}"


def validate(config: dict, schema_path: str | Path) -> None:
    """Check ``config`` against the schema and fill in its defaults, as
    ``snakemake.utils.validate`` does; an error is one InputError line, naming the key."""
    import jsonschema
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate as snakemake_validate

    try:
        snakemake_validate(config, str(schema_path))
    except WorkflowError:
        schema = yaml.safe_load(Path(schema_path).read_text())
        cls = jsonschema.validators.validator_for(schema)
        error = jsonschema.exceptions.best_match(cls(schema).iter_errors(config))
        if error is None:  # pragma: no cover - Snakemake and jsonschema disagree
            raise
        raise InputError(_one_line(error, schema)) from None


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def check_device(config: dict, jobs_run_here: bool, cuda=cuda_available) -> None:
    """``device: cuda`` needs a GPU where the scoring jobs run. Checked only when they run on
    this machine (the local executor): a cluster submit host without a GPU may submit GPU jobs,
    and the job's own device check stops it on a node without one."""
    if config.get("backend", "local") != "local" or config.get("device") != "cuda":
        return
    if jobs_run_here and not cuda():
        raise InputError(
            "config key 'device' is cuda but torch sees no CUDA GPU on this machine; use "
            "device: auto or cpu, or run the jobs on GPU nodes (e.g. --profile profiles/slurm)"
        )


def check_long_windows(config: dict) -> None:
    """``long_windows: proteingym`` needs what it reproduces: ProteinGym's windows are cut out of
    the local model's whole token string, for masked marginals."""
    if config.get("long_windows", "esm1v-scan") == "esm1v-scan":
        return
    if config.get("backend", "local") != "local":
        raise InputError(
            f"config key 'long_windows' is {config['long_windows']} but backend is "
            f"{config['backend']}: BioLM's API wraps every item in BOS/EOS, so its windows cannot "
            "be ProteinGym's; use backend: local, or long_windows: esm1v-scan"
        )
    if config.get("strategy", "masked-marginals") != "masked-marginals":
        raise InputError(
            f"config key 'long_windows' is {config['long_windows']} but strategy is "
            f"{config['strategy']}: ProteinGym's windows are defined for masked-marginals only; "
            "use strategy: masked-marginals, or long_windows: esm1v-scan"
        )
