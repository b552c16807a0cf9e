"""results/{name}/heatmap.html: the embedded data equal the ensemble table, the page is
self-contained and safe, and it works in a real headless browser (Debian's chromium).

The browser tests are skipped when chromium is absent, unless ESM1V_SCAN_REQUIRE_BROWSER=1 (CI sets
it), which turns that into a failure.
"""

from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pytest

from conftest import required_tool
from esm1v_scan.scoring.ensemble import ensemble
from esm1v_scan.errors import InputError
from esm1v_scan.inputs.fasta import AMINO_ACIDS
from esm1v_scan.outputs.heatmap_page import heatmap_html, write_heatmap_html
from esm1v_scan.scoring.score_tables import score_table

MODELS = [f"esm1v_t33_650M_UR90S_{k}" for k in range(1, 6)]
ORDER = "AVLIMFWYSTNQCGPKRHDE"  # grouped by property, top to bottom
NASTY = 'sp|P1|X <b>bold</b> & "quoted" </script><script>alert(1)</script>'


def make_ensemble(n: int, seed: int = 0, models=MODELS, positions=None):
    rng = np.random.default_rng(seed)
    seq = "".join(rng.choice(list(AMINO_ACIDS), n))
    pos = np.arange(1, n + 1) if positions is None else np.asarray(positions)
    tables = {m: score_table(seq, pos, np.log(rng.dirichlet(np.full(20, 0.5), len(pos))))
              for m in models}
    return ensemble(tables)


