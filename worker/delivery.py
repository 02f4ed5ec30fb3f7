"""Publishing one delivery: claim, compose, send, record.  No Celery in here.

The same ``Publisher.publish(delivery_id)`` runs in a local thread pool
(embedded mode) and in a Celery task (distributed mode).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from worker.backoff import retry_delay
from worker.errors import AmbiguousError, FailureKind, PublishError, SkipPost
from worker.models import (
    ComposedMessage,
    DeliveryRef,
    DeliveryStatus,
    HistoryStatus,
    PublishResult,
    SourcePost,
)
from worker.platforms.configured import ConfiguredAdapters
from worker.settings import Settings
from worker.store import accounts as account_store
from worker.store import deliveries as delivery_store
from worker.store import history as history_store

log = logging.getLogger(__name__)

# After an auth failure the account waits this long before one delivery tries
# again on its own; `crosspost check` or a retry clears the wait at once.
AUTH_RECHECK = timedelta(minutes=30)

# The failure kinds that count against MAX_ATTEMPTS.
RETRYABLE_KINDS = frozenset({FailureKind.TRANSIENT, FailureKind.AMBIGUOUS})


@dataclass(frozen=True)
class Outcome:
    """What a failed attempt leads to."""

    status: DeliveryStatus
    history: HistoryStatus
    retry_at: datetime | None = None
    hold_account_until: datetime | None = None
    needs_attention: bool = False


def outcome_of(
    error: PublishError,
    *,
    attempt: int,
    idempotent: bool,
    now: datetime,
    settings: Settings,
    rng: random.Random | None = None,
) -> Outcome:
    """The failure kind decides the next step (see worker.errors).

    ``attempt`` counts the failures that use up attempts (transient and
    ambiguous ones), this one included; it also sets the backoff.
    """

    def backoff() -> datetime:
        seconds = retry_delay(
            attempt, base=settings.retry_base_seconds, cap=settings.retry_max_seconds, rng=rng
        )
        return now + timedelta(seconds=seconds)

    out_of_attempts = attempt >= settings.max_attempts
    kind = error.kind
    if kind is FailureKind.TRANSIENT or (kind is FailureKind.AMBIGUOUS and idempotent):
        if out_of_attempts:
            return Outcome(DeliveryStatus.FAILED, HistoryStatus.ERROR)
        return Outcome(DeliveryStatus.RETRY_WAIT, HistoryStatus.RETRYING, retry_at=backoff())
    if kind is FailureKind.AMBIGUOUS:
        # The post may exist; sending again could make a second one.
        return Outcome(DeliveryStatus.UNCONFIRMED, HistoryStatus.UNCONFIRMED)
    if kind is FailureKind.RATE_LIMITED:
        given = getattr(error, "retry_at", None)
        until = given if given is not None and given > now else backoff()
        return Outcome(
            DeliveryStatus.RETRY_WAIT,
            HistoryStatus.RETRYING,
            retry_at=until,
            hold_account_until=until,
        )
    if kind is FailureKind.AUTH:
        until = now + AUTH_RECHECK
        return Outcome(
            DeliveryStatus.RETRY_WAIT,
            HistoryStatus.ERROR,
            retry_at=until,
            hold_account_until=until,
            needs_attention=True,
        )
    if kind is FailureKind.DUPLICATE:
        return Outcome(DeliveryStatus.PUBLISHED, HistoryStatus.SUCCESS)
    # Rejected: the same content would be refused again.
    return Outcome(DeliveryStatus.FAILED, HistoryStatus.ERROR)


class Publisher:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        adapters: ConfiguredAdapters,
        clock: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.adapters = adapters
        self.clock = clock

    def publish(self, delivery_id: int) -> DeliveryStatus | None:
        """Make one attempt at a delivery if it is due and ours to take.

        Returns the status it ended in, or None when there was nothing to do
        (already taken, not due, its account paused or held).
        """
        now = self.clock()
        with self.engine.begin() as conn:
            work = delivery_store.load_work(conn, delivery_id)
            if work is None:
                return None
            state = account_store.get_state(conn, work.account)
            if state is not None and state.paused:
                return None
            blocked = state.blocked_until(now) if state is not None else None
            if blocked is not None:
                delivery_store.postpone(conn, delivery_id, until=blocked, now=now)
                return None
            claim = delivery_store.claim(
                conn, delivery_id, now=now, lease_seconds=self.settings.lease_seconds
            )
        if claim is None:
            return None

        adapter = self.adapters.get(work.account)
        account_settings = self.settings.accounts.get(work.account)
        if adapter is None or account_settings is None or not account_settings.enabled:
            return self._settle_skipped(claim, "account is no longer configured or enabled")

        post = SourcePost.from_json(work.source)
        started = time.monotonic()
        try:
            if work.message is not None:
                message = ComposedMessage.from_json(work.message)
            else:
                message = adapter.compose(post)
                with self.engine.begin() as conn:
                    if not delivery_store.save_message(conn, claim, message.to_json()):
                        return None  # our lease ran out while composing
            ref = DeliveryRef(
                delivery_id=delivery_id,
                account=work.account,
                attempt=claim.attempt,
                idempotency_key=work.idempotency_key,
                created_at=work.created_at,
                post=post,
                state=work.platform_state,
                remember=lambda key, value: self._remember(claim, key, value),
            )
            result: PublishResult | PublishError = adapter.publish(message, ref)
        except SkipPost as skip:
            return self._settle_skipped(claim, adapter.redact(skip.reason))
        except PublishError as error:
            result = error
        except Exception as exc:  # a bug in an adapter must not lose the delivery
            log.exception(
                "delivery %s: unexpected error in the %s adapter", delivery_id, work.network
            )
            result = AmbiguousError(f"internal error: {type(exc).__name__}: {exc}")
        duration_ms = int((time.monotonic() - started) * 1000)
        if isinstance(result, PublishError):
            return self._settle_failure(
                claim, work.account, adapter.idempotent, result, adapter.redact, duration_ms
            )
        return self._settle_success(claim, result, duration_ms)

    # ------------------------------------------------------------------ recording
    def _remember(self, claim: delivery_store.Claim, key: str, value: object) -> None:
        with self.engine.begin() as conn:
            if not delivery_store.remember(conn, claim, key, value):
                # Someone else holds the delivery now: stop before sending more.
                raise AmbiguousError("the claim on this delivery was lost mid-send")

    def _settle_success(
        self, claim: delivery_store.Claim, result: PublishResult, duration_ms: int
    ) -> DeliveryStatus | None:
        with self.engine.begin() as conn:
            recorded = delivery_store.record_attempt(
                conn,
                claim,
                status=DeliveryStatus.PUBLISHED,
                history=HistoryStatus.SUCCESS,
                now=self.clock(),
                remote_id=result.remote_id,
                remote_url=result.remote_url,
                duration_ms=duration_ms,
            )
        if not recorded:
            log.warning("delivery %s: claim lost before recording success", claim.delivery_id)
            return None
        log.info(
            "delivery %s published: %s", claim.delivery_id, result.remote_url or result.remote_id
        )
        return DeliveryStatus.PUBLISHED

    def _settle_failure(
        self,
        claim: delivery_store.Claim,
        account: str,
        idempotent: bool,
        error: PublishError,
        redact: Callable[[str], str],
        duration_ms: int,
    ) -> DeliveryStatus | None:
        now = self.clock()
        message = redact(error.message)
        if error.kind is FailureKind.DUPLICATE:
            with self.engine.begin() as conn:
                recorded = delivery_store.record_attempt(
                    conn,
                    claim,
                    status=DeliveryStatus.PUBLISHED,
                    history=HistoryStatus.SUCCESS,
                    now=now,
                    remote_id=getattr(error, "remote_id", None),
                    remote_url=getattr(error, "remote_url", None),
                    error_kind=error.kind.value,
                    error=message,
                    duration_ms=duration_ms,
                )
            return DeliveryStatus.PUBLISHED if recorded else None

        with self.engine.begin() as conn:
            # Only failures that may go away by themselves use up attempts: a
            # long rate limit or a credentials fix must not fail the delivery.
            failures = history_store.count_errors(
                conn, claim.delivery_id, kinds=RETRYABLE_KINDS
            ) + (1 if error.kind in RETRYABLE_KINDS else 0)
        outcome = outcome_of(
            error,
            attempt=max(failures, 1),
            idempotent=idempotent,
            now=now,
            settings=self.settings,
        )
        with self.engine.begin() as conn:
            if not delivery_store.record_attempt(
                conn,
                claim,
                status=outcome.status,
                history=outcome.history,
                now=now,
                retry_at=outcome.retry_at,
                error_kind=error.kind.value,
                error=message,
                duration_ms=duration_ms,
            ):
                log.warning("delivery %s: claim lost before recording failure", claim.delivery_id)
                return None
            if outcome.hold_account_until is not None:
                account_store.hold(
                    conn,
                    account,
                    until=outcome.hold_account_until,
                    needs_attention=outcome.needs_attention,
                    error=f"{error.kind.value}: {message}",
                )
        log.warning(
            "delivery %s attempt %s: %s: %s -> %s",
            claim.delivery_id,
            claim.attempt,
            error.kind.value,
            message,
            outcome.status.value,
        )
        return outcome.status

    def _settle_skipped(self, claim: delivery_store.Claim, reason: str) -> DeliveryStatus | None:
        with self.engine.begin() as conn:
            recorded = delivery_store.record_attempt(
                conn,
                claim,
                status=DeliveryStatus.SKIPPED,
                history=HistoryStatus.SKIPPED,
                now=self.clock(),
                error=reason,
            )
        return DeliveryStatus.SKIPPED if recorded else None
