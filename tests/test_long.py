"""Proteins longer than the model's context (1,022 residues): windows for masked and wt marginals,
on a synthetic 2,500-residue protein with the tiny model (max_positions 1024, like ESM-1v)."""

import numpy as np
import pandas as pd
import pytest
import torch

from esm1v_scan.inputs.fasta import AMINO_ACIDS
from esm1v_scan.scoring.planning import blend_weights, masked_window, proteingym_window, window_bounds, wt_windows
from esm1v_scan.scoring.local import LocalScorer

L = 2500
LONG = "".join(np.random.default_rng(7).choice(list(AMINO_ACIDS), size=L))


def _window_log_probs(loaded, window_seq, mask_at=None):
    """One forward pass over a window, tokenised by fair-esm's own batch converter (BOS + residues +
    EOS), optionally with one residue (0-based index in the window) masked: (len, V) log-probs."""
    alphabet = loaded.alphabet
    _, _, toks = alphabet.get_batch_converter()([("w", window_seq)])
    if mask_at is not None:
        toks[0, mask_at + 1] = alphabet.mask_idx
    with torch.no_grad():
        logits = loaded.model.eval()(toks)["logits"][0, 1:-1]
    return torch.log_softmax(logits, dim=-1).numpy()


def test_wt_windows_geometry():
    assert wt_windows(2500, 1022) == [(0, 1022), (511, 1533), (1022, 2044), (1478, 2500)]
    assert wt_windows(1022, 1022) == [(0, 1022)]
    assert wt_windows(300, 1022) == [(0, 300)]
    assert wt_windows(1100, 1022) == [(0, 1022), (78, 1100)]
    for length in [1023, 1600, 2044, 2045, 5000]:
        w = wt_windows(length, 1022)
        assert w[0][0] == 0 and w[-1][1] == length
        assert all(e - s == 1022 for s, e in w)
        assert all(b[0] <= a[0] + 511 for a, b in zip(w, w[1:]))  # neighbours overlap >= half


def test_blend_weights_follow_the_documented_formula():
    windows = wt_windows(L, 1022)
    w = blend_weights(windows, L)
    assert w.shape == (4, L)
    np.testing.assert_allclose(w.sum(axis=0), 1.0)
    # index 100: only in the first window
    assert w[:, 100].tolist() == [1.0, 0.0, 0.0, 0.0]
    # index 600: window (0, 1022) -> 1 + (1021 - 600) = 422 (its left edge is the protein's start,
    # which cuts nothing); window (511, 1533) -> 1 + min(600 - 511, 1532 - 600) = 90
    np.testing.assert_allclose(w[:, 600], [422 / 512, 90 / 512, 0, 0])
    # index 1300: (511, 1533) -> 1 + min(789, 232) = 233; (1022, 2044) -> 1 + min(278, 743) = 279
    np.testing.assert_allclose(w[:, 1300], [0, 233 / 512, 279 / 512, 0])
    # index 2490: only in the last window
    assert w[:, 2490].tolist() == [0.0, 0.0, 0.0, 1.0]
    # a protein that fits: one window, weight 1 everywhere
    np.testing.assert_array_equal(blend_weights([(0, 50)], 50), np.ones((1, 50)))


def test_masked_site_score_equals_the_score_on_its_window(tiny_model):
    scorer = LocalScorer(tiny_model, device="cpu")
    assert scorer.max_residues == 1022
    sites = [1, 2, 600, 1250, 2499, 2500]
    table = scorer.score(LONG, positions=sites)
    got = table["log_prob"].to_numpy().reshape(len(sites), 20)
    assert window_bounds(1, L, 1022) == (0, 1022)  # clamped at the start
    assert window_bounds(1250, L, 1022) == (738, 1760)  # centred
    assert window_bounds(2500, L, 1022) == (1478, 2500)  # clamped at the end
    aa = [tiny_model.alphabet.get_idx(a) for a in AMINO_ACIDS]
    for row, site in enumerate(sites):
        start, end = window_bounds(site, L, 1022)
        direct = _window_log_probs(tiny_model, LONG[start:end], mask_at=site - 1 - start)[site - 1 - start, aa]
        np.testing.assert_allclose(got[row], direct, atol=1e-5, err_msg=f"site {site}")
    # the window matters: site 600 scored on the first 1,022 residues gives other numbers
    other = _window_log_probs(tiny_model, LONG[:1022], mask_at=599)[599, aa]
    assert not np.allclose(got[2], other, atol=1e-3)
    assert scorer.forward_passes == len(sites)


