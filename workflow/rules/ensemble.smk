# Average the models' per-sequence tables: one small local job per shard.


for shard in SHARDS:

    rule:
        name:
            f"ensemble_{shard.id}"
        input:
            expand(per_sequence("results/{name}/scores/{model}.tsv", shard, model="{model}"), model=MODELS),
        output:
            per_sequence("results/{name}/ensemble.tsv", shard),
        log:
            f"logs/ensemble/{shard.id}.log",
        params:
            names=shard.names,
            models=MODELS,
        localrule: True
        conda:
            "../../envs/base.yaml"
        script:
            "../scripts/ensemble.py"
