"""Account and organisation services.

Every function takes plain values and the acting user, adds or changes rows, writes the
audit events that go with the change and flushes; the caller commits once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from marketplace.accounts import hooks, passwords, reviews, verification
from marketplace.accounts.identity import (
    IdentityError,
    normalize_email,
    normalize_mobile,
    normalize_nit,
    parse_login,
)
from marketplace.accounts.models import (
    MANAGING_ROLES,
    ROLES_BY_KIND,
    ApiToken,
    Buyer,
    Cooperative,
    DeliverySite,
    LoginSession,
    Membership,
    Organisation,
    OrgKind,
    OrgStatus,
    Role,
    User,
)
from marketplace.core import audit, geography
from marketplace.core.errors import Conflict, DomainError, Forbidden, NotFound
from marketplace.core.models import AuditEvent, utcnow
from marketplace.core.text import clean_text
from marketplace.extensions import db

IDENTITY_MESSAGES = {
    "phone_invalid": _l("Escriba un número de celular colombiano, por ejemplo 300 123 4567."),
    "phone_not_mobile": _l("Debe ser un celular colombiano: 10 dígitos que empiezan por 3."),
    "email_invalid": _l("Escriba un correo electrónico válido, por ejemplo nombre@empresa.co."),
    "nit_invalid": _l("Escriba el NIT con su dígito de verificación, por ejemplo 900373913-4."),
    "nit_check_digit": _l("El dígito de verificación no corresponde a este NIT."),
}
PASSWORD_MESSAGES = {
    "too_short": _l("La contraseña debe tener al menos %(n)s caracteres.", n=passwords.MIN_LENGTH),
    "too_long": _l("La contraseña no puede tener más de %(n)s caracteres.", n=passwords.MAX_LENGTH),
    "too_common": _l("Esa contraseña es demasiado común. Elija otra."),
    "personal": _l("La contraseña no puede contener su celular ni su correo."),
}
BAD_LOGIN = _l("El celular, el correo o la contraseña no son correctos.")
BAD_PASSWORD = _l("La contraseña no es correcta.")

LEGAL_FORMS = {
    "asociacion": _l("Asociación"),
    "cooperativa": _l("Cooperativa"),
    "precooperativa": _l("Precooperativa"),
    "sas": _l("S.A.S. o empresa asociativa"),
    "junta": _l("Junta de acción comunal"),
    "otra": _l("Otra forma"),
}

COOPERATIVE_FIELDS = (
    "name", "legal_form", "nit", "municipality_code", "members_total", "members_women",
    "members_youth", "members_victims", "substitution_families", "contact_phone",
    "contact_email", "description",
)
BUYER_FIELDS = ("name", "nit", "andi_member", "sector", "municipality_code", "contact_phone", "contact_email")
SITE_FIELDS = ("name", "address", "municipality_code", "latitude", "longitude", "active")
MAX_COUNT = 100_000


# --------------------------------------------------------------------------- identity


def _normalized(value: str | None, normalize, field: str) -> str | None:
    """An optional phone or e-mail, normalised; a typing mistake is reported on ``field``."""
    if not value or not value.strip():
        return None
    try:
        return normalize(value)
    except IdentityError as exc:
        raise DomainError(IDENTITY_MESSAGES[exc.code], field) from exc


def login_identity(phone: str | None, email: str | None) -> tuple[str | None, str | None]:
    """Normalised (phone, email); at least one is required."""
    phone_value = _normalized(phone, normalize_mobile, "phone")
    email_value = _normalized(email, normalize_email, "email")
    if not phone_value and not email_value:
        raise DomainError(_l("Escriba un celular o un correo para iniciar sesión."), "phone")
    return phone_value, email_value


class LoginTaken(Conflict):
    """A registration with a phone or e-mail that already has an account. Registration never
    shows it: the view answers as for a new account and the owner is told
    (``accounts.registration.attempted_on``)."""

    def __init__(self, message, field: str, owner: User) -> None:
        super().__init__(message, field)
        self.owner_id = owner.id


def _ensure_login_free(phone: str | None, email: str | None, except_user: User | None = None,
                       taken: type[Conflict] | None = None) -> None:
    for field, value, column, message in (
        ("phone", phone, User.phone, _l("Ya hay una cuenta con este celular. Inicie sesión o use otro número.")),
        ("email", email, User.email, _l("Ya hay una cuenta con este correo. Inicie sesión o use otro correo.")),
    ):
        if not value:
            continue
        other = db.session.scalar(select(User).where(column == value))
        if other is not None and other is not except_user:
            if taken is LoginTaken:
                raise LoginTaken(message, field, other)
            raise Conflict(message, field)


def check_new_password(password: str, phone: str | None, email: str | None, field="password") -> None:
    problem = passwords.policy_problem(password or "", phone, email.split("@")[0] if email else None)
    if problem:
        raise DomainError(PASSWORD_MESSAGES[problem], field)


def nit_or_error(nit: str | None, *, required: bool, except_org: Organisation | None = None,
                 held: list | None = None) -> str | None:
    """The normalised NIT, or None when none was typed (an error when ``required``).

    A NIT another organisation already has is refused, except when ``held`` is a list (at
    registration, see ``register_cooperative``): then the NIT is appended to it as
    ``(nit, other organisation)`` and None is returned, so the new organisation is created
    without it and nothing tells the registrant whose NIT is on the platform."""
    if not nit or not nit.strip():
        if required:
            raise DomainError(_l("El NIT es obligatorio."), "nit")
        return None
    try:
        value = normalize_nit(nit)
    except IdentityError as exc:
        raise DomainError(IDENTITY_MESSAGES[exc.code], "nit") from exc
    other = db.session.scalar(select(Organisation).where(Organisation.nit == value))
    if other is not None and other is not except_org:
        if held is not None:
            held.append((value, other))
            return None
        raise Conflict(_l("Ya hay una organización registrada con este NIT."), "nit")
    return value


def municipality_or_error(code: str | None, field="municipality"):
    municipality = geography.get_municipality(code)
    if municipality is None:
        raise DomainError(_l("Elija un municipio de la lista (código DIVIPOLA)."), field)
    return municipality


def _new_user(full_name: str, phone: str | None, email: str | None, password: str, locale: str) -> User:
    name = clean_text(full_name)
    if not name:
        raise DomainError(_l("Escriba su nombre."), "full_name")
    if len(name) > 120:
        raise DomainError(_l("El nombre es demasiado largo (máximo 120 caracteres)."), "full_name")
    phone, email = login_identity(phone, email)
    # The password is checked before the login is looked up, so a weak password gets the
    # same answer whether or not the number or address already has an account.
    check_new_password(password, phone, email)
    _ensure_login_free(phone, email, taken=LoginTaken)
    user = User(
        full_name=name,
        phone=phone,
        email=email,
        password_hash=passwords.hash_password(password),
        locale=locale if locale in ("es", "en") else "es",
        active=True,
    )
    db.session.add(user)
    return user


# ----------------------------------------------------------------------- registration


@dataclass
class CooperativeData:
    name: str
    legal_form: str
    municipality_code: str
    nit: str | None = None
    members_total: int = 0
    members_women: int = 0
    members_youth: int = 0
    members_victims: int = 0
    substitution_families: int = 0
    contact_phone: str | None = None
    contact_email: str | None = None
    description: str | None = None


@dataclass
class UserData:
    full_name: str
    password: str
    phone: str | None = None
    email: str | None = None
    locale: str = "es"


def _apply_cooperative(coop: Cooperative, data: CooperativeData, held_nit: list | None = None) -> None:
    name = clean_text(data.name)
    if not name:
        raise DomainError(_l("Escriba el nombre de la organización."), "name")
    if len(name) > 160:
        raise DomainError(_l("El nombre es demasiado largo (máximo 160 caracteres)."), "name")
    if data.legal_form not in LEGAL_FORMS:
        raise DomainError(_l("Elija una forma jurídica de la lista."), "legal_form")
    counts = {
        "members_total": data.members_total,
        "members_women": data.members_women,
        "members_youth": data.members_youth,
        "members_victims": data.members_victims,
        "substitution_families": data.substitution_families,
    }
    for field, value in counts.items():
        if value is None or not isinstance(value, int) or value < 0 or value > MAX_COUNT:
            raise DomainError(_l("Escriba un número entero entre 0 y 100.000."), field)
    for field in ("members_women", "members_youth", "members_victims"):
        if counts[field] > counts["members_total"]:
            raise DomainError(_l("No puede ser mayor que el total de asociados."), field)
    municipality = municipality_or_error(data.municipality_code)
    contact_phone = _normalized(data.contact_phone, normalize_mobile, "contact_phone")
    contact_email = _normalized(data.contact_email, normalize_email, "contact_email")
    description = clean_text(data.description) or None
    if description and len(description) > 2000:
        raise DomainError(_l("La descripción es demasiado larga (máximo 2.000 caracteres)."), "description")
    coop.name = name
    coop.legal_form = data.legal_form
    coop.nit = nit_or_error(data.nit, required=False, except_org=coop if coop.id else None, held=held_nit)
    coop.municipality_code = municipality.code
    coop.municipality = municipality
    coop.contact_phone = contact_phone
    coop.contact_email = contact_email
    coop.description = description
    for field, value in counts.items():
        setattr(coop, field, value)


def register_cooperative(coop_data: CooperativeData, user_data: UserData, remote_addr=None):
    """Create a pending cooperative with its first manager. Returns (cooperative, user).

    A NIT that another organisation already has does not stop the registration, and its
    answer is the one any registration gets: which companies use the platform is nobody's
    business, while a company's NIT is public registry data anyone may type. The new
    organisation is created pending and without a NIT (a NIT stays unique, as the verified
    organisations' records rely on), the typed NIT is recorded for staff
    (``organisation.nit_held``), and the staff review page flags it ("NIT ya registrado por
    X", ``held_nit``): staff, who verify every organisation anyway, decide with whom they
    are dealing before anything is verified."""
    coop = Cooperative(kind=OrgKind.COOPERATIVE, status=OrgStatus.PENDING)
    held: list = []
    _apply_cooperative(coop, coop_data, held_nit=held)
    user = _new_user(user_data.full_name, user_data.phone, user_data.email, user_data.password, user_data.locale)
    db.session.add(coop)
    membership = Membership(user=user, organisation=coop, role=Role.COOP_MANAGER)
    db.session.add(membership)
    db.session.flush()
    audit.record(
        "organisation.registered", "organisation", coop.id, actor=user, organisation_id=coop.id,
        after=audit.snapshot(coop, COOPERATIVE_FIELDS + ("kind", "status")), remote_addr=remote_addr,
    )
    _record_held_nit(coop, held, user, remote_addr)
    _audit_membership("membership.created", membership, user, remote_addr=remote_addr)
    return coop, user


NIT_HELD = "organisation.nit_held"


def _record_held_nit(org: Organisation, held: list, actor: User, remote_addr) -> None:
    for nit, other in held:
        audit.record(NIT_HELD, "organisation", org.id, actor=actor, organisation_id=org.id,
                     after={"nit": nit, "registered_by_id": other.id, "registered_by": other.name},
                     remote_addr=remote_addr)


def _hold_edited_nit(org: Organisation, held: list, actor: User, remote_addr) -> None:
    """An edit typed a NIT another organisation has. It is answered as any NIT change (a
    verified organisation goes back under review, since its NIT changed): refusing it would
    tell any registered user which companies are on the platform. The organisation is left
    without a NIT (a NIT stays unique) and the typed one is held for staff, once: saving the
    form again with the same held NIT records nothing new."""
    current = held_nit(org)
    for nit, other in held:
        if current is not None and current.get("nit") == nit and current.get("registered_by_id") == other.id:
            continue
        audit.record(NIT_HELD_ON_EDIT, "organisation", org.id, actor=actor, organisation_id=org.id,
                     after={"nit": nit, "registered_by_id": other.id, "registered_by": other.name},
                     remote_addr=remote_addr)


NIT_HELD_ON_EDIT = "organisation.nit_held_on_edit"


def held_nit(org: Organisation) -> dict | None:
    """For staff: the NIT typed at registration or in a later edit that another organisation
    already had (``{"nit", "registered_by_id", "registered_by"}``), while the organisation
    has no NIT of its own; else None. Never shown to the organisation's members as such
    (their own pages show it only as the NIT they typed, ``nit_typed``)."""
    if org.nit is not None or org.id is None:
        return None
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action.in_((NIT_HELD, NIT_HELD_ON_EDIT)),
                                 AuditEvent.object_type == "organisation",
                                 AuditEvent.object_id == str(org.id)).order_by(AuditEvent.id.desc()).limit(1))
    return dict(event.after) if event is not None and event.after else None


def nit_typed(org: Organisation) -> str | None:
    """The NIT the organisation's own pages show: its own, or the one its managers typed
    that is held for staff. Showing none after such an edit would tell them it is taken."""
    if org.nit is not None:
        return org.nit
    held = held_nit(org)
    return held["nit"] if held else None


@dataclass
class BuyerData:
    name: str
    nit: str
    municipality_code: str
    andi_member: bool = False
    sector: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None


@dataclass
class SiteData:
    name: str
    address: str
    municipality_code: str
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    active: bool = True


def _apply_buyer(buyer: Buyer, data: BuyerData, held_nit: list | None = None) -> None:
    name = clean_text(data.name)
    if not name:
        raise DomainError(_l("Escriba el nombre de la empresa."), "name")
    if len(name) > 160:
        raise DomainError(_l("El nombre es demasiado largo (máximo 160 caracteres)."), "name")
    sector = clean_text(data.sector) or None
    if sector and len(sector) > 80:
        raise DomainError(_l("El sector es demasiado largo (máximo 80 caracteres)."), "sector")
    municipality = municipality_or_error(data.municipality_code)
    contact_phone = _normalized(data.contact_phone, normalize_mobile, "contact_phone")
    contact_email = _normalized(data.contact_email, normalize_email, "contact_email")
    buyer.name = name
    buyer.nit = nit_or_error(data.nit, required=True, except_org=buyer if buyer.id else None, held=held_nit)
    buyer.andi_member = bool(data.andi_member)
    buyer.sector = sector
    buyer.municipality_code = municipality.code
    buyer.municipality = municipality
    buyer.contact_phone = contact_phone
    buyer.contact_email = contact_email


def _apply_site(site: DeliverySite, data: SiteData) -> None:
    name = clean_text(data.name)
    address = clean_text(data.address)
    if not name:
        raise DomainError(_l("Escriba un nombre para el sitio de entrega."), "site_name")
    if len(name) > 120:
        raise DomainError(_l("El nombre es demasiado largo (máximo 120 caracteres)."), "site_name")
    if not address:
        raise DomainError(_l("Escriba la dirección del sitio de entrega."), "address")
    if len(address) > 200:
        raise DomainError(_l("La dirección es demasiado larga (máximo 200 caracteres)."), "address")
    municipality = municipality_or_error(data.municipality_code, "site_municipality")
    lat, lon = data.latitude, data.longitude
    if (lat is None) != (lon is None):
        raise DomainError(_l("Escriba latitud y longitud, o deje ambas vacías."), "latitude")
    if lat is None:
        lat, lon = municipality.latitude, municipality.longitude
    elif not geography.in_colombia(lat, lon):
        raise DomainError(_l("Esas coordenadas no están en Colombia."), "latitude")
    site.name = name
    site.address = address
    site.municipality_code = municipality.code
    site.municipality = municipality
    site.latitude = Decimal(lat).quantize(Decimal("0.000001"))
    site.longitude = Decimal(lon).quantize(Decimal("0.000001"))
    site.active = bool(data.active)


def register_buyer(buyer_data: BuyerData, site_data: SiteData, user_data: UserData, remote_addr=None):
    """Create a pending buyer company with its first delivery site and administrator. A NIT
    that another organisation already has is held for staff, as in ``register_cooperative``."""
    buyer = Buyer(kind=OrgKind.BUYER, status=OrgStatus.PENDING)
    held: list = []
    _apply_buyer(buyer, buyer_data, held_nit=held)
    site = DeliverySite(buyer=buyer)
    _apply_site(site, site_data)
    user = _new_user(user_data.full_name, user_data.phone, user_data.email, user_data.password, user_data.locale)
    db.session.add_all([buyer, site])
    membership = Membership(user=user, organisation=buyer, role=Role.BUYER_ADMIN)
    db.session.add(membership)
    db.session.flush()
    audit.record(
        "organisation.registered", "organisation", buyer.id, actor=user, organisation_id=buyer.id,
        after=audit.snapshot(buyer, BUYER_FIELDS + ("kind", "status")), remote_addr=remote_addr,
    )
    _record_held_nit(buyer, held, user, remote_addr)
    audit.record(
        "delivery_site.created", "delivery_site", site.id, actor=user, organisation_id=buyer.id,
        after=audit.snapshot(site, SITE_FIELDS), remote_addr=remote_addr,
    )
    _audit_membership("membership.created", membership, user, remote_addr=remote_addr)
    return buyer, user


def create_carrier(actor: User, name: str, nit: str | None, municipality_code: str | None, user_data: UserData,
                   remote_addr=None):
    """Staff register a transport company or driver, verified at once, with its first user."""
    from marketplace.accounts.models import Carrier

    if not actor.is_admin:
        raise Forbidden(_l("Solo el equipo del programa registra transportadores."))
    name = clean_text(name)
    if not name or len(name) > 160:
        raise DomainError(_l("Escriba el nombre (hasta 160 caracteres)."), "name")
    municipality = municipality_or_error(municipality_code)
    carrier = Carrier(kind=OrgKind.CARRIER, name=name, nit=nit_or_error(nit, required=False),
                      municipality_code=municipality.code, status=OrgStatus.VERIFIED,
                      status_changed_at=utcnow(), status_changed_by_id=actor.id)
    user = _new_user(user_data.full_name, user_data.phone, user_data.email, user_data.password, user_data.locale)
    user.must_change_password = True
    membership = Membership(user=user, organisation=carrier, role=Role.CARRIER_MANAGER)
    db.session.add_all([carrier, membership])
    db.session.flush()
    audit.record("organisation.registered", "organisation", carrier.id, actor=actor, organisation_id=carrier.id,
                 after={"name": name, "kind": "carrier", "status": "verified"}, remote_addr=remote_addr)
    _audit_membership("membership.created", membership, actor, remote_addr=remote_addr)
    return carrier, user


# ------------------------------------------------------------------- authorisation


def can_view_organisation(user: User, org: Organisation) -> bool:
    return user.is_staff or (user.organisation is not None and user.organisation.id == org.id)


def can_manage_organisation(user: User, org: Organisation) -> bool:
    """Managers of the organisation itself, and platform admins for any organisation."""
    if user.is_admin:
        return True
    return (
        user.organisation is not None
        and user.organisation.id == org.id
        and user.role in MANAGING_ROLES
    )


def require_manage(user: User, org: Organisation) -> None:
    if not can_manage_organisation(user, org):
        raise Forbidden(_l("Solo quien administra la organización puede hacer este cambio."))


# ---------------------------------------------------------------- profile changes


def update_cooperative(actor: User, coop: Cooperative, data: CooperativeData, remote_addr=None) -> None:
    """Save the cooperative's profile. A new name, NIT or legal form puts a verified
    cooperative back under review, and member counts that would flip its women-led or
    youth-led flag wait for staff (``reviews``); everything else applies at once. A NIT
    another organisation has is held for staff as at registration (``_hold_edited_nit``)."""
    require_manage(actor, coop)
    before = audit.snapshot(coop, COOPERATIVE_FIELDS)
    counts = reviews.counts_of(coop)
    held: list = []
    _apply_cooperative(coop, data, held_nit=held)
    reviews.hold_member_counts(actor, coop, counts, remote_addr=remote_addr)
    db.session.flush()
    _hold_edited_nit(coop, held, actor, remote_addr)
    old, new = audit.changed(before, audit.snapshot(coop, COOPERATIVE_FIELDS))
    if new:
        audit.record("organisation.updated", "organisation", coop.id, actor=actor,
                     organisation_id=coop.id, before=old, after=new, remote_addr=remote_addr)
        reviews.review_identity(actor, coop, old, new, remote_addr=remote_addr)
        if {"members_total", "members_women", "members_youth"} & set(new):
            for hook in COOPERATIVE_CHANGED_HOOKS:
                hook(coop.id)


# Readers that keep figures derived from a cooperative's membership (the insights' rollups
# count sales of women- and youth-led cooperatives) register here; accounts imports nothing of theirs.
COOPERATIVE_CHANGED_HOOKS: list = []


def update_buyer(actor: User, buyer: Buyer, data: BuyerData, remote_addr=None) -> None:
    """Save the company's profile; a new name or NIT puts a verified company back under review.
    A NIT another organisation has is held for staff as at registration (``_hold_edited_nit``)."""
    require_manage(actor, buyer)
    before = audit.snapshot(buyer, BUYER_FIELDS)
    held: list = []
    _apply_buyer(buyer, data, held_nit=held)
    db.session.flush()
    _hold_edited_nit(buyer, held, actor, remote_addr)
    old, new = audit.changed(before, audit.snapshot(buyer, BUYER_FIELDS))
    if new:
        audit.record("organisation.updated", "organisation", buyer.id, actor=actor,
                     organisation_id=buyer.id, before=old, after=new, remote_addr=remote_addr)
        reviews.review_identity(actor, buyer, old, new, remote_addr=remote_addr)


def get_delivery_site(actor: User, site_id: int) -> DeliverySite:
    site = db.session.get(DeliverySite, site_id)
    if site is None or not can_view_organisation(actor, site.buyer):
        raise NotFound(_l("No encontramos ese sitio de entrega."))
    return site


def add_delivery_site(actor: User, buyer: Buyer, data: SiteData, remote_addr=None) -> DeliverySite:
    require_manage(actor, buyer)
    site = DeliverySite(buyer=buyer)
    _apply_site(site, data)
    db.session.add(site)
    db.session.flush()
    audit.record("delivery_site.created", "delivery_site", site.id, actor=actor,
                 organisation_id=buyer.id, after=audit.snapshot(site, SITE_FIELDS), remote_addr=remote_addr)
    return site


def update_delivery_site(actor: User, site: DeliverySite, data: SiteData, remote_addr=None) -> None:
    require_manage(actor, site.buyer)
    before = audit.snapshot(site, SITE_FIELDS)
    _apply_site(site, data)
    if not site.active and not any(s.active for s in site.buyer.delivery_sites if s is not site):
        raise DomainError(_l("La empresa debe conservar al menos un sitio de entrega activo."), "active")
    db.session.flush()
    old, new = audit.changed(before, audit.snapshot(site, SITE_FIELDS))
    if new:
        audit.record("delivery_site.updated", "delivery_site", site.id, actor=actor,
                     organisation_id=site.buyer_id, before=old, after=new, remote_addr=remote_addr)


# ------------------------------------------------------------------- verification

STATUS_TRANSITIONS = {
    OrgStatus.PENDING: {OrgStatus.VERIFIED, OrgStatus.REJECTED},
    OrgStatus.VERIFIED: {OrgStatus.SUSPENDED},
    OrgStatus.SUSPENDED: {OrgStatus.VERIFIED},
    OrgStatus.REJECTED: {OrgStatus.VERIFIED},
}


def set_organisation_status(actor: User, org: Organisation, status: OrgStatus, reason: str | None, remote_addr=None) -> None:
    """Verify, reject, suspend or reinstate an organisation (platform admins only)."""
    if not actor.is_admin:
        raise Forbidden(_l("Solo un administrador de la plataforma puede verificar organizaciones."))
    if org.kind == OrgKind.STAFF:
        raise DomainError(_l("El equipo del programa no necesita verificación."))
    if status not in STATUS_TRANSITIONS.get(org.status, set()):
        raise Conflict(_l("No se puede pasar de «%(old)s» a «%(new)s».",
                          old=status_label(org.status), new=status_label(status)))
    reason = clean_text(reason) or None
    if status in (OrgStatus.REJECTED, OrgStatus.SUSPENDED) and not reason:
        raise DomainError(_l("Explique el motivo; la organización lo verá."), "reason")
    if reason and len(reason) > 1000:
        raise DomainError(_l("El motivo es demasiado largo (máximo 1.000 caracteres)."), "reason")
    before = {"status": org.status.value, "status_reason": org.status_reason}
    org.status = status
    org.status_reason = reason
    org.status_changed_at = utcnow()
    org.status_changed_by_id = actor.id
    if status == OrgStatus.SUSPENDED:
        # A suspended organisation's people are signed out and its API tokens stop working.
        for membership in members_of(org):
            revoke_all_sessions(membership.user)
            revoke_all_tokens(membership.user)
    db.session.flush()
    audit.record(f"organisation.{status.value}", "organisation", org.id, actor=actor,
                 organisation_id=org.id, before=before,
                 after={"status": status.value, "status_reason": reason}, remote_addr=remote_addr)
    hooks.notify("org_status", subject_id=org.id, organisation_id=org.id,
                 payload={"status": status.value, "reason": reason})


STATUS_LABELS = {
    OrgStatus.PENDING: _l("Pendiente de verificación"),
    OrgStatus.VERIFIED: _l("Verificada"),
    OrgStatus.REJECTED: _l("Rechazada"),
    OrgStatus.SUSPENDED: _l("Suspendida"),
}
ROLE_LABELS = {
    Role.COOP_MANAGER: _l("Gerente de la asociación"),
    Role.COOP_MEMBER: _l("Asociado"),
    Role.BUYER_ADMIN: _l("Administrador de compras"),
    Role.BUYER_PURCHASER: _l("Comprador"),
    Role.STAFF_AUDITOR: _l("Equipo de seguimiento (auditor)"),
    Role.PLATFORM_ADMIN: _l("Administrador de la plataforma"),
    Role.CARRIER_MANAGER: _l("Transportador"),
}
KIND_LABELS = {
    OrgKind.COOPERATIVE: _l("Cooperativa o asociación"),
    OrgKind.BUYER: _l("Empresa compradora"),
    OrgKind.STAFF: _l("Equipo del programa"),
    OrgKind.CARRIER: _l("Transportador"),
}


def status_label(status: OrgStatus) -> str:
    return str(STATUS_LABELS[status])


def list_organisations(kind: OrgKind | None = None, status: OrgStatus | None = None, query: str | None = None):
    stmt = select(Organisation).where(Organisation.kind != OrgKind.STAFF)
    if kind:
        stmt = stmt.where(Organisation.kind == kind)
    if status:
        stmt = stmt.where(Organisation.status == status)
    if query and query.strip():
        pattern = f"%{query.strip()[:80]}%"
        stmt = stmt.where(Organisation.name.ilike(pattern) | Organisation.nit.ilike(pattern))
    return stmt.order_by(Organisation.created_at.desc(), Organisation.id.desc())


def get_organisation(actor: User, org_id: int) -> Organisation:
    org = db.session.get(Organisation, org_id)
    if org is None or not can_view_organisation(actor, org):
        raise NotFound(_l("No encontramos esa organización."))
    return org


def count_by_status() -> dict[tuple[str, str], int]:
    rows = db.session.execute(
        select(Organisation.kind, Organisation.status, func.count()).group_by(Organisation.kind, Organisation.status)
    )
    return {(kind.value, status.value): n for kind, status, n in rows}


# ---------------------------------------------------------------------- members


def _audit_membership(action: str, membership: Membership, actor: User, before=None, remote_addr=None) -> None:
    audit.record(
        action, "membership", membership.id, actor=actor, organisation_id=membership.organisation_id,
        before=before,
        after={"user_id": membership.user_id, "role": membership.role.value,
               "active": membership.user.active, "full_name": membership.user.full_name},
        remote_addr=remote_addr,
    )


def add_member(actor: User, org: Organisation, user_data: UserData, role: Role, remote_addr=None) -> User:
    """Add a person to the organisation with a temporary password they must change."""
    require_manage(actor, org)
    if role not in ROLES_BY_KIND[org.kind]:
        raise DomainError(_l("Ese rol no existe en este tipo de organización."), "role")
    if role == Role.PLATFORM_ADMIN and not actor.is_admin:
        raise Forbidden(_l("Solo un administrador puede nombrar administradores."))
    user = _new_user(user_data.full_name, user_data.phone, user_data.email, user_data.password, user_data.locale)
    user.must_change_password = True
    membership = Membership(user=user, organisation=org, role=role)
    db.session.add(membership)
    db.session.flush()
    _audit_membership("membership.created", membership, actor, remote_addr=remote_addr)
    return user


def get_membership(actor: User, membership_id: int) -> Membership:
    membership = db.session.get(Membership, membership_id)
    if membership is None or not can_view_organisation(actor, membership.organisation):
        raise NotFound(_l("No encontramos a esa persona."))
    return membership


def _active_managers(org: Organisation) -> int:
    managing = [r for r in ROLES_BY_KIND[org.kind] if r in MANAGING_ROLES]
    return db.session.scalar(
        select(func.count()).select_from(Membership).join(User)
        .where(Membership.organisation_id == org.id, Membership.role.in_(managing), User.active.is_(True))
    )


def _guard_last_manager(membership: Membership) -> None:
    if membership.role in MANAGING_ROLES and membership.user.active and _active_managers(membership.organisation) <= 1:
        raise Conflict(_l("La organización necesita al menos una persona que la administre."), "role")


def change_member_role(actor: User, membership: Membership, role: Role, remote_addr=None) -> None:
    require_manage(actor, membership.organisation)
    if role not in ROLES_BY_KIND[membership.organisation.kind]:
        raise DomainError(_l("Ese rol no existe en este tipo de organización."), "role")
    if (role == Role.PLATFORM_ADMIN or membership.role == Role.PLATFORM_ADMIN) and not actor.is_admin:
        raise Forbidden(_l("Solo un administrador puede nombrar administradores."))
    if role == membership.role:
        return
    if role not in MANAGING_ROLES:
        _guard_last_manager(membership)
    before = {"role": membership.role.value}
    membership.role = role
    db.session.flush()
    _audit_membership("membership.role_changed", membership, actor, before=before, remote_addr=remote_addr)


def set_member_active(actor: User, membership: Membership, active: bool, remote_addr=None) -> None:
    """Deactivate (or reactivate) a member's account; deactivation ends their sessions."""
    require_manage(actor, membership.organisation)
    if membership.user.active == active:
        return
    if not active:
        _guard_last_manager(membership)
    before = {"active": membership.user.active}
    membership.user.active = active
    if not active:
        revoke_all_sessions(membership.user)
        revoke_all_tokens(membership.user)
    db.session.flush()
    _audit_membership("membership.activated" if active else "membership.deactivated",
                      membership, actor, before=before, remote_addr=remote_addr)


def members_of(org: Organisation) -> list[Membership]:
    return list(db.session.scalars(
        select(Membership).join(User).where(Membership.organisation_id == org.id)
        .order_by(User.active.desc(), User.full_name)
    ))


def staff_organisation() -> Organisation:
    """The programme's own organisation, created on first use."""
    org = db.session.scalar(select(Organisation).where(Organisation.kind == OrgKind.STAFF).order_by(Organisation.id))
    if org is None:
        org = Organisation(kind=OrgKind.STAFF, name="Equipo del programa", status=OrgStatus.VERIFIED)
        db.session.add(org)
        db.session.flush()
    return org


def create_staff_user(actor: User | None, user_data: UserData, role: Role, remote_addr=None) -> User:
    """A staff auditor or platform admin. ``actor`` None means the command line."""
    if role not in ROLES_BY_KIND[OrgKind.STAFF]:
        raise DomainError(_l("Ese rol no existe en este tipo de organización."), "role")
    if actor is not None and not actor.is_admin:
        raise Forbidden(_l("Solo un administrador puede crear cuentas del equipo."))
    org = staff_organisation()
    user = _new_user(user_data.full_name, user_data.phone, user_data.email, user_data.password, user_data.locale)
    user.must_change_password = actor is not None
    membership = Membership(user=user, organisation=org, role=role)
    db.session.add(membership)
    db.session.flush()
    _audit_membership("membership.created", membership, actor or user, remote_addr=remote_addr)
    return user


# ------------------------------------------------------------------ authentication


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def authenticate(identifier: str, password: str) -> User | None:
    """The active user with this phone or e-mail and password, or None.

    Unknown users and wrong passwords cost the same hashing work and give the same answer.
    """
    try:
        kind, value = parse_login(identifier)
    except IdentityError:
        passwords.verify_password(None, password or "")
        return None
    column = User.phone if kind == "phone" else User.email
    user = db.session.scalar(select(User).where(column == value))
    ok = passwords.verify_password(user.password_hash if user else None, password or "")
    if not ok or user is None or not user.active:
        return None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def login_key(identifier: str) -> str:
    """The rate-limit key for a typed login: the normalised phone or e-mail when it parses."""
    try:
        return ":".join(parse_login(identifier))
    except IdentityError:
        return "raw:" + (identifier or "").strip().lower()[:80]


def start_session(user: User, *, user_agent: str | None, remote_addr: str | None, remember: bool) -> LoginSession:
    days = current_app.config["LOGIN_SESSION_DAYS"] if remember else 1
    public_id = secrets.token_urlsafe(12)
    secret = secrets.token_urlsafe(24)
    session = LoginSession(
        user=user,
        public_id=public_id,
        secret_hash=_sha256(secret),
        expires_at=utcnow() + timedelta(days=days),
        user_agent=(user_agent or "")[:200] or None,
        remote_addr=remote_addr,
    )
    db.session.add(session)
    user.last_login_at = utcnow()
    db.session.flush()
    session.cookie_value = f"{public_id}.{secret}"
    user.current_login_session = session
    return session


def load_session(cookie_value: str | None) -> User | None:
    """The user behind a session cookie value, if that login session is still open."""
    if not cookie_value or "." not in cookie_value or len(cookie_value) > 100:
        return None
    public_id, secret = cookie_value.split(".", 1)
    session = db.session.scalar(select(LoginSession).where(LoginSession.public_id == public_id))
    if session is None or not hmac.compare_digest(session.secret_hash, _sha256(secret)):
        return None
    now = utcnow()
    if session.revoked_at is not None or _aware(session.expires_at) <= now or not session.user.active:
        return None
    session.cookie_value = cookie_value
    session.user.current_login_session = session
    return session.user


def _aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns; they are stored in UTC.
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def touch_session(session: LoginSession) -> bool:
    """Record activity at most once a minute; True when something changed."""
    now = utcnow()
    if now - _aware(session.last_seen_at) > timedelta(minutes=1):
        session.last_seen_at = now
        return True
    return False


def end_session(session: LoginSession | None) -> None:
    if session is not None and session.revoked_at is None:
        session.revoked_at = utcnow()
        db.session.flush()


def revoke_all_sessions(user: User, keep: LoginSession | None = None) -> int:
    stmt = update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
    if keep is not None:
        stmt = stmt.where(LoginSession.id != keep.id)
    result = db.session.execute(stmt.values(revoked_at=utcnow()), execution_options={"synchronize_session": "fetch"})
    return result.rowcount or 0


def open_sessions(user: User) -> list[LoginSession]:
    return list(db.session.scalars(
        select(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None), LoginSession.expires_at > utcnow())
        .order_by(LoginSession.last_seen_at.desc())
    ))


def recently_authenticated(session: LoginSession | None) -> bool:
    if session is None:
        return False
    window = timedelta(minutes=current_app.config["REAUTH_MINUTES"])
    return utcnow() - _aware(session.reauthenticated_at) <= window


def confirm_password(user: User, password: str, field="current_password") -> None:
    """Ask for the password again before a sensitive change."""
    if not passwords.verify_password(user.password_hash, password or ""):
        raise DomainError(BAD_PASSWORD, field)
    if user.current_login_session is not None:
        user.current_login_session.reauthenticated_at = utcnow()


def change_password(user: User, current: str, new: str, *, user_agent=None, remote_addr=None) -> int:
    """Set a new password, end every open session and revoke every API token (a token made
    under the old password is no safer than it); this browser gets a fresh session
    (``user.current_login_session``). Returns how many tokens were revoked."""
    confirm_password(user, current)
    if current == new:
        raise DomainError(_l("La nueva contraseña debe ser distinta de la actual."), "new_password")
    check_new_password(new, user.phone, user.email, field="new_password")
    user.password_hash = passwords.hash_password(new)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    revoke_all_sessions(user)
    tokens = revoke_all_tokens(user)
    db.session.flush()
    audit.record("user.password_changed", "user", user.id, actor=user,
                 organisation_id=user.organisation.id if user.organisation else None,
                 after={"tokens_revoked": True} if tokens else None, remote_addr=remote_addr)
    start_session(user, user_agent=user_agent, remote_addr=remote_addr, remember=False)
    return tokens


@dataclass
class LoginChange:
    """What ``change_login`` did. ``pending`` lists ``(field, value)`` for each new phone or
    e-mail that now waits for its code or link, whether or not it belongs to another account,
    so the answer and the account page are the same either way; ``claimed`` lists
    ``(field, owner id)`` for each of those that belongs to another account (its owner is to be
    told, ``registration.login_claimed``); ``removed`` lists the fields cleared at once."""

    pending: list[tuple[str, str]]
    claimed: list[tuple[str, int]]
    removed: list[str]


def _login_owner(field: str, value: str) -> User | None:
    column = User.phone if field == "phone" else User.email
    return db.session.scalar(select(User).where(column == value))


def change_login(user: User, password: str, phone: str | None, email: str | None, remote_addr=None) -> LoginChange:
    """Ask to change the phone or e-mail used to log in (asks for the password).

    A new number or address takes effect only once its owner proves it
    (``confirm_login_code``, ``confirm_login_link``): a code goes to the new number, a link
    to the new address, and until then the account keeps its login. A number or address
    that belongs to another account is never refused, which would tell anyone who has an
    account: it is kept pending the same way, nothing is sent to it and no code can ever
    complete it (``verification.issue_login_change``), and the caller tells its owner.
    Clearing one of the two applies at once when the other one, unchanged, remains."""
    confirm_password(user, password)
    new_phone, new_email = login_identity(phone, email)
    result = LoginChange(pending=[], claimed=[], removed=[])
    typed = {"phone": new_phone, "email": new_email}
    current = {"phone": user.phone, "email": user.email}
    for field in ("phone", "email"):
        value = typed[field]
        if not value or value == current[field]:
            continue
        owner = _login_owner(field, value)
        taken = owner is not None and owner is not user
        verification.issue_login_change(user, field, value, deliver=not taken, remote_addr=remote_addr)
        result.pending.append((field, value))
        if taken:
            result.claimed.append((field, owner.id))
    for field, other in (("phone", "email"), ("email", "phone")):
        # A login is never left without the other one already in force.
        if current[field] and not typed[field] and current[other] and typed[other] == current[other]:
            result.removed.append(field)
    if result.removed:
        before = dict(current)
        for field in result.removed:
            setattr(user, field, None)
            setattr(user, f"{field}_verified_at", None)
        db.session.flush()
        old, new = audit.changed(before, {"phone": user.phone, "email": user.email})
        audit.record("user.login_changed", "user", user.id, actor=user,
                     organisation_id=user.organisation.id if user.organisation else None,
                     before=old, after=new, remote_addr=remote_addr)
    return result


def pending_logins(user: User) -> list[tuple[str, str]]:
    """``(field, value)`` of each new login phone or e-mail waiting for its code or link."""
    return [(field, code.address) for field, code in verification.pending_login_changes(user).items()]


def _take_up_login(user: User, field: str, value: str, remote_addr=None) -> None:
    """The new login ``field`` was proved: it replaces the old one, proved (the code or link
    that reached it says so). A value another account took in the meantime changes nothing."""
    refused = verification.CodeRejected(_l("Ese código venció o ya no sirve. Pida uno nuevo."), "code")
    owner = _login_owner(field, value)
    if owner is not None and owner is not user:
        raise refused
    before = {"phone": user.phone, "email": user.email}
    try:
        with db.session.begin_nested():
            setattr(user, field, value)
            setattr(user, f"{field}_verified_at", utcnow())
            db.session.flush()
    except IntegrityError as exc:  # taken by another account since the check above
        raise refused from exc
    old, new = audit.changed(before, {"phone": user.phone, "email": user.email})
    audit.record("user.login_changed", "user", user.id, actor=user,
                 organisation_id=user.organisation.id if user.organisation else None,
                 before=old, after=new, remote_addr=remote_addr)


def confirm_login_code(user: User, typed: str, remote_addr=None) -> str:
    """The code sent to the pending new login phone: when ``typed`` is it, the new number
    becomes the login (returned). A wrong code raises ``verification.CodeRejected`` after
    recording the try (commit it)."""
    code = verification.take_login_code(user, typed)
    _take_up_login(user, "phone", code.address, remote_addr=remote_addr)
    return code.address


def confirm_login_link(token: str, remote_addr=None) -> tuple[User, str] | None:
    """The link sent to a pending new login e-mail: the person and the new address, now
    their login. None when ``token`` is not such a link (it may verify an e-mail instead,
    ``verification.confirm_email``). Raises ``verification.CodeRejected`` when it no longer
    works (commit the try)."""
    if verification.login_link_code(token) is None:
        return None
    code = verification.take_login_link(token)
    user = db.session.get(User, code.user_id)
    if user is None or not user.active:
        raise verification.CodeRejected(_l("Ese enlace venció o ya se usó. Escriba el correo nuevo otra vez en "
                                           "«Su cuenta»."))
    _take_up_login(user, "email", code.address, remote_addr=remote_addr)
    return user, code.address


def update_profile(user: User, full_name: str, locale: str) -> None:
    name = clean_text(full_name)
    if not name:
        raise DomainError(_l("Escriba su nombre."), "full_name")
    if len(name) > 120:
        raise DomainError(_l("El nombre es demasiado largo (máximo 120 caracteres)."), "full_name")
    if locale not in ("es", "en"):
        raise DomainError(_l("Elija español o inglés."), "locale")
    user.full_name = name
    user.locale = locale
    db.session.flush()


# --------------------------------------------------------------------- API tokens

TOKEN_PREFIX = "mr_"  # noqa: S105 - a public prefix, not a secret
MAX_TOKENS = 10


def create_api_token(user: User, name: str, password: str, remote_addr=None) -> tuple[ApiToken, str]:
    """A new personal API token; the plain value is returned once and never stored."""
    confirm_password(user, password, field="password")
    name = clean_text(name)
    if not name:
        raise DomainError(_l("Dé un nombre al token, por ejemplo «ERP compras»."), "name")
    if len(name) > 80:
        raise DomainError(_l("El nombre es demasiado largo (máximo 80 caracteres)."), "name")
    active = db.session.scalar(
        select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    )
    if active >= MAX_TOKENS:
        raise Conflict(_l("Tiene demasiados tokens activos; revoque alguno antes de crear otro."), "name")
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    plain = f"{TOKEN_PREFIX}{prefix}_{secret}"
    token = ApiToken(user=user, name=name, prefix=prefix, token_hash=_sha256(plain))
    db.session.add(token)
    db.session.flush()
    audit.record("api_token.created", "api_token", token.id, actor=user,
                 organisation_id=user.organisation.id if user.organisation else None,
                 after={"name": name, "prefix": prefix}, remote_addr=remote_addr)
    return token, plain


def revoke_api_token(user: User, token_id: int, remote_addr=None) -> None:
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(_l("No encontramos ese token."))
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.flush()
        audit.record("api_token.revoked", "api_token", token.id, actor=user,
                     organisation_id=user.organisation.id if user.organisation else None,
                     before={"name": token.name, "prefix": token.prefix}, remote_addr=remote_addr)


def revoke_all_tokens(user: User) -> int:
    """Revoke every live API token of the user; returns how many."""
    result = db.session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow()),
        execution_options={"synchronize_session": "fetch"},
    )
    return result.rowcount or 0


