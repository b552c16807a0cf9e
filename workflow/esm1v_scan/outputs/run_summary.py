"""The run's landing summary: one row per protein, for ``results/summary.tsv`` and the report.

=============  ===================================================================================
id             FASTA id
name           file-safe name (the folder under results/)
description    the FASTA description line after the id (empty when there is none)
length         residues
mean_score     mean tolerance: the mean over scored positions of ``mean_score`` of
               ``positions.tsv`` (the mean ensemble score of the 19 substitutions); more negative =
               less tolerant
n_positions    positions scored
n_variants     variants of the sequence's mutation list (0 without one)
n_not_scored   of those, the variants left without a score (frameshifts, start and stop loss, ...:
               variants.tsv's ``scoring`` says why)
spearman       Spearman's rho of the ensemble against the experimental values (empty where none)
=============  ===================================================================================
"""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

COLUMNS = ["id", "name", "description", "length", "mean_score", "n_positions", "n_variants",
           "n_not_scored", "spearman"]

#: per-protein files the summary page links to: label -> file under results/{name}/ (which of
#: them a run makes: :func:`protein_links`)
PER_PROTEIN_LINKS = {
    "heatmap": "heatmap.png",
    "svg": "heatmap.svg",
    "interactive": "heatmap.html",
    "scores": "ensemble.tsv",
    "matrix": "matrix.tsv",
    "positions": "positions.tsv",
}


def protein_links(name: str, per_protein: bool, variants: bool = False, evaluated: bool = False,
                  structure: str | None = None) -> dict[str, str]:
    """label -> path relative to results/ of the files this run makes for protein ``name``."""
    files = dict(PER_PROTEIN_LINKS) if per_protein else {}
    if variants:
        files["variants"] = "variants.tsv"
    if evaluated:
        files["evaluation"] = "evaluation.html"
        files["scatter"] = "scatter.png"
    if structure:
        files["structure"] = structure
        files["PyMOL"] = "structure.pml"
        files["ChimeraX"] = "structure.defattr"
    return {label: f"{name}/{file}" for label, file in files.items()}


def shard_tolerance(path) -> pd.DataFrame:
    """Per protein of a shard's ensemble table (parquet): ``mean_score``, the mean over its
    positions of the mean ``score_mean`` of the 19 substitutions (= the mean of ``positions.tsv``'s
    ``mean_score``), and ``n_positions`` scored. Reads four columns of one shard: cheap at
    proteome scale."""
    ens = pd.read_parquet(path, columns=["name", "position", "wt", "mt", "score_mean"])
    subs = ens[ens["mt"] != ens["wt"]]
    per_position = subs.groupby(["name", "position"], sort=False)["score_mean"].mean()
    per_protein = per_position.groupby(level="name", sort=False)
    return pd.DataFrame({"mean_score": per_protein.mean(), "n_positions": per_protein.size()})


def protein_row(protein, positions: pd.DataFrame, n_variants: int = 0,
                spearman: float | None = None, n_not_scored: int = 0) -> dict:
    """The summary row of one protein from its positions table (``positions.tsv``)."""
    scores = positions["mean_score"].to_numpy(dtype=float)
    return _row(protein, float(np.nanmean(scores)) if np.isfinite(scores).any() else float("nan"),
                len(positions), n_variants, spearman, n_not_scored)


def _row(protein, mean_score: float, n_positions: int, n_variants: int = 0,
         spearman: float | None = None, n_not_scored: int = 0) -> dict:
    return {
        "id": protein.id,
        "name": protein.name,
        "description": getattr(protein, "description", ""),
        "length": protein.length,
        "mean_score": float(mean_score),
        "n_positions": int(n_positions),
        "n_variants": int(n_variants),
        "n_not_scored": int(n_not_scored),
        "spearman": float("nan") if spearman is None else float(spearman),
    }


