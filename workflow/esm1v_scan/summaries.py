"""Residue numbering (config ``offsets``) and the per-sequence summary tables.

``offsets`` maps a FASTA id to the residue number of its first residue (default 1; a variant
list's ``offset`` numbers its protein when ``offsets`` does not: :func:`numbering`). A residue's
number is ``residue = position + offset - 1``; ``position`` stays the 1-based index into the
sequence in every table.

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

from .errors import InputError
from .fasta import AMINO_ACIDS, Protein, check_known_id

POSITIONS_COLUMNS = ["position", "residue", "wt", "mean_score", "min_score", "max_score", "entropy",
                     "n_models"]


def offsets_from_config(value, proteins: list[Protein], fasta_path: str = "the FASTA file") -> dict[str, int]:
    """Config ``offsets`` (FASTA id -> first residue number) checked against the FASTA ids."""
    if not value:
        return {}
    if not isinstance(value, dict):
        raise InputError("offsets: give a mapping from FASTA id to the first residue's number",
                         "config 'offsets'")
    ids = dict.fromkeys(p.id for p in proteins)
    out = {}
    for seq_id, offset in value.items():
        seq_id = str(seq_id)
        check_known_id(seq_id, ids, "offset", "config 'offsets'", fasta_path)
        if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)):
            raise InputError(f"offset for '{seq_id}' must be an integer, got {offset!r}",
                             "config 'offsets'")
        out[seq_id] = int(offset)
    return out


def numbering(offsets: dict[str, int], specs: dict) -> dict[str, int]:
    """The run's one numbering: FASTA id -> residue number of its first residue, used by every
    table and figure (non-default entries only; others are numbered from 1). A protein's entry in
    config ``offsets`` (checked, :func:`offsets_from_config`), else the offset of its variant list
    (``specs``: id -> :class:`esm1v_scan.variants.VariantSpec`, from
    :func:`esm1v_scan.variants.specs_from_config` with the same ``offsets``, which refuses a list
    whose offset differs from the protein's entry), so a list numbered from 24 numbers its
    protein's tables from 24 too."""
    out = dict(offsets)
    for seq_id, spec in specs.items():
        if seq_id not in out and int(spec.offset) != 1:
            out[seq_id] = int(spec.offset)
    return out


def offset_for(offsets: dict | None, seq_id: str) -> int:
    """The residue number of the first residue of sequence ``seq_id`` (1 unless configured)."""
    return int((offsets or {}).get(seq_id, 1))


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
