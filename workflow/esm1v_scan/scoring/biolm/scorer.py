"""The scorer: one ESM-1v model through BioLM's API, scoring a protein position by position.

One masked copy per scored position, windowed like the local backend
(:func:`esm1v_scan.scoring.planning.window_bounds`) when the protein is longer than the item limit allows;
requests of up to ``items_per_request`` items, ``max_in_flight`` of them at once (threads); every
answer goes through the response cache. The answers are put back in position and amino-acid order
and turned into the per-model table of :mod:`esm1v_scan.scoring.score_tables` with ``log_prob = log(score)``.
The API returns only the 20 standard amino acids, so at positions whose wild type is X, B, Z, U or
O ``score`` is NaN (log p of the wild-type token is unknown); ``log_prob`` and ``prob`` are still
given.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import CancelledError, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from esm1v_scan.inputs.fasta import AMINO_ACIDS
from esm1v_scan.scoring.score_tables import score_table
from esm1v_scan.scoring.biolm.client import BiolmClient
from esm1v_scan.scoring.biolm.contract import ALL_ENDPOINT, API_ALPHABET, check_probabilities, masked_item, model_slug
from esm1v_scan.scoring.biolm.errors import BadResponse, BiolmError, Cancelled
from esm1v_scan.scoring.biolm.response_cache import ResponseCache
from esm1v_scan.scoring.biolm.settings import BiolmSettings, resolve_base_url

log = logging.getLogger(__name__)


@dataclass
class _Job:
    """The items of one ``score`` call and the answers gathered so far (index -> aa -> p)."""

    label: str
    positions: list[int]
    items: list[str]
    keys: list[str]
    answers: dict[int, dict[str, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class BiolmScorer:
    """One ESM-1v model through BioLM's API; same interface as :class:`~esm1v_scan.scoring.local.LocalScorer`
    (``identity``, ``score``), so :func:`esm1v_scan.scoring.job.run_scoring_job` drives it unchanged."""

    def __init__(self, model: str, token: str, settings: BiolmSettings | None = None,
                 max_residues: int = 1022, labels: Mapping[str, str] | None = None):
        self.settings = settings or BiolmSettings()
        self.name = model
        self.slug = model_slug(model)
        self.endpoint = ALL_ENDPOINT if self.settings.endpoint == "all" else self.slug
        self.base_url = resolve_base_url(self.settings.base_url)
        #: residues per item: the local context, and what fits the API's item limit with <mask>
        self.window = self.settings.window(max_residues)
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
        self._check(sequence, strategy)
        positions = list(range(1, len(sequence) + 1)) if positions is None else [int(p) for p in positions]
        items = [masked_item(sequence, p, self.window) for p in positions]
        keys = [ResponseCache.key(self.base_url, self.endpoint, it) for it in items]
        job = _Job(self._label(sequence), positions, items, keys)
        self._from_cache(job, progress)
        todo = [b for b in self._batches(len(items)) if any(i not in job.answers for i in b)]
        if todo:
            self._fetch_all(job, todo, progress)
        log_p20 = np.log(np.array([[job.answers[i][a] for a in AMINO_ACIDS] for i in range(len(items))]))
        return score_table(sequence, positions, log_p20.reshape(len(items), 20))

    def _check(self, sequence: str, strategy: str) -> None:
        if strategy != "masked-marginals":
            raise ValueError(
                f"backend biolm scores masked-marginals only (BioLM's API masks one position per "
                f"item); strategy {strategy!r} needs the local backend"
            )
        unknown = sorted(set(sequence) - API_ALPHABET)
        if unknown:
            raise BiolmError(f"{self._label(sequence)}: residues {''.join(unknown)} are not in the API's alphabet")

    def _cached(self, key: str) -> dict[str, float] | None:
        """The cached answer for this model, if there is one that holds to the API's contract (an
        entry written by an older version may not: it is fetched again)."""
        got = self.cache.get(key)
        if got is None or not isinstance(got.get(self.slug), dict):
            return None
        try:
            check_probabilities(got[self.slug], self.slug)
        except BadResponse as err:
            log.warning("response cache: entry %s is not a valid answer (%s), fetching it again", key, err)
            return None
        return got[self.slug]

    def _from_cache(self, job: _Job, progress) -> None:
        for i, key in enumerate(job.keys):
            got = self._cached(key)
            if got is not None:
                job.answers[i] = got
        self.items_cached += len(job.answers)
        if progress and job.answers:
            progress.update(len(job.answers))

    def _batches(self, n: int) -> list[list[int]]:
        size = int(self.settings.items_per_request)
        return [list(range(i, min(i + size, n))) for i in range(0, n, size)]

    # -- concurrency ----------------------------------------------------------------------------
    def _fetch_all(self, job: _Job, todo: list[list[int]], progress) -> None:
        """Fetch the batches in ``todo`` with up to max_in_flight requests at once. A first pass
        skips batches another job is fetching right now; a second pass waits for them (and then
        normally finds them in the cache)."""
        self.stop.clear()
        error: BaseException | None = None
        pending = todo
        for blocking in (False, True):
            if not pending or error:
                break
            pending, error = self._one_pass(job, pending, blocking, progress)
        if error is not None:
            log.error("BioLM %s: stopped; %d items fetched, %d from the response cache",
                      self.endpoint, self.items_fetched, self.items_cached)
            raise error

    def _one_pass(self, job: _Job, pending, blocking: bool, progress):
        """Run ``pending`` batches on a thread pool; returns (batches deferred because another job
        held their lock, the first error or None). The first error stops the rest."""
        error, deferred = None, []
        with ThreadPoolExecutor(max_workers=int(self.settings.max_in_flight),
                                thread_name_prefix="biolm") as pool:
            futures = {pool.submit(self._run, job, b, blocking): b for b in pending}
            try:
                for fut in as_completed(futures):
                    try:
                        done = fut.result()
                    except (Cancelled, CancelledError):
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
            except BaseException:  # SIGTERM/Ctrl-C in this thread: start no further request
                self.stop.set()
                for f in futures:
                    f.cancel()
                raise
        return deferred, error

    def _run(self, job: _Job, batch: list[int], blocking: bool) -> int | None:
        if self.stop.is_set():
            raise Cancelled()
        try:
            return self._fetch_batch(job, batch, blocking)
        except Cancelled:
            raise
        except BaseException:
            self.stop.set()  # at once, so that no worker starts another request
            raise

    def _fetch_batch(self, job: _Job, batch: list[int], blocking: bool) -> int | None:
        """One batch under its lock: what the cache has now, the rest from the API. Returns the
        number of items answered, or None when another job holds the lock (non-blocking pass)."""
        with self.cache.claim([job.keys[i] for i in batch], blocking) as mine:
            if not mine:
                return None
            found, missing = {}, []
            for i in batch:
                if i in job.answers:
                    continue
                got = self._cached(job.keys[i])
                if got is not None:
                    found[i] = got
                else:
                    missing.append(i)
            if missing:
                found.update(self._post(job, missing))
            with job.lock:
                self.items_cached += len(found) - len(missing)
                self.items_fetched += len(missing)
                job.answers.update(found)
            return len(found)

    def _post(self, job: _Job, missing: list[int]) -> dict[int, dict[str, float]]:
        got = self.client.post(self.endpoint, [job.items[i] for i in missing], job.label,
                               [job.positions[i] for i in missing])
        out = {}
        for i, scores in zip(missing, got):
            self.cache.put(job.keys[i], scores)
            out[i] = scores[self.slug]
        return out

    def stats(self) -> str:
        return (f"{self.client.requests} requests ({self.client.retries} retries), "
                f"{self.items_fetched} items fetched, {self.items_cached} from the response cache")
