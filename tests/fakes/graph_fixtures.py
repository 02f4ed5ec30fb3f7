"""Fixtures for the Facebook, Instagram and Threads tests: a fake per test
on 127.0.0.1, stopped after, and an HTTP client.

Test modules load them with ``pytest_plugins = ["tests.fakes.graph_fixtures"]``
(or register this module in ``tests/conftest.py`` like ``fixtures.py``); the
test data helpers are in ``tests.fakes.graph``.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.graph import FakeGraph


def _started(fake: FakeGraph) -> Iterator[FakeGraph]:
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fake_facebook() -> Iterator[FakeGraph]:
    yield from _started(FakeGraph("facebook"))


@pytest.fixture
def fake_instagram() -> Iterator[FakeGraph]:
    yield from _started(FakeGraph("instagram"))


@pytest.fixture
def fake_threads() -> Iterator[FakeGraph]:
    yield from _started(FakeGraph("threads"))


@pytest.fixture
def graph_http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=2.0) as client:
        yield client
