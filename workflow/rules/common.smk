# Shared set-up: config validation, the parsed FASTA, shards, and helpers for the rules.
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import validate

# the esm1v_scan package lives next to the rules; scripts find it through Snakemake's search path
sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))

from esm1v_scan import biolm, fasta, models, planning, variants  # noqa: E402
from esm1v_scan.errors import InputError  # noqa: E402

validate(config, "../schemas/config.schema.yaml")

from esm1v_scan import provenance, weights  # noqa: E402


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
        path = models.resolve_checkpoint(name, config["model_dir"], config["offline"])
        # cheap size check against the weights lock here; the sha256 is checked in the job
        if path is not None:
            weights.check_size(config["weights_lock"], name, path)


def _check_backend():
    if config["backend"] == "biolm":
        biolm.check_settings_for(config["strategy"])


_checked(_check_models)
_checked(_check_backend)
PROTEINS = _checked(fasta.read_fasta, config["sequences"])
SHARDS = planning.assign_shards(PROTEINS, config["shard_residues"])
NAMES = [p.name for p in PROTEINS]
MODELS = config["models"]

# Mutation lists (config key variants), read and checked now: a bad file stops the run before any
# job. A sequence with a list is scored only at the sites its variants touch.
VARIANT_SPECS = _checked(
    variants.specs_from_config, config.get("variants"), PROTEINS, config["sequences"]
)
VARIANT_LISTS = {
    p.name: _checked(variants.read_variants, VARIANT_SPECS[p.id], p)
    for p in PROTEINS
    if p.id in VARIANT_SPECS
}
for _vl in VARIANT_LISTS.values():
    for _warning in _vl.warnings:
        logger.warning(f"esm1v-scan: {_warning}")
EVALUATED = [n for n, vl in VARIANT_LISTS.items() if vl.score_column is not None]

# Shards by id, each with its content tag (a param of its scoring jobs: an edit of the FASTA or a
# mutation list reruns exactly the shards whose content changed) and its listed positions.
from esm1v_scan import policy  # noqa: E402

SHARD_BY_ID = {s.id: s for s in SHARDS}
SHARD_OF = {p.name: s.id for s in SHARDS for p in s.proteins}
_VARIANT_SITES = {vl.spec.id: vl.positions for vl in VARIANT_LISTS.values()}
SHARD_POSITIONS = {s.id: policy.shard_positions(s, _VARIANT_SITES) for s in SHARDS}
SHARD_TAGS = {s.id: policy.shard_tag(s, SHARD_POSITIONS[s.id]) for s in SHARDS}
# results/{name}/... for every protein (small runs; config per_protein)
PER_PROTEIN = policy.per_protein_enabled(
    config.get("per_protein", "auto"), len(PROTEINS)
)


wildcard_constraints:
    model="|".join(MODELS),
    shard=r"shard\d+",


def uses_model_dir():
    return config["backend"] == "local" and bool(config["model_dir"])


def checkpoint_file(model):
    return str(Path(config["model_dir"]) / f"{model}.pt")


#: models whose checkpoint is not in model_dir yet: only these are made by download_weights (a
#: checkpoint already there is never fetched again, whatever rerun triggers say)
MISSING_WEIGHTS = [
    m for m in MODELS if uses_model_dir() and not Path(checkpoint_file(m)).exists()
]


def checkpoint_input(wildcards):
    """The local checkpoint of a model (so new weights trigger a rescore); download_weights
    makes it when missing. None for the remote backend or an empty model_dir (fair-esm's hub).
    """
    return [checkpoint_file(wildcards.model)] if uses_model_dir() else []


def all_checkpoints():
    return [checkpoint_file(m) for m in MODELS] if uses_model_dir() else []


def missing_weights_pattern():
    """Wildcard constraint matching the missing models only (a pattern matching nothing when
    all are present)."""
    return "|".join(MISSING_WEIGHTS) or "(?!x)x"


def scoring_resources():
    return policy.scoring_resources(config)


def scoring_threads():
    return policy.scoring_threads(config)


def scoring_runtime(wildcards):
    return policy.scoring_runtime(SHARD_BY_ID[wildcards.shard], config)


def shard_tag(wildcards):
    return SHARD_TAGS[wildcards.shard]


def shard_positions(wildcards):
    """FASTA id -> '3,7-9' for the shard's sequences with a mutation list (most shards: none)."""
    return SHARD_POSITIONS[wildcards.shard]


def shard_scores(shard="{shard}"):
    """The shard's long score tables, one per model."""
    return [f"results/shards/{shard}/scores/{m}.parquet" for m in MODELS]


def protein_index(shard_id):
    return policy.protein_index(shard_id)


def shard_ensemble_of(wildcards):
    """The ensemble table of the shard holding sequence {name}."""
    return f"results/shards/{SHARD_OF[wildcards.name]}/ensemble.parquet"


def job_records():
    """The provenance record of every scoring job (model x shard)."""
    return expand(
        "results/provenance/jobs/{model}/{shard}.json",
        model=MODELS,
        shard=[s.id for s in SHARDS],
    )


from snakemake import __version__ as SNAKEMAKE_VERSION  # noqa: E402

#: what the provenance rule records besides the job records (parse-time facts of this run)
RUN_FACTS = {
    "config": config,
    "git": provenance.git_state(workflow.basedir),
    "snakemake": SNAKEMAKE_VERSION,
}


def biolm_params():
    """The biolm settings a scoring job uses, base URL resolved (the token is never a param)."""
    if config["backend"] != "biolm":
        return None
    return {
        **config["biolm"],
        "base_url": biolm.resolve_base_url(config["biolm"]["base_url"]),
    }


def one_of(names):
    """A wildcard constraint matching exactly these names (and nothing when there are none)."""
    return "|".join(re.escape(n) for n in names) if names else "(?!)"


def variant_positions():
    """FASTA id -> the positions to score ('1,5-7'), for sequences with a mutation list."""
    return {
        vl.spec.id: planning.format_ranges(vl.positions)
        for vl in VARIANT_LISTS.values()
    }


def variant_file(wildcards):
    return VARIANT_LISTS[wildcards.name].spec.path


def variant_spec(wildcards):
    return VARIANT_LISTS[wildcards.name].spec.as_params()


def experimental_column(wildcards):
    return VARIANT_LISTS[wildcards.name].score_column


def final_outputs():
    # the sequence table and mask plan are asked for here: no scoring job reads them (see
    # rules/scoring.smk), they document the run
    missing = policy.missing_protein_files(SHARDS, MODELS) if PER_PROTEIN else []
    return policy.final_targets(
        list(SHARD_BY_ID), list(VARIANT_LISTS), EVALUATED, PER_PROTEIN, missing
    )
