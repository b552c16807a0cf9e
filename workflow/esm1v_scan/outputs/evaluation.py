"""Scores against experiment: ProteinGym's zero-shot DMS metrics per model and for the ensemble,
their bootstrap standard errors, and a scatter plot.

Rows where either the score or the experimental value is missing (NaN) are left out, pairwise per
predictor; ``n`` is the number of rows used. rho is NaN when fewer than 3 rows remain or either side
is constant. A positive rho means: the more likely the model finds a variant (relative to the wild
type), the higher its experimental value (ProteinGym's ``DMS_score`` is oriented so that higher =
fitter).

The metrics are those of ProteinGym's ``proteingym/performance_DMS_benchmarks.py`` (one assay):

- ``spearman``: Spearman's rank correlation of score and experimental value (ties: mean ranks).
- ``auc``: ROC AUC of the score against the binary label: the chance that a variant labelled 1
  scores above one labelled 0, ties counting one half (``sklearn.metrics.roc_auc_score``).
- ``mcc``: Matthews correlation of the label with the score binarised at its median (1 where
  score >= median), 0 where a class is empty (``sklearn.metrics.matthews_corrcoef``).
- ``ndcg``: normalised discounted cumulative gain of the top 10% (k = floor(n / 10) variants)
  ranked by score, gains = experimental values min-max-normalised to [0, 1]: sum over the k
  best-scored variants of gain / log2(rank + 1), divided by the same sum for the k best by gain.
- ``top10_recall``: the fraction of the variants in the top 10% by experiment (value >= its 90th
  percentile, linearly interpolated) that are also in the top 10% by score.

``auc`` and ``mcc`` need a binary label (:func:`metrics`); without one they are NaN (empty in the
TSV). Where they differ from ProteinGym's code, it is on inputs that code does not define: ranks
tied in score are broken by row order for ``ndcg`` (ProteinGym leaves the order of ties to numpy's
unstable sort), and ``ndcg`` is NaN, not 0, for fewer than 10 variants (no top 10%) or constant
experimental values. The label may have missing values (NaN): ``auc`` and ``mcc`` use the rows
with a score and a label.

With the variants' types (column ``variant_type`` of variants.tsv), the table has rows for
``variant_type`` ``all`` (every scored row: the rows not scored have no score and drop out) and
one set per type with at least :data:`MIN_PER_TYPE` measured, scored variants; every row has
all the metrics and their bootstrap standard errors, computed over that row's variants.
"""

from __future__ import annotations

import logging
from html import escape

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import rankdata, spearmanr  # noqa: E402

from esm1v_scan.outputs.heatmap import RC, SCORE_NAMES, save_figure, titled  # noqa: E402
from esm1v_scan.outputs.provenance import RANDOM_STAMP  # noqa: E402

log = logging.getLogger(__name__)

#: x axis of the scatter plot: the heatmap's score name, summed over a variant's sites.
VARIANT_SCORE_NAME = SCORE_NAMES["score_mean"].replace("ESM-1v score:", "ESM-1v score: sum over sites of")

#: ProteinGym's zero-shot DMS metrics, in evaluation.tsv's column order
METRICS = ("spearman", "auc", "mcc", "ndcg", "top10_recall")
#: the share of variants that ndcg and top10_recall look at (ProteinGym's 10%)
TOP_PERCENT = 10
#: the bootstrap's random seed: the same resamples, hence the same standard errors, on every run
BOOTSTRAP_SEED = 0
#: A variant type gets its own rows from this many measured, scored variants.
MIN_PER_TYPE = 10

COLUMNS = (["predictor", "variant_type", "score_column", "experimental_column", "spearman", "n"]
           + list(METRICS[1:]) + [f"{m}_se" for m in METRICS] + ["label"])

#: what each column of evaluation.tsv means (the evaluation page lists it)
DEFINITIONS = {
    "variant_type": "all (every scored variant), or one variant type with at least "
                    f"{MIN_PER_TYPE} measured, scored variants; each row's metrics are over its "
                    "variants",
    "spearman": "Spearman's rank correlation of score and experimental value",
    "n": "variants with a score and an experimental value",
    "auc": "ROC AUC of the score against the binary label (ties count one half)",
    "mcc": "Matthews correlation of the label with the score binarised at its median "
           "(score >= median is 1)",
    "ndcg": f"NDCG of the top {TOP_PERCENT}% of variants by score, gains = experimental values "
            "min-max-normalised to [0, 1]",
    "top10_recall": f"fraction of the top {TOP_PERCENT}% by experiment that are in the top "
                    f"{TOP_PERCENT}% by score",
    "<metric>_se": "bootstrap standard error: SD of the metric over resamples of the variants "
                   "(with replacement)",
    "label": "the binary label of auc and mcc (a column, or experimental value >= cutoff)",
}


