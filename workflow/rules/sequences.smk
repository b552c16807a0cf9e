# FASTA -> validated sequence table -> mask plan.


rule parse_fasta:
    input:
        SEQUENCES_FASTA,
    output:
        "results/sequences.tsv",
    log:
        "logs/parse_fasta.log",
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
    localrule: True
    conda:
        "../../envs/base.yaml"
    params:
        strategy=config["strategy"],
        shard_residues=config["shard_residues"],
        max_residues=config["max_residues"],
        long_windows=config["long_windows"],
        positions=variant_positions(),
    script:
        "../scripts/plan_masks.py"
