"""The figures programme staff and buyers read: trends, anomalies, impact indicators, the
buyer's sourcing report and the audit trail. Every reader first brings the rollups up to
date (``rollups.refresh``), then reads them; nothing here changes orders or listings.

Definitions (also on the pages):
* price paid: the order line's price per kg; its median and quartiles are over sale lines;
* volume and income: kilos and pesos the buyer pays for (after delivery, what was accepted);
* farm-gate share: goods / (goods + logistics) of the landed price; last-mile share: the rest;
* alliances: distinct buyer-cooperative pairs with a sale; repeat: with sales in two or more
  months of the period.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, Row, case, cast, distinct, func, insert, literal, or_, select

from marketplace.accounts.models import Buyer, Organisation, User
from marketplace.catalog import sipsa
from marketplace.catalog.display import product_name
from marketplace.catalog.models import Product
from marketplace.core import audit
from marketplace.core.errors import DomainError, Forbidden, NotFound
from marketplace.core.models import (
    BOGOTA,
    AuditEvent,
    Municipality,
    bogota_date,
    bogota_day_start,
    utcnow,
)
from marketplace.core.text import clean_text
from marketplace.extensions import db
from marketplace.insights import indicators, rollups
from marketplace.insights.models import (
    IndicatorTarget,
    PriceMonth,
    SaleFact,
    SalesMonth,
    TransactionReview,
)
from marketplace.orders import services as orders
from marketplace.orders.models import OrderLine

CENTS = Decimal("0.01")
MAX_MONTHS = 120
FLAG_LOW, FLAG_HIGH = Decimal("0.5"), Decimal("2")
REVIEW_OUTCOMES = {
    "justified": _l("Justificado (calidad, volumen o acuerdo explican el precio)"),
    "suspicious": _l("Sospechoso: se remite a verificación"),
    "error": _l("Error de registro"),
}
# The bands of the WFP's Alert for Price Spikes and FAO GIEWS's Indicator of Price Anomalies,
# in the words those agencies use in Spanish (PMA: normal, estrés, alerta, crisis).
BAND_LABELS = {
    "alps": {"normal": _l("normal"), "stress": _l("estrés"), "alert": _l("alerta"), "crisis": _l("crisis")},
    "ipa": {"normal": _l("normal"), "moderate": _l("moderadamente alto"), "high": _l("anormalmente alto")},
}
FLAG_LABELS = {"low": _l("muy bajo"), "high": _l("muy alto")}


def band_label(index: str, band: str | None) -> str:
    """An ALPS or IPA band in the reader's language ("estrés"); "—" when there is none."""
    if not band:
        return "—"
    return str(BAND_LABELS.get(index, {}).get(band, band))


INDICATORS = {
    "income_cop": _l("Ingresos que llegan a las cooperativas (COP)"),
    "volume_kg": _l("Volumen vendido (kg)"),
    "cooperatives": _l("Cooperativas con ventas"),
    "pdet_municipalities": _l("Municipios PDET con ventas"),
    "pdet_subregions": _l("Subregiones PDET con ventas"),
    "women_share": _l("Participación de cooperativas lideradas por mujeres en los ingresos"),
    "youth_share": _l("Participación de cooperativas lideradas por jóvenes en los ingresos"),
    "alliances": _l("Alianzas comprador-cooperativa"),
    "repeat_alliances": _l("Alianzas con compras repetidas"),
}
SHARE_INDICATORS = ("women_share", "youth_share")


def _ratio(part: Decimal, whole: Decimal) -> Decimal | None:
    return (part / whole).quantize(Decimal("0.0001"), ROUND_HALF_UP) if whole else None


# ------------------------------------------------------------------- access


def require_staff(user: User) -> None:
    if not user.is_staff:
        raise Forbidden(_l("Solo el equipo del programa ve estos datos."))


# ------------------------------------------------------------------- filters


def month_of(value: date) -> date:
    return value.replace(day=1)


def add_months(value: date, n: int) -> date:
    index = value.year * 12 + value.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def months_between(start: date, end: date) -> list[date]:
    out, current = [], start
    while current <= end:
        out.append(current)
        current = add_months(current, 1)
    return out


