"""The Instagram adapter over real HTTP against FakeGraph("instagram")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from tests.fakes.graph import (
    IMAGE_URL,
    Attempts,
    FakeGraph,
    source_post,
)
from worker.errors import (
    AmbiguousError,
    AuthError,
    RateLimitedError,
    RejectedError,
    SkipPost,
    TransientError,
)
from worker.models import ComposedMessage, SourcePost
from worker.platforms.instagram import InstagramAdapter, InstagramSettings

# The fakes and the HTTP client (fake_instagram, graph_http).


def adapter_for(fake: FakeGraph, http: httpx.Client, **overrides: object) -> InstagramAdapter:
    values: dict[str, object] = {
        "ig_user_id": fake.ig_user_id,
        "access_token": SecretStr(fake.token),
        "api_url": fake.url,
        "graph_version": fake.version,
        "container_wait_seconds": 1.0,
        "container_poll_seconds": 0.05,
    }
    values.update(overrides)
    return InstagramAdapter("ig", InstagramSettings.model_validate(values), http)


def media_path(fake: FakeGraph) -> str:
    return fake.path(fake.ig_user_id, "media")


def publish_path(fake: FakeGraph) -> str:
    return fake.path(fake.ig_user_id, "media_publish")


def composed(adapter: InstagramAdapter, attempts: Attempts) -> ComposedMessage:
    return adapter.compose(attempts.post)


# ---------------------------------------------------------------------- success


def test_container_is_polled_until_finished_then_published(
    fake_instagram: FakeGraph, graph_http: httpx.Client
) -> None:
    fake_instagram.container_statuses = ["IN_PROGRESS", "IN_PROGRESS", "FINISHED"]
    adapter = adapter_for(fake_instagram, graph_http)
    attempts = Attempts()
    message = composed(adapter, attempts)

    result = adapter.publish(message, attempts.next())

    (post,) = fake_instagram.posts
    assert post["params"]["image_url"] == IMAGE_URL
    assert post["params"]["caption"] == message.text
    assert message.link in message.text  # not clickable, but kept in the text
    assert result.remote_id == post["id"]
    assert result.remote_url == post["permalink"]
    assert attempts.state == {"container_id": post["container_id"], "media_id": post["id"]}
    status_reads = fake_instagram.requests_to(fake_instagram.path(post["container_id"]), "GET")
    assert len(status_reads) == 3
    assert status_reads[0].query["fields"] == ["status_code,status"]
    (publish,) = fake_instagram.publishes()
    assert b"creation_id=" + post["container_id"].encode() in publish.body


def test_a_hash_in_the_caption_arrives_whole(
    fake_instagram: FakeGraph, graph_http: httpx.Client
) -> None:
    adapter = adapter_for(fake_instagram, graph_http)
    attempts = Attempts()
    message = ComposedMessage(text="News #geneva & more", link="https://n.example/", length=19)
    adapter.publish(message, attempts.next())
    assert fake_instagram.posts[0]["text"] == "News #geneva & more"


# ---------------------------------------------------------------------- no image


def test_a_post_without_an_image_is_skipped_before_anything_is_sent(
    fake_instagram: FakeGraph, graph_http: httpx.Client
) -> None:
    adapter = adapter_for(fake_instagram, graph_http)
    attempts = Attempts(source_post(image=False))
    reason = "Instagram needs an image; this post has no featured image"

    with pytest.raises(SkipPost) as caught:
        adapter.compose(attempts.post)
    assert caught.value.reason == reason

    message = ComposedMessage(text="text", link="https://n.example/", length=4)
    with pytest.raises(SkipPost, match="needs an image"):
        adapter.publish(message, attempts.next())
    assert fake_instagram.requests == []


# ---------------------------------------------------------------------- retries and containers


def test_still_in_progress_is_transient_and_the_next_attempt_publishes_that_container(
    fake_instagram: FakeGraph, graph_http: httpx.Client
) -> None:
    fake_instagram.container_delay = 60
    adapter = adapter_for(fake_instagram, graph_http, container_wait_seconds=0.3)
    attempts = Attempts()
    message = composed(adapter, attempts)

    with pytest.raises(TransientError, match="still processing"):
        adapter.publish(message, attempts.next())
    (container,) = fake_instagram.containers
    assert attempts.state["container_id"] == container
    assert fake_instagram.posts == []

    fake_instagram.set_container_status(container, "FINISHED")
    result = adapter.publish(message, attempts.next())

    assert len(fake_instagram.containers) == 1
    assert len(fake_instagram.creates()) == 1
    (post,) = fake_instagram.posts
    assert post["container_id"] == container and result.remote_id == post["id"]


def test_lost_publish_answer_then_retry_makes_no_second_post(
    fake_instagram: FakeGraph, graph_http: httpx.Client
) -> None:
    adapter = adapter_for(fake_instagram, graph_http)
    attempts = Attempts()
    message = composed(adapter, attempts)
    fake_instagram.drop_after_processing(path=publish_path(fake_instagram))

    with pytest.raises(AmbiguousError):
        adapter.publish(message, attempts.next())
    assert len(fake_instagram.posts) == 1
    assert adapter.idempotent  # so the delivery tries again

    result = adapter.publish(message, attempts.next())

    # The media id was never heard: the container id stands in, with no URL.
    assert len(fake_instagram.posts) == 1
    assert len(fake_instagram.publishes()) == 1
    assert result.remote_id == attempts.state["container_id"]
    assert result.remote_url is None


def test_code_2_after_publishing_then_retry_makes_no_second_post(
    fake_instagram: FakeGraph, graph_http: httpx.Client
) -> None:
    adapter = adapter_for(fake_instagram, graph_http)
    attempts = Attempts()
    message = composed(adapter, attempts)
    fake_instagram.server_error(path=publish_path(fake_instagram), after_processing=True)

    with pytest.raises(AmbiguousError, match="code 2"):
        adapter.publish(message, attempts.next())
    adapter.publish(message, attempts.next())

    assert len(fake_instagram.posts) == 1
    assert len(fake_instagram.containers) == 1


def test_code_2_before_publishing_then_retry_publishes_the_same_container(
    fake_instagram: FakeGraph, graph_http: httpx.Client
) -> None:
    adapter = adapter_for(fake_instagram, graph_http)
    attempts = Attempts()
    message = composed(adapter, attempts)
    fake_instagram.server_error(path=publish_path(fake_instagram))

    with pytest.raises(AmbiguousError):
        adapter.publish(message, attempts.next())
    assert fake_instagram.posts == []

    result = adapter.publish(message, attempts.next())

    (post,) = fake_instagram.posts
    assert len(fake_instagram.containers) == 1
    assert result.remote_id == post["id"] and result.remote_url == post["permalink"]


def test_a_retry_after_a_recorded_publish_returns_the_media_and_its_url(
    fake_instagram: FakeGraph, graph_http: httpx.Client
) -> None:
    # The worker died after media_publish answered but before the result was
    # stored: the media id was remembered, so the retry reports it in full.
    adapter = adapter_for(fake_instagram, graph_http)
    attempts = Attempts()
    message = composed(adapter, attempts)
    first = adapter.publish(message, attempts.next())

    again = adapter.publish(message, attempts.next())

    assert again == first
    assert len(fake_instagram.posts) == 1


@pytest.mark.parametrize("status", ["EXPIRED", "ERROR"])
def test_an_expired_or_failed_remembered_container_is_replaced(
    fake_instagram: FakeGraph, graph_http: httpx.Client, status: str
) -> None:
    fake_instagram.container_delay = 60
    adapter = adapter_for(fake_instagram, graph_http, container_wait_seconds=0.1)
    attempts = Attempts()
    message = composed(adapter, attempts)
    with pytest.raises(TransientError):
        adapter.publish(message, attempts.next())
    old = attempts.state["container_id"]
    fake_instagram.set_container_status(old, status)
    fake_instagram.container_delay = 0

    result = adapter.publish(message, attempts.next())

    assert len(fake_instagram.containers) == 2
    assert attempts.state["container_id"] != old
    (post,) = fake_instagram.posts
    assert post["container_id"] == attempts.state["container_id"]
    assert result.remote_id == post["id"]


def test_a_remembered_container_the_network_no_longer_knows_is_replaced(
    fake_instagram: FakeGraph, graph_http: httpx.Client
) -> None:
    adapter = adapter_for(fake_instagram, graph_http)
    attempts = Attempts()
    attempts.state["container_id"] = "17999999999999999"
    adapter.publish(composed(adapter, attempts), attempts.next())
    assert len(fake_instagram.posts) == 1
    assert attempts.state["container_id"] != "17999999999999999"


def test_a_new_container_that_fails_processing_is_rejected_with_the_reason(
    fake_instagram: FakeGraph, graph_http: httpx.Client
) -> None:
    fake_instagram.container_statuses = ["IN_PROGRESS", "ERROR"]
    adapter = adapter_for(fake_instagram, graph_http)
    attempts = Attempts()
    with pytest.raises(RejectedError, match="container ERROR: Error: media error"):
        adapter.publish(composed(adapter, attempts), attempts.next())
    assert fake_instagram.posts == []


def test_lost_container_answer_is_transient_and_nothing_is_posted(
    fake_instagram: FakeGraph, graph_http: httpx.Client
) -> None:
    adapter = adapter_for(fake_instagram, graph_http)
    attempts = Attempts()
    message = composed(adapter, attempts)
    fake_instagram.drop_after_processing(path=media_path(fake_instagram), method="POST")

    with pytest.raises(TransientError, match="expires in 24 h"):
        adapter.publish(message, attempts.next())
    assert "container_id" not in attempts.state

    adapter.publish(message, attempts.next())
    assert len(fake_instagram.containers) == 2  # one orphan, never published
    assert len(fake_instagram.posts) == 1


# ---------------------------------------------------------------------- error kinds


@pytest.mark.parametrize("code", [4, 80002])
def test_rate_limit_waits_the_minutes_the_header_gives(
    fake_instagram: FakeGraph, graph_http: httpx.Client, code: int
) -> None:
    fake_instagram.rate_limit(code=code, minutes=30)
    adapter = adapter_for(fake_instagram, graph_http)
    attempts = Attempts()
    with pytest.raises(RateLimitedError) as caught:
        adapter.publish(composed(adapter, attempts), attempts.next())
    assert caught.value.retry_at is not None
    wait = caught.value.retry_at - datetime.now(UTC)
    assert timedelta(minutes=29) < wait <= timedelta(minutes=30)


def test_expired_token_is_an_auth_error_and_check_says_so(
    fake_instagram: FakeGraph, graph_http: httpx.Client
) -> None:
    fake_instagram.expire_token()
    adapter = adapter_for(fake_instagram, graph_http)
    attempts = Attempts()
    with pytest.raises(AuthError, match="expired") as caught:
        adapter.publish(composed(adapter, attempts), attempts.next())
    assert fake_instagram.token not in str(caught.value)
    checked = adapter.check()
    assert not checked.ok and "expired" in checked.detail
    assert fake_instagram.token not in checked.detail


def test_the_caption_limit_is_2200_as_the_fake_counts(
    fake_instagram: FakeGraph, graph_http: httpx.Client
) -> None:
    adapter = adapter_for(fake_instagram, graph_http, template="{content}\n\n{url}")
    when = datetime(2026, 4, 19, tzinfo=UTC)
    long_post = SourcePost(
        site="news",
        post_id=7,
        link="https://news.example/?p=7",
        title_html="Long",
        excerpt_html="",
        content_html="<p>" + "Réunion à Genève. " * 300 + "</p>",
        date_gmt=when,
        modified_gmt=when,
        featured_image=source_post().featured_image,
    )
    attempts = Attempts(long_post)
    message = adapter.compose(long_post)
    assert len(message.text) <= 2200

    adapter.publish(message, attempts.next())
    assert len(fake_instagram.posts) == 1

    too_long = ComposedMessage(text="x" * 2201, link=long_post.link, length=2201)
    with pytest.raises(RejectedError, match="code 100"):
        adapter.publish(too_long, Attempts(long_post).next())


# ---------------------------------------------------------------------- check and settings


def test_check_names_the_account(fake_instagram: FakeGraph, graph_http: httpx.Client) -> None:
    checked = adapter_for(fake_instagram, graph_http).check()
    assert checked.ok
    assert checked.detail.startswith("@news.example on Instagram")
    assert fake_instagram.posts == [] and fake_instagram.containers == {}


def test_settings_defaults_and_validation() -> None:
    settings = InstagramSettings(ig_user_id="1784", access_token=SecretStr("t"))
    assert settings.api_url == "https://graph.facebook.com"
    assert settings.graph_version == "v21.0"
    with pytest.raises(ValidationError) as caught:
        InstagramSettings(ig_user_id="me", access_token=SecretStr("tok-SECRET"))
    assert "tok-SECRET" not in str(caught.value)
