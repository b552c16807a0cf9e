"""rule provenance: gather the scoring jobs' records into results/provenance/provenance.yaml."""
import os
import sys

sys.path.insert(0, os.environ["ESM1V_SCAN_HOME"])  # the rules' own esm1v_scan first (rules/common.smk)

import json
from pathlib import Path

import yaml

from esm1v_scan.files import write_text
from esm1v_scan.outputs.provenance import build
from esm1v_scan.pipeline.rule_scripts import rule_script

with rule_script(snakemake) as log:
    p = snakemake.params
    jobs = [json.loads(Path(path).read_text()) for path in snakemake.input.jobs]
    doc = build(jobs, p.facts["config"], p.origin["source"], snakemake_version=p.facts["snakemake"],
                origin=dict(p.origin), project=dict(p.project))
    out = Path(snakemake.output[0])
    write_text(out, yaml.safe_dump(doc, sort_keys=False, default_flow_style=False))
    log.info("provenance of %d scoring jobs written to %s", len(jobs), out)
