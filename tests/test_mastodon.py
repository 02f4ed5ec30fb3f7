"""The Mastodon adapter over real HTTP against FakeMastodon."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from tests.fakes.mastodon import FakeMastodon, iso_reset, mastodon_length
from tests.fakes.server import FakeServer, Recorded, Reply, free_port
from tests.test_images import make_png
from worker.compose.length import MASTODON_DEFAULT, GraphemeRule
from worker.errors import (
    AmbiguousError,
    AuthError,
    RateLimitedError,
    RejectedError,
    TransientError,
)
from worker.models import ComposedMessage, DeliveryRef, FeaturedImage, SourcePost
from worker.platforms.mastodon import MastodonAdapter, MastodonSettings

POST_URL = "https://news.example/?p=15004"


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=2.0) as client:
        yield client


def settings_for(fake: FakeMastodon, **overrides: object) -> MastodonSettings:
    values: dict[str, object] = {
        "base_url": fake.url,
        "access_token": SecretStr(fake.token),
    }
    values.update(overrides)
    return MastodonSettings.model_validate(values)


def adapter_for(fake: FakeMastodon, http: httpx.Client, **overrides: object) -> MastodonAdapter:
    return MastodonAdapter("masto", settings_for(fake, **overrides), http)


def post() -> SourcePost:
    when = datetime(2026, 4, 19, 7, 30, tzinfo=UTC)
    return SourcePost(
        site="news",
        post_id=15004,
        link=POST_URL,
        title_html="Iran&#8217;s talks resume",
        excerpt_html="<p>Talks resume in Geneva [&hellip;]</p>",
        content_html="<p>Talks resume in Geneva.</p>",
        date_gmt=when,
        modified_gmt=when,
        tags=("geneva",),
        categories=("world",),
    )


def message(text: str | None = None) -> ComposedMessage:
    text = (
        text
        if text is not None
        else f"Iran’s talks resume\n\nTalks resume in Geneva…\n\n{POST_URL}"
    )
    return ComposedMessage(
        text=text,
        link=POST_URL,
        length=mastodon_length(text),
        title="Iran’s talks resume",
        excerpt="Talks resume in Geneva…",
    )


def delivery(key: str = "delivery-42-key", attempt: int = 1) -> DeliveryRef:
    return DeliveryRef(
        delivery_id=42,
        account="masto",
        attempt=attempt,
        idempotency_key=key,
        created_at=datetime(2026, 4, 19, 7, 31, tzinfo=UTC),
        post=post(),
    )


# ---------------------------------------------------------------------- success


def test_publish_creates_one_status_with_text_url_and_idempotency_key(
    fake_mastodon: FakeMastodon, http: httpx.Client
) -> None:
    adapter = adapter_for(fake_mastodon, http, visibility="unlisted", language="en")
    sent = message()

    result = adapter.publish(sent, delivery())

    assert len(fake_mastodon.statuses) == 1
    status = fake_mastodon.statuses[0]
    assert status["text"] == sent.text
    assert status["visibility"] == "unlisted"
    assert status["language"] == "en"
    assert result.remote_id == status["id"]
    assert result.remote_url == f"{fake_mastodon.url}/@alice/{status['id']}"
    (request,) = fake_mastodon.requests_to("/api/v1/statuses", "POST")
    assert request.headers["idempotency-key"] == "delivery-42-key"
    assert request.headers["authorization"] == f"Bearer {fake_mastodon.token}"
    assert request.json() == {"status": sent.text, "visibility": "unlisted", "language": "en"}


def test_language_is_left_out_when_not_set(fake_mastodon: FakeMastodon, http: httpx.Client) -> None:
    adapter_for(fake_mastodon, http).publish(message(), delivery())
    (request,) = fake_mastodon.requests_to("/api/v1/statuses", "POST")
    assert "language" not in request.json()
    assert request.json()["visibility"] == "public"


def test_uri_is_the_url_when_the_server_gives_no_url(
    fake_mastodon: FakeMastodon, http: httpx.Client
) -> None:
    fake_mastodon.fail_next(
        1, 200, {"id": "7", "url": None, "uri": "https://x.example/users/alice/statuses/7"}
    )
    result = adapter_for(fake_mastodon, http).publish(message(), delivery())
    assert result.remote_id == "7"
    assert result.remote_url == "https://x.example/users/alice/statuses/7"


# ---------------------------------------------------------------------- length


def test_length_rule_reads_the_instance_limit_once(
    fake_mastodon: FakeMastodon, http: httpx.Client
) -> None:
    fake_mastodon.max_characters = 1000
    adapter = adapter_for(fake_mastodon, http)

    rule = adapter.length_rule()
    again = adapter.length_rule()

    assert rule == GraphemeRule(limit=1000, url_weight=23)
    assert again is rule
    assert len(fake_mastodon.requests_to("/api/v2/instance")) == 1


def test_length_rule_is_read_once_by_concurrent_publishers(
    fake_mastodon: FakeMastodon, http: httpx.Client
) -> None:
    # A slow instance answer makes the threads overlap.
    fake_mastodon.delay_next(0.3, path="/api/v2/instance")
    adapter = adapter_for(fake_mastodon, http)
    with ThreadPoolExecutor(max_workers=8) as pool:
        rules = list(pool.map(lambda _: adapter.length_rule(), range(8)))
    assert {rule.limit for rule in rules} == {500}
    assert len(fake_mastodon.requests_to("/api/v2/instance")) == 1


def test_length_rule_falls_back_to_v1_instance(
    fake_mastodon: FakeMastodon, http: httpx.Client
) -> None:
    fake_mastodon.instance_v2 = False
    fake_mastodon.max_characters = 5000
    rule = adapter_for(fake_mastodon, http).length_rule()
    assert rule == GraphemeRule(limit=5000, url_weight=23)
    assert len(fake_mastodon.requests_to("/api/v1/instance")) == 1


def test_length_rule_default_when_instance_unreadable_is_not_cached(
    fake_mastodon: FakeMastodon, http: httpx.Client
) -> None:
    fake_mastodon.instance_v2 = False
    fake_mastodon.instance_v1 = False
    fake_mastodon.max_characters = 800
    adapter = adapter_for(fake_mastodon, http)

    assert adapter.length_rule() == MASTODON_DEFAULT

    # Once the instance answers, the real limit is used.
    fake_mastodon.instance_v2 = True
    assert adapter.length_rule().limit == 800


def test_project_counting_agrees_with_the_fake_server(
    fake_mastodon: FakeMastodon, http: httpx.Client
) -> None:
    # 40 family emoji (7 code points each) + a 120-character URL: 64 as
    # Mastodon counts, far more in code points.
    fake_mastodon.max_characters = 64
    long_url = "https://news.example/" + "a" * 99
    text = "👨‍👩‍👧" * 40 + " " + long_url
    rule = adapter_for(fake_mastodon, http).length_rule()

    assert rule.length(text) == mastodon_length(text) == 64
    result = adapter_for(fake_mastodon, http).publish(message(text), delivery())
    assert fake_mastodon.status_by_id(result.remote_id) is not None


def test_too_long_is_rejected_with_the_servers_message(
    fake_mastodon: FakeMastodon, http: httpx.Client
) -> None:
    fake_mastodon.max_characters = 50
    with pytest.raises(RejectedError) as caught:
        adapter_for(fake_mastodon, http).publish(message("x" * 51), delivery())
    assert "Validation failed: Text character limit of 50 exceeded" in caught.value.message
    assert "422" in caught.value.message
    assert fake_mastodon.statuses == []


# ---------------------------------------------------------------------- auth


def test_bad_token_is_an_auth_error_without_the_token(
    fake_mastodon: FakeMastodon, http: httpx.Client
) -> None:
    wrong = "wrong-token-SECRET-987654"
    adapter = adapter_for(fake_mastodon, http, access_token=SecretStr(wrong))

    with pytest.raises(AuthError) as caught:
        adapter.publish(message(), delivery())

    assert "The access token is invalid" in caught.value.message
    assert wrong not in str(caught.value)
    assert fake_mastodon.statuses == []

    checked = adapter.check()
    assert not checked.ok
    assert checked.detail == "access token is invalid or revoked"


def test_check_names_the_account_and_instance(
    fake_mastodon: FakeMastodon, http: httpx.Client
) -> None:
    checked = adapter_for(fake_mastodon, http).check()
    assert checked.ok
    assert checked.detail == f"@alice on 127.0.0.1:{fake_mastodon.port}"
    assert fake_mastodon.statuses == []


def test_missing_write_scope_is_an_auth_error(
    fake_mastodon: FakeMastodon, http: httpx.Client
) -> None:
    fake_mastodon.scopes = {"read"}
    with pytest.raises(AuthError, match="outside the authorized scopes"):
        adapter_for(fake_mastodon, http).publish(message(), delivery())


def test_token_echoed_by_a_server_is_redacted(
    fake_mastodon: FakeMastodon, http: httpx.Client
) -> None:
    fake_mastodon.fail_next(1, 400, {"error": f"bad request for token {fake_mastodon.token}"})
    with pytest.raises(RejectedError) as caught:
        adapter_for(fake_mastodon, http).publish(message(), delivery())
    assert fake_mastodon.token not in str(caught.value)
    assert "[redacted]" in caught.value.message


# ---------------------------------------------------------------------- rate limits


def test_rate_limit_gives_the_servers_reset_time(
    fake_mastodon: FakeMastodon, http: httpx.Client
) -> None:
    reset_at = (datetime.now(UTC) + timedelta(minutes=5)).replace(microsecond=123456)
    fake_mastodon.rate_limit(reset_at)

    with pytest.raises(RateLimitedError) as caught:
        adapter_for(fake_mastodon, http).publish(message(), delivery())

    assert caught.value.retry_at == reset_at
    assert len(fake_mastodon.requests_to("/api/v1/statuses")) == 1
    assert fake_mastodon.statuses == []


# ---------------------------------------------------------------------- ambiguous outcomes


def test_5xx_after_creating_then_retry_creates_nothing_new(
    fake_mastodon: FakeMastodon, http: httpx.Client
) -> None:
    adapter = adapter_for(fake_mastodon, http)
    fake_mastodon.fail_next(
        1,
        503,
        "<html>Service Unavailable</html>",
        path="/api/v1/statuses",
        after_processing=True,
    )

    with pytest.raises(AmbiguousError, match="503"):
        adapter.publish(message(), delivery(attempt=1))
    assert len(fake_mastodon.statuses) == 1

    result = adapter.publish(message(), delivery(attempt=2))

    assert len(fake_mastodon.statuses) == 1
    assert result.remote_id == fake_mastodon.statuses[0]["id"]


@pytest.mark.parametrize("status", [500, 502, 504])
def test_other_5xx_are_ambiguous_and_non_json_does_not_crash(
    fake_mastodon: FakeMastodon, http: httpx.Client, status: int
) -> None:
    fake_mastodon.fail_next(1, status, b"\x00\xffnot json", {"Content-Type": "text/html"})
    with pytest.raises(AmbiguousError, match=str(status)):
        adapter_for(fake_mastodon, http).publish(message(), delivery())


def test_connection_closed_before_processing_creates_nothing(
    fake_mastodon: FakeMastodon, http: httpx.Client
) -> None:
    adapter = adapter_for(fake_mastodon, http)
    fake_mastodon.close_before_processing(path="/api/v1/statuses")

    with pytest.raises((TransientError, AmbiguousError)):
        adapter.publish(message(), delivery())

    (request,) = fake_mastodon.requests_to("/api/v1/statuses")
    assert request.fault == "close_before"
    assert fake_mastodon.statuses == []

    adapter.publish(message(), delivery(attempt=2))
    assert len(fake_mastodon.statuses) == 1


def test_processed_then_dropped_retry_returns_the_same_status(
    fake_mastodon: FakeMastodon, http: httpx.Client
) -> None:
    adapter = adapter_for(fake_mastodon, http)
    fake_mastodon.drop_after_processing(path="/api/v1/statuses")

    with pytest.raises(AmbiguousError):
        adapter.publish(message(), delivery(attempt=1))
    assert len(fake_mastodon.statuses) == 1
    created = fake_mastodon.statuses[0]

    result = adapter.publish(message(), delivery(attempt=2))

    assert len(fake_mastodon.statuses) == 1
    assert result.remote_id == created["id"]
    assert result.remote_url == created["url"]
    keys = {r.headers["idempotency-key"] for r in fake_mastodon.requests_to("/api/v1/statuses")}
    assert keys == {"delivery-42-key"}


def test_slow_success_then_retry_is_one_status(fake_mastodon: FakeMastodon) -> None:
    fake_mastodon.delay_next(1.0, path="/api/v1/statuses")
    with httpx.Client(timeout=0.3) as impatient:
        adapter = adapter_for(fake_mastodon, impatient)
        with pytest.raises(AmbiguousError):
            adapter.publish(message(), delivery(attempt=1))

    deadline = time.monotonic() + 5
    while not fake_mastodon.statuses and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(fake_mastodon.statuses) == 1

    with httpx.Client(timeout=2.0) as client:
        result = adapter_for(fake_mastodon, client).publish(message(), delivery(attempt=2))
    assert len(fake_mastodon.statuses) == 1
    assert result.remote_id == fake_mastodon.statuses[0]["id"]


def test_a_different_delivery_is_a_different_status(
    fake_mastodon: FakeMastodon, http: httpx.Client
) -> None:
    adapter = adapter_for(fake_mastodon, http)
    first = adapter.publish(message(), delivery("key-a"))
    second = adapter.publish(message(), delivery("key-b"))
    assert first.remote_id != second.remote_id
    assert len(fake_mastodon.statuses) == 2


def test_server_down_is_transient(http: httpx.Client) -> None:
    token = "down-token-SECRET"
    settings = MastodonSettings(
        base_url=f"http://127.0.0.1:{free_port()}", access_token=SecretStr(token)
    )
    adapter = MastodonAdapter("masto", settings, http)

    with pytest.raises(TransientError) as caught:
        adapter.publish(message(), delivery())
    assert token not in str(caught.value)

    assert adapter.length_rule() == MASTODON_DEFAULT
    checked = adapter.check()
    assert not checked.ok and token not in checked.detail


def test_other_4xx_is_rejected_naming_the_status(
    fake_mastodon: FakeMastodon, http: httpx.Client
) -> None:
    fake_mastodon.fail_next(1, 404, "<h1>Not here</h1>")
    with pytest.raises(RejectedError) as caught:
        adapter_for(fake_mastodon, http).publish(message(), delivery())
    assert "404" in caught.value.message and "Not here" in caught.value.message


def test_200_without_an_id_is_ambiguous(fake_mastodon: FakeMastodon, http: httpx.Client) -> None:
    fake_mastodon.fail_next(1, 200, "ok")
    with pytest.raises(AmbiguousError):
        adapter_for(fake_mastodon, http).publish(message(), delivery())


# ---------------------------------------------------------------------- settings


def test_settings_reject_a_base_url_with_a_path_without_echoing_the_token() -> None:
    with pytest.raises(ValidationError) as caught:
        MastodonSettings(
            base_url="https://example.social/@alice", access_token=SecretStr("tok-SECRET")
        )
    text = str(caught.value)
    assert "without a path" in text
    assert "tok-SECRET" not in text


def test_settings_strip_the_trailing_slash() -> None:
    settings = MastodonSettings(base_url="https://example.social/", access_token=SecretStr("t"))
    assert settings.base_url == "https://example.social"


def test_composed_message_fits_the_instance_limit_the_fake_enforces(
    fake_mastodon: FakeMastodon, http: httpx.Client
) -> None:
    # A small instance limit and a long, emoji-heavy excerpt: the composer must
    # cut to the limit it read from the instance, counted as the server counts.
    fake_mastodon.max_characters = 80
    long_post = SourcePost(
        site="news",
        post_id=9,
        link="https://news.example/?p=9&utm_source=" + "x" * 60,
        title_html="Families &amp; friends 👨‍👩‍👧",
        excerpt_html="<p>" + "Réunion 👨‍👩‍👧 à Genève. " * 20 + "[&hellip;]</p>",
        content_html="<p>body</p>",
        date_gmt=datetime(2026, 4, 19, tzinfo=UTC),
        modified_gmt=datetime(2026, 4, 19, tzinfo=UTC),
    )
    adapter = adapter_for(fake_mastodon, http)

    composed = adapter.compose(long_post)
    result = adapter.publish(composed, delivery())

    assert mastodon_length(composed.text) <= 80
    assert long_post.link in composed.text
    assert fake_mastodon.status_by_id(result.remote_id) is not None


# ---------------------------------------------------------------------- featured image


class ImageSite(FakeServer):
    """The WordPress uploads folder: serves a few files, counts downloads."""

    name = "fake-uploads"

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, tuple[str, bytes]] = {}

    def route(self, request: Recorded) -> Reply:
        found = self.files.get(request.path)
        if found is None:
            return Reply(404, "<h1>Not Found</h1>", {"Content-Type": "text/html"})
        content_type, data = found
        return Reply(200, data, {"Content-Type": content_type})


@pytest.fixture
def uploads() -> Iterator[ImageSite]:
    site = ImageSite()
    site.files["/wp-content/uploads/geneva.png"] = ("image/png", PHOTO)
    site.files["/wp-content/uploads/page.png"] = ("image/png", b"<html>" + b"x" * 100)
    site.start()
    try:
        yield site
    finally:
        site.stop()


PHOTO = make_png(64, 40)
ALT = "The Palais des Nations in Genève at dusk"


@dataclass
class Memory:
    """The delivery's stored state, as worker.delivery keeps it between attempts."""

    state: dict[str, object] = field(default_factory=dict)

    def remember(self, key: str, value: object) -> None:
        self.state[key] = value


