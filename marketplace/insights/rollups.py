"""Keeping sale facts and monthly rollups up to date.

The orders package writes a ``SaleChange`` row in the same transaction as any change to a
part's sale figures (a transition, a delivery, a dispute resolved, actual logistics cost).
``refresh`` drains those rows: for each changed part it subtracts the part's previous facts
from the rollups, recomputes its facts from the raw rows and adds them back. Every dashboard
calls it before reading, so figures are never stale, and the work is proportional to what
changed since the last read. ``rebuild`` recomputes everything from the raw rows.

On PostgreSQL, concurrent refreshes take disjoint change rows (SKIP LOCKED), and rollup rows
are upserted, so two refreshes never double count a part: a part's change rows are taken
together with a row lock on the part's facts.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import selectinload

from marketplace.accounts.models import Cooperative
from marketplace.core.models import Municipality
from marketplace.extensions import db
from marketplace.insights.models import PriceMonth, SaleFact, SalesMonth
from marketplace.orders import services as orders
from marketplace.orders.models import OrderLine, OrderPart, PartStatus, SaleChange

SALE_STATUSES = (PartStatus.ACCEPTED, PartStatus.READY, PartStatus.IN_TRANSIT, PartStatus.DELIVERED,
                 PartStatus.SETTLED)
CENTS = Decimal("0.01")
BATCH = 500


def _month(day: date) -> date:
    return day.replace(day=1)


def facts_of(parts: list[OrderPart], places: dict[str, Municipality], coops: dict[int, Cooperative]) -> list[dict]:
    """The fact rows of these parts now (none for a part that is not a sale)."""
    rows = []
    bogota = orders._bogota()
    for part in parts:
        if part.status not in SALE_STATUSES:
            continue
        order = part.order
        day = order.placed_at.astimezone(bogota).date() if order.placed_at.tzinfo else order.placed_at.date()
        coop = coops[part.cooperative_id]
        ordered_kg = sum((ln.quantity_kg for ln in part.lines), Decimal(0))
        for line in part.lines:
            kg = orders.billable_kg(line)
            if line.logistics_actual is not None:
                logistics = line.logistics_actual
            elif ordered_kg:
                logistics = (part.logistics_estimate * line.quantity_kg / ordered_kg).quantize(CENTS, ROUND_HALF_UP)
            else:
                logistics = Decimal(0)
            place = places[line.municipality_code]
            rows.append({
                "line_id": line.id, "part_id": part.id, "order_id": order.id, "day": day, "month": _month(day),
                "product_id": line.product_id, "municipality_code": line.municipality_code,
                "department_code": place.department_code, "pdet_subregion": place.pdet_subregion,
                "cooperative_id": part.cooperative_id, "buyer_id": order.buyer_id,
                "women_led": coop.women_led, "youth_led": coop.youth_led, "price_per_kg": line.price_per_kg,
                "kg": kg, "cop": (kg * line.price_per_kg).quantize(CENTS, ROUND_HALF_UP), "logistics_cop": logistics,
            })
    return rows


SALES_KEY = ("month", "product_id", "municipality_code", "cooperative_id", "buyer_id")
PRICE_KEY = ("month", "product_id", "municipality_code", "price_per_kg")


def _sales_deltas(facts: list[dict], sign: int) -> dict[tuple, dict]:
    out: dict[tuple, dict] = {}
    seen_parts: dict[tuple, set] = defaultdict(set)
    for f in facts:
        key = tuple(f[k] for k in SALES_KEY)
        row = out.setdefault(key, {"department_code": f["department_code"], "pdet_subregion": f["pdet_subregion"],
                                   "women_led": f["women_led"], "youth_led": f["youth_led"], "kg": Decimal(0),
                                   "cop": Decimal(0), "logistics_cop": Decimal(0), "lines": 0, "parts": 0})
        row["kg"] += sign * f["kg"]
        row["cop"] += sign * f["cop"]
        row["logistics_cop"] += sign * f["logistics_cop"]
        row["lines"] += sign
        if f["part_id"] not in seen_parts[key]:
            seen_parts[key].add(f["part_id"])
            row["parts"] += sign
    return out


def _price_deltas(facts: list[dict], sign: int) -> dict[tuple, dict]:
    out: dict[tuple, dict] = {}
    for f in facts:
        key = tuple(f[k] for k in PRICE_KEY)
        row = out.setdefault(key, {"department_code": f["department_code"], "pdet_subregion": f["pdet_subregion"],
                                   "lines": 0, "kg": Decimal(0)})
        row["lines"] += sign
        row["kg"] += sign * f["kg"]
    return out


def _merge(into: dict, more: dict, sums: tuple[str, ...]) -> None:
    for key, row in more.items():
        if key in into:
            for name in sums:
                into[key][name] += row[name]
        else:
            into[key] = dict(row)


def _insert_for(model):
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def _apply(model, keys: tuple[str, ...], deltas: dict[tuple, dict], sums: tuple[str, ...]) -> None:
    """Add the deltas to the rollup rows (creating them), then drop rows left empty."""
    if not deltas:
        return
    rows = [dict(zip(keys, key, strict=True)) | values for key, values in deltas.items()
            if any(values[name] for name in sums)]
    for start in range(0, len(rows), BATCH):
        stmt = _insert_for(model)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys),
            set_={name: getattr(model, name) + getattr(stmt.excluded, name) for name in sums},
        )
        db.session.execute(stmt, rows[start:start + BATCH])
    months = {values_key[0] for values_key in deltas}
    db.session.execute(delete(model).where(model.month.in_(months), model.lines <= 0))


def _load_parts(part_ids: list[int]) -> list[OrderPart]:
    return list(db.session.scalars(
        select(OrderPart).where(OrderPart.id.in_(part_ids))
        .options(selectinload(OrderPart.lines).selectinload(OrderLine.dispute),
                 selectinload(OrderPart.order))))


def _context(parts: list[OrderPart]):
    codes = {ln.municipality_code for p in parts for ln in p.lines}
    places = {m.code: m for m in db.session.scalars(select(Municipality).where(Municipality.code.in_(codes)))}
    coop_ids = {p.cooperative_id for p in parts}
    coops = {c.id: c for c in db.session.scalars(select(Cooperative).where(Cooperative.id.in_(coop_ids)))}
    return places, coops


def update_parts(part_ids: list[int]) -> int:
    """Replace these parts' facts and adjust the rollups by the difference."""
    if not part_ids:
        return 0
    part_ids = sorted(set(part_ids))
    # Lock the parts (PostgreSQL): a concurrent refresh of the same part waits, then sees
    # these facts as the old ones, so no part is ever counted twice.
    db.session.execute(select(OrderPart.id).where(OrderPart.id.in_(part_ids)).order_by(OrderPart.id)
                       .with_for_update())
    old = [{c.name: getattr(f, c.name) for c in SaleFact.__table__.columns}
           for f in db.session.scalars(select(SaleFact).where(SaleFact.part_id.in_(part_ids))
                                       .with_for_update())]
    parts = _load_parts(part_ids)
    new = facts_of(parts, *_context(parts))
    sales = _sales_deltas(old, -1)
    _merge(sales, _sales_deltas(new, 1), ("kg", "cop", "logistics_cop", "lines", "parts"))
    prices = _price_deltas(old, -1)
    _merge(prices, _price_deltas(new, 1), ("lines", "kg"))
    db.session.execute(delete(SaleFact).where(SaleFact.part_id.in_(part_ids)))
    if new:
        db.session.execute(_insert_for(SaleFact), new)
    _apply(SalesMonth, SALES_KEY, sales, ("kg", "cop", "logistics_cop", "lines", "parts"))
    _apply(PriceMonth, PRICE_KEY, prices, ("lines", "kg"))
    return len(part_ids)


