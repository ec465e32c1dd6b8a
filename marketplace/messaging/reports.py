"""What staff read about messages: the log with its filters, the month's count and spend per
channel, why messages were not sent, who opted out, and what people sent us.

Reads only; nothing here writes. Months are Bogotá's calendar months. Money is exact: costs
are summed in SQL as whole ten-thousandths of a peso (the column's scale), so SQLite's
floating-point NUMERIC never rounds a sum, and turned back into a Decimal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, case, cast, func, or_, select

from marketplace.accounts.models import Membership, Organisation, User
from marketplace.core.errors import DomainError
from marketplace.core.models import BOGOTA, utcnow
from marketplace.extensions import db
from marketplace.messaging.models import Channel, Inbound, Message, MessageStatus

PAGE_SIZE = 50
SUMMARY_MONTHS = 6
# The cost column keeps four decimals: sums are taken in these units, as integers.
COST_UNITS = 10_000
SENT_STATUSES = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ)
PROBLEM_STATUSES = (MessageStatus.FAILED, MessageStatus.SKIPPED)
_KIND_RE = re.compile(r"^[a-z0-9_.:-]{1,40}$")


# ---------------------------------------------------------------- months


def month_start(month: date) -> datetime:
    """The first instant of ``month`` in Bogotá, as UTC."""
    return datetime(month.year, month.month, 1, tzinfo=BOGOTA).astimezone(UTC)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def previous_month(month: date) -> date:
    return date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


def current_month(now: datetime | None = None) -> date:
    local = (now or utcnow()).astimezone(BOGOTA)
    return date(local.year, local.month, 1)


def parse_month(text: str | None) -> date | None:
    text = (text or "").strip()
    if not text:
        return None
    match = re.fullmatch(r"(\d{4})-(\d{1,2})", text)
    if match and 2000 <= int(match.group(1)) <= 2999 and 1 <= int(match.group(2)) <= 12:
        return date(int(match.group(1)), int(match.group(2)), 1)
    raise DomainError(_l("Escriba el mes como AAAA-MM, por ejemplo 2026-03."), "month", status_code=400)


# ---------------------------------------------------------------- filters


@dataclass
class MessageFilters:
    """The log's filters, all optional. ``organisation`` is a number or part of a name."""

    organisation: str | None = None
    channel: Channel | None = None
    status: MessageStatus | None = None
    kind: str | None = None
    month: date | None = None

    def conditions(self) -> list:
        conditions = []
        if self.organisation:
            text = self.organisation.strip()
            if text.isdigit():
                conditions.append(Message.organisation_id == int(text))
            else:
                pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                conditions.append(Message.organisation_id.in_(
                    select(Organisation.id).where(Organisation.name.ilike(pattern, escape="\\"))))
        if self.channel is not None:
            conditions.append(Message.channel == self.channel)
        if self.status is not None:
            conditions.append(Message.status == self.status)
        if self.kind:
            conditions.append(Message.kind == self.kind)
        if self.month is not None:
            conditions += [Message.created_at >= month_start(self.month),
                           Message.created_at < month_start(next_month(self.month))]
        return conditions


def make_filters(*, organisation: str | None = None, channel: str | None = None, status: str | None = None,
                 kind: str | None = None, month: str | None = None) -> MessageFilters:
    """Filters from plain text (a query string's values); a value that cannot be one raises
    a ``DomainError`` (400) saying which."""
    organisation = (organisation or "").strip() or None
    if organisation is not None and (len(organisation) > 120 or (organisation.isdigit() and len(organisation) > 9)):
        raise DomainError(_l("Escriba el número o parte del nombre de la organización."), "organisation",
                          status_code=400)
    try:
        channel_value = Channel(channel) if channel else None
    except ValueError:
        raise DomainError(_l("Ese canal no existe."), "channel", status_code=400) from None
    try:
        status_value = MessageStatus(status) if status else None
    except ValueError:
        raise DomainError(_l("Ese estado no existe."), "status", status_code=400) from None
    kind = (kind or "").strip() or None
    if kind is not None and not _KIND_RE.match(kind):
        raise DomainError(_l("Ese tipo de mensaje no existe."), "kind", status_code=400)
    return MessageFilters(organisation, channel_value, status_value, kind, parse_month(month))


