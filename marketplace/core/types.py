"""Exact money and quantity types.

Money is Colombian pesos with two decimals and quantities are kilograms with three,
both stored as SQL NUMERIC and handled as ``Decimal``: never float.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import DateTime, Enum, Numeric, func
from sqlalchemy.types import TypeDecorator


def str_enum(cls, name: str) -> Enum:
    """A Python enum stored as its string values (no native database enum), so adding a
    member needs no migration."""
    return Enum(cls, name=name, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class UTCDateTime(TypeDecorator):
    """An instant (``DateTime(timezone=True)``) that always comes back as an aware UTC
    ``datetime``, on PostgreSQL and on SQLite alike: every model declares its times with it.

    PostgreSQL keeps the instant (timestamptz). SQLite keeps text without a zone, and gave
    back naive values, which JSON and exports then printed without an offset: here a value is
    converted to UTC on the way in (a naive one is taken as UTC already) and marked UTC on
    the way out. Stored text on SQLite is unchanged for values that were UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if not isinstance(value, datetime):
            return value
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if not isinstance(value, datetime):
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Money = Numeric(16, 2, asdecimal=True)
Kilograms = Numeric(14, 3, asdecimal=True)
Coordinate = Numeric(9, 6, asdecimal=True)

COP_QUANT = Decimal("0.01")
KG_QUANT = Decimal("0.001")
_PLAIN_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_THOUSANDS_DOT = re.compile(r"^-?[1-9]\d{0,2}\.\d{3}$")


def parse_decimal(value: str | int | Decimal | None) -> Decimal | None:
    """Read a number typed in Colombian or international style.

    "1.234,5" and "1,234.5" and "1234.5" all give Decimal("1234.5"). Returns None for
    empty or unreadable input so that callers can report a validation error.
    """
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    text = str(value).strip().replace(" ", "").replace("\u00a0", "").replace("$", "")
    if not text:
        return None
    if "," in text and "." in text:
        # Whichever separator comes last is the decimal one.
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
    elif "," in text:
        # Colombians write decimals with a comma ("12,5"); several commas group thousands.
        text = text.replace(",", "") if text.count(",") > 1 else text.replace(",", ".")
    elif text.count(".") > 1 or _THOUSANDS_DOT.match(text):
        # "2.500" and "1.250.000" group thousands with dots, as Colombian prices do.
        text = text.replace(".", "")
    if not _PLAIN_NUMBER.match(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern already rules this out
        return None


def grams(expression):
    """A kilogram expression rounded to the gram in SQL. SQLite keeps NUMERIC columns as
    floating point, where 12000 - 7922.961 is stored as 4077.0389999999998 and a later
    ``>= 4077.039`` fails; every stock statement rounds what it compares and writes, so the
    stored kilos stay exact there too (PostgreSQL's NUMERIC is exact already)."""
    return func.round(expression, 3)
