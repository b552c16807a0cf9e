# Shared set-up: config validation, the parsed FASTA, shards, and helpers for the rules.
import hashlib
import mimetypes
import os
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger


# This workflow's own esm1v_scan package, whatever is installed: the folder holding it is put first
# on this process's path and exported as $ESM1V_SCAN_HOME, which every rule script puts first on
# its own path (jobs inherit the environment, conda envs and SLURM jobs included; conda drops
# PYTHONPATH, hence a variable of our own). workflow.current_basedir is this file's folder: a local
# folder for a clone or a module included by path, a git source for gitfile()/github() modules,
# whose package files are copied out of Snakemake's source cache into
# .snakemake/esm1v_scan/<content hash>/. Rules running Python outside `script:` must do the same.
def _package_home():
    import hashlib as _hashlib
    import json as _json
    import os as _os
    import shutil as _shutil
    import subprocess as _subprocess
    import tempfile as _tempfile
    from snakemake.sourcecache import LocalSourceFile

    here = workflow.current_basedir
    if isinstance(here, LocalSourceFile):
        return Path(here.get_path_or_uri(secret_free=True)).parent, None
    ref = getattr(here, "ref", None)
    repo = getattr(here, "repo_path", None)
    if repo is not None:
        git = lambda *a: _subprocess.run(  # noqa: E731
            ["git", "-C", str(repo), *a], capture_output=True, text=True, check=True
        ).stdout
    elif getattr(here, "hosted_repo", None) is not None:
        git = lambda *a: here.hosted_repo.repo.git.execute(["git", *a])  # noqa: E731
    else:
        raise WorkflowError(
            f"esm1v-scan: cannot read the package next to {here}; include this workflow "
            "by local path, gitfile(...) or github(...)"
        )
    pkg = here.join("../esm1v_scan")
    names = git("ls-tree", "-r", "--name-only", f"{ref}:{pkg.path}").split()
    files = {
        n: Path(workflow.sourcecache.get_path(pkg.join(n))).read_bytes() for n in names
    }
    digest = _hashlib.sha256()
    for name in sorted(files):
        digest.update(b"\0".join([name.encode(), files[name], b""]))
    home = Path(".snakemake/esm1v_scan") / digest.hexdigest()[:16]
    if not home.exists():
        home.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(_tempfile.mkdtemp(dir=home.parent))
        for name, data in files.items():
            (tmp / "esm1v_scan" / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / "esm1v_scan" / name).write_bytes(data)
        try:
            commit = git("rev-parse", "--verify", f"{ref}^{{commit}}").strip()
        except Exception:
            commit = None
        origin = {"source": str(here.join("..")), "ref": ref, "commit": commit}
        (tmp / "source.json").write_text(_json.dumps(origin, indent=1) + "\n")
        try:
            tmp.rename(home)
        except OSError:  # another process made the same copy meanwhile
            _shutil.rmtree(tmp)
    return home.resolve(), here


ESM1V_SCAN_HOME, _git_source = _package_home()
if _git_source is not None and not hasattr(_git_source, "hosted_repo"):
    # gitfile() modules: Snakemake 9.27's LocalGitFile.join fails on the SourceFile that its
    # script-mtime check passes (github()'s join takes it); join its path instead
    from snakemake.sourcecache import LocalGitFile, SourceFile

    def _join_path(self, path, _join=LocalGitFile.join):
        if isinstance(path, SourceFile):
            path = path.get_path_or_uri(secret_free=True)
        return _join(self, path)

    if not getattr(LocalGitFile.join, "esm1v_scan", False):
        _join_path.esm1v_scan = True
        LocalGitFile.join = _join_path
sys.path.insert(0, str(ESM1V_SCAN_HOME))
os.environ.update({"ESM1V_SCAN_HOME": str(ESM1V_SCAN_HOME)})
# Whether this Snakemake prints a failed job's log (show-failed-logs, on in both profiles): then a
# rule script's one-line error is in that log only, not also on the console (esm1v_scan.pipeline.rule_scripts).
_shows_logs = getattr(
    getattr(workflow, "output_settings", None), "show_failed_logs", False
)
os.environ.update({"ESM1V_SCAN_FAILED_LOGS_SHOWN": "1" if _shows_logs else "0"})
_loaded = sys.modules.get("esm1v_scan")
if _loaded is not None and Path(_loaded.__file__).parent.parent != ESM1V_SCAN_HOME:
    raise WorkflowError(
        f"esm1v-scan: this Snakemake run already imported esm1v_scan from "
        f"{Path(_loaded.__file__).parent}; one run can hold one copy of esm1v-scan"
    )

