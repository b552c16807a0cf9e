# One scoring job per (model, shard): it loads the model once and scores every sequence of the
# shard into one long table, results/shards/{shard}/scores/{model}.parquet. One wildcard rule,
# `score`, so profiles and module users can address it (set-resources: score:mem_mb=...).


rule score:
    input:
        # The FASTA itself, as ancient: after an edit of the file only the shards whose content
        # changed rerun (through the param `content`), not every finished one. Not
        # results/sequences.tsv: Snakemake reruns every job downstream of a job that reruns.
        fasta=ancient(SEQUENCES_FASTA),
        checkpoint=checkpoint_input,
    output:
        scores="results/shards/{shard}/scores/{model}.parquet",
        provenance="results/provenance/jobs/{model}/{shard}.json",
    log:
        "logs/score/{model}/{shard}.log",
    benchmark:
        "benchmarks/score/{model}/{shard}.tsv"
    conda:
        "../../envs/scoring.yaml"
    threads: scoring_threads()
    resources:
        **scoring_resources(),
        runtime=scoring_runtime,
    params:
        # the shard's content (names, sequences, listed positions) as 16 hex digits: the job
        # re-reads the FASTA and re-runs the shard assignment to find its sequences
        content=shard_tag,
        shard_residues=config["shard_residues"],
        positions=shard_positions,  # mutation lists: only their sites (FASTA id -> '3,7-9')
        backend=config["backend"],
        strategy=config["strategy"],
        model_dir=config["model_dir"],
        offline=config["offline"],
        device=config["device"],
        precision=config["precision"],
        batch_size=config["batch_size"],
        max_residues=config["max_residues"],
        long_windows=config["long_windows"],
        cache_dir=config["cache_dir"],
        weights_lock=config["weights_lock"],
        biolm=biolm_params(),
        fast_path=config["fast_path"],
    script:
        "../scripts/score.py"
