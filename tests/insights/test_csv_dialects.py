"""Every CSV download comes in two dialects (issue 16, item 8): "CSV para Excel (español)"
(";", decimal comma, UTF-8 with BOM) and "CSV para programas" (",", decimal point, no BOM).
In both, a hostile cooperative name stays one cell of inert text whatever separator a
spreadsheet splits on."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from sqlalchemy import select

from marketplace.accounts.models import Organisation
from marketplace.core import csvout
from marketplace.extensions import db
from marketplace.orders.models import OrderLine
from tests.conftest import login
from tests.insights.test_pages import sold  # noqa: F401  (fixture)
from tests.orders.conftest import market  # noqa: F401  (fixture)

HOSTILE = "Coop B;=1+2;@SUM(1+1)*cmd|' /C calc'!A0"
FORMULA_START = tuple("=+-@\t\r＝＋－＠")


def _read(text: str, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def _is_number(cell: str, decimal: str) -> bool:
    try:
        Decimal(cell.replace(decimal, ".") if decimal == "," else cell)
    except ArithmeticError:
        return False
    return True


def _no_live_formula(rows: list[list[str]], decimal: str) -> None:
    for row in rows:
        for cell in row:
            # A negative number is a number, not a formula.
            assert not cell.startswith(FORMULA_START) or _is_number(cell, decimal), cell


@pytest.mark.parametrize("dialect", [csvout.PLAIN, csvout.EXCEL_ES])
@pytest.mark.parametrize("split_on", [",", ";", "\t"])
def test_the_hostile_name_is_one_inert_cell_whatever_the_separator(dialect, split_on):
    text = "".join(csvout.stream(["Cooperativa", "kg"], [(HOSTILE, Decimal("-0.41")), ("\t=cmd", 3)], dialect))
    body = text.removeprefix(csvout.BOM)
    if split_on == dialect.separator:
        rows = _read(body, split_on)
        assert rows[1] == ["'" + HOSTILE if HOSTILE[0] in FORMULA_START else HOSTILE, f"-0{dialect.decimal}41"]
        assert rows[2] == ["'\t=cmd", "3"]
    else:
        # Split on another separator (a spreadsheet guessing wrong): the quoted name is still
        # never cut into cells that start with a formula character.
        rows = _read(body, split_on)
    for row in rows:
        for cell in row:
            assert not cell.lstrip('"').startswith(("=", "@", "+")), cell


def test_excel_spanish_dialect_has_bom_semicolons_and_decimal_comma():
    text = "".join(csvout.stream(["a", "b", "c"], [("x", Decimal("1234.5"), 2.25)], csvout.EXCEL_ES))
    assert text.startswith(csvout.BOM)
    assert text == '\ufeff"a";"b";"c"\r\n"x";1234,5;2,25\r\n'
    plain = "".join(csvout.stream(["a", "b", "c"], [("x", Decimal("1234.5"), 2.25)], csvout.PLAIN))
    assert plain == '"a","b","c"\r\n"x",1234.5,2.25\r\n'


EXPORTS = ("/seguimiento/indicadores", "/seguimiento/tendencias", "/seguimiento/anomalias",
           "/seguimiento/auditoria?accion=order_part.accept", "/seguimiento/ventas")


def _hostile(app, market) -> None:  # noqa: F811
    with app.app_context():
        db.session.get(Organisation, market.coop_a).name = HOSTILE
        db.session.commit()


def _check(response, dialect) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    raw = response.data
    if dialect.bom:
        assert raw.startswith("\ufeff".encode())
        assert response.headers["Content-Disposition"].endswith('-excel.csv"')
    else:
        assert not raw.startswith("\ufeff".encode())
    text = raw.decode("utf-8").removeprefix(csvout.BOM)
    first_line = text.split("\r\n")[0]
    assert first_line.startswith('"') and dialect.separator in first_line
    rows = _read(text, dialect.separator)
    _no_live_formula(rows, dialect.decimal)
    return rows


@pytest.mark.parametrize("dialect", [csvout.PLAIN, csvout.EXCEL_ES])
def test_every_staff_export_in_both_dialects_keeps_the_hostile_name_in_one_cell(app, sold, factory, dialect):  # noqa: F811
    _hostile(app, sold)
    auditor = app.test_client()
    login(auditor, factory.staff())
    with app.app_context():
        product = db.session.scalar(select(OrderLine.product_id))
    found = 0
    for path in EXPORTS:
        sep = "&" if "?" in path else "?"
        formato = "csv" if dialect is csvout.PLAIN else "csv-excel"
        rows = _check(auditor.get(f"{path}{sep}formato={formato}&producto={product}"), dialect)
        found += sum(row.count(HOSTILE) for row in rows)
    assert found >= 2  # in the sales and in the audit trail, each time as exactly one cell
    sales = _check(auditor.get(f"/seguimiento/ventas?formato={formato}&producto={product}"), dialect)
    kilos = [row[sales[0].index("Kg")] for row in sales[1:]]
    assert kilos and all(_is_number(k, dialect.decimal) for k in kilos)
    cop_kg = [row[sales[0].index("COP/kg")] for row in sales[1:]]
    wrong_mark = "." if dialect.decimal == "," else ","
    assert not any(wrong_mark in value for value in kilos + cop_kg)


@pytest.mark.parametrize("dialect", [csvout.PLAIN, csvout.EXCEL_ES])
def test_the_buyer_report_in_both_dialects(app, sold, dialect):  # noqa: F811
    buyer = app.test_client()
    login(buyer, sold.buyer)
    formato = "csv" if dialect is csvout.PLAIN else "csv-excel"
    rows = _check(buyer.get(f"/impacto?desde=2020-01&formato={formato}"), dialect)
    kg = rows[1][rows[0].index("Kg")]
    assert _is_number(kg, dialect.decimal)
    assert ("," in kg) == (dialect.decimal == "," and not kg.isdigit())


def test_the_export_pages_offer_both_csvs_and_say_which_is_which(app, sold, factory):  # noqa: F811
    auditor = app.test_client()
    login(auditor, factory.staff())
    for path in ("/seguimiento/indicadores", "/seguimiento/tendencias", "/seguimiento/anomalias",
                 "/seguimiento/auditoria"):
        page = auditor.get(path).get_data(as_text=True)
        assert "CSV para Excel (español)" in page and "CSV para programas" in page, path
        assert "formato=csv-excel" in page and "punto y coma" in page
    assert auditor.get("/seguimiento/indicadores?formato=csv-raro").status_code == 400
    buyer = app.test_client()
    login(buyer, sold.buyer)
    page = buyer.get("/impacto?desde=2020-01").get_data(as_text=True)
    assert "CSV para Excel (español)" in page and "CSV para programas" in page
