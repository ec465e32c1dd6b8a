"""Verification codes: hashed, 10 minutes, 5 tries, limited resends, one live code at a time;
a number is verified at registration and again whenever it changes; e-mails by a link."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from marketplace.accounts import verification
from marketplace.accounts.models import User, VerificationCode
from marketplace.core.models import AuditEvent, utcnow
from marketplace.extensions import db
from tests.accounts import codes
from tests.accounts.test_registration import BUYER, COOP
from tests.conftest import PASSWORD, login


def _send(app, user_id, now=None):
    with app.app_context():
        user = db.session.get(User, user_id)
        verification.send_phone_code(user, now=now)
        db.session.commit()
    return codes.last_payload(app, "verification_code", user_id)["code"]


def _confirm(app, user_id, typed, now=None):
    """None when the code was accepted, else the error message; the try is committed."""
    with app.app_context():
        user = db.session.get(User, user_id)
        try:
            verification.confirm_phone(user, typed, now=now)
        except verification.CodeRejected as error:
            db.session.commit()
            return str(error.message)
        db.session.commit()
        return None


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_only_a_hash_of_the_code_is_stored(app, factory):
    _org, person = factory.cooperative()
    code = _send(app, person.user_id)
    assert re.fullmatch(r"\d{6}", code)
    [row] = codes.codes(app, person.user_id)
    assert code not in row.code_hash and row.code_hash.startswith("hmac-sha256$")
    assert (row.purpose, row.address, row.channel, row.attempts) == ("verify_phone", person.login, "sms", 0)
    with app.app_context():
        assert verification.secret_matches(row.code_hash, "verify_phone", person.login, code)
        # Bound to its purpose and address: the same digits prove nothing else.
        assert not verification.secret_matches(row.code_hash, "reset_password", person.login, code)
        assert not verification.secret_matches(row.code_hash, "verify_phone", "+573000000000", code)
    # Its notice goes to the number being verified, by SMS without a WhatsApp opt-in.
    payload = codes.last_payload(app, "verification_code", person.user_id)
    assert (payload["channel"], payload["address"]) == ("sms", person.login)


def test_a_code_is_valid_ten_minutes(app, factory):
    _org, person = factory.cooperative()
    start = utcnow()
    code = _send(app, person.user_id, now=start)
    assert "venció" in _confirm(app, person.user_id, code, now=start + timedelta(minutes=10, seconds=1))
    assert codes.user(app, person.user_id).phone_verified_at is None
    code = _send(app, person.user_id, now=start + timedelta(minutes=11))
    assert _confirm(app, person.user_id, code, now=start + timedelta(minutes=20, seconds=59)) is None
    proven = codes.user(app, person.user_id)
    assert proven.phone_verified_at is not None
    with app.app_context():
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.phone_verified")) is not None


def test_five_wrong_tries_kill_the_code(app, factory):
    _org, person = factory.cooperative()
    code = _send(app, person.user_id)
    messages = [_confirm(app, person.user_id, _wrong(code)) for _ in range(5)]
    assert "Le quedan 4 intentos" in messages[0] and "Le quedan 1 intentos" in messages[3]
    assert "ya no quedan intentos" in messages[4]
    assert codes.codes(app, person.user_id)[-1].attempts == 5
    # The right code no longer works, and the sixth try counts nothing.
    assert "venció" in _confirm(app, person.user_id, code)
    assert codes.codes(app, person.user_id)[-1].attempts == 5
    assert codes.user(app, person.user_id).phone_verified_at is None


def test_a_new_code_ends_the_previous_one(app, factory):
    _org, person = factory.cooperative()
    first = _send(app, person.user_id)
    second = _send(app, person.user_id)
    if first == second:  # one chance in a million
        pytest.skip("the same six digits were drawn twice")
    assert _confirm(app, person.user_id, first) is not None
    assert _confirm(app, person.user_id, second) is None


def test_codes_to_one_number_are_limited(app, factory):
    _org, person = factory.cooperative()
    start = utcnow()
    for minute in range(3):
        _send(app, person.user_id, now=start + timedelta(minutes=minute))
    with app.app_context(), pytest.raises(verification.TooManyCodes):
        verification.send_phone_code(db.session.get(User, person.user_id), now=start + timedelta(minutes=14))
    # Past the quarter of an hour, more; but no more than ten a day.
    for n in range(7):
        _send(app, person.user_id, now=start + timedelta(minutes=16 + 16 * n))
    with app.app_context(), pytest.raises(verification.TooManyCodes):
        verification.send_phone_code(db.session.get(User, person.user_id), now=start + timedelta(hours=5))
    assert len(codes.codes(app, person.user_id)) == 10
    _send(app, person.user_id, now=start + timedelta(days=1, minutes=1))


def test_registration_sends_a_code_and_lands_on_the_code_page(app, client):
    response = client.post("/registro/cooperativa", data={**COOP, "whatsapp_opt_in": "y",
                                                          "preferred_channel": "whatsapp"})
    assert response.headers["Location"] == "/cuenta/verificar-celular"
    page = client.get("/cuenta/verificar-celular").get_data(as_text=True)
    assert "pendiente de verificación" in page and "311 555 0101" in page and "WhatsApp" in page
    with app.app_context():
        user = db.session.scalar(select(User).where(User.phone == "+573115550101"))
        assert user.whatsapp_opt_in_at is not None and user.preferred_channel == "whatsapp"
        assert user.phone_verified_at is None
        user_id = user.id
    payload = codes.last_payload(app, "verification_code", user_id)
    assert (payload["channel"], payload["address"]) == ("whatsapp", "+573115550101")
    # The site is usable meanwhile.
    assert client.get("/inicio").status_code == 200
    wrong = client.post("/cuenta/verificar-celular", data={"code": _wrong(payload["code"])})
    assert wrong.status_code == 422 and "Le quedan 4 intentos" in wrong.get_data(as_text=True)
    assert codes.codes(app, user_id)[-1].attempts == 1  # the try was kept
    right = client.post("/cuenta/verificar-celular", data={"code": " ".join([payload["code"][:3], payload["code"][3:]])})
    assert right.status_code == 302 and right.headers["Location"] == "/cuenta/avisos"
    assert codes.user(app, user_id).phone_verified_at is not None


def test_registration_without_opt_in_sends_the_code_by_sms(app, client):
    client.post("/registro/cooperativa", data=COOP)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.phone == "+573115550101"))
        assert user.whatsapp_opt_in_at is None and user.preferred_channel == "sms"
        user_id = user.id
    assert codes.last_payload(app, "verification_code", user_id)["channel"] == "sms"


def test_a_buyer_with_only_an_email_gets_a_link(app, client):
    response = client.post("/registro/empresa", data=BUYER)
    assert response.headers["Location"] == "/inicio"
    home = client.get("/inicio").get_data(as_text=True)
    assert "compras@chocolates-prueba.co" in home and "pendiente de verificación" in home
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "compras@chocolates-prueba.co"))
        assert user.preferred_channel == "email" and user.email_verified_at is None
        user_id = user.id
    link = codes.last_payload(app, "verify_email_link", user_id)["link"]
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert client.get("/" + path).status_code == 200  # a button: a mail scanner verifies nothing
    assert codes.user(app, user_id).email_verified_at is None
    response = client.post("/" + path)
    assert response.status_code == 302 and codes.user(app, user_id).email_verified_at is not None
    again = client.post("/" + path)
    assert again.status_code == 404 and "venció o ya se usó" in again.get_data(as_text=True)
    bad = client.post("/" + path[:-1] + ("0" if path[-1] != "0" else "1"))
    assert bad.status_code == 404


def test_a_new_number_is_proved_by_the_code_that_makes_it_the_login(app, factory):
    _org, person = factory.cooperative()
    codes.prove(app, person.user_id, whatsapp=True)
    client = app.test_client()
    login(client, person)
    response = client.post("/cuenta/acceso", data={"login-phone": "312 555 0199", "login-email": "",
                                                    "login-current_password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/cuenta#acceso"
    kept = codes.user(app, person.user_id)
    assert kept.phone == person.login and kept.phone_verified_at is not None
    payload = codes.last_payload(app, "verification_code", person.user_id)
    assert (payload["channel"], payload["address"]) == ("whatsapp", "+573125550199")
    # The code sent to the new number is not one that verifies the old one.
    assert client.post("/cuenta/acceso/codigo", data={"change-code": payload["code"]}).status_code == 302
    changed = codes.user(app, person.user_id)
    assert changed.phone == "+573125550199" and changed.phone_verified_at is not None


def test_an_unchanged_number_stays_verified(app, factory):
    _org, person = factory.cooperative()
    codes.prove(app, person.user_id)
    client = app.test_client()
    login(client, person)
    client.post("/cuenta/acceso", data={"login-phone": person.login, "login-email": "nuevo@asociacion.co",
                                        "login-current_password": PASSWORD})
    changed = codes.user(app, person.user_id)
    assert changed.phone_verified_at is not None and changed.email is None
    assert codes.notices(app, "verification_code", person.user_id) == []
    assert codes.last_payload(app, "verify_email_link", person.user_id)["address"] == "nuevo@asociacion.co"


def test_resending_from_the_page_is_limited(app, factory):
    _org, person = factory.cooperative()
    client = app.test_client()
    login(client, person)
    for _ in range(3):
        page = client.post("/cuenta/verificar-celular/enviar", follow_redirects=True).get_data(as_text=True)
        assert "Le enviamos un código nuevo por SMS" in page
    page = client.post("/cuenta/verificar-celular/enviar", follow_redirects=True).get_data(as_text=True)
    assert "Espere unos minutos" in page
    assert len(codes.codes(app, person.user_id)) == 3


def test_resending_is_limited_per_client_address(make_app, factory):
    app = make_app(CODE_LIMIT_PER_ADDRESS="2 per hour")
    _org, person = factory.cooperative()
    client = app.test_client()
    login(client, person)
    assert client.post("/cuenta/verificar-celular/enviar").status_code == 302
    assert client.post("/cuenta/verificar-celular/enviar").status_code == 302
    assert client.post("/cuenta/verificar-celular/enviar").status_code == 429


def test_a_verified_number_is_not_sent_codes(app, factory):
    _org, person = factory.cooperative()
    codes.prove(app, person.user_id)
    client = app.test_client()
    login(client, person)
    page = client.post("/cuenta/verificar-celular/enviar", follow_redirects=True).get_data(as_text=True)
    assert "ya está verificado" in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(VerificationCode)) == 0


def test_the_code_page_offers_a_code_when_none_is_live(app, factory):
    _org, person = factory.cooperative()
    client = app.test_client()
    login(client, person)
    page = client.get("/cuenta/verificar-celular").get_data(as_text=True)
    assert "Pida un código" in page and "Le enviamos un código" not in page
    client.post("/cuenta/verificar-celular/enviar")
    page = client.get("/cuenta/verificar-celular").get_data(as_text=True)
    assert "Le enviamos un código de 6 números al 315 000 0001 por SMS" in page


def test_a_code_page_needs_six_digits(app, factory):
    _org, person = factory.cooperative()
    client = app.test_client()
    login(client, person)
    client.post("/cuenta/verificar-celular/enviar")
    response = client.post("/cuenta/verificar-celular", data={"code": "12ab"})
    assert response.status_code == 422 and "6 números" in response.get_data(as_text=True)
    assert codes.codes(app, person.user_id)[-1].attempts == 0
