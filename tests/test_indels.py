"""Stop-gain and in-frame indel scores (esm1v_scan.scoring.indels), against an independent computation
written here from fair-esm's own forward: batch converter, model(tokens)["logits"], log_softmax,
residue i read at token i + 1 (BOS first)."""

import numpy as np
import pandas as pd
import pytest
import torch

from esm1v_scan.scoring.score_cache import ScoreCache
from esm1v_scan.errors import InputError
from esm1v_scan.inputs.fasta import AMINO_ACIDS
from esm1v_scan.scoring.indels import edited_region, indel_scores, indel_windows, stop_gain_scores
from esm1v_scan.scoring.planning import window_bounds
from esm1v_scan.scoring.local import LocalScorer

SEQ = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"  # 76
RNG = np.random.default_rng(11)
LONG = "".join(RNG.choice(list(AMINO_ACIDS), size=1100))


# -- the independent reference ----------------------------------------------------------------
@torch.no_grad()
def ref_residue_lp(loaded, seq, exact=False, read_shift=1):
    """log p(s_i | s) per residue from one unmasked fair-esm pass (exact: s with token i + 1
    masked, one pass per residue). ``read_shift=0`` reads token i: predict.py's pseudo-ppl reading."""
    alphabet, model = loaded.alphabet, loaded.model.eval()
    _, _, toks = alphabet.get_batch_converter()([("s", seq)])
    idx = [alphabet.get_idx(c) for c in seq]
    if not exact:
        lp = torch.log_softmax(model(toks)["logits"][0], dim=-1)
        return np.array([lp[i + read_shift, idx[i]].item() for i in range(len(seq))])
    masked = toks.repeat(len(seq), 1)  # copy i has token i + 1 masked: one batch of them
    rows = torch.arange(len(seq))
    masked[rows, rows + 1] = alphabet.mask_idx
    lp = torch.log_softmax(model(masked)["logits"], dim=-1)
    return lp[rows, rows + 1, idx].numpy()


def ref_pll(loaded, seq, exact=False):
    return ref_residue_lp(loaded, seq, exact).sum()


def variants_of(wt):
    """(mutant, (start, end)) for each kind of in-frame event, HGVS positions."""
    return {
        "p.K6del": (wt[:5] + wt[6:], (6, 6)),
        "p.T7_T9del": (wt[:6] + wt[9:], (7, 9)),
        "p.K6_T7insGA": (wt[:6] + "GA" + wt[6:], (6, 7)),  # by its two neighbours
        "p.T7_L8insW (empty region)": (wt[:7] + "W" + wt[7:], (8, 7)),
        "p.I3delinsWV": (wt[:2] + "WV" + wt[3:], (3, 3)),
        "p.Q2_V5dup": (wt[:5] + wt[1:5] + wt[5:], (2, 5)),
        "p.G75_G76del (end)": (wt[:74], (75, 76)),
        "p.M1_Q2insC": (wt[:1] + "C" + wt[1:], (1, 2)),
    }


# -- PLL and PLLR -------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size", [1, "auto"])
def test_pll_and_pllr_equal_a_direct_forward(tiny_model, batch_size):
    scorer = LocalScorer(tiny_model, device="cpu", batch_size=batch_size)
    # PLL of one sequence: the sum at token i + 1, not at token i (predict.py's reading)
    lp = scorer.residue_log_probs([SEQ])[0]
    np.testing.assert_allclose(lp, ref_residue_lp(tiny_model, SEQ), atol=1e-5)
    off_by_one = ref_residue_lp(tiny_model, SEQ, read_shift=0)
    assert abs(off_by_one.sum() - lp.sum()) > 1.0  # the reading matters; the test can tell
    np.testing.assert_allclose(scorer.pll([SEQ, SEQ[:40]]),
                               [ref_pll(tiny_model, SEQ), ref_pll(tiny_model, SEQ[:40])], atol=1e-4)

    vs = variants_of(SEQ)
    scorer.forward_passes = 0
    df = indel_scores(scorer, SEQ, [m for m, _ in vs.values()], [e for _, e in vs.values()])
    # one pass per variant plus one wild-type pass, in batches of equal length
    assert scorer.forward_passes == len(vs) + 1
    wt_pll = ref_pll(tiny_model, SEQ)
    for row, (label, (mutant, _)) in zip(df.itertuples(), vs.items()):
        expected = ref_pll(tiny_model, mutant) - wt_pll
        assert row.score == pytest.approx(expected, abs=1e-4), label
        d = len(mutant) - len(SEQ)
        assert row.length_change == d
        assert row.score_per_residue_delta == pytest.approx(expected - d * wt_pll / len(SEQ), abs=1e-4)
        assert row.pll_wt == pytest.approx(wt_pll, abs=1e-4)
        assert (row.wt_window, row.mt_window) == ("1-76", f"1-{len(mutant)}")  # whole: it fits
    assert df["score"].abs().min() > 0.01  # every event changes the PLL: the checks mean something


