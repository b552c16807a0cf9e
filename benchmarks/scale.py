#!/usr/bin/env python
"""Scale checks: proteome dry runs (this checkout, and another side by side), and what the score
cache saves.

    python benchmarks/scale.py                       # dry runs of 5,000 / 20,000 / 50,000 + cache
    python benchmarks/scale.py --skip-cache --before /path/to/main   # before/after table
    python benchmarks/scale.py --sequences 500 2000 5000 --per-protein true --skip-cache
    python benchmarks/scale.py --workflow            # also: real workflow runs, 100 proteins + 1 more

1. Dry runs. For each size, a FASTA of random proteins (50-800 residues, seeded) and the wall
   time of ``snakemake -n`` with this checkout's Snakefile (parse-time FASTA validation, shards,
   the DAG) and, with --before, another checkout's, with the load average at the start of each
   (the machine is shared: compare runs at similar load). Prints jobs and scoring jobs (one per
   model and shard: they grow with the residues, not the sequences). Target: 50,000 proteins
   in under 30 s. per_protein (this checkout): auto turns the per-protein files on up to 2,000
   proteins; --per-protein true times them at larger sizes.
2. Cache. With a tiny random model (the cost of a lookup does not depend on the model), one
   scoring job as the workflow runs it (esm1v_scan.scoring.job.run_scoring_job) on 100 proteins, then
   on the same 100 plus one new protein with the same cache folder, then a second project holding
   one of the proteins under another name. Prints wall time and forward passes of each.
3. With --workflow: the same as 2 through Snakemake (two models, three shards), timing the first
   run and the rerun after one protein is appended (only the last shard's jobs run).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from esm1v_scan.inputs.fasta import AMINO_ACIDS, Protein, read_fasta  # noqa: E402
from esm1v_scan.scoring.planning import assign_shards  # noqa: E402

MODELS = [f"esm1v_t33_650M_UR90S_{k}" for k in range(1, 6)]


def write_random_fasta(path: Path, n: int, lo: int = 50, hi: int = 800, seed: int = 0) -> int:
    rng = random.Random(seed)
    residues = 0
    with path.open("w") as fh:
        for i in range(n):
            length = rng.randint(lo, hi)
            residues += length
            seq = "".join(rng.choices(AMINO_ACIDS, k=length))
            fh.write(f">sp|Q{i:05d}|PROT{i}_HUMAN random protein {i}\n")
            for j in range(0, length, 60):
                fh.write(seq[j : j + 60] + "\n")
    return residues


def snakemake(workdir: Path, config: dict, *args: str, snakefile: Path | None = None) -> tuple[float, str]:
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = workdir / "bench-config.yaml"
    cfg.write_text(yaml.safe_dump(config, sort_keys=False))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile or REPO / "Snakefile"),
           "--directory", str(workdir), "--configfile", str(cfg), "--cores", "2", *args]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    secs = time.perf_counter() - t
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise SystemExit(f"snakemake failed ({proc.returncode}):\n{out[-3000:]}")
    return secs, out


def job_counts(out: str) -> dict[str, int]:
    counts = {}
    for m in re.finditer(r"^(\w+)\s+(\d+)$", out, re.M):
        counts[m.group(1)] = int(m.group(2))
    return counts


def scoring_jobs(counts: dict[str, int]) -> int:
    """Scoring jobs in a dry run's job table: rule score (or main's score_<shard> rules)."""
    return sum(v for k, v in counts.items() if k == "score" or k.startswith("score_"))


def dry_run(sizes: list[int], shard_residues: int, tmp: Path, before: Path | None,
            per_protein: str = "auto") -> None:
    """snakemake -n for each size, with this checkout's Snakefile (after) and, with --before,
    another checkout's (before), side by side."""
    print(f"## 1. dry runs (shard_residues {shard_residues:,}; 50-800 residues per protein)")
    layouts = [("after", REPO / "Snakefile")] + ([("before", before / "Snakefile")] if before else [])
    print(f"{'proteins':>9} {'residues':>11} {'shards':>6} {'parse s':>7} "
          + " ".join(f"{name + ' s':>9} {'jobs':>5} {'score':>5} {'load':>5}" for name, _ in layouts))
    for n in sizes:
        fasta = tmp / f"proteome{n}.fasta"
        residues = write_random_fasta(fasta, n)
        t = time.perf_counter()
        shards = assign_shards(read_fasta(fasta), shard_residues)
        t_parse = time.perf_counter() - t
        config = {"sequences": str(fasta), "models": MODELS, "model_dir": str(tmp / "no_models"),
                  "offline": False, "device": "cpu", "cache_dir": "", "shard_residues": shard_residues}
        cells = []
        for name, snakefile in layouts:
            load = os.getloadavg()[0]
            # per_protein (this checkout only): auto writes per-protein files up to 2,000 proteins
            extra = {"per_protein": per_protein} if name == "after" else {}
            secs, out = snakemake(tmp / f"dry-{name}-{n}", {**config, **extra}, "-n", "--quiet",
                                  "rules", snakefile=snakefile)
            counts = job_counts(out)
            assert scoring_jobs(counts) == len(shards) * len(MODELS), counts
            cells.append(f"{secs:9.1f} {counts.get('total', 0):5d} {scoring_jobs(counts):5d} {load:5.2f}")
        print(f"{n:9,} {residues:11,} {len(shards):6d} {t_parse:7.2f} " + " ".join(cells), flush=True)
        if n == 50_000:
            first = float(cells[0].split()[0])
            print(f"[{'MEETS' if first < 30 else 'MISSES'}] dry run of 50,000 proteins in {first:.1f} s; "
                  "target < 30 s")


