"""The workflow embedded elsewhere: as a module (local path, prefix:, gitfile() at a commit) and via
-s/-d from another folder, each under a Python that has the dependencies but NOT the esm1v_scan
package (what a conda env from envs/*.yaml is); jobs must import the rules' own package, even when
another copy sits on PYTHONPATH or in a .pth file."""

import html
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from conftest import MODELS, REPO, config_for, run_workflow
from test_report import decode_data_uri, hrefs, report_variable

pytestmark = pytest.mark.slow


def per_protein(root: Path) -> dict[str, bytes]:
    """results/{name}/ensemble.tsv and results/{name}/scores/{model}.tsv under ``root``."""
    files = [*root.glob("results/*/ensemble.tsv"), *root.glob("results/*/scores/*.tsv")]
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(files)}


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> Path:
    """A venv whose site-packages reach this interpreter's packages through a .pth file: torch,
    pandas, snakemake import, esm1v_scan does not."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    paths = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (Path(site) / "deps.pth").write_text("".join(f"{p}\n" for p in paths))
    probe = subprocess.run([str(python), "-c", "import torch, pandas, snakemake, esm\nimport esm1v_scan"],
                           capture_output=True, text=True, env=clean_env(), cwd=venv)
    assert "No module named 'esm1v_scan'" in probe.stderr, probe.stderr
    return python


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ESM1V_SCAN_HOME")}
    return {**env, **extra}


def snakemake(python: Path, folder: Path, *args, env=None) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(python), "-m", "snakemake", "--cores", "2", "-d", str(folder), *args],
                          capture_output=True, text=True, env=env or clean_env(), timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc


@pytest.fixture(scope="module")
def work(tmp_path_factory, tiny_dir):
    """One tiny config, and the plain run's per-protein files (the reference)."""
    tmp = tmp_path_factory.mktemp("embed")
    config = config_for(tmp / "inputs", tiny_dir)
    run_workflow(tmp / "plain", config)
    reference = per_protein(tmp / "plain")
    assert len(reference) == 2 * (1 + len(MODELS))
    return tmp, config, reference


def user_project(folder: Path, snakefile: str, config: dict, prefix: str | None = None,
                 extra: tuple[str, ...] = ()) -> Path:
    """Someone else's analysis: its own config file, this workflow as a module."""
    folder.mkdir(parents=True)
    (folder / "user.yaml").write_text(yaml.safe_dump({"project": "theirs", "esm1v": config}))
    lines = ['configfile: "user.yaml"', "", "module esm1v:", f"    snakefile: {snakefile}",
             '    config: config["esm1v"]']
    if prefix:
        lines.append(f'    prefix: "{prefix}"')
    lines += ["", "use rule * from esm1v as esm1v_*", "", *extra, ""]
    (folder / "Snakefile").write_text("\n".join(lines))
    return folder / "Snakefile"


def front_page_of(report: str) -> str:
    """The report's front page ("Workflow" panel) as plain text: Snakemake embeds it as a JS string."""
    m = re.search(r'var workflow_desc = (".*?");\n', report)
    assert m, "no workflow description in the report"
    return " ".join(html.unescape(re.sub(r"<[^>]*>", "", json.loads(m.group(1)))).split())


def front_sentence(config: dict) -> str:
    """What the front page must say of the module's run (its config, not the host project's)."""
    return (f"esm1v-scan: ESM-1v mutational scan of {config['sequences']} with {len(MODELS)} "
            f"model(s) ({', '.join(MODELS)}), strategy masked-marginals, backend local.")


def check_report(python: Path, folder: Path, snakefile: Path, config: dict) -> str:
    """--report from the host project: docutils warns of nothing, no "System Message" is in the
    page, the front page names the module's sequences and models. Returns the report's HTML."""
    proc = snakemake(python, folder, "-s", str(snakefile), "esm1v_all", "--report", "report.html")
    out = proc.stdout + proc.stderr
    assert "(WARNING/" not in out and "(ERROR/" not in out and "(SEVERE/" not in out, out[-3000:]
    report = (folder / "report.html").read_text()
    assert "System Message" not in report and "system-message" not in report
    assert front_sentence(config) in front_page_of(report), front_page_of(report)[:500]
    return report