def refresh(limit: int = 5000) -> int:
    """Bring facts and rollups up to date with the parts changed since the last refresh."""
    total = 0
    while True:
        stmt = select(SaleChange).order_by(SaleChange.id).limit(limit)
        if db.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        changes = list(db.session.scalars(stmt))
        if not changes:
            return total
        part_ids = {c.part_id for c in changes}
        update_parts(list(part_ids))
        db.session.execute(delete(SaleChange).where(SaleChange.id.in_([c.id for c in changes])))
        db.session.flush()
        total += len(part_ids)
        if len(changes) < limit:
            return total


def rebuild() -> int:
    """Recompute every fact and rollup from the raw order rows."""
    db.session.execute(delete(SaleChange))
    db.session.execute(delete(SaleFact))
    db.session.execute(delete(SalesMonth))
    db.session.execute(delete(PriceMonth))
    ids = list(db.session.scalars(select(OrderPart.id).where(OrderPart.status.in_(SALE_STATUSES))
                                  .order_by(OrderPart.id)))
    for start in range(0, len(ids), BATCH):
        update_parts(ids[start:start + BATCH])
        db.session.flush()
        db.session.expunge_all()
    return len(ids)


def count_facts() -> int:
    return db.session.scalar(select(func.count()).select_from(SaleFact)) or 0

