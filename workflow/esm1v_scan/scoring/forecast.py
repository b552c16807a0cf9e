"""The cost forecast printed at the start of a run and in a dry run: forward passes, FLOPs and the
expected time of the scoring jobs still to run, per precision, on this machine.

What it counts (:func:`count_passes`), per model and shard, as :class:`~esm1v_scan.scoring.local.LocalScorer`
runs it:

- masked-marginals: one forward pass per scored position (a masked copy; copies are stacked into
  batches, but each copy is one pass here, as ``LocalScorer.forward_passes`` counts them), of
  ``min(length, max_residues) + 2`` tokens: a protein longer than the context is scored on a window
  of ``max_residues + 2`` tokens per site, in both ``long_windows`` modes.
- wt-marginals: one unmasked pass per protein, or one per window of
  :func:`~esm1v_scan.scoring.planning.wt_windows` for a protein longer than the context.

FLOPs (:func:`pass_flop`; a multiply-add is 2 FLOP) from the architecture in the checkpoint's
``args`` (read without torch, :func:`read_arch`), else the published ESM-1v shape (33 layers,
embed E = 1280, FFN F = 5120, 20 heads, V = 33 tokens). For a pass of T tokens, one layer costs
``T (8 E^2 + 4 E F) + 4 T^2 E`` (q, k, v and output projections, the two FFN matrices, then
q k^T and attention x v). fair-esm's plain forward (wt-marginals, ``fast_path: false``) runs every
layer at every token and the LM head (``2 E^2 + 2 E V`` per token) at every token. The fast
masked-marginal forward runs the last layer's keys and values at every token (``4 T E^2``) but its
query, output, FFN, attention and the head at the masked token only.

Time: FLOPs over the rate a calibration measured, plus a fixed time per forward call times the
calls (:func:`measure`, :func:`count_batches`). The calibration runs the scorer itself on a
random-weight model of the same width (at most 2 layers: one whole, one last) at the plan's
typical window (its passes' median token count, on a grid 9% apart), with one masked copy and
with the batch the scan uses at that length; the two times give the rate and the per-call time
(what a tiny model's scan spends most on). About 0.5-4 s per precision at ESM-1v's width on 2
cores; cached per machine (CPU model, CPU count, threads, torch version, shape) in
``$XDG_CACHE_HOME/esm1v-scan/calibration.json`` (default ``~/.cache``). An unreadable cache is
measured again. A GPU on this machine is calibrated the same way; without one, the GPU figure is
one H100 from its published peak (:data:`H100_PEAK`, at :data:`H100_USE`). Not counted: starting
a job and loading its checkpoint (seconds per job), the score cache's hits (a protein scored
before costs nothing).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import pickle
import platform
import statistics
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from esm1v_scan.files import write_text
from esm1v_scan.scoring.planning import wt_windows

#: bump when the calibration measures something else: older cache entries are then ignored
CALIBRATION_VERSION = 2
VOCAB = 33  # ESM-1v's alphabet


@dataclass(frozen=True)
class Arch:
    layers: int
    embed_dim: int
    ffn_dim: int
    heads: int
    source: str = "ESM-1v shape"


#: the published ESM-1v models (all five): esm1v_t33_650M_UR90S_*
ESM1V_ARCH = Arch(33, 1280, 5120, 20)


# -- the architecture of a checkpoint, without torch -----------------------------------------------
class _Stub:
    """Stands for every torch object in a checkpoint's pickle (tensors, storages): nothing is run."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


class _ArgsUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("argparse", "Namespace"):
            return argparse.Namespace
        if (module, name) == ("collections", "OrderedDict"):
            import collections

            return collections.OrderedDict
        return _Stub

    def persistent_load(self, pid):
        return None


def _checkpoint_object(path: Path):
    """The pickled object of a torch checkpoint, tensors replaced by stubs (no data read)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            name = next(n for n in zf.namelist() if n.endswith("/data.pkl") or n == "data.pkl")
            with zf.open(name) as fh:
                return _ArgsUnpickler(fh).load()
    with open(path, "rb") as fh:  # legacy format: magic, protocol, sys info, then the object
        for _ in range(3):
            _ArgsUnpickler(fh).load()
        return _ArgsUnpickler(fh).load()


def read_arch(path) -> Arch | None:
    """Layers, widths and heads from an ESM-1v checkpoint's ``args`` (None when unreadable)."""
    try:
        obj = _checkpoint_object(Path(path))
        a = vars(obj["args"])
        embed = int(a["encoder_embed_dim"])
        return Arch(int(a["encoder_layers"]), embed, int(a.get("encoder_ffn_embed_dim") or 4 * embed),
                    int(a["encoder_attention_heads"]), "checkpoint args")
    except Exception:  # noqa: BLE001 - any unreadable file: the caller falls back to ESM-1v's shape
        return None


