# esm1v-scan: `snakemake --cores 8` in the clone runs the workflow, whose main file is
# workflow/Snakefile (the layout Snakemake modules and the workflow catalog expect).


include: "workflow/Snakefile"


# An include does not carry its default target over: this one asks for what rule all asks for.
rule default:
    default_target: True
    input:
        rules.all.input,
    localrule: True
