"""The link a message carries: the post's permalink, with UTM tags if wanted."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def tracked_link(link: str, *, source: str, medium: str, campaign: str) -> str:
    """``link`` with ``utm_source``/``utm_medium``/``utm_campaign`` added.

    The post's own query (``?p=15004`` on plain-permalink sites) is kept as it
    is, and UTM values already in the link win: a site that tags its own
    links knows best.
    """
    parts = urlsplit(link)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _ in query}
    for key, value in (
        ("utm_source", source),
        ("utm_medium", medium),
        ("utm_campaign", campaign),
    ):
        if value and key not in present:
            query.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(query, safe="/:")))
