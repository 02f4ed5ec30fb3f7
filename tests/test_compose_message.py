"""Links with campaign tags, the editor's own message, and where hashtags come from."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from worker.accounts import AccountSettings
from worker.compose.length import BLUESKY, MASTODON_DEFAULT, X
from worker.compose.links import tracked_link
from worker.compose.message import compose_message
from worker.models import SourcePost

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
