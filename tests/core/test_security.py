"""Security baseline: CSRF everywhere, headers, cookies, rate limits, error pages."""

import re
from pathlib import Path

import pytest
import redis as redis_lib
from werkzeug.routing import IntegerConverter

from marketplace.config import load_config

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
TEMPLATES = Path(__file__).resolve().parents[2] / "marketplace"
REDIS_TEST_URL = "redis://127.0.0.1:6379/15"


def _state_changing_rules(app):
    return [
        rule for rule in app.url_map.iter_rules()
        if rule.methods & STATE_CHANGING and not rule.rule.startswith(("/api/", "/webhooks/"))
    ]


def test_webhooks_are_authenticated_by_signature_not_by_cookie(client):
    """Stripe cannot send a CSRF token; the webhook instead refuses anything unsigned."""
    response = client.post("/webhooks/stripe", data={"x": "1"}, csrf=False)
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid signature"}


def _url_for_rule(rule, ids: dict | None = None) -> str:
    """The rule's URL with each converter filled: an existing id where one is known,
    1 (or "x" for strings) otherwise."""
    url = rule.rule
    for name, converter in rule._converters.items():
        value = (ids or {}).get(name) or ("1" if isinstance(converter, IntegerConverter) else "x")
        url = re.sub(r"<[^>]*" + re.escape(name) + ">", str(value), url)
    return url


def _existing_ids(app, factory, person) -> dict:
    """Ids of existing rows (the person's own where they have one), by URL converter name."""
    from sqlalchemy import select

    from marketplace.accounts import services
    from marketplace.accounts.models import DeliverySite, Membership, User
    from marketplace.extensions import db

    factory.buyer()  # a buyer with one delivery site
    with app.app_context():
        user = db.session.get(User, person.user_id)
        token, _plain = services.create_api_token(user, "CSRF", person.password)
        ids = {
            "org_id": person.organisation_id,
            "membership_id": db.session.scalar(select(Membership.id).where(Membership.user_id == user.id)),
            "token_id": token.id,
            "site_id": db.session.scalar(select(DeliverySite.id)),
        }
        db.session.commit()
    assert all(ids.values()), ids
    return ids


@pytest.mark.parametrize("role", ["coop_manager", "platform_admin"])
def test_every_form_refuses_a_post_without_csrf_token(app, factory, login_as, role):
    client, person = login_as(role)
    ids = _existing_ids(app, factory, person)
    rules = _state_changing_rules(app)
    expected = sum(len(rule.methods & STATE_CHANGING) for rule in rules)
    assert len(rules) >= 15, "the walk must cover the application's forms"
    checked = 0
    for rule in rules:
        for method in sorted(rule.methods & STATE_CHANGING):
            response = client.open(_url_for_rule(rule, ids), method=method, data={"x": "1"})
            assert response.status_code == 400, (rule.rule, method, response.status_code)
            assert "El formulario caducó o no es válido" in response.get_data(as_text=True), rule.rule
            checked += 1
    assert checked >= expected >= 15
    # Nothing changed: still logged in (logout refused too), the token is not revoked.
    assert client.get("/cuenta").status_code == 200
    from marketplace.accounts.models import ApiToken, User
    from marketplace.extensions import db

    with app.app_context():
        assert db.session.get(ApiToken, ids["token_id"]).revoked_at is None
        assert db.session.get(User, person.user_id).active


def test_anonymous_forms_also_need_the_token(client):
    for url in ("/entrar", "/registro/cooperativa", "/registro/empresa", "/idioma"):
        response = client.post(url, data={"identifier": "3001234567", "password": "x"}, csrf=False)
        assert response.status_code == 400, url


def test_the_api_never_authenticates_with_a_session_cookie(login_as):
    client, _person = login_as("coop_manager")
    assert client.get("/inicio").status_code == 200  # the cookie works for pages
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.is_json and response.headers["WWW-Authenticate"].startswith("Bearer")


def test_security_headers_on_pages(client, login_as):
    headers = client.get("/entrar").headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    logged_in, _ = login_as("buyer_admin")
    assert logged_in.get("/inicio").headers["Cache-Control"] == "no-store"


def test_templates_need_no_inline_script_or_style():
    offenders = []
    scanned = 0
    for path in TEMPLATES.rglob("templates/**/*.html"):
        scanned += 1
        text = path.read_text(encoding="utf-8")
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\son[a-z]+\s*=", text) \
                or re.search(r"\sstyle\s*=", text) or re.search(r"<style\b", text, re.I) \
                or re.search(r"javascript:", text, re.I):
            offenders.append(str(path))
    assert scanned >= 20, "the scan must find the templates"
    assert offenders == []


