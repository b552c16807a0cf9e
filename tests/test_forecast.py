"""The cost forecast (esm1v_scan.scoring.forecast): pass and FLOP counts by hand, the checkpoint's
shape read without torch, the calibration cache, the printed line, a real scan against its
forecast, and fp16 refused on a CPU."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
import torch

from conftest import MODELS, run_workflow
from esm1v_scan.errors import InputError
from esm1v_scan.inputs.config_checks import check_device, check_precision
from esm1v_scan.inputs.fasta import Protein
from esm1v_scan.scoring import forecast as fc
from esm1v_scan.scoring.biolm import BiolmSettings
from esm1v_scan.scoring.job import run_scoring_job
from esm1v_scan.scoring.local import LocalScorer
from esm1v_scan.scoring.models import load_model
from esm1v_scan.scoring.planning import assign_shards
from esm1v_scan.scoring.score_cache import ScoreCache
from esm1v_scan.scoring.tiny_models import make_checkpoint, write_tiny_models

UBC = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"


def proteins(**seqs):
    return [Protein(k, k, v) for k, v in seqs.items()]


# -- counts ------------------------------------------------------------------------------------
def test_passes_by_hand_masked_wt_and_long_proteins():
    """max_residues 20. a: 10 residues, all scored: 10 passes of 12 tokens. b: 15 residues, 4
    listed sites: 4 passes of 17 tokens. c: 50 residues, longer than the context: each of its 50
    sites is a window of 20 residues + BOS/EOS = 22 tokens. wt-marginals: one pass each for a and
    b; c in windows of 20 every 10 residues: (0,20) (10,30) (20,40) (30,50), 4 passes of 22."""
    plan = [(10, 10), (15, 4), (50, 50)]
    assert fc.count_passes(plan, "masked-marginals", 20) == Counter({12: 10, 17: 4, 22: 50})
    assert fc.count_passes(plan, "wt-marginals", 20) == Counter({12: 1, 17: 1, 22: 4})


def test_plan_counts_only_jobs_without_tables():
    """Two shards (a+b, c) x two models; model 2's first shard has its table: 3 jobs of 4."""
    prots = proteins(a="A" * 10, b="C" * 15, c="D" * 50)
    shards = assign_shards(prots, 25)
    assert [s.names for s in shards] == [["a", "b"], ["c"]]
    listed = {"b": 4}
    done = {("m2", "shard0001")}
    plan = fc.make_plan(["m1", "m2"], shards, lambda p: listed.get(p.id, p.length),
                        "masked-marginals", 20, lambda m, s: (m, s) in done)
    assert plan.jobs == 3 and plan.jobs_total == 4
    assert plan.passes["m1"] == Counter({12: 10, 17: 4, 22: 50})
    assert plan.passes["m2"] == Counter({22: 50})
    assert plan.positions == 64 and plan.sites["m2"] == [50]


def test_flops_by_hand():
    """E 4, F 8, V 33, 2 layers, T 3 tokens. One layer: 3 (8*16 + 4*32) + 4*9*4 = 912. Plain:
    2 layers + the head at 3 tokens, 3 (2*16 + 2*4*33) = 888: 2712. Fast: one layer, the last
    layer's k and v at 3 tokens (4*3*16 = 192), its q, out and FFN at one token (64 + 128),
    attention of one query (4*3*4 = 48), the head at one token (296): 1640."""
    arch = fc.Arch(2, 4, 8, 1)
    assert fc.layer_flop(arch, 3) == 912
    assert fc.pass_flop(arch, 3, fast=False) == 2712
    assert fc.pass_flop(arch, 3, fast=True) == 1640


