"""Reading order notices in tests: the notices written, who they go to and what each person
reads, rendered as the messaging worker renders them (in the person's language, in a
request context on PUBLIC_URL)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time

from flask_babel import force_locale
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.messaging import hooks
from marketplace.messaging.models import Notice
from marketplace.orders import messages
from tests.orders.conftest import TODAY

# Orders in these tests are placed at 17:00 UTC today: 12:00 in Bogotá. With the default
# 48 hours to answer, a part declines itself two days later at 12:00 Bogotá time.
PLACED_AT = datetime.combine(TODAY, time(17, 0), tzinfo=UTC)
PLACEHOLDER = re.compile(r"\{\{(\d+)\}\}")


def notices(kind: str | None = None) -> list[Notice]:
    """The order notices written (of ``kind``), oldest first; account notices are left out."""
    kinds = [kind] if kind is not None else list(messages.KINDS)
    return list(db.session.scalars(select(Notice).where(Notice.kind.in_(kinds)).order_by(Notice.id)))


def recipient_ids(notice: Notice) -> set[int]:
    return {u.id for u in hooks.NOTICE_KINDS[notice.kind].recipients(notice)}


def render(app, notice: Notice, user_id: int) -> hooks.Rendered:
    person = db.session.get(User, user_id)
    with app.test_request_context(base_url=app.config["PUBLIC_URL"]), force_locale(person.locale or "es"):
        return hooks.NOTICE_KINDS[notice.kind].render(notice, person)


def set_locale(user_id: int, locale: str) -> None:
    db.session.get(User, user_id).locale = locale
    db.session.flush()


def fill(kind: str, locale: str, params: list[str]) -> str:
    """The WhatsApp template's approved text with the parameters put in, as the person reads it."""
    text = hooks.NOTICE_KINDS[kind].template_text[locale]
    return PLACEHOLDER.sub(lambda m: params[int(m.group(1)) - 1], text)
