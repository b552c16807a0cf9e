"""Pages and tables made for the Snakemake report, so that it stands on its own.

Snakemake's report shows images, PDFs and HTML pages inline and offers every other file only as a
download; an HTML item is shown in a frame of its own, where links to other files lead nowhere
(a data: URI in report.html, ``data/raw/<id>/`` in report.zip). So every page made here is
self-contained: no link to another file, no script or style fetched, the downloads it offers
carried inside it as data: URIs.

- :func:`table_page`: a TSV shown as an HTML table, sortable by clicking a column's head,
  searchable where long, with the TSV itself as the download;
- :func:`image_page`: a figure that opens at its top (the report centres an image taller than the
  window, cutting off its top), with the figure files as downloads;
- :func:`top_mutations`: ``results/{name}/top_mutations.tsv``, the substitutions most favoured
  over the wild type;
- :func:`overview`: one screen-sized figure per protein (:mod:`esm1v_scan.outputs.heatmap` draws the full
  heatmap);
- :func:`methods_html`: the Methods paragraph of a run, from its provenance.
"""

from __future__ import annotations

import base64
import mimetypes
import re
import shlex
import sys
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from esm1v_scan.errors import InputError

#: rows above which a table page gets a search box
SEARCH_ROWS = 25

TOP_MUTATIONS_COLUMNS = ["rank", "mutant", "position", "residue", "wt", "mt", "score_mean",
                         "score_sd", "n_agree", "n_models"]

_STYLE = (
    "body{font-family:sans-serif;font-size:13px;margin:8px}"
    "table{border-collapse:collapse}td,th{padding:2px 7px;border-bottom:1px solid #ddd;"
    "text-align:right;white-space:nowrap}th{cursor:pointer;background:#f3f3f3;position:sticky;"
    "top:0}th.asc:after{content:' \\25b2'}th.desc:after{content:' \\25bc'}"
    "td.text{text-align:left}.stamp{color:#b00;font-weight:bold}.bar{margin:6px 0}"
    "img{display:block;max-width:none}"
)

_SORT_SCRIPT = """
(function(){
  var table=document.getElementById('table'), body=table.tBodies[0];
  var heads=table.tHead.rows[0].cells, box=document.getElementById('search');
  function key(cell){var t=cell.textContent, v=parseFloat(t);
    return (t!=='' && isFinite(t)) ? [0,v] : [t==='' ? 2 : 1,t.toLowerCase()];}
  Array.prototype.forEach.call(heads,function(th,col){
    th.addEventListener('click',function(){
      var asc=!th.classList.contains('asc');
      Array.prototype.forEach.call(heads,function(h){h.classList.remove('asc','desc');});
      th.classList.add(asc?'asc':'desc');
      var rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){var x=key(a.cells[col]),y=key(b.cells[col]);
        if(x[0]!==y[0])return x[0]-y[0]; if(x[1]===y[1])return 0;
        return ((x[1]<y[1])?-1:1)*(asc?1:-1);});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
  if(box){box.addEventListener('input',function(){
    var q=box.value.toLowerCase(), shown=0;
    Array.prototype.forEach.call(body.rows,function(r){
      var hit=r.textContent.toLowerCase().indexOf(q)>=0; r.style.display=hit?'':'none';
      shown+=hit?1:0;});
    document.getElementById('count').textContent=shown+' of '+body.rows.length+' rows';
  });}
})();
"""


def data_uri(data: bytes, filename: str) -> str:
    mime = mimetypes.guess_type(filename)[0] or "text/plain"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _download(filename: str, data: bytes, label: str | None = None) -> str:
    return (f"<a download=\"{escape(filename, quote=True)}\" "
            f"href=\"{data_uri(data, filename)}\">{escape(label or filename)}</a>")


def _page(title: str, body: str, script: str = "") -> str:
    tail = f"<script>{script}</script>\n" if script else ""
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{escape(title)}</title>\n"
            f"<style>{_STYLE}</style></head>\n<body>\n{body}\n{tail}</body></html>\n")


