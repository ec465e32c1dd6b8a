"""Validating a plot's geolocation against the rules of Regulation (EU) 2023/1115.

Pure module: ``validate_plot`` takes a ``PlotGeometry`` (from ``formats``), the declared
area, the declared municipality and the cooperative's other plots, and returns a
``PlotCheck`` with **refusals** (the geolocation cannot be accepted) and **warnings** (it is
accepted but someone should look):

Refusals
- ``out_of_range``: not WGS 84 longitude/latitude (|lat| <= 90, |lon| <= 180).
- ``too_few_decimals``: fewer than six decimals (the EU rule), judged from the text as written
  (``formats`` keeps it), not from float values. Typed coordinates: every one must have six
  (``1.500000`` has six, ``1.5`` one: the person gave less precision). Uploaded GeoJSON and
  KML: the file's precision is that of its longest coordinate, because programs that write
  them drop trailing zeros (a position rounded to 1.741250 is written ``1.74125``); a file
  whose every coordinate has fewer than six decimals is refused.
- ``polygon_required``: a point for a plot declared larger than 4 ha.
- ``ring_not_closed``: a ring whose last position is not its first (typed rings are closed
  by ``formats``; GeoJSON and KML must arrive closed).
- ``too_few_points``: a ring with fewer than 4 distinct positions, as the issue asks (a
  closed triangle has only three).
- ``zero_area``: an area under 1 m² (every corner on one line, give or take rounding).
- ``self_intersection``: a ring that crosses itself, or a hole outside its polygon (GEOS
  validity; its explanation is kept in ``detail``).
- ``outside_colombia`` / ``coordinates_swapped``: not within Colombia's approximate area
  (``territory``); "swapped" when the same numbers read the other way round would be inside.
- ``outside_municipality``: farther than ``tolerance_km`` from the declared municipality's
  area; ``unknown_municipality`` for a code that is not in DIVIPOLA.
- ``declared_area_invalid``: a declared area that is not a positive number.

Warnings
- ``area_mismatch``: the geodesic area (WGS 84 ellipsoid) differs from the declared one by
  more than ``AREA_TOLERANCE`` (20 %) of the declared one.
- ``overlap``: the plot overlaps another plot of the same cooperative by at least
  ``MIN_OVERLAP_HA`` (0.01 ha = 100 m², below which it is GPS noise along a shared edge), or a
  point plot lies inside another plot or on another point plot.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from pyproj import Geod
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from marketplace.traceability import territory
from marketplace.traceability.formats import PlotGeometry, decimals

MIN_DECIMALS = 6
MAX_POINT_HA = Decimal("4")
AREA_TOLERANCE = Decimal("0.20")
MIN_OVERLAP_HA = Decimal("0.01")
HA_STEP = Decimal("0.0001")
MIN_AREA_HA = Decimal("0.0001")  # 1 m²: below it the corners lie on a line (or one spot)
_GEOD = Geod(ellps="WGS84")

MESSAGES = {
    "out_of_range": _l("Hay coordenadas fuera de rango: la latitud va de -90 a 90 y la longitud de -180 a 180."),
    "too_few_decimals": _l("Cada coordenada necesita al menos 6 decimales (por ejemplo 1.807412)."),
    "polygon_required": _l("Una parcela de más de 4 hectáreas necesita un polígono, no un punto."),
    "ring_not_closed": _l("El polígono no está cerrado: el último punto debe ser igual al primero."),
    "too_few_points": _l("El polígono necesita al menos 4 puntos distintos."),
    "zero_area": _l("El polígono no encierra ningún área (los puntos están en una línea)."),
    "self_intersection": _l("El borde del polígono se cruza consigo mismo."),
    "outside_colombia": _l("La ubicación queda fuera de Colombia."),
    "coordinates_swapped": _l("La ubicación queda fuera de Colombia: parece que la latitud y la longitud están al revés."),
    "outside_municipality": _l("La ubicación queda a %(km)s km del municipio declarado."),
    "unknown_municipality": _l("El municipio declarado no existe."),
    "declared_area_invalid": _l("El área declarada debe ser un número mayor que cero."),
    "area_mismatch": _l("El área medida (%(measured)s ha) difiere en más del 20 %% de la declarada (%(declared)s ha)."),
    "overlap": _l("La parcela se cruza con otra parcela de la cooperativa."),
}


@dataclass(frozen=True)
class Finding:
    """One refusal or warning: ``code`` names it, ``params`` fill its message."""

    code: str
    params: dict = field(default_factory=dict)
    detail: str = ""

    @property
    def message(self):
        """The sentence for ``code`` in the current language; needs an app context."""
        return MESSAGES[self.code] % self.params if self.params else MESSAGES[self.code]


@dataclass(frozen=True)
class Overlap:
    """Another plot this one overlaps; ``area_ha`` is None when either is a point."""

    other: Hashable
    area_ha: Decimal | None


@dataclass
class PlotCheck:
    refusals: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    area_ha: Decimal | None = None  # geodesic, for polygons
    overlaps: list[Overlap] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return not self.refusals

    @property
    def refusal_codes(self) -> list[str]:
        return [f.code for f in self.refusals]

    @property
    def warning_codes(self) -> list[str]:
        return [f.code for f in self.warnings]


def geodesic_area_ha(shape: BaseGeometry) -> Decimal:
    """Area on the WGS 84 ellipsoid, in hectares to the ten-thousandth (orientation-proof)."""
    area_m2, _ = _GEOD.geometry_area_perimeter(shape)
    return (Decimal(repr(abs(area_m2))) / Decimal(10_000)).quantize(HA_STEP)


def _range_ok(geometry: PlotGeometry) -> bool:
    return all(abs(lon) <= 180 and abs(lat) <= 90 for lon, lat in geometry.positions())


def _ring_findings(geometry: PlotGeometry) -> list[Finding]:
    for polygon in geometry.polygons:
        for ring in polygon:
            if len(ring) < 2 or ring[0] != ring[-1]:
                return [Finding("ring_not_closed")]
            if len(set(ring)) < 4:
                return [Finding("too_few_points")]
    shape = geometry.shape()
    if any(geodesic_area_ha(part) < MIN_AREA_HA for part in getattr(shape, "geoms", [shape])):
        return [Finding("zero_area")]
    if not shape.is_valid:
        return [Finding("self_intersection", detail=explain_validity(shape))]
    return []


def _swapped(geometry: PlotGeometry) -> PlotGeometry:
    if geometry.point is not None:
        lon, lat = geometry.point
        return PlotGeometry("point", point=(lat, lon), source=geometry.source)
    polygons = tuple(
        tuple(tuple((lat, lon) for lon, lat in ring) for ring in polygon)
        for polygon in geometry.polygons
    )
    return PlotGeometry(geometry.kind, polygons=polygons, source=geometry.source)


def _place_findings(
    geometry: PlotGeometry, shape: BaseGeometry, municipality_code: str, tolerance_km: float
) -> list[Finding]:
    if not territory.in_colombia(shape):
        swapped = _swapped(geometry)
        if _range_ok(swapped) and territory.in_colombia(swapped.shape()):
            return [Finding("coordinates_swapped")]
        return [Finding("outside_colombia")]
    distance = territory.distance_to_municipality_km(shape, municipality_code)
    if distance is None:
        return [Finding("unknown_municipality")]
    if distance > tolerance_km:
        return [Finding("outside_municipality", {"km": round(distance)})]
    return []


def _as_shape(other) -> BaseGeometry:
    return other.shape() if isinstance(other, PlotGeometry) else other


def _overlaps(shape: BaseGeometry, others: Iterable[tuple[Hashable, object]]) -> list[Overlap]:
    found = []
    for key, other in others:
        other_shape = _as_shape(other)
        if other_shape is None or other_shape.is_empty or not other_shape.is_valid:
            continue
        if not shape.intersects(other_shape):
            continue
        if shape.geom_type == "Point" or other_shape.geom_type == "Point":
            found.append(Overlap(key, None))
            continue
        area = geodesic_area_ha(shape.intersection(other_shape))
        if area >= MIN_OVERLAP_HA:
            found.append(Overlap(key, area))
    return found


def validate_plot(
    geometry: PlotGeometry,
    declared_area_ha: Decimal,
    municipality_code: str,
    others: Iterable[tuple[Hashable, PlotGeometry | BaseGeometry]] = (),
    tolerance_km: float = territory.MUNICIPALITY_TOLERANCE_KM,
) -> PlotCheck:
    """Check a plot's geolocation; ``others`` are (key, geometry) of the cooperative's
    other plots. Stops at the first group of refusals that makes later checks meaningless
    (coordinates, then shape, then place)."""
    check = PlotCheck()
    try:
        declared = Decimal(declared_area_ha)
    except (InvalidOperation, TypeError, ValueError):
        declared = Decimal("NaN")
    if not declared.is_finite() or declared <= 0:
        check.refusals.append(Finding("declared_area_invalid"))
    if not _range_ok(geometry):
        check.refusals.append(Finding("out_of_range"))
        return check
    written = [decimals(value) for pos in geometry.positions() for value in pos]
    precision = min(written) if geometry.source == "typed" else max(written)
    if precision < MIN_DECIMALS:
        check.refusals.append(Finding("too_few_decimals"))
    if geometry.kind == "point":
        if declared.is_finite() and declared > MAX_POINT_HA:
            check.refusals.append(Finding("polygon_required"))
    else:
        shape_findings = _ring_findings(geometry)
        if shape_findings:
            check.refusals += shape_findings
            return check
    shape = geometry.shape()
    check.refusals += _place_findings(geometry, shape, municipality_code, tolerance_km)
    if check.refusals:
        return check
    if geometry.kind != "point":
        check.area_ha = geodesic_area_ha(shape)
        if abs(check.area_ha - declared) > declared * AREA_TOLERANCE:
            check.warnings.append(
                Finding("area_mismatch", {"measured": check.area_ha, "declared": declared})
            )
    check.overlaps = _overlaps(shape, others)
    if check.overlaps:
        check.warnings.append(Finding("overlap"))
    return check
