"""provenance.package_origin: the version, source and commit of the esm1v_scan that runs."""

import json
import shutil
import subprocess
import sys

from conftest import REPO


def origin_of(home) -> dict:
    code = "import json, esm1v_scan.outputs.provenance as p; print(json.dumps(p.package_origin()))"
    out = subprocess.run([sys.executable, "-c", code], cwd=home, capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(home), "PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout)


def test_a_clone_names_its_git_commit():
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    origin = origin_of(REPO / "workflow")
    assert origin["version"] == "0.1.0"
    assert origin["source"] == str(REPO / "workflow")
    assert origin["git"]["commit"] == head


def test_a_copy_from_a_git_source_names_the_pinned_commit(tmp_path):
    """What rules/common.smk makes for gitfile()/github() modules: the package and source.json."""
    shutil.copytree(REPO / "workflow/esm1v_scan", tmp_path / "esm1v_scan",
                    ignore=shutil.ignore_patterns("__pycache__"))
    pinned = {"source": "git+file:///r/workflow@abc", "ref": "abc", "commit": "a" * 40}
    (tmp_path / "source.json").write_text(json.dumps(pinned))
    origin = origin_of(tmp_path)
    assert origin == {"version": "0.1.0", "source": "git+file:///r/workflow@abc", "ref": "abc",
                      "git": {"commit": "a" * 40, "dirty": False}}