def post_with_image(url: str, alt: str = ALT) -> SourcePost:
    return replace(post(), featured_image=FeaturedImage(url=url, alt=alt, mime_type="image/png"))


def image_delivery(
    image_url: str, memory: Memory, *, attempt: int = 1, alt: str = ALT
) -> DeliveryRef:
    # A snapshot of the state, as a claim reads it from the store.
    return replace(
        delivery(attempt=attempt),
        post=post_with_image(image_url, alt),
        state=dict(memory.state),
        remember=memory.remember,
    )


def attaching(fake: FakeMastodon, http: httpx.Client) -> MastodonAdapter:
    adapter = adapter_for(fake, http, attach_image=True)
    adapter.media_poll_seconds = 0.02
    adapter.media_wait_seconds = 1.0
    return adapter


def photo_url(uploads: ImageSite) -> str:
    return f"{uploads.url}/wp-content/uploads/geneva.png"


def test_image_is_uploaded_with_its_alt_text_and_attached(
    fake_mastodon: FakeMastodon, http: httpx.Client, uploads: ImageSite
) -> None:
    memory = Memory()

    result = attaching(fake_mastodon, http).publish(
        message(), image_delivery(photo_url(uploads), memory)
    )

    (upload,) = fake_mastodon.uploads()
    assert upload.data == PHOTO
    assert (upload.content_type, upload.filename) == ("image/png", "image.png")
    assert upload.description == ALT
    status = fake_mastodon.status_by_id(result.remote_id)
    assert status is not None
    assert [(m["id"], m["description"]) for m in status["media_attachments"]] == [(upload.id, ALT)]
    (request,) = fake_mastodon.requests_to("/api/v1/statuses", "POST")
    assert request.json()["media_ids"] == [upload.id]
    assert request.headers["idempotency-key"] == "delivery-42-key"
    (upload_request,) = fake_mastodon.requests_to("/api/v2/media", "POST")
    assert upload_request.headers["authorization"] == f"Bearer {fake_mastodon.token}"
    assert memory.state == {"media_id": upload.id}


