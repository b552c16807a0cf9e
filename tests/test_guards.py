"""Behaviour tests that kill deliberate bugs the rest of the fast suite let through: blend weights at
every position, the score-cache key against the settings that change the numbers, X/B/Z/U/O wild
types, position ranges, bf16 layer norms, and the heatmap's colours. Expected values are literals
or computed independently of the code under test."""

import random

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

from conftest import MODELS
from esm1v_scan.scoring.score_cache import cache_key
from esm1v_scan.inputs.fasta import AMINO_ACIDS, Protein
from esm1v_scan.scoring.fast_forward import FastMaskedLM, onednn_available, onednn_preferred
from esm1v_scan.scoring.models import load_model
from esm1v_scan.scoring.planning import blend_weights, format_ranges, parse_ranges, wt_windows
from esm1v_scan.outputs.heatmap import heatmap
from esm1v_scan.scoring.job import cache_parts
from esm1v_scan.scoring.local import LocalScorer

SEQ = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"


# -- blend weights of overlapping wt-marginal windows --------------------------------------------
# Worked by hand: raw weight = 1 + distance to the nearest edge that cuts context off (the
# protein's own ends cut nothing), then each position divided by its column's sum.
BLENDS = {
    # 8 residues, 6-residue windows: (0, 6) raw 6 5 4 3 2 1; (2, 8) raw 1 2 3 4 5 6
    (8, 6): ([(0, 6), (2, 8)], [
        [1, 1, 4 / 5, 3 / 5, 2 / 5, 1 / 5, 0, 0],
        [0, 0, 1 / 5, 2 / 5, 3 / 5, 4 / 5, 1, 1],
    ]),
    # 10 residues: (0, 6) raw 6 5 4 3 2 1; (3, 9) raw 1 2 3 3 2 1; (4, 10) raw 1 2 3 4 5 6
    (10, 6): ([(0, 6), (3, 9), (4, 10)], [
        [1, 1, 1, 3 / 4, 2 / 5, 1 / 6, 0, 0, 0, 0],
        [0, 0, 0, 1 / 4, 2 / 5, 1 / 2, 1 / 2, 1 / 3, 1 / 6, 0],
        [0, 0, 0, 0, 1 / 5, 1 / 3, 1 / 2, 2 / 3, 5 / 6, 1],
    ]),
}


@pytest.mark.parametrize("length,window", list(BLENDS))
def test_blend_weights_at_every_position(length, window):
    windows, expected = BLENDS[(length, window)]
    assert wt_windows(length, window) == windows
    np.testing.assert_allclose(blend_weights(windows, length), np.array(expected), atol=1e-12)


# -- the score-cache key ---------------------------------------------------------------------------
LONG = Protein("long", "long", SEQ)  # 76 residues: longer than the 40-residue window below


def _settings(tiny_dir, model=0, precision="fp32", fast=True, strategy="masked-marginals",
              window=1022, long_windows="esm1v-scan"):
    loaded = load_model(MODELS[model], tiny_dir, offline=True)
    scorer = LocalScorer(loaded, device="cpu", precision=precision, fast=fast, max_residues=window,
                         long_windows=long_windows)
    key = cache_key(**cache_parts(scorer, LONG, strategy, window))
    return key, scorer.score(SEQ, strategy)["log_prob"].to_numpy()


