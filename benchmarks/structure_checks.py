"""Parse-time cost of config `structures`: `snakemake -n` on N proteins that each have a structure
(one PDB file per protein), cold (every file read and aligned) and again (checks answered from
.snakemake/esm1v_scan/structure_checks.json), side by side with the same FASTA without structures.

    python benchmarks/structure_checks.py [--proteins 500] [--pdb some.pdb --chain A]

Without --pdb a synthetic 3-chain PDB (3 x 300 residues, backbone atoms) is written.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
from esm1v_scan.inputs.structures import _letter, _observed, read_structure  # noqa: E402

THREE = {"A": "ALA", "C": "CYS", "D": "ASP", "E": "GLU", "F": "PHE", "G": "GLY", "H": "HIS",
         "I": "ILE", "K": "LYS", "L": "LEU", "M": "MET", "N": "ASN", "P": "PRO", "Q": "GLN",
         "R": "ARG", "S": "SER", "T": "THR", "V": "VAL", "W": "TRP", "Y": "TYR"}


def synthetic_pdb(path: Path, length=300, chains="ABC") -> None:
    import random

    rng = random.Random(0)
    lines, serial = [], 1
    for c in chains:
        seq = "".join(rng.choice(list(THREE)) for _ in range(length))
        for k, aa in enumerate(seq):
            for atom in ("N", "CA", "C", "O"):
                lines.append(f"ATOM  {serial:5d}  {atom:<3s} {THREE[aa]} {c}{k + 1:4d}    "
                             f"{3.8 * k:8.3f}{0.0:8.3f}{0.0:8.3f}{1.0:6.2f}{30.0:6.2f}"
                             f"           {atom[0]}")
                serial += 1
        lines.append("TER")
    path.write_text("\n".join(lines + ["END"]) + "\n")


def dry_run(wd: Path, config: dict) -> float:
    cfg = wd / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d",
                    str(wd), "--configfile", str(cfg), "-n", "--cores", "1", "--quiet"],
                   check=False, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(proc.stdout[-2000:] + proc.stderr[-2000:])
    return time.perf_counter() - t0


ap = argparse.ArgumentParser()
ap.add_argument("--proteins", type=int, default=500)
ap.add_argument("--pdb")
ap.add_argument("--chain", default="A")
args = ap.parse_args()
with tempfile.TemporaryDirectory() as tmp:
    tmp = Path(tmp)
    pdb = Path(args.pdb) if args.pdb else tmp / "model.pdb"
    if not args.pdb:
        synthetic_pdb(pdb)
    seq = "".join(_letter(r) for r in _observed(read_structure(pdb)[0][args.chain]))
    (tmp / "in.fasta").write_text("".join(f">p{i}\n{seq}\n" for i in range(args.proteins)))
    files = []
    for i in range(args.proteins):
        files.append(tmp / f"s{i}.pdb")
        os.link(pdb, files[-1]) if not args.pdb else files[-1].write_bytes(pdb.read_bytes())
    from esm1v_scan.scoring.tiny_models import write_tiny_models

    write_tiny_models(tmp / "models")  # checkpoints the parse-time checks find (never loaded)
    base = {"sequences": str(tmp / "in.fasta"), "model_dir": str(tmp / "models"), "offline": True,
            "weights_lock": "", "cache_dir": "", "device": "cpu", "per_protein": False}
    with_structures = {**base, "structures": {f"p{i}": str(f) for i, f in enumerate(files)}}
    (tmp / "a").mkdir()
    (tmp / "b").mkdir()
    none = dry_run(tmp / "a", base)
    cold = dry_run(tmp / "b", with_structures)
    warm = dry_run(tmp / "b", with_structures)
    size_kb = pdb.stat().st_size // 1024
print(f"{args.proteins} proteins of {len(seq)} residues, one {size_kb} KB "
      f"structure each; load {os.getloadavg()[0]:.2f}")
print(f"snakemake -n without structures: {none:.1f} s")
print(f"with structures, first run:      {cold:.1f} s ({(cold - none) / args.proteins * 1000:.0f} ms per structure)")
print(f"with structures, again (cached): {warm:.1f} s ({(warm - none) / args.proteins * 1000:.1f} ms per structure)")
