"""What the rules write from a shard's long tables: the per-protein files of small runs and the
run's one ensemble table.

A scoring job writes ``results/shards/<shard>/scores/<model>.parquet``, one long table for the
whole shard (columns name, sequence_id, then the columns of :mod:`esm1v_scan.tables`); the
ensemble job ``results/shards/<shard>/ensemble.parquet`` (name, sequence_id, then the columns of
:mod:`esm1v_scan.ensemble`). Everything a user reads per protein is cut from those.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .ensemble import PROTEIN_KEYS
from .plotting import plot_heatmap
from .tables import read_table, write_table


def protein_rows(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """A shard's long table -> name -> that protein's table (protein columns dropped), in order."""
    return {name: rows.drop(columns=PROTEIN_KEYS).reset_index(drop=True)
            for name, rows in table.groupby("name", sort=False)}


def write_protein_files(name: str, sequence_id: str, scores: dict[str, pd.DataFrame],
                        ensemble: pd.DataFrame, heatmap: dict, root="results") -> list[Path]:
    """Every per-protein file of ``name`` under ``root/name`` (policy.protein_files lists them):
    scores/<model>.tsv, ensemble.tsv, heatmap.png and .svg. ``scores``: model -> its table;
    ``heatmap``: config heatmap (row_width, value). Returns the paths written."""
    folder = Path(root) / name
    written = []
    for model, table in scores.items():
        write_table(table, folder / "scores" / f"{model}.tsv")
        written.append(folder / "scores" / f"{model}.tsv")
    write_table(ensemble, folder / "ensemble.tsv")
    figures = [folder / "heatmap.png", folder / "heatmap.svg"]
    # from the table as written (7 significant digits), as users re-plotting it would
    plot_heatmap(read_table(folder / "ensemble.tsv"), f"{sequence_id}  (ESM-1v ensemble)", figures,
                 value=heatmap["value"], row_width=heatmap["row_width"])
    return written + [folder / "ensemble.tsv", *figures]


def write_shard_protein_files(score_paths: dict[str, str], ensemble_path: str, heatmap: dict,
                              index, root="results") -> list[str]:
    """write_protein_files for every protein of a shard, then ``index``: one row per protein
    (name, sequence_id, its folder). Returns the names."""
    ens = pd.read_parquet(ensemble_path)
    ids = dict(zip(ens["name"], ens["sequence_id"]))
    per_model = {m: protein_rows(pd.read_parquet(p)) for m, p in score_paths.items()}
    for name, table in protein_rows(ens).items():
        write_protein_files(name, ids[name], {m: t[name] for m, t in per_model.items()}, table,
                            heatmap, root)
    write_table(pd.DataFrame({"name": list(ids), "sequence_id": list(ids.values()),
                              "folder": [str(Path(root) / n) for n in ids]}), index)
    return list(ids)


def collect(paths, out) -> int:
    """Concatenate shard tables into one Parquet file, one row group per shard, streaming (one
    shard in memory at a time). Returns the rows written."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    rows = 0
    writer = None
    try:
        for path in paths:
            table = pq.read_table(path)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table, row_group_size=max(table.num_rows, 1))
            rows += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        pq.write_table(pa.table({}), tmp)
    tmp.replace(out)
    return rows
