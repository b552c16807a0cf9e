"""Scores for stop-gains and in-frame indels, on the same scale as the substitution scores.

Every score here is a log-likelihood ratio of the mutant against the wild type (natural log):
negative = the mutant is less likely than the wild type, as for substitutions.

Stop-gain at residue p (:func:`stop_gain_scores`): the lowest score among the 19 substitutions
at every position from p to the protein's end (esm-variants' definition, with our sign), read from
a scan table that already exists: a model's ``scores/{model}`` table (column ``score``) or the
ensemble table (column ``score_mean``). No forward pass.

In-frame deletion, insertion, deletion-insertion, duplication (:func:`indel_scores`): the
pseudo-log-likelihood ratio PLLR = PLL(mutant) - PLL(wild type), where PLL(s) = sum over the
residues of s of log p(s_i | s) read from ONE unmasked forward pass of s (residue i at token i + 1:
BOS comes first). ``exact=True`` reads log p(s_i | s with residue i masked) instead, one masked
pass per residue (the pseudo-log-likelihood of the ESM-1v paper).

Cost per model, for a protein of L residues (or window of W) with n variants of mutant lengths
L_k: unmasked, n + 1 forward passes (one per variant, one wild-type pass shared by the variants
that share its window); exact, L + sum(L_k) masked passes (about (n + 1) x L).

Raw PLLR grows with the residues a deletion removes (every residue adds a negative
log-probability to a PLL): ``score_per_residue_delta`` = PLLR - (len(mut) - len(wt)) x
PLL(wt) / len(wt), both over the scored windows, removes that expected part.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from esm1v_scan.scoring.score_cache import ScoreCache, cache_key
from esm1v_scan.errors import InputError
from esm1v_scan.inputs.fasta import AMINO_ACIDS, ESM_RESIDUES, Protein, sequence_sha256
from esm1v_scan.scoring.score_tables import as_written, score_table

#: the columns of :func:`indel_scores`' table
INDEL_COLUMNS = ["score", "score_per_residue_delta", "pll_wt", "pll_mt", "length_change",
                 "wt_window", "mt_window"]


# -- stop-gains -------------------------------------------------------------------------------
def stop_gain_scores(table: pd.DataFrame, stops: Sequence[int], length: int,
                     column: str = "score") -> np.ndarray:
    """Score of a stop-gain at each 1-based residue of ``stops``: the minimum of ``column`` over
    the 19 substitutions (rows with mt != wt) at every position from the stop to ``length``.

    ``table``: one protein's scan table with columns ``position``, ``wt``, ``mt`` and
    ``column`` (``score`` for a model's table, ``score_mean`` for the ensemble's). Every position
    from the stop to the end must be in it with all 19 substitutions and finite scores (a
    mutation-list run scores only its sites): otherwise ValueError, never a minimum over part of
    the protein. A stop outside 1..length is an InputError.
    """
    missing = [c for c in ("position", "wt", "mt", column) if c not in table.columns]
    if missing:
        raise ValueError(f"stop-gain scores need the column(s) {', '.join(missing)} in the scan table")
    if "name" in table.columns and table["name"].nunique() > 1:
        raise ValueError("stop-gain scores take one protein's table, this one has several")
    stops = [int(p) for p in stops]
    for p in stops:
        if not 1 <= p <= length:
            raise InputError(f"stop-gain at residue {p} is outside the protein's 1..{length}")
    if not stops:
        return np.empty(0)
    subs = table.loc[table["mt"] != table["wt"], ["position", column]]
    values = pd.to_numeric(subs[column], errors="coerce")
    per_pos = values.groupby(subs["position"].to_numpy()).agg(["min", "count"])
    per_pos = per_pos.assign(finite=np.isfinite(values).groupby(subs["position"].to_numpy()).all())
    first = min(stops)
    needed = np.arange(first, length + 1)
    have = per_pos.reindex(needed)
    bad = needed[~((have["count"] == 19) & have["finite"].fillna(False).astype(bool)).to_numpy()]
    if len(bad):
        shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
        raise ValueError(
            f"a stop-gain at residue {first} needs the scores of all 19 substitutions at residues "
            f"{first}..{length}; {len(bad)} residue(s) lack them ({shown}): scan the whole protein"
        )
    # minimum over positions p..length for every p: a reversed running minimum
    suffix_min = np.minimum.accumulate(have["min"].to_numpy(dtype=float)[::-1])[::-1]
    return suffix_min[np.asarray(stops) - first]


# -- in-frame indels --------------------------------------------------------------------------
def edited_region(wt: str, mutant: str, start: int, end: int) -> tuple[int, int, int]:
    """(s0, e0, r): the wild type's residues s0..e0-1 (0-based, half-open) are replaced by the
    mutant's residues s0..s0+r-1; the rest of both sequences is the same.

    ``start``, ``end`` are the 1-based first and last wild-type residues the variant replaces:
    ``(12, 14)`` for p.Lys12_Glu14del, ``(28, 28)`` for p.Cys28delinsTrpVal, ``(4, 6)`` for
    p.Gly4_Ser6dup; an insertion is given either by its two neighbours (``(12, 13)`` for
    p.Lys12_Glu13insGlyAla, they then count as replaced by themselves plus the insert) or as an
    empty region (``end = start - 1``: ``(13, 12)``, inserted before residue 13). InputError
    when the mutant does not equal the wild type outside the region."""
    L = len(wt)
    if not (1 <= start <= L + 1 and start - 1 <= end <= L):
        raise InputError(f"edited region {start}-{end} is not within the wild type's 1..{L}")
    s0, e0 = start - 1, end
    r = len(mutant) - (L - (e0 - s0))
    if r < 0 or mutant[:s0] != wt[:s0] or mutant[s0 + r:] != wt[e0:]:
        raise InputError(
            f"the mutant sequence is not the wild type with residues {start}-{end} replaced: it "
            "differs from the wild type outside that region"
        )
    return s0, e0, r


def indel_windows(length: int, s0: int, e0: int, inserted: int,
                  max_residues: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The windows that an indel is scored on: ((a, a + W), (a, a + W + d)), 0-based half-open,
    the first in wild-type, the second in mutant coordinates.

    The wild type's residues s0..e0-1 are replaced by ``inserted`` residues, so the mutant has
    d = inserted - (e0 - s0) residues more. When both sequences fit ``max_residues`` they are
    scored whole. Otherwise both are cropped to the same residues around the event: the wild-type
    window has W = max_residues - max(0, d) residues, so that the mutant window (the same left
    flank a..s0-1, the edit, the same right flank) has W + d <= max_residues. Its W - (e0 - s0)
    residues of context are split as window_bounds centres a site: (W - n + 1) // 2 on the left
    and the rest on the right (n = e0 - s0), the window then shifted to lie within the wild type
    (a clipped to 0..length - W), which keeps the same number of context residues at a protein
    end. An edit that does not fit ``max_residues`` itself (a deletion or insert longer than the
    context) is an InputError: there is no window that holds both sequences' edits.

    Example (max_residues 1022): deleting residues 1001-1003 of 2,500 (s0=1000, e0=1003, d=-3):
    W = 1022, a = 1000 - 510 = 490, wild type 491-1512, mutant 491-1509 (1-based). Inserting 5
    residues there instead (s0=e0=1000, d=5): W = 1017, a = 1000 - 509 = 491.
    """
    n = e0 - s0
    d = inserted - n
    if length <= max_residues and length + d <= max_residues:
        return (0, length), (0, length + d)
    if max(n, inserted) > max_residues:
        raise InputError(
            f"the edit replaces {n} residues by {inserted}: more than the model's context of "
            f"{max_residues} residues, so no window holds it in both sequences"
        )
    W = max_residues - max(0, d)
    a = s0 - (W - n + 1) // 2
    a = min(max(a, 0), length - W)
    return (a, a + W), (a, a + W + d)


