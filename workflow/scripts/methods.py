"""rule methods: results/provenance/methods.html, the report's Methods item, from the run's provenance."""
import os
import sys

sys.path.insert(0, os.environ["ESM1V_SCAN_HOME"])  # the rules' own esm1v_scan first (rules/common.smk)

import yaml

from esm1v_scan.files import write_text
from esm1v_scan.outputs.report_pages import methods_html
from esm1v_scan.pipeline.rule_scripts import rule_script

with rule_script(snakemake) as log:
    with open(snakemake.input[0], encoding="utf-8") as fh:
        prov = yaml.safe_load(fh)
    # exported by the Snakemake process that parsed the workflow (rules/common.smk)
    command = os.environ.get("ESM1V_SCAN_COMMAND", "not recorded")
    write_text(snakemake.output[0], methods_html(prov, command))
    log.info("methods of the run written")
