"""What one scoring job does, for any backend: per protein, take what the cache knows, score the
missing positions, update the cache, write the per-model table atomically.

A backend is any object with ``identity`` (a string naming the model and everything that changes
its numbers) and ``score(sequence, strategy, positions, progress) -> DataFrame`` returning the
table of :mod:`esm1v_scan.tables`. :class:`esm1v_scan.scoring.LocalScorer` is one.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from .cache import ScoreCache, cache_key
from .fasta import Protein
from .scoring import Progress
from .tables import write_table

log = logging.getLogger(__name__)


def score_protein(backend, protein: Protein, strategy: str, positions: list[int], cache: ScoreCache,
                  window: int, progress: Progress | None = None) -> pd.DataFrame:
    parts = {
        "backend": backend.identity,
        "strategy": strategy,
        "window": window if protein.length > window else None,
        "sequence_sha256": protein.sha256,
    }
    key = cache_key(**parts)
    known = cache.load(key)
    have = set() if known is None else set(known["position"].unique())
    if strategy == "wt-marginals":
        missing = [] if set(positions) <= have else list(range(1, protein.length + 1))
    else:
        missing = [p for p in positions if p not in have]
    if missing:
        cache.misses += 1
        fresh = backend.score(protein.sequence, strategy, missing, progress)
        merged = fresh if known is None else pd.concat([known, fresh], ignore_index=True)
        merged = merged.sort_values(["position", "mt"], kind="stable").reset_index(drop=True)
        cache.store(key, merged, {**parts, "id": protein.id, "length": protein.length})
        log.info("%s: scored %d positions (%d from cache)", protein.id, len(missing), len(have))
    else:
        cache.hits += 1
        merged = known
        log.info("%s: all %d positions from cache", protein.id, len(positions))
        if progress:
            progress.update(len(positions) if strategy == "masked-marginals" else protein.length)
    table = merged[merged["position"].isin(set(positions))]
    return table.reset_index(drop=True)


def run_scoring_job(backend, proteins: list[Protein], positions: dict[str, list[int]], strategy: str,
                    outputs: dict[str, str | Path], cache: ScoreCache, window: int) -> None:
    """Score every protein of a shard and write ``outputs[name]`` for each."""
    total = sum(len(positions[p.name]) if strategy == "masked-marginals" else p.length for p in proteins)
    progress = Progress(total, f"{getattr(backend, 'name', 'model')}")
    for protein in proteins:
        table = score_protein(backend, protein, strategy, positions[protein.name], cache, window, progress)
        write_table(table, outputs[protein.name])
    log.info("done: %d sequences, %d cache hits, %d scored", len(proteins), cache.hits, cache.misses)