def test_alt_text_falls_back_to_the_post_title(
    fake_mastodon: FakeMastodon, http: httpx.Client, uploads: ImageSite
) -> None:
    attaching(fake_mastodon, http).publish(
        message(), image_delivery(photo_url(uploads), Memory(), alt="  ")
    )
    (upload,) = fake_mastodon.uploads()
    assert upload.description == "Iran’s talks resume"


def test_long_alt_text_is_cut_to_mastodons_limit_without_splitting_an_emoji(
    fake_mastodon: FakeMastodon, http: httpx.Client, uploads: ImageSite
) -> None:
    alt = "a" * 1498 + "👨‍👩‍👧" + " more"
    attaching(fake_mastodon, http).publish(
        message(), image_delivery(photo_url(uploads), Memory(), alt=alt)
    )
    (upload,) = fake_mastodon.uploads()
    assert upload.description == "a" * 1498


def test_processing_image_is_waited_for_then_attached(
    fake_mastodon: FakeMastodon, http: httpx.Client, uploads: ImageSite
) -> None:
    fake_mastodon.media_async = True
    fake_mastodon.media_processing_polls = 3

    result = attaching(fake_mastodon, http).publish(
        message(), image_delivery(photo_url(uploads), Memory())
    )

    (upload,) = fake_mastodon.uploads()
    polls = fake_mastodon.requests_to(f"/api/v1/media/{upload.id}", "GET")
    assert len(polls) == 4  # three 206 "still processing", then 200
    status = fake_mastodon.status_by_id(result.remote_id)
    assert status is not None and status["media_attachments"][0]["id"] == upload.id


