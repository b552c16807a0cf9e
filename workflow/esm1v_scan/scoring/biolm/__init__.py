"""The remote backend: ESM-1v masked marginals from BioLM's API (``backend: biolm``).

Where things live:

- :mod:`.settings` -- the ``biolm:`` config block (:class:`BiolmSettings`), the base URL, the token;
- :mod:`.contract` -- what the API accepts and answers: endpoints, masked items, parsing answers;
- :mod:`.client` -- the HTTP client (:class:`BiolmClient`) with its retries and error messages;
- :mod:`.response_cache` -- the answers on disk (:class:`ResponseCache`), shared between jobs;
- :mod:`.scorer` -- :class:`BiolmScorer`, what a scoring job (or a notebook) uses;
- :mod:`.errors` -- :class:`BiolmError`, :class:`BiolmAuthError`, :class:`BadResponse`.

The token is read from ``BIOLMAI_TOKEN`` by the caller (:func:`token_from_env`), sent only in the
``Authorization`` header and never logged. Usable from a notebook::

    from esm1v_scan.scoring.biolm import BiolmScorer, BiolmSettings, token_from_env
    scorer = BiolmScorer("esm1v_t33_650M_UR90S_1", token_from_env(), BiolmSettings())
    df = scorer.score("MKTAYIAKQR...")
"""

from esm1v_scan.scoring.biolm.client import GZIP_OVER_BYTES, MAX_RETRY_AFTER_S, BiolmClient
from esm1v_scan.scoring.biolm.contract import (
    ALL_ENDPOINT,
    API_ALPHABET,
    API_MAX_ITEMS,
    MASK,
    SLUGS,
    masked_item,
    model_slug,
    parse_entries,
    parse_results,
)
from esm1v_scan.scoring.biolm.errors import BadResponse, BiolmAuthError, BiolmError
from esm1v_scan.scoring.biolm.response_cache import CACHE_FORMAT, LOCK_STRIPES, ResponseCache
from esm1v_scan.scoring.biolm.scorer import BiolmScorer
from esm1v_scan.scoring.biolm.settings import (
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    TOKEN_ENV,
    BiolmSettings,
    check_settings_for,
    resolve_base_url,
    token_from_env,
)

__all__ = [
    "BiolmScorer", "BiolmSettings", "BiolmClient", "ResponseCache", "BiolmError", "BiolmAuthError",
    "BadResponse", "resolve_base_url", "token_from_env", "model_slug", "masked_item",
    "parse_results", "parse_entries", "check_settings_for",
    "ALL_ENDPOINT", "API_ALPHABET", "API_MAX_ITEMS", "MASK", "SLUGS", "BASE_URL_ENV",
    "DEFAULT_BASE_URL", "TOKEN_ENV", "CACHE_FORMAT", "LOCK_STRIPES", "GZIP_OVER_BYTES",
    "MAX_RETRY_AFTER_S",
]