def test_wt_marginals_blend_the_overlapping_windows(tiny_model):
    scorer = LocalScorer(tiny_model, device="cpu")
    lp = scorer.wt_marginals(LONG)
    assert lp.shape == (L, len(tiny_model.alphabet.all_toks))
    assert scorer.forward_passes == 4
    windows = wt_windows(L, 1022)
    per_window = [_window_log_probs(tiny_model, LONG[s:e]) for s, e in windows]

    def at(k, i):  # window k's log-probs at residue index i
        return per_window[k][i - windows[k][0]]

    np.testing.assert_allclose(lp[100], at(0, 100), atol=1e-5)  # one window: its value unchanged
    np.testing.assert_allclose(lp[2490], at(3, 2490), atol=1e-5)
    np.testing.assert_allclose(lp[600], (422 * at(0, 600) + 90 * at(1, 600)) / 512, atol=1e-5)
    np.testing.assert_allclose(lp[1300], (233 * at(1, 1300) + 279 * at(2, 1300)) / 512, atol=1e-5)
    assert not np.allclose(at(0, 600), at(1, 600), atol=1e-3)  # the blend is not trivial

    # the score table: the score is the same weighted mean of the windows' scores
    table = scorer.score(LONG, strategy="wt-marginals", positions=[601]).set_index("mt")
    wt = tiny_model.alphabet.get_idx(LONG[600])
    idx = [tiny_model.alphabet.get_idx(a) for a in AMINO_ACIDS]
    s0 = at(0, 600)[idx] - at(0, 600)[wt]
    s1 = at(1, 600)[idx] - at(1, 600)[wt]
    np.testing.assert_allclose(table.loc[list(AMINO_ACIDS), "score"], (422 * s0 + 90 * s1) / 512, atol=1e-5)


def test_short_protein_wt_marginals_is_still_one_pass(tiny_model):
    scorer = LocalScorer(tiny_model, device="cpu")
    seq = LONG[:300]
    lp = scorer.wt_marginals(seq)
    assert scorer.forward_passes == 1
    np.testing.assert_allclose(lp, _window_log_probs(tiny_model, seq), atol=1e-5)


@pytest.mark.parametrize("max_residues", [100, 250])
def test_smaller_context_setting_uses_smaller_windows(tiny_model, max_residues):
    """max_residues below the model's context (e.g. an API's length limit) windows the same way."""
    scorer = LocalScorer(tiny_model, device="cpu", max_residues=max_residues)
    seq = LONG[:600]
    lp = scorer.wt_marginals(seq)
    windows = wt_windows(600, max_residues)
    assert scorer.forward_passes == len(windows)
    s, e = windows[0]
    np.testing.assert_allclose(lp[5], _window_log_probs(tiny_model, seq[s:e])[5], atol=1e-5)


# -- long_windows: proteingym (ProteinGym's masked-marginal windows) ------------------------------
def _proteingym_reference(loaded, sequence, site, model_window):
    """ProteinGym's masked marginal of one site, as its compute_fitness.py computes it
    (masked-marginals, --scoring-window optimal), written here independently of esm1v_scan: the
    whole sequence tokenised by fair-esm (BOS + residues + EOS), token ``site`` masked, then, when
    the string is longer than the model's window, the slice of get_optimal_window: the first
    ``model_window`` tokens for a token in the first half-window, the last ``model_window`` for one
    in the last half-window, else half a window on each side of it. One plain forward per site.
    Returns (20 log-probabilities in AMINO_ACIDS order, the score mt - wt of each)."""
    alphabet = loaded.alphabet
    _, _, toks = alphabet.get_batch_converter()([("s", sequence)])
    toks[0, site] = alphabet.mask_idx
    n = toks.shape[1]
    half = model_window // 2
    lo, hi = 0, n
    if n > model_window:
        if site < half:
            lo, hi = 0, model_window
        elif site >= n - half:
            lo, hi = n - model_window, n
        else:
            lo, hi = max(0, site - half), min(n, site + half)
    with torch.no_grad():
        lp = torch.log_softmax(loaded.model.eval()(toks[:, lo:hi])["logits"], dim=-1)[0, site - lo]
    aa = [alphabet.get_idx(a) for a in AMINO_ACIDS]
    wt = alphabet.get_idx(sequence[site - 1])
    return lp[aa].numpy(), (lp[aa] - lp[wt]).numpy()


