"""The conda envs agree with requirements.txt, and the rules pass snakefmt (CI runs both)."""

import re
import subprocess
import sys

import pytest
import yaml

from conftest import REPO

#: conda-forge names of packages whose PyPI name differs
CONDA_TO_PYPI = {"pytorch": "torch", "py-fair-esm": "fair-esm"}
#: pinned in the envs, not Python packages of requirements.txt
ENV_ONLY = {"python", "pip"}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^\s;]+)", line)
        assert m, f"requirements.txt: '{line}' is not pinned as name==version"
        pins[norm(m.group(1))] = m.group(2)
    return pins


def env_pins(path) -> dict[str, str]:
    env = yaml.safe_load(path.read_text())
    assert env["channels"][0] == "conda-forge" and "nodefaults" in env["channels"], path
    pins = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                m = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line)
                assert m, f"{path.name}: pip entry '{line}' is not pinned as name==version"
                pins[norm(m.group(1))] = m.group(2)
        else:
            m = re.fullmatch(r"([A-Za-z0-9_.-]+)=([0-9][^\s=]*)", dep)
            assert m, f"{path.name}: '{dep}' is not pinned as name=version"
            name = norm(m.group(1))
            pins[CONDA_TO_PYPI.get(name, name)] = m.group(2)
    return pins


ENVS = sorted((REPO / "envs").glob("*.yaml"))


def test_there_are_envs():
    assert {p.name for p in ENVS} >= {"base.yaml", "scoring.yaml"}


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_env_pins_agree_with_requirements(env):
    req = requirements()
    pins = env_pins(env)
    assert "python" in pins and tuple(map(int, pins["python"].split(".")[:2])) >= (3, 11)
    packages = {k: v for k, v in pins.items() if k not in ENV_ONLY}
    assert packages, env
    unknown = sorted(set(packages) - set(req))
    assert unknown == [], f"{env.name}: not pinned in requirements.txt: {unknown}"
    differ = {k: (v, req[k]) for k, v in packages.items() if v != req[k]}
    assert differ == {}, f"{env.name}: (env, requirements.txt) versions differ: {differ}"


def test_the_pin_check_catches_a_difference(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("channels: [conda-forge, nodefaults]\ndependencies:\n  - python=3.11\n"
                   "  - pytorch=2.5.0\n  - pandas\n")
    with pytest.raises(AssertionError, match="'pandas' is not pinned"):
        env_pins(bad)
    bad.write_text("channels: [conda-forge, nodefaults]\ndependencies:\n  - python=3.11\n"
                   "  - pytorch=2.5.0\n")
    assert env_pins(bad)["torch"] == "2.5.0" != requirements()["torch"]


def test_snakefmt_is_clean():
    proc = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "."], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
