"""Text holding NUL, lone surrogates or other control characters is refused with 422 in the
user's language, on every page, form, API field, query parameter and path, for visitors and
signed-in users alike, and nothing is written; tab, line feed and carriage return stay
allowed; bidi controls are removed from names; the CLI refuses such text too."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import inspect, select, text

from marketplace.core.text import clean_text, forbidden_character
from marketplace.core.web import UNCHECKED_PREFIXES
from marketplace.extensions import db
from tests.conftest import login
from tests.orders.conftest import market  # noqa: F401  (fixture)
from tests.orders.test_garbage_input import GARBAGE, _url, busy_market  # noqa: F401  (fixture)

NUL, ESC, BEL, DEL, C1, SURROGATE = "\x00", "\x1b", "\x07", "\x7f", "\x85", "\ud800"
# Written by every request (activity, token use): left out of "nothing was written".
TOUCHED = {"login_session", "api_token"}
SKIPPED_POSTS = {"/salir", "/idioma", "/webhooks/stripe"}
# The providers' webhooks (UNCHECKED_PREFIXES) answer 403 to an unsigned request before
# reading it, and clean what a signed one holds: core/web.py leaves them unchecked.
QUERY_NAMES = ("q", "subregion", "department", "departamento", "municipio", "producto", "desde", "hasta",
               "estado", "status", "quien", "organizacion", "accion", "objeto", "id", "formato", "page",
               "comprador", "next", "code", "who", "action", "object_type", "unit")
API_BODY = {
    "name": "Acopio", "note": "nota", "reason": "motivo", "unit": "kg", "quantity": "10", "price_per_kg": "100",
    "listing_id": 1, "delivery_site_id": 1, "window_start": "2030-01-01", "window_end": "2030-01-05",
    "payment_method": "invoice", "action": "accept", "description": "texto", "carrier_name": "Transportes",
    "lines": [{"listing_id": 1, "quantity": "1", "unit": "kg", "reason": "r"}],
    "status": "paused", "demand_ids": [1], "part_ids": [1], "product_id": 1, "grade_id": 1,
}


def _poison(value, bad: str):
    """Every string in ``value`` (keys kept) with ``bad`` inside it."""
    if isinstance(value, dict):
        return {key: _poison(item, bad) for key, item in value.items()}
    if isinstance(value, list):
        return [_poison(item, bad) for item in value]
    return f"a{bad}b" if isinstance(value, str) else value


def _snapshot(app) -> dict:
    with app.app_context():
        tables = {}
        for name in sorted(inspect(db.engine).get_table_names()):
            if name in TOUCHED or name == "alembic_version":
                continue
            rows = db.session.execute(text(f'SELECT * FROM "{name}"')).all()
            tables[name] = sorted(repr(tuple(row)) for row in rows)
        db.session.rollback()
        return tables


def _client(app, market, factory, who):  # noqa: F811
    client = app.test_client()
    person = {"buyer": market.buyer, "coop": market.manager_a, "admin": None, "anonymous": None}[who]
    if who == "admin":
        person = factory.admin()
    if person is not None:
        login(client, person)
    return client


def _assert_refused(response, where, *, api: bool):
    assert response.status_code == 422, (where, response.status_code, response.get_data(as_text=True)[:300])
    if api:
        body = response.get_json()
        assert response.mimetype == "application/json" and body["code"] == 422, where
        assert "caracteres" in body["message"], (where, body)
    else:
        assert response.mimetype == "text/html", where
        assert "caracteres" in response.get_data(as_text=True), where


@pytest.mark.parametrize("who", ["anonymous", "buyer", "coop", "admin"])
def test_every_get_refuses_bad_text_in_its_query(app, market, busy_market, factory, who):  # noqa: F811
    client = _client(app, market, factory, who)
    before = _snapshot(app)
    checked = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(UNCHECKED_PREFIXES):
            continue
        url = _url(rule, busy_market)
        # Each page with each kind of character, under names it reads and names it does not.
        for n, bad in enumerate((NUL, ESC, C1, DEL)):
            name = QUERY_NAMES[(checked + n) % len(QUERY_NAMES)]
            response = client.get(url, query_string={"page": "1", name: f"a{bad}b"})
            _assert_refused(response, (rule.rule, name, repr(bad)), api=url.startswith("/api/"))
        checked += 1
    assert checked > 60
    assert _snapshot(app) == before


@pytest.mark.parametrize("who", ["anonymous", "buyer", "coop", "admin"])
def test_every_form_refuses_bad_text_and_writes_nothing(app, market, busy_market, factory, who):  # noqa: F811
    client = _client(app, market, factory, who)
    before = _snapshot(app)
    checked = 0
    for rule in app.url_map.iter_rules():
        if ("POST" not in rule.methods or rule.rule.startswith("/api/") or rule.rule in SKIPPED_POSTS
                or rule.rule.startswith(UNCHECKED_PREFIXES)):
            continue
        for bad in (NUL, ESC, DEL):
            data = {**GARBAGE, "name": f"Asociación{bad}", "note": f"nota{bad}", "reason": f"x{bad}"}
            response = client.post(_url(rule, dict(busy_market, action="accept")), data=data)
            _assert_refused(response, (rule.rule, repr(bad)), api=False)
        checked += 1
    assert checked > 30
    assert _snapshot(app) == before


@pytest.mark.parametrize("who", ["anonymous", "buyer", "coop", "admin"])
def test_every_api_write_refuses_bad_text_and_writes_nothing(app, market, busy_market, factory, who):  # noqa: F811
    from tests.orders.conftest import api_token

    client = app.test_client()
    person = {"buyer": market.buyer, "coop": market.manager_a, "anonymous": None,
              "admin": None}[who] or (factory.admin() if who == "admin" else None)
    headers = api_token(app, person) if person else {}
    before = _snapshot(app)
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        for method in sorted(rule.methods & {"POST", "PUT", "PATCH"}):
            url = _url(rule, busy_market)
            for bad in (NUL, SURROGATE, ESC, C1):
                body = json.dumps(_poison(API_BODY, bad))  # ensure_ascii: "\u0000", "\ud800"
                response = client.open(url, method=method, data=body, headers=headers,
                                       content_type="application/json")
                _assert_refused(response, (method, rule.rule, repr(bad)), api=True)
            # In a key, deep in a list, too.
            body = json.dumps({"lines": [{"listing_id": 1, f"unit{SURROGATE}": "kg"}]})
            response = client.open(url, method=method, data=body, headers=headers, content_type="application/json")
            _assert_refused(response, (method, rule.rule, "key"), api=True)
            assert response.get_json()["errors"] == {"json": {f"lines.0.unit{SURROGATE}": [
                response.get_json()["message"]]}}
            checked += 1
    assert checked >= 15
    assert _snapshot(app) == before


def test_the_reported_cases(app, client, factory):
    """The anonymous municipality search of the report, and cooperative registration."""
    found = client.get("/api/v1/municipalities?subregion=a%00b")
    _assert_refused(found, "municipalities", api=True)
    assert found.get_json()["errors"] == {"query": {"subregion": [found.get_json()["message"]]}}
    english = client.get("/api/v1/municipalities?subregion=a%00b", headers={"Accept-Language": "en"})
    assert english.status_code == 422 and "characters" in english.get_json()["message"]
    assert client.get("/api/v1/municipalities/5%0083").status_code == 422  # in the path
    before = _snapshot(app)
    page = client.post("/registro/cooperativa", data={"name": "Asociación\x00", "municipality": "52835"})
    _assert_refused(page, "registration", api=False)
    english = client.post("/registro/cooperativa?lang=en", data={"name": "Asociación\x00"})
    assert english.status_code == 422 and "characters" in english.get_data(as_text=True)
    assert _snapshot(app) == before


def test_tab_line_feed_and_carriage_return_stay_allowed(app, client):
    response = client.get("/api/v1/municipalities", query_string={"q": "tumaco\t\r\n"})
    assert response.status_code == 200
    assert client.get("/municipios", query_string={"q": "san\tvicente\r\n"}).status_code == 200


@pytest.mark.parametrize(("value", "expected"), [
    ("a\x00b", "\x00"), ("a\ud800", "\ud800"), ("\udfff", "\udfff"), ("x\x1b[31m", "\x1b"), ("\x7f", "\x7f"),
    ("\x85", "\x85"), ("\x9f", "\x9f"), ("\x0b", "\x0b"), ("\x0c", "\x0c"),
    ("línea\tcon\r\nsaltos", None), ("Ñandú “café” — 北京 🌱", None), ("\u202eevil", None), ("", None),
])
def test_forbidden_characters(value, expected):
    assert forbidden_character(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("Asociación \u202eaicosA\u202c", "Asociación aicosA"),
    ("\u2066Café\u2069  del\u202a Valle\u202d", "Café del Valle"),
    ("  Cooperativa\n\tdel  Caguán ", "Cooperativa del Caguán"),
    ("Bell\x07 y nulo\x00", "Bell y nulo"),
    (None, ""),
])
def test_clean_text_removes_bidi_controls_from_names(value, expected):
    assert clean_text(value) == expected


def test_a_name_with_bidi_overrides_is_stored_without_them(app, factory):
    from marketplace.accounts.models import Organisation

    coop_id, _person = factory.cooperative(name="Asociación \u202eacitsáM\u202c de Tumaco")
    with app.app_context():
        assert db.session.scalar(select(Organisation.name).where(Organisation.id == coop_id)) == \
            "Asociación acitsáM de Tumaco"


@pytest.mark.parametrize("option", ["--name", "--email", "--password"])
def test_the_cli_refuses_bad_text(app, option):
    values = {"--name": "Admin Raíz", "--email": "raiz@mercadorural.co", "--password": "Siembra-Segura-2026"}
    values[option] = values[option][:3] + "\x00" + values[option][3:]
    before = _snapshot(app)
    result = app.test_cli_runner().invoke(args=["create-admin", *[x for pair in values.items() for x in pair]])
    assert result.exit_code == 2, result.output
    assert option in result.output and "caracteres" in result.output
    assert _snapshot(app) == before
    good = app.test_cli_runner().invoke(args=["create-admin", "--name", "Admin\tRaíz", "--email",
                                              "raiz@mercadorural.co", "--password", "Siembra-Segura-2026"])
    assert good.exit_code == 0, good.output
