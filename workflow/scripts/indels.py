"""rule indels: one model's scores of a protein's in-frame indels (PLLR, per-residue delta)."""
import os
import sys

sys.path.insert(0, os.environ["ESM1V_SCAN_HOME"])  # the rules' own esm1v_scan first (rules/common.smk)

import torch

from esm1v_scan.scoring.score_cache import ScoreCache
from esm1v_scan.inputs.fasta import read_fasta
from esm1v_scan.scoring.models import load_model, resolve_checkpoint
from esm1v_scan.scoring.local import LocalScorer
from esm1v_scan.pipeline.rule_scripts import rule_script
from esm1v_scan.scoring.score_tables import write_table
from esm1v_scan.scoring.variant_scores import score_indel_list
from esm1v_scan.scoring.weights import verify

with rule_script(snakemake) as log:
    p = snakemake.params
    job, model = p.job, snakemake.wildcards.model
    protein = next(x for x in read_fasta(snakemake.input.fasta, max_length=None) if x.id == job["id"])
    if protein.sha256 != job["sha256"]:
        raise ValueError(f"{job['id']}: the FASTA changed since the run was planned; run again")
    torch.set_num_threads(snakemake.threads)
    checkpoint = resolve_checkpoint(model, p.model_dir, p.offline)
    if checkpoint is not None:  # the weights lock: same file as recorded, before loading it
        verify(p.weights_lock, model, checkpoint)
    scorer = LocalScorer(load_model(model, p.model_dir, p.offline), p.device, p.batch_size,
                         p.precision, p.max_residues, fast=p.fast_path)
    exact = p.indel_scoring == "exact"
    cache = ScoreCache(p.cache_dir or None)
    table = score_indel_list(scorer, protein.sequence, job["variants"], job["offset"],
                             p.max_residues, exact=exact, cache=cache)
    write_table(table, snakemake.output[0])
    log.info("%s, %s: %d in-frame indels scored (%s), %d forward passes, %d cache hits",
             protein.id, model, len(table), "exact PLL" if exact else "PLLR", scorer.forward_passes,
             cache.hits)
