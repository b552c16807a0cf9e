"""rules structure_pdb / structure_cif: a protein's mean_score on its structure's B-factors, with
a ChimeraX attribute file, a PyMOL script and the residue map."""
import os
import sys

sys.path.insert(0, os.environ["ESM1V_SCAN_HOME"])  # the rules' own esm1v_scan first (rules/common.smk)

from pathlib import Path

from esm1v_scan.inputs.fasta import read_sequences_table
from esm1v_scan.outputs.protein_files import protein_rows
from esm1v_scan.outputs.provenance import RANDOM_STAMP, random_weights, read_jobs
from esm1v_scan.pipeline.rule_scripts import rule_script
from esm1v_scan.errors import console_warning
from esm1v_scan.inputs.structures import StructureSpec
from esm1v_scan.outputs.structure_files import write_outputs
from esm1v_scan.outputs.protein_tables import positions_table
from esm1v_scan.scoring.score_tables import read_parquet

with rule_script(snakemake) as log:
    spec = StructureSpec(**snakemake.params.spec)
    protein = next(p for p in read_sequences_table(snakemake.input.sequences) if p.id == spec.id)
    rows = protein_rows(read_parquet(snakemake.input.ensemble, protein.name))[protein.name]
    positions = positions_table(rows, snakemake.params.offset)
    jobs = read_jobs(snakemake.input.jobs)
    stamp = RANDOM_STAMP if random_weights(jobs) else ""
    models = [job["model"] for job in jobs]
    for warning in write_outputs(spec, protein, positions, Path(snakemake.output.map).parent,
                                 stamp, models):
        console_warning(log, warning)
    log.info("%s: chain %s of %s, %d positions scored", spec.id, spec.chain, spec.path,
             len(positions))