def parse_month(text: str | None, name: str) -> date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        year, month = text[:7].split("-")
        return date(int(year), int(month), 1)
    except (ValueError, TypeError):
        raise DomainError(_l("Escriba el mes como AAAA-MM, por ejemplo 2026-03."), name) from None


@dataclass
class Filters:
    start: date
    end: date
    product: Product | None = None
    department: str | None = None
    subregion: str | None = None
    municipality: Municipality | None = None

    @property
    def months(self) -> list[date]:
        return months_between(self.start, self.end)

    @property
    def region_label(self) -> str:
        if self.municipality is not None:
            return self.municipality.label
        if self.subregion:
            return f"PDET {self.subregion}"
        if self.department:
            name = db.session.scalar(select(Municipality.department_name)
                                     .where(Municipality.department_code == self.department).limit(1))
            return name or self.department
        return str(_l("Todo el país"))

    def query(self) -> dict:
        """The filters as URL parameters (for links and exports)."""
        out = {"desde": self.start.strftime("%Y-%m"), "hasta": self.end.strftime("%Y-%m")}
        if self.product is not None:
            out["producto"] = self.product.id
        if self.municipality is not None:
            out["municipio"] = self.municipality.code
        elif self.subregion:
            out["subregion"] = self.subregion
        elif self.department:
            out["departamento"] = self.department
        return out


def make_filters(start: date | None, end: date | None, product_id: int | None = None, department: str | None = None,
                 subregion: str | None = None, municipality: str | None = None, *, today: date | None = None,
                 default_months: int = 12) -> Filters:
    """Check the period and region; unknown products or regions and periods in the wrong
    order are refused with a message (nothing is read)."""
    today = today or bogota_date()
    end = month_of(end) if end else month_of(today)
    start = month_of(start) if start else add_months(end, -(default_months - 1))
    if start > end:
        raise DomainError(_l("El periodo está al revés: «desde» debe ser anterior o igual a «hasta»."), "start")
    if len(months_between(start, end)) > MAX_MONTHS:
        raise DomainError(_l("El periodo puede ser de hasta %(n)d meses.", n=MAX_MONTHS), "start")
    if start.year < 2000 or end.year > 2100:
        raise DomainError(_l("Elija un periodo entre 2000 y 2100."), "start")
    filters = Filters(start, end)
    if product_id is not None:
        filters.product = db.session.get(Product, product_id)
        if filters.product is None:
            raise DomainError(_l("Ese producto no existe."), "product")
    if municipality:
        filters.municipality = db.session.get(Municipality, str(municipality)[:5])
        if filters.municipality is None:
            raise DomainError(_l("Ese municipio no existe."), "municipality")
    elif subregion:
        known = db.session.scalar(select(Municipality.code).where(Municipality.pdet_subregion == subregion).limit(1))
        if known is None:
            raise DomainError(_l("Esa subregión PDET no existe."), "subregion")
        filters.subregion = subregion
    elif department:
        known = db.session.scalar(select(Municipality.code).where(Municipality.department_code == department).limit(1))
        if known is None:
            raise DomainError(_l("Ese departamento no existe."), "department")
        filters.department = department
    return filters


def _conditions(model, f: Filters, *, product: bool = True) -> list:
    conds = [model.month >= f.start, model.month <= f.end]
    if product and f.product is not None:
        conds.append(model.product_id == f.product.id)
    return conds + _region_conditions(model, f)


def _region_conditions(model, f: Filters) -> list:
    if f.municipality is not None:
        return [model.municipality_code == f.municipality.code]
    if f.subregion:
        return [model.pdet_subregion == f.subregion]
    if f.department:
        return [model.department_code == f.department]
    return []


# ------------------------------------------------------------------- trends


@dataclass
class TrendMonth:
    month: date
    median: Decimal | None = None
    q1: Decimal | None = None
    q3: Decimal | None = None
    kg: Decimal = Decimal(0)
    cop: Decimal = Decimal(0)
    logistics_cop: Decimal = Decimal(0)
    parts: int = 0
    lines: int = 0
    sipsa: Decimal | None = None

    @property
    def farm_gate_share(self) -> Decimal | None:
        return _ratio(self.cop, self.cop + self.logistics_cop)

    @property
    def last_mile_share(self) -> Decimal | None:
        return _ratio(self.logistics_cop, self.cop + self.logistics_cop)


