"""Password recovery by a code to a verified number or a link to a verified e-mail, without
revealing whether an account exists; a manager's reset of a member's password."""

from __future__ import annotations

import re

from sqlalchemy import select

from marketplace.accounts import services
from marketplace.accounts.models import ApiToken, Membership, Role, User
from marketplace.core.models import AuditEvent
from marketplace.extensions import db
from tests.accounts import codes
from tests.accounts.helpers import field_error, open_session_count
from tests.conftest import PASSWORD, Person, login

NEW = "Cacao Nuevo del Mira 2027"


def _token(app, user_id: int) -> None:
    with app.app_context():
        services.create_api_token(db.session.get(User, user_id), "ERP", PASSWORD)
        db.session.commit()


def _live_tokens(app, user_id: int) -> int:
    with app.app_context():
        return len(db.session.scalars(select(ApiToken).where(
            ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))).all())


def _actions(app) -> list[str]:
    with app.app_context():
        return [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def _verified_manager(app, factory, whatsapp=False) -> Person:
    _org, person = factory.cooperative()
    codes.prove(app, person.user_id, whatsapp=whatsapp)
    return person


def _page_text(html: str, login: str, formatted: str) -> str:
    """The page with the typed login taken out, to compare the pages two people get."""
    html = re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "", html)
    return html.replace(formatted, "<login>").replace(login, "<login>")


def test_recovering_by_code_ends_every_session_and_token(app, factory):
    person = _verified_manager(app, factory, whatsapp=True)
    other_device = app.test_client()
    login(other_device, person)
    _token(app, person.user_id)
    client = app.test_client()
    assert 'href="/recuperar"' in client.get("/entrar").get_data(as_text=True)
    response = client.post("/recuperar", data={"identifier": "315 000 0001"})
    assert response.status_code == 302 and response.headers["Location"] == "/recuperar/codigo"
    payload = codes.last_payload(app, "recovery_code", person.user_id)
    assert (payload["channel"], payload["address"]) == ("whatsapp", person.login)
    done = client.post("/recuperar/codigo", data={"code": payload["code"], "new_password": NEW,
                                                  "new_password_confirm": NEW})
    assert done.status_code == 302 and done.headers["Location"] == "/entrar"
    assert open_session_count(app, person.user_id) == 0 and _live_tokens(app, person.user_id) == 0
    assert other_device.get("/cuenta").status_code == 302  # signed out
    assert {"user.recovery_requested", "user.password_recovered"} <= set(_actions(app))
    login(client, Person(person.user_id, person.login, NEW, person.organisation_id))
    # The code is spent.
    again = app.test_client()
    again.post("/recuperar", data={"identifier": person.login})
    reused = again.post("/recuperar/codigo", data={"code": payload["code"], "new_password": PASSWORD,
                                                   "new_password_confirm": PASSWORD})
    assert reused.status_code == 422


def test_unknown_and_known_numbers_get_the_same_answers(app, factory):
    known = _verified_manager(app, factory)
    _org, unverified = factory.cooperative()
    pages = {}
    for name, phone in (("known", known.login), ("unknown", "+573209998877"), ("unverified", unverified.login)):
        client = app.test_client()
        start = client.post("/recuperar", data={"identifier": phone})
        assert (start.status_code, start.headers["Location"]) == (302, "/recuperar/codigo")
        page = client.get("/recuperar/codigo").get_data(as_text=True)
        formatted = f"{phone[3:6]} {phone[6:9]} {phone[9:]}"
        wrong = client.post("/recuperar/codigo", data={"code": "000000", "new_password": NEW,
                                                       "new_password_confirm": NEW})
        assert wrong.status_code == 422
        pages[name] = (_page_text(page, phone, formatted),
                       field_error(wrong.get_data(as_text=True), "code"))
    assert pages["known"] == pages["unknown"] == pages["unverified"]
    assert "no es correcto, venció" in pages["known"][1]
    # A code went only to the verified number.
    assert len(codes.notices(app, "recovery_code")) == 1
    assert codes.notices(app, "recovery_code")[0].user_id == known.user_id


