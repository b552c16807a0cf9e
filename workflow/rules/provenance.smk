# Provenance of the run: versions, model digests (or API endpoint and date), device, precision,
# strategy, resolved config and git commit, gathered from the scoring jobs' records.


rule provenance:
    input:
        jobs=job_records(),
        tables="results/ensemble.parquet",
    output:
        report(
            "results/provenance/provenance.yaml",
            caption="../report/provenance.rst",
            category="Provenance",
        ),
    log:
        "logs/provenance.log",
    localrule: True
    conda:
        "../../envs/base.yaml"
    params:
        facts=RUN_FACTS,
        workflow_dir=workflow.basedir,
    script:
        "../scripts/provenance.py"
