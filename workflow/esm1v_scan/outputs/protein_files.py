"""What the rules write from a shard's long tables: the per-protein files of small runs and the
run's one ensemble table.

A scoring job writes ``results/shards/<shard>/scores/<model>.parquet``, one long table for the
whole shard (columns name, sequence_id, then the columns of :mod:`esm1v_scan.scoring.score_tables`); the
ensemble job ``results/shards/<shard>/ensemble.parquet`` (name, sequence_id, then the columns of
:mod:`esm1v_scan.scoring.ensemble`). Everything a user reads per protein is cut from those.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from esm1v_scan.scoring.ensemble import PROTEIN_KEYS
from esm1v_scan.outputs.heatmap_page import write_heatmap_html
from esm1v_scan.files import atomic_path, write_text
from esm1v_scan.outputs.heatmap import heatmap as draw_heatmap
from esm1v_scan.outputs.provenance import RANDOM_STAMP
from esm1v_scan.outputs.report_pages import image_page, overview, table_page, top_mutations
from esm1v_scan.outputs.protein_tables import add_residue_columns, matrix_table, positions_table
from esm1v_scan.inputs.numbering import offset_for
from esm1v_scan.scoring.score_tables import read_table, write_table


def protein_rows(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """A shard's long table -> name -> that protein's table (protein columns dropped), in order."""
    return {name: rows.drop(columns=PROTEIN_KEYS).reset_index(drop=True)
            for name, rows in table.groupby("name", sort=False)}


def write_protein_files(name: str, sequence_id: str, scores: dict[str, pd.DataFrame],
                        ensemble: pd.DataFrame, heatmap: dict, root="results", offset: int = 1,
                        random_weights: bool = False, top_n: int = 20,
                        marks: dict[str, list[int]] | None = None) -> list[Path]:
    """Every per-protein file of ``name`` under ``root/name`` (policy.protein_files lists them):
    scores/<model>.tsv, ensemble.tsv (with residue and mutant), matrix.tsv, positions.tsv,
    top_mutations.tsv (the ``top_n`` most favoured substitutions), heatmap.png, .svg and .html,
    and the report's pages (report_pages): overview.png and its page overview.html, the full
    heatmap's page heatmap_view.html, the tables' pages matrix.html, positions.html and
    top_mutations.html. ``scores``: model -> its table; ``heatmap``: config heatmap (row_width,
    value); ``offset``: the residue number of residue 1; ``marks``: positions of a variant list's
    stop-gains and indels, marked on the heatmap. Returns the paths written."""
    folder = Path(root) / name
    written = []
    for model, table in scores.items():
        write_table(table, folder / "scores" / f"{model}.tsv")
        written.append(folder / "scores" / f"{model}.tsv")
    if "residue" not in ensemble.columns:
        ensemble = add_residue_columns(ensemble, offset)
    write_table(ensemble, folder / "ensemble.tsv")
    # from the table as written (7 significant digits), as users re-plotting it would
    ens = read_table(folder / "ensemble.tsv")
    write_table(matrix_table(ens, offset), folder / "matrix.tsv")
    write_table(positions_table(ens, offset), folder / "positions.tsv")
    figures = [folder / "heatmap.png", folder / "heatmap.svg"]
    draw_heatmap(ens, figures, title=sequence_id, value=heatmap["value"], offset=offset,
                 random_weights=random_weights, row_width=heatmap["row_width"], marks=marks)
    write_heatmap_html(ens, folder / "heatmap.html", sequence_id, offset=offset,
                       value=heatmap["value"], random_weights=random_weights)
    write_table(top_mutations(ens, top_n), folder / "top_mutations.tsv")
    stamp = RANDOM_STAMP if random_weights else ""
    overview(read_table(folder / "positions.tsv"), folder / "overview.png", sequence_id,
             random_weights=random_weights)
    pages = {
        "overview.html": image_page(folder / "overview.png", f"{sequence_id}: overview",
                                    [folder / "overview.png"], stamp),
        "heatmap_view.html": image_page(folder / "heatmap.png", f"{sequence_id}: heatmap",
                                        figures, stamp),
        "matrix.html": table_page(folder / "matrix.tsv", f"{sequence_id}: matrix", stamp=stamp),
        "positions.html": table_page(folder / "positions.tsv", f"{sequence_id}: positions",
                                     stamp=stamp),
        "top_mutations.html": table_page(
            folder / "top_mutations.tsv", f"{sequence_id}: top {top_n} substitutions",
            "The substitutions most favoured over the wild type by the ensemble (score_mean, "
            "highest first); n_agree: models whose score has the same sign; score_sd: the SD "
            "across models.", stamp),
    }
    for page, text in pages.items():
        write_text(folder / page, text)
    tables = [folder / f for f in ("ensemble.tsv", "matrix.tsv", "positions.tsv")]
    return (written + tables + figures + [folder / "heatmap.html", folder / "top_mutations.tsv",
                                          folder / "overview.png"] + [folder / p for p in pages])


def write_shard_protein_files(score_paths: dict[str, str], ensemble_path: str, heatmap: dict,
                              index, root="results", offsets: dict | None = None,
                              random_weights: bool = False, top_n: int = 20,
                              marks: dict[str, dict] | None = None) -> list[str]:
    """write_protein_files for every protein of a shard, then ``index``: one row per protein
    (name, sequence_id, its folder). ``marks``: FASTA id -> the heatmap's marks
    (VariantList.marks). Returns the names."""
    ens = pd.read_parquet(ensemble_path)
    ids = dict(zip(ens["name"], ens["sequence_id"]))
    per_model = {m: protein_rows(pd.read_parquet(p)) for m, p in score_paths.items()}
    for name, table in protein_rows(ens).items():
        write_protein_files(name, ids[name], {m: t[name] for m, t in per_model.items()}, table,
                            heatmap, root, (offsets or {}).get(ids[name], 1), random_weights,
                            top_n, (marks or {}).get(ids[name]))
    write_table(pd.DataFrame({"name": list(ids), "sequence_id": list(ids.values()),
                              "folder": [str(Path(root) / n) for n in ids]}), index)
    return list(ids)


def with_residues(table: pd.DataFrame, offsets: dict | None) -> pd.DataFrame:
    """A shard's ensemble table with ``residue`` and ``mutant`` (protein_tables.add_residue_columns),
    each protein numbered from its offset (the run's numbering, numbering.numbering: FASTA id ->
    first residue; ids not in ``offsets`` start at 1)."""
    parts = [add_residue_columns(rows, offset_for(offsets, sid))
             for sid, rows in table.groupby("sequence_id", sort=False)]
    return pd.concat(parts, ignore_index=True) if parts else add_residue_columns(table)


def collect(paths, out) -> int:
    """Concatenate shard tables into one Parquet file, one row group per shard, streaming (one
    shard in memory at a time). Returns the rows written."""
    rows = 0
    writer = None
    with atomic_path(out) as tmp:  # a full disk leaves no partial file, and names ``out``
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
    return rows
