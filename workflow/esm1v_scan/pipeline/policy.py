"""Rule-side policy, out of the Snakefile so it can be tested: what a scoring job asks the
scheduler for, which positions a shard scores, the content tag that reruns a changed shard, and
which files a run makes (rules/common.smk only looks these up).
"""

from __future__ import annotations

import hashlib
import os

from esm1v_scan.scoring.planning import Shard, assign_shards, format_ranges

#: per_protein: auto writes the per-protein files (results/{name}/...) up to this many proteins.
#: Their rules put 13 files per protein and one per model into the DAG: 2,000 proteins dry-run in
#: 42 s at a load of 7.6 on 2 cores (40 s with the 6 before the report's pages), a
#: proteome (20,000+) would spend most of its dry run on them (benchmarks/scale.py).
PER_PROTEIN_AUTO_MAX = 2000

#: default memory (MB) of one scoring job: a 650M-parameter checkpoint is 2.6 GB and loading it
#: briefly holds about twice that in host memory; an API job holds responses only
MEM_MB = {"local": 12000, "biolm": 2000}


def scoring_settings(config: dict) -> dict:
    """The config's `scoring` section with every key present (null: automatic)."""
    return {"mem_mb": None, "runtime": None, "slurm_partition": None, "slurm_account": None,
            **(config.get("scoring") or {})}


def scoring_resources(config: dict) -> dict:
    """Memory, GPU and site settings of one scoring job (rule `score`; runtime: scoring_runtime).

    The GPU request: gpu=1 becomes --gpus=1 with the SLURM executor plugin (2.x); sites that only
    take GRES get gres=gpu:1 or gres=gpu:<type>:1 (config gpu_resource). API jobs take one unit
    of biolm_api: --resources biolm_api=N caps how many run at once. scoring.slurm_partition and
    scoring.slurm_account, when set, send the scoring jobs (only) to that partition/account.
    """
    settings = scoring_settings(config)
    res = {"mem_mb": settings["mem_mb"] or MEM_MB[config["backend"]]}
    if config["backend"] == "biolm":
        res |= {"gpu": 0, "biolm_api": 1}
    elif config["device"] == "cpu":
        res["gpu"] = 0
    else:
        kind, _, gpu_type = config["gpu_resource"].partition(":")
        if kind == "gres":
            res["gres"] = f"gpu:{gpu_type}:1" if gpu_type else "gpu:1"
        else:
            res["gpu"] = 1
    for key in ("slurm_partition", "slurm_account"):
        if settings[key]:
            res[key] = settings[key]
    return res


def scoring_runtime(shard: Shard, config: dict) -> int:
    """Minutes for one model over one shard, with room (config scoring.runtime overrides it): a
    masked scan costs 2 x 650M parameters x tokens per position (benchmarks/scan_speed.py); at a
    conservative 40 GFLOP/s per CPU thread (measured: 80-100) or 50 TFLOP/s per GPU (an H100 runs
    bf16 matrix multiplies at ~10x that)."""
    fixed = scoring_settings(config)["runtime"]
    if fixed:
        return int(fixed)
    window = config["max_residues"]
    flop = 1.3e9 * sum(p.length * (min(p.length, window) + 2) for p in shard.proteins)
    rate = 40e9 * config["threads"] if config["device"] == "cpu" else 50e12
    return int(30 + flop / rate / 60)


def indel_runtime(length: int, n_variants: int, config: dict) -> int:
    """Minutes for one model's in-frame indels of one protein (rule indels), as scoring_runtime
    counts: n + 1 unmasked passes of at most max_residues tokens (indel_scoring: exact, one masked
    pass per residue of each of them)."""
    fixed = scoring_settings(config)["runtime"]
    if fixed:
        return int(fixed)
    window = min(length, config["max_residues"]) + 2
    passes = (n_variants + 1) * (window if config.get("indel_scoring") == "exact" else 1)
    rate = 40e9 * config["threads"] if config["device"] == "cpu" else 50e12
    return int(30 + 1.3e9 * window * passes / rate / 60)


def scoring_threads(config: dict) -> int:
    """An API job waits on the network (its requests run in I/O threads): one core is enough."""
    return 1 if config["backend"] == "biolm" else config["threads"]


def shard_positions(shard: Shard, variant_positions: dict[str, list[int]]) -> dict[str, str]:
    """FASTA id -> positions to score ('3,7-9') for the shard's sequences with a mutation list
    (most shards: none, every position scored)."""
    return {p.id: format_ranges(variant_positions[p.id]) for p in shard.proteins
            if p.id in variant_positions}


