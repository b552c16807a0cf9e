"""The run's landing summary: one row per protein, for ``results/summary.tsv`` and the report.

=============  ===================================================================================
id             FASTA id
name           file-safe name (the folder under results/)
description    the FASTA description line after the id (empty when there is none)
length         residues
mean_score     mean tolerance: the mean over scored positions of ``mean_score`` of
               ``positions.tsv`` (the mean ensemble score of the 19 substitutions); more negative =
               less tolerant
n_positions    positions scored
n_variants     variants of the sequence's mutation list (0 without one)
spearman       Spearman's rho of the ensemble against the experimental values (empty where none)
=============  ===================================================================================
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ["id", "name", "description", "length", "mean_score", "n_positions", "n_variants",
           "spearman"]

#: per-protein files the summary page links to, when they exist: label -> path under results/{name}
LINKS = {
    "heatmap": "heatmap.png",
    "svg": "heatmap.svg",
    "interactive": "heatmap.html",
    "scores": "ensemble.tsv",
    "matrix": "matrix.tsv",
    "positions": "positions.tsv",
    "variants": "variants.tsv",
    "structure": "structure.pdb",
}


def protein_row(protein, positions: pd.DataFrame, n_variants: int = 0,
                spearman: float | None = None) -> dict:
    """The summary row of one protein from its positions table (``positions.tsv``)."""
    scores = positions["mean_score"].to_numpy(dtype=float)
    return {
        "id": protein.id,
        "name": protein.name,
        "description": getattr(protein, "description", ""),
        "length": protein.length,
        "mean_score": float(np.nanmean(scores)) if np.isfinite(scores).any() else float("nan"),
        "n_positions": int(len(positions)),
        "n_variants": int(n_variants),
        "spearman": float("nan") if spearman is None else float(spearman),
    }


def summary_table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


def _cell(value, column: str) -> str:
    if column in ("mean_score", "spearman"):
        return "" if pd.isna(value) else f"{value:.3f}"
    return escape(str(value))


def summary_html(table: pd.DataFrame, title: str, results_dir: str | Path | None = None) -> str:
    """A self-contained HTML page of the summary; each protein links to its files (paths relative
    to ``results/``, so the page works opened from there). Only files that exist under
    ``results_dir`` are linked when it is given."""
    head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS) + "<th>files</th>"
    body = []
    for row in table.to_dict("records"):
        links = []
        for label, file in LINKS.items():
            rel = f"{row['name']}/{file}"
            if results_dir is None or (Path(results_dir) / rel).exists():
                links.append(f"<a href=\"{escape(rel, quote=True)}\">{escape(label)}</a>")
        cells = "".join(f"<td>{_cell(row[c], c)}</td>" for c in COLUMNS)
        body.append(f"<tr>{cells}<td>{' '.join(links)}</td></tr>")
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>"
        f"{escape(title)}</title>\n<style>body{{font-family:sans-serif;font-size:13px}}"
        "table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #ccc;"
        "text-align:left}td:nth-child(n+4){text-align:right}</style></head>\n<body>\n"
        f"<h3>{escape(title)}</h3>\n<p>mean_score: mean ensemble log-ratio of the 19 substitutions, "
        "averaged over positions (more negative = less tolerant). spearman: ensemble against the "
        "experimental values of the mutation list.</p>\n"
        f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(body)
        + "\n</tbody></table>\n</body></html>\n"
    )
