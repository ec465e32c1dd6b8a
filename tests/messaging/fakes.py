"""Local fakes of Meta's WhatsApp Cloud API (Graph API) and Twilio's REST API.

Each is a small HTTP server on 127.0.0.1 in a thread that the real SDKs (``pywa`` over
httpx, ``twilio`` over requests) talk to through ``WHATSAPP_API_BASE_URL`` /
``TWILIO_API_BASE_URL``. They record every request and answer like the real APIs: message
ids such as "wamid.HBgM..." and "SM" + 32 hex digits, media look-ups and downloads, and
the real error bodies when told to (an invalid number, a closed 24-hour window, a 5xx).
Nothing reaches the network.

Also here: signatures and payloads of inbound webhooks as Meta and Twilio send them, for
tests of the webhooks and of whole conversations.

Used through the fixtures ``whatsapp_fake`` and ``twilio_fake`` (tests/messaging/conftest.py),
which point the app at them; the benchmark starts them itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from marketplace.messaging import gsm

META_TOKEN = "EAAtestFAKEtoken"
META_PHONE_ID = "106540352242922"
META_APP_SECRET = "fake-app-secret"
META_VERIFY_TOKEN = "fake-verify-token"
TWILIO_SID = "AC" + "0" * 31 + "1"
TWILIO_TOKEN = "fake-twilio-auth-token"
TWILIO_SMS_FROM = "+15005550006"
TWILIO_WHATSAPP_FROM = "+14155238886"


@dataclass
class Recorded:
    """One request the fake received: ``json`` for the Graph API, ``form`` (one value per
    key) for Twilio."""

    method: str
    path: str
    headers: dict
    json: dict | None = None
    form: dict | None = None
    query: dict = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)  # when it arrived (time.monotonic)
    answered_id: str | None = None  # the message id the fake gave back ("wamid...", "SM...")


@dataclass
class Failure:
    status: int
    code: int
    message: str
    to: str | None = None  # only for this recipient (None: the next request of any kind)
    count: int = 1


class _FakeServer:
    """A threaded HTTP server; subclasses answer in ``handle``."""

    def __init__(self):
        self.requests: list[Recorded] = []
        self.failures: list[Failure] = []
        self.delay = 0.0  # seconds each answer waits (time-out tests, benchmarks)
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without this, Nagle's algorithm and the
            # client's delayed ACK hold every answer back about 40 ms.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # keep test output quiet
                pass

            def _dispatch(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = fake.dispatch(self.command, self.path, dict(self.headers), body)
                if fake.delay:
                    time.sleep(fake.delay)
                if isinstance(payload, (dict, list)):
                    payload = json.dumps(payload).encode()
                    headers = {"Content-Type": "application/json", **headers}
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _dispatch

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def reset(self):
        with self.lock:
            self.requests.clear()
            self.failures.clear()
            self.delay = 0.0
            self._reset()

    def _reset(self):
        pass

    def fail(self, status: int, code: int, message: str, *, to: str | None = None, count: int = 1) -> None:
        """Answer the next ``count`` sends (to ``to``, or any) with this error."""
        with self.lock:
            self.failures.append(Failure(status, code, message, to, count))

    def _failure_for(self, to: str | None) -> Failure | None:
        with self.lock:
            for failure in self.failures:
                if failure.to is None or (to is not None and failure.to.lstrip("+") == to.lstrip("+")):
                    failure.count -= 1
                    if failure.count <= 0:
                        self.failures.remove(failure)
                    return failure
        return None

    def dispatch(self, method, path, headers, body):  # pragma: no cover - interface
        raise NotImplementedError


# ---------------------------------------------------------------------------- Meta


class MetaFake(_FakeServer):
    """The Graph API's WhatsApp endpoints: POST /v{version}/{phone id}/messages, GET
    /v{version}/{media id} and the media download it points to.

    ``fail(400, 131026, "Message Undeliverable.", to="573151234567")`` answers like Meta
    for an unreachable number; ``close_window(number)`` makes free text to it fail with
    131047 (re-engagement required) as Meta does after 24 hours."""

    def __init__(self, token: str = META_TOKEN, phone_id: str = META_PHONE_ID):
        super().__init__()
        self.token, self.phone_id = token, phone_id
        self.media: dict[str, tuple[bytes, str]] = {}
        self.closed_windows: set[str] = set()

    def _reset(self):
        self.media.clear()
        self.closed_windows.clear()

    # what tests read
    @property
    def messages(self) -> list[dict]:
        """The JSON body of every message sent, in order."""
        return [r.json for r in self.requests if r.method == "POST" and r.path.endswith("/messages")]

    def sent_to(self, number: str) -> list[dict]:
        return [m for m in self.messages if m.get("to", "").lstrip("+") == number.lstrip("+")]

    def add_media(self, media_id: str, data: bytes, content_type: str = "image/jpeg") -> None:
        self.media[media_id] = (data, content_type)

    def close_window(self, number: str) -> None:
        self.closed_windows.add(number.lstrip("+"))

    # answers
    @staticmethod
    def error(status: int, code: int, message: str, **extra) -> tuple[int, dict, dict]:
        return status, {}, {"error": {"message": message, "type": "OAuthException", "code": code,
                                      "fbtrace_id": "A" + secrets.token_hex(10), **extra}}

    def dispatch(self, method, path, headers, body):
        parts = urlsplit(path)
        record = Recorded(method, parts.path, headers, query=parse_qs(parts.query))
        if body and "json" in headers.get("Content-Type", headers.get("content-type", "")):
            record.json = json.loads(body)
        with self.lock:
            self.requests.append(record)
        auth = headers.get("Authorization") or headers.get("authorization")
        if auth != f"Bearer {self.token}":
            return self.error(401, 190, "Error validating access token: Session has expired.")
        segments = [s for s in parts.path.split("/") if s]
        if segments and segments[0] == "media-download" and len(segments) == 2 and method == "GET":
            if segments[1] not in self.media:
                return 404, {"Content-Type": "text/plain"}, b"not found"
            data, content_type = self.media[segments[1]]
            return 200, {"Content-Type": content_type}, data
        if len(segments) == 3 and segments[2] == "messages" and method == "POST":
            if segments[1] != self.phone_id:
                return self.error(400, 100, f"Unsupported post request. Object with ID '{segments[1]}' does not "
                                            "exist, cannot be loaded due to missing permissions, or does not "
                                            "support this operation.")
            status, headers, answer = self._send(record.json or {})
            if status == 200:
                record.answered_id = answer["messages"][0]["id"]
            return status, headers, answer
        if len(segments) == 2 and method == "GET":
            media_id = segments[1]
            if media_id not in self.media:
                return self.error(400, 100, f"Unsupported get request. Object with ID '{media_id}' does not exist.")
            data, content_type = self.media[media_id]
            return 200, {}, {"messaging_product": "whatsapp", "url": f"{self.base_url}/media-download/{media_id}",
                             "mime_type": content_type, "sha256": hashlib.sha256(data).hexdigest(),
                             "file_size": len(data), "id": media_id}
        return self.error(400, 100, "Unknown path components")

    def _send(self, payload: dict):
        to = str(payload.get("to", ""))
        if payload.get("messaging_product") != "whatsapp" or not to:
            return self.error(400, 100, "(#100) The parameter messaging_product is required.")
        failure = self._failure_for(to)
        if failure is not None:
            return self.error(failure.status, failure.code, failure.message,
                              **({"is_transient": True} if failure.status >= 500 else {}))
        if payload.get("type") in ("text", "interactive") and to.lstrip("+") in self.closed_windows:
            return self.error(400, 131047, "Re-engagement message",
                              error_data={"details": "Message failed to send because more than 24 hours have "
                                                     "passed since the customer last replied to this number."})
        message = {"id": "wamid.HBgM" + base64.b64encode(secrets.token_bytes(27)).decode().rstrip("=")}
        if payload.get("type") == "template":
            message["message_status"] = "accepted"
        return 200, {}, {"messaging_product": "whatsapp",
                         "contacts": [{"input": to, "wa_id": to.lstrip("+")}], "messages": [message]}


# ---------------------------------------------------------------------------- Twilio


class TwilioFake(_FakeServer):
    """Twilio's Messages resource (POST .../Accounts/{sid}/Messages.json) and inbound media
    (GET .../Messages/{sid}/Media/{sid}, redirected to the file as Twilio does).

    ``fail(400, 21211, "Invalid 'To' Phone Number: +57...", to="+57...")`` answers like
    Twilio for an invalid number; ``fail(500, 20500, "Internal Server Error")`` like an outage."""

    def __init__(self, sid: str = TWILIO_SID, token: str = TWILIO_TOKEN):
        super().__init__()
        self.sid, self.token = sid, token
        self.media: dict[str, tuple[bytes, str]] = {}

    def _reset(self):
        self.media.clear()

    @property
    def messages(self) -> list[dict]:
        """The form of every message created, in order (one value per field)."""
        return [r.form for r in self.requests if r.method == "POST" and r.path.endswith("/Messages.json")]

    def sent_to(self, number: str) -> list[dict]:
        return [m for m in self.messages if m.get("To", "").removeprefix("whatsapp:") == number.removeprefix("whatsapp:")]

    def add_media(self, data: bytes, content_type: str = "image/jpeg", message_sid: str | None = None) -> str:
        """Store a photo as if someone sent it; returns its MediaUrl (on api.twilio.com, as
        Twilio gives it: the provider is pointed at this fake by TWILIO_API_BASE_URL)."""
        media_sid = "ME" + secrets.token_hex(16)
        message_sid = message_sid or "MM" + secrets.token_hex(16)
        self.media[media_sid] = (data, content_type)
        return f"https://api.twilio.com/2010-04-01/Accounts/{self.sid}/Messages/{message_sid}/Media/{media_sid}"

    def _authorised(self, headers) -> bool:
        auth = headers.get("Authorization") or headers.get("authorization") or ""
        expected = "Basic " + base64.b64encode(f"{self.sid}:{self.token}".encode()).decode()
        return hmac.compare_digest(auth, expected)

    @staticmethod
    def error(status: int, code: int, message: str):
        return status, {}, {"code": code, "message": message,
                            "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}

    def dispatch(self, method, path, headers, body):
        parts = urlsplit(path)
        record = Recorded(method, parts.path, headers, query=parse_qs(parts.query))
        if body:
            record.form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        with self.lock:
            self.requests.append(record)
        segments = [s for s in parts.path.split("/") if s]
        if segments[:1] == ["files"] and len(segments) == 2:  # the redirected download: no auth
            if segments[1] not in self.media:
                return 404, {"Content-Type": "text/plain"}, b"not found"
            data, content_type = self.media[segments[1]]
            return 200, {"Content-Type": content_type}, data
        if not self._authorised(headers):
            return self.error(401, 20003, "Authenticate")
        if segments[:3] != ["2010-04-01", "Accounts", self.sid]:
            return self.error(404, 20404, f"The requested resource {parts.path} was not found")
        rest = segments[3:]
        if rest == ["Messages.json"] and method == "POST":
            status, headers, answer = self._create(record.form or {})
            if status == 201:
                record.answered_id = answer["sid"]
            return status, headers, answer
        if len(rest) == 4 and rest[0] == "Messages" and rest[2] == "Media" and method == "GET":
            media_sid = rest[3].removesuffix(".json")
            if media_sid not in self.media:
                return self.error(404, 20404, f"The requested resource {parts.path} was not found")
            return 307, {"Location": f"{self.base_url}/files/{media_sid}"}, b""
        return self.error(404, 20404, f"The requested resource {parts.path} was not found")

    def _create(self, form: dict):
        to = form.get("To", "")
        if not to:
            return self.error(400, 21604, "A 'To' phone number is required.")
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return self.error(400, 21603, "A 'From' phone number is required.")
        if not (form.get("Body") or form.get("ContentSid") or form.get("MediaUrl")):
            return self.error(400, 21602, "Message body is required.")
        failure = self._failure_for(to.removeprefix("whatsapp:"))
        if failure is not None:
            return self.error(failure.status, failure.code, failure.message)
        body = form.get("Body", "")
        segments = gsm.segments(body)[1] if body else 1
        now = formatdate(usegmt=True)
        sid = "SM" + secrets.token_hex(16)
        return 201, {}, {
            "account_sid": self.sid, "api_version": "2010-04-01", "body": body, "date_created": now,
            "date_sent": None, "date_updated": now, "direction": "outbound-api", "error_code": None,
            "error_message": None, "from": form.get("From"), "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0", "num_segments": str(segments), "price": None, "price_unit": "USD", "sid": sid,
            "status": "queued" if not form.get("MessagingServiceSid") else "accepted", "to": to,
            "uri": f"/2010-04-01/Accounts/{self.sid}/Messages/{sid}.json", "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{self.sid}/Messages/{sid}/Media.json"},
        }


# ---------------------------------------------------------------------------- inbound webhooks


def meta_signature(body: bytes, app_secret: str = META_APP_SECRET) -> str:
    """The ``X-Hub-Signature-256`` header Meta sends with a webhook body."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def meta_inbound(from_number: str, *, text: str | None = None, button: tuple[str, str] | None = None,
                 template_button: tuple[str, str] | None = None, image_id: str | None = None,
                 message_id: str | None = None, name: str = "Gerente", phone_id: str = META_PHONE_ID,
                 timestamp: int | None = None) -> dict:
    """A webhook body with one inbound message, as Meta sends it: a text, an interactive
    reply ``button`` (id, title), a template quick-reply ``template_button`` (payload,
    text) or an image (media id)."""
    wa_id = from_number.lstrip("+")
    message = {"from": wa_id, "id": message_id or "wamid.HBgM" + secrets.token_hex(16).upper(),
               "timestamp": str(timestamp or int(time.time()))}
    if button is not None:
        message.update(type="interactive", interactive={
            "type": "button_reply", "button_reply": {"id": button[0], "title": button[1]}})
    elif template_button is not None:
        message.update(type="button", button={"payload": template_button[0], "text": template_button[1]})
    elif image_id is not None:
        message.update(type="image", image={"id": image_id, "mime_type": "image/jpeg",
                                            "sha256": secrets.token_hex(32), **({"caption": text} if text else {})})
    else:
        message.update(type="text", text={"body": text or ""})
    return _meta_envelope({"contacts": [{"profile": {"name": name}, "wa_id": wa_id}], "messages": [message]},
                          phone_id)


