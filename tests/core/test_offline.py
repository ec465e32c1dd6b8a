"""The installable app and drafts sent from an offline phone: manifest and service worker
served as browsers need them, a fresh CSRF token for a draft, and a listing form sent twice
with the same idempotency key creating one listing (another user's same key is their own)."""

import json
import re
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from marketplace.catalog.catalogue import seed_catalogue
from marketplace.catalog.models import Listing, Product
from marketplace.core import idempotency
from marketplace.core.idempotency import IdempotencyKey
from marketplace.core.models import bogota_date
from marketplace.extensions import db
from tests.conftest import login

TODAY = bogota_date()


@pytest.fixture
def cacao(app):
    with app.app_context():
        seed_catalogue()
        db.session.commit()
        product = db.session.scalar(select(Product).where(Product.slug == "cacao-grano-seco"))
        return product.id, product.grades[0].id


def _form(grade_id: int, key: str | None) -> dict:
    data = {
        "grade": str(grade_id), "quantity": "40", "unit": "arroba", "unit_kg": "", "price": "150.000",
        "harvest_date": TODAY.isoformat(), "available_from": TODAY.isoformat(),
        "available_until": (TODAY + timedelta(days=30)).isoformat(), "collection_point": "0",
        "new_point": "Vereda La Playa", "latitude": "", "longitude": "", "description": "",
    }
    if key is not None:
        data["idempotency_key"] = key
    return data


def _listings(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Listing))


def test_manifest_names_the_app_and_its_icons(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200 and response.mimetype == "application/manifest+json"
    manifest = json.loads(response.data)
    assert manifest["name"] == "Mercado Rural" and manifest["lang"] == "es"
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/inicio"
    assert manifest["theme_color"] == "#1f6b3a" and manifest["background_color"] == "#faf8f3"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"any", "192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert client.get(icon["src"]).status_code == 200
    page = client.get("/entrar").get_data(as_text=True)
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert '<meta name="theme-color" content="#1f6b3a">' in page


def test_service_worker_is_served_from_the_root_with_its_files(client):
    response = client.get("/sw.js")
    assert response.status_code == 200 and response.mimetype == "application/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert response.headers["Cache-Control"] == "no-cache"
    source = response.get_data(as_text=True)
    assert "__VERSION__" not in source and "__PRECACHE__" not in source and "__OUTBOX__" not in source
    precache = json.loads(re.search(r"var PRECACHE = (\[.*?\]);", source).group(1))
    assert "/sin-conexion" in precache
    assert any(url.startswith("/static/css/app.css?v=") for url in precache)
    assert any(url.startswith("/static/js/offline.js?v=") for url in precache)
    assert not any("leaflet" in url for url in precache)
    for url in precache:
        assert client.get(url).status_code == 200, url
    # The cache is named after the files: the same files, the same version.
    version = re.search(r'var VERSION = "([0-9a-f]{12})"', source).group(1)
    assert version in client.get("/sw.js").get_data(as_text=True)
    offline = client.get("/sin-conexion").get_data(as_text=True)
    assert "Sin conexión" in offline and 'data-user=""' in offline


def test_a_fresh_csrf_token_for_drafts_only_for_a_logged_in_user(app, factory, client, cacao):
    response = client.get("/csrf")
    assert response.status_code == 200 and response.json["login_required"] is True
    assert "csrf_token" not in response.json
    assert response.headers["Cache-Control"] == "no-store"
    _coop, manager = factory.cooperative()
    login(client, manager)
    state = client.get("/csrf?clave=" + str(uuid.uuid4())).json
    assert state["user_id"] == manager.user_id and state["done"] is False and state["csrf_token"]
    # The token it gives is accepted by a form.
    key = str(uuid.uuid4())
    product_id, grade_id = cacao
    response = client.post(f"/ofertas/nueva?producto={product_id}",
                           data={**_form(grade_id, key), "csrf_token": state["csrf_token"]}, csrf=False)
    assert response.status_code == 302
    after = client.get("/csrf?clave=" + key).json
    assert after["done"] is True and after["result_url"].startswith("/ofertas#oferta-")


def test_the_listing_form_carries_a_key(app, factory, client, cacao):
    _coop, manager = factory.cooperative()
    login(client, manager)
    page = client.get(f"/ofertas/nueva?producto={cacao[0]}").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    assert idempotency.clean(key) == key
    # Shown again after an error, the form keeps the key it was sent with.
    refused = client.post(f"/ofertas/nueva?producto={cacao[0]}", data={**_form(cacao[1], key), "quantity": "0"})
    assert refused.status_code == 422
    assert f'name="idempotency_key" value="{key}"' in refused.get_data(as_text=True)
    assert _listings(app) == 0


def test_the_same_draft_sent_twice_creates_one_listing(app, factory, client, cacao):
    _coop, manager = factory.cooperative()
    login(client, manager)
    product_id, grade_id = cacao
    key = str(uuid.uuid4())
    first = client.post(f"/ofertas/nueva?producto={product_id}", data=_form(grade_id, key))
    assert first.status_code == 302
    again = client.post(f"/ofertas/nueva?producto={product_id}", data=_form(grade_id, key))
    assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    assert "no se hizo dos veces" in client.get(again.headers["Location"]).get_data(as_text=True)
    assert _listings(app) == 1
    # A new key is a new listing; no key at all is the form as it always was.
    assert client.post(f"/ofertas/nueva?producto={product_id}",
                       data=_form(grade_id, str(uuid.uuid4()))).status_code == 302
    assert client.post(f"/ofertas/nueva?producto={product_id}", data=_form(grade_id, None)).status_code == 302
    assert _listings(app) == 3


def test_another_users_same_key_is_their_own(app, factory, cacao):
    product_id, grade_id = cacao
    key = str(uuid.uuid4())
    for _ in range(2):
        _coop, manager = factory.cooperative()
        client = app.test_client()
        login(client, manager)
        assert client.post(f"/ofertas/nueva?producto={product_id}", data=_form(grade_id, key)).status_code == 302
    assert _listings(app) == 2


def test_a_refused_form_does_not_use_up_its_key(app, factory, client, cacao, monkeypatch):
    from marketplace.catalog import services
    from marketplace.core.errors import DomainError

    _coop, manager = factory.cooperative()
    login(client, manager)
    product_id, grade_id = cacao
    key = str(uuid.uuid4())
    create = services.create_listing

    def refuse(*args, **kwargs):
        create(*args, **kwargs)  # its work and the key's claim are rolled back together
        raise DomainError("Revise el precio.", "price")

    monkeypatch.setattr(services, "create_listing", refuse)
    refused = client.post(f"/ofertas/nueva?producto={product_id}", data=_form(grade_id, key))
    assert refused.status_code == 422 and "Revise el precio." in refused.get_data(as_text=True)
    monkeypatch.setattr(services, "create_listing", create)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0
    assert client.post(f"/ofertas/nueva?producto={product_id}", data=_form(grade_id, key)).status_code == 302
    assert _listings(app) == 1


def test_a_malformed_key_is_ignored():
    assert idempotency.clean("x") is None
    assert idempotency.clean("<script>alert(1)</script>-aaaaaaaaaaaaaaaaaaaa") is None
    assert idempotency.clean(" " + "a" * 20 + " ") == "a" * 20
    assert idempotency.clean("a" * 65) is None


def test_keys_are_forgotten_after_a_week(app, factory):
    from marketplace.core.models import utcnow

    _coop, manager = factory.cooperative()
    with app.app_context():
        now = utcnow()
        old = IdempotencyKey(user_id=manager.user_id, key="a" * 20, action="listing",
                             created_at=now - timedelta(days=8))
        recent = IdempotencyKey(user_id=manager.user_id, key="b" * 20, action="listing",
                                created_at=now - timedelta(days=6))
        db.session.add_all([old, recent])
        db.session.commit()
        assert idempotency.forget_expired(now) == 1
        db.session.commit()
        assert db.session.scalars(select(IdempotencyKey.key)).all() == ["b" * 20]


def test_the_unique_key_refuses_a_second_claim(app, factory):
    """The path a concurrent duplicate takes: its insert fails on (user_id, key) inside a
    savepoint, and it gets the first request's result instead of doing the work again."""
    _coop, manager = factory.cooperative()
    with app.app_context():
        first = idempotency.claim(manager.user_id, "k" * 20, "listing")
        idempotency.done(first, "/ofertas#oferta-1")
        db.session.commit()
        second = idempotency.claim(manager.user_id, "k" * 20, "listing")
        assert second == idempotency.Earlier("listing", "/ofertas#oferta-1")
        with pytest.raises(idempotency.Repeated):
            idempotency.claim_or_raise(manager.user_id, "k" * 20, "listing")
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(IdempotencyKey)) == 1