def _log_probs_cached(scorer, sequences: list[str], exact: bool,
                      cache: ScoreCache) -> list[np.ndarray]:
    """Per-residue log p(s_i | ...) of each sequence through the score cache: a sequence's entry
    is its own score table (strategy wt-marginals for one unmasked pass, masked-marginals for
    exact), the very entry a scan of that sequence makes; missing ones are computed in one batch
    and stored. Values come back as the cache writes them (7 significant digits), fresh or not."""
    strategy = "masked-marginals" if exact else "wt-marginals"
    scorer._check_fits(sequences)
    tables: dict[int, pd.DataFrame] = {}
    keys = {}
    for k, seq in enumerate(sequences):
        protein = Protein(id=f"window:{sequence_sha256(seq)[:16]}", name="", sequence=seq)
        parts = {"backend": scorer.identity, "strategy": strategy, "window": None,
                 "sequence_sha256": protein.sha256}
        keys[k] = (cache_key(**parts), parts, protein)
        known = cache.load(keys[k][0], seq)
        if known is not None and set(known["position"]) >= set(range(1, len(seq) + 1)):
            cache.hits += 1
            tables[k] = known
    todo = [k for k in range(len(sequences)) if k not in tables]
    if todo:
        if exact:
            lps = [scorer.masked_marginals(sequences[k]) for k in todo]
        else:
            lps = scorer.unmasked_marginals([sequences[k] for k in todo])
        aa = [scorer.alphabet.get_idx(c) for c in AMINO_ACIDS]
        for k, lp in zip(todo, lps):
            seq = sequences[k]
            lp_wt = lp[np.arange(len(seq)), [scorer.alphabet.get_idx(c) for c in seq]]
            table = as_written(score_table(seq, range(1, len(seq) + 1), lp[:, aa], lp_wt))
            key, parts, protein = keys[k]
            cache.misses += 1
            cache.store(key, table, {**parts, "id": protein.id, "length": len(seq)}, seq)
            tables[k] = table
    out = []
    for k, seq in enumerate(sequences):
        t = tables[k].sort_values("position", kind="stable")
        t = t[t["position"].between(1, len(seq))]
        per_row = (t["log_prob"] - t["score"]).to_numpy(dtype=float).reshape(len(seq), 20)
        col = [AMINO_ACIDS.index(c) if c in AMINO_ACIDS else 0 for c in seq]
        out.append(per_row[np.arange(len(seq)), col])  # log p(wt) at every row; mt == wt's if any
    return out