# ---------------------------------------------------------------- the log


def message_statement(filters: MessageFilters):
    """The messages in ``filters``, newest first."""
    return (select(Message).where(*filters.conditions())
            .order_by(Message.created_at.desc(), Message.id.desc()))


@dataclass
class MessagePage:
    """One page of the log without counting it all: one row more than shown says whether
    there is a next page. People and organisations are read by name in one query each."""

    items: list[Message]
    page: int
    has_next: bool
    people: dict[int, User] = field(default_factory=dict)
    organisations: dict[int, str] = field(default_factory=dict)

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def parse_page(text: str | None) -> int:
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) < 7 and int(text) > 0 else 1


def message_page(filters: MessageFilters, page: int = 1, size: int = PAGE_SIZE) -> MessagePage:
    rows = db.session.scalars(message_statement(filters).limit(size + 1).offset((page - 1) * size)).all()
    items = list(rows[:size])
    user_ids = {m.user_id for m in items if m.user_id}
    org_ids = {m.organisation_id for m in items if m.organisation_id}
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))} if user_ids else {}
    organisations = dict(db.session.execute(
        select(Organisation.id, Organisation.name).where(Organisation.id.in_(org_ids))).all()) if org_ids else {}
    return MessagePage(items, page, len(rows) > size, people, organisations)


# ---------------------------------------------------------------- money and counts


def _exact_cost_sum(column=Message.cost):
    """SUM(cost) in whole ten-thousandths: exact on PostgreSQL and on SQLite alike."""
    return func.coalesce(func.sum(cast(func.round(column * COST_UNITS), BigInteger)), 0)


@dataclass
class ChannelMonth:
    """One channel in one month: messages written, sent (accepted by the provider or
    better), failed, skipped, SMS parts billed and the spend in COP."""

    written: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    segments: int = 0
    cost: Decimal = Decimal("0")


@dataclass
class SpendRow:
    month: date
    channels: dict[Channel, ChannelMonth]

    @property
    def total_cost(self) -> Decimal:
        return sum((c.cost for c in self.channels.values()), Decimal("0"))

    @property
    def total_written(self) -> int:
        return sum(c.written for c in self.channels.values())


def spend_by_month(last: date, months: int = SUMMARY_MONTHS, organisation_id: int | None = None) -> list[SpendRow]:
    """Per month (``last`` and the ``months - 1`` before it, newest first) and channel: how
    many messages were written, sent, failed and skipped, the SMS parts and the spend, from
    the message rows of that month (by when each was written). One query."""
    wanted = [last]
    for _ in range(months - 1):
        wanted.append(previous_month(wanted[-1]))
    start, end = month_start(wanted[-1]), month_start(next_month(last))
    bucket = case(*[(Message.created_at >= month_start(m), i) for i, m in enumerate(wanted)], else_=len(wanted))
    # The month is computed in a subquery and grouped outside it: PostgreSQL would not see
    # a CASE with bound parameters in GROUP BY as the one in the select list.
    inner = select(bucket.label("bucket"), Message.channel, Message.status, Message.segments, Message.cost).where(
        Message.created_at >= start, Message.created_at < end)
    if organisation_id is not None:
        inner = inner.where(Message.organisation_id == organisation_id)
    m = inner.subquery()
    status_count = [func.coalesce(func.sum(case((m.c.status.in_(s), 1), else_=0)), 0)
                    for s in (SENT_STATUSES, (MessageStatus.FAILED,), (MessageStatus.SKIPPED,))]
    stmt = (select(m.c.bucket, m.c.channel, func.count(), *status_count,
                   func.coalesce(func.sum(m.c.segments), 0), _exact_cost_sum(m.c.cost))
            .group_by(m.c.bucket, m.c.channel))
    rows = [SpendRow(m, {c: ChannelMonth() for c in Channel}) for m in wanted]
    for index, channel, written, sent, failed, skipped, segments, cost_units in db.session.execute(stmt):
        if index >= len(rows):  # pragma: no cover - the WHERE keeps every row inside the months
            continue
        rows[index].channels[Channel(channel)] = ChannelMonth(
            int(written), int(sent), int(failed), int(skipped), int(segments),
            Decimal(int(cost_units)) / COST_UNITS)
    return rows