@dataclass
class SipsaSeries:
    product: str
    market: str
    distance_km: float
    months: list[tuple[date, Decimal]]


@dataclass
class Trends:
    filters: Filters
    months: list[TrendMonth]
    sipsa: SipsaSeries | None = None

    @property
    def total_kg(self) -> Decimal:
        return sum((m.kg for m in self.months), Decimal(0))

    @property
    def total_cop(self) -> Decimal:
        return sum((m.cop for m in self.months), Decimal(0))


def price_quartiles(f: Filters) -> dict[date, indicators.Summary]:
    """Each month's median and quartiles of the price paid (one weight per sale line), in SQL.

    The definition is :func:`indicators.weighted_median_iqr`'s (inverted CDF): the k-th
    quartile is the lowest price whose running count of lines c satisfies 4c >= k * n.
    Window sums over the monthly price counts give c and n, so only three prices a month
    leave the database instead of every distinct price paid (tens of thousands a year for
    a busy product). Counts are integers: the comparison is exact on every database.
    """
    # n as a plain integer, so PostgreSQL's window sums stay in bigint rather than numeric.
    counts = (select(PriceMonth.month, PriceMonth.price_per_kg.label("price"),
                     cast(func.sum(PriceMonth.lines), Integer).label("n"))
              .where(*_conditions(PriceMonth, f)).group_by(PriceMonth.month, PriceMonth.price_per_kg)
              .having(func.sum(PriceMonth.lines) > 0).subquery("counts"))
    running = select(
        counts.c.month, counts.c.price,
        func.sum(counts.c.n).over(partition_by=counts.c.month, order_by=counts.c.price,
                                  rows=(None, 0)).label("c"),
        func.sum(counts.c.n).over(partition_by=counts.c.month).label("total"),
    ).subquery("running")

    def lowest_reaching(k: int):
        return func.min(case((4 * running.c.c >= k * running.c.total, running.c.price)), type_=PriceMonth.price_per_kg.type)

    rows = db.session.execute(select(running.c.month, lowest_reaching(1), lowest_reaching(2), lowest_reaching(3))
                              .group_by(running.c.month))
    return {month: indicators.Summary(median, q1, q3) for month, q1, median, q3 in rows}


def trends(f: Filters) -> Trends:
    """Per month: median and quartiles of the price paid, volume, income, order parts, the
    farm-gate and last-mile shares, and the SIPSA wholesale series nearest the region."""
    if f.product is None:
        raise DomainError(_l("Elija un producto."), "product")
    rollups.refresh()
    by_month = {m: TrendMonth(m) for m in f.months}
    rows = db.session.execute(
        select(SalesMonth.month, func.sum(SalesMonth.kg), func.sum(SalesMonth.cop), func.sum(SalesMonth.logistics_cop),
               func.sum(SalesMonth.parts), func.sum(SalesMonth.lines))
        .where(*_conditions(SalesMonth, f)).group_by(SalesMonth.month))
    for month, kg, cop, logistics_cop, parts, lines in rows:
        row = by_month[month]
        row.kg, row.cop, row.logistics_cop = Decimal(kg or 0), Decimal(cop or 0), Decimal(logistics_cop or 0)
        row.parts, row.lines = int(parts or 0), int(lines or 0)
    # An order part counts once a month, whatever municipalities its lines come from.
    for month, parts in db.session.execute(
            select(SaleFact.month, func.count(distinct(SaleFact.part_id)))
            .where(*_conditions(SaleFact, f)).group_by(SaleFact.month)):
        by_month[month].parts = int(parts)
    for month, summary in price_quartiles(f).items():
        row = by_month[month]
        row.median, row.q1, row.q3 = summary.median, summary.q1, summary.q3
    return Trends(f, list(by_month.values()), sipsa_series(f))


def _region_point(f: Filters) -> tuple[float, float]:
    if f.municipality is not None:
        return float(f.municipality.latitude), float(f.municipality.longitude)
    cond = None
    if f.subregion:
        cond = Municipality.pdet_subregion == f.subregion
    elif f.department:
        cond = Municipality.department_code == f.department
    if cond is None:
        return 4.711, -74.072  # Bogotá: the country's reference wholesale market
    lat, lon = db.session.execute(select(func.avg(Municipality.latitude), func.avg(Municipality.longitude))
                                  .where(cond)).one()
    return float(lat), float(lon)


