"""Changing one's login phone or e-mail does not tell whether the new one already has an
account (issue 16, item 10): the answer is the one a free value gets, nothing changes, and
the owner of that number or address is told on it."""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale

from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.messaging import gsm, hooks
from marketplace.messaging.models import Notice
from tests.accounts import codes
from tests.conftest import PASSWORD, login


def _shape(response) -> tuple:
    """What the person sees of the answer: status, where it sends them, and the body."""
    return (response.status_code, response.headers.get("Location"),
            re.sub(r'name="csrf_token"[^>]*', "", response.get_data(as_text=True)))


def _flashes(client) -> list:
    with client.session_transaction() as session:
        return list(session.get("_flashes", []))


def _change(app, person, phone: str, email: str):
    client = app.test_client()
    login(client, person)
    response = client.post("/cuenta/acceso", data={"login-phone": phone, "login-email": email,
                                                    "login-current_password": PASSWORD})
    return client, response


@pytest.mark.parametrize("field", ["phone", "email"])
def test_a_taken_login_gets_the_answer_a_free_one_gets_and_nothing_changes(app, factory, field):
    _org, owner = factory.cooperative()
    _org, mover = factory.cooperative()
    _org, control = factory.cooperative()
    with app.app_context():
        db.session.get(User, owner.user_id).email = "dueno@ejemplo.co"
        db.session.commit()
    if field == "phone":
        taken, free = (owner.login, ""), ("311 555 0199", "")
    else:
        taken, free = (mover.login, "dueno@ejemplo.co"), (control.login, "libre@ejemplo.co")
    free_client, on_free = _change(app, control, *free)
    taken_client, on_taken = _change(app, mover, *taken)
    assert _shape(on_taken) == _shape(on_free)
    assert on_free.status_code == 302
    assert _flashes(taken_client) == _flashes(free_client) == [("success", "Datos de acceso actualizados.")]
    # The free value was taken up, as before; the taken one changed nothing.
    changed = codes.user(app, control.user_id)
    assert (changed.phone if field == "phone" else changed.email) in ("+573115550199", "libre@ejemplo.co")
    kept = codes.user(app, mover.user_id)
    assert (kept.phone, kept.email) == (mover.login, None)
    # No code or link went to the owner's number or address on the mover's behalf.
    assert codes.codes(app, mover.user_id) == []
    (notice,) = codes.notices(app, "login_claim_attempt", owner.user_id)
    assert notice.payload["login"] == field
    assert notice.payload["address"] == (owner.login if field == "phone" else "dueno@ejemplo.co")
    assert notice.payload["link"].endswith("/entrar")
    assert codes.notices(app, "login_claim_attempt", mover.user_id) == []


def test_a_taken_login_never_completes_and_the_owner_is_told_once_an_hour(app, factory):
    _org, owner = factory.cooperative()
    _org, mover = factory.cooperative()
    client = app.test_client()
    login(client, mover)
    for _ in range(3):
        response = client.post("/cuenta/acceso", data={"login-phone": owner.login, "login-email": "nuevo@ejemplo.co",
                                                        "login-current_password": PASSWORD})
        assert response.headers["Location"] == "/cuenta/verificar-celular"
    # Half a change is no change: the free e-mail typed beside the taken number was not taken up.
    kept = codes.user(app, mover.user_id)
    assert (kept.phone, kept.email) == (mover.login, None)
    # The verification step cannot complete it: there is no code for that number to type.
    assert client.post("/cuenta/verificar-celular", data={"code": "123456"}).status_code in (302, 422)
    assert codes.user(app, mover.user_id).phone == mover.login
    assert codes.user(app, owner.user_id).phone == owner.login
    assert len(codes.notices(app, "login_claim_attempt", owner.user_id)) == 1
    # The owner's number still logs in to the owner's account.
    login(app.test_client(), owner)


def test_keeping_ones_own_number_while_changing_the_e_mail_still_works(app, factory):
    _org, person = factory.cooperative()
    client, response = _change(app, person, person.login, "propio@ejemplo.co")
    assert response.headers["Location"] == "/cuenta"
    assert codes.user(app, person.user_id).email == "propio@ejemplo.co"
    assert codes.notices(app, "login_claim_attempt") == []


@pytest.mark.parametrize("locale", ["es", "en"])
@pytest.mark.parametrize("login_kind", ["phone", "email"])
def test_the_owners_notice_reads_in_their_language_and_fits_one_sms(app, factory, locale, login_kind):
    _org, person = factory.cooperative()
    link = "https://mercadorural.co/entrar"
    with app.app_context():
        user = db.session.get(User, person.user_id)
        notice = Notice(kind="login_claim_attempt", user_id=user.id,
                        payload={"channel": "sms", "address": "+573150000001", "login": login_kind, "link": link})
        declared = hooks.NOTICE_KINDS["login_claim_attempt"]
        with app.test_request_context(), force_locale(locale):
            rendered = declared.render(notice, user)
        assert link in rendered.text and link in rendered.short and rendered.template_params == [link]
        assert gsm.segments(rendered.short) == (gsm.GSM7, 1), rendered.short
        word = {"es": {"phone": "número", "email": "correo"}, "en": {"phone": "number", "email": "e-mail"}}
        assert word[locale][login_kind] in rendered.text
        assert ("No se cambió nada" in rendered.text) == (locale == "es")
        assert declared.address(notice) == ("sms", "+573150000001")