def spearman(scores, experiment) -> tuple[float, int]:
    """(rho, n): Spearman's rank correlation over the rows where both values are finite."""
    x = np.asarray(scores, dtype=float)
    y = np.asarray(experiment, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    n = int(ok.sum())
    if n < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return float("nan"), n
    return float(spearmanr(x[ok], y[ok]).statistic), n


# Each metric works on the last axis: a 1-D array is one set of variants, a 2-D array a stack of
# bootstrap resamples of them (one per row). No NaN here: callers keep the finite rows.
def _auc(x: np.ndarray, positive: np.ndarray) -> np.ndarray:
    n1 = positive.sum(-1)
    n0 = positive.shape[-1] - n1
    u = (rankdata(x, axis=-1) * positive).sum(-1) - n1 * (n1 + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n1 == 0) | (n0 == 0), np.nan, u / (n1 * n0))


def _mcc(x: np.ndarray, positive: np.ndarray) -> np.ndarray:
    pred = x >= np.median(x, axis=-1, keepdims=True)
    tp = (pred & positive).sum(-1).astype(float)
    tn = (~pred & ~positive).sum(-1).astype(float)
    fp = (pred & ~positive).sum(-1).astype(float)
    fn = (~pred & positive).sum(-1).astype(float)
    denominator = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator == 0, 0.0, (tp * tn - fp * fn) / np.sqrt(denominator))