def test_still_processing_after_the_wait_retries_later_with_the_same_upload(
    fake_mastodon: FakeMastodon, http: httpx.Client, uploads: ImageSite
) -> None:
    fake_mastodon.media_async = True
    fake_mastodon.media_processing_polls = 1000
    adapter = attaching(fake_mastodon, http)
    adapter.media_wait_seconds = 0.2
    memory = Memory()

    with pytest.raises(TransientError, match="still processing"):
        adapter.publish(message(), image_delivery(photo_url(uploads), memory))
    assert fake_mastodon.statuses == []
    (upload,) = fake_mastodon.uploads()
    assert memory.state == {"media_id": upload.id}

    upload.polls_left = 0  # the instance has caught up
    result = adapter.publish(message(), image_delivery(photo_url(uploads), memory, attempt=2))

    assert len(fake_mastodon.uploads()) == 1
    assert len(uploads.requests) == 1  # the image was downloaded once
    status = fake_mastodon.status_by_id(result.remote_id)
    assert status is not None and status["media_attachments"][0]["id"] == upload.id


def test_an_image_that_never_finishes_does_not_hold_the_post_forever(
    fake_mastodon: FakeMastodon, http: httpx.Client, uploads: ImageSite
) -> None:
    fake_mastodon.media_async = True
    fake_mastodon.media_processing_polls = 1000
    adapter = attaching(fake_mastodon, http)
    adapter.media_wait_seconds = 0.1
    memory = Memory()
    for attempt in (1, 2):
        with pytest.raises(TransientError):
            adapter.publish(message(), image_delivery(photo_url(uploads), memory, attempt=attempt))

    result = adapter.publish(message(), image_delivery(photo_url(uploads), memory, attempt=3))

    status = fake_mastodon.status_by_id(result.remote_id)
    assert status is not None and status["media_attachments"] == []
    assert len(fake_mastodon.uploads()) == 1