@lru_cache(maxsize=4096)
def _sipsa_monthly(product: str, market: str) -> list[tuple[date, Decimal]]:
    """The vendored weekly series never changes: each market's monthly means are computed once."""
    return indicators.monthly_from_weekly(sipsa.series()[product, market])


def sipsa_series(f: Filters, min_months: int = 13) -> SipsaSeries | None:
    """The monthly SIPSA wholesale series of the product at the nearest market with a long
    enough record (the vendored series covers 2015-2018)."""
    if f.product is None or not f.product.sipsa_name:
        return None
    lat, lon = _region_point(f)
    best = None
    for name, market_name in sipsa.series():
        if name != f.product.sipsa_name:
            continue
        market = sipsa.markets().get(market_name)
        if market is None:
            continue
        monthly = _sipsa_monthly(name, market_name)
        if len(monthly) < min_months:
            continue
        distance = sipsa._km(lat, lon, market.latitude, market.longitude)
        if best is None or distance < best.distance_km:
            best = SipsaSeries(name, market_name, distance, monthly)
    return best


# ------------------------------------------------------------------- anomalies


@dataclass
class SeriesIndicators:
    label: str
    alps: list = field(default_factory=list)
    ipa: list = field(default_factory=list)
    problem: str | None = None  # why an indicator could not be computed


@dataclass
class Flagged:
    fact: Row  # a sale_fact row, read by column name (fact.line_id, fact.price_per_kg, ...)
    reference: Decimal
    flag: str
    reviews: list[TransactionReview]
    # Who and where, for the reviewer: the municipality's label and the organisations' names.
    municipality: str = ""
    cooperative: str = ""
    buyer: str = ""


@dataclass
class Anomalies:
    filters: Filters
    platform: SeriesIndicators
    reference: SeriesIndicators | None
    flagged: list[Flagged]
    flagged_total: int = 0


HISTORY_MESSAGES = {
    "not_enough_history": _l("Hace falta más historia: ALPS pide 36 meses seguidos e IPA 37."),
    "not_consecutive": _l("La serie tiene meses sin datos; los indicadores piden meses seguidos."),
    "no_data": _l("Sin datos en el periodo."),
}


def _indicators(label: str, series: list[tuple[date, Decimal]]) -> SeriesIndicators:
    out = SeriesIndicators(label)
    for name, compute in (("alps", indicators.alps), ("ipa", indicators.ipa)):
        try:
            setattr(out, name, compute(series))
        except indicators.IndicatorError as error:
            out.problem = str(HISTORY_MESSAGES.get(error.code, error))
    return out


def _longest_run(series: list[tuple[date, Decimal]]) -> list[tuple[date, Decimal]]:
    best, run = [], []
    for month, value in series:
        if run and add_months(run[-1][0], 1) != month:
            run = []
        run.append((month, value))
        if len(run) > len(best):
            best = list(run)
    return best


