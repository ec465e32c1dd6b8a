"""Work frozen by a suspension. While a part's cooperative or its buyer is suspended, the part
is on hold: nobody moves it (accept, decline, ready, ship, deliver, disputes, settlement,
shipments and route plans), from the web, the API, WhatsApp or SMS replies or the sweep,
except staff, who may cancel it until the produce leaves (its kilos go back to the lot as in
any cancellation). The other side of each open part is told when it goes on hold and when
it goes on; the time a part waited is given back to its answer and payment deadlines.

Accounts tells of a suspension through its notice hook (``account_notice``, registered at
start-up); accounts never imports orders.

Functions flush nothing and leave the commit to the caller.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from marketplace.accounts.models import Organisation, OrgStatus, User
from marketplace.core.errors import Conflict
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.messaging.models import Notice
from marketplace.messaging.services import notify
from marketplace.orders.common import _aware
from marketplace.orders.models import Order, OrderPart, PartStatus, PaymentMethod, PaymentStatus

# Parts whose work is still going on: the other side is told when they go on hold.
OPEN = (PartStatus.PLACED, PartStatus.ACCEPTED, PartStatus.READY, PartStatus.IN_TRANSIT)
# Staff may cancel a frozen part until the produce leaves.
STAFF_CANCELLABLE = (PartStatus.PLACED, PartStatus.ACCEPTED, PartStatus.READY)


class Frozen(Conflict):
    """The part is on hold because its cooperative or buyer is suspended (409)."""


def suspended_party(part: OrderPart) -> Organisation | None:
    """The suspended organisation holding the part (its cooperative first, then its buyer), or
    None. Reads the statuses from the database, not from what the session remembers."""
    ids = (part.cooperative_id, part.order.buyer_id)
    suspended = set(db.session.scalars(select(Organisation.id).where(
        Organisation.id.in_(ids), Organisation.status == OrgStatus.SUSPENDED)))
    for org_id in ids:
        if org_id in suspended:
            return db.session.get(Organisation, org_id)
    return None


def is_frozen(part: OrderPart) -> bool:
    return suspended_party(part) is not None


def frozen_message(actor: User | None, suspended: Organisation) -> str:
    """What the person who tried to move a frozen part reads."""
    org = actor.organisation if actor is not None else None
    if actor is not None and actor.is_admin:
        return _l("Este pedido está en pausa porque %(org)s está suspendida: mientras tanto solo se puede cancelar.",
                  org=suspended.name)
    if org is not None and org.id == suspended.id:
        return _l("Su organización está suspendida: sus pedidos en curso están en pausa y no se pueden cambiar "
                  "hasta que la reactiven. El equipo del programa puede ayudarle.")
    return _l("Este pedido está en pausa porque %(org)s está suspendida: nadie puede cambiarlo hasta que la "
              "reactiven. El equipo del programa puede ayudarle.", org=suspended.name)


def check(actor: User | None, part: OrderPart, action: str) -> Organisation | None:
    """Refuse ``action`` on a frozen part, unless it is staff cancelling it. Returns the
    suspended organisation (for the staff cancellation allowed through), or None."""
    suspended = suspended_party(part)
    if suspended is None:
        return None
    if action == "cancel" and actor is not None and actor.is_admin:
        return suspended
    raise Frozen(frozen_message(actor, suspended))


def check_parts(actor: User | None, parts: list[OrderPart]) -> None:
    """Refuse work that moves several parts (a shipment, a route plan) when any is frozen."""
    for part in parts:
        suspended = suspended_party(part)
        if suspended is not None:
            raise Frozen(_l("Pedido %(n)s: %(why)s", n=part.order.number, why=frozen_message(actor, suspended)))


def check_buyer(actor: User | None, order: Order) -> None:
    """Refuse a payment for an order whose buyer is suspended (its whole order is on hold)."""
    buyer = order.buyer
    status = db.session.scalar(select(Organisation.status).where(Organisation.id == buyer.id))
    if status == OrgStatus.SUSPENDED:
        raise Frozen(frozen_message(actor, buyer))


def suspended_ids():
    """A subquery of the suspended organisations' ids (lists leave their parts out)."""
    return select(Organisation.id).where(Organisation.status == OrgStatus.SUSPENDED).scalar_subquery()