# -- counting ----------------------------------------------------------------------------------------
def layer_flop(arch: Arch, tokens: int) -> float:
    """One transformer layer over ``tokens`` tokens: projections, FFN, q k^T and attention x v."""
    e, f = arch.embed_dim, arch.ffn_dim
    return tokens * (8 * e * e + 4 * e * f) + 4 * tokens * tokens * e


def pass_flop(arch: Arch, tokens: int, fast: bool) -> float:
    """FLOPs of one forward pass of ``tokens`` tokens (``fast``: the masked-marginal forward that
    computes the last layer's output and the head at the masked token only)."""
    e, f, t = arch.embed_dim, arch.ffn_dim, tokens
    head = 2 * e * e + 2 * e * VOCAB
    if not fast:
        return arch.layers * layer_flop(arch, t) + t * head
    last = 4 * t * e * e + (4 * e * e + 4 * e * f) + 4 * t * e
    return (arch.layers - 1) * layer_flop(arch, t) + last + head


def count_passes(proteins: Iterable[tuple[int, int]], strategy: str, max_residues: int) -> Counter:
    """Forward passes by token count, ``{tokens: passes}``, for ``(length, positions to score)``
    per protein (see the module's docstring)."""
    out: Counter = Counter()
    for length, n_positions in proteins:
        tokens = min(length, max_residues) + 2
        if strategy == "masked-marginals":
            if n_positions:
                out[tokens] += n_positions
        else:
            out[tokens] += len(wt_windows(length, max_residues))
    return out