def _region_sites(length, max_residues):
    """Both ends, the middle, and both sides of the two boundaries between ProteinGym's three
    regions (start window, centred windows, end window): token t = site, half = (W + 2) // 2."""
    half = (max_residues + 2) // 2
    n = length + 2
    return sorted({1, 2, half - 1, half, length // 2, n - half - 1, n - half, length - 1, length})


@pytest.mark.parametrize("length,max_residues,fast", [
    (300, 100, True), (300, 100, False),  # even window: 102 tokens
    (257, 61, True),                      # odd window: 63 tokens, centred windows of 62
    (1400, 1022, True),                   # ESM-1v's context: 1,024 tokens
])
def test_proteingym_windows_equal_proteingym_reference(tiny_model, length, max_residues, fast):
    seq = LONG[:length]
    sites = _region_sites(length, max_residues)
    scorer = LocalScorer(tiny_model, device="cpu", max_residues=max_residues, fast=fast,
                         long_windows="proteingym")
    table = scorer.score(seq, positions=sites)
    got_lp = table["log_prob"].to_numpy().reshape(len(sites), 20)
    got_score = table["score"].to_numpy().reshape(len(sites), 20)
    default = LocalScorer(tiny_model, device="cpu", max_residues=max_residues, fast=fast)
    plain = default.score(seq, positions=sites)["score"].to_numpy().reshape(len(sites), 20)
    differ = 0
    for row, site in enumerate(sites):
        lp, score = _proteingym_reference(tiny_model, seq, site, max_residues + 2)
        np.testing.assert_allclose(got_lp[row], lp, atol=1e-5, rtol=0, err_msg=f"site {site}")
        np.testing.assert_allclose(got_score[row], score, atol=1e-5, rtol=0, err_msg=f"site {site}")
        differ += not np.allclose(plain[row], score, atol=1e-4)
    # the default windows (always BOS/EOS) give other numbers at most of these sites
    assert differ >= len(sites) // 2


def test_proteingym_window_regions_literal():
    # 1,400 residues, 1,024 tokens: 1,402 tokens in all, half a window = 512 tokens
    assert proteingym_window(1, 1400, 1022) == (0, 1024)        # BOS + residues 1-1023
    assert proteingym_window(511, 1400, 1022) == (0, 1024)
    assert proteingym_window(512, 1400, 1022) == (0, 1024)      # token 512: centred, starts at 0
    assert proteingym_window(513, 1400, 1022) == (1, 1025)      # residues 1-1024, no BOS
    assert proteingym_window(889, 1400, 1022) == (377, 1401)    # last centred: no EOS
    assert proteingym_window(890, 1400, 1022) == (378, 1402)    # last 1,023 residues + EOS
    assert proteingym_window(1400, 1400, 1022) == (378, 1402)
    assert proteingym_window(7, 1022, 1022) == (0, 1024)        # fits: the whole string
    # the token slice and the masked site's index in it, for both kinds
    assert masked_window(700, 1400, 1022, "proteingym") == (188, 1212, False)
    assert masked_window(700, 1400, 1022) == (189, 1211, True)  # residues 189-1210 in BOS/EOS
    assert masked_window(5, 300, 1022, "proteingym") == (0, 302, False)
    assert masked_window(5, 300, 1022) == (1, 301, True)


def test_proteingym_windows_change_nothing_for_proteins_that_fit(tiny_model):
    seq = LONG[:60]
    a = LocalScorer(tiny_model, device="cpu", max_residues=60).score(seq)
    b = LocalScorer(tiny_model, device="cpu", max_residues=60, long_windows="proteingym").score(seq)
    pd.testing.assert_frame_equal(a, b)


def test_proteingym_windows_refuse_wt_marginals_of_long_proteins(tiny_model):
    scorer = LocalScorer(tiny_model, device="cpu", max_residues=100, long_windows="proteingym")
    with pytest.raises(ValueError, match="long_windows: proteingym is defined for masked marginals only"):
        scorer.score(LONG[:300], strategy="wt-marginals")
    assert len(scorer.score(LONG[:100], strategy="wt-marginals")) == 2000  # fits: one pass
    with pytest.raises(ValueError, match="long_windows must be one of"):
        LocalScorer(tiny_model, device="cpu", long_windows="optimal")
