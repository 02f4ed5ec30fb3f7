"""Pytest fixtures that start a fake network per test and stop it after.

Registered through ``pytest_plugins`` in ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.mastodon import FakeMastodon
from tests.fakes.webhook_receiver import WebhookReceiver

# A valid Standard Webhooks secret: "whsec_" + base64 of 32 bytes.
WEBHOOK_SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU="


@pytest.fixture
def fake_mastodon() -> Iterator[FakeMastodon]:
    fake = FakeMastodon()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(WEBHOOK_SECRET)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
