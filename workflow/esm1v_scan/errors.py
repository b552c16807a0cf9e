"""One exception type for bad input, formatted as a single clear line."""

from __future__ import annotations

import logging
import sys


class InputError(ValueError):
    """Bad user input: names the file, the record (when there is one) and the problem."""

    def __init__(self, problem: str, file: str | None = None, record: str | None = None):
        self.problem = problem
        self.file = None if file is None else str(file)
        self.record = record
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.record is not None:
            where.append(f"record '{self.record}'")
        prefix = ": ".join(where)
        return f"{prefix}: {self.problem}" if prefix else self.problem


def console_warning(logger: logging.Logger, message: str) -> None:
    """Log a warning, and show it on the console too when the log goes to a rule's log file (what
    Snakemake's user sees is the job's original stderr)."""
    logger.warning(message)
    if sys.stderr is not sys.__stderr__ and sys.__stderr__ is not None:
        print(f"esm1v-scan: warning: {message}", file=sys.__stderr__, flush=True)