def batch_copies(tokens: int, strategy: str, batch_size, fast: bool, device: str = "cpu") -> int:
    """Masked copies per forward pass, as :meth:`LocalScorer._batch_size_for
    <esm1v_scan.scoring.local.LocalScorer._batch_size_for>` picks them (on a GPU its memory rule
    is not known before the job: the ~64k tokens per pass it caps at)."""
    if strategy != "masked-marginals":
        return 1
    if batch_size != "auto":
        return max(1, int(batch_size))
    if device == "cuda":
        return max(1, 65536 // tokens)
    return -(-512 // tokens) if fast else max(1, 1024 // tokens)


def count_batches(proteins: Iterable[tuple[int, int]], strategy: str, max_residues: int,
                  copies: Callable[[int], int]) -> Counter:
    """Forward calls by token count: a protein that fits is cut into ``ceil(sites / copies)``
    equal batches, as the scorer cuts it; each site of a longer protein is counted as a call of
    its own (most have a window of their own; an upper bound)."""
    out: Counter = Counter()
    for length, n_positions in proteins:
        tokens = min(length, max_residues) + 2
        if strategy != "masked-marginals":
            out[tokens] += len(wt_windows(length, max_residues))
        elif n_positions:
            out[tokens] += n_positions if length > max_residues else -(-n_positions // copies(tokens))
    return out


def total_flop(passes: Counter, arch: Arch, fast: bool) -> float:
    return sum(n * pass_flop(arch, t, fast) for t, n in passes.items())


# -- calibration -------------------------------------------------------------------------------------
def cache_file() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "esm1v-scan" / "calibration.json"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def gpu_name() -> str | None:
    """The first NVIDIA GPU's name from the driver's files (no torch), None without one."""
    root = Path("/proc/driver/nvidia/gpus")
    try:
        for info in sorted(root.glob("*/information")):
            for line in info.read_text().splitlines():
                if line.startswith("Model:"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def torch_version() -> str:
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "none"


def bucket(tokens: float) -> int:
    """The calibration length for a plan whose typical pass has ``tokens`` tokens: the nearest
    point of a grid 9% apart (2^(k/8)), from 32 to 1,024 tokens, so that plans of similar lengths
    share a calibration while each is measured at nearly its own shape and batch."""
    k = round(8 * math.log2(min(max(tokens, 32), 1024)))
    return int(round(2 ** (k / 8)))


def typical_tokens(passes: Counter) -> int:
    """The passes-weighted median token count."""
    total, seen = sum(passes.values()), 0
    for tokens in sorted(passes):
        seen += passes[tokens]
        if 2 * seen >= total:
            return tokens
    return 32


@dataclass
class Measure:
    flop_per_s: float  # the rate of the passes' FLOPs
    seconds: float  # what the calibration itself took
    how: str  # "forward" or "matmul ratio"
    batch_s: float = 0.0  # the time of one forward call besides its FLOPs (Python, small ops)


def load_cache(path: Path) -> dict:
    """The cache's entries; {} for a missing, unreadable or corrupt file (then measured again)."""
    try:
        data = json.loads(path.read_text())
        entries = data["entries"]
        if data.get("version") != CALIBRATION_VERSION or not isinstance(entries, dict):
            return {}
        return {k: Measure(**v) for k, v in entries.items()
                if isinstance(v, dict) and float(v.get("flop_per_s", 0)) > 0}
    except Exception:  # noqa: BLE001 - corrupt in any way: measure again
        return {}


def save_cache(path: Path, entries: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = load_cache(path)  # another run may have added entries meanwhile
        fresh.update(entries)
        write_text(path, json.dumps({"version": CALIBRATION_VERSION,
                                     "entries": {k: asdict(v) for k, v in fresh.items()}},
                                    indent=1, sort_keys=True) + "\n")
    except OSError:  # a read-only home: measure again next time
        pass


def _model(arch: Arch, layers: int):
    import esm

    from esm1v_scan.scoring.models import LoadedModel

    alphabet = esm.Alphabet.from_architecture("roberta_large")
    args = argparse.Namespace(layers=layers, embed_dim=arch.embed_dim, ffn_embed_dim=arch.ffn_dim,
                              attention_heads=arch.heads, max_positions=1024, token_dropout=True,
                              dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
                              final_bias=True, arch="roberta_large")
    model = esm.ProteinBertModel(args, alphabet).eval()
    return LoadedModel("calibration", model, alphabet, "random weights", "calibration")


def has_kernels(precision: str, device: str) -> bool:
    """Whether this device multiplies matrices in ``precision`` at speed: GPUs do all three; a
    CPU does fp32, and bf16 where oneDNN has kernels for it (AVX512-BF16, AMX, AVX512)."""
    if device != "cpu" or precision == "fp32":
        return True
    if precision == "fp16":
        return False
    import torch

    from esm1v_scan.scoring.fast_forward import onednn_available

    return onednn_available(torch.bfloat16)


def _mm_rate(dtype, n: int, device: str) -> float:
    import torch

    a = torch.randn(64, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    torch.mm(a, b)
    best = math.inf
    for _ in range(2):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * 64 * n * n / best


def lower_quartile(times: list[float]) -> float:
    """The time a call takes when the machine is not busy with something else (other processes
    come and go on a shared machine): the lower quartile, not the mean."""
    return statistics.quantiles(times, n=4, method="inclusive")[0] if len(times) > 1 else times[0]


def measure(arch: Arch, tokens: int, precision: str, device: str, threads: int, strategy: str,
            fast: bool, batch_size) -> Measure:
    """FLOP/s of this scorer at this shape, precision and thread count, measured (see module)."""
    import torch

    from esm1v_scan.scoring.fast_forward import DTYPES
    from esm1v_scan.scoring.local import LocalScorer

    started = time.perf_counter()
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, threads))
    try:
        if not has_kernels(precision, device):
            # no matrix kernels (bf16/fp16 on an AVX2 CPU): a forward would take minutes; scale
            # the fp32 forward by the two precisions' matrix-multiply rates
            base = measure(arch, tokens, "fp32", device, threads, strategy, fast, batch_size)
            n = min(arch.embed_dim, 512)
            ratio = _mm_rate(DTYPES[precision], n, device) / _mm_rate(torch.float32, n, device)
            return Measure(base.flop_per_s * ratio, time.perf_counter() - started, "matmul ratio",
                           base.batch_s)
        layers = min(arch.layers, 2)
        small = Arch(layers, arch.embed_dim, arch.ffn_dim, arch.heads)
        torch.manual_seed(0)
        scorer = LocalScorer(_model(arch, layers), device, batch_size, precision, fast=fast)
        length = tokens - 2
        sequence = ("MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQFEVVHSLAKWKRQTLGQHDFSAGEGLYTHMKALRPDEDRLSPLHSVYVDQWDWERVMGDGERQFSTLKSTVEAIWAGIKATEAAVSEEFGLAPFLPDQIHFVHSQELLSRYPDLDAKGRERAIAKDLGAVFLVGIGGKLSDGHRHDVRAPDYDDWUAG" * 4)[:length]
        fast_pass = strategy == "masked-marginals" and scorer.fast is not None
        if strategy == "masked-marginals":
            batch = min(length, scorer._batch_size_for(length))
            runs = {n: (lambda n=n: scorer.masked_marginals(sequence, list(range(1, n + 1))))
                    for n in sorted({1, batch})}
        else:
            batch = 1
            runs = {1: lambda: scorer.wt_marginals(sequence)}
        for run in runs.values():
            run()  # warm-up: kernels chosen for the shape, weights cast, caches filled
        times: dict = {n: [] for n in runs}
        # small models take milliseconds per call, noisy: repeat for half a second (at most 50)
        while len(times[batch]) < 50 and (len(times[batch]) < 1 or sum(map(sum, times.values())) < 0.5):
            for n, run in runs.items():
                if device == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                run()
                if device == "cuda":
                    torch.cuda.synchronize()
                times[n].append(time.perf_counter() - t0)
        one_pass = pass_flop(small, tokens, fast_pass)
        t_batch = lower_quartile(times[batch])
        if batch == 1:
            return Measure(one_pass / t_batch, time.perf_counter() - started, "forward")
        # two points, 1 and `batch` copies: t = batch_s + copies x (one copy's FLOPs / rate)
        per_copy = (t_batch - lower_quartile(times[1])) / (batch - 1)
        per_copy = min(max(per_copy, 0.2 * t_batch / batch), t_batch / batch)  # noise: keep it sane
        batch_s = t_batch - batch * per_copy
        return Measure(one_pass / per_copy, time.perf_counter() - started, "forward", batch_s)
    finally:
        torch.set_num_threads(before)


def calibrated(arch: Arch, tokens: int, precision: str, device: str, threads: int, strategy: str,
               fast: bool, batch_size, cache: Path | None = None,
               measure_fn: Callable[..., Measure] = measure) -> tuple[Measure, bool]:
    """(the rate, whether it was measured now): from the cache when it has this machine, shape
    and setting, else measured and stored."""
    where = f"cpu:{cpu_name()}:{os.cpu_count()} cpus:{threads} threads" if device == "cpu" else \
        f"cuda:{gpu_name()}"
    path = "fast" if (fast and strategy == "masked-marginals") else "plain"
    key = "|".join(str(x) for x in (
        where, f"torch {torch_version()}",
        f"{arch.embed_dim}x{arch.ffn_dim}x{arch.heads}x{min(arch.layers, 2)}",
        strategy, path, f"T={tokens}", f"batch={batch_size}", precision))
    cache = cache or cache_file()
    entries = load_cache(cache)
    if key in entries:
        return entries[key], False
    got = measure_fn(arch, tokens, precision, device, threads, strategy, fast, batch_size)
    save_cache(cache, {key: got})
    return got, True


# -- H100 from published figures ---------------------------------------------------------------------
#: H100 SXM dense peaks from NVIDIA's data sheet, FLOP/s (fp32 without TF32: torch's default)
H100_PEAK = {"fp32": 67e12, "bf16": 989e12, "fp16": 989e12}
#: the share of the peak assumed for a forward pass (not measured)
H100_USE = 0.4


# -- the line ----------------------------------------------------------------------------------------
def duration(seconds: float) -> str:
    if seconds < 0.1:
        return "<0.1 s"
    if seconds < 10:
        return f"~{seconds:.1f} s"
    if seconds < 90:
        return f"~{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"~{seconds / 60:.0f} min"
    return f"~{seconds / 3600:.1f} h"


def flops(x: float) -> str:
    for unit, scale in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6)):
        if x >= scale:
            return f"{x / scale:,.{0 if x >= 100 * scale else 1}f} {unit}"
    return f"{x:,.0f} FLOP"


@dataclass
class Plan:
    """What the forecast counts: per (model, shard) still to run, its passes by token count."""

    models: list[str]
    positions: int  # positions scored per model over the shards still to run
    proteins: int
    passes: dict  # model -> Counter {tokens: passes}
    batches: dict  # model -> Counter {tokens: forward calls}
    sites: dict  # model -> positions per protein still to score (BioLM: items)
    jobs: int  # (model, shard) jobs still to run
    jobs_total: int


def make_plan(models: list[str], shards, positions_of: Callable, strategy: str, max_residues: int,
              done: Callable[[str, str], bool] = lambda m, s: False,
              copies: Callable[[int], int] = lambda tokens: 1) -> Plan:
    """``shards``: planning.Shard objects; ``positions_of(protein)``: how many positions it scores;
    ``done(model, shard_id)``: whether that job has its output already (not counted);
    ``copies(tokens)``: masked copies per forward call (:func:`batch_copies`)."""
    per_shard, per_shard_calls = {}, {}
    for s in shards:
        sites = [(p.length, positions_of(p)) for p in s.proteins]
        per_shard[s.id] = count_passes(sites, strategy, max_residues)
        per_shard_calls[s.id] = count_batches(sites, strategy, max_residues, copies)
    passes: dict = {m: Counter() for m in models}
    batches: dict = {m: Counter() for m in models}
    sites: dict = {m: [] for m in models}
    jobs, seen_shards = 0, set()
    for m in models:
        for s in shards:
            if done(m, s.id):
                continue
            jobs += 1
            passes[m].update(per_shard[s.id])
            batches[m].update(per_shard_calls[s.id])
            sites[m] += [positions_of(p) for p in s.proteins]
            seen_shards.add(s.id)
    todo = [s for s in shards if s.id in seen_shards]
    return Plan(models, sum(positions_of(p) for s in todo for p in s.proteins),
                sum(len(s.proteins) for s in todo), passes, batches, sites, jobs, len(models) * len(shards))


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 'es' if word.endswith('s') else 's'}"


def _head(plan: Plan, strategy: str, flop: float) -> str:
    n_passes = sum(sum(c.values()) for c in plan.passes.values())
    masked = strategy == "masked-marginals"
    what = plural(plan.positions, "position") if masked else plural(plan.proteins, "protein")
    kind = "masked pass" if masked else "unmasked pass"
    head = f"{plural(len(plan.models), 'model')} x {what} ({plural(n_passes, kind)}, {flops(flop)})"
    if plan.jobs < plan.jobs_total:
        head += f", {plan.jobs} of {plan.jobs_total} scoring jobs (the others have their tables)"
    return head


@dataclass
class Estimate:
    """The forecast of the local backend: FLOPs, and seconds per (where, precision)."""

    flop: float
    seconds: dict  # (where, precision) -> seconds; where: "cpu", "cuda" or "h100"
    how: dict  # (where, precision) -> "forward", "matmul ratio" or "published peak"


def estimate(plan: Plan, archs: dict, strategy: str, precision: str, device: str, threads: int,
             fast: bool, batch_size, gpu_here: str | None = None, cache: Path | None = None,
             measure_fn: Callable[..., Measure] = measure) -> Estimate:
    """Seconds of the plan's passes: on this machine's GPU when the jobs take one and it has one,
    on this CPU otherwise (fp32, and bf16 where it has bf16 kernels or is configured), and on one
    H100 from its published peak."""
    fast = fast and strategy == "masked-marginals"
    flop = sum(total_flop(plan.passes[m], archs[m], fast) for m in plan.models)
    calls = sum(sum(c.values()) for c in plan.batches.values())
    all_passes: Counter = Counter()
    for c in plan.passes.values():
        all_passes.update(c)
    tokens = bucket(typical_tokens(all_passes))
    arch = archs[plan.models[0]]
    seconds, how = {}, {}
    if device == "cuda" or (device == "auto" and gpu_here):
        if gpu_here:
            for prec in [precision] + (["bf16"] if precision == "fp32" else []):
                rate, _ = calibrated(arch, tokens, prec, "cuda", threads, strategy, fast, batch_size,
                                     cache, measure_fn)
                seconds["cuda", prec] = flop / rate.flop_per_s + calls * rate.batch_s
                how["cuda", prec] = rate.how
    else:
        try:
            precisions = ["fp32"]
            if precision == "bf16" or (precision == "fp32" and has_kernels("bf16", "cpu")):
                precisions.append("bf16")
            for prec in precisions:
                rate, _ = calibrated(arch, tokens, prec, "cpu", threads, strategy, fast, batch_size,
                                     cache, measure_fn)
                seconds["cpu", prec] = flop / rate.flop_per_s + calls * rate.batch_s
                how["cpu", prec] = rate.how
        except ImportError:  # Snakemake runs without torch (the jobs use envs/scoring.yaml)
            how["cpu", None] = "no torch"
    if ("cuda", precision) not in seconds:
        for prec in ["fp32", "bf16"] if precision != "fp16" else ["fp16"]:
            seconds["h100", prec] = flop / (H100_PEAK[prec] * H100_USE)
            how["h100", prec] = "published peak"
    return Estimate(flop, seconds, how)


def local_line(plan: Plan, archs: dict, strategy: str, precision: str, device: str, threads: int,
               fast: bool, batch_size, gpu_here: str | None = None, cache: Path | None = None,
               measure_fn: Callable[..., Measure] = measure) -> str:
    """The forecast line of the local backend (see the module's docstring)."""
    if plan.jobs == 0:
        return f"esm1v-scan: forecast: nothing to score (all {plan.jobs_total} scoring jobs have their tables)"
    est = estimate(plan, archs, strategy, precision, device, threads, fast, batch_size, gpu_here,
                   cache, measure_fn)
    parts = []
    for where, label in (("cuda", f"on this GPU ({gpu_here})"),
                         ("cpu", f"on this CPU ({threads} thread{'s' if threads != 1 else ''} per job)"),
                         ("h100", f"on one H100 (its published peak at {H100_USE:.0%} use, not measured)")):
        times = []
        for (w, prec), sec in est.seconds.items():
            if w == where:
                note = " (no bf16 matrix kernels on this CPU)" if est.how[w, prec] == "matmul ratio" else ""
                times.append(f"{duration(sec)} {prec}{note}")
        if times:
            parts.append(f"{', '.join(times)} {label}")
        elif where == "cpu" and ("cpu", None) in est.how:
            parts.append("CPU time not measured (no torch where Snakemake runs)")
    return f"esm1v-scan: forecast: {_head(plan, strategy, est.flop)}: {'; '.join(parts)}"


#: seconds one BioLM request is assumed to take (not measured; BioLM publishes no latency)
BIOLM_REQUEST_S = 2.0


def biolm_line(plan: Plan, settings) -> str:
    """The forecast line of the BioLM backend: requests, and the time at ``max_in_flight``
    requests at once, each taking :data:`BIOLM_REQUEST_S` (assumed: BioLM publishes no latency;
    its rate limit, ``GET {base}/schema/{slug}/predict/``, is not read offline)."""
    if plan.jobs == 0:
        return f"esm1v-scan: forecast: nothing to score (all {plan.jobs_total} scoring jobs have their tables)"
    per = int(settings.items_per_request)
    requests = {m: sum(-(-n // per) for n in plan.sites[m]) for m in plan.models}
    if settings.endpoint == "all":
        # one esm1v-all request answers the five models: with a response cache the model jobs
        # share it, without one each model job asks again
        total = max(requests.values()) if settings.response_cache else sum(requests.values())
        how = "esm1v-all, shared by the model jobs" if settings.response_cache else \
            "esm1v-all, no response cache: each model job asks again"
    else:
        total = sum(requests.values())
        how = "esm1v-n1..n5, one request per model"
    jobs = len(plan.models) if settings.endpoint != "all" or not settings.response_cache else 1
    seconds = math.ceil(total / (int(settings.max_in_flight) * jobs)) * BIOLM_REQUEST_S
    return (f"esm1v-scan: forecast: {plural(len(plan.models), 'model')} x "
            f"{plural(plan.positions, 'position')} "
            f"via BioLM: {total:,} requests of up to {per} items ({how}); {duration(seconds)} at "
            f"{settings.max_in_flight} requests in flight per job and an assumed "
            f"{BIOLM_REQUEST_S:.0f} s per request (not measured; BioLM's rate limit can make it longer)")


def forecast_line(config: dict, shards, positions_of: Callable, threads: int,
                  done: Callable[[str, str], bool], cache: Path | None = None,
                  measure_fn: Callable[..., Measure] = measure) -> str:
    """The run's forecast line, from its config and shards (rules/common.smk prints it)."""
    models = list(config["models"])
    fast = bool(config.get("fast_path", True))
    gpu = gpu_name()
    on = "cuda" if config["device"] == "cuda" or (config["device"] == "auto" and gpu) else "cpu"
    plan = make_plan(models, shards, positions_of, config["strategy"], config["max_residues"], done,
                     lambda t: batch_copies(t, config["strategy"], config["batch_size"], fast, on))
    if config["backend"] == "biolm":
        from esm1v_scan.scoring.biolm import BiolmSettings

        return biolm_line(plan, BiolmSettings.from_config(config.get("biolm")))
    archs = {}
    for m in models:
        path = Path(config["model_dir"] or ".") / f"{m}.pt"
        archs[m] = (read_arch(path) if config["model_dir"] and path.exists() else None) or ESM1V_ARCH
    return local_line(plan, archs, config["strategy"], config["precision"], config["device"],
                      threads, fast, config["batch_size"], gpu, cache, measure_fn)
