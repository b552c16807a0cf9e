"""The HTTP client: POSTs one request to BioLM with retries.

Faults: 429/5xx, timeouts, dropped connections and malformed answers are retried with exponential
backoff and jitter (``Retry-After`` honoured), a bounded number of times, then a clear error naming
the sequence and position; 401/403 stops at once; 400/422 names the sequence. The token is sent
only in the ``Authorization`` header and scrubbed from any server text put in a message.

``timeout_s`` bounds each attempt as a whole (connecting, sending, the status line, headers and the
whole body), not each socket read: a server that sends its answer a byte at a time would never trip
a per-read timeout. At the deadline a watchdog shuts the attempt's socket down, which ends a read
blocked in any phase at once (:class:`_Deadline`).
"""

from __future__ import annotations

import gzip
import json
import logging
import random
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import requests
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import Retry

from esm1v_scan.scoring.planning import format_ranges
from esm1v_scan.scoring.biolm.contract import failed_item, is_error_payload, parse_results
from esm1v_scan.scoring.biolm.errors import BadResponse, BiolmAuthError, BiolmError, Cancelled
from esm1v_scan.scoring.biolm.settings import TOKEN_ENV, BiolmSettings

log = logging.getLogger(__name__)

#: a Retry-After longer than this (seconds) is not waited for: the job stops with a clear error
MAX_RETRY_AFTER_S = 600
#: bodies larger than this are gzip-compressed, as BioLM's own client does
GZIP_OVER_BYTES = 256


@dataclass
class _Request:
    """One request as sent, and what to call its items in messages."""

    endpoint: str
    url: str
    body: bytes
    headers: dict
    n_items: int
    label: str
    positions: list[int]

    @property
    def where(self) -> str:
        return _where(self.label, self.positions)


@dataclass
class _Try:
    """The outcome of one attempt: the results, or why there are none and how long to wait."""

    results: list | None = None
    problem: str = ""
    retry_after: float | None = None
    rate_limited: bool = False


# -- a deadline for the whole request ------------------------------------------------------------

_current = threading.local()  # the attempt (its _Deadline) the calling thread is making


