"""Heatmaps of a scan: residues along x (wrapped into balanced rows), the 20 amino acids along y
grouped by physico-chemical property, a per-position track on top, one linear colour scale.

- Colour: the score (``score_mean`` by default: mean over models of log p(mt) - log p(wt), natural
  log) on a linear, symmetric diverging scale centred on 0: red = less likely than the wild type,
  blue = more likely, white = as likely. The scale is clipped at +-L, where L is the
  :data:`CLIP_PERCENTILE` th percentile of |score| over the scored substitutions (wild type
  excluded), or a fixed ``limit``; every row has its own colourbar, which states L and the rule,
  and shows arrows when cells lie beyond it.
- Rows: :data:`AA_ORDER`, in the groups of :data:`AA_GROUPS` (separated by white lines, named on
  the left).
- x: every column labelled with its wild-type residue; residue numbers (in the user's numbering:
  number = position + offset - 1) below the letters, every 10th and at the start of each run of
  sites; their tick marks start under the letters (:data:`NUMBERS_AT`), never across them.
  Non-adjacent sites (a variant list) are separated by a hatched gap.
- Track: ``mean_score``, the mean of the value over the 19 substitutions of each position.
- Marks above the track (a variant list's other types, :data:`MARKS`): a black star over the
  residue of a stop-gain, a purple triangle over the first and last residue of an in-frame indel.
- Proteins longer than ``row_width`` wrap into rows of equal length (+-1); each row's panel is
  exactly as wide as its columns, so no panel has empty area.
- Figures from checkpoints that are not the published ESM-1v weights carry :data:`RANDOM_STAMP`.

Figures are saved without dates or random ids, so a rerun writes byte-identical PNG and SVG files.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import Normalize  # noqa: E402
from matplotlib.transforms import offset_copy  # noqa: E402

from esm1v_scan.outputs.provenance import RANDOM_STAMP  # noqa: E402  (figures from non-ESM-1v checkpoints)
from esm1v_scan.files import atomic_path  # noqa: E402

#: Reproducible output: no creation date, fixed SVG ids.
SAVE_METADATA = {".png": {"Software": None}, ".svg": {"Date": None}, ".pdf": {"CreationDate": None}}
RC = {"svg.hashsalt": "esm1v-scan", "svg.fonttype": "path", "font.size": 7,
      "font.family": "DejaVu Sans"}

#: Amino acids by physico-chemical property, top to bottom of the heatmap.
AA_GROUPS = (("aliphatic", "AVLIM"), ("aromatic", "FWY"), ("polar", "STNQ"), ("special", "CGP"),
             ("basic", "KRH"), ("acidic", "DE"))
AA_ORDER = "".join(aas for _, aas in AA_GROUPS)
#: The colour scale is clipped at this percentile of |score| (substitutions only).
CLIP_PERCENTILE = 99.0
#: The score's name, shared by heatmaps, the scatter plot and the report.
SCORE_NAMES = {"score_mean": "ESM-1v score: mean over models of log p(mt) - log p(wt)",
               "prob_score": "ESM-1v score: log of mean p(mt) - log of mean p(wt)"}
#: The figure's key, under the title.
KEY = ("Colour: {name} (natural log). Red: less likely than the wild type, blue: more likely, "
       "white: as likely; black dot: wild type; grey: not scored; hatched: break between "
       "non-adjacent sites. Bars: per-position mean of the 19 substitutions (wild type excluded).")
CMAP = plt.get_cmap("RdBu").with_extremes(bad="#c8c8c8")
#: Marks above the track: kind -> (matplotlib marker, colour, what the key says).
MARKS = {"stop": ("*", "#000000", "star: stop-gain at this residue"),
         "indel": ("v", "#7b3294", "triangle: first/last residue of an in-frame indel")}

# layout, inches
CELL_W, CELL_H = 0.11, 0.10
LEFT, RIGHT, TRACK_H, TRACK_GAP, LABELS_H, ROW_GAP = 1.0, 1.25, 0.42, 0.05, 0.42, 0.18
WT_FONT, WT_PAD = 6.5, 1.5  # wild-type letters under the matrix, points
NUMBERS_AT = 11.0  # points below the matrix: the residue numbers' tick marks start under the letters
SHORT_RUN = 5  # runs of at most this many sites have every site numbered
GAP_UNITS = 0.8  # width of the break between non-adjacent sites, in cells


def save_figure(fig, outputs, tight: bool = True) -> None:
    """Save ``fig`` to each path (format from the suffix) atomically, without dates, then close it.
    ``tight=False`` keeps the figure's own size (figures laid out in inches)."""
    for path in outputs:
        path = Path(path)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=path.suffix[1:], dpi=150,
                        metadata=SAVE_METADATA.get(path.suffix, {}),
                        bbox_inches="tight" if tight else None)
    plt.close(fig)


