"""The BioLM backend against the stand-in server: parity with the local backend, the response
cache, concurrency, and every fault of the contract (fast settings: short timeouts and backoffs)."""

import json
import logging
import random
import threading

import numpy as np
import pandas as pd
import pytest

from biolm_fixtures import TOKEN, fast_settings, standin, standin_server  # noqa: F401
from biolm_standin import Fault
from conftest import MODELS
from esm1v_scan.scoring.biolm import (
    ALL_ENDPOINT,
    BadResponse,
    BiolmAuthError,
    BiolmError,
    BiolmScorer,
    BiolmSettings,
    ResponseCache,
    check_settings_for,
    masked_item,
    model_slug,
    parse_entries,
    parse_results,
    resolve_base_url,
    token_from_env,
)
from esm1v_scan.errors import InputError
from esm1v_scan.inputs.fasta import AMINO_ACIDS
from esm1v_scan.scoring.models import load_model
from esm1v_scan.scoring.planning import window_bounds
from esm1v_scan.scoring.local import LocalScorer

SEQ = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"  # 76: 16 requests
LABELS = {SEQ: "sp|P0CG48|UBC_HUMAN"}


@pytest.fixture(scope="module")
def local_tables(tiny_dir):
    """What the local backend says for SEQ, per model (the parity reference)."""
    return {m: LocalScorer(load_model(m, tiny_dir, offline=True), device="cpu").score(SEQ) for m in MODELS}


def assert_same_table(remote: pd.DataFrame, local: pd.DataFrame) -> None:
    assert remote[["position", "wt", "mt"]].equals(local[["position", "wt", "mt"]])
    for col in ["log_prob", "prob"]:
        np.testing.assert_allclose(remote[col], local[col], atol=1e-5, rtol=0)
    # a score is log p(mt) - log p(wt): two log-probabilities within 1e-5 each (the stand-in runs
    # fair-esm's forward, one mask per item; the local scorer its fast forward, whose summation
    # order differs: MKL's addmm on AVX2-only CPUs)
    np.testing.assert_allclose(remote["score"], local["score"], atol=2e-5, rtol=0)


# -- pure functions ---------------------------------------------------------------------------


def test_model_slugs_base_url_precedence_and_token():
    assert [model_slug(m) for m in MODELS] == ["esm1v-n1", "esm1v-n2", "esm1v-n3", "esm1v-n4", "esm1v-n5"]
    with pytest.raises(InputError, match="unknown model"):
        model_slug("esm1b_t33_650M_UR50S")
    env = {"BIOLMAI_BASE_API_URL": "http://127.0.0.1:9/api/v3/"}
    assert resolve_base_url(None, {}) == "https://biolm.ai/api/v3"
    assert resolve_base_url(None, env) == "http://127.0.0.1:9/api/v3"
    assert resolve_base_url("https://example.org/api/v3/", env) == "https://example.org/api/v3"
    with pytest.raises(BiolmError, match="BIOLMAI_TOKEN is not set"):
        token_from_env({"BIOLMAI_TOKEN": "  "})
    assert token_from_env({"BIOLMAI_TOKEN": "abc"}) == "abc"
    with pytest.raises(InputError, match="strategy: wt-marginals needs the local backend"):
        check_settings_for("wt-marginals")
    with pytest.raises(ValueError, match="items_per_request"):
        BiolmSettings(items_per_request=6)
    identity = BiolmScorer(MODELS[2], "secret", BiolmSettings(base_url="http://h/api/v3/")).identity
    assert identity == "biolm:http://h/api/v3:esm1v-all:esm1v-n3" and "secret" not in identity


def test_masked_items_are_the_local_backends_windows():
    seq = "".join(random.Random(0).choices(AMINO_ACIDS, k=40))
    items = [masked_item(seq, site, 16) for site in range(1, 41)]
    assert len(set(items)) == 40
    for site, item in zip(range(1, 41), items):
        start, end = window_bounds(site, 40, 16)
        assert item.count("<mask>") == 1
        assert item == seq[start : site - 1] + "<mask>" + seq[site:end]
        assert len(item) == 16 - 1 + 6
    assert masked_item("MKV", 2, 1022) == "M<mask>V"


def _entries(probs: dict[str, float]) -> list[dict]:
    """An answer as the API sends it: sorted by score, highest first."""
    return [{"token": 0, "token_str": a, "score": p, "sequence": "x"}
            for a, p in sorted(probs.items(), key=lambda kv: -float(kv[1]))]


