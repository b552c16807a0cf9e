"""rule protein_files_<shard>: the per-protein tables and heatmaps of every sequence of a shard."""
from esm1v_scan.outputs import write_shard_protein_files
from esm1v_scan.scripting import rule_script

with rule_script(snakemake) as log:
    p = snakemake.params
    names = write_shard_protein_files(dict(zip(p.models, snakemake.input.scores)),
                                      snakemake.input.ensemble, p.heatmap,
                                      snakemake.output.index)
    log.info("per-protein files of %d sequences written", len(names))
