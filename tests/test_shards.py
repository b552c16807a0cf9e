"""Sequence shards: assignment by residue count, stability when sequences are appended, one scoring
job per (model, shard) in the real workflow, and a finished run that gains one protein."""

import random
import re

import pandas as pd
import pytest

from conftest import MODELS, run_workflow, write_fasta
from esm1v_scan.inputs.fasta import AMINO_ACIDS, Protein
from esm1v_scan.scoring.planning import assign_shards


def prot(name, length):
    return Protein(name, name, "M" * length)


def random_fasta(n, seed=0, lo=8, hi=20):
    rng = random.Random(seed)
    return {f"p{i:04d}": "".join(rng.choice(AMINO_ACIDS) for _ in range(rng.randint(lo, hi))) for i in range(n)}


def test_shards_are_filled_in_file_order_up_to_the_residue_budget():
    ps = [prot("a", 100), prot("b", 100), prot("c", 1), prot("d", 250), prot("e", 50), prot("f", 150)]
    shards = assign_shards(ps, 200)
    assert [s.names for s in shards] == [["a", "b"], ["c"], ["d"], ["e", "f"]]
    assert [s.id for s in shards] == ["shard0001", "shard0002", "shard0003", "shard0004"]
    assert [s.residues for s in shards] == [200, 1, 250, 200]  # a longer protein is alone
    assert len(assign_shards(ps, 10_000)) == 1
    assert len(assign_shards(ps, 1)) == len(ps)


def test_appending_sequences_leaves_earlier_shards_unchanged():
    base = [prot(f"p{i}", 10 + (i * 37) % 90) for i in range(200)]
    extra = [prot(f"q{i}", 10 + (i * 53) % 90) for i in range(30)]
    before = assign_shards(base, 500)
    after = assign_shards(base + extra, 500)
    assert len(before) > 10 and len(after) > len(before)
    for old, new in zip(before[:-1], after):
        assert (old.id, old.names, old.digest()) == (new.id, new.names, new.digest())
    # the last old shard can only have grown, by the first appended sequences
    last = after[len(before) - 1]
    assert last.names[: len(before[-1].names)] == before[-1].names
    assert sum(len(s.names) for s in after) == 230


def test_shard_digest_follows_names_and_residues():
    a = assign_shards([prot("a", 10), prot("b", 12)], 100)[0]
    same = assign_shards([prot("a", 10), prot("b", 12)], 100)[0]
    edited = assign_shards([prot("a", 10), Protein("b", "b", "A" + "M" * 11)], 100)[0]
    renamed = assign_shards([prot("a", 10), Protein("b2", "b2", "M" * 12)], 100)[0]
    assert a.digest() == same.digest()
    assert len({a.digest(), edited.digest(), renamed.digest()}) == 3


def job_table(out: str) -> dict[str, int]:
    """The job table Snakemake prints (a run or a dry run): rule -> count."""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", out, re.M)}


def shard_jobs(out: str) -> set[tuple[str, str]]:
    """(rule, shard) of every per-shard job a run's log shows: score and ensemble jobs by their
    wildcards, protein_files_<shard> by its name."""
    jobs = set()
    for m in re.finditer(r"^(?:local)?rule (\w+):\n(.*?)(?:\n\n|\Z)", out, re.M | re.S):
        rule, body = m.group(1), m.group(2)
        if rule.startswith("protein_files_"):
            jobs.add(("protein_files", rule.removeprefix("protein_files_")))
        elif shard := re.search(r"wildcards:.*shard=(shard\d+)", body):
            jobs.add((rule, shard.group(1)))
    return jobs


@pytest.mark.slow
@pytest.mark.parametrize("shard_residues, n_shards", [(100_000, 1), (300, 5), (100, 15)])
def test_dry_run_job_count_grows_with_shards_not_sequences(tmp_path, base_config, shard_residues, n_shards):
    seqs = random_fasta(100, lo=10, hi=20)
    config = {**base_config, "sequences": str(write_fasta(tmp_path / "in.fasta", seqs)),
              "shard_residues": shard_residues}
    proc = run_workflow(tmp_path / "wd", config, "-n", "--quiet", "rules")
    jobs = job_table(proc.stdout + proc.stderr)
    expected = len(assign_shards([Protein(k, k, v) for k, v in seqs.items()], shard_residues))
    assert expected == pytest.approx(n_shards, abs=1)
    assert jobs["score"] == expected * len(MODELS)  # 5 models per shard
    assert jobs["ensemble"] == expected and jobs["collect_ensemble"] == 1
    # 100 proteins: per_protein auto writes their files, one job per shard
    assert sum(v for k, v in jobs.items() if k.startswith("protein_files_shard")) == expected