CHANGES = {
    "window": {"window": 40},
    "precision": {"precision": "bf16"},
    "bf16 or fp16": ({"precision": "bf16"}, {"precision": "fp16"}),
    "strategy": {"strategy": "wt-marginals"},
    "checkpoint": {"model": 1},
    "fast path in bf16": ({"precision": "bf16"}, {"precision": "bf16", "fast": False}),
    "fast path in fp16": ({"precision": "fp16"}, {"precision": "fp16", "fast": False}),
    "ProteinGym's windows": ({"window": 40}, {"window": 40, "long_windows": "proteingym"}),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_cache_key_covers_every_setting_that_changes_the_numbers(tiny_dir, change):
    a, b = CHANGES[change] if isinstance(CHANGES[change], tuple) else ({}, CHANGES[change])
    key_a, scores_a = _settings(tiny_dir, **a)
    key_b, scores_b = _settings(tiny_dir, **b)
    assert np.abs(scores_a - scores_b).max() > 1e-5  # the setting does change the numbers
    assert key_a != key_b


def test_settings_that_do_not_change_the_numbers_share_the_cache(tiny_dir):
    """fp32's fast path equals fair-esm's forward to 1e-5, and a window longer than the protein
    changes nothing, whichever long_windows: the same entry serves both."""
    key, scores = _settings(tiny_dir)
    for other in ({"fast": False}, {"window": 500}, {"long_windows": "proteingym"}):
        key_b, scores_b = _settings(tiny_dir, **other)
        np.testing.assert_allclose(scores_b, scores, atol=1e-5, rtol=0)
        assert key_b == key


# -- wild types outside the 20 amino acids ------------------------------------------------------
def test_nonstandard_wild_types_score_against_their_own_log_p(tiny_model):
    """Each X/B/Z/U/O row's score is log p(mt) - log p(its own wild-type token) at that masked
    position, read here from fair-esm's forward directly."""
    seq = "MKXVLBQZEUGOR"
    table = LocalScorer(tiny_model, device="cpu", batch_size=3).score(seq)
    model, alphabet = tiny_model.model, tiny_model.alphabet
    tokens = torch.tensor([[alphabet.cls_idx] + [alphabet.get_idx(c) for c in seq] + [alphabet.eos_idx]])
    aa = [alphabet.get_idx(a) for a in AMINO_ACIDS]
    for pos, wt in enumerate(seq, start=1):
        if wt in AMINO_ACIDS:
            continue
        masked = tokens.clone()
        masked[0, pos] = alphabet.mask_idx
        with torch.no_grad():
            lp = torch.log_softmax(model(masked)["logits"][0, pos], dim=-1).numpy()
        row = table[table.position == pos]
        assert (row["wt"] == wt).all()
        np.testing.assert_allclose(row["score"], lp[aa] - lp[alphabet.get_idx(wt)], atol=1e-4)


# -- position ranges ----------------------------------------------------------------------------
@pytest.mark.parametrize("text,positions", [
    ("1-3,7,9-10", [1, 2, 3, 7, 9, 10]),
    ("5", [5]),
    ("2-3", [2, 3]),
    ("1-4,6-8", [1, 2, 3, 4, 6, 7, 8]),
])
def test_ranges_literal_both_ways(text, positions):
    assert parse_ranges(text) == positions
    assert format_ranges(positions) == text


def test_ranges_round_trip():
    rng = random.Random(11)
    for _ in range(200):
        positions = sorted(rng.sample(range(1, 60), rng.randint(1, 30)))
        assert parse_ranges(format_ranges(positions)) == positions


# -- bf16 layer norms ---------------------------------------------------------------------------
def test_bf16_layer_norm_runs_in_fp32(tiny_model):
    """A residual stream with a large common offset (as deep layers have) loses its signal when
    the norm runs in bf16 (8-bit mantissa: measured error 1.3); in fp32 the only error is the
    rounding of the output to bf16 (measured 0.0078 on this input)."""
    fast = FastMaskedLM(tiny_model.model, torch.device("cpu"), "bf16")
    ln = tiny_model.model.layers[0].self_attn_layer_norm
    x = 300.0 + torch.randn(4, 7, fast.embed_dim, generator=torch.Generator().manual_seed(0))
    ref = F.layer_norm(x, (fast.embed_dim,), ln.weight, ln.bias, ln.eps)
    got = fast._norm(x, ln)
    assert got.dtype == torch.bfloat16
    assert (got.float() - ref).abs().max().item() < 0.02


@pytest.mark.parametrize("bf16_kernels", [False, True], ids=["cpu-without-bf16", "cpu-with-bf16"])
def test_bf16_uses_onednn_only_where_the_cpu_has_its_kernels(tiny_model, monkeypatch, bf16_kernels):
    """oneDNN's bf16 linear kernels need AVX512 or AMX: on a CPU without them (an AMD EPYC without
    AVX512 raised 'mkldnn_reorder_linear_weight: bf16 path needs the cpu support ...' in every bf16
    scan) bf16 runs through F.linear; fp32 keeps oneDNN on every CPU."""
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: bf16_kernels)
    assert onednn_available(torch.bfloat16) is bf16_kernels
    assert onednn_available(torch.float32) is True
    assert onednn_available(torch.float16) is False
    if not bf16_kernels:  # (building the other case needs a CPU that has the kernels)
        fast = FastMaskedLM(tiny_model.model, torch.device("cpu"), "bf16")
        assert fast.onednn is False
        alphabet = tiny_model.alphabet
        tokens = torch.tensor([[alphabet.cls_idx] + [alphabet.get_idx("L")] * 10 + [alphabet.eos_idx]] * 2)
        tokens[:, 3] = alphabet.mask_idx
        logits = fast(tokens, torch.tensor([3, 3]))
        assert logits.shape[0] == 2 and torch.isfinite(logits).all()


