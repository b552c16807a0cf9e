"""benchmarks/gpu_check.py, the prepared GPU check, runs here in CPU mode so it cannot rot."""

import re
import subprocess
import sys

import pytest

from conftest import REPO


@pytest.mark.slow
def test_gpu_check_cpu_quick(tmp_path):
    out = tmp_path / "gpu_check.txt"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--quick",
         "--cores", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = proc.stdout.split("\nsummary (", 1)[1].splitlines()[1:]
    verdicts = {line.split()[1]: line.split()[0] for line in summary if line.strip()}
    # every check ran and none missed (five models has no CPU target: INFO)
    assert verdicts == {"parity": "MEETS", "bf16": "MEETS", "fp16": "MEETS", "five": "INFO",
                        "long": "MEETS", "workflow": "MEETS"}, summary
    parity = next(line for line in summary if line.split()[1] == "parity")
    assert float(re.search(r"max \|dlogp\| ([0-9.e+-]+)", parity).group(1)) <= 1e-4
    workflow = next(line for line in summary if line.split()[1] == "workflow")
    n_scores = int(re.search(r"\((\d+) score tables\)", workflow).group(1))
    assert n_scores >= 10 and "byte-identical True" in workflow  # 2 proteins x 5 models at least
    assert out.read_text() == proc.stdout  # --out keeps what was printed