def api_tokens(user: User) -> list[ApiToken]:
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc())
    ))


# Every API request runs this lookup: built once, the statement's cache key is computed once.
# The user comes with their membership and organisation; nothing in the API reads the
# organisation's municipality.
_TOKEN_BY_PREFIX = select(ApiToken).where(ApiToken.prefix == bindparam("prefix")).options(
    joinedload(ApiToken.user).joinedload(User.membership).joinedload(Membership.organisation)
    .lazyload(Organisation.municipality))


def user_for_token(plain: str | None) -> User | None:
    """The active user owning this bearer token, if it is valid and not revoked."""
    if not plain or not plain.startswith(TOKEN_PREFIX) or len(plain) > 120:
        return None
    try:
        prefix = plain[len(TOKEN_PREFIX):].split("_", 1)[0]
    except IndexError:
        return None
    token = db.session.scalar(_TOKEN_BY_PREFIX, {"prefix": prefix})
    if token is None or not hmac.compare_digest(token.token_hash, _sha256(plain)):
        return None
    if token.revoked_at is not None or (token.expires_at and _aware(token.expires_at) <= utcnow()):
        return None
    if not token.user.active:
        return None
    now = utcnow()
    if token.last_used_at is None or now - _aware(token.last_used_at) > timedelta(minutes=5):
        token.last_used_at = now
    return token.user
