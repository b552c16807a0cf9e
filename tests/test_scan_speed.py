"""benchmarks/scan_speed.py's ceiling shapes and issue 20's gate lines (the timings themselves are
a benchmark, not a test)."""

import sys

import numpy as np
import pytest
import torch

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import scan_speed  # noqa: E402
from scan_speed import Row, layer_shapes, shape_ceiling, targets  # noqa: E402

from esm1v_scan.scoring.local import LocalScorer  # noqa: E402


def test_ceiling_shapes_are_the_layers_weights(tiny_model):
    """The four shapes the ceiling multiplies hold exactly one layer's linear weights."""
    layer = tiny_model.model.layers[0]
    weights = [layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj,
               layer.self_attn.out_proj, layer.fc1, layer.fc2]
    shapes = layer_shapes(tiny_model.model)
    assert sum(o * i for o, i in shapes) == sum(m.weight.numel() for m in weights)
    e = tiny_model.model.args.embed_dim
    assert shapes[0] == (3 * e, e) and shapes[3][0] == e
    rate, copies = shape_ceiling(torch.float32, torch.device("cpu"), shapes, 12, repeats=1)
    assert rate > 0 and copies in (1, 2, 4)


def _row(length, variant, **kw):
    prec = variant.split()[-1]
    return Row("esm1v", length, variant, prec, "2", positions=[1, 50, 100, 150], **kw)


@pytest.fixture
def cpu_without_bf16_kernels(monkeypatch):
    monkeypatch.setattr(scan_speed, "onednn_available", lambda dtype=torch.float32: dtype == torch.float32)


def test_gate_lines(capsys, cpu_without_bf16_kernels):
    rows = [
        _row(300, "ours fp32", seconds_per_scan=500.0, flops=131e9, pct_mm=85.0, ceiling=154e9),
        _row(300, "ours bf16", seconds_per_scan=8000.0, flops=8e9, pct_mm=74.9, ceiling=10.7e9,
             spearman=0.99941, max_dlogp=0.17),
        _row(100, "ours bf16", seconds_per_scan=900.0, flops=8e9, pct_mm=80.0, ceiling=10e9,
             spearman=0.9995, max_dlogp=0.05),
        _row(100, "ours fp32", seconds_per_scan=60.0, flops=120e9, pct_mm=70.0, ceiling=150e9,
             spearman=1.0, max_dlogp=1e-5),
    ]
    targets(rows, {}, torch.device("cpu"), {})
    out = capsys.readouterr().out.splitlines()
    assert ("[MEETS] CPU fp32 speed, L=300: 500 s per scan, 131 GFLOP/s effective = 85% of "
            "torch.mm fp32 at the model's shapes (154 GFLOP/s); target >= 85%") in out
    bf16 = next(ln for ln in out if "CPU bf16 speed" in ln)
    assert bf16.startswith("[MISSES] CPU bf16 speed, L=300: 8000 s per scan") and "75%" in bf16
    assert "no bf16 matrix kernels" in bf16
    # the accuracy gate: both conditions, bounds included, at every length
    assert ("[MEETS] bf16 accuracy, random full-size model, L=100: Spearman 0.99950 (gate >= "
            "0.9995), max |dlogp| 0.050 (gate <= 0.05) vs fp32 at 4 positions x 20 amino acids") in out
    assert any(ln.startswith("[MISSES] bf16 accuracy, random full-size model, L=300: Spearman "
                             "0.99941") for ln in out)
    assert not any("(the targets refer" in ln for ln in out)


@pytest.mark.parametrize("spearman,dlogp,verdict", [
    (0.9996, 0.051, "MISSES"), (0.99949, 0.01, "MISSES"), (0.9999, 0.049, "MEETS"),
    (np.nan, np.nan, None),  # not measured: no line
])
def test_accuracy_gate_needs_both(capsys, spearman, dlogp, verdict):
    scan_speed.accuracy_lines([_row(300, "ours bf16", spearman=spearman, max_dlogp=dlogp)],
                              "esm1v", "x")
    out = capsys.readouterr().out
    assert (out.split("]")[0].lstrip("[") if out else None) == verdict


def test_bf16_emulation_rounds_only_where_asked(tiny_model):
    """benchmarks/bf16_error_sources.py: with no rounding it is the fp32 fast forward; rounding
    the weights moves log p by about bf16's precision, not more."""
    from bf16_error_sources import RoundedForward

    seq = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"
    scorer = LocalScorer(tiny_model, device="cpu", batch_size=8)
    fp32 = scorer.masked_marginals(seq, [3, 9, 20])
    scorer.fast = RoundedForward(tiny_model.model, set())
    # (1e-5: it adds the residual after the multiply, the fast forward inside it)
    np.testing.assert_allclose(scorer.masked_marginals(seq, [3, 9, 20]), fp32, atol=1e-5, rtol=0)
    scorer.fast = RoundedForward(tiny_model.model, {"w"})
    w = np.abs(scorer.masked_marginals(seq, [3, 9, 20]) - fp32).max()
    assert 1e-4 < w < 0.5
    assert all(lin.weight.dtype == torch.float32 and torch.equal(lin.weight, lin.weight.bfloat16().float())
               for lin in (scorer.fast.layers[0].qkv, scorer.fast.layers[-1].fc2))