@pytest.mark.parametrize("capability,bf16_kernels,fp32_onednn,bf16_onednn", [
    ("AVX2", False, False, False),  # this development VM (AMD EPYC, AVX2 only): MKL for fp32
    ("AVX512", False, True, False),  # AVX-512 without bf16 kernels
    ("AVX512", True, True, True),  # AVX512-BF16 / AMX: oneDNN for both
])
def test_cpu_linear_kernel_dispatch(tiny_model, monkeypatch, capability, bf16_kernels, fp32_onednn,
                                    bf16_onednn):
    """Which kernel the fast forward's linear layers use, by what the CPU has: fp32 through
    oneDNN only on AVX-512 CPUs (MKL measured faster on AVX2-only ones), bf16 through oneDNN
    wherever it has bf16 kernels (the AMX path), on the CPU and never on a GPU."""
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: bf16_kernels)
    assert onednn_preferred(torch.float32) is fp32_onednn
    assert onednn_preferred(torch.bfloat16) is bf16_onednn
    assert FastMaskedLM(tiny_model.model, torch.device("cpu"), "fp32").onednn is fp32_onednn
    assert FastMaskedLM(tiny_model.model, torch.device("cuda"), "fp32").onednn is False


def test_bf16_on_a_cpu_with_bf16_kernels_runs_through_onednn(tiny_model, monkeypatch):
    """The AMX / AVX512-BF16 path, exercised on a CPU without it: oneDNN's weight packing and
    fused linear are stood in by recorders that compute the same thing with F.linear, so the
    test sees that every linear layer of a bf16 scan goes through oneDNN's kernel (with the GELU
    fused into fc1 and the residual added in fp32) and that the scores still match fp32."""
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    packed, calls = [], []

    def reorder(w, batch_size):
        packed.append(w.dtype)
        return w

    def linear_pointwise(x, w, b, attr, scalars, algorithm):
        calls.append((x.dtype, w.dtype, attr))
        y = F.linear(x, w, b)
        return F.gelu(y) if attr == "gelu" else y

    monkeypatch.setattr(torch.ops.mkldnn, "_reorder_linear_weight", reorder)
    monkeypatch.setattr(torch.ops.mkldnn, "_linear_pointwise", linear_pointwise)
    fast = FastMaskedLM(tiny_model.model, torch.device("cpu"), "bf16")
    assert fast.onednn is True
    n_layers = len(tiny_model.model.layers)
    # q|k|v, out, fc1, fc2 per layer; the last layer's q and k|v apart
    assert packed == [torch.bfloat16] * (4 * n_layers + 1)
    scorer = LocalScorer(tiny_model, device="cpu", precision="bf16", batch_size=15)
    scorer.fast = fast
    got = scorer.score(SEQ[:30])["log_prob"].to_numpy()
    assert len(calls) == 2 * (4 * n_layers + 1)  # two passes of 15 copies
    assert {c[:2] for c in calls} == {(torch.bfloat16, torch.bfloat16)}
    assert sum(c[2] == "gelu" for c in calls) == 2 * n_layers
    ref = LocalScorer(tiny_model, device="cpu").score(SEQ[:30])["log_prob"].to_numpy()
    assert 1e-4 < np.abs(got - ref).max() < 0.35