def test_esm1v_pass_is_about_two_flop_per_parameter_and_token():
    """The published model (652M parameters, 1.3 GFLOP per token by the 2 x parameters rule):
    one plain pass of 300 residues within 5% of 2 x 652e6 x 302 = 394 GFLOP (attention and the
    head add ~4%); the fast pass skips 32/33 of the last layer (~11 GFLOP)."""
    plain = fc.pass_flop(fc.ESM1V_ARCH, 302, fast=False)
    assert abs(plain / (2 * 652e6 * 302) - 1) < 0.05
    assert 9e9 < plain - fc.pass_flop(fc.ESM1V_ARCH, 302, fast=True) < 13e9


def test_batches_are_the_scorers_own(tiny_model):
    """Copies per forward call as LocalScorer picks them on a CPU (fast and plain forward, auto
    and a set batch size), and the calls of a plan: ceil(sites / copies) per protein that fits,
    one per site of a longer one."""
    for fast in (True, False):
        for batch_size in ("auto", 7):
            scorer = LocalScorer(tiny_model, "cpu", batch_size, "fp32", fast=fast)
            for length in (10, 100, 300, 1022):
                assert fc.batch_copies(length + 2, "masked-marginals", batch_size, fast) == \
                    scorer._batch_size_for(length), (fast, batch_size, length)
    assert fc.batch_copies(302, "wt-marginals", "auto", True) == 1
    # 100 residues: 512 // 102 + 1 = 6 copies, 100 sites in 17 calls; 30 residues with 4 sites:
    # 16 copies, one call; 250 residues over a context of 200, 50 sites: 50 calls of 202 tokens
    calls = fc.count_batches([(100, 100), (30, 4), (250, 50)], "masked-marginals", 200,
                             lambda t: fc.batch_copies(t, "masked-marginals", "auto", True))
    assert calls == Counter({102: 17, 32: 1, 202: 50})


# -- the checkpoint's shape ----------------------------------------------------------------------
def test_arch_read_from_checkpoints_without_loading_them(tmp_path):
    new = tmp_path / "new.pt"
    torch.save(make_checkpoint(1, layers=3, embed_dim=48, heads=6), new)
    legacy = tmp_path / "legacy.pt"  # the published ESM-1v files predate torch's zip format
    torch.save(make_checkpoint(1, layers=2, embed_dim=32, heads=4), legacy,
               _use_new_zipfile_serialization=False)
    assert fc.read_arch(new) == fc.Arch(3, 48, 192, 6, "checkpoint args")
    assert fc.read_arch(legacy) == fc.Arch(2, 32, 128, 4, "checkpoint args")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    assert fc.read_arch(tmp_path / "bad.pt") is None


# -- calibration cache ---------------------------------------------------------------------------
class Stub:
    """A calibration that takes no time: ``rate`` FLOP/s, counting its calls."""

    def __init__(self, rate=1e11, how="forward"):
        self.rate, self.how, self.calls = rate, how, []

    def __call__(self, arch, tokens, precision, device, *rest):
        self.calls.append((tokens, precision, device))
        return fc.Measure(self.rate, 0.0, self.how)


def test_calibration_is_cached_per_setting_and_a_corrupt_cache_is_measured_again(tmp_path):
    cache = tmp_path / "calibration.json"
    stub = Stub()
    args = (fc.ESM1V_ARCH, 256, "fp32", "cpu", 2, "masked-marginals", True, "auto")
    assert fc.calibrated(*args, cache=cache, measure_fn=stub)[1] is True
    assert fc.calibrated(*args, cache=cache, measure_fn=stub) == (fc.Measure(1e11, 0.0, "forward"), False)
    other_threads = (fc.ESM1V_ARCH, 256, "fp32", "cpu", 1, "masked-marginals", True, "auto")
    assert fc.calibrated(*other_threads, cache=cache, measure_fn=stub)[1] is True
    assert len(stub.calls) == 2 and len(json.loads(cache.read_text())["entries"]) == 2
    for garbage in ("{not json", '{"version": 1, "entries": {"k": {"flop_per_s": "x"}}}', "[]"):
        cache.write_text(garbage)
        assert fc.calibrated(*args, cache=cache, measure_fn=stub)[1] is True
        assert json.loads(cache.read_text())["version"] == fc.CALIBRATION_VERSION
    assert len(stub.calls) == 5


