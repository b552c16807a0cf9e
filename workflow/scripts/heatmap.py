"""rule heatmap_<shard>: one heatmap (PNG + SVG) per sequence of a shard."""
import os
import sys

sys.path.insert(0, os.environ["ESM1V_SCAN_HOME"])  # the rules' own esm1v_scan first (rules/common.smk)

from esm1v_scan.plotting import plot_heatmap
from esm1v_scan.scripting import rule_script
from esm1v_scan.tables import read_table

with rule_script(snakemake) as log:
    p = snakemake.params
    for name, rid, table, png, svg in zip(p.names, p.ids, snakemake.input, snakemake.output.png,
                                         snakemake.output.svg):
        plot_heatmap(read_table(table), f"{rid}  (ESM-1v ensemble)", [png, svg], value=p.value,
                     row_width=p.row_width)
        log.info("%s: heatmap written", name)
