"""Users, organisations (cooperatives, buyers, programme staff) and their memberships."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.core.models import Municipality, utcnow
from marketplace.core.types import Coordinate, UTCDateTime, str_enum
from marketplace.extensions import db


class OrgKind(enum.StrEnum):
    COOPERATIVE = "cooperative"
    BUYER = "buyer"
    STAFF = "staff"
    CARRIER = "carrier"


class OrgStatus(enum.StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"
    SUSPENDED = "suspended"


class Role(enum.StrEnum):
    COOP_MANAGER = "coop_manager"
    COOP_MEMBER = "coop_member"
    BUYER_ADMIN = "buyer_admin"
    BUYER_PURCHASER = "buyer_purchaser"
    STAFF_AUDITOR = "staff_auditor"
    PLATFORM_ADMIN = "platform_admin"
    CARRIER_MANAGER = "carrier_manager"


ROLES_BY_KIND: dict[OrgKind, tuple[Role, ...]] = {
    OrgKind.COOPERATIVE: (Role.COOP_MANAGER, Role.COOP_MEMBER),
    OrgKind.BUYER: (Role.BUYER_ADMIN, Role.BUYER_PURCHASER),
    OrgKind.STAFF: (Role.STAFF_AUDITOR, Role.PLATFORM_ADMIN),
    OrgKind.CARRIER: (Role.CARRIER_MANAGER,),
}
# Roles that manage their organisation's members and profile.
MANAGING_ROLES = frozenset({Role.COOP_MANAGER, Role.BUYER_ADMIN, Role.PLATFORM_ADMIN, Role.CARRIER_MANAGER})


class User(UserMixin, db.Model):
    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint("phone IS NOT NULL OR email IS NOT NULL", name="has_login"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(String(120))
    # E.164, for example +573001234567
    phone: Mapped[str | None] = mapped_column(String(16), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str] = mapped_column(String(5), default="es")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Messaging: a number or address is used for notices only once its owner proved it with
    # a code (or a link); the preferred channel is "whatsapp", "sms" or "email". WhatsApp
    # requires a recorded opt-in; "SALIR"/"STOP" records an opt-out per channel.
    phone_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    preferred_channel: Mapped[str] = mapped_column(String(10), default="whatsapp", server_default="whatsapp")
    whatsapp_opt_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    whatsapp_opt_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sms_opt_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    membership: Mapped[Membership | None] = relationship(
        back_populates="user", uselist=False, lazy="joined"
    )

    # The login session this request authenticated with (set by the user loader).
    current_login_session = None  # type: LoginSession | None

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str | None:  # Flask-Login stores this in the session cookie
        session = self.current_login_session
        return session.cookie_value if session is not None else None

    @property
    def organisation(self) -> Organisation | None:
        return self.membership.organisation if self.membership else None

    @property
    def role(self) -> Role | None:
        return self.membership.role if self.membership else None

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.STAFF_AUDITOR, Role.PLATFORM_ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.PLATFORM_ADMIN

    @property
    def login_name(self) -> str:
        return self.phone or self.email or ""

    def __repr__(self) -> str:
        return f"<User {self.id} {self.login_name}>"


class LoginSession(db.Model):
    """A signed-in browser. Logging out or changing the password revokes it, so a
    session or remember cookie copied before then stops working."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    # A public identifier plus a secret; only the secret's SHA-256 is stored.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reauthenticated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    user_agent: Mapped[str | None] = mapped_column(String(200))
    remote_addr: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship()

    # Only known right after creation, to put in the cookie; never stored.
    cookie_value = None  # type: str | None


class ApiToken(db.Model):
    """A personal API token. Shown once at creation; only its SHA-256 is kept."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class VerificationCode(db.Model):
    """A one-time code (6 digits) or link token sent to prove a number or address, or to
    recover an account. Only its hash is kept; it expires, and allows a few tries."""

    __tablename__ = "verification_code"
    __table_args__ = (Index("ix_verification_code_address_created", "address", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    # "verify_phone", "verify_email", "reset_password"
    purpose: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(254))  # the E.164 number or e-mail it went to
    channel: Mapped[str] = mapped_column(String(10))  # whatsapp, sms or email
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    requested_from: Mapped[str | None] = mapped_column(String(64))  # client address


class Organisation(db.Model):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OrgKind] = mapped_column(str_enum(OrgKind, "org_kind"), index=True)
    name: Mapped[str] = mapped_column(String(160))
    nit: Mapped[str | None] = mapped_column(String(12), unique=True)
    status: Mapped[OrgStatus] = mapped_column(str_enum(OrgStatus, "org_status"), index=True, default=OrgStatus.PENDING)
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status_changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    municipality_code: Mapped[str | None] = mapped_column(ForeignKey("municipality.code"), index=True)
    contact_phone: Mapped[str | None] = mapped_column(String(16))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    municipality: Mapped[Municipality | None] = relationship(lazy="joined")
    memberships: Mapped[list[Membership]] = relationship(back_populates="organisation")

    __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": OrgKind.STAFF}

    @property
    def is_verified(self) -> bool:
        return self.status == OrgStatus.VERIFIED

    def __repr__(self) -> str:
        return f"<Organisation {self.id} {self.kind} {self.name}>"


class Cooperative(Organisation):
    __tablename__ = "cooperative"
    __table_args__ = (
        CheckConstraint("members_total >= 0", name="members_total_nonnegative"),
        CheckConstraint(
            "members_women >= 0 AND members_youth >= 0 AND members_victims >= 0 "
            "AND substitution_families >= 0",
            name="counts_nonnegative",
        ),
        CheckConstraint(
            "members_women <= members_total AND members_youth <= members_total "
            "AND members_victims <= members_total",
            name="counts_within_total",
        ),
    )

    id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True)
    legal_form: Mapped[str] = mapped_column(String(40))
    members_total: Mapped[int] = mapped_column(Integer, default=0)
    members_women: Mapped[int] = mapped_column(Integer, default=0)
    members_youth: Mapped[int] = mapped_column(Integer, default=0)
    members_victims: Mapped[int] = mapped_column(Integer, default=0)
    substitution_families: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str | None] = mapped_column(Text)

    __mapper_args__ = {"polymorphic_identity": OrgKind.COOPERATIVE}

    def share(self, count: int) -> Decimal | None:
        if not self.members_total:
            return None
        return (Decimal(count) / Decimal(self.members_total)).quantize(Decimal("0.001"))

    @property
    def women_led(self) -> bool:
        """At least half the members are women (the programme's working definition)."""
        return bool(self.members_total) and self.members_women * 2 >= self.members_total

    @property
    def youth_led(self) -> bool:
        return bool(self.members_total) and self.members_youth * 2 >= self.members_total


class Buyer(Organisation):
    __tablename__ = "buyer"

    id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True)
    andi_member: Mapped[bool] = mapped_column(Boolean, default=False)
    sector: Mapped[str | None] = mapped_column(String(80))

    delivery_sites: Mapped[list[DeliverySite]] = relationship(
        back_populates="buyer", order_by="DeliverySite.name"
    )

    __mapper_args__ = {"polymorphic_identity": OrgKind.BUYER}


