"""The package's folders are its layers, and imports point one way: a module imports from its own
layer or from those below it, never from above.

    errors.py, files.py   shared basics: one exception type for bad input; file helpers
    inputs/               reading and checking inputs: FASTA, config, residue numbering, mutation
                          lists and HGVS, structures
    scoring/              the scoring engine: models and weights, the mask plan, the local and BioLM
                          backends, the score cache, score tables, the ensemble, indels and variant
                          scores
    outputs/              derived tables, figures and pages
    pipeline/             what the rules and their scripts use: rule policy, script glue
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import REPO

PKG = REPO / "workflow" / "esm1v_scan"
LAYERS = {"inputs": 1, "scoring": 2, "outputs": 3, "pipeline": 4}  # anything else: 0 (basics)


def module_name(path: Path) -> str:
    return ".".join(["esm1v_scan", *path.relative_to(PKG).with_suffix("").parts])


def layer_of(module: str) -> int:
    """'esm1v_scan.scoring.biolm.client' -> 2; 'esm1v_scan.errors' and 'esm1v_scan' -> 0."""
    parts = module.split(".")
    return LAYERS.get(parts[1], 0) if len(parts) > 1 else 0


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every esm1v_scan module the file imports from; relative imports resolved
    against the file's package."""
    package = module_name(path).split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.append((node.lineno, module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
    return [(line, m) for line, m in found if m.split(".")[0] == "esm1v_scan"]


MODULES = sorted(PKG.rglob("*.py"))


def test_every_module_sits_in_a_layer():
    assert sorted(p.name for p in PKG.glob("*.py")) == ["__init__.py", "errors.py", "files.py"]
    assert sorted(d.name for d in PKG.iterdir() if d.is_dir() and d.name != "__pycache__") == sorted(LAYERS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_imports_point_down(path):
    mine = layer_of(module_name(path))
    upward = [f"line {line}: {m}" for line, m in imported_modules(path) if layer_of(m) > mine]
    assert not upward, f"{path.relative_to(PKG)} imports from a layer above it: {upward}"


def test_the_check_resolves_relative_and_absolute_imports(tmp_path):
    """The check itself: what it reads from real files, and that an upward import counts."""
    settings = {m for _, m in imported_modules(PKG / "scoring" / "biolm" / "settings.py")}
    assert {"esm1v_scan.errors", "esm1v_scan.scoring.biolm.errors"} <= settings
    assert layer_of("esm1v_scan.outputs.heatmap") > layer_of("esm1v_scan.inputs.fasta") > layer_of("esm1v_scan.errors")
    fake = PKG / "inputs" / "_probe_upward.py"
    try:
        fake.write_text("from esm1v_scan.outputs.heatmap import heatmap\nfrom ..scoring import models\n")
        assert [layer_of(m) for _, m in imported_modules(fake)] == [3, 2]
    finally:
        fake.unlink()
