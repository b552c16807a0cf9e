"""Draw the README's heatmap from REAL ESM-1v scores: the five models' wild-type-marginal scores of
TEM-1 beta-lactamase published with Meier et al. 2021 (fair-esm's example data, MIT, carried in tests/data/),
drawn with the workflow's own plotting code (esm1v_scan.outputs.heatmap.heatmap), all 263 residues in the
published numbering (first residue = 24).

    .venv/bin/python docs/readme_figure.py   # [labelled CSV, default tests/data/...]
"""

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
from esm1v_scan.inputs.fasta import AMINO_ACIDS  # noqa: E402
from esm1v_scan.outputs.heatmap import heatmap  # noqa: E402

FIRST = 24  # the data's numbering: the first residue of the sequence is residue 24

DEFAULT = Path(__file__).resolve().parents[1] / "tests/data/BLAT_ECOLX_Ranganathan2015_labeled.csv"
src = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).with_name("heatmap-BLAT_ECOLX.png")
df = pd.read_csv(src)
models = [f"esm1v_t33_650M_UR90_{k}" for k in range(1, 6)]
df["wt"], df["mt"] = df.mutant.str[0], df.mutant.str[-1]
df["position"] = df.mutant.str[1:-1].astype(int) - FIRST + 1  # 1-based, as in the workflow's tables
df["score_mean"] = df[models].mean(axis=1)
wt = df.drop_duplicates("position")[["position", "wt"]].sort_values("position")
grid = pd.MultiIndex.from_product([wt.position, list(AMINO_ACIDS)], names=["position", "mt"]).to_frame(index=False)
grid = grid.merge(wt, on="position").merge(df[["position", "mt", "score_mean"]], on=["position", "mt"], how="left")
grid.loc[grid.wt == grid.mt, "score_mean"] = 0.0
heatmap(grid, [out], offset=FIRST,
        title="TEM-1 beta-lactamase (BLAT_ECOLX): real ESM-1v scores, mean of the five models")
