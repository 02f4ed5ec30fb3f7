"""The Threads adapter over real HTTP against FakeGraph("threads")."""

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
    threads_length,
)
from worker.compose.length import THREADS
from worker.errors import (
    AmbiguousError,
    AuthError,
    DuplicateError,
    RateLimitedError,
    RejectedError,
    TransientError,
)
from worker.models import ComposedMessage, SourcePost
from worker.platforms.threads import ThreadsAdapter, ThreadsSettings

# The fakes and the HTTP client (fake_threads, graph_http).


def adapter_for(fake: FakeGraph, http: httpx.Client, **overrides: object) -> ThreadsAdapter:
    values: dict[str, object] = {
        "access_token": SecretStr(fake.token),
        "api_url": fake.api_url,
        "container_wait_seconds": 1.0,
        "container_poll_seconds": 0.05,
    }
    values.update(overrides)
    return ThreadsAdapter("threads", ThreadsSettings.model_validate(values), http)


# ---------------------------------------------------------------------- success


def test_text_post_with_link_attachment(fake_threads: FakeGraph, graph_http: httpx.Client) -> None:
    fake_threads.container_statuses = ["IN_PROGRESS", "FINISHED"]
    adapter = adapter_for(fake_threads, graph_http)
    attempts = Attempts()
    message = adapter.compose(attempts.post)

    result = adapter.publish(message, attempts.next())

    (post,) = fake_threads.posts
    assert post["params"]["media_type"] == "TEXT"
    assert post["params"]["text"] == message.text
    assert post["params"]["link_attachment"] == message.link
    assert "image_url" not in post["params"]
    assert result.remote_id == post["id"]
    assert result.remote_url == post["permalink"]
    assert result.remote_url.startswith("https://www.threads.net/@news.example/post/")
    # ``user_id`` defaults to ``me``.
    (create,) = fake_threads.creates()
    assert create.path == "/v1.0/me/threads"
    (publish,) = fake_threads.publishes()
    assert publish.path == "/v1.0/me/threads_publish"
    reads = fake_threads.requests_to(f"/v1.0/{post['container_id']}", "GET")
    assert [r.query["fields"] for r in reads] == [["status,error_message"]] * 2


def test_image_post_when_share_image(fake_threads: FakeGraph, graph_http: httpx.Client) -> None:
    adapter = adapter_for(fake_threads, graph_http, share_image=True)
    attempts = Attempts()
    message = adapter.compose(attempts.post)
    adapter.publish(message, attempts.next())
    (post,) = fake_threads.posts
    assert post["params"]["media_type"] == "IMAGE"
    assert post["params"]["image_url"] == IMAGE_URL
    assert "link_attachment" not in post["params"]
    assert message.link in post["params"]["text"]


def test_no_image_is_a_text_post_even_with_share_image(
    fake_threads: FakeGraph, graph_http: httpx.Client
) -> None:
    adapter = adapter_for(fake_threads, graph_http, share_image=True)
    attempts = Attempts(source_post(image=False))
    adapter.publish(adapter.compose(attempts.post), attempts.next())
    assert fake_threads.posts[0]["params"]["media_type"] == "TEXT"


def test_a_numeric_user_id_is_used_in_the_path(
    fake_threads: FakeGraph, graph_http: httpx.Client
) -> None:
    adapter = adapter_for(fake_threads, graph_http, user_id=fake_threads.threads_user_id)
    attempts = Attempts()
    adapter.publish(adapter.compose(attempts.post), attempts.next())
    (create,) = fake_threads.creates()
    assert create.path == f"/v1.0/{fake_threads.threads_user_id}/threads"


# ---------------------------------------------------------------------- containers


def test_lost_publish_answer_then_retry_makes_no_second_post(
    fake_threads: FakeGraph, graph_http: httpx.Client
) -> None:
    adapter = adapter_for(fake_threads, graph_http)
    attempts = Attempts()
    message = adapter.compose(attempts.post)
    fake_threads.drop_after_processing(path="/v1.0/me/threads_publish")

    with pytest.raises(AmbiguousError):
        adapter.publish(message, attempts.next())
    result = adapter.publish(message, attempts.next())

    assert len(fake_threads.posts) == 1
    assert len(fake_threads.publishes()) == 1
    assert result.remote_id == attempts.state["container_id"]
    assert result.remote_url is None


def test_processing_longer_than_the_wait_is_retried_on_the_same_container(
    fake_threads: FakeGraph, graph_http: httpx.Client
) -> None:
    fake_threads.container_statuses = ["IN_PROGRESS"] * 50 + ["FINISHED"]
    adapter = adapter_for(fake_threads, graph_http, container_wait_seconds=0.2)
    attempts = Attempts()
    message = adapter.compose(attempts.post)

    with pytest.raises(TransientError, match="still processing"):
        adapter.publish(message, attempts.next())
    container = attempts.state["container_id"]
    fake_threads.set_container_status(container, "FINISHED")

    adapter.publish(message, attempts.next())
    assert len(fake_threads.containers) == 1
    assert fake_threads.posts[0]["container_id"] == container


def test_an_expired_remembered_container_is_replaced(
    fake_threads: FakeGraph, graph_http: httpx.Client
) -> None:
    adapter = adapter_for(fake_threads, graph_http)
    attempts = Attempts()
    message = adapter.compose(attempts.post)
    fake_threads.server_error(path="/v1.0/me/threads_publish")
    with pytest.raises(AmbiguousError):
        adapter.publish(message, attempts.next())
    fake_threads.set_container_status(attempts.state["container_id"], "EXPIRED")

    adapter.publish(message, attempts.next())

    assert len(fake_threads.containers) == 2
    assert len(fake_threads.posts) == 1


