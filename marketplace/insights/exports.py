"""Streaming CSV and XLSX exports that are safe to open in a spreadsheet.

Pure: imports no Flask. A view streams the result, e.g.::

    Response(stream_with_context(csv_stream(header, rows)), mimetype="text/csv; charset=utf-8")
    Response(iter_file(xlsx_file(header, rows, "Compras")), mimetype=XLSX_MIMETYPE)

``rows`` may be any iterable (a generator over ``session.execute(...).yield_per(1000)``):
neither format holds more than a small buffer of rows in memory.

Formula injection (OWASP "CSV injection"): text that starts with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return, or the full-width ``＝ ＋ － ＠`` that some spreadsheets also
evaluate, could run as a formula when a user opens the file. In CSV such text gets a leading
single quote (``'=1+1``), which spreadsheets show and never evaluate. In XLSX it is written as a
string cell, never a formula, with Excel's "quote prefix" style so editing the cell keeps it
text; the value itself is unchanged. Only text is touched: an ``int``, ``float`` or ``Decimal``
(``Decimal("-5")``) stays a number in both formats.

Cell values by type:

=================  =============================  ======================================
Python value       CSV                            XLSX
=================  =============================  ======================================
None               empty                          blank cell
str                quoted text, a leading ``'``   string cell
                   if dangerous (codes like "05001" keep
                                                  their leading zero)
bool               ``true`` / ``false``           boolean cell
int, Decimal,      plain digits, "." decimal      number cell (Decimal via float: Excel
float              point, no exponent             keeps 15 significant digits; an int of
                                                  16+ digits is written as text instead)
date               ISO 8601 (``2025-03-01``)      date cell, ``yyyy-mm-dd``
datetime           RFC 3339 with its offset       date cell, ``yyyy-mm-dd hh:mm``, the
                   (``2025-03-01T09:30:00-05:00``)  clock time in ``zone`` (Excel keeps no
                                                  offset: the column header names the zone)
anything else      ``str(value)``, then as text   as text
=================  =============================  ======================================

CSV is written by ``marketplace.core.csvout`` in one of two dialects: plain (comma, "."
decimal point, no byte-order mark) for programs, and Spanish Excel (";", decimal comma, UTF-8
with a byte-order mark) that an Excel set to Spanish (Colombia) opens in columns. Every text
field is quoted in both, so a file split on ",", ";" or tab never starts a cell inside
someone's text.

Datetimes are instants: one without a zone is UTC (as stored), and both formats write them
in ``zone`` (UTC unless the caller passes another, e.g. Bogotá's for staff downloads).

XLSX holds at most ``EXCEL_MAX_ROWS`` (1,048,576) rows, header included. A longer export is
cut: the last row of the sheet then says so (``truncated_note``) and the rest of ``rows`` is not
read. The CSV has no such limit.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import xlsxwriter

from marketplace.core import csvout
from marketplace.core.csvout import BOM, FORMULA_TRIGGERS, in_zone, is_dangerous_text, neutralise  # noqa: F401

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = csvout.MIMETYPE
# Excel's rows per sheet, header included. Read when a file is written, so tests can lower it.
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384
EXCEL_MAX_CELL_CHARS = 32_767
# Integers beyond 15 digits lose precision as Excel numbers: such values (ids) go out as text.
EXCEL_MAX_EXACT_INT = 10**15
CSV_FLUSH_EVERY = csvout.FLUSH_EVERY
FILE_CHUNK = 64 * 1024

_NOTES = {
    "es": "Exportación recortada: Excel admite como máximo {limit} filas por hoja; "
          "se escribieron las primeras {written} filas de datos. Descargue el CSV para tenerlas todas.",
    "en": "Export cut: Excel holds at most {limit} rows per sheet; the first {written} data "
          "rows were written. Download the CSV to get them all.",
}
_DEFAULT_SHEET = {"es": "Datos", "en": "Data"}


def _grouped(number: int, lang: str) -> str:
    text = f"{number:,}"
    return text.replace(",", ".") if lang == "es" else text


def csv_cell(value: Any, zone: tzinfo | None = None) -> str:
    """One value as CSV text (plain dialect), following the table in the module docstring."""
    return csvout.cell(value, csvout.PLAIN, zone)


def csv_line(values: Sequence[Any], zone: tzinfo | None = None) -> str:
    """One plain CSV record. Every text field is quoted, numbers, dates and booleans are not: a
    spreadsheet that splits on ";" (Excel in Spanish) keeps ``"Finca; =1+1"`` one cell of text
    instead of seeing a second cell starting with "="."""
    return csvout.line(values, csvout.PLAIN, zone)


def csv_stream(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    flush_every: int = CSV_FLUSH_EVERY,
    bom: bool = True,
    zone: tzinfo | None = None,
    dialect: csvout.Dialect | None = None,
) -> Iterator[str]:
    """Yield the CSV text of ``header`` and ``rows`` in chunks (see ``core.csvout.stream``).

    With ``dialect`` given, that dialect decides separator, decimal mark and byte-order mark;
    without it, a comma-separated file with a "." decimal point, and a byte-order mark unless
    ``bom`` is false.
    """
    if dialect is None:
        dialect = csvout.Dialect("plain-bom" if bom else "plain", ",", ".", bom)
    return csvout.stream(header, rows, dialect, flush_every=flush_every, zone=zone)


def sheet_title(name: str | None, lang: str = "es") -> str:
    """A name Excel accepts for a sheet: at most 31 characters, none of ``[]:*?/\\``."""
    cleaned = re.sub(r"[\[\]:*?/\\\x00-\x1f]", "-", name or "").strip().strip("'").strip()
    return cleaned[:31] or _DEFAULT_SHEET.get(lang, _DEFAULT_SHEET["es"])


class _SheetWriter:
    def __init__(self, workbook: xlsxwriter.Workbook, worksheet, zone: tzinfo | None = None) -> None:
        self.sheet = worksheet
        self.zone = zone
        self.date = workbook.add_format({"num_format": "yyyy-mm-dd"})
        self.datetime = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        self.quoted = workbook.add_format({"quote_prefix": True})

    def text(self, row: int, col: int, value: str, fmt=None) -> None:
        if len(value) > EXCEL_MAX_CELL_CHARS:
            value = value[: EXCEL_MAX_CELL_CHARS - 1] + "…"
        if is_dangerous_text(value):
            fmt = self.quoted
        # write_string: never a formula, a number or a link, whatever the text looks like.
        self.sheet.write_string(row, col, value, fmt)

    def cell(self, row: int, col: int, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, bool):
            self.sheet.write_boolean(row, col, value)
        elif isinstance(value, int):
            if abs(value) < EXCEL_MAX_EXACT_INT:
                self.sheet.write_number(row, col, value)
            else:
                self.text(row, col, str(value))
        elif isinstance(value, float | Decimal):
            number = float(value)
            if math.isfinite(number):
                self.sheet.write_number(row, col, number)
        elif isinstance(value, datetime):
            # remove_timezone: the cell holds the clock time in the export's zone.
            self.sheet.write_datetime(row, col, in_zone(value, self.zone), self.datetime)
        elif isinstance(value, date):
            self.sheet.write_datetime(row, col, value, self.date)
        else:
            self.text(row, col, str(value))


def xlsx_file(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    sheet_name: str | None = None,
    *,
    lang: str = "es",
    truncated_note: str | None = None,
    directory: str | os.PathLike | None = None,
    zone: tzinfo | None = None,
) -> Path:
    """Write ``header`` and ``rows`` to a new temporary .xlsx file and return its path.

    Rows are written one at a time in XlsxWriter's constant-memory mode. Past
    ``EXCEL_MAX_ROWS`` the sheet is cut and its last row holds ``truncated_note`` (a default in
    ``lang`` otherwise); the remaining rows are not read. The caller owns the file: stream it
    with ``iter_file``, which deletes it, or delete it. On error the file is removed.
    Datetimes are written as the clock reads them in ``zone`` (UTC by default).
    """
    if len(header) > EXCEL_MAX_COLUMNS:
        raise ValueError(f"XLSX holds at most {EXCEL_MAX_COLUMNS} columns")
    lang = "en" if lang.startswith("en") else "es"
    limit = EXCEL_MAX_ROWS
    if limit < 3:
        raise ValueError("EXCEL_MAX_ROWS must leave room for a header, a row and the note")
    handle, name = tempfile.mkstemp(prefix="export-", suffix=".xlsx", dir=directory)
    os.close(handle)
    path = Path(name)
    workbook = xlsxwriter.Workbook(str(path), {
        "constant_memory": True,
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
        "remove_timezone": True,
        "tmpdir": str(directory) if directory else None,
    })
    try:
        sheet = workbook.add_worksheet(sheet_title(sheet_name, lang))
        out = _SheetWriter(workbook, sheet, zone)
        bold = workbook.add_format({"bold": True})
        for col, name_ in enumerate(header):
            out.text(0, col, str(name_), bold)
            sheet.set_column(col, col, min(60, max(10, len(str(name_)) + 2)))
        sheet.freeze_panes(1, 0)
        # Data rows go in sheet rows 1 .. limit-1; the last of them is kept for the note
        # unless the data ends exactly there.
        iterator = iter(rows)
        row_index = 0
        truncated = False
        for values in iterator:
            if row_index + 1 == limit - 1 and next(iterator, _END) is not _END:
                truncated = True
                break
            row_index += 1
            for col, value in enumerate(values):
                out.cell(row_index, col, value)
        if truncated:
            note = truncated_note or _NOTES[lang].format(limit=_grouped(limit, lang), written=_grouped(row_index, lang))
            out.text(row_index + 1, 0, note, workbook.add_format({"bold": True, "italic": True}))
        if header:
            sheet.autofilter(0, 0, max(row_index, 1), len(header) - 1)
        workbook.close()
    except BaseException:
        # Already failing: the original error is the one worth raising.
        with contextlib.suppress(Exception):
            workbook.close()
        path.unlink(missing_ok=True)
        raise
    return path


_END = object()


class FileChunks:
    """Iterate over a file in chunks, then close it and delete it.

    Returned by ``iter_file``. A WSGI server calls ``close()`` when the response ends, even when
    the client went away before the first chunk, so the temporary file is removed either way
    (a plain generator's ``finally`` would not run if it never started).
    """

    def __init__(self, source: str | os.PathLike | IO[bytes], chunk_size: int = FILE_CHUNK) -> None:
        self.chunk_size = chunk_size
        if isinstance(source, str | os.PathLike):
            self.path: Path | None = Path(source)
            self.file: IO[bytes] = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        else:
            self.file = source
            name = getattr(source, "name", None)
            self.path = Path(name) if isinstance(name, str) and os.path.isfile(name) else None
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            while chunk := self.file.read(self.chunk_size):
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.file.close()
        finally:
            if self.path is not None:
                self.path.unlink(missing_ok=True)


def iter_file(source: str | os.PathLike | IO[bytes], chunk_size: int = FILE_CHUNK) -> FileChunks:
    """Stream a file (a path, or a binary file object) in ``chunk_size`` pieces, then delete it.

    A file object is closed, and its file deleted when its ``name`` is a path on disk.
    """
    return FileChunks(source, chunk_size)
