"""`crosspost preview`: each account's exact message for a post, nothing sent."""

from __future__ import annotations

import json
import secrets

from tests.fakes.fixtures import WEBHOOK_SECRET
from tests.fakes.mastodon import FakeMastodon
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.harness.services import CrosspostProcess, write_env
from tests.harness.wordpress_fixture import WordPressHarness
from worker.compose.length import BLUESKY


def test_preview_shows_every_accounts_message_without_sending(
    crosspost: CrosspostProcess,
    wordpress_plain: WordPressHarness,
    fake_mastodon: FakeMastodon,
    webhook_receiver: WebhookReceiver,
) -> None:
    fake_mastodon.max_characters = 120
    write_env(
        crosspost.env_file,
        {
            "SITES__BLOG__URL": wordpress_plain.url,
            "ACCOUNTS__MASTO__NETWORK": "mastodon",
            "ACCOUNTS__MASTO__BASE_URL": fake_mastodon.url,
            "ACCOUNTS__MASTO__ACCESS_TOKEN": fake_mastodon.token,
            "ACCOUNTS__SKY__NETWORK": "bluesky",
            "ACCOUNTS__SKY__IDENTIFIER": "alice.test",
            "ACCOUNTS__SKY__APP_PASSWORD": "not-used-by-preview",
            "ACCOUNTS__HOOK__NETWORK": "webhook",
            "ACCOUNTS__HOOK__URL": webhook_receiver.hook_url,
            "ACCOUNTS__HOOK__SECRET": WEBHOOK_SECRET,
        },
    )
    tag = secrets.token_hex(3)
    with wordpress_plain.admin() as admin:
        post_id = admin.create_post(
            f"It's a preview {tag}",
            "<p>" + "A sentence that goes on. " * 40 + "</p>",
            tags=["Climate change"],
        )
        link = admin.get_post(post_id)["link"]

    result = json.loads(crosspost.run("preview", str(post_id), "--json").stdout)
    assert result["post_id"] == post_id and result["link"] == link
    by_account = {a["account"]: a for a in result["accounts"]}
    assert set(by_account) == {"masto", "sky", "hook"}
    masto = by_account["masto"]
    assert masto["limit"] == 120 and masto["length"] <= 120
    assert masto["text"].startswith(f"It’s a preview {tag}")
    assert "utm_source=mastodon" in masto["text"]
    sky = by_account["sky"]
    assert BLUESKY.fits(sky["text"]) and sky["card"]["title"] == f"It’s a preview {tag}"
    assert "#ClimateChange" in sky["text"]
    assert link in by_account["hook"]["text"].splitlines()

    # The same by link, in the human form.
    shown = crosspost.run("preview", link).stdout
    assert "== masto (mastodon)" in shown and f"It’s a preview {tag}" in shown
    assert "not-used-by-preview" not in shown

    assert fake_mastodon.requests_to("/api/v1/statuses") == []
    assert webhook_receiver.requests == []


def test_preview_of_a_missing_post_says_so(
    crosspost: CrosspostProcess, wordpress_plain: WordPressHarness
) -> None:
    write_env(crosspost.env_file, {"SITES__BLOG__URL": wordpress_plain.url})
    result = crosspost.run("preview", "987654", check=False)
    assert result.returncode == 1
    assert "no published post with id 987654" in result.stderr