def test_lost_status_answer_then_retry_is_one_upload_and_one_status(
    fake_mastodon: FakeMastodon, http: httpx.Client, uploads: ImageSite
) -> None:
    adapter = attaching(fake_mastodon, http)
    memory = Memory()
    fake_mastodon.drop_after_processing(path="/api/v1/statuses")

    with pytest.raises(AmbiguousError):
        adapter.publish(message(), image_delivery(photo_url(uploads), memory, attempt=1))
    assert len(fake_mastodon.statuses) == 1

    result = adapter.publish(message(), image_delivery(photo_url(uploads), memory, attempt=2))

    assert len(fake_mastodon.uploads()) == 1
    assert len(fake_mastodon.statuses) == 1
    assert len(uploads.requests) == 1
    created = fake_mastodon.statuses[0]
    assert result.remote_id == created["id"]
    assert [m["id"] for m in created["media_attachments"]] == [memory.state["media_id"]]
    bodies = [r.json() for r in fake_mastodon.requests_to("/api/v1/statuses", "POST")]
    assert [b["media_ids"] for b in bodies] == [[memory.state["media_id"]]] * 2


def test_status_refused_by_a_proxy_then_retry_attaches_the_remembered_upload(
    fake_mastodon: FakeMastodon, http: httpx.Client, uploads: ImageSite
) -> None:
    adapter = attaching(fake_mastodon, http)
    memory = Memory()
    fake_mastodon.fail_next(1, 502, "<html>Bad Gateway</html>", path="/api/v1/statuses")

    with pytest.raises(AmbiguousError, match="502"):
        adapter.publish(message(), image_delivery(photo_url(uploads), memory, attempt=1))
    assert fake_mastodon.statuses == []

    result = adapter.publish(message(), image_delivery(photo_url(uploads), memory, attempt=2))

    (upload,) = fake_mastodon.uploads()
    status = fake_mastodon.status_by_id(result.remote_id)
    assert status is not None and [m["id"] for m in status["media_attachments"]] == [upload.id]


