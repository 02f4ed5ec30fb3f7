"""The ``crosspost`` command as a user runs it: a real process and an env file."""

from __future__ import annotations

import base64
import json
import secrets
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.fixtures import WEBHOOK_SECRET
from tests.fakes.mastodon import FakeMastodon
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.harness.bluesky_fixture import BlueskyHarness
from tests.harness.services import CrosspostProcess, write_env
from tests.harness.wordpress_fixture import WordPressHarness

STATUSES = "/api/v1/statuses"
# Another valid Standard Webhooks secret, which the receiver does not know.
OTHER_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'crosspost.db'}"


def output(result: Any) -> str:
    return f"{result.stdout}\n{result.stderr}"


def assert_no_secret(text: str, *values: str) -> None:
    for value in values:
        assert value not in text, f"a secret ({value[:4]}…) appears in the output"


def status_json(crosspost: CrosspostProcess) -> list[dict[str, Any]]:
    result = crosspost.run("status", "--json", "--limit", "100")
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def new_post(wordpress: WordPressHarness, title: str) -> tuple[int, dict[str, Any]]:
    with wordpress.admin() as admin:
        post_id = admin.create_post(f"{title} {secrets.token_hex(3)}", "<p>Body.</p>")
        return post_id, admin.get_post(post_id, context="view")


# ---------------------------------------------------------------------- settings
SECRET_TOKEN = "tok-" + secrets.token_hex(12)
SECRET_PASSWORD = "pw-" + secrets.token_hex(12)
BAD_WEBHOOK_SECRET = "whsec_!!not-base64-" + secrets.token_hex(8)

CONFIG_ERRORS = {
    "missing token": (
        {"ACCOUNTS__MASTO__NETWORK": "mastodon", "ACCOUNTS__MASTO__BASE_URL": "https://m.example"},
        ["ACCOUNTS__MASTO__ACCESS_TOKEN"],
    ),
    "misspelt token name": (
        {
            "ACCOUNTS__MASTO__NETWORK": "mastodon",
            "ACCOUNTS__MASTO__BASE_URL": "https://m.example",
            "ACCOUNTS__MASTO__ACESS_TOKEN": SECRET_TOKEN,
        },
        ["ACCOUNTS__MASTO__ACESS_TOKEN", "ACCOUNTS__MASTO__ACCESS_TOKEN"],
    ),
    "bad instance url": (
        {
            "ACCOUNTS__MASTO__NETWORK": "mastodon",
            "ACCOUNTS__MASTO__BASE_URL": "https://m.example/@alice",
            "ACCOUNTS__MASTO__ACCESS_TOKEN": SECRET_TOKEN,
        },
        ["ACCOUNTS__MASTO__BASE_URL"],
    ),
    "unknown placeholder": (
        {
            "ACCOUNTS__X__NETWORK": "webhook",
            "ACCOUNTS__X__URL": "https://hooks.example/in",
            "ACCOUNTS__X__SECRET": WEBHOOK_SECRET,
            "ACCOUNTS__X__TEMPLATE": "{titel} {url}",
        },
        ["ACCOUNTS__X__TEMPLATE", "{titel}"],
    ),
    "unknown network": (
        {"ACCOUNTS__X__NETWORK": "myspace", "ACCOUNTS__X__PASSWORD": SECRET_PASSWORD},
        ["ACCOUNTS__X__NETWORK", "myspace"],
    ),
    "bad webhook secret": (
        {
            "ACCOUNTS__HOOK__NETWORK": "webhook",
            "ACCOUNTS__HOOK__URL": "https://hooks.example/in",
            "ACCOUNTS__HOOK__SECRET": BAD_WEBHOOK_SECRET,
        },
        ["ACCOUNTS__HOOK__SECRET"],
    ),
    "bluesky without identifier": (
        {"ACCOUNTS__SKY__NETWORK": "bluesky", "ACCOUNTS__SKY__APP_PASSWORD": SECRET_PASSWORD},
        ["ACCOUNTS__SKY__IDENTIFIER"],
    ),
    "account for an unknown site": (
        {
            "SITES__BLOG__URL": "https://blog.example",
            "ACCOUNTS__MASTO__NETWORK": "mastodon",
            "ACCOUNTS__MASTO__BASE_URL": "https://m.example",
            "ACCOUNTS__MASTO__ACCESS_TOKEN": SECRET_TOKEN,
            "ACCOUNTS__MASTO__SITES": "blog,news",
        },
        ["ACCOUNTS__MASTO__SITES", "'news'"],
    ),
    "site url and password": (
        {"SITES__BLOG__URL": "blog.example", "SITES__BLOG__APP_PASSWORD": SECRET_PASSWORD},
        ["SITES__BLOG__URL"],
    ),
    "not a number": ({"PUBLISHER_THREADS": "lots"}, ["PUBLISHER_THREADS"]),
}


