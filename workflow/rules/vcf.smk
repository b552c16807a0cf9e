# Annotated VCFs (config vcf): the planned entries of each VCF scored from the shard ensemble
# tables of its proteins (and the indel tables of rule indels, local backend), written back into
# the VCF in one streaming pass: results/vcf/{vcf}.esm1v.vcf.gz (BGZF) with its tabix index, a
# TSV of the entries and the summary counts. One job per VCF; its proteins were joined to the
# run's at parse time (rules/common.smk), so the scoring jobs are the run's own.


rule vcf_annotate:
    input:
        unpack(vcf_annotate_inputs),
    output:
        vcf="results/vcf/{vcf}.esm1v.vcf.gz",
        tbi="results/vcf/{vcf}.esm1v.vcf.gz.tbi",
        tsv=report(
            "results/vcf/{vcf}.esm1v.tsv",
            caption="../report/vcf_entries.rst",
            category="Variant effects",
            subcategory="VCF {vcf}",
            labels={"vcf": "{vcf}", "result": "entries (TSV)"},
        ),
        summary=report(
            "results/vcf/{vcf}.summary.tsv",
            caption="../report/vcf_summary.rst",
            category="Variant effects",
            subcategory="VCF {vcf}",
            labels={"vcf": "{vcf}", "result": "summary"},
        ),
    log:
        "logs/vcf_annotate/{vcf}.log",
    benchmark:
        "benchmarks/vcf_annotate/{vcf}.tsv"
    wildcard_constraints:
        vcf=one_of(list(VCF_PLANS)),
    conda:
        "../../envs/base.yaml"
    # not a local rule: a whole-exome VCF (a million records) is read, scored and written in a
    # minute or two, a job for the cluster rather than the submit host
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        plan=vcf_plan_args,
        aliases=vcf_aliases,
        models=MODELS,
        strategy=config["strategy"],
        indel_scoring=config["indel_scoring"],
        indel_reason=indel_reason(),
    script:
        "../scripts/vcf.py"