def embedded(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def cell(data: dict, position: int, mt: str, offset: int = 1) -> int:
    return data["residues"].index(position + offset - 1) * 20 + ORDER.index(mt)


# -- the embedded data ---------------------------------------------------------------------------

def test_embedded_values_equal_the_table():
    df = make_ensemble(37)
    data = embedded(heatmap_html(df, "p", offset=10))
    assert data["aa"] == ORDER
    assert data["residues"] == list(range(10, 47))  # residue number = position + offset - 1
    assert data["models"] == MODELS
    assert len(data["score"]) == 37 * 20
    for row in df.itertuples():
        k = cell(data, row.position, row.mt, offset=10)
        assert data["wt"][k // 20] == row.wt
        assert data["score"][k] == pytest.approx(row.score_mean, abs=5e-4)
        assert data["sd"][k] == pytest.approx(row.score_sd, abs=5e-4)
        for n, m in enumerate(MODELS):
            assert data["model_scores"][n][k] == pytest.approx(getattr(row, f"score_{m}"), abs=5e-4)


def test_limit_is_99th_percentile_of_substitutions():
    df = make_ensemble(50, seed=3)
    subs = df.loc[df["wt"] != df["mt"], "score_mean"].abs()
    data = embedded(heatmap_html(df, "p"))
    assert data["limit"] == pytest.approx(np.percentile(subs, 99), abs=1e-4)
    assert data["beyond"] == int((subs > np.percentile(subs, 99)).sum())
    assert "99th percentile" in data["limit_rule"]
    assert embedded(heatmap_html(df, "p", limit=4))["limit"] == 4


def test_one_model_and_a_variant_subset():
    df = make_ensemble(40, models=MODELS[:1], positions=[3, 4, 5, 20, 31])
    data = embedded(heatmap_html(df, "p", offset=1))
    assert data["residues"] == [3, 4, 5, 20, 31]
    assert data["sd"] == [None] * 100  # one model: no spread
    k = cell(data, 20, "W")
    assert data["model_scores"][0][k] == pytest.approx(
        df.query("position == 20 and mt == 'W'")[f"score_{MODELS[0]}"].item(), abs=5e-4)


def test_self_contained_and_escaped(tmp_path):
    page = heatmap_html(make_ensemble(12), NASTY)
    for url in ("http:", "https:", "//", "url(", "@import"):
        assert url not in page
    assert not re.search(r"\b(src|href)\s*=", page)
    assert "<b>bold</b>" not in page and "alert(1)</script>" not in page
    assert page.count("</script>") == 2  # the data and the code, nothing injected
    assert "<title>ESM-1v scan: sp|P1|X &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;" in page
    assert embedded(page)["title"] == NASTY
    out = tmp_path / "r" / "heatmap.html"
    write_heatmap_html(make_ensemble(12), out, NASTY)
    assert out.read_text(encoding="utf-8") == page
    assert [p.name for p in out.parent.iterdir()] == ["heatmap.html"]


def test_missing_column_is_one_clear_error():
    df = make_ensemble(5).drop(columns=["score_sd"])
    with pytest.raises(InputError, match="ensemble table lacks column.* score_sd"):
        heatmap_html(df, "p")
    with pytest.raises(InputError, match="ensemble table has no rows"):
        heatmap_html(make_ensemble(5).iloc[:0], "p")


# -- in a real browser -----------------------------------------------------------------------------

def chromium() -> str:
    return required_tool("chromium", "ESM1V_SCAN_REQUIRE_BROWSER", "apt-get install -y chromium")


def browse(tmp_path, page: str, fragment: str = "", screenshot=None, size="1200,700"):
    """Load the page headless; returns (state dict written by the page, console lines, DOM)."""
    html_file = tmp_path / "heatmap.html"
    html_file.write_text(page, encoding="utf-8")
    args = [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--enable-logging=stderr", "--v=0", f"--window-size={size}",
            "--force-device-scale-factor=1", f"--user-data-dir={tmp_path / 'profile'}"]
    args += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    proc = subprocess.run(args + [html_file.as_uri() + fragment], capture_output=True, text=True,
                          timeout=180)
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    state = {}
    if not screenshot:
        m = re.search(r'<div id="state">(.*?)</div>', proc.stdout, re.S)
        assert m, f"no state in the DOM:\n{proc.stdout[:2000]}\n{proc.stderr[-3000:]}"
        state = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    return state, console, proc.stdout


@pytest.fixture(scope="module")
def five_models():
    return make_ensemble(300, seed=7)


def test_browser_loads_without_errors_and_hover_shows_the_scores(tmp_path, five_models):
    df = five_models
    row = df.query("position == 24 and wt != mt").iloc[3]
    mutant = f"{row.wt}{24 + 99}{row.mt}"  # offset 100: residue 24 is numbered 123
    state, console, dom = browse(tmp_path, heatmap_html(df, NASTY, offset=100), f"#hover={mutant}")
    assert console == [] and state["errors"] == ""
    assert state["residues"] == 300 and state["cells"] == 6000 and state["models"] == 5
    assert state["drawn"] and state["box"] is not None
    tip = state["tip"]
    assert tip.startswith(mutant)
    assert f"residue 123   wt {row.wt}   mt {row.mt}" in tip
    assert f"ensemble score {row.score_mean:+.3f}" in tip
    assert f"spread (SD across models) {row.score_sd:.3f}" in tip
    for m in MODELS:
        assert f"{m}  {getattr(row, f'score_{m}'):+.3f}" in tip, (m, tip)
    assert '<h1 id="title">sp|P1|X &lt;b&gt;bold&lt;/b&gt;' in dom  # shown as text, not markup


def test_browser_long_protein_scrolls_to_the_end(tmp_path):
    df = make_ensemble(1000, seed=11)
    row = df.query("position == 990 and wt != mt").iloc[0]
    mutant = f"{row.wt}990{row.mt}"
    state, console, _ = browse(tmp_path, heatmap_html(df, "long"), f"#hover={mutant}")
    assert console == [] and state["errors"] == ""
    assert state["cells"] == 20000
    assert 0 <= state["box"][0] < 1200  # scrolled into view
    assert f"ensemble score {row.score_mean:+.3f}" in state["tip"]


def test_browser_screenshot_colours(tmp_path):
    from PIL import Image

    df = make_ensemble(30, seed=5)
    subs = df[df["wt"] != df["mt"]]
    low, high = subs.loc[subs["score_mean"].idxmin()], subs.loc[subs["score_mean"].idxmax()]
    page = heatmap_html(df, "colours")
    for row, want in ((low, "red"), (high, "blue")):
        mutant = f"{row.wt}{row.position}{row.mt}"
        state, _, _ = browse(tmp_path, page, f"#hover={mutant}")
        shot = tmp_path / f"{want}.png"
        browse(tmp_path, page, f"#hover={mutant}", screenshot=shot)
        x, y, w, h = state["box"]
        r, g, b = Image.open(shot).convert("RGB").getpixel((int(x + w / 2), int(y + h / 2)))
        if want == "red":  # beyond -L: the darkest red of RdBu (#67001f)
            assert r > 80 and r > b + 50 and g < 40, (r, g, b)
        else:
            assert b > 80 and b > r + 50, (r, g, b)


def test_browser_zoom_keeps_hover_right(tmp_path):
    df = make_ensemble(1000, seed=13)
    row = df.query("position == 500 and wt != mt").iloc[5]
    mutant = f"{row.wt}500{row.mt}"
    state, console, _ = browse(tmp_path, heatmap_html(df, "zoom"), f"#zoom=3&hover={mutant}")
    assert console == [] and state["errors"] == ""
    assert state["zoomed_cell_width"] == pytest.approx(3 * state["cell_width"])
    assert state["scroll_width"] >= 1000 * state["zoomed_cell_width"]
    assert state["box"][2] == pytest.approx(state["zoomed_cell_width"])
    assert state["tip"].startswith(mutant)
    assert f"ensemble score {row.score_mean:+.3f}" in state["tip"]
