"""rule ensemble_<shard>: average the models for every sequence of a shard."""
from esm1v_scan.ensemble import ensemble
from esm1v_scan.scripting import rule_script
from esm1v_scan.tables import read_table, write_table

with rule_script(snakemake) as log:
    names, models = list(snakemake.params.names), list(snakemake.params.models)
    inputs = list(snakemake.input)  # name-major, model-minor (see rules/ensemble.smk)
    for i, (name, out) in enumerate(zip(names, snakemake.output)):
        paths = inputs[i * len(models) : (i + 1) * len(models)]
        write_table(ensemble({m: read_table(path) for m, path in zip(models, paths)}), out)
        log.info("%s: ensemble of %d models", name, len(models))