def cache_timings(tmp: Path) -> None:
    import torch

    from esm1v_scan.scoring.score_cache import ScoreCache
    from esm1v_scan.scoring.models import load_model
    from esm1v_scan.scoring.job import run_scoring_job
    from esm1v_scan.scoring.local import LocalScorer
    from esm1v_scan.scoring.tiny_models import write_tiny_models

    print("\n## 2. score cache (tiny random model, one scoring job as the workflow runs it)")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    write_tiny_models(tmp / "tiny", MODELS[:1])
    loaded = load_model(MODELS[0], tmp / "tiny", offline=True)
    rng = random.Random(1)
    prots = [Protein(f"p{i}", f"p{i}", "".join(rng.choices(AMINO_ACIDS, k=rng.randint(50, 150))))
             for i in range(100)]
    new = Protein("new", "new", "".join(rng.choices(AMINO_ACIDS, k=120)))
    cache = tmp / "cache"

    def job(label, proteins, out):
        scorer = LocalScorer(loaded, device="cpu")  # a new job: nothing in memory
        positions = {p.name: list(range(1, p.length + 1)) for p in proteins}
        t = time.perf_counter()
        run_scoring_job(scorer, proteins, positions, "masked-marginals", ScoreCache(cache), 1022)
        secs = time.perf_counter() - t
        print(f"{label:<52} {secs:7.2f} s  {scorer.forward_passes:6d} forward passes")

    job(f"100 proteins ({sum(p.length for p in prots):,} positions), empty cache", prots, "run1")
    job(f"same 100 + 1 new protein ({new.length} positions)", prots + [new], "run2")
    job("another project: 1 of them under another name", [Protein("other", "other", prots[5].sequence)],
        "project2")


def workflow_timings(tmp: Path) -> None:
    from esm1v_scan.scoring.tiny_models import write_tiny_models

    print("\n## 3. workflow: 100 proteins, then one appended (tiny models, 2 models, 3 shards)")
    write_tiny_models(tmp / "tiny_wf", MODELS[:2])
    rng = random.Random(2)
    seqs = {f"p{i:03d}": "".join(rng.choices(AMINO_ACIDS, k=rng.randint(20, 40))) for i in range(100)}
    fasta = tmp / "wf.fasta"
    fasta.write_text("".join(f">{k}\n{v}\n" for k, v in seqs.items()))
    config = {"sequences": str(fasta), "models": MODELS[:2], "model_dir": str(tmp / "tiny_wf"),
              "offline": True, "device": "cpu", "threads": 1, "cache_dir": str(tmp / "wf_cache"),
              "shard_residues": 1100}
    secs, out = snakemake(tmp / "wf", config)
    print(f"first run: {secs:.1f} s, jobs: {job_counts(out).get('total')}")
    with fasta.open("a") as fh:
        fh.write(">zz_new\nMKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ\n")
    secs, out = snakemake(tmp / "wf", config)
    counts = job_counts(out)
    print(f"after appending one protein: {secs:.1f} s, jobs: "
          + ", ".join(f"{k} {v}" for k, v in counts.items() if k != "total"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sequences", type=int, nargs="+", default=[5_000, 20_000, 50_000],
                    help="dry-run sizes (proteins)")
    ap.add_argument("--before", type=Path, default=None,
                    help="another checkout (e.g. the main branch) to time side by side")
    ap.add_argument("--skip-cache", action="store_true", help="dry runs only")
    ap.add_argument("--per-protein", choices=["auto", "true", "false"], default="auto",
                    help="config per_protein of the dry runs (this checkout)")
    ap.add_argument("--shard-residues", type=int, default=200_000,
                    help="the config default; the number of scoring jobs follows it")
    ap.add_argument("--workflow", action="store_true", help="also time real workflow runs (~2 min)")
    ap.add_argument("--skip-dry-run", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="esm1v-scale-") as d:
        tmp = Path(d)
        if not args.skip_dry_run:
            dry_run(args.sequences, args.shard_residues, tmp, args.before,
                    {"auto": "auto", "true": True, "false": False}[args.per_protein])
        if not args.skip_cache:
            cache_timings(tmp)
        if args.workflow:
            workflow_timings(tmp)


if __name__ == "__main__":
    main()
