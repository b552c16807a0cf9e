"""rule heatmap_<shard>: one heatmap (PNG + SVG) per sequence of a shard.

Residue numbers: config ``offsets`` (FASTA id -> number of the first residue, default 1). Random
weights: from the shard's scoring-job records, the rule's ``provenance`` input when it has one,
else results/provenance/jobs/*/<shard>.json (written by the score jobs the ensemble waited for).
"""
import os
import sys

sys.path.insert(0, os.environ["ESM1V_SCAN_HOME"])  # the rules' own esm1v_scan first (rules/common.smk)

from pathlib import Path

from esm1v_scan.plotting import heatmap
from esm1v_scan.provenance import random_weights, read_jobs
from esm1v_scan.scripting import rule_script
from esm1v_scan.tables import read_table

with rule_script(snakemake) as log:
    p = snakemake.params
    declared = snakemake.input.get("provenance", [])
    declared = [declared] if isinstance(declared, str) else list(declared)
    tables = [path for path in snakemake.input if path not in set(declared)]
    shard = snakemake.rule.removeprefix("heatmap_")
    jobs = declared or sorted(Path("results/provenance/jobs").glob(f"*/{shard}.json"))
    random = random_weights(read_jobs(jobs))
    if random:
        log.warning("checkpoints are not the published ESM-1v weights: figures stamped")
    offsets = snakemake.config.get("offsets") or {}
    for name, rid, table, png, svg in zip(p.names, p.ids, tables, snakemake.output.png,
                                         snakemake.output.svg):
        heatmap(read_table(table), [png, svg], title=f"{rid}: ESM-1v ensemble scan",
                value=p.value, row_width=p.row_width, offset=int(offsets.get(rid, 1)),
                random_weights=random)
        log.info("%s: heatmap written", name)
