"""The content-addressed score cache and what a scoring job does with it, counted in forward passes
of the real LocalScorer on the tiny model (no stubs: the passes are those fair-esm runs)."""

import logging
import random

import numpy as np
import pandas as pd
import pytest

from conftest import MODELS
from esm1v_scan.scoring.score_cache import ScoreCache, cache_key, check_table, encode_entry, read_entry
from esm1v_scan.inputs.fasta import AMINO_ACIDS, Protein
from esm1v_scan.scoring.models import load_model
from esm1v_scan.outputs.protein_files import protein_rows
from esm1v_scan.scoring.progress import Progress
from esm1v_scan.scoring.job import cache_parts, run_scoring_job
from esm1v_scan.scoring.local import LocalScorer
from esm1v_scan.scoring.score_tables import read_table, write_table

SEQ = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"


def proteins(n, seed=0, lo=8, hi=16):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        seq = "".join(rng.choice(AMINO_ACIDS) for _ in range(rng.randint(lo, hi)))
        out.append(Protein(f"prot_{seed}_{i}", f"prot_{seed}_{i}", seq))
    return out


def job(scorer, prots, cache_dir, out_dir, positions=None, strategy="masked-marginals"):
    """One scoring job as rule score runs it, its long table cut into out_dir/<name>.tsv as the
    per-protein rule does; returns the forward passes it made."""
    before = scorer.forward_passes
    pos = positions or {p.name: list(range(1, p.length + 1)) for p in prots}
    table = run_scoring_job(scorer, prots, pos, strategy, ScoreCache(cache_dir), window=1022)
    for name, rows in protein_rows(table).items():
        write_table(rows, out_dir / f"{name}.tsv")
    return scorer.forward_passes - before


def entry_path(cache_dir, scorer, protein, strategy="masked-marginals"):
    key = cache_key(**cache_parts(scorer, protein, strategy, 1022))
    return cache_dir / key[:2] / f"{key}.tsv"


@pytest.fixture
def scorer(tiny_model):
    return LocalScorer(tiny_model, device="cpu")


def test_adding_one_protein_to_a_finished_run_scores_only_it(scorer, tmp_path):
    run = proteins(100)
    assert job(scorer, run, tmp_path / "cache", tmp_path / "out1") == sum(p.length for p in run)
    first = {p.name: read_table(tmp_path / "out1" / f"{p.name}.tsv") for p in run}
    new = Protein("new", "new", "MKTAYIAKQRQISFVKSHFSRQ")
    fresh = LocalScorer(scorer.loaded, device="cpu")  # a new job: a new process, same cache
    assert job(fresh, run + [new], tmp_path / "cache", tmp_path / "out2") == new.length
    for p in run:  # the cached tables are what the first run wrote
        again = read_table(tmp_path / "out2" / f"{p.name}.tsv")
        pd.testing.assert_frame_equal(again, first[p.name])
    direct = scorer.score(new.sequence)
    np.testing.assert_allclose(read_table(tmp_path / "out2/new.tsv")["log_prob"], direct["log_prob"],
                               atol=2e-6)


def test_two_projects_sharing_the_cache_score_a_protein_once(scorer, tiny_dir, tmp_path):
    shared = tmp_path / "shared_cache"
    a = Protein("sp|P0CG48|UBC_HUMAN", "sp_P0CG48_UBC_HUMAN", SEQ)
    b = Protein("ubiquitin", "ubiquitin", SEQ)  # same residues, another name in another project
    assert job(scorer, [a], shared, tmp_path / "projA") == len(SEQ)
    assert job(scorer, [b], shared, tmp_path / "projB") == 0
    pd.testing.assert_frame_equal(read_table(tmp_path / "projA" / f"{a.name}.tsv"),
                                  read_table(tmp_path / "projB/ubiquitin.tsv"))
    # what changes the numbers changes the key: another model, precision or strategy scores again
    other_model = LocalScorer(load_model(MODELS[1], tiny_dir, offline=True), device="cpu")
    assert job(other_model, [b], shared, tmp_path / "projC") == len(SEQ)
    bf16 = LocalScorer(scorer.loaded, device="cpu", precision="bf16")
    assert job(bf16, [b], shared, tmp_path / "projD") == len(SEQ)
    assert job(scorer, [b], shared, tmp_path / "projE", strategy="wt-marginals") == 1
    assert job(scorer, [b], shared, tmp_path / "projF", strategy="wt-marginals") == 0
    # a one-residue edit is another protein
    edited = Protein("ubiquitin", "ubiquitin", "A" + SEQ[1:])
    assert job(scorer, [edited], shared, tmp_path / "projG") == len(SEQ)


