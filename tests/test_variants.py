"""Mutation lists: reading, checking, sites to score, multi-mutant sums; evaluation (Spearman,
scatter); the real BLAT_ECOLX data through the evaluation and ensemble code."""

import numpy as np
import pandas as pd
import pytest

from conftest import DATA
from esm1v_scan.scoring.ensemble import ensemble
from esm1v_scan.errors import InputError
from esm1v_scan.outputs.evaluation import (bootstrap_se, evaluate, evaluation_html, metrics, plot_scatter,
                                   spearman)
from esm1v_scan.inputs.fasta import Protein
from esm1v_scan.scoring.planning import assign_shards, mask_plan
from esm1v_scan.scoring.score_tables import score_table
from esm1v_scan.inputs.variant_lists import VariantSpec, parse_mutant, read_variants, specs_from_config
from esm1v_scan.scoring.variant_scores import score_variants

SEQ = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"  # ubiquitin
UBQ = Protein("sp|P0CG48|UBC_HUMAN", "sp_P0CG48_UBC_HUMAN", SEQ)
MODELS = ["m1", "m2", "m3"]


def _write(tmp_path, text, name="v.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _read(path, protein=UBQ, **kw):
    return read_variants(VariantSpec(protein.id, str(path), **kw), protein)


def _site_tables(positions, seed=0):
    """Per-model score tables at the given positions (random log-probabilities), and their ensemble."""
    rng = np.random.default_rng(seed)
    tables = {}
    for m in MODELS:
        logits = rng.normal(size=(len(positions), 33))
        lp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        tables[m] = score_table(SEQ, positions, lp[:, :20])
    return tables, ensemble(tables)


def test_parse_mutant_formats():
    assert parse_mutant("A25G") == [("A", 25, "G")]
    assert parse_mutant(" a25g ") == [("A", 25, "G")]
    assert parse_mutant("A25G:K40R") == [("A", 25, "G"), ("K", 40, "R")]
    # negative numbers and 0 (pro- and signal peptides), as the tables write them
    assert parse_mutant("F-5A:S0A") == [("F", -5, "A"), ("S", 0, "A")]
    assert parse_mutant("a-12g") == [("A", -12, "G")]
    for bad in ["A25", "25G", "A25GG", "AG", "A25G;K40R", "", "A-G", "A--1G", "A-0G", "A-01G",
                "A+1G", "-1G", "A-1", "A1-G", "A 1G", "A\u0661G"]:
        with pytest.raises(ValueError):
            parse_mutant(bad)
    with pytest.raises(ValueError, match="not one of the 20"):
        parse_mutant("A25*")


def test_proteingym_list_multi_mutants_are_sums_per_model_and_ensemble(tmp_path):
    # I3V, K6R, I3V:K6R, L8P:T9A:G10S (ubiquitin residues I3, K6, L8, T9, G10), DMS_score present
    path = _write(tmp_path, "mutant,DMS_score,note\nI3V,0.5,a\nK6R,-1.2,b\nI3V:K6R,NA,c\nL8P:T9A:G10S,2,d\n")
    vl = _read(path)
    assert vl.positions == [3, 6, 8, 9, 10]
    assert vl.score_column == "DMS_score"  # auto-detected
    np.testing.assert_array_equal(vl.experimental, [0.5, -1.2, np.nan, 2.0])
    tables, ens = _site_tables(vl.positions)
    out = score_variants(vl, ens, MODELS)
    # the input rows are kept verbatim, then one column per model and the ensemble, then what
    # each variant is and how it was scored
    assert list(out.columns) == ["mutant", "DMS_score", "note", "score_m1", "score_m2", "score_m3",
                                 "score_ensemble", "hgvs_p", "variant_type", "scoring",
                                 "score_per_residue_delta"]
    assert out["hgvs_p"].tolist() == ["p.Ile3Val", "p.Lys6Arg", "p.[Ile3Val;Lys6Arg]",
                                      "p.[Leu8Pro;Thr9Ala;Gly10Ser]"]
    assert out["variant_type"].tolist() == ["missense", "missense", "multi_missense", "multi_missense"]
    assert set(out["scoring"]) == {"masked_marginals"}
    assert out["score_per_residue_delta"].tolist() == out["score_ensemble"].tolist()
    assert out["DMS_score"].tolist() == ["0.5", "-1.2", "NA", "2"]

    def site(m, pos, mt):
        t = tables[m]
        return float(t[(t.position == pos) & (t.mt == mt)]["score"].iloc[0])

    for m in MODELS:
        assert out.loc[0, f"score_{m}"] == pytest.approx(site(m, 3, "V"))
        assert out.loc[2, f"score_{m}"] == pytest.approx(site(m, 3, "V") + site(m, 6, "R"))
        assert out.loc[3, f"score_{m}"] == pytest.approx(site(m, 8, "P") + site(m, 9, "A") + site(m, 10, "S"))
    # ensemble = mean of the models' sums = sum of the sites' mean
    np.testing.assert_allclose(out["score_ensemble"], out[[f"score_{m}" for m in MODELS]].mean(axis=1))


def test_offset_fair_esm_style(tmp_path):
    # the file numbers ubiquitin from 101: I3 is I103
    path = _write(tmp_path, "variant\tfitness\nI103V\t1\nQ102L\t2\n", name="v.tsv")
    vl = _read(path, offset=101, mutant_column="variant", score_column="fitness")
    assert [m.site for row in vl.mutations for m in row] == [3, 2]
    assert [str(m) for row in vl.mutations for m in row] == ["I103V", "Q102L"]
    np.testing.assert_array_equal(vl.experimental, [1.0, 2.0])


def test_negative_residue_numbers_round_trip(tmp_path):
    """What the tables write, the reader reads: with offset -5 (ubiquitin's M1 numbered -5) the
    ensemble's mutant column holds M-5A .. I0V .. G70A; read back as a variant list (offset -5)
    every row lands on its own position, multi-mutants across 0 included."""
    from esm1v_scan.outputs.protein_files import with_residues
    from esm1v_scan.scoring.score_tables import read_table, write_table

    positions = [1, 5, 6, 7, 76]
    _, ens = _site_tables(positions)
    shard = ens.assign(name=UBQ.name, sequence_id=UBQ.id)
    write_table(with_residues(shard, {UBQ.id: -5}), tmp_path / "ensemble.tsv")
    written = read_table(tmp_path / "ensemble.tsv")
    assert {"M-5A", "V-1A", "K0R", "T1A", "G70A"} <= set(written["mutant"])
    multi = [f"{a}:{b}" for a, b in zip(written["mutant"][:20], written["mutant"][20:40])]
    assert multi[0] == "M-5A:V-1A"
    _write(tmp_path, "mutant\n" + "\n".join(list(written["mutant"]) + multi) + "\n")
    vl = _read(tmp_path / "v.csv", offset=-5)
    assert [m.site for row in vl.mutations[:len(written)] for m in row] == written["position"].tolist()
    assert [m.number for row in vl.mutations[:len(written)] for m in row] == written["residue"].tolist()
    assert [str(m) for row in vl.mutations for m in row][:len(written)] == written["mutant"].tolist()
    assert vl.positions == positions
    assert [(m.number, m.site) for m in vl.mutations[len(written)]] == [(-5, 1), (-1, 5)]
    # numbers outside the numbering are still refused in one line
    for text, message in [("M-6A", "residue number -6 is before the sequence's first residue, "
                                   "numbered -5 (offset)"),
                          ("G71A", "residue number 71 is beyond the sequence's last residue, "
                                   "numbered 70 (76 residues, first numbered -5)"),
                          ("M-05A", "malformed mutation 'M-05A'")]:
        _write(tmp_path, f"mutant\nK0R\n{text}\n", name="bad.csv")
        with pytest.raises(InputError) as err:
            _read(tmp_path / "bad.csv", offset=-5)
        assert str(err.value).startswith(f"{tmp_path / 'bad.csv'}: row 2 (mutant '{text}'): {message}")
        assert "\n" not in str(err.value)


def test_only_variant_sites_are_planned(tmp_path):
    """50 variants at 10 sites cost 10 masked passes per model, not L."""
    sites = [3, 6, 8, 12, 20, 30, 41, 50, 61, 70]
    subs = "ACDEW"
    rows = [f"{SEQ[s - 1]}{s}{mt}" for s in sites for mt in subs if mt != SEQ[s - 1]]
    rows = (rows + [f"{SEQ[2]}3G"] * 10)[:50]
    path = _write(tmp_path, "mutant\n" + "\n".join(rows) + "\n")
    vl = _read(path)
    assert len(vl.table) == 50 and vl.positions == sites
    other = Protein("other", "other", "MKVL")
    plan = mask_plan(assign_shards([UBQ, other], 10_000), "masked-marginals", 1022, {UBQ.id: vl.positions})
    assert plan["masked_inputs"].tolist() == [10, 4]
    assert plan["positions"].tolist() == ["3,6,8,12,20,30,41,50,61,70", "1-4"]


def test_duplicates_are_kept_and_named(tmp_path):
    path = _write(tmp_path, "mutant,DMS_score\nI3V,1\nK6R,2\nI3V,3\nK6R:I3V,4\nI3V:K6R,5\n")
    vl = _read(path)
    assert len(vl.mutations) == 5  # kept
    assert len(vl.warnings) == 1
    w = vl.warnings[0]
    assert w.startswith(str(path)) and "2 variant(s) listed more than once" in w
    assert "I3V in rows 1, 3" in w and "K6R:I3V in rows 4, 5" in w
    _, ens = _site_tables(vl.positions)
    out = score_variants(vl, ens, MODELS)
    assert out.loc[0, "score_ensemble"] == out.loc[2, "score_ensemble"]
    assert out.loc[3, "score_ensemble"] == pytest.approx(out.loc[4, "score_ensemble"])


@pytest.mark.parametrize(
    "text, kw, message",
    [
        ("id,DMS_score\nI3V,1\n", {}, "no column 'mutant' (the mutant column; columns found: 'id', 'DMS_score')"),
        ("mutant\nI3V\nA25\n", {}, "row 2 (mutant 'A25'): malformed mutation 'A25'"),
        ("mutant\n25G\n", {}, "row 1 (mutant '25G'): malformed mutation '25G'"),
        ("mutant,x\nI3V,1\n,2\n", {}, "row 2 (mutant ''): empty mutant"),
        ("mutant\nA0G\n", {}, "row 1 (mutant 'A0G'): residue number 0 is before the sequence's first residue, numbered 1"),
        ("mutant\nI3V:G77A\n", {}, "row 1 (mutant 'I3V:G77A'): residue number 77 is beyond the sequence's last residue, numbered 76 (76 residues, first numbered 1)"),
        ("mutant\nI3V\nK7R\n", {}, "row 2 (mutant 'K7R'): wild-type mismatch at residue 7: the variant expects K, the sequence 'sp|P0CG48|UBC_HUMAN' has T"),
        ("mutant\nI3V:I3A\n", {}, "row 1 (mutant 'I3V:I3A'): malformed mutation 'I3V:I3A': 'Ile3Val' and 'Ile3Ala' change the same residues"),
        ("mutant\nI3X\n", {}, "row 1 (mutant 'I3X'): malformed mutation 'I3X': 'X' is not accepted (for a stop write * or Ter)"),
        ("mutant,DMS_score\nI3V,1.5\nK6R,high\n", {}, "row 2: the experimental value 'high' in column 'DMS_score' is not a number"),
        ("mutant,fit\nI3V,1\n", {"score_column": "fitness"}, "no column 'fitness' (score_column"),
        ("mutant\n", {}, "the variant file has no rows"),
        ("mutant,score_ensemble\nI3V,1\n", {}, "the column 'score_ensemble' would be overwritten"),
    ],
)
def test_bad_variant_files_give_one_line_naming_file_and_row(tmp_path, text, kw, message):
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as err:
        _read(path, **kw)
    got = str(err.value)
    assert got.startswith(str(path) + ": ")
    assert message in got
    assert "\n" not in got


def test_wrong_offset_names_the_offset_that_fits(tmp_path):
    # numbered from 24 like fair-esm's TEM-1 file, read with the default offset 1
    path = _write(tmp_path, "mutant\nI26V\nK29R\nL31P\n")
    with pytest.raises(InputError) as err:
        _read(path)
    assert "row 1 (mutant 'I26V'): wild-type mismatch at residue 26: the variant expects I" in str(err.value)
    assert "with offset 24 every wild-type residue would match" in str(err.value)
    assert _read(path, offset=24).positions == [3, 6, 8]


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nope\.csv: variant file for 'sp\|P0CG48\|UBC_HUMAN' not found"):
        _read(tmp_path / "nope.csv")


def test_specs_from_config_path_mapping_and_sheet(tmp_path):
    proteins = [UBQ, Protein("b", "b", "MKV")]
    specs = specs_from_config({"b": "b.csv", UBQ.id: {"path": "u.tsv", "offset": 24, "score_column": 2500}},
                              proteins, "in.fasta")
    assert specs["b"] == VariantSpec("b", "b.csv")
    assert specs[UBQ.id] == VariantSpec(UBQ.id, "u.tsv", offset=24, score_column="2500")
    sheet = _write(tmp_path, f"id\tpath\toffset\tscore_column\n{UBQ.id}\tu.tsv\t24\t\nb\tb.csv\t\tfit\n",
                   name="sheet.tsv")
    specs = specs_from_config(str(sheet), proteins)
    assert specs[UBQ.id] == VariantSpec(UBQ.id, "u.tsv", offset=24)
    assert specs["b"] == VariantSpec("b", "b.csv", score_column="fit")
    assert specs_from_config({}, proteins) == {}
    with pytest.raises(InputError, match=r"config 'variants': variants given for 'c', which is not an id in in.fasta \(ids: sp\|P0CG48\|UBC_HUMAN, b\)"):
        specs_from_config({"c": "c.csv"}, proteins, "in.fasta")
    with pytest.raises(InputError, match="unknown key"):
        specs_from_config({"b": {"path": "b.csv", "ofset": 2}}, proteins)


# -- evaluation ---------------------------------------------------------------------------------
def test_spearman_drops_missing_pairs_and_counts_them():
    x = np.array([1.0, 2.0, 3.0, np.nan, 5.0, 6.0])
    y = np.array([1.0, 3.0, 2.0, 4.0, np.nan, 7.0])
    rho, n = spearman(x, y)
    assert n == 4
    # ranks of x (1,2,3,6) -> 1,2,3,4; of y (1,3,2,7) -> 1,3,2,4: rho = 1 - 6*2/(4*15)
    assert rho == pytest.approx(1 - 6 * 2 / (4 * 15))
    assert np.isnan(spearman([1, 2], [2, 1])[0])  # fewer than 3 pairs
    assert np.isnan(spearman([1, 1, 1, 1], [1, 2, 3, 4])[0])  # constant


def test_evaluate_table_and_html():
    table = pd.DataFrame({"score_a": [1, 2, 3, 4], "score_b": [4, 3, 2, 1], "score_ensemble": [1, 3, 2, 4]})
    exp = np.array([10.0, 20.0, 30.0, 40.0])
    ev = evaluate(table, exp, "DMS_score", {"a": "score_a", "b": "score_b", "ensemble": "score_ensemble"})
    assert ev["predictor"].tolist() == ["a", "b", "ensemble"]
    assert ev["spearman"].tolist() == pytest.approx([1.0, -1.0, 0.8])
    assert ev["n"].tolist() == [4, 4, 4]
    html = evaluation_html(ev, "x <y>")
    assert "<td>0.8000</td>" in html and "x &lt;y&gt;" in html


@pytest.mark.parametrize("jobs, stamped", [
    ([{"published_esm1v": True}, {"published_esm1v": False}], True),  # one random model is enough
    ([{"published_esm1v": True}, {"published_esm1v": True}], False),  # the real weights
    ([{}], False),  # a record from before the check: counts as published
    ([], False),  # no records: unknown, not stamped
])
def test_evaluation_page_carries_the_random_weights_stamp_like_the_figures(tmp_path, jobs, stamped):
    """evaluation.html says "random weights - not ESM-1v" exactly when the scoring jobs' records
    say so (as the scatter plot, the heatmaps and the summary do), above the table and in the
    page title; the real weights' page has no trace of it."""
    import json
    from esm1v_scan.outputs.provenance import RANDOM_STAMP, random_weights, read_jobs

    paths = []
    for k, job in enumerate(jobs):
        paths.append(tmp_path / f"job{k}.json")
        paths[-1].write_text(json.dumps(job))
    random = random_weights(read_jobs(paths))  # what rule evaluate reads
    ev = evaluate(pd.DataFrame({"score_ensemble": [1, 3, 2, 4]}), np.array([1.0, 2.0, 3.0, 4.0]),
                  "DMS_score", {"ensemble": "score_ensemble"})
    html = evaluation_html(ev, "P1: Spearman's rho", random_weights=random)
    assert "<td>0.8000</td>" in html
    body = html.split("<body>", 1)[1]
    if stamped:
        assert RANDOM_STAMP == "random weights - not ESM-1v"
        assert f"<p class='stamp'>{RANDOM_STAMP.upper()}</p>" in body
        assert body.index(RANDOM_STAMP.upper()) < body.index("<table")  # read before the numbers
        assert f"<title>{RANDOM_STAMP.upper()}: P1: Spearman&#x27;s rho</title>" in html
    else:
        assert "random" not in html.lower() and "not esm-1v" not in html.lower()


def test_scatter_is_written_and_byte_reproducible(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=300)
    y = x + rng.normal(size=300)
    y[:5] = np.nan
    a = [tmp_path / "a.png", tmp_path / "a.svg"]
    b = [tmp_path / "b.png", tmp_path / "b.svg"]
    for out in (a, b):
        plot_scatter(x, y, out, "seq", "ensemble score", "DMS_score")
    assert a[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert a[0].read_bytes() == b[0].read_bytes() and a[1].read_bytes() == b[1].read_bytes()
    assert "<dc:date>" not in a[1].read_text()


# -- the real data ------------------------------------------------------------------------------
def test_blat_ecolx_real_esm1v_scores_give_the_published_spearman():
    """The real ESM-1v wild-type-marginal scores of TEM-1 (fair-esm's labelled file), fed through
    the variant reader (offset 24, every wild type checked), the ensemble and the evaluation."""
    seq = "".join((DATA / "BLAT_ECOLX.fasta").read_text().splitlines()[1:])
    assert len(seq) == 263 and seq.startswith("HPETLVKVKD") and seq.endswith("ASLIKHW")
    protein = Protein("BLAT_ECOLX", "BLAT_ECOLX", seq)
    spec = VariantSpec(protein.id, str(DATA / "BLAT_ECOLX_Ranganathan2015_labeled.csv"), offset=24,
                       score_column="2500")
    vl = read_variants(spec, protein)
    assert len(vl.mutations) == 4996 and all(len(m) == 1 for m in vl.mutations)
    assert vl.positions[0] == 1 and vl.positions[-1] == 263

    models = [f"esm1v_t33_650M_UR90_{k}" for k in range(1, 6)]
    muts = [m[0] for m in vl.mutations]
    keys = {"position": [m.site for m in muts], "wt": [m.wt for m in muts], "mt": [m.mt for m in muts]}
    # per-model tables from the published scores (the file has no probabilities: NaN)
    tables = {
        m: pd.DataFrame({**keys, "log_prob": np.nan, "prob": np.nan,
                         "score": vl.table[m].astype(float).to_numpy()})
        for m in models
    }
    scored = score_variants(vl, ensemble(tables), models)
    predictors = {m: f"score_{m}" for m in models} | {"ensemble": "score_ensemble"}
    ev = evaluate(scored, vl.experimental, "2500", predictors).set_index("predictor")
    assert ev["n"].tolist() == [4996] * 6
    rho = ev["spearman"]
    assert round(rho["ensemble"], 4) == 0.7026 and round(rho["ensemble"], 3) == 0.703
    # the published single-model figures, to their 3 decimals (model 4 is 0.68648: "0.687" is
    # 0.6865 rounded once more, hence the tolerance of one unit in the third decimal)
    assert [rho[m] for m in models] == pytest.approx([0.662, 0.663, 0.645, 0.687, 0.706], abs=1e-3)
    # and exactly what scipy gives on the raw columns, read independently
    from scipy.stats import spearmanr

    raw = pd.read_csv(spec.path)
    for m in models:
        assert rho[m] == pytest.approx(spearmanr(raw[m], raw["2500"]).statistic, abs=1e-12)
    assert rho["ensemble"] == pytest.approx(spearmanr(raw[models].mean(axis=1), raw["2500"]).statistic, abs=1e-12)


def test_excel_bom_and_explicit_separator(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_text("\ufeffmutant,DMS_score\nI3V,1\n", encoding="utf-8")
    assert _read(bom).positions == [3]
    semi = _write(tmp_path, "mutant;DMS_score\nI3V;1.5\n", name="semi.txt")
    vl = _read(semi, separator=";")
    assert vl.positions == [3] and list(vl.table.columns) == ["mutant", "DMS_score"]


# -- every variant type ---------------------------------------------------------------------------
def test_reference_prefix_checked_against_the_fasta_id(tmp_path):
    np_protein = Protein("NP_000537.3", "NP_000537.3", SEQ)
    # the FASTA record itself (version aside): fine, no warning
    vl = _read(_write(tmp_path, "mutant\nNP_000537.1:p.Ile3Val\n"), np_protein)
    assert vl.positions == [3] and vl.warnings == []
    # another RefSeq protein against a RefSeq FASTA id: the list is for another protein
    with pytest.raises(InputError) as err:
        _read(_write(tmp_path, "mutant\nI3V\nNP_000546.2:p.Lys6Arg\n"), np_protein)
    assert str(err.value) == (
        f"{tmp_path / 'v.csv'}: row 2 (mutant 'NP_000546.2:p.Lys6Arg'): the reference sequence "
        "'NP_000546.2' is not this list's sequence 'NP_000537.3' (both RefSeq NP_ accessions): is "
        "the list for another protein? Drop the prefix only if the residues are numbered on this "
        "sequence")
    # ENSP against ENSP: the same
    with pytest.raises(InputError, match="both Ensembl ENSP accessions"):
        _read(_write(tmp_path, "mutant\nENSP00000269305.4:p.I3V\n"),
              Protein("ENSP00000354587.3", "e", SEQ))
    # a kind the FASTA id is not (UniProt id, RefSeq prefix; a gene name): ignored, ONE warning
    vl = _read(_write(tmp_path, "mutant\nNP_000546.2:p.Lys6Arg\nNP_000546.2:p.I3V\nTP53:p.L8P\n"))
    assert vl.positions == [3, 6, 8]
    assert vl.warnings == [
        f"{tmp_path / 'v.csv'}: 3 row(s) name a reference sequence that is not "
        "'sp|P0CG48|UBC_HUMAN' ('NP_000546.2' (row 1), 'TP53' (row 3)): prefix ignored, residues "
        "checked against 'sp|P0CG48|UBC_HUMAN'"]
    # a residue that does not match is still an error naming the row
    with pytest.raises(InputError, match=r"row 1 \(mutant 'TP53:p.Lys8Pro'\): wild-type mismatch "
                                         r"at residue 8: the variant expects K, the sequence "
                                         r"'sp\|P0CG48\|UBC_HUMAN' has L"):
        _read(_write(tmp_path, "mutant\nTP53:p.Lys8Pro\n"))


def test_a_substitution_to_selenocysteine_is_kept_not_scored(tmp_path):
    """p.Arg42Sec names a real residue the model has no score for: the row stays, not scored,
    with the reason, and the list's other rows are scored (it used to stop the list)."""
    vl = _read(_write(tmp_path, "mutant\np.Arg42Sec\np.Ile3Val\n"))
    assert vl.positions == [3]
    tables, ens = _site_tables(vl.positions)
    out = score_variants(vl, ens, MODELS)
    assert out["scoring"].tolist() == [
        "not_scored: a substitution to selenocysteine or pyrrolysine (the model has no such score)",
        "masked_marginals"]
    assert np.isnan(out["score_ensemble"].iloc[0]) and np.isfinite(out["score_ensemble"].iloc[1])


def test_types_plans_and_scores_of_a_mixed_list(tmp_path):
    """Stop-gains take the minimum over the substitutions from the stop to the end, per model
    and from score_mean for the ensemble; indels take rule indels' tables (or are not scored
    with the reason under BioLM); the rest are reported with empty scores."""
    rows = ["I3V", "p.Ala46=", "p.Tyr59Ter", "p.Lys11del", "p.Gly47dup", "p.Arg42fs",
            "p.[Lys33Arg;Glu34del]", "p.Lys11del"]
    vl = _read(_write(tmp_path, "mutant\n" + "\n".join(rows) + "\n"))
    assert vl.positions == [3, 11, 47] + list(range(59, 77))
    assert vl.marks() == {"stop": [59], "indel": [11, 47]}
    assert vl.indel_variants() == ["p.Lys11del", "p.Gly47dup"]
    assert vl.counts()["not_scored"] == 2
    assert "p.Lys11del in rows 4, 8" in vl.warnings[0]  # duplicates of any type are named
    tables, ens = _site_tables(vl.positions)
    indels = {m: pd.DataFrame({"hgvs_p": ["p.Gly47dup", "p.Lys11del"], "score": [-1.0 - k, 2.0 + k],
                               "score_per_residue_delta": [-0.5 - k, -3.0 + k]})
              for k, m in enumerate(MODELS)}
    out = score_variants(vl, ens, MODELS, indels)
    assert out["scoring"].tolist() == [
        "masked_marginals", "masked_marginals", "min_downstream", "pllr", "pllr",
        "not_scored: frameshift (the mutant protein after the shift is not known)",
        "not_scored: multi-site allele with a stop-gain or an indel", "pllr"]
    assert out["variant_type"].tolist() == ["missense", "synonymous", "stop_gained",
                                            "inframe_deletion", "duplication", "frameshift",
                                            "inframe_deletion", "inframe_deletion"]
    assert out.loc[1, "score_ensemble"] == 0.0 and out.loc[1, "score_m2"] == 0.0
    for m in MODELS:  # the worst of the 19 substitutions at 59..76
        t = tables[m]
        assert out.loc[2, f"score_{m}"] == pytest.approx(t[(t.position >= 59) & (t.mt != t.wt)]["score"].min())
    assert out.loc[2, "score_ensemble"] == pytest.approx(ens[(ens.position >= 59) & (ens.mt != ens.wt)]["score_mean"].min())
    assert out.loc[2, "score_ensemble"] > np.mean([out.loc[2, f"score_{m}"] for m in MODELS])
    assert out.loc[3, "score_m3"] == 4.0 and out.loc[3, "score_ensemble"] == pytest.approx(3.0)
    assert out.loc[3, "score_per_residue_delta"] == pytest.approx(-2.0)
    assert out.loc[4, "score_ensemble"] == pytest.approx(-2.0)
    assert out.loc[[5, 6], ["score_m1", "score_ensemble", "score_per_residue_delta"]].isna().all().all()
    assert out["score_per_residue_delta"][:3].tolist() == out["score_ensemble"][:3].tolist()
    # the BioLM backend: indels kept, not scored, the reason said
    remote = score_variants(vl, ens, MODELS, None, indel_reason="indels need the local backend")
    assert remote["scoring"][3] == "not_scored: indels need the local backend"
    assert np.isnan(remote.loc[3, "score_ensemble"]) and remote.loc[2, "scoring"] == "min_downstream"
    # exact PLL is labelled so
    assert score_variants(vl, ens, MODELS, indels, exact=True)["scoring"][3] == "pllr_exact"


def test_evaluation_per_variant_type_where_ten_are_measured():
    rng = np.random.default_rng(3)
    types = np.array(["missense"] * 14 + ["inframe_deletion"] * 12 + ["stop_gained"] * 9
                     + ["frameshift"] * 11)
    score = rng.normal(size=len(types))
    score[types == "frameshift"] = np.nan  # not scored
    exp = score * 2 + rng.normal(size=len(types)) * 0.5
    exp[types == "frameshift"] = rng.normal(size=11)
    exp[0] = np.nan  # missense: 13 measured
    exp[14:17] = np.nan  # deletions: 9 measured -> no rows of their own
    table = pd.DataFrame({"score_a": score, "score_ensemble": score})
    label = (exp >= 0).astype(float)
    label[~np.isfinite(exp)] = np.nan
    ev = evaluate(table, exp, "fit", {"a": "score_a", "ensemble": "score_ensemble"}, label,
                  "fit >= 0", bootstrap=50, types=types)
    assert list(ev.columns) == ["predictor", "variant_type", "score_column", "experimental_column",
                                "spearman", "n", "auc", "mcc", "ndcg", "top10_recall",
                                "spearman_se", "auc_se", "mcc_se", "ndcg_se", "top10_recall_se",
                                "label"]
    assert ev["variant_type"].tolist() == ["all", "all", "missense", "missense"]
    ens = ev.set_index(["predictor", "variant_type"])
    ok = np.isfinite(score) & np.isfinite(exp)
    assert ens.loc[("ensemble", "all"), "n"] == ok.sum() == 13 + 9 + 9
    assert ens.loc[("ensemble", "all"), "spearman"] == pytest.approx(spearman(score[ok], exp[ok])[0])
    miss = (types == "missense") & ok
    assert ens.loc[("ensemble", "missense"), "spearman"] == pytest.approx(spearman(score[miss], exp[miss])[0])
    assert ens.loc[("ensemble", "missense"), "n"] == 13
    # every row carries ProteinGym's metrics and their standard errors over its own variants
    for vtype, rows in (("all", np.ones(len(types), dtype=bool)), ("missense", types == "missense")):
        row = ens.loc[("ensemble", vtype)]
        want = metrics(score[rows], exp[rows], label[rows])
        for m in ("auc", "mcc", "ndcg", "top10_recall"):
            assert row[m] == pytest.approx(want[m]), (vtype, m)
        se = bootstrap_se(score[rows], exp[rows], label[rows], 50)
        for m in se:
            assert row[m] == pytest.approx(se[m]), (vtype, m)
        assert row["label"] == "fit >= 0"
    assert ens.loc[("ensemble", "missense"), "spearman_se"] != ens.loc[("ensemble", "all"), "spearman_se"]
