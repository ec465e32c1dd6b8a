"""Prices people can trust (the 40 % rule against every kind of reference, explained in
numbers, the same box after an error), units as they are traded (cacao in cargas, the unit
shown beside kg, plurals in both languages), pesos, kilometres and Spanish collation."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.catalog import display, services, sipsa
from marketplace.catalog.catalogue import seed_catalogue
from marketplace.catalog.models import Listing, Product
from marketplace.core import formatting
from marketplace.core.errors import DomainError
from marketplace.core.models import bogota_date
from marketplace.core.text import collation_key, sort_names
from marketplace.extensions import db
from tests.conftest import login

TODAY = bogota_date()
D = Decimal
TUMACO = (1.807399, -78.764073)


@pytest.fixture
def catalogue(app):
    with app.app_context():
        seed_catalogue()
        db.session.commit()
        ids = {p.slug: (p.id, p.grades[0].id) for p in db.session.scalars(select(Product))}
    return ids


@pytest.fixture
def paid(app):
    """Prices paid on the platform, per (product, grade or None): what the orders hook answers."""
    prices: dict = {}
    old = services.PAID_PRICES_HOOK
    services.PAID_PRICES_HOOK = lambda product_id, grade_id, dept, start, end: prices.get((product_id, grade_id), [])
    yield prices
    services.PAID_PRICES_HOOK = old


def _data(product, price, unit="kg", **changes) -> services.ListingData:
    values = dict(product_id=product[0], grade_id=product[1], quantity=D("40"), unit=unit,
                  price_per_unit=D(price), harvest_date=TODAY, available_from=TODAY,
                  available_until=TODAY + timedelta(days=20), new_point_name="Vereda La Playa")
    values.update(changes)
    return services.ListingData(**values)


def _create(app, person, data):
    """Create the listing; the refusal's (status, message), or None once it is created."""
    with app.app_context(), app.test_request_context():
        try:
            services.create_listing(db.session.get(User, person.user_id), data)
        except DomainError as error:
            db.session.rollback()
            return error.status_code, str(error.message)
        db.session.commit()
        return None


def _plantain_reference() -> Decimal:
    return sipsa.nearest_reference("Plátano hartón verde", *TUMACO).latest.mean


# ------------------------------------------------------------------ 40 % rule


def test_the_issues_example_a_price_per_arroba_typed_as_per_kg_needs_confirmation(app, factory, catalogue, paid):
    _coop, manager = factory.cooperative()
    cacao = catalogue["cacao-grano-seco"]
    paid[(cacao[0], cacao[1])] = [D("13481")]  # the grade's platform median: 13.481 $/kg
    refused = _create(app, manager, _data(cacao, "13500", "arroba"))  # 1.080 $/kg, 92 % too low
    assert refused is not None and refused[0] == 409
    message = refused[1]
    assert "$ 13.500 por arroba = $ 1.080 por kg" in message
    assert "la referencia es $ 13.481 por kg (mediana de la plataforma para esta calidad)" in message
    assert "un 92 % menos" in message
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Listing)) == 0
    assert _create(app, manager, _data(cacao, "13500", "arroba", confirm_price=True)) is None
    assert _create(app, manager, _data(cacao, "168500", "arroba")) is None  # 13.480 $/kg: right


def test_the_product_median_is_the_reference_when_the_grade_has_no_sales(app, factory, catalogue, paid):
    _coop, manager = factory.cooperative()
    cacao = catalogue["cacao-grano-seco"]
    paid[(cacao[0], None)] = [D("9000"), D("10000"), D("11000")]
    refused = _create(app, manager, _data(cacao, "15000"))  # 50 % above 10.000
    assert refused[0] == 409 and "mediana de la plataforma para este producto" in refused[1]
    assert "un 50 % más" in refused[1]


@pytest.mark.parametrize(("factor", "needs_confirmation"), [
    ("0.59", True), ("0.6", False), ("1", False), ("1.4", False), ("1.41", True), ("10", True)])
def test_sipsa_is_the_reference_without_platform_sales_and_40_percent_is_the_limit(
        app, factory, catalogue, paid, factor, needs_confirmation):
    _coop, manager = factory.cooperative()
    reference = _plantain_reference()
    per_canastilla = (reference * D(factor) * 25).quantize(D("0.01"))
    refused = _create(app, manager, _data(catalogue["platano-harton"], per_canastilla, "canastilla", unit_kg=D("25")))
    assert (refused is not None) is needs_confirmation
    if needs_confirmation:
        assert refused[0] == 409 and "por canastilla = " in refused[1] and "(mayorista SIPSA en Túquerres" in refused[1]


def test_without_any_reference_no_price_needs_confirmation(app, factory, catalogue, paid):
    _coop, manager = factory.cooperative()
    assert _create(app, manager, _data(catalogue["cacao-grano-seco"], "1")) is None


