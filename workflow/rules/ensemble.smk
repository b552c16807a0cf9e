# Average the models' per-sequence tables: one small local job per shard.


for shard in SHARDS:

    rule:
        name:
            f"ensemble_{shard.id}"
        input:
            # the scoring jobs' manifests, one per model, which list the shard's per-sequence
            # tables: 5 inputs instead of 5 x sequences keeps a proteome's DAG small (a dry run
            # of 20,000 sequences: benchmarks/scale.py)
            [manifest(shard, model) for model in MODELS],
        output:
            per_sequence("results/{name}/ensemble.tsv", shard),
        log:
            f"logs/ensemble/{shard.id}.log",
        localrule: True
        conda:
            "../../envs/base.yaml"
        params:
            names=shard.names,
            models=MODELS,
        script:
            "../scripts/ensemble.py"