def test_answers_are_put_back_in_amino_acid_order():
    rng = np.random.default_rng(1)
    probs = dict(zip(AMINO_ACIDS, rng.dirichlet(np.ones(21))[:20]))  # sums to < 1, like the API
    got = parse_entries(_entries(probs), "item 0")
    assert list(sorted(got)) == list(AMINO_ACIDS) and got == probs
    per = [{s: _entries(probs) for s in random.Random(2).sample([f"esm1v-n{k}" for k in range(1, 6)], 5)}]
    parsed = parse_results({"results": per}, ALL_ENDPOINT, 1)
    assert sorted(parsed[0]) == [f"esm1v-n{k}" for k in range(1, 6)] and parsed[0]["esm1v-n4"] == probs


@pytest.mark.parametrize(
    "payload, endpoint, n, message",
    [
        ({"results": [[]]}, "esm1v-n1", 2, "1 results for 2 items"),
        ({"results": [[], [], []]}, "esm1v-n1", 2, "3 results for 2 items"),
        ({"detail": "x"}, "esm1v-n1", 1, "no 'results' list"),
        ({"results": [_entries(dict(zip(AMINO_ACIDS[:19], [0.05] * 19)))]}, "esm1v-n1", 1,
         "19 entries, missing amino acids Y"),
        ({"results": [_entries(dict(zip(AMINO_ACIDS, [0.05] * 20)))[:19] + [
            {"token_str": "A", "score": 0.01}]]}, "esm1v-n1", 1, "A appears twice"),
        ({"results": [_entries({**dict(zip(AMINO_ACIDS, [0.04] * 20)), "W": 1.5})]}, "esm1v-n1", 1,
         "score of W is 1.5"),
        ({"results": [_entries({**dict(zip(AMINO_ACIDS, [0.04] * 20)), "W": "0.1"})]}, "esm1v-n1", 1,
         "score of W is '0.1'"),
        # a probability of 0 would be log p = -inf in every table downstream
        ({"results": [_entries({**dict(zip(AMINO_ACIDS, [0.04] * 20)), "W": 0.0})]}, "esm1v-n1", 1,
         r"item 0: score of W is 0.0, not a probability in \(0, 1\]"),
        ({"results": [_entries(dict(zip(AMINO_ACIDS, [0.0] * 20)))]}, "esm1v-n1", 1,
         r"score of [A-Y] is 0.0, not a probability"),
        ({"results": [_entries({**dict(zip(AMINO_ACIDS, [0.04] * 20)), "W": -0.01})]}, "esm1v-n1", 1,
         "score of W is -0.01"),
        ({"results": [_entries({**dict(zip(AMINO_ACIDS, [0.04] * 20)), "W": float("nan")})]}, "esm1v-n1", 1,
         "score of W is nan"),
        # each in (0, 1] but not part of one softmax: the 20 may not sum to more than 1
        ({"results": [_entries(dict(zip(AMINO_ACIDS, [0.5] * 20)))]}, "esm1v-n1", 1,
         r"item 0: the 20 scores sum to 10, more than 1"),
        ({"results": [_entries({**dict(zip(AMINO_ACIDS, [0.05] * 20)), "W": 0.0502})]}, "esm1v-n1", 1,
         r"sum to 1\.0002, more than 1"),
        ({"results": [{**{f"esm1v-n{k}": _entries(dict(zip(AMINO_ACIDS, [0.04] * 20))) for k in range(1, 6)},
                       "esm1v-n4": _entries(dict(zip(AMINO_ACIDS, [0.06] * 20)))}]}, ALL_ENDPOINT, 1,
         r"item 0 esm1v-n4: the 20 scores sum to 1\.2"),
        ({"results": [{"esm1v-n1": []}]}, ALL_ENDPOINT, 1, "no answer for esm1v-n2, esm1v-n3"),
        ({"results": [_entries(dict(zip(AMINO_ACIDS, [0.05] * 20)))]}, ALL_ENDPOINT, 1,
         "expected an object keyed by model"),
    ],
)
def test_answers_that_break_the_contract_are_errors_never_padded(payload, endpoint, n, message):
    with pytest.raises(BadResponse, match=message):
        parse_results(payload, endpoint, n)


