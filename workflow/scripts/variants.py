"""rule variants: score one sequence's mutation list from its ensemble table (and, for in-frame
indels, the per-model tables of rule indels)."""
import os
import sys

sys.path.insert(0, os.environ["ESM1V_SCAN_HOME"])  # the rules' own esm1v_scan first (rules/common.smk)

from esm1v_scan.inputs.fasta import read_sequences_table
from esm1v_scan.outputs.protein_files import protein_rows
from esm1v_scan.pipeline.rule_scripts import rule_script
from esm1v_scan.scoring.score_tables import read_parquet, read_table, write_table
from esm1v_scan.inputs.variant_lists import VariantSpec, read_variants
from esm1v_scan.scoring.variant_scores import score_variants

with rule_script(snakemake) as log:
    p = snakemake.params
    spec = VariantSpec(**p.spec)
    protein = next(x for x in read_sequences_table(snakemake.input.sequences) if x.id == spec.id)
    variants = read_variants(spec, protein)
    for warning in variants.warnings:
        log.warning(warning)
    # the sequence's rows of its shard's ensemble table
    table = protein_rows(read_parquet(snakemake.input.ensemble, protein.name))[protein.name]
    models = list(p.models)
    indels = dict(zip(models, map(read_table, snakemake.input.indels))) or None
    scored = score_variants(variants, table, models, indels, exact=p.indel_scoring == "exact",
                            indel_reason=p.indel_reason)
    write_table(scored, snakemake.output[0])
    counts = scored["variant_type"].value_counts()
    not_scored = scored["scoring"].str.startswith("not_scored")
    log.info("%s: %d variants (%s) at %d scanned positions, experimental column: %s", spec.id,
             len(scored), ", ".join(f"{n} {t}" for t, n in counts.items()),
             len(variants.positions), variants.score_column)
    if not_scored.any():
        reasons = scored.loc[not_scored, "scoring"].value_counts()
        log.warning("%s: %d variant(s) not scored (kept, empty scores): %s", spec.id,
                    int(not_scored.sum()), "; ".join(f"{n} x {r[len('not_scored: '):]}"
                                                     for r, n in reasons.items()))