class _Deadline:
    """One attempt's deadline. While it is entered, every socket the thread's request connects or
    reads an answer on is registered here; when ``seconds`` have passed, a timer shuts that socket
    down, so a read blocked in any phase (status line, headers, body) returns at once and the
    request fails (``expired`` then says why). Leaving it cancels the timer."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._sock = None
        self._done = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        _current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        with self._lock:
            self._done, self._sock = True, None
        _current.deadline = None

    def watch(self, sock) -> None:
        with self._lock:
            if self._done:
                return
            self._sock = sock
            if self.expired:
                _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            if self._sock is not None:
                _shutdown(self._sock)


def _shutdown(sock) -> None:
    """Shut the connection down under whatever reads it (for TLS, the plain socket beneath: the
    reading thread's TLS layer then sees the end of the stream)."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, ValueError, TypeError):  # already closed, or not a socket
        pass


def _watch(sock) -> None:
    deadline = getattr(_current, "deadline", None)
    if deadline is not None and sock is not None:
        deadline.watch(sock)


class _Watched:
    """urllib3 connections that register their socket with the calling thread's deadline: when
    connected, and before each answer is read (a kept-alive connection is not connected again)."""

    def connect(self) -> None:
        super().connect()
        _watch(self.sock)

    def getresponse(self):
        _watch(self.sock)
        return super().getresponse()


class _HTTPConnection(_Watched, HTTPConnection):
    pass


class _HTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _Adapter(requests.adapters.HTTPAdapter):
    """requests' adapter with watched connections, directly and through an HTTP(S) proxy (a SOCKS
    proxy keeps its own connections: there only the per-read timeout applies)."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy, **kwargs):
        manager = super().proxy_manager_for(proxy, **kwargs)
        if isinstance(manager, urllib3.ProxyManager):
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


def _where(label: str, positions: Sequence[int]) -> str:
    return f"{label}, position{'s' if len(positions) > 1 else ''} {format_ranges(positions)}"


def _json(resp):
    try:
        return json.loads(resp.content)
    except ValueError:
        return None


def _retry_after(resp) -> float | None:
    value = resp.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(Retry(retry_after_max=10**9).parse_retry_after(value))
    except Exception:  # an unparseable header: plain backoff
        return None


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
        self._http = self._session(token, int(settings.max_in_flight))
        self._pause_until = 0.0  # after a 429, every thread of this job holds off until then
        self.requests = 0  # HTTP requests sent, retries included
        self.retries = 0

    @staticmethod
    def _session(token: str, pool_size: int) -> requests.Session:
        http = requests.Session()
        http.headers.update({"Authorization": f"Token {token}", "Accept": "application/json"})
        pool = _Adapter(pool_connections=1, pool_maxsize=pool_size)
        http.mount("http://", pool)
        http.mount("https://", pool)
        return http

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
                raise Cancelled()

    def post(self, endpoint: str, items: Sequence[str], label: str = "a sequence",
             positions: Sequence[int] | None = None) -> list[dict[str, dict[str, float]]]:
        """Send ``items`` to ``endpoint``; returns the parsed answers in item order.

        ``label`` names the sequence and ``positions`` the items' positions, for messages.
        """
        request = self._request(endpoint, items, label, positions)
        attempts = self.settings.max_attempts
        outcome = _Try(problem="no answer")
        for attempt in range(1, attempts + 1):
            self._hold_off()
            if self.stop.is_set():
                raise Cancelled()
            outcome = self._attempt(request)
            if outcome.results is not None:
                return outcome.results
            if attempt < attempts:
                self._wait_to_retry(request, outcome, attempt)
        raise BiolmError(
            f"BioLM {endpoint}: {request.where}: no valid answer after {attempts} attempts "
            f"(last: {self.scrub(outcome.problem)}){self._resume_hint()}"
        )

    def _resume_hint(self, when: str = "") -> str:
        """What a rerun will reuse: only with a response cache on disk are answers kept."""
        if not self.settings.response_cache:
            return ""
        return f". Answers fetched so far are cached: rerun {when}to resume"

    def _request(self, endpoint, items, label, positions) -> _Request:
        positions = list(positions) if positions is not None else list(range(1, len(items) + 1))
        body = json.dumps({"items": [{"sequence": s} for s in items]}).encode()
        headers = {"Content-Type": "application/json"}
        if len(body) > GZIP_OVER_BYTES:
            body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
        url = f"{self.base_url}/{endpoint}/predict/"
        return _Request(endpoint, url, body, headers, len(items), label, positions)

    def _attempt(self, request: _Request) -> _Try:
        """Send once, within timeout_s for the whole exchange: the results, or a retryable
        problem; anything else raises BiolmError."""
        limit = self.settings.timeout_s
        timeout = (min(10.0, limit), limit)  # per connect / per read; the deadline bounds the sum
        with self._lock:
            self.requests += 1
        late = _Try(problem=f"no complete answer within {limit:g} s")
        with _Deadline(limit) as deadline:
            try:
                resp = self._http.post(request.url, data=request.body, headers=request.headers,
                                       timeout=timeout)  # reads the whole body
            except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as err:
                if deadline.expired or isinstance(err, requests.Timeout):
                    return late
                return _Try(problem=f"connection failed ({type(err).__name__})")
            except requests.RequestException as err:  # a bad base URL and the like: not transient
                raise BiolmError(
                    f"BioLM {request.endpoint}: cannot send to {request.url}: {self.scrub(str(err))}"
                ) from None
            if deadline.expired:  # cut off: a shut-down socket may end the headers early, unnoticed
                resp.close()
                return late
        return self._judge(resp, request)

    def _judge(self, resp, request: _Request) -> _Try:
        status = resp.status_code
        if status in (401, 403):
            raise BiolmAuthError(
                f"BioLM refused the API token (HTTP {status}) at {request.url}: check that "
                f"{TOKEN_ENV} holds a valid BioLM API token with access to {request.endpoint}"
            )
        if status == 429 or status >= 500:
            return self._server_fault(resp, request)
        if status != 200:
            self._refuse(resp, request)
        payload = _json(resp)
        if payload is None:
            return _Try(problem="malformed JSON in the answer")
        if is_error_payload(payload):
            self._refuse(resp, request, payload)
        try:
            return _Try(results=parse_results(payload, request.endpoint, request.n_items))
        except BadResponse as err:
            at = ""
            if err.item is not None and 0 <= err.item < len(request.positions):
                at = f" at position {request.positions[err.item]}"
            return _Try(problem=f"answer breaks the API contract{at}: {err}")

    def _server_fault(self, resp, request: _Request) -> _Try:
        """429/5xx: retryable, unless the server asks to wait longer than MAX_RETRY_AFTER_S."""
        problem = f"HTTP {resp.status_code}{self._detail(resp)}"
        retry_after = _retry_after(resp)
        if retry_after is not None and retry_after > MAX_RETRY_AFTER_S:
            raise BiolmError(
                f"BioLM {request.endpoint}: {request.where}: {problem}; the server asks to wait "
                f"{retry_after:.0f} s (quota?); stopped{self._resume_hint('later ')}"
            )
        return _Try(problem=problem, retry_after=retry_after, rate_limited=resp.status_code == 429)

    def _wait_to_retry(self, request: _Request, outcome: _Try, attempt: int) -> None:
        delay = self.backoff(attempt)
        if outcome.retry_after is not None:
            delay = max(delay, outcome.retry_after)
        with self._lock:
            if outcome.rate_limited:  # slow the whole job down, not just this request
                self._pause_until = max(self._pause_until, time.monotonic() + delay)
            self.retries += 1
        log.warning("BioLM %s: %s: %s; retry %d of %d in %.1f s%s", request.endpoint, request.where,
                    self.scrub(outcome.problem), attempt, self.settings.max_attempts - 1, delay,
                    " (Retry-After)" if outcome.retry_after is not None else "")
        if self.stop.wait(delay):
            raise Cancelled()

    def _detail(self, resp, limit: int = 200) -> str:
        text = " ".join((resp.text or "").split())[:limit]
        return f": {self.scrub(text)}" if text else ""

    def _refuse(self, resp, request: _Request, payload=None):
        """A non-retryable answer (400/402/404/422, or an error object with status 200)."""
        payload = _json(resp) if payload is None else payload
        status, endpoint, index = resp.status_code, request.endpoint, failed_item(payload)
        if index is not None and 0 <= index < len(request.positions):
            where = f"{request.label}, position {request.positions[index]}"
        else:
            where = request.where
        if status in (400, 422, 200):
            raise BiolmError(f"BioLM {endpoint} rejected {where} (HTTP {status}, validation){self._detail(resp)}")
        if status == 402:
            raise BiolmError(f"BioLM {endpoint}: {where}: HTTP 402, quota or payment{self._detail(resp)}")
        raise BiolmError(f"BioLM {endpoint}: {where}: unexpected HTTP {status} from {request.url}{self._detail(resp)}")