@dataclass
class Problem:
    channel: Channel
    status: MessageStatus
    reason: str
    count: int


def problems(month: date, organisation_id: int | None = None, limit: int = 30) -> list[Problem]:
    """Messages of ``month`` that failed or were skipped, counted by channel, status and
    reason, the commonest first."""
    reason = func.coalesce(Message.status_reason, "")
    stmt = (select(Message.channel, Message.status, reason, func.count(Message.id))
            .where(Message.status.in_(PROBLEM_STATUSES), Message.created_at >= month_start(month),
                   Message.created_at < month_start(next_month(month)))
            .group_by(Message.channel, Message.status, reason)
            .order_by(func.count(Message.id).desc(), Message.channel, reason).limit(limit))
    if organisation_id is not None:
        stmt = stmt.where(Message.organisation_id == organisation_id)
    return [Problem(Channel(c), MessageStatus(s), r, int(n)) for c, s, r, n in db.session.execute(stmt)]


@dataclass
class OptOut:
    user: User
    organisation: str | None
    channel: Channel
    at: datetime


def whatsapp_opted_out():
    """Opted out of WhatsApp and not opted in again since (as ``services.channel_problem``)."""
    return (User.whatsapp_opt_out_at.is_not(None)
            & or_(User.whatsapp_opt_in_at.is_(None), User.whatsapp_opt_out_at >= User.whatsapp_opt_in_at))


def opt_outs(organisation_id: int | None = None, limit: int = 50) -> tuple[dict[Channel, int], list[OptOut]]:
    """The people who opted out (SALIR / STOP), per channel: how many, and the latest."""
    sms = User.sms_opt_out_at.is_not(None)
    base = select(User, Organisation.name).outerjoin(Membership, Membership.user_id == User.id).outerjoin(
        Organisation, Organisation.id == Membership.organisation_id)
    if organisation_id is not None:
        base = base.where(Membership.organisation_id == organisation_id)
    counts = {}
    found: list[OptOut] = []
    for channel, condition, column in ((Channel.WHATSAPP, whatsapp_opted_out(), User.whatsapp_opt_out_at),
                                       (Channel.SMS, sms, User.sms_opt_out_at)):
        counts[channel] = db.session.scalar(
            select(func.count()).select_from(base.where(condition).subquery())) or 0
        for user, org_name in db.session.execute(base.where(condition).order_by(column.desc()).limit(limit)):
            found.append(OptOut(user, org_name, channel, getattr(user, column.key)))
    found.sort(key=lambda o: o.at, reverse=True)
    return counts, found[:limit]


@dataclass
class InboundSummary:
    by_channel: dict[Channel, int]
    latest: list[Inbound]
    people: dict[int, User]


def inbound_summary(month: date, limit: int = 30) -> InboundSummary:
    """What people sent us in ``month``: how many per channel, and the latest with what the
    product did with each."""
    window = (Inbound.received_at >= month_start(month), Inbound.received_at < month_start(next_month(month)))
    counts = {Channel(c): int(n) for c, n in db.session.execute(
        select(Inbound.channel, func.count(Inbound.id)).where(*window).group_by(Inbound.channel))}
    latest = list(db.session.scalars(
        select(Inbound).where(*window).order_by(Inbound.received_at.desc(), Inbound.id.desc()).limit(limit)))
    user_ids = {i.user_id for i in latest if i.user_id}
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))} if user_ids else {}
    return InboundSummary(counts, latest, people)


def organisation_id_for(filters: MessageFilters) -> int | None:
    """The organisation the summary is about, when the filter names one by number."""
    text = (filters.organisation or "").strip()
    return int(text) if text.isdigit() else None


# ---------------------------------------------------------------- display


def mask_address(address: str | None) -> str:
    """A number or e-mail partly hidden: "+57310•••4567", "m•••@coop.co"."""
    if not address:
        return "—"
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}•••@{domain}"
    if len(address) <= 7:
        return address[:2] + "•••"
    return f"{address[:6]}•••{address[-4:]}"