@pytest.mark.parametrize("case", CONFIG_ERRORS, ids=list(CONFIG_ERRORS))
def test_a_wrong_setting_stops_with_its_name_and_no_secret(
    crosspost: CrosspostProcess, tmp_path: Path, case: str
) -> None:
    env, names = CONFIG_ERRORS[case]
    write_env(crosspost.env_file, {"DATABASE_URL": db_url(tmp_path), **env})

    result = crosspost.run("run", "--once", check=False)

    assert result.returncode == 2, output(result)
    assert "configuration error" in result.stderr
    for name in names:
        assert name in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert_no_secret(
        output(result), SECRET_TOKEN, SECRET_PASSWORD, BAD_WEBHOOK_SECRET, WEBHOOK_SECRET
    )
    assert not (tmp_path / "crosspost.db").exists(), "nothing ran"


def test_missing_env_file_is_a_configuration_error(
    crosspost: CrosspostProcess, tmp_path: Path
) -> None:
    result = crosspost.run("check", check=False)  # the fixture's .env was never written
    assert result.returncode == 2
    assert str(crosspost.env_file) in result.stderr


# ---------------------------------------------------------------------- check
def check_env(
    tmp_path: Path,
    wordpress: WordPressHarness,
    mastodon: FakeMastodon,
    bluesky: BlueskyHarness,
    receiver: WebhookReceiver,
    *,
    token: str,
    app_password: str,
    webhook_secret: str,
) -> dict[str, str]:
    return {
        "DATABASE_URL": db_url(tmp_path),
        "SITES__BLOG__URL": wordpress.url,
        "ACCOUNTS__MASTO__NETWORK": "mastodon",
        "ACCOUNTS__MASTO__BASE_URL": mastodon.url,
        "ACCOUNTS__MASTO__ACCESS_TOKEN": token,
        "ACCOUNTS__SKY__NETWORK": "bluesky",
        "ACCOUNTS__SKY__IDENTIFIER": bluesky.handle,
        "ACCOUNTS__SKY__APP_PASSWORD": app_password,
        "ACCOUNTS__SKY__PDS_URL": bluesky.pds_url,
        "ACCOUNTS__HOOK__NETWORK": "webhook",
        "ACCOUNTS__HOOK__URL": receiver.hook_url,
        "ACCOUNTS__HOOK__SECRET": webhook_secret,
    }


def account_lines(stdout: str) -> dict[str, str]:
    lines = {}
    for line in stdout.splitlines():
        if line.startswith("account "):
            lines[line.split()[1]] = line
    return lines


def test_check_tries_every_account_and_prints_ok(
    crosspost: CrosspostProcess,
    tmp_path: Path,
    wordpress_plain: WordPressHarness,
    fake_mastodon: FakeMastodon,
    bluesky_pds: BlueskyHarness,
    webhook_receiver: WebhookReceiver,
) -> None:
    write_env(
        crosspost.env_file,
        check_env(
            tmp_path,
            wordpress_plain,
            fake_mastodon,
            bluesky_pds,
            webhook_receiver,
            token=fake_mastodon.token,
            app_password=bluesky_pds.app_password,
            webhook_secret=WEBHOOK_SECRET,
        ),
    )

    result = crosspost.run("check", check=False)

    assert result.returncode == 0, output(result)
    assert "configuration is valid" in result.stdout
    assert "site blog: ok" in result.stdout
    lines = account_lines(result.stdout)
    assert set(lines) == {"masto", "sky", "hook"}
    assert lines["masto"].startswith("account masto (mastodon, enabled): ok: @alice")
    assert lines["sky"].startswith("account sky (bluesky, enabled): ok:")
    assert bluesky_pds.handle in lines["sky"]
    assert lines["hook"].startswith("account hook (webhook, enabled): ok:")
    # The probes really reached the networks, and posted nothing.
    assert fake_mastodon.requests_to("/api/v1/accounts/verify_credentials")
    assert fake_mastodon.statuses == []
    assert [e.payload["type"] for e in webhook_receiver.events] == ["ping"]
    assert_no_secret(
        output(result),
        fake_mastodon.token,
        bluesky_pds.app_password,
        WEBHOOK_SECRET,
        WEBHOOK_SECRET.removeprefix("whsec_"),
    )


