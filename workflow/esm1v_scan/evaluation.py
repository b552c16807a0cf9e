"""Scores against experiment: Spearman's rho per model and for the ensemble, and a scatter plot.

Rows where either the score or the experimental value is missing (NaN) are left out, pairwise per
predictor; ``n`` is the number of rows used. rho is NaN when fewer than 3 rows remain or either side
is constant. A positive rho means: the more likely the model finds a variant (relative to the wild
type), the higher its experimental value (ProteinGym's ``DMS_score`` is oriented so that higher =
fitter).
"""

from __future__ import annotations

import logging
from html import escape

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from .plotting import save_figure  # noqa: E402

log = logging.getLogger(__name__)

COLUMNS = ["predictor", "score_column", "experimental_column", "spearman", "n"]


def spearman(scores, experiment) -> tuple[float, int]:
    """(rho, n): Spearman's rank correlation over the rows where both values are finite."""
    x = np.asarray(scores, dtype=float)
    y = np.asarray(experiment, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    n = int(ok.sum())
    if n < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return float("nan"), n
    return float(spearmanr(x[ok], y[ok]).statistic), n


def evaluate(table: pd.DataFrame, experimental: np.ndarray, experimental_column: str,
             predictors: dict[str, str]) -> pd.DataFrame:
    """One row per predictor (label -> score column of ``table``): rho and the count used."""
    rows = []
    for label, column in predictors.items():
        rho, n = spearman(table[column].to_numpy(dtype=float), experimental)
        if np.isnan(rho):
            log.warning("%s: no Spearman rho (%d usable rows, or constant values)", label, n)
        rows.append({"predictor": label, "score_column": column,
                     "experimental_column": experimental_column, "spearman": rho, "n": n})
    return pd.DataFrame(rows, columns=COLUMNS)


def evaluation_html(evaluation: pd.DataFrame, title: str) -> str:
    """The evaluation table as a small self-contained HTML page (shown inline in the report)."""
    shown = evaluation.assign(spearman=evaluation["spearman"].map(lambda v: f"{v:.4f}"))
    table = shown.to_html(index=False, border=0, na_rep="NaN", escape=True)
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>"
        f"{escape(str(title))}</title>\n<style>body{{font-family:sans-serif}}"
        "table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ccc;"
        "text-align:right}</style></head>\n<body>\n"
        f"<h3>{escape(str(title))}</h3>\n{table}\n</body></html>\n"
    )


def plot_scatter(scores, experiment, outputs, title: str, xlabel: str, ylabel: str) -> None:
    """Ensemble score (x) against experiment (y), one dot per variant with both values; rho and n
    in the title. Saved to each path of ``outputs`` (format from the suffix), byte-reproducibly."""
    x = np.asarray(scores, dtype=float)
    y = np.asarray(experiment, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    rho, n = spearman(x, y)
    with plt.rc_context({"svg.hashsalt": "esm1v-scan", "svg.fonttype": "path", "font.size": 9}):
        fig, ax = plt.subplots(figsize=(5.2, 4.4))
        ax.scatter(x[ok], y[ok], s=6 if n > 500 else 14, alpha=0.5 if n > 500 else 0.8,
                   color="#2166ac", linewidths=0)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        rho_text = "n/a" if np.isnan(rho) else f"{rho:.3f}"
        ax.set_title(f"{title}\nSpearman rho = {rho_text}  (n = {n})", fontsize=9)
        ax.grid(alpha=0.3, lw=0.5)
        save_figure(fig, outputs)