def test_unknown_and_known_emails_get_the_same_answers(app, factory):
    _org, buyer = factory.buyer()
    codes.prove(app, buyer.user_id, phone=False, email=True)
    answers = []
    for email in (buyer.login, "nadie@empresa-falsa.co"):
        client = app.test_client()
        start = client.post("/recuperar", data={"identifier": email.upper()})
        assert (start.status_code, start.headers["Location"]) == (302, "/recuperar/correo")
        answers.append(_page_text(client.get("/recuperar/correo").get_data(as_text=True), email, email))
    assert answers[0] == answers[1]
    assert len(codes.notices(app, "recovery_link")) == 1


def test_recovering_by_link_to_a_verified_email(app, factory):
    _org, buyer = factory.buyer()
    codes.prove(app, buyer.user_id, phone=False, email=True)
    _token(app, buyer.user_id)
    client = app.test_client()
    client.post("/recuperar", data={"identifier": buyer.login})
    link = codes.last_payload(app, "recovery_link", buyer.user_id)["link"]
    assert link.startswith(app.config["PUBLIC_URL"].rstrip("/") + "/recuperar/enlace/")
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    assert client.get(path).status_code == 200
    weak = client.post(path, data={"new_password": "12345678", "new_password_confirm": "12345678"})
    assert weak.status_code == 422 and "demasiado común" in field_error(weak.get_data(as_text=True), "new_password")
    done = client.post(path, data={"new_password": NEW, "new_password_confirm": NEW})
    assert done.status_code == 302 and _live_tokens(app, buyer.user_id) == 0
    login(client, Person(buyer.user_id, buyer.login, NEW, buyer.organisation_id))
    assert app.test_client().get(path).status_code == 404  # used
    assert app.test_client().get("/recuperar/enlace/1.123").status_code == 404


def test_an_unverified_email_gets_no_link(app, factory):
    _org, buyer = factory.buyer()
    app.test_client().post("/recuperar", data={"identifier": buyer.login})
    assert codes.notices(app, "recovery_link") == []


def test_a_weak_password_spends_no_try(app, factory):
    person = _verified_manager(app, factory)
    client = app.test_client()
    client.post("/recuperar", data={"identifier": person.login})
    code = codes.last_payload(app, "recovery_code", person.user_id)["code"]
    weak = client.post("/recuperar/codigo", data={"code": code, "new_password": "3150000001x",
                                                  "new_password_confirm": "3150000001x"})
    assert "no puede contener su celular" in field_error(weak.get_data(as_text=True), "new_password")
    assert codes.codes(app, person.user_id)[-1].attempts == 0
    mismatch = client.post("/recuperar/codigo", data={"code": code, "new_password": NEW,
                                                      "new_password_confirm": NEW + "x"})
    assert "no coinciden" in field_error(mismatch.get_data(as_text=True), "new_password_confirm")
    assert client.post("/recuperar/codigo", data={"code": code, "new_password": NEW,
                                                  "new_password_confirm": NEW}).status_code == 302


def test_five_wrong_codes_end_recovery_until_a_new_code(app, factory):
    person = _verified_manager(app, factory)
    client = app.test_client()
    client.post("/recuperar", data={"identifier": person.login})
    code = codes.last_payload(app, "recovery_code", person.user_id)["code"]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        client.post("/recuperar/codigo", data={"code": wrong, "new_password": NEW, "new_password_confirm": NEW})
    late = client.post("/recuperar/codigo", data={"code": code, "new_password": NEW, "new_password_confirm": NEW})
    assert late.status_code == 422
    with app.app_context():
        user = db.session.get(User, person.user_id)
        assert services.authenticate(person.login, PASSWORD) is user


def test_bad_input_is_explained(app, client):
    response = client.post("/recuperar", data={"identifier": "601 234"})
    assert response.status_code == 422
    assert "Escriba su celular" in field_error(response.get_data(as_text=True), "identifier")
    assert client.get("/recuperar/codigo").headers["Location"] == "/recuperar"
    assert client.post("/recuperar", data={"identifier": "300 123 4567"}, csrf=False).status_code == 400


