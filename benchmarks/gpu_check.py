#!/usr/bin/env python
"""The GPU path, checked in one prepared command (GPUs are lent for ~15 minutes, with no network).

    python benchmarks/gpu_check.py                          # on the GPU: < 8 minutes on an H100/H200
    python benchmarks/gpu_check.py --out benchmarks/results-gpu-h200.txt   # also save the output
    python benchmarks/gpu_check.py --device cpu --quick     # same checks, small shapes, on the CPU

Checks, each ending as a MEETS/MISSES line of the summary table at the end:

  parity       fp32 on the device (LocalScorer, its default fast forward, batch size auto) against
               the CPU reference (fair-esm's predict.py loop: one masked copy per pass, fp32, batch 1)
               on the same random ESM-1v-architecture model (33 layers x 1280), L = 300, at
               ``--parity-positions`` positions spread over the sequence: max |d log p| <= 1e-4.
               TF32 is switched off for this (torch.backends.cuda.matmul.allow_tf32 = False,
               cudnn.allow_tf32 = False, float32 matmul precision "highest"), so "fp32" means fp32.
               This covers the fast forward's fp32 linear layers off oneDNN (``torch.addmm`` with
               the residual added by the multiply, then the bias: the path GPUs and AVX2-only CPUs
               take); the kernel it used is printed.
  bf16, fp16   the same scan in low precision against the device's fp32: max |d log p|, Spearman of
               the substitution scores (target >= 0.999) and the speed-up over fp32.
  five models  a full masked scan of a 300-residue protein with five models (random weights, built
               on the device, loading not timed), per precision; target < 5 s on an H100 for the
               fastest precision that meets the accuracy target; tokens/s, effective TFLOP/s
               (2 x parameters x tokens) and % of the bf16 matrix-multiply rate measured here.
  long         a full scan of a 1,022-residue protein with ``batch_size: auto``: no out-of-memory,
               peak memory printed.
  workflow     the Snakemake workflow end to end with ``device: <device>`` on tiny checkpoints,
               run twice in fresh folders with a fixed batch size: every table byte-identical.

``--quick`` shrinks the shapes (a 4-layer x 128 model, L = 48, long protein 160) so the CPU runs it
in a minute or two; the test suite runs ``--device cpu --quick`` so the script cannot rot.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(REPO / "benchmarks"))

from esm1v_scan.scoring.local import LocalScorer, reference_masked_marginals  # noqa: E402
from scan_speed import ARCHS, PeakMemory, matmul_rate, random_model, sync, test_sequence  # noqa: E402

ARCHS["quick"] = dict(layers=4, embed_dim=128, heads=4)  # random_model() reads this dict
PARITY_TOL = 1e-4
SPEARMAN_TARGET = 0.999
FIVE_MODEL_TARGET_S = 5.0


@dataclass
class Line:
    check: str
    ok: bool | None  # None: measured, no target here
    text: str

    def __str__(self) -> str:
        verdict = {True: "MEETS", False: "MISSES", None: "INFO"}[self.ok]
        return f"{verdict:<7} {self.check:<13} {self.text}"


def say(*parts) -> None:
    print(*parts, flush=True)


def fp32_strict() -> None:
    """No TF32 anywhere: fp32 matrix multiplies and convolutions in full fp32."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


def spread(length: int, n: int) -> list[int]:
    """n 1-based positions spread evenly over the sequence, both ends included."""
    return sorted(set(np.linspace(1, length, num=min(n, length)).round().astype(int).tolist()))


def aa_log_probs(scorer: LocalScorer, seq: str, positions) -> np.ndarray:
    """(n, 20) log-probabilities of the 20 amino acids at the masked positions."""
    lp = scorer.masked_marginals(seq, positions)
    return lp[:, scorer.aa_idx.numpy()]


def substitution_scores(lp20: np.ndarray, seq: str, positions) -> np.ndarray:
    """log p(mt) - log p(wt) for the 19 substitutions of every position, flattened."""
    from esm1v_scan.inputs.fasta import AMINO_ACIDS

    out = []
    for row, pos in zip(lp20, positions):
        w = AMINO_ACIDS.index(seq[pos - 1])
        out.append(np.delete(row - row[w], w))
    return np.concatenate(out)


def timed_scan(scorer: LocalScorer, seq: str, positions=None) -> tuple[np.ndarray, float]:
    scorer.masked_marginals(seq, spread(len(seq), 4))  # warm-up: kernels, allocator
    sync(scorer.device)
    t = time.perf_counter()
    lp = scorer.masked_marginals(seq, positions)
    sync(scorer.device)
    return lp[:, scorer.aa_idx.numpy()], time.perf_counter() - t


