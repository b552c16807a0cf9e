"""The real workflow, end to end on the tiny checkpoints, in a temporary folder."""

import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import MODELS, REPO, run_workflow, write_fasta
from esm1v_scan.scoring.models import load_model
from esm1v_scan.scoring.local import LocalScorer
from esm1v_scan.scoring.tiny_models import write_tiny_models

pytestmark = pytest.mark.slow


def test_end_to_end_outputs(tmp_path, base_config, tiny_dir):
    wd = tmp_path / "run"
    run_workflow(wd, base_config)
    seqs = pd.read_csv(wd / "results/sequences.tsv", sep="\t")
    assert seqs["id"].tolist() == ["sp|P0CG48|UBC_HUMAN", "tiny_2"]
    assert seqs["name"].tolist() == ["sp_P0CG48_UBC_HUMAN", "tiny_2"]
    assert seqs["length"].tolist() == [76, 22]
    plan = pd.read_csv(wd / "results/mask_plan.tsv", sep="\t")
    assert plan["masked_inputs"].tolist() == [76, 22] and plan["positions"].tolist() == ["1-76", "1-22"]

    seq = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"
    per_model = {}
    for m in MODELS:
        df = pd.read_csv(wd / f"results/sp_P0CG48_UBC_HUMAN/scores/{m}.tsv", sep="\t")
        assert list(df.columns) == ["position", "wt", "mt", "log_prob", "prob", "score"]
        assert len(df) == 76 * 20
        per_model[m] = df
    # the file equals what the notebook API computes with the same checkpoint
    direct = LocalScorer(load_model(MODELS[2], tiny_dir, offline=True), device="cpu").score(seq)
    np.testing.assert_allclose(per_model[MODELS[2]]["log_prob"], direct["log_prob"], atol=1e-5)
    # models differ, the ensemble is their mean
    assert not np.allclose(per_model[MODELS[0]]["score"], per_model[MODELS[1]]["score"])
    ens = pd.read_csv(wd / "results/sp_P0CG48_UBC_HUMAN/ensemble.tsv", sep="\t")
    assert len(ens) == 76 * 20
    mean = np.mean([per_model[m]["score"] for m in MODELS], axis=0)
    np.testing.assert_allclose(ens["score_mean"], mean, atol=1e-5)
    np.testing.assert_allclose(ens["prob_mean"], np.mean([per_model[m]["prob"] for m in MODELS], axis=0), rtol=1e-5)
    for m in MODELS:
        np.testing.assert_allclose(ens[f"score_{m}"], per_model[m]["score"], atol=1e-6)
    for name in ["sp_P0CG48_UBC_HUMAN", "tiny_2"]:
        assert (wd / f"results/{name}/heatmap.png").read_bytes()[:4] == b"\x89PNG"
        assert "<svg" in (wd / f"results/{name}/heatmap.svg").read_text()
    # every rule logged
    assert (wd / "logs/parse_fasta.log").exists()
    assert "model esm1v_t33_650M_UR90S_1 from" in (wd / f"logs/score/{MODELS[0]}/shard0001.log").read_text()

    # results/ensemble.parquet: every protein's rows, equal to its per-protein table
    everything = pd.read_parquet(wd / "results/ensemble.parquet")
    assert list(everything.columns[:7]) == ["name", "sequence_id", "position", "residue", "wt", "mt",
                                           "mutant"]
    assert everything["name"].unique().tolist() == ["sp_P0CG48_UBC_HUMAN", "tiny_2"]
    assert everything["sequence_id"].unique().tolist() == ["sp|P0CG48|UBC_HUMAN", "tiny_2"]
    for name in ["sp_P0CG48_UBC_HUMAN", "tiny_2"]:
        table = pd.read_csv(wd / f"results/{name}/ensemble.tsv", sep="\t")
        rows = everything[everything.name == name].drop(columns=["name", "sequence_id"])
        assert list(rows.columns) == list(table.columns)
        pd.testing.assert_frame_equal(rows.reset_index(drop=True), table, check_exact=False,
                                      rtol=1e-6, atol=1e-7)

    # a rerun does nothing, also after the tiny models were written again (a second `make smoke`)
    write_tiny_models(tiny_dir)
    again = run_workflow(wd, base_config)
    assert "Nothing to be done" in again.stdout + again.stderr

    # a per-protein table deleted by hand comes back, byte for byte, and nothing is rescored
    table = wd / f"results/tiny_2/scores/{MODELS[3]}.tsv"
    before = table.read_bytes()
    table.unlink()
    again = run_workflow(wd, base_config)
    out = again.stdout + again.stderr
    assert table.read_bytes() == before
    assert "localrule protein_files_shard0001:" in out and "rule score:" not in out
    # ... as long as the shard's tables exist: with one of them gone too, that model's scoring job
    # runs again and takes every score from the score cache (README, "Proteome scale")
    table.unlink()
    (wd / f"results/shards/shard0001/scores/{MODELS[3]}.parquet").unlink()
    again = run_workflow(wd, base_config)
    out = again.stdout + again.stderr
    assert table.read_bytes() == before
    assert out.count("rule score:") == 1
    log = (wd / f"logs/score/{MODELS[3]}/shard0001.log").read_text()
    assert "tiny_2: all 22 positions from cache" in log
    assert "2 cache hits, 0 scored, 0 forward passes" in log


