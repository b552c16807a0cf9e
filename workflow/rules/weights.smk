# Weights: a checkpoint missing from model_dir is downloaded on the submit host (a local rule:
# login nodes have network, compute nodes often do not), resumably, then checked against the
# weights lock (or recorded there). Scoring jobs only ever read the file.


rule download_weights:
    output:
        str(Path(config["model_dir"] or ".") / "{model}.pt"),
    log:
        "logs/download_weights/{model}.log",
    wildcard_constraints:
        model=missing_weights_pattern(),
    localrule: True
    conda:
        "../../envs/base.yaml"
    params:
        base_url=config["weights_url"],
        lock=config["weights_lock"],
        offline=config["offline"],
    script:
        "../scripts/download_weights.py"


# `snakemake --cores 1 weights`: fetch and verify every configured checkpoint, nothing else.
rule weights:
    input:
        all_checkpoints(),
    localrule: True
