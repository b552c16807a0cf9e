"""A stand-in for BioLM's ESM-1v API, for tests and the benchmark (standard library HTTP server).

It speaks the contract of the real service (see the project's notes on the API):

- ``POST /api/v3/esm1v-n1/predict/`` .. ``esm1v-n5`` and ``esm1v-all``; ``Authorization: Token <t>``
  checked (401 otherwise); plain or gzip bodies; 1..5 items; exactly one ``<mask>`` per item; the
  API's alphabet; BioLM's length limit, 512 characters per item by default (``<mask>`` counts 6),
  answered with 422 ``{"error": {"items__0__sequence": ["Ensure this field has no more than 512
  characters."]}}``. Other validation errors come in both known shapes (400 ``{"error":
  {"items__0__sequence": [...]}}`` per item, 422 ``{"detail", "errors", "status_code"}`` for the
  request).
- Answers are computed from tiny local checkpoints, one masked forward pass per item, through the
  project's own loader: 20 entries per model (token, token_str, score, sequence), sorted by score,
  score = exp(log_softmax) at the mask, not renormalised; ``esm1v-all`` keys them by model slug (in
  a shuffled order, as the real service does not fix it).
- Faults are scripted per test: ``server.inject(Fault("status", status=429, retry_after="1"), ...)``
  answers the next requests with them, in order; ``server.always`` applies one to every request.
  ``Fault("trickle", seconds=s, interval=i, burst=b)`` sends a correct answer (status line and
  headers included) one byte every ``i`` seconds after its first ``b`` bytes, for at most ``s``
  seconds, then closes the connection; the request's ``sent`` counts the bytes that went out
  before the client hung up.
- ``latency_s`` adds a fixed delay to every request (for the throughput benchmark); answers are
  memoised per (model, item) so repeated runs cost no model time.
- ``server.log`` records every request (endpoint, items, what was answered); ``GET /_stats``
  gives the counts to another process.

    python tests/biolm_standin.py --models DIR --token T     # run it by hand, prints its URL
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import random
import re
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

from esm1v_scan.inputs.fasta import AMINO_ACIDS  # noqa: E402
from esm1v_scan.scoring.models import ESM1V_MODELS, load_model  # noqa: E402

SLUGS = [f"esm1v-n{k}" for k in range(1, 6)]
ALPHABET = set(AMINO_ACIDS + "BXZUO")
PATH = re.compile(r"^/api/v3/(esm1v-n[1-5]|esm1v-all)/predict/?$")


@dataclass
class Fault:
    """kind: status (status, retry_after), stall (seconds), trickle (seconds, interval), drop,
    malformed, wrong_count, missing_aa, zero_score, sum_over_1, validation_200, or ok (a normal
    answer: lets a script of faults start later). ``endpoint`` limits it to requests to that
    endpoint."""

    kind: str
    status: int = 503
    retry_after: str | None = None
    seconds: float = 3.0
    interval: float = 0.05  # trickle: seconds between two bytes
    burst: int = 0  # trickle: bytes sent at once before the trickle starts
    endpoint: str | None = None
    body: dict | None = None  # the JSON a status fault answers with


@dataclass
class Request:
    endpoint: str
    items: list[str]
    outcome: str  # "ok", a fault kind, "401", "400", "422"
    gzip: bool = False
    at: float = field(default_factory=time.monotonic)
    sent: int | None = None  # trickle: bytes sent before the client went away (or all of them)
    total: int | None = None  # trickle: bytes of the whole answer


class StandIn:
    def __init__(self, model_dir, token: str, max_length: int = 512, max_items: int = 5,
                 latency_s: float = 0.0):
        self.model_dir = Path(model_dir)
        self.token = token
        self.max_length = self._max_length = max_length
        self.max_items = max_items
        self.latency_s = latency_s
        self.faults: deque[Fault] = deque()
        self.always: Fault | None = None
        self.log: list[Request] = []
        self._lock = threading.Lock()
        self._model_lock = threading.Lock()
        self._models: dict[str, object] = {}
        self._memo: dict[tuple[str, str], list[dict]] = {}
        self._closing = threading.Event()
        self._active = 0  # requests being handled
        self.peak_active = 0  # the most handled at once since the last reset
        self._idle = threading.Condition(self._lock)
        self.httpd: ThreadingHTTPServer | None = None

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> StandIn:
        handler = type("Handler", (_Handler,), {"standin": self})
        server = type("Server", (ThreadingHTTPServer,), {"request_queue_size": 128})  # not 5: bursts
        self.httpd = server(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True, name="biolm-standin").start()
        return self

    def stop(self) -> None:
        self._closing.set()
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/api/v3"

    def reset(self) -> None:
        with self._lock:
            self.faults.clear()
            self.always = None
            self.log.clear()
            self.latency_s = 0.0
            self.peak_active = self._active
            self.max_length = self._max_length

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no request is being handled (e.g. those of a client that was just killed)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout)

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def _next_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            for i, f in enumerate(self.faults):
                if f.endpoint in (None, endpoint):
                    del self.faults[i]
                    return f
            return self.always

    def record(self, endpoint, items, outcome, gzip=False) -> Request:
        request = Request(endpoint, items, outcome, gzip=gzip)
        with self._lock:
            self.log.append(request)
        return request

    # -- counts for tests ---------------------------------------------------------------------
    @property
    def requests(self) -> int:
        return len(self.log)

    def outcomes(self) -> list[str]:
        return [r.outcome for r in self.log]

    def answered_items(self, endpoint: str | None = None) -> list[str]:
        return [i for r in self.log if r.outcome == "ok" and endpoint in (None, r.endpoint) for i in r.items]

    # -- the model ----------------------------------------------------------------------------
    def _model(self, slug: str):
        name = ESM1V_MODELS[SLUGS.index(slug)]
        if name not in self._models:
            self._models[name] = load_model(name, self.model_dir, offline=True)
        return self._models[name]

    @torch.inference_mode()
    def answers(self, slug: str, items: list[str]) -> list[list[dict]]:
        """The 20 entries for each masked item, sorted by score: one masked forward pass per item
        (items of equal length share a batch)."""
        todo = sorted({it for it in items if (slug, it) not in self._memo}, key=len)
        if not todo:
            return [self._memo[(slug, it)] for it in items]
        with self._model_lock, _one_torch_thread():
            loaded = self._model(slug) if todo else None
            groups = []
            for length in sorted({len(it) for it in todo}):
                same = [it for it in todo if len(it) == length]
                step = max(1, 4096 // length)  # bounded memory: ~4k tokens per forward pass
                groups += [same[i : i + step] for i in range(0, len(same), step)]
            for group in groups:
                alphabet = loaded.alphabet
                _, _, tokens = alphabet.get_batch_converter()([("item", it) for it in group])
                rows, at = (tokens == alphabet.mask_idx).nonzero(as_tuple=True)
                logits = loaded.model(tokens)["logits"][rows, at].float()
                log_p = torch.log_softmax(logits, dim=-1)
                for row, item in enumerate(group):
                    self._memo[(slug, item)] = self._entries(alphabet, item, log_p[row])
        return [self._memo[(slug, it)] for it in items]

    def answer(self, slug: str, item: str) -> list[dict]:
        return self.answers(slug, [item])[0]

    @staticmethod
    def _entries(alphabet, item: str, log_p) -> list[dict]:
        left, _, right = item.partition("<mask>")
        entries = []
        for aa in AMINO_ACIDS:
            tok = alphabet.get_idx(aa)
            entries.append({"token": tok, "token_str": aa, "score": float(torch.exp(log_p[tok])),
                            "sequence": " ".join(left + aa + right)})
        entries.sort(key=lambda e: -e["score"])
        return entries


@contextlib.contextmanager
def _one_torch_thread():
    """A tiny model runs fastest on one thread; more only spin against each other on a busy
    machine (50x slower seen on 2 shared cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _Handler(BaseHTTPRequestHandler):
    standin: StandIn
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else headers and body leave in two packets: +40 ms per answer

    def log_message(self, *args):  # quiet
        pass

    def handle(self):
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):  # a client that went away (killed, timed out)
            pass

    def _send(self, status: int, payload=None, raw: bytes | None = None, headers=None) -> None:
        body = raw if raw is not None else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self):
        """``GET /_stats``: requests served, and the most handled at once since the last call."""
        s = self.standin
        if self.path == "/_stats":
            with s._lock:
                answer = {"requests": len(s.log), "peak_active": s.peak_active,
                          "outcomes": [r.outcome for r in s.log]}
                s.peak_active = s._active
            return self._send(200, answer)
        self._send(404, {"detail": "Not found."})

    def do_POST(self):
        s = self.standin
        with s._idle:
            s._active += 1
            s.peak_active = max(s.peak_active, s._active)
        try:
            self._post()
        finally:
            with s._idle:
                s._active -= 1
                s._idle.notify_all()

    def _post(self):  # noqa: C901 (one place that reads like the contract)
        s = self.standin
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        m = PATH.match(self.path)
        if not m:
            return self._send(404, {"detail": "Not found."})
        endpoint = m.group(1)
        if s.latency_s:
            time.sleep(s.latency_s)
        if self.headers.get("Authorization") != f"Token {s.token}":
            s.record(endpoint, [], "401")
            return self._send(401, {"detail": "Invalid token."})
        zipped = self.headers.get("Content-Encoding") == "gzip"
        try:
            if zipped:
                raw = gzip.decompress(raw)
            items = [it["sequence"] for it in json.loads(raw)["items"]]
        except (OSError, ValueError, KeyError, TypeError):
            s.record(endpoint, [], "400")
            return self._send(400, {"error": {"items": ["A JSON body {'items': [{'sequence': ...}]} is required."]}})
        if not 1 <= len(items) <= s.max_items:
            s.record(endpoint, items, "422")
            return self._send(422, {"detail": "Validation error", "status_code": 422, "errors": [
                {"loc": ["body", "items"], "msg": f"List should have at least 1 and at most {s.max_items} items"}]})
        for i, seq in enumerate(items):
            problem = None
            n = seq.count("<mask>") if isinstance(seq, str) else -1
            if n != 1:
                problem = f"Expected a single occurrence of '<mask>', got {n}"
            elif not set(seq.replace("<mask>", "")) <= ALPHABET:
                problem = "Residues must be uppercase amino acid letters"
            elif len(seq) > s.max_length:  # BioLM's limit (max_sequence_len): 422, production shape
                problem = f"Ensure this field has no more than {s.max_length} characters."
                s.record(endpoint, items, "422")
                return self._send(422, {"error": {f"items__{i}__sequence": [problem]}})
            if problem:
                s.record(endpoint, items, "400")
                return self._send(400, {"error": {f"items__{i}__sequence": [problem]}})

        fault = s._next_fault(endpoint)
        kind = fault.kind if fault else "ok"
        if kind == "status":
            s.record(endpoint, items, f"status {fault.status}", zipped)
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            body = fault.body or {"detail": "rate_limited" if fault.status == 429 else "Server error"}
            return self._send(fault.status, body, headers=headers)
        if kind == "drop":
            s.record(endpoint, items, kind, zipped)
            self.close_connection = True
            return  # close the connection without an answer
        if kind == "malformed":
            s.record(endpoint, items, kind, zipped)
            return self._send(200, raw=b'{"results": [[{"token": 4, "token_str": "L", "sc')
        if kind == "validation_200":
            s.record(endpoint, items, kind, zipped)
            return self._send(200, {"error": {"items__0__sequence": ["Invalid sequence."]}})
        if kind == "stall":
            s.record(endpoint, items, kind, zipped)
            s._closing.wait(fault.seconds)  # past the client's timeout; it has given up by now

        slugs = SLUGS if endpoint == "esm1v-all" else [endpoint]
        computed = {slug: s.answers(slug, items) for slug in slugs}
        results = []
        for i in range(len(items)):
            per = {slug: computed[slug][i] for slug in slugs}
            if endpoint == "esm1v-all":
                order = list(per)
                random.shuffle(order)  # key order is not fixed by the service
                results.append({slug: per[slug] for slug in order})
            else:
                results.append(per[endpoint])
        if kind == "wrong_count":
            results = results[:-1] if len(results) > 1 else results * 2
        elif kind in ("zero_score", "sum_over_1"):  # the last amino acid of item 0 (esm1v-all: of n3)
            first = results[0]
            entries = [dict(e) for e in (first[SLUGS[2]] if isinstance(first, dict) else first)]
            entries[-1]["score"] = 0.0 if kind == "zero_score" else 9.0 / 20
            for e in entries[:-1] if kind == "sum_over_1" else ():
                e["score"] = 0.5
            results[0] = {**first, SLUGS[2]: entries} if isinstance(first, dict) else entries
        elif kind == "missing_aa":
            first = results[0]
            if isinstance(first, dict):
                first = dict(first)
                first[SLUGS[2]] = first[SLUGS[2]][:-1]
                results[0] = first
            else:
                results[0] = first[:-1]
        if kind == "trickle":
            return self._trickle(s.record(endpoint, items, kind, zipped), {"results": results}, fault)
        if kind != "stall":
            s.record(endpoint, items, kind, zipped)
        self._send(200, {"results": results})

    def _trickle(self, request: Request, payload, fault: Fault) -> None:
        """The whole answer, status line first, one byte at a time: for at most fault.seconds,
        while the client listens and the server is not closing; then the connection is closed."""
        body = json.dumps(payload).encode()
        head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        data = head + body
        request.total, request.sent = len(data), 0
        self.close_connection = True
        stop = time.monotonic() + fault.seconds
        start = min(fault.burst, len(data))
        pieces = [data[:start]] if start else []
        pieces += [data[i : i + 1] for i in range(start, len(data))]
        for piece in pieces:
            try:
                self.wfile.write(piece)
            except OSError:  # the client hung up
                return
            request.sent += len(piece)
            if time.monotonic() >= stop or self.standin._closing.wait(fault.interval):
                return


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Run the BioLM ESM-1v stand-in by hand.")
    ap.add_argument("--models", required=True, help="folder with the five <model>.pt checkpoints")
    ap.add_argument("--token", required=True)
    ap.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    ap.add_argument("--max-length", type=int, default=512, help="characters per item")
    a = ap.parse_args(argv)
    s = StandIn(a.models, a.token, max_length=a.max_length, latency_s=a.latency).start()
    print(f"BIOLMAI_BASE_API_URL={s.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        s.stop()


if __name__ == "__main__":
    main()
