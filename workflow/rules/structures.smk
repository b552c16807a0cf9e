# Scores on 3D structures (config structures): the chain aligned to the FASTA sequence at parse
# time (rules/common.smk), B-factors = mean_score per residue, a ChimeraX attribute file, a PyMOL
# script and the residue map. structure_pdb writes PDB input as structure.pdb, structure_cif
# mmCIF input as structure.cif; otherwise the two rules are the same.


rule structure_pdb:
    input:
        structure=structure_source,
        ensemble=shard_ensemble_of,
        sequences="results/sequences.tsv",
        jobs=shard_jobs_of,
    output:
        structure=protein_report(
            "{name}", "structure.pdb", "structure.rst", "structure (PDB)"
        ),
        defattr=protein_report(
            "{name}", "structure.defattr", "structure.rst", "structure (ChimeraX)"
        ),
        pml=protein_report(
            "{name}", "structure.pml", "structure.rst", "structure (PyMOL)"
        ),
        map=protein_report(
            "{name}", "structure_map.tsv", "structure.rst", "structure residue map"
        ),
    log:
        "logs/structure/{name}.log",
    wildcard_constraints:
        name=one_of(structure_files("pdb")),
    localrule: True
    conda:
        "../../envs/base.yaml"
    params:
        spec=structure_spec,
        offset=protein_offset,
    script:
        "../scripts/structure.py"


use rule structure_pdb as structure_cif with:
    output:
        structure=protein_report(
            "{name}", "structure.cif", "structure.rst", "structure (mmCIF)"
        ),
        defattr=protein_report(
            "{name}", "structure.defattr", "structure.rst", "structure (ChimeraX)"
        ),
        pml=protein_report(
            "{name}", "structure.pml", "structure.rst", "structure (PyMOL)"
        ),
        map=protein_report(
            "{name}", "structure_map.tsv", "structure.rst", "structure residue map"
        ),
    wildcard_constraints:
        name=one_of(structure_files("cif")),