def test_check_with_wrong_credentials_prints_failed_and_exits_1(
    crosspost: CrosspostProcess,
    tmp_path: Path,
    wordpress_plain: WordPressHarness,
    fake_mastodon: FakeMastodon,
    bluesky_pds: BlueskyHarness,
    webhook_receiver: WebhookReceiver,
) -> None:
    wrong_token = "wrong-" + secrets.token_hex(10)
    wrong_password = "aaaa-bbbb-cccc-" + secrets.token_hex(2)
    write_env(
        crosspost.env_file,
        check_env(
            tmp_path,
            wordpress_plain,
            fake_mastodon,
            bluesky_pds,
            webhook_receiver,
            token=wrong_token,
            app_password=wrong_password,
            webhook_secret=OTHER_WEBHOOK_SECRET,
        ),
    )

    result = crosspost.run("check", check=False)

    assert result.returncode == 1, output(result)
    lines = account_lines(result.stdout)
    for name in ("masto", "sky", "hook"):
        assert ": FAILED" in lines[name], lines[name]
    assert "site blog: ok" in result.stdout
    assert webhook_receiver.events == []
    assert_no_secret(
        output(result),
        wrong_token,
        wrong_password,
        OTHER_WEBHOOK_SECRET,
        OTHER_WEBHOOK_SECRET.removeprefix("whsec_"),
        fake_mastodon.token,
        bluesky_pds.app_password,
    )


# ---------------------------------------------------------------------- status, retry, run
def run_env(
    tmp_path: Path, wordpress: WordPressHarness, mastodon: FakeMastodon, **extra: str
) -> dict[str, str]:
    return {
        "DATABASE_URL": db_url(tmp_path),
        "SITES__BLOG__URL": wordpress.url,
        "ACCOUNTS__MASTO__NETWORK": "mastodon",
        "ACCOUNTS__MASTO__BASE_URL": mastodon.url,
        "ACCOUNTS__MASTO__ACCESS_TOKEN": mastodon.token,
        **extra,
    }


def test_status_json_after_a_real_run(
    crosspost: CrosspostProcess,
    tmp_path: Path,
    wordpress_plain: WordPressHarness,
    fake_mastodon: FakeMastodon,
    webhook_receiver: WebhookReceiver,
) -> None:
    write_env(
        crosspost.env_file,
        run_env(
            tmp_path,
            wordpress_plain,
            fake_mastodon,
            ACCOUNTS__HOOK__NETWORK="webhook",
            ACCOUNTS__HOOK__URL=webhook_receiver.hook_url,
            ACCOUNTS__HOOK__SECRET=WEBHOOK_SECRET,
        ),
    )
    crosspost.run("run", "--once", "--timeout", "60")  # first contact
    assert status_json(crosspost) == []
    post_id, wp_post = new_post(wordpress_plain, "Status shape")

    crosspost.run("run", "--once", "--timeout", "60")
    [post] = status_json(crosspost)

    assert post["site"] == "blog"
    assert post["post_id"] == post_id
    assert post["title"] == wp_post["title"]["rendered"]
    assert post["link"] == wp_post["link"]
    assert post["publish_status"] == "done"
    assert set(post["deliveries"]) == {"masto", "hook"}
    [toot] = fake_mastodon.statuses
    for account, service in (("masto", "mastodon"), ("hook", "webhook")):
        delivery = post["deliveries"][account]
        assert delivery["status"] == "published"
        assert delivery["attempts"] == 1
        assert delivery["last_error"] is None
        assert delivery["retry_at"] is None
        assert [h["status"] for h in delivery["history"]] == ["queued", "success"]
        for entry in delivery["history"]:
            assert entry["account"] == account
            assert entry["service"] == service
            assert isinstance(entry["timestamp"], int)
            assert abs(entry["timestamp"] - toot_time(toot)) < 120
    assert post["deliveries"]["masto"]["remote_url"] == toot["url"]
    assert "remote_url" in post["deliveries"]["hook"]

    text = crosspost.run("status").stdout
    assert f"blog #{post_id} [done]" in text
    assert "masto" in text and "published" in text and toot["url"] in text


