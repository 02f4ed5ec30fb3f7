"""Pytest fixture for the fake Telegram Bot API (register it like ``fixtures.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.telegram import FakeTelegram


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    fake = FakeTelegram()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