def test_production_cookies_are_secure_httponly_lax(make_app, factory, monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a-production-like-secret-key-for-the-test")
    config = load_config()
    assert config["SESSION_COOKIE_SECURE"] and config["REMEMBER_COOKIE_SECURE"]
    app = make_app(**{k: config[k] for k in (
        "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
        "REMEMBER_COOKIE_SECURE", "REMEMBER_COOKIE_HTTPONLY", "REMEMBER_COOKIE_SAMESITE", "APP_ENV")})
    _coop, person = factory.cooperative()
    client = app.test_client()
    page = client.get("/entrar", base_url="https://localhost").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    # Production also checks that an HTTPS form post comes from this site (Referer).
    response = client.post("/entrar", base_url="https://localhost", headers={"Referer": "https://localhost/entrar"},
                           data={"identifier": person.login, "password": person.password, "remember": "y",
                                 "csrf_token": token})
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    for name in ("session=", "remember_token="):
        cookie = next(c for c in cookies if c.startswith(name))
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie, cookie


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        load_config()


def test_default_password_hashing_meets_owasp(monkeypatch, make_app, factory):
    monkeypatch.delenv("ARGON2_MEMORY_COST", raising=False)
    monkeypatch.delenv("ARGON2_TIME_COST", raising=False)
    config = load_config()
    assert config["ARGON2_MEMORY_COST"] >= 19456 and config["ARGON2_TIME_COST"] >= 2
    app = make_app(ARGON2_MEMORY_COST=config["ARGON2_MEMORY_COST"], ARGON2_TIME_COST=config["ARGON2_TIME_COST"],
                   ARGON2_PARALLELISM=config["ARGON2_PARALLELISM"])
    from marketplace.accounts.passwords import hash_password, verify_password

    with app.app_context():
        stored = hash_password("una clave larga de prueba")
        assert stored.startswith("$argon2id$v=19$m=65536,t=3")
        assert verify_password(stored, "una clave larga de prueba")
        assert not verify_password(stored, "otra clave")


def _failed_login(client, identifier):
    return client.post("/entrar", data={"identifier": identifier, "password": "incorrecta-123"})


def test_login_is_limited_per_account(make_app, factory):
    app = make_app(LOGIN_LIMIT_PER_ACCOUNT="3 per minute", LOGIN_LIMIT_PER_ADDRESS="50 per minute")
    factory.app = app
    _coop, person = factory.cooperative()
    _coop2, other = factory.cooperative()
    client = app.test_client()
    # The same account typed in different formats counts as one account.
    for typed in (person.login, person.login[3:], "+57 " + person.login[3:]):
        assert _failed_login(client, typed).status_code == 200
    blocked = client.post("/entrar", data={"identifier": person.login, "password": person.password})
    assert blocked.status_code == 429
    assert "Demasiados intentos" in blocked.get_data(as_text=True)
    assert blocked.headers.get("Retry-After")
    # Another account from the same address is not affected.
    assert client.post("/entrar", data={"identifier": other.login, "password": other.password}).status_code == 302


def test_login_is_limited_per_address(make_app, factory):
    app = make_app(LOGIN_LIMIT_PER_ACCOUNT="50 per minute", LOGIN_LIMIT_PER_ADDRESS="4 per minute")
    client = app.test_client()
    for n in range(4):
        assert _failed_login(client, f"30012345{n:02d}").status_code == 200
    assert _failed_login(client, "3001234599").status_code == 429
    other_address = app.test_client()
    response = other_address.post("/entrar", data={"identifier": "3001234598", "password": "x" * 9},
                                  environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert response.status_code == 200


@pytest.fixture
def redis_store():
    """Database 15 of the local Redis, flushed before and after the test. Skipped when
    Redis is not running, except on CI where it must be."""
    import os

    store = redis_lib.Redis.from_url(REDIS_TEST_URL)
    try:
        store.ping()
    except redis_lib.exceptions.ConnectionError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("Redis is not running")
    store.flushdb()
    yield store
    store.flushdb()
    store.close()


def test_rate_limit_counters_live_in_redis_when_configured(make_app, redis_store):
    app = make_app(RATELIMIT_STORAGE_URI=REDIS_TEST_URL, LOGIN_LIMIT_PER_ADDRESS="2 per minute")
    client = app.test_client()
    assert _failed_login(client, "3001112233").status_code == 200
    keys = [key.decode() for key in redis_store.keys("*")]
    assert any("login-address" in key and "127.0.0.1" in key for key in keys), keys
    # A second application process sharing Redis sees the same budget.
    second = make_app(RATELIMIT_STORAGE_URI=REDIS_TEST_URL, LOGIN_LIMIT_PER_ADDRESS="2 per minute").test_client()
    assert _failed_login(second, "3001112233").status_code == 200
    assert _failed_login(second, "3001112233").status_code == 429
    assert _failed_login(client, "3001112233").status_code == 429
    # The counters are only in Redis: once it forgets them, the address may try again.
    redis_store.flushdb()
    assert _failed_login(client, "3001112233").status_code == 200


def test_error_pages_speak_the_users_language(client):
    page = client.get("/no-existe")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "No encontramos esa página" in page.get_data(as_text=True)
    api = client.get("/api/v1/no-existe")
    assert api.status_code == 404 and api.is_json and api.get_json()["code"] == 404
    wrong_method = client.delete("/api/v1/municipalities")
    assert wrong_method.status_code == 405 and wrong_method.is_json
    assert "GET" in wrong_method.headers["Allow"]


def test_redirect_after_login_stays_on_this_site(client, factory):
    _coop, person = factory.cooperative()
    response = client.post("/entrar", data={"identifier": person.login, "password": person.password,
                                            "next": "https://evil.example/phish"})
    assert response.headers["Location"] == "/inicio"
    client.post("/salir")
    response = client.post("/entrar", data={"identifier": person.login, "password": person.password,
                                            "next": "/cuenta"})
    assert response.headers["Location"] == "/cuenta"


def test_login_limits_per_account_then_per_address(make_app, factory):
    """Three failures lock the account for a minute, even with the right password; other
    accounts from the same address keep working until the address has used its five."""
    app = make_app(LOGIN_LIMIT_PER_ACCOUNT="3 per minute", LOGIN_LIMIT_PER_ADDRESS="5 per minute")
    people = [factory.cooperative()[1] for _ in range(3)]
    locked, second, third = people

    def attempt(person, password, address="127.0.0.1"):
        return app.test_client().post("/entrar", data={"identifier": person.login, "password": password},
                                      environ_base={"REMOTE_ADDR": address})

    for _ in range(3):
        failed = attempt(locked, "clave-equivocada-1")
        assert failed.status_code == 200
        assert "El celular, el correo o la contraseña no son correctos." in failed.get_data(as_text=True)
    blocked = attempt(locked, locked.password)
    assert blocked.status_code == 429 and blocked.mimetype == "text/html"
    assert "Demasiados intentos. Espere un momento e intente de nuevo." in blocked.get_data(as_text=True)
    assert int(blocked.headers["Retry-After"]) > 0
    # The refused attempt did not use up the address's budget: two more logins work.
    assert attempt(second, second.password).status_code == 302
    assert attempt(third, third.password).status_code == 302
    # Now the address has made five attempts: any account is refused from it...
    assert attempt(second, second.password).status_code == 429
    # ...but not from another address, except the locked account.
    assert attempt(second, second.password, address="10.1.2.3").status_code == 302
    assert attempt(locked, locked.password, address="10.1.2.3").status_code == 429


def _inline_code(html: str) -> list[str]:
    """Tags the CSP would block: inline scripts and styles, event handlers, style
    attributes and javascript: URLs."""
    def blocked(tag: str) -> bool:
        inline_script = re.match(r"<script\b", tag, re.I) and not re.search(r"\ssrc\s*=", tag, re.I)
        return bool(
            inline_script
            or re.match(r"<style\b", tag, re.I)
            or re.search(r"\s(on[a-z]+|style)\s*=", tag, re.I)
            or re.search(r"=\s*[\"']?\s*javascript:", tag, re.I)
        )

    return [tag for tag in re.findall(r"<[a-zA-Z][^>]*>", html) if blocked(tag)]


def test_the_inline_code_detector_works():
    assert _inline_code('<p>ok</p><script src="/static/js/a.js" defer></script><a href="/x">x</a>') == []
    for bad in ("<script>alert(1)</script>", '<div style="color:red">', '<button onclick="x()">',
                "<style>p{}</style>", '<a href="javascript:x()">'):
        assert _inline_code(bad), bad


@pytest.mark.parametrize("role", [None, "coop_manager", "buyer_admin", "platform_admin"])
def test_every_page_obeys_the_csp_and_private_pages_are_not_cached(app, factory, login_as, role):
    """Walk every GET page as a visitor and as several roles: no server error, the
    security headers everywhere, no inline code in the HTML actually sent, and no
    cached copies of anything a logged-in person sees."""
    if role is None:
        client, ids = app.test_client(), {}
    else:
        client, person = login_as(role)
        ids = _existing_ids(app, factory, person)
    rendered = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        url = _url_for_rule(rule, ids)
        response = client.get(url)
        assert response.status_code in (200, 301, 302, 401, 403, 404), (url, response.status_code)
        headers = response.headers
        assert "script-src 'self'" in headers["Content-Security-Policy"], url
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY", url
        if role is not None:
            assert headers["Cache-Control"] == "no-store", url
        if response.status_code == 200 and response.mimetype == "text/html":
            assert _inline_code(response.get_data(as_text=True)) == [], url
            rendered += 1
    assert rendered >= (7 if role is None else 9)