from esm1v_scan.outputs.provenance import git_state, package_origin  # noqa: E402
from esm1v_scan.pipeline import snakemake_fixes  # noqa: E402

# Snakemake 9.27's SIGTERM handler can deadlock the run (esm1v_scan.pipeline.snakemake_fixes)
snakemake_fixes.install()

#: provenance: this workflow's own version, source and commit, and the project that ran it
WORKFLOW_ORIGIN = package_origin()
PROJECT = {"snakefile": workflow.main_snakefile, "git": git_state(workflow.basedir)}

from esm1v_scan.errors import InputError  # noqa: E402
from esm1v_scan.inputs import (
    config_checks,
    fasta,
    numbering,
    structures,
    variant_lists,
    vcf as vcf_input,
)  # noqa: E402
from esm1v_scan.scoring import biolm, models, planning, weights  # noqa: E402
from esm1v_scan.outputs import provenance, report_pages  # noqa: E402
from esm1v_scan.pipeline import vcf_run  # noqa: E402


def _checked(fn, *args, **kwargs):
    """Run a parse-time check; turn bad input into a one-line WorkflowError (no traceback)."""
    try:
        return fn(*args, **kwargs)
    except InputError as err:
        raise WorkflowError(f"esm1v-scan: {err}") from None


# The config file (DEFAULT_CONFIG, workflow/Snakefile), its syntax checked before Snakemake reads it:
# a tab or a syntax error is one line naming the file, line and column, where Snakemake's own
# message names none of them. A module given `config:` reads no config file (Snakemake skips the
# directive). Files given with --configfile are read by Snakemake before this code runs.
if not getattr(workflow.modifier, "skip_configfile", False) and os.path.exists(
    DEFAULT_CONFIG
):
    _checked(config_checks.check_config_file, DEFAULT_CONFIG)


configfile: DEFAULT_CONFIG


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


# the schema next to these rules (a local copy from Snakemake's source cache for git modules)
_checked(
    config_checks.validate,
    config,
    workflow.source_path("../schemas/config.schema.yaml"),
)
_checked(_check_models)
_checked(_check_backend)
_checked(config_checks.check_long_windows, config)
_checked(config_checks.check_precision, config)


def _warn(message):
    logger.warning(f"esm1v-scan: warning: {message}")


def _vcf_plans():
    """config vcf: name -> its plan, each computed once per content and cached under
    .snakemake/esm1v_scan/vcf/ (inputs.vcf.cached_plan): dry runs and every job's parse load it.
    """
    vcfs = config.get("vcf") or {}
    if not config.get("sequences") and not vcfs:
        raise InputError(
            "config: neither sequences (a protein FASTA to scan) nor vcf (annotated VCFs, "
            "with proteins) is given; set one of them"
        )
    if not vcfs:
        return {}
    if not config.get("proteins"):
        raise InputError(
            "config key 'vcf' needs config key 'proteins': the protein FASTA of the annotated "
            "transcripts (e.g. Ensembl's Homo_sapiens.GRCh38.pep.all.fa.gz)"
        )
    files = [(f"vcf.{n}", p) for n, p in vcfs.items()]
    files += [("proteins", config["proteins"])]
    files += [("transcript_map", config.get("transcript_map"))]
    for key, path in files:
        if path and not os.path.isfile(path):
            raise InputError(f"config key '{key}': no such file: {path}")
    return {
        name: vcf_input.cached_plan(
            name,
            path,
            config["proteins"],
            config.get("transcript_map") or None,
            vcf_run.PLAN_CACHE,
            warn=_warn,
        )
        for name, path in vcfs.items()
    }


VCF_PLANS = _checked(_vcf_plans)
# lines that are not UTF-8 are read as Windows-1252, with a warning naming them
_SEQUENCE_PROTEINS = (
    _checked(fasta.read_fasta, config["sequences"], warn=_warn)
    if config.get("sequences")
    else []
)
if VCF_PLANS:
    # the VCFs' proteins join the run's after the sequences FASTA's (deduplicated by sequence),
    # written to one FASTA that every rule reads (rewritten only when its content changes)
    _VCF = _checked(
        vcf_run.join_proteins,
        _SEQUENCE_PROTEINS,
        VCF_PLANS,
    )
    PROTEINS = _VCF.proteins
    SEQUENCES_FASTA = vcf_run.PROTEINS_FASTA
    vcf_run.write_if_changed(SEQUENCES_FASTA, vcf_run.fasta_text(PROTEINS))
