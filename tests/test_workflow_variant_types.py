"""A variant list mixing every form and type (A25G, HGVS p. with one- and three-letter codes,
prefixes, alleles, synonymous, stop-gains, in-frame indels, frameshift, start and stop loss) run
through the whole workflow on the tiny checkpoints; every score checked against an independent
computation written here from fair-esm's own forward (batch converter, model(tokens)["logits"],
log_softmax): substitutions and stop-gains to 1e-5, PLLR to 1e-4; for the whole protein and for a
context (max_residues) shorter than the protein. Unscorable rows are reported, not dropped."""

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import MODELS, run_workflow
from esm1v_scan.inputs.fasta import AMINO_ACIDS
from esm1v_scan.scoring.models import load_model

pytestmark = pytest.mark.slow

UBQ_ID, UBQ = "sp|P0CG48|UBC_HUMAN", "sp_P0CG48_UBC_HUMAN"
SEQ = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"
L = len(SEQ)
USE = MODELS[:2]

# mutant, DMS_score, then what the workflow must make of it: hgvs_p, variant_type, scoring, and
# how the test computes the score: ("sites", [(pos, mt)]), ("stop", p), ("indel", mutant sequence)
# or None (not scored)
ROWS = [
    ("I3V", "0.5", "p.Ile3Val", "missense", "masked_marginals", ("sites", [(3, "V")])),
    ("p.Lys6Arg", "0.1", "p.Lys6Arg", "missense", "masked_marginals", ("sites", [(6, "R")])),
    ("P0CG48.1:p.(Leu8Pro)", "-1.2", "p.Leu8Pro", "missense", "masked_marginals", ("sites", [(8, "P")])),
    ("NP_000000.1:p.T9A", "0.3", "p.Thr9Ala", "missense", "masked_marginals", ("sites", [(9, "A")])),
    ("p.[Ile44Ala;Lys48Arg]", "-2", "p.[Ile44Ala;Lys48Arg]", "multi_missense", "masked_marginals",
     ("sites", [(44, "A"), (48, "R")])),
    ("p.Ala46=", "0.9", "p.Ala46=", "synonymous", "masked_marginals", ("sites", [])),
    ("p.Tyr59Ter", "-3", "p.Tyr59Ter", "stop_gained", "min_downstream", ("stop", 59)),
    ("Q62*", "NA", "p.Gln62Ter", "stop_gained", "min_downstream", ("stop", 62)),
    ("p.Lys11del", "-1", "p.Lys11del", "inframe_deletion", "pllr", ("indel", SEQ[:10] + SEQ[11:])),
    ("p.Thr12_Thr14del", "-1.5", "p.Thr12_Thr14del", "inframe_deletion", "pllr",
     ("indel", SEQ[:11] + SEQ[14:])),
    ("p.K27_A28insGA", "-0.2", "p.Lys27_Ala28insGlyAla", "inframe_insertion", "pllr",
     ("indel", SEQ[:27] + "GA" + SEQ[27:])),
    ("p.Asp32delinsTrpVal", "-0.7", "p.Asp32delinsTrpVal", "delins", "pllr",
     ("indel", SEQ[:31] + "WV" + SEQ[32:])),
    ("p.Gly47dup", "0.0", "p.Gly47dup", "duplication", "pllr", ("indel", SEQ[:47] + "G" + SEQ[47:])),
    ("p.Arg42ProfsTer5", "-4", "p.Arg42ProfsTer5", "frameshift",
     "not_scored: frameshift (the mutant protein after the shift is not known)", None),
    ("p.Met1?", "", "p.Met1?", "start_lost", "not_scored: start loss (no defined mutant protein)", None),
    ("p.Met1Val", "-5", "p.Met1Val", "start_lost", "not_scored: start loss (no defined mutant protein)", None),
    ("p.Ter77GlnextTer5", "", "p.Ter77GlnextTer5", "stop_lost",
     "not_scored: stop loss (the extension's residues are not known)", None),
    ("p.[Lys33Arg;Glu34del]", "-1", "p.[Lys33Arg;Glu34del]", "inframe_deletion",
     "not_scored: multi-site allele with a stop-gain or an indel", None),
]


