"""Staff curate the catalogue: only platform admins change it, and nothing outside it can be listed."""

from datetime import timedelta

from sqlalchemy import select

from marketplace.catalog.catalogue import CATALOGUE, seed_catalogue
from marketplace.catalog.models import Grade, Listing, Product
from marketplace.core.models import AuditEvent, bogota_date
from marketplace.extensions import db
from tests.accounts.helpers import field_error
from tests.conftest import login


def test_the_starting_catalogue_has_the_crops_of_the_territories(app):
    with app.app_context():
        assert seed_catalogue() > 0
        assert seed_catalogue() == 0  # running it again adds nothing
        products = db.session.scalars(select(Product)).all()
        assert len(products) == len(CATALOGUE) >= 20
        assert all(len(p.grades) >= 2 for p in products)
        names = {p.name for p in products}
        assert {"Cacao en grano seco", "Café pergamino seco", "Plátano hartón", "Aguacate Hass", "Panela",
                "Sacha inchi", "Quinua", "Miel de abejas"} <= names


def test_an_admin_adds_renames_and_retires_products_and_grades(app, factory):
    admin = factory.admin()
    client = app.test_client()
    login(client, admin)
    added = client.post("/admin/catalogo", data={"name": "Borojó", "name_en": "Borojo", "category": "fruit",
                                                 "usual_units": ["kg", "caja"]})
    assert added.status_code == 302
    with app.app_context():
        product_id = db.session.scalar(select(Product.id).where(Product.name == "Borojó"))
    client.post(f"/admin/catalogo/{product_id}", data={"action": "add_grade", "g-grade_name": "Primera",
                                                       "g-grade_name_en": "First", "g-rank": "20"})
    client.post(f"/admin/catalogo/{product_id}", data={"action": "save", "name": "Borojó fresco",
                                                       "name_en": "Fresh borojo", "category": "fruit",
                                                       "usual_units": ["kg"]})
    duplicate = client.post("/admin/catalogo", data={"name": "borojó fresco", "name_en": "x", "category": "fruit",
                                                     "usual_units": ["kg"]})
    assert "Ya hay un producto" in field_error(duplicate.get_data(as_text=True), "name")
    client.post(f"/admin/catalogo/{product_id}", data={"action": "retire"})
    with app.app_context():
        product = db.session.get(Product, product_id)
        assert (product.name, product.usual_units, product.active) == ("Borojó fresco", ["kg"], False)
        assert [g.name for g in product.grades] == ["Primera"]
        actions = db.session.scalars(select(AuditEvent.action).where(
            AuditEvent.object_type.in_(["product", "grade"])).order_by(AuditEvent.id)).all()
        assert actions == ["product.created", "grade.created", "product.updated", "product.retired"]


def test_auditors_read_the_catalogue_but_cannot_change_it(app, factory):
    auditor = factory.staff()
    client = app.test_client()
    login(client, auditor)
    assert client.get("/admin/catalogo").status_code == 200
    assert client.post("/admin/catalogo", data={"name": "X", "name_en": "X", "category": "fruit",
                                                "usual_units": ["kg"]}).status_code == 403
    _coop, manager = factory.cooperative()
    coop_client = app.test_client()
    login(coop_client, manager)
    assert coop_client.get("/admin/catalogo").status_code == 403


def test_retired_products_and_grades_cannot_be_listed(app, factory):
    _coop, manager = factory.cooperative()
    with app.app_context():
        seed_catalogue()
        product = db.session.scalar(select(Product).where(Product.slug == "yuca"))
        product_id, grade_id = product.id, product.grades[0].id
        other_grade = product.grades[1].id
        db.session.get(Grade, other_grade).active = False
        db.session.commit()
    client = app.test_client()
    login(client, manager)
    today = bogota_date()
    form = {"grade": str(other_grade), "quantity": "10", "unit": "kg", "price": "1500",
            "harvest_date": today.isoformat(), "available_from": today.isoformat(),
            "available_until": (today + timedelta(days=9)).isoformat(), "collection_point": "0", "new_point": "Acopio"}
    assert client.post(f"/ofertas/nueva?producto={product_id}", data=form).status_code == 422
    with app.app_context():
        db.session.get(Product, product_id).active = False
        db.session.commit()
    form["grade"] = str(grade_id)
    assert client.get(f"/ofertas/nueva?producto={product_id}").status_code == 404
    assert client.post(f"/ofertas/nueva?producto={product_id}", data=form).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(Listing.id)) is None
