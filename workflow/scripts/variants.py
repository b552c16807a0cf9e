"""rule variants: score one sequence's mutation list from its ensemble table."""
import os
import sys

sys.path.insert(0, os.environ["ESM1V_SCAN_HOME"])  # the rules' own esm1v_scan first (rules/common.smk)

from esm1v_scan.fasta import read_sequences_table
from esm1v_scan.outputs import protein_rows
from esm1v_scan.scripting import rule_script
from esm1v_scan.tables import read_parquet, write_table
from esm1v_scan.variants import VariantSpec, read_variants, score_variants

with rule_script(snakemake) as log:
    spec = VariantSpec(**snakemake.params.spec)
    protein = next(p for p in read_sequences_table(snakemake.input.sequences) if p.id == spec.id)
    variants = read_variants(spec, protein)
    for warning in variants.warnings:
        log.warning(warning)
    # the sequence's rows of its shard's ensemble table
    table = protein_rows(read_parquet(snakemake.input.ensemble, protein.name))[protein.name]
    scored = score_variants(variants, table, list(snakemake.params.models))
    write_table(scored, snakemake.output[0])
    n_multi = sum(len(m) > 1 for m in variants.mutations)
    log.info("%s: %d variants (%d multi-mutants) at %d sites, experimental column: %s", spec.id,
             len(scored), n_multi, len(variants.positions), variants.score_column)