def release() -> None:
    """Give back the memory of models the caller has dropped."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# -- the checks -------------------------------------------------------------------------------------
def check_precisions(device, arch: str, L: int, n_parity: int) -> list[Line]:
    """fp32 on the device vs the CPU reference, then bf16/fp16 vs the device's fp32."""
    seq = test_sequence(L)
    loaded = random_model(arch, seed=1, device=torch.device("cpu"))
    positions = spread(L, n_parity)
    t = time.perf_counter()
    ref = reference_masked_marginals(loaded, seq, positions)  # CPU, before the model moves
    say(f"reference (CPU, one mask per pass, fp32): {len(positions)} positions in "
        f"{time.perf_counter() - t:.1f} s")
    lines = []
    scorer = LocalScorer(loaded, str(device), "auto", "fp32")
    say(f"fp32 fast forward's linear layers on {device}: "
        f"{'none (plain forward)' if scorer.fast is None else 'oneDNN' if scorer.fast.onednn else 'torch.addmm / F.linear'}")
    mine = aa_log_probs(scorer, seq, positions)
    d = float(np.abs(mine - ref).max())
    say(f"fp32 on {device}: max |d log p| vs CPU reference {d:.2e} at {len(positions)} positions")
    lines.append(Line("parity", d <= PARITY_TOL,
                      f"fp32 {device} vs CPU reference, {arch} L={L}: max |dlogp| {d:.2e} "
                      f"(target <= {PARITY_TOL:g})"))
    fp32, t32 = timed_scan(scorer, seq)
    say(f"fp32 full scan L={L}: {t32:.2f} s")
    del scorer
    from scipy.stats import spearmanr

    allpos = list(range(1, L + 1))
    for prec in ("bf16", "fp16"):
        try:
            low = LocalScorer(loaded, str(device), "auto", prec)
            lp, t_low = timed_scan(low, seq)
        except Exception as err:  # fp16 kernels missing on some CPUs: say so, go on
            lines.append(Line(prec, False, f"failed: {type(err).__name__}: {str(err)[:120]}"))
            continue
        d = float(np.abs(lp - fp32).max())
        rho = float(spearmanr(substitution_scores(lp, seq, allpos),
                              substitution_scores(fp32, seq, allpos)).statistic)
        say(f"{prec} full scan L={L}: {t_low:.2f} s ({t32 / t_low:.2f}x fp32), max |dlogp| {d:.3f},"
            f" Spearman {rho:.5f}")
        lines.append(Line(prec, rho >= SPEARMAN_TARGET,
                          f"vs fp32 on {device}: Spearman {rho:.5f} (target >= {SPEARMAN_TARGET}), "
                          f"max |dlogp| {d:.3f}, {t32 / t_low:.2f}x fp32 speed"))
        del low
    del loaded
    release()
    return lines


def check_five_models(device, arch: str, L: int, precisions, mm_bf16: float,
                      accurate: set[str]) -> list[Line]:
    """Five models, full masked scan of an L-residue protein, per precision (models built first,
    not timed)."""
    seq = test_sequence(L, seed=11)
    times = {}
    params = 0
    for prec in precisions:
        total = 0.0
        for k in range(5):
            loaded = random_model(arch, seed=100 + k, device=device)
            params = sum(p.numel() for p in loaded.model.parameters())
            scorer = LocalScorer(loaded, str(device), "auto", prec)
            _, secs = timed_scan(scorer, seq)
            total += secs
            del scorer, loaded
            release()
        times[prec] = total
        tokens = 5 * L * (L + 2)
        flops = 2 * params * tokens / total
        say(f"five models x {L} positions, {prec}: {total:.2f} s, {tokens / total:,.0f} tokens/s, "
            f"{flops / 1e12:.2f} TFLOP/s effective ({100 * flops / mm_bf16:.0f}% of bf16 mm)")
    best = min((p for p in times if p in accurate), key=times.get, default="fp32")
    tokens = 5 * L * (L + 2)
    flops = 2 * params * tokens / times[best]
    target = device.type == "cuda"
    text = (f"{L} residues, {best}: {times[best]:.2f} s (target < {FIVE_MODEL_TARGET_S:g} s on an "
            f"H100), {tokens / times[best]:,.0f} tokens/s, {flops / 1e12:.2f} TFLOP/s = "
            f"{100 * flops / mm_bf16:.0f}% of bf16 mm; "
            + ", ".join(f"{p} {s:.2f} s" for p, s in times.items()))
    return [Line("five models", times[best] < FIVE_MODEL_TARGET_S if target else None, text)]


def check_long(device, arch: str, L: int) -> list[Line]:
    seq = test_sequence(L, seed=5)
    loaded = random_model(arch, seed=3, device=device)
    scorer = LocalScorer(loaded, str(device), "auto", "bf16" if device.type == "cuda" else "fp32")
    try:
        with PeakMemory(device) as peak:
            lp, secs = timed_scan(scorer, seq)
        ok = bool(np.isfinite(lp).all()) and lp.shape == (L, 20)
        text = (f"{L} residues, batch auto = {scorer._batch_size_for(L)} copies/pass, "
                f"{scorer.precision}: {secs:.2f} s, peak {peak.mib:,.0f} MiB, finite {ok}")
    except torch.cuda.OutOfMemoryError as err:
        ok, text = False, f"{L} residues: out of memory ({str(err)[:100]})"
    del scorer, loaded
    release()
    return [Line("long", ok, text)]


