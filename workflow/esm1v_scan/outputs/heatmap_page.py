"""``results/{name}/heatmap.html``: an interactive heatmap of an ensemble table, in one file that
works offline (no script, style, font or image fetched from anywhere).

A small hand-written page: the scores are embedded as JSON (rounded to :data:`DECIMALS`
decimals, the precision shown on hover) and drawn on a canvas by ~150 lines of inline JavaScript.
Hovering a cell shows the mutant (e.g. H24C), residue number, wild type, substitution, the ensemble
score, each model's score and their spread (SD across models). Zoom with the buttons, the +/- keys
or Ctrl + mouse wheel; scroll along long proteins with the wheel or the scrollbar. Colours: the
static heatmap's convention (red = less likely than the wild type, blue = more likely, linear,
symmetric, clipped at +-L = 99th percentile of |score| over the substitutions, stated in the
legend); rows grouped by physico-chemical property.

Residue numbers are ``position + offset - 1`` (``offset`` = the number of residue 1).
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from esm1v_scan.errors import InputError
from esm1v_scan.files import write_text

# the static heatmap's amino-acid order, clipping rule and stamp: one definition for both views
from esm1v_scan.outputs.heatmap import AA_GROUPS, AA_ORDER, CLIP_PERCENTILE  # noqa: E402,F401
from esm1v_scan.outputs.provenance import RANDOM_STAMP  # noqa: E402

#: Scores are embedded (and shown) with this many decimals.
DECIMALS = 3
REQUIRED = ["position", "wt", "mt", "score_mean", "score_sd"]
SCORE_NAMES = {"score_mean": "mean over models of log p(mt) - log p(wt)",
               "prob_score": "log of mean p(mt) - log of mean p(wt)"}


def model_names(df: pd.DataFrame) -> list[str]:
    """The models of an ensemble table, from its ``score_<model>`` columns."""
    return [c[len("score_"):] for c in df.columns
            if c.startswith("score_") and c not in ("score_mean", "score_sd")]


def matrix(df: pd.DataFrame, column: str, positions: list[int]) -> np.ndarray:
    """(n_positions, 20) values of ``column``, amino acids in :data:`AA_ORDER`."""
    pivot = df.pivot(index="position", columns="mt", values=column)
    return pivot.reindex(index=positions, columns=list(AA_ORDER)).to_numpy(float)


def symmetric_limit(scores: np.ndarray, wt_mask: np.ndarray) -> float:
    """L: the :data:`CLIP_PERCENTILE` th percentile of |score| over the substitutions (1.0 when
    there are none or all are 0)."""
    subs = np.abs(scores[~wt_mask & np.isfinite(scores)])
    limit = float(np.percentile(subs, CLIP_PERCENTILE)) if subs.size else 0.0
    return limit if limit > 0 else 1.0


def _rounded(values: np.ndarray) -> list:
    """Flat list, position-major, NaN -> None (JSON null)."""
    flat = np.round(np.asarray(values, float).reshape(-1), DECIMALS)
    return [None if not math.isfinite(v) else (0.0 if v == 0 else float(v)) for v in flat]


def heatmap_data(df: pd.DataFrame, title: str, offset: int = 1, value: str = "score_mean",
                 limit: float | None = None, random_weights: bool = False) -> dict:
    """Everything the page shows, as a JSON-able dict (cell k = site * 20 + row in AA_ORDER)."""
    missing = [c for c in REQUIRED + [value] if c not in df.columns]
    if missing:
        raise InputError(f"ensemble table lacks column(s) {', '.join(missing)}")
    if df.empty:
        raise InputError("ensemble table has no rows")
    positions = sorted(int(p) for p in df["position"].unique())
    wt = df.drop_duplicates("position").set_index("position").loc[positions, "wt"]
    scores = matrix(df, value, positions)
    wt_mask = np.array([[aa == w for aa in AA_ORDER] for w in wt], dtype=bool).reshape(scores.shape)
    models = model_names(df)
    lim = float(limit) if limit else symmetric_limit(scores, wt_mask)
    return {
        "title": title,
        "stamp": RANDOM_STAMP if random_weights else "",
        "offset": int(offset),
        "aa": AA_ORDER,
        "groups": [[name, len(aas)] for name, aas in AA_GROUPS],
        "residues": [p + int(offset) - 1 for p in positions],
        "wt": "".join(str(w) for w in wt),
        "value": value,
        "value_name": SCORE_NAMES.get(value, value),
        "limit": round(lim, DECIMALS + 1),
        "limit_rule": "fixed limit" if limit else f"{CLIP_PERCENTILE:g}th percentile of |score| "
                                                   "over the substitutions",
        "beyond": int(np.sum(np.abs(scores[~wt_mask & np.isfinite(scores)]) > lim)),
        "decimals": DECIMALS,
        "score": _rounded(scores),
        "sd": _rounded(matrix(df, "score_sd", positions)),
        "models": models,
        "model_scores": [_rounded(matrix(df, f"score_{m}", positions)) for m in models],
    }


def _script_json(data: dict) -> str:
    """JSON safe inside <script>: no '<', '>' or '&' can close the element or start a comment."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def heatmap_html(df: pd.DataFrame, title: str, offset: int = 1, value: str = "score_mean",
                 limit: float | None = None, random_weights: bool = False) -> str:
    """The page for one protein's ensemble table (``results/{name}/ensemble.tsv``)."""
    data = heatmap_data(df, title, offset, value, limit, random_weights)
    head = f"{RANDOM_STAMP.upper()}: {title}" if random_weights else title
    return (PAGE.replace("@TITLE@", html.escape(f"ESM-1v scan: {head}"))
            .replace("@DATA@", _script_json(data)))


def write_heatmap_html(df: pd.DataFrame, path, title: str, **kwargs) -> None:
    """Write the page atomically (temp file + rename)."""
    write_text(path, heatmap_html(df, title, **kwargs))


PAGE_FILE = Path(__file__).with_name("heatmap_page.html")
PAGE = PAGE_FILE.read_text(encoding="utf-8")
