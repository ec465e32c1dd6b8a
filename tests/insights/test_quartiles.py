"""The monthly price quartiles computed in SQL follow the Python definition exactly."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from marketplace.extensions import db
from marketplace.insights import indicators, services
from marketplace.insights.models import PriceMonth


def _insert_counts(rng: random.Random, months: list[date], product_id: int) -> list[PriceMonth]:
    """Price counts as the rollups keep them: per month, municipality and price, with the
    same price in several places (summed across them) and some counts at zero."""
    rows = []
    places = [("19001", "19", "Alto Patía"), ("19050", "19", None), ("52001", "52", "Pacífico")]
    for month in months:
        prices = sorted({Decimal(rng.randint(8, 40)) * 125 + Decimal(rng.choice(["0", "0.50", "0.25"]))
                         for _ in range(rng.randint(1, 25))})
        for price in prices:
            for code, dept, subregion in rng.sample(places, rng.randint(1, 3)):
                rows.append(PriceMonth(month=month, product_id=product_id, municipality_code=code,
                                       department_code=dept, pdet_subregion=subregion, price_per_kg=price,
                                       lines=rng.choice([0, 1, 1, 1, 2, 3, 4, 8]), kg=Decimal("10.000")))
    return rows


def _python_quartiles(rows: list[PriceMonth], keep) -> dict[date, indicators.Summary]:
    counts: dict[date, dict[Decimal, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        if keep(row):
            counts[row.month][row.price_per_kg] += row.lines
    out = {}
    for month, by_price in counts.items():
        positive = {price: n for price, n in by_price.items() if n > 0}
        if positive:
            out[month] = indicators.weighted_median_iqr(list(positive), list(positive.values()))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_sql_quartiles_equal_weighted_median_iqr(app, seed):
    rng = random.Random(seed)
    months = [date(2026, m, 1) for m in range(1, 7)]
    with app.app_context():
        rows = _insert_counts(rng, months, product_id=987_000 + seed)
        # and another product's counts in the same months, which must not leak in
        rows_other = _insert_counts(rng, months, product_id=987_100 + seed)
        db.session.add_all(rows + rows_other)
        db.session.flush()
        product = SimpleNamespace(id=987_000 + seed)
        whole = services.Filters(months[0], months[-1], product)
        assert services.price_quartiles(whole) == _python_quartiles(rows, lambda r: True)
        department = services.Filters(months[0], months[-1], product, department="19")
        assert services.price_quartiles(department) == _python_quartiles(rows, lambda r: r.department_code == "19")
        subregion = services.Filters(months[1], months[3], product, subregion="Pacífico")
        assert services.price_quartiles(subregion) == _python_quartiles(
            rows, lambda r: r.pdet_subregion == "Pacífico" and months[1] <= r.month <= months[3])
        # Results are exact decimals, as stored.
        assert all(isinstance(x, Decimal) for s in services.price_quartiles(whole).values() for x in s)
        db.session.rollback()


def test_sql_quartiles_by_hand(app):
    with app.app_context():
        month = date(2026, 3, 1)
        for price, lines in (("1000", 1), ("2000", 1), ("3000", 2), ("4000", 0)):
            db.session.add(PriceMonth(month=month, product_id=986_999, municipality_code="19001",
                                      department_code="19", pdet_subregion=None, price_per_kg=Decimal(price),
                                      lines=lines, kg=Decimal(1)))
        db.session.flush()
        got = services.price_quartiles(services.Filters(month, month, SimpleNamespace(id=986_999)))
        # n = 4 lines: 1000, 2000, 3000, 3000 -> q1 at c >= 1, median at c >= 2, q3 at c >= 3
        assert got == {month: (Decimal("2000"), Decimal("1000"), Decimal("3000"))}
        db.session.rollback()
