"""Colombia and its municipalities as areas, approximated from the municipal seats.

The project holds no boundaries (and nothing is downloaded): only the coordinates of the
1,122 DIVIPOLA seats in ``marketplace/data/divipola_municipios_latlon.csv``. From them:

- **Colombia** is the concave hull (shapely ``concave_hull``, ratio ``HULL_RATIO``) of the
  mainland seats plus Punta Gallinas (the mainland's northern tip, 12.4628 N 71.6683 W, far
  beyond Uribia's seat), buffered by ``COUNTRY_MARGIN_KM``; San Andrés and Providencia are
  their seats buffered by the same margin. The margin covers land beyond the outermost seats
  (the Amazon trapezium, the Guajira and Pacific coasts). It contains every seat and refuses
  obvious outsides (Quito is about 140 km beyond it, Caracas, Panamá and the open Pacific
  much more), but near the border a place in Ecuador or Venezuela within the margin passes
  (Tulcán, Lago Agrio, San Antonio del Táchira): the check catches swapped or mistyped
  coordinates, not a plot a few kilometres across a border.
- **A municipality's area** is the Voronoi cell of its seat among all seats (shapely
  ``voronoi_polygons``), clipped to Colombia: the land closer to that seat than to any other.
  A plot is "within tolerance of its declared municipality" when it lies within
  ``MUNICIPALITY_TOLERANCE_KM`` (10 km) of that cell, which absorbs most of the difference
  between real boundaries and the cells near seats, though large rural municipalities whose
  seat sits at one edge can be wider than their cell.

All shapes are built once (cached) in MAGNA-SIRGAS / Origen Nacional (EPSG:9377, CTM12, the
national projection in metres), so buffers and distances are in metres, not degrees.
Building takes a few hundredths of a second.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import shapely
from pyproj import Transformer
from shapely.geometry import MultiPoint, Point
from shapely.geometry.base import BaseGeometry

DIVIPOLA_CSV = Path(__file__).resolve().parent.parent / "data" / "divipola_municipios_latlon.csv"
PROJECTED_CRS = "EPSG:9377"  # MAGNA-SIRGAS / Origen-Nacional (CTM12), metres
ISLAND_DEPARTMENT = "88"  # San Andrés, Providencia y Santa Catalina
HULL_RATIO = 0.1
COUNTRY_MARGIN_KM = 50
MUNICIPALITY_TOLERANCE_KM = 10
# Mainland points far beyond any seat (lat, lon): the northern tip of La Guajira.
EXTRA_MAINLAND_POINTS = [(12.4628, -71.6683)]


@dataclass(frozen=True)
class Seat:
    code: str
    name: str
    department: str
    latitude: float
    longitude: float


@lru_cache(maxsize=1)
def _to_projected() -> Transformer:
    return Transformer.from_crs("EPSG:4326", PROJECTED_CRS, always_xy=True)


def project(geometry: BaseGeometry) -> BaseGeometry:
    """A WGS 84 geometry (longitude, latitude) in CTM12 metres."""
    return shapely.transform(geometry, _to_projected().transform, interleaved=False)


@lru_cache(maxsize=1)
def seats() -> dict[str, Seat]:
    """Every DIVIPOLA municipality's seat by its five-digit code."""
    with DIVIPOLA_CSV.open(encoding="utf-8") as handle:
        return {
            row["cod_mpio"].zfill(5): Seat(
                code=row["cod_mpio"].zfill(5),
                name=row["municipio"],
                department=row["cod_dpto"].zfill(2),
                latitude=float(row["lat"]),
                longitude=float(row["lon"]),
            )
            for row in csv.DictReader(handle)
        }


def _projected_points(items) -> list[Point]:
    items = list(items)
    xs, ys = _to_projected().transform([lon for _, lon in items], [lat for lat, _ in items])
    return [Point(x, y) for x, y in zip(xs, ys, strict=True)]


@lru_cache(maxsize=1)
def colombia() -> BaseGeometry:
    """Colombia's approximate area in CTM12 metres (see the module's docstring)."""
    margin = COUNTRY_MARGIN_KM * 1000
    mainland = [
        (s.latitude, s.longitude) for s in seats().values() if s.department != ISLAND_DEPARTMENT
    ]
    islands = [
        (s.latitude, s.longitude) for s in seats().values() if s.department == ISLAND_DEPARTMENT
    ]
    hull = shapely.concave_hull(
        MultiPoint(_projected_points(mainland + EXTRA_MAINLAND_POINTS)), ratio=HULL_RATIO
    )
    area = shapely.union(hull.buffer(margin), MultiPoint(_projected_points(islands)).buffer(margin))
    shapely.prepare(area)
    return area


@lru_cache(maxsize=1)
def _cells() -> dict[str, BaseGeometry]:
    codes = list(seats())
    points = _projected_points((seats()[c].latitude, seats()[c].longitude) for c in codes)
    country = colombia()
    diagram = shapely.voronoi_polygons(MultiPoint(points), extend_to=country, ordered=True)
    cells = {}
    for code, cell in zip(codes, diagram.geoms, strict=True):
        clipped = cell.intersection(country)
        shapely.prepare(clipped)
        cells[code] = clipped
    return cells


def municipality_area(code: str) -> BaseGeometry | None:
    """The approximate area (CTM12 metres) of municipality ``code``; None if unknown."""
    return _cells().get(code)


def in_colombia(geometry: BaseGeometry) -> bool:
    """Whether a WGS 84 geometry lies wholly inside Colombia's approximate area."""
    return colombia().contains(project(geometry))


def distance_to_municipality_km(geometry: BaseGeometry, code: str) -> float | None:
    """How far (km) a WGS 84 geometry lies outside municipality ``code``'s area (0 inside
    or touching); None for an unknown code. Judged on the whole geometry: every part must
    be near, so the distance is that of its farthest point from the cell."""
    cell = municipality_area(code)
    if cell is None:
        return None
    projected = project(geometry)
    if cell.contains(projected):
        return 0.0
    return _farthest_distance(projected, cell) / 1000


def _farthest_distance(projected: BaseGeometry, cell: BaseGeometry) -> float:
    """The greatest distance from any vertex of ``projected`` to ``cell`` (for a convex cell
    no point of a polygon lies farther than its farthest vertex)."""
    vertices = shapely.points(shapely.get_coordinates(projected))
    return float(shapely.distance(cell, vertices).max())


def within_municipality(
    geometry: BaseGeometry, code: str, tolerance_km: float = MUNICIPALITY_TOLERANCE_KM
) -> bool | None:
    """Whether a WGS 84 geometry lies within ``tolerance_km`` of municipality ``code``."""
    distance = distance_to_municipality_km(geometry, code)
    return None if distance is None else distance <= tolerance_km
