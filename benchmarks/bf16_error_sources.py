#!/usr/bin/env python
"""Where bf16's error comes from: bf16 rounding emulated in fp32, one source at a time.

    python benchmarks/bf16_error_sources.py --length 100 --positions 8 --sources w in out w+in+out

The fast forward in fp32 (fp32 kernels, so it runs at fp32 speed on any CPU), with tensors rounded
to bf16 and back at the chosen points: ``w`` the linear layers' weights, ``b`` their biases,
``in`` their inputs, ``out`` their outputs. ``w+in+out`` is what a bf16 matrix multiply with fp32
accumulation does. The rest of the pass (residual stream, norms, softmax, attention, log-softmax)
stays fp32. Prints, per choice, max and mean |d log p| and the Spearman correlation of the
substitution scores against plain fp32, on a random full-size ESM-1v model (as scan_speed.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(REPO / "benchmarks"))

from esm1v_scan.scoring.fast_forward import FastMaskedLM, _Linear  # noqa: E402
from esm1v_scan.scoring.local import LocalScorer  # noqa: E402
from scan_speed import random_model, scores_from_logp, test_sequence  # noqa: E402


def bf16(t: torch.Tensor) -> torch.Tensor:
    return t.bfloat16().float()


class RoundedForward(FastMaskedLM):
    """FastMaskedLM in fp32 with bf16 rounding at ``sources`` (see the module docstring)."""

    def __init__(self, model, sources: set[str]):
        self.sources = sources
        super().__init__(model, torch.device("cpu"), "fp32", onednn=False)

    def _prepare(self, weight, bias):
        w = bf16(weight) if "w" in self.sources else weight
        b = bf16(bias) if "b" in self.sources and bias is not None else bias
        return _Linear(w, b)

    def _linear(self, x, lin, gelu=False, residual=None):
        y = F.linear(bf16(x) if "in" in self.sources else x, lin.weight, lin.bias)
        y = bf16(y) if "out" in self.sources else y
        y = F.gelu(y) if gelu else y
        return y if residual is None else residual + y


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default="esm1v", help="scan_speed.py's ARCHS key")
    ap.add_argument("--length", type=int, default=100)
    ap.add_argument("--positions", type=int, default=8, help="positions spread over the sequence")
    ap.add_argument("--sources", nargs="+", default=["w", "in", "out", "w+in+out"])
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from scipy.stats import spearmanr

    loaded = random_model(args.arch, seed=1, device=torch.device("cpu"))
    seq = test_sequence(args.length)
    scorer = LocalScorer(loaded, device="cpu", batch_size=args.positions)
    pos = sorted({int(round(x)) for x in np.linspace(1, args.length, args.positions)})
    aa = scorer.aa_idx.numpy()
    t = time.perf_counter()
    ref = scorer.masked_marginals(seq, pos)[:, aa]
    ref_scores = scores_from_logp(ref, seq, pos)
    secs = time.perf_counter() - t
    print(f"{args.arch}, L = {args.length}, {len(pos)} positions; fp32 in {secs:.0f} s", flush=True)
    for choice in args.sources:
        scorer.fast = RoundedForward(loaded.model, set(choice.split("+")))
        lp = scorer.masked_marginals(seq, pos)[:, aa]
        d = np.abs(lp - ref)
        rho = spearmanr(scores_from_logp(lp, seq, pos), ref_scores).statistic
        print(f"bf16 rounding of {choice:<12} max |dlogp| {d.max():.4f}  mean {d.mean():.4f}  "
              f"Spearman {rho:.5f}", flush=True)


if __name__ == "__main__":
    main()