def anomalies(f: Filters, flagged_limit: int = 50) -> Anomalies:
    """ALPS and IPA on the platform's monthly median price and on the SIPSA reference, and
    the sale lines priced far from that month's median (too low or too high): the most
    recent ``flagged_limit`` of them, and how many there are in all."""
    if f.product is None:
        raise DomainError(_l("Elija un producto."), "product")
    rollups.refresh()
    # The platform series uses all the history before the period's end (indicators need years).
    history = Filters(add_months(f.end, -(MAX_MONTHS - 1)), f.end, f.product, f.department, f.subregion,
                      f.municipality)
    medians = [(month, summary.median) for month, summary in sorted(price_quartiles(history).items())]
    platform = _indicators(str(_l("Precio pagado en la plataforma (mediana mensual)")), _longest_run(medians))
    reference = None
    wholesale = sipsa_series(f, min_months=1)
    if wholesale is not None:
        reference = _indicators(str(_l("SIPSA %(market)s", market=wholesale.market)), _longest_run(wholesale.months))
    # Flag sale lines against the product's national median of their month.
    national = Filters(f.start, f.end, f.product)
    if f.municipality is None and not f.subregion and not f.department:
        refs = {m: median for m, median in medians if f.start <= m <= f.end}
    else:
        refs = {m: summary.median for m, summary in price_quartiles(national).items()}
    def far_from(month: date) -> list:
        ref = refs[month]
        return [SaleFact.product_id == f.product.id, SaleFact.month == month, *_region_conditions(SaleFact, f),
                or_(SaleFact.price_per_kg < ref * FLAG_LOW, SaleFact.price_per_kg > ref * FLAG_HIGH)]

    # How many in all, in one statement: each month's too-low and too-high counts are two
    # narrow ranges of the covering index (product, month, price).
    total = 0
    if refs:
        counts = []
        for month, ref in refs.items():
            for beyond in (SaleFact.price_per_kg < ref * FLAG_LOW, SaleFact.price_per_kg > ref * FLAG_HIGH):
                counts.append(select(func.count()).select_from(SaleFact).where(
                    SaleFact.product_id == f.product.id, SaleFact.month == month, beyond,
                    *_region_conditions(SaleFact, f)).scalar_subquery())
        total = sum(n or 0 for n in db.session.execute(select(*counts)).one())
    # The most recent ones, newest month first, until the page is full.
    flagged: list[Flagged] = []
    for month in sorted(refs, reverse=True):
        room = flagged_limit - len(flagged)
        if room <= 0:
            break
        # Plain rows, not ORM objects: the page's commit would expire them and each would
        # then be reloaded by a query of its own.
        for fact in db.session.execute(select(*SaleFact.__table__.columns).where(*far_from(month))
                                       .order_by(SaleFact.day.desc(), SaleFact.line_id).limit(room)):
            flag = indicators.transaction_flag(fact.price_per_kg, refs[month], FLAG_LOW, FLAG_HIGH)
            if flag:
                flagged.append(Flagged(fact, refs[month], flag, []))
    reviews = defaultdict(list)
    for review in db.session.scalars(select(TransactionReview).where(
            TransactionReview.line_id.in_([x.fact.line_id for x in flagged])).order_by(TransactionReview.id)):
        reviews[review.line_id].append(review)
    places = {place.code: place for place in db.session.scalars(select(Municipality).where(
        Municipality.code.in_({x.fact.municipality_code for x in flagged})))}
    names = {org_id: name for org_id, name in db.session.execute(select(Organisation.id, Organisation.name).where(
        Organisation.id.in_({x.fact.cooperative_id for x in flagged} | {x.fact.buyer_id for x in flagged})))}
    for item in flagged:
        item.reviews = reviews[item.fact.line_id]
        place = places.get(item.fact.municipality_code)
        item.municipality = place.label if place is not None else item.fact.municipality_code
        item.cooperative = names.get(item.fact.cooperative_id, "")
        item.buyer = names.get(item.fact.buyer_id, "")
    return Anomalies(f, platform, reference, flagged, total)


def review_transaction(actor: User, line_id: int, outcome: str | None, note: str | None) -> TransactionReview:
    """Staff (auditors included) record what they found about a flagged sale line."""
    require_staff(actor)
    line = db.session.get(OrderLine, line_id)
    if line is None:
        raise NotFound(_l("No encontramos esa transacción."))
    if outcome not in REVIEW_OUTCOMES:
        raise DomainError(_l("Elija qué se encontró."), "outcome")
    note = clean_text(note)
    if not note:
        raise DomainError(_l("Escriba qué se revisó y qué se encontró."), "note")
    if len(note) > 2000:
        raise DomainError(_l("Máximo %(max)d caracteres.", max=2000), "note")
    review = TransactionReview(line_id=line.id, outcome=outcome, note=note, reviewer_id=actor.id,
                               reviewed_at=utcnow())
    db.session.add(review)
    db.session.flush()
    audit.record("transaction.reviewed", "order_line", line.id, actor=actor,
                 after={"outcome": outcome, "note": note, "price_per_kg": str(line.price_per_kg)})
    return review


# ------------------------------------------------------------------- impact indicators


@dataclass
class IndicatorRow:
    code: str
    label: str
    value: Decimal | int | None
    monthly: list[tuple[date, Decimal | int | None]]
    target: Decimal | None = None

    @property
    def progress(self) -> Decimal | None:
        if self.target is None or self.value is None or not self.target:
            return None
        return _ratio(Decimal(self.value), self.target)


@dataclass
class Impact:
    filters: Filters
    rows: list[IndicatorRow]
    year: int


