"""rule parse_fasta: validate the FASTA and write results/sequences.tsv."""
import os
import sys

sys.path.insert(0, os.environ["ESM1V_SCAN_HOME"])  # the rules' own esm1v_scan first (rules/common.smk)

from esm1v_scan.inputs.fasta import read_fasta, sequences_table
from esm1v_scan.pipeline.rule_scripts import rule_script
from esm1v_scan.scoring.score_tables import write_table

with rule_script(snakemake) as log:
    proteins = read_fasta(snakemake.input[0])  # any length: long proteins are scored in windows
    write_table(sequences_table(proteins), snakemake.output[0])
    log.info("%d sequences, %d residues", len(proteins), sum(p.length for p in proteins))