def test_cached_positions_then_full_scan_computes_only_the_rest(scorer, tmp_path):
    p = Protein("ubq", "ubq", SEQ)
    cache = tmp_path / "cache"
    assert job(scorer, [p], cache, tmp_path / "a", positions={"ubq": [3, 40, 41, 76]}) == 4
    part = read_table(tmp_path / "a/ubq.tsv")
    assert sorted(part["position"].unique()) == [3, 40, 41, 76]
    assert job(scorer, [p], cache, tmp_path / "b") == len(SEQ) - 4
    full = read_table(tmp_path / "b/ubq.tsv")
    assert full["position"].tolist() == list(np.repeat(np.arange(1, 77), 20))
    direct = LocalScorer(scorer.loaded, device="cpu").score(SEQ)
    np.testing.assert_allclose(full["log_prob"], direct["log_prob"], atol=1e-5)
    assert check_table(read_entry(entry_path(cache, scorer, p)), SEQ) is None
    # a subset of what is cached costs nothing and returns just that subset
    assert job(scorer, [p], cache, tmp_path / "c", positions={"ubq": [5, 6]}) == 0
    assert sorted(read_table(tmp_path / "c/ubq.tsv")["position"].unique()) == [5, 6]


@pytest.mark.parametrize("damage", ["truncated", "garbage", "missing_row", "nan", "other_sequence", "empty"])
def test_a_damaged_cache_entry_is_recomputed(scorer, tmp_path, damage, caplog):
    p = Protein("ubq", "ubq", SEQ)
    cache = tmp_path / "cache"
    job(scorer, [p], cache, tmp_path / "a")
    good = read_table(tmp_path / "a/ubq.tsv")
    path = entry_path(cache, scorer, p)
    text = path.read_text()
    if damage == "truncated":  # cut in the middle of a row, as a full disk would
        path.write_text(text[: len(text) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00\xff not a table" * 50)
    elif damage == "missing_row":
        lines = text.splitlines(keepends=True)
        path.write_text("".join(lines[:100] + lines[101:]))
    elif damage == "nan":
        df = read_entry(path)
        df.loc[30, "log_prob"] = np.nan
        path.write_bytes(encode_entry(df))  # with a matching digest: check_table must catch it
    elif damage == "other_sequence":  # a valid table, but not of this sequence's residues
        other = LocalScorer(scorer.loaded, device="cpu").score("A" * len(SEQ))
        path.write_bytes(encode_entry(other))
    elif damage == "empty":
        path.write_text("")
    with caplog.at_level(logging.WARNING, logger="esm1v_scan.scoring.score_cache"):
        assert job(scorer, [p], cache, tmp_path / "b") == len(SEQ)
    assert "is invalid" in caplog.text and str(path) in caplog.text
    pd.testing.assert_frame_equal(read_table(tmp_path / "b/ubq.tsv"), good)
    assert check_table(read_entry(path), SEQ) is None  # the entry was rewritten whole
    assert job(scorer, [p], cache, tmp_path / "c") == 0


def test_concurrent_writers_merge_instead_of_losing_positions(scorer, tmp_path):
    """Two jobs (two projects) scored different positions of one protein at the same time: the
    second writer keeps what the first stored meanwhile."""
    p = Protein("ubq", "ubq", SEQ)
    parts = cache_parts(scorer, p, "masked-marginals", 1022)
    key = cache_key(**parts)
    first, second = ScoreCache(tmp_path), ScoreCache(tmp_path)
    assert first.load(key, SEQ) is None and second.load(key, SEQ) is None  # both start empty
    first.store(key, scorer.score(SEQ, positions=[1, 2, 3]), parts, SEQ)
    merged = second.store(key, scorer.score(SEQ, positions=[10, 11]), parts, SEQ)
    assert sorted(merged["position"].unique()) == [1, 2, 3, 10, 11]
    assert sorted(ScoreCache(tmp_path).load(key, SEQ)["position"].unique()) == [1, 2, 3, 10, 11]
    assert not list(tmp_path.rglob("*.tmp"))  # no temp files left behind


def test_no_cache_dir_means_no_cache(scorer, tmp_path):
    p = Protein("ubq", "ubq", SEQ[:20])
    assert job(scorer, [p], None, tmp_path / "a") == 20
    assert job(scorer, [p], None, tmp_path / "b") == 20
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a", "b"]


def test_progress_lines_in_the_job_log(scorer, tmp_path, caplog):
    p1, p2 = Protein("a", "a", SEQ[:30]), Protein("b", "b", SEQ[:40])
    cache = tmp_path / "cache"
    job(scorer, [p1], cache, tmp_path / "first")
    positions = {"a": list(range(1, 31)), "b": list(range(1, 41))}
    with caplog.at_level(logging.INFO):
        run_scoring_job(scorer, [p1, p2], positions, "masked-marginals", ScoreCache(cache),
                        window=1022, progress_every=0.0)
    lines = [r.getMessage() for r in caplog.records if "positions/s" in r.getMessage()]
    assert lines[0].startswith(f"{MODELS[0]}: 30/70 positions (30 from cache)")
    assert lines[-1].startswith(f"{MODELS[0]}: 70/70 positions (30 from cache)")
    assert lines[-1].endswith("ETA 0 s")
    assert len(lines) > 3  # one line per batch here (progress_every=0)
    assert any(r.getMessage() == "done: 2 sequences, 1 cache hits, 1 scored, 40 forward passes"
               for r in caplog.records)


def test_progress_rate_and_eta(monkeypatch, caplog):
    clock = iter([100.0, 110.0, 130.0, 140.0])
    monkeypatch.setattr("esm1v_scan.scoring.progress.time.monotonic", lambda: next(clock))
    prog = Progress(total=100, label="m", every=15.0)
    with caplog.at_level(logging.INFO, logger="esm1v_scan.scoring.progress"):
        prog.update(20, cached=True)  # t=110: not yet 15 s since the start, no line
        prog.update(30)  # t=130: 50 done, 30 computed in 30 s -> 1.00/s, 50 left -> ETA 50 s
        prog.update(50)  # t=140: all done, always logged
    msgs = [r.getMessage() for r in caplog.records]
    assert msgs == [
        "m: 50/100 positions (20 from cache), 1.00 positions/s, ETA 50 s",
        "m: 100/100 positions (20 from cache), 2.00 positions/s, ETA 0 s",
    ]


def test_the_job_table_is_the_shards_long_table(scorer, tmp_path):
    """One long table for the shard: name and FASTA id in front of each protein's rows, proteins
    in order; it depends on the inputs only: the same values whether positions came from the
    cache or not (a resumed run equals a clean one)."""
    a, b = Protein("sp|A|X", "sp_A_X", SEQ[:30]), Protein("b", "b", SEQ[:12])
    positions = {"sp_A_X": list(range(1, 31)), "b": [4, 5, 6, 9]}
    cold = run_scoring_job(scorer, [a, b], positions, "masked-marginals",
                           ScoreCache(tmp_path / "cache"), 1022)
    passes = scorer.forward_passes
    warm = run_scoring_job(scorer, [a, b], positions, "masked-marginals",
                           ScoreCache(tmp_path / "cache"), 1022)
    assert scorer.forward_passes == passes  # all from the cache
    assert list(cold.columns) == ["name", "sequence_id", "position", "wt", "mt", "log_prob", "prob",
                                  "score"]
    assert cold["name"].tolist() == ["sp_A_X"] * 600 + ["b"] * 80
    assert cold["sequence_id"].tolist() == ["sp|A|X"] * 600 + ["b"] * 80
    assert cold["position"].tolist()[::20] == list(range(1, 31)) + [4, 5, 6, 9]
    assert "".join(cold["wt"].tolist()[600::20]) == "".join(SEQ[i - 1] for i in (4, 5, 6, 9))
    direct = scorer.score(b.sequence, positions=[4, 5, 6, 9])
    np.testing.assert_allclose(cold["log_prob"].to_numpy()[600:], direct["log_prob"], atol=1e-6)
    pd.testing.assert_frame_equal(cold, warm, check_exact=True)  # the same digits, cached or not


def first_value(text: str) -> str:
    """The first log_prob written in an entry (a row's 4th field), e.g. -0.4793034."""
    return text.splitlines()[1].split("\t")[3]


@pytest.mark.parametrize("damage", ["edited_value", "rounded_value", "cut_end"])
def test_an_edited_entry_is_recomputed_with_a_console_warning(scorer, tmp_path, damage, capfd):
    """A value changed by hand, or a value cut short (-0.4793034 -> -0.479), still parses as a
    valid table: only the digest written with the entry catches it."""
    p = Protein("ubq", "ubq", SEQ)
    cache = tmp_path / "cache"
    job(scorer, [p], cache, tmp_path / "a")
    good = read_table(tmp_path / "a/ubq.tsv")
    path = entry_path(cache, scorer, p)
    text = path.read_text()
    value = first_value(text)
    if damage == "edited_value":
        text = text.replace(value, "-0.1000000", 1)
    elif damage == "rounded_value":
        text = text.replace(value, value[:-5], 1)
    else:  # the last 5 bytes of the file
        text = text[:-5]
    path.write_text(text)
    capfd.readouterr()
    assert job(scorer, [p], cache, tmp_path / "b") == len(SEQ)  # recomputed, not copied
    err = capfd.readouterr().err
    assert f"esm1v-scan: warning: score cache entry {path} is invalid" in err
    pd.testing.assert_frame_equal(read_table(tmp_path / "b/ubq.tsv"), good)
    assert first_value(path.read_text()) == value  # the entry was rewritten
    assert job(scorer, [p], cache, tmp_path / "c") == 0


def failing_replace(monkeypatch, under, errno_):
    """os.replace fails (read-only file system, full disk) for targets under ``under``."""
    import errno
    import os

    real = os.replace

    def replace(src, dst, *a, **k):
        if str(dst).startswith(str(under)):
            raise OSError(getattr(errno, errno_), os.strerror(getattr(errno, errno_)), str(dst))
        return real(src, dst, *a, **k)

    monkeypatch.setattr("esm1v_scan.files.os.replace", replace)


@pytest.mark.parametrize("errno_", ["EROFS", "ENOSPC"])
def test_a_cache_that_cannot_be_written_is_still_read(scorer, tmp_path, monkeypatch, capfd, errno_):
    """A lab's read-only shared cache (or a full disk): hits are used, new scores still reach the
    job's outputs, the failed write is a console warning and no temp file stays behind."""
    known, new = Protein("ubq", "ubq", SEQ), Protein("new", "new", "MKTAYIAKQRQISFVKSHFSRQ")
    cache = tmp_path / "cache"
    job(scorer, [known], cache, tmp_path / "a")
    before = sorted(f for f in cache.rglob("*") if f.is_file())
    failing_replace(monkeypatch, cache, errno_)
    capfd.readouterr()
    assert job(scorer, [known, new], cache, tmp_path / "b") == new.length  # the hit is used
    err = capfd.readouterr().err
    assert "esm1v-scan: warning: could not write score cache entry" in err
    assert "not cached" in err
    pd.testing.assert_frame_equal(read_table(tmp_path / "b/ubq.tsv"), read_table(tmp_path / "a/ubq.tsv"))
    direct = scorer.score(new.sequence)
    np.testing.assert_allclose(read_table(tmp_path / "b/new.tsv")["log_prob"], direct["log_prob"],
                               atol=2e-6)
    assert sorted(f for f in cache.rglob("*") if f.is_file()) == before  # no temp, no half entry


def test_a_cache_dir_under_a_regular_file_is_a_warning(scorer, tmp_path, capfd):
    """cache_dir that cannot even be created (its parent is a file; root ignores permissions)."""
    (tmp_path / "file").write_text("x")
    p = Protein("ubq", "ubq", SEQ[:20])
    capfd.readouterr()
    assert job(scorer, [p], tmp_path / "file" / "cache", tmp_path / "a") == 20
    assert "could not write score cache entry" in capfd.readouterr().err
    assert len(read_table(tmp_path / "a/ubq.tsv")) == 400


def test_temp_files_of_killed_writers_are_swept_by_the_next_write(scorer, tmp_path):
    """A writer killed mid-write (kill -9) leaves its hidden temp file; the next successful write
    of that entry removes it, but not the fresh temp file of a writer still at work."""
    import os
    import time

    p = Protein("ubq", "ubq", SEQ[:20])
    cache = tmp_path / "cache"
    path = entry_path(cache, scorer, p)
    path.parent.mkdir(parents=True)
    stale = [path.with_name(f".{path.name}.999.deadbeef.tmp"),
             path.with_name(f".{path.stem}.json.999.deadbeef.tmp")]
    for f in stale:
        f.write_text("half a table")
        os.utime(f, (time.time() - 7200, time.time() - 7200))
    live = path.with_name(f".{path.name}.998.cafecafe.tmp")
    live.write_text("being written")
    assert job(scorer, [p], cache, tmp_path / "a") == 20
    assert not any(f.exists() for f in stale) and live.exists()
    assert check_table(read_entry(path), SEQ[:20]) is None


@pytest.mark.slow
def test_forceall_after_an_entry_was_edited_warns_on_the_console_and_recomputes(tmp_path, tiny_dir):
    """The issue's case: one value of a cached table changed by hand, then --forceall. Snakemake's
    console (not only the job log) names the entry, and the results are the first run's."""
    from conftest import config_for, result_files, run_workflow

    wd = tmp_path / "work"
    config = {**config_for(tmp_path, tiny_dir), "models": [MODELS[0]]}
    run_workflow(wd, config)
    first = result_files(wd)
    edited = None
    for entry in sorted((tmp_path / "cache").rglob("*.tsv")):
        text = entry.read_text()
        value = first_value(text)
        entry.write_text(text.replace(value, value[:-5], 1))  # -0.4793034 -> -0.479
        edited = entry
        break
    rerun = run_workflow(wd, config, "--forceall")
    assert f"esm1v-scan: warning: score cache entry {edited} is invalid" in rerun.stderr + rerun.stdout
    again = result_files(wd)
    assert [k for k in first if first[k] != again.get(k)] == []
