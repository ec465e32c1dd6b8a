"""What accounts' audit events say to staff: sentences, field labels and names (registered
with ``core.audit_text`` at start-up)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from marketplace.accounts import documents
from marketplace.accounts.models import (
    ApiToken,
    DeliverySite,
    Membership,
    Organisation,
    OrganisationDocument,
    User,
)
from marketplace.accounts.services import KIND_LABELS, LEGAL_FORMS, ROLE_LABELS, STATUS_LABELS
from marketplace.core import audit_text as t

CHANNEL_LABELS = {"whatsapp": _l("WhatsApp"), "sms": _l("SMS"), "email": _l("correo")}


def _how(value) -> str:
    """How a password was set: "code:sms", "link:email", "manager"."""
    kind, _sep, channel = str(value).partition(":")
    labels = {"code": _l("con un código por %(channel)s"), "link": _l("con un enlace por %(channel)s"),
              "manager": _l("por el gerente de su organización")}
    label = labels.get(kind)
    if label is None:
        return t.humanise(str(value))
    return str(label) % {"channel": CHANNEL_LABELS.get(channel, channel)}


def _user(object_id: str) -> str | None:
    user = t.row(User, object_id)
    return user.full_name if user else None


def _organisation(object_id: str) -> str | None:
    org = t.row(Organisation, object_id)
    return org.name if org else None


def _membership(object_id: str) -> str | None:
    membership = t.row(Membership, object_id)
    return membership.user.full_name if membership else None


def _site(object_id: str) -> str | None:
    site = t.row(DeliverySite, object_id)
    return site.name if site else None


def _token(object_id: str) -> str | None:
    token = t.row(ApiToken, object_id)
    return token.name if token else None


def _document(object_id: str) -> str | None:
    document = t.row(OrganisationDocument, object_id)
    if document is None:
        return None
    return f"{t.labelled(documents.KIND_LABELS)(document.kind)} ({document.organisation.name})"


def _size(value) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        return t.text(value)
    return f"{t.formatting.number(max(1, round(value / 1024)), '#,##0')} KB"


def register() -> None:
    t.kind("user", _l("Persona"), _user)
    t.kind("organisation", _l("Organización"), _organisation)
    t.kind("membership", _l("Acceso"), _membership)
    t.kind("delivery_site", _l("Sitio de entrega"), _site)
    t.kind("api_token", _l("Llave de API"), _token)
    t.kind("organisation_document", _l("Documento"), _document)

    for name, sentence in {
        "organisation.registered": _l("%(who)s registró %(object)s en la plataforma"),
        "organisation.verified": _l("%(who)s verificó %(object)s"),
        "organisation.rejected": _l("%(who)s rechazó el registro de %(object)s"),
        "organisation.suspended": _l("%(who)s suspendió %(object)s"),
        "organisation.pending": _l("%(who)s devolvió %(object)s a pendiente de verificación"),
        "organisation.updated": _l("%(who)s cambió los datos de %(object)s"),
        "organisation.identity_review": _l("%(object)s quedó pendiente de verificación: %(who)s cambió su nombre, "
                                           "NIT o forma jurídica"),
        "organisation.members_requested": _l("%(who)s pidió cambiar los asociados de %(object)s (espera al equipo)"),
        "organisation.members_confirmed": _l("%(who)s confirmó el cambio de asociados de %(object)s"),
        "organisation.members_rejected": _l("%(who)s rechazó el cambio de asociados de %(object)s"),
        "organisation.members_withdrawn": _l("%(who)s retiró el cambio de asociados pendiente de %(object)s"),
        "delivery_site.created": _l("%(who)s añadió el sitio de entrega «%(object)s» de %(org)s"),
        "delivery_site.updated": _l("%(who)s cambió el sitio de entrega «%(object)s» de %(org)s"),
        "membership.created": _l("%(who)s dio acceso a %(object)s en %(org)s"),
        "membership.role_changed": _l("%(who)s cambió el rol de %(object)s en %(org)s"),
        "membership.activated": _l("%(who)s reactivó la cuenta de %(object)s en %(org)s"),
        "membership.deactivated": _l("%(who)s desactivó la cuenta de %(object)s en %(org)s"),
        "user.channels_changed": _l("%(who)s cambió cómo recibe los avisos"),
        "user.phone_verified": _l("%(who)s verificó su celular"),
        "user.email_verified": _l("%(who)s verificó su correo"),
        "user.password_changed": _l("%(who)s cambió su contraseña"),
        "user.login_changed": _l("%(who)s cambió el celular o el correo con que ingresa"),
        "user.registration_attempted": _l("Alguien intentó registrarse con el celular o el correo de %(object)s; "
                                          "no se creó nada"),
        "user.login_claim_refused": _l("%(who)s intentó entrar con el celular o el correo de %(object)s; "
                                       "no se cambió nada"),
        "organisation.nit_held": _l("%(who)s registró %(object)s con un NIT que ya tiene otra organización"),
        "organisation.nit_held_on_edit": _l("%(who)s cambió el NIT de %(object)s por uno que ya tiene otra "
                                            "organización"),
        "user.recovery_requested": _l("Se pidió recuperar la contraseña de %(object)s"),
        "user.password_reset": _l("%(who)s dio una contraseña temporal a %(object)s"),
        "user.password_recovered": _l("%(object)s recuperó su contraseña"),
        "api_token.created": _l("%(who)s creó la llave de API «%(object)s»"),
        "api_token.revoked": _l("%(who)s revocó la llave de API «%(object)s»"),
        "organisation_document.uploaded": _l("%(who)s envió el documento %(object)s para la verificación"),
        "organisation_document.accepted": _l("%(who)s aceptó el documento %(object)s"),
        "organisation_document.rejected": _l("%(who)s rechazó el documento %(object)s"),
        "organisation_document.pending": _l("%(who)s devolvió a revisión el documento %(object)s"),
    }.items():
        t.action(name, sentence)

    t.field("status", _l("Estado"), t.labelled(STATUS_LABELS), kind="organisation")
    t.field("status_reason", _l("Motivo"))
    t.field("kind", _l("Tipo de organización"), t.labelled(KIND_LABELS), kind="organisation")
    t.field("legal_form", _l("Forma jurídica"), t.labelled(LEGAL_FORMS))
    t.field("nit", _l("NIT"))
    t.field("members_total", _l("Asociados"), t.number)
    t.field("members_women", _l("Asociadas mujeres"), t.number)
    t.field("members_youth", _l("Asociados jóvenes"), t.number)
    t.field("members_victims", _l("Asociados víctimas del conflicto"), t.number)
    t.field("substitution_families", _l("Familias en sustitución de cultivos"), t.number)
    t.field("contact_phone", _l("Teléfono de contacto"))
    t.field("contact_email", _l("Correo de contacto"))
    t.field("andi_member", _l("Afiliada a la ANDI"), t.yes_no)
    t.field("sector", _l("Sector"))
    t.field("address", _l("Dirección"))
    t.field("user_id", _l("Persona"), t.named("user"))
    t.field("role", _l("Rol"), t.labelled(ROLE_LABELS))
    t.field("full_name", _l("Nombre completo"))
    t.field("phone", _l("Celular"))
    t.field("email", _l("Correo"))
    t.field("channel", _l("Canal"), t.labelled(CHANNEL_LABELS))
    t.field("preferred_channel", _l("Canal preferido"), t.labelled(CHANNEL_LABELS))
    t.field("whatsapp", _l("Autoriza WhatsApp"), t.yes_no)
    t.field("by", _l("Cómo"), _how)
    t.field("sessions_ended", _l("Sesiones cerradas"), t.number)
    t.field("tokens_revoked", _l("Llaves de API revocadas"), t.yes_no)
    t.field("prefix", _l("Inicio de la llave"))
    t.field("kind", _l("Documento"), t.labelled(documents.KIND_LABELS), kind="organisation_document")
    t.field("status", _l("Estado"), t.labelled(documents.STATUS_LABELS), kind="organisation_document")
    t.field("review_note", _l("Nota de la revisión"))
    t.field("content_type", _l("Formato"), lambda v: {"application/pdf": "PDF", "image/jpeg": "JPEG",
                                                      "image/png": "PNG", "image/webp": "WebP"}.get(str(v), str(v)))
    t.field("size_bytes", _l("Tamaño"), _size)