@pytest.mark.slow
def test_a_finished_run_gains_one_protein(tmp_path, base_config):
    """100 proteins, then one more appended: only the last shard's jobs run, only the new protein
    is scored (its forward passes are the only ones), earlier shards' files are untouched."""
    seqs = random_fasta(100, seed=3)
    fasta = tmp_path / "in.fasta"
    config = {**base_config, "sequences": str(write_fasta(fasta, seqs)), "models": MODELS[:2],
              "shard_residues": 600}
    wd = tmp_path / "run"
    run_workflow(wd, config)
    plan = pd.read_csv(wd / "results/mask_plan.tsv", sep="\t")
    shards = sorted(plan["shard"].unique())
    assert len(shards) >= 3
    first_shard = [f for n in plan[plan.shard == shards[0]]["name"] for f in (wd / "results" / n).rglob("*")]
    assert len(first_shard) >= 5 * 5  # per sequence: 2 model tables, ensemble, PNG, SVG (+ folder)
    stamps = {f: f.stat().st_mtime_ns for f in first_shard}

    seqs["zz_new"] = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"
    write_fasta(fasta, seqs)
    proc = run_workflow(wd, config)
    out = proc.stdout + proc.stderr
    plan2 = pd.read_csv(wd / "results/mask_plan.tsv", sep="\t")
    last = plan2.loc[plan2.name == "zz_new", "shard"].item()
    assert shard_jobs(out) == {("score", last), ("ensemble", last), ("protein_files", last)}
    assert job_table(out)["score"] == 2
    assert all(f.stat().st_mtime_ns == t for f, t in stamps.items())  # earlier shards untouched
    for m in MODELS[:2]:
        log = (wd / f"logs/score/{m}/{last}.log").read_text()
        assert "zz_new: scored 33 positions (0 from cache)" in log
        assert re.search(r"done: \d+ sequences, \d+ cache hits, 1 scored, 33 forward passes", log)
        # the progress line (positions done of total, rate, ETA) is in the job's log
        total = plan2.loc[plan2.shard == last, "length"].sum()
        assert re.search(rf"{m}: {total}/{total} positions \({total - 33} from cache\), "
                         r"[\d.]+ positions/s, ETA 0 s", log)
    assert (wd / "results/zz_new/heatmap.png").exists()
    assert len(pd.read_csv(wd / "results/zz_new/ensemble.tsv", sep="\t")) == 33 * 20
    for m in MODELS[:2]:  # the shard's long table holds its sequences, the new one last
        table = pd.read_parquet(wd / f"results/shards/{last}/scores/{m}.parquet")
        assert table["name"].unique().tolist() == plan2.loc[plan2.shard == last, "name"].tolist()
        assert table.groupby("name", sort=False).size().tolist() == (
            plan2.loc[plan2.shard == last, "length"] * 20).tolist()

    # one residue of a first-shard protein edited: only that shard reruns, and scores only it
    edited = plan[plan.shard == shards[0]]["name"].iloc[0]
    seqs[edited] = ("A" if seqs[edited][0] != "A" else "C") + seqs[edited][1:]
    write_fasta(fasta, seqs)
    # the dry run shows exactly that shard's jobs (2 models), with the param change as reason
    dry = run_workflow(wd, config, "-n")
    assert shard_jobs(dry.stdout + dry.stderr) == {
        ("score", shards[0]), ("ensemble", shards[0]), ("protein_files", shards[0])}
    assert job_table(dry.stdout + dry.stderr)["score"] == 2
    assert "Params have changed since last execution" in dry.stdout + dry.stderr
    proc = run_workflow(wd, config)
    assert shard_jobs(proc.stdout + proc.stderr) == {
        ("score", shards[0]), ("ensemble", shards[0]), ("protein_files", shards[0])}
    log = (wd / f"logs/score/{MODELS[0]}/{shards[0]}.log").read_text()
    assert f"{edited}: scored {len(seqs[edited])} positions (0 from cache)" in log
    assert re.search(r"done: \d+ sequences, \d+ cache hits, 1 scored, \d+ forward passes", log)
