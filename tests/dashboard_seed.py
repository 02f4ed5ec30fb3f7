"""A realistic store in bulk, for the dashboard's benchmark, screenshots and API tests.

Rows are written with the store's own tables in large batched inserts: posts
from a few sites over the last weeks, one delivery per (post, account) with
a realistic spread of states, and the history each state implies.  The
browser tests do not use this: they make their data through the service.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

from worker.store.schema import accounts, deliveries, heartbeats, history, posts, sites

WORDS = [
    "budget",
    "vote",
    "city",
    "council",
    "river",
    "bridge",
    "school",
    "report",
    "storm",
    "season",
    "market",
    "harvest",
    "election",
    "festival",
    "museum",
    "library",
    "court",
    "hospital",
    "rail",
    "strike",
    "energy",
    "water",
    "park",
    "housing",
    "tax",
    "ferry",
    "science",
    "football",
    "league",
    "mayor",
    "summit",
    "border",
    "trade",
    "climate",
    "night",
    "coast",
    "ancient",
    "island",
]

ERRORS = {
    "transient": "HTTP 503 from the instance: Service Unavailable",
    "rate_limited": "429 Too many requests; reset at the network's time",
    "auth": "401 The access token is invalid",
    "rejected": "422 Validation failed: Text character limit of 500 exceeded",
    "ambiguous": "timed out after sending: the network may have the post",
}

# (status, share of deliveries): most go out, a few wait, fail or are unknown.
SPREAD = (
    ("published", 0.86),
    ("skipped", 0.03),
    ("failed", 0.035),
    ("unconfirmed", 0.01),
    ("retry_wait", 0.04),
    ("queued", 0.02),
    ("sending", 0.005),
)

DEFAULT_ACCOUNTS = {"masto": "mastodon", "sky": "bluesky", "hook": "webhook", "tg": "telegram"}


def _status(rng: random.Random) -> str:
    roll = rng.random()
    for status, share in SPREAD:
        roll -= share
        if roll < 0:
            return status
    return "published"


def seed(
    engine: Engine,
    *,
    deliveries_count: int,
    now: datetime,
    days: int = 30,
    site_names: tuple[str, ...] = ("news", "blog", "shop"),
    account_networks: Mapping[str, str] = DEFAULT_ACCOUNTS,
    seed_value: int = 7,
    batch: int = 5000,
) -> None:
    rng = random.Random(seed_value)
    names = sorted(account_networks)
    post_count = max(1, deliveries_count // len(names))
    with engine.begin() as conn:
        conn.execute(
            insert(sites),
            [
                {
                    "name": name,
                    "api_root": f"https://{name}.example/wp-json/",
                    "baseline_done": True,
                    "last_poll_at": now - timedelta(seconds=20 + 7 * i),
                    "last_poll_ok": i != 2,
                    "last_error": None if i != 2 else "HTTP 502 from shop.example (3rd failure)",
                    "failures": 0 if i != 2 else 3,
                    "next_poll_at": now + timedelta(seconds=40 + 120 * i),
                    "cursor": now,
                }
                for i, name in enumerate(site_names)
            ],
        )
        for i, name in enumerate(names):
            conn.execute(
                insert(accounts).values(
                    name=name,
                    network=account_networks[name],
                    paused=False,
                    needs_attention=i == len(names) - 1,
                    hold_until=now + timedelta(minutes=25) if i in (1, len(names) - 1) else None,
                    last_error="401 The access token is invalid" if i == len(names) - 1 else None,
                )
            )
        conn.execute(
            insert(heartbeats),
            [
                {"name": "run@host-a", "mode": "embedded", "last_seen": now - timedelta(seconds=9)},
            ],
        )

    span = days * 86400
    post_rows: list[dict[str, Any]] = []
    delivery_rows: list[dict[str, Any]] = []
    history_rows: list[dict[str, Any]] = []
    delivery_id = 0
    for post_ref in range(1, post_count + 1):
        # Newer posts are more frequent (a growing blog), and ids follow time.
        age = span * (1 - (post_ref / post_count)) ** 1.3
        detected = now - timedelta(seconds=age + rng.random() * 60)
        site = site_names[post_ref % len(site_names)]
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9))).capitalize()
        link = f"https://{site}.example/?p={10000 + post_ref}"
        post_rows.append(
            {
                "id": post_ref,
                "site": site,
                "post_id": 10000 + post_ref,
                "title": title,
                "link": link,
                "date_gmt": detected - timedelta(seconds=30),
                "detected_at": detected,
                "shared": True,
                "source": None,
            }
        )
        for account in names:
            delivery_id += 1
            status = _status(rng)
            attempts = {"published": rng.choice((1, 1, 1, 2)), "skipped": 0, "queued": 0}.get(
                status, rng.randint(1, 8)
            )
            kind = None
            error = None
            if status in ("failed", "retry_wait"):
                kind = rng.choice(("transient", "rejected", "auth", "rate_limited"))
                error = ERRORS[kind]
            elif status == "unconfirmed":
                kind, error = "ambiguous", ERRORS["ambiguous"]
            elif status == "skipped":
                error = "rop_publish_now is 'no' in the post's meta"
            finished = detected + timedelta(seconds=rng.randint(1, 600))
            remote = (
                f"https://{account}.example/@me/{delivery_id}" if status == "published" else None
            )
            text = f"{title}\n\nRead more on {site}.\n\n{link}\n#{rng.choice(WORDS)}"
            delivery_rows.append(
                {
                    "id": delivery_id,
                    "post_ref": post_ref,
                    "account": account,
                    "network": account_networks[account],
                    "status": status,
                    "attempts": attempts,
                    "idempotency_key": f"key-{delivery_id}",
                    "created_at": detected,
                    "updated_at": finished,
                    "retry_at": (
                        now + timedelta(seconds=rng.randint(30, 6 * 3600))
                        if status == "retry_wait"
                        else None
                    ),
                    "message": {"text": text, "length": len(text), "link": link}
                    if attempts
                    else None,
                    "remote_url": remote,
                    "remote_id": str(delivery_id) if remote else None,
                    "last_error_kind": kind,
                    "last_error": error,
                }
            )
            history_rows.append(
                {
                    "delivery_id": delivery_id,
                    "timestamp": detected,
                    "attempt": 0,
                    "status": "skipped" if status == "skipped" else "queued",
                    "error": error if status == "skipped" else None,
                }
            )
            for attempt in range(1, attempts + 1):
                last = attempt == attempts
                entry_status = {
                    "published": "success",
                    "failed": "error",
                    "unconfirmed": "unconfirmed",
                }.get(status, "retrying")
                history_rows.append(
                    {
                        "delivery_id": delivery_id,
                        "timestamp": detected + timedelta(seconds=attempt * 40),
                        "attempt": attempt,
                        "status": entry_status if last else "retrying",
                        "error_kind": (kind if last else "transient")
                        if entry_status != "success" or not last
                        else None,
                        "error": (error if last else ERRORS["transient"])
                        if entry_status != "success" or not last
                        else None,
                        "remote_url": remote if last else None,
                        "duration_ms": rng.randint(80, 1900),
                    }
                )
    with engine.begin() as conn:
        for table, rows in ((posts, post_rows), (deliveries, delivery_rows)):
            for start in range(0, len(rows), batch):
                conn.execute(insert(table), rows[start : start + batch])
        # History rows have different key sets (optional columns): fill them in.
        keys = ("error_kind", "error", "remote_url", "duration_ms")
        for row in history_rows:
            for key in keys:
                row.setdefault(key, None)
        for start in range(0, len(history_rows), batch):
            conn.execute(insert(history), history_rows[start : start + batch])
