"""Photos that survive a refused listing form.

When the listing form is refused (a wrong field, a price to confirm), each photo that passed
the upload checks is kept, already re-encoded, as a ``PendingUpload`` of the user who sent it,
for ``PENDING_UPLOAD_HOURS``. The page shows its thumbnail back and carries only its random
token, so the next submit uses it without sending the photo again over a slow link.

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
from marketplace.catalog.models import Listing, ListingPhoto, PendingUpload
from marketplace.catalog.photos import ProcessedPhoto, new_key
from marketplace.catalog.services import MAX_PHOTOS
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
    """Store checked photos as the actor's pending uploads for ``hours``."""
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
    return kept


def attach(listing: Listing, pending: list[PendingUpload]) -> None:
    """Make pending uploads the listing's photos: their files are used as they are and the
    pending rows are consumed. Refused, changing nothing, above ``MAX_PHOTOS``."""
    if not pending:
        return
    if len(listing.photos) + len(pending) > MAX_PHOTOS:
        raise DomainError(_l("Puede subir hasta %(n)s fotos por oferta.", n=MAX_PHOTOS), "photos")
    used = {p.position for p in listing.photos}
    free = (n for n in range(MAX_PHOTOS) if n not in used)
    for row in pending:
        listing.photos.append(ListingPhoto(position=next(free), key=row.key, thumb_key=row.thumb_key,
                                           width=row.width, height=row.height))
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
