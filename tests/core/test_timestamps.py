"""Every instant the app stores comes back aware in UTC, on SQLite as on PostgreSQL; every
instant in the API carries its offset (RFC 3339); staff downloads are in Bogotá time and say so."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone

import marshmallow
import pytest
from marshmallow import fields
from sqlalchemy import DateTime, select

from marketplace.core.models import BOGOTA, AuditEvent
from marketplace.core.schemas import UTCDateTime
from marketplace.core.types import UTCDateTime as UTCDateTimeType
from marketplace.extensions import db
from tests.conftest import login

OFFSET_5 = timezone(timedelta(hours=-5))


def test_every_zoned_column_gives_back_aware_utc(app):
    with app.app_context():
        zoned = [column for table in db.metadata.tables.values() for column in table.columns
                 if isinstance(column.type, DateTime | UTCDateTimeType)]
    assert len(zoned) > 30
    plain = [str(c) for c in zoned if not isinstance(c.type, UTCDateTimeType)]
    assert plain == [], "declare times with core.types.UTCDateTime: DateTime gives naive values back on SQLite"


def test_stored_instants_round_trip_as_aware_utc(app):
    """A naive value is UTC; an aware one in Bogotá keeps its instant (SQLite stored its
    clock time as if it were UTC before)."""
    bogota_morning = datetime(2026, 12, 7, 1, 30, tzinfo=BOGOTA)
    with app.app_context():
        ids = []
        for moment in (datetime(2026, 12, 7, 6, 30, 39, 804571), bogota_morning,
                       datetime(2026, 12, 7, 6, 30, tzinfo=UTC)):
            event = AuditEvent(action="test.time", object_type="test", object_id="1", occurred_at=moment)
            db.session.add(event)
            db.session.flush()
            ids.append(event.id)
        db.session.commit()
        db.session.expire_all()
        read = [db.session.get(AuditEvent, i).occurred_at for i in ids]
        assert all(value.utcoffset() == timedelta(0) for value in read), read
        assert read == [datetime(2026, 12, 7, 6, 30, 39, 804571, tzinfo=UTC),
                        datetime(2026, 12, 7, 6, 30, tzinfo=UTC), datetime(2026, 12, 7, 6, 30, tzinfo=UTC)]
        # Comparisons in SQL use the same instant, whatever zone the bound value is in.
        later = db.session.scalars(select(AuditEvent.id).where(
            AuditEvent.action == "test.time",
            AuditEvent.occurred_at >= datetime(2026, 12, 7, 1, 30, 1, tzinfo=OFFSET_5))).all()
        assert later == [ids[0]]
        # Raw column tuples (the exports' batches) come back aware too.
        row = db.session.execute(select(AuditEvent.occurred_at).where(AuditEvent.id == ids[0])).one()
        assert row[0].tzinfo is not None


@pytest.mark.parametrize(("value", "expected"), [
    (datetime(2026, 12, 7, 6, 30, 39, 804571), "2026-12-07T06:30:39.804571+00:00"),
    (datetime(2026, 12, 7, 1, 30, tzinfo=BOGOTA), "2026-12-07T06:30:00+00:00"),
    (datetime(2026, 12, 7, 6, 30, tzinfo=UTC), "2026-12-07T06:30:00+00:00"),
    (None, None),
])
def test_the_api_field_always_writes_an_offset(value, expected):
    class One(marshmallow.Schema):
        at = UTCDateTime(allow_none=True)

    assert One().dump({"at": value}) == {"at": expected}
    if value is not None:
        assert One().load({"at": "2026-12-07T06:30:00"})["at"] == datetime(2026, 12, 7, 6, 30, tzinfo=UTC)


def _all_schemas():
    from marshmallow import class_registry

    # Every schema class of the app (the registry lists them once the app's modules are imported).
    return {cls for entries in class_registry._registry.values() for cls in entries
            if cls.__module__.startswith("marketplace.")}


def _datetime_fields(field, path):
    if isinstance(field, fields.DateTime):
        yield path, field
    if isinstance(field, fields.List):
        yield from _datetime_fields(field.inner, path + "[]")
    if isinstance(field, fields.Dict) and field.value_field is not None:
        yield from _datetime_fields(field.value_field, path + "{}")


def test_every_schema_writes_instants_with_the_offset_field(app):
    found = []
    schemas = _all_schemas()
    assert len(schemas) > 20
    for cls in schemas:
        for name, field in cls._declared_fields.items():
            found.extend((f"{cls.__name__}.{path}", f) for path, f in _datetime_fields(field, name))
    assert len(found) >= 8
    wrong = [path for path, field in found if not isinstance(field, UTCDateTime)]
    assert wrong == [], "use core.schemas.UTCDateTime: fields.DateTime writes no offset for naive values"


def test_the_audit_download_is_in_bogota_time_and_says_so(app, factory):
    factory.cooperative()  # verifying it writes audit events
    auditor = app.test_client()
    login(auditor, factory.staff())
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
        instant = event.occurred_at
    response = auditor.get(f"/seguimiento/auditoria?formato=csv&accion={event.action}&id={event.object_id}")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "Cuándo (hora de Bogotá, UTC−5)"
    written = datetime.fromisoformat(rows[1][0])
    assert rows[1][0].endswith("-05:00") and written == instant
    assert written.astimezone(BOGOTA).hour == instant.astimezone(BOGOTA).hour
    english = auditor.get(f"/seguimiento/auditoria?formato=csv&accion={event.action}&lang=en")
    header = next(csv.reader(io.StringIO(english.get_data(as_text=True).lstrip("\ufeff"))))
    assert header[0] == "When (Bogotá time, UTC−5)"
