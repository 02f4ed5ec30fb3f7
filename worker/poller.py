"""Sources → posts → deliveries.

Each poll reads a site's posts from ``cursor - overlap`` on and de-duplicates
by post id: a scheduled post goes live carrying its scheduled date, which can
be older than the last poll, so a strict cursor would miss it.  A post already
stored is never shared again, whatever was edited.  The first contact with a
site is a baseline: what is there is remembered, not shared (except a
configured backfill of the newest few).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Connection, Engine

from worker.backoff import retry_delay
from worker.compose.text import html_to_text
from worker.errors import SourceError
from worker.models import DeliveryStatus, SourcePost
from worker.platforms.registry import ADAPTERS
from worker.settings import Settings, SiteSettings
from worker.sources.wordpress import PostStub, WordPressSource
from worker.store import deliveries as delivery_store
from worker.store import posts as post_store
from worker.store import sites as site_store

log = logging.getLogger(__name__)

# A site that fails is tried again after 30 s, 1 min, 2 min, … up to an hour.
SITE_RETRY_BASE = 30.0
SITE_RETRY_CAP = 3600.0


def skip_reason(post: SourcePost) -> str | None:
    """Why the post's own settings say not to share it, if they do."""
    meta = post.meta
    if str(meta.get("rop_publish_now", "")).lower() == "no":
        return 'post meta rop_publish_now is "no"'
    if meta.get("jetpack_publicize_feature_enabled") is False:
        return "post meta jetpack_publicize_feature_enabled is false"
    return None


class Poller:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        http: httpx.Client,
        clock: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.http = http
        self.clock = clock

    def poll_due(self, *, force: bool = False) -> list[int]:
        """Poll every enabled site whose turn has come; return new delivery ids."""
        now = self.clock()
        created: list[int] = []
        for name, site in sorted(self.settings.sites.items()):
            if not site.enabled:
                continue
            with self.engine.begin() as conn:
                state = site_store.get_site(conn, name)
            if not force and state.next_poll_at is not None and state.next_poll_at > now:
                continue
            created.extend(self.poll_site(name))
        return created

    def poll_site(self, name: str) -> list[int]:
        """One poll of one site.  A failing site is logged and retried later;
        it never stops the others."""
        site = self.settings.sites[name]
        source = WordPressSource(name, site, self.http)
        with self.engine.begin() as conn:
            state = site_store.get_site(conn, name)
        try:
            root = state.api_root or source.discover_root()
            if not state.baseline_done:
                return self._baseline(name, site, source, root)
            return self._poll(name, site, source, root, state.cursor)
        except SourceError as exc:
            self._record_failure(name, str(exc), state.failures + 1)
            return []

    # ------------------------------------------------------------------ steps
    def _baseline(
        self, name: str, site: SiteSettings, source: WordPressSource, root: str
    ) -> list[int]:
        now = self.clock()
        window = source.list_since(root, now - timedelta(hours=site.overlap_hours))
        newest = source.newest(root, max(site.backfill, 1))
        backfill_ids = {stub.post_id for stub in newest[: site.backfill]}
        stubs = {stub.post_id: stub for stub in [*window, *newest]}
        backfill = source.fetch(root, sorted(backfill_ids)) if backfill_ids else []
        created: list[int] = []
        with self.engine.begin() as conn:
            for stub in stubs.values():
                if stub.post_id not in backfill_ids:
                    post_store.record_baseline(conn, name, stub.post_id, stub.date_gmt, now=now)
            for post in backfill:
                created.extend(self._share(conn, post, now))
            site_store.update_site(
                conn,
                name,
                api_root=root,
                baseline_done=True,
                cursor=_newest_date(stubs.values()) or now,
                **self._success(now),
            )
        log.info(
            "site %s: first contact, %d existing posts remembered, %d backfilled",
            name,
            len(stubs) - len(backfill_ids),
            len(backfill),
        )
        return created

    def _poll(
        self,
        name: str,
        site: SiteSettings,
        source: WordPressSource,
        root: str,
        cursor: datetime | None,
    ) -> list[int]:
        now = self.clock()
        since = (cursor or now) - timedelta(hours=site.overlap_hours)
        stubs = source.list_since(root, since)
        with self.engine.begin() as conn:
            known = post_store.known_post_ids(conn, name, [s.post_id for s in stubs])
        fresh = [s.post_id for s in stubs if s.post_id not in known]
        posts = source.fetch(root, fresh) if fresh else []
        created: list[int] = []
        with self.engine.begin() as conn:
            for post in posts:
                created.extend(self._share(conn, post, now))
            seen = [d for d in (cursor, _newest_date(stubs)) if d is not None]
            new_cursor = max(seen) if seen else now
            site_store.update_site(
                conn, name, api_root=root, cursor=new_cursor, **self._success(now)
            )
        if posts:
            log.info("site %s: %d new posts, %d deliveries", name, len(posts), len(created))
        return created

    def _share(self, conn: Connection, post: SourcePost, now: datetime) -> list[int]:
        """Store a new post and create its deliveries, one per enabled account."""
        post_ref = post_store.record_new(
            conn, post, html_to_text(post.title_html, paragraphs=False), now=now
        )
        if post_ref is None:
            return []  # another poller got here first: it fans out, not us
        reason = skip_reason(post)
        created: list[int] = []
        for account, settings in sorted(self.settings.accounts.items()):
            if not settings.enabled or not settings.applies_to(post.site):
                continue
            delivery_id = delivery_store.create_delivery(
                conn,
                post_ref=post_ref,
                account=account,
                network=settings.network,
                idempotency_key=ADAPTERS[settings.network].new_idempotency_key(),
                now=now,
                status=DeliveryStatus.SKIPPED if reason else DeliveryStatus.QUEUED,
                reason=reason,
            )
            if delivery_id is not None and reason is None:
                created.append(delivery_id)
        return created

    def _success(self, now: datetime) -> dict[str, object]:
        return {
            "last_poll_at": now,
            "last_poll_ok": True,
            "last_error": None,
            "failures": 0,
            "next_poll_at": now + timedelta(seconds=self.settings.poll_interval_seconds),
        }

    def _record_failure(self, name: str, error: str, failures: int) -> None:
        now = self.clock()
        wait = retry_delay(failures, base=SITE_RETRY_BASE, cap=SITE_RETRY_CAP)
        with self.engine.begin() as conn:
            site_store.update_site(
                conn,
                name,
                last_poll_at=now,
                last_poll_ok=False,
                last_error=error,
                failures=failures,
                next_poll_at=now + timedelta(seconds=wait),
                # Rediscover the API next time: the site may have moved it.
                api_root=None,
            )
        log.warning(
            "site %s: poll failed (%d in a row), next try in %.0f s: %s",
            name,
            failures,
            wait,
            error,
        )


def _newest_date(stubs: Iterable[PostStub]) -> datetime | None:
    dates = [stub.date_gmt for stub in stubs]
    return max(dates) if dates else None