@pytest.mark.parametrize(
    "path", ["/wp-content/uploads/missing.png", "/wp-content/uploads/page.png"]
)
def test_unavailable_image_posts_the_status_without_it(
    fake_mastodon: FakeMastodon,
    http: httpx.Client,
    uploads: ImageSite,
    caplog: pytest.LogCaptureFixture,
    path: str,
) -> None:
    memory = Memory()
    with caplog.at_level(logging.WARNING, logger="worker.platforms.mastodon"):
        result = attaching(fake_mastodon, http).publish(
            message(), image_delivery(f"{uploads.url}{path}", memory)
        )

    status = fake_mastodon.status_by_id(result.remote_id)
    assert status is not None and status["media_attachments"] == []
    assert fake_mastodon.requests_to("/api/v2/media") == []
    (request,) = fake_mastodon.requests_to("/api/v1/statuses", "POST")
    assert "media_ids" not in request.json()
    assert memory.state == {}
    assert "not attached" in caplog.text and path in caplog.text


def test_image_over_the_instance_limit_is_not_downloaded_in_full(
    fake_mastodon: FakeMastodon, http: httpx.Client, uploads: ImageSite
) -> None:
    fake_mastodon.image_size_limit = len(PHOTO) - 1
    adapter = attaching(fake_mastodon, http)

    assert adapter.image_size_limit() == len(PHOTO) - 1
    result = adapter.publish(message(), image_delivery(photo_url(uploads), Memory()))

    status = fake_mastodon.status_by_id(result.remote_id)
    assert status is not None and status["media_attachments"] == []
    assert fake_mastodon.requests_to("/api/v2/media") == []


