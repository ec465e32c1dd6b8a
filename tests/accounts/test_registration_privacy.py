"""Registration does not tell anyone whether a phone number or e-mail already has an account
(issue 16, item 10): the answer is the one a new account gets, nothing is created, and the
owner of the existing account is told on that number or address."""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from marketplace.accounts.models import Membership, Organisation, User
from marketplace.extensions import db
from marketplace.messaging import gsm, hooks
from marketplace.messaging.models import Notice
from tests.accounts.test_registration import BUYER, COOP


def _counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (User, Organisation, Membership))


def _attempt_notices(app, user_id: int) -> list[Notice]:
    with app.app_context():
        return list(db.session.scalars(select(Notice).where(Notice.kind == "registration_attempt",
                                                            Notice.user_id == user_id)))


def _shape(response) -> tuple:
    """What an observer sees of the first answer, CSRF tokens and session values aside."""
    cookie = response.headers.get("Set-Cookie", "")
    return (response.status_code, response.headers.get("Location"),
            re.sub(r"session=[^;]*", "session=…", cookie),
            re.sub(r'name="csrf_token"[^>]*', "", response.get_data(as_text=True)))


def _flashes(client, typed: set[str]) -> list:
    """The messages waiting for the next page, with what the registrant typed blanked out."""
    with client.session_transaction() as session:
        found = [text for _kind, text in session.get("_flashes", [])]
    for value in typed:
        found = [text.replace(value, "…") for text in found]
    return found


def _session_keys(client) -> set:
    with client.session_transaction() as session:
        return set(session.keys())


@pytest.mark.parametrize(("form", "data", "field"), [
    ("cooperativa", COOP, "phone"),
    ("empresa", BUYER, "email"),
])
def test_an_existing_login_gets_the_answer_a_new_one_gets_and_its_owner_is_told(app, factory, form, data, field):
    _org, person = factory.cooperative()
    with app.app_context():
        owner = db.session.get(User, person.user_id)
        if field == "email":
            owner.email = "dueno@ejemplo.co"
        db.session.commit()
        taken_login = owner.phone if field == "phone" else owner.email
    new_client, taken_client = app.test_client(), app.test_client()
    fresh = {"phone": "311 555 0199"} if field == "phone" else {"email": "nueva@ejemplo.co"}
    new = new_client.post(f"/registro/{form}", data={**data, **fresh})
    after_new = _counts(app)
    taken = taken_client.post(f"/registro/{form}", data={**data, field: taken_login, "nit": ""}
                              if form == "cooperativa" else {**data, field: taken_login, "nit": "800.197.268-4"})
    assert _shape(new) == _shape(taken)
    assert new.status_code == 302
    typed = {str(v) for v in fresh.values()} | {taken_login}
    assert _flashes(new_client, typed) == _flashes(taken_client, typed)
    assert _session_keys(new_client) == _session_keys(taken_client)
    # No second account, organisation or membership.
    assert _counts(app) == after_new
    (notice,) = _attempt_notices(app, person.user_id)
    assert notice.payload["address"] == taken_login and notice.payload["login"] == field
    assert notice.payload["link"].endswith("/recuperar")
    # The new registration still works as before.
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User).where(
            User.full_name == data["full_name"])) == 1


def test_the_step_after_an_existing_number_asks_for_a_code_that_never_matches(app, factory):
    _org, person = factory.cooperative()
    client = app.test_client()
    taken = client.post("/registro/cooperativa", data={**COOP, "phone": person.login})
    assert taken.headers["Location"] == "/cuenta/verificar-celular"
    page = client.get("/cuenta/verificar-celular")
    assert page.status_code == 200 and "Revise su teléfono o su correo para continuar" in page.get_data(as_text=True)
    wrong = client.post("/cuenta/verificar-celular", data={"code": "123456"})
    assert wrong.status_code == 422 and "ya no sirve" in wrong.get_data(as_text=True)
    assert client.get("/inicio").status_code == 302  # nobody is signed in
    # A visitor who did not just register is sent to log in, as before.
    assert app.test_client().get("/cuenta/verificar-celular").status_code == 302


def test_repeated_attempts_tell_the_owner_once_an_hour_and_a_weak_password_is_refused_alike(app, factory):
    _org, person = factory.cooperative()
    client = app.test_client()
    for _ in range(3):
        client.post("/registro/cooperativa", data={**COOP, "phone": person.login})
    assert len(_attempt_notices(app, person.user_id)) == 1
    weak = {"password": "12345678", "password_confirm": "12345678"}
    on_taken = app.test_client().post("/registro/cooperativa", data={**COOP, **weak, "phone": person.login})
    on_new = app.test_client().post("/registro/cooperativa", data={**COOP, **weak})
    assert on_taken.status_code == on_new.status_code == 200
    assert "demasiado común" in on_taken.get_data(as_text=True)


@pytest.mark.parametrize("locale", ["es", "en"])
@pytest.mark.parametrize("login", ["phone", "email"])
def test_the_notice_reads_in_the_owners_language_and_fits_one_sms(app, factory, locale, login):
    _org, person = factory.cooperative()
    link = "https://mercadorural.co/recuperar"
    with app.app_context():
        user = db.session.get(User, person.user_id)
        notice = Notice(kind="registration_attempt", user_id=user.id,
                        payload={"channel": "sms", "address": "+573150000001", "login": login, "link": link})
        declared = hooks.NOTICE_KINDS["registration_attempt"]
        with app.test_request_context(), force_locale(locale):
            rendered = declared.render(notice, user)
        assert link in rendered.text and link in rendered.short and rendered.template_params == [link]
        assert gsm.segments(rendered.short) == (gsm.GSM7, 1), rendered.short
        word = {"es": {"phone": "número", "email": "correo"}, "en": {"phone": "number", "email": "e-mail"}}
        assert word[locale][login] in rendered.text
        assert ("intentó registrarse" in rendered.text) == (locale == "es")
        assert declared.address(notice) == ("sms", "+573150000001")
        assert set(declared.template_text) == {"es", "en"}