def test_dry_run_lists_one_scoring_job_per_model(tmp_path, base_config):
    proc = run_workflow(tmp_path / "dry", base_config, "-n")
    out = proc.stdout + proc.stderr
    assert any(line.split() == ["score", "5"] for line in out.splitlines())
    assert not (tmp_path / "dry/results").exists()


def test_a_windows_1252_header_is_read_with_a_warning_on_the_console(tmp_path, base_config):
    fasta = tmp_path / "win.fasta"
    fasta.write_bytes(b">caf\xe9 37\xb0C\nMKTAYIAKQRQ\n")
    proc = run_workflow(tmp_path / "dry", {**base_config, "sequences": str(fasta)}, "-n")
    out = proc.stdout + proc.stderr
    assert (f"esm1v-scan: warning: {fasta}: 1 line(s) are not UTF-8 and were read as Windows-1252 "
            "(line 1: '>café 37°C')") in out
    assert "\ufffd" not in out and "Traceback" not in out
    assert any(line.split() == ["score", "5"] for line in out.splitlines())


def test_the_score_rule_takes_resources_by_name(tmp_path, base_config):
    """One rule name for every scoring job: a profile's set-resources reaches all of them, and
    the config's scoring section sets what the rule asks for by default."""
    config = {**base_config, "scoring": {"mem_mb": 3000, "runtime": 45, "slurm_partition": "gpu"}}
    proc = run_workflow(tmp_path / "dry", config, "-n")
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "resources:" in line]
    scoring = [line for line in lines if "runtime=45" in line]
    assert len(scoring) == 5
    assert all("mem_mb=3000" in line and "slurm_partition=gpu" in line for line in scoring)
    proc = run_workflow(tmp_path / "dry2", config, "-n", "--set-resources", "score:mem_mb=777",
                        "score:slurm_partition=big")
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "runtime=45" in line]
    assert len(lines) == 5
    assert all("mem_mb=777," in line and "slurm_partition=big" in line for line in lines)


