"""Glue for the rule scripts: log to the rule's log file, and turn bad input and a full disk into
one clear line (and a non-zero exit, so Snakemake removes the job's outputs) instead of a
traceback."""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager

from .errors import InputError
from .io import no_space


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
        _stop(stream, f"esm1v-scan: {err}")
    except OSError as err:
        if not no_space(err):
            raise
        _stop(stream, f"esm1v-scan: {no_space_line(err, snakemake)}")
    finally:
        _flush(stream)


def no_space_line(err: OSError, snakemake=None) -> str:
    """'<file>: no space left on device; ...' for a full disk or quota while writing ``<file>``
    (the job's outputs when the error names no file)."""
    where = err.filename
    if not where and snakemake is not None:
        where = ", ".join(map(str, list(snakemake.output)[:3])) or None
    what = os.strerror(err.errno).lower()
    return f"{where or 'writing an output'}: {what}; free some space and run again"


def _stop(stream, line: str) -> None:
    """Print ``line`` to the rule's log and to the console, and exit 1."""
    for out in [stream] if stream is sys.__stderr__ else [stream, sys.__stderr__]:
        if out is None:
            continue
        try:
            print(line, file=out, flush=True)
        except OSError:  # a log on the full disk: the console gets the line
            pass
    sys.exit(1)


def _flush(stream) -> None:
    """Flush the log; a log that cannot be written (full disk) is closed, dropping what it could
    not take, so that Python's exit adds no traceback of its own."""
    try:
        stream.flush()
    except OSError:
        if stream is not sys.__stderr__:
            sys.stderr = sys.__stderr__
            try:
                stream.close()
            except OSError:
                pass


def console_warning(logger: logging.Logger, message: str) -> None:
    """Log a warning, and show it on the console too when the log goes to a rule's log file (what
    Snakemake's user sees is the job's original stderr)."""
    logger.warning(message)
    if sys.stderr is not sys.__stderr__ and sys.__stderr__ is not None:
        print(f"esm1v-scan: warning: {message}", file=sys.__stderr__, flush=True)
