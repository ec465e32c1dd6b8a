"""Each demo person's channel, so the demo shows every channel on the development and staff
message pages once the worker has run: cooperative managers have a verified phone, prefer
WhatsApp and have opted in; the demo member prefers SMS; another member wrote SALIR on
WhatsApp and is reached by SMS instead; the other members never verified their number (their
messages show why they were not sent); buyers keep e-mail.

Only fills what is unset, so running it again changes nothing, and a person who has since
changed a channel keeps the change."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from marketplace.accounts.models import Membership, Organisation, OrgKind, Role, User
from marketplace.extensions import db
from marketplace.messaging.models import Channel, Inbound

SMS_MEMBER = "+573200000000"      # the "Asociado de cooperativa" demo login
OPTED_OUT_MEMBER = "+573200000001"
OPT_OUT_MESSAGE_ID = "demo-salir-1"


def seed_channels(now: datetime) -> int:
    """Set the demo people's channels; returns how many people changed."""
    changed = 0
    managers = db.session.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(Organisation.kind == OrgKind.COOPERATIVE, Membership.role == Role.COOP_MANAGER,
               User.phone.like("+5731%"), User.phone_verified_at.is_(None), User.whatsapp_opt_in_at.is_(None)))
    for user in managers:
        user.phone_verified_at = now
        user.preferred_channel = Channel.WHATSAPP.value
        user.whatsapp_opt_in_at = now
        changed += 1

    member = db.session.scalar(select(User).where(User.phone == SMS_MEMBER, User.phone_verified_at.is_(None)))
    if member is not None:
        member.phone_verified_at = now
        member.preferred_channel = Channel.SMS.value
        changed += 1

    left = db.session.scalar(select(User).where(User.phone == OPTED_OUT_MEMBER, User.phone_verified_at.is_(None)))
    if left is not None:
        left.phone_verified_at = now - timedelta(days=20)
        left.preferred_channel = Channel.WHATSAPP.value
        left.whatsapp_opt_in_at = now - timedelta(days=20)
        left.whatsapp_opt_out_at = now - timedelta(days=2)
        changed += 1
        if not db.session.scalar(select(Inbound.id).where(Inbound.provider == "demo",
                                                          Inbound.provider_message_id == OPT_OUT_MESSAGE_ID)):
            db.session.add(Inbound(
                provider="demo", provider_message_id=OPT_OUT_MESSAGE_ID, channel=Channel.WHATSAPP,
                from_number=OPTED_OUT_MEMBER, user_id=left.id, text="SALIR", received_at=left.whatsapp_opt_out_at,
                outcome="salió de WhatsApp (SALIR)"))

    buyers = db.session.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(Organisation.kind == OrgKind.BUYER, User.email.like("%@empresa-demo.co"),
               User.email_verified_at.is_(None)))
    for user in buyers:
        user.email_verified_at = now
        user.preferred_channel = Channel.EMAIL.value
        changed += 1
    return changed
