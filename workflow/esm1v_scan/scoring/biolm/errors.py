"""The BioLM backend's exceptions."""

from __future__ import annotations

from esm1v_scan.errors import InputError


class BiolmError(InputError):
    """A failure talking to BioLM, reported as one line (an InputError, so rule scripts print it
    without a traceback and exit 1)."""


class BiolmAuthError(BiolmError):
    """401/403: the token is missing, wrong or lacks access. Never retried."""


class BadResponse(Exception):
    """An answer that breaks the contract (malformed JSON, wrong count, missing amino acids,
    scores that are not probabilities). Retried like a server fault; never padded. ``item`` is the
    index of the offending item in its request, when one item is to blame."""

    def __init__(self, message: str, item: int | None = None):
        super().__init__(message)
        self.item = item


class Cancelled(Exception):
    """Another batch of the same job failed for good: stop retrying this one."""
