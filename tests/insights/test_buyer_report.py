"""The buyer's impact report: the page, its PDF and its CSV give the same headline figures
(period, kilos, value, cooperatives reached, PDET, women- and youth-led shares, the table's total)."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from babel.dates import format_date
from babel.numbers import format_decimal
from pypdf import PdfReader
from sqlalchemy import select

from marketplace.accounts.models import Cooperative
from marketplace.extensions import db
from marketplace.orders import services
from marketplace.orders.models import OrderPart
from tests.conftest import login
from tests.orders.conftest import market  # noqa: F401  (fixture)
from tests.orders.helpers import place, user

# The page's labels, the PDF's labels, in each language.
LABELS = {
    "es": {"period": ("Periodo", "Periodo:"), "cooperatives": ("Cooperativas", "Cooperativas alcanzadas"),
           "kg": (None, "Cantidad comprada"), "cop": (None, "Valor comprado"), "bought": ("Compras", None),
           "pdet": ("De municipios PDET", "Compras en municipios PDET"),
           "women": ("De cooperativas lideradas por mujeres", "Compras a organizaciones lideradas por mujeres"),
           "youth": ("De cooperativas lideradas por jóvenes", "Compras a organizaciones lideradas por jóvenes")},
    "en": {"period": ("Period", "Period:"), "cooperatives": ("Cooperatives", "Cooperatives reached"),
           "kg": (None, "Quantity bought"), "cop": (None, "Value bought"), "bought": ("Purchases", None),
           "pdet": ("From PDET municipalities", "Purchases in PDET municipalities"),
           "women": ("From women-led cooperatives", "Purchases from women-led organisations"),
           "youth": ("From youth-led cooperatives", "Purchases from youth-led organisations")},
}
NUMBERS = {"es": "es_CO", "en": "en_US"}


@pytest.fixture
def sold(app, market):  # noqa: F811
    """100 kg at 10,000 from a women-led cooperative and 50 kg at 11,000 from one led by
    women and youth, both in PDET municipalities, accepted: shares of 100 %, 100 % and 35.5 %."""
    with app.app_context():
        db.session.get(Cooperative, market.coop_b).members_youth = 70
        db.session.commit()
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "50", "kg")])
    with app.app_context():
        for part in db.session.scalars(select(OrderPart).where(OrderPart.order_id == order_id)):
            manager = market.manager_a if part.cooperative_id == market.coop_a else market.manager_b
            services.accept(user(manager), part)
        db.session.commit()
    return market


def _page_figures(page: str, lang: str) -> dict[str, str]:
    facts = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", page.split('<dl class="facts">')[1].split("</dl>")[0]))
    facts = {html.unescape(k): html.unescape(v) for k, v in facts.items()}
    labels = LABELS[lang]
    kg, cop = facts[labels["bought"][0]].split(" · ")
    total = re.findall(r'<td[^>]*class="num">(.*?)</td>', page.split("<tfoot>")[1].split("</tfoot>")[0])
    return {"period": facts[labels["period"][0]], "kg": kg, "cop": cop,
            "cooperatives": facts[labels["cooperatives"][0]], "pdet": facts[labels["pdet"][0]],
            "women": facts[labels["women"][0]], "youth": facts[labels["youth"][0]],
            "total": " ".join(html.unescape(t) for t in total)}


def _pdf_figures(pdf: bytes, lang: str) -> dict[str, str]:
    lines = PdfReader(io.BytesIO(pdf)).pages[0].extract_text().splitlines()
    labels = LABELS[lang]

    def after(label):
        found = [line[len(label):].strip() for line in lines if line.startswith(label + " ")]
        assert len(found) == 1, (label, lines)
        return found[0]

    total = after("Total").split(" ")
    return {"period": after(labels["period"][1]), "kg": after(labels["kg"][1]), "cop": after(labels["cop"][1]),
            "cooperatives": after(labels["cooperatives"][1]), "pdet": after(labels["pdet"][1]),
            "women": after(labels["women"][1]), "youth": after(labels["youth"][1]),
            # The PDF's table gives bare numbers under its kg and COP headings.
            "total": f"{total[0]} kg {'$ ' if lang == 'es' else 'COP '}{total[1]}"}


def _csv_figures(data: str, lang: str) -> dict[str, str]:
    """The CSV's plain values, written the way the page writes them."""
    rows = list(csv.reader(io.StringIO(data.lstrip("\ufeff"))))
    by_label = {row[0]: row[1:] for row in rows if row}
    labels, locale = LABELS[lang], NUMBERS[lang]
    total = rows[[row[:1] for row in rows].index(["Total"])]

    def number(text, pattern):
        return format_decimal(Decimal(text), format=pattern, locale=locale)

    def cop(text):
        return f"{'$ ' if lang == 'es' else 'COP '}{number(text, '#,##0')}"

    start, end = (format_date(date.fromisoformat(d), "d MMM y", locale=lang) for d in by_label[labels["period"][0]][:2])
    share = {key: f"{number(by_label[labels[key][0] + ' (%)'][0], '#,##0.#')} %" for key in ("pdet", "women", "youth")}
    return {"period": f"{start} – {end}", "kg": f"{number(total[4], '#,##0.###')} kg", "cop": cop(total[5]),
            "cooperatives": number(by_label[labels["cooperatives"][0]][0], "#,##0"), **share,
            "total": f"{number(total[4], '#,##0.###')} kg {cop(total[5])}"}


@pytest.mark.parametrize("lang", ["es", "en"])
def test_page_pdf_and_csv_give_the_same_headline_figures(app, sold, lang):
    buyer = app.test_client()
    login(buyer, sold.buyer)
    page = buyer.get(f"/impacto?lang={lang}&desde=2020-01")
    assert page.status_code == 200
    shown = _page_figures(page.get_data(as_text=True), lang)
    pdf = buyer.get(f"/impacto?lang={lang}&desde=2020-01&formato=pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    printed = _pdf_figures(pdf.data, lang)
    download = buyer.get(f"/impacto?lang={lang}&desde=2020-01&formato=csv")
    assert download.status_code == 200
    written = _csv_figures(download.get_data(as_text=True), lang)
    assert printed == shown
    assert written == shown
    # The figures themselves, so that three equal dashes cannot pass.
    expected = {"es": ("150 kg", "$ 1.550.000", "2", "100 %", "100 %", "35,5 %"),
                "en": ("150 kg", "COP 1,550,000", "2", "100 %", "100 %", "35.5 %")}[lang]
    assert (shown["kg"], shown["cop"], shown["cooperatives"], shown["pdet"], shown["women"], shown["youth"]) == expected
    assert shown["period"].startswith("1 ") and "2020" in shown["period"] and "—" not in str(shown)


def test_xlsx_download_has_the_table_total_and_headline(app, sold):
    openpyxl = pytest.importorskip("openpyxl")
    buyer = app.test_client()
    login(buyer, sold.buyer)
    response = buyer.get("/impacto?formato=xlsx")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = {row[0]: row[1:] for row in sheet.iter_rows(values_only=True) if row and row[0]}
    assert rows["Total"][3:5] == (150, 1550000)
    assert rows["Cooperativas"][0] == 2
    assert float(rows["De cooperativas lideradas por jóvenes (%)"][0]) == pytest.approx(35.48)


def test_the_pdf_refuses_a_report_with_unknown_keys():
    from marketplace.insights.report_pdf import buyer_report_pdf

    with pytest.raises(ValueError, match="women_share"):
        buyer_report_pdf({"buyer": "X", "women_share": Decimal("0.4")})
