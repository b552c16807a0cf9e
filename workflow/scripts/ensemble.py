"""rule ensemble: average the models over every sequence of a shard (one long table)."""
import os
import sys

sys.path.insert(0, os.environ["ESM1V_SCAN_HOME"])  # the rules' own esm1v_scan first (rules/common.smk)

import pandas as pd

from esm1v_scan.scoring.ensemble import ensemble
from esm1v_scan.outputs.protein_files import with_residues
from esm1v_scan.pipeline.rule_scripts import rule_script
from esm1v_scan.scoring.score_tables import write_parquet

with rule_script(snakemake) as log:
    models = list(snakemake.params.models)
    table = ensemble({m: pd.read_parquet(path) for m, path in zip(models, snakemake.input)})
    table = with_residues(table, snakemake.params.offsets)
    write_parquet(table, snakemake.output[0])
    log.info("%s: ensemble of %d models over %d sequences", snakemake.wildcards.shard, len(models),
             table["name"].nunique())