@pytest.mark.parametrize("bf16_kernels", [False, True])
def test_bf16_on_a_cpu_without_bf16_kernels_warns(tiny_model, monkeypatch, caplog, bf16_kernels):
    """On an AVX2-only CPU torch's bf16 matmul is a fallback measured at ~7-10 GFLOP/s on 2 cores
    against ~150 for fp32: a bf16 run there says so once, when the scorer is built."""
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: bf16_kernels)
    if bf16_kernels:  # (packing needs the real kernels: stand-ins that keep the weight)
        monkeypatch.setattr(torch.ops.mkldnn, "_reorder_linear_weight", lambda w, b: w)
    with caplog.at_level("WARNING", logger="esm1v_scan.scoring.local"):
        LocalScorer(tiny_model, device="cpu", precision="bf16")
        LocalScorer(tiny_model, device="cpu", precision="fp32")
    warned = [r.getMessage() for r in caplog.records if "bf16 matrix kernels" in r.getMessage()]
    assert len(warned) == (0 if bf16_kernels else 1)
    if warned:
        assert "~15x slower than fp32" in warned[0]


def test_bf16_scores_stay_within_the_measured_tolerance(tiny_model):
    """fast bf16 against fp32 on the tiny model: measured max |d log p| 0.16 and mean 0.021 (x86,
    torch 2.13); the bounds leave room for other CPUs' bf16 kernels, not for a broken forward."""
    fp32 = LocalScorer(tiny_model, device="cpu").score(SEQ)["log_prob"].to_numpy()
    bf16 = LocalScorer(tiny_model, device="cpu", precision="bf16").score(SEQ)["log_prob"].to_numpy()
    diff = np.abs(bf16 - fp32)
    assert 1e-4 < diff.max() < 0.35
    assert diff.mean() < 0.04


# -- heatmap colours ----------------------------------------------------------------------------
def _components(mask):
    """Bounding-box centres (x, y) and areas of the connected regions of ``mask``."""
    labels, n = ndimage.label(mask)
    boxes = ndimage.find_objects(labels)
    return [((b[1].start + b[1].stop) / 2, (b[0].start + b[0].stop) / 2,
             (b[1].stop - b[1].start) * (b[0].stop - b[0].start)) for b in boxes]


def test_heatmap_draws_negative_scores_red_and_positive_blue(tmp_path):
    """Six positions, all scores 0 but one -5 at position 2 and one +5 at position 5: the image
    has a saturated red cell left of a saturated blue one (the colour bar, at the right edge,
    holds both colours too, so the leftmost region of each colour is the cell)."""
    rows = []
    for pos, wt in enumerate("MKTAYI", start=1):
        for mt in AMINO_ACIDS:
            score = -5.0 if (pos, mt) == (2, "C") else 5.0 if (pos, mt) == (5, "W") else 0.0
            rows.append({"position": pos, "wt": wt, "mt": mt, "score_mean": score})
    out = tmp_path / "heat.png"
    heatmap(pd.DataFrame(rows), [out], title="colours")
    rgb = matplotlib.image.imread(out)[..., :3] * 255
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    red = _components((r > g + 60) & (r > b + 50))
    blue = _components((b > r + 50) & (b > g + 30))
    assert red and blue, "no saturated red or blue region"
    red_cell = min(red, key=lambda c: c[0])
    blue_cell = min(blue, key=lambda c: c[0])
    assert red_cell[2] >= 50 and blue_cell[2] >= 50  # cells, not anti-aliased specks
    assert red_cell[0] < blue_cell[0]  # position 2 before position 5 along the axis