def test_probabilities_at_the_edges_of_the_contract_are_accepted():
    """1.0 for one amino acid (a certain model), tiny ones, and a sum within float32 rounding of 1
    (MAX_SUM allows 1e-4 over it) are answers; the item index of a bad one is carried along."""
    certain = {**dict(zip(AMINO_ACIDS, [1e-30] * 20)), "W": 1.0}
    assert parse_entries(_entries(certain), "item 0")["W"] == 1.0
    rounded = dict(zip(AMINO_ACIDS, [0.05] * 20))
    rounded["W"] = 0.05 + 5e-5  # sums to 1.00005
    assert parse_entries(_entries(rounded), "item 0") == rounded
    with pytest.raises(BadResponse) as info:
        parse_results({"results": [_entries(rounded), _entries({**rounded, "C": 0.0})]}, "esm1v-n1", 2)
    assert info.value.item == 1 and str(info.value).startswith("item 1: score of C is 0.0")


# -- against the stand-in -------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["per-model", "all"])
def test_parity_with_the_local_backend(standin, tmp_path, local_tables, endpoint):
    scorer = BiolmScorer(MODELS[1], TOKEN, fast_settings(standin.url, tmp_path / "r", endpoint=endpoint))
    table = scorer.score(SEQ)
    assert_same_table(table, local_tables[MODELS[1]])
    assert standin.requests == 16 and standin.outcomes() == ["ok"] * 16  # ceil(76 / 5)
    assert {r.endpoint for r in standin.log} == {"esm1v-n2" if endpoint == "per-model" else "esm1v-all"}
    assert sorted(standin.answered_items()) == sorted(masked_item(SEQ, p, 1022) for p in range(1, 77))
    assert all(len(r.items) <= 5 for r in standin.log) and any(r.gzip for r in standin.log)
    # a subset of positions sends only those
    standin.reset()
    part = BiolmScorer(MODELS[1], TOKEN, fast_settings(standin.url, None, endpoint=endpoint)).score(SEQ, positions=[3, 7, 70])
    assert_same_table(part, local_tables[MODELS[1]][local_tables[MODELS[1]]["position"].isin([3, 7, 70])].reset_index(drop=True))
    assert standin.requests == 1 and len(standin.log[0].items) == 3


def test_long_protein_is_sent_as_the_local_windows(standin, tmp_path, tiny_dir):
    """The server takes 25 characters: a 50-residue protein goes as 20-residue windows (20 - 1 + 6
    = 25), exactly the windows of the local backend with max_residues 20."""
    seq = "".join(random.Random(3).choices(AMINO_ACIDS, k=50))
    standin.max_length = 25
    scorer = BiolmScorer(MODELS[0], TOKEN, fast_settings(standin.url, tmp_path / "r", max_item_chars=25,
                                                         endpoint="per-model"))
    assert scorer.window == 20
    local = LocalScorer(load_model(MODELS[0], tiny_dir, offline=True), device="cpu", max_residues=20)
    assert_same_table(scorer.score(seq), local.score(seq))
    assert max(len(i) for i in standin.answered_items()) == 25
    # unwindowed, the server refuses: a validation error naming the sequence and position, no retry
    standin.reset()
    standin.max_length = 25
    naive = BiolmScorer(MODELS[0], TOKEN, fast_settings(standin.url, None, max_item_chars=1022, max_in_flight=1),
                        labels={seq: "long_one"})
    with pytest.raises(BiolmError, match=r"rejected sequence 'long_one', position 1 "
                                         r"\(HTTP 422, validation\).*no more than 25 characters"):
        naive.score(seq)
    assert standin.outcomes() == ["422"]


def test_default_item_limit_is_biolms_512_characters(standin, tmp_path, tiny_dir):
    """With default settings against BioLM's real limit (512 characters per item, which the
    stand-in enforces with 422), a 600-residue protein goes as 507-residue windows centred on each
    site and scores exactly what the local backend says with max_residues 507."""
    seq = "".join(random.Random(11).choices(AMINO_ACIDS, k=600))
    sites = [1, 2, 254, 300, 301, 347, 599, 600]
    scorer = BiolmScorer(MODELS[2], TOKEN, fast_settings(standin.url, tmp_path / "r", endpoint="per-model"))
    remote = scorer.score(seq, positions=sites)
    local = LocalScorer(load_model(MODELS[2], tiny_dir, offline=True), device="cpu", max_residues=507)
    assert_same_table(remote, local.score(seq, positions=sites))
    assert standin.outcomes() == ["ok", "ok"]
    assert sorted(len(i) for i in standin.answered_items()) == [512] * len(sites)
    assert seq[46:299] + "<mask>" + seq[300:553] in standin.answered_items()  # site 300: 253 + 1 + 253


