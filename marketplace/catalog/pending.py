"""Photos that survive a refused listing form.

When the listing form is refused (a wrong field, a price to confirm), each photo that passed
the upload checks is kept as a ``PendingUpload`` of the user who sent it, for
``PENDING_UPLOAD_HOURS``. The page shows it back and carries only its random token, so the
next submit uses it without sending the photo again over a slow link.

A form is checked before any photo is decoded (decoding is what costs memory and time), so a
photo kept from a refused form is usually kept as sent, having passed only the cheap checks
(size, format, declared pixels): an *unprocessed* upload, whose ``thumb_key`` is its ``key``.
It is decoded and re-encoded when a valid form uses it (``attach``), and the file as sent is
deleted with the commit. A photo already re-encoded when the form was refused is kept as such.

A token counts only for its uploader and only until it expires; saving the listing consumes
it (the stored files become the listing's photo, nothing is copied or left behind). The
worker's sweep deletes expired ones with their files (``cleanup``).

Functions take plain values and the acting user, flush, and leave the commit to the caller.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from marketplace.accounts.models import User
from marketplace.catalog import photos
from marketplace.catalog.models import Listing, ListingPhoto, PendingUpload
from marketplace.catalog.photos import CheckedUpload, ProcessedPhoto, new_key
from marketplace.catalog.services import MAX_PHOTOS, PHOTO_MESSAGES
from marketplace.core import uploads
from marketplace.core.errors import DomainError, NotFound
from marketplace.core.models import utcnow
from marketplace.extensions import db

TOKEN_LENGTH = 64  # the column's width; token_urlsafe(32) is 43 characters
# A user's pending photos beyond this many (the newest kept) are deleted at once, so refused
# forms sent again and again cannot fill the disk before they expire.
MAX_PER_USER = 12


def _clean(tokens: Iterable[str]) -> list[str]:
    """Distinct, well-formed tokens in the order given (anything else is ignored)."""
    seen: list[str] = []
    for token in tokens:
        token = (token or "").strip()
        if token and len(token) <= TOKEN_LENGTH and token not in seen:
            seen.append(token)
    return seen[:MAX_PHOTOS]


def claim(actor: User, tokens: Iterable[str], now: datetime | None = None) -> list[PendingUpload]:
    """The actor's own, unexpired pending uploads among ``tokens``, in the order given.
    Tokens of other users, expired or unknown ones are left out."""
    wanted = _clean(tokens)
    if not wanted:
        return []
    now = now or utcnow()
    rows = {row.token: row for row in db.session.scalars(
        select(PendingUpload).where(PendingUpload.token.in_(wanted), PendingUpload.user_id == actor.id,
                                    PendingUpload.expires_at > now))}
    return [rows[token] for token in wanted if token in rows]


def keep(actor: User, photos: list[ProcessedPhoto], storage, hours: int,
         now: datetime | None = None) -> list[PendingUpload]:
    """Store re-encoded photos as the actor's pending uploads for ``hours``."""
    now = now or utcnow()
    kept = []
    for photo in photos:
        key, thumb_key = new_key(), new_key()
        uploads.save(db.session, storage, key, photo.image)  # deleted again if the transaction rolls back
        uploads.save(db.session, storage, thumb_key, photo.thumbnail)
        row = PendingUpload(token=secrets.token_urlsafe(32), user_id=actor.id, key=key, thumb_key=thumb_key,
                            width=photo.width, height=photo.height, created_at=now,
                            expires_at=now + timedelta(hours=hours))
        db.session.add(row)
        kept.append(row)
    _trim(actor, storage)
    return kept


def keep_unprocessed(actor: User, checked: list[CheckedUpload], storage, hours: int,
                     now: datetime | None = None) -> list[PendingUpload]:
    """Store photos that passed only the cheap checks, as sent, as the actor's pending uploads
    for ``hours``: nothing is decoded (see ``attach``)."""
    now = now or utcnow()
    kept = []
    for upload in checked:
        key = new_key(upload.suffix)
        uploads.save(db.session, storage, key, upload.data)  # deleted again if the transaction rolls back
        row = PendingUpload(token=secrets.token_urlsafe(32), user_id=actor.id, key=key, thumb_key=key,
                            width=upload.width, height=upload.height, created_at=now,
                            expires_at=now + timedelta(hours=hours))
        db.session.add(row)
        kept.append(row)
    _trim(actor, storage)
    return kept


def is_unprocessed(row: PendingUpload) -> bool:
    return row.thumb_key == row.key


def _trim(actor: User, storage) -> None:
    db.session.flush()
    surplus = db.session.scalars(
        select(PendingUpload).where(PendingUpload.user_id == actor.id)
        .order_by(PendingUpload.created_at.desc(), PendingUpload.id.desc()).offset(MAX_PER_USER)).all()
    for row in surplus:
        db.session.delete(row)
    db.session.flush()
    for row in surplus:
        storage.delete(row.key)
        storage.delete(row.thumb_key)


