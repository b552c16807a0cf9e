"""The report stands alone: self-contained table and figure pages, the overview figure, the top
substitutions, the Methods item; and (check_report_zip, used by the end-to-end test in
tests/test_structures_e2e.py) every link of every page of an unzipped report.zip leads to
something inside the report, checked in chromium."""

from __future__ import annotations

import base64
import html
import json
import re
import subprocess
import urllib.parse
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from esm1v_scan.outputs.report_pages import (OVERVIEW_PX, SEARCH_ROWS, command_line, image_page,
                                     methods_html, methods_text, overview, table_page,
                                     top_mutations)
from esm1v_scan.outputs.protein_tables import positions_table
from test_interactive import chromium, make_ensemble

MODELS3 = ["m1", "m2", "m3"]


def hrefs(page: str) -> list[str]:
    return [html.unescape(a or b) for a, b in
            re.findall(r'href\s*=\s*(?:"([^"]*)"|\'([^\']*)\')', page)]


def decode_data_uri(uri: str) -> bytes:
    head, _, data = uri.partition(",")
    assert head.startswith("data:") and head.endswith(";base64"), head[:80]
    return base64.b64decode(data)


# -- top_mutations -------------------------------------------------------------------------------

def test_top_mutations_are_the_highest_substitutions_with_agreement_and_sd():
    rows = []
    # position 1 wild type A, position 2 wild type C; scores per model chosen by hand
    table = {(1, "A"): (0, 0, 0), (1, "D"): (3.0, 2.0, -1.0), (1, "E"): (0.5, 0.5, 0.5),
             (2, "C"): (0, 0, 0), (2, "K"): (1.0, 1.5, 2.0), (2, "W"): (-2.0, -1.0, -3.0),
             (2, "Y"): (np.nan, np.nan, np.nan)}
    for (pos, mt), scores in table.items():
        wt = "A" if pos == 1 else "C"
        rows.append({"position": pos, "residue": pos + 9, "wt": wt, "mt": mt,
                     "mutant": f"{wt}{pos + 9}{mt}", "score_mean": np.mean(scores),
                     "score_sd": np.std(scores, ddof=1),
                     **{f"score_{m}": s for m, s in zip(MODELS3, scores)}})
    ens = pd.DataFrame(rows)
    top = top_mutations(ens, 3)
    assert list(top["mutant"]) == ["C11K", "A10D", "A10E"]  # means 1.5, 1.333, 0.5
    assert list(top["rank"]) == [1, 2, 3]
    assert list(top["n_agree"]) == [3, 2, 3]  # A10D: m3 is negative
    assert list(top["n_models"]) == [3, 3, 3]
    assert top.loc[1, "score_sd"] == pytest.approx(np.std([3.0, 2.0, -1.0], ddof=1))
    assert list(top["residue"]) == [11, 10, 10]
    # never the wild type, never an unscored cell; fewer rows than asked when that is all
    everything = top_mutations(ens, 50)
    assert list(everything["mutant"]) == ["C11K", "A10D", "A10E", "C11W"]


# -- pages ---------------------------------------------------------------------------------------

def test_table_page_shows_the_file_and_downloads_it(tmp_path):
    tsv = tmp_path / "positions.tsv"
    short = pd.DataFrame({"position": [1, 2], "wt": ["M", "<b>"], "score": [-1.25, 0.5]})
    short.to_csv(tsv, sep="\t", index=False)
    page = table_page(tsv, "p <1>", note="a note", stamp="random weights - not ESM-1v")
    links = hrefs(page)
    assert len(links) == 1 and decode_data_uri(links[0]) == tsv.read_bytes()
    assert 'download="positions.tsv"' in page
    assert links[0].startswith("data:text/tab-separated-values;base64,")
    cells = re.findall(r"<td[^>]*>(.*?)</td>", page)
    assert [html.unescape(c) for c in cells] == ["1", "M", "-1.25", "2", "<b>", "0.5"]
    assert "<h3>p &lt;1&gt;</h3>" in page and "random weights - not ESM-1v" in page
    assert "id='search'" not in page  # short: no search box
    assert not re.search(r"<(link|script)[^>]+src=", page)  # nothing fetched
    long = pd.DataFrame({"position": range(SEARCH_ROWS + 1)})
    long.to_csv(tsv, sep="\t", index=False)
    assert "id='search'" in table_page(tsv, "long")


