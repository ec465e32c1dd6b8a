"""Counting rows, to prove that bad input writes nothing."""

from sqlalchemy import func, select

from marketplace.accounts.models import DeliverySite, LoginSession, Membership, Organisation, User
from marketplace.core.models import AuditEvent
from marketplace.extensions import db

COUNTED = (User, Organisation, Membership, DeliverySite, AuditEvent)


def row_counts(app) -> dict[str, int]:
    with app.app_context():
        return {m.__name__: db.session.scalar(select(func.count()).select_from(m)) for m in COUNTED}


def open_session_count(app, user_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(LoginSession).where(
            LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None)))


def field_error(html: str, field: str) -> str:
    """The error text shown beside a field (``<p id="<field>-error" class="error">``)."""
    import re

    match = re.search(rf'<p id="{re.escape(field)}-error" class="error">(.*?)</p>', html, re.S)
    return match.group(1).strip() if match else ""
