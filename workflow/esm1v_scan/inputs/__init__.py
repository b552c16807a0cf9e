"""Reading and checking inputs: FASTA, config, residue numbering, mutation lists and HGVS,
structures."""