def test_module_by_local_path(bare_python, work):
    tmp, config, reference = work
    folder = tmp / "by_path"
    snakefile = user_project(folder, repr(str(REPO / "Snakefile")), config)
    snakemake(bare_python, folder, "-s", str(snakefile), "esm1v_all")
    assert per_protein(folder) == reference
    check_report(bare_python, folder, snakefile, config)
    prov = yaml.safe_load((folder / "results/provenance/provenance.yaml").read_text())
    head = git(REPO, "rev-parse", "HEAD")
    assert prov["workflow"]["git"]["commit"] == head
    assert prov["workflow"]["version"] == "0.1.0"
    assert prov["project"]["git"] == {"commit": None, "dirty": None}  # their folder: no git


def test_a_module_user_sets_the_scoring_resources_by_rule_name(bare_python, work):
    """The stable rule name `score` is what `use rule ... with:` addresses (one rule for every
    model and shard)."""
    tmp, config, _ = work
    folder = tmp / "with_resources"
    snakefile = user_project(folder, repr(str(REPO / "workflow/Snakefile")), config, extra=(
        "use rule score from esm1v as esm1v_score with:", "    resources:", "        mem_mb=23456,"))
    proc = snakemake(bare_python, folder, "-s", str(snakefile), "-n", "esm1v_all")
    out = proc.stdout + proc.stderr
    assert out.count("rule esm1v_score:") == len(MODELS)
    assert out.count("mem_mb=23456") == len(MODELS)


@pytest.fixture(scope="module")
def prefixed(bare_python, work):
    """The module with prefix: run, and its report built from the host project."""
    tmp, config, _ = work
    folder = tmp / "prefixed"
    # the catalog layout's main file this time (the test above loads the top-level Snakefile)
    snakefile = user_project(folder, repr(str(REPO / "workflow/Snakefile")), config, prefix="esm1v")
    snakemake(bare_python, folder, "-s", str(snakefile), "esm1v_all")
    return folder, check_report(bare_python, folder, snakefile, config)


def test_module_with_prefix(prefixed, work):
    _, _, reference = work
    folder, report = prefixed
    assert per_protein(folder / "esm1v") == reference
    assert not (folder / "results").exists()
    # the summary's caption links each protein's items at their prefixed paths, and every link
    # of every caption and page of the report leads to one of its items
    for name in ("sp_P0CG48_UBC_HUMAN", "tiny_2"):
        for fig in ("overview.html", "heatmap_view.html", "heatmap.html"):
            assert f"showResultInfo('esm1v/results/{name}/{fig}')" in report, (name, fig)
    results = report_variable(report, "results")
    links = hrefs(report_variable(report, "workflow_desc"))
    for path, entry in results.items():
        links += hrefs(entry["caption"] or "")
        if entry["mime_type"] == "text/html":
            links += hrefs(decode_data_uri(entry["data_uri"]).decode())
    targets = [re.fullmatch(r"javascript:app\.showResultInfo\('([^']*)'\)", h) for h in links
               if not h.startswith(("#", "data:"))]
    assert targets and all(t and t.group(1) in results for t in targets), links
    assert "esm1v/results/provenance/methods.html" in results


