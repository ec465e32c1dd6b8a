"""CSV and XLSX exports: formula-injection safe, typed, streamed, cut at Excel's row limit."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from marketplace.insights import exports
from marketplace.insights.exports import BOM, csv_stream, iter_file, sheet_title, xlsx_file

DANGEROUS = ["=1+1", "+57 300", "-2+3", "@SUM(A1)", "\tcmd", "\r=1", "＝1+1", "＋1", "－1", "＠SUM(A1)",
             '=HYPERLINK("http://x","y")']
SAFE = ["05001", "Nariño", "a=b", " =1", "", "1-2", "'quoted", "kg/ha"]


def read_csv(chunks) -> list[list[str]]:
    text = "".join(chunks)
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[len(BOM):], newline="")))


def counting(rows: int, counter: dict):
    for i in range(rows):
        counter["read"] = i + 1
        yield (f"{i:05d}", f"Cooperativa {i}", Decimal(i) / 4, date(2025, 1, 1))


# --------------------------------------------------------------------------- CSV


@pytest.mark.parametrize("value", DANGEROUS)
def test_csv_neutralises_text_that_a_spreadsheet_would_run(value):
    rows = read_csv(csv_stream(["x"], [(value,)]))
    assert rows[1] == ["'" + value]


@pytest.mark.parametrize("value", SAFE)
def test_csv_leaves_harmless_text_alone(value):
    assert read_csv(csv_stream(["x"], [(value,)]))[1] == [value]


def test_csv_numbers_stay_numbers_even_when_negative():
    row = (Decimal("-5"), -3, -2.5, Decimal("1E+3"), Decimal("-0.125"), 0, True, None)
    assert read_csv(csv_stream(list("abcdefgh"), [row]))[1] == [
        "-5", "-3", "-2.5", "1000", "-0.125", "0", "true", ""]


def test_csv_round_trips_awkward_text_dates_and_header():
    awkward = 'Café "El Paraíso", vereda\nLa Unión'
    when = datetime(2025, 3, 1, 14, 30)
    rows = read_csv(csv_stream(["=cmd", "fecha"], [(awkward, when), ("Ñ", date(2025, 3, 1))]))
    # A time without a zone is UTC, and goes out with its offset (RFC 3339).
    assert rows == [["'=cmd", "fecha"], [awkward, "2025-03-01T14:30:00+00:00"], ["Ñ", "2025-03-01"]]


def test_csv_bom_is_first_and_only_once():
    text = "".join(csv_stream(["a"], [("b",)] * 1200, flush_every=100))
    assert text.startswith('\ufeff"a"\r\n') and text.count(BOM) == 1
    assert "".join(csv_stream(["a"], [], bom=False)) == '"a"\r\n'


def test_csv_stream_reads_rows_lazily():
    counter = {"read": 0}
    stream = csv_stream(["code", "name", "kg", "date"], counting(200_000, counter), flush_every=500)
    first = next(stream)
    assert first == '\ufeff"code","name","kg","date"\r\n'
    assert counter["read"] == 0  # the header goes out before any row is read
    second = next(stream)
    assert counter["read"] == 500
    assert second.count("\r\n") == 500
    third = next(stream)
    assert counter["read"] == 1000 and third.startswith('"00500",')
    rest = list(stream)
    assert counter["read"] == 200_000
    assert max(len(chunk) for chunk in rest) < 40_000  # never the whole file in one piece
    assert sum(chunk.count("\r\n") for chunk in rest) == 200_000 - 1000
    assert rest[-1].endswith('"199999","Cooperativa 199999",49999.75,2025-01-01\r\n')


# --------------------------------------------------------------------------- XLSX


def sheet_xml(path) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read("xl/worksheets/sheet1.xml").decode()


def test_xlsx_has_no_formula_even_for_formula_like_text(tmp_path):
    path = xlsx_file(["=cmd"], [(value,) for value in DANGEROUS], "Datos", directory=tmp_path)
    try:
        xml = sheet_xml(path)
        assert "<f>" not in xml and "<f " not in xml
        assert "1+1" in xml  # the text itself is kept, as a string
    finally:
        path.unlink()


def test_xlsx_types_read_back_with_openpyxl(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    rows = [
        ("05001", "=1+1", Decimal("-5"), date(2025, 1, 2), 3, True),
        ("05002", "＠SUM(A1)", Decimal("1250.75"), datetime(2025, 1, 2, 3, 4, tzinfo=UTC), None, False),
        ("00012", "Nariño & <b>", -2.5, None, 10**16, None),
    ]
    path = xlsx_file(["código", "nombre", "kg", "fecha", "n", "ok"], rows, "Compras", directory=tmp_path)
    try:
        sheet = openpyxl.load_workbook(path).active
        values = [[cell for cell in row] for row in sheet.iter_rows()]
    finally:
        path.unlink()
    assert sheet.title == "Compras"
    assert [c.value for c in values[0]] == ["código", "nombre", "kg", "fecha", "n", "ok"]
    code, text, kg, when, n, ok = values[1]
    assert (code.value, code.data_type) == ("05001", "s")
    assert (text.value, text.data_type) == ("=1+1", "s") and text.quotePrefix
    assert (kg.value, kg.data_type) == (-5, "n")
    assert when.is_date and when.value == datetime(2025, 1, 2)
    assert (n.value, ok.value) == (3, True)
    code, text, kg, when, n, ok = values[2]
    assert text.value == "＠SUM(A1)" and text.data_type == "s" and text.quotePrefix
    assert kg.value == 1250.75 and kg.data_type == "n"
    assert when.value == datetime(2025, 1, 2, 3, 4)
    assert ok.value is False
    code, text, kg, when, n, ok = values[3]
    assert code.value == "00012" and text.value == "Nariño & <b>" and not text.quotePrefix
    assert kg.value == -2.5 and when.value is None
    assert (n.value, n.data_type) == ("10000000000000000", "s")  # beyond Excel's 15 digits
    assert all(cell.data_type != "f" for row in values for cell in row)


@pytest.mark.parametrize(
    ("data_rows", "written", "cut"),
    [(3, 3, False), (4, 4, False), (5, 3, True), (100, 3, True)],
)
def test_xlsx_stops_at_the_row_limit_and_says_so(tmp_path, monkeypatch, data_rows, written, cut):
    openpyxl = pytest.importorskip("openpyxl")
    monkeypatch.setattr(exports, "EXCEL_MAX_ROWS", 5)  # header + 4 rows fit
    counter = {"read": 0}
    path = xlsx_file(["code", "name", "kg", "date"], counting(data_rows, counter), "x", directory=tmp_path)
    try:
        rows = list(openpyxl.load_workbook(path).active.iter_rows(values_only=True))
    finally:
        path.unlink()
    assert len(rows) <= 5
    data = [row for row in rows[1:] if row[1] and row[1].startswith("Cooperativa")]
    assert [row[0] for row in data] == [f"{i:05d}" for i in range(written)]
    if cut:
        assert len(rows) == 5
        assert rows[-1][0].startswith("Exportación recortada") and f"{written}" in rows[-1][0]
        assert counter["read"] <= 5  # the rest of the rows is never read
    else:
        assert len(rows) == data_rows + 1
    assert counter["read"] == min(data_rows, 5)


def test_xlsx_note_in_english_or_given(tmp_path, monkeypatch):
    openpyxl = pytest.importorskip("openpyxl")
    monkeypatch.setattr(exports, "EXCEL_MAX_ROWS", 3)
    for kwargs, expected in [({"lang": "en"}, "Export cut"), ({"truncated_note": "=recortado"}, "=recortado")]:
        path = xlsx_file(["a"], [(i,) for i in range(10)], None, directory=tmp_path, **kwargs)
        rows = list(openpyxl.load_workbook(path).active.iter_rows(values_only=True))
        path.unlink()
        assert rows[:2] == [("a",), (0,)]
        assert rows[2][0].startswith(expected)


def test_xlsx_removes_its_file_when_rows_fail(tmp_path):
    def broken():
        yield ("ok",)
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        xlsx_file(["a"], broken(), "x", directory=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_sheet_titles_are_valid_for_excel():
    assert sheet_title("Compras [2025]: café/cacao?") == "Compras -2025-- café-cacao-"
    assert sheet_title("x" * 40) == "x" * 31
    assert sheet_title("''") == "Datos" and sheet_title(None, "en") == "Data"


# --------------------------------------------------------------------------- streaming files


def test_iter_file_streams_in_chunks_then_deletes(tmp_path):
    path = tmp_path / "export.xlsx"
    payload = bytes(range(256)) * 1000
    path.write_bytes(payload)
    chunks = list(iter_file(path, chunk_size=64 * 1024))
    assert b"".join(chunks) == payload
    assert [len(c) for c in chunks[:-1]] == [64 * 1024] * (len(chunks) - 1)
    assert not path.exists()


def test_iter_file_deletes_when_closed_early_or_never_started(tmp_path):
    for started in (True, False):
        path = tmp_path / f"export-{started}.xlsx"
        path.write_bytes(b"x" * 200_000)
        response_body = iter_file(str(path), chunk_size=1024)
        if started:
            assert next(iter(response_body)) == b"x" * 1024
        response_body.close()  # what the WSGI server does when the client goes away
        assert not path.exists()


def test_iter_file_accepts_an_open_file(tmp_path):
    path = xlsx_file(["a"], [(1,)], "x", directory=tmp_path)
    handle = open(path, "rb")  # noqa: SIM115 - iter_file closes it
    data = b"".join(iter_file(handle))
    assert data.startswith(b"PK") and handle.closed and not path.exists()


def test_datetimes_are_written_in_the_zone_asked_with_their_offset(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    from marketplace.core.models import BOGOTA

    stored = datetime(2026, 12, 7, 6, 30, 39, 804571)  # as SQLite gives it back: UTC without a zone
    aware = datetime(2026, 12, 7, 6, 30, tzinfo=UTC)
    rows = read_csv(csv_stream(["a", "b"], [(stored, aware)], zone=BOGOTA))
    assert rows[1] == ["2026-12-07T01:30:39.804571-05:00", "2026-12-07T01:30:00-05:00"]
    assert read_csv(csv_stream(["a"], [(aware,)]))[1] == ["2026-12-07T06:30:00+00:00"]
    path = xlsx_file(["a", "b"], [(stored, aware)], directory=tmp_path, zone=BOGOTA)
    try:
        first, second = next(openpyxl.load_workbook(path).active.iter_rows(min_row=2))
    finally:
        path.unlink()
    # Excel keeps no offset: the cell holds Bogotá's clock time (the header names the zone).
    assert first.is_date and first.value.replace(microsecond=0) == datetime(2026, 12, 7, 1, 30, 39)
    assert second.value == datetime(2026, 12, 7, 1, 30)


def test_csv_quotes_every_text_field_so_a_semicolon_split_sees_no_formula():
    text = "".join(csv_stream(["Cooperativa", "kg"], [("Finca; =1+1", Decimal("-0.41")), ("=SUM(A1)", 3)],
                              bom=False))
    lines = text.split("\r\n")
    assert lines[0] == '"Cooperativa","kg"'
    assert lines[1] == '"Finca; =1+1",-0.41'  # numbers stay numbers; text stays one quoted cell
    assert lines[2] == "\"'=SUM(A1)\",3"  # a leading formula character is still neutralised
    # Split on ";" as Excel in Spanish does, honouring quotes: no cell starts with a trigger.
    for row in csv.reader(io.StringIO(text), delimiter=";"):
        assert not any(cell[:1] in "=+-@" and not cell.lstrip("-").replace(".", "").replace(",", "").isdigit()
                       for cell in row), row
