"""The per-protein tables derived from the ensemble. Residues are numbered from each protein's
offset (:mod:`esm1v_scan.inputs.numbering`): ``residue = position + offset - 1``; ``position`` stays the
1-based index into the sequence in every table.

Tables (``results/{name}/``):

- ``ensemble.tsv`` with :func:`add_residue_columns`: ``position, residue, wt, mt, mutant``, then the
  ensemble's columns (``prob_mean, prob_score, score_mean, score_sd, score_<model>..., n_models``);
  ``mutant`` is wt + residue + mt, e.g. ``H24C``.
- ``matrix.tsv`` (:func:`matrix_table`): one row per position: ``position, residue, wt``, then one
  column per amino acid ``A C D ... Y`` holding ``score_mean`` (0 in the wild type's column).
- ``positions.tsv`` (:func:`positions_table`): one row per position: ``position, residue, wt,
  mean_score, min_score, max_score, entropy, n_models``; the scores summarise ``score_mean`` over
  the 19 substitutions (the wild type's row excluded), ``entropy`` is the Shannon entropy in nats
  of the ensemble's 20 amino-acid probabilities (``prob_mean``) renormalised to sum to 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from esm1v_scan.inputs.fasta import AMINO_ACIDS

POSITIONS_COLUMNS = ["position", "residue", "wt", "mean_score", "min_score", "max_score", "entropy",
                     "n_models"]


def add_residue_columns(ens: pd.DataFrame, offset: int = 1) -> pd.DataFrame:
    """The ensemble table with ``residue`` after ``position`` and ``mutant`` after ``mt``."""
    out = ens.copy()
    residue = out["position"].astype(np.int64) + int(offset) - 1
    out.insert(out.columns.get_loc("position") + 1, "residue", residue)
    out.insert(out.columns.get_loc("mt") + 1, "mutant",
               out["wt"].astype(str) + residue.astype(str) + out["mt"].astype(str))
    return out


def matrix_table(ens: pd.DataFrame, offset: int = 1) -> pd.DataFrame:
    """One row per position: position, residue, wt, and score_mean per amino acid A .. Y."""
    wide = ens.pivot(index="position", columns="mt", values="score_mean")
    wide = wide.reindex(columns=list(AMINO_ACIDS))
    wt = ens.groupby("position")["wt"].first()
    out = pd.DataFrame({"position": wide.index.to_numpy(np.int64)})
    out["residue"] = out["position"] + int(offset) - 1
    out["wt"] = wt.loc[wide.index].to_numpy()
    for aa in AMINO_ACIDS:
        out[aa] = wide[aa].to_numpy(float)
    return out


def _entropy(prob: pd.Series) -> float:
    p = prob.to_numpy(float)
    p = p / p.sum()
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def positions_table(ens: pd.DataFrame, offset: int = 1) -> pd.DataFrame:
    """Per-position summary of the ensemble table (see the module docstring)."""
    groups = ens.groupby("position", sort=True)
    subs = ens[ens["mt"] != ens["wt"]].groupby("position", sort=True)["score_mean"]
    out = pd.DataFrame({"position": np.array(list(groups.groups), dtype=np.int64)})
    out["residue"] = out["position"] + int(offset) - 1
    out["wt"] = groups["wt"].first().to_numpy()
    out["mean_score"] = subs.mean().reindex(out["position"]).to_numpy()
    out["min_score"] = subs.min().reindex(out["position"]).to_numpy()
    out["max_score"] = subs.max().reindex(out["position"]).to_numpy()
    out["entropy"] = groups["prob_mean"].apply(_entropy).to_numpy()
    out["n_models"] = groups["n_models"].first().to_numpy()
    return out[POSITIONS_COLUMNS]
