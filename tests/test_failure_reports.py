"""Nothing wrong passes silently, and a failure is said once: no score table of any backend is
written (or cached) with a non-finite number, and a rule script's one-line error reaches the
console once, whether Snakemake prints the job's log or not."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import MODELS, REPO
from esm1v_scan.scoring.score_cache import ScoreCache
from esm1v_scan.errors import InputError
from esm1v_scan.inputs.fasta import Protein
from esm1v_scan.scoring.job import run_scoring_job
from esm1v_scan.pipeline.rule_scripts import FAILED_LOGS_SHOWN_ENV
from esm1v_scan.scoring.score_tables import check_finite, score_table

SEQ = "MKTAYIAKQR"


def _log_p20(n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.log(rng.dirichlet(np.ones(21), size=n)[:, :20])


def test_a_finite_table_passes_and_a_nonstandard_wild_types_empty_score_is_allowed():
    check_finite(score_table(SEQ, range(1, 11), _log_p20(10)), "p1", MODELS[0])
    with_x = score_table("MKXAY", range(1, 6), _log_p20(5))  # BioLM: no log p(X), score NaN there
    assert with_x.loc[with_x["position"] == 3, "score"].isna().all()
    check_finite(with_x, "p1", MODELS[0])


@pytest.mark.parametrize("value, column, shown", [
    (-np.inf, "log_prob", "log_prob -inf, prob 0, score -inf"),  # a probability of 0
    (np.nan, "log_prob", "log_prob nan, prob nan, score nan"),
    (np.inf, "score", "score inf"),
])
def test_a_non_finite_value_is_one_line_naming_protein_model_and_position(value, column, shown):
    log_p = _log_p20(10)
    table = score_table(SEQ, range(1, 11), log_p)
    row = (table["position"] == 4) & (table["mt"] == "W")
    if column == "log_prob":
        log_p[3, list("ACDEFGHIKLMNPQRSTVWY").index("W")] = value
        table = score_table(SEQ, range(1, 11), log_p)
    else:
        table.loc[row, "score"] = value
    with pytest.raises(InputError) as info:
        check_finite(table, "sp|P0CG48|UBC_HUMAN", MODELS[2])
    msg = str(info.value)
    assert msg.startswith(f"record 'sp|P0CG48|UBC_HUMAN': model {MODELS[2]}, position 4 (A -> W): ")
    assert shown in msg and "\n" not in msg
    # the score NaN a wild type X may have is not an excuse for a standard one
    table = score_table(SEQ, range(1, 11), _log_p20(10))
    table.loc[(table["position"] == 2) & (table["mt"] == "C"), "score"] = np.nan
    with pytest.raises(InputError, match=r"position 2 \(K -> C\): log_prob .*, score nan"):
        check_finite(table, "p", MODELS[0])


class ZeroProbabilityBackend:
    """A backend whose model gives W at position 4 a probability of exactly 0 (log p = -inf)."""

    name = MODELS[1]
    identity = "test:zero-probability"

    def score(self, sequence, strategy="masked-marginals", positions=None, progress=None):
        positions = list(positions or range(1, len(sequence) + 1))
        log_p = _log_p20(len(positions))
        if 4 in positions:
            log_p[positions.index(4), list("ACDEFGHIKLMNPQRSTVWY").index("W")] = -np.inf
        if progress:
            progress.update(len(positions))
        return score_table(sequence, positions, log_p)


def test_a_scoring_job_never_writes_or_caches_a_non_finite_score(tmp_path):
    """The defence behind every backend's own checks: the job stops with one line naming the
    protein, model and position; the protein before it stays cached, the bad one is not."""
    good, bad = Protein("good", "good", "MKTLL"), Protein("sp|X|BAD", "sp_X_BAD", SEQ)
    cache = ScoreCache(tmp_path / "cache")
    positions = {"good": [1, 2, 3], "sp_X_BAD": list(range(1, 11))}
    with pytest.raises(InputError) as info:
        run_scoring_job(ZeroProbabilityBackend(), [good, bad], positions, "masked-marginals", cache, window=1022)
    assert str(info.value).startswith(f"record 'sp|X|BAD': model {MODELS[1]}, position 4 (A -> W): "
                                      "log_prob -inf, prob 0, score -inf;")
    entries = sorted(p.read_text() for p in (tmp_path / "cache").glob("??/*.json"))
    assert len(entries) == 1 and '"id": "good"' in entries[0]
    assert "inf" not in "".join(p.read_text() for p in (tmp_path / "cache").glob("??/*.tsv"))


RULE_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {workflow!r})
    from types import SimpleNamespace
    from esm1v_scan.errors import InputError
    from esm1v_scan.pipeline.rule_scripts import rule_script
    snakemake = SimpleNamespace(log=[{log!r}], rule="score")
    with rule_script(snakemake) as log:
        log.info("working")
        raise InputError("no valid answer after 6 attempts", record="sp|P0CG48|UBC_HUMAN")
""")


@pytest.mark.parametrize("shown", ["1", "0", None])
def test_a_rule_scripts_error_reaches_the_console_once(tmp_path, shown):
    """With show-failed-logs (both profiles) Snakemake prints the job's log, which holds the error:
    the script does not print it to the console as well. Without it, the console gets it."""
    log = tmp_path / "job.log"
    script = RULE_SCRIPT.format(workflow=str(REPO / "workflow"), log=str(log))
    env = {k: v for k, v in os.environ.items() if k != FAILED_LOGS_SHOWN_ENV}
    if shown is not None:
        env[FAILED_LOGS_SHOWN_ENV] = shown
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    line = "esm1v-scan: record 'sp|P0CG48|UBC_HUMAN': no valid answer after 6 attempts"
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert log.read_text().count(line) == 1 and "INFO working" in log.read_text()
    assert proc.stderr.count(line) == (0 if shown == "1" else 1)
