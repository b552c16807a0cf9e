"""esm1v-scan: ESM-1v mutational scans as a reproducible Snakemake workflow.

Where things live (one module per step of the DAG):

- :mod:`esm1v_scan.inputs.fasta`     FASTA parsing and validation, file-safe names
- :mod:`esm1v_scan.scoring.planning`  mask plan (which masked copies to score) and shards
- :mod:`esm1v_scan.scoring.models`    loading ESM-1v checkpoints (local file or fair-esm download)
- :mod:`esm1v_scan.scoring.tiny_models`      tiny random checkpoints in the real ESM-1v file format
- :mod:`esm1v_scan.scoring.local`   the local fair-esm backend: batched masked / wild-type marginals
- :mod:`esm1v_scan.scoring.score_tables`    the per-model score table shared by every backend
- :mod:`esm1v_scan.scoring.score_cache`     content-addressed score cache
- :mod:`esm1v_scan.scoring.ensemble`  five-model averaging
- :mod:`esm1v_scan.outputs.heatmap`  heatmaps
"""

__version__ = "0.1.0"
