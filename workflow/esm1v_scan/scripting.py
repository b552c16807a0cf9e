"""Glue for the rule scripts: log to the rule's log file, and turn bad input into one clear line
(and a non-zero exit, so Snakemake removes the job's outputs) instead of a traceback."""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager

from .errors import InputError

#: set to "1" by the rules (rules/common.smk) when Snakemake prints a failed job's log itself
#: (--show-failed-logs): an error line in the log is then shown once, not again on the console
FAILED_LOGS_SHOWN_ENV = "ESM1V_SCAN_FAILED_LOGS_SHOWN"


@contextmanager
def rule_script(snakemake):
    log_path = snakemake.log[0] if len(snakemake.log) else None
    stream = open(log_path, "w") if log_path else sys.stderr
    sys.stderr = stream
    logging.basicConfig(
        stream=stream, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True
    )
    try:
        yield logging.getLogger(f"esm1v_scan.{snakemake.rule}")
    except InputError as err:
        print(f"esm1v-scan: {err}", file=stream, flush=True)
        if stream is not sys.__stderr__ and os.environ.get(FAILED_LOGS_SHOWN_ENV) != "1":
            print(f"esm1v-scan: {err}", file=sys.__stderr__, flush=True)
        sys.exit(1)
    finally:
        stream.flush()


def console_warning(logger: logging.Logger, message: str) -> None:
    """Log a warning, and show it on the console too when the log goes to a rule's log file (what
    Snakemake's user sees is the job's original stderr)."""
    logger.warning(message)
    if sys.stderr is not sys.__stderr__ and sys.__stderr__ is not None:
        print(f"esm1v-scan: warning: {message}", file=sys.__stderr__, flush=True)
