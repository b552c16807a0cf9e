"""Throughput of the BioLM backend against the stand-in server with a fixed latency per request.

    python benchmarks/biolm_throughput.py [--latency 0.1] [--repeats 4] [--no-workflow]

The stand-in (tests/biolm_standin.py) runs in its own process, so that client and server do not
share one interpreter lock; its answers are computed once before the clock starts (a warm-up
pass), so the figures measure the client and the latency, not the tiny model on a busy CPU.

1. Requests per second one scoring job achieves with 1, 4 and 16 requests in flight, against the
   ideal in_flight / latency: a 300-residue protein (60 requests of 5 items, one model), scored
   several times with a fresh response cache (4 times at 16 in flight, once at 1 and 4), as a job
   with several proteins would.
2. A rerun with the response cache in place: requests sent (must be 0).
3. The whole workflow (5 models, esm1v-all, the same protein): requests of the first run and of a
   full rerun after deleting results/ and the score cache (must be 0).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from esm1v_scan.scoring.biolm import BiolmScorer, BiolmSettings, ResponseCache  # noqa: E402
from esm1v_scan.inputs.fasta import AMINO_ACIDS  # noqa: E402
from esm1v_scan.scoring.models import ESM1V_MODELS  # noqa: E402
from esm1v_scan.scoring.tiny_models import write_tiny_models  # noqa: E402

ITEMS = 5
LENGTH = 300


def stats(url: str) -> dict:
    root = url.rsplit("/api/", 1)[0]
    with urllib.request.urlopen(f"{root}/_stats") as resp:
        return json.load(resp)


def throughput(url: str, token: str, tmp: Path, seq: str, latency: float, repeats: int) -> None:
    def settings(in_flight, cache):
        return BiolmSettings(base_url=url, endpoint="per-model", items_per_request=ITEMS,
                             max_in_flight=in_flight, response_cache=str(cache))

    BiolmScorer(ESM1V_MODELS[0], token, settings(16, tmp / "warm")).score(seq)  # compute the answers
    print(f"## one job, 1 model, {LENGTH} residues = {LENGTH // ITEMS} requests of {ITEMS} items per "
          f"protein; {latency * 1000:.0f} ms latency per request")
    print(f"{'in flight':>9} {'requests':>8} {'seconds':>8} {'req/s':>7} {'ideal':>7} {'achieved':>8} "
          f"{'peak':>5} {'client CPU ms/req':>17} {'rerun':>6}")
    for in_flight in (1, 4, 16):
        n = max(1, in_flight * repeats // 16)  # about as many rounds of in-flight requests for each row
        before = stats(url)["requests"]  # (also starts a new peak count)
        t0, cpu0 = time.perf_counter(), time.process_time()
        scorer = BiolmScorer(ESM1V_MODELS[0], token, settings(in_flight, tmp / f"r{in_flight}_0"))
        for r in range(n):  # one job, several proteins: the same scorer, an empty cache each time
            scorer.cache = ResponseCache(tmp / f"r{in_flight}_{r}")
            scorer.score(seq)
        dt, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        st = stats(url)
        sent = st["requests"] - before
        again = BiolmScorer(ESM1V_MODELS[0], token, settings(in_flight, tmp / f"r{in_flight}_0"))
        again.score(seq)
        rate, ideal = sent / dt, in_flight / latency
        print(f"{in_flight:>9} {sent:>8} {dt:>8.2f} {rate:>7.1f} {ideal:>7.1f} {rate / ideal:>8.0%} "
              f"{st['peak_active']:>5} {1000 * cpu / sent:>17.1f} {again.client.requests:>6}")


def workflow(url: str, token: str, tmp: Path, seq: str) -> None:
    wd = tmp / "wf"
    wd.mkdir()
    (wd / "in.fasta").write_text(f">bench_{LENGTH}\n{seq}\n")
    config = {"sequences": "in.fasta", "models": list(ESM1V_MODELS), "backend": "biolm",
              "cache_dir": "score_cache", "biolm": {"base_url": url, "max_in_flight": 8,
                                                     "response_cache": "biolm_cache"}}
    (wd / "config.yaml").write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(wd),
           "--configfile", str(wd / "config.yaml"), "--cores", "2", "--quiet"]
    env = {**os.environ, "BIOLMAI_TOKEN": token}
    print(f"\n## workflow: {LENGTH} residues x 5 models, esm1v-all, 8 in flight per job, --cores 2")
    for run in ("first run", "full rerun (results/ and score cache deleted)"):
        before = stats(url)["requests"]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, env=env, capture_output=True)
        print(f"{run}: {stats(url)['requests'] - before} requests, {time.perf_counter() - t0:.1f} s "
              "wall (Snakemake start-up included)")
        shutil.rmtree(wd / "results")
        shutil.rmtree(wd / "score_cache")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.1, help="seconds added to every request")
    ap.add_argument("--repeats", type=int, default=4, help="proteins scored at 16 in flight (fewer below)")
    ap.add_argument("--no-workflow", action="store_true", help="skip the workflow figure")
    a = ap.parse_args(argv)
    token = secrets.token_hex(16)
    seq = "".join(random.Random(7).choices(AMINO_ACIDS, k=LENGTH))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_tiny_models(tmp / "models")
        server = subprocess.Popen(
            [sys.executable, str(REPO / "tests/biolm_standin.py"), "--models", str(tmp / "models"),
             "--token", token, "--latency", str(a.latency)], stdout=subprocess.PIPE, text=True)
        try:
            url = server.stdout.readline().strip().split("=", 1)[1]
            # the workflow's esm1v-all answers for all five models, computed before any clock runs
            BiolmScorer(ESM1V_MODELS[0], token, BiolmSettings(base_url=url, max_in_flight=16,
                                                              response_cache=None)).score(seq)
            throughput(url, token, tmp, seq, a.latency, a.repeats)
            if not a.no_workflow:
                workflow(url, token, tmp, seq)
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
