"""Photos people send in a chat: fetched by the worker through the real provider SDKs (against
the local fakes), handed to the handler registered for their purpose, retried with back-off
when the provider fails for now, failed with a reason when they can never be used."""

from __future__ import annotations

import io
import socket
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.messaging import media
from marketplace.messaging.models import Channel, MediaFetch, MediaStatus, Notice

NOW = utcnow().replace(microsecond=0)


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (110, 62, 35)).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def received(monkeypatch):
    """A handler for the purpose "test_photo" that records what it is given."""
    calls = []

    def handler(fetch, data, content_type):
        calls.append((fetch.subject_id, data, content_type))

    monkeypatch.setitem(media.MEDIA_HANDLERS, "test_photo", handler)
    return calls


def _request(app, ref: str, *, purpose: str = "test_photo", provider: str = "meta",
             channel: Channel = Channel.WHATSAPP) -> int:
    with app.app_context():
        fetch = media.request_fetch(purpose, 7, ref, channel=channel, provider=provider, now=NOW)
        db.session.commit()
        return fetch.id


def _row(app, fetch_id: int) -> MediaFetch:
    with app.app_context():
        row = db.session.get(MediaFetch, fetch_id)
        db.session.expunge(row)
        return row


def _run(app, at) -> int:
    with app.app_context():
        return media.process_media(now=at)


def test_a_whatsapp_photo_is_fetched_through_meta_and_handed_to_its_handler(app, whatsapp_fake, received):
    photo = _jpeg()
    whatsapp_fake.add_media("1029384756", photo)
    fetch_id = _request(app, "1029384756")
    assert received == []  # nothing is fetched until the worker runs
    assert _run(app, NOW) == 1
    assert received == [(7, photo, "image/jpeg")]
    row = _row(app, fetch_id)
    assert (row.status, row.attempts, row.size, row.content_type) == (MediaStatus.DONE, 1, len(photo), "image/jpeg")
    assert row.done_at == NOW and row.last_error is None and row.claimed_until is None
    # The Graph API was asked with the access token, as Meta requires.
    assert any(r.path.endswith("/1029384756") and "Bearer" in r.headers.get("Authorization", "")
               for r in whatsapp_fake.requests)
    assert _run(app, NOW + timedelta(hours=1)) == 0 and len(received) == 1


def test_a_photo_sent_through_twilio_is_fetched_from_its_media_url(app, twilio_fake, received):
    photo = _jpeg()
    url = twilio_fake.add_media(photo, "image/jpeg")
    fetch_id = _request(app, url, provider="twilio")
    assert _run(app, NOW) == 1
    assert received == [(7, photo, "image/jpeg")]
    assert _row(app, fetch_id).status == MediaStatus.DONE


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_provider_that_does_not_answer_is_tried_again_with_back_off(app, whatsapp_fake, received):
    photo = _jpeg()
    whatsapp_fake.add_media("555", photo)
    fetch_id = _request(app, "555")
    app.config["WHATSAPP_API_BASE_URL"] = f"http://127.0.0.1:{_closed_port()}"
    assert _run(app, NOW) == 0
    row = _row(app, fetch_id)
    assert (row.status, row.attempts, row.next_attempt_at) == (MediaStatus.PENDING, 1, NOW + timedelta(minutes=1))
    assert "WhatsApp" in row.last_error and row.claimed_until is None
    app.config["WHATSAPP_API_BASE_URL"] = whatsapp_fake.base_url
    assert _run(app, NOW + timedelta(seconds=30)) == 0  # not due yet
    assert _row(app, fetch_id).attempts == 1
    assert _run(app, NOW + timedelta(minutes=1)) == 1
    row = _row(app, fetch_id)
    assert (row.status, row.attempts, row.last_error) == (MediaStatus.DONE, 2, None)
    assert received == [(7, photo, "image/jpeg")]


def test_media_the_provider_does_not_have_fails_at_once_with_its_reason(app, whatsapp_fake, received):
    fetch_id = _request(app, "no-such-media")
    assert _run(app, NOW) == 0
    row = _row(app, fetch_id)
    assert (row.status, row.attempts, row.next_attempt_at) == (MediaStatus.FAILED, 1, None)
    assert "does not exist" in row.last_error
    assert received == []
    assert _run(app, NOW + timedelta(days=1)) == 0 and _row(app, fetch_id).attempts == 1


