"""The mask plan (what each scoring job runs through the model) and sequence shards.

The plan is data, not files: ``results/mask_plan.tsv`` has one row per sequence with the positions
to score written as ranges (``1-263`` or ``24,25,40-42``), how many masked copies that costs per
model, and the shard that scores it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from esm1v_scan.inputs.fasta import Protein


def window_bounds(site: int, length: int, max_residues: int) -> tuple[int, int]:
    """0-based half-open residue window of at most ``max_residues`` around 1-based ``site``.

    The whole sequence when it fits; otherwise a window centred on the site, clamped at the ends:
    ProteinGym's centring for masked marginals on long proteins, but not its windows (ProteinGym
    slices 1,024 tokens of BOS + protein + EOS, so it has BOS/EOS only at the protein's own ends
    and its middle windows hold 1,024 residues; each window here is scored with BOS and EOS).
    """
    if length <= max_residues:
        return 0, length
    start = (site - 1) - max_residues // 2
    start = min(max(start, 0), length - max_residues)
    return start, start + max_residues


#: config ``long_windows``: how a masked site of a protein longer than ``max_residues`` gets its
#: context (:func:`masked_window`). Proteins that fit are run whole either way.
LONG_WINDOWS = ("esm1v-scan", "proteingym")


def proteingym_window(site: int, length: int, max_residues: int) -> tuple[int, int]:
    """0-based half-open slice of the token string BOS + protein + EOS (``length + 2`` tokens)
    that ProteinGym's ESM scoring (``compute_fitness.py``, masked marginals, ``--scoring-window
    optimal``, rule ``get_optimal_window`` of ``proteingym/utils/scoring_utils.py``) runs for the
    masked residue ``site`` (1-based; its token index is ``site``, BOS being token 0).

    The model takes ``max_residues + 2`` tokens (1,024 for ESM-1v). With ``half`` = that // 2: a
    site whose token lies in the first ``half`` tokens gets the first window (BOS and the first
    1,023 residues), one in the last ``half`` tokens the last window (the last 1,023 residues and
    EOS), any other the ``2 * half`` tokens from ``half`` before it (1,024 residues, neither BOS
    nor EOS). The whole string when it fits.
    """
    n_tokens = length + 2
    context = max_residues + 2
    if n_tokens <= context:
        return 0, n_tokens
    half = context // 2
    if site < half:
        return 0, context
    if site >= n_tokens - half:
        return n_tokens - context, n_tokens
    return site - half, site + half


def masked_window(site: int, length: int, max_residues: int,
                  long_windows: str = "esm1v-scan") -> tuple[int, int, bool]:
    """The tokens a masked pass for 1-based ``site`` runs on, as ``(start, end, wrapped)``: the
    slice ``start:end`` of the protein's token string BOS + residues + EOS, with a BOS put before
    and an EOS after it when ``wrapped``. The masked site is token ``site - start + wrapped`` of
    the window.

    - ``esm1v-scan``: the residues of :func:`window_bounds` (``max_residues`` centred on the site,
      clamped at the ends), always wrapped in BOS/EOS, as BioLM's API and fair-esm's
      ``predict.py`` run a sequence.
    - ``proteingym``: :func:`proteingym_window`, cut out of the whole token string, never
      wrapped: BOS only at the protein's start, EOS only at its end.

    Proteins of at most ``max_residues`` get the whole string, the same for both.
    """
    if long_windows == "proteingym":
        start, end = proteingym_window(site, length, max_residues)
        return start, end, False
    if long_windows != "esm1v-scan":
        raise ValueError(f"long_windows must be one of {LONG_WINDOWS}, got {long_windows!r}")
    start, end = window_bounds(site, length, max_residues)
    return start + 1, end + 1, True


def wt_windows(length: int, max_residues: int) -> list[tuple[int, int]]:
    """0-based half-open windows that wt-marginals runs on a protein longer than the context.

    Windows of ``max_residues`` residues starting every ``max_residues // 2`` residues (so
    neighbours overlap by at least half a window), the last one clamped to end at the protein's
    end: for 2,500 residues and 1,022, ``[(0, 1022), (511, 1533), (1022, 2044), (1478, 2500)]``.
    One window, the whole protein, when it fits.
    """
    if length <= max_residues:
        return [(0, length)]
    step = max(1, max_residues // 2)
    windows = []
    start = 0
    while True:
        start = min(start, length - max_residues)
        windows.append((start, start + max_residues))
        if start + max_residues >= length:
            return windows
        start += step


def blend_weights(windows: list[tuple[int, int]], length: int) -> np.ndarray:
    """(n_windows, length) weights for blending per-window results; each column sums to 1.

    A position's raw weight in a window is 1 + its distance, in residues, to the nearest window
    edge that cuts context off. An edge at the protein's own end cuts nothing and does not count:
    the first window's weights grow only towards its right edge, the last window's only towards its
    left edge. Outside a window the weight is 0. Columns are then divided by their sum. So each
    position is read mostly from the windows where it sits most centrally (most context on both
    sides), the blend ramps linearly across an overlap, and a position covered by one window
    takes that window's value unchanged. Example (2,500 residues, 1,022-residue windows): position
    601 (index 600) lies in (0, 1022) with raw weight 1 + (1021 - 600) = 422 and in (511, 1533)
    with 1 + (600 - 511) = 90, so it is 422/512 of the first window and 90/512 of the second.
    """
    weights = np.zeros((len(windows), length), dtype=np.float64)
    for k, (start, end) in enumerate(windows):
        idx = np.arange(start, end)
        left = idx - start if start > 0 else np.full(len(idx), np.inf)
        right = (end - 1) - idx if end < length else np.full(len(idx), np.inf)
        raw = np.minimum(left, right) + 1.0
        weights[k, start:end] = np.where(np.isfinite(raw), raw, 1.0)  # whole protein: one window
    total = weights.sum(axis=0)
    if np.any(total == 0):
        raise ValueError("windows do not cover the whole protein")
    return weights / total


def format_ranges(positions) -> str:
    """[1, 2, 3, 7, 9, 10] -> '1-3,7,9-10'."""
    pos = sorted(set(int(p) for p in positions))
    parts, i = [], 0
    while i < len(pos):
        j = i
        while j + 1 < len(pos) and pos[j + 1] == pos[j] + 1:
            j += 1
        parts.append(str(pos[i]) if i == j else f"{pos[i]}-{pos[j]}")
        i = j + 1
    return ",".join(parts)


def parse_ranges(text: str) -> list[int]:
    out: list[int] = []
    for part in str(text).split(","):
        if not part:
            continue
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


@dataclass
class Shard:
    id: str
    proteins: list[Protein] = field(default_factory=list)
    residues: int = 0

    def add(self, protein: Protein) -> None:
        self.proteins.append(protein)
        self.residues += protein.length

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.proteins]

    def digest(self) -> str:
        """sha256 of the shard's names and sequences; part of the scoring job's content tag
        (:func:`esm1v_scan.pipeline.policy.shard_tag`), so a job reruns exactly when its shard changes."""
        h = hashlib.sha256()
        for p in self.proteins:
            h.update(f"{p.name}\t{p.sha256}\n".encode())
        return h.hexdigest()


def assign_shards(proteins: list[Protein], shard_residues: int) -> list[Shard]:
    """Group sequences, in file order, into shards of at most ``shard_residues`` residues each (a
    longer sequence gets a shard of its own), so the number of jobs grows with the residues, not
    the sequences. Appending sequences to the FASTA only touches the last shard (and adds new
    ones): the other shards, their jobs and outputs stay as they are. Inserting or removing a
    sequence reshuffles the shards after it; the score cache then spares their compute."""
    shards: list[Shard] = []
    current = Shard("shard0001")
    for p in proteins:
        if current.proteins and current.residues + p.length > shard_residues:
            shards.append(current)
            current = Shard(f"shard{len(shards) + 1:04d}")
        current.add(p)
    if current.proteins:
        shards.append(current)
    return shards


def sites_for(protein: Protein, strategy: str, wanted: list[int] | None = None) -> list[int]:
    """Positions to score: the listed ones (mutation lists) or every position."""
    return sorted(set(wanted)) if wanted else list(range(1, protein.length + 1))


def mask_plan(
    shards: list[Shard], strategy: str, max_residues: int, positions: dict[str, list[int]] | None = None,
    long_windows: str = "esm1v-scan",
) -> pd.DataFrame:
    """One row per sequence; ``long_windows`` names the windows of the sequences longer than
    ``max_residues`` (empty for those that fit: they are run whole)."""
    rows = []
    for shard in shards:
        for p in shard.proteins:
            sites = sites_for(p, strategy, (positions or {}).get(p.id))
            rows.append(
                {
                    "name": p.name,
                    "id": p.id,
                    "shard": shard.id,
                    "length": p.length,
                    "strategy": strategy,
                    "positions": format_ranges(sites),
                    "masked_inputs": len(sites) if strategy == "masked-marginals" else 0,
                    "window": min(p.length, max_residues),
                    "long_windows": long_windows if p.length > max_residues else "",
                }
            )
    return pd.DataFrame(rows)
