"""The link a message carries: the post's permalink, with UTM tags if wanted,
through the account's shortener if it has one."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import TypeGuard, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

Shortener = Callable[[str], object]


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


@functools.lru_cache(maxsize=32)
def load_shortener(path: str) -> Shortener:
    """The callable named by ``module.path:function``; raises ``ValueError``
    saying what is wrong (the settings turn that into a config error)."""
    module_name, sep, attribute = path.strip().partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"must name a callable as module.path:function, not {path!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or the module's own error at import
        raise ValueError(f"cannot import {module_name!r} ({type(exc).__name__}: {exc})") from None
    target: object = module
    for part in attribute.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise ValueError(f"{module_name!r} has no {attribute!r}")
    if not callable(target):
        raise ValueError(f"{path!r} is not callable")
    return cast(Shortener, target)


def is_web_url(value: object) -> TypeGuard[str]:
    """Whether ``value`` is an absolute http(s) URL with a host and no spaces."""
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
