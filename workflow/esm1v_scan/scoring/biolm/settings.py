"""The ``biolm:`` block of the config, the API base URL and the token."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

from esm1v_scan.errors import InputError
from esm1v_scan.scoring.biolm.contract import API_MAX_ITEMS, MASK
from esm1v_scan.scoring.biolm.errors import BiolmError

DEFAULT_BASE_URL = "https://biolm.ai/api/v3"
BASE_URL_ENV = "BIOLMAI_BASE_API_URL"
TOKEN_ENV = "BIOLMAI_TOKEN"


@dataclass(frozen=True)
class BiolmSettings:
    """The ``biolm:`` block of the config (see workflow/schemas/config.schema.yaml)."""

    base_url: str | None = None
    endpoint: str = "all"  # "all" (esm1v-all) or "per-model" (esm1v-nK)
    items_per_request: int = 5
    max_in_flight: int = 8
    timeout_s: float = 120.0
    max_attempts: int = 6
    backoff_s: float = 2.0
    backoff_max_s: float = 60.0
    #: BioLM's limit on one item string, <mask> counting 6 (its server schema: max_sequence_len 512)
    max_item_chars: int = 512
    response_cache: str | None = "resources/biolm_cache"

    def __post_init__(self):
        if self.endpoint not in ("all", "per-model"):
            raise ValueError(f"biolm.endpoint must be 'all' or 'per-model', got {self.endpoint!r}")
        if not 1 <= int(self.items_per_request) <= API_MAX_ITEMS:
            raise ValueError(f"biolm.items_per_request must be 1..{API_MAX_ITEMS}")
        if int(self.max_in_flight) < 1 or int(self.max_attempts) < 1:
            raise ValueError("biolm.max_in_flight and biolm.max_attempts must be at least 1")
        if int(self.max_item_chars) < len(MASK) + 1:
            raise ValueError("biolm.max_item_chars is too small for one masked residue")

    @classmethod
    def from_config(cls, block: Mapping | None) -> BiolmSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in dict(block or {}).items() if k in known})

    def as_dict(self) -> dict:
        return asdict(self)

    def window(self, max_residues: int) -> int:
        """Residues per item: the local context, and what fits the item limit with <mask>."""
        return min(int(max_residues), int(self.max_item_chars) - len(MASK) + 1)


def resolve_base_url(configured: str | None = None, environ: Mapping[str, str] = os.environ) -> str:
    """The API base: ``biolm.base_url`` when set, else ``$BIOLMAI_BASE_API_URL`` (as BioLM's own
    client reads it), else BioLM's v3 API. No trailing slash."""
    url = configured or environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    return url.strip().rstrip("/")


def token_from_env(environ: Mapping[str, str] = os.environ) -> str:
    token = environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise BiolmError(
            f"{TOKEN_ENV} is not set: backend: biolm needs your BioLM API token in the environment "
            f"(export {TOKEN_ENV}=...; it is never written to the config, logs or outputs)"
        )
    return token


def check_settings_for(strategy: str) -> None:
    """Raise InputError when the configuration cannot work with the API."""
    if strategy != "masked-marginals":
        raise InputError(
            f"strategy: {strategy} needs the local backend: BioLM's API only scores masked "
            "positions (one <mask> per item); use strategy: masked-marginals with backend: biolm"
        )
