"""esm1v-scan: ESM-1v mutational scans as a reproducible Snakemake workflow.

Where things live (one module per step of the DAG):

- :mod:`esm1v_scan.fasta`     FASTA parsing and validation, file-safe names
- :mod:`esm1v_scan.planning`  mask plan (which masked copies to score) and shards
- :mod:`esm1v_scan.models`    loading ESM-1v checkpoints (local file or fair-esm download)
- :mod:`esm1v_scan.tiny`      tiny random checkpoints in the real ESM-1v file format
- :mod:`esm1v_scan.scoring`   the local fair-esm backend: batched masked / wild-type marginals
- :mod:`esm1v_scan.tables`    the per-model score table shared by every backend
- :mod:`esm1v_scan.cache`     content-addressed score cache
- :mod:`esm1v_scan.ensemble`  five-model averaging
- :mod:`esm1v_scan.plotting`  heatmaps
"""

__version__ = "0.1.0"