def test_the_api_refuses_a_far_price_with_the_same_explanation(app, factory, catalogue, paid):
    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    page = client.post("/cuenta/tokens", data={"token-name": "ERP", "token-password": manager.password})
    token = re.search(r'id="new-token">([^<]+)<', page.get_data(as_text=True)).group(1)
    cacao = catalogue["cacao-grano-seco"]
    paid[(cacao[0], cacao[1])] = [D("13481")]
    body = {"product_id": cacao[0], "grade_id": cacao[1], "quantity": "40", "unit": "arroba",
            "price_per_unit": "13500", "harvest_date": TODAY.isoformat(), "available_from": TODAY.isoformat(),
            "available_until": (TODAY + timedelta(days=20)).isoformat(),
            "new_collection_point": {"name": "Centro de acopio El Charco"}}
    api = app.test_client()
    far = api.post("/api/v1/listings", json=body, headers={"Authorization": f"Bearer {token}"})
    assert far.status_code == 409 and "= $ 1.080 por kg; la referencia es $ 13.481 por kg" in far.get_data(as_text=True)
    confirmed = api.post("/api/v1/listings", json={**body, "confirm_price": True},
                         headers={"Authorization": f"Bearer {token}"})
    assert confirmed.status_code == 201


# ------------------------------------------------------------- reference box


def _box(html: str) -> str:
    return re.search(r'<div class="refs" id="referencias".*?</div>', html, re.S).group(0)


def test_the_reference_box_is_the_same_after_an_error_and_per_the_unit_typed(app, factory, catalogue, paid):
    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    plantain = catalogue["platano-harton"]
    reference = _plantain_reference()
    url = f"/ofertas/nueva?producto={plantain[0]}"
    before = _box(client.get(url).get_data(as_text=True))
    per_kg = formatting.cop(reference)
    assert per_kg.replace("$ ", "") in before and "mayorista SIPSA en Túquerres" in before
    assert f'data-ref-kg="{formatting.plain(reference)}"' in before and "data-unit-weights" in before
    form = {"grade": str(plantain[1]), "quantity": "", "unit": "tonelada", "unit_kg": "", "price": "1000",
            "harvest_date": TODAY.isoformat(), "available_from": TODAY.isoformat(),
            "available_until": (TODAY + timedelta(days=5)).isoformat(), "collection_point": "0", "new_point": "La Playa"}
    failed = client.post(url, data=form)
    after = _box(failed.get_data(as_text=True))
    assert failed.status_code == 422 and "aún sin ventas" not in after
    assert per_kg.replace("$ ", "") in after and "mayorista SIPSA en Túquerres" in after
    assert f"{formatting.cop(reference * 1000)} por tonelada" in after  # the unit being typed


def test_the_box_says_why_there_is_no_reference(app, factory, catalogue, paid):
    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    box = _box(client.get(f"/ofertas/nueva?producto={catalogue['cacao-grano-seco'][0]}").get_data(as_text=True))
    assert "No hay con qué comparar" in box and "SIPSA no publica" in box and "data-ref-kg" not in box


# ----------------------------------------------------------------------- units


def test_cacao_is_listed_and_ordered_in_cargas_and_the_unit_is_shown_beside_kg(app, factory, catalogue, paid):
    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    cacao = catalogue["cacao-grano-seco"]
    page = client.get(f"/ofertas/nueva?producto={cacao[0]}").get_data(as_text=True)
    assert '<option value="carga">carga (125 kg)</option>' in page
    form = {"grade": str(cacao[1]), "quantity": "4", "unit": "carga", "unit_kg": "", "price": "1250000",
            "harvest_date": TODAY.isoformat(), "available_from": TODAY.isoformat(),
            "available_until": (TODAY + timedelta(days=5)).isoformat(), "collection_point": "0", "new_point": "La Playa"}
    assert client.post(f"/ofertas/nueva?producto={cacao[0]}", data=form).status_code == 302
    with app.app_context():
        listing = db.session.scalar(select(Listing))
        assert listing.unit == "carga" and listing.quantity_kg == D("500") and listing.price_per_kg == D("10000")
        listing_id = listing.id
        product = db.session.get(Product, cacao[0])
        from marketplace.orders import services as orders

        assert "carga" in orders.order_units(listing)
        assert [u for u in orders.order_units(listing) if u != "carga"] == ["kg", "arroba", "tonelada"]
        assert set(orders.order_units(listing)) <= set(services.units.trade_units(product.usual_units))
    mine = client.get("/ofertas").get_data(as_text=True)
    assert "4 cargas (500 kg) disponibles de 4 cargas (500 kg)" in mine and "$ 1.250.000 / carga" in mine
    buyer_id, buyer = factory.buyer()
    buyer_client = app.test_client()
    login(buyer_client, buyer)
    listing_page = buyer_client.get(f"/ofertas/{listing_id}").get_data(as_text=True)
    assert "4 cargas (500 kg)" in listing_page and '<option value="carga" selected>' in listing_page
    with app.app_context():
        from marketplace.orders import services as orders

        orders.add_to_cart(db.session.get(User, buyer.user_id), listing_id, D("2"), "carga")
        db.session.commit()
    cart = buyer_client.get("/pedido").get_data(as_text=True)
    assert "4 cargas (500 kg)" in cart