else:
    _VCF = None
    PROTEINS = _SEQUENCE_PROTEINS
    SEQUENCES_FASTA = config["sequences"]
SHARDS = planning.assign_shards(PROTEINS, config["shard_residues"])
NAMES = [p.name for p in PROTEINS]
MODELS = config["models"]
# config offsets: FASTA id -> residue number of its first residue (only those configured)
_CONFIG_OFFSETS = _checked(
    numbering.offsets_from_config, config.get("offsets"), PROTEINS, SEQUENCES_FASTA
)


def shard_offsets(shard):
    """The numbering of a shard's proteins (a small param: non-default ones only)."""
    return {p.id: OFFSETS[p.id] for p in shard.proteins if p.id in OFFSETS}


# Mutation lists (config key variants), read and checked now: a bad file stops the run before any
# job. A sequence with a list is scored only at the sites its variants touch.
VARIANT_SPECS = _checked(
    variant_lists.specs_from_config,
    config.get("variants"),
    PROTEINS,
    SEQUENCES_FASTA,
    _CONFIG_OFFSETS,
)
# One numbering per protein, the same in all tables, figures and structure outputs: config
# offsets, else its variant list's offset (a list whose offset differs from offsets stopped above)
OFFSETS = numbering.numbering(_CONFIG_OFFSETS, VARIANT_SPECS)
VARIANT_LISTS = {
    p.name: _checked(variant_lists.read_variants, VARIANT_SPECS[p.id], p)
    for p in PROTEINS
    if p.id in VARIANT_SPECS
}
for _vl in VARIANT_LISTS.values():
    for _warning in _vl.warnings:
        logger.warning(f"esm1v-scan: {_warning}")
EVALUATED = [n for n, vl in VARIANT_LISTS.items() if vl.score_column is not None]
# In-frame indels of the lists and the VCFs: one `indels` job per (model, protein with any),
# local backend only (BioLM answers masked positions only: those rows stay not scored, with the
# reason). name -> its distinct indels (a list's first, then the VCFs' not among them)
INDEL_VARIANTS = {}
for _p in PROTEINS if config["backend"] == "local" else []:
    _vl = VARIANT_LISTS.get(_p.name)
    _extra = _VCF.indels.get(_p.id, []) if _VCF else []
    _listed = _vl.indel_variants() if _vl else []
    if _listed or _extra:
        INDEL_VARIANTS[_p.name] = _checked(
            vcf_run.merged_indels,
            _listed,
            _vl.spec.offset if _vl else 1,
            _extra,
            _p.id,
        )
INDEL_NAMES = list(INDEL_VARIANTS)

# Structures (config structures), read and aligned now: an unreadable file, a missing chain or a
# chain that does not align stops the run before any job. name -> spec, its chain resolved.
_STRUCTURE_SPECS = _checked(
    structures.check_structures,
    config.get("structures"),
    PROTEINS,
    ".snakemake/esm1v_scan/structure_checks.json",
)
STRUCTURES = {
    p.name: _STRUCTURE_SPECS[p.id] for p in PROTEINS if p.id in _STRUCTURE_SPECS
}
#: name -> structure.pdb or structure.cif (the format of the input file)
STRUCTURE_FILES = {n: structures.output_name(s.path) for n, s in STRUCTURES.items()}

# Shards by id, each with its content tag (a param of its scoring jobs: an edit of the FASTA or a
# mutation list reruns exactly the shards whose content changed) and its listed positions.
from esm1v_scan.pipeline import policy  # noqa: E402

SHARD_BY_ID = {s.id: s for s in SHARDS}
SHARD_OF = {p.name: s.id for s in SHARDS for p in s.proteins}
# FASTA id -> its sites, for sequences with a mutation list or added for (or restricted by) a VCF
_VARIANT_SITES = {vl.spec.id: vl.positions for vl in VARIANT_LISTS.values()}
# (a protein of the sequences FASTA without a list stays scanned at every position)
for _id, _sites in (_VCF.sites if _VCF else {}).items():
    if _id in _VARIANT_SITES or _id in _VCF.added:
        _VARIANT_SITES[_id] = sorted(set(_VARIANT_SITES.get(_id, ())) | set(_sites))
SHARD_POSITIONS = {s.id: policy.shard_positions(s, _VARIANT_SITES) for s in SHARDS}
SHARD_TAGS = {s.id: policy.shard_tag(s, SHARD_POSITIONS[s.id]) for s in SHARDS}
# results/{name}/... for every protein (small runs; config per_protein)
PER_PROTEIN = policy.per_protein_enabled(
    config.get("per_protein", "auto"), len(PROTEINS)
)


