"""Cooperatives and buyers register themselves; bad input is explained beside the field
and writes nothing."""

import pytest
from sqlalchemy import select

from marketplace.accounts.models import Buyer, Cooperative, Membership, OrgStatus, Role, User
from marketplace.core.models import AuditEvent
from marketplace.extensions import db
from tests.accounts.helpers import field_error, row_counts

COOP = {
    "name": "Asociación de Cacaoteros del Mira", "legal_form": "asociacion", "nit": "",
    "municipality": "tumaco", "members_total": "85", "members_women": "40", "members_youth": "20",
    "members_victims": "30", "substitution_families": "12", "full_name": "Luz Marina Quiñones",
    "phone": "311 555 0101", "email": "", "password": "Cacao del Mira 2026",
    "password_confirm": "Cacao del Mira 2026", "consent": "y",
}
BUYER = {
    "name": "Chocolates de Prueba S.A.S.", "nit": "900.373.913-4", "sector": "Alimentos",
    "andi_member": "y", "municipality": "11001", "site_name": "Planta Fontibón",
    "address": "Cra 106 # 15-25", "site_municipality": "Bogotá", "latitude": "", "longitude": "",
    "full_name": "Carlos Pérez", "phone": "", "email": "compras@chocolates-prueba.co",
    "password": "Cacao Fino Seguro 2026", "password_confirm": "Cacao Fino Seguro 2026", "consent": "y",
}


def test_a_cooperative_registers_and_waits_for_verification(app, client):
    response = client.post("/registro/cooperativa", data=COOP)
    # The next page asks for the code sent to the number; the site is usable meanwhile.
    assert response.status_code == 302 and response.headers["Location"] == "/cuenta/verificar-celular"
    assert "Verifique su celular" in client.get("/cuenta/verificar-celular").get_data(as_text=True)
    home = client.get("/inicio").get_data(as_text=True)
    assert "pendiente de verificación" in home and "Asociación de Cacaoteros del Mira" in home
    with app.app_context():
        coop = db.session.scalar(select(Cooperative))
        assert coop.status == OrgStatus.PENDING
        assert coop.municipality_code == "52835" and coop.members_women == 40
        user = db.session.scalar(select(User).where(User.phone == "+573115550101"))
        assert user.role == Role.COOP_MANAGER and user.organisation.id == coop.id
        assert user.password_hash.startswith("$argon2id$")
        actions = {e.action for e in db.session.scalars(select(AuditEvent))}
        assert {"organisation.registered", "membership.created"} <= actions


def test_a_buyer_registers_with_a_checked_nit_and_a_delivery_site(app, client):
    response = client.post("/registro/empresa", data=BUYER)
    assert response.status_code == 302
    with app.app_context():
        buyer = db.session.scalar(select(Buyer))
        assert (buyer.nit, buyer.andi_member, buyer.status) == ("900373913-4", True, OrgStatus.PENDING)
        (site,) = buyer.delivery_sites
        assert site.municipality_code == "11001"
        assert (site.latitude, site.longitude) == (site.municipality.latitude, site.municipality.longitude)
        assert db.session.scalar(select(Membership)).role == Role.BUYER_ADMIN


@pytest.mark.parametrize(("form", "changes", "field", "message"), [
    ("cooperativa", {"nit": "90037391"}, "nit", "dígito de verificación"),
    ("cooperativa", {"nit": "ABC-1"}, "nit", "Escriba el NIT"),
    ("empresa", {"nit": "900373913-5"}, "nit", "El dígito de verificación no corresponde"),
    ("empresa", {"nit": ""}, "nit", "obligatorio"),
    ("cooperativa", {"municipality": "99999"}, "municipality", "No encontramos ese municipio"),
    ("cooperativa", {"municipality": "Atlantis"}, "municipality", "No encontramos ese municipio"),
    ("cooperativa", {"name": "A" * 161}, "name", "Máximo 160"),
    ("cooperativa", {"full_name": "B" * 121}, "full_name", "Máximo 120"),
    ("cooperativa", {"members_women": "86"}, "members_women", "mayor que el total"),
    ("cooperativa", {"members_youth": "-1"}, "members_youth", "entre 0 y 100.000"),
    ("cooperativa", {"members_total": "muchos"}, "members_total", ""),
    ("cooperativa", {"phone": "601 234 5678"}, "phone", "celular colombiano"),
    ("cooperativa", {"phone": "", "email": ""}, "phone", "Escriba un celular o un correo"),
    ("cooperativa", {"password_confirm": "otra cosa distinta"}, "password_confirm", "no coinciden"),
    ("cooperativa", {"password": "12345678", "password_confirm": "12345678"}, "password", "demasiado común"),
    ("cooperativa", {"consent": ""}, "consent", "autorizar"),
    ("empresa", {"latitude": "40.4", "longitude": "-3.7"}, "latitude", "no están en Colombia"),
    ("empresa", {"latitude": "4,6", "longitude": ""}, "latitude", "latitud y longitud"),
    ("empresa", {"latitude": "norte"}, "latitude", "Escriba un número"),
])
def test_bad_input_is_explained_beside_the_field_and_writes_nothing(app, client, form, changes, field, message):
    data = {**(COOP if form == "cooperativa" else BUYER), **changes}
    before = row_counts(app)
    response = client.post(f"/registro/{form}", data=data)
    assert response.status_code == 200
    error = field_error(response.get_data(as_text=True), field)
    assert error, f"no error shown beside {field}"
    assert message in error
    assert row_counts(app) == before


def test_a_number_that_has_an_account_registers_nothing(app, client, factory):
    _coop, person = factory.cooperative(nit="900373913-4")
    before = row_counts(app)
    # A number that has an account gets the answer a new one gets (the owner is told there).
    same_phone = client.post("/registro/cooperativa", data={**COOP, "phone": person.login})
    assert same_phone.status_code == 302 and same_phone.headers["Location"] == "/cuenta/verificar-celular"
    assert "Ya hay una cuenta" not in same_phone.get_data(as_text=True)
    before["AuditEvent"] += 1  # user.registration_attempted
    assert row_counts(app) == before
    # A NIT already on the platform is caught at staff review instead
    # (test_registration_privacy.py).


def test_a_registration_without_csrf_token_writes_nothing(app, client):
    before = row_counts(app)
    response = client.post("/registro/cooperativa", data=COOP, csrf=False)
    assert response.status_code == 400
    assert "El formulario caducó" in response.get_data(as_text=True)
    assert row_counts(app) == before


def test_an_ambiguous_municipality_lists_the_choices(app, client):
    first = client.post("/registro/cooperativa", data={**COOP, "municipality": "san vicente"})
    html = first.get_data(as_text=True)
    assert "Varios municipios coinciden" in field_error(html, "municipality")
    assert 'value="San Vicente del Caguán, Caquetá (18753)"' in html
    chosen = client.post("/registro/cooperativa", data={
        **COOP, "municipality": "san vicente", "municipality_choice": "San Vicente del Caguán, Caquetá (18753)"})
    assert chosen.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Cooperative)).municipality_code == "18753"


def test_registration_pages_work_in_english(client):
    client.post("/idioma", data={"lang": "en"})
    html = client.get("/registro/cooperativa").get_data(as_text=True)
    assert '<html lang="en">' in html
