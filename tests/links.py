"""Matching shared links back to posts, whatever campaign tags were added."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_URL = re.compile(r"https?://\S+")


def canonical(url: str) -> str:
    """``url`` without its utm_* parameters."""
    parts = urlsplit(url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.startswith("utm_")
    ]
    return urlunsplit(parts._replace(query=urlencode(query, safe="/:")))


def links_in(text: str) -> set[str]:
    """Every URL in ``text``, canonical."""
    return {canonical(url.rstrip(".,;)")) for url in _URL.findall(text)}


def shares(text: str, link: str) -> bool:
    """Whether ``text`` carries the post ``link`` (exactly, not a longer id)."""
    return canonical(link) in links_in(text)