def impact(f: Filters) -> Impact:
    """Each indicator over the period, month by month, with its target for the period's last year.
    Sums and distinct counts are computed by the database over the monthly rollups."""
    rollups.refresh()
    conds = _conditions(SalesMonth, f)
    months = f.months
    pdet_place = case((SalesMonth.pdet_subregion.is_not(None), SalesMonth.municipality_code))
    counts = (func.count(distinct(SalesMonth.cooperative_id)), func.count(distinct(pdet_place)),
              func.count(distinct(SalesMonth.pdet_subregion)))
    per_month = {m: (Decimal(0), Decimal(0), Decimal(0), Decimal(0), 0, 0, 0) for m in months}
    for month, cop, kg, women, youth, coops, places, subregions in db.session.execute(
            select(SalesMonth.month, func.sum(SalesMonth.cop), func.sum(SalesMonth.kg),
                   func.sum(case((SalesMonth.women_led.is_(True), SalesMonth.cop), else_=0)),
                   func.sum(case((SalesMonth.youth_led.is_(True), SalesMonth.cop), else_=0)), *counts)
            .where(*conds).group_by(SalesMonth.month)):
        per_month[month] = (Decimal(cop or 0), Decimal(kg or 0), Decimal(women or 0), Decimal(youth or 0),
                            int(coops), int(places), int(subregions))
    total_coops, total_places, total_subregions = db.session.execute(select(*counts).where(*conds)).one()
    pairs: dict[date, set] = defaultdict(set)
    for buyer, coop, month in db.session.execute(
            select(SalesMonth.buyer_id, SalesMonth.cooperative_id, SalesMonth.month).where(*conds).distinct()):
        pairs[month].add((buyer, coop))
    pair_months: dict[tuple, int] = defaultdict(int)
    for m in months:
        for pair in pairs[m]:
            pair_months[pair] += 1

    def column(index):
        return [(m, per_month[m][index]) for m in months]

    income = sum((v[0] for v in per_month.values()), Decimal(0))
    women = sum((v[2] for v in per_month.values()), Decimal(0))
    youth = sum((v[3] for v in per_month.values()), Decimal(0))
    rows = [
        IndicatorRow("income_cop", str(INDICATORS["income_cop"]), income, column(0)),
        IndicatorRow("volume_kg", str(INDICATORS["volume_kg"]), sum((v[1] for v in per_month.values()), Decimal(0)),
                     column(1)),
        IndicatorRow("cooperatives", str(INDICATORS["cooperatives"]), int(total_coops), column(4)),
        IndicatorRow("pdet_municipalities", str(INDICATORS["pdet_municipalities"]), int(total_places), column(5)),
        IndicatorRow("pdet_subregions", str(INDICATORS["pdet_subregions"]), int(total_subregions), column(6)),
        IndicatorRow("women_share", str(INDICATORS["women_share"]), _ratio(women, income),
                     [(m, _ratio(per_month[m][2], per_month[m][0])) for m in months]),
        IndicatorRow("youth_share", str(INDICATORS["youth_share"]), _ratio(youth, income),
                     [(m, _ratio(per_month[m][3], per_month[m][0])) for m in months]),
        IndicatorRow("alliances", str(INDICATORS["alliances"]), len(pair_months),
                     [(m, len(pairs[m])) for m in months]),
        IndicatorRow("repeat_alliances", str(INDICATORS["repeat_alliances"]),
                     sum(1 for n in pair_months.values() if n >= 2), _cumulative_repeats(months, pairs)),
    ]
    year = f.end.year
    targets = {t.indicator: t.target for t in db.session.scalars(
        select(IndicatorTarget).where(IndicatorTarget.year == year))}
    for row in rows:
        row.target = targets.get(row.code)
    return Impact(f, rows, year)


def _cumulative_repeats(months, pairs) -> list[tuple[date, int]]:
    seen, out = defaultdict(int), []
    for m in months:
        for pair in pairs[m]:
            seen[pair] += 1
        out.append((m, sum(1 for n in seen.values() if n >= 2)))
    return out