def test_a_handler_that_refuses_the_file_fails_it_and_its_writes_are_undone(app, whatsapp_fake, monkeypatch):
    whatsapp_fake.add_media("42", b"not a picture")

    def handler(fetch, data, content_type):
        db.session.add(Notice(kind="half_done", attempts=0))
        db.session.flush()
        raise media.MediaRefused("Ese archivo no es una foto")

    monkeypatch.setitem(media.MEDIA_HANDLERS, "test_photo", handler)
    fetch_id = _request(app, "42")
    assert _run(app, NOW) == 0
    row = _row(app, fetch_id)
    assert (row.status, row.last_error) == (MediaStatus.FAILED, "Ese archivo no es una foto")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Notice)) == 0


def test_a_broken_handler_is_retried_then_failed_after_the_last_attempt(app, whatsapp_fake, monkeypatch):
    whatsapp_fake.add_media("43", _jpeg())
    app.config["MESSAGING_MAX_ATTEMPTS"] = 2

    def handler(fetch, data, content_type):
        raise RuntimeError("disco lleno")

    monkeypatch.setitem(media.MEDIA_HANDLERS, "test_photo", handler)
    fetch_id = _request(app, "43")
    assert _run(app, NOW) == 0
    row = _row(app, fetch_id)
    assert (row.status, row.attempts, row.last_error) == (MediaStatus.PENDING, 1, "disco lleno")
    assert _run(app, row.next_attempt_at) == 0
    row = _row(app, fetch_id)
    assert (row.status, row.attempts, row.next_attempt_at) == (MediaStatus.FAILED, 2, None)


def test_a_purpose_nobody_registered_is_failed(app, whatsapp_fake):
    fetch_id = _request(app, "44", purpose="nobody")
    assert _run(app, NOW) == 0
    row = _row(app, fetch_id)
    assert row.status == MediaStatus.FAILED and "nobody" in row.last_error
    assert whatsapp_fake.requests == []  # not even downloaded


def test_a_fetch_another_worker_holds_is_left_alone_until_its_claim_ends(app, whatsapp_fake, received):
    whatsapp_fake.add_media("45", _jpeg())
    fetch_id = _request(app, "45")
    with app.app_context():
        db.session.get(MediaFetch, fetch_id).claimed_until = NOW + timedelta(minutes=2)
        db.session.commit()
    assert _run(app, NOW) == 0 and received == []
    assert _run(app, NOW + timedelta(minutes=3)) == 1 and len(received) == 1


def test_the_reference_is_kept_whole(app):
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME" + "a" * 400
    fetch_id = _request(app, url, provider="twilio")
    assert _row(app, fetch_id).media_ref == url


def test_the_purposes_failure_handler_runs_once_when_the_fetch_is_given_up(app, whatsapp_fake, monkeypatch):
    whatsapp_fake.add_media("46", _jpeg())
    app.config["MESSAGING_MAX_ATTEMPTS"] = 2
    told = []

    def handler(fetch, data, content_type):
        raise RuntimeError("disco lleno")

    def on_failure(fetch, reason):
        told.append((fetch.subject_id, reason))
        db.session.add(Notice(kind="photo_failed", subject_id=fetch.subject_id, attempts=0))

    monkeypatch.setitem(media.MEDIA_HANDLERS, "test_photo", handler)
    monkeypatch.setitem(media.FAILURE_HANDLERS, "test_photo", on_failure)
    fetch_id = _request(app, "46")
    assert _run(app, NOW) == 0 and told == []  # tried again later: nobody is told yet
    assert _run(app, _row(app, fetch_id).next_attempt_at) == 0
    assert told == [(7, "disco lleno")]
    with app.app_context():
        assert db.session.scalar(select(Notice.kind)) == "photo_failed"  # written with the failure


def test_a_failure_handler_that_breaks_does_not_stop_the_failure_being_recorded(app, whatsapp_fake, monkeypatch):
    def on_failure(fetch, reason):
        db.session.add(Notice(kind="half_told", attempts=0))
        db.session.flush()
        raise RuntimeError("sin plantilla")

    monkeypatch.setitem(media.MEDIA_HANDLERS, "test_photo", lambda fetch, data, content_type: None)
    monkeypatch.setitem(media.FAILURE_HANDLERS, "test_photo", on_failure)
    fetch_id = _request(app, "no-such-media")
    assert _run(app, NOW) == 0
    assert _row(app, fetch_id).status == MediaStatus.FAILED
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Notice)) == 0
