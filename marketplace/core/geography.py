"""Colombian geography: DIVIPOLA municipalities, PDET subregions and distances.

The data is vendored in ``marketplace/data`` (see its README for provenance).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from flask import current_app
from sqlalchemy import func, or_, select

from marketplace.core.models import Municipality
from marketplace.core.text import display_place_name, search_key, sort_names
from marketplace.extensions import db

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DIVIPOLA_CSV = DATA_DIR / "divipola_municipios_latlon.csv"
PDET_CSV = DATA_DIR / "pdet_municipios_170.csv"

# Bounding box of Colombia including San Andrés and Providencia, with a small margin.
COLOMBIA_LAT = (Decimal("-4.5"), Decimal("16.5"))
COLOMBIA_LON = (Decimal("-82.0"), Decimal("-66.5"))


def read_municipality_rows() -> list[dict]:
    """All 1,122 DIVIPOLA rows joined with their PDET subregion, ready to insert."""
    pdet: dict[str, str] = {}
    with PDET_CSV.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            pdet[row["cod_mpio"].zfill(5)] = row["subregion_pdet"]
    rows = []
    with DIVIPOLA_CSV.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            code = row["cod_mpio"].zfill(5)
            name = display_place_name(row["municipio"])
            department = display_place_name(row["departamento"])
            rows.append(
                {
                    "code": code,
                    "name": name,
                    "department_code": row["cod_dpto"].zfill(2),
                    "department_name": department,
                    "kind": row["tipo"],
                    "latitude": Decimal(row["lat"]).quantize(Decimal("0.000001")),
                    "longitude": Decimal(row["lon"]).quantize(Decimal("0.000001")),
                    "pdet_subregion": pdet.get(code),
                    "search_key": search_key(f"{name} {department}"),
                }
            )
    return rows


def load_municipalities() -> int:
    """Insert or update every municipality from the vendored data; returns how many changed."""
    existing = {m.code: m for m in db.session.scalars(select(Municipality))}
    count = 0
    for row in read_municipality_rows():
        current = existing.get(row["code"])
        if current is None:
            db.session.add(Municipality(**row))
            count += 1
            continue
        if any(getattr(current, key) != value for key, value in row.items()):
            for key, value in row.items():
                setattr(current, key, value)
            count += 1
    db.session.flush()
    current_app.extensions.pop("marketplace_geography", None)
    return count


def get_municipality(code: str | None) -> Municipality | None:
    if not code or not str(code).isdigit() or len(str(code)) > 5:
        return None
    return db.session.get(Municipality, str(code).zfill(5))


def search_statement(
    query: str | None = None,
    department_code: str | None = None,
    pdet_only: bool = False,
    subregion: str | None = None,
):
    """A ``select`` of municipalities matching typed text, accents and case ignored.

    Every word typed must appear at the start of a word of the name or department, so
    "san vicente" finds San Vicente del Caguán and "tumaco" finds San Andrés de Tumaco.
    Names starting with the text come first.
    """
    stmt = select(Municipality)
    key = search_key(query)
    if key:
        if key.isdigit():
            stmt = stmt.where(Municipality.code.startswith(key))
        else:
            for word in key.split(" "):
                stmt = stmt.where(
                    or_(
                        Municipality.search_key.startswith(word),
                        Municipality.search_key.contains(" " + word),
                    )
                )
    if department_code:
        stmt = stmt.where(Municipality.department_code == department_code)
    if pdet_only:
        stmt = stmt.where(Municipality.pdet_subregion.is_not(None))
    if subregion:
        stmt = stmt.where(Municipality.pdet_subregion == subregion)
    prefix_first = (
        Municipality.search_key.startswith(key).desc() if key and not key.isdigit() else None
    )
    order = [prefix_first] if prefix_first is not None else []
    return stmt.order_by(*order, Municipality.search_key, Municipality.code)


def search(query: str | None, limit: int = 20, **filters) -> list[Municipality]:
    return list(db.session.scalars(search_statement(query, **filters).limit(limit)))


def count(stmt) -> int:
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))


def _cached(name: str, compute):
    """Reference geography changes only with a migration or `flask geo sync`, so lists
    built from it are kept per application process."""
    cache = current_app.extensions.setdefault("marketplace_geography", {})
    if name not in cache:
        cache[name] = compute()
    return cache[name]


def departments() -> list[tuple[str, str]]:
    def compute():
        rows = db.session.execute(
            select(Municipality.department_code, Municipality.department_name)
            .distinct()
        )
        # Spanish collation, the same on SQLite and PostgreSQL ("Córdoba" before "Cundinamarca").
        return sort_names([(code, name) for code, name in rows], lambda row: row[1])

    return _cached("departments", compute)


def pdet_subregions() -> list[str]:
    def compute():
        return sort_names(db.session.scalars(
            select(Municipality.pdet_subregion)
            .where(Municipality.pdet_subregion.is_not(None))
            .distinct()
        ))

    return _cached("subregions", compute)


@dataclass(frozen=True)
class ResolvedMunicipality:
    municipality: Municipality | None
    candidates: list[Municipality]


def resolve(text: str | None) -> ResolvedMunicipality:
    """Find the municipality a person meant by a code, a name, or a picker label.

    A label such as "Tumaco, Nariño (52835)" or a bare code resolves exactly; a name
    that matches one municipality resolves to it; several matches come back as candidates.
    """
    text = (text or "").strip()
    if not text or len(text) > 200:
        return ResolvedMunicipality(None, [])
    code = None
    if text.endswith(")") and "(" in text:
        code = text[text.rfind("(") + 1 : -1].strip()
    elif text.isdigit():
        code = text
    if code is not None:
        found = get_municipality(code)
        return ResolvedMunicipality(found, [found] if found else [])
    key = search_key(text)
    candidates = search(text, limit=12)
    if len(candidates) == 1:
        return ResolvedMunicipality(candidates[0], candidates)
    # Prefer the name typed in full: "cali" means Santiago de Cali, not California.
    exact = [m for m in candidates if search_key(m.name) == key or m.search_key == key]
    whole_words = [m for m in candidates if f" {key} " in f" {search_key(m.name)} "]
    for preferred in (exact, whole_words):
        if len(preferred) == 1:
            return ResolvedMunicipality(preferred[0], candidates)
    return ResolvedMunicipality(None, candidates)


def in_colombia(latitude: Decimal | float, longitude: Decimal | float) -> bool:
    lat, lon = Decimal(str(latitude)), Decimal(str(longitude))
    return COLOMBIA_LAT[0] <= lat <= COLOMBIA_LAT[1] and COLOMBIA_LON[0] <= lon <= COLOMBIA_LON[1]


EARTH_RADIUS_KM = 6371.0088  # IUGG mean Earth radius


def great_circle_km(lat1, lon1, lat2, lon2) -> float:
    """Haversine distance in km between two points given in decimal degrees."""
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dphi = p2 - p1
    dlambda = math.radians(float(lon2) - float(lon1))
    a = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))
