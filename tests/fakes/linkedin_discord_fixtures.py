"""Pytest fixtures for the fake LinkedIn API and the fake Discord webhook.

Meant for ``pytest_plugins`` in ``tests/conftest.py``; the test modules also
import them directly until then.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.discord import FakeDiscord
from tests.fakes.linkedin import FakeLinkedIn


@pytest.fixture
def fake_linkedin() -> Iterator[FakeLinkedIn]:
    fake = FakeLinkedIn()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fake_discord() -> Iterator[FakeDiscord]:
    fake = FakeDiscord()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
