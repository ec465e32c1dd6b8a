import csv
import gzip
from datetime import date
from decimal import Decimal

from marketplace.catalog import sipsa


def test_every_market_in_the_series_has_a_municipality():
    named = {market for _product, market in sipsa.series()}
    assert named <= set(sipsa.markets())
    assert len(sipsa.markets()) == 84
    assert sipsa.markets()["Bogotá, D.C., Corabastos"].municipality_code == "11001"
    assert sipsa.markets()["Cali, Cavasa"].municipality_code == "76001"


def test_series_match_the_vendored_rows():
    with gzip.open(sipsa.SERIES_FILE, "rt", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sum(len(v) for v in sipsa.series().values()) == len(rows) == 65937
    corabastos = sipsa.series()[("Aguacate Hass", "Bogotá, D.C., Corabastos")]
    assert corabastos[0].week_start == date(2014, 12, 27) and corabastos[0].mean == Decimal("3141")
    assert all(a.week_start < b.week_start for a, b in zip(corabastos, corabastos[1:], strict=False))
    assert len(sipsa.products()) == 12


def test_nearest_market_to_a_cooperative():
    # Tumaco's own market reported potatoes only, and only in 2016: too stale by default.
    stale = sipsa.nearest_reference("Papa parda pastusa", 1.807399, -78.764073, max_age_weeks=1000)
    assert stale.market.municipality_code == "52835" and stale.distance_km < 1
    recent = sipsa.nearest_reference("Papa parda pastusa", 1.807399, -78.764073)
    assert recent.market.municipality_code != "52835" and recent.latest.week_start.year == 2018
    plantain = sipsa.nearest_reference("Plátano hartón verde", 1.807399, -78.764073)
    assert plantain.market.name == "Túquerres (Nariño)" and 100 < plantain.distance_km < 200
    # From Florencia (Caquetá) the nearest market selling Hass avocado is further away.
    florencia = sipsa.nearest_reference("Aguacate Hass", 1.6144, -75.6062)
    assert florencia is not None and florencia.distance_km > 0
    assert florencia.latest.week_start.year == 2018
    assert sipsa.nearest_reference("Cacao en grano", 1.8, -78.7) is None
