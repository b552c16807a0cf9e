"""Scale of the annotated-VCF path: a whole-exome-sized VEP VCF, read and planned, then written.

Synthesises (deterministically, seeded) a bgzipped VEP-annotated VCF of ``--records`` records
(default 1,000,000) of which ``--missense`` (100,000) are missense alleles on ``--proteins``
(20,000) proteins, each record with two CSQ entries (its gene's MANE transcript and a second
non-coding feature) in the 27-field CSQ layout of ``tests/vcf_fixtures.py``, plus the proteins'
Ensembl-style pep FASTA (gzip). Then, each phase in a fresh process so its peak RSS is its own:

- ``plan``: :func:`esm1v_scan.inputs.vcf.plan_vcf` (stream, parse, look up, check, build the
  variant lists), then ``save_plan`` and ``load_plan``;
- ``score``: :func:`esm1v_scan.outputs.vcf_files.score_entries` on fake ensemble tables
  holding the plan's sites (rule vcf_annotate's work before writing);
- ``write``: :func:`esm1v_scan.outputs.vcf_files.write_vcf` of the annotated VCF with fake scores
  (random, seeded; scoring itself is the scan's business), BGZF + tabix.

Prints records/s, seconds and peak RSS (``resource.getrusage``) per phase and MEETS/MISSES for the
60 s target of reading + planning. Usage::

    python benchmarks/vcf_scale.py [--folder /tmp/vcf_scale] [--records 1000000] ...
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(REPO / "tests"))

AA = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
THREE = {"A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu",
         "G": "Gly", "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe",
         "P": "Pro", "S": "Ser", "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val"}
TARGET_S = 60.0


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthesise(folder: Path, records: int, missense: int, proteins: int, seed: int = 18) -> None:
    from pysam.libcbgzf import BGZFile

    from vcf_fixtures import CSQ_FIELDS

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lengths = rng.integers(80, 700, size=proteins)
    residues = AA[rng.integers(0, 20, size=int(lengths.sum()))]
    seqs, at = [], 0
    for n in lengths:
        seqs.append("M" + "".join(residues[at + 1:at + n]))
        at += n
    pids = [f"ENSP{i:011d}.1" for i in range(1, proteins + 1)]
    tids = [f"ENST{i:011d}.2" for i in range(1, proteins + 1)]
    with gzip.open(folder / "pep.fa.gz", "wt", compresslevel=3) as fh:
        for i, (p, t, s) in enumerate(zip(pids, tids, seqs)):
            fh.write(f">{p} pep chromosome:GRCh38:1:{i}:{i + 1}:1 gene:ENSG{i + 1:011d}.1 "
                     f"transcript:{t} gene_biotype:protein_coding "
                     f"transcript_biotype:protein_coding gene_symbol:G{i + 1}\n")
            for k in range(0, len(s), 60):
                fh.write(s[k:k + 60] + "\n")

    idx = {name: k for k, name in enumerate(CSQ_FIELDS)}
    blank = [""] * len(CSQ_FIELDS)

    def entry(values: dict) -> str:
        f = list(blank)
        for k, v in values.items():
            f[idx[k]] = v
        return "|".join(f)

    # which records are missense: evenly spread, deterministic
    is_mis = np.zeros(records, dtype=bool)
    is_mis[rng.choice(records, size=missense, replace=False)] = True
    which = rng.integers(0, proteins, size=missense)  # the protein of each missense allele
    pos_in = rng.random(missense)
    subs = rng.integers(1, 20, size=missense)
    bases = np.array(list("ACGT"))
    refs = bases[rng.integers(0, 4, size=records)]
    shift = rng.integers(1, 4, size=records)
    header = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=1,length=248956422>",
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">',
        '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl '
        f'VEP. Format: {"|".join(CSQ_FIELDS)}">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    m = 0
    with BGZFile(str(folder / "cohort.vep.vcf.gz"), "wb") as out:
        out.write(("\n".join(header) + "\n").encode())
        chunk = []
        for r in range(records):
            ref = refs[r]
            alt = bases[(np.searchsorted(bases, ref) + shift[r]) % 4]
            g = (r * proteins) // records
            if is_mis[r]:
                k = int(which[m])
                seq = seqs[k]
                p = 2 + int(pos_in[m] * (len(seq) - 2))  # not Met1: that is a start loss
                wt = seq[p - 1]
                mt = AA[(np.searchsorted(AA, wt) + subs[m]) % 20]
                m += 1
                first = entry({"Allele": alt, "Consequence": "missense_variant",
                               "IMPACT": "MODERATE", "SYMBOL": f"G{k + 1}",
                               "Feature_type": "Transcript", "Feature": tids[k],
                               "BIOTYPE": "protein_coding",
                               "HGVSp": f"{pids[k]}:p.{THREE[wt]}{p}{THREE[mt]}",
                               "Protein_position": str(p), "Amino_acids": f"{wt}/{mt}",
                               "CANONICAL": "YES", "MANE_SELECT": f"NM_{k:06d}.1",
                               "ENSP": pids[k]})
            else:
                first = entry({"Allele": alt, "Consequence": "intron_variant", "IMPACT": "MODIFIER",
                               "SYMBOL": f"G{g + 1}", "Feature_type": "Transcript",
                               "Feature": tids[g], "BIOTYPE": "protein_coding",
                               "INTRON": "3/9", "CANONICAL": "YES", "ENSP": pids[g]})
            second = entry({"Allele": alt, "Consequence": "non_coding_transcript_exon_variant",
                            "IMPACT": "MODIFIER", "SYMBOL": f"G{g + 1}",
                            "Feature_type": "Transcript", "Feature": f"ENST9{g:010d}.1",
                            "BIOTYPE": "lncRNA"})
            chunk.append(f"1\t{1000 + 10 * r}\t.\t{ref}\t{alt}\t50\tPASS\t"
                         f"DP={20 + r % 30};CSQ={first},{second}\n")
            if len(chunk) >= 20000:
                out.write("".join(chunk).encode())
                chunk = []
        out.write("".join(chunk).encode())


def phase_plan(folder: Path) -> dict:
    from esm1v_scan.inputs.vcf import load_plan, plan_vcf, save_plan

    t0 = time.perf_counter()
    plan = plan_vcf("cohort", folder / "cohort.vep.vcf.gz", folder / "pep.fa.gz")
    t1 = time.perf_counter()
    save_plan(plan, folder / "plan")
    t2 = time.perf_counter()
    loaded = load_plan(folder / "plan")
    n_sites = sum(map(len, loaded.positions().values()))
    t3 = time.perf_counter()
    return {"plan_s": t1 - t0, "save_s": t2 - t1, "load_s": t3 - t2, "counts": plan.counts,
            "proteins": len(plan.proteins), "sites": n_sites, "entries": len(plan.entries),
            "peak_rss_mib": peak_rss_mib()}


def phase_score(folder: Path) -> dict:
    """score_entries on fake ensemble tables holding exactly the plan's sites (what rule
    vcf_annotate does after reading its shards' tables)."""
    import pandas as pd

    from esm1v_scan.inputs.vcf import load_plan
    from esm1v_scan.outputs.vcf_files import score_entries

    plan = load_plan(folder / "plan")
    models = [f"esm1v_t33_650M_UR90S_{k}" for k in range(1, 6)]
    rng = np.random.default_rng(7)
    keys, pos, wts = [], [], []
    for key, sites in plan.positions().items():
        seq = plan.proteins[key]
        keys += [key] * len(sites)
        pos += sites
        wts += [seq[p - 1] for p in sites]
    n = len(pos)
    big = pd.DataFrame({"key": np.repeat(keys, 20), "position": np.repeat(pos, 20),
                        "wt": np.repeat(wts, 20), "mt": np.tile(AA, n)})
    for m in models:
        big[f"score_{m}"] = rng.normal(-3, 2, size=len(big))
    big["score_mean"] = big[[f"score_{m}" for m in models]].mean(axis=1)
    tables = {k: t for k, t in big.groupby("key", sort=False)}
    t0 = time.perf_counter()
    scored = score_entries(plan, tables, models, None, False, "indels need the local backend")
    t1 = time.perf_counter()
    return {"score_s": t1 - t0, "scored": int(scored["score"].notna().sum()),
            "peak_rss_mib": peak_rss_mib()}


