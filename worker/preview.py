"""What each account would send for one post, without sending anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from worker.errors import ConfigError, PublishError, SkipPost, SourceError
from worker.models import SourcePost
from worker.platforms.configured import ConfiguredAdapters
from worker.settings import Settings
from worker.sources.wordpress import WordPressSource


@dataclass(frozen=True)
class Preview:
    account: str
    network: str
    text: str | None
    length: int | None
    limit: int | None
    counting: str
    card: dict[str, Any] | None
    problem: str | None

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def find_post(source: WordPressSource, ref: str) -> SourcePost:
    """A post by id, by ``?p=ID`` link, or by the slug of a pretty permalink."""
    root = source.discover_root()
    ref = ref.strip()
    post_id: int | None = int(ref) if ref.isdigit() else None
    if post_id is None:
        query = parse_qs(urlsplit(ref).query)
        if query.get("p", [""])[0].isdigit():
            post_id = int(query["p"][0])
    if post_id is not None:
        found = source.fetch(root, [post_id])
        if found:
            return found[0]
        raise SourceError(f"site {source.name!r}: no published post with id {post_id}")
    slug = [part for part in urlsplit(ref).path.split("/") if part]
    post = source.find_by_slug(root, slug[-1]) if slug else None
    if post is None:
        raise SourceError(f"site {source.name!r}: no published post at {ref!r}")
    return post


def preview_post(
    settings: Settings, ref: str, *, site: str | None, http: httpx.Client
) -> tuple[SourcePost, list[Preview]]:
    if not settings.sites:
        raise ConfigError("SITES__<NAME>__URL: no site configured")
    if site is None:
        if len(settings.sites) > 1 and not ref.startswith(("http://", "https://")):
            raise ConfigError(
                f"--site: say which site post {ref} is on ({', '.join(sorted(settings.sites))})"
            )
        site = next(
            (name for name, s in settings.sites.items() if ref.startswith(s.url)),
            next(iter(sorted(settings.sites))),
        )
    if site not in settings.sites:
        raise ConfigError(f"--site: no site named {site!r}")
    post = find_post(WordPressSource(site, settings.sites[site], http), ref)
    adapters = ConfiguredAdapters(settings.accounts, http)
    previews: list[Preview] = []
    for name, account in sorted(settings.accounts.items()):
        adapter = adapters.get(name)
        if adapter is None or not account.enabled or not account.applies_to(site):
            continue
        try:
            rule = adapter.length_rule(post)
            message = adapter.compose(post)
        except SkipPost as skip:
            previews.append(
                Preview(
                    name,
                    account.network,
                    None,
                    None,
                    None,
                    adapter.facts.counting,
                    None,
                    f"skipped: {skip.reason}",
                )
            )
            continue
        except PublishError as error:
            previews.append(
                Preview(
                    name,
                    account.network,
                    None,
                    None,
                    None,
                    adapter.facts.counting,
                    None,
                    adapter.redact(str(error)),
                )
            )
            continue
        previews.append(
            Preview(
                account=name,
                network=account.network,
                text=message.text,
                length=message.length,
                limit=rule.limit,
                counting=adapter.facts.counting,
                card=message.card.__dict__.copy() if message.card else None,
                problem=None,
            )
        )
    return post, previews