# -- the printed line ----------------------------------------------------------------------------
def test_line_for_five_models_of_a_300_residue_protein(tmp_path):
    """A fast pass of 302 tokens is 396,963,668,480 FLOP (by hand from the formula in the
    module's docstring): 5 x 300 of them are 595 TFLOP, 5,954 s = ~1.7 h at 100 GFLOP/s; on one
    H100 at 40% of 67 / 989 TFLOP/s: 22.2 s = ~22 s fp32, 1.5 s = ~1.5 s bf16."""
    shards = assign_shards(proteins(p="M" * 300), 200000)
    plan = fc.make_plan(MODELS, shards, lambda p: p.length, "masked-marginals", 1022)
    line = fc.local_line(plan, {m: fc.ESM1V_ARCH for m in MODELS}, "masked-marginals", "fp32", "cpu",
                         2, True, "auto", None, tmp_path / "c.json", Stub(1e11))
    bf16 = ", ~1.7 h bf16" if fc.has_kernels("bf16", "cpu") else ""
    assert line == ("esm1v-scan: forecast: 5 models x 300 positions (1,500 masked passes, 595 TFLOP): "
                    f"~1.7 h fp32{bf16} on this CPU (2 threads per job); ~22 s fp32, ~1.5 s bf16 on one "
                    "H100 (its published peak at 40% use, not measured)")


def test_gpu_lines_calibrated_on_a_gpu_here_else_one_h100(tmp_path):
    """device cuda (or auto) with a GPU on this machine: calibrated there, fp32 and bf16; cuda on a
    submit host without one: the H100 figure only, no CPU time (the jobs will not run on it)."""
    shards = assign_shards(proteins(p="M" * 300), 200000)
    plan = fc.make_plan(MODELS[:1], shards, lambda p: p.length, "masked-marginals", 1022)
    archs = {MODELS[0]: fc.ESM1V_ARCH}
    stub = Stub(1e14)  # 300 x 396.96 GFLOP = 119 TFLOP: 1.2 s at 100 TFLOP/s
    for device in ("cuda", "auto"):
        line = fc.local_line(plan, archs, "masked-marginals", "fp32", device, 8, True, "auto",
                             "NVIDIA H200", tmp_path / f"{device}.json", stub)
        assert line.endswith(": ~1.2 s fp32, ~1.2 s bf16 on this GPU (NVIDIA H200)"), line
    assert {c[2] for c in stub.calls} == {"cuda"}
    line = fc.local_line(plan, archs, "masked-marginals", "bf16", "cuda", 8, True, "auto", None,
                         tmp_path / "none.json", stub)
    assert line.endswith("(300 masked passes, 119 TFLOP): ~4.4 s fp32, ~0.3 s bf16 on one H100 "
                         "(its published peak at 40% use, not measured)"), line


def test_line_when_every_job_has_its_table_measures_nothing(tmp_path):
    shards = assign_shards(proteins(p="M" * 30), 200000)
    plan = fc.make_plan(MODELS[:2], shards, lambda p: p.length, "masked-marginals", 1022,
                        lambda m, s: True)
    stub = Stub()
    line = fc.local_line(plan, {}, "masked-marginals", "fp32", "cpu", 2, True, "auto", None,
                         tmp_path / "c.json", stub)
    assert line == "esm1v-scan: forecast: nothing to score (all 2 scoring jobs have their tables)"
    assert stub.calls == []