def table_page(tsv, title: str, note: str = "", stamp: str = "") -> str:
    """The TSV file ``tsv`` as a self-contained HTML page: its cells exactly as in the file,
    sortable (click a column's head; numbers sort as numbers), a search box above
    :data:`SEARCH_ROWS` rows, and a link that downloads the TSV itself. ``note``: a line of text
    above the table; ``stamp``: a warning shown in red (the random-weights stamp)."""
    path = Path(tsv)
    data = path.read_bytes()
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    numeric = {c: bool(len(table)) and pd.to_numeric(table[c], errors="coerce").notna().all()
               for c in table.columns}
    head = "".join(f"<th>{escape(str(c))}</th>" for c in table.columns)
    rows = []
    for values in table.itertuples(index=False):
        rows.append("<tr>" + "".join(
            f"<td>{escape(v)}</td>" if numeric[c] else f"<td class='text'>{escape(v)}</td>"
            for c, v in zip(table.columns, values)) + "</tr>")
    search = ""
    if len(table) > SEARCH_ROWS:
        search = (f"<input id='search' type='search' placeholder='search rows' size='30'> "
                  f"<span id='count'>{len(table)} of {len(table)} rows</span>")
    body = (f"<h3>{escape(title)}</h3>\n"
            + (f"<p class='stamp'>{escape(stamp)}</p>\n" if stamp else "")
            + (f"<p>{escape(note)}</p>\n" if note else "")
            + f"<div class='bar'>Download: {_download(path.name, data)} "
            f"({len(table)} rows; click a column's head to sort) {search}</div>\n"
            f"<table id='table'>\n<thead><tr>{head}</tr></thead>\n<tbody>\n"
            + "\n".join(rows) + "\n</tbody></table>")
    return _page(title, body, _SORT_SCRIPT)


def image_page(image, title: str, downloads=(), note: str = "") -> str:
    """A self-contained page showing the PNG ``image`` at full size from its top-left corner
    (the page scrolls; nothing is centred or cut off), with ``downloads`` (paths: the image and,
    say, its SVG) as links carrying the files."""
    image = Path(image)
    links = " ".join(_download(Path(p).name, Path(p).read_bytes()) for p in downloads)
    body = (f"<div class='bar'><b>{escape(title)}</b>"
            + (f" &nbsp; {escape(note)}" if note else "")
            + (f" &nbsp; Download: {links}" if links else "") + "</div>\n"
            f"<img id='figure' alt='{escape(title, quote=True)}' "
            f"src='{data_uri(image.read_bytes(), image.name)}'>")
    return _page(title, body)


