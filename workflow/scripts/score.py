"""rule score: score one shard of sequences with one model (loaded once)."""
import os
import sys

sys.path.insert(0, os.environ["ESM1V_SCAN_HOME"])  # the rules' own esm1v_scan first (rules/common.smk)

import torch

from esm1v_scan.scoring.score_cache import ScoreCache
from esm1v_scan.inputs.fasta import read_fasta
from esm1v_scan.scoring.planning import parse_ranges, sites_for
from esm1v_scan.pipeline.policy import find_shard
from esm1v_scan.outputs.provenance import job_record, package_origin, write_json
from esm1v_scan.scoring.job import run_scoring_job
from esm1v_scan.pipeline.rule_scripts import rule_script
from esm1v_scan.scoring.score_tables import write_parquet

with rule_script(snakemake) as log:
    p = snakemake.params
    model = snakemake.wildcards.model
    # the FASTA (checked at parse time already), the shard as planned (same assignment, same
    # content tag) and the positions the mask plan lists
    positions_param = dict(p.positions)
    shard = find_shard(read_fasta(snakemake.input.fasta, max_length=None), p.shard_residues,
                       snakemake.wildcards.shard, p.content, positions_param)
    by_name = {x.name: x for x in shard.proteins}
    names = list(by_name)
    listed = {seq_id: parse_ranges(ranges) for seq_id, ranges in positions_param.items()}
    positions = {n: sites_for(by_name[n], p.strategy, listed.get(by_name[n].id)) for n in names}
    locked = None  # the weights lock's row for the checkpoint, when one is checked
    if p.backend == "local":
        from esm1v_scan.inputs.config_checks import check_precision
        from esm1v_scan.scoring.models import load_model, resolve_checkpoint
        from esm1v_scan.scoring.local import LocalScorer, resolve_device
        from esm1v_scan.scoring.weights import verify

        # fp16 on a node whose device: auto finds no GPU (the submit host could not tell)
        check_precision({"backend": "local", "device": p.device, "precision": p.precision},
                        resolve_device(p.device).type)
        torch.set_num_threads(snakemake.threads)
        checkpoint = resolve_checkpoint(model, p.model_dir, p.offline)
        if checkpoint is not None:  # the weights lock: same file as recorded, before loading it
            locked = verify(p.weights_lock, model, checkpoint)
        loaded = load_model(model, p.model_dir, p.offline)
        backend = LocalScorer(loaded, p.device, p.batch_size, p.precision, p.max_residues,
                              fast=p.fast_path, long_windows=p.long_windows)
        log.info("model %s from %s on %s (%s, %s forward, %d threads)", model, loaded.source,
                 backend.device, p.precision, "fast" if backend.fast is not None else "plain",
                 snakemake.threads)
        window = p.max_residues
    else:  # biolm: the token comes from the environment, never through params
        from esm1v_scan.scoring.biolm import BiolmScorer, BiolmSettings, token_from_env

        settings = BiolmSettings.from_config(p.biolm)
        labels = {by_name[n].sequence: by_name[n].id for n in names}
        backend = BiolmScorer(model, token_from_env(), settings, p.max_residues, labels)
        window = backend.window
        log.info("model %s via BioLM %s at %s (%d items/request, %d in flight, response cache %s)",
                 model, backend.endpoint, backend.base_url, settings.items_per_request,
                 settings.max_in_flight, settings.response_cache or "off")
    cache = ScoreCache(p.cache_dir or None)
    scores = run_scoring_job(backend, shard.proteins, positions, p.strategy, cache, window)
    if p.backend == "biolm":
        log.info("BioLM: %s", backend.stats())
    record = job_record(backend, model=model, shard=shard.id, backend_name=p.backend,
                        strategy=p.strategy, cache=cache)
    record["workflow_git"] = package_origin()["git"]  # the code that computed these scores
    if "checkpoint" in record:
        record["checkpoint"]["weights_lock"] = (
            f"matches {p.weights_lock}" if locked else "not recorded in a weights lock")
    write_json(record, snakemake.output.provenance)
    write_parquet(scores, snakemake.output.scores)
