"""The landing summary: one row per protein with its mean tolerance, variants and Spearman."""

import math
from dataclasses import dataclass

import pandas as pd

import pytest

from esm1v_scan.outputs.run_summary import (COLUMNS, build_summary, ensemble_spearman, protein_links,
                                protein_row, summary_html, summary_table)


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
    row = protein_row(P("sp|X|Y", "sp_X_Y", "MKV", "Beta-lactamase TEM"), positions, 12, 0.7026,
                      n_not_scored=2)
    assert row == {"id": "sp|X|Y", "name": "sp_X_Y", "description": "Beta-lactamase TEM",
                   "length": 3, "mean_score": (-1.5 - 0.25 + 0.5) / 3, "n_positions": 3,
                   "n_variants": 12, "n_not_scored": 2, "spearman": 0.7026}


def test_row_without_evaluation_has_no_rho():
    row = protein_row(P("a", "a", "MK"), pd.DataFrame({"mean_score": [-1.0, -3.0]}))
    assert row["n_variants"] == 0 and math.isnan(row["spearman"]) and row["mean_score"] == -2.0


def test_html_escapes_and_links_what_the_run_makes():
    rows = [protein_row(P("<b>&x", "b_x", "MK", 'a "quoted" <desc>'),
                        pd.DataFrame({"mean_score": [-1.0, -2.0]}), 0, None),
            protein_row(P("q", "q", "MKV"), pd.DataFrame({"mean_score": [0.5]}), 3, 0.25)]
    table = summary_table(rows)
    assert list(table.columns) == COLUMNS
    links = {"b_x": protein_links("b_x", per_protein=True),
             "q": protein_links("q", per_protein=False, variants=True, evaluated=True,
                                structure="structure.cif")}
    html = summary_html(table, "run <1>", links, note="random weights - not ESM-1v")
    assert "<b>&x" not in html and "&lt;b&gt;&amp;x" in html
    assert "&lt;desc&gt;" in html and "run &lt;1&gt;" in html
    assert "<p class='stamp'>random weights - not ESM-1v</p>" in html
    rows_html = html.split("<tr>")[2:]
    assert 'href="b_x/heatmap.png"' in rows_html[0] and 'href="b_x/heatmap.html"' in rows_html[0]
    assert "variants.tsv" not in rows_html[0] and "structure" not in rows_html[0]
    # per-protein files off (a proteome): the second protein links only its variants/structure
    assert "heatmap" not in rows_html[1]
    for f in ("variants.tsv", "evaluation.html", "scatter.png", "structure.cif", "structure.pml",
              "structure.defattr"):
        assert f'href="q/{f}"' in rows_html[1]
    assert "<td>-1.500</td>" in html and "<td>0.250</td>" in html
    assert "http" not in html and "<script" not in html  # self-contained


def _shard(path, proteins):
    """A shard ensemble table as the ensemble rule writes it (name, sequence_id, ...)."""
    rows = []
    for name, scores in proteins.items():
        for pos, by_mt in scores.items():
            wt = by_mt["wt"]
            for mt in "ACDEFGHIKLMNPQRSTVWY":
                rows.append({"name": name, "sequence_id": name, "position": pos, "wt": wt,
                             "mt": mt, "score_mean": 0.0 if mt == wt else by_mt.get(mt, -1.0)})
    pd.DataFrame(rows).to_parquet(path)
    return path


def test_build_summary_from_shards_equals_positions_mean(tmp_path):
    # protein a: position 1 (wt M) substitutions all -1 except A = -20; position 2 (wt K) all -1
    a = {1: {"wt": "M", "A": -20.0}, 2: {"wt": "K"}}
    b = {1: {"wt": "G", "W": 1.9}}
    s1 = _shard(tmp_path / "s1.parquet", {"a": a})
    s2 = _shard(tmp_path / "s2.parquet", {"b": b})
    prots = [P("id_b", "b", "G", "second"), P("id_a", "a", "MK", "first"), P("none", "c", "MKV")]
    table = build_summary(prots, [s1, s2], {"a": 7}, {"a": 0.5})
    assert list(table["name"]) == ["b", "a", "c"]  # the FASTA's order
    row = table.set_index("name")
    pos1 = (-20.0 + 18 * -1.0) / 19  # the wild type's 0 is left out
    assert row.loc["a", "mean_score"] == pytest.approx((pos1 + -1.0) / 2)
    assert row.loc["b", "mean_score"] == pytest.approx((1.9 - 18) / 19)
    assert row.loc["a", "n_positions"] == 2 and row.loc["a", "n_variants"] == 7
    assert row.loc["a", "spearman"] == 0.5 and math.isnan(row.loc["b", "spearman"])
    assert row.loc["a", "description"] == "first"
    assert row.loc["c", "n_positions"] == 0 and math.isnan(row.loc["c", "mean_score"])


def test_ensemble_spearman_reads_the_ensemble_row(tmp_path):
    f = tmp_path / "evaluation.tsv"
    f.write_text("predictor\tscore_column\texperimental_column\tspearman\tn\n"
                 "esm1v_t33_650M_UR90S_1\ts1\tfit\t0.61\t10\nensemble\tscore_mean\tfit\t0.7026\t10\n")
    assert ensemble_spearman(f) == 0.7026
    # with rows per variant type: the ensemble over all scored variants, wherever its row is
    f.write_text("predictor\tvariant_type\tscore_column\texperimental_column\tspearman\tn\n"
                 "ensemble\tmissense\tscore_mean\tfit\t0.55\t12\n"
                 "ensemble\tall\tscore_mean\tfit\t0.61\t20\n"
                 "ensemble\tinframe_deletion\tscore_mean\tfit\t0.4\t10\n")
    assert ensemble_spearman(f) == 0.61
