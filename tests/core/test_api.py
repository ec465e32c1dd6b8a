"""The JSON API: the public municipality search, token authentication on /api/v1/me,
JSON errors everywhere under /api/, and the published OpenAPI document and docs page."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from marketplace.extensions import db
from tests.conftest import login

TOKEN_RE = re.compile(r'<code class="token" id="new-token">(mr_[^<]+)</code>')
ENVELOPE = {"items", "page", "page_size", "total", "pages"}
MUNICIPALITY_FIELDS = {"code", "name", "department_code", "department_name", "kind", "latitude", "longitude",
                       "is_pdet", "pdet_subregion", "label"}
TUMACO_SUBREGION = "Pacífico y Frontera Nariñense"


def _create_token(client, person, name="ERP compras") -> str:
    """Create a token the way a person does: on the account page, confirming the password."""
    response = client.post("/cuenta/tokens", data={"token-name": name, "token-password": person.password})
    assert response.status_code == 201, response.get_data(as_text=True)[:500]
    found = TOKEN_RE.findall(response.get_data(as_text=True))
    assert len(found) == 1, "the new token must appear exactly once"
    return found[0]


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _token_row(app, user_id: int):
    from marketplace.accounts.models import ApiToken

    with app.app_context():
        return db.session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)).all()


def _assert_json_error(response, code: int):
    assert response.status_code == code
    assert response.mimetype == "application/json", response.get_data(as_text=True)[:200]
    body = response.get_json()
    assert body["code"] == code
    assert body["status"] and body["message"]
    return body


# ------------------------------------------------------------------ municipalities


def test_municipality_list_is_public_and_paginated(client):
    response = client.get("/api/v1/municipalities")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == ENVELOPE
    assert (body["page"], body["page_size"], body["total"], body["pages"]) == (1, 20, 1122, 57)
    assert len(body["items"]) == 20
    assert set(body["items"][0]) == MUNICIPALITY_FIELDS

    last = client.get("/api/v1/municipalities?page_size=100&page=12").get_json()
    assert (last["pages"], len(last["items"])) == (12, 22)
    beyond = client.get("/api/v1/municipalities?page_size=100&page=13").get_json()
    assert beyond["items"] == [] and beyond["total"] == 1122


def test_pages_cover_every_result_once(client):
    codes = []
    for page in (1, 2, 3, 4):
        body = client.get(f"/api/v1/municipalities?q=san&page_size=25&page={page}").get_json()
        codes += [item["code"] for item in body["items"]]
    assert body["total"] > 50
    assert len(codes) == len(set(codes)) == min(body["total"], 100)


def test_search_by_name_ignores_accents_and_case(client):
    for typed in ("tumaco", "TUMACÓ"):
        body = client.get("/api/v1/municipalities", query_string={"q": typed}).get_json()
        assert body["total"] == 1
        tumaco = body["items"][0]
        assert tumaco["code"] == "52835"
        assert tumaco["label"] == "San Andrés de Tumaco, Nariño"
        assert tumaco["is_pdet"] is True and tumaco["pdet_subregion"] == TUMACO_SUBREGION
        # Exact decimals travel as strings, never through a float.
        assert isinstance(tumaco["latitude"], str) and isinstance(tumaco["longitude"], str)
        assert Decimal(tumaco["latitude"]) == Decimal("1.807399")
        assert Decimal(tumaco["longitude"]) == Decimal("-78.764073")


def test_filters_by_department_pdet_and_subregion(client):
    narino = client.get("/api/v1/municipalities?department=52&page_size=100").get_json()
    assert narino["total"] == 64
    assert {item["department_code"] for item in narino["items"]} == {"52"}

    pdet = client.get("/api/v1/municipalities?pdet=true&page_size=100").get_json()
    assert pdet["total"] == 170 and all(item["is_pdet"] for item in pdet["items"])

    both = client.get("/api/v1/municipalities?pdet=true&department=52&page_size=100").get_json()
    assert 0 < both["total"] < 64
    assert all(item["is_pdet"] and item["department_code"] == "52" for item in both["items"])

    subregion = client.get("/api/v1/municipalities", query_string={"subregion": TUMACO_SUBREGION,
                                                                    "page_size": 100}).get_json()
    assert subregion["total"] == 11
    assert {item["pdet_subregion"] for item in subregion["items"]} == {TUMACO_SUBREGION}
    assert "52835" in {item["code"] for item in subregion["items"]}

    nothing = client.get("/api/v1/municipalities", query_string={"subregion": "No existe"}).get_json()
    assert (nothing["total"], nothing["pages"], nothing["items"]) == (0, 0, [])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page_size": 101}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"page": 0}, "page"),
        ({"page": "uno"}, "page"),
        ({"department": "x"}, "department"),
        ({"department": "523"}, "department"),
        ({"q": "a" * 81}, "q"),
        ({"pdet": "quizas"}, "pdet"),
    ],
)
def test_invalid_queries_get_a_json_422_naming_the_field(client, query, field):
    body = _assert_json_error(client.get("/api/v1/municipalities", query_string=query), 422)
    assert body["status"] == "Unprocessable Entity"
    assert field in body["errors"]["query"], body


def test_one_municipality_by_code(client):
    response = client.get("/api/v1/municipalities/52835")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == MUNICIPALITY_FIELDS
    assert (body["code"], body["name"], body["department_name"]) == ("52835", "San Andrés de Tumaco", "Nariño")
    for missing in ("99999", "5283", "528351", "abcde"):
        _assert_json_error(client.get(f"/api/v1/municipalities/{missing}"), 404)


# --------------------------------------------------------------------- /api/v1/me


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer mr_00000000_not-a-real-token"},
        {"Authorization": "Bearer not-even-the-format"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Token mr_00000000_x"},
    ],
)
def test_me_needs_a_valid_bearer_token(client, headers):
    response = client.get("/api/v1/me", headers=headers)
    _assert_json_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_browser_session_alone_does_not_authenticate_the_api(app, login_as):
    browser, _person = login_as("coop_manager")
    assert browser.get("/cuenta").status_code == 200  # the session cookie works on pages
    response = browser.get("/api/v1/me")
    _assert_json_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_session_cookie_never_changes_an_api_answer(app, login_as):
    """Walk every /api/ rule: a logged-in browser (cookie, no token) gets exactly what an
    anonymous caller gets, and never passes an operation that requires a token."""
    spec = app.test_client().get("/api/openapi.json").get_json()
    secured = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and operation.get("security")
    }
    assert ("GET", "/api/v1/me") in secured
    browser, _person = login_as("platform_admin")
    anonymous = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        url = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: "52835" if m.group(1) == "code" else "1", rule.rule)
        spec_path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            with_cookie = browser.open(url, method=method, json={})
            without = anonymous.open(url, method=method, json={})
            assert with_cookie.status_code == without.status_code, (method, url)
            if (method, spec_path) in secured:
                assert with_cookie.status_code == 401, (method, url)
            checked += 1
    assert checked >= len(secured) + 2


def test_token_from_the_account_page_authenticates_the_api(app, factory):
    coop_id, person = factory.cooperative()
    browser = app.test_client()
    login(browser, person)
    token = _create_token(browser, person)
    assert token.startswith("mr_")
    # Shown once: the account page never shows it again.
    assert token not in browser.get("/cuenta").get_data(as_text=True)

    api = app.test_client()  # no cookies at all
    response = api.get("/api/v1/me", headers=_bearer(token))
    assert response.status_code == 200 and response.mimetype == "application/json"
    me = response.get_json()
    assert me["id"] == person.user_id
    assert me["role"] == "coop_manager"
    assert me["phone"] == person.login
    assert me["organisation"]["id"] == coop_id
    assert me["organisation"]["kind"] == "cooperative"
    assert me["organisation"]["status"] == "verified"
    assert me["organisation"]["municipality_code"] == "52835"
    # Personal data must not be kept by browsers or proxies.
    assert response.headers["Cache-Control"] == "no-store"


def test_buyer_token_reports_the_buyer_organisation(app, factory):
    buyer_id, person = factory.buyer()
    browser = app.test_client()
    login(browser, person)
    me = app.test_client().get("/api/v1/me", headers=_bearer(_create_token(browser, person))).get_json()
    assert (me["role"], me["email"], me["organisation"]["id"]) == ("buyer_admin", person.login, buyer_id)
    assert me["organisation"]["kind"] == "buyer" and me["organisation"]["nit"]


def test_token_is_stored_only_as_a_sha256_hash(app, factory):
    _coop_id, person = factory.cooperative()
    browser = app.test_client()
    login(browser, person)
    token = _create_token(browser, person)
    secret = token.rsplit("_", 1)[1]
    (row,) = _token_row(app, person.user_id)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    # Neither the token nor its secret part is anywhere in the database.
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for values in db.session.execute(table.select()).all():
                dumped = repr(tuple(values))
                assert token not in dumped and secret not in dumped, table.name
    # A token with the right prefix but a different secret is refused.
    forged = token[: -len(secret)] + ("A" if secret[0] != "A" else "B") + secret[1:]
    _assert_json_error(app.test_client().get("/api/v1/me", headers=_bearer(forged)), 401)


def test_revoked_token_stops_working(app, factory):
    _coop_id, person = factory.cooperative()
    browser = app.test_client()
    login(browser, person)
    kept = _create_token(browser, person, "Se queda")
    revoked = _create_token(browser, person, "Se revoca")
    api = app.test_client()
    assert api.get("/api/v1/me", headers=_bearer(revoked)).status_code == 200
    token_id = next(row.id for row in _token_row(app, person.user_id) if row.name == "Se revoca")

    response = browser.post(f"/cuenta/tokens/{token_id}/revocar")
    assert response.status_code == 302
    _assert_json_error(api.get("/api/v1/me", headers=_bearer(revoked)), 401)
    assert api.get("/api/v1/me", headers=_bearer(kept)).status_code == 200


def test_nobody_revokes_someone_elses_token(app, factory):
    _a, owner = factory.cooperative()
    _b, intruder = factory.cooperative()
    owner_browser = app.test_client()
    login(owner_browser, owner)
    token = _create_token(owner_browser, owner)
    (row,) = _token_row(app, owner.user_id)
    intruder_browser = app.test_client()
    login(intruder_browser, intruder)
    assert intruder_browser.post(f"/cuenta/tokens/{row.id}/revocar").status_code == 404
    assert app.test_client().get("/api/v1/me", headers=_bearer(token)).status_code == 200


def test_deactivated_member_token_stops_working(app, factory):
    from marketplace.accounts.models import Membership, Role

    coop_id, manager = factory.cooperative()
    member = factory.member(coop_id, Role.COOP_MEMBER)
    member_browser = app.test_client()
    login(member_browser, member)
    token = _create_token(member_browser, member)
    api = app.test_client()
    assert api.get("/api/v1/me", headers=_bearer(token)).get_json()["role"] == "coop_member"

    with app.app_context():
        membership_id = db.session.scalar(select(Membership.id).where(Membership.user_id == member.user_id))
    manager_browser = app.test_client()
    login(manager_browser, manager)
    assert manager_browser.post(f"/organizacion/miembros/{membership_id}/estado", data={"active": "0"}).status_code == 302
    _assert_json_error(api.get("/api/v1/me", headers=_bearer(token)), 401)


def test_inactive_user_is_refused_even_with_an_unrevoked_token(app, factory):
    """The token check itself looks at the account, not only at revocation."""
    from marketplace.accounts.models import User

    _coop_id, person = factory.cooperative()
    browser = app.test_client()
    login(browser, person)
    token = _create_token(browser, person)
    with app.app_context():
        db.session.get(User, person.user_id).active = False
        db.session.commit()
    (row,) = _token_row(app, person.user_id)
    assert row.revoked_at is None
    _assert_json_error(app.test_client().get("/api/v1/me", headers=_bearer(token)), 401)


# ------------------------------------------------------------------ errors and docs


@pytest.mark.parametrize("path", ["/api/v1/no-existe", "/api/nada", "/api/v2/municipalities", "/api/v1/me/extra"])
def test_unknown_api_paths_answer_json_404(client, path):
    _assert_json_error(client.get(path), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/v1/municipalities"), ("DELETE", "/api/v1/municipalities/52835"),
     ("PUT", "/api/v1/me"), ("PATCH", "/api/v1/me"), ("POST", "/api/openapi.json")],
)
def test_wrong_methods_answer_json_405_with_allow(client, method, path):
    response = client.open(path, method=method, json={})
    _assert_json_error(response, 405)
    allowed = {value.strip() for value in response.headers["Allow"].split(",")}
    assert "GET" in allowed and method not in allowed


def test_openapi_document_is_valid_openapi_3(client):
    from schemathesis.specs.openapi.definitions import OPENAPI_30_VALIDATOR

    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    OPENAPI_30_VALIDATOR.validate(spec)  # the official OpenAPI 3.0 JSON Schema
    broken = {**spec, "paths": {"/x": {"get": {"summary": "no responses"}}}}
    assert not OPENAPI_30_VALIDATOR.is_valid(broken)

    # Every internal reference points at something that exists.
    def refs(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in set(refs(spec)):
        target = spec
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]

    assert {"/api/v1/me", "/api/v1/municipalities", "/api/v1/municipalities/{code}"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "Token personal (mr_...)."}
    assert spec["paths"]["/api/v1/me"]["get"]["security"] == [{"bearerAuth": []}]
    assert "security" not in spec["paths"]["/api/v1/municipalities"]["get"]


def test_api_docs_page_lists_every_operation(client):
    spec = client.get("/api/openapi.json").get_json()
    response = client.get("/api/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    operations = [(method, path) for path, item in spec["paths"].items()
                  for method in item if method in {"get", "post", "put", "patch", "delete"}]
    assert len(operations) >= 3
    for method, path in operations:
        assert f"<code>{method.upper()} {path}</code>" in page
    assert 'href="/api/openapi.json"' in page
    # Path parameters are documented too, not only query parameters.
    assert "<code>code</code> *" in page
    assert "<code>page_size</code>" in page
    # Rendering the page leaves the published document as it was.
    client.get("/api/docs")
    assert client.get("/api/openapi.json").get_json() == spec


def test_api_rate_limit_answers_json_429(make_app):
    app = make_app(API_RATE_LIMIT="3 per minute")
    client = app.test_client()
    for path in ("/api/v1/municipalities", "/api/v1/municipalities/52835", "/api/v1/me"):
        assert client.get(path).status_code in (200, 401)
    # The budget is shared by the whole API.
    response = client.get("/api/v1/municipalities?q=cali")
    body = _assert_json_error(response, 429)
    assert "Demasiados intentos" in body["message"]
    assert int(response.headers["Retry-After"]) > 0
    # Pages are not counted against the API budget.
    assert client.get("/municipios?q=cali").status_code == 200


def test_unexpected_api_errors_answer_json_500_without_details(app, monkeypatch):
    from marketplace.core import geography

    def broken(_stmt):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(geography, "count", broken)
    response = app.test_client().get("/api/v1/municipalities")
    body = _assert_json_error(response, 500)
    assert "hunter2" not in response.get_data(as_text=True) and "Traceback" not in body["message"]


def test_each_app_uses_its_own_api_rate_limit(make_app):
    """The API limit is attached to process-wide blueprints; an app created earlier with
    a small limit must not throttle an app created later, nor the other way round."""
    from marketplace.extensions import limiter

    strict = make_app(API_RATE_LIMIT="2 per minute")
    generous = make_app(API_RATE_LIMIT="50 per minute")
    for _ in range(5):
        assert generous.test_client().get("/api/v1/municipalities/52835").status_code == 200
    strict_client = strict.test_client()
    statuses = [strict_client.get("/api/v1/municipalities/52835", environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code
                for _ in range(3)]
    assert statuses == [200, 200, 429]
    for name in ("me", "geography"):
        assert len(limiter.limit_manager._blueprint_limits[name]) == 1
