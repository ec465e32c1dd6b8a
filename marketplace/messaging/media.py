"""Photos people send in a chat: recorded in the webhook's transaction, fetched by the worker.

A conversation that receives a photo (listing a harvest) keeps the provider's reference
(Meta's media id, Twilio's MediaUrl) and, once the thing it belongs to exists, calls
``request_fetch`` in the same transaction. The worker's ``process_media`` downloads it
through the channel's provider (never inside the webhook: ARCHITECTURE rule 13) and hands
the bytes to the handler that a higher package registered for the fetch's ``purpose``
(rule 11): catalog registers "listing_photo", which checks and re-encodes the photo like a
web upload and attaches it to the listing.

A handler raises ``MediaRefused`` when the file can never be used (not an image, too large,
the listing is gone): the fetch is failed at once with the reason. A provider's temporary
failure or any other error is retried with back-off up to ``MESSAGING_MAX_ATTEMPTS`` tries.
Whatever happens, the thing the photo belongs to is left as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from marketplace.core import retry
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.messaging.models import Channel, MediaFetch, MediaStatus

log = logging.getLogger(__name__)

# Longer than a provider call's time limit plus the handler's work on the photo.
CLAIM_SECONDS = 120


class MediaRefused(Exception):
    """The media can never be used for its purpose; ``reason`` is recorded for staff."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


MediaHandler = Callable[[MediaFetch, bytes, str], None]
FailureHandler = Callable[[MediaFetch, str], None]
MEDIA_HANDLERS: dict[str, MediaHandler] = {}
FAILURE_HANDLERS: dict[str, FailureHandler] = {}


def register_media_handler(purpose: str, handler: MediaHandler, on_failure: FailureHandler | None = None) -> None:
    """``handler(fetch, data, content_type)`` receives the bytes of each fetch of
    ``purpose`` inside the worker's transaction; it flushes, the worker commits.
    ``on_failure(fetch, reason)``, when given, runs once when the fetch is given up (to tell
    the person, say), in the transaction that records the failure."""
    MEDIA_HANDLERS[purpose] = handler
    if on_failure is not None:
        FAILURE_HANDLERS[purpose] = on_failure


def request_fetch(purpose: str, subject_id: int | None, media_ref: str, *, channel: Channel | str,
                  provider: str | None = None, user_id: int | None = None,
                  now: datetime | None = None) -> MediaFetch:
    """Record that the worker must fetch ``media_ref`` for ``purpose``. Added to the
    session, not flushed."""
    now = now or utcnow()
    fetch = MediaFetch(purpose=purpose, subject_id=subject_id, media_ref=media_ref[:1000], channel=Channel(channel),
                       provider=provider or None, user_id=user_id, status=MediaStatus.PENDING, attempts=0,
                       next_attempt_at=now, created_at=now)
    db.session.add(fetch)
    return fetch


def backoff(attempts: int) -> timedelta:
    """Wait before the next try: 1, 2, 4, 8... minutes, at most six hours."""
    return retry.backoff(attempts)


def _default_fetch(channel: Channel, media_ref: str) -> tuple[bytes, str]:
    from marketplace.messaging import providers

    return providers.fetch_media(channel, media_ref)


def _is_permanent(exc: Exception) -> bool:
    from marketplace.messaging.providers import PermanentFailure

    return isinstance(exc, PermanentFailure)


def _reason(exc: Exception) -> str:
    return (getattr(exc, "reason", None) or str(exc) or exc.__class__.__name__)[:1000]


def process_media(limit: int = 20, now: datetime | None = None,
                  fetch: Callable[[Channel, str], tuple[bytes, str]] | None = None) -> int:
    """Fetch the photos that are due and hand each to its handler; returns how many were
    attached. Runs in the worker and commits as it goes: each fetch is first claimed with a
    guarded UPDATE and committed, so of several workers exactly one downloads it.
    ``fetch(channel, media_ref) -> (bytes, content_type)`` defaults to the channel's
    provider."""
    now = now or utcnow()
    fetch = fetch or _default_fetch
    max_attempts = current_app.config.get("MESSAGING_MAX_ATTEMPTS", 6)
    due = (MediaFetch.status == MediaStatus.PENDING,
           or_(MediaFetch.next_attempt_at.is_(None), MediaFetch.next_attempt_at <= now),
           or_(MediaFetch.claimed_until.is_(None), MediaFetch.claimed_until < now))
    ids = list(db.session.scalars(select(MediaFetch.id).where(*due).order_by(MediaFetch.id).limit(limit)))
    db.session.commit()
    done = 0
    for fetch_id in ids:
        claimed = db.session.execute(
            update(MediaFetch).where(MediaFetch.id == fetch_id, *due)
            .values(claimed_until=now + timedelta(seconds=CLAIM_SECONDS), attempts=MediaFetch.attempts + 1)
            .execution_options(synchronize_session=False))
        db.session.commit()
        if claimed.rowcount != 1:
            continue  # another worker has it
        row = db.session.get(MediaFetch, fetch_id)
        db.session.refresh(row)
        if _process_one(row, fetch, now, max_attempts):
            done += 1
    return done


def _failed(row: MediaFetch, error: str) -> None:
    on_failure = FAILURE_HANDLERS.get(row.purpose)
    if on_failure is None:
        return
    try:
        with db.session.begin_nested():
            on_failure(row, error)
    except Exception:  # telling the person is a courtesy: the failure is recorded anyway
        log.exception("Media fetch %s: the failure handler failed", row.id)


def _process_one(row: MediaFetch, fetch, now: datetime, max_attempts: int) -> bool:
    fetch_id, purpose = row.id, row.purpose
    handler = MEDIA_HANDLERS.get(purpose)
    error: str | None = None
    permanent = False
    if handler is None:
        error, permanent = f"ningún manejador para «{purpose}»", True
    else:
        try:
            data, content_type = fetch(row.channel, row.media_ref)
            row.content_type, row.size = (content_type or "")[:100] or None, len(data)
            handler(row, data, content_type or "")
            db.session.flush()
        except MediaRefused as exc:
            error, permanent = _reason(exc), True
        except Exception as exc:  # a provider down or a broken file must not stop the others
            error, permanent = _reason(exc), _is_permanent(exc)
            if not permanent:
                log.warning("Media fetch %s (%s) not done yet: %s", fetch_id, purpose, error)
    if error is None:
        row.status, row.done_at, row.last_error = MediaStatus.DONE, now, None
        row.claimed_until = row.next_attempt_at = None
        db.session.commit()
        return True
    # Whatever the handler wrote is undone; the fetch's own record is written afresh.
    db.session.rollback()
    row = db.session.get(MediaFetch, fetch_id)
    row.last_error = error
    row.claimed_until = None
    if permanent or row.attempts >= max_attempts:
        row.status, row.next_attempt_at = MediaStatus.FAILED, None
        log.warning("Media fetch %s (%s) failed: %s", fetch_id, purpose, error)
        _failed(row, error)
    else:
        row.next_attempt_at = now + backoff(row.attempts)
    db.session.commit()
    return False
