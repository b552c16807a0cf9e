"""The workflow with mutation lists, end to end on the tiny checkpoints: only variant sites scored,
variant scores, evaluation, report; bad variant input; a protein longer than the context."""

import base64
import json
import re

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr

from conftest import MODELS, run_workflow, write_fasta
from esm1v_scan.inputs.fasta import AMINO_ACIDS
from esm1v_scan.scoring.models import load_model
from esm1v_scan.scoring.planning import window_bounds

pytestmark = pytest.mark.slow

UBQ_ID, UBQ = "sp|P0CG48|UBC_HUMAN", "sp_P0CG48_UBC_HUMAN"
# ubiquitin substitutions (residue numbers of the FASTA sequence); the DMS_score values are
# made up for the test, one left unmeasured
UBQ_VARIANTS = """mutant,DMS_score,note
I3V,0.52,a
K6R,-1.10,b
I3V:K6R,-0.70,c
L8P,-2.30,d
T9A,0.10,e
G10S,NA,f
K48R,-0.40,g
I44A:K48R,-2.90,h
"""


def _site_score(table, pos, mt):
    return float(table[(table.position == pos) & (table.mt == mt)]["score"].iloc[0])


def test_variants_evaluation_and_report(tmp_path, base_config):
    vfile = tmp_path / "ubq.csv"
    vfile.write_text(UBQ_VARIANTS)
    config = {**base_config, "variants": {UBQ_ID: str(vfile)}}
    wd = tmp_path / "run"
    run_workflow(wd, config)

    plan = pd.read_csv(wd / "results/mask_plan.tsv", sep="\t").set_index("name")
    assert plan.loc[UBQ, "positions"] == "3,6,8-10,44,48"  # only the variants' sites
    assert plan.loc[UBQ, "masked_inputs"] == 7
    assert plan.loc["tiny_2", "masked_inputs"] == 22  # no list: the full scan
    tables = {m: pd.read_csv(wd / f"results/{UBQ}/scores/{m}.tsv", sep="\t") for m in MODELS}
    assert sorted(tables[MODELS[0]]["position"].unique()) == [3, 6, 8, 9, 10, 44, 48]

    out = pd.read_csv(wd / f"results/{UBQ}/variants.tsv", sep="\t", keep_default_na=False)
    assert list(out.columns) == (["mutant", "DMS_score", "note"] + [f"score_{m}" for m in MODELS]
                                 + ["score_ensemble", "hgvs_p", "variant_type", "scoring",
                                    "score_per_residue_delta"])
    assert set(out["scoring"]) == {"masked_marginals"}
    assert out["note"].tolist() == list("abcdefgh") and out["DMS_score"].tolist()[5] == "NA"
    for m in MODELS:
        t = tables[m]
        assert out.loc[0, f"score_{m}"] == pytest.approx(_site_score(t, 3, "V"), abs=1e-5)
        assert out.loc[2, f"score_{m}"] == pytest.approx(_site_score(t, 3, "V") + _site_score(t, 6, "R"), abs=1e-5)
        assert out.loc[7, f"score_{m}"] == pytest.approx(_site_score(t, 44, "A") + _site_score(t, 48, "R"), abs=1e-5)
    ens = out[[f"score_{m}" for m in MODELS]].mean(axis=1)
    np.testing.assert_allclose(out["score_ensemble"], ens, atol=1e-5)

    ev = pd.read_csv(wd / f"results/{UBQ}/evaluation.tsv", sep="\t").set_index("predictor")
    assert list(ev.index) == MODELS + ["ensemble"]
    measured = out["DMS_score"] != "NA"
    dms = out.loc[measured, "DMS_score"].astype(float)
    assert ev.loc["ensemble", "n"] == 7
    assert ev.loc["ensemble", "spearman"] == pytest.approx(spearmanr(out.loc[measured, "score_ensemble"], dms).statistic, abs=1e-6)
    assert ev.loc[MODELS[1], "spearman"] == pytest.approx(spearmanr(out.loc[measured, f"score_{MODELS[1]}"], dms).statistic, abs=1e-6)
    # ProteinGym's other metrics: no binary label in this list, so auc and mcc are empty; 7
    # variants are too few for a top 10% (ndcg); the top-10% recall and the standard errors exist
    assert ev["auc"].isna().all() and ev["mcc"].isna().all() and ev["ndcg"].isna().all()
    top = dms >= np.percentile(dms, 90)
    x = out.loc[measured, "score_ensemble"]
    assert ev.loc["ensemble", "top10_recall"] == (top & (x >= np.percentile(x, 90))).sum() / top.sum()
    assert (ev["spearman_se"] > 0).all() and (ev["top10_recall_se"] >= 0).all()
    assert (wd / f"results/{UBQ}/scatter.png").read_bytes()[:4] == b"\x89PNG"
    assert "<svg" in (wd / f"results/{UBQ}/scatter.svg").read_text()
    assert not (wd / "results/tiny_2/variants.tsv").exists()
    # the variant sequence's heatmap shows its scored sites
    assert (wd / f"results/{UBQ}/heatmap.png").exists()
    # the tiny checkpoints are not ESM-1v: the figures are stamped (their logs say so)
    for log in ("logs/evaluate/" + UBQ + ".log", *(str(p.relative_to(wd)) for p in wd.glob("logs/heatmap/*.log"))):
        assert "not the published ESM-1v weights: figures stamped" in (wd / log).read_text(), log

    # the report builds and carries the sequence's label, the captions and the evaluation table
    run_workflow(wd, config, "--report", "report.html")
    html = (wd / "report.html").read_text()
    assert '"sequence": "sp_P0CG48_UBC_HUMAN", "result": "evaluation"' in html
    assert "Variant effects" in html and "Spearman" in html
    uri = re.search(r'"results/sp_P0CG48_UBC_HUMAN/evaluation.html": \{.*?"data_uri": "([^"]+)"', html).group(1)
    page = base64.b64decode(uri.split("base64,", 1)[1]).decode()
    assert f"<td>{ev.loc['ensemble', 'spearman']:.4f}</td>" in page
    assert "<td>ensemble</td>" in page
    assert f"auc and mcc are empty: the variant list of {UBQ} has no binary label" in page
    assert "Standard errors (&lt;metric&gt;_se): 1000 bootstrap resamples of the variants, seed 0." in page
    assert "<p class='stamp'>RANDOM WEIGHTS - NOT ESM-1V</p>" in page  # tiny checkpoints: stamped

    # a rerun does nothing; a new site is the only one scored (the rest comes from the cache)
    again = run_workflow(wd, config)
    assert "Nothing to be done" in again.stdout + again.stderr
    vfile.write_text(UBQ_VARIANTS + "E64K,0.3,i\n")
    run_workflow(wd, config)
    log = (wd / f"logs/score/{MODELS[0]}/shard0001.log").read_text()
    assert f"{UBQ_ID}: scored 1 positions (7 from cache)" in log
    assert "tiny_2: all 22 positions from cache" in log
    assert len(pd.read_csv(wd / f"results/{UBQ}/variants.tsv", sep="\t")) == 9


