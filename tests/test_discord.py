"""The Discord adapter over real HTTP against FakeDiscord."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from tests.fakes.discord import FakeDiscord
from tests.fakes.server import free_port
from worker.compose.length import DISCORD
from worker.errors import (
    AmbiguousError,
    AuthError,
    RateLimitedError,
    RejectedError,
    TransientError,
)
from worker.logs import SecretFilter
from worker.models import ComposedMessage, DeliveryRef, FeaturedImage, SourcePost
from worker.platforms.discord import DiscordAdapter, DiscordSettings

POST_URL = "https://news.example/?p=15004"
IMAGE_URL = "https://news.example/wp-content/uploads/geneva.jpg"


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=2.0) as client:
        yield client


def adapter_for(fake: FakeDiscord, http: httpx.Client, **overrides: object) -> DiscordAdapter:
    values: dict[str, object] = {"webhook_url": SecretStr(fake.webhook_url)}
    values.update(overrides)
    return DiscordAdapter("disc", DiscordSettings.model_validate(values), http)


def post(title: str = "Iran&#8217;s talks resume @everyone", excerpt: str = "") -> SourcePost:
    when = datetime(2026, 4, 19, 7, 30, tzinfo=UTC)
    return SourcePost(
        site="news",
        post_id=15004,
        link=POST_URL,
        title_html=title,
        excerpt_html=excerpt or "<p>Talks resume in Geneva [&hellip;]</p>",
        content_html="<p>Talks resume in Geneva.</p>",
        date_gmt=when,
        modified_gmt=when,
        tags=("geneva",),
        featured_image=FeaturedImage(url=IMAGE_URL, alt="Geneva"),
    )


def message(text: str) -> ComposedMessage:
    return ComposedMessage(text=text, link=POST_URL, length=len(text), title="Title")


def delivery(attempt: int = 1) -> DeliveryRef:
    return DeliveryRef(
        delivery_id=42,
        account="disc",
        attempt=attempt,
        idempotency_key="delivery-42-key",
        created_at=datetime(2026, 4, 19, 7, 31, tzinfo=UTC),
        post=post(),
    )


def webhook_path(fake: FakeDiscord) -> str:
    return f"/api/webhooks/{fake.webhook_id}/{fake.token}"


# ---------------------------------------------------------------------- success


def test_publish_sends_content_embed_and_no_mentions_and_returns_the_message_link(
    fake_discord: FakeDiscord, http: httpx.Client
) -> None:
    adapter = adapter_for(fake_discord, http, username="News bot")
    composed = adapter.compose(post())

    result = adapter.publish(composed, delivery())

    (sent,) = fake_discord.messages
    assert result.remote_id == sent["id"]
    assert result.remote_url == (
        f"https://discord.com/channels/{fake_discord.guild_id}/{fake_discord.channel_id}/{sent['id']}"
    )
    (request,) = fake_discord.requests_to(webhook_path(fake_discord), "POST")
    assert request.query["wait"] == ["true"]
    assert "authorization" not in request.headers  # the URL is the credential
    body = request.json()
    assert body["content"] == composed.text
    assert "@everyone" in body["content"]
    assert body["allowed_mentions"] == {"parse": []}
    assert body["username"] == "News bot"
    assert composed.card is not None
    assert body["embeds"] == [
        {
            "title": "Iran’s talks resume @everyone",
            "url": composed.link,
            "description": composed.card.description,
            "timestamp": "2026-04-19T07:30:00Z",
            "image": {"url": IMAGE_URL},
        }
    ]


def test_guild_is_read_once_for_every_message(
    fake_discord: FakeDiscord, http: httpx.Client
) -> None:
    adapter = adapter_for(fake_discord, http)
    first = adapter.publish(message("one"), delivery())
    second = adapter.publish(message("two"), delivery())
    assert first.remote_url and second.remote_url
    assert f"/channels/{fake_discord.guild_id}/" in second.remote_url
    assert len(fake_discord.requests_to(webhook_path(fake_discord), "GET")) == 1


def test_thumbnail_or_no_embed_as_configured(fake_discord: FakeDiscord, http: httpx.Client) -> None:
    thumb = adapter_for(fake_discord, http, embed_image="thumbnail")
    thumb.publish(thumb.compose(post()), delivery())
    plain = adapter_for(fake_discord, http, embed=False)
    plain.publish(plain.compose(post()), delivery())

    first, second = (r.json() for r in fake_discord.requests_to(webhook_path(fake_discord), "POST"))
    assert first["embeds"][0]["thumbnail"] == {"url": IMAGE_URL}
    assert "image" not in first["embeds"][0]
    assert "embeds" not in second


def test_a_long_title_is_cut_to_the_embed_limit(
    fake_discord: FakeDiscord, http: httpx.Client
) -> None:
    adapter = adapter_for(fake_discord, http)
    composed = adapter.compose(post(title="Families 👨‍👩‍👧 " * 60))
    result = adapter.publish(composed, delivery())
    (sent,) = fake_discord.messages
    assert sent["id"] == result.remote_id
    title = sent["embeds"][0]["title"]
    assert len(title.encode("utf-16-le")) // 2 <= 256 and title.endswith("…")


def test_unknown_guild_still_publishes_without_a_link(
    fake_discord: FakeDiscord, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    fake_discord.fail_next(1, 500, "oops", method="GET")
    with caplog.at_level(logging.WARNING, logger="worker.platforms.discord"):
        result = adapter_for(fake_discord, http).publish(message("Hello"), delivery())
    assert result.remote_id == fake_discord.messages[0]["id"]
    assert result.remote_url is None
    assert "message link is unknown" in caplog.text
    assert fake_discord.token not in caplog.text


# ---------------------------------------------------------------------- length


def test_too_long_is_rejected_with_discords_message(
    fake_discord: FakeDiscord, http: httpx.Client
) -> None:
    with pytest.raises(RejectedError) as caught:
        adapter_for(fake_discord, http).publish(message("x" * 2001), delivery())
    text = caught.value.message
    assert "400 code 50035" in text
    assert "content: Must be 2000 or fewer in length." in text
    assert fake_discord.messages == []


def test_composed_text_fits_in_utf16_units(fake_discord: FakeDiscord, http: httpx.Client) -> None:
    # Emoji are two UTF-16 units each: 2,000 code points would be too long
    # if Discord counts units, which the fake does by default.
    excerpt = "<p>" + "Réunion 😀 à Genève 👨‍👩‍👧. " * 200 + "</p>"
    adapter = adapter_for(fake_discord, http)
    composed = adapter.compose(post(excerpt=excerpt))

    result = adapter.publish(composed, delivery())

    assert DISCORD.fits(composed.text)
    assert len(composed.text.encode("utf-16-le")) // 2 <= 2000
    assert fake_discord.messages[0]["id"] == result.remote_id
    assert composed.link in composed.text


# ---------------------------------------------------------------------- auth


def test_deleted_webhook_is_an_auth_error_without_the_token(
    fake_discord: FakeDiscord, http: httpx.Client
) -> None:
    fake_discord.deleted = True
    adapter = adapter_for(fake_discord, http)

    with pytest.raises(AuthError) as caught:
        adapter.publish(message("Hello"), delivery())

    text = str(caught.value)
    assert "10015" in text and "Unknown Webhook" in text
    assert "ACCOUNTS__DISC__WEBHOOK_URL" in text
    assert fake_discord.token not in text
    checked = adapter.check()
    assert not checked.ok and "no longer exists" in checked.detail
    assert fake_discord.token not in checked.detail


def test_wrong_token_is_an_auth_error(fake_discord: FakeDiscord, http: httpx.Client) -> None:
    wrong = "Zz-WRONG-token-abcdefghijklmnopqrstuvwxyz0123456789"
    url = f"{fake_discord.url}/api/webhooks/{fake_discord.webhook_id}/{wrong}"
    adapter = adapter_for(fake_discord, http, webhook_url=SecretStr(url))
    with pytest.raises(AuthError) as caught:
        adapter.publish(message("Hello"), delivery())
    assert "50027" in caught.value.message
    assert wrong not in str(caught.value)
    assert fake_discord.messages == []


# ---------------------------------------------------------------------- rate limits


def test_rate_limit_gives_the_wait_discord_announced(
    fake_discord: FakeDiscord, http: httpx.Client
) -> None:
    fake_discord.rate_limit(retry_after=3.25)
    before = datetime.now(UTC)
    with pytest.raises(RateLimitedError) as caught:
        adapter_for(fake_discord, http).publish(message("Hello"), delivery())
    after = datetime.now(UTC)

    retry_at = caught.value.retry_at
    assert retry_at is not None
    # The body's float, not the header's whole seconds (4).
    assert before + timedelta(seconds=3.25) <= retry_at <= after + timedelta(seconds=3.25)
    assert "(user)" in caught.value.message
    assert fake_discord.messages == []


def test_rate_limit_from_a_proxy_without_json_uses_retry_after(
    fake_discord: FakeDiscord, http: httpx.Client
) -> None:
    fake_discord.fail_next(1, 429, "<html>slow down</html>", {"Retry-After": "7"})
    before = datetime.now(UTC)
    with pytest.raises(RateLimitedError) as caught:
        adapter_for(fake_discord, http).publish(message("Hello"), delivery())
    assert caught.value.retry_at is not None
    assert caught.value.retry_at >= before + timedelta(seconds=7)


# ---------------------------------------------------------------------- unclear outcomes


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_ambiguous(fake_discord: FakeDiscord, http: httpx.Client, status: int) -> None:
    fake_discord.fail_next(1, status, {"message": "Internal Server Error", "code": 0})
    adapter = adapter_for(fake_discord, http)
    with pytest.raises(AmbiguousError, match=str(status)):
        adapter.publish(message("Hello"), delivery())
    # A webhook has no idempotency key and cannot list messages: a person decides.
    assert adapter.idempotent is False


def test_server_down_is_transient_and_the_url_stays_secret(
    fake_discord: FakeDiscord, http: httpx.Client
) -> None:
    token = fake_discord.token
    url = f"http://127.0.0.1:{free_port()}/api/webhooks/{fake_discord.webhook_id}/{token}"
    adapter = adapter_for(fake_discord, http, webhook_url=SecretStr(url))
    with pytest.raises(TransientError) as caught:
        adapter.publish(message("Hello"), delivery())
    assert token not in str(caught.value)
    checked = adapter.check()
    assert not checked.ok and token not in checked.detail


def test_answer_lost_after_sending_is_ambiguous_and_the_message_exists(
    fake_discord: FakeDiscord, http: httpx.Client
) -> None:
    fake_discord.drop_after_processing(path=webhook_path(fake_discord), method="POST")
    with pytest.raises(AmbiguousError) as caught:
        adapter_for(fake_discord, http).publish(message("Hello"), delivery())
    assert len(fake_discord.messages) == 1
    assert fake_discord.token not in str(caught.value)


def test_timeout_after_sending_is_ambiguous(fake_discord: FakeDiscord) -> None:
    fake_discord.delay_next(1.0, path=webhook_path(fake_discord), method="POST")
    with httpx.Client(timeout=0.3) as impatient, pytest.raises(AmbiguousError):
        adapter_for(fake_discord, impatient).publish(message("Hello"), delivery())
    deadline = time.monotonic() + 5
    while not fake_discord.messages and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(fake_discord.messages) == 1


def test_204_without_the_message_is_ambiguous(
    fake_discord: FakeDiscord, http: httpx.Client
) -> None:
    fake_discord.fail_next(1, 204, b"", method="POST", after_processing=True)
    with pytest.raises(AmbiguousError, match="204"):
        adapter_for(fake_discord, http).publish(message("Hello"), delivery())


# ---------------------------------------------------------------------- check


def test_check_names_the_webhook_and_channel(fake_discord: FakeDiscord, http: httpx.Client) -> None:
    adapter = adapter_for(fake_discord, http)
    checked = adapter.check()
    assert checked.ok
    assert checked.detail == f"webhook 'Crosspost' posts to channel {fake_discord.channel_id}"
    assert fake_discord.messages == []
    # The guild learnt by check() serves the next message link.
    adapter.publish(message("Hello"), delivery())
    assert len(fake_discord.requests_to(webhook_path(fake_discord), "GET")) == 1


# ---------------------------------------------------------------------- secrecy


def test_the_webhook_token_never_reaches_a_message_or_a_log(
    fake_discord: FakeDiscord, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    token = fake_discord.token
    adapter = adapter_for(fake_discord, http)
    # As configure_logging does in production: the filter masks every secret
    # the adapters declare, on every logger (httpx logs request URLs).
    caplog.handler.addFilter(SecretFilter(adapter.secrets()))
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        adapter.publish(message("Hello"), delivery())
        fake_discord.fail_next(1, 400, {"message": f"bad path /webhooks/x/{token}", "code": 0})
        fake_discord.fail_next(1, 500, f"<pre>POST /api/webhooks/1/{token}</pre>")
        fake_discord.rate_limit(retry_after=1.0)
        for _ in range(3):
            with pytest.raises(Exception) as caught:
                adapter.publish(message("Hello"), delivery())
            texts += [str(caught.value), repr(caught.value)]
        fake_discord.deleted = True
        texts.append(adapter.check().detail)
        texts.append(repr(adapter))

    assert all(token not in text for text in texts), texts
    assert any("[redacted]" in text for text in texts)
    assert token not in caplog.text
    # httpx did log the URLs: the masking, not silence, kept the token out.
    assert "[redacted]" in caplog.text


def test_settings_never_echo_the_webhook_url() -> None:
    secret = "https://discord.com/api/webhooks/123/short"
    with pytest.raises(ValidationError) as caught:
        DiscordSettings(webhook_url=SecretStr(secret))
    text = str(caught.value)
    assert "https://discord.com/api/webhooks/<id>/<token>" in text
    assert "short" not in text


# ---------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://discord.com/api/channels/123/messages", "webhooks/<id>/<token>"),
        ("http://discord.com/api/webhooks/123456789/" + "a" * 68, "https://"),
        ("https://discord.com/api/webhooks/123456789/" + "a" * 68 + "?wait=false", "thread_id"),
    ],
)
def test_settings_explain_a_bad_webhook_url(url: str, words: str) -> None:
    with pytest.raises(ValidationError, match=words.replace("?", r"\?")):
        DiscordSettings(webhook_url=SecretStr(url))


def test_settings_accept_versioned_and_thread_urls() -> None:
    token = "a" * 68
    for url in (
        f"https://discord.com/api/v10/webhooks/123456789/{token}",
        f"https://discord.com/api/webhooks/123456789/{token}?thread_id=987654321",
    ):
        assert DiscordSettings(webhook_url=SecretStr(url)).webhook_url.get_secret_value() == url


def test_settings_refuse_a_username_discord_refuses() -> None:
    url = "https://discord.com/api/webhooks/123456789/" + "a" * 68
    with pytest.raises(ValidationError, match="must not contain 'discord'"):
        DiscordSettings(webhook_url=SecretStr(url), username="My Discord bot")


def test_thread_id_is_kept_when_posting(fake_discord: FakeDiscord, http: httpx.Client) -> None:
    url = f"{fake_discord.webhook_url}?thread_id=555"
    adapter_for(fake_discord, http, webhook_url=SecretStr(url)).publish(message("Hi"), delivery())
    (request,) = fake_discord.requests_to(webhook_path(fake_discord), "POST")
    assert request.query == {"thread_id": ["555"], "wait": ["true"]}