def test_table_page_sorts_and_searches_in_a_browser(tmp_path):
    tsv = tmp_path / "t.tsv"
    pd.DataFrame({"mutant": [f"A{k}C" for k in range(40)],
                  "score": [((k * 7) % 40) - 20.5 for k in range(40)]}).to_csv(tsv, sep="\t", index=False)
    page = table_page(tsv, "t")
    # click the score column's head twice (descending), then search "A1": a probe script appends
    # what is shown to the page
    probe = """<script>
    var th=document.querySelectorAll('th')[1]; th.click(); th.click();
    var box=document.getElementById('search'); box.value='A1'; box.dispatchEvent(new Event('input'));
    var shown=Array.prototype.filter.call(document.querySelectorAll('tbody tr'),
      function(r){return r.style.display!=='none';}).map(function(r){return r.cells[1].textContent;});
    var all=Array.prototype.map.call(document.querySelectorAll('tbody tr'),
      function(r){return r.cells[1].textContent;});
    var out=document.createElement('pre'); out.id='probe';
    out.textContent=JSON.stringify({shown:shown, all:all, count:document.getElementById('count').textContent});
    document.body.appendChild(out);</script>"""
    (tmp_path / "t.html").write_text(page.replace("</body>", probe + "</body>"))
    dom = dump_dom(tmp_path / "t.html", tmp_path)
    got = json.loads(html.unescape(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S).group(1)))
    values = [float(v) for v in got["all"]]
    assert values == sorted(values, reverse=True)  # numeric, not text, order
    want = pd.read_csv(tsv, sep="\t")
    hits = want[want["mutant"].str.contains("A1")]
    assert sorted(float(v) for v in got["shown"]) == sorted(hits["score"])
    assert got["count"] == f"{len(hits)} of 40 rows"


def test_image_page_opens_at_the_top_of_a_tall_figure(tmp_path):
    """A 6,100 px figure: its first rows are on the first screen of the page (the report's own
    image view centres it, cutting off its top), and its files are the page's downloads."""
    tall = np.full((6100, 900, 3), 255, np.uint8)
    tall[:40, :, :] = (200, 30, 30)  # a red band at the top: the title's place
    tall[40:80, :, :] = (30, 30, 200)
    tall[-40:, :, :] = (30, 200, 30)
    png = tmp_path / "heatmap.png"
    Image.fromarray(tall).save(png)
    svg = tmp_path / "heatmap.svg"
    svg.write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    page = image_page(png, "tall <x>", [png, svg], note="random weights - not ESM-1v")
    assert [decode_data_uri(h) for h in hrefs(page)] == [png.read_bytes(), svg.read_bytes()]
    (tmp_path / "page.html").write_text(page)
    shot = tmp_path / "shot.png"
    subprocess.run(browser_args(tmp_path) + ["--window-size=1200,700", f"--screenshot={shot}",
                                             (tmp_path / "page.html").as_uri()],
                   capture_output=True, timeout=180)
    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    red = np.where((np.abs(img[:, 20] - (200, 30, 30)).sum(axis=1) < 10))[0]
    blue = np.where((np.abs(img[:, 20] - (30, 30, 200)).sum(axis=1) < 10))[0]
    assert len(red) == 40 and red[0] < 60, red[:5]  # the figure's top, unscaled, near the top
    assert len(blue) == 40 and blue[0] == red[-1] + 1