def test_recovery_requests_are_limited_alike_for_known_and_unknown(app, factory):
    person = _verified_manager(app, factory)
    for phone in (person.login, "+573209998877"):
        client = app.test_client()
        statuses = [client.post("/recuperar", data={"identifier": phone}).status_code for _ in range(4)]
        assert statuses == [302, 302, 302, 429]
    assert len(codes.notices(app, "recovery_code")) == 3


def test_recovery_pages_work_in_english(app, client):
    client.post("/idioma", data={"lang": "en"})
    assert "Forgot your password?" in client.get("/entrar").get_data(as_text=True)
    client.post("/recuperar", data={"identifier": "3209998877"})
    assert "Enter the code" in client.get("/recuperar/codigo").get_data(as_text=True)


# ------------------------------------------------------------------- a manager's reset


def test_a_manager_resets_a_members_password(app, factory):
    org_id, manager = factory.cooperative()
    member = factory.member(org_id, Role.COOP_MEMBER)
    codes.prove(app, member.user_id)
    member_client = app.test_client()
    login(member_client, member)
    _token(app, member.user_id)
    client = app.test_client()
    login(client, manager)
    with app.app_context():
        membership_id = db.session.scalar(select(Membership.id).where(Membership.user_id == member.user_id))
    assert f"/organizacion/miembros/{membership_id}/contrasena" in client.get("/organizacion/miembros").get_data(as_text=True)
    response = client.post(f"/organizacion/miembros/{membership_id}/contrasena", follow_redirects=True)
    assert "Enviamos una contraseña temporal" in response.get_data(as_text=True)
    payload = codes.last_payload(app, "temporary_password", member.user_id)
    assert re.fullmatch(r"\d{4}-\d{4}-\d{4}", payload["password"]) and payload["by"] == "Gerente 1"
    reset = codes.user(app, member.user_id)
    assert reset.must_change_password
    assert open_session_count(app, member.user_id) == 0 and _live_tokens(app, member.user_id) == 0
    assert member_client.get("/cuenta").status_code == 302
    assert "user.password_reset" in _actions(app)
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.password_reset"))
        assert event.actor_id == manager.user_id and event.object_id == str(member.user_id)
    fresh = app.test_client()
    login(fresh, Person(member.user_id, member.login, payload["password"], org_id))
    assert fresh.get("/inicio").headers["Location"] == "/cuenta/contrasena"


def test_only_managers_of_the_same_organisation_reset_passwords(app, factory):
    org_id, manager = factory.cooperative()
    member = factory.member(org_id, Role.COOP_MEMBER)
    other_member = factory.member(org_id, Role.COOP_MEMBER)
    _other_org, stranger = factory.cooperative()
    for person in (member, other_member):
        codes.prove(app, person.user_id)
    with app.app_context():
        target = db.session.scalar(select(Membership.id).where(Membership.user_id == other_member.user_id))
    url = f"/organizacion/miembros/{target}/contrasena"
    as_member = app.test_client()
    login(as_member, member)
    assert as_member.post(url).status_code == 403
    as_stranger = app.test_client()
    login(as_stranger, stranger)
    assert as_stranger.post(url).status_code == 404
    auditor = factory.staff()
    as_auditor = app.test_client()
    login(as_auditor, auditor)
    assert as_auditor.post(url).status_code == 403
    assert codes.notices(app, "temporary_password") == []
    assert not codes.user(app, other_member.user_id).must_change_password
    as_manager = app.test_client()
    login(as_manager, manager)
    assert as_manager.post(url, csrf=False).status_code == 400


def test_a_member_who_cannot_be_reached_is_not_reset(app, factory):
    org_id, manager = factory.cooperative()
    member = factory.member(org_id, Role.COOP_MEMBER)  # a number never verified, no e-mail
    with app.app_context():
        target = db.session.scalar(select(Membership.id).where(Membership.user_id == member.user_id))
    client = app.test_client()
    login(client, manager)
    page = client.post(f"/organizacion/miembros/{target}/contrasena", follow_redirects=True).get_data(as_text=True)
    assert "no podemos enviarle una contraseña temporal" in page
    assert codes.notices(app, "temporary_password") == []
    assert not codes.user(app, member.user_id).must_change_password
    login(app.test_client(), member)  # the old password still works
