"""A fake provider on 127.0.0.1 for tests: real HTTP, answers a test scripts.

Register handlers by method and path; each gets a :class:`Call` (method, path, query,
JSON body, headers) and returns ``(status, body)`` or ``(status, body, headers)``, or
just a body for 200. Every request is recorded in ``calls``, so a test can check what
the plugin sent. Used by Kontor's own plugin tests and shipped to plugin authors
through the ``fake_provider`` pytest fixture.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class Call:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    json: Any
    headers: dict[str, str]
    form: dict[str, list[str]] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter `name`."""
        values = self.query.get(name)
        return values[0] if values else default


Handler = Callable[[Call], Any]


class FakeProvider:
    """A WSGI app served on a free loopback port in a thread (start() / stop())."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.calls: list[Call] = []
        self._server = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def route(self, method: str, path: str, handler: Handler | None = None):
        """Answer `method` `path` with `handler` (usable as a decorator)."""

        def register(fn: Handler) -> Handler:
            self.routes[(method.upper(), path)] = fn
            return fn

        return register(handler) if handler is not None else register

    def json(self, method: str, path: str, body: Any, status: int = 200) -> None:
        """Always answer `body` as JSON."""
        self.route(method, path, lambda _call: (status, body))

    def calls_to(self, path: str, method: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.path == path and (method is None or c.method == method)]

    def __call__(self, environ, start_response):
        request = Request(environ)
        body: Any = None
        raw = request.get_data()
        form: dict[str, list[str]] = {}
        if raw and request.mimetype == "application/json":
            body = json.loads(raw)
        elif raw and request.mimetype == "application/x-www-form-urlencoded":
            form = parse_qs(raw.decode())
        call = Call(
            request.method,
            request.path,
            parse_qs(request.query_string.decode()),
            body,
            {k.lower(): v for k, v in request.headers.items()},
            form,
        )
        self.calls.append(call)
        handler = self.routes.get((request.method, request.path))
        if handler is None:
            answer: Any = (404, {"error": {"code": 404, "message": f"no route {request.path}"}})
        else:
            answer = handler(call)
        if isinstance(answer, Response):
            return answer(environ, start_response)
        status, payload, headers = 200, answer, {}
        if isinstance(answer, tuple):
            status, payload = answer[0], answer[1]
            headers = answer[2] if len(answer) > 2 else {}
        if payload is None:
            response = Response(b"", status=status, headers=headers)
        elif isinstance(payload, str | bytes):
            response = Response(payload, status=status, headers=headers)
        else:
            response = Response(
                json.dumps(payload), status=status, headers=headers, mimetype="application/json"
            )
        return response(environ, start_response)

    def start(self) -> FakeProvider:
        self._server = make_server("127.0.0.1", 0, self, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