def test_nonstandard_wild_type_gets_nan_score_but_real_probabilities(standin, tiny_dir):
    seq = "MKTAYXAKQRQ"
    remote = BiolmScorer(MODELS[0], TOKEN, fast_settings(standin.url, None, endpoint="per-model")).score(seq)
    local = LocalScorer(load_model(MODELS[0], tiny_dir, offline=True), device="cpu").score(seq)
    np.testing.assert_allclose(remote["log_prob"], local["log_prob"], atol=1e-5)
    at_x = remote["position"] == 6
    assert remote.loc[at_x, "score"].isna().all() and local.loc[at_x, "score"].notna().all()
    np.testing.assert_allclose(remote.loc[~at_x, "score"], local.loc[~at_x, "score"], atol=1e-5)


def test_response_cache_a_rerun_or_another_model_sends_nothing(standin, tmp_path, local_tables):
    cache = tmp_path / "responses"
    first = BiolmScorer(MODELS[0], TOKEN, fast_settings(standin.url, cache))
    first.score(SEQ)
    assert standin.requests == 16 and first.items_fetched == 76
    entries = list(cache.glob("??/*.json"))
    assert len(entries) == 76
    one = json.loads(entries[0].read_text())
    assert sorted(one["scores"]) == [f"esm1v-n{k}" for k in range(1, 6)]  # esm1v-all: five models
    assert not list(cache.rglob("*.tmp"))
    for m in MODELS:  # a rerun, and the other four model jobs: nothing sent
        again = BiolmScorer(m, TOKEN, fast_settings(standin.url, cache))
        assert_same_table(again.score(SEQ), local_tables[m])
        assert again.items_cached == 76 and again.client.requests == 0
    assert standin.requests == 16
    # a corrupt entry (a disk problem; our own writes are atomic) is fetched again, alone
    entries[0].write_text('{"format": 1, "scor')
    standin.reset()
    again = BiolmScorer(MODELS[0], TOKEN, fast_settings(standin.url, cache))
    assert_same_table(again.score(SEQ), local_tables[MODELS[0]])
    assert standin.requests == 1 and len(standin.log[0].items) == 1
    assert json.loads(entries[0].read_text())["scores"]["esm1v-n1"]


def test_five_concurrent_model_jobs_pay_once_for_esm1v_all(standin, tmp_path, local_tables):
    """Five jobs (here threads with their own scorers and lock files, as five processes would be)
    start together: each batch is fetched by exactly one of them; the others wait for its lock and
    read the answer from the cache."""
    standin.latency_s = 0.05
    cache = tmp_path / "responses"
    scorers = [BiolmScorer(m, TOKEN, fast_settings(standin.url, cache, max_in_flight=4, timeout_s=60))
               for m in MODELS]
    tables, errors = {}, []

    def job(s):
        try:
            tables[s.name] = s.score(SEQ)
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=job, args=(s,)) for s in scorers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert standin.requests == 16, standin.outcomes()
    assert sorted(standin.answered_items()) == sorted(masked_item(SEQ, p, 1022) for p in range(1, 77))
    assert sum(s.items_fetched for s in scorers) == 76
    assert sum(s.client.requests for s in scorers) == 16
    for m in MODELS:
        assert_same_table(tables[m], local_tables[m])


