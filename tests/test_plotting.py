"""The heatmap's content: colours at the cells the axis labels point to, the symmetric stated
colour scale, wild-type and offset labels, gaps between non-adjacent sites, balanced rows without
empty panel area, the per-position track, residue-number ticks clear of the wild-type letters, a
colour scale beside every row, the random-weights stamp; the scatter's fit line; and
the detection of checkpoints that are not ESM-1v."""

import argparse

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from esm1v_scan.outputs.evaluation import plot_scatter
from esm1v_scan.inputs.fasta import AMINO_ACIDS
from esm1v_scan.scoring.models import is_published_esm1v
from esm1v_scan.outputs.heatmap import heatmap
from esm1v_scan.scoring.tiny_models import make_checkpoint

STAMP = "random weights - not ESM-1v"


def scan(seq: str, positions=None, seed=0) -> pd.DataFrame:
    """An ensemble-like table: small random scores, 0 for the wild type."""
    rng = np.random.default_rng(seed)
    positions = positions or range(1, len(seq) + 1)
    rows = [(p, seq[p - 1], aa, 0.0 if aa == seq[p - 1] else rng.uniform(-0.5, 0.5))
            for p in positions for aa in AMINO_ACIDS]
    return pd.DataFrame(rows, columns=["position", "wt", "mt", "score_mean"])


def seq_of(n: int, seed=1) -> str:
    return "".join(np.random.default_rng(seed).choice(list(AMINO_ACIDS), n))


def axes(fig, label):
    return next(a for a in fig.axes if a.get_label() == label)


def numbers_axis(ax):
    return next(c for c in ax.child_axes if c.get_label() == "numbers")


def labels(axis_ticks):
    return [t.get_text() for t in axis_ticks]


def pixel(fig, png, ax, x, y):
    """RGB of the PNG pixel at data point (x, y) of ``ax``."""
    fx, fy = fig.transFigure.inverted().transform(ax.transData.transform((x, y)))
    im = np.asarray(Image.open(png).convert("RGB"))
    h, w = im.shape[:2]
    return im[int(round((1 - fy) * h)), int(round(fx * w))].astype(int)


def test_cell_colours_at_their_labelled_positions(tmp_path):
    seq = seq_of(40)
    df = scan(seq)
    # residue numbers with offset 11: position 10 is residue 20, position 20 is residue 30
    bad = "W" if seq[9] != "W" else "F"
    good = "K" if seq[19] != "K" else "R"
    df.loc[(df.position == 10) & (df.mt == bad), "score_mean"] = -6.0
    df.loc[(df.position == 20) & (df.mt == good), "score_mean"] = 6.0
    png = tmp_path / "h.png"
    fig = heatmap(df, [png], title="t", offset=11)
    ax = axes(fig, "matrix0")
    num = numbers_axis(ax)
    x_of = dict(zip(labels(num.get_xticklabels()), num.get_xticks()))
    y_of = dict(zip(labels(ax.get_yticklabels()), ax.get_yticks()))
    red = pixel(fig, png, ax, x_of["20"], y_of[bad])
    blue = pixel(fig, png, ax, x_of["30"], y_of[good])
    assert red[0] > red[2] + 60 and red[0] > red[1] + 60, red  # deleterious: (dark) red
    assert blue[2] > blue[0] + 60 and blue[2] > blue[1] + 30, blue  # more likely: (dark) blue
    wt_y = y_of[seq[19]]  # the wild type: white (score 0) with a black dot in the middle
    assert (pixel(fig, png, ax, x_of["30"] + 0.35, wt_y + 0.35) > 235).all()
    assert (pixel(fig, png, ax, x_of["30"], wt_y) < 60).all()


def test_colour_scale_is_symmetric_and_states_its_clipping(tmp_path):
    seq = seq_of(30)
    df = scan(seq)
    df.loc[(df.position == 3) & (df.wt != df.mt), "score_mean"] = -12.0  # one very bad position
    fig = heatmap(df, [tmp_path / "h.png"], title="t")
    subs = df.loc[df.wt != df.mt, "score_mean"].abs()
    limit = np.percentile(subs, 99)
    cax = axes(fig, "colourbar0")
    lo, hi = cax.get_ylim()
    assert lo == pytest.approx(-limit) and hi == pytest.approx(limit)
    for im in axes(fig, "matrix0").images:  # the cells use that scale
        assert (im.norm.vmin, im.norm.vmax) == pytest.approx((-limit, limit))
    text = " ".join(t.get_text() for t in cax.texts)
    assert f"\u00b1{limit:.2f}" in text and "99th percentile" in text
    assert f"{int((subs > limit).sum())} cells beyond" in text
    fixed = heatmap(df, [tmp_path / "f.png"], title="t", limit=5.0)
    assert axes(fixed, "colourbar0").get_ylim() == pytest.approx((-5.0, 5.0))


