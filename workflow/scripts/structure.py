"""rule structure_pdb / structure_cif: one sequence's mean scores on its structure."""
import os
import sys

sys.path.insert(0, os.environ["ESM1V_SCAN_HOME"])  # the rules' own esm1v_scan first (rules/common.smk)

from pathlib import Path

from esm1v_scan.fasta import read_sequences_table
from esm1v_scan.scripting import rule_script
from esm1v_scan.structures import StructureSpec, write_outputs
from esm1v_scan.tables import read_table

with rule_script(snakemake) as log:
    spec = StructureSpec(**snakemake.params.spec)
    protein = next(p for p in read_sequences_table(snakemake.input.sequences) if p.id == spec.id)
    outdir = Path(snakemake.output.structure).parent
    for warning in write_outputs(spec, protein, read_table(snakemake.input.positions), outdir):
        log.warning(warning)
    log.info("%s: chain %s of %s, map in %s", spec.id, spec.chain, spec.path, snakemake.output.map)
