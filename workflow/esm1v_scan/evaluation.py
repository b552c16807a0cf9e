"""Scores against experiment: Spearman's rho per model and for the ensemble, and a scatter plot.

Rows where either the score or the experimental value is missing (NaN) are left out, pairwise per
predictor; ``n`` is the number of rows used. rho is NaN when fewer than 3 rows remain or either side
is constant. A positive rho means: the more likely the model finds a variant (relative to the wild
type), the higher its experimental value (ProteinGym's ``DMS_score`` is oriented so that higher =
fitter).

With the variants' types (column ``variant_type`` of variants.tsv), the table has rows for
``variant_type`` ``all`` (every scored row: the rows not scored have no score and drop out) and
one set per type with at least :data:`MIN_PER_TYPE` measured, scored variants.
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

from .plotting import RC, SCORE_NAMES, save_figure, titled  # noqa: E402
from .provenance import RANDOM_STAMP  # noqa: E402

log = logging.getLogger(__name__)

#: x axis of the scatter plot: the heatmap's score name, summed over a variant's sites.
VARIANT_SCORE_NAME = SCORE_NAMES["score_mean"].replace("ESM-1v score:", "ESM-1v score: sum over sites of")

COLUMNS = ["predictor", "variant_type", "score_column", "experimental_column", "spearman", "n"]
#: A variant type gets its own rows from this many measured, scored variants.
MIN_PER_TYPE = 10


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
             predictors: dict[str, str], types=None) -> pd.DataFrame:
    """One row per predictor (label -> score column of ``table``): rho and the count used, over
    all rows (``variant_type`` ``all``); with ``types`` (one variant type per row) also per type
    that has at least :data:`MIN_PER_TYPE` rows with an experimental value and a score."""
    experimental = np.asarray(experimental, dtype=float)
    groups = [("all", np.ones(len(table), dtype=bool))]
    if types is not None:
        types = np.asarray(types, dtype=object)
        measured = np.isfinite(experimental)
        scored = np.isfinite(table[list(predictors.values())].to_numpy(dtype=float)).all(axis=1)
        for vtype in dict.fromkeys(types):
            rows = types == vtype
            if int((rows & measured & scored).sum()) >= MIN_PER_TYPE:
                groups.append((vtype, rows))
    rows = []
    for vtype, keep in groups:
        for label, column in predictors.items():
            rho, n = spearman(table[column].to_numpy(dtype=float)[keep], experimental[keep])
            if np.isnan(rho) and vtype == "all":
                log.warning("%s: no Spearman rho (%d usable rows, or constant values)", label, n)
            rows.append({"predictor": label, "variant_type": vtype, "score_column": column,
                         "experimental_column": experimental_column, "spearman": rho, "n": n})
    return pd.DataFrame(rows, columns=COLUMNS)


def evaluation_html(evaluation: pd.DataFrame, title: str, random_weights: bool = False) -> str:
    """The evaluation table as a small self-contained HTML page (shown inline in the report);
    stamped :data:`~esm1v_scan.provenance.RANDOM_STAMP` (in the title and above the table) when
    the scores come from random weights, as the figures and the summary page are."""
    shown = evaluation.assign(spearman=evaluation["spearman"].map(lambda v: f"{v:.4f}"))
    table = shown.to_html(index=False, border=0, na_rep="NaN", escape=True)
    head = f"{RANDOM_STAMP.upper()}: {title}" if random_weights else str(title)
    stamp = f"<p class='stamp'>{escape(RANDOM_STAMP.upper())}</p>\n" if random_weights else ""
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>"
        f"{escape(head)}</title>\n<style>body{{font-family:sans-serif}}"
        "table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ccc;"
        "text-align:right}.stamp{color:#b2182b;font-weight:bold}</style></head>\n<body>\n"
        f"{stamp}<h3>{escape(str(title))}</h3>\n{table}\n</body></html>\n"
    )


def linear_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """(intercept, slope) of the least-squares line y = a + b x, or None with < 2 distinct x."""
    if x.size < 2 or np.ptp(x) == 0:
        return None
    slope, intercept = np.polyfit(x, y, 1)
    return float(intercept), float(slope)


def plot_scatter(scores, experiment, outputs, title: str, xlabel: str = VARIANT_SCORE_NAME,
                 ylabel: str = "experiment", random_weights: bool = False):
    """Ensemble score (x) against experiment (y), one dot per variant with both values, and the
    least-squares line; rho and n in the title, stamped when the weights are random. Saved to
    each path of ``outputs`` (format from the suffix), byte-reproducibly."""
    x = np.asarray(scores, dtype=float)
    y = np.asarray(experiment, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    rho, n = spearman(x, y)
    with plt.rc_context(RC | {"font.size": 8}):
        fig, ax = plt.subplots(figsize=(5.2, 4.4))
        ax.scatter(x[ok], y[ok], s=6 if n > 500 else 14, alpha=0.5 if n > 500 else 0.8,
                   color="#2166ac", linewidths=0, label=f"variants (n = {n})")
        fit = linear_fit(x[ok], y[ok])
        if fit is not None:
            xs = np.array([x[ok].min(), x[ok].max()])
            ax.plot(xs, fit[0] + fit[1] * xs, color="#b2182b", lw=1.2, gid="fit",
                    label=f"least-squares fit: y = {fit[0]:.3g} + {fit[1]:.3g} x")
            ax.legend(loc="best", fontsize=7, frameon=False)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        rho_text = "n/a" if np.isnan(rho) else f"{rho:.3f}"
        ax.set_title(titled(f"{title}\nSpearman rho = {rho_text}  (n = {n})", random_weights),
                     fontsize=9, color="#b2182b" if random_weights else "black")
        ax.grid(alpha=0.3, lw=0.5)
        save_figure(fig, outputs)
    return fig