def test_image_limit_defaults_to_16_mb_when_the_instance_does_not_say(
    fake_mastodon: FakeMastodon, http: httpx.Client
) -> None:
    fake_mastodon.instance_v2 = False
    fake_mastodon.instance_v1 = False
    assert attaching(fake_mastodon, http).image_size_limit() == 16 * 1024 * 1024


def test_attach_image_off_uploads_nothing(
    fake_mastodon: FakeMastodon, http: httpx.Client, uploads: ImageSite
) -> None:
    adapter = adapter_for(fake_mastodon, http)
    assert adapter.settings.attach_image is False

    adapter.publish(message(), image_delivery(photo_url(uploads), Memory()))

    assert uploads.requests == []
    assert fake_mastodon.requests_to("/api/v2/media") == []
    assert len(fake_mastodon.statuses) == 1


def test_post_without_a_featured_image_uploads_nothing(
    fake_mastodon: FakeMastodon, http: httpx.Client
) -> None:
    attaching(fake_mastodon, http).publish(message(), delivery())
    assert fake_mastodon.requests_to("/api/v2/media") == []
    assert len(fake_mastodon.statuses) == 1


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, {"error": "The access token is invalid"}, AuthError),
        (429, {"error": "Too many requests"}, RateLimitedError),
        (503, "<html>Service Unavailable</html>", TransientError),
        (500, {"error": "Something went wrong"}, TransientError),
    ],
)
def test_upload_failures_map_to_kinds_and_post_nothing(
    fake_mastodon: FakeMastodon,
    http: httpx.Client,
    uploads: ImageSite,
    status: int,
    body: str | dict[str, str],
    kind: type[Exception],
) -> None:
    reset_at = (datetime.now(UTC) + timedelta(minutes=30)).replace(microsecond=0)
    fake_mastodon.fail_next(
        1,
        status,
        body,
        {"X-RateLimit-Reset": iso_reset(reset_at)},
        path="/api/v2/media",
        method="POST",
    )
    memory = Memory()

    with pytest.raises(kind) as caught:
        attaching(fake_mastodon, http).publish(
            message(), image_delivery(photo_url(uploads), memory)
        )

    assert fake_mastodon.token not in str(caught.value)
    assert fake_mastodon.statuses == []
    assert memory.state == {}
    if isinstance(caught.value, RateLimitedError):
        assert caught.value.retry_at == reset_at
    else:
        assert str(status) in str(caught.value)


