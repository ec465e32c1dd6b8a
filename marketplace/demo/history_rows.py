"""Past sales written down: the plan of ``history`` turned into the rows the order services
would have left (lots, orders, parts, lines, events, payments and payouts), in a few
multi-row statements."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from marketplace.accounts.models import Buyer, User
from marketplace.core import audit
from marketplace.core.models import BOGOTA, bogota_date
from marketplace.extensions import db

HISTORY_KEY = "demo-history-"  # the idempotency key of past orders, to tell them from today's
DECLINE_REASONS = ["La cosecha se dañó con las lluvias.", "No alcanzamos a reunir el volumen en la fecha.",
                   "La vía al centro de acopio está cerrada por derrumbes.", "El lote no cumplió la humedad pedida."]
CANCEL_REASONS = ["Cambio en el plan de producción.", "El cliente final aplazó su pedido.",
                  "Se compró con otra cooperativa más cerca de la planta."]
CANCEL_REASONS_COOP = ["Perdimos parte de la cosecha por plagas.", "El transportador no pudo subir a la vereda."]


def _insert_ids(model, rows: list[dict]) -> list[int]:
    """Insert rows (all with the same keys) in multi-row statements; their new ids, in order."""
    from sqlalchemy import insert

    if not rows:
        return []
    table = model.__table__
    result = db.session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
    return [row[0] for row in result]



@dataclass
class SaleLine:
    buyer: Buyer
    template: object  # the cooperative's current listing of the product: grade, unit, place
    slug: str
    month: object
    kg: Decimal
    unit: str
    price: Decimal
    received: Decimal | None = None
    outlier: bool = False


@dataclass
class _Pickup:
    id: int
    name: str
    latitude: Decimal
    longitude: Decimal



def write_history(rng: random.Random, planned: list, lines: list[SaleLine], *, buyers: list[Buyer],
                  managers: dict[int, User], purchasers: dict[int, list[User]], admin: User, months: list,
                  now: datetime) -> tuple[int, int]:
    """Write the planned orders (buyer, placed at, payment method, lines by cooperative and each
    part's fate: sale, declined, cancelled or unpaid) with the past lots they came from.
    Returns (orders, lines)."""
    from datetime import UTC, time, timedelta

    from flask import current_app
    from sqlalchemy import insert

    from marketplace.catalog import units
    from marketplace.catalog.models import Listing, ListingChange, ListingStatus
    from marketplace.core.errors import DomainError
    from marketplace.logistics import services as logistics
    from marketplace.orders import services as orders
    from marketplace.orders.models import (
        Order,
        OrderLine,
        OrderPart,
        PartEvent,
        PartStatus,
        PaymentMethod,
        PaymentStatus,
        PayoutStatus,
        Quality,
    )

    bogota = BOGOTA
    today = bogota_date(now)
    fee_percent, coop_percent = orders.fee_percent(), orders.coop_fee_percent()
    accept_hours = current_app.config["ORDER_ACCEPT_HOURS"]
    card_minutes = current_app.config["CARD_PAYMENT_MINUTES"]
    terms = current_app.config["INVOICE_TERMS_DAYS"]
    payout_days = current_app.config["PAYOUT_DAYS"]

    # Past lots: one per cooperative, product and quarter, closed since. Kilos of parts
    # declined, cancelled or never paid went back to their lot, as the order services return
    # them, so a lot's quantity is what it still has plus what its sales hold.
    lots: dict[tuple, list[tuple[datetime, SaleLine]]] = {}
    returned: set[int] = set()  # id(line) of lines whose part closed without a sale
    for _buyer, placed, _method, parts, fates in planned:
        for coop_id, part_lines in parts.items():
            for line in part_lines:
                quarter = (line.month.year, (line.month.month - 1) // 3)
                lots.setdefault((line.template.id, quarter), []).append((placed, line))
                if fates[coop_id] != "sale":
                    returned.add(id(line))
    lot_rows: list[dict] = []
    lot_of: dict[int, int] = {}  # id(line) -> its lot's position in lot_rows
    for (_template_id, _quarter), sales in sorted(lots.items(), key=lambda item: (item[0][1], item[0][0])):
        template = sales[0][1].template
        first = min(p for p, _ln in sales).astimezone(bogota).date()
        last = max(p for p, _ln in sales)
        available_from = first - timedelta(days=rng.randint(3, 12))
        usual = sorted(ln.price for _p, ln in sales if not ln.outlier) or [sales[0][1].price]
        stated = template.unit_kg if units.UNITS[template.unit].needs_weight else None
        per_unit = (usual[len(usual) // 2] * units.unit_weight(template.unit, stated)).quantize(Decimal("1"))
        lot_rows.append({
            "cooperative_id": template.cooperative_id, "product_id": template.product_id,
            "grade_id": template.grade_id, "status": ListingStatus.ACTIVE, "unit": template.unit,
            "unit_kg": template.unit_kg, "quantity_kg": sum((ln.kg for _p, ln in sales), Decimal(0)),
            "available_kg": sum((ln.kg for _p, ln in sales if id(ln) in returned), Decimal(0)),
            "min_order_kg": None, "price_per_unit": per_unit,
            "price_per_kg": units.price_per_kg(per_unit, template.unit, stated),
            "harvest_date": available_from - timedelta(days=rng.randint(0, 6)), "available_from": available_from,
            "available_until": min(last.astimezone(bogota).date() + timedelta(days=rng.randint(3, 12)),
                                   today - timedelta(days=1)),
            "collection_point_id": template.collection_point_id,
            "certifications": list(template.certifications or []), "description": None,
            "municipality_code": template.municipality_code, "department_code": template.department_code,
            "pdet_subregion": template.pdet_subregion, "latitude": template.latitude,
            "longitude": template.longitude, "created_by_id": managers[template.cooperative_id].id,
            "created_at": datetime.combine(available_from, time(7, rng.randint(0, 59)), bogota).astimezone(UTC),
            "updated_at": last,
        })
        for _p, ln in sales:
            lot_of[id(ln)] = len(lot_rows) - 1

    # Logistics as quoted when the order was placed: the transport model from the
    # collection point to the site, or a flat per-kg estimate where it has no answer.
    points = {ln.template.collection_point_id: ln.template for ln in lines}
    sites = {s.id: s for b in buyers for s in b.delivery_sites if s.active}
    try:
        quoter = logistics.Quoter.load(list(points), list(sites))
    except DomainError:
        quoter = None

    def estimate(template, site, kg: Decimal) -> tuple[Decimal, Decimal | None, str | None]:
        if quoter is not None:
            try:
                quoted = quoter.quote(_Pickup(template.collection_point_id, "", template.latitude,
                                              template.longitude), site, kg)
                return quoted.total_cop, quoted.road_km, quoted.main_mode
            except DomainError:
                pass
        return (kg * Decimal(220)).quantize(Decimal("1")), None, None

    cents = Decimal("0.01")

    def pct(amount: Decimal, percent: Decimal) -> Decimal:
        return (amount * percent / Decimal(100)).quantize(Decimal("1"), ROUND_HALF_UP)

    def bogota_time(day, earliest: int = 8, latest: int = 16) -> datetime:
        return datetime.combine(day, time(rng.randint(earliest, latest), rng.randint(0, 59)), bogota).astimezone(UTC)

    def daytime(moment: datetime) -> datetime:
        """The moment, or the next morning's if it falls at night (never earlier)."""
        local = moment.astimezone(bogota)
        if 6 <= local.hour < 19:
            return moment
        day = local.date() if local.hour < 6 else local.date() + timedelta(days=1)
        return bogota_time(day, 6, 9)

    order_rows, part_rows = [], []  # part_rows: (order position, part row, its line rows, its events)
    transfers = 0
    for n, (buyer, placed, method, parts, fates) in enumerate(planned, start=1):
        placer = rng.choice(purchasers[buyer.id])
        active_sites = [s for s in buyer.delivery_sites if s.active]
        site = active_sites[0] if len(active_sites) == 1 or rng.random() < 0.75 else rng.choice(active_sites[1:])
        placed_day = placed.astimezone(bogota).date()
        window_start = placed_day + timedelta(days=rng.randint(2, 5))
        window_end = window_start + timedelta(days=rng.randint(4, 10))
        card = method == PaymentMethod.CARD
        card_paid = card and fates[next(iter(fates))] != "unpaid"
        order = {
            "buyer_id": buyer.id, "delivery_site_id": site.id, "placed_by_id": placer.id, "placed_at": placed,
            "window_start": window_start, "window_end": window_end, "note": None, "payment_method": method,
            "payment_status": PaymentStatus.PAID if card_paid else PaymentStatus.PENDING,
            "fee_percent": fee_percent, "amount_paid": Decimal(0), "refunded_total": Decimal(0),
            "pay_by": placed + timedelta(minutes=card_minutes) if card else None,
            "idempotency_key": f"{HISTORY_KEY}{n:05d}", "request_hash": None,
            "stripe_payment_intent_id": f"pi_demo_hist_{n:05d}" if card_paid else None,
            "stripe_client_secret": None,
            "invoice_due_date": None if card else placed_day + timedelta(days=terms),
            "paid_at": placed + timedelta(minutes=rng.randint(3, 50)) if card_paid else None,
            "bank_reference": None, "marked_paid_by_id": None,
        }
        these = []
        for coop_id, part_lines in parts.items():
            kg = sum((ln.kg for ln in part_lines), Decimal(0))
            cost, road_km, mode = estimate(part_lines[0].template, site, kg)
            goods = sum(((ln.kg * ln.price).quantize(cents, ROUND_HALF_UP) for ln in part_lines), Decimal(0))
            part = {
                "cooperative_id": coop_id, "status": PartStatus.PLACED,
                "respond_by": placed + timedelta(hours=accept_hours), "goods_amount": goods,
                "logistics_estimate": cost, "logistics_mode": mode, "road_km": road_km,
                "fee_amount": pct(goods, fee_percent), "coop_fee_percent": coop_percent,
                "logistics_borne": Decimal(0), "logistics_actual": None, "payout_status": PayoutStatus.PENDING,
                "payout_due_date": None, "payout_reference": None, "decline_reason": None, "updated_at": placed,
                "billed_amount": None,
            }
            line_rows = []
            for ln in part_lines:
                stated = ln.template.unit_kg if units.UNITS[ln.unit].needs_weight else None
                line_rows.append({
                    "lot": lot_of[id(ln)], "product_id": ln.template.product_id, "grade_id": ln.template.grade_id,
                    "municipality_code": ln.template.municipality_code,
                    "collection_point_id": ln.template.collection_point_id, "quantity_kg": ln.kg, "unit": ln.unit,
                    "unit_kg": units.unit_weight(ln.unit, stated), "price_per_kg": ln.price, "received_kg": None,
                    "quality": Quality.PENDING, "rejection_reason": None, "rejection_photo_key": None,
                    "logistics_actual": None,
                })
            manager = managers[coop_id]
            steps = [(None, PartStatus.PLACED, placer, placed, None)]
            fate = fates[coop_id]
            answered = daytime(placed + timedelta(hours=rng.uniform(1, 30)))
            if fate == "unpaid":
                steps.append((PartStatus.PLACED, PartStatus.CANCELLED, None,
                              placed + timedelta(minutes=card_minutes + rng.randint(2, 14)), "unpaid"))
            elif fate == "declined":
                part["decline_reason"] = rng.choice(DECLINE_REASONS)
                steps.append((PartStatus.PLACED, PartStatus.DECLINED, manager, answered, part["decline_reason"]))
            elif fate == "cancelled" and rng.random() < 0.5:
                steps.append((PartStatus.PLACED, PartStatus.CANCELLED, placer, answered, rng.choice(CANCEL_REASONS)))
            elif fate == "cancelled":
                steps.append((PartStatus.PLACED, PartStatus.ACCEPTED, manager, answered, None))
                steps.append((PartStatus.ACCEPTED, PartStatus.CANCELLED, manager,
                              daytime(answered + timedelta(days=rng.uniform(0.5, 2))), rng.choice(CANCEL_REASONS_COOP)))
            else:
                # Ready, on the road and delivered in working hours, not before the window
                # opens (every order was placed ten days or more before today).
                steps.append((PartStatus.PLACED, PartStatus.ACCEPTED, manager, answered, None))
                ready = daytime(answered + timedelta(hours=rng.uniform(4, 72)))
                left = daytime(ready + timedelta(hours=rng.uniform(2, 30)))
                arrived = daytime(max(left + timedelta(hours=rng.uniform(18, 60)), bogota_time(window_start)))
                steps.append((PartStatus.ACCEPTED, PartStatus.READY, manager, ready, None))
                steps.append((PartStatus.READY, PartStatus.IN_TRANSIT, manager, left, None))
                steps.append((PartStatus.IN_TRANSIT, PartStatus.DELIVERED, placer, arrived, None))
                if rng.random() < 0.35:  # mules or a motorbike to the road, paid by the cooperative
                    part["logistics_borne"] = Decimal(round(float(kg) * rng.randint(15, 60), -3))
                for ln, row in zip(part_lines, line_rows, strict=True):
                    row["received_kg"] = ln.received if ln.received is not None else ln.kg
                    row["quality"] = Quality.ACCEPTED
            part["status"] = steps[-1][1]
            if part["status"] in (PartStatus.DECLINED, PartStatus.CANCELLED):
                part["payout_status"] = PayoutStatus.NONE
            these.append((part, line_rows, steps))
        order["goods_total"] = sum((p["goods_amount"] for p, _l, _s in these), Decimal(0))
        order["logistics_total"] = sum((p["logistics_estimate"] for p, _l, _s in these), Decimal(0))
        order["fee_total"] = sum((p["fee_amount"] for p, _l, _s in these), Decimal(0))
        order["total"] = order["goods_total"] + order["logistics_total"] + order["fee_total"]
        sales = [(p, rows, steps) for p, rows, steps in these if p["status"] == PartStatus.DELIVERED]
        if not sales:
            order["payment_status"] = PaymentStatus.CANCELLED
            order["paid_at"] = order["stripe_payment_intent_id"] = None
        elif card:
            order["amount_paid"] = order["total"]
            for p, _rows, _steps in these:  # the charge covered every part as placed
                p["billed_amount"] = p["goods_amount"] + p["logistics_estimate"] + p["fee_amount"]
        else:
            # The invoice, paid some days after the last delivery (or still open).
            paid = bogota_time(max(steps[-1][3] for _p, _r, steps in sales).astimezone(bogota).date()
                               + timedelta(days=rng.randint(4, max(5, terms - 3))), 9, 16)
            if paid < now - timedelta(hours=1):
                due = Decimal(0)
                for p, _rows, _steps in these:
                    p["billed_amount"] = Decimal(0)  # an invoice covers what was sold when it is paid
                for p, rows, _steps in sales:
                    gross = sum(((r["received_kg"] * r["price_per_kg"]).quantize(cents, ROUND_HALF_UP)
                                 for r in rows), Decimal(0))
                    p["billed_amount"] = gross + p["logistics_estimate"] + pct(gross, fee_percent)
                    due += p["billed_amount"]
                order.update(payment_status=PaymentStatus.PAID, paid_at=paid, marked_paid_by_id=admin.id,
                             bank_reference=f"BANCOLOMBIA-{paid.astimezone(bogota):%y%m%d}{n % 1000:03d}",
                             amount_paid=due)
        # Payouts: due some days after delivery and payment, then transferred by staff.
        for part, _rows, steps in sales:
            if order["payment_status"] == PaymentStatus.PAID:
                owed_from = max(steps[-1][3], order["paid_at"])
                part["payout_status"] = PayoutStatus.DUE
                part["payout_due_date"] = owed_from.astimezone(bogota).date() + timedelta(days=payout_days)
                settled = max(bogota_time(part["payout_due_date"] - timedelta(days=rng.randint(0, 2)), 9, 15),
                              owed_from + timedelta(hours=2))
                if settled < now - timedelta(hours=1):
                    transfers += 1
                    reference = f"TRF-{settled.astimezone(bogota):%y%m%d}-{transfers:04d}"
                    part.update(status=PartStatus.SETTLED, payout_status=PayoutStatus.PAID,
                                payout_reference=reference)
                    steps.append((PartStatus.DELIVERED, PartStatus.SETTLED, admin, settled, reference))
        for part, rows, steps in these:
            part["updated_at"] = steps[-1][3]
            part_rows.append((len(order_rows), part, rows, steps))
        order_rows.append(order)

    # Multi-row INSERTs that give back the new ids in order: a few statements, not one per row.
    lot_ids = _insert_ids(Listing, lot_rows)
    order_ids = _insert_ids(Order, order_rows)
    part_ids = _insert_ids(OrderPart, [dict(part, order_id=order_ids[position])
                                       for position, part, _rows, _steps in part_rows])
    all_lines = [{**{k: v for k, v in row.items() if k != "lot"}, "part_id": part_id, "listing_id": lot_ids[row["lot"]]}
                 for part_id, (_position, _part, rows, _steps) in zip(part_ids, part_rows, strict=True)
                 for row in rows]
    db.session.execute(insert(OrderLine.__table__), all_lines)
    db.session.execute(insert(PartEvent.__table__), [
        {"part_id": part_id, "from_status": before.value if before else None, "to_status": after.value,
         "actor_id": actor.id if actor else None, "occurred_at": moment, "note": note}
        for part_id, (_position, _part, _rows, steps) in zip(part_ids, part_rows, strict=True)
        for before, after, actor, moment, note in steps])
    db.session.execute(insert(ListingChange.__table__), [
        {"listing_id": lot_id, "changed_at": row["created_at"], "actor_id": row["created_by_id"],
         "price_per_kg_before": None, "price_per_kg_after": row["price_per_kg"], "quantity_kg_before": None,
         "quantity_kg_after": row["quantity_kg"], "reason": "created"}
        for lot_id, row in zip(lot_ids, lot_rows, strict=True)])
    audit.record("demo.history_seeded", "demo", "history", actor=admin,
                 after={"orders": len(order_rows), "lines": len(all_lines), "lots": len(lot_rows),
                        "from": months[0].isoformat(), "to": months[-1].isoformat()}, note="demo")
    return len(order_rows), len(all_lines)
