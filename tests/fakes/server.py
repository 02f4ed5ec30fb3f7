"""A base for fake network servers: a real HTTP server on 127.0.0.1 in a thread.

A fake answers as its network documents (a subclass's ``route``), records every
request it received so a test can count copies, and has fault switches that a
test sets before the call it wants to break:

``fail_next(count, status, body, headers, after_processing=False)``
    answer the next ``count`` matching requests with a canned reply, without
    acting on them (what a proxy or an overloaded front end does), or, with
    ``after_processing=True``, after acting on them (a server that created the
    post and then failed while answering).
``delay_next(seconds, count)``
    sleep before acting on and answering the next requests; a client with a
    shorter timeout gives up while the server still acts (a slow success).
``close_before_processing(count)``
    read the request, then close the connection without acting or answering.
``drop_after_processing(count)``
    act on the request (create the post), then close without answering: the
    request took effect but the client never hears so.

Every switch takes an optional ``path`` prefix and ``method`` so that, say,
only ``POST /api/v1/statuses`` is broken.  The standard library server is used
(not an ASGI one) because dropping a connection at a chosen moment is a plain
socket operation there.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

JsonBody = dict[str, Any] | list[Any]


@dataclass
class Recorded:
    """One request as the fake received it.  ``fault`` names the switch that
    handled it (``None`` when the fake answered normally)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    fault: str | None = None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int
    body: bytes | str | JsonBody = b""
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if isinstance(self.body, bytes):
            return self.body, headers
        if isinstance(self.body, str):
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            return self.body.encode("utf-8"), headers
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
        return json.dumps(self.body).encode("utf-8"), headers


@dataclass
class _Fault:
    kind: str  # "reply" | "reply_after" | "delay" | "close_before" | "drop_after"
    remaining: int
    path: str | None
    method: str | None
    reply: Reply | None = None
    seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        if self.remaining <= 0:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path is None or path.startswith(self.path)


class FakeServer:
    """Subclass and implement ``route``; use ``start``/``stop`` (or the fixtures)."""

    name = "fake"

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeServer:
        handler = _make_handler(self)
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        # Threads stuck in a delay must not keep the test process alive.
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ switches
    def fail_next(
        self,
        count: int,
        status: int,
        body: bytes | str | JsonBody = b"",
        headers: dict[str, str] | None = None,
        *,
        path: str | None = None,
        method: str | None = None,
        after_processing: bool = False,
    ) -> None:
        kind = "reply_after" if after_processing else "reply"
        self._add(_Fault(kind, count, path, method, reply=Reply(status, body, headers or {})))

    def delay_next(
        self, seconds: float, count: int = 1, *, path: str | None = None, method: str | None = None
    ) -> None:
        self._add(_Fault("delay", count, path, method, seconds=seconds))

    def close_before_processing(
        self, count: int = 1, *, path: str | None = None, method: str | None = None
    ) -> None:
        self._add(_Fault("close_before", count, path, method))

    def drop_after_processing(
        self, count: int = 1, *, path: str | None = None, method: str | None = None
    ) -> None:
        self._add(_Fault("drop_after", count, path, method))

    def reset_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    return fault
        return None

    # ------------------------------------------------------------------ queries
    def requests_to(self, path: str, method: str | None = None) -> list[Recorded]:
        with self._lock:
            return [
                r
                for r in self.requests
                if r.path == path and (method is None or r.method == method.upper())
            ]

    # ------------------------------------------------------------------ behaviour
    def route(self, request: Recorded) -> Reply:
        """The network's answer to one request that reached it; each fake
        overrides this.  A bare server knows no route."""
        return Reply(404, {"error": f"no route for {request.method} {request.path}"})

    def _serve(self, request: Recorded) -> Reply | None:
        """Apply the fault switches around ``route``; ``None`` means hang up."""
        fault = self._take_fault(request.method, request.path)
        if fault is not None:
            request.fault = fault.kind
        with self._lock:
            self.requests.append(request)
        if fault is None:
            return self.route(request)
        if fault.kind == "close_before":
            return None
        if fault.kind == "reply":
            assert fault.reply is not None
            return fault.reply
        if fault.kind == "reply_after":
            assert fault.reply is not None
            self.route(request)
            return fault.reply
        if fault.kind == "delay":
            time.sleep(fault.seconds)
            return self.route(request)
        # drop_after: the network acts, the answer is lost.
        self.route(request)
        return None


def _make_handler(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so a dropped connection never
        # leaves a half-used keep-alive socket in the client's pool.
        protocol_version = "HTTP/1.0"
        server_version = f"{fake.name}/1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Recorded(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            reply = fake._serve(request)
            if reply is None:
                self._hang_up()
                return
            payload, headers = reply.encoded()
            self.send_response(reply.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _hang_up(self) -> None:
            # Close without a byte of answer; the client sees the server
            # disconnect after its request was sent.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        do_GET = _handle
        do_POST = _handle
        do_PUT = _handle
        do_PATCH = _handle
        do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            # Quiet: pytest shows the recorded requests when a test needs them.
            pass

    return Handler


def free_port() -> int:
    """A port that nothing listens on (for "server is down" tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
