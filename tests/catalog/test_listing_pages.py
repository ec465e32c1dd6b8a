"""A cooperative lists, edits, pauses and withdraws harvests; buyers find them; nobody
touches another cooperative's listing."""

import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from marketplace.accounts.models import DeliverySite
from marketplace.catalog.catalogue import seed_catalogue
from marketplace.catalog.models import Listing, ListingChange, ListingPhoto, Product
from marketplace.core.geography import great_circle_km
from marketplace.core.models import bogota_date
from marketplace.extensions import db
from tests.accounts.helpers import field_error
from tests.catalog.helpers import jpeg_photo, listing_form
from tests.conftest import login

TODAY = bogota_date()


@pytest.fixture
def catalogue(app):
    with app.app_context():
        seed_catalogue()
        db.session.commit()
        cacao = db.session.scalar(select(Product).where(Product.slug == "cacao-grano-seco"))
        return {"cacao": cacao.id, "cacao_grade": cacao.grades[0].id,
                "yuca": db.session.scalar(select(Product.id).where(Product.slug == "yuca"))}


def _photo() -> tuple:
    return jpeg_photo()


def _form(catalogue, **changes):
    return listing_form(catalogue["cacao_grade"], **changes)


def _count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_a_cooperative_lists_a_harvest_in_arrobas_with_a_photo(app, factory, catalogue):
    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    response = client.post(f"/ofertas/nueva?producto={catalogue['cacao']}",
                           data={**_form(catalogue), "photos": _photo()}, content_type="multipart/form-data")
    assert response.status_code == 302, re.findall(r'class="error">(.*?)</p>', response.get_data(as_text=True))
    with app.app_context():
        listing = db.session.scalar(select(Listing))
        assert (listing.quantity_kg, listing.available_kg, listing.price_per_kg) == (
            Decimal("500.000"), Decimal("500.000"), Decimal("12000.00"))
        assert listing.unit == "arroba" and listing.municipality_code == "52835" and listing.pdet_subregion
        (photo,) = listing.photos
        thumb = client.get(f"/media/{photo.thumb_key}")
        assert thumb.status_code == 200 and len(thumb.data) <= 20 * 1024 and thumb.mimetype == "image/jpeg"
        assert db.session.scalar(select(func.count()).select_from(ListingChange)) == 1
    page = client.get("/ofertas").get_data(as_text=True)
    assert "500 kg" in page and "$ 150.000 / arroba" in page


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"quantity": "0"}, "quantity", "mayor que cero"),
    ({"quantity": "-3"}, "quantity", "mayor que cero"),
    ({"quantity": "muchas"}, "quantity", "Escriba un número"),
    ({"quantity": "1e9"}, "quantity", "Escriba un número"),
    ({"quantity": "99999999"}, "quantity", "demasiado grande"),
    ({"price": "0"}, "price", "mayor que cero"),
    ({"price": "-100"}, "price", "mayor que cero"),
    ({"price": "999999999999"}, "price", "no es posible"),
    ({"unit": "bulto", "unit_kg": ""}, "unit_kg", "cuántos kg"),
    ({"available_until": (TODAY - timedelta(days=1)).isoformat()}, "available_until", "pasado"),
    ({"available_from": (TODAY - timedelta(days=3)).isoformat()}, "available_from", "pasado"),
    ({"available_from": (TODAY + timedelta(days=10)).isoformat(),
      "available_until": (TODAY + timedelta(days=5)).isoformat()}, "available_until", "posterior"),
    ({"collection_point": "0", "new_point": ""}, "collection_point", "Elija dónde"),
])
def test_bad_listings_are_explained_and_write_nothing(app, factory, catalogue, changes, field, message):
    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    response = client.post(f"/ofertas/nueva?producto={catalogue['cacao']}", data=_form(catalogue, **changes))
    assert response.status_code == 422
    assert message in field_error(response.get_data(as_text=True), field)
    assert _count(app, Listing) == 0


@pytest.mark.parametrize(("payload", "message"), [
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "no es una foto"),
    (b"MZ\x90\x00 not really a picture", "no es una foto"),
])
def test_fake_photos_are_refused(app, factory, catalogue, payload, message):
    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    response = client.post(f"/ofertas/nueva?producto={catalogue['cacao']}",
                           data={**_form(catalogue), "photos": (io.BytesIO(payload), "foto.jpg")},
                           content_type="multipart/form-data")
    assert message in field_error(response.get_data(as_text=True), "photos")
    assert _count(app, Listing) == 0 and _count(app, ListingPhoto) == 0


