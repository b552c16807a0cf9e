# Shared set-up: config validation, the parsed FASTA, shards, and helpers for the rules.
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

# the esm1v_scan package lives next to the rules; scripts find it through Snakemake's search path
sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))

from esm1v_scan import biolm, fasta, models, planning  # noqa: E402
from esm1v_scan.errors import InputError  # noqa: E402


validate(config, "../schemas/config.schema.yaml")


def _checked(fn, *args, **kwargs):
    """Run a parse-time check; turn bad input into a one-line WorkflowError (no traceback)."""
    try:
        return fn(*args, **kwargs)
    except InputError as err:
        raise WorkflowError(f"esm1v-scan: {err}") from None


def _check_models():
    if config["backend"] != "local":
        return
    for name in config["models"]:
        models.resolve_checkpoint(name, config["model_dir"], config["offline"])


def _check_backend():
    if config["backend"] == "biolm":
        biolm.check_settings_for(config["strategy"])


_checked(_check_models)
_checked(_check_backend)
PROTEINS = _checked(fasta.read_fasta, config["sequences"], max_length=config["max_residues"])
SHARDS = planning.assign_shards(PROTEINS, config["shard_residues"])
NAMES = [p.name for p in PROTEINS]
MODELS = config["models"]


wildcard_constraints:
    model="|".join(MODELS),


def checkpoint_input(wildcards):
    """The local checkpoint of a model, when one is used (so new weights trigger a rescore)."""
    if config["backend"] != "local":
        return []
    path = models.checkpoint_path(wildcards.model, config["model_dir"])
    return [str(path)] if path else []


def scoring_resources():
    """Memory and GPU of one scoring job; site settings (partition, account) live in profiles.
    API jobs take one unit of biolm_api: --resources biolm_api=N caps how many run at once."""
    if config["backend"] == "biolm":
        return {"mem_mb": 2000, "gpu": 0, "biolm_api": 1}
    gpu = 0 if config["device"] == "cpu" else 1
    return {"mem_mb": 12000, "gpu": gpu}


def scoring_threads():
    """An API job waits on the network (its requests run in I/O threads): one core is enough."""
    return 1 if config["backend"] == "biolm" else config["threads"]


def biolm_params():
    """The biolm settings a scoring job uses, base URL resolved (the token is never a param)."""
    if config["backend"] != "biolm":
        return None
    return {**config["biolm"], "base_url": biolm.resolve_base_url(config["biolm"]["base_url"])}


def scoring_runtime(shard):
    """Minutes for one model over one shard, with room: ~0.02 s/position on a GPU, 3 s on a CPU."""
    per_position = 3.0 if config["device"] == "cpu" else 0.05
    return int(30 + shard.residues * per_position / 60)


def per_sequence(pattern, shard, **wildcards):
    """The per-sequence files of one shard, e.g. per_sequence('results/{name}/ensemble.tsv')."""
    return [pattern.format(name=name, **wildcards) for name in shard.names]


def final_outputs():
    return expand(
        ["results/{name}/ensemble.tsv", "results/{name}/heatmap.png", "results/{name}/heatmap.svg"],
        name=NAMES,
    )
