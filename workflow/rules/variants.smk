# Mutation lists: variant scores (sum of the single-site scores), and for lists with experimental
# values ProteinGym's metrics (Spearman's rho, AUC, MCC, NDCG, top-10% recall) and a scatter
# plot. One small local job per sequence with a list: lists are few and each job is quick, so a
# plain wildcard rule (restricted to those sequences) is simplest.


rule variants:
    input:
        ensemble=shard_ensemble_of,
        sequences="results/sequences.tsv",
        variants=variant_file,
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