class Carrier(Organisation):
    """A transport company or independent driver that carries shipments; registered by staff."""

    __mapper_args__ = {"polymorphic_identity": OrgKind.CARRIER}


class DeliverySite(db.Model):
    """A buyer's warehouse or plant where produce is delivered."""

    __tablename__ = "delivery_site"

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyer.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(200))
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"))
    latitude: Mapped[Decimal] = mapped_column(Coordinate)
    longitude: Mapped[Decimal] = mapped_column(Coordinate)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    buyer: Mapped[Buyer] = relationship(back_populates="delivery_sites")
    municipality: Mapped[Municipality] = relationship(lazy="joined")


class Membership(db.Model):
    """A user's place in one organisation, with a role fitting the organisation's kind."""

    __tablename__ = "membership"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(back_populates="membership")
    organisation: Mapped[Organisation] = relationship(back_populates="memberships", lazy="joined")


class DocumentKind(enum.StrEnum):
    RUT = "rut"
    CAMARA_COMERCIO = "camara_comercio"
    ACTA_CONSTITUCION = "acta_constitucion"
    OTHER = "other"


class DocumentStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class OrganisationDocument(db.Model):
    """A file an organisation sends for its verification (RUT, chamber of commerce
    certificate, act of constitution). The bytes live in the same storage as listing photos
    under a server-made key; only the organisation's managers and staff may read them."""

    __tablename__ = "organisation_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    kind: Mapped[DocumentKind] = mapped_column(str_enum(DocumentKind, "document_kind"))
    file_key: Mapped[str] = mapped_column(String(80), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[DocumentStatus] = mapped_column(str_enum(DocumentStatus, "document_status"),
                                                   default=DocumentStatus.PENDING)
    review_note: Mapped[str | None] = mapped_column(Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    organisation: Mapped[Organisation] = relationship()
    uploaded_by: Mapped[User | None] = relationship(foreign_keys=[uploaded_by_id])


class ChangeStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"  # replaced by a later edit that staff need not review


class MemberCountChange(db.Model):
    """New member counts a cooperative asked for that would make it women-led or youth-led, or
    stop it being so. The cooperative's own counts (and so every flag read from them: the
    optimiser's preferences, impact indicators, search badges) stay as they were until staff
    confirm; a rejected or withdrawn change is kept as the record of what was asked.
    At most one change per cooperative is pending."""

    __tablename__ = "member_count_change"
    __table_args__ = (
        CheckConstraint(
            "members_total >= 0 AND members_women >= 0 AND members_youth >= 0 AND members_victims >= 0 "
            "AND members_women <= members_total AND members_youth <= members_total "
            "AND members_victims <= members_total",
            name="counts_valid",
        ),
        Index("uq_member_count_change_one_pending", "cooperative_id", unique=True,
              sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cooperative_id: Mapped[int] = mapped_column(ForeignKey("cooperative.id", ondelete="CASCADE"), index=True)
    members_total: Mapped[int] = mapped_column(Integer)
    members_women: Mapped[int] = mapped_column(Integer)
    members_youth: Mapped[int] = mapped_column(Integer)
    members_victims: Mapped[int] = mapped_column(Integer)
    status: Mapped[ChangeStatus] = mapped_column(str_enum(ChangeStatus, "change_status"), default=ChangeStatus.PENDING)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(Text)

    cooperative: Mapped[Cooperative] = relationship()

    @property
    def women_led(self) -> bool:
        """The flag these counts would give (the rule of ``Cooperative.women_led``)."""
        return bool(self.members_total) and self.members_women * 2 >= self.members_total

    @property
    def youth_led(self) -> bool:
        return bool(self.members_total) and self.members_youth * 2 >= self.members_total