def test_every_wild_type_and_offset_numbers_on_the_axis_of_a_100_residue_protein(tmp_path):
    seq = seq_of(100)
    fig = heatmap(scan(seq), [tmp_path / "h.png"], title="t", offset=24)
    assert [a.get_label() for a in fig.axes if a.get_label().startswith("matrix")] == ["matrix0"]
    ax = axes(fig, "matrix0")
    assert "".join(labels(ax.get_xticklabels())) == seq
    numbers = labels(numbers_axis(ax).get_xticklabels())
    assert numbers == ["24"] + [str(n) for n in range(30, 124, 10)]
    assert "".join(labels(ax.get_yticklabels())) == "AVLIMFWYSTNQCGPKRHDE"


def test_non_adjacent_sites_are_separated_and_numbered(tmp_path):
    seq = seq_of(120)
    sites = [3, 4, 5, 40, 41, 90]
    fig = heatmap(scan(seq, sites), [tmp_path / "h.png"], title="t", offset=101)
    ax = axes(fig, "matrix0")
    xs = ax.get_xticks()
    steps = np.diff(xs)
    assert steps[[0, 1, 3]] == pytest.approx([1, 1, 1])  # adjacent residues touch
    assert (steps[[2, 4]] > 1.5).all()  # 105 | 140 and 141 | 190: a break between them
    assert len([p for p in ax.patches if p.get_gid() == "gap"]) == 2
    assert labels(numbers_axis(ax).get_xticklabels()) == ["103", "104", "105", "140", "141", "190"]
    assert "".join(labels(ax.get_xticklabels())) == "".join(seq[p - 1] for p in sites)


def test_long_protein_wraps_into_balanced_rows_without_empty_panel_area(tmp_path):
    seq = seq_of(250)
    df = scan(seq)
    fig = heatmap(df, [tmp_path / "h.png"], title="t", row_width=100)
    rows = [axes(fig, f"matrix{r}") for r in range(3)]
    assert not any(a.get_label() == "matrix3" for a in fig.axes)
    per_row = [len(a.get_xticks()) for a in rows]
    assert per_row == [84, 84, 82]
    assert "".join("".join(labels(a.get_xticklabels())) for a in rows) == seq
    width_in = [a.get_position().width * fig.get_figwidth() for a in rows]
    per_column = np.array(width_in) / np.array(per_row)
    assert per_column == pytest.approx(per_column[0])  # each panel as wide as its columns
    for a, n in zip(rows, per_row):
        assert a.get_xlim() == pytest.approx((-0.5, n - 0.5))
    # the track above: mean of the 19 substitutions, wild type excluded
    track = axes(fig, "track0")
    heights = [p.get_height() for p in track.patches if p.get_gid() != "gap"]
    subs = df[df.wt != df.mt]
    expected = subs.groupby("position")["score_mean"].mean().to_numpy()[:84]
    assert heights == pytest.approx(expected)