def titled(title: str, random_weights: bool) -> str:
    """The title, with the random-weights stamp as its own first line when it applies."""
    return f"{RANDOM_STAMP.upper()}\n{title}" if random_weights else title


def score_matrix(df: pd.DataFrame, value: str) -> tuple[np.ndarray, list[int], str]:
    """(20, n_positions) matrix of ``value`` (rows in :data:`AA_ORDER`), the positions, and the
    wild-type string."""
    pivot = df.pivot(index="mt", columns="position", values=value).reindex(list(AA_ORDER))
    positions = [int(p) for p in pivot.columns]
    wt = df.drop_duplicates("position").set_index("position").loc[positions, "wt"]
    return pivot.to_numpy(float), positions, "".join(wt)


def substitution_values(mat: np.ndarray, wt: str) -> np.ndarray:
    """``mat`` with the wild-type cells set to NaN."""
    out = mat.copy()
    for j, aa in enumerate(wt):
        if aa in AA_ORDER:
            out[AA_ORDER.index(aa), j] = np.nan
    return out


def symmetric_limit(subs: np.ndarray) -> float:
    """L of the colour scale: the :data:`CLIP_PERCENTILE` th percentile of |score| over the
    substitutions (1.0 when there are none or all are 0)."""
    finite = np.abs(subs[np.isfinite(subs)])
    limit = float(np.percentile(finite, CLIP_PERCENTILE)) if finite.size else 0.0
    return limit if limit > 0 else 1.0


def runs(positions: list[int]) -> list[list[int]]:
    """Indices of ``positions`` split into runs of consecutive residues."""
    out: list[list[int]] = []
    for i, p in enumerate(positions):
        if out and p == positions[i - 1] + 1:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def layout_rows(positions: list[int], row_width: int) -> list[tuple[list[int], np.ndarray, list]]:
    """Balanced rows: per row the site indices, their x (in cells, gaps included) and the gaps
    (x0, x1) between non-adjacent sites."""
    n = len(positions)
    n_rows = max(1, math.ceil(n / row_width))
    per = math.ceil(n / n_rows)
    rows = []
    for r in range(n_rows):
        idx = list(range(r * per, min(n, (r + 1) * per)))
        xs, gaps, x = [], [], 0.0
        for k, i in enumerate(idx):
            if k and positions[i] != positions[i - 1] + 1:
                gaps.append((x - 0.5, x - 0.5 + GAP_UNITS))
                x += GAP_UNITS
            xs.append(x)
            x += 1.0
        rows.append((idx, np.array(xs), gaps))
    return rows