def unfrozen():
    """A condition on ``OrderPart`` joined with ``Order``: neither side is suspended."""
    return ~or_(OrderPart.cooperative_id.in_(suspended_ids()), Order.buyer_id.in_(suspended_ids()))


# ----------------------------------------------------------- telling the other side


def _open_parts(org: Organisation) -> list[tuple[OrderPart, str]]:
    """The organisation's open parts, each with the side it is on ("coop" or "buyer")."""
    rows = db.session.execute(
        select(OrderPart, Order.buyer_id).join(Order, Order.id == OrderPart.order_id)
        .where(OrderPart.status.in_(OPEN), or_(OrderPart.cooperative_id == org.id, Order.buyer_id == org.id))
        .order_by(OrderPart.id)).all()
    return [(part, "coop" if part.cooperative_id == org.id else "buyer") for part, _buyer_id in rows]


def account_notice(kind: str, *, organisation_id: int | None = None, payload: dict | None = None, **_ignored) -> None:
    """Registered with accounts' notice writers (accounts sits below orders): when staff
    suspend or reinstate an organisation (``org_status``), its open parts go on hold or on."""
    if kind != "org_status" or organisation_id is None:
        return
    org = db.session.get(Organisation, organisation_id)
    status = (payload or {}).get("status")
    if org is None or status != org.status.value:
        return
    if org.status == OrgStatus.SUSPENDED:
        put_on_hold(org)
    elif org.status == OrgStatus.VERIFIED:
        resume(org)


def put_on_hold(org: Organisation, now: datetime | None = None) -> None:
    """Tell the other side of each of the suspended organisation's open parts that it is on
    hold. The ``on_hold`` notice is also the record of when the part's wait began."""
    now = now or utcnow()
    for part, side in _open_parts(org):
        other = part.order.buyer_id if side == "coop" else part.cooperative_id
        notify("on_hold", subject_id=part.id, organisation_id=other, now=now, payload={"suspended": side})


def resume(org: Organisation, now: datetime | None = None) -> None:
    """The organisation was reinstated: each of its parts put on hold gets back the time it
    waited (to answer, and to pay by card when the buyer was the one suspended), and the
    other side is told it goes on, unless that other side is suspended itself."""
    now = now or utcnow()
    parts = _open_parts(org)
    held = _held_since([part.id for part, _side in parts])
    resumed_orders: set[int] = set()
    for part, side in parts:
        since = held.get((part.id, side))
        if since is None:
            continue  # never put on hold (the organisation was not suspended)
        waited = now - _aware(since)
        if waited.total_seconds() > 0:
            _give_back(part, side, waited, resumed_orders)
        if suspended_party(part) is not None:
            continue  # the other side is suspended too: still on hold
        other = part.order.buyer_id if side == "coop" else part.cooperative_id
        notify("resumed", subject_id=part.id, organisation_id=other, now=now, payload={"suspended": side})


def _held_since(part_ids: list[int]) -> dict[tuple[int, str], datetime]:
    """For each (part, suspended side) still on hold: when its ``on_hold`` notice was written
    (a later ``resumed`` notice for the same side ends the hold)."""
    if not part_ids:
        return {}
    held: dict[tuple[int, str], datetime] = {}
    for notice in db.session.scalars(select(Notice).where(Notice.kind.in_(("on_hold", "resumed")),
                                                          Notice.subject_id.in_(part_ids)).order_by(Notice.id)):
        key = (notice.subject_id, (notice.payload or {}).get("suspended"))
        if notice.kind == "on_hold":
            held[key] = notice.created_at
        else:
            held.pop(key, None)
    return held


def _give_back(part: OrderPart, side: str, waited, resumed_orders: set[int]) -> None:
    if part.status == PartStatus.PLACED:
        part.respond_by = _aware(part.respond_by) + waited
        # The reminders count from the new deadline.
        part.reminded_12h_at = part.reminded_2h_at = None
    order = part.order
    if side == "buyer" and order.id not in resumed_orders and order.payment_method == PaymentMethod.CARD \
            and order.payment_status in (PaymentStatus.PENDING, PaymentStatus.FAILED) and order.pay_by is not None:
        order.pay_by = _aware(order.pay_by) + waited
        resumed_orders.add(order.id)