def test_an_unverified_cooperative_cannot_list(app, factory, catalogue):
    _coop, manager = factory.cooperative(status="pending")
    client = app.test_client()
    login(client, manager)
    # Not a bare 403: the cooperative is sent to the steps that lead to publishing.
    for response in (client.get("/ofertas/nueva"),
                     client.post(f"/ofertas/nueva?producto={catalogue['cacao']}", data=_form(catalogue))):
        assert response.status_code == 302 and response.headers["Location"] == "/inicio#verificacion"
    assert _count(app, Listing) == 0
    assert "Podrá publicar cosechas cuando el equipo verifique" in client.get("/inicio").get_data(as_text=True)


def _create(app, client, catalogue, **changes):
    response = client.post(f"/ofertas/nueva?producto={catalogue['cacao']}", data=_form(catalogue, **changes))
    assert response.status_code == 302
    with app.app_context():
        return db.session.scalar(select(Listing.id).order_by(Listing.id.desc()))


def test_edits_keep_a_history_and_status_changes(app, factory, catalogue):
    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    listing_id = _create(app, client, catalogue)
    with app.app_context():
        point = db.session.get(Listing, listing_id).collection_point_id
    edited = client.post(f"/ofertas/{listing_id}/editar", data=_form(
        catalogue, price="162500", quantity="30", collection_point=str(point), new_point=""))
    assert edited.status_code == 302
    with app.app_context():
        changes = db.session.scalars(select(ListingChange).where(ListingChange.listing_id == listing_id)
                                     .order_by(ListingChange.id)).all()
        assert [(c.price_per_kg_before, c.price_per_kg_after, c.quantity_kg_after) for c in changes] == [
            (None, Decimal("12000.00"), Decimal("500.000")), (Decimal("12000.00"), Decimal("13000.00"), Decimal("375.000"))]
        assert changes[1].actor_id == manager.user_id
    page = client.get(f"/ofertas/{listing_id}").get_data(as_text=True)
    assert "Historial de precio y cantidad" in page and "13.000" in page and "13.000,00" not in page
    client.post(f"/ofertas/{listing_id}/estado", data={"action": "pause"})
    buyer_client = app.test_client()
    _buyer, buyer = factory.buyer()
    login(buyer_client, buyer)
    assert "Ninguna oferta disponible" in buyer_client.get(f"/buscar?producto={catalogue['cacao']}").get_data(as_text=True)
    client.post(f"/ofertas/{listing_id}/estado", data={"action": "reopen"})
    assert f"/ofertas/{listing_id}" in buyer_client.get(f"/buscar?producto={catalogue['cacao']}").get_data(as_text=True)
    client.post(f"/ofertas/{listing_id}/estado", data={"action": "withdraw", "confirm": "1"})
    assert client.get(f"/ofertas/{listing_id}/editar").status_code == 200
    assert "retirada" in client.post(f"/ofertas/{listing_id}/editar", data=_form(catalogue)).get_data(as_text=True)


def test_another_cooperative_cannot_see_or_change_a_listing(app, factory, catalogue):
    _a, owner = factory.cooperative()
    _b, other = factory.cooperative()
    owner_client, other_client = app.test_client(), app.test_client()
    login(owner_client, owner)
    login(other_client, other)
    listing_id = _create(app, owner_client, catalogue)
    assert other_client.get(f"/ofertas/{listing_id}").status_code == 404
    assert other_client.get(f"/ofertas/{listing_id}/editar").status_code == 404
    assert other_client.post(f"/ofertas/{listing_id}/editar", data=_form(catalogue, price="1")).status_code == 404
    assert other_client.post(f"/ofertas/{listing_id}/estado", data={"action": "withdraw"}).status_code == 404
    with app.app_context():
        listing = db.session.get(Listing, listing_id)
        assert listing.status.value == "active" and listing.price_per_kg == Decimal("12000.00")


