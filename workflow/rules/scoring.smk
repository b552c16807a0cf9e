# One scoring job per (model, shard): it loads the model once and scores every sequence of the
# shard. Rules are made per shard because a job writes one table per sequence of its shard, plus
# the shard's manifest results/shards/<shard>/<model>-<content hash>.tsv listing them.


for shard in SHARDS:

    rule:
        name:
            f"score_{shard.id}"
        input:
            # The FASTA itself, as ancient: after an edit of the file only the shards whose content
            # changed rerun (their manifest's name changes), not every finished one. Not
            # results/sequences.tsv: Snakemake reruns every job downstream of a job that reruns.
            fasta=ancient(config["sequences"]),
            checkpoint=checkpoint_input,
        output:
            tables=per_sequence(
                "results/{name}/scores/{model}.tsv", shard, model="{model}"
            ),
            provenance=f"results/provenance/jobs/{{model}}/{shard.id}.json",
            # what the job wrote (and what came from the cache); the ensemble job's input
            manifest=manifest(shard),
        log:
            f"logs/score/{{model}}/{shard.id}.log",
        benchmark:
            f"benchmarks/score/{{model}}/{shard.id}.tsv"
        conda:
            "../../envs/scoring.yaml"
        threads: scoring_threads()
        resources:
            **scoring_resources(),
            runtime=scoring_runtime(shard),
        params:
            shard=shard.id,
            positions=shard_positions(shard),  # mutation lists: only their sites (FASTA id -> '3,7-9')
            backend=config["backend"],
            strategy=config["strategy"],
            model_dir=config["model_dir"],
            offline=config["offline"],
            device=config["device"],
            precision=config["precision"],
            batch_size=config["batch_size"],
            max_residues=config["max_residues"],
            cache_dir=config["cache_dir"],
            weights_lock=config["weights_lock"],
            biolm=biolm_params(),
            fast_path=config["fast_path"],
        script:
            "../scripts/score.py"