def attach(listing: Listing, pending: list[PendingUpload], storage=None, failed: list[str] | None = None) -> None:
    """Make pending uploads the listing's photos and consume the pending rows. A re-encoded
    one's files are used as they are; an unprocessed one is decoded and re-encoded now (the
    form is otherwise valid), and its file as sent is deleted with the commit. Refused,
    changing nothing, above ``MAX_PHOTOS`` or when a kept photo cannot be decoded after all
    (its token is added to ``failed``, for the caller to discard)."""
    if not pending:
        return
    if len(listing.photos) + len(pending) > MAX_PHOTOS:
        raise DomainError(_l("Puede subir hasta %(n)s fotos por oferta.", n=MAX_PHOTOS), "photos")
    used = {p.position for p in listing.photos}
    free = (n for n in range(MAX_PHOTOS) if n not in used)
    for row in pending:
        key, thumb_key, width, height = row.key, row.thumb_key, row.width, row.height
        if is_unprocessed(row):
            try:
                photo = photos.process(storage.read(row.key))
            except (photos.PhotoError, OSError) as exc:
                if failed is not None and getattr(exc, "code", None) != "busy":
                    failed.append(row.token)
                raise DomainError(PHOTO_MESSAGES.get(getattr(exc, "code", ""), PHOTO_MESSAGES["not_an_image"]),
                                  "photos") from exc
            key, thumb_key = new_key(), new_key()
            uploads.save(db.session, storage, key, photo.image)
            uploads.save(db.session, storage, thumb_key, photo.thumbnail)
            uploads.delete_after_commit(db.session, storage, row.key)
            width, height = photo.width, photo.height
        listing.photos.append(ListingPhoto(position=next(free), key=key, thumb_key=thumb_key,
                                           width=width, height=height))
        db.session.delete(row)
    db.session.flush()


def discard(actor: User, tokens: Iterable[str], storage) -> int:
    """Delete the actor's pending uploads among ``tokens`` (the "quitar" box), files included."""
    rows = claim(actor, tokens, now=datetime.min.replace(tzinfo=utcnow().tzinfo))
    for row in rows:
        db.session.delete(row)
    db.session.flush()
    for row in rows:
        storage.delete(row.key)
        storage.delete(row.thumb_key)
    return len(rows)


def thumbnail_key(actor: User, token: str, now: datetime | None = None) -> str:
    """The storage key of the thumbnail of one of the actor's unexpired pending uploads."""
    rows = claim(actor, [token], now)
    if not rows:
        raise NotFound(_l("Esa foto ya no está disponible."))
    return rows[0].thumb_key


# An unprocessed photo is shown back as sent (the browser scales it) up to this size; a larger
# one is not sent back over a slow link, and the page shows a placeholder instead. Phones that
# run the page's script shrink photos to 1,600 px before sending, well under it.
PREVIEW_MAX_BYTES = 600 * 1024
PREVIEW_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
PLACEHOLDER = (b'<svg xmlns="http://www.w3.org/2000/svg" width="96" height="72" viewBox="0 0 96 72">'
               b'<rect width="96" height="72" fill="#e8e4dc"/><rect x="30" y="22" width="36" height="28" rx="4" '
               b'fill="none" stroke="#7a6f5c" stroke-width="3"/><circle cx="48" cy="36" r="7" fill="none" '
               b'stroke="#7a6f5c" stroke-width="3"/></svg>')


def preview(actor: User, token: str, storage, now: datetime | None = None) -> tuple[bytes, str]:
    """What the form shows of one of the actor's pending uploads, with its media type: the
    thumbnail of a re-encoded one, an unprocessed one as sent if it is small, else a
    placeholder. Nothing is decoded here."""
    rows = claim(actor, [token], now)
    if not rows:
        raise NotFound(_l("Esa foto ya no está disponible."))
    row = rows[0]
    data = storage.read(row.thumb_key)
    if not is_unprocessed(row):
        return data, "image/jpeg"
    kind = PREVIEW_TYPES.get(row.key.rsplit(".", 1)[-1])
    if kind is None or len(data) > PREVIEW_MAX_BYTES:
        return PLACEHOLDER, "image/svg+xml"
    return data, kind


def cleanup(storage, now: datetime | None = None, batch: int = 500) -> int:
    """Delete expired pending uploads and their files (run by the worker's sweep). Rows go
    first, in this transaction; a file whose row is gone is never used again, so deleting
    files after the flush cannot remove anything a listing holds."""
    now = now or utcnow()
    rows = db.session.execute(
        select(PendingUpload.id, PendingUpload.key, PendingUpload.thumb_key)
        .where(PendingUpload.expires_at <= now).order_by(PendingUpload.id).limit(batch)).all()
    if not rows:
        return 0
    db.session.execute(delete(PendingUpload).where(PendingUpload.id.in_([r.id for r in rows]))
                       .execution_options(synchronize_session=False))
    db.session.flush()
    for row in rows:
        storage.delete(row.key)
        storage.delete(row.thumb_key)
    return len(rows)