def indel_scores(scorer, wt: str, mutants: Sequence[str], events: Sequence[tuple[int, int]],
                 max_residues: int | None = None, exact: bool = False,
                 cache: ScoreCache | None = None) -> pd.DataFrame:
    """Scores of in-frame deletions, insertions, deletion-insertions and duplications of one
    protein, for one model (``scorer``: a :class:`esm1v_scan.scoring.local.LocalScorer`).

    ``mutants[k]`` is the whole mutant protein of variant k, ``events[k]`` the 1-based first and
    last wild-type residues it replaces (see :func:`edited_region`; the HGVS positions).
    ``max_residues`` defaults to the scorer's context (1,022 for ESM-1v); proteins longer than it
    are cropped as :func:`indel_windows` says. One row per variant, in input order:

    - ``score``: PLLR = PLL(mutant window) - PLL(wild-type window), natural log;
    - ``score_per_residue_delta``: score - length_change x pll_wt / (wild-type window length);
    - ``pll_wt``, ``pll_mt``: the two pseudo-log-likelihoods; ``length_change`` = len(mut) -
      len(wt);
    - ``wt_window``, ``mt_window``: the residues scored, 1-based ``first-last`` in wild-type and
      mutant coordinates.

    Passes: one unmasked pass per distinct mutant window, one per distinct wild-type window
    (shared by the variants); ``exact``: one masked pass per residue of each of them. With a
    ``cache`` (:class:`esm1v_scan.scoring.score_cache.ScoreCache`) each window's per-residue log-probabilities
    are stored as the score table of that window's sequence (strategy ``wt-marginals``, or
    ``masked-marginals`` when exact) and never computed again.
    """
    if len(mutants) != len(events):
        raise ValueError(f"{len(mutants)} mutant sequences but {len(events)} events")
    max_residues = int(max_residues or scorer.max_residues)
    if max_residues > scorer.max_residues:
        raise ValueError(f"max_residues {max_residues} exceeds the model's {scorer.max_residues}")
    rows = []
    for k, (mutant, (start, end)) in enumerate(zip(mutants, events)):
        bad = sorted(set(mutant) - ESM_RESIDUES)
        if bad:
            raise InputError(f"variant {k + 1}: mutant sequence has letters the model has no "
                             f"token for: {''.join(bad)}")
        s0, e0, r = edited_region(wt, mutant, int(start), int(end))
        (a, b), (ma, mb) = indel_windows(len(wt), s0, e0, r, max_residues)
        rows.append({"wt_seq": wt[a:b], "mt_seq": mutant[ma:mb], "wt_window": f"{a + 1}-{b}",
                     "mt_window": f"{ma + 1}-{mb}", "length_change": len(mutant) - len(wt)})
    unique = list(dict.fromkeys([r["wt_seq"] for r in rows] + [r["mt_seq"] for r in rows]))
    if cache is not None:
        lps = _log_probs_cached(scorer, unique, exact, cache)
    else:
        lps = scorer.residue_log_probs(unique, exact=exact)
    pll = {seq: float(np.sum(lp)) for seq, lp in zip(unique, lps)}
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=INDEL_COLUMNS)
    out["pll_wt"] = out["wt_seq"].map(pll)
    out["pll_mt"] = out["mt_seq"].map(pll)
    out["score"] = out["pll_mt"] - out["pll_wt"]
    mean_wt = out["pll_wt"] / out["wt_seq"].str.len()
    out["score_per_residue_delta"] = out["score"] - out["length_change"] * mean_wt
    return out[INDEL_COLUMNS]
