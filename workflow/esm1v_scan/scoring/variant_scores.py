"""Variant scores of a mutation list (``results/{name}/variants.tsv``), every one a log-likelihood
ratio of mutant against wild type (natural log: negative = less likely than the wild type, the
same sign for every type), named in column ``scoring``:

- ``masked_marginals``: substitutions; a multi-mutant's score is the sum of its single-site scores
  (ProteinGym's practice), per model and for the ensemble; the ensemble is the sum of the sites'
  ``score_mean`` (the mean over models of log p(mt) - log p(wt)), which equals the mean over models
  of the per-model sums. Synonymous changes score 0 (log p(wt) - log p(wt)), without a pass.
- ``min_downstream``: a stop-gain at residue p scores the lowest substitution score at any position
  from p to the end (esm-variants' definition, our sign); per model from that model's scores, the
  ensemble from ``score_mean``. Those positions are scanned (and cached with any scan).
- ``pllr`` / ``pllr_exact``: in-frame deletions, insertions, deletion-insertions and duplications:
  PLL(mutant) - PLL(wild type) (:mod:`esm1v_scan.scoring.indels`; ``exact``: from masked passes); the
  ensemble is the mean over models. ``score_per_residue_delta`` removes the part expected from
  the length change alone; for every other type it equals ``score_ensemble`` (no length change).
- ``not_scored: <reason>``: frameshifts, start loss, stop loss, multi-site alleles with a stop or
  an indel, and indels under the BioLM backend: kept, with empty scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from esm1v_scan.inputs import hgvs
from esm1v_scan.scoring.indels import INDEL_COLUMNS, indel_scores, stop_gain_scores
from esm1v_scan.inputs.variant_lists import ENSEMBLE_COLUMN, NOT_SCORED, REASONS, RowPlan, VariantList


def indel_inputs(texts: list[str], sequence: str, offset: int) -> tuple[list[str], list[tuple[int, int]]]:
    """Mutant sequences and events (1-based first and last positions replaced) of in-frame
    indels given as HGVS (:meth:`VariantList.indel_variants`)."""
    mutants, events = [], []
    for text in texts:
        variant = hgvs.parse(text)
        edit = variant.edits[0]
        mutants.append(hgvs.apply(variant, sequence, offset))
        events.append((edit.start - offset + 1, edit.end - offset + 1))
    return mutants, events


def score_indel_list(scorer, sequence: str, texts: list[str], offset: int, max_residues: int,
                     exact: bool = False, cache=None) -> pd.DataFrame:
    """One model's scores of a list's in-frame indels: ``hgvs_p`` then the columns of
    :func:`esm1v_scan.scoring.indels.indel_scores` (``score`` = PLLR, ``score_per_residue_delta``, ...)."""
    if not texts:
        return pd.DataFrame(columns=["hgvs_p", *INDEL_COLUMNS])
    mutants, events = indel_inputs(texts, sequence, offset)
    table = indel_scores(scorer, sequence, mutants, events, max_residues, exact=exact, cache=cache)
    table.insert(0, "hgvs_p", list(texts))
    return table


def score_variants(variants: VariantList, site_scores: pd.DataFrame, models: list[str],
                   indels: dict[str, pd.DataFrame] | None = None, exact: bool = False,
                   indel_reason: str | None = None) -> pd.DataFrame:
    """The input rows plus ``score_<model>`` per model, ``score_ensemble``, ``hgvs_p``,
    ``variant_type``, ``scoring`` and ``score_per_residue_delta``.

    site_scores: the ensemble table (:mod:`esm1v_scan.scoring.ensemble`): one row per (position, mt) with
    ``score_<model>`` columns and ``score_mean``. A substitution variant's score is the sum over
    its sites; a stop-gain's the minimum over the substitutions from its residue to the end.
    ``indels``: model -> :func:`score_indel_list`'s table (``exact``: from masked passes); None,
    or ``indel_reason`` given (the BioLM backend), leaves the indels not scored with that reason.
    """
    columns = [f"score_{m}" for m in models] + ["score_mean"]
    n = len(variants.table)
    plans = variants.plans or [RowPlan("sites")] * n
    sums = np.full((n, len(columns)), np.nan)
    delta = np.full(n, np.nan)
    scoring = [""] * n

    # substitutions (synonymous sites add 0: log p(wt) - log p(wt))
    subs = [i for i, p in enumerate(plans) if p.kind == "sites"]
    if subs:
        lookup = site_scores.set_index(["position", "mt"])[columns]
        picked = [(i, m) for i in subs for m in variants.mutations[i] if m.wt != m.mt]
        keys = pd.MultiIndex.from_tuples([(m.site, m.mt) for _, m in picked], names=["position", "mt"])
        missing = keys.difference(lookup.index)
        if len(missing):
            pos, mt = missing[0]
            raise ValueError(f"the score table has no score for position {pos} -> {mt}")
        rows = np.array([i for i, _ in picked], dtype=int)
        sums[subs] = 0.0
        if len(picked):
            np.add.at(sums, rows, lookup.loc[keys].to_numpy(dtype=float))
    for i, p in enumerate(plans):
        if p.kind == "synonymous":
            sums[i] = 0.0
        if p.kind in ("sites", "synonymous"):
            scoring[i] = "masked_marginals"
        elif p.kind == "not_scored":
            scoring[i] = f"{NOT_SCORED}: {p.reason}"

    # stop-gains: the worst substitution from the stop to the end, per model and for the ensemble
    stops = [i for i, p in enumerate(plans) if p.kind == "stop"]
    if stops:
        at = [plans[i].stop for i in stops]
        for k, column in enumerate(columns):
            sums[stops, k] = stop_gain_scores(site_scores, at, variants.length, column=column)
        for i in stops:
            scoring[i] = "min_downstream"
    delta[:] = sums[:, -1]

    # in-frame indels: PLLR per model, the ensemble its mean
    for i in (i for i, p in enumerate(plans) if p.kind == "indel"):
        if indels is None or indel_reason:
            scoring[i] = f"{NOT_SCORED}: {indel_reason or REASONS['biolm']}"
    todo = [i for i, p in enumerate(plans) if p.kind == "indel" and not scoring[i]]
    if todo:
        names = [variants.variants[i].hgvs_p for i in todo]
        per_model, deltas = [], []
        for model in models:
            table = indels[model].set_index("hgvs_p")
            absent = [t for t in names if t not in table.index]
            if absent:
                raise ValueError(f"the indel table of {model} has no score for {absent[0]}")
            per_model.append(table.loc[names, "score"].to_numpy(dtype=float))
            deltas.append(table.loc[names, "score_per_residue_delta"].to_numpy(dtype=float))
        sums[todo, :-1] = np.column_stack(per_model)
        sums[todo, -1] = np.mean(per_model, axis=0)
        delta[todo] = np.mean(deltas, axis=0)
        for i in todo:
            scoring[i] = "pllr_exact" if exact else "pllr"

    out = variants.table.copy()
    for k, model in enumerate(models):
        out[f"score_{model}"] = sums[:, k]
    out[ENSEMBLE_COLUMN] = sums[:, -1]
    if variants.variants:
        out["hgvs_p"] = [v.hgvs_p for v in variants.variants]
        out["variant_type"] = [v.variant_type for v in variants.variants]
        out["scoring"] = scoring
        out["score_per_residue_delta"] = delta
    return out