def phase_write(folder: Path) -> dict:
    import pandas as pd

    from esm1v_scan.inputs.vcf import load_plan
    from esm1v_scan.outputs.vcf_files import write_vcf

    plan = load_plan(folder / "plan")
    models = [f"esm1v_t33_650M_UR90S_{k}" for k in range(1, 6)]
    rng = np.random.default_rng(5)
    scored = plan.entries.copy()
    ok = (scored["flag"] == "").to_numpy()
    for col in ["score", *(f"score_{m}" for m in models)]:
        scored[col] = np.where(ok, rng.normal(-4, 3, size=len(scored)), np.nan)
    scored["scoring"] = np.where(ok, "masked_marginals", "not_scored")
    scored = pd.DataFrame(scored)
    t0 = time.perf_counter()
    write_vcf(plan, scored, folder / "out" / "cohort.esm1v.vcf.gz", models,
              ["##esm1v_scan_version=benchmark"])
    t1 = time.perf_counter()
    return {"write_s": t1 - t0, "peak_rss_mib": peak_rss_mib()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--folder", default="/tmp/vcf_scale")
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--missense", type=int, default=100_000)
    ap.add_argument("--proteins", type=int, default=20_000)
    ap.add_argument("--phase", choices=["plan", "score", "write"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    folder = Path(args.folder)
    if args.phase:
        out = {"plan": phase_plan, "score": phase_score, "write": phase_write}[args.phase](folder)
        print(json.dumps(out))
        return
    stamp = folder / f"made-{args.records}-{args.missense}-{args.proteins}"
    if not stamp.exists():
        t0 = time.perf_counter()
        synthesise(folder, args.records, args.missense, args.proteins)
        stamp.write_text("")
        print(f"synthesised in {time.perf_counter() - t0:.1f} s: "
              f"{(folder / 'cohort.vep.vcf.gz').stat().st_size / 2**20:.0f} MiB VCF (bgzip), "
              f"{(folder / 'pep.fa.gz').stat().st_size / 2**20:.1f} MiB pep FASTA (gzip)")

    def run(phase: str) -> dict:
        done = subprocess.run([sys.executable, __file__, "--folder", str(folder), "--phase", phase],
                              check=True, capture_output=True, text=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    p = run("plan")
    rate = args.records / p["plan_s"]
    print(f"read + plan: {p['plan_s']:.1f} s ({rate:,.0f} records/s), {p['entries']:,} entries, "
          f"{p['proteins']:,} proteins, {p['sites']:,} sites; peak RSS {p['peak_rss_mib']:.0f} MiB")
    print(f"save_plan {p['save_s']:.2f} s, load_plan + positions {p['load_s']:.2f} s")
    print(f"counts: {p['counts']}")
    sc = run("score")
    print(f"score_entries (fake tables of the plan's sites): {sc['score_s']:.1f} s for "
          f"{sc['scored']:,} scored entries; peak RSS {sc['peak_rss_mib']:.0f} MiB")
    w = run("write")
    print(f"write annotated VCF (BGZF + tbi): {w['write_s']:.1f} s "
          f"({args.records / w['write_s']:,.0f} records/s); peak RSS {w['peak_rss_mib']:.0f} MiB")
    print(f"{'MEETS' if p['plan_s'] < TARGET_S else 'MISSES'} the {TARGET_S:.0f} s target for "
          f"reading + planning ({p['plan_s']:.1f} s)")


if __name__ == "__main__":
    main()
