"""Averaging the models, both ways people use (``results/{name}/ensemble.tsv``).

- ``prob_mean``: the mean over models of p(mt) (BioLM's advice: average the likelihoods), and
  ``prob_score`` = log(prob_mean of mt) - log(prob_mean of wt), its log-ratio;
- ``score_mean``: the mean over models of the log-ratio score (the ESM-1v paper, ProteinGym),
  ``score_sd`` its sample standard deviation across models (empty with one model);
- ``score_<model>``: each model's score, so nothing is lost.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KEYS = ["position", "wt", "mt"]
#: the protein columns of a shard's long tables (results/shards/<shard>/...)
PROTEIN_KEYS = ["name", "sequence_id"]


def ensemble(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """tables: model name -> per-model score table (same positions in each): one protein's, or a
    shard's long table (columns name and sequence_id first, many proteins)."""
    if not tables:
        raise ValueError("ensemble of no models")
    names = list(tables)
    first = tables[names[0]]
    keys = [k for k in PROTEIN_KEYS if k in first.columns] + KEYS
    base = first[keys].reset_index(drop=True)
    for name in names[1:]:
        other = tables[name][keys].reset_index(drop=True)
        if not base.equals(other):
            raise ValueError(f"model {name} scored other positions than {names[0]}")
    prob = np.column_stack([tables[n]["prob"].to_numpy(float) for n in names])
    score = np.column_stack([tables[n]["score"].to_numpy(float) for n in names])
    out = base.copy()
    out["prob_mean"] = prob.mean(axis=1)
    log_pm = np.log(out["prob_mean"].to_numpy())
    wt_rows = (out["wt"] == out["mt"]).to_numpy()
    # log prob_mean of the wild type at each position, broadcast to its 20 rows
    groups = [out[k] for k in keys if k not in ("wt", "mt", "sequence_id")]  # (name,) position
    wt_log = pd.Series(np.where(wt_rows, log_pm, np.nan)).groupby(groups).transform("max")
    out["prob_score"] = log_pm - wt_log.to_numpy()
    out.loc[wt_rows, "prob_score"] = 0.0
    out["score_mean"] = score.mean(axis=1)
    out["score_sd"] = score.std(axis=1, ddof=1) if len(names) > 1 else np.nan
    for i, n in enumerate(names):
        out[f"score_{n}"] = score[:, i]
    out["n_models"] = len(names)
    return out
