"""Fixtures for the BioLM backend tests: the stand-in server (tests/biolm_standin.py) on a free
port of 127.0.0.1, serving the session's tiny checkpoints, and fast retry settings.

Import the fixtures into a test module: ``from biolm_fixtures import standin, standin_server``.
"""

from __future__ import annotations

import secrets

import pytest

from biolm_standin import StandIn
from esm1v_scan.scoring.biolm import BiolmSettings

#: a fresh token per test session, so the token scan cannot be fooled by a fixed string
TOKEN = "biolm-test-token-" + secrets.token_hex(16)


@pytest.fixture(scope="session")
def standin_server(tiny_dir):
    server = StandIn(tiny_dir, TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def standin(standin_server):
    """The session's stand-in with no faults, no latency and an empty request log."""
    standin_server.reset()
    yield standin_server
    standin_server.reset()


def fast_settings(url: str, cache_dir, **overrides) -> BiolmSettings:
    """Short timeouts and backoffs so fault tests take seconds, not minutes."""
    values = dict(base_url=url, timeout_s=2.0, max_attempts=4, backoff_s=0.01, backoff_max_s=0.05,
                  response_cache=str(cache_dir) if cache_dir else None)
    return BiolmSettings(**{**values, **overrides})


def fast_config(url: str | None, cache_dir, **overrides) -> dict:
    """The same, as the workflow's ``biolm:`` config block."""
    s = fast_settings(url, cache_dir, **overrides).as_dict()
    return s