def test_buyers_search_by_product_and_department_and_see_price_per_kg(app, factory, catalogue):
    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    _create(app, client, catalogue)
    _buyer, buyer = factory.buyer()
    buyer_client = app.test_client()
    login(buyer_client, buyer)
    found = buyer_client.get(f"/buscar?producto={catalogue['cacao']}&departamento=52").get_data(as_text=True)
    assert "$ 12.000 / kg" in found and "San Andrés de Tumaco, Nariño" in found and "PDET" in found
    elsewhere = buyer_client.get(f"/buscar?producto={catalogue['cacao']}&departamento=05").get_data(as_text=True)
    assert "Ninguna oferta disponible" in elsewhere
    bad = buyer_client.get("/buscar?precio_min=abc&departamento=xyz")
    assert bad.status_code == 400 and "Revise estos filtros" in bad.get_data(as_text=True)
    other_buyer, _ = factory.buyer()
    with app.app_context():
        own_site = db.session.scalar(select(DeliverySite.id).where(DeliverySite.buyer_id == _buyer))
        foreign_site = db.session.scalar(select(DeliverySite.id).where(DeliverySite.buyer_id == other_buyer))
    near = buyer_client.get(f"/buscar?orden=distance&sitio={own_site}")
    expected = round(great_circle_km(Decimal("1.807399"), Decimal("-78.764073"), Decimal("4.649251"), Decimal("-74.106992")))
    assert near.status_code == 200 and f"{expected} km en línea recta" in near.get_data(as_text=True)
    assert buyer_client.get(f"/buscar?orden=distance&sitio={foreign_site}").status_code == 400


def test_reference_prices_and_confirmation_of_a_far_price(app, factory, catalogue):
    from marketplace.catalog import sipsa

    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    with app.app_context():
        plantain = db.session.scalar(select(Product).where(Product.slug == "platano-harton"))
        plantain_id, grade_id = plantain.id, plantain.grades[0].id
    reference = sipsa.nearest_reference("Plátano hartón verde", 1.807399, -78.764073)
    page = client.get(f"/ofertas/nueva?producto={plantain_id}").get_data(as_text=True)
    assert "Túquerres (Nariño)" in page and f"{reference.latest.mean:,.0f}".replace(",", ".") in page
    form = _form(catalogue, grade=str(grade_id), unit="canastilla", unit_kg="25", quantity="10",
                 price=str(int(reference.latest.mean * 25 * 5)))  # five times the wholesale price
    far = client.post(f"/ofertas/nueva?producto={plantain_id}", data=form)
    html = far.get_data(as_text=True)
    assert far.status_code == 422 and "la referencia es" in field_error(html, "price")
    assert 'name="confirm_price"' in html and f"{reference.latest.mean * 25:,.0f}".replace(",", ".") in html
    assert _count(app, Listing) == 0
    confirmed = client.post(f"/ofertas/nueva?producto={plantain_id}", data={**form, "confirm_price": "y"})
    assert confirmed.status_code == 302 and _count(app, Listing) == 1


def test_sold_kilos_stay_sold_and_history_cannot_be_rewritten(app, factory, catalogue):
    from decimal import Decimal as D

    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from marketplace.core.audit import AppendOnlyError

    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    listing_id = _create(app, client, catalogue)  # 500 kg
    with app.app_context():
        listing = db.session.get(Listing, listing_id)
        listing.available_kg = D("200")  # 300 kg already ordered
        db.session.commit()
        point = listing.collection_point_id
    too_small = client.post(f"/ofertas/{listing_id}/editar", data=_form(
        catalogue, quantity="20", collection_point=str(point), new_point=""))  # 250 kg < 300 sold
    assert "Ya hay pedidos por 300" in field_error(too_small.get_data(as_text=True), "quantity")
    bigger = client.post(f"/ofertas/{listing_id}/editar", data=_form(
        catalogue, quantity="48", collection_point=str(point), new_point=""))  # 600 kg
    assert bigger.status_code == 302
    with app.app_context():
        listing = db.session.get(Listing, listing_id)
        assert (listing.quantity_kg, listing.available_kg) == (D("600.000"), D("300.000"))
        change = db.session.scalar(select(ListingChange).order_by(ListingChange.id))
        change.price_per_kg_after = D("1")
        with pytest.raises(AppendOnlyError):
            db.session.flush()
        db.session.rollback()
        for statement in ("UPDATE listing_change SET reason = 'x'", "DELETE FROM listing_change"):
            with pytest.raises(DBAPIError):
                db.session.execute(text(statement))
            db.session.rollback()