def toot_time(toot: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(toot["created_at"]).timestamp())


def test_retry_by_id_and_by_account_then_run_publishes(
    crosspost: CrosspostProcess,
    tmp_path: Path,
    wordpress_plain: WordPressHarness,
    fake_mastodon: FakeMastodon,
    webhook_receiver: WebhookReceiver,
) -> None:
    write_env(
        crosspost.env_file,
        run_env(
            tmp_path,
            wordpress_plain,
            fake_mastodon,
            ACCOUNTS__HOOK__NETWORK="webhook",
            ACCOUNTS__HOOK__URL=webhook_receiver.hook_url,
            ACCOUNTS__HOOK__SECRET=WEBHOOK_SECRET,
        ),
    )
    crosspost.run("run", "--once", "--timeout", "60")
    fake_mastodon.fail_next(2, 422, {"error": "Validation failed: Try again"}, path=STATUSES)
    webhook_receiver.fail_next(2, 400, {"error": "not today"}, path=webhook_receiver.path)
    first, _ = new_post(wordpress_plain, "Retry me by id")
    second, _ = new_post(wordpress_plain, "Retry me by account")
    crosspost.run("run", "--once", "--timeout", "60")

    def statuses() -> dict[tuple[int, str], dict[str, Any]]:
        return {
            (p["post_id"], account): d
            for p in status_json(crosspost)
            for account, d in p["deliveries"].items()
        }

    deliveries = statuses()
    assert {d["status"] for d in deliveries.values()} == {"failed"}
    assert len(deliveries) == 4
    first_id, second_id = deliveries[first, "masto"]["id"], deliveries[second, "masto"]["id"]

    nothing = crosspost.run("retry", check=False)
    assert nothing.returncode == 2

    result = crosspost.run("retry", str(first_id))
    assert f"re-queued 1 deliveries: {first_id}" in result.stdout
    deliveries = statuses()
    assert deliveries[first, "masto"]["status"] == "queued"
    assert deliveries[first, "masto"]["history"][-1]["status"] == "queued"
    assert deliveries[second, "masto"]["status"] == "failed"
    assert deliveries[first, "hook"]["status"] == "failed"

    crosspost.run("run", "--once", "--timeout", "60")
    deliveries = statuses()
    assert deliveries[first, "masto"]["status"] == "published"
    assert deliveries[first, "masto"]["attempts"] == 2
    assert deliveries[second, "masto"]["status"] == "failed"
    assert len(fake_mastodon.statuses) == 1

    result = crosspost.run("retry", "--account", "masto")
    assert f"re-queued 1 deliveries: {second_id}" in result.stdout
    crosspost.run("run", "--once", "--timeout", "60")
    deliveries = statuses()
    assert deliveries[second, "masto"]["status"] == "published"
    assert [h["status"] for h in deliveries[second, "masto"]["history"]] == [
        "queued",
        "error",
        "queued",
        "success",
    ]
    assert len(fake_mastodon.statuses) == 2
    assert len(fake_mastodon.requests_to(STATUSES, "POST")) == 4
    # The other account's failures were left for a person to decide.
    assert deliveries[first, "hook"]["status"] == "failed"
    assert deliveries[second, "hook"]["status"] == "failed"
    assert webhook_receiver.events == []

    result = crosspost.run("retry", "--account", "hook")
    assert "re-queued 2 deliveries" in result.stdout
    crosspost.run("run", "--once", "--timeout", "60")
    deliveries = statuses()
    assert {d["status"] for d in deliveries.values()} == {"published"}
    assert len(webhook_receiver.events) == 2


def test_run_once_with_nothing_configured_creates_the_database(
    crosspost: CrosspostProcess, tmp_path: Path
) -> None:
    crosspost.env_file.write_text("# nothing yet\n")

    result = crosspost.run("run", "--once", "--timeout", "30", check=False)

    assert result.returncode == 0, output(result)
    database = tmp_path / "crosspost.db"  # the default, next to where it ran
    assert database.exists()
    with sqlite3.connect(database) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"sites", "posts", "accounts", "deliveries", "history"} <= tables
    again = crosspost.run("run", "--once", "--timeout", "30", check=False)
    assert again.returncode == 0, output(again)
    assert crosspost.run("status").stdout.strip() == "no posts shared yet"
