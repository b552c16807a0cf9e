# esm1v-scan: `snakemake --cores 8` in the clone runs the workflow, whose main file is
# workflow/Snakefile (the layout Snakemake modules and the workflow catalog expect).


include: "workflow/Snakefile"
