"""Registration does not tell anyone whether a phone number or e-mail already has an account
(issue 16, item 10): the answer is the one a new account gets, nothing is created, and the
owner of the existing account is told on that number or address."""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from marketplace.accounts.models import Membership, Organisation, User
from marketplace.core import audit_text
from marketplace.core.models import AuditEvent
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


def _registered_org(app, name: str):
    with app.app_context():
        org = db.session.scalar(select(Organisation).where(Organisation.name == name))
        return None if org is None else (org.id, org.nit, org.status.value)


@pytest.mark.parametrize(("form", "data", "taken_nit", "typed"), [
    ("cooperativa", COOP, "900373913-4", "900.373.913-4"),
    ("empresa", BUYER, "900373913-4", "900.373.913-4"),
])
def test_a_nit_on_the_platform_gets_the_answer_a_new_one_gets_and_staff_see_it(app, factory, login_as, form, data,
                                                                               taken_nit, typed):
    """A NIT another organisation has does not stop a registration (which companies use the
    platform is not public); the new organisation waits for staff without the NIT, and the
    staff review page says whose it is."""
    holder_id, _person = factory.buyer(name="Nestlé de Colombia S.A.")
    with app.app_context():
        db.session.get(Organisation, holder_id).nit = taken_nit
        db.session.commit()
    new_client, taken_client = app.test_client(), app.test_client()
    login_field = "phone" if form == "cooperativa" else "email"
    new = new_client.post(f"/registro/{form}", data={**data, "nit": "901.234.567-7", "name": "Nueva Uno"})
    taken = taken_client.post(f"/registro/{form}", data={
        **data, "nit": typed, "name": "Nueva Dos",
        login_field: "311 555 0142" if login_field == "phone" else "otra@ejemplo.co"})
    assert new.status_code == taken.status_code == 302
    assert new.headers["Location"] == taken.headers["Location"]
    typed = {BUYER["email"], "otra@ejemplo.co"}
    assert _flashes(new_client, typed) == _flashes(taken_client, typed)
    assert "NIT" not in taken.get_data(as_text=True)
    # Both were registered and wait for staff; the second without the NIT another has.
    assert _registered_org(app, "Nueva Uno")[1:] == ("901234567-7", "pending")
    held_id, held_nit, status = _registered_org(app, "Nueva Dos")
    assert (held_nit, status) == (None, "pending")
    with app.app_context():
        assert db.session.get(Organisation, holder_id).nit == taken_nit  # the holder keeps its NIT
    # Staff see whose NIT it is, with a link to it; the registrant sees no such thing.
    staff, _admin = login_as("platform_admin")
    page = staff.get(f"/admin/organizaciones/{held_id}").get_data(as_text=True)
    assert "NIT 900373913-4 ya registrado por" in page and "Nestlé de Colombia S.A." in page
    assert f"/admin/organizaciones/{holder_id}" in page
    clean = staff.get(f"/admin/organizaciones/{_registered_org(app, 'Nueva Uno')[0]}").get_data(as_text=True)
    assert "ya registrado por" not in clean
    own = taken_client.get("/organizacion").get_data(as_text=True)
    assert "Nestlé" not in own and "ya registrado" not in own


def test_a_nit_stays_unique_and_a_held_one_can_be_held_twice(app, factory):
    from marketplace.accounts import services
    from marketplace.core.errors import Conflict

    holder_id, _person = factory.cooperative(nit="900373913-4")
    first, _p1 = factory.cooperative(nit="900.373.913-4")
    second, _p2 = factory.cooperative(nit="900373913-4")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Organisation).where(
            Organisation.nit == "900373913-4")) == 1
        for org_id in (first, second):
            held = services.held_nit(db.session.get(Organisation, org_id))
            assert held == {"nit": "900373913-4", "registered_by_id": holder_id,
                            "registered_by": "Asociación de Prueba 1"}
        assert services.held_nit(db.session.get(Organisation, holder_id)) is None
        # Outside registration a NIT in use is still refused, as before.
        with pytest.raises(Conflict):
            services.nit_or_error("900373913-4", required=True)
        # The trail says it in words, in the reader's language.
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "organisation.nit_held"))
        with app.test_request_context(), force_locale("es"):
            assert "con un NIT que ya tiene otra organización" in audit_text.describe(event).sentence
        with app.test_request_context(), force_locale("en"):
            assert "with a NIT another organisation already has" in audit_text.describe(event).sentence
