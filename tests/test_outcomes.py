"""What a failed attempt leads to, by failure kind, and how long retries wait.

``outcome_of`` and ``retry_delay`` are pure: no database, no network, a seeded
``random.Random`` for the jitter.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from worker.backoff import retry_delay
from worker.delivery import AUTH_RECHECK, Outcome, outcome_of
from worker.errors import (
    AmbiguousError,
    AuthError,
    DuplicateError,
    PublishError,
    RateLimitedError,
    RejectedError,
    TransientError,
)
from worker.models import DeliveryStatus, HistoryStatus
from worker.settings import Settings, load_settings

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
BASE = 30.0
CAP = 3600.0
MAX_ATTEMPTS = 5


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///unused.db")
    monkeypatch.setenv("RETRY_BASE_SECONDS", str(BASE))
    monkeypatch.setenv("RETRY_MAX_SECONDS", str(CAP))
    monkeypatch.setenv("MAX_ATTEMPTS", str(MAX_ATTEMPTS))
    return load_settings(env_file=None)


def outcome(
    error: PublishError, settings: Settings, *, attempt: int = 1, idempotent: bool = True
) -> Outcome:
    return outcome_of(
        error,
        attempt=attempt,
        idempotent=idempotent,
        now=NOW,
        settings=settings,
        rng=random.Random(attempt),
    )


def window(attempt: int) -> tuple[datetime, datetime]:
    """The earliest and latest retry time after failed attempt ``attempt``."""
    full = min(CAP, BASE * 2 ** (attempt - 1))
    return NOW + timedelta(seconds=full / 2), NOW + timedelta(seconds=full)


# ---------------------------------------------------------------------- by kind
@pytest.mark.parametrize("attempt", [1, 2, 3, MAX_ATTEMPTS - 1])
def test_transient_retries_with_backoff(settings: Settings, attempt: int) -> None:
    result = outcome(TransientError("503 from the server"), settings, attempt=attempt)
    assert result.status is DeliveryStatus.RETRY_WAIT
    assert result.history is HistoryStatus.RETRYING
    earliest, latest = window(attempt)
    assert result.retry_at is not None
    assert earliest <= result.retry_at <= latest
    # A 5xx says nothing about the account: it is not held.
    assert result.hold_account_until is None
    assert result.needs_attention is False


def test_transient_out_of_attempts_fails(settings: Settings) -> None:
    for attempt in (MAX_ATTEMPTS, MAX_ATTEMPTS + 3):
        result = outcome(TransientError("503"), settings, attempt=attempt)
        assert result.status is DeliveryStatus.FAILED
        assert result.history is HistoryStatus.ERROR
        assert result.retry_at is None
        assert result.hold_account_until is None


def test_rate_limited_waits_until_the_time_the_network_gave(settings: Settings) -> None:
    reset = NOW + timedelta(minutes=7, seconds=3)
    result = outcome(RateLimitedError("429", reset), settings)
    assert result.status is DeliveryStatus.RETRY_WAIT
    assert result.history is HistoryStatus.RETRYING
    assert result.retry_at == reset
    assert result.hold_account_until == reset
    assert result.needs_attention is False


@pytest.mark.parametrize("given", [None, NOW - timedelta(seconds=5), NOW])
def test_rate_limited_without_a_usable_time_backs_off_and_holds(
    settings: Settings, given: datetime | None
) -> None:
    result = outcome(RateLimitedError("429", given), settings)
    assert result.status is DeliveryStatus.RETRY_WAIT
    earliest, latest = window(1)
    assert result.retry_at is not None
    assert earliest <= result.retry_at <= latest
    assert result.hold_account_until == result.retry_at


def test_auth_holds_the_account_and_needs_attention(settings: Settings) -> None:
    result = outcome(AuthError("token revoked"), settings)
    assert result.status is DeliveryStatus.RETRY_WAIT
    assert result.history is HistoryStatus.ERROR
    assert result.needs_attention is True
    assert result.hold_account_until == NOW + AUTH_RECHECK
    assert result.retry_at == result.hold_account_until
    # Not a quick retry: a wrong token must not cause a retry storm.
    assert timedelta(minutes=10) <= AUTH_RECHECK


@pytest.mark.parametrize("attempt", [1, MAX_ATTEMPTS])
def test_rejected_fails_at_once(settings: Settings, attempt: int) -> None:
    result = outcome(RejectedError("Validation failed: too long"), settings, attempt=attempt)
    assert result.status is DeliveryStatus.FAILED
    assert result.history is HistoryStatus.ERROR
    assert result.retry_at is None
    assert result.hold_account_until is None
    assert result.needs_attention is False


def test_duplicate_counts_as_published(settings: Settings) -> None:
    result = outcome(DuplicateError("already there", remote_id="1"), settings, attempt=3)
    assert result.status is DeliveryStatus.PUBLISHED
    assert result.history is HistoryStatus.SUCCESS
    assert result.retry_at is None


def test_ambiguous_on_an_idempotent_account_retries(settings: Settings) -> None:
    result = outcome(AmbiguousError("no answer after sending"), settings, idempotent=True)
    assert result.status is DeliveryStatus.RETRY_WAIT
    assert result.history is HistoryStatus.RETRYING
    earliest, latest = window(1)
    assert result.retry_at is not None
    assert earliest <= result.retry_at <= latest
    last = outcome(AmbiguousError("x"), settings, idempotent=True, attempt=MAX_ATTEMPTS)
    assert last.status is DeliveryStatus.FAILED


@pytest.mark.parametrize("attempt", [1, 2, MAX_ATTEMPTS])
def test_ambiguous_on_a_non_idempotent_account_is_unconfirmed(
    settings: Settings, attempt: int
) -> None:
    result = outcome(AmbiguousError("reset"), settings, idempotent=False, attempt=attempt)
    assert result.status is DeliveryStatus.UNCONFIRMED
    assert result.history is HistoryStatus.UNCONFIRMED
    assert result.retry_at is None  # never resent on its own
    assert result.hold_account_until is None


def test_non_idempotent_only_matters_for_ambiguous(settings: Settings) -> None:
    """A transient error surely did not reach the network: resending is safe
    even where the network cannot recognise a repeat."""
    result = outcome(TransientError("connect refused"), settings, idempotent=False)
    assert result.status is DeliveryStatus.RETRY_WAIT


# ---------------------------------------------------------------------- retry_delay
@pytest.mark.parametrize("seed", range(20))
def test_retry_delay_stays_within_half_and_full(seed: int) -> None:
    rng = random.Random(seed)
    for attempt in range(1, 40):
        full = min(CAP, BASE * 2 ** (attempt - 1))
        delay = retry_delay(attempt, base=BASE, cap=CAP, rng=rng)
        assert full / 2 <= delay <= full, (attempt, delay)


def test_retry_delay_grows_then_is_capped() -> None:
    rng = random.Random(7)
    delays = [retry_delay(n, base=BASE, cap=CAP, rng=rng) for n in range(1, 16)]
    # Below the cap, each attempt's shortest wait is the previous one's longest.
    uncapped = [d for n, d in enumerate(delays, 1) if BASE * 2 ** (n - 1) <= CAP]
    assert len(uncapped) == 7
    assert uncapped == sorted(uncapped)
    assert delays[0] <= BASE < delays[2]
    assert all(CAP / 2 <= d <= CAP for d in delays[8:])
    assert max(delays) <= CAP
    # Huge attempt numbers do not overflow.
    assert CAP / 2 <= retry_delay(10_000, base=BASE, cap=CAP, rng=rng) <= CAP


def test_retry_delay_jitter_spreads_and_is_reproducible() -> None:
    spread = {round(retry_delay(4, base=BASE, cap=CAP, rng=random.Random(s)), 6) for s in range(50)}
    assert len(spread) > 40, "deliveries that failed together must not retry together"
    assert retry_delay(3, base=BASE, cap=CAP, rng=random.Random(1)) == retry_delay(
        3, base=BASE, cap=CAP, rng=random.Random(1)
    )


def test_retry_delay_needs_an_attempt_number() -> None:
    with pytest.raises(ValueError):
        retry_delay(0, base=BASE, cap=CAP)
