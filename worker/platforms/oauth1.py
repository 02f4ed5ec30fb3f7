"""OAuth 1.0a request signing (RFC 5849, HMAC-SHA1), as X's user context wants it.

Only what a client needs: the ``Authorization: OAuth …`` header for one
request.  The signature covers the method, the base URL, the query string and
the ``oauth_*`` parameters, and a form-encoded body if there is one.  A JSON
body is *not* signed: RFC 5849 §3.4.1.3.1 only takes the body when it is
``application/x-www-form-urlencoded``, and X follows that (its v2 JSON
endpoints are signed without the body).

Checked against two published vectors (see ``tests/test_x.py``): X's
"Creating a signature" page and OAuth Core 1.0a Appendix A.5.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit


def percent_encode(value: str) -> str:
    """RFC 5849 §3.6: UTF-8, then every byte but the unreserved set escaped."""
    return quote(value, safe="-._~")


def base_string_uri(url: str) -> str:
    """RFC 5849 §3.4.1.2: scheme and host in lower case, default port dropped,
    no query or fragment."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, parts.path or "/", "", ""))


def signature_base_string(method: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """``METHOD&uri&params``; ``params`` are raw (decoded) name/value pairs from
    the query, the form body and the protocol, without ``oauth_signature``."""
    encoded = sorted((percent_encode(k), percent_encode(v)) for k, v in params)
    normalized = "&".join(f"{k}={v}" for k, v in encoded)
    return "&".join(
        (method.upper(), percent_encode(base_string_uri(url)), percent_encode(normalized))
    )


def hmac_sha1(base_string: str, consumer_secret: str, token_secret: str) -> str:
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def authorization_header(
    method: str,
    url: str,
    *,
    consumer_key: str,
    consumer_secret: str,
    token: str,
    token_secret: str,
    form: Mapping[str, str] | None = None,
    nonce: str | None = None,
    timestamp: int | None = None,
) -> str:
    """The ``Authorization`` value for one request.

    ``form`` is the body only when it is form-encoded; leave it out for JSON.
    ``nonce`` and ``timestamp`` are for reproducing published examples: every
    real request gets a fresh nonce, which the server uses to refuse replays.
    """
    protocol = {
        "oauth_consumer_key": consumer_key,
        "oauth_nonce": nonce if nonce is not None else secrets.token_hex(16),
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": str(timestamp if timestamp is not None else int(time.time())),
        "oauth_token": token,
        "oauth_version": "1.0",
    }
    params = list(protocol.items())
    params += parse_qsl(urlsplit(url).query, keep_blank_values=True)
    params += list((form or {}).items())
    base = signature_base_string(method, url, params)
    protocol["oauth_signature"] = hmac_sha1(base, consumer_secret, token_secret)
    return "OAuth " + ", ".join(
        f'{percent_encode(k)}="{percent_encode(v)}"' for k, v in sorted(protocol.items())
    )
