"""rule summary: results/summary.tsv and summary.html, one row per protein."""
import os
import sys

sys.path.insert(0, os.environ["ESM1V_SCAN_HOME"])  # the rules' own esm1v_scan first (rules/common.smk)

from pathlib import Path

import pandas as pd

from esm1v_scan.inputs.fasta import read_sequences_table
from esm1v_scan.files import write_text
from esm1v_scan.outputs.provenance import RANDOM_STAMP, random_weights, read_jobs
from esm1v_scan.outputs.report_pages import table_page
from esm1v_scan.pipeline.rule_scripts import rule_script
from esm1v_scan.outputs.run_summary import build_summary, ensemble_spearman, protein_links, summary_html
from esm1v_scan.scoring.score_tables import write_table

with rule_script(snakemake) as log:
    links = snakemake.params.links
    inp = snakemake.input
    proteins = read_sequences_table(inp.sequences)
    # results/<name>/variants.tsv -> <name>: variants, those not scored, and the ensemble's rho
    scoring = {Path(f).parent.name: pd.read_csv(f, sep="\t", usecols=["scoring"], dtype=str,
                                                keep_default_na=False)["scoring"]
               for f in inp.variants}
    n_variants = {name: len(s) for name, s in scoring.items()}
    n_not_scored = {name: int(s.str.startswith("not_scored").sum()) for name, s in scoring.items()}
    spearman = {Path(f).parent.name: ensemble_spearman(f) for f in inp.evaluations}
    table = build_summary(proteins, inp.ensembles, n_variants, spearman, n_not_scored)
    for name, n in n_not_scored.items():
        if n:
            log.warning("%s: %d of %d variants not scored (variants.tsv, column scoring)", name, n,
                        n_variants[name])
    write_table(table, snakemake.output.table)
    page_links = {p.name: protein_links(p.name, links["per_protein"],
                                        p.name in links["variants"],
                                        p.name in links["evaluated"],
                                        links["structures"].get(p.name)) for p in proteins}
    stamp = RANDOM_STAMP if random_weights(read_jobs(inp.jobs)) else ""
    # the annotated VCFs' counts (results/vcf/<name>.summary.tsv), after the proteins
    vcfs = {Path(f).name[:-len(".summary.tsv")]: pd.read_csv(f, sep="\t", dtype=str,
                                                             keep_default_na=False)
            for f in inp.vcf_summaries}
    write_text(snakemake.output.html,
               summary_html(table, f"esm1v-scan: {len(table)} proteins", page_links, stamp, vcfs))
    write_text(snakemake.output.page,
               table_page(snakemake.output.table, f"esm1v-scan: {len(table)} proteins",
                          "One row per protein; each protein's figures and tables are listed "
                          "in this item's description (left).", stamp))
    log.info("summary of %d proteins", len(table))
