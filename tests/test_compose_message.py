"""Links with campaign tags, the editor's own message, and where hashtags come from."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from worker.accounts import AccountSettings
from worker.compose.length import BLUESKY, MASTODON_DEFAULT, X
from worker.compose.links import tracked_link
from worker.compose.message import compose_message
from worker.models import SourcePost
from worker.settings import ConfigError, load_settings

LINK = "https://news.example/?p=15004"


def post(meta: dict[str, Any] | None = None, **overrides: Any) -> SourcePost:
    values: dict[str, Any] = {
        "site": "news",
        "post_id": 15004,
        "link": LINK,
        "title_html": "Iran&#8217;s budget",
        "excerpt_html": "<p>What changes this year [&hellip;]</p>\n",
        "content_html": "<p>Body.</p>",
        "date_gmt": datetime(2026, 4, 19, tzinfo=UTC),
        "modified_gmt": datetime(2026, 4, 19, tzinfo=UTC),
        "tags": ("Budget",),
        "categories": ("World news",),
        "meta": meta or {},
        **overrides,
    }
    return SourcePost(**values)


def account(**values: Any) -> AccountSettings:
    return AccountSettings(network=values.pop("network", "mastodon"), **values)


def test_utm_tags_are_added_and_the_posts_query_is_kept() -> None:
    message = compose_message(post(), account(), MASTODON_DEFAULT, facets=False, card=False)
    assert message.link == (f"{LINK}&utm_source=mastodon&utm_medium=social&utm_campaign=crosspost")
    assert message.link in message.text


def test_utm_campaign_is_configurable_and_can_be_switched_off() -> None:
    tagged = compose_message(
        post(), account(utm_campaign="spring"), MASTODON_DEFAULT, facets=False, card=False
    )
    assert "utm_campaign=spring" in tagged.link
    plain = compose_message(post(), account(utm=False), MASTODON_DEFAULT, facets=False, card=False)
    assert plain.link == LINK
    assert "utm_" not in plain.text


def test_utm_values_already_in_the_link_win() -> None:
    link = "https://news.example/a/?utm_source=newsletter&x=1"
    assert tracked_link(link, source="x", medium="social", campaign="c") == (
        "https://news.example/a/?utm_source=newsletter&x=1&utm_medium=social&utm_campaign=c"
    )


def test_bluesky_facet_and_card_carry_the_tagged_link() -> None:
    message = compose_message(post(), account(network="bluesky"), BLUESKY, facets=True, card=True)
    [link_facet] = [f for f in message.facets if f.kind == "link"]
    assert link_facet.value == message.link
    data = message.text.encode()
    assert data[link_facet.byte_start : link_facet.byte_end].decode() == message.link
    assert message.card is not None and message.card.url == message.link


def test_rop_per_account_message_replaces_the_template() -> None:
    meta = {"rop_publish_now_accounts": {"masto": "Read our budget explainer &#8212; today"}}
    message = compose_message(
        post(meta), account(utm=False), MASTODON_DEFAULT, facets=False, card=False, account="masto"
    )
    assert message.text == f"Read our budget explainer — today\n\n{LINK}"


def test_rop_message_keyed_by_network_and_jetpack_message() -> None:
    meta = {"rop_publish_now_accounts": {"x_1234_5678": "For X readers"}}
    message = compose_message(
        post(meta), account(network="x", utm=False), X, facets=False, card=False, account="myx"
    )
    assert message.text == f"For X readers\n\n{LINK}"
    jetpack = {"jetpack_publicize_message": f"Everyone: see {LINK}"}
    message = compose_message(
        post(jetpack),
        account(utm=False),
        MASTODON_DEFAULT,
        facets=False,
        card=False,
        account="masto",
    )
    assert message.text == f"Everyone: see {LINK}"


def test_an_empty_custom_message_keeps_the_template() -> None:
    meta = {"rop_publish_now_accounts": {"masto": ""}, "jetpack_publicize_message": " "}
    message = compose_message(
        post(meta), account(utm=False), MASTODON_DEFAULT, facets=False, card=False, account="masto"
    )
    assert message.text.startswith("Iran’s budget\n\nWhat changes this year")


def test_a_long_custom_message_is_shortened_and_keeps_the_link() -> None:
    meta = {"jetpack_publicize_message": "word " * 200}
    message = compose_message(
        post(meta), account(utm=False), MASTODON_DEFAULT, facets=False, card=False, account="masto"
    )
    assert MASTODON_DEFAULT.fits(message.text)
    assert message.text.endswith(LINK)
    assert "…" in message.text


def test_hashtags_from_tags_categories_or_both() -> None:
    def tags_of(source: str) -> list[str]:
        message = compose_message(
            post(),
            account(utm=False, hashtags_from=source),
            MASTODON_DEFAULT,
            facets=False,
            card=False,
        )
        return [w for w in message.text.split() if w.startswith("#")]

    assert tags_of("tags") == ["#Budget"]
    assert tags_of("categories") == ["#WorldNews"]
    assert tags_of("both") == ["#Budget", "#WorldNews"]


# ---------------------------------------------------------------------- shortener


def test_the_shortener_gets_the_tagged_link_and_its_answer_is_shared_everywhere() -> None:
    from tests import shorteners

    shorteners.calls.clear()
    message = compose_message(
        post(),
        account(network="bluesky", shortener="tests.shorteners:short"),
        BLUESKY,
        facets=True,
        card=True,
    )
    tagged = f"{LINK}&utm_source=bluesky&utm_medium=social&utm_campaign=crosspost"
    assert shorteners.calls == [tagged]
    assert message.link == shorteners.short(tagged)
    assert message.link.startswith("https://sho.rt/")
    assert message.link in message.text.split()
    assert LINK not in message.text
    [link_facet] = [f for f in message.facets if f.kind == "link"]
    data = message.text.encode()
    assert data[link_facet.byte_start : link_facet.byte_end].decode() == message.link
    assert link_facet.value == message.link
    assert message.card is not None and message.card.url == message.link


def test_no_shortener_by_default() -> None:
    assert account().shortener is None
    message = compose_message(
        post(), account(utm=False), MASTODON_DEFAULT, facets=False, card=False
    )
    assert message.link == LINK


@pytest.mark.parametrize("name", ["broken", "not_a_url"])
def test_a_failing_shortener_keeps_the_long_link(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="worker.compose.message"):
        message = compose_message(
            post(),
            account(utm=False, shortener=f"tests.shorteners:{name}"),
            MASTODON_DEFAULT,
            facets=False,
            card=False,
            account="masto",
        )
    assert message.link == LINK
    assert message.text.endswith(f"{LINK}\n#Budget")
    assert "sharing the long link" in caplog.text and "masto" in caplog.text
    # What the shortener said may hold its credentials: not logged.
    assert "shortener-secret-123" not in caplog.text


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("tests.shorteners.short", "module.path:function"),
        ("tests.no_such_module:short", "cannot import 'tests.no_such_module'"),
        ("tests.shorteners:missing", "has no 'missing'"),
        ("tests.shorteners:NOT_CALLABLE", "is not callable"),
    ],
)
def test_a_bad_shortener_is_a_config_error_naming_the_variable(
    path: str, problem: str, tmp_path: Path
) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "ACCOUNTS__MASTO__NETWORK=mastodon\n"
        "ACCOUNTS__MASTO__BASE_URL=https://mastodon.example\n"
        "ACCOUNTS__MASTO__ACCESS_TOKEN=token-0123456789\n"
        f"ACCOUNTS__MASTO__SHORTENER={path}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    [line] = [line for line in str(caught.value).splitlines() if "SHORTENER" in line]
    assert line.strip().startswith("ACCOUNTS__MASTO__SHORTENER:")
    assert problem in line


def test_a_good_shortener_path_loads(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "ACCOUNTS__MASTO__NETWORK=mastodon\n"
        "ACCOUNTS__MASTO__BASE_URL=https://mastodon.example\n"
        "ACCOUNTS__MASTO__ACCESS_TOKEN=token-0123456789\n"
        "ACCOUNTS__MASTO__SHORTENER=tests.shorteners:short\n"
    )
    settings = load_settings(env)
    assert settings.accounts["masto"].shortener == "tests.shorteners:short"


def test_the_editors_plain_link_becomes_the_shared_link() -> None:
    meta = {"jetpack_publicize_message": f"New: {LINK}. And {LINK}0 is another post."}
    message = compose_message(
        post(meta), account(network="bluesky"), BLUESKY, facets=True, card=False, account="sky"
    )
    assert message.text.startswith(f"New: {message.link}. And {LINK}0 is another post.")
    [link_facet] = [f for f in message.facets if f.kind == "link"]
    assert message.text.encode()[link_facet.byte_start : link_facet.byte_end].decode() == (
        message.link
    )
