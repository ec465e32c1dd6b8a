"""Staff pages speak the reader's language: ALPS/IPA bands in Spanish or English, index values
with the locale's decimal separator, and the per-sale download names what it sells."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from marketplace.catalog.models import Listing
from marketplace.extensions import db
from marketplace.insights import services
from marketplace.insights.indicators import AlpsPoint, IpaPoint
from marketplace.orders import services as orders
from marketplace.orders.models import OrderLine, OrderPart
from tests.conftest import login
from tests.orders.conftest import market  # noqa: F401  (fixture)
from tests.orders.helpers import place, user


def _fake_anomalies(real):
    """The real result for the filters, with one month of ALPS and IPA in known bands (a
    series long enough for the indicators needs three years of sales)."""
    def anomalies(f, flagged_limit=50):
        result = real(f, flagged_limit=flagged_limit)
        month = date(2026, 3, 1)
        result.platform.alps = [AlpsPoint(month, Decimal("9500"), 9800.0, -0.4123, "normal"),
                                AlpsPoint(date(2026, 4, 1), Decimal("12500"), 9800.0, 1.5, "alert"),
                                AlpsPoint(date(2026, 5, 1), Decimal("11500"), 9800.0, 0.5, "stress")]
        result.platform.ipa = [IpaPoint(date(2026, 5, 1), Decimal("11500"), 0.2, 0.3, 1.25, "high")]
        return result
    return anomalies


@pytest.mark.parametrize("lang, expected, absent", [
    ("es", ("-0,41", "1,50", "1,25", ">estrés<", ">alerta<", ">anormalmente alto<", ">normal<"),
     ("-0.41", ">stress<", ">alert<", ">high<")),
    ("en", ("-0.41", "1.50", "1.25", ">stress<", ">alert<", ">abnormally high<", ">normal<"),
     ("-0,41", ">estrés<", ">alerta<", ">high<")),
])
def test_alps_and_ipa_bands_and_values_in_the_readers_language(app, market, factory, monkeypatch,  # noqa: F811
                                                                lang, expected, absent):
    monkeypatch.setattr(services, "anomalies", _fake_anomalies(services.anomalies))
    staff = app.test_client()
    login(staff, factory.staff())
    with app.app_context():
        product = db.session.get(Listing, market.listing_a).product_id
    page = staff.get(f"/seguimiento/anomalias?producto={product}&lang={lang}").get_data(as_text=True)
    table = page.split("<tbody>")[1].split("</tbody>")[0]
    for text in expected:
        assert text in table, (lang, text)
    for text in absent:
        assert text not in table, (lang, text)


@pytest.mark.parametrize("lang", ["es", "en"])
def test_the_per_sale_download_names_products_grades_places_and_organisations(app, market, factory, lang):  # noqa: F811
    order_id = place(app, market, [(market.listing_a, "100", "kg")])
    with app.app_context():
        part = db.session.scalar(select(OrderPart).where(OrderPart.order_id == order_id))
        orders.accept(user(market.manager_a), part)
        db.session.commit()
        line = db.session.scalar(select(OrderLine).where(OrderLine.part_id == part.id))
        product = line.product.name if lang == "es" else line.product.name_en
        grade = line.grade.name if lang == "es" else line.grade.name_en
        product_id = line.product_id
    staff = app.test_client()
    login(staff, factory.staff())
    response = staff.get(f"/seguimiento/ventas?formato=csv&producto={product_id}&lang={lang}")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    header, first = rows[0], rows[1]
    names = {"es": ("Producto", "Calidad", "Municipio", "Cooperativa", "Comprador", "Código DIVIPOLA",
                    "Liderada por mujeres"),
             "en": ("Product", "Grade", "Municipality", "Cooperative", "Purchaser", "DIVIPOLA code", "Women-led")}[lang]
    got = dict(zip(header, first, strict=True))
    assert got[names[0]] == product and got[names[1]] == grade
    assert got[names[2]] == "San Andrés de Tumaco" and got[names[5]] == "52835"
    assert got[names[3]] == "Asociación Cacaotera de Tumaco" and got[names[4]] == "Chocolates Andinos S.A.S."
    assert got[names[6]] in (("Sí", "No") if lang == "es" else ("Yes", "No"))
    # Names and ids both: the ids stay for joins, in their own columns.
    assert got["Producto n.º" if lang == "es" else "Product no."] == str(product_id)
    # Every text field is quoted in the file itself (a ";" split never starts a cell inside text).
    raw_line = response.get_data(as_text=True).splitlines()[1]
    assert f'"{product}"' in raw_line and '"Asociación Cacaotera de Tumaco"' in raw_line
