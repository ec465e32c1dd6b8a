"""Reading what the outbox holds for a person (codes, links, temporary passwords), and
proving a person's number or e-mail directly, for the tests of verification and recovery."""

from __future__ import annotations

from sqlalchemy import select

from marketplace.accounts.models import User, VerificationCode
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.messaging.models import Notice


def notices(app, kind: str, user_id: int | None = None) -> list[Notice]:
    with app.app_context():
        stmt = select(Notice).where(Notice.kind == kind).order_by(Notice.id)
        if user_id is not None:
            stmt = stmt.where(Notice.user_id == user_id)
        rows = list(db.session.scalars(stmt))
        for row in rows:
            db.session.expunge(row)
        return rows


def last_payload(app, kind: str, user_id: int | None = None) -> dict:
    found = notices(app, kind, user_id)
    assert found, f"no {kind} notice"
    return dict(found[-1].payload)


def codes(app, user_id: int) -> list[VerificationCode]:
    with app.app_context():
        rows = list(db.session.scalars(
            select(VerificationCode).where(VerificationCode.user_id == user_id).order_by(VerificationCode.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def user(app, user_id: int) -> User:
    with app.app_context():
        row = db.session.get(User, user_id)
        db.session.expunge(row)
        return row


def prove(app, user_id: int, phone: bool = True, email: bool = False, whatsapp: bool = False) -> None:
    """Mark the person's number (and e-mail) verified, and their WhatsApp opt-in."""
    with app.app_context():
        row = db.session.get(User, user_id)
        now = utcnow()
        if phone:
            row.phone_verified_at = now
        if email:
            row.email_verified_at = now
        if whatsapp:
            row.whatsapp_opt_in_at = now
        db.session.commit()
