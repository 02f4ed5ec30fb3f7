"""The X adapter over real HTTP against FakeX, and its OAuth 1.0a signing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from tests.fakes.server import free_port
from tests.fakes.x import DUPLICATE_DETAIL, TOO_LONG_MESSAGE, FakeX, weighted_length
from worker.compose.length import X
from worker.errors import (
    AmbiguousError,
    AuthError,
    DuplicateError,
    RateLimitedError,
    RejectedError,
    TransientError,
)
from worker.models import ComposedMessage, DeliveryRef, SourcePost
from worker.platforms import oauth1
from worker.platforms.x import XAdapter, XSettings, rate_limit_reset
from worker.store.tokens import MemoryTokens

POST_URL = "https://news.example.com/?p=15004"


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=2.0) as client:
        yield client


class RecordingTokens(MemoryTokens):
    """A token store that notes what the fake had seen when each value was stored."""

    def __init__(self, fake: FakeX) -> None:
        super().__init__()
        self.fake = fake
        self.puts: list[tuple[str, str, int]] = []  # name, value, tweets requested so far

    def put(self, name: str, value: str) -> None:
        self.puts.append((name, value, len(self.fake.requests_to("/2/tweets"))))
        super().put(name, value)


def oauth1_adapter(fake: FakeX, http: httpx.Client, **overrides: Any) -> XAdapter:
    return XAdapter("x", XSettings.model_validate(fake.oauth1_settings(**overrides)), http)


def oauth2_adapter(
    fake: FakeX, http: httpx.Client, tokens: MemoryTokens | None = None, **overrides: Any
) -> XAdapter:
    settings = XSettings.model_validate(fake.oauth2_settings(**overrides))
    return XAdapter("x", settings, http, tokens if tokens is not None else MemoryTokens())


def post(**changes: Any) -> SourcePost:
    when = datetime(2026, 4, 19, 7, 30, tzinfo=UTC)
    values: dict[str, Any] = {
        "site": "news",
        "post_id": 15004,
        "link": POST_URL,
        "title_html": "Iran&#8217;s talks resume",
        "excerpt_html": "<p>Talks resume in Geneva [&hellip;]</p>",
        "content_html": "<p>Talks resume in Geneva.</p>",
        "date_gmt": when,
        "modified_gmt": when,
        "tags": ("geneva",),
    }
    values.update(changes)
    return SourcePost(**values)


def message(text: str | None = None) -> ComposedMessage:
    text = text if text is not None else f"Iran’s talks resume\n\nTalks resume…\n\n{POST_URL}"
    return ComposedMessage(text=text, link=POST_URL, length=X.length(text))


def delivery(attempt: int = 1) -> DeliveryRef:
    return DeliveryRef(
        delivery_id=42,
        account="x",
        attempt=attempt,
        idempotency_key="delivery-42-key",
        created_at=datetime(2026, 4, 19, 7, 31, tzinfo=UTC),
        post=post(),
    )


# ---------------------------------------------------------------------- OAuth 1.0a signing


def test_signature_matches_xs_documented_example() -> None:
    # docs.x.com "Creating a signature" (xdevplatform/docs,
    # fundamentals/authentication/oauth-1-0a/creating-a-signature.mdx).
    url = "https://api.x.com/1.1/statuses/update.json?include_entities=true"
    form = {"status": "Hello Ladies + Gentlemen, a signed OAuth request!"}
    params = [
        ("include_entities", "true"),
        ("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"),
        ("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "1318622958"),
        ("oauth_token", "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
        ("oauth_version", "1.0"),
        *form.items(),
    ]
    base = oauth1.signature_base_string("POST", url, params)
    assert base == (
        "POST&https%3A%2F%2Fapi.x.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue"
        "%26oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uY"
        "SQ2pTgmZeNu2VS4cg%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958"
        "%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version"
        "%3D1.0%26status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed"
        "%2520OAuth%2520request%2521"
    )
    header = oauth1.authorization_header(
        "POST",
        url,
        consumer_key="xvz1evFS4wEEPTGEFPHBog",
        consumer_secret="kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
        token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
        token_secret="LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
        form=form,
        nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
        timestamp=1318622958,
    )
    # "Ls93hJiZbQ3akF3HF3x1Bz8/zU4=", percent-encoded in the header.
    assert 'oauth_signature="Ls93hJiZbQ3akF3HF3x1Bz8%2FzU4%3D"' in header
    assert header.startswith('OAuth oauth_consumer_key="xvz1evFS4wEEPTGEFPHBog", ')


def test_signature_matches_the_oauth_core_appendix_example() -> None:
    # OAuth Core 1.0a, Appendix A.5 (the photos.example.net request): query
    # parameters are signed, the default port is dropped.
    header = oauth1.authorization_header(
        "GET",
        "http://photos.example.net:80/photos?file=vacation.jpg&size=original",
        consumer_key="dpf43f3p2l4k3l03",
        consumer_secret="kd94hf93k423kf44",
        token="nnch734d00sl2jdk",
        token_secret="pfkkdhi9sl3r4s00",
        nonce="kllo9940pd9333jh",
        timestamp=1191242096,
    )
    assert 'oauth_signature="tR3%2BTy81lMeYAr%2FFid0kMTYa%2FWM%3D"' in header


def test_each_request_gets_a_fresh_nonce() -> None:
    def make() -> str:
        return oauth1.authorization_header(
            "POST", "https://api.x.com/2/tweets", consumer_key="k", consumer_secret="s",
            token="t", token_secret="ts",
        )  # fmt: skip

    assert make() != make()


# ---------------------------------------------------------------------- posting


def test_oauth1_post_is_one_signed_json_request(fake_x: FakeX, http: httpx.Client) -> None:
    sent = message()
    result = oauth1_adapter(fake_x, http).publish(sent, delivery())

    (tweet,) = fake_x.tweets
    assert tweet.text == sent.text
    assert result.remote_id == tweet.id
    assert result.remote_url == f"https://x.com/i/web/status/{tweet.id}"
    (request,) = fake_x.requests_to("/2/tweets", "POST")
    assert request.json() == {"text": sent.text}
    assert request.headers["content-type"] == "application/json"
    # The fake checked the HMAC-SHA1 signature with the same secrets; the
    # header names the key and token and carries no secret.
    auth = request.headers["authorization"]
    assert auth.startswith("OAuth ") and f'oauth_token="{fake_x.access_token}"' in auth
    assert fake_x.consumer_secret not in auth and fake_x.access_token_secret not in auth


def test_a_wrong_oauth1_secret_is_refused_by_the_fakes_signature_check(
    fake_x: FakeX, http: httpx.Client
) -> None:
    adapter = oauth1_adapter(fake_x, http, access_token_secret="wrong-token-SECRET")
    with pytest.raises(AuthError) as caught:
        adapter.publish(message(), delivery())
    assert fake_x.tweets == []
    assert "wrong-token-SECRET" not in str(caught.value)
    assert "OAuth 1.0a keys" in caught.value.message


def test_oauth2_refreshes_stores_the_new_token_first_then_posts(
    fake_x: FakeX, http: httpx.Client
) -> None:
    tokens = RecordingTokens(fake_x)
    adapter = oauth2_adapter(fake_x, http, tokens)

    result = adapter.publish(message(), delivery())

    (token_request,) = fake_x.requests_to("/2/oauth2/token", "POST")
    form = dict(httpx.QueryParams(token_request.body.decode()))
    assert form == {"grant_type": "refresh_token", "refresh_token": "rt-bootstrap-SECRET-0001"}
    assert token_request.headers["authorization"].startswith("Basic ")
    # The rotated token was stored before the tweet was sent with the new access token.
    (new_refresh,) = fake_x.live_refresh_tokens
    assert tokens.puts[0] == ("refresh_token", new_refresh, 0)
    assert tokens.get("refresh_token") == new_refresh
    (tweet_request,) = fake_x.requests_to("/2/tweets", "POST")
    assert tweet_request.headers["authorization"].removeprefix("Bearer ") in (
        fake_x.live_access_tokens
    )
    assert result.remote_id == fake_x.tweets[0].id


def test_public_client_names_itself_instead_of_basic_auth(
    fake_x_public_client: FakeX, http: httpx.Client
) -> None:
    fake = fake_x_public_client
    adapter = oauth2_adapter(fake, http)
    adapter.publish(message(), delivery())

    (token_request,) = fake.requests_to("/2/oauth2/token")
    assert "authorization" not in token_request.headers
    assert dict(httpx.QueryParams(token_request.body.decode()))["client_id"] == fake.client_id
    assert len(fake.tweets) == 1


def test_access_token_is_reused_until_it_expires(fake_x: FakeX, http: httpx.Client) -> None:
    tokens = MemoryTokens()
    adapter = oauth2_adapter(fake_x, http, tokens)
    adapter.publish(message("first"), delivery())
    adapter.publish(message("second"), delivery())
    assert len(fake_x.requests_to("/2/oauth2/token")) == 1

    # A token that lives only 60 s is already inside the refresh margin.
    fake_x.access_token_ttl = 60
    fresh = oauth2_adapter(fake_x, http, tokens)
    fresh.publish(message("third"), delivery())
    fresh.publish(message("fourth"), delivery())
    assert len(fake_x.requests_to("/2/oauth2/token")) == 3
    assert len(fake_x.tweets) == 4


def test_a_restarted_worker_uses_the_stored_token_not_the_spent_bootstrap(
    fake_x: FakeX, http: httpx.Client
) -> None:
    tokens = MemoryTokens()  # stands for the database, shared across restarts
    oauth2_adapter(fake_x, http, tokens).publish(message("before restart"), delivery())
    stored = tokens.get("refresh_token")

    restarted = oauth2_adapter(fake_x, http, tokens)
    restarted.publish(message("after restart"), delivery())

    assert fake_x.refreshes == ["rt-bootstrap-SECRET-0001", stored]
    assert len(fake_x.tweets) == 2


def test_a_newly_configured_bootstrap_token_replaces_the_stored_chain(
    fake_x: FakeX, http: httpx.Client
) -> None:
    tokens = MemoryTokens()
    oauth2_adapter(fake_x, http, tokens).publish(message("one"), delivery())
    # The user disconnected the app; the operator authorises again and puts
    # the new refresh token in .env.
    fake_x.revoke_refresh_tokens()
    fake_x.authorise_again("rt-reauthorised-SECRET")

    again = oauth2_adapter(fake_x, http, tokens, refresh_token="rt-reauthorised-SECRET")
    again.publish(message("two"), delivery())

    assert fake_x.refreshes[-1] == "rt-reauthorised-SECRET"
    assert tokens.get("refresh_token") in fake_x.live_refresh_tokens


def test_concurrent_publishers_refresh_once(fake_x: FakeX, http: httpx.Client) -> None:
    # A slow token answer makes the threads meet at the refresh.
    fake_x.delay_next(0.3, path="/2/oauth2/token")
    adapter = oauth2_adapter(fake_x, http)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(
            pool.map(lambda n: adapter.publish(message(f"post {n}"), delivery()), range(6))
        )
    assert len(fake_x.requests_to("/2/oauth2/token")) == 1
    assert len({r.remote_id for r in results}) == 6


def test_expired_access_token_refreshes_once_and_retries(fake_x: FakeX, http: httpx.Client) -> None:
    adapter = oauth2_adapter(fake_x, http)
    adapter.publish(message("first"), delivery())
    fake_x.expire_access_tokens()  # X ended the token before our clock said so

    result = adapter.publish(message("second"), delivery())

    assert len(fake_x.requests_to("/2/tweets")) == 3  # ok, 401, retry
    assert len(fake_x.requests_to("/2/oauth2/token")) == 2
    assert fake_x.tweet_by_id(result.remote_id) is not None
    assert len(fake_x.tweets) == 2


def test_revoked_refresh_token_is_an_auth_error_without_secrets(
    fake_x: FakeX, http: httpx.Client
) -> None:
    adapter = oauth2_adapter(fake_x, http)
    adapter.publish(message("first"), delivery())
    fake_x.revoke_refresh_tokens()

    with pytest.raises(AuthError) as caught:
        adapter.publish(message("second"), delivery())

    text = str(caught.value)
    assert "Value passed for the token was invalid." in text
    assert "REFRESH_TOKEN" in text
    for secret in (*fake_x.refreshes, fake_x.client_secret or "", "SECRET"):
        assert secret not in text
    assert len(fake_x.tweets) == 1
    # One retry after the 401, then the refused refresh: nothing more.
    assert len(fake_x.requests_to("/2/tweets")) == 2

    checked = adapter.check()
    assert not checked.ok
    assert "SECRET" not in checked.detail and "refresh token" in checked.detail


def test_wrong_client_secret_is_an_auth_error(fake_x: FakeX, http: httpx.Client) -> None:
    adapter = oauth2_adapter(fake_x, http, client_secret="not-the-client-SECRET")
    with pytest.raises(AuthError, match="Missing valid authorization header") as caught:
        adapter.publish(message(), delivery())
    assert "not-the-client-SECRET" not in str(caught.value)
    assert fake_x.tweets == []


def test_refresh_answer_lost_is_transient_not_ambiguous(fake_x: FakeX, http: httpx.Client) -> None:
    # X rotated the token but the answer never arrived: nothing was posted,
    # so the delivery may simply retry; the account, though, is now locked
    # out, and the next attempt says so.
    fake_x.drop_after_processing(path="/2/oauth2/token")
    adapter = oauth2_adapter(fake_x, http)

    with pytest.raises(TransientError, match="authorise the app again"):
        adapter.publish(message(), delivery())
    assert fake_x.requests_to("/2/tweets") == []

    with pytest.raises(AuthError):
        adapter.publish(message(), delivery(attempt=2))
    assert fake_x.tweets == []


class LaggingTokens(MemoryTokens):
    """A shared store read by a process just before another one wrote to it:
    the next ``get`` of the refresh token returns the value it had before."""

    def __init__(self) -> None:
        super().__init__()
        self.stale: str | None = None

    def get(self, name: str) -> str | None:
        if name == "refresh_token" and self.stale is not None:
            value, self.stale = self.stale, None
            return value
        return super().get(name)


def test_a_token_rotated_by_another_process_meanwhile_is_picked_up(
    fake_x: FakeX, http: httpx.Client
) -> None:
    shared = LaggingTokens()
    first = oauth2_adapter(fake_x, http, shared)
    first.publish(message("one"), delivery())
    spent = shared.get("refresh_token")
    oauth2_adapter(fake_x, http, shared).publish(message("two"), delivery())  # rotates it
    rotated = shared.get("refresh_token")
    fake_x.expire_access_tokens()
    shared.stale = spent  # `first` reads the store just before the other wrote

    first.publish(message("three"), delivery())

    # The spent token is refused; the adapter reads the store again and goes on.
    assert fake_x.refreshes == ["rt-bootstrap-SECRET-0001", spent, spent, rotated]
    assert shared.get("refresh_token") in fake_x.live_refresh_tokens
    assert len(fake_x.tweets) == 3


# ---------------------------------------------------------------------- length


def test_counting_agrees_with_the_fake_on_tricky_text() -> None:
    samples = [
        "Hello 👋 https://example.com/very/long",  # platforms.md §4.3: 32
        "café ☕ 日本語 👨‍👩‍👧 🇫🇷 👍🏽",
        "“Quotes” — and … " + "https://news.example.com/" + "x" * 200,
        "Ελληνικά Кириллица עברית",
    ]
    assert X.length(samples[0]) == weighted_length(samples[0]) == 32
    for text in samples:
        assert X.length(text) == weighted_length(text), text


def test_punctuation_after_a_link_counts_as_on_x() -> None:
    text = "Read it at https://news.example.com/a."
    assert X.length(text) == weighted_length(text)


def test_too_long_is_rejected_with_xs_message(fake_x: FakeX, http: httpx.Client) -> None:
    text = "日本語" * 47  # 141 characters of weight 2: 282
    with pytest.raises(RejectedError) as caught:
        oauth1_adapter(fake_x, http).publish(message(text), delivery())
    assert TOO_LONG_MESSAGE in caught.value.message
    assert "HTTP 400" in caught.value.message
    assert fake_x.tweets == []


def test_too_long_as_403_is_rejected_too(fake_x: FakeX, http: httpx.Client) -> None:
    fake_x.too_long_status = 403
    with pytest.raises(RejectedError, match="Your Tweet text is too long"):
        oauth1_adapter(fake_x, http).publish(message("a" * 281), delivery())


def test_composed_long_post_is_shortened_to_fit_and_accepted(
    fake_x: FakeX, http: httpx.Client
) -> None:
    long_post = post(
        link="https://news.example.com/2026/04/19/" + "a-very-long-slug-" * 8,
        title_html="東京とジュネーブ: talks &amp; families 👨‍👩‍👧",
        excerpt_html="<p>" + "Réunion à Genève, 会談は続く 🇨🇭. " * 30 + "[&hellip;]</p>",
        tags=("geneva", "diplomacy"),
    )
    adapter = oauth1_adapter(fake_x, http)

    composed = adapter.compose(long_post)

    assert X.fits(composed.text)
    assert weighted_length(composed.text) <= 280
    assert weighted_length(composed.text) > 250  # shortened, not emptied
    assert long_post.link in composed.text
    result = adapter.publish(composed, delivery())
    assert fake_x.tweet_by_id(result.remote_id) is not None


# ---------------------------------------------------------------------- limits and errors


def test_rate_limit_gives_xs_reset_time(fake_x: FakeX, http: httpx.Client) -> None:
    reset = int(time.time()) + 600
    fake_x.rate_limit(reset)

    with pytest.raises(RateLimitedError) as caught:
        oauth1_adapter(fake_x, http).publish(message(), delivery())

    assert caught.value.retry_at == datetime.fromtimestamp(reset, UTC)
    assert fake_x.tweets == []


def test_a_spent_24_hour_limit_waits_for_its_own_reset(fake_x: FakeX, http: httpx.Client) -> None:
    window = int(time.time()) + 600
    day = int(time.time()) + 20 * 3600
    fake_x.rate_limit(
        window,
        {
            "x-rate-limit-remaining": "57",
            "x-user-limit-24hour-limit": "17",
            "x-user-limit-24hour-remaining": "0",
            "x-user-limit-24hour-reset": str(day),
        },
    )
    with pytest.raises(RateLimitedError) as caught:
        oauth1_adapter(fake_x, http).publish(message(), delivery())
    assert caught.value.retry_at == datetime.fromtimestamp(day, UTC)


def test_rate_limit_reset_without_headers_is_unknown() -> None:
    res = httpx.Response(429, headers={"x-rate-limit-reset": "soon"})
    assert rate_limit_reset(res) is None


@pytest.mark.parametrize("status", [429, 403])
def test_usage_cap_holds_the_account_for_the_configured_wait(
    fake_x: FakeX, http: httpx.Client, status: int
) -> None:
    fake_x.usage_cap(status)
    adapter = oauth1_adapter(fake_x, http, usage_cap_wait_hours=6)
    before = datetime.now(UTC)

    with pytest.raises(RateLimitedError) as caught:
        adapter.publish(message(), delivery())

    assert caught.value.retry_at is not None
    assert before + timedelta(hours=6) <= caught.value.retry_at
    assert caught.value.retry_at <= datetime.now(UTC) + timedelta(hours=6)
    assert "Usage cap exceeded: Monthly product cap" in caught.value.message


def test_duplicate_within_the_window_is_a_duplicate(fake_x: FakeX, http: httpx.Client) -> None:
    adapter = oauth1_adapter(fake_x, http)
    adapter.publish(message("same words"), delivery())

    with pytest.raises(DuplicateError) as caught:
        adapter.publish(message("same words"), delivery(attempt=2))

    assert DUPLICATE_DETAIL in caught.value.message
    assert caught.value.remote_id is None  # X does not say which post
    assert len(fake_x.tweets) == 1


def test_same_text_outside_the_window_is_a_new_post(fake_x: FakeX, http: httpx.Client) -> None:
    fake_x.duplicate_window = 0.0
    adapter = oauth1_adapter(fake_x, http)
    adapter.publish(message("same words"), delivery())
    time.sleep(0.01)
    adapter.publish(message("same words"), delivery())
    assert len(fake_x.tweets) == 2


def test_other_403_is_rejected(fake_x: FakeX, http: httpx.Client) -> None:
    fake_x.fail_next(
        1,
        403,
        {
            "detail": "You are not permitted to create an authenticated reply.",
            "type": "about:blank",
            "title": "Forbidden",
            "status": 403,
        },
    )
    with pytest.raises(RejectedError, match="not permitted to create an authenticated reply"):
        oauth1_adapter(fake_x, http).publish(message(), delivery())


def test_app_without_write_access_is_an_auth_error(fake_x: FakeX, http: httpx.Client) -> None:
    fake_x.fail_next(
        1,
        403,
        {
            "title": "Client Forbidden",
            "detail": "This request must be made using an approved developer account that is "
            "enrolled in the requested endpoint.",
            "type": "https://api.x.com/2/problems/client-forbidden",
            "reason": "client-not-enrolled",
        },
    )
    with pytest.raises(AuthError, match="Client Forbidden"):
        oauth1_adapter(fake_x, http).publish(message(), delivery())


def test_400_is_rejected_naming_the_problem(fake_x: FakeX, http: httpx.Client) -> None:
    with pytest.raises(RejectedError, match="HTTP 400: Invalid Request"):
        oauth1_adapter(fake_x, http).publish(message("   "), delivery())


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_ambiguous_and_not_retried_blindly(
    fake_x: FakeX, http: httpx.Client, status: int
) -> None:
    fake_x.fail_next(1, status, b"<html>busy</html>", path="/2/tweets", after_processing=True)
    adapter = oauth1_adapter(fake_x, http)
    with pytest.raises(AmbiguousError, match=str(status)):
        adapter.publish(message(), delivery())
    assert adapter.idempotent is False
    assert len(fake_x.tweets) == 1


def test_server_down_is_transient(http: httpx.Client) -> None:
    settings = XSettings(
        api_url=f"http://127.0.0.1:{free_port()}",
        api_key=SecretStr("key"),
        api_secret=SecretStr("api-SECRET-down"),
        access_token=SecretStr("token"),
        access_token_secret=SecretStr("token-SECRET-down"),
    )
    adapter = XAdapter("x", settings, http)
    with pytest.raises(TransientError) as caught:
        adapter.publish(message(), delivery())
    assert "SECRET" not in str(caught.value)
    checked = adapter.check()
    assert not checked.ok and "could not connect" in checked.detail


def test_waiting_for_a_connection_times_out_before_sending(fake_x: FakeX) -> None:
    # One connection, held by a slow post: the second post times out waiting
    # for the pool, so it never left and nothing was created for it.
    fake_x.delay_next(0.8, path="/2/tweets")
    limits = httpx.Limits(max_connections=1)
    with httpx.Client(timeout=httpx.Timeout(3.0, pool=0.2), limits=limits) as client:
        adapter = oauth1_adapter(fake_x, client)
        with ThreadPoolExecutor(max_workers=1) as pool:
            slow = pool.submit(adapter.publish, message("slow one"), delivery())
            while not fake_x.requests_to("/2/tweets"):
                time.sleep(0.01)
            with pytest.raises(TransientError, match="PoolTimeout"):
                adapter.publish(message("waiting one"), delivery())
            assert len(fake_x.requests_to("/2/tweets")) == 1
            slow.result()
    assert [t.text for t in fake_x.tweets] == ["slow one"]


def test_answer_lost_after_posting_is_ambiguous_then_a_retry_is_a_duplicate(
    fake_x: FakeX, http: httpx.Client
) -> None:
    adapter = oauth1_adapter(fake_x, http)
    fake_x.drop_after_processing(path="/2/tweets")

    with pytest.raises(AmbiguousError):
        adapter.publish(message(), delivery(attempt=1))
    assert len(fake_x.tweets) == 1

    # A person chose "retry" on the unconfirmed delivery: X recognises it.
    with pytest.raises(DuplicateError):
        adapter.publish(message(), delivery(attempt=2))
    assert len(fake_x.tweets) == 1


def test_slow_success_is_ambiguous(fake_x: FakeX) -> None:
    fake_x.delay_next(0.8, path="/2/tweets")
    with httpx.Client(timeout=0.3) as impatient, pytest.raises(AmbiguousError):
        oauth1_adapter(fake_x, impatient).publish(message(), delivery())
    deadline = time.monotonic() + 5
    while not fake_x.tweets and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(fake_x.tweets) == 1


def test_201_without_an_id_is_ambiguous(fake_x: FakeX, http: httpx.Client) -> None:
    fake_x.fail_next(1, 201, {"data": {}})
    with pytest.raises(AmbiguousError):
        oauth1_adapter(fake_x, http).publish(message(), delivery())


def test_an_echoed_access_token_is_redacted(fake_x: FakeX, http: httpx.Client) -> None:
    adapter = oauth2_adapter(fake_x, http)
    adapter.publish(message("first"), delivery())
    (access,) = fake_x.live_access_tokens
    fake_x.fail_next(1, 400, {"title": "Invalid Request", "detail": f"bad token {access}"})
    with pytest.raises(RejectedError) as caught:
        adapter.publish(message("second"), delivery())
    assert access not in str(caught.value)
    assert "[redacted]" in caught.value.message


# ---------------------------------------------------------------------- check


def test_check_names_the_account(fake_x: FakeX, http: httpx.Client) -> None:
    checked = oauth1_adapter(fake_x, http).check()
    assert checked.ok and checked.detail == "@crosspost_news (OAuth 1.0a)"
    checked = oauth2_adapter(fake_x, http).check()
    assert checked.ok and checked.detail == "@crosspost_news (OAuth 2.0)"
    assert fake_x.tweets == []


def test_check_with_revoked_oauth1_keys(fake_x: FakeX, http: httpx.Client) -> None:
    fake_x.revoke_oauth1()
    checked = oauth1_adapter(fake_x, http).check()
    assert not checked.ok
    assert "HTTP 401" in checked.detail and "OAuth 1.0a keys" in checked.detail
    assert fake_x.access_token_secret not in checked.detail


def test_check_reports_a_rate_limit(fake_x: FakeX, http: httpx.Client) -> None:
    fake_x.rate_limit(int(time.time()) + 60)
    checked = oauth1_adapter(fake_x, http).check()
    assert not checked.ok and "429" in checked.detail


# ---------------------------------------------------------------------- settings


def test_settings_need_one_complete_set() -> None:
    with pytest.raises(ValidationError, match="X needs credentials"):
        XSettings()
    with pytest.raises(ValidationError) as caught:
        XSettings(api_key=SecretStr("k-SECRET"), api_secret=SecretStr("s-SECRET"))
    text = str(caught.value)
    assert "missing ACCESS_TOKEN, ACCESS_TOKEN_SECRET" in text
    assert "SECRET" not in text.replace("ACCESS_TOKEN_SECRET", "")


def test_settings_refuse_both_kinds() -> None:
    with pytest.raises(ValidationError, match="not both") as caught:
        XSettings(
            api_key=SecretStr("k-SECRET"),
            api_secret=SecretStr("s-SECRET"),
            access_token=SecretStr("t-SECRET"),
            access_token_secret=SecretStr("ts-SECRET"),
            client_id="abc",
            refresh_token=SecretStr("rt-SECRET"),
        )
    assert "k-SECRET" not in str(caught.value) and "rt-SECRET" not in str(caught.value)


def test_settings_oauth2_needs_the_refresh_token() -> None:
    with pytest.raises(ValidationError, match="missing REFRESH_TOKEN"):
        XSettings(client_id="abc", client_secret=SecretStr("cs-SECRET"))
    public = XSettings(client_id="abc", refresh_token=SecretStr("rt"))
    assert public.uses_oauth2 and public.client_secret is None
    assert public.api_url == "https://api.x.com"


def test_empty_values_count_as_missing() -> None:
    with pytest.raises(ValidationError, match="missing API_KEY"):
        XSettings(
            api_key=SecretStr(""),
            api_secret=SecretStr("s"),
            access_token=SecretStr("t"),
            access_token_secret=SecretStr("ts"),
        )