def test_bf16_without_kernels_is_labelled(tmp_path, monkeypatch):
    monkeypatch.setattr(fc, "has_kernels", lambda precision, device: precision == "fp32")
    shards = assign_shards(proteins(p="M" * 100), 200000)
    plan = fc.make_plan(MODELS[:1], shards, lambda p: p.length, "wt-marginals", 1022)
    stub = Stub(1e9, how="matmul ratio")
    line = fc.local_line(plan, {MODELS[0]: fc.ESM1V_ARCH}, "wt-marginals", "bf16", "cpu", 1, True,
                         "auto", None, tmp_path / "c.json", stub)
    assert "1 model x 1 protein (1 unmasked pass, " in line
    assert "bf16 (no bf16 matrix kernels on this CPU) on this CPU (1 thread per job)" in line
    assert [c[1] for c in stub.calls] == ["fp32", "bf16"]


def test_biolm_line_counts_requests_by_hand():
    """Proteins of 12 and 3 positions, 5 items per request: 3 + 1 = 4 requests per model. esm1v-all
    with a response cache: the five model jobs share 4 requests; without one each job sends its
    own (20); per-model endpoints: 20. 8 in flight: one round of 2 s for 4, 20 / (8 x 5 jobs)."""
    shards = assign_shards(proteins(a="A" * 12, b="C" * 3), 200000)
    plan = fc.make_plan(MODELS, shards, lambda p: p.length, "masked-marginals", 1022)
    shared = fc.biolm_line(plan, BiolmSettings())
    assert shared.startswith("esm1v-scan: forecast: 5 models x 15 positions via BioLM: 4 requests of "
                             "up to 5 items (esm1v-all, shared by the model jobs); ~2.0 s at 8 requests")
    assert "20 requests of up to 5 items (esm1v-all, no response cache" in fc.biolm_line(
        plan, BiolmSettings(response_cache=None))
    assert "20 requests of up to 5 items (esm1v-n1..n5" in fc.biolm_line(plan, BiolmSettings(endpoint="per-model"))


# -- forecast against a real scan ----------------------------------------------------------------
def test_forecast_is_within_2x_of_a_real_scoring_job(tmp_path):
    """A tiny model (2 layers, width 64) scans two proteins (228 and 22 residues) through the
    scoring job's own function (no score cache); the forecast from a fresh calibration is within
    2x of the time the job took. Three rounds of (calibration, job), the median ratio: other
    processes on a shared machine slow either of them down now and then."""
    name = MODELS[0]
    write_tiny_models(tmp_path / "models", [name], layers=2, embed_dim=64, heads=4)
    prots = proteins(a=UBC * 3, b="MKTAYIAKQRQISFVKSHFSRQ")
    shards = assign_shards(prots, 200000)
    plan = fc.make_plan([name], shards, lambda p: p.length, "masked-marginals", 1022,
                        copies=lambda t: fc.batch_copies(t, "masked-marginals", "auto", True))
    assert sum(plan.passes[name].values()) == 250
    # 228 sites in batches of 3 copies (230 tokens: 512 // 230 + 1), 22 sites in one batch
    assert plan.batches[name] == Counter({230: 76, 24: 1})
    arch = fc.read_arch(tmp_path / "models" / f"{name}.pt")
    loaded = load_model(name, tmp_path / "models", offline=True)
    # one thread, as the workflow's tests run their jobs (two on a shared 2-core machine wait
    # on each other whenever another process takes a core)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rounds = []
    try:
        for k in range(3):
            est = fc.estimate(plan, {name: arch}, "masked-marginals", "fp32", "cpu", 1, True, "auto",
                              cache=tmp_path / f"calibration{k}.json")
            scorer = LocalScorer(loaded, "cpu", "auto", "fp32")
            t0 = time.perf_counter()
            run_scoring_job(scorer, prots, {p.name: list(range(1, p.length + 1)) for p in prots},
                            "masked-marginals", ScoreCache(None), 1022)
            rounds.append((est.seconds["cpu", "fp32"], time.perf_counter() - t0))
            assert scorer.forward_passes == 250
    finally:
        torch.set_num_threads(threads)
    ratios = sorted(real / forecast for forecast, real in rounds)
    print("forecast, real (s):", [(round(f, 2), round(r, 2)) for f, r in rounds])
    assert 0.5 < ratios[1] < 2, rounds


