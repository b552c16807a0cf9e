"""rule download_weights: fetch one checkpoint (resumably) and check it against the weights lock."""
import os
import sys

sys.path.insert(0, os.environ["ESM1V_SCAN_HOME"])  # the rules' own esm1v_scan first (rules/common.smk)

from pathlib import Path

from esm1v_scan.pipeline.rule_scripts import rule_script
from esm1v_scan.scoring.weights import fetch_model

with rule_script(snakemake) as log:
    p = snakemake.params
    path = fetch_model(snakemake.wildcards.model, Path(snakemake.output[0]).parent, lock=p.lock or None,
                       offline=p.offline, base_url=p.base_url)
    log.info("%s ready", path)
