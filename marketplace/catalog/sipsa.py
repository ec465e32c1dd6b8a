"""DANE SIPSA weekly wholesale prices: series by product and market, and the nearest market.

Pure module (no Flask, no database); the data is vendored in ``marketplace/data`` (see its
README). Loaded once per process: about 66,000 rows, a few MB in memory.
"""

from __future__ import annotations

import csv
import gzip
import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SERIES_FILE = DATA_DIR / "sipsa_weekly_wholesale_2015_2018.csv.gz"
MARKETS_FILE = DATA_DIR / "sipsa_markets.csv"
DIVIPOLA_FILE = DATA_DIR / "divipola_municipios_latlon.csv"


@dataclass(frozen=True)
class WeeklyPrice:
    week_start: date
    week_end: date
    mean: Decimal
    low: Decimal
    high: Decimal


@dataclass(frozen=True)
class Market:
    name: str
    municipality_code: str
    latitude: float
    longitude: float


@lru_cache(maxsize=1)
def markets() -> dict[str, Market]:
    coordinates: dict[str, tuple[float, float]] = {}
    with DIVIPOLA_FILE.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            coordinates[row["cod_mpio"].zfill(5)] = (float(row["lat"]), float(row["lon"]))
    result = {}
    with MARKETS_FILE.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            code = row["cod_mpio"].zfill(5)
            lat, lon = coordinates[code]
            result[row["market"]] = Market(row["market"], code, lat, lon)
    return result


@lru_cache(maxsize=1)
def series() -> dict[tuple[str, str], tuple[WeeklyPrice, ...]]:
    """Weekly prices keyed by (SIPSA product name, market), oldest first."""
    collected: dict[tuple[str, str], list[WeeklyPrice]] = {}
    with gzip.open(SERIES_FILE, "rt", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            collected.setdefault((row["product"], row["market"]), []).append(
                WeeklyPrice(
                    date.fromisoformat(row["week_start"]),
                    date.fromisoformat(row["week_end"]),
                    Decimal(row["price_mean_cop_kg"]),
                    Decimal(row["price_min_cop_kg"]),
                    Decimal(row["price_max_cop_kg"]),
                )
            )
    return {key: tuple(sorted(values, key=lambda p: p.week_start)) for key, values in collected.items()}


def products() -> list[str]:
    return sorted({product for product, _market in series()})


def _km(lat1, lon1, lat2, lon2) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


@dataclass(frozen=True)
class Reference:
    product: str
    market: Market
    distance_km: float
    latest: WeeklyPrice


def nearest_reference(product: str, latitude: float, longitude: float, max_age_weeks: int = 26) -> Reference | None:
    """The latest weekly price of ``product`` at the wholesale market nearest to a point.

    Markets whose last quote is more than ``max_age_weeks`` older than the newest quote of
    that product anywhere are skipped: a stale price is no reference.
    """
    quoted = [(key, prices) for key, prices in series().items() if key[0] == product and prices]
    if not quoted:
        return None
    newest = max(prices[-1].week_start for _key, prices in quoted)
    best: Reference | None = None
    for (_name, market_name), prices in quoted:
        if (newest - prices[-1].week_start).days > max_age_weeks * 7:
            continue
        market = markets().get(market_name)
        if market is None:
            continue
        distance = _km(latitude, longitude, market.latitude, market.longitude)
        if best is None or distance < best.distance_km:
            best = Reference(product, market, distance, prices[-1])
    return best