def test_residue_number_ticks_never_cross_the_wild_type_letters(tmp_path):
    """A 300-residue protein in 4 rows: every tick mark of the residue numbers (each 10th residue
    and the first) lies below the bounding box of every wild-type letter of its row, and the
    numbers themselves lie below the tick marks."""
    seq = seq_of(300)
    fig = heatmap(scan(seq), [tmp_path / "h.png"], title="t", row_width=80)
    canvas = FigureCanvasAgg(fig)  # the figure is closed to pyplot: draw it on its own canvas
    canvas.draw()
    renderer = canvas.get_renderer()
    rows = [a for a in fig.axes if a.get_label().startswith("matrix")]
    assert len(rows) == 4
    n_ticks = 0
    for ax in rows:
        letters = [t.get_window_extent(renderer) for t in ax.get_xticklabels()]
        letters_bottom = min(b.y0 for b in letters)
        num = numbers_axis(ax)
        for tick in num.xaxis.get_major_ticks():
            line = tick.tick1line
            assert line.get_visible() and line.get_markersize() > 0
            x, y = line.get_transform().transform(line.get_xydata()[0])
            length = line.get_markersize() * fig.dpi / 72  # a downward tick: from y to y - length
            top, bottom = y, y - length
            for b in letters:
                crosses = b.x0 <= x <= b.x1 and bottom <= b.y1 and top >= b.y0
                assert not crosses, (tick.label1.get_text(), b, (x, bottom, top))
            assert top < letters_bottom, tick.label1.get_text()  # under the letters' baseline row
            assert tick.label1.get_window_extent(renderer).y1 <= bottom + 0.5
            n_ticks += 1
    assert n_ticks == 34  # residues 1, 10, 20, ..., 300 and 76, 151, 226 (the starts of rows 2-4)


def test_every_row_has_its_own_colour_scale(tmp_path):
    """A 40-inch figure is read row by row: each row's matrix has a colourbar of the same scale
    beside it, as tall as the matrix, all at the same x, each stating the clipping; in the PNG,
    right of every row, dark blue near the top of the matrix's height and dark red near its
    bottom."""
    seq = seq_of(250)
    df = scan(seq)
    df.loc[(df.position == 3) & (df.wt != df.mt), "score_mean"] = -12.0
    png = tmp_path / "h.png"
    fig = heatmap(df, [png], title="t", row_width=100)
    subs = df.loc[df.wt != df.mt, "score_mean"].abs()
    limit = np.percentile(subs, 99)
    beyond = int((subs > limit).sum())
    rows = [a for a in fig.axes if a.get_label().startswith("matrix")]
    bars = [a for a in fig.axes if a.get_label().startswith("colourbar")]
    assert len(rows) == 3 and len(bars) == 3
    # pixels: the first bar's x, at 10% and 90% of each row's matrix height
    im = np.asarray(Image.open(png).convert("RGB")).astype(int)
    h, w = im.shape[:2]
    bar_x = int(round((bars[0].get_position().x0 + bars[0].get_position().x1) / 2 * w))
    for r, ax in enumerate(rows):
        pos = ax.get_position()
        top = im[int(round((1 - (pos.y0 + 0.9 * pos.height)) * h)), bar_x]
        bottom = im[int(round((1 - (pos.y0 + 0.1 * pos.height)) * h)), bar_x]
        assert top[2] > top[0] + 60, (r, top)  # blue: positive, more likely than the wild type
        assert bottom[0] > bottom[2] + 60, (r, bottom)  # red: negative
    x0s = set()
    for ax, cax in zip(rows, bars):
        matrix = ax.get_position()
        pos = cax.get_position(original=True)  # the extend arrows take their room inside it
        assert (pos.y0, pos.y1) == pytest.approx((matrix.y0, matrix.y1))  # beside its own row
        assert pos.x0 > matrix.x1
        x0s.add(round(pos.x0, 9))
        assert cax.get_ylim() == pytest.approx((-limit, limit))
        text = " ".join(t.get_text() for t in cax.texts)
        assert f"\u00b1{limit:.2f}" in text and f"{beyond} cells beyond" in text
        middle = pixel(fig, png, cax, 0.5, 0.0)
        assert (middle > 225).all(), middle  # white at 0
    assert len(x0s) == 1  # aligned


def test_random_weights_stamp_in_the_title(tmp_path):
    df = scan(seq_of(20))
    stamped = heatmap(df, [tmp_path / "a.png"], title="P1", random_weights=True)
    plain = heatmap(df, [tmp_path / "b.png"], title="P1")
    assert STAMP.lower() in stamped.get_suptitle().lower() and "P1" in stamped.get_suptitle()
    assert "random" not in plain.get_suptitle().lower()


def test_heatmap_is_byte_reproducible(tmp_path):
    df = scan(seq_of(130), [p for p in range(1, 131) if p not in (50, 51)])
    a = [tmp_path / "a.png", tmp_path / "a.svg"]
    b = [tmp_path / "b.png", tmp_path / "b.svg"]
    heatmap(df, a, title="t", random_weights=True)
    heatmap(df, b, title="t", random_weights=True)
    for x, y in zip(a, b):
        assert x.read_bytes() == y.read_bytes(), x.suffix
    assert "<dc:date>" not in a[1].read_text()