def set_target(actor: User, indicator: str | None, year: int | None, target: Decimal | None) -> IndicatorTarget:
    """Platform admins set a programme's yearly goal for an indicator (auditors only read)."""
    if not actor.is_admin:
        raise Forbidden(_l("Solo un administrador de la plataforma fija metas."))
    if indicator not in INDICATORS:
        raise DomainError(_l("Elija un indicador de la lista."), "indicator")
    if year is None or not 2000 <= year <= 2100:
        raise DomainError(_l("Escriba un año entre 2000 y 2100."), "year")
    if target is None or not target.is_finite() or target <= 0 or target > Decimal("1e15"):
        raise DomainError(_l("La meta debe ser un número mayor que cero."), "target")
    if indicator in SHARE_INDICATORS and target > 1:
        raise DomainError(_l("Una participación se escribe entre 0 y 1 (0,4 es 40 %)."), "target")
    row = db.session.scalar(select(IndicatorTarget).where(IndicatorTarget.indicator == indicator,
                                                          IndicatorTarget.year == year))
    before = {"target": str(row.target)} if row else None
    if row is None:
        row = IndicatorTarget(indicator=indicator, year=year)
        db.session.add(row)
    row.target, row.updated_by_id, row.updated_at = target.quantize(CENTS, ROUND_HALF_UP), actor.id, utcnow()
    db.session.flush()
    audit.record("indicator.target_set", "indicator_target", row.id, actor=actor, before=before,
                 after={"indicator": indicator, "year": year, "target": str(row.target)})
    return row


def requeue_cooperative(cooperative_id: int) -> None:
    """A cooperative's membership changed (so may its women- or youth-led flag): queue its
    sales so the next refresh recounts them, in the same transaction as the change."""
    from marketplace.orders.models import OrderPart, SaleChange

    db.session.execute(insert(SaleChange).from_select(
        ["part_id", "changed_at"],
        select(OrderPart.id, literal(utcnow())).where(OrderPart.cooperative_id == cooperative_id,
                                                      OrderPart.status.in_(rollups.SALE_STATUSES))))


# ------------------------------------------------------------------- the buyer's report


@dataclass
class BuyerReport:
    buyer: Buyer
    filters: Filters
    rows: list[dict]  # municipality, department, subregion, product, kg, cop
    kg: Decimal
    cop: Decimal
    pdet_share: Decimal | None
    women_share: Decimal | None
    youth_share: Decimal | None
    cooperatives: int

    @property
    def period(self) -> tuple[date, date]:
        """The first and the last day of the report's months."""
        return self.filters.start, add_months(self.filters.end, 1) - timedelta(days=1)

    def as_dict(self) -> dict:
        """The same figures in the shape ``report_pdf.buyer_report_pdf`` prints."""
        return {"buyer": self.buyer.name, "period": self.period, "totals": {"kg": self.kg, "cop": self.cop},
                "rows": self.rows, "pdet_share": self.pdet_share, "women_led_share": self.women_share,
                "youth_led_share": self.youth_share, "cooperatives_reached": self.cooperatives,
                "generated_at": utcnow().astimezone(BOGOTA)}


def report_buyer(actor: User, buyer_id: int | None = None) -> Buyer:
    """A buyer reads its own report; staff read any buyer's."""
    if actor.is_staff and buyer_id is not None:
        buyer = db.session.get(Buyer, buyer_id)
        if buyer is None:
            raise NotFound(_l("No encontramos esa empresa."))
        return buyer
    return orders.buyer_of(actor)


