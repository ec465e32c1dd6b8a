"""Typing the password again to confirm a change spends the same per-account budget as a
login; changing or resetting a password, deactivating a person or suspending their
organisation revokes their API tokens (the old token then answers 401)."""

from __future__ import annotations

import re

from sqlalchemy import select

from marketplace.accounts.models import ApiToken, Membership, Role
from marketplace.extensions import db
from tests.accounts import codes
from tests.conftest import PASSWORD, login

NEW = "Cacao Nuevo del Mira 2027"
TOO_MANY = "Demasiados intentos. Espere un momento e intente de nuevo."


def _live_tokens(app, user_id: int) -> int:
    with app.app_context():
        return len(db.session.scalars(select(ApiToken).where(
            ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))).all())


def _new_token(app, person) -> dict:
    client = app.test_client()
    login(client, person)
    page = client.post("/cuenta/tokens", data={"token-name": "ERP", "token-password": person.password})
    assert page.status_code == 201
    token = re.search(r'id="new-token">([^<]+)<', page.get_data(as_text=True)).group(1)
    headers = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/api/v1/me", headers=headers).status_code == 200
    return headers


def _refused(app, headers) -> bool:
    return app.test_client().get("/api/v1/me", headers=headers).status_code == 401


# ------------------------------------------------------------ password re-confirmation


def test_wrong_reconfirmations_use_up_the_login_budget(make_app, factory):
    app = make_app(LOGIN_LIMIT_PER_ACCOUNT="4 per minute", LOGIN_LIMIT_PER_ADDRESS="100 per minute")
    factory.app = app
    _org, person = factory.cooperative()
    client = app.test_client()
    login(client, person)  # one login: 1 of 4
    wrong = "clave-equivocada-1"
    assert client.post("/cuenta/tokens", data={"token-name": "ERP", "token-password": wrong}).status_code == 422
    assert client.post("/cuenta/contrasena", data={"pw-current_password": wrong, "pw-new_password": NEW,
                                                   "pw-new_password_confirm": NEW}).status_code == 422
    assert client.post("/cuenta/acceso", data={"login-current_password": wrong, "login-phone": person.login,
                                               "login-email": ""}).status_code == 422
    # Over the limit, even the right password is refused, with the login's message.
    blocked = client.post("/cuenta/tokens", data={"token-name": "ERP", "token-password": person.password})
    assert blocked.status_code == 429 and TOO_MANY in blocked.get_data(as_text=True)
    assert _live_tokens(app, person.user_id) == 0
    changed = client.post("/cuenta/contrasena", data={"pw-current_password": person.password,
                                                      "pw-new_password": NEW, "pw-new_password_confirm": NEW})
    assert changed.status_code == 429
    # The login shares the counter: the right password is refused there too.
    again = app.test_client().post("/entrar", data={"identifier": person.login, "password": person.password})
    assert again.status_code == 429 and TOO_MANY in again.get_data(as_text=True)
    # Another account is not affected.
    _org2, other = factory.cooperative()
    assert app.test_client().post("/entrar", data={"identifier": other.login,
                                                    "password": other.password}).status_code == 302


def test_failed_logins_leave_no_reconfirmations(make_app, factory):
    app = make_app(LOGIN_LIMIT_PER_ACCOUNT="3 per minute", LOGIN_LIMIT_PER_ADDRESS="100 per minute")
    factory.app = app
    _org, person = factory.cooperative()
    client = app.test_client()
    login(client, person)
    for _ in range(2):
        app.test_client().post("/entrar", data={"identifier": person.login, "password": "clave-equivocada-1"})
    blocked = client.post("/cuenta/tokens", data={"token-name": "ERP", "token-password": person.password})
    assert blocked.status_code == 429 and _live_tokens(app, person.user_id) == 0


# ---------------------------------------------------------------------- tokens revoked


def test_changing_the_password_revokes_every_token(app, factory):
    _org, person = factory.cooperative()
    first, second = _new_token(app, person), _new_token(app, person)
    client = app.test_client()
    login(client, person)
    done = client.post("/cuenta/contrasena", data={"pw-current_password": PASSWORD, "pw-new_password": NEW,
                                                   "pw-new_password_confirm": NEW}, follow_redirects=True)
    assert done.status_code == 200
    assert "Se revocaron sus 2 claves de API" in done.get_data(as_text=True)
    assert _refused(app, first) and _refused(app, second)
    assert _live_tokens(app, person.user_id) == 0


def test_recovery_by_code_and_link_revoke_tokens(app, factory):
    _org, person = factory.cooperative()
    codes.prove(app, person.user_id)
    headers = _new_token(app, person)
    client = app.test_client()
    client.post("/recuperar", data={"identifier": person.login})
    code = codes.last_payload(app, "recovery_code", person.user_id)["code"]
    done = client.post("/recuperar/codigo", data={"code": code, "new_password": NEW, "new_password_confirm": NEW},
                       follow_redirects=True)
    assert "Se revocó su clave de API" in done.get_data(as_text=True)
    assert _refused(app, headers)

    _org, buyer = factory.buyer()
    codes.prove(app, buyer.user_id, phone=False, email=True)
    headers = _new_token(app, buyer)
    client = app.test_client()
    client.post("/recuperar", data={"identifier": buyer.login})
    link = codes.last_payload(app, "recovery_link", buyer.user_id)["link"]
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    done = client.post(path, data={"new_password": NEW, "new_password_confirm": NEW}, follow_redirects=True)
    assert "Se revocó su clave de API" in done.get_data(as_text=True)
    assert _refused(app, headers)


def _membership_id(app, user_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(Membership.id).where(Membership.user_id == user_id))


def test_a_managers_reset_and_a_deactivation_revoke_tokens(app, factory):
    org_id, manager = factory.cooperative()
    reset_member = factory.member(org_id, Role.COOP_MEMBER)
    codes.prove(app, reset_member.user_id)
    gone_member = factory.member(org_id, Role.COOP_MEMBER)
    reset_headers, gone_headers = _new_token(app, reset_member), _new_token(app, gone_member)
    client = app.test_client()
    login(client, manager)
    page = client.post(f"/organizacion/miembros/{_membership_id(app, reset_member.user_id)}/contrasena",
                       follow_redirects=True)
    assert "Se revocó su clave de API" in page.get_data(as_text=True)
    assert _refused(app, reset_headers)
    assert not _refused(app, gone_headers)
    client.post(f"/organizacion/miembros/{_membership_id(app, gone_member.user_id)}/estado", data={"active": "0"})
    assert _refused(app, gone_headers)


def test_suspending_an_organisation_revokes_tokens_and_sessions(app, factory):
    coop_id, person = factory.cooperative()
    headers = _new_token(app, person)
    browser = app.test_client()
    login(browser, person)
    admin = factory.admin()
    admin_client = app.test_client()
    login(admin_client, admin)
    response = admin_client.post(f"/admin/organizaciones/{coop_id}",
                                 data={"status": "suspended", "reason": "Documentos vencidos"})
    assert response.status_code in (200, 302)
    assert _refused(app, headers) and _live_tokens(app, person.user_id) == 0
    assert browser.get("/cuenta").status_code == 302  # signed out
