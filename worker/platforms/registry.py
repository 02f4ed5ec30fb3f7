"""Every network Crosspost can publish to, by its ``network`` name."""

from __future__ import annotations

from worker.platforms.base import Adapter
from worker.platforms.bluesky import BlueskyAdapter
from worker.platforms.discord import DiscordAdapter
from worker.platforms.facebook import FacebookAdapter
from worker.platforms.instagram import InstagramAdapter
from worker.platforms.linkedin import LinkedInAdapter
from worker.platforms.mastodon import MastodonAdapter
from worker.platforms.telegram import TelegramAdapter
from worker.platforms.threads import ThreadsAdapter
from worker.platforms.webhook import WebhookAdapter
from worker.platforms.x import XAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    adapter.facts.network: adapter
    for adapter in (
        MastodonAdapter,
        BlueskyAdapter,
        WebhookAdapter,
        XAdapter,
        LinkedInAdapter,
        TelegramAdapter,
        DiscordAdapter,
        FacebookAdapter,
        InstagramAdapter,
        ThreadsAdapter,
    )
}
