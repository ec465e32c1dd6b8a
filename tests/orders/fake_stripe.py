"""A fake Stripe API on 127.0.0.1 for tests that count what reaches Stripe.

It answers the calls the product makes (``POST /v1/payment_intents``, ``POST /v1/refunds``,
``POST /v1/payment_intents/<id>/cancel``) with the JSON the official ``stripe`` library
reads, replays the first answer for a repeated Idempotency-Key as Stripe does, and records
every accepted connection and every request. Rules make it misbehave: answer a given HTTP
status with a Stripe error body, or hang (accept the connection, read the request and never
answer) until the server is closed. Errors carry ``Stripe-Should-Retry: false``, as Stripe
sends for most, so the client library makes one call per attempt.

    with FakeStripe() as fake:
        app = make_app(STRIPE_SECRET_KEY="sk_test_x", STRIPE_API_BASE=fake.url)
        fake.add_rule("/v1/refunds", status=404, when={"payment_intent": "pi_gone"})
        ...
        assert fake.count("/v1/refunds") == 8
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

HANG_LIMIT_SECONDS = 60  # a hanging handler gives up by itself if the server is never closed


@dataclass(frozen=True)
class Call:
    """One request the fake received."""

    method: str
    path: str
    idempotency_key: str | None
    params: dict[str, str]
    status: int | None  # what it answered; None when it hung


@dataclass
class Rule:
    """Misbehave for requests to ``path`` (exactly) whose form parameters include ``when``:
    answer ``status`` with a Stripe error, or hang. ``times`` limits how often it applies."""

    path: str
    status: int | None = None
    hang: bool = False
    when: dict[str, str] = field(default_factory=dict)
    times: int | None = None

    def matches(self, path: str, params: dict[str, str]) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        return path == self.path and all(params.get(k) == v for k, v in self.when.items())


ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "card_error",
               403: "invalid_request_error", 404: "invalid_request_error", 409: "idempotency_error",
               429: "rate_limit_error"}


class FakeStripe:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.connections = 0
        self.rules: list[Rule] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._replies: dict[tuple[str, str], tuple[int, dict]] = {}
        self._release = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-stripe", daemon=True)

    # ------------------------------------------------------------------ control

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeStripe:
        self._thread.start()
        return self

    def close(self) -> None:
        self._release.set()  # hanging handlers end and drop their connections
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def add_rule(self, path: str, *, status: int | None = None, hang: bool = False,
                 when: dict[str, str] | None = None, times: int | None = None) -> Rule:
        if (status is None) == (not hang):
            raise ValueError("a rule either answers a status or hangs")
        rule = Rule(path, status=status, hang=hang, when=dict(when or {}), times=times)
        with self._lock:
            self.rules.append(rule)
        return rule

    def hang_everything(self) -> None:
        for path in ("/v1/refunds", "/v1/payment_intents"):
            self.add_rule(path, hang=True)

    def clear_rules(self) -> None:
        with self._lock:
            self.rules.clear()

    # ------------------------------------------------------------------ reading

    def requests(self, path: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if path is None or c.path == path]

    def count(self, path: str | None = None, **params: str) -> int:
        return sum(1 for c in self.requests(path) if all(c.params.get(k) == v for k, v in params.items()))

    # ---------------------------------------------------------------- answering

    def _connected(self) -> None:
        with self._lock:
            self.connections += 1

    def _answer(self, method: str, path: str, key: str | None, params: dict[str, str]) -> tuple[int, dict] | None:
        """The status and JSON body to send, or None to hang."""
        with self._lock:
            rule = next((r for r in self.rules if r.matches(path, params)), None)
            if rule is not None and rule.times is not None:
                rule.times -= 1
        if rule is not None and rule.hang:
            self._record(Call(method, path, key, params, None))
            return None
        if rule is not None:
            reply = (rule.status, {"error": {
                "type": ERROR_TYPES.get(rule.status, "api_error"), "code": f"fake_{rule.status}",
                "message": f"The fake refused this request with {rule.status}."}})
        else:
            with self._lock:
                replayed = self._replies.get((path, key)) if key else None
            reply = replayed or self._create(method, path, params)
            if key and reply[0] == 200:
                with self._lock:
                    reply = self._replies.setdefault((path, key), reply)
        self._record(Call(method, path, key, params, reply[0]))
        return reply

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def _create(self, method: str, path: str, params: dict[str, str]) -> tuple[int, dict]:
        metadata = {k[len("metadata["):-1]: v for k, v in params.items() if k.startswith("metadata[")}
        n = next(self._ids)
        if method == "POST" and path == "/v1/payment_intents":
            intent_id = f"pi_fake_{n}"
            return 200, {"id": intent_id, "object": "payment_intent", "amount": int(params.get("amount", 0)),
                         "currency": params.get("currency", "cop"), "status": "requires_payment_method",
                         "client_secret": f"{intent_id}_secret_{n:06d}", "metadata": metadata, "livemode": False}
        if method == "POST" and path.startswith("/v1/payment_intents/") and path.endswith("/cancel"):
            return 200, {"id": path.split("/")[3], "object": "payment_intent", "status": "canceled",
                         "livemode": False}
        if method == "POST" and path == "/v1/refunds":
            return 200, {"id": f"re_fake_{n}", "object": "refund", "amount": int(params.get("amount", 0)),
                         "payment_intent": params.get("payment_intent"), "status": "succeeded",
                         "metadata": metadata, "livemode": False}
        return 404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL ({path})."}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, fake: FakeStripe):
        self.fake = fake
        super().__init__(address, handler)

    def verify_request(self, request, client_address) -> bool:
        self.fake._connected()  # noqa: SLF001 - the server is the fake's own
        return True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        path = self.path.split("?", 1)[0]
        params = dict(parse_qsl(body, keep_blank_values=True))
        fake = self.server.fake
        reply = fake._answer(self.command, path, self.headers.get("Idempotency-Key"), params)  # noqa: SLF001
        if reply is None:
            fake._release.wait(HANG_LIMIT_SECONDS)  # noqa: SLF001
            self.close_connection = True
            return
        status, payload = reply
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_fake_{len(fake.calls)}")
        if status >= 400:
            # As Stripe does for most errors: sending the same request again now would not help,
            # so the client library does not retry at once (the worker's back-off decides).
            self.send_header("Stripe-Should-Retry", "false")
        self.end_headers()
        self.wfile.write(data)

    do_POST = _handle
    do_GET = _handle
    do_DELETE = _handle