def heatmap(df: pd.DataFrame, outputs=(), *, title: str = "", value: str = "score_mean",
            offset: int = 1, random_weights: bool = False, row_width: int = 100,
            limit: float | None = None, marks: dict[str, list[int]] | None = None):
    """Draw the heatmap of an ensemble table and save it to each path in ``outputs``; returns the
    figure (closed to pyplot, still drawable). ``offset``: the number of residue 1. ``marks``:
    kind (:data:`MARKS`) -> 1-based positions to mark above the track (positions not drawn are
    ignored)."""
    mat, positions, wt = score_matrix(df, value)
    subs = substitution_values(mat, wt)
    track = np.nanmean(subs, axis=0) if subs.size else np.zeros(0)
    lim = float(limit) if limit else symmetric_limit(subs)
    norm = Normalize(vmin=-lim, vmax=lim)
    rows = layout_rows(positions, row_width)
    widths = [(xs[-1] + 1.0) * CELL_W for _, xs, _ in rows]
    matrix_h = 20 * CELL_H
    row_h = TRACK_H + TRACK_GAP + matrix_h + LABELS_H + ROW_GAP
    fig_w = max(LEFT + max(widths) + RIGHT, 4.6)
    title_text = titled(title, random_weights)
    avail = fig_w - LEFT - 0.1  # inches of text width right of the left margin
    wrapped = "\n".join(textwrap.fill(line, int(avail * 10.5)) for line in title_text.split("\n"))
    marks = {k: v for k, v in (marks or {}).items() if v}
    key_text = KEY.format(name=SCORE_NAMES.get(value, value))
    if marks:
        key_text += " Above the bars: " + "; ".join(MARKS[k][2] for k in MARKS if k in marks) + "."
    key = textwrap.fill(key_text, int(avail * 19))
    head = 0.22 + 0.17 * (wrapped.count("\n") + 1) + 0.11 * (key.count("\n") + 1)
    fig_h = head + len(rows) * row_h + 0.15
    with plt.rc_context(RC):
        fig = plt.figure(figsize=(fig_w, fig_h))
        fig.suptitle(wrapped, x=LEFT / fig_w, y=1 - 0.1 / fig_h, ha="left", va="top",
                     fontsize=9, color="#b2182b" if random_weights else "black",
                     fontweight="bold" if random_weights else "normal")
        fig.text(LEFT / fig_w, 1 - (0.14 + 0.17 * (wrapped.count("\n") + 1)) / fig_h, key,
                 ha="left", va="top", fontsize=6, color="#333333")
        t_lim = track_limits(track)
        beyond = int(np.sum(np.abs(subs[np.isfinite(subs)]) > lim))
        for r, (idx, xs, gaps) in enumerate(rows):
            top = fig_h - head - r * row_h
            box = lambda y0, h, w=widths[r]: [LEFT / fig_w, y0 / fig_h, w / fig_w, h / fig_h]  # noqa: E731
            ax_t = fig.add_axes(box(top - TRACK_H, TRACK_H), label=f"track{r}")
            ax = fig.add_axes(box(top - TRACK_H - TRACK_GAP - matrix_h, matrix_h), label=f"matrix{r}")
            draw_matrix(ax, mat, idx, xs, gaps, positions, wt, offset, norm)
            draw_track(ax_t, track, idx, xs, gaps, norm, t_lim)
            # every row its own colour scale, all at the same x: a reader of row 9 of a long
            # protein needs no scrolling back to the first row
            draw_colourbar(fig, ax, LEFT + max(widths), norm, lim, limit, beyond, fig_w, fig_h,
                           label=f"colourbar{r}")
            draw_marks(ax_t, marks, [positions[i] for i in idx], xs)
        numbers = [c for c in ax.child_axes if c.get_label() == "numbers"][0]
        xlabel = f"wild-type residue and residue number (first residue = {offset})"
        numbers.set_xlabel(xlabel if widths[-1] > 3.5 else xlabel.replace(" (", "\n("), labelpad=2)
        save_figure(fig, outputs, tight=False)
    return fig


def track_limits(track: np.ndarray) -> tuple[float, float]:
    finite = track[np.isfinite(track)]
    lo = min(0.0, float(finite.min())) if finite.size else -1.0
    hi = max(0.0, float(finite.max())) if finite.size else 1.0
    span = (hi - lo) or 1.0
    return lo - 0.08 * span, hi + 0.08 * span


def draw_gaps(ax, gaps) -> None:
    for x0, x1 in gaps:
        ax.axvspan(x0, x1, facecolor="white", edgecolor="#888888", hatch="////", lw=0, gid="gap")


