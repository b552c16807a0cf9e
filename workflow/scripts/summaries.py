"""Per-sequence summary tables from an ensemble table: matrix.tsv and positions.tsv (for a rule
that makes them separately from the ensemble job; see /work/notes/structures-wiring.md)."""
from esm1v_scan.scripting import rule_script
from esm1v_scan.summaries import matrix_table, positions_table
from esm1v_scan.tables import read_table, write_table

with rule_script(snakemake) as log:
    ens = read_table(snakemake.input[0])
    offset = int(snakemake.params.offset)
    write_table(matrix_table(ens, offset), snakemake.output.matrix)
    write_table(positions_table(ens, offset), snakemake.output.positions)
    log.info("%s: %d positions, offset %d", snakemake.wildcards.name, ens["position"].nunique(), offset)