def test_exact_pll_equals_masked_passes(tiny_model):
    scorer = LocalScorer(tiny_model, device="cpu")
    wt = SEQ[:24]
    mutants = [wt[:9] + wt[10:], wt[:4] + "HW" + wt[4:]]
    lp = scorer.residue_log_probs([wt], exact=True)[0]
    np.testing.assert_allclose(lp, ref_residue_lp(tiny_model, wt, exact=True), atol=1e-5)
    assert not np.allclose(lp, ref_residue_lp(tiny_model, wt), atol=1e-2)  # masked != unmasked
    scorer.forward_passes = 0
    df = indel_scores(scorer, wt, mutants, [(10, 10), (5, 4)], exact=True)
    assert scorer.forward_passes == 24 + 23 + 26  # one masked pass per residue of each sequence
    wt_pll = ref_pll(tiny_model, wt, exact=True)
    for row, mutant in zip(df.itertuples(), mutants):
        assert row.score == pytest.approx(ref_pll(tiny_model, mutant, exact=True) - wt_pll, abs=1e-4)


# -- long proteins: windows ----------------------------------------------------------------------
def test_indel_windows_geometry():
    # the docstring's examples: 2,500 residues, context 1,022
    assert indel_windows(2500, 1000, 1003, 0, 1022) == ((490, 1512), (490, 1509))
    assert indel_windows(2500, 1000, 1000, 5, 1022) == ((491, 1508), (491, 1513))
    # a one-residue substitution-like edit is centred as window_bounds centres that site
    for site in (1, 2, 600, 1250, 2499, 2500):
        assert indel_windows(2500, site - 1, site, 1, 1022)[0] == window_bounds(site, 2500, 1022)
    # both fit: whole sequences; an insertion that pushes the mutant over crops both
    assert indel_windows(1020, 10, 10, 2, 1022) == ((0, 1020), (0, 1022))
    assert indel_windows(1020, 10, 10, 3, 1022) == ((0, 1019), (0, 1022))
    # a deletion from a protein just over the context: both cropped alike, though the mutant fits
    assert indel_windows(1023, 500, 502, 0, 1022) == ((0, 1022), (0, 1020))
    assert indel_windows(1023, 1020, 1023, 0, 1022) == ((1, 1023), (1, 1020))
    with pytest.raises(InputError, match="more than the model's context of 50"):
        indel_windows(200, 10, 70, 0, 50)
    with pytest.raises(InputError, match="replaces 0 residues by 51"):
        indel_windows(200, 10, 10, 51, 50)


@pytest.mark.parametrize("length", [51, 120])  # just over and well over the context of 50
def test_long_protein_scored_on_the_same_window(tiny_model, length):
    wt = LONG[:length]
    scorer = LocalScorer(tiny_model, device="cpu", max_residues=50)
    events = {  # (mutant, (start, end), wild-type window, mutant window) 1-based
        "start del": (wt[:1] + wt[3:], (2, 3), "1-50", "1-48"),
        "start ins": (wt[:2] + "WWW" + wt[2:], (3, 2), "1-47", "1-50"),
        "middle delins": (wt[:25] + "C" + wt[27:], (26, 27), None, None),
        "end dup": (wt + wt[-2:], (length - 1, length), f"{length - 47}-{length}",
                    f"{length - 47}-{length + 2}"),
        "end del": (wt[:-1], (length, length), f"{length - 49}-{length}", f"{length - 49}-{length - 1}"),
    }
    df = indel_scores(scorer, wt, [v[0] for v in events.values()], [v[1] for v in events.values()])
    for row, (label, (mutant, (start, end), wt_win, mt_win)) in zip(df.itertuples(), events.items()):
        if wt_win is not None:
            assert (row.wt_window, row.mt_window) == (wt_win, mt_win), label
        a, b = (int(x) for x in row.wt_window.split("-"))
        ma, mb = (int(x) for x in row.mt_window.split("-"))
        assert b - a + 1 <= 50 and mb - ma + 1 <= 50 and a == ma  # same left flank
        assert wt[b:] == mutant[mb:]  # same right flank: what is cut off is the same residues
        expected = ref_pll(tiny_model, mutant[ma - 1 : mb]) - ref_pll(tiny_model, wt[a - 1 : b])
        assert row.score == pytest.approx(expected, abs=1e-4), label
        mean = ref_pll(tiny_model, wt[a - 1 : b]) / (b - a + 1)
        assert row.score_per_residue_delta == pytest.approx(expected - row.length_change * mean, abs=1e-4)
    middle = df.iloc[2]
    if length == 120:  # centred: 49 context residues, 24 left of residue 26 and 25 right of 27
        assert (middle.wt_window, middle.mt_window) == ("2-51", "2-50")


