"""How long the landing summary (rule summary) takes per shard, on a synthetic shard ensemble
table of the default size (shard_residues 200,000; proteins of 50-800 residues), and the time
this implies for a 50,000-protein proteome (21.35 M residues, 107 shards: benchmarks/scale.py).

    python benchmarks/summary_scale.py [--residues 200000]
"""
import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
from esm1v_scan.inputs.fasta import AMINO_ACIDS  # noqa: E402
from esm1v_scan.outputs.run_summary import shard_tolerance  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--residues", type=int, default=200_000)
args = ap.parse_args()

rng = np.random.default_rng(0)
lengths = []
while sum(lengths) < args.residues:
    lengths.append(int(rng.integers(50, 801)))
names = np.repeat([f"p{i}" for i in range(len(lengths))], np.array(lengths) * 20)
position = np.concatenate([np.repeat(np.arange(1, n + 1), 20) for n in lengths])
aa = np.array(list(AMINO_ACIDS))
wt = aa[rng.integers(0, 20, len(position) // 20)].repeat(20)
mt = np.tile(aa, len(position) // 20)
table = pd.DataFrame({"name": names, "sequence_id": names, "position": position, "wt": wt,
                      "mt": mt, "score_mean": rng.normal(-2, 2, len(position)).astype(float)})
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "ensemble.parquet"
    table.to_parquet(path)
    tracemalloc.start()
    t0 = time.perf_counter()
    result = shard_tolerance(path)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
print(f"shard: {len(lengths)} proteins, {sum(lengths):,} residues, {len(table):,} rows")
print(f"summary of one shard: {seconds:.2f} s, peak traced memory {peak:.0f} MiB; {len(result)} rows")
print(f"50,000 proteins (107 shards): ~{107 * seconds:.0f} s")
