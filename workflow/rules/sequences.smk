# FASTA -> validated sequence table -> mask plan.


rule parse_fasta:
    input:
        config["sequences"],
    output:
        "results/sequences.tsv",
    log:
        "logs/parse_fasta.log",
    params:
        max_residues=config["max_residues"],
    localrule: True
    conda:
        "../../envs/base.yaml"
    script:
        "../scripts/parse_fasta.py"


rule plan_masks:
    input:
        "results/sequences.tsv",
    output:
        "results/mask_plan.tsv",
    log:
        "logs/plan_masks.log",
    params:
        strategy=config["strategy"],
        shard_residues=config["shard_residues"],
        max_residues=config["max_residues"],
    localrule: True
    conda:
        "../../envs/base.yaml"
    script:
        "../scripts/plan_masks.py"