def table_digests(results: Path) -> dict[str, str]:
    """sha256 of every table a run wrote (TSV and Parquet), by path relative to results/."""
    return {
        str(p.relative_to(results)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(results.rglob("*"))
        if p.suffix in (".tsv", ".parquet") and p.is_file()
    }


def run_workflow(workdir: Path, models: Path, device, batch_size: int, cores: int) -> dict:
    from esm1v_scan.scoring.models import ESM1V_MODELS

    workdir.mkdir(parents=True)
    (workdir / "input.fasta").write_text(
        ">gpu_check_1\nMKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQ\n"
        ">gpu_check_2\nMQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG\n")
    config = {
        "sequences": str(workdir / "input.fasta"), "models": list(ESM1V_MODELS),
        "model_dir": str(models), "offline": True, "weights_lock": "", "device": device.type,
        "batch_size": batch_size, "cache_dir": str(workdir / "cache"), "threads": 1,
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"),
           "--cores", str(cores)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    secs = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"workflow failed in {workdir}:\n{proc.stderr[-3000:]}")
    return {"digests": table_digests(workdir / "results"), "seconds": secs}


def check_workflow(device, cores: int) -> list[Line]:
    from esm1v_scan.scoring.tiny_models import write_tiny_models

    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        tmp = Path(tmp)
        write_tiny_models(tmp / "models")
        runs = [run_workflow(tmp / f"run{k}", tmp / "models", device, 8, cores) for k in (1, 2)]
    a, b = (r["digests"] for r in runs)
    scores = [p for p in a if "score" in p]
    same = a == b and len(scores) > 0
    differ = sorted(p for p in set(a) | set(b) if a.get(p) != b.get(p))
    text = (f"device {device.type}, batch_size 8, two fresh runs: {len(a)} tables "
            f"({len(scores)} score tables), byte-identical {a == b}"
            + (f"; differ: {', '.join(differ[:4])}" if differ else "")
            + f"; {runs[0]['seconds']:.0f} s and {runs[1]['seconds']:.0f} s")
    return [Line("workflow", same, text)]


# -- main ---------------------------------------------------------------------------------------------
def describe(device) -> str:
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        what = f"{p.name}, {p.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}"
    else:
        what = f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    return (f"{what}; torch {torch.__version__}; {platform.node()}; {os.cpu_count()} cores; "
            f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


class Tee:
    def __init__(self, path: Path):
        self.file = open(path, "w")
        self.stdout = sys.stdout

    def write(self, text):
        self.stdout.write(text)
        self.file.write(text)

    def flush(self):
        self.stdout.flush()
        self.file.flush()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--quick", action="store_true", help="small shapes (CPU test mode)")
    ap.add_argument("--parity-positions", type=int, default=16)
    ap.add_argument("--cores", type=int, default=4, help="--cores of the workflow runs")
    ap.add_argument("--skip", nargs="*", default=[],
                    choices=["precisions", "five", "long", "workflow"])
    ap.add_argument("--out", type=Path, help="also write everything printed to this file")
    args = ap.parse_args(argv)
    if args.out:
        sys.stdout = Tee(args.out)
    if args.device == "cuda" and not torch.cuda.is_available():
        say("gpu_check: --device cuda, but torch sees no CUDA GPU (use --device cpu --quick)")
        return 2
    device = torch.device(args.device)
    fp32_strict()
    arch = "quick" if args.quick else "esm1v"
    L, L_long = (48, 160) if args.quick else (300, 1022)
    start = time.perf_counter()
    say(f"gpu_check: {describe(device)}")
    say(f"shapes: {arch} {ARCHS[arch]}, L={L}, long L={L_long}; TF32 off "
        f"(allow_tf32 matmul {torch.backends.cuda.matmul.allow_tf32}, "
        f"float32 matmul precision {torch.get_float32_matmul_precision()})")
    mm_bf16 = matmul_rate(torch.bfloat16, device, 1024 if args.quick else 8192)
    say(f"bf16 matrix-multiply rate: {mm_bf16 / 1e12:.2f} TFLOP/s")
    lines: list[Line] = []
    if "precisions" not in args.skip:
        lines += check_precisions(device, arch, L, args.parity_positions)
    accurate = {"fp32"} | {ln.check for ln in lines if ln.check in ("bf16", "fp16") and ln.ok}
    if "five" not in args.skip:
        precisions = ["fp32", "bf16"] if device.type == "cuda" else ["fp32"]
        lines += check_five_models(device, arch, L, precisions, mm_bf16, accurate)
    if "long" not in args.skip:
        lines += check_long(device, arch, L_long)
    if "workflow" not in args.skip:
        lines += check_workflow(device, args.cores)
    say(f"\nsummary ({time.perf_counter() - start:.0f} s, {describe(device)})")
    for ln in lines:
        say(str(ln))
    return 0 if all(ln.ok is not False for ln in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