# -- fp16 on a CPU -------------------------------------------------------------------------------
def test_fp16_is_refused_on_a_cpu_only():
    with pytest.raises(InputError, match=r"^config key 'precision': precision fp16 runs on a CPU here, "
                                         r"and CPUs have no fp16 matrix units .*use precision: fp32, "
                                         r"or bf16 .* \(device: cuda\), where fp16 is fast$"):
        check_precision({"backend": "local", "device": "cpu", "precision": "fp16"})
    for ok in ({"device": "cuda", "precision": "fp16"}, {"device": "auto", "precision": "fp16"},
               {"device": "cpu", "precision": "bf16"}, {"device": "cpu", "precision": "fp32"}):
        check_precision({"backend": "local", **ok})
    check_precision({"backend": "biolm", "device": "cpu", "precision": "fp16"})
    # auto that found no GPU: where the jobs run here (onstart), or in the job itself
    with pytest.raises(InputError, match=r"\(device: auto found no CUDA GPU\)$"):
        check_device({"backend": "local", "device": "auto", "precision": "fp16"}, jobs_run_here=True,
                     cuda=lambda: False)
    check_device({"backend": "local", "device": "auto", "precision": "fp16"}, jobs_run_here=False,
                 cuda=lambda: False)
    check_device({"backend": "local", "device": "auto", "precision": "fp16"}, jobs_run_here=True,
                 cuda=lambda: True)
    with pytest.raises(InputError, match="found no CUDA GPU"):
        check_precision({"backend": "local", "device": "auto", "precision": "fp16"}, "cpu")


# -- in the workflow -----------------------------------------------------------------------------
def forecast_lines(proc) -> list[str]:
    return [line for line in (proc.stdout + proc.stderr).splitlines() if "esm1v-scan: forecast:" in line]


def test_workflow_refuses_fp16_on_cpu_before_any_job(base_config, tmp_path):
    """device: cpu at parse time (a dry run too); auto on a machine without a GPU when the run
    starts (jobs run here): one line each, no job runs."""
    proc = run_workflow(tmp_path / "run", {**base_config, "precision": "fp16"}, "-n", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out
    lines = [line for line in out.splitlines() if "esm1v-scan:" in line]
    assert len(lines) == 1 and lines[0].startswith("esm1v-scan: config key 'precision': precision fp16 "
                                                   "runs on a CPU here"), out[-2000:]
    if torch.cuda.is_available():
        return
    auto = {**base_config, "precision": "fp16", "device": "auto", "models": MODELS[:1]}
    proc = run_workflow(tmp_path / "auto", auto, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out
    assert "(device: auto found no CUDA GPU)" in out, out[-2000:]
    assert not (tmp_path / "auto" / "results").exists()


@pytest.mark.slow
def test_workflow_prints_the_forecast_once_in_a_dry_run_and_a_run(base_config, tmp_path):
    """Once in the dry run, once in the run (its local jobs, which parse the Snakefile again,
    print nothing), and a dry run after it finds nothing left to score."""
    config = {**base_config, "models": MODELS[:2]}
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    wd = tmp_path / "run"
    dry = run_workflow(wd, config, "-n", env=env)
    lines = forecast_lines(dry)
    assert len(lines) == 1, dry.stderr[-3000:]
    assert lines[0].startswith("esm1v-scan: forecast: 2 models x 98 positions (196 masked passes, ")
    assert " fp32 on this CPU (1 thread per job); " in lines[0]
    assert (tmp_path / "xdg/esm1v-scan/calibration.json").exists()
    run = run_workflow(wd, config, env=env)
    assert forecast_lines(run) == lines  # same plan, calibration from the cache
    for log in (wd / "logs/score").rglob("*.log"):
        assert "forecast" not in log.read_text()
    again = run_workflow(wd, config, "-n", env=env)
    assert forecast_lines(again) == [
        "esm1v-scan: forecast: nothing to score (all 2 scoring jobs have their tables)"]