def top_mutations(ensemble: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """The ``n`` substitutions with the highest ``score_mean`` (most favoured over the wild type
    by the ensemble), best first; ties by position and amino acid. ``n_agree``: how many models
    give a score of the same sign as ``score_mean`` (``n_models`` in all); ``score_sd``: the SD
    across models. ``ensemble``: a protein's ensemble table with ``residue`` and ``mutant``
    (``results/{name}/ensemble.tsv``)."""
    missing = [c for c in ("position", "residue", "wt", "mt", "mutant", "score_mean", "score_sd")
               if c not in ensemble.columns]
    if missing:
        raise InputError(f"ensemble table lacks column(s) {', '.join(missing)}", "ensemble table")
    models = [c for c in ensemble.columns if c.startswith("score_")
              and c not in ("score_mean", "score_sd")]
    subs = ensemble[ensemble["wt"] != ensemble["mt"]]
    subs = subs[np.isfinite(subs["score_mean"].to_numpy(float))]
    best = subs.sort_values(["score_mean", "position", "mt"], ascending=[False, True, True],
                            kind="mergesort").head(max(int(n), 0))
    sign = np.sign(best["score_mean"].to_numpy(float))[:, None]
    per_model = np.sign(best[models].to_numpy(float)) if models else np.zeros((len(best), 0))
    out = best[["mutant", "position", "residue", "wt", "mt", "score_mean", "score_sd"]].copy()
    out.insert(0, "rank", np.arange(1, len(best) + 1))
    out["n_agree"] = (per_model == sign).sum(axis=1).astype(int)
    out["n_models"] = len(models)
    return out[TOP_MUTATIONS_COLUMNS].reset_index(drop=True)


#: the overview figure's size in pixels (width x height) at any protein length
OVERVIEW_PX = (1200, 900)


def overview(positions: pd.DataFrame, path, title: str, n_top: int = 10,
             random_weights: bool = False):
    """One screen-sized PNG (:data:`OVERVIEW_PX`, whatever the length) of a protein from its
    ``positions.tsv``: the per-position mean score of the 19 substitutions with its min-max band
    along the sequence, and the ``n_top`` most and least tolerated positions (highest and lowest
    mean score). Returns the figure (closed to pyplot)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from esm1v_scan.files import atomic_path

    pos = positions.dropna(subset=["mean_score"])
    dpi = 100
    fig = plt.figure(figsize=(OVERVIEW_PX[0] / dpi, OVERVIEW_PX[1] / dpi), dpi=dpi)
    grid = fig.add_gridspec(2, 2, height_ratios=[1, 1.1], hspace=0.35, wspace=0.3)
    track = fig.add_subplot(grid[0, :])
    x = pos["residue"].to_numpy(float)
    track.fill_between(x, pos["min_score"].to_numpy(float), pos["max_score"].to_numpy(float),
                       color="#cccccc", step="mid", label="min-max of the 19 substitutions")
    track.plot(x, pos["mean_score"].to_numpy(float), color="#333333", lw=0.8,
               drawstyle="steps-mid", label="mean of the 19 substitutions")
    track.axhline(0, color="#888888", lw=0.5)
    track.set_xlabel("residue")
    track.set_ylabel("ensemble score (log-ratio)")
    track.set_title("per-position mean score (more negative = less tolerant)", fontsize=10)
    track.legend(loc="lower right", fontsize=8, frameon=False)
    if len(x):
        track.set_xlim(x.min() - 0.5, x.max() + 0.5)
    for col, (label, ascending, colour) in enumerate(
            (("least tolerated positions", True, "#b2182b"),
             ("most tolerated positions", False, "#2166ac"))):
        ax = fig.add_subplot(grid[1, col])
        top = pos.sort_values(["mean_score", "position"], ascending=[ascending, True],
                              kind="mergesort").head(n_top)
        names = [f"{w}{r}" for w, r in zip(top["wt"], top["residue"])]
        ax.barh(range(len(top)), top["mean_score"].to_numpy(float), color=colour)
        ax.set_yticks(range(len(top)), names, fontsize=9)
        ax.invert_yaxis()
        ax.axvline(0, color="#888888", lw=0.5)
        ax.set_xlabel("mean score of the 19 substitutions")
        ax.set_title(label, fontsize=10)
    stamp = "RANDOM WEIGHTS - NOT ESM-1V   " if random_weights else ""
    fig.suptitle(f"{stamp}{title}: {len(pos)} positions", fontsize=12,
                 color="#b00000" if random_weights else "black")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)
    return fig


CITATIONS = {
    "esm1v": "Meier J, Rao R, Verkuil R, Liu J, Sercu T, Rives A. Language models enable zero-shot "
             "prediction of the effects of mutations on protein function. Advances in Neural "
             "Information Processing Systems 34 (2021).",
    "fair-esm": "fair-esm: Evolutionary Scale Modeling, https://github.com/facebookresearch/esm "
                "(Rives A et al. PNAS 118, e2016239118, 2021).",
    "snakemake": "M\u00f6lder F, Jablonski KP, Letcher B, et al. Sustainable data analysis with "
                 "Snakemake. F1000Research 10:33 (2021).",
    "biolm": "BioLM API, ESM-1v endpoints, https://biolm.ai.",
}

STRATEGIES = {
    "masked-marginals": "masked marginals (each position masked in turn; score = log p(mutant) - "
                        "log p(wild type) at the masked position)",
    "wt-marginals": "wild-type marginals (one pass over the unmasked sequence; score = log "
                    "p(mutant) - log p(wild type) at each position)",
}


def command_line(argv=None) -> str:
    """The command that ran Snakemake (``python -m snakemake ...`` as ``snakemake ...``)."""
    argv = list(sys.argv if argv is None else argv)
    if argv and (argv[0].endswith("__main__.py") or Path(argv[0]).name == "snakemake"):
        argv[0] = "snakemake"
    # a secret given on the command line stays out of the report
    argv = [re.sub(r"(?i)((?:token|secret|password)[^=]*=).*", r"\1***", a) for a in argv]
    return shlex.join(argv)


def _one(value):
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def methods_text(prov: dict) -> str:
    """The Methods paragraph of a run, from its provenance document (provenance.build), as plain
    text a paper can use."""
    config = prov.get("config") or {}
    scoring = prov.get("scoring") or {}
    models = prov.get("models") or {}
    versions = prov.get("versions") or {}
    backend = config.get("backend", scoring.get("backend", "local"))
    strategy = _one(scoring.get("strategy", config.get("strategy", "masked-marginals")))
    parts = [f"Mutation effects were predicted with ESM-1v [1] using esm1v-scan "
             f"(version {prov.get('workflow', {}).get('version', 'unknown')}, git commit "
             f"{(prov.get('workflow', {}).get('git') or {}).get('commit') or 'not recorded'}"
             f"{' with local changes' if (prov.get('workflow', {}).get('git') or {}).get('dirty') else ''})"
             f", a Snakemake [3] workflow."]
    if backend == "biolm":
        endpoints = sorted({str(e.get("endpoint")) for e in models.values() if e.get("endpoint")})
        dates = sorted({d for e in models.values() for d in e.get("dates", [])})
        base = (config.get("biolm") or {}).get("base_url")
        parts.append(f"The {len(models)} ESM-1v models ({', '.join(models)}) were run through the "
                     f"BioLM API [4] ({base + ', ' if base else ''}endpoint "
                     f"{', '.join(endpoints) or 'not recorded'}; "
                     f"{', '.join(dates) or 'dates not recorded'}).")
    else:
        weights = "; ".join(f"{m} (sha256 {e.get('sha256') or 'not recorded'})"
                            for m, e in models.items())
        parts.append(f"The {len(models)} ESM-1v models were run locally with fair-esm [2] "
                     f"{versions.get('fair-esm') or ''} and PyTorch {versions.get('torch') or ''} "
                     f"on {_one(scoring.get('device', config.get('device', 'cpu')))} in "
                     f"{_one(scoring.get('precision', config.get('precision', 'fp32')))} precision: "
                     f"{weights}.")
    if prov.get("weights", "ESM-1v") != "ESM-1v":
        parts.append(f"WARNING: {prov['weights']}; these scores are not ESM-1v predictions.")
    parts.append(f"Each substitution was scored by {STRATEGIES.get(strategy, strategy)}.")
    window = config.get("max_residues", 1022)
    if strategy == "wt-marginals":
        parts.append(f"Sequences longer than {window:,} residues were read in overlapping windows "
                     f"of {window:,} residues, blended linearly across the overlaps.")
    elif config.get("long_windows") == "proteingym":
        parts.append("Sequences longer than 1,022 residues were scored in ProteinGym's "
                     "1,024-token windows of the whole token string (begin token, protein, end "
                     "token) around each site.")
    else:
        parts.append(f"Sequences longer than {window:,} residues were scored in windows of "
                     f"{window:,} residues centred on the scored site (clamped at the ends), each "
                     f"wrapped in the begin and end tokens.")
    n = len(models)
    parts.append(f"The ensemble score of a substitution is the mean over the {n} model(s) of "
                 f"their log-ratio scores (natural log; negative = less likely than the wild "
                 f"type), with its standard deviation across models; a multi-mutant's score is "
                 f"the sum over its mutated sites.")
    parts.append(f"Software: Python {versions.get('python') or ''}, Snakemake "
                 f"{versions.get('snakemake') or ''}"
                 + (f", fair-esm {versions['fair-esm']}, PyTorch {versions['torch']}"
                    if backend != "biolm" and versions.get("fair-esm") else "") + ".")
    return " ".join(" ".join(p.split()) for p in parts)


def methods_html(prov: dict, command: str) -> str:
    """The report's Methods page: the paragraph (:func:`methods_text`), its references, the
    command that ran the workflow and the resolved configuration."""
    config = prov.get("config") or {}
    refs = [CITATIONS["esm1v"], CITATIONS["fair-esm"], CITATIONS["snakemake"]]
    if config.get("backend") == "biolm":
        refs.append(CITATIONS["biolm"])
    references = "\n".join(f"<li>{escape(r)}</li>" for r in refs)
    config_yaml = yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
    body = (
        "<h3>Methods</h3>\n"
        f"<p id='methods'>{escape(methods_text(prov))}</p>\n"
        f"<ol>\n{references}\n</ol>\n"
        "<h4>Command</h4>\n"
        f"<pre id='command'>{escape(command)}</pre>\n"
        "<h4>Configuration (resolved, defaults included)</h4>\n"
        f"<pre id='config'>{escape(config_yaml)}</pre>"
    )
    return _page("Methods", body)
