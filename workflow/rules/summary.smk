# The run's landing summary: one row per protein (description, length, mean tolerance, variants
# scored, Spearman of the ensemble where measured), as a table and a page linking each protein's
# files. Reads the shards' ensemble tables one at a time (cheap for a proteome).


rule summary:
    input:
        ensembles=expand(
            "results/shards/{shard}/ensemble.parquet", shard=list(SHARD_BY_ID)
        ),
        sequences="results/sequences.tsv",
        variants=[f"results/{n}/variants.tsv" for n in VARIANT_LISTS],
        evaluations=[f"results/{n}/evaluation.tsv" for n in EVALUATED],
        jobs=job_records(),
    output:
        table=report(
            "results/summary.tsv",
            caption="../report/summary.rst",
            category="1. Summary",
            labels={"table": "summary"},
        ),
        html=report(
            "results/summary.html",
            caption="../report/summary.rst",
            category="1. Summary",
            labels={"table": "summary page"},
        ),
    log:
        "logs/summary.log",
    localrule: True
    conda:
        "../../envs/base.yaml"
    params:
        links=summary_links(),
    script:
        "../scripts/summary.py"
