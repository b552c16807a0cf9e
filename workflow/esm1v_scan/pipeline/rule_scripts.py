"""Glue for the rule scripts: log to the rule's log file, and turn bad input and a full disk into
one clear line (and a non-zero exit, so Snakemake removes the job's outputs) instead of a
traceback.

SIGTERM (``scancel``, ``kill``) and SIGINT (Ctrl-C) stop a rule script at once and cleanly: the
signal raises :class:`Stopped` in the script, so every temp file of an atomic write is removed and
no output is half-written; what a scoring job finished is already in the score cache. The script
then logs one line and ends by that same signal, so Snakemake reports the job as killed by it."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from contextlib import contextmanager

from esm1v_scan.errors import InputError
from esm1v_scan.files import no_space

#: the signals that stop a rule script cleanly
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Stopped(BaseException):
    """Raised in a rule script by SIGTERM or SIGINT. A BaseException, like KeyboardInterrupt, so
    that no ``except Exception`` on the way swallows it."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


def _raise_stopped(signum, frame):
    raise Stopped(signum)


@contextmanager
def stop_on_signals(signals=STOP_SIGNALS):
    """Within the block, the ``signals`` raise :class:`Stopped` in the main thread (a no-op in
    another thread, where Python cannot set handlers); the old handlers come back after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, _raise_stopped) for s in signals}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def _end_by(signum: int) -> None:  # pragma: no cover - ends the process
    """End this process by ``signum`` with its default action, as an unhandled signal would."""
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    sys.exit(128 + signum)  # if the default action did not end the process

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
    stopped = None
    try:
        with stop_on_signals():
            yield logging.getLogger(f"esm1v_scan.{snakemake.rule}")
    except InputError as err:
        _stop(stream, f"esm1v-scan: {err}")
    except OSError as err:
        if not no_space(err):
            raise
        _stop(stream, f"esm1v-scan: {no_space_line(err, snakemake)}")
    except Stopped as stop:
        stopped = stop.signum
        _say(stream, f"esm1v-scan: {snakemake.rule} stopped by {stop}; no half-written file is "
                     "left, and the next run of the workflow redoes this job (scores already in "
                     "the score cache are not computed again)")
    finally:
        _flush(stream)
    if stopped is not None:
        _end_by(stopped)


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
    _say(stream, line)
    sys.exit(1)


def _say(stream, line: str) -> None:
    """Print ``line`` to the rule's log, and to the console unless Snakemake shows the failed
    job's log itself (:data:`FAILED_LOGS_SHOWN_ENV`) and the log took the line."""
    console = stream is not sys.__stderr__ and os.environ.get(FAILED_LOGS_SHOWN_ENV) != "1"
    try:
        print(line, file=stream, flush=True)
    except OSError:  # a log on the full disk: the console gets the line
        console = stream is not sys.__stderr__
    if console and sys.__stderr__ is not None:
        try:
            print(line, file=sys.__stderr__, flush=True)
        except OSError:
            pass


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
