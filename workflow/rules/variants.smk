# Mutation lists: variant scores (substitutions: sum of the single-site scores; stop-gains: the
# worst substitution downstream; in-frame indels: PLLR from rule indels), and for lists with
# experimental values ProteinGym's metrics (Spearman's rho, AUC, MCC, NDCG, top-10% recall) and a
# scatter plot. One small local job per sequence with a list: lists are few and each job is quick,
# so a plain wildcard rule (restricted to those sequences) is simplest.


rule indels:
    input:
        # ancient, as for rule score: the param `job` names the protein's residues and indels,
        # so only an edit that changes them reruns this job
        fasta=ancient(SEQUENCES_FASTA),
        checkpoint=checkpoint_input,
    output:
        "results/{name}/indels/{model}.tsv",
    log:
        "logs/indels/{model}/{name}.log",
    benchmark:
        "benchmarks/indels/{model}/{name}.tsv"
    wildcard_constraints:
        name=one_of(INDEL_NAMES),
    conda:
        "../../envs/scoring.yaml"
    threads: scoring_threads()
    resources:
        **scoring_resources(),
        runtime=indel_runtime,
    params:
        job=indel_job,
        indel_scoring=config["indel_scoring"],
        model_dir=config["model_dir"],
        offline=config["offline"],
        device=config["device"],
        precision=config["precision"],
        batch_size=config["batch_size"],
        max_residues=config["max_residues"],
        cache_dir=config["cache_dir"],
        weights_lock=config["weights_lock"],
        fast_path=config["fast_path"],
    script:
        "../scripts/indels.py"


rule variants:
    input:
        ensemble=shard_ensemble_of,
        sequences="results/sequences.tsv",
        variants=variant_file,
        indels=indel_tables,
    output:
        report(
            "results/{name}/variants.tsv",
            caption="../report/variants.rst",
            category="Variant effects",
            subcategory="{name}",
            labels={"sequence": "{name}", "result": "variant scores"},
        ),
    log:
        "logs/variants/{name}.log",
    wildcard_constraints:
        name=one_of(list(VARIANT_LISTS)),
    localrule: True
    conda:
        "../../envs/base.yaml"
    params:
        spec=variant_spec,
        models=MODELS,
        indel_scoring=config["indel_scoring"],
        indel_reason=indel_reason(),
    script:
        "../scripts/variants.py"


rule evaluate:
    input:
        variants="results/{name}/variants.tsv",
        # the scoring jobs of the protein's shard: figures stamped when weights are random
        provenance=shard_jobs_of,
    output:
        table="results/{name}/evaluation.tsv",
        html=report(
            "results/{name}/evaluation.html",
            caption="../report/evaluation.rst",
            category="Variant effects",
            subcategory="{name}",
            labels={"sequence": "{name}", "result": "evaluation"},
        ),
        png=report(
            "results/{name}/scatter.png",
            caption="../report/scatter.rst",
            category="Variant effects",
            subcategory="{name}",
            labels={"sequence": "{name}", "result": "scatter plot"},
        ),
        svg="results/{name}/scatter.svg",
    log:
        "logs/evaluate/{name}.log",
    wildcard_constraints:
        name=one_of(EVALUATED),
    localrule: True
    conda:
        "../../envs/base.yaml"
    params:
        experimental_column=experimental_column,
        label=variant_label,
        bootstrap=config["bootstrap"],
        models=MODELS,
    script:
        "../scripts/evaluate.py"
