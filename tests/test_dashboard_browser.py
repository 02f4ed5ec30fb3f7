"""The dashboard in a real browser (Debian's chromium through Playwright).

Each test logs in as an operator would, acts through the pages (no script of
ours: plain links, forms and buttons), lets the real service run a cycle, and
checks what the page then shows and what the networks received.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.dashboard_fixtures import PASSWORD, STATUSES, World

pytestmark = [pytest.mark.wordpress]


@pytest.fixture
def page(browser: Any, dashboard_world: World) -> Iterator[Any]:
    context = browser.new_context(base_url=dashboard_world.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def log_in(page: Any) -> None:
    page.goto("/")
    assert page.url.endswith("/login?next=%2F"), page.url  # pages need a session
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    assert page.locator("h1").inner_text() == "Overview"


def fail_next_mastodon_posts(world: World, count: int) -> None:
    world.mastodon.fail_next(count, 503, {"error": "Service Unavailable"}, path=STATUSES)


def test_retry_a_failed_delivery_from_the_failures_page(page: Any, dashboard_world: World) -> None:
    world = dashboard_world
    post_id = world.new_post("Failing on the first try")
    fail_next_mastodon_posts(world, 1)
    world.cycle()
    failed = world.delivery(post_id, "masto")
    assert failed["status"] == "failed"

    log_in(page)
    page.click("nav >> text=Failures")
    row = page.locator(f"#delivery-{failed['id']}")
    assert "Failing on the first try" in row.inner_text()
    # Exactly what was stored: the error kind, its message, the attempts.
    text = row.inner_text()
    assert f"{failed['last_error_kind']}: {failed['last_error']}" in text
    assert "\t1\t" in text  # attempts
    row.get_by_role("button", name="Retry").click()
    page.wait_for_url(re.compile(r"/failures$"))
    assert "Queued 1 delivery to send again." in page.locator(".flash").inner_text()
    assert page.locator(f"#delivery-{failed['id']}").count() == 0

    world.cycle()
    assert world.delivery(post_id, "masto")["status"] == "published"
    page.goto("/posts")
    page.get_by_role("link", name=re.compile("Failing on the first try")).click()
    section = page.locator(f"#delivery-{failed['id']}")
    assert "published" in section.locator("h2 .chip").inner_text()
    history = section.locator("table.history").inner_text()
    assert "503" in history and "retry requested" in history and "success" in history
    assert [s["text"] for s in world.mastodon.statuses if "Failing on the first try" in s["text"]]


def test_bulk_retry_selected_then_all_with_the_count_shown_first(
    page: Any, dashboard_world: World
) -> None:
    world = dashboard_world
    titles = [f"Bulk failure {n}" for n in range(3)]
    fail_next_mastodon_posts(world, 3)
    post_ids = [world.new_post(title) for title in titles]
    world.cycle()
    failed = [world.delivery(post_id, "masto") for post_id in post_ids]
    assert [d["status"] for d in failed] == ["failed"] * 3

    log_in(page)
    page.goto("/failures")
    for delivery in failed[:2]:
        page.check(f"#delivery-{delivery['id']} input[type=checkbox]")
    page.get_by_role("button", name="Retry selected").click()
    assert "Queued 2 deliveries to send again." in page.locator(".flash").inner_text()

    page.get_by_role("link", name=re.compile(r"Retry all 1")).click()
    assert page.locator("strong.count").inner_text() == "1"  # the count, before confirming
    assert world.delivery(post_ids[2], "masto")["status"] == "failed"  # nothing done yet
    page.get_by_role("button", name="Yes, retry 1").click()
    page.wait_for_url(re.compile(r"/failures$"))
    assert "Queued 1 delivery to send again." in page.locator(".flash").inner_text()
    assert "No failed or unconfirmed deliveries." in page.inner_text("main")

    world.cycle()
    assert [world.delivery(p, "masto")["status"] for p in post_ids] == ["published"] * 3
    page.goto("/posts")
    for title in titles:
        row = page.locator("tr", has=page.get_by_role("link", name=title))
        assert "masto: published" in row.inner_text()


def test_pausing_an_account_holds_its_deliveries(page: Any, dashboard_world: World) -> None:
    world = dashboard_world
    log_in(page)
    page.click("nav >> text=Accounts")
    page.locator("#account-masto").get_by_role("button", name="Pause").click()
    assert "Paused masto" in page.locator(".flash").inner_text()
    assert "paused" in page.locator("#account-masto").inner_text()

    sent_before = len(world.mastodon.requests_to(STATUSES, "POST"))
    post_id = world.new_post("Written while masto is paused")
    world.cycle()
    assert world.delivery(post_id, "masto")["status"] == "queued"  # held
    assert world.delivery(post_id, "hook")["status"] == "published"  # others go on
    assert len(world.mastodon.requests_to(STATUSES, "POST")) == sent_before

    page.goto("/posts")
    row = page.locator("tr", has=page.get_by_role("link", name="Written while masto is paused"))
    assert "masto: queued" in row.inner_text() and "hook: published" in row.inner_text()

    page.goto("/accounts")
    page.locator("#account-masto").get_by_role("button", name="Resume").click()
    assert "Resumed masto." in page.locator(".flash").inner_text()
    world.cycle()
    assert world.delivery(post_id, "masto")["status"] == "published"


def test_a_title_with_a_script_tag_renders_as_text(page: Any, dashboard_world: World) -> None:
    world = dashboard_world
    # Written as text in WordPress, so the title the service stores is the
    # literal markup: exactly what a template must escape.
    hostile = "<script>window.__xss = 1</script> Hostile title"
    post_id = world.new_post(hostile.replace("<", "&lt;").replace(">", "&gt;"))
    world.cycle()
    assert world.post(post_id)["title"] == hostile

    log_in(page)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto("/posts")
    link = page.get_by_role("link", name=hostile)
    assert link.inner_text() == hostile  # shown as text
    link.click()
    assert page.locator("h1").inner_text() == hostile
    assert page.evaluate("window.__xss") is None
    assert page.locator("script").count() == 0
    assert dialogs == []