@pytest.mark.parametrize(
    "text, spec, message",
    [
        (None, "missing.csv", "missing.csv: variant file for 'sp|P0CG48|UBC_HUMAN' not found"),
        ("variant\nI3V\n", "v.csv", "v.csv: no column 'mutant'"),
        ("mutant\nI3V\nA25\n", "v.csv", "v.csv: row 2 (mutant 'A25'): malformed mutation 'A25'"),
        ("mutant\n25G\n", "v.csv", "row 1 (mutant '25G'): malformed mutation"),
        ("mutant\nA0G\n", "v.csv", "row 1 (mutant 'A0G'): residue number 0 is before the sequence's first residue"),
        ("mutant\nG99A\n", "v.csv", "row 1 (mutant 'G99A'): residue number 99 is beyond the sequence's last residue, numbered 76"),
        ("mutant\nI3V\nK7R\n", "v.csv", "row 2 (mutant 'K7R'): wild-type mismatch at residue 7: the variant expects K"),
        ("mutant,DMS_score\nI3V,x1\n", "v.csv", "row 1: the experimental value 'x1' in column 'DMS_score' is not a number"),
        ("mutant\nI3V\n", {"path": "v.csv", "offset": "one"}, "'one' is not of type 'integer'"),
    ],
)
def test_bad_variant_input_stops_before_any_job(tmp_path, base_config, text, spec, message):
    if text is not None:
        (tmp_path / "v.csv").write_text(text)
    spec = str(tmp_path / spec) if isinstance(spec, str) else {**spec, "path": str(tmp_path / spec["path"])}
    wd = tmp_path / "bad"
    proc = run_workflow(wd, {**base_config, "variants": {UBQ_ID: spec}}, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert message in out, out[-3000:]
    assert "Traceback" not in out
    assert not (wd / "results").exists()


def test_variants_for_an_unknown_id(tmp_path, base_config):
    (tmp_path / "v.csv").write_text("mutant\nI3V\n")
    proc = run_workflow(tmp_path / "bad", {**base_config, "variants": {"UBC_HUMAN": str(tmp_path / "v.csv")}}, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out
    assert "variants given for 'UBC_HUMAN', which is not an id in" in out


def test_long_protein_with_a_variant_list(tmp_path, base_config, tiny_dir):
    """2,500 residues (the tiny model's context is 1,022 like ESM-1v's): each variant site is scored
    on its own window, and wt-marginals runs on blended windows, through the whole workflow."""
    L = 2500
    seq = "".join(np.random.default_rng(11).choice(list(AMINO_ACIDS), size=L))
    fasta = write_fasta(tmp_path / "long.fasta", {"long_1": seq})
    sites = [1, 700, 1250, 2500]
    subs = {s: next(a for a in "AGW" if a != seq[s - 1]) for s in sites}
    rows = [f"{seq[s - 1]}{s}{subs[s]}" for s in sites]
    vfile = tmp_path / "long.tsv"
    vfile.write_text("mutant\n" + "\n".join(rows + [f"{rows[0]}:{rows[3]}"]) + "\n")
    models = MODELS[:2]
    config = {**base_config, "sequences": str(fasta), "models": models, "variants": {"long_1": str(vfile)}}
    wd = tmp_path / "run"
    run_workflow(wd, config)
    out = pd.read_csv(wd / "results/long_1/variants.tsv", sep="\t")
    assert len(out) == 5 and "score_ensemble" in out

    loaded = load_model(models[0], tiny_dir, offline=True)
    alphabet = loaded.alphabet
    direct = {}
    for s in sites:
        start, end = window_bounds(s, L, 1022)
        _, _, toks = alphabet.get_batch_converter()([("w", seq[start:end])])
        toks[0, s - start] = alphabet.mask_idx
        with torch.no_grad():
            lp = torch.log_softmax(loaded.model.eval()(toks)["logits"][0, s - start], -1)
        direct[s] = float(lp[alphabet.get_idx(subs[s])] - lp[alphabet.get_idx(seq[s - 1])])
    got = out[f"score_{models[0]}"].tolist()
    np.testing.assert_allclose(got[:4], [direct[s] for s in sites], atol=1e-5)
    assert got[4] == pytest.approx(direct[1] + direct[2500], abs=1e-5)

    # long_windows: proteingym in the same folder and score cache: the sites are scored again on
    # ProteinGym's windows (computed here from its rule: 1,024 tokens cut out of BOS + protein +
    # EOS), not served from the cache entries of the default windows
    run_workflow(wd, {**config, "long_windows": "proteingym"})
    plan = pd.read_csv(wd / "results/mask_plan.tsv", sep="\t")
    assert plan["long_windows"].tolist() == ["proteingym"]
    pg = pd.read_csv(wd / "results/long_1/variants.tsv", sep="\t")[f"score_{models[0]}"].tolist()
    _, _, full = alphabet.get_batch_converter()([("p", seq)])
    for row, s in enumerate(sites):
        toks = full.clone()
        toks[0, s] = alphabet.mask_idx
        lo = 0 if s < 512 else (L + 2 - 1024 if s >= L + 2 - 512 else s - 512)
        with torch.no_grad():
            lp = torch.log_softmax(loaded.model.eval()(toks[:, lo:lo + 1024])["logits"][0, s - lo], -1)
        expected = float(lp[alphabet.get_idx(subs[s])] - lp[alphabet.get_idx(seq[s - 1])])
        assert pg[row] == pytest.approx(expected, abs=1e-5), s
        assert abs(pg[row] - direct[s]) > 1e-4, s  # the default windows gave another number
    log = (wd / f"logs/score/{models[0]}/shard0001.log").read_text()
    assert "long_1: scored 4 positions (0 from cache)" in log

    # wt-marginals on the same long protein: four window passes, scores at the same sites
    wt_config = {**config, "strategy": "wt-marginals"}
    wd2 = tmp_path / "run_wt"
    run_workflow(wd2, wt_config)
    wt = pd.read_csv(wd2 / "results/long_1/variants.tsv", sep="\t")
    assert np.isfinite(wt["score_ensemble"]).all()
    assert not np.allclose(wt[f"score_{models[0]}"], out[f"score_{models[0]}"], atol=1e-3)


def test_a_lists_offset_is_its_proteins_numbering_everywhere(tmp_path, base_config):
    """A list's offset without config offsets numbers its protein in every output (tables,
    Parquet, heatmaps), negative numbers included; config offsets giving another number stops the
    run at parse time in one line, leaving what was computed alone."""
    # tiny_2 MKTAYIAKQRQISFVKSHFSRQ numbered from -5: M-5, Y-1, I0, A1, R4
    vfile = tmp_path / "tiny2.csv"
    vfile.write_text("mutant\nM-5A\nI0V\nA1G\nM-5A:I0V\nR4K\n")
    config = {**base_config, "models": MODELS[:2],
              "variants": {"tiny_2": {"path": str(vfile), "offset": -5}}}
    wd = tmp_path / "run"
    run_workflow(wd, config)
    res = wd / "results/tiny_2"
    assert pd.read_csv(res / "variants.tsv", sep="\t")["mutant"].tolist() == [
        "M-5A", "I0V", "A1G", "M-5A:I0V", "R4K"]
    ens = pd.read_csv(res / "ensemble.tsv", sep="\t")
    assert sorted(ens["residue"].unique()) == [-5, 0, 1, 4]
    assert {"M-5A", "I0V", "A1G", "R4K"} <= set(ens["mutant"])
    assert pd.read_csv(res / "matrix.tsv", sep="\t")["residue"].tolist() == [-5, 0, 1, 4]
    assert pd.read_csv(res / "positions.tsv", sep="\t")["residue"].tolist() == [-5, 0, 1, 4]
    page = (res / "heatmap.html").read_text()
    data = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>',
                                page, re.S).group(1))
    assert data["residues"] == [-5, 0, 1, 4] and data["offset"] == -5
    assert "first residue = -5" in (res / "heatmap.svg").read_text()
    whole = pd.read_parquet(wd / "results/ensemble.parquet")
    assert sorted(whole[whole.name == "tiny_2"]["residue"].unique()) == [-5, 0, 1, 4]
    assert whole[whole.name == UBQ]["residue"].min() == 1  # the other protein keeps its own
    before = {p: p.read_bytes() for p in sorted(res.iterdir()) if p.is_file()}

    proc = run_workflow(wd, {**config, "offsets": {"tiny_2": 1}}, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out
    assert ("esm1v-scan: config 'variants': two numberings for 'tiny_2': its variant list's "
            "offset is -5, config 'offsets' gives 1; a protein has one numbering") in out
    assert {p: p.read_bytes() for p in sorted(res.iterdir()) if p.is_file()} == before
