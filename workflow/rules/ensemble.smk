# Average the models: one small local job per shard, then every shard's rows in one table.


rule ensemble:
    input:
        shard_scores(),
    output:
        "results/shards/{shard}/ensemble.parquet",
    log:
        "logs/ensemble/{shard}.log",
    localrule: True
    conda:
        "../../envs/base.yaml"
    params:
        models=MODELS,
        # the numbering of the shard's proteins (residue and mutant columns)
        offsets=lambda wc: shard_offsets(SHARD_BY_ID[wc.shard]),
    script:
        "../scripts/ensemble.py"


# results/ensemble.parquet: every protein's ensemble rows (columns name and sequence_id first),
# one row group per shard, written streaming (one shard in memory at a time)
rule collect_ensemble:
    input:
        expand("results/shards/{shard}/ensemble.parquet", shard=list(SHARD_BY_ID)),
    output:
        "results/ensemble.parquet",
    log:
        "logs/collect_ensemble.log",
    localrule: True
    conda:
        "../../envs/base.yaml"
    script:
        "../scripts/collect_ensemble.py"
