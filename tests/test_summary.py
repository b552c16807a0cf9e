"""The landing summary: one row per protein with its mean tolerance, variants and Spearman."""

import math
from dataclasses import dataclass

import pandas as pd

from esm1v_scan.summary import COLUMNS, protein_row, summary_html, summary_table


@dataclass
class P:
    id: str
    name: str
    sequence: str
    description: str = ""

    @property
    def length(self):
        return len(self.sequence)


def test_row_mean_of_positions_and_counts():
    positions = pd.DataFrame({"position": [1, 2, 3], "mean_score": [-1.5, -0.25, 0.5]})
    row = protein_row(P("sp|X|Y", "sp_X_Y", "MKV", "Beta-lactamase TEM"), positions, 12, 0.7026)
    assert row == {"id": "sp|X|Y", "name": "sp_X_Y", "description": "Beta-lactamase TEM",
                   "length": 3, "mean_score": (-1.5 - 0.25 + 0.5) / 3, "n_positions": 3,
                   "n_variants": 12, "spearman": 0.7026}


def test_row_without_evaluation_has_no_rho():
    row = protein_row(P("a", "a", "MK"), pd.DataFrame({"mean_score": [-1.0, -3.0]}))
    assert row["n_variants"] == 0 and math.isnan(row["spearman"]) and row["mean_score"] == -2.0


def test_html_escapes_and_links_only_existing_files(tmp_path):
    rows = [protein_row(P("<b>&x", "b_x", "MK", 'a "quoted" <desc>'),
                        pd.DataFrame({"mean_score": [-1.0, -2.0]}), 0, None)]
    table = summary_table(rows)
    assert list(table.columns) == COLUMNS
    (tmp_path / "b_x").mkdir()
    (tmp_path / "b_x" / "heatmap.png").write_bytes(b"png")
    (tmp_path / "b_x" / "heatmap.html").write_text("<html>")
    html = summary_html(table, "run <1>", tmp_path)
    assert "<b>&x" not in html and "&lt;b&gt;&amp;x" in html
    assert "&lt;desc&gt;" in html and "run &lt;1&gt;" in html
    assert 'href="b_x/heatmap.png"' in html and 'href="b_x/heatmap.html"' in html
    assert "matrix.tsv" not in html  # not there: not linked
    assert "<td>-1.500</td>" in html