def _ndcg(x: np.ndarray, y: np.ndarray, top: float) -> np.ndarray:
    k = int(np.floor(x.shape[-1] * (top / 100)))
    lo, hi = y.min(axis=-1, keepdims=True), y.max(axis=-1, keepdims=True)
    if k == 0:
        return np.full(x.shape[:-1], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        gains = (y - lo) / (hi - lo)  # NaN where constant
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    best = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    dcg = (np.take_along_axis(gains, best, axis=-1) * discount).sum(-1)
    ideal = (-np.sort(-gains, axis=-1)[..., :k] * discount).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return dcg / ideal


def _top_recall(x: np.ndarray, y: np.ndarray, top: float) -> np.ndarray:
    if x.shape[-1] == 0:
        return np.full(x.shape[:-1], np.nan)
    top_true = y >= np.percentile(y, 100 - top, axis=-1, keepdims=True)
    top_model = x >= np.percentile(x, 100 - top, axis=-1, keepdims=True)
    return (top_true & top_model).sum(-1) / top_true.sum(-1)


def _spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    rx = rankdata(x, axis=-1)
    ry = rankdata(y, axis=-1)
    rx = rx - rx.mean(axis=-1, keepdims=True)
    ry = ry - ry.mean(axis=-1, keepdims=True)
    denominator = np.sqrt((rx * rx).sum(-1) * (ry * ry).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (rx * ry).sum(-1) / denominator
    return np.where((denominator == 0) | (x.shape[-1] < 3), np.nan, rho)


def _finite(*arrays) -> list[np.ndarray]:
    arrays = [np.asarray(a, dtype=float) for a in arrays]
    ok = np.logical_and.reduce([np.isfinite(a) for a in arrays])
    return [a[ok] for a in arrays]


def roc_auc(scores, label) -> float:
    """ROC AUC of ``scores`` against a 0/1 ``label`` (rows where both are finite): the
    Mann-Whitney statistic U / (n1 n0) from mean ranks, ties counting one half; NaN when a class
    is empty."""
    x, lab = _finite(scores, label)
    return float(_auc(x, lab == 1))


def mcc_at_median(scores, label) -> float:
    """Matthews correlation of a 0/1 ``label`` with ``scores >= median(scores)`` (rows where both
    are finite); 0 where a row or column of the confusion matrix is empty (as sklearn's
    matthews_corrcoef); NaN for no rows."""
    x, lab = _finite(scores, label)
    return float("nan") if x.size == 0 else float(_mcc(x, lab == 1))


def ndcg(scores, experiment, top: float = TOP_PERCENT) -> float:
    """NDCG of the top ``top`` % (k = floor(n top / 100)) ranked by ``scores``, gains =
    ``experiment`` min-max-normalised (rows where both are finite). Ties in score: row order.
    NaN when k is 0 or the experimental values are constant."""
    x, y = _finite(scores, experiment)
    return float(_ndcg(x, y, top))


def top_recall(scores, experiment, top: float = TOP_PERCENT) -> float:
    """Of the variants whose experimental value is >= its (100 - ``top``)th percentile (linear
    interpolation), the fraction whose score is >= the score's (rows where both are finite;
    NaN for none)."""
    x, y = _finite(scores, experiment)
    return float(_top_recall(x, y, top))


def metrics(scores, experiment, label=None) -> dict:
    """ProteinGym's metrics of one predictor (:data:`METRICS`, and ``n``): spearman, ndcg and
    top10_recall over the rows with a finite score and experimental value; auc and mcc over the
    rows with a finite score and label (0/1), NaN without a label."""
    rho, n = spearman(scores, experiment)
    out = {"spearman": rho, "auc": float("nan"), "mcc": float("nan"),
           "ndcg": ndcg(scores, experiment), "top10_recall": top_recall(scores, experiment),
           "n": n}
    if label is not None:
        out["auc"] = roc_auc(scores, label)
        out["mcc"] = mcc_at_median(scores, label)
    return out


def bootstrap_se(scores, experiment, label=None, resamples: int = 1000,
                 seed: int = BOOTSTRAP_SEED) -> dict:
    """``<metric>_se`` for each of :data:`METRICS`: the sample SD (ddof 1) of the metric over
    ``resamples`` resamples of the variants, each as many variants drawn with replacement from
    the rows with a finite score, experimental value and (when given) label, by numpy's
    ``default_rng(seed)``: the same on every run, and the same draws for every predictor with the
    same rows. Resamples where a metric is NaN (e.g. one class only) are left out of its SD; NaN
    with fewer than two, and for ``resamples`` 0."""
    if label is None:
        x, y = _finite(scores, experiment)
        positive = None
    else:
        x, y, lab = _finite(scores, experiment, label)
        positive = lab == 1
    values: dict[str, list[np.ndarray]] = {m: [] for m in METRICS}
    n = x.size
    if resamples > 0 and n:
        rng = np.random.default_rng(seed)
        chunk = max(1, 2_000_000 // n)  # resamples per batch: bounded memory for long lists
        for first in range(0, resamples, chunk):
            idx = rng.integers(0, n, size=(min(chunk, resamples - first), n))
            bx, by = x[idx], y[idx]
            values["spearman"].append(_spearman(bx, by))
            values["ndcg"].append(_ndcg(bx, by, TOP_PERCENT))
            values["top10_recall"].append(_top_recall(bx, by, TOP_PERCENT))
            if positive is not None:
                values["auc"].append(_auc(bx, positive[idx]))
                values["mcc"].append(_mcc(bx, positive[idx]))
    out = {}
    for m in METRICS:
        v = np.concatenate(values[m]) if values[m] else np.empty(0)
        v = v[np.isfinite(v)]
        out[f"{m}_se"] = float(np.std(v, ddof=1)) if v.size >= 2 else float("nan")
    return out


def evaluate(table: pd.DataFrame, experimental: np.ndarray, experimental_column: str,
             predictors: dict[str, str], label: np.ndarray | None = None,
             label_name: str = "", bootstrap: int = 0, types=None) -> pd.DataFrame:
    """One row per predictor (label -> score column of ``table``) over all rows
    (``variant_type`` ``all``); with ``types`` (one variant type per row) also per type that has
    at least :data:`MIN_PER_TYPE` rows with an experimental value and a score. Each row: rho and
    the count used, the other metrics (:func:`metrics`; auc and mcc against ``label``, 0/1 per
    row, described by ``label_name``) and ``bootstrap`` resamples' standard errors
    (:func:`bootstrap_se`), all over that row's variants."""
    experimental = np.asarray(experimental, dtype=float)
    if label is not None:
        label = np.asarray(label, dtype=float)
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
        y = experimental[keep]
        lab = None if label is None else label[keep]
        for name, column in predictors.items():
            scores = table[column].to_numpy(dtype=float)[keep]
            rho, n = spearman(scores, y)
            if np.isnan(rho) and vtype == "all":
                log.warning("%s: no Spearman rho (%d usable rows, or constant values)", name, n)
            rows.append({"predictor": name, "variant_type": vtype, "score_column": column,
                         "experimental_column": experimental_column, "spearman": rho, "n": n,
                         **metrics(scores, y, lab),
                         **bootstrap_se(scores, y, lab, bootstrap),
                         "label": label_name if label is not None else ""})
    return pd.DataFrame(rows, columns=COLUMNS)


def evaluation_html(evaluation: pd.DataFrame, title: str, notes: list[str] = (),
                    random_weights: bool = False) -> str:
    """The evaluation table as a small self-contained HTML page (shown inline in the report),
    metrics to 4 decimals (empty where there is none), then ``notes`` and the definitions;
    stamped :data:`~esm1v_scan.outputs.provenance.RANDOM_STAMP` (in the title and above the table) when
    the scores come from random weights, as the figures and the summary page are."""
    numeric = [c for c in evaluation.columns if c in METRICS or c.endswith("_se")]
    shown = evaluation.assign(**{c: evaluation[c].map(lambda v: "" if pd.isna(v) else f"{v:.4f}")
                                 for c in numeric})
    table = shown.to_html(index=False, border=0, na_rep="", escape=True)
    paragraphs = "".join(f"<p>{escape(str(note))}</p>\n" for note in notes)
    defined = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in DEFINITIONS.items()
                      if k in evaluation.columns or k == "<metric>_se")
    head = f"{RANDOM_STAMP.upper()}: {title}" if random_weights else str(title)
    stamp = f"<p class='stamp'>{escape(RANDOM_STAMP.upper())}</p>\n" if random_weights else ""
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>"
        f"{escape(head)}</title>\n<style>body{{font-family:sans-serif}}"
        "table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ccc;"
        "text-align:right}dt{font-weight:bold;margin-top:4px}.stamp{color:#b2182b;font-weight:bold}"
        "</style></head>\n<body>\n"
        f"{stamp}<h3>{escape(str(title))}</h3>\n{table}\n{paragraphs}"
        "<p>Metrics of ProteinGym's zero-shot DMS benchmark (performance_DMS_benchmarks.py):</p>\n"
        f"<dl>{defined}</dl>\n</body></html>\n"
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