def test_long_protein_with_the_default_context(tiny_model):
    """1,100 residues with the model's own context of 1,022: windows as documented."""
    scorer = LocalScorer(tiny_model, device="cpu")
    assert scorer.max_residues == 1022
    mutants = [LONG[:549] + LONG[552:], LONG[:1099]]  # p.550_552del, p.1100del
    df = indel_scores(scorer, LONG, mutants, [(550, 552), (1100, 1100)])
    # 1,019 context residues around 550-552: 510 on the left (from 40), 509 on the right
    assert df["wt_window"].tolist() == ["40-1061", "79-1100"]
    assert df["mt_window"].tolist() == ["40-1058", "79-1099"]
    expected = ref_pll(tiny_model, mutants[0][39:1058]) - ref_pll(tiny_model, LONG[39:1061])
    assert df["score"].iloc[0] == pytest.approx(expected, abs=1e-3)


# -- length bias ----------------------------------------------------------------------------------
def test_raw_pllr_grows_with_deleted_residues_per_residue_delta_less(tiny_model):
    """Deleting 1, 3 or 8 residues at 16 places of three random 60-residue proteins: raw PLLR
    rises by about -mean log p per deleted residue; score_per_residue_delta hardly moves."""
    scorer = LocalScorer(tiny_model, device="cpu")
    sizes = [1, 3, 8]
    parts = []
    for seed in (1, 2, 5):
        wt = "".join(np.random.default_rng(seed).choice(list(AMINO_ACIDS), size=60))
        mutants, events, size_of = [], [], []
        for n in sizes:
            for start in range(3, 51, 3):
                mutants.append(wt[: start - 1] + wt[start - 1 + n :])
                events.append((start, start + n - 1))
                size_of.append(n)
        parts.append(indel_scores(scorer, wt, mutants, events).assign(n=size_of))
    df = pd.concat(parts, ignore_index=True)
    means = df.groupby("n")[["score", "score_per_residue_delta"]].mean()
    print("mean per deleted-residue count\n", means.round(2).to_string())
    assert (np.diff(means["score"].to_numpy()) > 5).all()  # the more is deleted, the higher
    slope_raw = np.polyfit(df["n"], df["score"], 1)[0]
    slope_adjusted = np.polyfit(df["n"], df["score_per_residue_delta"], 1)[0]
    mean_lp = (df["pll_wt"] / 60).mean()
    print(f"slope raw {slope_raw:.2f}, adjusted {slope_adjusted:.2f}, mean log p {mean_lp:.2f}")
    assert slope_raw == pytest.approx(-mean_lp, rel=0.5)  # each deleted residue: about -mean
    assert abs(slope_adjusted) < 0.3 * slope_raw


# -- checks --------------------------------------------------------------------------------------
def test_mutant_that_is_not_the_described_edit_is_refused(tiny_model):
    scorer = LocalScorer(tiny_model, device="cpu")
    assert edited_region(SEQ, SEQ[:5] + SEQ[6:], 6, 6) == (5, 6, 0)
    assert edited_region(SEQ, SEQ[:6] + "GA" + SEQ[6:], 7, 6) == (6, 6, 2)
    with pytest.raises(InputError, match="residues 10-10 replaced: it differs from the wild type "
                                         "outside that region"):
        indel_scores(scorer, SEQ, [SEQ[:5] + SEQ[6:]], [(10, 10)])  # deletes 6, says 10
    with pytest.raises(InputError, match="not within the wild type's 1..76"):
        indel_scores(scorer, SEQ, [SEQ[:75]], [(76, 77)])
    with pytest.raises(InputError, match="variant 1: .* no token for: \\*"):
        indel_scores(scorer, SEQ, [SEQ[:10] + "*" + SEQ[11:]], [(11, 11)])
    with pytest.raises(ValueError, match="pseudo-log-likelihood pass takes 1 to 1022"):
        scorer.pll([LONG])