def test_lint_is_clean():
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "--cores", "1"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations" in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "fasta, config_extra, message",
    [
        (">a\nMKV\n>a\nMKL\n", {}, "record 'a': duplicate id"),
        (">a\nMKVJL\n", {}, "a character 'J' at position 4"),
        (">dna\nATGCGTACGTTAGC\n", {}, "this looks like DNA/RNA"),
        ("", {}, "the file is empty"),
        (">a\nMKV\n", {"models": ["esm1v_t33_650M_UR90S_9"]}, "esm1v_t33_650M_UR90S_9"),
        (">a\nMKV\n", {"stratgey": "wt-marginals"}, "stratgey"),
        (">a\nMKV\n", {"strategy": "pll"}, "'pll' is not one of"),
        (">a\nMKV\n", {"model_dir": "/nonexistent"}, "no checkpoint at /nonexistent/esm1v_t33_650M_UR90S_1.pt and offline mode is on"),
    ],
)
def test_bad_input_stops_before_any_job(tmp_path, base_config, fasta, config_extra, message):
    wd = tmp_path / "bad"
    config = {**base_config, "sequences": str(write_fasta(tmp_path / "bad.fasta", fasta)), **config_extra}
    proc = run_workflow(wd, config, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert message in out, out[-3000:]
    assert "Traceback" not in out
    assert not (wd / "results").exists()  # no partial output


def test_scoring_failure_leaves_no_partial_output_and_keeps_the_cache(tmp_path, base_config, tiny_dir):
    """Model 3's checkpoint is corrupt: its job fails with a clear line, the other models' tables
    and the cache survive, and after the fix only model 3 is scored."""
    models = tmp_path / "models"
    shutil.copytree(tiny_dir, models)
    good = (models / f"{MODELS[2]}.pt").read_bytes()
    (models / f"{MODELS[2]}.pt").write_bytes(good[:1000])
    config = {**base_config, "model_dir": str(models)}
    wd = tmp_path / "run"
    proc = run_workflow(wd, config, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"cannot read checkpoint {models}/{MODELS[2]}.pt" in out
    assert not (wd / f"results/shards/shard0001/scores/{MODELS[2]}.parquet").exists()
    assert not (wd / "results/tiny_2").exists()  # per-protein files need every model
    # --keep-going in the profile: the other models' tables are there
    assert (wd / f"results/shards/shard0001/scores/{MODELS[0]}.parquet").exists()
    (models / f"{MODELS[2]}.pt").write_bytes(good)
    proc = run_workflow(wd, config)
    assert f"model={MODELS[2]}" in proc.stdout + proc.stderr
    log = (wd / f"logs/score/{MODELS[0]}/shard0001.log")
    assert "positions from cache" not in log.read_text()  # model 1 was not rerun: its log is the first run's
    assert (wd / "results/tiny_2/heatmap.png").exists()


def test_end_to_end_on_a_gzipped_uniprot_style_fasta(tmp_path, base_config):
    """A UniProt proteome as downloaded (.fasta.gz, a Windows byte-order mark inside, CRLF lines)
    runs end to end; sequences.tsv holds the residues, not bytes of the archive."""
    import gzip
    import hashlib

    ubc = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"
    text = f"\ufeff>sp|P0CG48|UBC_HUMAN Polyubiquitin-C OS=Homo sapiens\r\n{ubc[:60]}\r\n{ubc[60:]}\r\n>tiny_2\r\nMKTAYIAKQRQ\r\n"
    gz = tmp_path / "UP000005640_9606.fasta.gz"
    gz.write_bytes(gzip.compress(text.encode("utf-8")))
    config = {**base_config, "sequences": str(gz), "models": MODELS[:1]}
    wd = tmp_path / "run"
    run_workflow(wd, config)
    seqs = pd.read_csv(wd / "results/sequences.tsv", sep="\t")
    assert seqs["id"].tolist() == ["sp|P0CG48|UBC_HUMAN", "tiny_2"]
    assert seqs["name"].tolist() == ["sp_P0CG48_UBC_HUMAN", "tiny_2"]
    assert seqs["length"].tolist() == [76, 11]
    assert seqs["sequence"].tolist() == [ubc, "MKTAYIAKQRQ"]
    assert seqs["sha256"].tolist() == [hashlib.sha256(s.encode()).hexdigest() for s in [ubc, "MKTAYIAKQRQ"]]
    scores = pd.read_csv(wd / f"results/tiny_2/scores/{MODELS[0]}.tsv", sep="\t")
    assert len(scores) == 11 * 20 and "".join(scores["wt"][::20]) == "MKTAYIAKQRQ"
    assert (wd / "results/sp_P0CG48_UBC_HUMAN/ensemble.tsv").exists()