def test_scatter_has_a_fit_line_and_the_stamp(tmp_path):
    x = np.linspace(-10, 0, 50)
    y = 2 * x + 1  # exact line: intercept 1, slope 2
    fig = plot_scatter(x, y, [tmp_path / "s.png"], "P1", ylabel="DMS_score", random_weights=True)
    ax = fig.axes[0]
    line = next(l for l in ax.lines if l.get_gid() == "fit")
    fx, fy = line.get_data()
    assert fy == pytest.approx(2 * np.asarray(fx) + 1)
    assert (min(fx), max(fx)) == pytest.approx((-10, 0))
    assert STAMP.upper() in ax.get_title() and "Spearman rho = 1.000" in ax.get_title()
    assert "sum over sites of mean over models of log p(mt) - log p(wt)" in ax.get_xlabel()


def test_published_esm1v_is_told_from_random_and_small_checkpoints():
    real_shape = argparse.Namespace(arch="roberta_large", encoder_layers=33, encoder_embed_dim=1280)
    assert is_published_esm1v(real_shape)
    assert not is_published_esm1v(argparse.Namespace(encoder_layers=12, encoder_embed_dim=1280))
    assert not is_published_esm1v({"layers": 33, "embed_dim": 640})  # a loaded model's args
    marked = make_checkpoint(1, layers=1, embed_dim=8, heads=2)
    assert not is_published_esm1v(marked["args"])
    assert "not ESM-1v" in marked["note"]
    vars(real_shape)["esm1v_scan_random_weights"] = True  # the mark wins over the shape
    assert not is_published_esm1v(real_shape)


def test_loaded_tiny_model_is_not_published(tiny_model):
    assert tiny_model.published is False


def test_stop_gain_and_indel_sites_are_marked_above_their_columns(tmp_path):
    """A variant list's stop-gain (star) and in-frame indel (triangle) sites: a marker above the
    column of that residue, in the row that draws it, drawn in the PNG; the key says what they are."""
    seq = seq_of(60)
    sites = [3, 11, 12, 30] + list(range(45, 61))
    png = tmp_path / "h.png"
    fig = heatmap(scan(seq, sites), [png], title="t", offset=101, row_width=10,
                  marks={"stop": [55], "indel": [11, 12, 30], "unused": []})
    rows = [a for a in fig.axes if a.get_label().startswith("track")]
    assert len(rows) == 2
    found = {}
    for r, ax in enumerate(rows):
        # every column has a tick (its wild type): the row's sites in order
        x_of = dict(zip([p + 100 for p in sites[10 * r:10 * r + 10]], axes(fig, f"matrix{r}").get_xticks()))
        for coll in ax.collections:
            if (coll.get_gid() or "").startswith("mark_"):
                for x, y in coll.get_offsets():
                    number = next(n for n, xx in x_of.items() if xx == pytest.approx(x))
                    found.setdefault(coll.get_gid(), []).append((r, int(number)))
                    assert y == 1.0  # the top of the track, above the bars
    # residue numbers = position + 100
    assert found == {"mark_indel": [(0, 111), (0, 112), (0, 130)], "mark_stop": [(1, 155)]}
    # the star is drawn black just above the track at residue 155's column
    ax = rows[1]
    x = axes(fig, "matrix1").get_xticks()[sites[10:].index(55)]
    fx, fy = fig.transFigure.inverted().transform(ax.transData.transform((x, 0)))
    _, top = fig.transFigure.inverted().transform(ax.transAxes.transform((0, 1.0)))
    im = np.asarray(Image.open(png).convert("RGB"))
    h, w = im.shape[:2]
    assert (im[int(round((1 - top) * h)), int(round(fx * w))] < 80).all()
    key = " ".join(t.get_text() for t in fig.texts)
    assert "star: stop-gain" in key.replace("\n", " ") and "in-frame indel" in key.replace("\n", " ")
    # without marks: no marker, no key line
    plain = heatmap(scan(seq, sites), [tmp_path / "p.png"], title="t", offset=101, row_width=20)
    assert not [c for a in plain.axes for c in a.collections if (c.get_gid() or "").startswith("mark_")]
    assert "stop-gain" not in " ".join(t.get_text() for t in plain.texts)
