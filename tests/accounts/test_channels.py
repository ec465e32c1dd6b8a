"""How each person is told: the preferred channel and the WhatsApp opt-in ("Cómo le
avisamos"), the account notices as each recipient reads them (language, WhatsApp template,
one GSM-7 SMS segment), and the verification results sent to every manager."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from marketplace.accounts import services, verification
from marketplace.accounts.models import Organisation, OrgStatus, Role, User
from marketplace.core.models import AuditEvent
from marketplace.extensions import db
from marketplace.messaging import gsm, hooks, outbox
from marketplace.messaging.models import Channel, Message, MessageStatus, Notice
from tests.accounts import codes
from tests.accounts.helpers import field_error
from tests.accounts.test_registration import COOP
from tests.conftest import login

# ------------------------------------------------------------------ the channels page


def test_the_channels_page_records_opt_in_and_opt_out_with_their_time(app, factory):
    _org, person = factory.cooperative()
    client = app.test_client()
    login(client, person)
    page = client.get("/cuenta/avisos").get_data(as_text=True)
    assert "Cómo le avisamos" in page and "sin verificar" in page and 'href="/cuenta/verificar-celular"' in page
    assert 'name="whatsapp_opt_in"' in page and "checked" not in page.split('name="whatsapp_opt_in"')[1][:40]
    response = client.post("/cuenta/avisos", data={"preferred_channel": "whatsapp", "whatsapp_opt_in": "y"})
    assert response.status_code == 302
    opted = codes.user(app, person.user_id)
    assert opted.preferred_channel == "whatsapp" and opted.whatsapp_opt_in_at is not None
    assert verification.whatsapp_opted_in(opted)
    client.post("/cuenta/avisos", data={"preferred_channel": "sms"})
    out = codes.user(app, person.user_id)
    assert out.preferred_channel == "sms" and out.whatsapp_opt_out_at is not None
    assert not verification.whatsapp_opted_in(out)
    with app.app_context():
        changes = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.channels_changed")
                                     .order_by(AuditEvent.id)).all()
        assert [c.after for c in changes] == [{"whatsapp": True},  # WhatsApp was already the default
                                              {"preferred_channel": "sms", "whatsapp": False}]


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"preferred_channel": "whatsapp"}, "whatsapp_opt_in", "marque la autorización"),
    ({"preferred_channel": "email"}, "preferred_channel", "escriba su correo"),
    ({"preferred_channel": "paloma"}, "preferred_channel", "Elija WhatsApp, SMS o correo"),
])
def test_a_channel_the_account_cannot_use_is_refused(app, factory, data, field, message):
    _org, person = factory.cooperative()
    client = app.test_client()
    login(client, person)
    before = codes.user(app, person.user_id)
    response = client.post("/cuenta/avisos", data=data)
    assert response.status_code == 422
    assert message in field_error(response.get_data(as_text=True), field)
    after = codes.user(app, person.user_id)
    assert (after.preferred_channel, after.whatsapp_opt_in_at) == (before.preferred_channel, before.whatsapp_opt_in_at)


def test_registration_offers_the_channel_and_an_unchecked_opt_in(client):
    page = client.get("/registro/cooperativa").get_data(as_text=True)
    assert 'name="preferred_channel" type="radio" value="whatsapp"' in page
    opt_in = page.split('name="whatsapp_opt_in"')[0].rsplit("<input", 1)[1] + page.split('name="whatsapp_opt_in"')[1][:60]
    assert "checked" not in opt_in


def test_registration_refuses_whatsapp_without_the_opt_in(app, client):
    response = client.post("/registro/cooperativa", data={**COOP, "preferred_channel": "whatsapp"})
    assert response.status_code == 200
    assert "marque la autorización" in field_error(response.get_data(as_text=True), "whatsapp_opt_in")
    with app.app_context():
        assert db.session.scalar(select(User)) is None


def test_registration_promises_notices_only_where_they_can_arrive(app, client):
    page = client.post("/registro/cooperativa", data=COOP, follow_redirects=True).get_data(as_text=True)
    assert "le avisaremos" not in page and "Verifique su celular para que podamos avisarle" in page


# --------------------------------------------------------------------- the notices


def _notice(kind, **fields) -> Notice:
    return Notice(kind=kind, **fields)


def _render(app, kind: str, notice: Notice, user: User, locale: str) -> hooks.Rendered:
    with app.test_request_context(), force_locale(locale):
        return hooks.NOTICE_KINDS[kind].render(notice, user)


def _one_gsm7_segment(text: str) -> bool:
    return gsm.segments(text) == (gsm.GSM7, 1)


CASES = {
    "verification_code": {"payload": {"code": "012345", "channel": "sms", "address": "+573150000001"}},
    "recovery_code": {"payload": {"code": "987654", "channel": "whatsapp", "address": "+573150000001"}},
    "verify_email_link": {"payload": {"link": "https://mercadorural.co/correo/verificar/12." + "7" * 30,
                                      "channel": "email", "address": "a@b.co"}},
    "recovery_link": {"payload": {"link": "https://mercadorural.co/recuperar/enlace/12." + "7" * 30,
                                  "channel": "email", "address": "a@b.co"}},
    "temporary_password": {"payload": {"password": "1234-5678-9012", "by": "María José Ñañez Ibáñez"}},
}


SUBJECTS = {
    "verification_code": {"es": "Su código de verificación", "en": "Your verification code"},
    "recovery_code": {"es": "Su código para cambiar la contraseña", "en": "Your code to change your password"},
    "verify_email_link": {"es": "Confirme su correo en Mercado Rural", "en": "Confirm your e-mail on Mercado Rural"},
    "recovery_link": {"es": "Cambie su contraseña de Mercado Rural", "en": "Change your Mercado Rural password"},
    "temporary_password": {"es": "Su contraseña temporal de Mercado Rural",
                           "en": "Your temporary Mercado Rural password"},
}


@pytest.mark.parametrize("kind", sorted(CASES))
@pytest.mark.parametrize("locale", ["es", "en"])
def test_each_account_notice_reads_in_the_recipients_language_and_fits_one_sms(app, factory, kind, locale):
    _org, person = factory.cooperative()
    secret = next(v for k, v in CASES[kind]["payload"].items() if k in ("code", "link", "password"))
    with app.app_context():
        user = db.session.get(User, person.user_id)
        declared = hooks.NOTICE_KINDS[kind]
        rendered = _render(app, kind, _notice(kind, user_id=user.id, **CASES[kind]), user, locale)
        assert declared.secret
        assert secret in rendered.text and rendered.subject
        assert _one_gsm7_segment(rendered.short), rendered.short
        if kind.endswith("code"):
            assert secret in rendered.short
            assert declared.template_category == "authentication" and rendered.template_params == [secret]
            assert set(declared.template_text) == {"es", "en"} and declared.template_buttons["en"] == ["Copy code"]
            assert declared.address(_notice(kind, **CASES[kind])) == (
                CASES[kind]["payload"]["channel"], CASES[kind]["payload"]["address"])
        if kind == "temporary_password":
            assert secret in rendered.short and rendered.template_params[-1] == secret
            assert declared.address is None  # the member's own channel
        assert rendered.subject == SUBJECTS[kind][locale]


def test_every_template_declares_its_text_in_both_languages(app):
    with app.app_context():
        for kind in ("verification_code", "recovery_code", "temporary_password", "org_status"):
            declared = hooks.NOTICE_KINDS[kind]
            assert declared.template and set(declared.template_text) == {"es", "en"}
        assert hooks.NOTICE_KINDS["recovery_link"].template == ""  # e-mail only


# ------------------------------------------------------------- verification results


def _org_with_people(app, factory):
    org_id, manager = factory.cooperative(status="pending")
    second = factory.member(org_id, Role.COOP_MANAGER)
    member = factory.member(org_id, Role.COOP_MEMBER)
    with app.app_context():
        english = db.session.get(User, second.user_id)
        english.locale = "en"
        db.session.commit()
    codes.prove(app, manager.user_id)
    codes.prove(app, second.user_id, whatsapp=True)
    codes.prove(app, member.user_id)
    return org_id, manager, second, member


def test_staff_decisions_tell_every_manager_with_the_reason(app, factory):
    org_id, manager, second, member = _org_with_people(app, factory)
    with app.app_context():
        admin = factory._admin_user()
        org = db.session.get(Organisation, org_id)
        services.set_organisation_status(admin, org, OrgStatus.REJECTED,
                                         "El NIT no corresponde a la asociación registrada en la Cámara de Comercio "
                                         "de Tumaco; envíe el certificado de existencia actualizado, por favor.")
        db.session.commit()
    [notice] = codes.notices(app, "org_status")
    assert notice.organisation_id == org_id and notice.payload["status"] == "rejected"
    with app.app_context():
        notice = db.session.get(Notice, notice.id)
        recipients = hooks.NOTICE_KINDS["org_status"].recipients(notice)
        assert [u.id for u in recipients] == [manager.user_id, second.user_id]  # not the member
        spanish = _render(app, "org_status", notice, recipients[0], "es")
        english = _render(app, "org_status", notice, recipients[1], "en")
    assert "rechazada" in spanish.text and "Cámara de Comercio" in spanish.text
    assert "rejected" in english.text and "Reason" in english.text
    for rendered in (spanish, english):
        assert _one_gsm7_segment(rendered.short), rendered.short
        assert rendered.template_params[0] == "Asociación de Prueba 1"
    assert spanish.template_params[2].startswith("El NIT no corresponde")
    with app.app_context():
        counts = outbox.run_once()
        assert counts["expanded"] == 1
        messages = db.session.scalars(select(Message).where(Message.kind == "org_status").order_by(Message.user_id)).all()
        assert [(m.user_id, m.channel, m.locale) for m in messages] == [
            (manager.user_id, Channel.SMS, "es"), (second.user_id, Channel.WHATSAPP, "en")]
        assert messages[1].template_name == "estado_organizacion" and "rejected" in messages[1].template_params[1]
        assert all(m.status == MessageStatus.SENT for m in messages)


@pytest.mark.parametrize("status", [OrgStatus.VERIFIED, OrgStatus.SUSPENDED])
def test_verification_and_suspension_are_told(app, factory, status):
    org_id, manager = factory.cooperative(status="pending" if status == OrgStatus.VERIFIED else "verified")
    with app.app_context():
        org = db.session.get(Organisation, org_id)
        services.set_organisation_status(factory._admin_user(), org, status,
                                         None if status == OrgStatus.VERIFIED else "Falta el RUT")
        db.session.commit()
        notice = db.session.scalars(select(Notice).where(Notice.kind == "org_status").order_by(Notice.id.desc())).first()
        user = db.session.get(User, manager.user_id)
        rendered = _render(app, "org_status", notice, user, "es")
    assert ("verificada" if status == OrgStatus.VERIFIED else "Falta el RUT") in rendered.text
    assert _one_gsm7_segment(rendered.short)


# ----------------------------------------------------------------- through the outbox


def test_a_code_goes_to_the_number_being_verified_through_the_outbox(app, factory):
    _org, person = factory.cooperative()
    with app.app_context():
        user = db.session.get(User, person.user_id)
        verification.set_channels(user, "whatsapp", True)
        verification.send_phone_code(user)
        db.session.commit()
        code = codes.last_payload(app, "verification_code", person.user_id)["code"]
        outbox.run_once()
        [message] = db.session.scalars(select(Message).where(Message.kind == "verification_code")).all()
    # The number is not verified: only a code kind reaches it, by WhatsApp's code template.
    assert (message.channel, message.to_address, message.secret) == (Channel.WHATSAPP, person.login, True)
    assert message.template_name == "codigo_verificacion" and message.template_params == [code]
    assert message.status == MessageStatus.SENT


def test_a_code_by_sms_fits_one_segment_through_the_outbox(app, factory):
    _org, person = factory.cooperative()
    with app.app_context():
        verification.send_phone_code(db.session.get(User, person.user_id))
        db.session.commit()
        outbox.run_once()
        [message] = db.session.scalars(select(Message).where(Message.kind == "verification_code")).all()
    assert message.channel == Channel.SMS and _one_gsm7_segment(message.body)
    assert "codigo" in message.body  # spelled without the accent to stay in GSM-7


def test_a_temporary_password_goes_on_the_members_own_channel(app, factory):
    org_id, manager = factory.cooperative()
    member = factory.member(org_id, Role.COOP_MEMBER)
    codes.prove(app, member.user_id)
    client = app.test_client()
    login(client, manager)
    with app.app_context():
        from marketplace.accounts.models import Membership

        target = db.session.scalar(select(Membership.id).where(Membership.user_id == member.user_id))
    client.post(f"/organizacion/miembros/{target}/contrasena")
    with app.app_context():
        outbox.run_once()
        [message] = db.session.scalars(select(Message).where(Message.kind == "temporary_password")).all()
    assert (message.channel, message.to_address, message.secret) == (Channel.SMS, member.login, True)
    assert _one_gsm7_segment(message.body)
