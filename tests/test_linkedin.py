"""The LinkedIn adapter over real HTTP against FakeLinkedIn."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from tests.fakes.linkedin import FakeLinkedIn, parse_little_text
from tests.fakes.server import free_port
from worker.errors import (
    AmbiguousError,
    AuthError,
    DuplicateError,
    RateLimitedError,
    RejectedError,
    TransientError,
)
from worker.models import ComposedMessage, DeliveryRef, FeaturedImage, SourcePost
from worker.platforms.linkedin import (
    DEFAULT_VERSION,
    LinkedInAdapter,
    LinkedInSettings,
    commentary,
    escape_little_text,
    next_utc_midnight,
)

POST_URL = "https://news.example/?p=15004"
# Every little-text syntax character, as a title might carry them.
TRICKY_TITLE = "Q&A (part 2): C# vs __init__ [draft] <b> ~50%~ @bob | a*b \\ {x}"
TRICKY_TITLE_HTML = TRICKY_TITLE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=2.0) as client:
        yield client


def settings_for(fake: FakeLinkedIn, **overrides: object) -> LinkedInSettings:
    values: dict[str, object] = {
        "access_token": SecretStr(fake.token),
        "author_urn": f"urn:li:person:{fake.member_id}",
        "api_url": fake.url,
    }
    values.update(overrides)
    return LinkedInSettings.model_validate(values)


def adapter_for(fake: FakeLinkedIn, http: httpx.Client, **overrides: object) -> LinkedInAdapter:
    return LinkedInAdapter("li", settings_for(fake, **overrides), http)


def post(
    title: str = "Iran&#8217;s talks resume",
    excerpt: str = "<p>Talks resume in Geneva [&hellip;]</p>",
    tags: tuple[str, ...] = ("geneva", "world news"),
) -> SourcePost:
    when = datetime(2026, 4, 19, 7, 30, tzinfo=UTC)
    return SourcePost(
        site="news",
        post_id=15004,
        link=POST_URL,
        title_html=title,
        excerpt_html=excerpt,
        content_html="<p>Talks resume in Geneva.</p>",
        date_gmt=when,
        modified_gmt=when,
        tags=tags,
        featured_image=FeaturedImage(url="https://news.example/img.jpg", alt="Geneva"),
    )


def message(text: str) -> ComposedMessage:
    return ComposedMessage(text=text, link=POST_URL, length=len(text), title="Title")


def delivery(attempt: int = 1) -> DeliveryRef:
    return DeliveryRef(
        delivery_id=42,
        account="li",
        attempt=attempt,
        idempotency_key="delivery-42-key",
        created_at=datetime(2026, 4, 19, 7, 31, tzinfo=UTC),
        post=post(),
    )


# ---------------------------------------------------------------------- success


def test_publish_sends_the_documented_request_and_returns_the_urn_and_url(
    fake_linkedin: FakeLinkedIn, http: httpx.Client
) -> None:
    adapter = adapter_for(fake_linkedin, http)
    composed = adapter.compose(post())

    result = adapter.publish(composed, delivery())

    (created,) = fake_linkedin.posts
    assert result.remote_id == created["urn"]
    assert result.remote_url == f"https://www.linkedin.com/feed/update/{created['urn']}/"
    (request,) = fake_linkedin.requests_to("/rest/posts", "POST")
    assert request.headers["authorization"] == f"Bearer {fake_linkedin.token}"
    assert request.headers["linkedin-version"] == DEFAULT_VERSION
    assert request.headers["x-restli-protocol-version"] == "2.0.0"
    assert request.headers["content-type"] == "application/json"
    body = request.json()
    assert body["author"] == f"urn:li:person:{fake_linkedin.member_id}"
    assert body["visibility"] == "PUBLIC"
    assert body["lifecycleState"] == "PUBLISHED"
    assert body["distribution"] == {
        "feedDistribution": "MAIN_FEED",
        "targetEntities": [],
        "thirdPartyDistributionChannels": [],
    }
    assert composed.card is not None
    assert body["content"] == {
        "article": {
            "source": composed.link,
            "title": "Iran’s talks resume",
            "description": composed.card.description,
        }
    }
    assert composed.card.description.startswith("Talks resume in Geneva")
    assert composed.link.startswith(POST_URL)
    # What LinkedIn shows is exactly the composed text, with the tags clickable.
    assert created["shown"] == composed.text
    assert not created["cut"]
    assert created["hashtags"] == ["geneva", "WorldNews"]


def test_every_syntax_character_is_escaped_so_nothing_is_cut(
    fake_linkedin: FakeLinkedIn, http: httpx.Client
) -> None:
    adapter = adapter_for(fake_linkedin, http)
    composed = adapter.compose(post(title=TRICKY_TITLE_HTML, tags=("geneva",)))

    adapter.publish(composed, delivery())

    (created,) = fake_linkedin.posts
    assert TRICKY_TITLE in composed.text
    assert created["shown"] == composed.text
    assert not created["cut"]
    # "C#" in the title is text, not a hashtag; only the post's tag is one.
    assert created["hashtags"] == ["geneva"]


def test_unescaped_text_would_be_cut_by_the_fake() -> None:
    # The fake's parser is what the escaping test relies on: show it cuts.
    shown = parse_little_text("Talks (part 2) resume")
    assert shown.cut and shown.text == "Talks "
    assert parse_little_text(escape_little_text("Talks (part 2) resume")).text == (
        "Talks (part 2) resume"
    )


def test_organization_author_posts_as_the_page(
    fake_linkedin: FakeLinkedIn, http: httpx.Client
) -> None:
    fake_linkedin.scopes = {"w_organization_social", "r_organization_admin"}
    fake_linkedin.org_roles = {"2414183": "CONTENT_ADMIN"}
    fake_linkedin.org_names = {"2414183": "News Example"}
    adapter = adapter_for(fake_linkedin, http, author_urn="urn:li:organization:2414183")

    result = adapter.publish(adapter.compose(post()), delivery())

    assert fake_linkedin.post_by_urn(result.remote_id) is not None
    assert fake_linkedin.posts[0]["author"] == "urn:li:organization:2414183"


def test_201_without_the_urn_header_is_ambiguous(
    fake_linkedin: FakeLinkedIn, http: httpx.Client
) -> None:
    fake_linkedin.fail_next(1, 201, b"", path="/rest/posts", after_processing=True)
    with pytest.raises(AmbiguousError, match="x-restli-id"):
        adapter_for(fake_linkedin, http).publish(message("Hello"), delivery())
    assert len(fake_linkedin.posts) == 1


# ---------------------------------------------------------------------- length


def test_too_long_is_rejected_with_linkedins_message(
    fake_linkedin: FakeLinkedIn, http: httpx.Client
) -> None:
    with pytest.raises(RejectedError) as caught:
        adapter_for(fake_linkedin, http).publish(message("x" * 3001), delivery())
    assert "422" in caught.value.message
    assert "length 3001 exceeds the maximum of 3000" in caught.value.message
    assert fake_linkedin.posts == []


def test_composed_text_fits_even_when_escaping_makes_it_longer(
    fake_linkedin: FakeLinkedIn, http: httpx.Client
) -> None:
    # An excerpt full of syntax characters and emoji: 3,000 characters of text
    # would be far more once escaped and counted in UTF-16 units.
    excerpt = "<p>" + "Vote (yes/no) for #1 & [2] 👨‍👩‍👧 — *now* ~ 50_50. " * 120 + "</p>"
    adapter = adapter_for(fake_linkedin, http, template="{title}\n\n{excerpt}\n\n{url}")
    composed = adapter.compose(post(title=TRICKY_TITLE_HTML, excerpt=excerpt, tags=()))

    result = adapter.publish(composed, delivery())

    created = fake_linkedin.post_by_urn(result.remote_id)
    assert created is not None and not created["cut"]
    assert created["shown"] == composed.text
    assert len(created["commentary"].encode("utf-16-le")) // 2 <= 3000
    assert adapter.length_rule().fits(composed.text)
    assert composed.link in composed.text


def test_length_rule_counts_escapes_and_hashtag_templates() -> None:
    rule = LinkedInAdapter.facts  # the declared limit is the rule's
    assert rule.text_limit == 3000
    text = "(a) #tag"
    assert commentary(text, [(4, 8)]) == "\\(a\\) {hashtag|\\#|tag}"
    from worker.platforms.linkedin import LINKEDIN_LITTLE_TEXT

    assert LINKEDIN_LITTLE_TEXT.length(text) == len("\\(a\\) {hashtag|\\#|tag}")


# ---------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    ("state", "code", "words"),
    [
        ("revoked", "65601", "revoked by the user"),
        ("expired", "65602", "has expired"),
    ],
)
def test_revoked_or_expired_token_is_an_auth_error_without_the_token(
    fake_linkedin: FakeLinkedIn, http: httpx.Client, state: str, code: str, words: str
) -> None:
    fake_linkedin.token_state = state
    adapter = adapter_for(fake_linkedin, http)

    with pytest.raises(AuthError) as caught:
        adapter.publish(message("Hello"), delivery())

    assert code in caught.value.message and words in caught.value.message
    assert "ACCOUNTS__LI__ACCESS_TOKEN" in caught.value.message
    assert fake_linkedin.token not in str(caught.value)
    assert fake_linkedin.posts == []
    checked = adapter.check()
    assert not checked.ok and words in checked.detail
    assert fake_linkedin.token not in checked.detail


def test_wrong_token_is_an_auth_error(fake_linkedin: FakeLinkedIn, http: httpx.Client) -> None:
    wrong = "AQX-wrong-SECRET-987654"
    with pytest.raises(AuthError, match="65600") as caught:
        adapter_for(fake_linkedin, http, access_token=SecretStr(wrong)).publish(
            message("Hello"), delivery()
        )
    assert wrong not in str(caught.value)


def test_missing_permission_says_which_permission_and_role(
    fake_linkedin: FakeLinkedIn, http: httpx.Client
) -> None:
    fake_linkedin.scopes = {"w_organization_social"}
    fake_linkedin.org_roles = {"2414183": "ANALYST"}
    adapter = adapter_for(fake_linkedin, http, author_urn="urn:li:organization:2414183")

    with pytest.raises(AuthError) as caught:
        adapter.publish(message("Hello"), delivery())

    text = caught.value.message
    assert "403" in text and "ACCESS_DENIED" in text
    assert "w_organization_social" in text and "ADMINISTRATOR" in text
    assert fake_linkedin.posts == []


def test_member_without_w_member_social_is_told_so(
    fake_linkedin: FakeLinkedIn, http: httpx.Client
) -> None:
    fake_linkedin.scopes = {"openid", "profile"}
    with pytest.raises(AuthError, match="w_member_social"):
        adapter_for(fake_linkedin, http).publish(message("Hello"), delivery())


def test_sunset_version_holds_the_account_naming_the_setting(
    fake_linkedin: FakeLinkedIn, http: httpx.Client
) -> None:
    with pytest.raises(AuthError) as caught:
        adapter_for(fake_linkedin, http, version="202401").publish(message("Hello"), delivery())
    text = caught.value.message
    assert "NONEXISTENT_VERSION" in text and "202401" in text
    assert "ACCOUNTS__LI__VERSION" in text
    assert fake_linkedin.posts == []


def test_token_echoed_by_the_server_is_redacted(
    fake_linkedin: FakeLinkedIn, http: httpx.Client
) -> None:
    fake_linkedin.fail_next(
        1, 400, {"status": 400, "message": f"bad header Bearer {fake_linkedin.token}"}
    )
    with pytest.raises(RejectedError) as caught:
        adapter_for(fake_linkedin, http).publish(message("Hello"), delivery())
    assert fake_linkedin.token not in str(caught.value)
    assert "[redacted]" in caught.value.message


# ---------------------------------------------------------------------- rate limits


def test_rate_limit_with_retry_after_waits_that_long(
    fake_linkedin: FakeLinkedIn, http: httpx.Client
) -> None:
    fake_linkedin.rate_limit(retry_after=120)
    before = datetime.now(UTC)
    with pytest.raises(RateLimitedError) as caught:
        adapter_for(fake_linkedin, http).publish(message("Hello"), delivery())
    after = datetime.now(UTC)

    assert caught.value.retry_at is not None
    assert (
        before + timedelta(seconds=120) <= caught.value.retry_at <= after + timedelta(seconds=120)
    )
    assert "Resource level throttle" in caught.value.message
    assert fake_linkedin.posts == []


def test_rate_limit_without_a_header_waits_for_midnight_or_an_hour(
    fake_linkedin: FakeLinkedIn, http: httpx.Client
) -> None:
    fake_linkedin.rate_limit()
    before = datetime.now(UTC)
    with pytest.raises(RateLimitedError) as caught:
        adapter_for(fake_linkedin, http).publish(message("Hello"), delivery())
    after = datetime.now(UTC)

    retry_at = caught.value.retry_at
    assert retry_at is not None
    low = min(next_utc_midnight(before), before + timedelta(hours=1))
    high = min(next_utc_midnight(after), after + timedelta(hours=1))
    assert low <= retry_at <= high


def test_next_utc_midnight_is_the_quota_reset() -> None:
    late = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    assert next_utc_midnight(late) == datetime(2026, 11, 25, tzinfo=UTC)
    assert min(next_utc_midnight(late), late + timedelta(hours=1)) == datetime(
        2026, 11, 25, tzinfo=UTC
    )


# ---------------------------------------------------------------------- unclear outcomes


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_ambiguous_and_not_idempotent(
    fake_linkedin: FakeLinkedIn, http: httpx.Client, status: int
) -> None:
    fake_linkedin.fail_next(1, status, "<html>upstream error</html>", path="/rest/posts")
    adapter = adapter_for(fake_linkedin, http)
    with pytest.raises(AmbiguousError, match=str(status)):
        adapter.publish(message("Hello"), delivery())
    # No key to resend with: the delivery goes to a person, not a blind retry.
    assert adapter.idempotent is False


def test_server_down_is_transient_and_nothing_is_created(http: httpx.Client) -> None:
    token = "AQX-down-SECRET"
    settings = LinkedInSettings(
        access_token=SecretStr(token),
        author_urn="urn:li:person:abc",
        api_url=f"http://127.0.0.1:{free_port()}",
    )
    adapter = LinkedInAdapter("li", settings, http)
    with pytest.raises(TransientError) as caught:
        adapter.publish(message("Hello"), delivery())
    assert token not in str(caught.value)
    checked = adapter.check()
    assert not checked.ok and token not in checked.detail


def test_slow_success_then_a_persons_resend_finds_the_first_post(
    fake_linkedin: FakeLinkedIn,
) -> None:
    fake_linkedin.delay_next(1.0, path="/rest/posts")
    with httpx.Client(timeout=0.3) as impatient:
        adapter = adapter_for(fake_linkedin, impatient)
        composed = adapter.compose(post())
        with pytest.raises(AmbiguousError):
            adapter.publish(composed, delivery(attempt=1))

    deadline = time.monotonic() + 5
    while not fake_linkedin.posts and time.monotonic() < deadline:
        time.sleep(0.05)
    (created,) = fake_linkedin.posts

    # The delivery is unconfirmed; a person presses "send again".
    with httpx.Client(timeout=2.0) as client, pytest.raises(DuplicateError) as caught:
        adapter_for(fake_linkedin, client).publish(composed, delivery(attempt=2))

    assert caught.value.remote_id == created["urn"]
    assert caught.value.remote_url == f"https://www.linkedin.com/feed/update/{created['urn']}/"
    assert len(fake_linkedin.posts) == 1


def test_dropped_answer_then_resend_is_a_duplicate_not_a_second_post(
    fake_linkedin: FakeLinkedIn, http: httpx.Client
) -> None:
    adapter = adapter_for(fake_linkedin, http)
    composed = adapter.compose(post())
    fake_linkedin.drop_after_processing(path="/rest/posts")

    with pytest.raises(AmbiguousError):
        adapter.publish(composed, delivery(attempt=1))
    with pytest.raises(DuplicateError) as caught:
        adapter.publish(composed, delivery(attempt=2))

    assert len(fake_linkedin.posts) == 1
    assert caught.value.remote_id == fake_linkedin.posts[0]["urn"]


def test_duplicate_content_names_the_existing_post(
    fake_linkedin: FakeLinkedIn, http: httpx.Client
) -> None:
    adapter = adapter_for(fake_linkedin, http)
    first = adapter.publish(message("Same words"), delivery())
    with pytest.raises(DuplicateError) as caught:
        adapter.publish(message("Same words"), delivery())
    assert caught.value.remote_id == first.remote_id
    assert caught.value.remote_url == first.remote_url


def test_other_422_is_rejected(fake_linkedin: FakeLinkedIn, http: httpx.Client) -> None:
    fake_linkedin.fail_next(
        1, 422, {"status": 422, "message": "ERROR :: /content/article/title :: too long"}
    )
    with pytest.raises(RejectedError, match="article/title"):
        adapter_for(fake_linkedin, http).publish(message("Hello"), delivery())


# ---------------------------------------------------------------------- check


def test_check_confirms_the_member_and_reports_the_expiry(
    fake_linkedin: FakeLinkedIn, http: httpx.Client
) -> None:
    expires = date.today() + timedelta(days=30)
    checked = adapter_for(fake_linkedin, http, token_expires=expires).check()
    assert checked.ok
    assert "Alice Example" in checked.detail
    assert f"urn:li:person:{fake_linkedin.member_id}" in checked.detail
    assert checked.expires_at == datetime(expires.year, expires.month, expires.day, tzinfo=UTC)
    assert fake_linkedin.posts == []


def test_check_without_an_expiry_says_tokens_last_60_days(
    fake_linkedin: FakeLinkedIn, http: httpx.Client
) -> None:
    checked = adapter_for(fake_linkedin, http).check()
    assert checked.ok and checked.expires_at is None
    assert "60 days" in checked.detail and "ACCOUNTS__LI__TOKEN_EXPIRES" in checked.detail


def test_check_fails_when_the_token_belongs_to_someone_else(
    fake_linkedin: FakeLinkedIn, http: httpx.Client
) -> None:
    checked = adapter_for(fake_linkedin, http, author_urn="urn:li:person:SomeoneElse").check()
    assert not checked.ok
    assert f"urn:li:person:{fake_linkedin.member_id}" in checked.detail


def test_check_fails_once_the_known_expiry_has_passed(
    fake_linkedin: FakeLinkedIn, http: httpx.Client
) -> None:
    checked = adapter_for(fake_linkedin, http, token_expires=date(2026, 1, 1)).check()
    assert not checked.ok and "expired on 2026-01-01" in checked.detail


def test_check_without_openid_scope_accepts_the_token_with_a_caveat(
    fake_linkedin: FakeLinkedIn, http: httpx.Client
) -> None:
    fake_linkedin.scopes = {"w_member_social"}
    checked = adapter_for(fake_linkedin, http).check()
    assert checked.ok and "openid" in checked.detail


def test_check_for_a_page(fake_linkedin: FakeLinkedIn, http: httpx.Client) -> None:
    fake_linkedin.scopes = {"w_organization_social", "r_organization_admin"}
    fake_linkedin.org_roles = {"2414183": "ADMINISTRATOR"}
    fake_linkedin.org_names = {"2414183": "News Example"}
    adapter = adapter_for(fake_linkedin, http, author_urn="urn:li:organization:2414183")
    checked = adapter.check()
    assert checked.ok and "News Example" in checked.detail
    (request,) = fake_linkedin.requests_to("/rest/organizations/2414183")
    assert request.headers["linkedin-version"] == DEFAULT_VERSION

    fake_linkedin.org_roles = {}
    refused = adapter.check()
    assert not refused.ok and "r_organization_admin" in refused.detail


# ---------------------------------------------------------------------- settings


def test_settings_explain_a_bad_author_urn_without_echoing_the_token() -> None:
    with pytest.raises(ValidationError) as caught:
        LinkedInSettings(access_token=SecretStr("AQX-SECRET-1"), author_urn="urn:li:member:12")
    text = str(caught.value)
    assert "urn:li:person:<id>" in text and "urn:li:organization:<number>" in text
    assert "AQX-SECRET-1" not in text


@pytest.mark.parametrize("version", ["2026-10", "20261001", "202613", "latest"])
def test_settings_refuse_a_bad_version(version: str) -> None:
    with pytest.raises(ValidationError, match="YYYYMM"):
        LinkedInSettings(
            access_token=SecretStr("t"), author_urn="urn:li:person:abc", version=version
        )


def test_settings_accept_a_patch_version_and_default_the_api_url() -> None:
    settings = LinkedInSettings(
        access_token=SecretStr("t"), author_urn="urn:li:organization:5", version="202610.01"
    )
    assert settings.version == "202610.01"
    assert settings.api_url == "https://api.linkedin.com"
    assert settings.organization_id == "5"