onstart:
    # here, not at parse time: only now does Snakemake know whether jobs run on this machine
    _checked(config_checks.check_device, config, jobs_run_here=workflow.local_exec)


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

# the command that started this run, for the Methods item of the report (results/provenance/methods.html),
# exported by the process that parses this file first; the jobs it starts inherit it
os.environ.setdefault("ESM1V_SCAN_COMMAND", report_pages.command_line())

#: what the provenance rule records besides the job records (parse-time facts of this run)
RUN_FACTS = {
    "config": config,
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
        seq_id: planning.format_ranges(sites)
        for seq_id, sites in _VARIANT_SITES.items()
    }


def variant_file(wildcards):
    return VARIANT_LISTS[wildcards.name].spec.path


def variant_spec(wildcards):
    return VARIANT_LISTS[wildcards.name].spec.as_params()


def indel_tables(wildcards):
    """The per-model indel scores of protein {name} (none without in-frame indels)."""
    if wildcards.name not in INDEL_NAMES:
        return []
    return [f"results/{wildcards.name}/indels/{m}.tsv" for m in MODELS]


def indel_reason():
    """Why in-frame indels are not scored by this run (None: they are)."""
    return None if config["backend"] == "local" else variant_lists.REASONS["biolm"]


def indel_job(wildcards):
    """What an `indels` job scores: the protein (id, sha256 of its residues, offset) and its
    distinct in-frame indels as HGVS. A param: an edit of the list that leaves these alone reruns
    no indel job (the FASTA is an ancient() input, as for `score`)."""
    vl = VARIANT_LISTS.get(wildcards.name)
    protein = PROTEIN_BY_NAME[wildcards.name]
    return {
        "id": protein.id,
        "sha256": protein.sha256,
        "offset": vl.spec.offset if vl else 1,
        "variants": INDEL_VARIANTS[wildcards.name],
    }


def indel_runtime(wildcards):
    return policy.indel_runtime(
        PROTEIN_BY_NAME[wildcards.name].length,
        len(INDEL_VARIANTS[wildcards.name]),
        config,
    )


def shard_marks(shard):
    """FASTA id -> the heatmap's marks (stop-gains, in-frame indels) of a shard's proteins."""
    marks = {}
    for p in shard.proteins:
        if p.name in VARIANT_LISTS and VARIANT_LISTS[p.name].marks():
            marks[p.id] = VARIANT_LISTS[p.name].marks()
    return marks


def experimental_column(wildcards):
    return VARIANT_LISTS[wildcards.name].score_column


def variant_label(wildcards):
    """The binary label of the list's auc/mcc: {"column": ...}, {"cutoff": ...} or {}."""
    return VARIANT_LISTS[wildcards.name].label


def structure_files(fmt):
    """Names of the proteins whose structure is written as structure.<fmt> (pdb or cif)."""
    return [n for n, file in STRUCTURE_FILES.items() if file == f"structure.{fmt}"]


def structure_spec(wildcards):
    return STRUCTURES[wildcards.name].as_params()


def structure_source(wildcards):
    return STRUCTURES[wildcards.name].path


def shard_jobs_of(wildcards):
    """The scoring-job records of the shard holding {name} (random-weights stamp)."""
    return [
        f"results/provenance/jobs/{m}/{SHARD_OF[wildcards.name]}.json" for m in MODELS
    ]


def protein_offset(wildcards):
    return OFFSETS.get(PROTEIN_BY_NAME[wildcards.name].id, 1)


PROTEIN_BY_NAME = {p.name: p for p in PROTEINS}
PROTEIN_BY_ID = {p.id: p for p in PROTEINS}

#: the report's category of each protein's items (one subcategory per protein, its items ordered
#: by their label: the overview first)
PROTEIN_CATEGORY = "3. Proteins"

# the report gives each file the mime type Python guesses from its name: structure files are text
mimetypes.add_type("text/plain", ".pml")
mimetypes.add_type("text/plain", ".defattr")


def protein_report(name, file, caption, item):
    """results/{name}/{file} as an item of protein {name} in the report (``name`` may be the
    wildcard "{name}"); ``caption``: a file of workflow/report/."""
    return report(
        f"results/{name}/{file}",
        caption=f"../report/{caption}",
        category=PROTEIN_CATEGORY,
        subcategory=name,
        labels={"item": item},
    )


def summary_links():
    """What the summary page links to: which proteins have which files (small params: flags and
    the few names with mutation lists or structures, not one entry per protein)."""
    return {
        "per_protein": PER_PROTEIN,
        "variants": list(VARIANT_LISTS),
        "evaluated": EVALUATED,
        "structures": STRUCTURE_FILES,
    }