def buyer_report(buyer: Buyer, f: Filters) -> BuyerReport:
    """Kilos and pesos a buyer sourced by municipality and product, and the shares from PDET
    municipalities and women- and youth-led cooperatives, for its sustainability reports."""
    rollups.refresh()
    rows = db.session.execute(
        select(SalesMonth.municipality_code, SalesMonth.product_id, SalesMonth.pdet_subregion,
               SalesMonth.women_led, SalesMonth.youth_led, SalesMonth.cooperative_id,
               func.sum(SalesMonth.kg), func.sum(SalesMonth.cop))
        .where(SalesMonth.buyer_id == buyer.id, *_conditions(SalesMonth, f))
        .group_by(SalesMonth.municipality_code, SalesMonth.product_id, SalesMonth.pdet_subregion,
                  SalesMonth.women_led, SalesMonth.youth_led, SalesMonth.cooperative_id)).all()
    places = {m.code: m for m in db.session.scalars(
        select(Municipality).where(Municipality.code.in_({r[0] for r in rows})))}
    names = {p.id: product_name(p) for p in db.session.scalars(select(Product).where(Product.id.in_({r[1] for r in rows})))}
    grouped: dict[tuple, dict] = {}
    kg = cop = pdet = women = youth = Decimal(0)
    coops = set()
    for code, product_id, subregion, women_led, youth_led, coop_id, row_kg, row_cop in rows:
        row_kg, row_cop = Decimal(row_kg or 0), Decimal(row_cop or 0)
        place = places[code]
        item = grouped.setdefault((place.label, names[product_id]), {
            "municipality_code": code, "municipality": place.label, "department": place.department_name,
            "pdet_subregion": subregion, "product": names[product_id], "kg": Decimal(0), "cop": Decimal(0)})
        item["kg"] += row_kg
        item["cop"] += row_cop
        kg += row_kg
        cop += row_cop
        pdet += row_cop if subregion else 0
        women += row_cop if women_led else 0
        youth += row_cop if youth_led else 0
        coops.add(coop_id)
    ordered = sorted(grouped.values(), key=lambda r: (-r["cop"], r["municipality"], r["product"]))
    return BuyerReport(buyer, f, ordered, kg, cop, _ratio(pdet, cop), _ratio(women, cop), _ratio(youth, cop),
                       len(coops))


# ------------------------------------------------------------------- audit trail


@dataclass
class AuditFilters:
    who: str | None = None  # name, e-mail or phone of the actor
    organisation: str | None = None  # name or id
    object_type: str | None = None
    object_id: str | None = None
    action: str | None = None
    start: date | None = None
    end: date | None = None


def audit_statement(f: AuditFilters):
    """Audit events matching the filters, newest first."""
    for value, name in ((f.start, "start"), (f.end, "end")):
        if value is not None and not 2000 <= value.year <= 2100:
            raise DomainError(_l("Elija fechas entre 2000 y 2100."), name)
    if f.start and f.end and f.start > f.end:
        raise DomainError(_l("El periodo está al revés: «desde» debe ser anterior o igual a «hasta»."), "start")
    stmt = select(AuditEvent)
    if f.who:
        text = f"%{f.who.strip()[:80].lower()}%"
        ids = select(User.id).where(or_(func.lower(User.full_name).like(text), func.lower(User.email).like(text),
                                        User.phone.like(text)))
        stmt = stmt.where(AuditEvent.actor_id.in_(ids))
    if f.organisation:
        value = f.organisation.strip()[:120]
        if value.isdigit() and len(value) < 12:
            stmt = stmt.where(AuditEvent.organisation_id == int(value))
        else:
            ids = select(Organisation.id).where(func.lower(Organisation.name).like(f"%{value.lower()}%"))
            stmt = stmt.where(AuditEvent.organisation_id.in_(ids))
    if f.object_type:
        stmt = stmt.where(AuditEvent.object_type == f.object_type[:60])
    if f.object_id:
        stmt = stmt.where(AuditEvent.object_id == f.object_id[:60])
    if f.action:
        stmt = stmt.where(AuditEvent.action.like(f"{f.action.strip()[:60]}%"))
    if f.start:
        stmt = stmt.where(AuditEvent.occurred_at >= bogota_day_start(f.start))
    if f.end:
        stmt = stmt.where(AuditEvent.occurred_at < bogota_day_start(f.end + timedelta(days=1)))
    return stmt.order_by(AuditEvent.id.desc())


def audit_object_types() -> list[str]:
    """The kinds of object in the trail, for the filter.

    A "loose index scan": each step asks the (object_type, object_id) index for the next
    kind after the previous one, so the cost grows with the handful of kinds, not with the
    millions of events a plain SELECT DISTINCT would read."""
    kinds = select(func.min(AuditEvent.object_type).label("kind")).cte("kinds", recursive=True)
    previous = kinds.alias("previous")
    following = (select(func.min(AuditEvent.object_type))
                 .where(AuditEvent.object_type > previous.c.kind).scalar_subquery())
    kinds = kinds.union_all(select(following).where(previous.c.kind.is_not(None)))
    return list(db.session.scalars(select(kinds.c.kind).where(kinds.c.kind.is_not(None)).order_by(kinds.c.kind)))