def test_container_error_is_rejected_with_the_error_message(
    fake_threads: FakeGraph, graph_http: httpx.Client
) -> None:
    fake_threads.container_statuses = ["ERROR"]
    adapter = adapter_for(fake_threads, graph_http)
    attempts = Attempts()
    with pytest.raises(RejectedError, match="FAILED_DOWNLOADING"):
        adapter.publish(adapter.compose(attempts.post), attempts.next())
    assert fake_threads.posts == []


# ---------------------------------------------------------------------- length


def test_project_counting_agrees_with_the_fake_on_emoji(
    fake_threads: FakeGraph, graph_http: httpx.Client
) -> None:
    adapter = adapter_for(fake_threads, graph_http, template="{excerpt}\n\n{url}")
    when = datetime(2026, 4, 19, tzinfo=UTC)
    emoji_post = SourcePost(
        site="news",
        post_id=8,
        link="https://news.example/?p=8",
        title_html="Rockets",
        excerpt_html="<p>" + "Launch 🚀 day 👨‍👩‍👧 " * 60 + "</p>",
        content_html="<p>body</p>",
        date_gmt=when,
        modified_gmt=when,
    )
    message = adapter.compose(emoji_post)
    assert THREADS.length(message.text) == threads_length(message.text) <= 500
    # Counted as code points it would look far shorter than Threads counts.
    assert len(message.text) < threads_length(message.text)

    adapter.publish(message, Attempts(emoji_post).next())
    assert len(fake_threads.posts) == 1


def test_over_the_limit_as_the_server_counts_is_rejected(
    fake_threads: FakeGraph, graph_http: httpx.Client
) -> None:
    text = "🚀" * 126  # 126 characters, 504 as Threads counts emoji
    message = ComposedMessage(text=text, link="https://n.example/", length=len(text))
    with pytest.raises(RejectedError, match="too long"):
        adapter_for(fake_threads, graph_http).publish(message, Attempts().next())

    # Where the server counts an emoji as one (the rule is unverified), it fits.
    fake_threads.emoji_counting = "one"
    adapter_for(fake_threads, graph_http).publish(message, Attempts().next())
    assert len(fake_threads.posts) == 1


# ---------------------------------------------------------------------- error kinds


def test_rate_limit_code_4_waits_the_header_minutes(
    fake_threads: FakeGraph, graph_http: httpx.Client
) -> None:
    fake_threads.rate_limit(code=4, minutes=15)
    adapter = adapter_for(fake_threads, graph_http)
    attempts = Attempts()
    with pytest.raises(RateLimitedError) as caught:
        adapter.publish(adapter.compose(attempts.post), attempts.next())
    assert caught.value.retry_at is not None
    wait = caught.value.retry_at - datetime.now(UTC)
    assert timedelta(minutes=14) < wait <= timedelta(minutes=15)


def test_expired_token_401_is_an_auth_error_and_check_says_expired(
    fake_threads: FakeGraph, graph_http: httpx.Client
) -> None:
    fake_threads.expire_token(463)
    adapter = adapter_for(fake_threads, graph_http)
    attempts = Attempts()
    with pytest.raises(AuthError, match=r"HTTP 401, code 190/463") as caught:
        adapter.publish(adapter.compose(attempts.post), attempts.next())
    assert fake_threads.token not in str(caught.value)
    checked = adapter.check()
    assert not checked.ok and "expired" in checked.detail


def test_duplicate_is_reported_as_duplicate(
    fake_threads: FakeGraph, graph_http: httpx.Client
) -> None:
    adapter = adapter_for(fake_threads, graph_http)
    first = Attempts()
    message = adapter.compose(first.post)
    adapter.publish(message, first.next())
    fake_threads.duplicate_code = 506
    with pytest.raises(DuplicateError, match="code 506"):
        adapter.publish(message, Attempts().next())
    assert len(fake_threads.posts) == 1


# ---------------------------------------------------------------------- check and settings


def test_check_names_the_user_and_the_60_day_tokens(
    fake_threads: FakeGraph, graph_http: httpx.Client
) -> None:
    checked = adapter_for(fake_threads, graph_http).check()
    assert checked.ok
    assert checked.detail == (
        "@news.example on Threads; long-lived tokens must be refreshed within 60 days "
        "of being issued"
    )
    assert checked.expires_at is None
    (request,) = fake_threads.requests_to("/v1.0/me", "GET")
    assert request.query["fields"] == ["id,username"]


def test_check_notices_a_token_for_another_user(
    fake_threads: FakeGraph, graph_http: httpx.Client
) -> None:
    checked = adapter_for(fake_threads, graph_http, user_id="123").check()
    assert not checked.ok and "not user 123" in checked.detail


def test_settings_validate_without_echoing_the_token() -> None:
    settings = ThreadsSettings(access_token=SecretStr("t"))
    assert settings.api_url == "https://graph.threads.net/v1.0"
    assert settings.user_id == "me"
    with pytest.raises(ValidationError) as caught:
        ThreadsSettings(access_token=SecretStr("tok-SECRET"), user_id="@alice")
    assert "tok-SECRET" not in str(caught.value)
    with pytest.raises(ValidationError):
        ThreadsSettings(access_token=SecretStr("  "))
