"""Draw the README's heatmap from REAL ESM-1v scores: the five models' wild-type-marginal scores of
TEM-1 beta-lactamase published with Meier et al. 2021 (fair-esm's example data, MIT, carried in tests/data/),
drawn with the workflow's own plotting code.

    .venv/bin/python docs/readme_figure.py   # [labelled CSV, default tests/data/...]
"""

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
from esm1v_scan.fasta import AMINO_ACIDS  # noqa: E402
from esm1v_scan.plotting import plot_heatmap  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[1] / "tests/data/BLAT_ECOLX_Ranganathan2015_labeled.csv"
src = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
df = pd.read_csv(src)
models = [f"esm1v_t33_650M_UR90_{k}" for k in range(1, 6)]
df["wt"], df["position"], df["mt"] = df.mutant.str[0], df.mutant.str[1:-1].astype(int), df.mutant.str[-1]
df["score_mean"] = df[models].mean(axis=1)
first = df[df.position.between(24, 103)]  # the first 80 residues keep the picture readable
wt = first.drop_duplicates("position")[["position", "wt"]]
grid = pd.MultiIndex.from_product([wt.position, list(AMINO_ACIDS)], names=["position", "mt"]).to_frame(index=False)
grid = grid.merge(wt, on="position").merge(first[["position", "mt", "score_mean"]], on=["position", "mt"], how="left")
grid.loc[grid.wt == grid.mt, "score_mean"] = 0.0
plot_heatmap(grid, "TEM-1 beta-lactamase (BLAT_ECOLX), residues 24-103: real ESM-1v five-model mean",
             [Path(__file__).with_name("heatmap-BLAT_ECOLX.png")], row_width=80)
