"""rule collect_ensemble: every shard's ensemble rows in results/ensemble.parquet."""
import os
import sys

sys.path.insert(0, os.environ["ESM1V_SCAN_HOME"])  # the rules' own esm1v_scan first (rules/common.smk)

from esm1v_scan.outputs.protein_files import collect
from esm1v_scan.pipeline.rule_scripts import rule_script

with rule_script(snakemake) as log:
    rows = collect(snakemake.input, snakemake.output[0])
    log.info("%d rows from %d shards", rows, len(snakemake.input))
