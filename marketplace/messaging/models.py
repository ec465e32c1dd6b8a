"""The outbox (notices and the messages they become), inbound messages and conversations."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.core.models import utcnow
from marketplace.core.types import UTCDateTime, str_enum
from marketplace.extensions import db

Cost = Numeric(12, 4, asdecimal=True)


class Channel(enum.StrEnum):
    EMAIL = "email"
    WHATSAPP = "whatsapp"
    SMS = "sms"


class MessageStatus(enum.StrEnum):
    QUEUED = "queued"        # waiting for the worker
    SENT = "sent"            # the provider accepted it
    DELIVERED = "delivered"  # the provider says it reached the phone / mailbox
    READ = "read"            # WhatsApp read receipt
    FAILED = "failed"        # given up: ``status_reason`` says why
    SKIPPED = "skipped"      # never sent: no usable channel, opted out... (``status_reason``)


# Statuses after which the worker never touches the message again.
FINAL_STATUSES = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ,
                  MessageStatus.FAILED, MessageStatus.SKIPPED)


class Notice(db.Model):
    """Something a person must be told about (a new order, a verification result...),
    written by the service that made the change, in its transaction. ``kind`` names a
    ``hooks.NoticeKind`` that knows who is told and what they read; ``subject_id`` is the
    object it is about (an order part, an organisation...), ``payload`` small extra values."""

    __tablename__ = "notice"
    __table_args__ = (Index("ix_notice_pending", "expanded_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int | None] = mapped_column(Integer)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="SET NULL"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    payload: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set once the worker has written this notice's messages (or found it could not).
    expanded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # After a failed expansion (a broken render...), when the worker tries again.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Message(db.Model):
    """One message to one person (or one number) on one channel: what it says, how the
    provider took it, what it cost. Replies to inbound messages are messages too."""

    __tablename__ = "message"
    __table_args__ = (
        Index("ix_message_due", "status", "next_attempt_at"),
        Index("ix_message_provider_id", "provider", "provider_id"),
        Index("ix_message_org_created", "organisation_id", "created_at"),
        Index("ix_message_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notice.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="SET NULL"))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "message_channel"))
    to_address: Mapped[str | None] = mapped_column(String(254))  # E.164 number or e-mail
    locale: Mapped[str] = mapped_column(String(5), default="es")
    subject: Mapped[str | None] = mapped_column(String(200))  # e-mail only
    body: Mapped[str] = mapped_column(Text)  # the full text (e-mail body, free WhatsApp text, SMS)
    # A WhatsApp template for when the 24-hour window is closed: its name, language and
    # body parameters, in order.
    template_name: Mapped[str | None] = mapped_column(String(80))
    template_language: Mapped[str | None] = mapped_column(String(10))
    template_params: Mapped[list | None] = mapped_column(JSON)
    # Quick-reply buttons: [[payload id, title], ...]; SMS spells them as words to answer.
    buttons: Mapped[list | None] = mapped_column(JSON)
    # Whether this message is a secret (a code, a temporary password): its body is masked once sent.
    secret: Mapped[bool] = mapped_column(default=False)

    status: Mapped[MessageStatus] = mapped_column(
        str_enum(MessageStatus, "message_status"), default=MessageStatus.QUEUED)
    status_reason: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_id: Mapped[str | None] = mapped_column(String(100))
    # Whether it went as a template (True) or as free text inside the 24-hour window (False).
    as_template: Mapped[bool | None] = mapped_column()
    segments: Mapped[int | None] = mapped_column(Integer)  # SMS parts billed
    cost: Mapped[Decimal | None] = mapped_column(Cost)  # in COST_CURRENCY (COP by default)

    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User | None] = relationship()


class Inbound(db.Model):
    """A message a person sent us, recorded once per provider id: a replayed webhook finds
    its row and acts no more."""

    __tablename__ = "inbound_message"
    __table_args__ = (
        UniqueConstraint("provider", "provider_message_id"),
        Index("ix_inbound_number_received", "from_number", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    provider_message_id: Mapped[str] = mapped_column(String(100))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "message_channel"))
    from_number: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    text: Mapped[str | None] = mapped_column(Text)
    button_payload: Mapped[str | None] = mapped_column(String(100))
    media_id: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # What the product did with it ("accepted part 12", "unknown sender"...), for staff.
    outcome: Mapped[str | None] = mapped_column(String(200))
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("message.id", ondelete="SET NULL"))


class Conversation(db.Model):
    """A guided conversation in progress (listing a harvest by WhatsApp...), one per person.
    ``state`` holds the answers so far; past ``expires_at`` it is forgotten."""

    __tablename__ = "conversation"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    step: Mapped[str] = mapped_column(String(40))
    state: Mapped[dict] = mapped_column(JSON, default=dict)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "message_channel"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MediaStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for the worker (again after a failed try, at ``next_attempt_at``)
    DONE = "done"        # fetched and handed to its handler
    FAILED = "failed"    # given up: ``last_error`` says why


class MediaFetch(db.Model):
    """A photo someone sent in a chat, to be downloaded from the provider by the worker
    (never inside the webhook) and handed to the handler registered for ``purpose``
    (``media.MEDIA_HANDLERS``: catalog's "listing_photo" attaches it to listing
    ``subject_id``). ``media_ref`` is Meta's media id or Twilio's MediaUrl."""

    __tablename__ = "media_fetch"
    __table_args__ = (Index("ix_media_fetch_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int | None] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "message_channel"))
    provider: Mapped[str | None] = mapped_column(String(20))
    media_ref: Mapped[str] = mapped_column(String(1000))
    status: Mapped[MediaStatus] = mapped_column(str_enum(MediaStatus, "media_status"), default=MediaStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(Integer)  # bytes received
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
