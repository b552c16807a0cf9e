"""Heatmaps of a scan: positions along x (wrapped into rows for long proteins), the 20 amino acids
along y, colour = ensemble log-ratio score on a diverging scale centred on 0 (red: less likely
than the wild type, blue: more likely), wild-type cells marked with a dot.

Figures are saved without dates or random ids, so a rerun writes byte-identical PNG and SVG files.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402

from .fasta import AMINO_ACIDS  # noqa: E402
from .io import atomic_path  # noqa: E402

#: Reproducible output: no creation date, fixed SVG ids.
SAVE_METADATA = {".png": {"Software": None}, ".svg": {"Date": None}, ".pdf": {"CreationDate": None}}


def score_matrix(df: pd.DataFrame, value: str) -> tuple[np.ndarray, list[int], str]:
    """(20, n_positions) matrix of ``value``, the positions, and the wild-type string."""
    pivot = df.pivot(index="mt", columns="position", values=value).reindex(list(AMINO_ACIDS))
    positions = [int(p) for p in pivot.columns]
    wt = df.drop_duplicates("position").set_index("position").loc[positions, "wt"]
    return pivot.to_numpy(float), positions, "".join(wt)


def save_figure(fig, outputs) -> None:
    """Save ``fig`` to each path (format from the suffix) atomically, without dates, then close it."""
    for path in outputs:
        path = Path(path)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=path.suffix[1:], dpi=150,
                        metadata=SAVE_METADATA.get(path.suffix, {}), bbox_inches="tight")
    plt.close(fig)


def colour_limits(mat: np.ndarray) -> dict:
    """Limits of the diverging scale, centred on 0: each side reaches the 99th percentile of the
    scores on that side, and at least a tenth of the other side (so a scan with few positive
    scores still shows them as blue without exaggerating them)."""
    finite = mat[np.isfinite(mat)]
    neg = float(np.percentile(-finite[finite < 0], 99)) if (finite < 0).any() else 0.0
    pos = float(np.percentile(finite[finite > 0], 99)) if (finite > 0).any() else 0.0
    big = max(neg, pos, 1e-6)
    return {"vmin": -max(neg, big / 10), "vmax": max(pos, big / 10)}


def plot_heatmap(df: pd.DataFrame, title: str, outputs, value: str = "score_mean",
                 row_width: int = 80, label: str = "ensemble log-ratio  log p(mt) - log p(wt)"):
    """Draw one heatmap and save it to each path in ``outputs`` (format from the suffix)."""
    mat, positions, wt = score_matrix(df, value)
    n = len(positions)
    n_rows = max(1, math.ceil(n / row_width))
    width = min(n, row_width)
    norm = TwoSlopeNorm(vcenter=0.0, **colour_limits(mat))
    cmap = plt.get_cmap("RdBu").with_extremes(bad="#d9d9d9")

    with plt.rc_context({"svg.hashsalt": "esm1v-scan", "svg.fonttype": "path", "font.size": 8}):
        fig_w = 2.0 + 0.13 * width
        fig_h = 0.9 + n_rows * 2.9
        fig, axes = plt.subplots(n_rows, 1, figsize=(fig_w, fig_h), squeeze=False)
        image = None
        for r in range(n_rows):
            ax = axes[r, 0]
            lo, hi = r * row_width, min(n, (r + 1) * row_width)
            block = np.full((20, width), np.nan)
            block[:, : hi - lo] = mat[:, lo:hi]
            image = ax.imshow(np.ma.masked_invalid(block), aspect="auto", cmap=cmap, norm=norm,
                              interpolation="nearest")
            # wild-type cells
            for k, pos_i in enumerate(range(lo, hi)):
                aa = wt[pos_i]
                if aa in AMINO_ACIDS:
                    ax.plot(k, AMINO_ACIDS.index(aa), marker="o", ms=2.2, color="black", lw=0)
            step = 1 if width <= 40 else 5
            ticks = [k for k in range(hi - lo) if (positions[lo + k] % step == 0) or step == 1]
            ax.set_xticks(ticks)
            ax.set_xticklabels([f"{wt[lo + k]}{positions[lo + k]}" for k in ticks], rotation=90,
                               fontsize=6)
            ax.set_xlim(-0.5, width - 0.5)
            ax.set_yticks(range(20))
            ax.set_yticklabels(list(AMINO_ACIDS), fontsize=6)
            ax.set_ylabel("substitution")
        axes[-1, 0].set_xlabel("wild-type residue and position (black dot: wild type)")
        axes[0, 0].set_title(title)
        cbar = fig.colorbar(image, ax=axes[:, 0].tolist(), fraction=0.025, pad=0.01)
        cbar.set_label(label)
        save_figure(fig, outputs)
