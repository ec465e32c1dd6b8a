"""Keeping sale facts and monthly rollups up to date.

The orders package writes a ``SaleChange`` row in the same transaction as any change to a
part's sale figures (a transition, a delivery, a dispute resolved, actual logistics cost).
``refresh`` drains those rows: for each changed part it subtracts the part's previous facts
from the rollups, recomputes its facts from the raw rows and adds them back. Every dashboard
calls it before reading, so figures are never stale, and the work is proportional to what
changed since the last read. ``rebuild`` recomputes everything from the raw rows in a few
set-based statements (``INSERT ... SELECT``), fast enough for millions of lines; it gives
exactly the rows the incremental path gives (``rebuild_python``, kept as its reference, and
tests/insights/test_rebuild_sql.py prove it on SQLite and PostgreSQL).

On PostgreSQL, concurrent refreshes take disjoint change rows (SKIP LOCKED), and rollup rows
are upserted, so two refreshes never double count a part: a part's change rows are taken
together with a row lock on the part's facts.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import selectinload

from marketplace.accounts.models import Cooperative
from marketplace.core.models import Municipality, bogota_date
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
    for part in parts:
        if part.status not in SALE_STATUSES:
            continue
        order = part.order
        # The day is Bogotá's, also for SQLite's zone-less stored UTC times (an order placed
        # after 19:00 in Bogotá belongs to that day, not the next).
        day = bogota_date(order.placed_at)
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
    """Add ``more`` (the new facts' deltas) to ``into``; where both have a key, the other
    columns (a cooperative's women- or youth-led flag) are the new facts'."""
    for key, row in more.items():
        if key in into:
            for name in sums:
                into[key][name] += row[name]
            into[key].update({name: value for name, value in row.items() if name not in sums})
        else:
            into[key] = dict(row)


def _insert_for(model):
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def _apply(model, keys: tuple[str, ...], deltas: dict[tuple, dict], sums: tuple[str, ...],
           current: set[tuple] = frozenset()) -> None:
    """Add the deltas to the rollup rows (creating them), then drop rows left empty. Rows
    with current facts (``current``) also take their other columns from them, even when
    their sums do not change: a cooperative whose membership changed may no longer be
    women-led, and its sales are requeued for exactly this."""
    if not deltas:
        return
    rows = [dict(zip(keys, key, strict=True)) | values for key, values in deltas.items()
            if key in current or any(values[name] for name in sums)]
    others = [c.name for c in model.__table__.columns if c.name not in (*keys, *sums, "id")]
    for attributes in (True, False):
        chosen = [row for row in rows if (tuple(row[k] for k in keys) in current) == attributes]
        for start in range(0, len(chosen), BATCH):
            stmt = _insert_for(model)
            set_ = {name: getattr(model, name) + getattr(stmt.excluded, name) for name in sums}
            if attributes:
                set_ |= {name: getattr(stmt.excluded, name) for name in others}
            stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=set_)
            db.session.execute(stmt, chosen[start:start + BATCH])
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
    _apply(SalesMonth, SALES_KEY, sales, ("kg", "cop", "logistics_cop", "lines", "parts"),
           {tuple(f[k] for k in SALES_KEY) for f in new})
    _apply(PriceMonth, PRICE_KEY, prices, ("lines", "kg"), {tuple(f[k] for k in PRICE_KEY) for f in new})
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


def rebuild_python() -> int:
    """Recompute every fact and rollup from the raw order rows, part by part in Python
    (``update_parts`` in batches): the reference ``rebuild`` is tested against."""
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


# The same figures as ``facts_of``, computed by the database. Statuses, qualities and the
# dispute outcome are stored as their enum values. Money and kilos must come out to the
# cent and the gram exactly as Decimal arithmetic gives them, rounding half up:
# * PostgreSQL's NUMERIC is exact: round() rounds half away from zero (half up, as all
#   figures here are >= 0) and div() is an exact integer quotient;
# * SQLite stores NUMERIC columns as floating point, so the arithmetic is done on integers
#   (grams, cents, hundred-thousandths of a peso), rounded half up with integer division,
#   and turned back into pesos and kilos only at the end.
_SQL = {
    "postgresql": {
        "day": "CAST(timezone('America/Bogota', o.placed_at) AS DATE)",
        "month": "CAST(date_trunc('month', timezone('America/Bogota', o.placed_at)) AS DATE)",
        "part_kg": "l.quantity_kg",
        "cop": "round(s.kg * s.price_per_kg, 2)",
        # estimate * quantity / part's kilos, in cents, rounded half up: floor(x + 1/2).
        "estimate_share": "div(200 * s.logistics_estimate * s.quantity_kg + s.part_kg, 2 * s.part_kg) / 100",
        "women_led": "(c.members_total > 0 AND c.members_women * 2 >= c.members_total)",
        "youth_led": "(c.members_total > 0 AND c.members_youth * 2 >= c.members_total)",
        "sum_kg": "SUM(kg)",
        "sum_cop": "SUM(cop)",
        "sum_logistics": "SUM(logistics_cop)",
    },
    "sqlite": {
        # Stored as 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC; Bogotá is UTC-5 all year (no DST since 1993).
        "day": "date(o.placed_at, '-5 hours')",
        "month": "date(o.placed_at, '-5 hours', 'start of month')",
        "part_kg": "CAST(round(l.quantity_kg * 1000) AS INTEGER)",  # grams
        # grams x cents = hundred-thousandths of a peso; + 500, // 1000: cents rounded half up.
        "cop": "((CAST(round(s.kg * 1000) AS INTEGER) * CAST(round(s.price_per_kg * 100) AS INTEGER) + 500)"
               " / 1000) / 100.0",
        "estimate_share": "((2 * CAST(round(s.logistics_estimate * 100) AS INTEGER)"
                          " * CAST(round(s.quantity_kg * 1000) AS INTEGER) + s.part_kg) / (2 * s.part_kg)) / 100.0",
        "women_led": "(c.members_total > 0 AND c.members_women * 2 >= c.members_total)",
        "youth_led": "(c.members_total > 0 AND c.members_youth * 2 >= c.members_total)",
        "sum_kg": "SUM(CAST(round(kg * 1000) AS INTEGER)) / 1000.0",
        "sum_cop": "SUM(CAST(round(cop * 100) AS INTEGER)) / 100.0",
        "sum_logistics": "SUM(CAST(round(logistics_cop * 100) AS INTEGER)) / 100.0",
    },
}

_FACTS_SQL = """
INSERT INTO sale_fact (line_id, part_id, order_id, day, month, product_id, municipality_code, department_code,
                       pdet_subregion, cooperative_id, buyer_id, women_led, youth_led, price_per_kg, kg, cop,
                       logistics_cop)
SELECT s.line_id, s.part_id, s.order_id, s.day, s.month, s.product_id, s.municipality_code, m.department_code,
       m.pdet_subregion, s.cooperative_id, s.buyer_id, {women_led}, {youth_led}, s.price_per_kg, s.kg, {cop},
       CASE WHEN s.logistics_actual IS NOT NULL THEN s.logistics_actual
            WHEN s.part_kg > 0 THEN {estimate_share}
            ELSE 0 END
FROM (
    SELECT l.id AS line_id, l.part_id, p.order_id, {day} AS day, {month} AS month, l.product_id,
           l.municipality_code, p.cooperative_id, o.buyer_id, l.price_per_kg, l.quantity_kg, l.logistics_actual,
           p.logistics_estimate,
           -- billable kilos, as orders.billable_kg: a shortfall in dispute as ordered unless decided
           -- for the buyer; none of a rejected line unless staff released its dispute
           CASE WHEN d.kind = 'shortfall' THEN
                     CASE WHEN d.status = 'refunded' THEN l.received_kg ELSE l.quantity_kg END
                WHEN l.quality = 'rejected' AND (d.status IS NULL OR d.status <> 'released') THEN 0
                ELSE COALESCE(l.received_kg, l.quantity_kg) END AS kg,
           SUM({part_kg}) OVER (PARTITION BY l.part_id) AS part_kg
    FROM order_line l
    JOIN order_part p ON p.id = l.part_id
    JOIN purchase_order o ON o.id = p.order_id
    LEFT JOIN dispute d ON d.line_id = l.id
    WHERE p.status IN ({statuses})
) s
JOIN municipality m ON m.code = s.municipality_code
JOIN cooperative c ON c.id = s.cooperative_id
"""

# Department, subregion and the women- and youth-led flags follow from the key (the
# municipality and the cooperative); grouping by them too just carries them along.
_SALES_SQL = """
INSERT INTO sales_month (month, product_id, municipality_code, department_code, pdet_subregion, cooperative_id,
                         buyer_id, women_led, youth_led, kg, cop, logistics_cop, lines, parts)
SELECT month, product_id, municipality_code, department_code, pdet_subregion, cooperative_id, buyer_id,
       women_led, youth_led, {sum_kg}, {sum_cop}, {sum_logistics}, COUNT(*), COUNT(DISTINCT part_id)
FROM sale_fact
GROUP BY month, product_id, municipality_code, cooperative_id, buyer_id, department_code, pdet_subregion,
         women_led, youth_led
"""

_PRICES_SQL = """
INSERT INTO price_month (month, product_id, municipality_code, department_code, pdet_subregion, price_per_kg,
                         lines, kg)
SELECT month, product_id, municipality_code, department_code, pdet_subregion, price_per_kg, COUNT(*), {sum_kg}
FROM sale_fact
GROUP BY month, product_id, municipality_code, price_per_kg, department_code, pdet_subregion
"""


def rebuild() -> int:
    """Recompute every fact and rollup from the raw order rows, in the database. Returns the
    number of order parts that are sales."""
    db.session.flush()
    dialect = db.session.get_bind().dialect.name
    sql = _SQL["postgresql" if dialect == "postgresql" else "sqlite"]
    statuses = ", ".join(f"'{s.value}'" for s in SALE_STATUSES)
    # Changes logged so far are all in the raw rows read below; a change committed later
    # leaves its row, and the next refresh recomputes that part (recomputing is idempotent).
    db.session.execute(delete(SaleChange))
    if dialect == "postgresql":
        # Wait for refreshes under way and make later ones wait for this one, so none adds
        # a part's figures to rollups this rebuild is replacing. (After the delete above:
        # a refresh holds its change rows first, then the facts.)
        db.session.execute(text("LOCK TABLE sale_fact, sales_month, price_month IN EXCLUSIVE MODE"))
    db.session.execute(delete(SaleFact))
    db.session.execute(delete(SalesMonth))
    db.session.execute(delete(PriceMonth))
    db.session.execute(text(_FACTS_SQL.format(statuses=statuses, **sql)))
    db.session.execute(text(_SALES_SQL.format(**sql)))
    db.session.execute(text(_PRICES_SQL.format(**sql)))
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(OrderPart)
                             .where(OrderPart.status.in_(SALE_STATUSES))) or 0


def count_facts() -> int:
    return db.session.scalar(select(func.count()).select_from(SaleFact)) or 0

