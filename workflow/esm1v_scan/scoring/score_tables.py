"""The per-model score table every backend produces (``results/{name}/scores/{model}.tsv``).

One row per (position, amino acid), 20 rows per scored position, amino acids in alphabetical
one-letter order:

=========  ==================================================================================
position   1-based residue number in the sequence
wt         wild-type residue
mt         substituted residue (one of the 20; the row with mt == wt is kept, score 0)
log_prob   natural log of p(mt) at that position, softmax over the model's whole vocabulary
prob       exp(log_prob): what BioLM's API returns as ``score``
score      log p(mt) - log p(wt): negative = less likely than the wild type
=========  ==================================================================================
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from esm1v_scan.errors import InputError
from esm1v_scan.inputs.fasta import AMINO_ACIDS
from esm1v_scan.files import atomic_path, atomic_write

COLUMNS = ["position", "wt", "mt", "log_prob", "prob", "score"]
FLOAT_FORMAT = "%.7g"


def score_table(sequence: str, positions, log_p20, log_p_wt=None) -> pd.DataFrame:
    """Build the table from log-probabilities.

    positions: 1-based positions, shape (n,); log_p20: (n, 20) natural-log probabilities of the
    20 amino acids (AMINO_ACIDS order); log_p_wt: (n,) log p of the wild-type token, needed only
    where the wild type is not one of the 20 (X, B, Z, U, O); taken from log_p20 otherwise.
    """
    positions = np.asarray(positions, dtype=np.int64)
    log_p20 = np.asarray(log_p20, dtype=np.float64)
    n = len(positions)
    if log_p20.shape != (n, 20):
        raise ValueError(f"expected log-probabilities of shape ({n}, 20), got {log_p20.shape}")
    wt = np.array([sequence[p - 1] for p in positions], dtype=object)
    aa_index = {a: i for i, a in enumerate(AMINO_ACIDS)}
    wt_lp = np.full(n, np.nan)
    for row, w in enumerate(wt):
        if w in aa_index:
            wt_lp[row] = log_p20[row, aa_index[w]]
        elif log_p_wt is not None:
            wt_lp[row] = float(np.asarray(log_p_wt)[row])
    mt = np.tile(np.array(list(AMINO_ACIDS), dtype=object), n)
    lp = log_p20.reshape(-1)
    score = lp - np.repeat(wt_lp, 20)
    wt_rep = np.repeat(wt, 20)
    score[mt == wt_rep] = 0.0
    return pd.DataFrame(
        {
            "position": np.repeat(positions, 20),
            "wt": wt_rep,
            "mt": mt,
            "log_prob": lp,
            "prob": np.exp(lp),
            "score": score,
        }
    )


def check_finite(table: pd.DataFrame, protein_id: str, model: str) -> None:
    """Raise InputError (one line naming the protein, model and position) when ``table`` holds a
    value that is not a finite number: log_prob and prob always, score too except where the wild
    type is not one of the 20 amino acids (X, B, Z, U, O: NaN there, as the API has no log p(wt)).
    A zero probability would otherwise become -inf and flow into every table downstream."""
    log_prob = table["log_prob"].to_numpy(dtype=np.float64)
    prob = table["prob"].to_numpy(dtype=np.float64)
    score = table["score"].to_numpy(dtype=np.float64)
    nonstandard = ~table["wt"].isin(list(AMINO_ACIDS)).to_numpy()
    bad = ~np.isfinite(log_prob) | ~np.isfinite(prob) | ~(np.isfinite(score) | (nonstandard & np.isnan(score)))
    if not bad.any():
        return
    row = table.iloc[int(np.argmax(bad))]
    values = ", ".join(f"{c} {row[c]:g}" for c in ("log_prob", "prob", "score"))
    raise InputError(
        f"model {model}, position {int(row['position'])} ({row['wt']} -> {row['mt']}): {values}; a "
        f"score table holds finite numbers only (a probability of 0 from the model?): not written",
        record=protein_id,
    )


def long_table(name: str, sequence_id: str, table: pd.DataFrame) -> pd.DataFrame:
    """One protein's table with its protein columns in front (for a shard's long table)."""
    return pd.concat([pd.DataFrame({"name": name, "sequence_id": sequence_id}, index=table.index),
                      table], axis=1)


def write_table(df: pd.DataFrame, path) -> None:
    """Write a TSV atomically (temp file + rename): a killed job never leaves half a table."""
    with atomic_write(path, newline="") as fh:
        df.to_csv(fh, sep="\t", index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


def as_written(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` as write_table then read_table give it back (values to FLOAT_FORMAT's 7 digits):
    what the score cache holds, so fresh and cached scores are the same numbers and a resumed
    run writes the same bytes as a clean one."""
    return read_table(io.StringIO(df.to_csv(sep="\t", index=False, float_format=FLOAT_FORMAT,
                                            lineterminator="\n")))


def read_table(path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""])


def write_parquet(df: pd.DataFrame, path) -> None:
    """Write a Parquet table atomically (temp file + rename), without the pandas index."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def read_parquet(path, name: str | None = None, names=None) -> pd.DataFrame:
    """A shard's long table, or with ``name`` only that protein's rows, with ``names`` (a
    non-empty collection) only those proteins' rows (the filter is applied while reading)."""
    filters = None
    if name is not None:
        filters = [("name", "==", name)]
    elif names is not None:
        filters = [("name", "in", sorted(names))]
    return pd.read_parquet(path, filters=filters)