FAULTS = {
    "429 with Retry-After": (Fault("status", status=429, retry_after="1"), r"HTTP 429.*in 1\.0 s \(Retry-After\)"),
    "429 without Retry-After": (Fault("status", status=429), "HTTP 429: .*rate_limited.*retry 1 of 3"),
    "500": (Fault("status", status=500), "HTTP 500"),
    "503": (Fault("status", status=503), "HTTP 503"),
    "stall past the timeout": (Fault("stall", seconds=4), "no complete answer within 2 s"),
    "malformed JSON": (Fault("malformed"), "malformed JSON"),
    "wrong result count": (Fault("wrong_count"), "answer breaks the API contract: 4 results for 5 items"),
    "missing amino acids": (Fault("missing_aa"), "19 entries, missing amino acids"),
    "a zero probability": (Fault("zero_score"), r"contract at position \d+: .*score of "
                                                 r"[A-Y] is 0\.0, not a probability in \(0, 1\]"),
    "probabilities summing to 10": (Fault("sum_over_1"), r"the 20 scores sum to 9\.95, more than 1"),
    "trickled byte by byte": (Fault("trickle", seconds=30), "no complete answer within 2 s"),
    "dropped connection": (Fault("drop"), r"connection failed \(ConnectionError\)"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("endpoint", ["per-model", "all"])
def test_each_fault_is_retried_and_the_result_is_unchanged(standin, tmp_path, local_tables, caplog,
                                                           fault, endpoint):
    what, logged = FAULTS[fault]
    standin.inject(what, what)  # the first two requests fail; their retries succeed
    scorer = BiolmScorer(MODELS[2], TOKEN, fast_settings(standin.url, tmp_path / "r", endpoint=endpoint),
                         labels=LABELS)
    with caplog.at_level(logging.WARNING, logger="esm1v_scan.scoring.biolm"):
        table = scorer.score(SEQ)
    assert_same_table(table, local_tables[MODELS[2]])
    assert standin.requests == 18 and standin.outcomes().count("ok") == 16
    assert scorer.client.retries == 2
    text = caplog.text
    assert len([r for r in caplog.records if "retry" in r.getMessage()]) == 2
    assert "sequence 'sp|P0CG48|UBC_HUMAN', positions " in text
    assert any(__import__("re").search(logged, r.getMessage()) for r in caplog.records), text
    assert TOKEN not in text


def test_a_zero_probability_is_retried_then_one_line_naming_sequence_and_position(standin, tmp_path):
    """An answer with score 0.0 for one amino acid (log p = -inf) is malformed: retried, then the
    job stops with one line naming the sequence and the position; nothing of it is cached."""
    standin.inject(Fault("ok"))
    standin.always = Fault("zero_score")
    settings = fast_settings(standin.url, tmp_path / "r", max_in_flight=1, max_attempts=3, endpoint="per-model")
    scorer = BiolmScorer(MODELS[0], TOKEN, settings, labels=LABELS)
    with pytest.raises(BiolmError) as info:
        scorer.score(SEQ)
    msg = str(info.value)
    assert msg.startswith("BioLM esm1v-n1: sequence 'sp|P0CG48|UBC_HUMAN', positions 6-10: no valid answer "
                          "after 3 attempts (last: answer breaks the API contract at position 6: item 0: "
                          "score of ")
    assert "is 0.0, not a probability in (0, 1])" in msg and "\n" not in msg
    assert standin.outcomes() == ["ok"] + ["zero_score"] * 3
    assert len(list((tmp_path / "r").glob("??/*.json"))) == 5  # the first batch only


def test_a_cached_answer_that_breaks_the_contract_is_fetched_again(standin, tmp_path, local_tables, caplog):
    """A response cache entry with a zero probability (written by an older version, which let it
    through) is not used: it is fetched again, with a warning."""
    cache = tmp_path / "responses"
    BiolmScorer(MODELS[0], TOKEN, fast_settings(standin.url, cache, endpoint="per-model")).score(SEQ, positions=[3])
    (entry,) = cache.glob("??/*.json")
    stored = json.loads(entry.read_text())
    stored["scores"]["esm1v-n1"]["W"] = 0.0
    entry.write_text(json.dumps(stored))
    standin.reset()
    again = BiolmScorer(MODELS[0], TOKEN, fast_settings(standin.url, cache, endpoint="per-model"))
    with caplog.at_level(logging.WARNING, logger="esm1v_scan.scoring.biolm"):
        table = again.score(SEQ, positions=[3])
    expected = local_tables[MODELS[0]]
    assert_same_table(table, expected[expected["position"] == 3].reset_index(drop=True))
    assert standin.requests == 1 and again.items_fetched == 1
    assert "score of W is 0.0, not a probability in (0, 1]), fetching it again" in caplog.text
    assert json.loads(entry.read_text())["scores"]["esm1v-n1"]["W"] > 0


@pytest.mark.parametrize("burst", [0, 400], ids=["status-line-and-headers", "body"])
def test_an_answer_trickled_byte_by_byte_times_out_as_a_whole(standin, burst):
    """timeout_s bounds the whole request, not each socket read: a server sending its answer one
    byte every 0.05 s (each read well within the timeout) is given up on after timeout_s, retried,
    then the job stops with one line. burst 0 trickles from the status line on, 400 sends the
    headers and the start of the body at once and trickles the rest."""
    standin.always = Fault("trickle", seconds=30, interval=0.05, burst=burst)
    settings = fast_settings(standin.url, None, timeout_s=1.0, max_attempts=2, max_in_flight=1, endpoint="per-model")
    scorer = BiolmScorer(MODELS[0], TOKEN, settings, labels=LABELS)
    with pytest.raises(BiolmError) as info:
        scorer.score(SEQ, positions=[7])
    assert str(info.value) == ("BioLM esm1v-n1: sequence 'sp|P0CG48|UBC_HUMAN', position 7: no valid answer "
                               "after 2 attempts (last: no complete answer within 1 s)")
    assert standin.wait_idle()
    assert standin.outcomes() == ["trickle", "trickle"]
    for request in standin.log:  # the client hung up long before the answer was through
        assert burst <= request.sent < request.total and request.total > 2000


def test_a_persistent_fault_gives_up_naming_the_position_and_keeps_what_came(standin, tmp_path, local_tables):
    """Three batches come back, then the server fails for good: after max_attempts the job stops
    with the sequence and positions; what came is cached, and the rerun asks only for the rest."""
    cache = tmp_path / "responses"
    standin.inject(Fault("ok"), Fault("ok"), Fault("ok"))
    standin.always = Fault("status", status=503)
    settings = fast_settings(standin.url, cache, max_in_flight=1, max_attempts=3, endpoint="per-model")
    scorer = BiolmScorer(MODELS[0], TOKEN, settings, labels=LABELS)
    with pytest.raises(BiolmError) as info:
        scorer.score(SEQ)
    msg = str(info.value)
    assert msg.startswith("BioLM esm1v-n1: sequence 'sp|P0CG48|UBC_HUMAN', positions 16-20: no valid "
                          "answer after 3 attempts (last: HTTP 503")
    assert msg.endswith("). Answers fetched so far are cached: rerun to resume") and "\n" not in msg
    assert standin.outcomes() == ["ok"] * 3 + ["status 503"] * 3  # the rest was never sent
    assert len(list(cache.glob("??/*.json"))) == 15
    standin.reset()
    again = BiolmScorer(MODELS[0], TOKEN, settings, labels=LABELS)
    assert_same_table(again.score(SEQ), local_tables[MODELS[0]])
    assert standin.requests == 13 and again.items_cached == 15


@pytest.mark.parametrize("fault, message", [
    (Fault("status", status=503), "no valid answer after 3 attempts (last: HTTP 503: {\"detail\": \"Server error\"})"),
    (Fault("status", status=429, retry_after="3600"), "the server asks to wait 3600 s (quota?); stopped"),
])
def test_without_a_response_cache_no_resume_is_promised(standin, fault, message):
    """With response_cache off nothing survives the job: the error says so by not claiming that
    answers are cached or that a rerun resumes."""
    standin.always = fault
    settings = fast_settings(standin.url, None, max_in_flight=1, max_attempts=3)
    with pytest.raises(BiolmError) as info:
        BiolmScorer(MODELS[0], TOKEN, settings, labels=LABELS).score(SEQ)
    assert str(info.value).endswith(message)
    assert "cached" not in str(info.value) and "resume" not in str(info.value)


@pytest.mark.parametrize("in_flight", [1, 8])
def test_a_bad_token_stops_at_once(standin, tmp_path, in_flight):
    wrong = "not-the-token-" + TOKEN[-6:]
    scorer = BiolmScorer(MODELS[0], wrong, fast_settings(standin.url, tmp_path / "r", max_in_flight=in_flight))
    with pytest.raises(BiolmAuthError) as info:
        scorer.score(SEQ)
    msg = str(info.value)
    assert "HTTP 401" in msg and "check that BIOLMAI_TOKEN holds a valid BioLM API token" in msg
    assert wrong not in msg and TOKEN not in msg
    assert scorer.client.retries == 0 and set(standin.outcomes()) == {"401"}
    assert standin.requests == 1 if in_flight == 1 else standin.requests <= in_flight


def test_a_validation_error_with_status_200_names_the_sequence(standin, tmp_path):
    standin.inject(Fault("validation_200"))
    scorer = BiolmScorer(MODELS[0], TOKEN, fast_settings(standin.url, None, max_in_flight=1), labels=LABELS)
    with pytest.raises(BiolmError, match=r"rejected sequence 'sp\|P0CG48\|UBC_HUMAN', "
                                         r"position 1 \(HTTP 200, validation\).*Invalid sequence"):
        scorer.score(SEQ)
    assert standin.requests == 1


def test_the_scorer_refuses_wt_marginals(standin):
    with pytest.raises(ValueError, match="masked-marginals only"):
        BiolmScorer(MODELS[0], TOKEN, fast_settings(standin.url, None)).score(SEQ, strategy="wt-marginals")
    assert standin.requests == 0


def test_response_cache_locks_are_shared_between_handles(tmp_path):
    a, b = ResponseCache(tmp_path), ResponseCache(tmp_path)
    keys = [ResponseCache.key("u", "esm1v-all", "M<mask>K")]
    with a.claim(keys, blocking=False) as mine:
        assert mine
        with b.claim(keys, blocking=False) as theirs:
            assert not theirs
    with b.claim(keys, blocking=False) as theirs:
        assert theirs


@pytest.mark.parametrize(
    "fault, message",
    [
        (Fault("status", status=403, body={"detail": "no access"}),
         "BioLM refused the API token (HTTP 403)"),
        (Fault("status", status=402, body={"code": "monthly_cap_reached"}),
         "HTTP 402, quota or payment: {\"code\": \"monthly_cap_reached\"}"),
        (Fault("status", status=404), "unexpected HTTP 404 from http://127.0.0.1:"),
        (Fault("status", status=422, body={"detail": "Validation error", "status_code": 422, "errors": [
            {"loc": ["body", "items", 2, "sequence"], "msg": "bad"}]}),
         "rejected sequence 'sp|P0CG48|UBC_HUMAN', position 3 (HTTP 422, validation)"),
        (Fault("status", status=400, body={"detail": f"token {TOKEN} is not valid here"}),
         "positions 1-5 (HTTP 400, validation): {\"detail\": \"token *** is not valid here\"}"),
        (Fault("status", status=429, retry_after="3600"), "the server asks to wait 3600 s (quota?); stopped"),
        (Fault("status", status=503, retry_after=__import__("email.utils").utils.formatdate(
            __import__("time").time() + 7200, usegmt=True)), "the server asks to wait 7"),
    ],
)
def test_answers_that_are_not_retried(standin, fault, message):
    """Refusals stop the job after one request, with the sequence, position and server detail
    (the token scrubbed from anything the server echoes)."""
    standin.inject(fault)
    scorer = BiolmScorer(MODELS[0], TOKEN, fast_settings(standin.url, None, max_in_flight=1), labels=LABELS)
    with pytest.raises(BiolmError) as info:
        scorer.score(SEQ)
    assert message in str(info.value) and TOKEN not in str(info.value)
    assert standin.requests == 1 and scorer.client.retries == 0


def test_a_bad_base_url_is_one_clear_line():
    scorer = BiolmScorer(MODELS[0], TOKEN, BiolmSettings(base_url="biolm.ai/api/v3", response_cache=None))
    with pytest.raises(BiolmError, match=r"BioLM esm1v-all: cannot send to biolm.ai/api/v3/esm1v-all/predict/: "
                                         r"Invalid URL"):
        scorer.score("MKV")


@pytest.mark.parametrize("in_flight", [1, 4])
def test_a_stop_signal_in_the_job_starts_no_further_request(standin, tmp_path, in_flight):
    """SIGTERM or Ctrl-C raises in the scoring job's main thread (esm1v_scan.pipeline.rule_scripts.Stopped,
    KeyboardInterrupt) while requests are in flight: it propagates, no queued batch is sent
    afterwards (the pool does not drain its queue), and what came is cached."""
    from esm1v_scan.pipeline.rule_scripts import Stopped

    class StopAfterFirst:
        def update(self, n):
            raise Stopped(15)

    cache = tmp_path / "responses"
    scorer = BiolmScorer(MODELS[0], TOKEN, fast_settings(standin.url, cache, max_in_flight=in_flight,
                                                         endpoint="per-model"), labels=LABELS)
    with pytest.raises(Stopped):
        scorer.score(SEQ, progress=StopAfterFirst())
    # one batch answered, then at most the ones in flight or just picked up: not all 16
    assert 1 <= standin.requests <= in_flight + 1, standin.requests
    assert len(list(cache.glob("??/*.json"))) == 5 * standin.requests
