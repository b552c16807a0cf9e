"""rule protein_files_<shard>: the per-protein tables and heatmaps of every sequence of a shard."""
import os
import sys

sys.path.insert(0, os.environ["ESM1V_SCAN_HOME"])  # the rules' own esm1v_scan first (rules/common.smk)

from pathlib import Path

from esm1v_scan.outputs.protein_files import write_shard_protein_files
from esm1v_scan.outputs.provenance import random_weights, read_jobs
from esm1v_scan.pipeline.rule_scripts import rule_script

with rule_script(snakemake) as log:
    p = snakemake.params
    # results/ as the rule declares it (a module's prefix: included): <root>/<name>/ensemble.tsv
    root = Path(snakemake.output.ensemble[0]).parent.parent
    names = write_shard_protein_files(dict(zip(p.models, snakemake.input.scores)),
                                      snakemake.input.ensemble, p.heatmap,
                                      snakemake.output.index, root=root, offsets=p.offsets,
                                      marks=p.marks, top_n=p.top_mutations,
                                      random_weights=random_weights(read_jobs(snakemake.input.jobs)))
    log.info("per-protein files of %d sequences written", len(names))
