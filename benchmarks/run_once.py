"""How long `crosspost run --once` takes to share 10 new posts to 3 accounts.

Starts the real WordPress and Bluesky PDS harnesses, a fake Mastodon and a
webhook receiver, seeds ten posts, and times the command a cron job would
run, from process start to exit.  Prints one line per round and a summary.

    .venv/bin/python -m benchmarks.run_once [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from tests.fakes.fixtures import WEBHOOK_SECRET
from tests.fakes.mastodon import FakeMastodon
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.harness.bluesky_fixture import start_testbed, stop_testbed
from tests.harness.services import CrosspostProcess, write_env
from tests.harness.wordpress_fixture import start_harness, stop_harness
from tests.test_end_to_end import seed_ten_posts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="crosspost-bench-"))
    wordpress = start_harness(work / "wp", pretty=False)
    bluesky = start_testbed()
    mastodon = FakeMastodon().start()
    receiver = WebhookReceiver(WEBHOOK_SECRET).start()
    timings: list[float] = []
    try:
        for round_number in range(1, args.rounds + 1):
            folder = work / f"round-{round_number}"
            folder.mkdir()
            crosspost = CrosspostProcess(env_file=folder / ".env", log_dir=folder)
            write_env(
                crosspost.env_file,
                {
                    "DATABASE_URL": f"sqlite:///{folder / 'crosspost.db'}",
                    "SITES__BLOG__URL": wordpress.url,
                    "ACCOUNTS__MASTO__NETWORK": "mastodon",
                    "ACCOUNTS__MASTO__BASE_URL": mastodon.url,
                    "ACCOUNTS__MASTO__ACCESS_TOKEN": mastodon.token,
                    "ACCOUNTS__SKY__NETWORK": "bluesky",
                    "ACCOUNTS__SKY__IDENTIFIER": bluesky.handle,
                    "ACCOUNTS__SKY__APP_PASSWORD": bluesky.app_password,
                    "ACCOUNTS__SKY__PDS_URL": bluesky.pds_url,
                    "ACCOUNTS__HOOK__NETWORK": "webhook",
                    "ACCOUNTS__HOOK__URL": receiver.hook_url,
                    "ACCOUNTS__HOOK__SECRET": WEBHOOK_SECRET,
                },
            )
            crosspost.run("run", "--once")  # first contact: baseline
            seed_ten_posts(wordpress.admin(), f"bench{round_number}")
            before = len(mastodon.statuses)
            started = time.perf_counter()
            crosspost.run("run", "--once")
            elapsed = time.perf_counter() - started
            shared = len(mastodon.statuses) - before
            assert shared == 10, f"expected 10 new statuses, got {shared}"
            timings.append(elapsed)
            print(f"round {round_number}: 10 posts x 3 accounts in {elapsed:.2f} s")
    finally:
        receiver.stop()
        mastodon.stop()
        stop_testbed()
        stop_harness(work / "wp")
    print(
        f"run --once, 10 posts x 3 accounts (30 deliveries): "
        f"median {statistics.median(timings):.2f} s, min {min(timings):.2f} s, "
        f"max {max(timings):.2f} s over {len(timings)} rounds"
    )


if __name__ == "__main__":
    main()
