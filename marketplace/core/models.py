"""Reference geography and the audit log, shared by every domain package."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.core.types import Coordinate, UTCDateTime
from marketplace.extensions import db

BOGOTA = ZoneInfo("America/Bogota")  # Colombia's one time zone (UTC-5, no daylight saving)


def utcnow() -> datetime:
    return datetime.now(UTC)


def bogota_date(moment: datetime | None = None) -> date:
    """The calendar day in Colombia of an instant (now by default). A time without a zone
    is UTC, as stored: SQLite gives stored times back without theirs."""
    moment = utcnow() if moment is None else moment
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(BOGOTA).date()


def bogota_day_start(day: date) -> datetime:
    """The first instant of a Colombian calendar day, in UTC: where a filter "from this day"
    begins and a filter "to the day before" ends."""
    return datetime.combine(day, time(0), BOGOTA).astimezone(UTC)


class Municipality(db.Model):
    """A Colombian municipality (or non-municipalised area) from DANE's DIVIPOLA list."""

    __tablename__ = "municipality"

    code: Mapped[str] = mapped_column(String(5), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    department_code: Mapped[str] = mapped_column(String(2), index=True)
    department_name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(40))
    latitude: Mapped[Decimal] = mapped_column(Coordinate)
    longitude: Mapped[Decimal] = mapped_column(Coordinate)
    pdet_subregion: Mapped[str | None] = mapped_column(String(80), index=True)
    # Accent-free lower-case "municipality department" for searching as people type.
    search_key: Mapped[str] = mapped_column(String(200), index=True)

    @property
    def is_pdet(self) -> bool:
        return self.pdet_subregion is not None

    @property
    def label(self) -> str:
        # Bogotá is both the municipality and the capital district: say it once.
        if self.name == self.department_name:
            return self.name
        return f"{self.name}, {self.department_name}"

    def __repr__(self) -> str:
        return f"<Municipality {self.code} {self.name}>"


class AuditEvent(db.Model):
    """One recorded change: who, when, what, and the values before and after.

    Rows are only ever inserted. The ORM refuses updates and deletes and the database
    refuses them too (triggers created by the migration).
    """

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT"), index=True
    )
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="RESTRICT"), index=True
    )
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str] = mapped_column(String(60))
    object_id: Mapped[str] = mapped_column(String(60))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