def test_upload_without_the_media_scope_names_the_scope(
    fake_mastodon: FakeMastodon, http: httpx.Client, uploads: ImageSite
) -> None:
    fake_mastodon.scopes = {"read", "write:statuses"}
    with pytest.raises(AuthError, match="write:media"):
        attaching(fake_mastodon, http).publish(
            message(), image_delivery(photo_url(uploads), Memory())
        )
    assert fake_mastodon.statuses == []


def test_image_the_instance_refuses_goes_without_it(
    fake_mastodon: FakeMastodon,
    http: httpx.Client,
    uploads: ImageSite,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_mastodon.fail_next(
        1,
        422,
        {"error": "Validation failed: File content type is invalid"},
        path="/api/v2/media",
    )
    with caplog.at_level(logging.WARNING, logger="worker.platforms.mastodon"):
        result = attaching(fake_mastodon, http).publish(
            message(), image_delivery(photo_url(uploads), Memory())
        )
    status = fake_mastodon.status_by_id(result.remote_id)
    assert status is not None and status["media_attachments"] == []
    assert "content type is invalid" in caplog.text


def test_upload_answer_lost_is_transient_and_no_status_is_made(
    fake_mastodon: FakeMastodon, http: httpx.Client, uploads: ImageSite
) -> None:
    fake_mastodon.drop_after_processing(path="/api/v2/media")
    with pytest.raises(TransientError, match="uploading the image"):
        attaching(fake_mastodon, http).publish(
            message(), image_delivery(photo_url(uploads), Memory())
        )
    assert fake_mastodon.statuses == []


def test_attach_image_setting_is_read_from_text() -> None:
    settings = MastodonSettings.model_validate(
        {"base_url": "https://example.social", "access_token": "t", "attach_image": "true"}
    )
    assert settings.attach_image is True
