"""rule ensemble_<shard>: average the models for every sequence of a shard."""
import os
import sys

sys.path.insert(0, os.environ["ESM1V_SCAN_HOME"])  # the rules' own esm1v_scan first (rules/common.smk)

from pathlib import Path

import pandas as pd

from esm1v_scan.ensemble import ensemble
from esm1v_scan.errors import InputError
from esm1v_scan.scripting import rule_script
from esm1v_scan.tables import read_table, write_table

with rule_script(snakemake) as log:
    names, models = list(snakemake.params.names), list(snakemake.params.models)
    # one manifest per model (rules/ensemble.smk): name -> the table its scoring job wrote
    tables = {
        m: pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False).set_index("name")["table"]
        for m, path in zip(models, snakemake.input)
    }
    for name, out in zip(names, snakemake.output):
        paths = {m: tables[m][name] for m in models}
        for m, path in paths.items():
            if not Path(path).exists():
                manifest = snakemake.input[models.index(m)]
                raise InputError(f"the score table of '{name}' is gone; delete {manifest} to rescore "
                                 "that shard with this model (its cache makes that quick)", path)
        write_table(ensemble({m: read_table(path) for m, path in paths.items()}), out)
        log.info("%s: ensemble of %d models", name, len(models))