def test_two_simultaneous_sends_of_one_draft_create_one_listing(app, factory, cacao, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time; the race is proven on PostgreSQL")
    _coop, manager = factory.cooperative()
    product_id, grade_id = cacao
    key = str(uuid.uuid4())
    clients = []
    for _ in range(2):
        client = app.test_client()
        login(client, manager)
        clients.append((client, client.csrf_token()))
    barrier = threading.Barrier(2)
    statuses = []

    def send(client, token):
        barrier.wait()
        response = client.post(f"/ofertas/nueva?producto={product_id}",
                               data={**_form(grade_id, key), "csrf_token": token}, csrf=False)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=send, args=pair) for pair in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [302, 303]
    assert _listings(app) == 1


def test_the_listings_api_honours_an_idempotency_key(app, factory, cacao):
    from tests.catalog.test_listing_api import _body, _token

    _coop, manager = factory.cooperative()
    headers = _token(app, manager)
    client = app.test_client()
    key = str(uuid.uuid4())
    first = client.post("/api/v1/listings", json=_body(cacao), headers={**headers, "Idempotency-Key": key})
    assert first.status_code == 201, first.get_json()
    again = client.post("/api/v1/listings", json=_body(cacao), headers={**headers, "Idempotency-Key": key})
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    assert _listings(app) == 1
    bad = client.post("/api/v1/listings", json=_body(cacao), headers={**headers, "Idempotency-Key": "no"})
    assert bad.status_code == 422 and _listings(app) == 1
    # The key of a listing made from the phone's form is the same key for the API.
    form_client = app.test_client()
    login(form_client, manager)
    form_key = str(uuid.uuid4())
    assert form_client.post(f"/ofertas/nueva?producto={cacao[0]}", data=_form(cacao[1], form_key)).status_code == 302
    repeat = client.post("/api/v1/listings", json=_body(cacao), headers={**headers, "Idempotency-Key": form_key})
    assert repeat.status_code == 200 and _listings(app) == 2
