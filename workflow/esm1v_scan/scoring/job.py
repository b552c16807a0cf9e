"""What one scoring job does, for any backend: per protein, take what the cache knows, score the
missing positions, update the cache; the job's result is one long table for its shard.

A backend is any object with ``identity`` (a string naming the model and everything that changes
its numbers) and ``score(sequence, strategy, positions, progress) -> DataFrame`` returning the
table of :mod:`esm1v_scan.scoring.score_tables`. :class:`esm1v_scan.scoring.local.LocalScorer` is one.
"""

from __future__ import annotations

import logging

import pandas as pd

from esm1v_scan.scoring.score_cache import ScoreCache, cache_key
from esm1v_scan.inputs.fasta import Protein
from esm1v_scan.scoring.progress import Progress
from esm1v_scan.scoring.score_tables import as_written, check_finite, long_table

log = logging.getLogger(__name__)


def cache_parts(backend, protein: Protein, strategy: str, window: int) -> dict:
    """What a cache entry is keyed on (see :mod:`esm1v_scan.scoring.score_cache`)."""
    parts = {
        "backend": backend.identity,
        "strategy": strategy,
        # the window only changes the numbers of proteins longer than it
        "window": window if protein.length > window else None,
        "sequence_sha256": protein.sha256,
    }
    # ProteinGym's windows (config long_windows) give other numbers than the default ones for
    # those proteins: their own key part (absent for the default, so existing entries stay valid)
    long_windows = getattr(backend, "long_windows", "esm1v-scan")
    if long_windows != "esm1v-scan" and protein.length > window:
        parts["long_windows"] = long_windows
    return parts


def score_protein(backend, protein: Protein, strategy: str, positions: list[int], cache: ScoreCache,
                  window: int, progress: Progress | None = None) -> pd.DataFrame:
    """The table of ``protein`` at ``positions``: from the cache what it has, the rest scored
    (and stored)."""
    parts = cache_parts(backend, protein, strategy, window)
    key = cache_key(**parts)
    known = cache.load(key, protein.sequence)
    have = set() if known is None else set(int(p) for p in known["position"].unique())
    if strategy == "wt-marginals":  # one pass gives every position: all or nothing
        missing = [] if set(positions) <= have else list(range(1, protein.length + 1))
        from_cache = 0 if missing else protein.length
    else:
        missing = [p for p in positions if p not in have]
        from_cache = len(positions) - len(missing)
    if progress and from_cache:
        progress.update(from_cache, cached=True)
    if missing:
        cache.misses += 1
        fresh = backend.score(protein.sequence, strategy, missing, progress)
        # never cached nor written: a non-finite number would flow into every table downstream
        check_finite(fresh, protein.id, getattr(backend, "name", backend.identity))
        merged = fresh if known is None else pd.concat([known, fresh], ignore_index=True)
        merged = merged.sort_values(["position"], kind="stable").reset_index(drop=True)
        merged = cache.store(key, merged, {**parts, "id": protein.id, "length": protein.length},
                             protein.sequence)
        log.info("%s: scored %d positions (%d from cache)", protein.id, len(missing), len(have))
    else:
        cache.hits += 1
        merged = known
        log.info("%s: all %d positions from cache", protein.id, len(positions))
    table = merged[merged["position"].isin(set(positions))]
    return as_written(table.reset_index(drop=True))  # cached or fresh: the same digits


def run_scoring_job(backend, proteins: list[Protein], positions: dict[str, list[int]], strategy: str,
                    cache: ScoreCache, window: int, progress_every: float = 30.0) -> pd.DataFrame:
    """Score every protein of a shard; progress (positions done of total, rate, ETA) goes to the
    log every ``progress_every`` seconds.

    Returns the shard's long table: columns name, sequence_id, then the table columns of
    :mod:`esm1v_scan.scoring.score_tables`, proteins in the given order. It depends on the inputs only (what
    came from the cache goes to the log), so a resumed run writes the same bytes as a clean one."""
    total = sum(len(positions[p.name]) if strategy == "masked-marginals" else p.length for p in proteins)
    progress = Progress(total, f"{getattr(backend, 'name', 'model')}", every=progress_every)
    passes_before = getattr(backend, "forward_passes", None)
    parts = []
    for protein in proteins:
        table = score_protein(backend, protein, strategy, positions[protein.name], cache, window,
                              progress)
        parts.append(long_table(protein.name, protein.id, table))
    passes = "" if passes_before is None else f", {backend.forward_passes - passes_before} forward passes"
    log.info("done: %d sequences, %d cache hits, %d scored%s", len(proteins), cache.hits, cache.misses,
             passes)
    return pd.concat(parts, ignore_index=True)
