# The run's landing summary: one row per protein (description, length, mean tolerance, variants
# scored, Spearman of the ensemble where measured), as a table, a page linking each protein's
# files in the results folder and the report's page of the table. Reads the shards' ensemble tables one at a time (cheap for a proteome).


rule summary:
    input:
        ensembles=expand(
            "results/shards/{shard}/ensemble.parquet", shard=list(SHARD_BY_ID)
        ),
        sequences="results/sequences.tsv",
        variants=[f"results/{n}/variants.tsv" for n in VARIANT_LISTS],
        evaluations=[f"results/{n}/evaluation.tsv" for n in EVALUATED],
        vcf_summaries=[f"results/vcf/{n}.summary.tsv" for n in VCF_PLANS],
        jobs=job_records(),
    output:
        table=report(
            "results/summary.tsv",
            caption="../report/summary.rst",
            category="1. Summary",
            labels={"table": "summary (TSV)"},
        ),
        # links each protein's files in the results folder (not a report item: links to other
        # files lead nowhere inside the report)
        html="results/summary.html",
        # the report's summary: the table, sortable, its caption linking each protein's items
        page=report(
            "results/summary_table.html",
            caption="../report/summary.rst",
            category="1. Summary",
            labels={"table": "summary"},
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
