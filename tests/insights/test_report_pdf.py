"""The buyer's sourcing impact report: a PDF whose text, pages and labels are checked.

Reports are built with ``compress=False`` so the page streams can be searched: core fonts
write each line as a literal string, in Windows-1252, with ( ) and \\ escaped.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest

from marketplace.insights.report_pdf import LABELS, buyer_report_pdf, pdf_text


def literal(text: str) -> bytes:
    """``text`` as it appears inside a PDF string literal written by fpdf2."""
    raw = text.encode("cp1252")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b", pdf))


def report(rows: int | list = 3, **changes) -> dict:
    data = {
        "buyer": "Chocolates del Valle S.A.S.",
        "period": (date(2025, 1, 1), date(2025, 3, 31)),
        "totals": {"kg": Decimal("375150.5"), "cop": Decimal("5625000000")},
        "rows": [
            {"municipality": "Tumaco", "department": "Nariño",
             "pdet_subregion": "Sur de Bolívar" if i % 2 else None,
             "product": f"Cacao {i}", "kg": Decimal("1250.5"), "cop": Decimal(18_750_000)}
            for i in range(rows)
        ] if isinstance(rows, int) else rows,
        "pdet_share": Decimal("0.825"),
        "women_led_share": Decimal("0.4"),
        "youth_led_share": None,
        "cooperatives_reached": 7,
        "generated_at": datetime(2025, 4, 2, 9, 30),
    }
    data.update(changes)
    return data


def test_is_a_pdf_with_the_buyer_period_and_figures():
    pdf = buyer_report_pdf(report(), compress=False)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    for text in ["Informe de impacto de abastecimiento", "Chocolates del Valle S.A.S.",
                 "Periodo: 1 ene 2025 – 31 mar 2025", "375.150,5 kg", "$ 5.625.000.000",
                 "82,5 %", "40 %", "Cooperativas alcanzadas", "Subregión PDET",
                 "Sur de Bolívar", "Cacao 2", "18.750.000", "1.250,5"]:
        assert literal(text) in pdf, text
    assert literal("—") in pdf  # the unknown youth-led share and the non-PDET rows


def test_compressed_by_default():
    pdf = buyer_report_pdf(report())
    assert pdf.startswith(b"%PDF-") and b"/FlateDecode" in pdf
    assert literal("Cacao 2") not in pdf and literal("Tumaco") not in pdf


def test_buyer_name_with_pdf_syntax_and_other_scripts_is_printed_safely():
    name = "Café (Andino) \\ “Ñandú” — 北京 Ŭ ﬁne\x07"
    pdf = buyer_report_pdf(report(buyer=name), compress=False)
    assert literal("Café (Andino) \\ “Ñandú” — ?? U fine ") in pdf


def test_long_table_paginates_with_headings_and_page_numbers_on_every_page():
    pdf = buyer_report_pdf(report(rows=300), compress=False)
    count = pages(pdf)
    assert count == 9
    footers = re.findall(rb"\(P\xe1gina (\d+) de \) Tj \((\d+)\) Tj", pdf)
    assert footers == [(str(i).encode(), str(count).encode()) for i in range(1, count + 1)]
    assert pdf.count(literal("Municipio")) == count  # table heading repeated on each page
    assert all(literal(f"Cacao {i}") in pdf for i in range(300))
    assert pdf.count(literal("Total")) == 1
    assert pages(buyer_report_pdf(report(rows=20), compress=False)) == 1
    assert pages(buyer_report_pdf(report(rows=600), compress=False)) > count


def test_english_labels():
    pdf = buyer_report_pdf(report(), lang="en", compress=False)
    for text in ["Sourcing impact report", "Cooperatives reached", "COP 5,625,000,000",
                 "375,150.5 kg", "Period: 1 Jan 2025 – 31 Mar 2025", "Page 1 of"]:
        assert literal(text) in pdf, text
    assert literal("Municipio") not in pdf


def test_labels_exist_in_both_languages():
    assert LABELS["es"].keys() == LABELS["en"].keys()
    assert len(LABELS["es"]) >= 15


def test_no_rows_and_missing_figures():
    pdf = buyer_report_pdf(report(rows=0, totals={}, pdet_share=None, generated_at=None), compress=False)
    assert literal("No hubo compras en este periodo.") in pdf
    assert pages(pdf) == 1


def test_rows_may_be_tuples_and_notes_are_printed():
    rows = [("Planadas", "Tolima", "Sur del Tolima", "Café", Decimal(80), Decimal(960000))]
    pdf = buyer_report_pdf(report(rows=rows, notes=["Participaciones sobre el valor en COP."]),
                           compress=False)
    assert literal("Planadas") in pdf and literal("Sur del Tolima") in pdf and literal("960.000") in pdf
    assert literal("• Participaciones sobre el valor en COP.") in pdf


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Nariño — “Café” …", "Nariño — “Café” …"), ("Ŭ ǅ", "U Dž"), ("北京", "??"),
     ("a\tb\nc", "a b c"), ("x ≥ 5 − 2", "x >= 5 - 2"), (None, ""), (12, "12"),
     ("Cafe\u0301", "Café")],
)
def test_pdf_text_keeps_what_core_fonts_print(text, expected):
    assert pdf_text(text) == expected
    pdf_text(text).encode("cp1252")
