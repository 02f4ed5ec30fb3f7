"""Pytest fixtures for the fake X API (register in ``tests/conftest.py``'s
``pytest_plugins`` as ``tests.fakes.x_fixtures``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.x import FakeX


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    """A fake X serving a confidential OAuth 2.0 client and OAuth 1.0a keys at once."""
    fake = FakeX()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fake_x_public_client() -> Iterator[FakeX]:
    """A fake X whose OAuth 2.0 client is public (no client secret)."""
    fake = FakeX(client_secret=None)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