def test_cache_answers_a_second_run_without_a_pass(tiny_model, tmp_path):
    vs = variants_of(SEQ)
    mutants, events = [m for m, _ in vs.values()], [e for _, e in vs.values()]
    first = LocalScorer(tiny_model, device="cpu")
    fresh = indel_scores(first, SEQ, mutants, events, cache=ScoreCache(tmp_path))
    assert first.forward_passes == len(vs) + 1
    second = LocalScorer(tiny_model, device="cpu")
    cached = indel_scores(second, SEQ, mutants, events, cache=ScoreCache(tmp_path))
    assert second.forward_passes == 0
    pd.testing.assert_frame_equal(fresh, cached)
    plain = indel_scores(LocalScorer(tiny_model, device="cpu"), SEQ, mutants, events)
    np.testing.assert_allclose(cached["score"], plain["score"], atol=1e-4)
    # the entry of the wild type is the wild type's wt-marginals scan: same numbers
    scan = LocalScorer(tiny_model, device="cpu").score(SEQ, strategy="wt-marginals")
    wt_rows = scan[scan["wt"] == scan["mt"]]
    assert cached["pll_wt"].iloc[0] == pytest.approx(wt_rows["log_prob"].sum(), abs=1e-4)


# -- stop-gains -------------------------------------------------------------------------------------
def hand_table(scores_by_pos, wt="MKA"):
    """A scan table: 20 rows per position, the wild type's row 0, the others given."""
    rows = []
    for pos, w in enumerate(wt, start=1):
        given = iter(scores_by_pos[pos])
        for mt in AMINO_ACIDS:
            rows.append({"position": pos, "wt": w, "mt": mt, "score": 0.0 if mt == w else next(given)})
    return pd.DataFrame(rows)


def test_stop_gain_is_the_minimum_downstream():
    t = hand_table({
        1: [-1.0] * 18 + [-9.5],  # lowest at position 1
        2: [-2.0] * 10 + [-4.25] + [-3.0] * 8,
        3: [0.5] * 19,  # every substitution scores above the wild type: the minimum is 0.5, not 0
    })
    np.testing.assert_allclose(stop_gain_scores(t, [1, 2, 3], 3), [-9.5, -4.25, 0.5], atol=1e-5)
    np.testing.assert_allclose(stop_gain_scores(t.sample(frac=1, random_state=1), [3, 1], 3), [0.5, -9.5])
    # the ensemble table's column
    ens = t.rename(columns={"score": "score_mean"})
    np.testing.assert_allclose(stop_gain_scores(ens, [2], 3, column="score_mean"), [-4.25])


def test_stop_gain_from_a_real_scan_table(tiny_model):
    table = LocalScorer(tiny_model, device="cpu").score(SEQ[:25])
    got = stop_gain_scores(table, [1, 13, 25], 25)
    subs = table[table["mt"] != table["wt"]]
    for p, value in zip([1, 13, 25], got):
        assert value == pytest.approx(subs.loc[subs["position"] >= p, "score"].min(), abs=1e-5)


def test_stop_gain_refuses_a_partial_table():
    t = hand_table({1: [-1.0] * 19, 2: [-2.0] * 19, 3: [-3.0] * 19})
    with pytest.raises(ValueError, match=r"1 residue\(s\) lack them \(2\): scan the whole protein"):
        stop_gain_scores(t[t["position"] != 2], [1], 3)
    np.testing.assert_allclose(stop_gain_scores(t[t["position"] != 1], [2], 3), [-3.0])  # upstream: fine
    with pytest.raises(ValueError, match=r"lack them \(4, 5\)"):
        stop_gain_scores(t, [2], 5)  # the table ends before the protein does
    nan = t.copy()
    nan.loc[5, "score"] = np.nan
    with pytest.raises(ValueError, match=r"lack them \(1\)"):
        stop_gain_scores(nan, [1], 3)
    with pytest.raises(InputError, match="stop-gain at residue 4 is outside the protein's 1..3"):
        stop_gain_scores(t, [4], 3)
    with pytest.raises(ValueError, match="column\\(s\\) score_mean"):
        stop_gain_scores(t, [1], 3, column="score_mean")
