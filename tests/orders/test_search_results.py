"""What a buyer reads in the search results: who sells, from where (the PDET subregion in
words), the landed price per kg at their default site (the cart's own figure), filters that
fold away, grades of the chosen product only; and product names in English on order pages."""

from __future__ import annotations

import re

from sqlalchemy import select

from marketplace.accounts.models import Buyer, Cooperative
from marketplace.catalog.models import Listing, Product
from marketplace.core import formatting
from marketplace.extensions import db
from marketplace.orders import services
from tests.conftest import login
from tests.orders.helpers import D, place, user

STAFF_PAGE = "/seguimiento/tendencias"


def _buyer_client(app, market):
    client = app.test_client()
    login(client, market.buyer)
    return client


def _card(html: str, listing_id: int) -> str:
    cards = re.findall(r'<li class="card">.*?</li>', html, re.S)
    return next(card for card in cards if f"/ofertas/{listing_id}\"" in card)


def _landed(app, market, listing_id: int) -> tuple[str, str]:
    """The cart's landed price per kg of the whole lot at the buyer's site, formatted."""
    with app.app_context(), app.test_request_context():
        listing = db.session.get(Listing, listing_id)
        kg = listing.available_kg
        quoted = services.quote(user(market.buyer), services.OrderRequest(
            [services.LineRequest(listing_id, kg, "kg")], market.site_id, None, None, None))
        return formatting.cop(quoted.parts[0].landed_per_kg, decimals=True), formatting.kg(kg)


def test_each_result_names_the_cooperative_its_place_and_the_landed_price_of_the_cart(app, market):
    client = _buyer_client(app, market)
    html = client.get("/buscar").get_data(as_text=True)
    with app.app_context():
        coop = db.session.get(Cooperative, market.coop_a)
        listing = db.session.get(Listing, market.listing_a)
        site = db.session.get(Buyer, market.buyer_id).delivery_sites[0]
        coop_name, place_label, subregion, site_name = coop.name, listing.municipality.label, \
            listing.pdet_subregion, site.name
    card = _card(html, market.listing_a)
    assert coop_name in card and place_label in card
    assert subregion and f"PDET {subregion}" in card and "<abbr" not in card  # words, not a tooltip
    price, kg = _landed(app, market, market.listing_a)
    assert f"{price} / kg puesto en {site_name}" in card and f"(por {kg})" in card
    # The cart quotes the same lot at the same site to the same peso.
    with app.app_context():
        services.add_to_cart(user(market.buyer), market.listing_a, D("1000"), "kg")
        db.session.commit()
    cart = client.get("/pedido").get_data(as_text=True)
    assert price in cart


def test_the_minimum_kilos_filter_prices_that_quantity(app, market):
    client = _buyer_client(app, market)
    card = _card(client.get("/buscar?min_kg=200").get_data(as_text=True), market.listing_b)
    with app.app_context(), app.test_request_context():
        quoted = services.quote(user(market.buyer), services.OrderRequest(
            [services.LineRequest(market.listing_b, D("200"), "kg")], market.site_id, None, None, None))
        price = formatting.cop(quoted.parts[0].landed_per_kg, decimals=True)
    assert f"{price} / kg puesto en" in card and "(por 200 kg)" in card


def test_a_buyer_without_a_site_is_told_and_sees_the_price_per_kg(app, market, factory):
    _buyer_id, buyer = factory.buyer()
    with app.app_context():
        for site in db.session.get(Buyer, _buyer_id).delivery_sites:
            site.active = False
        db.session.commit()
    client = app.test_client()
    login(client, buyer)
    html = client.get("/buscar").get_data(as_text=True)
    assert "Agregue un sitio de entrega para ver el precio puesto" in html and "puesto en" not in _card(
        html, market.listing_a)
    assert "$ 10.000 / kg" in _card(html, market.listing_a)


def test_filters_fold_away_and_grades_follow_the_product(app, market):
    client = _buyer_client(app, market)
    html = client.get("/buscar").get_data(as_text=True)
    details = re.search(r'<details class="more-filters"[^>]*>', html).group(0)
    assert " open" not in details and "<summary>Más filtros</summary>" in html
    assert html.index('class="more-filters"') < html.index('class="cards results"')
    grade_select = re.search(r'<select name="calidad"[^>]*>.*?</select>', html, re.S).group(0)
    assert " disabled" in grade_select and grade_select.count("<option") == 1 and "Elija primero un producto" in html
    with app.app_context():
        cacao = db.session.scalar(select(Product).where(Product.slug == "cacao-grano-seco"))
        cacao_id, cacao_grades = cacao.id, {g.id for g in cacao.grades if g.active}
    chosen = client.get(f"/buscar?producto={cacao_id}&departamento=52").get_data(as_text=True)
    assert "Más filtros (1 activo)" in chosen or "Más filtros (2 activos)" in chosen
    grade_select = re.search(r'<select name="calidad"[^>]*>.*?</select>', chosen, re.S).group(0)
    offered = {int(v) for v in re.findall(r'<option value="(\d+)"', grade_select)}
    assert offered == cacao_grades and " disabled" not in grade_select.split(">")[0]


def test_demand_form_lists_the_grades_of_the_chosen_product_only(app, market):
    client = _buyer_client(app, market)
    with app.app_context():
        coffee = db.session.scalar(select(Product).where(Product.slug == "cafe-pergamino-seco"))
        coffee_id, coffee_grades = coffee.id, {g.id for g in coffee.grades if g.active}
    html = client.get(f"/solicitudes/nueva?producto={coffee_id}").get_data(as_text=True)
    grade_select = re.search(r'<select[^>]*name="min_grade"[^>]*>.*?</select>', html, re.S).group(0)
    offered = {int(v) for v in re.findall(r'<option value="(\d+)"', grade_select)} - {0}
    assert offered == coffee_grades and "data-grades=" in grade_select


def test_product_and_grade_names_are_english_on_order_pages_and_dropdowns(app, market):
    order_id = place(app, market, [(market.listing_a, "100", "kg")])
    client = _buyer_client(app, market)
    client.post("/idioma", data={"lang": "en"})
    order = client.get(f"/pedidos/{order_id}").get_data(as_text=True)
    assert "Dry cacao beans" in order and "Cacao en grano seco" not in order
    assert "Premium (fermented, ≤7% moisture)" in order
    demand_form = client.get("/solicitudes/nueva").get_data(as_text=True)
    product_select = re.search(r'<select[^>]*name="product"[^>]*>.*?</select>', demand_form, re.S).group(0)
    assert "Dry cacao beans" in product_select and "Cacao en grano seco" not in product_select
    names = re.findall(r'<option[^>]*>([^<]+)</option>', product_select)
    assert names == sorted(names, key=str.casefold)
    search = client.get("/buscar").get_data(as_text=True)
    assert "Dry cacao beans" in search and "Cacao en grano seco" not in search


def test_staff_dropdowns_name_products_in_english(app, market, factory):
    staff = factory.staff()
    client = app.test_client()
    login(client, staff)
    client.post("/idioma", data={"lang": "en"})
    page = client.get(STAFF_PAGE).get_data(as_text=True)
    select_html = re.search(r'<select[^>]*name="producto"[^>]*>.*?</select>', page, re.S).group(0)
    assert "Dry cacao beans" in select_html and "Cacao en grano seco" not in select_html
