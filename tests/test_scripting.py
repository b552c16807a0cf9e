"""Rule scripts stop cleanly on SIGTERM (scancel, kill) and SIGINT (Ctrl-C): at once, one line in
the log, no temp file of a half-written output left, and the process ends by that signal."""

import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO

SCRIPT = """
import sys, time
from types import SimpleNamespace
sys.path.insert(0, {workflow!r})
from esm1v_scan.files import atomic_write
from esm1v_scan.pipeline.rule_scripts import rule_script

with rule_script(SimpleNamespace(log=[{log!r}], rule="score")) as log:
    log.info("scoring")
    with atomic_write({out!r}) as fh:
        fh.write("half a table")
        fh.flush()
        open({ready!r}, "w").close()
        time.sleep(300)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_rule_script_stops_cleanly_on_a_signal(tmp_path, signum):
    out, log, ready = tmp_path / "out" / "scores.parquet", tmp_path / "score.log", tmp_path / "ready"
    code = SCRIPT.format(workflow=str(REPO / "workflow"), log=str(log), out=str(out), ready=str(ready))
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120  # a safety net against hanging, not a timed assertion
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), proc.stderr.read() if proc.poll() is not None else "never ready"
        assert [p.name for p in out.parent.iterdir()][0].endswith(".tmp")  # mid-write
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    name = signal.Signals(signum).name
    assert proc.returncode == -signum  # ended by the signal, as Snakemake expects of a killed job
    line = (f"esm1v-scan: score stopped by {name}; no half-written file is left, and the next run "
            "of the workflow redoes this job (scores already in the score cache are not computed "
            "again)")
    assert log.read_text().splitlines()[-1] == line
    assert "Traceback" not in log.read_text() and "KeyboardInterrupt" not in log.read_text()
    assert err.strip().splitlines() == [line]  # the console too
    assert list(out.parent.iterdir()) == []  # no output, no temp file
