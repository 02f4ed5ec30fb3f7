"""The ``crosspost`` command."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from worker.errors import ConfigError, SourceError
from worker.logs import configure_logging
from worker.settings import Settings, load_settings

if TYPE_CHECKING:
    from worker.service import Service


def _load(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.env_file)
    secrets: list[str] = []
    for account in settings.accounts.values():
        for value in account.__dict__.values():
            if hasattr(value, "get_secret_value"):
                secrets.append(value.get_secret_value())
    for site in settings.sites.values():
        if site.app_password is not None:
            secrets.append(site.app_password.get_secret_value())
    configure_logging(args.log_level or settings.log_level, secrets)
    return settings


def _service(settings: Settings) -> Service:
    from worker.service import Service

    return Service(settings)


# ---------------------------------------------------------------------- commands
def cmd_run(args: argparse.Namespace) -> int:
    from worker.dispatch import CeleryDispatcher
    from worker.runner import CycleTimeout, run_forever, run_once

    settings = _load(args)
    service = _service(settings)
    try:
        if settings.distributed:
            from worker.celery_app import make_celery

            service.use(CeleryDispatcher(make_celery(settings), settings.celery_queue))
        if args.once:
            try:
                run_once(service, local=not settings.distributed, timeout=args.timeout)
            except CycleTimeout as exc:
                print(f"crosspost: {exc}", file=sys.stderr)
                return 1
            return 0
        stop = threading.Event()

        def _stop(_signum: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        web = _start_dashboard(settings, service, args)
        try:
            if settings.distributed:
                from worker.heartbeat import heartbeat, part_name

                # Poll and sweep here; Celery workers publish.
                name = part_name("run")
                while not stop.is_set():
                    heartbeat(service, name, mode="distributed")
                    service.poll()
                    service.sweep()
                    stop.wait(min(settings.sweep_interval_seconds, settings.poll_interval_seconds))
            else:
                run_forever(service, stop)
        finally:
            if web is not None:
                web.stop()
        return 0
    finally:
        service.close()


def _start_dashboard(settings: Settings, service: Service, args: argparse.Namespace) -> Any:
    """The dashboard in a thread of ``crosspost run``, when a way to log in is set."""
    import logging

    from worker.dashboard.server import AUTH_VARIABLES, BackgroundDashboard

    log = logging.getLogger("worker.cli")
    if not settings.dashboard_configured:
        log.info("dashboard off: set %s to turn it on", AUTH_VARIABLES)
        return None
    web = BackgroundDashboard(
        settings, service.engine, reload_settings=lambda: load_settings(args.env_file)
    ).start()
    log.info("dashboard on %s/", web.url)
    return web


def cmd_dashboard(args: argparse.Namespace) -> int:
    from worker.dashboard.server import require_auth, serve
    from worker.store.database import create_db_engine, migrate

    settings = _load(args)
    require_auth(settings)
    engine = create_db_engine(settings.database_url)
    migrate(engine)
    try:
        serve(settings, engine, reload_settings=lambda: load_settings(args.env_file))
    finally:
        engine.dispose()
    return 0


def _celery(args: argparse.Namespace) -> tuple[Settings, Any, Any, Any]:
    from worker import tasks
    from worker.celery_app import make_celery
    from worker.dispatch import CeleryDispatcher

    settings = _load(args)
    if not settings.distributed:
        raise ConfigError("REDIS_URL: not set; `crosspost worker` and `beat` need a Redis broker")
    app = make_celery(settings)
    return settings, app, tasks, CeleryDispatcher


def cmd_worker(args: argparse.Namespace) -> int:
    settings, app, tasks, dispatcher = _celery(args)
    from worker.heartbeat import HeartbeatThread, part_name

    service = _service(settings)
    service.use(dispatcher(app, settings.celery_queue))
    tasks.install(service)
    # One heartbeat per worker process (its Celery hostname), for the dashboard.
    HeartbeatThread(service, part_name(f"worker-{os.getpid()}"), mode="distributed").start()
    app.worker_main(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={args.concurrency or settings.publisher_threads}",
            "--without-gossip",
            "--without-mingle",
            f"--queues={settings.celery_queue}",
            f"--loglevel={(args.log_level or settings.log_level).upper()}",
            f"--hostname=crosspost-{os.getpid()}@%h",
        ]
    )
    return 0


def cmd_beat(args: argparse.Namespace) -> int:
    settings, app, _tasks, _dispatcher = _celery(args)
    app.start(["beat", f"--loglevel={(args.log_level or settings.log_level).upper()}"])
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from worker.report import post_summaries
    from worker.store.database import create_db_engine, migrate

    settings = load_settings(args.env_file)
    engine = create_db_engine(settings.database_url)
    migrate(engine)
    with engine.connect() as conn:
        summaries = post_summaries(conn, limit=args.limit, site=args.site)
    if args.json:
        json.dump(summaries, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    if not summaries:
        print("no posts shared yet")
    for post in summaries:
        print(f"{post['site']} #{post['post_id']} [{post['publish_status']}] {post['title']}")
        print(f"    {post['link']}")
        for account, d in post["deliveries"].items():
            line = f"    {account:<16} {d['status']:<12} attempts={d['attempts']}"
            if d["remote_url"]:
                line += f"  {d['remote_url']}"
            if d["status"] != "published" and d["last_error"]:
                line += f"  {d['last_error_kind'] or ''}: {d['last_error']}"
            if d["retry_at"]:
                line += f"  retry at {d['retry_at']}"
            print(line)
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    from worker.clock import utcnow
    from worker.store.accounts import clear_hold
    from worker.store.database import create_db_engine, migrate
    from worker.store.deliveries import accounts_of, requeue

    if not (args.all or args.account or args.ids):
        print("crosspost retry: say which: --all, --account NAME or delivery ids", file=sys.stderr)
        return 2
    settings = load_settings(args.env_file)
    engine = create_db_engine(settings.database_url)
    migrate(engine)
    now = utcnow()
    with engine.begin() as conn:
        ids = requeue(conn, now=now, ids=args.ids, account=args.account)
        # A person asked: lift the wait of the accounts whose deliveries go again.
        for name in accounts_of(conn, ids) | ({args.account} if args.account else set()):
            clear_hold(conn, name, now=now)
    print(f"re-queued {len(ids)} deliveries" + (f": {', '.join(map(str, ids))}" if ids else ""))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from worker.clock import utcnow
    from worker.sources.wordpress import WordPressSource
    from worker.store.accounts import clear_hold

    settings = _load(args)
    print("configuration is valid")
    print(f"  database: {settings.redacted()['database_url']}")
    redis = settings.redacted()["redis_url"]
    print(f"  mode: {f'distributed (Celery on {redis})' if settings.distributed else 'embedded'}")
    service = _service(settings)
    failed = 0
    try:
        for name, site in sorted(settings.sites.items()):
            try:
                root = WordPressSource(name, site, service.http).discover_root()
                print(f"site {name}: ok, REST API at {root}")
            except SourceError as exc:
                failed += 1
                print(f"site {name}: FAILED: {exc}")
        for name, account in sorted(settings.accounts.items()):
            adapter = service.adapters.get(name)
            assert adapter is not None
            if not account.enabled:
                print(f"account {name} ({account.network}): disabled, not checked")
                continue
            state = "enabled"
            try:
                result = adapter.check()
            except Exception as exc:  # a probe must report, not crash
                result_ok, detail = False, adapter.redact(str(exc))
            else:
                result_ok, detail = result.ok, adapter.redact(result.detail)
                if result.expires_at:
                    detail += f" (token expires {result.expires_at.isoformat()})"
            verdict = "ok" if result_ok else "FAILED"
            print(f"account {name} ({account.network}, {state}): {verdict}: {detail}")
            if result_ok:
                with service.engine.begin() as conn:
                    clear_hold(conn, name, now=utcnow())
            else:
                failed += 1
    finally:
        service.close()
    return 1 if failed else 0


def cmd_preview(args: argparse.Namespace) -> int:
    import httpx

    from worker.preview import preview_post

    settings = _load(args)
    with httpx.Client(
        timeout=httpx.Timeout(settings.http_timeout_seconds, connect=10.0),
        headers={"User-Agent": settings.user_agent},
    ) as http:
        try:
            post, previews = preview_post(settings, args.post, site=args.site, http=http)
        except SourceError as exc:
            print(f"crosspost preview: {exc}", file=sys.stderr)
            return 1
    if args.json:
        document = {
            "site": post.site,
            "post_id": post.post_id,
            "link": post.link,
            "accounts": [p.to_json() for p in previews],
        }
        json.dump(document, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    print(f"{post.site} #{post.post_id} {post.link}")
    if not previews:
        print("no enabled account shares this site's posts")
    for p in previews:
        print(f"\n== {p.account} ({p.network})")
        if p.problem:
            print(f"   {p.problem}")
            continue
        print(f"   length {p.length} of {p.limit} ({p.counting})")
        if p.card:
            image = p.card.get("image_url") or "no image"
            print(f"   card: {p.card['title']!r}, {p.card['url']}, {image}")
        print("   ---")
        for line in (p.text or "").splitlines() or [""]:
            print(f"   {line}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from worker.store.database import create_db_engine, migrate

    settings = load_settings(args.env_file)
    migrate(create_db_engine(settings.database_url))
    print("database is up to date")
    return 0


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crosspost", description="Share new WordPress posts to social networks."
    )
    parser.add_argument("--env-file", default=".env", help="settings file (default: .env)")
    parser.add_argument("--log-level", default=None, help="overrides LOG_LEVEL")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="watch the sites and share new posts")
    run.add_argument("--once", action="store_true", help="one full cycle, then exit")
    run.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="with --once: give up after this many seconds (default 600)",
    )
    run.set_defaults(func=cmd_run)

    worker = sub.add_parser("worker", help="a Celery worker (needs REDIS_URL)")
    worker.add_argument("--concurrency", type=int, default=None)
    worker.set_defaults(func=cmd_worker)

    sub.add_parser(
        "dashboard", help="the web dashboard (needs DASHBOARD_PASSWORD or DASHBOARD_TOKEN)"
    ).set_defaults(func=cmd_dashboard)

    sub.add_parser("beat", help="the Celery beat scheduler (run one)").set_defaults(func=cmd_beat)

    status = sub.add_parser("status", help="recent posts and each account's delivery")
    status.add_argument("--json", action="store_true")
    status.add_argument("--limit", type=int, default=20)
    status.add_argument("--site", default=None)
    status.set_defaults(func=cmd_status)

    retry = sub.add_parser("retry", help="re-queue failed, unconfirmed or waiting deliveries")
    retry.add_argument("ids", nargs="*", type=int, help="delivery ids")
    retry.add_argument("--all", action="store_true")
    retry.add_argument("--account", default=None)
    retry.set_defaults(func=cmd_retry)

    preview = sub.add_parser(
        "preview", help="show each account's message for a post, without sending"
    )
    preview.add_argument("post", help="a post id, a ?p=ID link or a permalink")
    preview.add_argument("--site", default=None, help="which site (if several)")
    preview.add_argument("--json", action="store_true")
    preview.set_defaults(func=cmd_preview)

    sub.add_parser(
        "check", help="validate settings and try each account's credentials"
    ).set_defaults(func=cmd_check)
    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        func=cmd_migrate
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"crosspost: configuration error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
