"""The Facebook Page adapter over real HTTP against FakeGraph("facebook")."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from tests.fakes.graph import (
    IMAGE_URL,
    POST_URL,
    Attempts,
    FakeGraph,
    graph_time,
    source_post,
)
from tests.fakes.server import free_port
from worker.errors import (
    AmbiguousError,
    AuthError,
    DuplicateError,
    RateLimitedError,
    RejectedError,
    TransientError,
)
from worker.platforms.facebook import FacebookAdapter, FacebookSettings
from worker.platforms.graph import retry_at_from_usage

# The fakes and the HTTP client (fake_facebook, graph_http).


def adapter_for(fake: FakeGraph, http: httpx.Client, **overrides: object) -> FacebookAdapter:
    values: dict[str, object] = {
        "page_id": fake.page_id,
        "page_access_token": SecretStr(fake.token),
        "graph_version": fake.version,
        "api_url": fake.url,
    }
    values.update(overrides)
    return FacebookAdapter("fb", FacebookSettings.model_validate(values), http)


def feed_path(fake: FakeGraph) -> str:
    return fake.path(fake.page_id, "feed")


# ---------------------------------------------------------------------- success


def test_link_post_sends_message_and_link_and_reads_the_permalink(
    fake_facebook: FakeGraph, graph_http: httpx.Client
) -> None:
    adapter = adapter_for(fake_facebook, graph_http)
    attempts = Attempts()
    message = adapter.compose(attempts.post)

    result = adapter.publish(message, attempts.next())

    (post,) = fake_facebook.posts
    assert post["kind"] == "feed"
    assert post["message"] == message.text and message.link in message.text
    assert message.link.startswith(POST_URL)
    assert post["link"] == message.link
    assert result.remote_id == post["id"]
    assert result.remote_url == post["permalink_url"]
    (create,) = fake_facebook.requests_to(feed_path(fake_facebook), "POST")
    # The token travels in the form body, never in the URL of a POST.
    assert create.query == {}
    assert b"access_token=" in create.body


def test_photo_post_when_share_image_and_the_post_has_an_image(
    fake_facebook: FakeGraph, graph_http: httpx.Client
) -> None:
    adapter = adapter_for(fake_facebook, graph_http, share_image=True)
    attempts = Attempts()
    message = adapter.compose(attempts.post)

    result = adapter.publish(message, attempts.next())

    (post,) = fake_facebook.posts
    assert post["kind"] == "photos"
    assert post["image_url"] == IMAGE_URL
    assert message.link in post["message"]
    # The Page post's id, not the photo's.
    assert result.remote_id == post["id"]
    assert fake_facebook.requests_to(feed_path(fake_facebook), "POST") == []


def test_share_image_without_an_image_is_a_link_post(
    fake_facebook: FakeGraph, graph_http: httpx.Client
) -> None:
    adapter = adapter_for(fake_facebook, graph_http, share_image=True)
    attempts = Attempts(source_post(image=False))
    message = adapter.compose(attempts.post)
    adapter.publish(message, attempts.next())
    (post,) = fake_facebook.posts
    assert post["kind"] == "feed" and post["link"] == message.link


def test_permalink_falls_back_to_the_facebook_url(
    fake_facebook: FakeGraph, graph_http: httpx.Client
) -> None:
    adapter = adapter_for(fake_facebook, graph_http)
    fake_facebook.fail_with(100, path=fake_facebook.path(f"{fake_facebook.page_id}_"))
    attempts = Attempts()
    result = adapter.publish(adapter.compose(attempts.post), attempts.next())
    assert result.remote_url == f"https://www.facebook.com/{result.remote_id}"


# ---------------------------------------------------------------------- ambiguous outcomes


def test_code_2_after_posting_finds_the_post_instead_of_posting_again(
    fake_facebook: FakeGraph, graph_http: httpx.Client
) -> None:
    adapter = adapter_for(fake_facebook, graph_http)
    fake_facebook.server_error(path=feed_path(fake_facebook), after_processing=True)
    attempts = Attempts()

    result = adapter.publish(adapter.compose(attempts.post), attempts.next())

    (post,) = fake_facebook.posts
    assert result.remote_id == post["id"]
    assert result.remote_url == post["permalink_url"]
    assert len(fake_facebook.requests_to(feed_path(fake_facebook), "POST")) == 1
    (lookup,) = fake_facebook.requests_to(feed_path(fake_facebook), "GET")
    assert "link" in lookup.query["fields"][0]


def test_dropped_answer_finds_the_post(fake_facebook: FakeGraph, graph_http: httpx.Client) -> None:
    adapter = adapter_for(fake_facebook, graph_http)
    fake_facebook.drop_after_processing(path=feed_path(fake_facebook), method="POST")
    attempts = Attempts()
    result = adapter.publish(adapter.compose(attempts.post), attempts.next())
    assert [p["id"] for p in fake_facebook.posts] == [result.remote_id]


def test_code_2_without_a_post_is_ambiguous_and_not_resent(
    fake_facebook: FakeGraph, graph_http: httpx.Client
) -> None:
    adapter = adapter_for(fake_facebook, graph_http)
    fake_facebook.server_error(path=feed_path(fake_facebook))
    attempts = Attempts()

    with pytest.raises(AmbiguousError, match="code 2") as caught:
        adapter.publish(adapter.compose(attempts.post), attempts.next())

    assert "no post with this link" in caught.value.message
    assert fake_facebook.posts == []
    assert len(fake_facebook.requests_to(feed_path(fake_facebook), "POST")) == 1
    assert adapter.idempotent is False  # so the delivery becomes unconfirmed


def test_slow_success_is_found_by_the_lookup(fake_facebook: FakeGraph) -> None:
    fake_facebook.delay_next(0.8, path=feed_path(fake_facebook), method="POST")
    with httpx.Client(timeout=0.3) as impatient:
        adapter = adapter_for(fake_facebook, impatient)
        attempts = Attempts()
        message = adapter.compose(attempts.post)
        deadline = time.monotonic() + 3
        try:
            result = adapter.publish(message, attempts.next())
        except AmbiguousError:
            # The lookup ran before the slow request finished: still no second post.
            while not fake_facebook.posts and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(fake_facebook.posts) == 1
        else:
            assert result.remote_id == fake_facebook.posts[0]["id"]
    assert len(fake_facebook.requests_to(feed_path(fake_facebook), "POST")) == 1


def test_lookup_ignores_an_older_share_of_the_same_link(
    fake_facebook: FakeGraph, graph_http: httpx.Client
) -> None:
    fake_facebook.posts.append(
        {
            "id": f"{fake_facebook.page_id}_1",
            "message": f"Shared by hand {POST_URL}",
            "link": POST_URL,
            "created_time": graph_time(datetime(2026, 1, 1, tzinfo=UTC)),
            "permalink_url": "https://www.facebook.com/old",
        }
    )
    fake_facebook.server_error(path=feed_path(fake_facebook))
    attempts = Attempts()
    adapter = adapter_for(fake_facebook, graph_http)
    with pytest.raises(AmbiguousError):
        adapter.publish(adapter.compose(attempts.post), attempts.next())


def test_connection_closed_before_processing_is_transient(
    fake_facebook: FakeGraph, graph_http: httpx.Client
) -> None:
    adapter = adapter_for(fake_facebook, graph_http)
    fake_facebook.close_before_processing(count=3, path=feed_path(fake_facebook))
    attempts = Attempts()
    with pytest.raises((TransientError, AmbiguousError)):
        adapter.publish(adapter.compose(attempts.post), attempts.next())
    assert fake_facebook.posts == []


def test_server_down_is_transient_without_the_token(graph_http: httpx.Client) -> None:
    token = "EAA-down-SECRET-token"
    settings = FacebookSettings(
        page_id="1", page_access_token=SecretStr(token), api_url=f"http://127.0.0.1:{free_port()}"
    )
    adapter = FacebookAdapter("fb", settings, graph_http)
    attempts = Attempts()
    with pytest.raises(TransientError) as caught:
        adapter.publish(adapter.compose(attempts.post), attempts.next())
    assert token not in str(caught.value)
    checked = adapter.check()
    assert not checked.ok and token not in checked.detail


# ---------------------------------------------------------------------- error kinds


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80001])
def test_rate_limit_codes_wait_the_minutes_the_usage_header_gives(
    fake_facebook: FakeGraph, graph_http: httpx.Client, code: int
) -> None:
    fake_facebook.rate_limit(code=code, minutes=7)
    attempts = Attempts()
    adapter = adapter_for(fake_facebook, graph_http)
    before = datetime.now(UTC)

    with pytest.raises(RateLimitedError) as caught:
        adapter.publish(adapter.compose(attempts.post), attempts.next())

    assert caught.value.retry_at is not None
    wait = caught.value.retry_at - before
    assert timedelta(minutes=7) <= wait < timedelta(minutes=7, seconds=10)
    assert f"code {code}" in caught.value.message
    assert fake_facebook.posts == []


def test_app_usage_at_100_percent_waits_the_rolling_hour(
    fake_facebook: FakeGraph, graph_http: httpx.Client
) -> None:
    fake_facebook.rate_limit(code=4, header="app")
    attempts = Attempts()
    adapter = adapter_for(fake_facebook, graph_http)
    with pytest.raises(RateLimitedError) as caught:
        adapter.publish(adapter.compose(attempts.post), attempts.next())
    assert caught.value.retry_at is not None
    assert caught.value.retry_at - datetime.now(UTC) > timedelta(minutes=59)


def test_usage_headers_parse_the_longest_wait_and_ignore_garbage() -> None:
    now = datetime(2026, 4, 19, 12, 0, tzinfo=UTC)
    headers = httpx.Headers(
        {
            "X-Business-Use-Case-Usage": '{"1": [{"type": "pages", "call_count": 100,'
            ' "estimated_time_to_regain_access": 3}, {"type": "pages",'
            ' "estimated_time_to_regain_access": 12}]}',
            "X-App-Usage": "not json",
        }
    )
    assert retry_at_from_usage(headers, now) == now + timedelta(minutes=12)
    quiet = httpx.Headers({"X-App-Usage": '{"call_count": 5, "total_time": 3}'})
    assert retry_at_from_usage(quiet, now) is None
    assert retry_at_from_usage(httpx.Headers(), now) is None


def test_expired_token_is_an_auth_error_and_check_says_expired(
    fake_facebook: FakeGraph, graph_http: httpx.Client
) -> None:
    fake_facebook.expire_token(subcode=463)
    adapter = adapter_for(fake_facebook, graph_http)
    attempts = Attempts()

    with pytest.raises(AuthError, match="expired") as caught:
        adapter.publish(adapter.compose(attempts.post), attempts.next())
    assert "code 190/463" in caught.value.message
    assert fake_facebook.token not in str(caught.value)

    checked = adapter.check()
    assert not checked.ok
    assert checked.detail.startswith("the Page access token has expired")
    assert checked.expires_at is None


def test_wrong_token_is_an_auth_error_without_the_token(
    fake_facebook: FakeGraph, graph_http: httpx.Client
) -> None:
    wrong = "EAA-wrong-SECRET-token"
    adapter = adapter_for(fake_facebook, graph_http, page_access_token=SecretStr(wrong))
    attempts = Attempts()
    with pytest.raises(AuthError, match="refused the access token") as caught:
        adapter.publish(adapter.compose(attempts.post), attempts.next())
    assert wrong not in str(caught.value)
    checked = adapter.check()
    assert not checked.ok and "code 190" in checked.detail and wrong not in checked.detail


def test_506_duplicate_points_at_the_existing_post(
    fake_facebook: FakeGraph, graph_http: httpx.Client
) -> None:
    adapter = adapter_for(fake_facebook, graph_http)
    first = Attempts()
    message = adapter.compose(first.post)
    published = adapter.publish(message, first.next())
    fake_facebook.duplicate_code = 506

    with pytest.raises(DuplicateError) as caught:
        adapter.publish(message, Attempts().next())

    assert caught.value.remote_id == published.remote_id
    assert caught.value.remote_url == published.remote_url
    assert len(fake_facebook.posts) == 1


def test_368_without_a_matching_post_is_a_refusal_not_a_success(
    fake_facebook: FakeGraph, graph_http: httpx.Client
) -> None:
    # 368 also means "temporarily blocked": without the post, nothing was shared.
    fake_facebook.fail_with(368, message="You're temporarily blocked from posting")
    adapter = adapter_for(fake_facebook, graph_http)
    attempts = Attempts()
    with pytest.raises(RejectedError, match="code 368"):
        adapter.publish(adapter.compose(attempts.post), attempts.next())


@pytest.mark.parametrize("code", [100, 10, 200, 299])
def test_validation_and_permission_codes_are_rejected(
    fake_facebook: FakeGraph, graph_http: httpx.Client, code: int
) -> None:
    fake_facebook.fail_with(code, message=f"(#{code}) nope", path=feed_path(fake_facebook))
    adapter = adapter_for(fake_facebook, graph_http)
    attempts = Attempts()
    with pytest.raises(RejectedError, match=f"code {code}"):
        adapter.publish(adapter.compose(attempts.post), attempts.next())


def test_error_echoing_the_token_is_redacted(
    fake_facebook: FakeGraph, graph_http: httpx.Client
) -> None:
    fake_facebook.fail_with(100, message=f"bad access_token={fake_facebook.token}")
    adapter = adapter_for(fake_facebook, graph_http)
    attempts = Attempts()
    with pytest.raises(RejectedError) as caught:
        adapter.publish(adapter.compose(attempts.post), attempts.next())
    assert fake_facebook.token not in str(caught.value)
    assert "[redacted]" in caught.value.message


def test_non_json_5xx_is_ambiguous_on_create(
    fake_facebook: FakeGraph, graph_http: httpx.Client
) -> None:
    fake_facebook.fail_next(1, 502, "<html>Bad Gateway</html>", path=feed_path(fake_facebook))
    adapter = adapter_for(fake_facebook, graph_http)
    attempts = Attempts()
    with pytest.raises(AmbiguousError, match="HTTP 502"):
        adapter.publish(adapter.compose(attempts.post), attempts.next())


# ---------------------------------------------------------------------- check and settings


def test_check_names_the_page(fake_facebook: FakeGraph, graph_http: httpx.Client) -> None:
    checked = adapter_for(fake_facebook, graph_http).check()
    assert checked.ok
    assert checked.detail == f"Page News Example ({fake_facebook.page_id})"
    assert checked.expires_at is None
    (request,) = fake_facebook.requests_to(fake_facebook.path(fake_facebook.page_id), "GET")
    assert request.query["fields"] == ["id,name"]
    assert fake_facebook.posts == []


def test_settings_validate_without_echoing_the_token() -> None:
    with pytest.raises(ValidationError) as caught:
        FacebookSettings(
            page_id="not-a-number",
            page_access_token=SecretStr("tok-SECRET"),
            graph_version="21",
        )
    text = str(caught.value)
    assert "page_id" in text and "graph_version" in text
    assert "tok-SECRET" not in text


def test_settings_defaults() -> None:
    settings = FacebookSettings(page_id="42", page_access_token=SecretStr("t"))
    assert settings.api_url == "https://graph.facebook.com"
    assert settings.graph_version == "v21.0"
    assert settings.share_image is False


def test_lookup_matches_the_link_in_a_photo_posts_text_but_not_a_longer_id(
    fake_facebook: FakeGraph, graph_http: httpx.Client
) -> None:
    # A recent post about ?p=150041 is not ours (?p=15004).
    fake_facebook.posts.append(
        {
            "id": f"{fake_facebook.page_id}_2",
            "message": f"Other story {POST_URL}1",
            "link": "https://www.facebook.com/photo.php?fbid=2",
            "created_time": graph_time(datetime.now(UTC)),
        }
    )
    adapter = adapter_for(fake_facebook, graph_http, share_image=True)
    fake_facebook.server_error(path=fake_facebook.path(fake_facebook.page_id, "photos"))
    attempts = Attempts()
    message = adapter.compose(attempts.post)
    with pytest.raises(AmbiguousError):
        adapter.publish(message, attempts.next())

    fake_facebook.server_error(
        path=fake_facebook.path(fake_facebook.page_id, "photos"), after_processing=True
    )
    result = adapter.publish(message, attempts.next())
    assert result.remote_id == fake_facebook.posts[-1]["id"] != f"{fake_facebook.page_id}_2"