def test_module_report_in_a_browser(prefixed, work, tmp_path):
    """The host project's report, opened in headless chromium: its front page names the module's
    sequences and models and shows no docutils message."""
    from test_interactive import chromium

    _, config, _ = work
    folder, _ = prefixed
    proc = subprocess.run(
        [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom",
         (folder / "report.html").as_uri()], capture_output=True, text=True, timeout=180)
    dom = proc.stdout
    m = re.search(r'<div class="document">(.*?)<div id="brand">', dom, re.S)
    assert m, f"the front page did not render:\n{dom[-2000:]}\n{proc.stderr[-2000:]}"
    shown = " ".join(html.unescape(re.sub(r"<[^>]*>", "", m.group(1))).split())
    assert shown.startswith(front_sentence(config)), shown[:600]
    assert "System Message" not in dom and "problematic" not in dom
    assert "Start at 1. Summary" in shown


def git(repo: Path, *args) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_module_pinned_to_a_git_commit(bare_python, work):
    """gitfile() at a commit of a local repository holding this working tree; its working copy
    then gets a broken package, which must not matter (the commit's files are used)."""
    tmp, config, reference = work
    repo = tmp / "repo"
    repo.mkdir()
    for name in git(REPO, "ls-files", "-co", "--exclude-standard").splitlines():
        if (REPO / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, repo / name)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "pinned")
    commit = git(repo, "rev-parse", "HEAD")
    (repo / "workflow/esm1v_scan/__init__.py").write_text("raise ImportError('working copy used')\n")
    folder = tmp / "by_git"
    snakefile = user_project(
        folder, f'gitfile({str(repo)!r}, path="workflow/Snakefile", commit="{commit}")', config)
    snakemake(bare_python, folder, "-s", str(snakefile), "esm1v_all")
    assert per_protein(folder) == reference
    prov = yaml.safe_load((folder / "results/provenance/provenance.yaml").read_text())
    assert prov["workflow"]["git"]["commit"] == commit
    assert prov["workflow"]["source"].startswith("git+file://")
    assert {j["workflow_git"]["commit"] for j in prov["jobs"]} == {commit}
    check_report(bare_python, folder, snakefile, config)


def test_snakefile_and_directory_from_another_folder_without_a_configfile(bare_python, work):
    """snakemake -s <clone>/Snakefile -d <elsewhere>: the workflow's own config/config.yaml gives
    the defaults, --config the rest."""
    tmp, config, reference = work
    folder = tmp / "elsewhere"
    folder.mkdir()
    overrides = [f"{k}={v}" for k, v in config.items() if k != "models"]
    proc = snakemake(bare_python, folder, "-s", str(REPO / "Snakefile"), "--config", *overrides)
    assert per_protein(folder) == reference
    assert str(REPO / "config/config.yaml") in proc.stdout + proc.stderr


def test_a_shadowing_copy_of_another_version_is_not_used(bare_python, work):
    """A fake esm1v_scan on PYTHONPATH and in a .pth file: the jobs import the rules' own."""
    tmp, config, reference = work
    shadow = tmp / "shadow"
    marker = tmp / "shadow-imported"
    (shadow / "esm1v_scan").mkdir(parents=True)
    (shadow / "esm1v_scan/__init__.py").write_text(
        f"open({str(marker)!r}, 'a').write('imported\\n')\n__version__ = '0.0.1'\n")
    site = subprocess.run([str(bare_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    pth = Path(site) / "shadow.pth"
    pth.write_text(f"{shadow}\n")
    try:
        probe = subprocess.run([str(bare_python), "-c", "import esm1v_scan; print(esm1v_scan.__version__)"],
                               capture_output=True, text=True, env=clean_env(), cwd=tmp)
        assert probe.stdout.strip() == "0.0.1"  # the environment does import the shadow
        marker.unlink()
        folder = tmp / "shadowed"
        folder.mkdir()
        cfg = folder / "c.yaml"
        cfg.write_text(yaml.safe_dump(config))
        snakemake(bare_python, folder, "-s", str(REPO / "Snakefile"), "--configfile", str(cfg),
                  env=clean_env(PYTHONPATH=str(shadow)))
    finally:
        pth.unlink()
    assert per_protein(folder) == reference
    assert not marker.exists()
