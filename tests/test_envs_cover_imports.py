"""Every import of every rule script, and of the esm1v_scan modules it reaches, is satisfied by
the conda env its rule declares (envs/*.yaml), and pyproject.toml declares what the package needs
(pip install . gives an importable package). Static: no conda needed."""

import ast
import re
import sys
import tomllib

import pytest

from conftest import REPO
from test_pins_and_format import env_pins, norm, requirements

#: import name -> distribution name (PyPI spelling) where they differ
DISTRIBUTION = {"Bio": "biopython", "yaml": "pyyaml", "esm": "fair-esm"}
PACKAGE = REPO / "workflow" / "esm1v_scan"
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


def executed_on_import(tree):
    """The import statements that run when a module is imported: module level, inside if/try/with
    blocks too, but not in functions, classes or `if TYPE_CHECKING:`."""
    for node in tree.body if hasattr(tree, "body") else tree:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from executed_on_import(node.orelse)
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            for block in ("body", "orelse", "finalbody", "handlers"):
                yield from executed_on_import(getattr(node, block, []))
        elif isinstance(node, ast.ExceptHandler):
            yield from executed_on_import(node.body)


def imports(path, everywhere: bool = False) -> set[str]:
    """Absolute module names a file imports (``everywhere``: function-level imports too, as for a
    rule script, whose every branch may run); relative imports inside the package as
    esm1v_scan.<module>."""
    found = set()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree) if everywhere else executed_on_import(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = "esm1v_scan" + (f".{node.module}" if node.module else "")
                found |= {base} | {f"{base}.{a.name}" for a in node.names}
            else:
                found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return found


def third_party(path) -> set[str]:
    """Distributions a script needs (any of its imports), following esm1v_scan imports through
    the package (the imports each module runs when imported)."""
    seen, todo, needed = set(), [path], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for name in imports(current, everywhere=current == path):
            top = name.split(".")[0]
            if top == "esm1v_scan":
                module = PACKAGE.joinpath(*name.split(".")[1:])
                for candidate in (module.with_suffix(".py"), module / "__init__.py"):
                    if candidate.is_file():
                        todo.append(candidate)
            elif top not in STDLIB:
                needed.add(norm(DISTRIBUTION.get(top, top)))
    return needed


def rules_with_scripts() -> list[tuple[str, str, str]]:
    """(rule file, conda env, script) for every rule of workflow/rules/*.smk with a script."""
    found = []
    for smk in sorted((REPO / "workflow/rules").glob("*.smk")):
        for block in re.split(r"\n(?=\s*rule\b)", smk.read_text()):
            env = re.search(r'conda:\s*\n\s*"([^"]+)"', block)
            script = re.search(r'script:\s*\n\s*"([^"]+)"', block)
            if script:
                assert env, f"{smk.name}: a rule runs {script.group(1)} without a conda env"
                found.append((smk.name, env.group(1), script.group(1)))
    return found


RULES = rules_with_scripts()


def test_every_script_rule_is_found():
    scripts = {s.split("/")[-1] for _, _, s in RULES}
    assert scripts == {p.name for p in (REPO / "workflow/scripts").glob("*.py")}


@pytest.mark.parametrize("smk, env, script", RULES, ids=lambda v: str(v).split("/")[-1])
def test_the_rule_env_has_what_its_script_imports(smk, env, script):
    rules_dir = REPO / "workflow/rules"
    have = set(env_pins((rules_dir / env).resolve()))
    missing = sorted(third_party((rules_dir / script).resolve()) - have)
    assert missing == [], f"{smk}: {script} needs {missing}, not in {env}"


def test_the_check_follows_the_package(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import os\nif os.name:\n    import pandas\n    from esm1v_scan.scoring.local import LocalScorer\n")
    # the script's branch import, and scoring.py's module-level torch; not models.py's lazy torch
    assert {"pandas", "torch"} <= third_party(script)
    assert third_party(REPO / "workflow/scripts/parse_fasta.py").isdisjoint({"torch", "fair-esm"})


def test_pyproject_declares_what_the_package_imports():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    declared = {}
    for dep in deps:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)>=(\S+)", dep)
        assert m, f"pyproject.toml: '{dep}' is not name>=version"
        declared[norm(m.group(1))] = m.group(2)
    pins = requirements()
    assert {k: v for k, v in declared.items() if pins.get(k) != v} == {}  # the tested versions
    needed = {  # every import of every module, function-level ones too
        norm(DISTRIBUTION.get(top, top))
        for module in PACKAGE.rglob("*.py")
        for top in {name.split(".")[0] for name in imports(module, everywhere=True)}
        if top not in STDLIB and top != "esm1v_scan"
    }
    assert sorted(needed - set(declared)) == []


def schema_keys(props, prefix=""):
    for key, value in props.items():
        if value.get("type") == "object" and "properties" in value:
            yield from schema_keys(value["properties"], f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def test_config_readme_lists_every_key():
    import yaml

    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    listed = set(re.findall(r"^\| `([a-z_.]+)` \|", (REPO / "config/README.md").read_text(), re.M))
    assert listed == set(schema_keys(schema["properties"]))


def test_config_readme_table_is_the_schema_word_for_word():
    """Every default and description of config/README.md is the schema's (`make config-readme`
    rewrites the table); a row edited by hand, or a schema change without the table, fails."""
    import yaml

    from esm1v_scan.inputs.config_checks import key_rows, readme_with_keys

    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    readme = (REPO / "config/README.md").read_text()
    assert readme_with_keys(readme, schema) == readme
    rows = key_rows({"a": {"default": True, "description": "on\n  or off | never"},
                     "b": {"type": "object", "properties": {"c": {"default": [1, 2], "description": "x"}}},
                     "d": {"default": "resources/models", "description": "y"}})
    assert rows == ["| `a` | `true` | on or off \\| never |", "| `b.c` | `[1, 2]` | x |",
                    "| `d` | `resources/models` | y |"]