def test_a_unit_outside_the_products_list_is_refused(app, factory, catalogue, paid):
    _coop, manager = factory.cooperative()
    refused = _create(app, manager, _data(catalogue["cacao-grano-seco"], "10000", "racimo", unit_kg=D("20")))
    assert refused is not None and refused[1] == "Elija una unidad de la lista."


def test_plurals_in_both_languages(app):
    with app.test_request_context():
        with force_locale("es"):
            assert display.unit_count(D("2"), "tonelada") == "2 toneladas"
            assert display.unit_count(D("1"), "arroba") == "1 arroba"
            assert display.unit_count(D("40"), "arroba") == "40 arrobas"
            assert display.unit_count(D("1.5"), "carga") == "1,5 cargas"
            assert display.unit_quantity(D("500"), "arroba") == "40 arrobas (500 kg)"
            assert display.unit_quantity(D("500"), "kg") == "500 kg"
            assert display.unit_quantity(D("150"), "bulto", D("50")) == "3 bultos (150 kg)"
        with force_locale("en"):
            assert display.unit_count(D("2"), "tonelada") == "2 tonnes"
            assert display.unit_count(D("1"), "tonelada") == "1 tonne"
            assert display.unit_count(D("40"), "arroba") == "40 arrobas"
            assert display.unit_quantity(D("1500"), "bulto", D("50")) == "30 sacks (1,500 kg)"


def test_pesos_show_centavos_only_when_there_are_some_and_distances_whole_km(app):
    with app.test_request_context(), force_locale("es"):
        assert formatting.cop(D("13600.00"), decimals=True) == "$ 13.600"
        assert formatting.cop(D("1080.50"), decimals=True) == "$ 1.080,50"
        assert formatting.cop(D("1080.50")) == "$ 1.080"  # totals never show centavos
        assert formatting.km(D("384.058")) == "384 km"
        assert formatting.km(1234.6) == "1.235 km"
    with app.test_request_context(), force_locale("en"):
        assert formatting.cop(D("13600.00"), decimals=True) == "COP 13,600"
        assert formatting.cop(D("1080.5"), decimals=True) == "COP 1,080.50"
        assert formatting.km(D("384.058")) == "384 km"


# ------------------------------------------------------------------- collation


def test_spanish_collation():
    names = ["Ñame", "Maracuyá", "Naranja", "Maíz blanco", "Yuca", "ají", "Aguacate", "Nariño", "Nariz", "Ánimas"]
    assert sort_names(names) == ["Aguacate", "ají", "Ánimas", "Maíz blanco", "Maracuyá", "Naranja", "Nariño",
                                 "Nariz", "Ñame", "Yuca"]
    key = collation_key("es")
    assert key("Maíz") < key("Maracuyá") and key("Naranja") < key("Ñame") < key("Oca")
    assert key("cafe") < key("café") < key("Café")  # accents, then case, only break ties
    english = collation_key("en")
    assert english("Ñame") < english("Naranja")  # English has no letter ñ


def test_products_are_listed_in_the_readers_alphabetical_order(app, client, catalogue):
    spanish = [p["name"] for p in client.get("/api/v1/products").get_json()]
    assert spanish.index("Maíz blanco") < spanish.index("Maracuyá")
    assert spanish[-1] != "Ñame" and spanish.index("Ñame") > spanish.index("Miel de abejas")
    with app.test_request_context(), force_locale("en"):
        english = [display.product_name(p) for p in services.active_products()]
        assert english == sorted(english, key=str.casefold)
        assert "Yam" in english and "Ñame" not in english


def test_departments_and_subregions_follow_spanish_collation(app):
    from marketplace.core import geography

    with app.app_context():
        names = [name for _code, name in geography.departments()]
        subregions = geography.pdet_subregions()
    key = collation_key("es")
    assert names == sorted(names, key=key) and subregions == sorted(subregions, key=key)
    assert names.index("Cesar") < names.index("Chocó") < names.index("Córdoba") < names.index("Cundinamarca")


def test_the_api_lists_the_units_a_product_is_listed_and_ordered_in(client, catalogue):
    products = {p["slug"]: p for p in client.get("/api/v1/products").get_json()}
    assert products["cacao-grano-seco"]["units"] == ["kg", "arroba", "carga", "bulto", "tonelada"]
    assert products["platano-harton"]["units"][:2] == ["kg", "racimo"] and "carga" in products["platano-harton"]["units"]
