"""The signed-webhook adapter over real HTTP against a Standard Webhooks receiver."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from tests.fakes.fixtures import WEBHOOK_SECRET
from tests.fakes.server import free_port
from tests.fakes.webhook_receiver import WebhookReceiver
from worker.errors import (
    AmbiguousError,
    AuthError,
    RateLimitedError,
    RejectedError,
    TransientError,
)
from worker.models import ComposedMessage, DeliveryRef, FeaturedImage, SourcePost
from worker.platforms.webhook import WebhookAdapter, WebhookSettings, sign

POST_URL = "https://news.example/?p=15004"
CREATED_AT = datetime(2026, 4, 19, 7, 31, tzinfo=UTC)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=2.0) as client:
        yield client


def adapter_for(
    receiver: WebhookReceiver, http: httpx.Client, secret: str = WEBHOOK_SECRET
) -> WebhookAdapter:
    settings = WebhookSettings(url=receiver.hook_url, secret=SecretStr(secret))
    return WebhookAdapter("hook", settings, http)


def post() -> SourcePost:
    when = datetime(2026, 4, 19, 7, 30, tzinfo=UTC)
    return SourcePost(
        site="news",
        post_id=15004,
        link=POST_URL,
        title_html="Iran&#8217;s talks resume",
        excerpt_html="<p>Talks resume [&hellip;]</p>",
        content_html="<p>Talks resume.</p>",
        date_gmt=when,
        modified_gmt=when,
        tags=("geneva", "diplomacy"),
        categories=("world",),
        featured_image=FeaturedImage(url="https://news.example/img/talks.jpg", alt="Talks"),
    )


def message() -> ComposedMessage:
    text = f"Iran’s talks resume 🇨🇭\n\nTalks resume…\n\n{POST_URL}"
    return ComposedMessage(
        text=text,
        link=POST_URL,
        length=len(text),
        title="Iran’s talks resume",
        excerpt="Talks resume…",
    )


def delivery(key: str = "msg_0123456789abcdef", attempt: int = 1) -> DeliveryRef:
    return DeliveryRef(
        delivery_id=7,
        account="hook",
        attempt=attempt,
        idempotency_key=key,
        created_at=CREATED_AT,
        post=post(),
    )


# ---------------------------------------------------------------------- signing


def test_signature_matches_the_standard_webhooks_vector() -> None:
    assert (
        sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            b'{"test": 2432232314}',
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_new_idempotency_keys_are_message_ids() -> None:
    first, second = WebhookAdapter.new_idempotency_key(), WebhookAdapter.new_idempotency_key()
    assert first.startswith("msg_") and len(first) == 36
    assert first != second


# ---------------------------------------------------------------------- publishing


def test_publish_delivers_a_signed_event_the_receiver_accepts(
    webhook_receiver: WebhookReceiver, http: httpx.Client
) -> None:
    before = int(time.time())
    result = adapter_for(webhook_receiver, http).publish(message(), delivery())

    assert result.remote_id == "msg_0123456789abcdef"
    assert result.remote_url is None
    assert webhook_receiver.rejected == []
    (event,) = webhook_receiver.events
    assert event.msg_id == "msg_0123456789abcdef"
    assert before <= event.timestamp <= int(time.time())
    assert event.payload == {
        "type": "post.published",
        "timestamp": "2026-04-19T07:31:00Z",
        "data": {
            "site": "news",
            "post_id": 15004,
            "title": "Iran’s talks resume",
            "excerpt": "Talks resume…",
            "url": POST_URL,
            "text": message().text,
            "tags": ["geneva", "diplomacy"],
            "categories": ["world"],
            "image_url": "https://news.example/img/talks.jpg",
            "date_gmt": "2026-04-19T07:30:00Z",
        },
    }
    (request,) = webhook_receiver.requests
    assert request.headers["content-type"] == "application/json"
    # The signature covers exactly the bytes that were sent.
    assert request.headers["webhook-signature"] == sign(
        WEBHOOK_SECRET, event.msg_id, event.timestamp, request.body
    )
    assert WEBHOOK_SECRET not in request.body.decode()


def test_a_receiver_with_another_secret_refuses_the_signature(
    webhook_receiver: WebhookReceiver, http: httpx.Client
) -> None:
    other = "whsec_" + "b3RoZXItc2VjcmV0LW9mLWF0LWxlYXN0LTI0LWJ5dGVz"
    with pytest.raises(RejectedError, match="401"):
        adapter_for(webhook_receiver, http, secret=other).publish(message(), delivery())
    assert webhook_receiver.events == []
    assert [reason for _, reason in webhook_receiver.rejected] == ["no matching signature"]
    assert other not in str(webhook_receiver.rejected)


def test_resend_after_a_dropped_answer_is_deduplicated(
    webhook_receiver: WebhookReceiver, http: httpx.Client
) -> None:
    adapter = adapter_for(webhook_receiver, http)
    webhook_receiver.drop_after_processing()

    with pytest.raises(AmbiguousError):
        adapter.publish(message(), delivery(attempt=1))
    assert len(webhook_receiver.events) == 1

    result = adapter.publish(message(), delivery(attempt=2))

    assert result.remote_id == "msg_0123456789abcdef"
    assert len(webhook_receiver.events) == 1
    assert webhook_receiver.duplicates == 1
    first, second = webhook_receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    # Same event body on every attempt; only the attempt's timestamp header moves.
    assert first.body == second.body


def test_gone_endpoint_is_an_auth_error(
    webhook_receiver: WebhookReceiver, http: httpx.Client
) -> None:
    webhook_receiver.fail_next(1, 410, "")
    with pytest.raises(AuthError, match="endpoint gone: remove or fix the URL"):
        adapter_for(webhook_receiver, http).publish(message(), delivery())


@pytest.mark.parametrize("status", [429, 502, 504])
def test_slow_down_with_retry_after_is_rate_limited(
    webhook_receiver: WebhookReceiver, http: httpx.Client, status: int
) -> None:
    webhook_receiver.fail_next(1, status, "slow down", {"Retry-After": "120"})
    before = datetime.now(UTC)
    with pytest.raises(RateLimitedError) as caught:
        adapter_for(webhook_receiver, http).publish(message(), delivery())
    retry_at = caught.value.retry_at
    assert retry_at is not None
    assert before + timedelta(seconds=119) <= retry_at <= datetime.now(UTC) + timedelta(seconds=121)


def test_retry_after_as_an_http_date(webhook_receiver: WebhookReceiver, http: httpx.Client) -> None:
    webhook_receiver.fail_next(1, 429, "", {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"})
    with pytest.raises(RateLimitedError) as caught:
        adapter_for(webhook_receiver, http).publish(message(), delivery())
    assert caught.value.retry_at == datetime(2026, 10, 21, 7, 28, tzinfo=UTC)


@pytest.mark.parametrize("status", [500, 503])
def test_other_5xx_is_ambiguous(
    webhook_receiver: WebhookReceiver, http: httpx.Client, status: int
) -> None:
    webhook_receiver.fail_next(1, status, "oops")
    with pytest.raises(AmbiguousError, match=str(status)):
        adapter_for(webhook_receiver, http).publish(message(), delivery())


def test_redirects_are_not_followed(webhook_receiver: WebhookReceiver, http: httpx.Client) -> None:
    webhook_receiver.fail_next(1, 307, "", {"Location": webhook_receiver.hook_url})
    with pytest.raises(RejectedError, match="307"):
        adapter_for(webhook_receiver, http).publish(message(), delivery())
    assert len(webhook_receiver.requests) == 1
    assert webhook_receiver.events == []


def test_other_4xx_is_rejected_naming_the_status(
    webhook_receiver: WebhookReceiver, http: httpx.Client
) -> None:
    webhook_receiver.fail_next(1, 422, "no")
    with pytest.raises(RejectedError, match="422"):
        adapter_for(webhook_receiver, http).publish(message(), delivery())


def test_receiver_down_is_transient(http: httpx.Client) -> None:
    settings = WebhookSettings(
        url=f"http://127.0.0.1:{free_port()}/hook", secret=SecretStr(WEBHOOK_SECRET)
    )
    adapter = WebhookAdapter("hook", settings, http)
    with pytest.raises(TransientError):
        adapter.publish(message(), delivery())
    assert not adapter.check().ok


# ---------------------------------------------------------------------- check


def test_check_sends_a_signed_ping(webhook_receiver: WebhookReceiver, http: httpx.Client) -> None:
    checked = adapter_for(webhook_receiver, http).check()
    assert checked.ok
    (event,) = webhook_receiver.events
    assert event.payload["type"] == "ping"
    assert event.msg_id.startswith("msg_")


def test_check_fails_when_the_receiver_refuses_the_signature(
    webhook_receiver: WebhookReceiver, http: httpx.Client
) -> None:
    other = "whsec_" + "b3RoZXItc2VjcmV0LW9mLWF0LWxlYXN0LTI0LWJ5dGVz"
    checked = adapter_for(webhook_receiver, http, secret=other).check()
    assert not checked.ok
    assert "401" in checked.detail
    assert other not in checked.detail


# ---------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "must start with 'whsec_'"),
        ("whsec_not base64!!", "not valid base64"),
        ("whsec_c2hvcnQ=", "decodes to 5 bytes; it must be 24 to 64"),
        ("whsec_" + "QUFB" * 30, "decodes to 90 bytes; it must be 24 to 64"),
    ],
)
def test_invalid_secret_is_a_validation_error_naming_the_problem(secret: str, problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        WebhookSettings(url="https://hooks.example/in", secret=SecretStr(secret))
    text = str(caught.value)
    assert problem in text
    assert "secret" in text
    assert secret not in text


def test_settings_accept_a_valid_secret_and_refuse_a_non_http_url() -> None:
    assert WebhookSettings(url="https://hooks.example/in", secret=SecretStr(WEBHOOK_SECRET)).secret
    with pytest.raises(ValidationError, match="http"):
        WebhookSettings(url="ftp://hooks.example/in", secret=SecretStr(WEBHOOK_SECRET))


def test_body_is_compact_json_with_unicode_kept(
    webhook_receiver: WebhookReceiver, http: httpx.Client
) -> None:
    adapter_for(webhook_receiver, http).publish(message(), delivery())
    (request,) = webhook_receiver.requests
    assert "🇨🇭".encode() in request.body
    assert json.loads(request.body)["data"]["text"] == message().text