def meta_status(message_id: str, status: str, recipient: str, *, phone_id: str = META_PHONE_ID,
                error: tuple[int, str] | None = None) -> dict:
    """A webhook body reporting a sent message's status ("sent", "delivered", "read", "failed")."""
    entry = {"id": message_id, "status": status, "timestamp": str(int(time.time())),
             "recipient_id": recipient.lstrip("+")}
    if error is not None:
        entry["errors"] = [{"code": error[0], "title": error[1], "message": error[1]}]
    return _meta_envelope({"statuses": [entry]}, phone_id)


def _meta_envelope(value: dict, phone_id: str) -> dict:
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages",
        "value": {"messaging_product": "whatsapp",
                  "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_id}, **value}}]}]}


def twilio_signature(url: str, params: dict, auth_token: str = TWILIO_TOKEN) -> str:
    """The ``X-Twilio-Signature`` header Twilio sends with a webhook to ``url``."""
    from twilio.request_validator import RequestValidator

    return RequestValidator(auth_token).compute_signature(url, params)


def twilio_inbound(from_number: str, body: str = "", *, whatsapp: bool = False, to: str | None = None,
                   button: tuple[str, str] | None = None, media: list[tuple[str, str]] | None = None,
                   message_sid: str | None = None, account_sid: str = TWILIO_SID) -> dict:
    """The form Twilio posts for an inbound SMS (or WhatsApp message with ``whatsapp=True``):
    ``button`` is a quick reply (payload, text), ``media`` [(MediaUrl, content type)]."""
    prefix = "whatsapp:" if whatsapp else ""
    sid = message_sid or ("SM" if not whatsapp else "MM") + secrets.token_hex(16)
    params = {"MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid, "AccountSid": account_sid,
              "From": prefix + from_number, "To": prefix + (to or (TWILIO_WHATSAPP_FROM if whatsapp else TWILIO_SMS_FROM)),
              "Body": body, "NumMedia": str(len(media or [])), "NumSegments": "1", "ApiVersion": "2010-04-01",
              "SmsStatus": "received"}
    for i, (url, content_type) in enumerate(media or []):
        params[f"MediaUrl{i}"], params[f"MediaContentType{i}"] = url, content_type
    if button is not None:
        params.update(ButtonPayload=button[0], ButtonText=button[1], MessageType="button")
    if whatsapp:
        params["ProfileName"] = "Gerente"
        params["WaId"] = from_number.lstrip("+")
    return params


def twilio_status(message_sid: str, status: str, *, error_code: str | None = None,
                  account_sid: str = TWILIO_SID) -> dict:
    """The form of a Twilio status callback ("sent", "delivered", "read", "failed", "undelivered")."""
    params = {"MessageSid": message_sid, "SmsSid": message_sid, "MessageStatus": status, "SmsStatus": status,
              "AccountSid": account_sid, "ApiVersion": "2010-04-01"}
    if error_code:
        params["ErrorCode"] = error_code
    return params
