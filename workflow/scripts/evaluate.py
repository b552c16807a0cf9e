"""rule evaluate: ProteinGym's metrics (Spearman's rho, AUC, MCC, NDCG, top-10% recall) of each
model and the ensemble against experiment, with bootstrap standard errors; scatter plot.

Random weights: from the scoring-job records, the rule's ``provenance`` input when it has one,
else every results/provenance/jobs/*/*.json of this run.
"""
import os
import sys

sys.path.insert(0, os.environ["ESM1V_SCAN_HOME"])  # the rules' own esm1v_scan first (rules/common.smk)


import pandas as pd

from esm1v_scan.outputs.evaluation import BOOTSTRAP_SEED, evaluate, evaluation_html, plot_scatter
from esm1v_scan.outputs.provenance import random_weights, read_jobs
from esm1v_scan.pipeline.rule_scripts import rule_script
from esm1v_scan.scoring.score_tables import write_table
from esm1v_scan.inputs.variant_lists import (DEFAULT_BIN_COLUMN, ENSEMBLE_COLUMN, describe_label,
                                 experimental_values, label_values)

with rule_script(snakemake) as log:
    p = snakemake.params
    name = snakemake.wildcards.name
    column = p.experimental_column
    variants = snakemake.input.variants
    random = random_weights(read_jobs(snakemake.input.provenance))
    if random:
        log.warning("checkpoints are not the published ESM-1v weights: figures stamped")
    table = pd.read_csv(variants, sep="\t", dtype=str, keep_default_na=False)
    experiment = experimental_values(table[column], variants, column)
    label = label_values(dict(p.label), table, experiment, variants)
    # empty cells: variants not scored (variants.tsv's column scoring says why), left out
    scores = table[[f"score_{m}" for m in p.models] + [ENSEMBLE_COLUMN]].apply(
        pd.to_numeric, errors="coerce")
    predictors = {m: f"score_{m}" for m in p.models} | {"ensemble": ENSEMBLE_COLUMN}
    # per variant type where a type has enough measured variants, and over all scored rows;
    # every row with all the metrics and bootstrap standard errors over its own variants
    types = table["variant_type"] if "variant_type" in table else None
    result = evaluate(scores, experiment, column, predictors, label,
                      describe_label(dict(p.label), column), p.bootstrap, types)
    write_table(result, snakemake.output.table)
    notes = []
    if label is None:
        notes.append(f"auc and mcc are empty: the variant list of {name} has no binary label (no "
                     f"column {DEFAULT_BIN_COLUMN}; give it bin_column: or cutoff: in the config's "
                     "variants entry).")
    notes.append(f"Standard errors (<metric>_se): {p.bootstrap} bootstrap resamples of the "
                 f"variants, seed {BOOTSTRAP_SEED}." if p.bootstrap else
                 "No standard errors: bootstrap is 0.")
    with open(snakemake.output.html, "w") as fh:
        fh.write(evaluation_html(result, f"{name}: ESM-1v against '{column}'", notes, random))
    plot_scatter(scores[ENSEMBLE_COLUMN], experiment, [snakemake.output.png, snakemake.output.svg],
                 title=f"{name}: ESM-1v ensemble against experiment", ylabel=f"experiment: {column}",
                 random_weights=random)
    for row in result.itertuples():
        log.info("%s (%s): Spearman %.4f, AUC %.4f, MCC %.4f, NDCG %.4f, top-10%% recall %.4f "
                 "over %d variants", row.predictor, row.variant_type, row.spearman, row.auc,
                 row.mcc, row.ndcg, row.top10_recall, row.n)
