"""The one CSV writer every download uses, in two dialects, safe to open in a spreadsheet.

Pure: imports no Flask.

- ``PLAIN`` ("CSV para programas"): comma separator, "." decimal point, UTF-8 without a
  byte-order mark, CRLF lines (RFC 4180). What scripts, databases and pandas expect.
- ``EXCEL_ES`` ("CSV para Excel (español)"): ``;`` separator and "," decimal comma, UTF-8
  with a byte-order mark. An Excel set to Spanish (Colombia) opens it in columns, with the
  accents right and the numbers as numbers.

Formula injection (OWASP "CSV injection") is handled the same way in both dialects, so a file
is safe whatever separator the program that opens it splits on (``,``, ``;`` or tab):

- every text field is quoted, header included, so a separator inside someone's text
  (``Coop B;=1+2``) never starts a new cell, whether the reader splits on ``,``, ``;`` or tab;
- text that starts with ``= + - @``, a tab, a carriage return or their full-width forms
  ``＝ ＋ － ＠`` gets a leading single quote (``'=1+2``), which spreadsheets show and never
  evaluate.

Only text is touched: an ``int``, ``float`` or ``Decimal`` stays a number (``-5`` is a number,
not a formula) and is never quoted. Dates are ISO 8601, datetimes RFC 3339 in ``zone`` with
their offset, booleans ``true`` / ``false``, ``None`` an empty cell.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any

BOM = "\ufeff"
MIMETYPE = "text/csv; charset=utf-8"
FLUSH_EVERY = 500

# First characters that make a spreadsheet read a cell as a formula (OWASP), and the
# full-width forms some spreadsheets normalise to them.
FORMULA_TRIGGERS = frozenset("=+-@\t\r＝＋－＠")


@dataclass(frozen=True)
class Dialect:
    name: str
    separator: str
    decimal: str
    bom: bool


PLAIN = Dialect("plain", ",", ".", False)
EXCEL_ES = Dialect("excel-es", ";", ",", True)


def is_dangerous_text(value: str) -> bool:
    """True when a spreadsheet could read ``value`` as a formula."""
    return bool(value) and value[0] in FORMULA_TRIGGERS


def neutralise(value: str) -> str:
    """``value`` with a leading single quote when it could be read as a formula."""
    return "'" + value if is_dangerous_text(value) else value


def in_zone(value: datetime, zone: tzinfo | None = None) -> datetime:
    """The instant ``value`` (UTC when it has no zone) as the clock reads it in ``zone``."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return value.astimezone(zone or UTC)


def _number_text(value: int | float | Decimal, decimal: str) -> str:
    if isinstance(value, Decimal):
        text = format(value, "f") if value.is_finite() else ""
    elif isinstance(value, float):
        text = repr(value) if math.isfinite(value) else ""
    else:
        return str(value)
    return text.replace(".", decimal)


def is_text(value: Any) -> bool:
    """True for the values written as (quoted, neutralised) text."""
    return value is not None and not isinstance(value, bool | int | float | Decimal | date)


def cell(value: Any, dialect: Dialect = PLAIN, zone: tzinfo | None = None) -> str:
    """One value as CSV text before quoting."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return _number_text(value, dialect.decimal)
    if isinstance(value, datetime):
        return in_zone(value, zone).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return neutralise(str(value))


def line(values: Sequence[Any], dialect: Dialect = PLAIN, zone: tzinfo | None = None) -> str:
    """One CSV record ending in CRLF: text quoted (``"`` doubled) and neutralised, numbers,
    dates and booleans bare."""
    cells = []
    for value in values:
        text = cell(value, dialect, zone)
        cells.append('"' + text.replace('"', '""') + '"' if is_text(value) else text)
    return dialect.separator.join(cells) + "\r\n"


def stream(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    dialect: Dialect = PLAIN,
    *,
    flush_every: int = FLUSH_EVERY,
    zone: tzinfo | None = None,
) -> Iterator[str]:
    """Yield the CSV text of ``header`` and ``rows`` in chunks, reading ``rows`` lazily.

    The first chunk is the byte-order mark (``EXCEL_ES`` only) and the header, so a download
    starts at once; each later chunk holds ``flush_every`` rows, the last one what remains.
    """
    flush_every = max(1, flush_every)
    buffer = io.StringIO()
    yield (BOM if dialect.bom else "") + line([str(name) for name in header], dialect)
    pending = 0
    for row in rows:
        buffer.write(line(row, dialect, zone))
        pending += 1
        if pending >= flush_every:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue()


def dialect_for(formato: str | None) -> Dialect | None:
    """The dialect a download's ``formato`` asks for: ``csv`` plain, ``csv-excel`` Spanish
    Excel; None for anything else."""
    return {"csv": PLAIN, "csv-excel": EXCEL_ES}.get(formato or "")
