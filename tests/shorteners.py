"""Link shorteners for tests, named in settings as ``tests.shorteners:<name>``."""

from __future__ import annotations

import hashlib

calls: list[str] = []


def short(link: str) -> str:
    """A stable short link: ``https://sho.rt/`` and eight hex digits of the link's hash."""
    calls.append(link)
    return "https://sho.rt/" + hashlib.sha256(link.encode()).hexdigest()[:8]


def broken(link: str) -> str:
    """A shortener whose service is down."""
    raise ConnectionError("sho.rt is down (token=shortener-secret-123)")


def not_a_url(link: str) -> str:
    """A shortener that answers with an error page's text."""
    return "<html>502 Bad Gateway</html>"


NOT_CALLABLE = "https://sho.rt/"
