"""Every network Crosspost can publish to, by its ``network`` name."""

from __future__ import annotations

from worker.platforms.base import Adapter
from worker.platforms.bluesky import BlueskyAdapter
from worker.platforms.mastodon import MastodonAdapter
from worker.platforms.webhook import WebhookAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    adapter.facts.network: adapter for adapter in (MastodonAdapter, BlueskyAdapter, WebhookAdapter)
}
