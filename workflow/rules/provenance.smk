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
        # the rules' own package: version, source and commit (a module's, not the user's)
        origin=WORKFLOW_ORIGIN,
        # the Snakefile that ran the workflow (a module's user project) and its git state
        project=PROJECT,
    script:
        "../scripts/provenance.py"


# The report's Methods item: a paragraph a paper can use, its references, the command and the
# resolved config, from the provenance document (report_pages.methods_html).
rule methods:
    input:
        "results/provenance/provenance.yaml",
    output:
        report(
            "results/provenance/methods.html",
            caption="../report/methods.rst",
            category="2. Methods",
            labels={"item": "methods"},
        ),
    log:
        "logs/methods.log",
    localrule: True
    conda:
        "../../envs/base.yaml"
    script:
        "../scripts/methods.py"
