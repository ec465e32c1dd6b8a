"""Logging in by phone or e-mail, and sessions that really end."""

import pytest

from marketplace.accounts.models import ApiToken, Role
from marketplace.extensions import db
from tests.accounts import codes
from tests.accounts.helpers import field_error, open_session_count
from tests.conftest import login


def _cookies(client) -> dict:
    return {c.key: c.value for c in client._cookies.values()}


def _restore(app, cookies: dict):
    fresh = app.test_client()
    for key, value in cookies.items():
        fresh.set_cookie(key, value)
    return fresh


@pytest.mark.parametrize("typed", ["{national}", "+57 {spaced}", "({a}) {b}-{c}"])
def test_login_with_the_phone_in_any_format(client, factory, typed):
    _coop, person = factory.cooperative()
    national = person.login[3:]
    text = typed.format(national=national, spaced=f"{national[:3]} {national[3:6]} {national[6:]}",
                        a=national[:3], b=national[3:6], c=national[6:])
    response = client.post("/entrar", data={"identifier": text, "password": person.password})
    assert response.status_code == 302
    assert client.get("/inicio").status_code == 200


def test_login_with_email_in_any_case(client, factory):
    _buyer, person = factory.buyer()
    response = client.post("/entrar", data={"identifier": person.login.upper(), "password": person.password})
    assert response.status_code == 302


def test_wrong_password_and_unknown_user_get_the_same_answer(client, factory):
    _coop, person = factory.cooperative()
    wrong = client.post("/entrar", data={"identifier": person.login, "password": "no-es-la-clave"})
    unknown = client.post("/entrar", data={"identifier": "3009998877", "password": "no-es-la-clave"})
    garbage = client.post("/entrar", data={"identifier": "no soy un login", "password": "no-es-la-clave"})
    message = "El celular, el correo o la contraseña no son correctos."
    for response in (wrong, unknown, garbage):
        assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert client.get("/inicio").status_code == 302


def test_a_deactivated_member_cannot_log_in(app, factory):
    coop_id, manager = factory.cooperative()
    member = factory.member(coop_id, Role.COOP_MEMBER)
    admin_client = app.test_client()
    login(admin_client, manager)
    from marketplace.accounts.models import Membership

    with app.app_context():
        membership_id = db.session.scalar(db.select(Membership.id).where(Membership.user_id == member.user_id))
    assert admin_client.post(f"/organizacion/miembros/{membership_id}/estado", data={"active": "0"}).status_code == 302
    response = app.test_client().post("/entrar", data={"identifier": member.login, "password": member.password})
    assert "no son correctos" in response.get_data(as_text=True)


@pytest.mark.parametrize("remember", [False, True])
def test_a_cookie_saved_before_logout_no_longer_works(app, factory, remember):
    _coop, person = factory.cooperative()
    client = app.test_client()
    login(client, person, remember=remember)
    saved = _cookies(client)
    assert ("remember_token" in saved) is remember
    assert client.post("/salir").status_code == 302
    replay = _restore(app, saved)
    response = replay.get("/inicio")
    assert response.status_code == 302 and "/entrar" in response.headers["Location"]
    assert open_session_count(app, person.user_id) == 0


def test_changing_the_password_ends_every_other_session(app, factory):
    _coop, person = factory.cooperative()
    phone, laptop = app.test_client(), app.test_client()
    login(phone, person)
    login(laptop, person, remember=True)
    saved = _cookies(phone)
    response = phone.post("/cuenta/contrasena", data={
        "pw-current_password": person.password, "pw-new_password": "Nueva Clave del Cacao 7",
        "pw-new_password_confirm": "Nueva Clave del Cacao 7"})
    assert response.status_code == 302
    assert phone.get("/inicio").status_code == 200  # this browser goes on
    assert laptop.get("/inicio").status_code == 302  # the other one is out
    assert _restore(app, saved).get("/inicio").status_code == 302  # and so is an old cookie
    assert open_session_count(app, person.user_id) == 1
    assert app.test_client().post("/entrar", data={"identifier": person.login, "password": person.password}).status_code == 200


def test_close_other_sessions(app, factory):
    _coop, person = factory.cooperative()
    mine, other = app.test_client(), app.test_client()
    login(mine, person)
    login(other, person)
    assert mine.post("/cuenta/sesiones/cerrar-otras").status_code == 302
    assert mine.get("/inicio").status_code == 200
    assert other.get("/inicio").status_code == 302


@pytest.mark.parametrize(("url", "data", "field"), [
    ("/cuenta/contrasena", {"pw-current_password": "mal", "pw-new_password": "Nueva Clave del Cacao 7",
                            "pw-new_password_confirm": "Nueva Clave del Cacao 7"}, "pw-current_password"),
    ("/cuenta/acceso", {"login-phone": "3207654321", "login-email": "", "login-current_password": "mal"},
     "login-current_password"),
    ("/cuenta/tokens", {"token-name": "ERP", "token-password": "mal"}, "token-password"),
])
def test_sensitive_changes_ask_for_the_password(app, factory, url, data, field):
    _coop, person = factory.cooperative()
    client = app.test_client()
    login(client, person)
    response = client.post(url, data=data)
    assert response.status_code == 422
    assert "La contraseña no es correcta." in field_error(response.get_data(as_text=True), field)
    # Nothing changed: the old phone and password still log in, no token exists.
    client.post("/salir")
    login(client, person)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(ApiToken)) == 0


def test_changing_the_login_phone(app, factory):
    _coop, person = factory.cooperative()
    client = app.test_client()
    login(client, person)
    response = client.post("/cuenta/acceso", data={
        "login-phone": "320 765 4321", "login-email": "gerente@asociacion.co", "login-current_password": person.password})
    assert response.status_code == 302
    # Each new login works once its code or link came back.
    code = codes.last_payload(app, "verification_code", person.user_id)["code"]
    assert client.post("/cuenta/acceso/codigo", data={"change-code": code}).status_code == 302
    link = codes.last_payload(app, "verify_email_link", person.user_id)["link"]
    assert client.post("/" + link.split("://", 1)[1].split("/", 1)[1]).status_code == 302
    client.post("/salir")
    assert client.post("/entrar", data={"identifier": "3207654321", "password": person.password}).status_code == 302
    client.post("/salir")
    assert client.post("/entrar", data={"identifier": "gerente@asociacion.co", "password": person.password}).status_code == 302


def test_a_temporary_password_must_be_changed_first(app, factory):
    coop_id, _manager = factory.cooperative()
    member = factory.member(coop_id, Role.COOP_MEMBER, must_change_password=True)
    client = app.test_client()
    login(client, member)
    response = client.get("/inicio")
    assert response.status_code == 302 and response.headers["Location"].endswith("/cuenta/contrasena")
    client.post("/cuenta/contrasena", data={
        "pw-current_password": member.password, "pw-new_password": "Mi Clave Propia 2026",
        "pw-new_password_confirm": "Mi Clave Propia 2026"})
    assert client.get("/inicio").status_code == 200