def draw_matrix(ax, mat, idx, xs, gaps, positions, wt, offset, norm) -> None:
    """One row of the matrix: an image per run of adjacent sites, wild-type dots, labels."""
    for run in runs([positions[i] for i in idx]):
        block = mat[:, [idx[k] for k in run]]
        x0, x1 = xs[run[0]] - 0.5, xs[run[-1]] + 0.5
        ax.imshow(np.ma.masked_invalid(block), cmap=CMAP, norm=norm, aspect="auto",
                  interpolation="nearest", extent=(x0, x1, 19.5, -0.5))
    draw_gaps(ax, gaps)
    wt_xy = [(x, AA_ORDER.index(wt[i])) for i, x in zip(idx, xs) if wt[i] in AA_ORDER]
    if wt_xy:
        ax.scatter(*zip(*wt_xy), s=4, c="black", linewidths=0, zorder=3)
    ax.set_xlim(-0.5, xs[-1] + 0.5)
    ax.set_ylim(19.5, -0.5)
    ax.set_xticks(xs, [wt[i] for i in idx], fontsize=WT_FONT)
    ax.tick_params(axis="x", length=0, pad=WT_PAD)
    ax.set_yticks(range(20), list(AA_ORDER), fontsize=6.5)
    ax.tick_params(axis="y", length=0, pad=2)
    numbered = set()
    for run in runs([positions[i] for i in idx]):  # each run's start, every site of short runs
        numbered.update(idx[k] for k in (run if len(run) <= SHORT_RUN else run[:1]))
    shown = [(x, positions[i] + offset - 1) for i, x in zip(idx, xs)
             if i in numbered or (positions[i] + offset - 1) % 10 == 0]
    # the numbers' own axis sits below the wild-type letters, so its tick marks never cross them
    below = offset_copy(ax.transAxes, fig=ax.figure, y=-NUMBERS_AT, units="points")
    numbers = ax.secondary_xaxis(0.0, transform=below)
    numbers.set_xticks([x for x, _ in shown], [str(n) for _, n in shown], rotation=90, fontsize=5.5)
    numbers.tick_params(length=2.5, pad=1, width=0.5, color="#666666")
    numbers.spines["bottom"].set_visible(False)
    numbers.set_label("numbers")
    for b in np.cumsum([len(aas) for _, aas in AA_GROUPS])[:-1]:
        ax.axhline(b - 0.5, color="white", lw=1.2)
    names = offset_copy(ax.get_yaxis_transform(), fig=ax.figure, x=-11, units="points")
    start_row = 0
    for name, aas in AA_GROUPS:
        ax.text(0, start_row + (len(aas) - 1) / 2, name, transform=names, ha="right", va="center",
                fontsize=6, color="#555555", style="italic")
        start_row += len(aas)
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)


def draw_track(ax, track, idx, xs, gaps, norm, t_lim) -> None:
    """The per-position mean of the 19 substitutions, as bars coloured on the heatmap's scale."""
    vals = track[idx]
    ok = np.isfinite(vals)
    ax.bar(xs[ok], vals[ok], width=0.85, color=CMAP(norm(vals[ok])), edgecolor="#444444",
           linewidth=0.2)
    draw_gaps(ax, gaps)
    ax.axhline(0, color="#444444", lw=0.5)
    ax.set_xlim(-0.5, xs[-1] + 0.5)
    ax.set_ylim(*t_lim)
    ax.set_xticks([])
    ax.tick_params(axis="y", labelsize=5.5, length=2, pad=1)
    ax.locator_params(axis="y", nbins=3)
    ax.set_ylabel("mean of\n19 subst.", fontsize=6, rotation=0, ha="right", va="center",
                  labelpad=4)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def draw_marks(ax, marks: dict[str, list[int]], positions: list[int], xs) -> None:
    """Markers just above a row's track at the columns of ``marks``' positions (gid
    ``mark_<kind>``: one collection per kind and row)."""
    x_of = dict(zip(positions, xs))
    for kind, (marker, colour, _) in MARKS.items():
        x = [x_of[p] for p in (marks or {}).get(kind, []) if p in x_of]
        if x:
            ax.scatter(x, [1.0] * len(x), transform=ax.get_xaxis_transform(), marker=marker,
                       s=16, c=colour, linewidths=0, clip_on=False, zorder=5, gid=f"mark_{kind}")


def draw_colourbar(fig, ax, right, norm, lim, fixed, beyond, fig_w, fig_h, label) -> None:
    """Vertical linear colourbar beside the matrix ``ax`` (its left edge 0.22 inch right of
    ``right``, inches from the figure's left), its clipping stated above it."""
    pos = ax.get_position()
    cax = fig.add_axes([(right + 0.22) / fig_w, pos.y0, 0.12 / fig_w, pos.height], label=label)
    cbar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=CMAP), cax=cax,
                        extend="both" if beyond else "neither")
    ticks = np.linspace(-lim, lim, 5)
    cbar.set_ticks(ticks, labels=[f"{t:+.1f}" if t else "0" for t in ticks], fontsize=6)
    rule = "fixed limit" if fixed else f"{CLIP_PERCENTILE:g}th percentile\nof |score|"
    cbar.set_label("score (mean over models)", fontsize=6, labelpad=2)
    cax.text(0, 1.09, f"clipped at \u00b1{lim:.2f}\n({rule};\n{beyond} cells beyond)",
             transform=cax.transAxes, ha="left", va="bottom", fontsize=5.5, color="#333333")
    cbar.outline.set_linewidth(0.4)