def window(site, length, max_residues):
    """The masked-marginal window around a site (the README's definition, written again)."""
    if length <= max_residues:
        return 0, length
    start = min(max(site - 1 - max_residues // 2, 0), length - max_residues)
    return start, start + max_residues


@torch.no_grad()
def masked_scores(loaded, seq, max_residues):
    """(L, 20) log p(aa) - log p(wt) at every position, each masked in its own window."""
    alphabet, model = loaded.alphabet, loaded.model.eval()
    aa = [alphabet.get_idx(a) for a in AMINO_ACIDS]
    out = np.zeros((len(seq), 20))
    for p in range(1, len(seq) + 1):
        a, b = window(p, len(seq), max_residues)
        _, _, toks = alphabet.get_batch_converter()([("s", seq[a:b])])
        toks[0, p - a] = alphabet.mask_idx
        lp = torch.log_softmax(model(toks)["logits"][0, p - a], -1)
        out[p - 1] = (lp[aa] - lp[alphabet.get_idx(seq[p - 1])]).numpy()
    return out


@torch.no_grad()
def pll(loaded, seq):
    """sum_i log p(s_i | s), one unmasked pass, residue i read at token i + 1 (BOS first)."""
    alphabet, model = loaded.alphabet, loaded.model.eval()
    _, _, toks = alphabet.get_batch_converter()([("s", seq)])
    lp = torch.log_softmax(model(toks)["logits"][0], -1)
    return sum(lp[i + 1, alphabet.get_idx(c)].item() for i, c in enumerate(seq))  # in float64


def pllr(loaded, mutant, max_residues, first, last):
    """PLLR and its per-residue delta; both sequences cropped to the same window around the
    event when either is longer than max_residues: the wild type keeps W = max_residues -
    max(0, d) residues, context split (W - n + 1) // 2 to the left, clipped to the protein."""
    d = len(mutant) - L
    if L <= max_residues and len(mutant) <= max_residues:
        wt, mt = SEQ, mutant
    else:
        s0, e0 = first - 1, last  # the HGVS residues, as the workflow takes them
        n = e0 - s0
        W = max_residues - max(0, d)
        a = min(max(s0 - (W - n + 1) // 2, 0), L - W)
        wt, mt = SEQ[a:a + W], mutant[a:a + W + d]
    wt_pll = pll(loaded, wt)
    score = pll(loaded, mt) - wt_pll
    return score, score - d * wt_pll / len(wt)


EVENTS = {"p.Lys11del": (11, 11), "p.Thr12_Thr14del": (12, 14), "p.Lys27_Ala28insGlyAla": (27, 28),
          "p.Asp32delinsTrpVal": (32, 32), "p.Gly47dup": (47, 47)}


@pytest.mark.parametrize("max_residues", [1022, 40])
def test_a_list_of_every_form_runs_end_to_end_and_equals_fair_esm(tmp_path, base_config, tiny_dir,
                                                                  max_residues):
    vfile = tmp_path / "ubq.tsv"
    vfile.write_text("mutant\tDMS_score\tnote\n"
                     + "".join(f"{r[0]}\t{r[1]}\tn{i}\n" for i, r in enumerate(ROWS)))
    config = {**base_config, "models": USE, "max_residues": max_residues,
              "variants": {UBQ_ID: str(vfile)}}
    wd = tmp_path / "run"
    proc = run_workflow(wd, config)
    out = pd.read_csv(wd / f"results/{UBQ}/variants.tsv", sep="\t", keep_default_na=False,
                      na_values=[""])

    # every row kept, in order, with its notation, type and scoring; the input columns untouched
    assert list(out.columns) == (["mutant", "DMS_score", "note"] + [f"score_{m}" for m in USE]
                                 + ["score_ensemble", "hgvs_p", "variant_type", "scoring",
                                    "score_per_residue_delta"])
    assert out["note"].tolist() == [f"n{i}" for i in range(len(ROWS))]
    assert out["mutant"].tolist() == [r[0] for r in ROWS]
    assert out["hgvs_p"].tolist() == [r[2] for r in ROWS]
    assert out["variant_type"].tolist() == [r[3] for r in ROWS]
    assert out["scoring"].tolist() == [r[4] for r in ROWS]
    # the prefix of another database is ignored with one warning for the file
    said = proc.stdout + proc.stderr
    assert said.count("name a reference sequence that is not") == 1
    assert "'NP_000000.1' (row 4)" in said

    # the scan covers the substitution sites, every position from the first stop to the end and
    # the first and last residue of each indel
    plan = pd.read_csv(wd / "results/mask_plan.tsv", sep="\t").set_index("name")
    assert plan.loc[UBQ, "positions"] == "3,6,8-9,11-12,14,27-28,32,44,47-48,59-76"

    loaded = {m: load_model(m, tiny_dir, offline=True) for m in USE}
    masked = {m: masked_scores(loaded[m], SEQ, max_residues) for m in USE}
    mean = np.mean([masked[m] for m in USE], axis=0)
    subs = np.ones((L, 20), dtype=bool)
    for p, wt in enumerate(SEQ):
        subs[p, AMINO_ACIDS.index(wt)] = False
    for i, row in enumerate(ROWS):
        how = row[5]
        got = out.iloc[i]
        if how is None:  # reported, not scored: empty scores
            assert got[[f"score_{m}" for m in USE] + ["score_ensemble", "score_per_residue_delta"]].isna().all()
            continue
        kind, what = how
        if kind == "sites":
            want = {m: sum(masked[m][p - 1, AMINO_ACIDS.index(a)] for p, a in what) for m in USE}
            ens = sum(mean[p - 1, AMINO_ACIDS.index(a)] for p, a in what)
            delta, tol = ens, 1e-5
        elif kind == "stop":  # the worst substitution from the stop to the end
            want = {m: masked[m][what - 1:][subs[what - 1:]].min() for m in USE}
            ens = mean[what - 1:][subs[what - 1:]].min()
            delta, tol = ens, 1e-5
        else:
            first, last = EVENTS[row[2]]
            both = {m: pllr(loaded[m], what, max_residues, first, last) for m in USE}
            want = {m: both[m][0] for m in USE}
            ens = np.mean([both[m][0] for m in USE])
            delta, tol = np.mean([both[m][1] for m in USE]), 1e-4
        for m in USE:
            assert got[f"score_{m}"] == pytest.approx(want[m], abs=tol), (row[0], m)
        assert got["score_ensemble"] == pytest.approx(ens, abs=tol), row[0]
        assert got["score_per_residue_delta"] == pytest.approx(delta, abs=tol), row[0]
    assert out.loc[out["variant_type"] == "synonymous", "score_ensemble"].tolist() == [0.0]

    # counted in the log and the landing summary
    log = (wd / f"logs/variants/{UBQ}.log").read_text()
    assert "5 variant(s) not scored" in log and "1 x frameshift" in log
    summary = pd.read_csv(wd / "results/summary.tsv", sep="\t").set_index("name")
    assert summary.loc[UBQ, "n_variants"] == len(ROWS) and summary.loc[UBQ, "n_not_scored"] == 5
    assert summary.loc["tiny_2", "n_not_scored"] == 0

    # the evaluation: over the scored rows with a value (no type has 10 measured variants here)
    ev = pd.read_csv(wd / f"results/{UBQ}/evaluation.tsv", sep="\t")
    ens_row = ev[(ev["predictor"] == "ensemble")]
    assert ens_row["variant_type"].tolist() == ["all"]
    measured = pd.to_numeric(out["DMS_score"], errors="coerce").notna() & out["score_ensemble"].notna()
    assert int(ens_row["n"].iloc[0]) == int(measured.sum()) == 12

    if max_residues == 1022:
        # an edit of the list that adds a substitution reruns no indel job (nor the long scan)
        indel_log = wd / f"logs/indels/{USE[0]}/{UBQ}.log"
        before = indel_log.stat().st_mtime_ns
        vfile.write_text(vfile.read_text() + "E64K\t0.2\tnew\n")
        again = run_workflow(wd, config)
        assert indel_log.stat().st_mtime_ns == before
        assert "rule indels" not in again.stdout + again.stderr
        assert len(pd.read_csv(wd / f"results/{UBQ}/variants.tsv", sep="\t")) == len(ROWS) + 1
