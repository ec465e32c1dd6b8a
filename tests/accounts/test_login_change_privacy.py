"""Changing one's login phone or e-mail does not tell whether the new one already has an
account (issue 16, item 10). A new number or address takes effect only once its owner proves
it (a code to the number, a link to the address); until then the account keeps its login and
its page says the change is pending. A value that belongs to another account is kept pending
the same way, nothing is sent to it, no code can ever complete it, and its owner is told."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import select, update

from marketplace.accounts import verification
from marketplace.accounts.identity import format_mobile
from marketplace.accounts.models import User, VerificationCode
from marketplace.core.models import AuditEvent, utcnow
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


def _account_page(client, app, person, typed: str) -> str:
    """The account page, with what differs between two people (name, organisation, login,
    the value they typed) blanked out."""
    page = client.get("/cuenta").get_data(as_text=True)
    user = codes.user(app, person.user_id)
    with app.app_context():
        org = db.session.get(User, person.user_id).organisation.name
    page = re.sub(r'"[\w\-]{20,}\.[\w\-]{4,}\.[\w\-]{10,}"', '"csrf"', page)
    page = re.sub(r'data-user="\d+"', "", page)
    for value in (typed, user.full_name, org, user.phone or "-", user.email or "-"):
        page = page.replace(value, "…")
    return page


def _change(app, person, phone: str, email: str):
    client = app.test_client()
    login(client, person)
    response = client.post("/cuenta/acceso", data={"login-phone": phone, "login-email": email,
                                                    "login-current_password": PASSWORD})
    return client, response


def _typed_code(monkeypatch, code="424242"):
    """Every code drawn from now on is ``code``, so a test knows what would have been sent."""
    monkeypatch.setattr(verification, "new_code", lambda: code)
    return code


@pytest.mark.parametrize("field", ["phone", "email"])
def test_a_taken_login_gets_the_answer_and_the_page_a_free_one_gets_and_nothing_changes(app, factory, field):
    _org, owner = factory.cooperative()
    _org, mover = factory.cooperative()
    _org, control = factory.cooperative()
    with app.app_context():
        db.session.get(User, owner.user_id).email = "dueno@ejemplo.co"
        db.session.commit()
    if field == "phone":
        taken, free = (owner.login, ""), ("311 555 0199", "")
        taken_shown, free_shown = format_mobile(owner.login), "311 555 0199"
    else:
        taken, free = (mover.login, "dueno@ejemplo.co"), (control.login, "libre@ejemplo.co")
        taken_shown, free_shown = "dueno@ejemplo.co", "libre@ejemplo.co"
    free_client, on_free = _change(app, control, *free)
    taken_client, on_taken = _change(app, mover, *taken)
    assert _shape(on_taken) == _shape(on_free)
    assert on_free.status_code == 302 and on_free.headers["Location"] == "/cuenta#acceso"
    assert _flashes(taken_client) == _flashes(free_client)
    assert "confirme el código o el enlace" in _flashes(free_client)[0][1]
    # The account page afterwards is the same but for the value typed: a pending change.
    taken_page = _account_page(taken_client, app, mover, taken_shown)
    assert taken_page == _account_page(free_client, app, control, free_shown)
    assert "Cambio pendiente" in taken_page
    assert f"enviamos a {taken_shown}" in taken_client.get("/cuenta").get_data(as_text=True)
    # Neither changed yet.
    assert (codes.user(app, control.user_id).phone, codes.user(app, control.user_id).email) == (control.login, None)
    assert (codes.user(app, mover.user_id).phone, codes.user(app, mover.user_id).email) == (mover.login, None)
    # A code or link went to the free value; nothing went to the owner's on the mover's behalf.
    kind = "verification_code" if field == "phone" else "verify_email_link"
    assert [n.payload["address"] for n in codes.notices(app, kind, control.user_id)] == [
        "+573115550199" if field == "phone" else "libre@ejemplo.co"]
    assert codes.notices(app, kind, mover.user_id) == []
    (notice,) = codes.notices(app, "login_claim_attempt", owner.user_id)
    assert notice.payload["login"] == field
    assert notice.payload["address"] == (owner.login if field == "phone" else "dueno@ejemplo.co")
    assert notice.payload["link"].endswith("/entrar")
    assert codes.notices(app, "login_claim_attempt", mover.user_id) == []
    assert codes.notices(app, "login_claim_attempt", control.user_id) == []


def test_a_new_number_takes_effect_only_with_its_code(app, factory, monkeypatch):
    _org, person = factory.cooperative()
    codes.prove(app, person.user_id, whatsapp=True)
    client, _response = _change(app, person, "312 555 0199", "")
    payload = codes.last_payload(app, "verification_code", person.user_id)
    assert (payload["channel"], payload["address"]) == ("whatsapp", "+573125550199")
    wrong = f"{(int(payload['code']) + 1) % 1_000_000:06d}"
    refused = client.post("/cuenta/acceso/codigo", data={"change-code": wrong})
    assert refused.status_code == 422 and "Le quedan 4 intentos" in refused.get_data(as_text=True)
    kept = codes.user(app, person.user_id)
    assert kept.phone == person.login and kept.phone_verified_at is not None
    # The old number still logs in; the new one does not yet.
    assert app.test_client().post("/entrar", data={"identifier": "3125550199",
                                                    "password": PASSWORD}).status_code == 200
    login(app.test_client(), person)

    done = client.post("/cuenta/acceso/codigo", data={"change-code": payload["code"]})
    assert done.status_code == 302 and done.headers["Location"] == "/cuenta#acceso"
    changed = codes.user(app, person.user_id)
    assert changed.phone == "+573125550199" and changed.phone_verified_at is not None
    assert "Cambio pendiente" not in client.get("/cuenta").get_data(as_text=True)
    assert app.test_client().post("/entrar", data={"identifier": "3125550199",
                                                    "password": PASSWORD}).status_code == 302
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.login_changed"))
        assert event.before == {"phone": person.login} and event.after == {"phone": "+573125550199"}
    # A used code does not work twice.
    again = client.post("/cuenta/acceso/codigo", data={"change-code": payload["code"]})
    assert again.status_code == 422


def test_an_expired_or_tried_out_code_changes_nothing(app, factory):
    _org, person = factory.cooperative()
    client, _response = _change(app, person, "312 555 0199", "")
    code = codes.last_payload(app, "verification_code", person.user_id)["code"]
    with app.app_context():
        db.session.execute(update(VerificationCode).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    expired = client.post("/cuenta/acceso/codigo", data={"change-code": code})
    assert expired.status_code == 422 and "venció o ya no sirve" in expired.get_data(as_text=True)
    assert codes.user(app, person.user_id).phone == person.login
    assert "Cambio pendiente" not in client.get("/cuenta").get_data(as_text=True)

    # A fresh request; five wrong tries use the code up, and then the right one fails too.
    client.post("/cuenta/acceso", data={"login-phone": "312 555 0199", "login-email": "",
                                         "login-current_password": PASSWORD})
    code = codes.last_payload(app, "verification_code", person.user_id)["code"]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(verification.MAX_ATTEMPTS):
        assert client.post("/cuenta/acceso/codigo", data={"change-code": wrong}).status_code == 422
    assert client.post("/cuenta/acceso/codigo", data={"change-code": code}).status_code == 422
    assert codes.user(app, person.user_id).phone == person.login


def test_a_taken_number_never_switches_even_with_the_code_that_would_have_been_sent(app, factory, monkeypatch):
    _org, owner = factory.cooperative()
    _org, mover = factory.cooperative()
    code = _typed_code(monkeypatch)
    client = app.test_client()
    login(client, mover)
    for _ in range(2):
        response = client.post("/cuenta/acceso", data={"login-phone": owner.login, "login-email": "nuevo@ejemplo.co",
                                                        "login-current_password": PASSWORD})
        assert response.headers["Location"] == "/cuenta#acceso"
    refused = client.post("/cuenta/acceso/codigo", data={"change-code": code})
    assert refused.status_code == 422 and "Le quedan 4 intentos" in refused.get_data(as_text=True)
    assert codes.user(app, mover.user_id).phone == mover.login
    # Not even once the owner gives the number up.
    with app.app_context():
        db.session.get(User, owner.user_id).phone = "+573009998877"
        db.session.commit()
    assert client.post("/cuenta/acceso/codigo", data={"change-code": code}).status_code == 422
    assert codes.user(app, mover.user_id).phone == mover.login
    # The free e-mail typed beside it waits for its own link, which went only to that address.
    links = codes.notices(app, "verify_email_link", mover.user_id)
    assert len(links) == 2 and {n.payload["address"] for n in links} == {"nuevo@ejemplo.co"}
    assert codes.user(app, mover.user_id).email is None
    # The owner was told once (once an hour at most) and still logs in with their number.
    assert len(codes.notices(app, "login_claim_attempt", owner.user_id)) == 1
    assert codes.notices(app, "verification_code", mover.user_id) == []


@pytest.mark.parametrize("taken", [True, False])
def test_requests_are_limited_alike_and_never_use_up_the_owners_codes(app, factory, taken):
    _org, owner = factory.cooperative()
    _org, mover = factory.cooperative()
    target = owner.login if taken else "+573125550199"
    client = app.test_client()
    login(client, mover)
    answers = [client.post("/cuenta/acceso", data={"login-phone": target, "login-email": "",
                                                    "login-current_password": PASSWORD}) for _ in range(4)]
    assert [a.status_code for a in answers] == [302, 302, 302, 422]
    assert "Espere unos minutos" in answers[-1].get_data(as_text=True)
    # The owner's own number still gets its codes: nothing was sent to it on the mover's behalf.
    owner_client = app.test_client()
    login(owner_client, owner)
    page = owner_client.post("/cuenta/verificar-celular/enviar", follow_redirects=True).get_data(as_text=True)
    assert "Le enviamos un código nuevo" in page


def _link_path(link: str) -> str:
    return "/" + link.split("://", 1)[1].split("/", 1)[1]


def test_a_new_e_mail_takes_effect_only_when_its_link_is_opened(app, factory):
    _org, person = factory.cooperative()
    codes.prove(app, person.user_id)
    client, response = _change(app, person, person.login, "propio@ejemplo.co")
    assert response.headers["Location"] == "/cuenta#acceso"
    assert codes.user(app, person.user_id).email is None
    assert "enviamos a propio@ejemplo.co" in client.get("/cuenta").get_data(as_text=True)
    path = _link_path(codes.last_payload(app, "verify_email_link", person.user_id)["link"])
    assert client.post(path[:-1] + ("0" if path[-1] != "0" else "1")).status_code == 404
    assert app.test_client().get(path).status_code == 200  # a button: a mail scanner changes nothing
    assert codes.user(app, person.user_id).email is None
    opened = app.test_client().post(path)
    assert opened.status_code == 302
    changed = codes.user(app, person.user_id)
    assert changed.email == "propio@ejemplo.co" and changed.email_verified_at is not None
    assert changed.phone == person.login and changed.phone_verified_at is not None
    assert app.test_client().post(path).status_code == 404
    assert codes.notices(app, "login_claim_attempt") == []


def test_a_taken_e_mail_never_switches_and_its_row_gets_no_link(app, factory):
    _org, owner = factory.cooperative()
    _org, mover = factory.cooperative()
    with app.app_context():
        db.session.get(User, owner.user_id).email = "dueno@ejemplo.co"
        db.session.commit()
    _client, _response = _change(app, mover, mover.login, "dueno@ejemplo.co")
    (row,) = codes.codes(app, mover.user_id)
    assert row.purpose == verification.CHANGE_EMAIL and row.address == "dueno@ejemplo.co"
    with app.app_context():
        code = db.session.get(VerificationCode, row.id)
        # No secret matches it, so no link to it can work.
        assert not verification.try_code(code, verification.CHANGE_EMAIL, code.address, "1" * 30)
        db.session.commit()
    assert codes.user(app, mover.user_id).email is None


def test_clearing_the_e_mail_applies_at_once_when_the_number_stays(app, factory):
    _org, person = factory.cooperative()
    with app.app_context():
        db.session.get(User, person.user_id).email = "viejo@ejemplo.co"
        db.session.commit()
    client, response = _change(app, person, person.login, "")
    assert response.headers["Location"] == "/cuenta#acceso"
    assert _flashes(client) == [("success", "Datos de acceso actualizados.")]
    assert codes.user(app, person.user_id).email is None
    assert codes.codes(app, person.user_id) == []


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