def test_overview_is_one_screen_at_any_length(tmp_path):
    for n in (30, 1500):
        ens = make_ensemble(n, seed=n)
        ens["residue"] = ens["position"] + 99
        pos = positions_table(ens, 100)
        fig = overview(pos, tmp_path / f"o{n}.png", f"prot{n}", n_top=5, random_weights=True)
        with Image.open(tmp_path / f"o{n}.png") as im:
            assert im.size == OVERVIEW_PX and OVERVIEW_PX[1] <= 1200
        least, most = fig.axes[1], fig.axes[2]
        low = pos.nsmallest(5, "mean_score")
        high = pos.nlargest(5, "mean_score")
        assert [t.get_text() for t in least.get_yticklabels()] == [
            f"{w}{r}" for w, r in zip(low["wt"], low["residue"])]
        assert [t.get_text() for t in most.get_yticklabels()] == [
            f"{w}{r}" for w, r in zip(high["wt"], high["residue"])]
        np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), pos["mean_score"])
        assert fig._suptitle.get_text().startswith("RANDOM WEIGHTS - NOT ESM-1V")


# -- Methods -------------------------------------------------------------------------------------

PROV = {
    "weights": "ESM-1v",
    "versions": {"python": "3.11.7", "torch": "2.3.1", "fair-esm": "2.0.0", "snakemake": "9.27.1"},
    "workflow": {"version": "0.1.0", "git": {"commit": "abc123", "dirty": False}},
    "scoring": {"device": "cuda:0 (NVIDIA H100)", "precision": "bf16",
                "strategy": "masked-marginals", "backend": "local"},
    "models": {f"esm1v_t33_650M_UR90S_{k}": {"sha256": f"{k}" * 64} for k in (1, 2)},
    "config": {"sequences": "in.fasta", "backend": "local", "max_residues": 1022,
               "models": ["esm1v_t33_650M_UR90S_1", "esm1v_t33_650M_UR90S_2"]},
}


def test_methods_paragraph_from_the_provenance():
    text = methods_text(PROV)
    for part in ("ESM-1v [1]", "esm1v-scan (version 0.1.0, git commit abc123)", "Snakemake [3]",
                 "fair-esm [2] 2.0.0", "PyTorch 2.3.1", "cuda:0 (NVIDIA H100)", "bf16 precision",
                 f"esm1v_t33_650M_UR90S_1 (sha256 {'1' * 64})",
                 f"esm1v_t33_650M_UR90S_2 (sha256 {'2' * 64})", "masked marginals",
                 "windows of 1,022 residues", "mean over the 2 model(s)",
                 "Python 3.11.7, Snakemake 9.27.1"):
        assert part in text, (part, text)
    assert "WARNING" not in text and "BioLM" not in text
    page = methods_html(PROV, "snakemake --cores 8")
    assert "Meier J" in page and "Snakemake. F1000Research" in page and "biolm.ai" not in page
    assert "<pre id='command'>snakemake --cores 8</pre>" in page
    assert "sequences: in.fasta" in page and hrefs(page) == []


def test_methods_of_a_biolm_run_and_random_weights():
    prov = {**PROV, "weights": "random weights - not ESM-1v: m1",
            "config": {**PROV["config"], "backend": "biolm",
                       "biolm": {"base_url": "https://biolm.ai/api/v3"}},
            "models": {"esm1v_t33_650M_UR90S_1": {"endpoint": "esm1v-all",
                                                  "dates": ["2026-12-01"]}}}
    text = methods_text(prov)
    assert "BioLM API [4] (https://biolm.ai/api/v3, endpoint esm1v-all; 2026-12-01)" in text
    assert "sha256" not in text and "WARNING: random weights - not ESM-1v: m1" in text
    assert "BioLM API, ESM-1v endpoints" in methods_html(prov, "snakemake")


def test_command_line_names_snakemake_and_hides_secrets():
    argv = ["/x/site-packages/snakemake/__main__.py", "--cores", "8", "--config",
            "biolm_token=s3cret", "sequences=my file.fasta"]
    assert command_line(argv) == ("snakemake --cores 8 --config 'biolm_token=***' "
                                  "'sequences=my file.fasta'")


