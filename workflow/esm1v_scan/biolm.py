"""The remote backend: ESM-1v masked marginals from BioLM's API (``backend: biolm``).

The contract (``esm1v-n1`` .. ``esm1v-n5`` and ``esm1v-all``, at most 5 items of one ``<mask>``
each per request, 20 answers per item sorted by score) is described in the project's notes on the
API. What this module adds on top of it:

- one masked copy per scored position, windowed like the local backend
  (:func:`esm1v_scan.planning.window_bounds`) when the protein is longer than the API allows;
- requests of up to ``items_per_request`` items, ``max_in_flight`` of them at once (threads);
- a response cache on disk, one small JSON file per (base URL, endpoint, masked sequence), written
  atomically (temp file + rename), so a rerun, a resumed run or another FASTA holding the same
  protein sends nothing for what is already known. With ``esm1v-all`` one answer holds all five
  models; the five per-model jobs share it through the cache, and a lock per request batch
  (``flock``) makes sure concurrent jobs never pay twice for the same batch;
- faults: 429/5xx, timeouts, dropped connections and malformed answers are retried with
  exponential backoff and jitter (``Retry-After`` honoured), a bounded number of times, then a clear
  error naming the sequence and position; 401/403 stops at once; 400/422 names the sequence.

The answers are put back in position and amino-acid order and turned into the per-model table of
:mod:`esm1v_scan.tables` with ``log_prob = log(score)``. The API returns only the 20 standard amino
acids, so at positions whose wild type is X, B, Z, U or O ``score`` is NaN (log p of the wild-type
token is unknown); ``log_prob`` and ``prob`` are still given.

The token is read from ``BIOLMAI_TOKEN`` by the caller (:func:`token_from_env`), sent only in the
``Authorization`` header and never logged; it is scrubbed from any server text put in a message.

Usable from a notebook::

    from esm1v_scan.biolm import BiolmScorer, BiolmSettings, token_from_env
    scorer = BiolmScorer("esm1v_t33_650M_UR90S_1", token_from_env(), BiolmSettings())
    df = scorer.score("MKTAYIAKQR...")
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import CancelledError, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import requests
from urllib3.util import Retry

from .errors import InputError
from .fasta import AMINO_ACIDS
from .models import ESM1V_MODELS, check_model_name
from .planning import format_ranges, window_bounds
from .tables import score_table

try:  # POSIX; elsewhere concurrent jobs may fetch the same batch twice (harmless, costs requests)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://biolm.ai/api/v3"
BASE_URL_ENV = "BIOLMAI_BASE_API_URL"
TOKEN_ENV = "BIOLMAI_TOKEN"
MASK = "<mask>"
ALL_ENDPOINT = "esm1v-all"
SLUGS = tuple(f"esm1v-n{k}" for k in range(1, 6))
#: the API's limit on items per request
API_MAX_ITEMS = 5
#: residues the API accepts besides <mask>
API_ALPHABET = frozenset(AMINO_ACIDS + "BXZUO")
#: a Retry-After longer than this (seconds) is not waited for: the job stops with a clear error
MAX_RETRY_AFTER_S = 600
#: bodies larger than this are gzip-compressed, as BioLM's own client does
GZIP_OVER_BYTES = 256
CACHE_FORMAT = 1
#: lock files per response cache; two batches sharing one only wait for each other (rare)
LOCK_STRIPES = 4096


class BiolmError(InputError):
    """A failure talking to BioLM, reported as one line (an InputError, so rule scripts print it
    without a traceback and exit 1)."""


class BiolmAuthError(BiolmError):
    """401/403: the token is missing, wrong or lacks access. Never retried."""


class BadResponse(Exception):
    """An answer that breaks the contract (malformed JSON, wrong count, missing amino acids).
    Retried like a server fault; never padded."""


class _Cancelled(Exception):
    """Another batch of the same job failed for good: stop retrying this one."""


# -- settings --------------------------------------------------------------------------------


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


def model_slug(model: str) -> str:
    """``esm1v_t33_650M_UR90S_3`` -> ``esm1v-n3``."""
    check_model_name(model)
    return f"esm1v-n{ESM1V_MODELS.index(model) + 1}"


def masked_item(sequence: str, site: int, window: int) -> str:
    """The item for 1-based ``site``: the (windowed) sequence with that residue as ``<mask>``."""
    start, end = window_bounds(site, len(sequence), window)
    return sequence[start : site - 1] + MASK + sequence[site:end]


# -- parsing answers --------------------------------------------------------------------------


def parse_entries(entries, what: str) -> dict[str, float]:
    """One model's answer for one item: 20 ``{token_str, score}`` entries (any order) -> aa -> p."""
    if not isinstance(entries, list):
        raise BadResponse(f"{what}: expected a list of 20 entries, got {type(entries).__name__}")
    out: dict[str, float] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            raise BadResponse(f"{what}: an entry is not an object")
        aa, score = entry.get("token_str"), entry.get("score")
        if aa not in AMINO_ACIDS or len(aa) != 1:
            raise BadResponse(f"{what}: unexpected token_str {aa!r}")
        if aa in out:
            raise BadResponse(f"{what}: amino acid {aa} appears twice")
        if isinstance(score, bool) or not isinstance(score, int | float) or not 0.0 <= score <= 1.0:
            raise BadResponse(f"{what}: score of {aa} is {score!r}, not a probability")
        out[aa] = float(score)
    missing = [a for a in AMINO_ACIDS if a not in out]
    if missing:
        raise BadResponse(f"{what}: {len(out)} entries, missing amino acids {''.join(missing)}")
    return out


