# esm1v-scan: FASTA -> validated sequences -> mask plan -> per-model ESM-1v scores -> ensemble
# -> heatmaps and report. The logic lives in workflow/esm1v_scan/; rules only wire files.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/weights.smk"
include: "workflow/rules/provenance.smk"
include: "workflow/rules/sequences.smk"
include: "workflow/rules/scoring.smk"
include: "workflow/rules/ensemble.smk"
include: "workflow/rules/per_protein.smk"
include: "workflow/rules/variants.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
        "results/provenance/provenance.yaml",
    localrule: True
