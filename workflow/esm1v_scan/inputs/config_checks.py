"""Config checks run while the Snakefile is parsed: one line per problem, before any job.

:func:`validate` runs Snakemake's schema validation (which also fills in the defaults) and turns
its error, a first line followed by the whole schema, into one line naming the key; an unknown key
gets the nearest valid one. :func:`check_device` stops a run that would execute ``device: cuda``
scoring jobs on this machine when torch sees no CUDA GPU, and ``precision: fp16`` when auto finds none;
:func:`check_precision` refuses fp16 on a CPU. :func:`check_config_file` names the
file, line and column of a YAML syntax error (Snakemake's own message names none of them);
``python -m esm1v_scan.inputs.config_checks FILE ...`` runs it on files given with ``--configfile``, which
Snakemake reads before the workflow's code runs.
"""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path

from esm1v_scan.errors import InputError


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
    import yaml
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


def _at(mark) -> str:
    return f"line {mark.line + 1} column {mark.column + 1}"


def _yaml_problem(err) -> str:
    """'line 7 column 3: found character '\\t' that cannot start any token', plus where an
    unclosed construct started (``while parsing a flow sequence started at line 2 column 10``)."""
    mark = err.problem_mark or err.context_mark
    text = f"{_at(mark)}: {err.problem or err.context}"
    if err.problem and err.context and err.context_mark is not None and (
            err.context_mark.line, err.context_mark.column) != (mark.line, mark.column):
        text += f" ({err.context} started at {_at(err.context_mark)})"
    return text


def check_config_file(path: str | Path) -> None:
    """Raise one InputError line when ``path`` is not a config file Snakemake can read: a YAML
    syntax error (a tab, an unclosed bracket or quote, a bad indent) with its line and column,
    text that is not UTF-8, or a top level that is not ``key: value`` pairs. Like Snakemake, a
    file that parses as JSON is taken as JSON. A missing file is left to the caller."""
    import yaml  # here: the scoring job imports this module for check_precision, without PyYAML

    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise InputError(f"line {line} column {column}: not UTF-8 text (byte "
                         f"0x{data[err.start]:02x}); save it as UTF-8", file=path) from None
    try:
        node = json.loads(text)
        is_mapping = isinstance(node, dict)
    except ValueError:
        try:  # syntax only (scanner, parser, composer): the tags are Snakemake's loader's business
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as err:
            raise InputError(_yaml_problem(err), file=path) from None
        except yaml.YAMLError as err:  # pragma: no cover - every syntax error carries a mark
            raise InputError(str(err).splitlines()[0], file=path) from None
        is_mapping = isinstance(node, yaml.MappingNode)
    if not is_mapping:
        raise InputError("a config file holds key: value pairs at the top level; this one does "
                         "not (it is empty, a list or a single value)", file=path)


def main(argv: list[str] | None = None) -> int:
    """``python -m esm1v_scan.inputs.config_checks FILE ...``: check config files as the workflow does its
    own; prints one line per bad file and returns 1 if there was any."""
    bad = 0
    for path in sys.argv[1:] if argv is None else argv:
        try:
            check_config_file(path)
        except (InputError, OSError) as err:
            print(f"esm1v-scan: {err}", file=sys.stderr)
            bad += 1
    return 1 if bad else 0


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def check_device(config: dict, jobs_run_here: bool, cuda=cuda_available) -> None:
    """``device: cuda`` needs a GPU where the scoring jobs run. Checked only when they run on
    this machine (the local executor): a cluster submit host without a GPU may submit GPU jobs,
    and the job's own device check stops it on a node without one. ``device: auto`` with
    ``precision: fp16`` and no GPU here: fp16 would run on this CPU (:func:`check_precision`)."""
    if config.get("backend", "local") != "local":
        return
    if config.get("device") == "auto" and config.get("precision") == "fp16" and jobs_run_here \
            and not cuda():
        check_precision(config, "cpu")
    if config.get("device") != "cuda":
        return
    if jobs_run_here and not cuda():
        raise InputError(
            "config key 'device' is cuda but torch sees no CUDA GPU on this machine; use "
            "device: auto or cpu, or run the jobs on GPU nodes (e.g. --profile profiles/slurm)"
        )


#: why fp16 is refused on a CPU (measured on a 2-core AMD EPYC with AVX2, torch 2.13, ESM-1v's
#: shapes: torch.mm 512x1280x5120 at 0.7 GFLOP/s in fp16 against 67 in fp32; a 2-layer width-320
#: model scanned 2.4x slower in fp16). CPUs have no fp16 matrix units: AVX512-FP16/AMX-FP16
#: exist only on a few Xeons, and oneDNN's fp16 kernels are not used by torch's CPU matmul here.
FP16_ON_CPU = (
    "precision fp16 runs on a CPU here, and CPUs have no fp16 matrix units (measured ~100x "
    "slower than fp32 at ESM-1v's shapes); use precision: fp32, or bf16 on a CPU with "
    "AVX512-BF16 or AMX, or run on a GPU (device: cuda), where fp16 is fast"
)


def check_precision(config: dict, device: str | None = None) -> None:
    """``precision: fp16`` only where the scoring jobs run on a GPU: refused for ``device: cpu``
    (at parse time) and for ``device`` resolved to the CPU (``device``: what auto became, given
    by :func:`check_device` and by the scoring job)."""
    if config.get("backend", "local") != "local" or config.get("precision") != "fp16":
        return
    where = device or config.get("device", "auto")
    if where == "cpu":
        said = "" if config.get("device") == "cpu" else " (device: auto found no CUDA GPU)"
        raise InputError(f"config key 'precision': {FP16_ON_CPU}{said}")


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


# -- config/README.md's key table ----------------------------------------------------------------
def key_rows(properties: dict, prefix: str = "") -> list[str]:
    """One Markdown row per config key of the schema (nested objects as ``parent.key``): the key,
    its default (JSON for booleans, lists and mappings) and its description on one line."""
    rows = []
    for key, spec in properties.items():
        if spec.get("type") == "object" and "properties" in spec:
            rows += key_rows(spec["properties"], f"{prefix}{key}.")
            continue
        default = spec.get("default")
        shown = json.dumps(default) if isinstance(default, (bool, list, dict)) or default is None else str(default)
        meaning = " ".join(spec.get("description", "").split()).replace("|", "\\|")
        rows.append(f"| `{prefix}{key}` | `{shown}` | {meaning} |")
    return rows


def readme_with_keys(readme: str, schema: dict) -> str:
    """``readme`` (config/README.md's text) with its key table rewritten from ``schema``: the rows
    after the table's ``|---|---|---|`` line, up to the first line that is not a row."""
    lines = readme.split("\n")
    start = lines.index("|---|---|---|") + 1
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "\n".join(lines[:start] + key_rows(schema["properties"]) + lines[end:])


if __name__ == "__main__":
    sys.exit(main())
