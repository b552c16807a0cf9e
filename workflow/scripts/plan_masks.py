"""rule plan_masks: which positions each sequence needs scored, and its shard."""
import os
import sys

sys.path.insert(0, os.environ["ESM1V_SCAN_HOME"])  # the rules' own esm1v_scan first (rules/common.smk)

from esm1v_scan.inputs.fasta import read_sequences_table
from esm1v_scan.scoring.planning import assign_shards, mask_plan, parse_ranges
from esm1v_scan.pipeline.rule_scripts import rule_script
from esm1v_scan.scoring.score_tables import write_table

with rule_script(snakemake) as log:
    p = snakemake.params
    proteins = read_sequences_table(snakemake.input[0])
    # sequences with a mutation list: only the sites their variants touch (FASTA id -> '3,7-9')
    positions = {seq_id: parse_ranges(ranges) for seq_id, ranges in dict(p.positions).items()}
    plan = mask_plan(assign_shards(proteins, p.shard_residues), p.strategy, p.max_residues, positions,
                     p.long_windows)
    write_table(plan, snakemake.output[0])
    log.info("%d masked inputs per model in %d shards", plan["masked_inputs"].sum(), plan["shard"].nunique())