def vcf_outputs():
    """Each VCF's annotated copy, its index, entry table and summary."""
    return [
        f"results/vcf/{name}.{suffix}"
        for name in VCF_PLANS
        for suffix in ("esm1v.vcf.gz", "esm1v.vcf.gz.tbi", "esm1v.tsv", "summary.tsv")
    ]


def vcf_scored_names(name):
    """The run's protein names scoring VCF {vcf} (those with sites or indels to score)."""
    return sorted(
        {PROTEIN_BY_ID[i].name for i in _VCF.ids[name].values() if i is not None}
    )


def vcf_annotate_inputs(wildcards):
    """The VCF, the protein FASTA (and transcript map) it was planned with, the ensemble tables
    and scoring-job records of the shards holding its proteins, the indel tables of its proteins
    with in-frame indels (local backend), and the run's sequence table (id -> name)."""
    names = vcf_scored_names(wildcards.vcf)
    shards = sorted({SHARD_OF[n] for n in names})
    plan = VCF_PLANS[wildcards.vcf]
    with_indels = {_VCF.ids[wildcards.vcf][k] for k in plan.indels()}
    indel_names = [
        n for n in names if n in INDEL_NAMES and PROTEIN_BY_NAME[n].id in with_indels
    ]
    out = {
        "vcf": config["vcf"][wildcards.vcf],
        "proteins": config["proteins"],
        "sequences": "results/sequences.tsv",
        "ensembles": [f"results/shards/{s}/ensemble.parquet" for s in shards],
        "jobs": [
            f"results/provenance/jobs/{m}/{s}.json" for m in MODELS for s in shards
        ],
        "indels": [f"results/{n}/indels/{m}.tsv" for n in indel_names for m in MODELS],
    }
    if config.get("transcript_map"):
        out["transcript_map"] = config["transcript_map"]
    return out


def vcf_plan_args(wildcards):
    """What rule vcf_annotate passes to inputs.vcf.cached_plan (it loads the cached plan)."""
    return {
        "name": wildcards.vcf,
        "vcf_path": config["vcf"][wildcards.vcf],
        "proteins_path": config["proteins"],
        "transcript_map": config.get("transcript_map") or None,
        "cache_root": vcf_run.PLAN_CACHE,
    }


def vcf_aliases(wildcards):
    """Plan key -> the run's FASTA id scoring it, where they differ (a VCF protein whose residues
    equal an earlier protein's); keys absent: scored under their own id, or None: nothing to score.
    """
    return {k: i for k, i in _VCF.ids[wildcards.vcf].items() if i != k}


def final_outputs():
    # the sequence table and mask plan are asked for here: no scoring job reads them (see
    # rules/scoring.smk), they document the run
    missing = policy.missing_protein_files(SHARDS, MODELS) if PER_PROTEIN else []
    return (
        policy.final_targets(
            list(SHARD_BY_ID),
            list(VARIANT_LISTS),
            EVALUATED,
            PER_PROTEIN,
            missing,
            STRUCTURE_FILES,
        )
        + vcf_outputs()
    )


# The cost forecast (esm1v_scan.scoring.forecast): one line with the forward passes, FLOPs and
# expected time of the scoring jobs whose tables are missing, printed by the main Snakemake process
# in a run and in a dry run (workflow.is_main_process: exec mode DEFAULT); not by the job
# processes that parse this file again (a cluster job on its node runs Snakemake with --mode
# remote, a local job through a Snakemake subprocess --mode subprocess; Snakemake 9's local
# executor runs script jobs without parsing it again). A forecast that fails says so in one line.
def _forecast():
    from esm1v_scan.scoring import forecast

    cores = getattr(workflow, "_cores", None) or os.cpu_count() or 1
    threads = max(1, min(scoring_threads(), cores, os.cpu_count() or 1))
    listed = {p: len(sites) for p, sites in _VARIANT_SITES.items()}
    try:
        line = forecast.forecast_line(
            config,
            SHARDS,
            lambda p: listed.get(p.id, p.length),
            threads,
            lambda m, s: os.path.exists(f"results/shards/{s}/scores/{m}.parquet"),
        )
    except Exception as err:  # noqa: BLE001 - a forecast never stops a run
        why = (str(err).splitlines() or [""])[0]
        line = f"esm1v-scan: forecast: not available ({type(err).__name__}: {why})"
    logger.info(line)


if workflow.is_main_process:
    _forecast()
