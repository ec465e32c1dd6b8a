"""The append-only audit log.

``record`` adds an event to the current session; the caller's single commit makes the
change and its audit event atomic. Nothing here commits.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from marketplace.core.models import AuditEvent
from marketplace.extensions import db


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return value


def snapshot(obj: Any, fields: list[str] | tuple[str, ...]) -> dict:
    """The named attributes of ``obj`` as JSON-safe values."""
    return {name: _plain(getattr(obj, name)) for name in fields}


def changed(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the keys whose values differ, for compact before/after records."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def record(
    action: str,
    obj_type: str,
    obj_id: Any,
    *,
    actor: Any = None,
    organisation_id: int | None = None,
    before: dict | None = None,
    after: dict | None = None,
    note: str | None = None,
    remote_addr: str | None = None,
) -> AuditEvent:
    """Add an audit event to the session (flushed with the change it describes)."""
    entry = AuditEvent(
        actor_id=getattr(actor, "id", None),
        organisation_id=organisation_id,
        action=action,
        object_type=obj_type,
        object_id=str(obj_id),
        before=_plain(before) if before is not None else None,
        after=_plain(after) if after is not None else None,
        note=note,
        remote_addr=remote_addr,
    )
    db.session.add(entry)
    return entry


class AppendOnlyError(RuntimeError):
    pass


# Models whose rows are only ever inserted (the migrations add database triggers too).
APPEND_ONLY: set[type] = {AuditEvent}


def append_only(cls: type) -> type:
    """Class decorator: the ORM refuses to update or delete rows of ``cls``."""
    APPEND_ONLY.add(cls)
    return cls


@event.listens_for(Session, "before_flush")
def _refuse_rewrites(session: Session, _context, _instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, tuple(APPEND_ONLY)) and (obj in session.deleted or session.is_modified(obj)):
            raise AppendOnlyError(f"{type(obj).__name__} is append-only.")