def build_summary(proteins, ensemble_paths, n_variants: dict | None = None,
                  spearman: dict | None = None, n_not_scored: dict | None = None) -> pd.DataFrame:
    """results/summary.tsv: one row per protein in FASTA order, from the shards' ensemble tables
    (one shard in memory at a time). ``n_variants`` / ``spearman`` / ``n_not_scored``: name ->
    value, where known."""
    tolerance = pd.concat([shard_tolerance(p) for p in ensemble_paths])
    n_variants, spearman, n_not_scored = n_variants or {}, spearman or {}, n_not_scored or {}
    rows = []
    for p in proteins:
        mean, n = (tolerance.loc[p.name] if p.name in tolerance.index
                   else (float("nan"), 0))
        rows.append(_row(p, mean, n, n_variants.get(p.name, 0), spearman.get(p.name),
                         n_not_scored.get(p.name, 0)))
    return summary_table(rows)


def ensemble_spearman(evaluation_tsv) -> float:
    """Spearman's rho of the ensemble over all scored variants from a protein's
    ``evaluation.tsv``."""
    table = pd.read_csv(evaluation_tsv, sep="\t", keep_default_na=False, na_values=[""])
    rows = table["predictor"] == "ensemble"
    if "variant_type" in table:
        rows &= table["variant_type"] == "all"
    return float(table.loc[rows, "spearman"].iloc[0])


def summary_table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


def _cell(value, column: str) -> str:
    if column in ("mean_score", "spearman"):
        return "" if pd.isna(value) else f"{value:.3f}"
    return escape(str(value))


def vcf_html(summaries: dict[str, pd.DataFrame]) -> str:
    """The annotated VCFs' counts (name -> its ``results/vcf/{name}.summary.tsv``), one small
    table each, with links to the VCF's outputs (relative to ``results/``)."""
    out = []
    for name, counts in summaries.items():
        files = [f"vcf/{name}.esm1v.vcf.gz", f"vcf/{name}.esm1v.tsv", f"vcf/{name}.summary.tsv"]
        anchors = " ".join(f"<a href=\"{escape(f, quote=True)}\">{escape(f)}</a>" for f in files)
        head = "".join(f"<th>{escape(str(c))}</th>" for c in counts.columns)
        rows = "\n".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>"
                         for row in counts.itertuples(index=False))
        out.append(f"<h4>Annotated VCF {escape(name)}</h4>\n<p>{anchors}</p>\n<table>\n<thead><tr>"
                   f"{head}</tr></thead>\n<tbody>\n{rows}\n</tbody></table>\n")
    return "".join(out)


def summary_html(table: pd.DataFrame, title: str, links: dict[str, dict[str, str]] | None = None,
                 note: str = "", vcfs: dict[str, pd.DataFrame] | None = None) -> str:
    """A self-contained HTML page of the summary (no script, style or font fetched). ``links``:
    name -> label -> path relative to ``results/`` (:func:`protein_links`), so the page works
    opened from results/; ``note``: a line shown above the table (the random-weights stamp);
    ``vcfs``: the annotated VCFs' counts, shown after the table (:func:`vcf_html`)."""
    links = links or {}
    head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS) + "<th>files</th>"
    body = []
    for row in table.to_dict("records"):
        anchors = [f"<a href=\"{escape(rel, quote=True)}\">{escape(label)}</a>"
                   for label, rel in links.get(row["name"], {}).items()]
        cells = "".join(f"<td>{_cell(row[c], c)}</td>" for c in COLUMNS)
        body.append(f"<tr>{cells}<td>{' '.join(anchors)}</td></tr>")
    stamp = f"<p class='stamp'>{escape(note)}</p>\n" if note else ""
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>"
        f"{escape(title)}</title>\n<style>body{{font-family:sans-serif;font-size:13px}}"
        "table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #ccc;"
        "text-align:left}td:nth-child(n+4):not(:last-child){text-align:right}"
        ".stamp{color:#b00;font-weight:bold}</style></head>\n<body>\n"
        f"<h3>{escape(title)}</h3>\n{stamp}<p>mean_score: mean ensemble log-ratio of the 19 "
        "substitutions, averaged over the scored positions (more negative = less tolerant). "
        "n_not_scored: variants of the list left without a score (variants.tsv's scoring says "
        "why). spearman: the ensemble against the experimental values of the mutation list, over "
        "the scored variants. Links are relative to the results folder.</p>\n"
        f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(body)
        + "\n</tbody></table>\n" + vcf_html(vcfs or {}) + "</body></html>\n"
    )