def shard_tag(shard: Shard, positions: dict[str, str]) -> str:
    """16 hex digits naming the shard's content: its names, sequences and listed positions. A
    param of the scoring job, so after an edit of the FASTA or a mutation list exactly the shards
    whose content changed rerun (Snakemake's params trigger)."""
    text = f"{shard.digest()} {sorted(positions.items())}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def find_shard(proteins, shard_residues: int, shard_id: str, tag: str | None = None,
               positions: dict[str, str] | None = None) -> Shard:
    """The shard ``shard_id`` of ``proteins`` as planned (same deterministic assignment); with
    ``tag``, check that its content is still what the job was planned for."""
    shard = next((s for s in assign_shards(proteins, shard_residues) if s.id == shard_id), None)
    if shard is None:
        raise ValueError(f"{shard_id}: no such shard in the FASTA any more (edited during the run?)")
    if tag is not None and shard_tag(shard, positions or {}) != tag:
        raise ValueError(f"{shard_id}: the FASTA changed since the run was planned; run again")
    return shard


def per_protein_enabled(setting, n_proteins: int) -> bool:
    """config per_protein: true, false or auto (on up to PER_PROTEIN_AUTO_MAX proteins)."""
    if setting == "auto":
        return n_proteins <= PER_PROTEIN_AUTO_MAX
    return bool(setting)


def protein_files(name: str, models: list[str]) -> list[str]:
    """The per-protein files of one protein (outputs.write_protein_files writes them)."""
    return [f"results/{name}/scores/{m}.tsv" for m in models] + [
        f"results/{name}/ensemble.tsv",
        f"results/{name}/matrix.tsv",
        f"results/{name}/positions.tsv",
        f"results/{name}/heatmap.png",
        f"results/{name}/heatmap.svg",
        f"results/{name}/heatmap.html",
        f"results/{name}/top_mutations.tsv",
        f"results/{name}/overview.png",
        f"results/{name}/overview.html",
        f"results/{name}/heatmap_view.html",
        f"results/{name}/matrix.html",
        f"results/{name}/positions.html",
        f"results/{name}/top_mutations.html",
    ]


def protein_index(shard_id: str) -> str:
    """The per-protein job's list of the proteins it wrote files for (one per shard)."""
    return f"results/shards/{shard_id}/proteins.tsv"


def missing_protein_files(shards: list[Shard], models: list[str], exists=os.path.exists) -> list[str]:
    """The per-protein files missing from shards whose index is there (deleted by hand, say)."""
    return [f for s in shards if exists(protein_index(s.id))
            for p in s.proteins for f in protein_files(p.name, models) if not exists(f)]


def structure_files(name: str, structure_file: str) -> list[str]:
    """The files of a protein's structure (rules/structures.smk); ``structure_file``:
    structure.pdb or structure.cif (structures.output_name)."""
    return [f"results/{name}/{f}" for f in
            (structure_file, "structure.defattr", "structure.pml", "structure_map.tsv")]


def final_targets(shard_ids: list[str], variant_names: list[str], evaluated: list[str],
                  per_protein: bool, missing: list[str] = (),
                  structures: dict[str, str] | None = None) -> list[str]:
    """What `rule all` asks for. Per-protein files through their shard's index, plus those of
    ``missing`` (missing_protein_files): Snakemake then matches one target per shard against the
    rules, not 8 per protein; matching every per-protein file made a dry run grow with proteins x
    proteins per shard (each target is tested against every output of its rule). A requested
    file that is missing reruns its shard's job, which writes it again. ``structures``: name ->
    structure.pdb or structure.cif, for the proteins with a configured structure."""
    out = ["results/summary.tsv", "results/summary.html", "results/summary_table.html",
           "results/provenance/methods.html", "results/sequences.tsv", "results/mask_plan.tsv",
           "results/ensemble.parquet"]
    if per_protein:
        out += [protein_index(s) for s in shard_ids] + list(missing)
    out += [f"results/{n}/variants.tsv" for n in variant_names]
    out += [f"results/{n}/{f}" for n in evaluated
            for f in ("evaluation.tsv", "evaluation.html", "scatter.png", "scatter.svg")]
    for name, structure_file in (structures or {}).items():
        out += structure_files(name, structure_file)
    return out