# -- the built report (tests/test_structures_e2e.py runs the workflow) ---------------------------

def browser_args(tmp_path) -> list[str]:
    return [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--force-device-scale-factor=1", "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}"]


def dump_dom(page: Path, tmp_path) -> str:
    proc = subprocess.run(browser_args(tmp_path) + ["--virtual-time-budget=10000", "--dump-dom",
                                                    page.as_uri()],
                          capture_output=True, text=True, timeout=180)
    assert proc.stdout, proc.stderr[-2000:]
    return proc.stdout


def report_variable(report: str, name: str):
    m = re.search(rf"\n\s*var {name} = ([{{\"].*?);\n", report)
    assert m, f"no {name} in the report"
    return json.loads(m.group(1))


def check_report_zip(zip_path: Path, tmp_path: Path, proteins: list[str]) -> dict:
    """Unzip the report; every href of the front page, of every caption and of every HTML page
    (as chromium renders it) leads inside the report: an anchor, a data: URI carried by the page,
    app.showResultInfo of a result of the report, or a file of the zip. Each protein's items
    start with its overview; no figure is an image taller than a screen. Returns the results."""
    out = tmp_path / "unzipped"
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(out)
    (report_html,) = out.glob("*/report.html")
    root = report_html.parent
    report = report_html.read_text()
    results = report_variable(report, "results")
    categories = report_variable(report, "categories")
    front = report_variable(report, "workflow_desc")
    assert "System Message" not in report and "system-message" not in report
    dead = []

    def check(where: str, base: Path, links: list[str]):
        for link in links:
            if link.startswith("#") or link.startswith("data:"):
                continue
            m = re.fullmatch(r"javascript:app\.showResultInfo\('([^']*)'\)", link)
            if m:
                if urllib.parse.unquote(m.group(1)) not in results:
                    dead.append((where, link))
                continue
            target = (base / urllib.parse.unquote(link.split("#")[0])).resolve()
            if "://" in link or not target.is_file() or root.resolve() not in target.parents:
                dead.append((where, link))

    check("front page", root, hrefs(front))
    n_pages = 0
    for path, entry in results.items():
        check(f"caption of {path}", root, hrefs(entry["caption"] or ""))
        stored = root / entry["data_uri"]
        assert stored.is_file(), path
        if entry["mime_type"] == "text/html":
            n_pages += 1
            check(path, stored.parent, hrefs(dump_dom(stored, tmp_path)))
        if entry["mime_type"].startswith("image/") and entry["mime_type"] != "image/svg+xml":
            with Image.open(stored) as im:
                assert im.size[1] <= 700, (path, im.size)  # the report centres an image
    assert dead == [] and n_pages > 0, dead[:20]
    # per protein: the overview first, then the figures and tables; the files in the zip
    assert sorted(categories["3. Proteins"]) == sorted(proteins)
    for name in proteins:
        items = sorted(results[p]["labels"]["item"] for p in categories["3. Proteins"][name])
        assert items[:6] == ["1. overview", "2. heatmap", "3. interactive heatmap",
                             "4. top mutations", "5. positions", "6. matrix"], items
        for f in ("overview.html", "heatmap_view.html", "ensemble.tsv", "top_mutations.tsv"):
            assert f"results/{name}/{f}" in results, (name, f)
        page = (root / results[f"results/{name}/heatmap_view.html"]["data_uri"]).read_text()
        files = [Path(urllib.parse.unquote(h)) for h in re.findall(r'download="([^"]+)"', page)]
        assert files == [Path("heatmap.png"), Path("heatmap.svg")]
    # the summary's caption links every protein's items
    caption = results["results/summary_table.html"]["caption"]
    for name in proteins:
        for p in categories["3. Proteins"][name]:
            assert f"showResultInfo('{p}')" in caption, p
    methods = (root / results["results/provenance/methods.html"]["data_uri"]).read_text()
    assert "Mutation effects were predicted with ESM-1v [1]" in methods
    assert "<pre id='command'>snakemake " in methods
    return results