def parse_results(payload, endpoint: str, n_items: int) -> list[dict[str, dict[str, float]]]:
    """A 200 answer -> per item, slug -> aa -> score (for esm1v-nK only that slug)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
        raise BadResponse("the answer has no 'results' list")
    results = payload["results"]
    if len(results) != n_items:
        raise BadResponse(f"{len(results)} results for {n_items} items")
    out = []
    for i, result in enumerate(results):
        if endpoint == ALL_ENDPOINT:
            if not isinstance(result, dict):
                raise BadResponse(f"item {i}: expected an object keyed by model")
            missing = [s for s in SLUGS if s not in result]
            if missing:
                raise BadResponse(f"item {i}: no answer for {', '.join(missing)}")
            out.append({s: parse_entries(result[s], f"item {i} {s}") for s in SLUGS})
        else:
            out.append({endpoint: parse_entries(result, f"item {i}")})
    return out


_ITEM_INDEX = re.compile(r"items(?:__|\W+)(\d+)")


def _failed_item(payload) -> int | None:
    """The index of the offending item in a validation error, in either known shape:
    ``{"error": {"items__0__sequence": [...]}}`` or ``{"detail":..., "errors": [{"loc": [...]}]}``."""
    if isinstance(payload, dict):
        err = payload.get("error")
        if isinstance(err, dict):
            for key in err:
                m = _ITEM_INDEX.search(str(key))
                if m:
                    return int(m.group(1))
        for e in payload.get("errors") or []:
            loc = e.get("loc") if isinstance(e, dict) else None
            if isinstance(loc, list) and "items" in loc:
                after = loc[loc.index("items") + 1 :]
                if after and isinstance(after[0], int):
                    return after[0]
    return None


def _is_error_payload(payload) -> bool:
    return isinstance(payload, dict) and "results" not in payload and ("error" in payload or "detail" in payload)


# -- the response cache -----------------------------------------------------------------------


class ResponseCache:
    """One JSON file per (base URL, endpoint, masked item): ``{"scores": {slug: {aa: p}}}``.

    ``root=None`` keeps answers in memory only (for this scorer's lifetime); with a folder nothing
    is held in memory (a shard of 200,000 residues would not fit).
    """

    def __init__(self, root: str | os.PathLike | None):
        self.root = Path(root) if root else None
        self._memory: dict[str, dict] = {}

    @staticmethod
    def key(base_url: str, endpoint: str, item: str) -> str:
        blob = json.dumps([CACHE_FORMAT, base_url, endpoint, item])
        return hashlib.sha256(blob.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        if self.root is None:
            return self._memory.get(key)
        path = self._path(key)
        try:
            entry = json.loads(path.read_text())
            scores = entry["scores"]
            if entry.get("format") != CACHE_FORMAT or not isinstance(scores, dict):
                raise ValueError("unknown format")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("response cache: unreadable entry %s, fetching it again", path)
            return None
        return scores

    def put(self, key: str, scores: dict) -> None:
        if self.root is None:
            self._memory[key] = scores
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"format": CACHE_FORMAT, "scores": scores}))
        tmp.replace(path)  # atomic: readers see the old state or the whole entry

    @contextlib.contextmanager
    def claim(self, keys: Sequence[str], blocking: bool):
        """Hold the lock of a request batch (one of LOCK_STRIPES files, chosen by its keys) while
        fetching it, so another job (or thread) needing the same batch waits and then reads the
        answer from the cache instead of paying again. Yields False when ``blocking`` is False and
        someone else holds it."""
        if self.root is None or fcntl is None:
            yield True
            return
        stripe = int(hashlib.sha256("".join(keys).encode()).hexdigest()[:8], 16) % LOCK_STRIPES
        lock = self.root / "locks" / f"{stripe:04d}.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            except OSError:  # a file system without flock: go on unlocked
                yield True
                return
            try:
                yield True
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


# -- HTTP -------------------------------------------------------------------------------------


class BiolmClient:
    """POSTs one request with retries. Thread-safe: one requests.Session whose connection pool
    holds max_in_flight keep-alive connections, reused by every request of the job.

    The retry loop is ours rather than urllib3's ``Retry`` on the adapter because malformed JSON,
    a wrong result count and a body cut off mid-read happen after urllib3 hands the response over,
    and they must share one attempt budget with 429/5xx/timeouts; urllib3's ``Retry`` is still used
    to parse ``Retry-After`` (seconds or HTTP date).
    """

    def __init__(self, base_url: str, token: str, settings: BiolmSettings,
                 stop: threading.Event | None = None):
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.settings = settings
        self.stop = stop or threading.Event()
        self._lock = threading.Lock()
        self._http = requests.Session()
        self._http.headers.update({"Authorization": f"Token {token}", "Accept": "application/json"})
        pool = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=int(settings.max_in_flight))
        self._http.mount("http://", pool)
        self._http.mount("https://", pool)
        self._pause_until = 0.0  # after a 429, every thread of this job holds off until then
        self.requests = 0  # HTTP requests sent, retries included
        self.retries = 0

    def __repr__(self) -> str:  # never show the token
        return f"BiolmClient({self.base_url!r})"

    def scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: uniform in [b/2, b], b = backoff_s * 2^(attempt-1)."""
        b = min(self.settings.backoff_max_s, self.settings.backoff_s * 2 ** (attempt - 1))
        return b / 2 + random.uniform(0, b / 2)

    def _hold_off(self) -> None:
        while True:
            with self._lock:
                wait = self._pause_until - time.monotonic()
            if wait <= 0:
                return
            if self.stop.wait(wait):
                raise _Cancelled()

    def post(self, endpoint: str, items: Sequence[str], label: str = "a sequence",
             positions: Sequence[int] | None = None) -> list[dict[str, dict[str, float]]]:
        """Send ``items`` to ``endpoint``; returns the parsed answers in item order.

        ``label`` names the sequence and ``positions`` the items' positions, for messages.
        """
        positions = list(positions) if positions is not None else list(range(1, len(items) + 1))
        where = f"{label}, position{'s' if len(positions) > 1 else ''} {format_ranges(positions)}"
        url = f"{self.base_url}/{endpoint}/predict/"
        body = json.dumps({"items": [{"sequence": s} for s in items]}).encode()
        headers = {"Content-Type": "application/json"}
        if len(body) > GZIP_OVER_BYTES:
            body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
        timeout = (min(10.0, self.settings.timeout_s), self.settings.timeout_s)
        attempts = self.settings.max_attempts
        last = "no answer"
        for attempt in range(1, attempts + 1):
            self._hold_off()
            if self.stop.is_set():
                raise _Cancelled()
            retry_after, rate_limited = None, False
            try:
                with self._lock:
                    self.requests += 1
                resp = self._http.post(url, data=body, headers=headers, timeout=timeout)
            except requests.Timeout:
                last = f"no answer within {self.settings.timeout_s:g} s"
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as err:
                last = f"connection failed ({type(err).__name__})"
            except requests.RequestException as err:  # a bad base URL and the like: not transient
                raise BiolmError(f"BioLM {endpoint}: cannot send to {url}: {self.scrub(str(err))}") from None
            else:
                status = resp.status_code
                if status in (401, 403):
                    raise BiolmAuthError(
                        f"BioLM refused the API token (HTTP {status}) at {url}: check that "
                        f"{TOKEN_ENV} holds a valid BioLM API token with access to {endpoint}"
                    )
                if status == 429 or status >= 500:
                    last = f"HTTP {status}{self._detail(resp)}"
                    retry_after, rate_limited = self._retry_after(resp), status == 429
                    if retry_after is not None and retry_after > MAX_RETRY_AFTER_S:
                        raise BiolmError(
                            f"BioLM {endpoint}: {where}: {last}; the server asks to wait "
                            f"{retry_after:.0f} s (quota?); stopped. Answers fetched so far are cached: "
                            "rerun later to resume"
                        )
                elif status != 200:
                    self._refuse(resp, url, endpoint, label, positions)
                else:
                    try:
                        payload = json.loads(resp.content)
                    except ValueError:
                        payload, last = None, "malformed JSON in the answer"
                    if payload is not None:
                        if _is_error_payload(payload):
                            self._refuse(resp, url, endpoint, label, positions, payload)
                        try:
                            return parse_results(payload, endpoint, len(items))
                        except BadResponse as err:
                            last = f"answer breaks the API contract: {err}"
            if attempt == attempts:
                break
            delay = self.backoff(attempt)
            if retry_after is not None:
                delay = max(delay, retry_after)
            if rate_limited:  # slow the whole job down, not just this request
                with self._lock:
                    self._pause_until = max(self._pause_until, time.monotonic() + delay)
            with self._lock:
                self.retries += 1
            log.warning("BioLM %s: %s: %s; retry %d of %d in %.1f s%s", endpoint, where,
                        self.scrub(last), attempt, attempts - 1, delay,
                        " (Retry-After)" if retry_after is not None else "")
            if self.stop.wait(delay):
                raise _Cancelled()
        raise BiolmError(
            f"BioLM {endpoint}: {where}: no valid answer after {attempts} attempts "
            f"(last: {self.scrub(last)}). Answers fetched so far are cached: rerun to resume"
        )

    def _retry_after(self, resp) -> float | None:
        value = resp.headers.get("Retry-After")
        if value is None:
            return None
        try:
            return float(Retry(retry_after_max=10**9).parse_retry_after(value))
        except Exception:  # an unparseable header: plain backoff
            return None

    def _detail(self, resp, limit: int = 200) -> str:
        text = " ".join((resp.text or "").split())[:limit]
        return f": {self.scrub(text)}" if text else ""

    def _refuse(self, resp, url, endpoint, label, positions, payload=None):
        """A non-retryable answer (400/402/404/422, or an error object with status 200)."""
        if payload is None:
            try:
                payload = json.loads(resp.content)
            except ValueError:
                payload = None
        status = resp.status_code
        index = _failed_item(payload)
        if index is not None and 0 <= index < len(positions):
            where = f"{label}, position {positions[index]}"
        else:
            where = f"{label}, position{'s' if len(positions) > 1 else ''} {format_ranges(positions)}"
        if status in (400, 422) or status == 200:
            raise BiolmError(
                f"BioLM {endpoint} rejected {where} (HTTP {status}, validation){self._detail(resp)}"
            )
        if status == 402:
            raise BiolmError(f"BioLM {endpoint}: {where}: HTTP 402, quota or payment{self._detail(resp)}")
        raise BiolmError(f"BioLM {endpoint}: {where}: unexpected HTTP {status} from {url}{self._detail(resp)}")


# -- the backend ------------------------------------------------------------------------------


class BiolmScorer:
    """One ESM-1v model through BioLM's API; same interface as :class:`~esm1v_scan.scoring.LocalScorer`
    (``identity``, ``score``), so :func:`esm1v_scan.runner.run_scoring_job` drives it unchanged."""

    def __init__(self, model: str, token: str, settings: BiolmSettings | None = None,
                 max_residues: int = 1022, labels: Mapping[str, str] | None = None):
        self.settings = settings or BiolmSettings()
        self.name = model
        self.slug = model_slug(model)
        self.endpoint = ALL_ENDPOINT if self.settings.endpoint == "all" else self.slug
        self.base_url = resolve_base_url(self.settings.base_url)
        #: residues per item: the local context, and what fits the API's length limit with <mask>
        self.window = min(int(max_residues), int(self.settings.max_item_chars) - len(MASK) + 1)
        self.stop = threading.Event()
        self.client = BiolmClient(self.base_url, token, self.settings, self.stop)
        self.cache = ResponseCache(self.settings.response_cache)
        self.labels = dict(labels or {})
        #: what the score cache keys on (never the token)
        self.identity = f"biolm:{self.base_url}:{self.endpoint}:{self.slug}"
        self.items_cached = 0  # items answered from the response cache
        self.items_fetched = 0  # items answered by the API

    def __repr__(self) -> str:
        return f"BiolmScorer({self.name!r}, {self.identity!r})"

    def _label(self, sequence: str) -> str:
        if sequence in self.labels:
            return f"sequence '{self.labels[sequence]}'"
        return f"sequence {sequence[:10]}... ({len(sequence)} residues)"

    def score(self, sequence: str, strategy: str = "masked-marginals",
              positions: Sequence[int] | None = None, progress=None) -> pd.DataFrame:
        if strategy != "masked-marginals":
            raise ValueError(
                f"backend biolm scores masked-marginals only (BioLM's API masks one position per "
                f"item); strategy {strategy!r} needs the local backend"
            )
        unknown = sorted(set(sequence) - API_ALPHABET)
        if unknown:
            raise BiolmError(f"{self._label(sequence)}: residues {''.join(unknown)} are not in the API's alphabet")
        positions = list(range(1, len(sequence) + 1)) if positions is None else [int(p) for p in positions]
        items = [masked_item(sequence, p, self.window) for p in positions]
        keys = [ResponseCache.key(self.base_url, self.endpoint, it) for it in items]
        answers: dict[int, dict[str, float]] = {}
        for i, key in enumerate(keys):
            got = self.cache.get(key)
            if got is not None and self.slug in got:
                answers[i] = got[self.slug]
        self.items_cached += len(answers)
        if progress and answers:
            progress.update(len(answers))
        size = int(self.settings.items_per_request)
        batches = [list(range(i, min(i + size, len(items)))) for i in range(0, len(items), size)]
        todo = [b for b in batches if any(i not in answers for i in b)]
        if todo:
            self._fetch_all(sequence, positions, items, keys, todo, answers, progress)
        log_p20 = np.log(np.array([[answers[i][a] for a in AMINO_ACIDS] for i in range(len(items))]))
        return score_table(sequence, positions, log_p20.reshape(len(items), 20))

    # -- concurrency ----------------------------------------------------------------------------
    def _fetch_all(self, sequence, positions, items, keys, todo, answers, progress) -> None:
        """Fetch the batches in ``todo`` with up to max_in_flight requests at once. A first pass
        skips batches another job is fetching right now; a second pass waits for them (and then
        normally finds them in the cache)."""
        label = self._label(sequence)
        lock = threading.Lock()
        self.stop.clear()

        def run(batch, blocking):
            if self.stop.is_set():
                raise _Cancelled()
            try:
                return fetch(batch, blocking)
            except _Cancelled:
                raise
            except BaseException:
                self.stop.set()  # at once, so that no worker starts another request
                raise

        def fetch(batch, blocking):
            with self.cache.claim([keys[i] for i in batch], blocking) as mine:
                if not mine:
                    return None
                found, missing = {}, []
                for i in batch:
                    if i in answers:
                        continue
                    got = self.cache.get(keys[i])
                    if got is not None and self.slug in got:
                        found[i] = got[self.slug]
                    else:
                        missing.append(i)
                if missing:
                    got = self.client.post(self.endpoint, [items[i] for i in missing], label,
                                           [positions[i] for i in missing])
                    for i, scores in zip(missing, got):
                        self.cache.put(keys[i], scores)
                        found[i] = scores[self.slug]
                with lock:
                    self.items_cached += len(found) - len(missing)
                    self.items_fetched += len(missing)
                    for i, s in found.items():
                        answers[i] = s
                return len(found)

        error: BaseException | None = None
        pending = todo
        for blocking in (False, True):
            if not pending or error:
                break
            deferred = []
            with ThreadPoolExecutor(max_workers=int(self.settings.max_in_flight),
                                    thread_name_prefix="biolm") as pool:
                futures = {pool.submit(run, b, blocking): b for b in pending}
                for fut in as_completed(futures):
                    try:
                        done = fut.result()
                    except (_Cancelled, CancelledError):
                        continue
                    except BaseException as err:  # first failure: stop the rest, keep what came
                        if error is None:
                            error = err
                            self.stop.set()
                            for f in futures:
                                f.cancel()
                        continue
                    if done is None:
                        deferred.append(futures[fut])
                    elif progress:
                        progress.update(done)
            pending = deferred
        if error is not None:
            log.error("BioLM %s: stopped; %d items fetched, %d from the response cache",
                      self.endpoint, self.items_fetched, self.items_cached)
            raise error

    def stats(self) -> str:
        return (f"{self.client.requests} requests ({self.client.retries} retries), "
                f"{self.items_fetched} items fetched, {self.items_cached} from the response cache")


def check_settings_for(strategy: str) -> None:
    """Raise InputError when the configuration cannot work with the API."""
    if strategy != "masked-marginals":
        raise InputError(
            f"strategy: {strategy} needs the local backend: BioLM's API only scores masked "
            "positions (one <mask> per item); use strategy: masked-marginals with backend: biolm"
        )


__all__ = [
    "BiolmScorer", "BiolmSettings", "BiolmClient", "ResponseCache", "BiolmError", "BiolmAuthError",
    "BadResponse", "resolve_base_url", "token_from_env", "model_slug", "masked_item",
    "parse_results", "parse_entries", "check_settings_for",
]
