"""The geolocation file of a due diligence statement, in the GeoJSON the EU information
system (TRACES) accepts.

The rules followed, and where they come from
--------------------------------------------
The European Commission's "EUDR GeoJSON File Description" (v1.2 of 4 July 2024; v1.4 and
v1.5 followed on the Commission's CIRCABC library) was not itself readable from here. What
follows was gathered from public summaries of it: evanbuytendijk.nl "EUDR GeoJSON: for exact
geolocations" (v1.2), duracert.com "EUDR GeoJSON-format", nadar.earth "Preparing farm
geodata for the EUDR", docs.open-atlas.com "EUDR GeoJSON requirements" (its error list is
taken from the description) and a Spanish summary of v1.4. Where they disagree, or where a
detail was not found, the conservative reading is taken and said so.

- The file is RFC 7946 GeoJSON: one ``FeatureCollection`` of ``Feature`` objects, WGS 84
  implicit (no ``crs`` member), UTF-8. Names are written as UTF-8 text, not ``\\u`` escapes
  (RFC 8259 requires UTF-8 between systems; escapes would only make the file bigger).
- Positions are ``[longitude, latitude]``. One summary claims the opposite; it contradicts
  RFC 7946, the description's own example (duracert) and every other source, so it is
  ignored. No altitude: a third value is dropped.
- Coordinates carry at least six decimals. The v1.4 summary also says the system expects at
  most six, so that nearby vertices rounded alike become duplicates. Both readings are met by
  writing exactly six decimals, as text (``1.800000``), never float noise; vertices that
  round onto the one before are dropped, and a polygon that no longer holds is refused.
- Geometry types the description lists: Point, MultiPoint, Polygon, MultiPolygon (and
  GeometryCollection in v1.2). A plot here is one point or one boundary, so only Point,
  Polygon and MultiPolygon are written; MultiPoint (whose ``Area`` would be ambiguous) and
  GeometryCollection are refused, lines too.
- Polygons are closed (last position equals the first), have at least four positions and
  three distinct vertices, do not cross or fold on themselves, and have no holes
  ("doughnut shapes" are rejected by the system; it recommends splitting them). The exterior
  ring is written counter-clockwise, as RFC 7946 asks.
- Properties: ``ProducerName``, ``ProducerCountry`` (ISO 3166-1 alpha-2, "CO") and
  ``ProductionPlace``, all written for every feature. ``Area`` (hectares, a JSON number)
  belongs to points only; without it the system assumes 4 ha. A point may stand for a plot of
  at most 4 ha (Regulation (EU) 2023/1115, Art. 2(28)), so a point with more is refused.
- At most 25 MB per statement. Whether MB means 10^6 or 2^20 bytes was not found; the
  smaller, 25,000,000 bytes, is the default. Beyond it the plots are split over several
  files, each a complete FeatureCollection, in the order given, never splitting a feature.
- A feature ``id`` (allowed by RFC 7946, present in the description's example) carries the
  platform's plot id when there is one.

Everything is written compactly and in a fixed key order, so the same plots give the same
bytes. This module knows nothing of the database; the caller turns plots into
``PlotForFile``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from shapely import force_2d
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

from ..core.errors import DomainError

#: 25 MB per statement, read as decimal megabytes (the smaller of the two readings).
MAX_FILE_BYTES = 25_000_000
#: Decimals written for every coordinate (at least six, and the system keeps six).
COORDINATE_DECIMALS = 6
#: The largest plot a single point may stand for, in hectares.
POINT_MAX_AREA_HA = Decimal("4")
#: Hectares are written to the square metre.
_AREA_QUANTUM = Decimal("0.0001")

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_HEADER = b'{"type":"FeatureCollection","features":['
_FOOTER = b"]}"


class EudrFileError(DomainError):
    """A plot cannot be written in a file the EU information system would accept."""


@dataclass(frozen=True)
class PlotForFile:
    """One production plot as the file needs it.

    ``geometry`` is a shapely geometry or a GeoJSON geometry mapping in WGS 84,
    ``[longitude, latitude]``; ``area_ha`` is the plot's area in hectares.
    """

    producer_name: str
    production_place: str
    area_ha: Decimal
    geometry: BaseGeometry | Mapping
    country: str = "CO"
    id: str | int | None = None


def build_files(plots: Iterable[PlotForFile], max_bytes: int = MAX_FILE_BYTES) -> list[bytes]:
    """The geolocation file(s) for these plots: UTF-8 GeoJSON FeatureCollections, each at
    most ``max_bytes`` long, together holding every plot once, in the order given.

    Raises ``EudrFileError`` (nothing is returned) if any plot breaks the rules, if there
    are no plots, or if one plot alone would not fit in ``max_bytes``.
    """
    encoded = [encode_feature(plot) for plot in plots]
    if not encoded:
        raise EudrFileError(_l("No hay parcelas para el archivo de geolocalización."))
    room = max_bytes - len(_HEADER) - len(_FOOTER)
    files: list[bytes] = []
    current: list[bytes] = []
    used = 0
    for plot_bytes, label in encoded:
        if len(plot_bytes) > room:
            raise EudrFileError(_l(
                "La parcela %(plot)s sola ocupa %(size)s bytes y no cabe en un archivo de "
                "%(limit)s bytes. Simplifique su contorno (menos vértices).",
                plot=label, size=len(plot_bytes) + len(_HEADER) + len(_FOOTER),
                limit=max_bytes))
        extra = len(plot_bytes) + (1 if current else 0)
        if current and used + extra > room:
            files.append(_collection(current))
            current, used = [], 0
            extra = len(plot_bytes)
        current.append(plot_bytes)
        used += extra
    files.append(_collection(current))
    return files


def encode_feature(plot: PlotForFile) -> tuple[bytes, str]:
    """One plot as a compact GeoJSON Feature (UTF-8 bytes), with the label errors use."""
    label = _label(plot)
    name = (plot.producer_name or "").strip()
    place = (plot.production_place or "").strip()
    country = (plot.country or "").strip()
    if not name:
        raise EudrFileError(_l("La parcela %(plot)s no tiene nombre de productor.", plot=label))
    if not place:
        raise EudrFileError(_l("La parcela %(plot)s no tiene lugar de producción.", plot=label))
    if not _COUNTRY.match(country):
        raise EudrFileError(_l(
            "El país de producción de la parcela %(plot)s debe ser un código ISO de dos "
            "letras mayúsculas, como CO.", plot=label))
    area = _area(plot, label)
    geometry = _geometry(plot, label)

    properties = [
        ("ProducerName", _string(name)),
        ("ProducerCountry", _string(country)),
        ("ProductionPlace", _string(place)),
    ]
    if isinstance(geometry, Point):
        if area > POINT_MAX_AREA_HA:
            raise EudrFileError(_l(
                "La parcela %(plot)s tiene %(area)s ha: por encima de 4 ha su ubicación debe "
                "ser un polígono, no un punto.", plot=label, area=_number(area)))
        properties.append(("Area", _number(area)))
        coordinates = _position(geometry.x, geometry.y, label)
        geometry_text = '{"type":"Point","coordinates":' + coordinates + "}"
    elif isinstance(geometry, Polygon):
        geometry_text = '{"type":"Polygon","coordinates":' + _polygon(geometry, label) + "}"
    else:
        coordinates = ",".join(_polygon(part, label) for part in geometry.geoms)
        geometry_text = '{"type":"MultiPolygon","coordinates":[' + coordinates + "]}"

    parts = ['"type":"Feature"']
    if plot.id is not None:
        parts.append('"id":' + _string(str(plot.id)))
    members = ",".join(f'"{key}":{value}' for key, value in properties)
    parts.append('"properties":{' + members + "}")
    parts.append('"geometry":' + geometry_text)
    return ("{" + ",".join(parts) + "}").encode("utf-8"), label


def _collection(features: list[bytes]) -> bytes:
    return _HEADER + b",".join(features) + _FOOTER


def _label(plot: PlotForFile) -> str:
    place = (plot.production_place or "").strip()
    if plot.id is not None and place:
        return f"{plot.id} ({place})"
    return str(plot.id) if plot.id is not None else (place or "?")


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _number(value: Decimal) -> str:
    """A Decimal as a plain JSON number: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _area(plot: PlotForFile, label: str) -> Decimal:
    try:
        area = Decimal(str(plot.area_ha))
    except (InvalidOperation, ValueError):
        area = Decimal("NaN")
    if not area.is_finite() or area <= 0:
        raise EudrFileError(_l(
            "El área declarada de la parcela %(plot)s debe ser un número de hectáreas mayor "
            "que cero.", plot=label))
    area = area.quantize(_AREA_QUANTUM)
    if area <= 0:
        raise EudrFileError(_l(
            "El área declarada de la parcela %(plot)s debe ser un número de hectáreas mayor "
            "que cero.", plot=label))
    return area


def _geometry(plot: PlotForFile, label: str) -> BaseGeometry:
    geometry = plot.geometry
    if isinstance(geometry, Mapping):
        try:
            geometry = shape(geometry)
        except Exception:  # shapely raises several kinds on malformed mappings
            raise EudrFileError(_l(
                "La geometría de la parcela %(plot)s no es GeoJSON válido.", plot=label)
            ) from None
    if not isinstance(geometry, BaseGeometry) or geometry.is_empty:
        raise EudrFileError(_l("La parcela %(plot)s no tiene ubicación.", plot=label))
    if not isinstance(geometry, (Point, Polygon, MultiPolygon)):
        raise EudrFileError(_l(
            "La ubicación de la parcela %(plot)s debe ser un punto o un polígono, no "
            "%(kind)s.", plot=label, kind=geometry.geom_type))
    return force_2d(geometry)


def _coordinate(value: float) -> str:
    text = f"{value:.{COORDINATE_DECIMALS}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def _position(lon: float, lat: float, label: str) -> str:
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise EudrFileError(_l(
            "La parcela %(plot)s tiene coordenadas fuera de rango (longitud entre -180 y 180, "
            "latitud entre -90 y 90).", plot=label))
    return f"[{_coordinate(lon)},{_coordinate(lat)}]"


def _polygon(polygon: Polygon, label: str) -> str:
    """A polygon's coordinates: one closed counter-clockwise ring, six decimals."""
    if polygon.interiors:
        raise EudrFileError(_l(
            "El polígono de la parcela %(plot)s tiene huecos, que el sistema de la UE no "
            "acepta: divídalo en polígonos sin huecos.", plot=label))
    ring = orient(polygon, sign=1.0).exterior.coords
    positions: list[str] = []
    rounded: list[tuple[float, float]] = []
    for lon, lat in ring:
        text = _position(lon, lat, label)
        if positions and text == positions[-1]:
            continue
        positions.append(text)
        rounded.append((float(_coordinate(lon)), float(_coordinate(lat))))
    if positions[0] != positions[-1]:
        positions.append(positions[0])
        rounded.append(rounded[0])
    if len(positions) < 4 or len(set(positions)) < 3:
        raise EudrFileError(_l(
            "El polígono de la parcela %(plot)s necesita al menos tres vértices distintos "
            "con seis decimales.", plot=label))
    as_written = Polygon(rounded)
    if not as_written.is_valid or as_written.area <= 0 or not as_written.exterior.is_ccw:
        raise EudrFileError(_l(
            "El polígono de la parcela %(plot)s se cruza o se dobla sobre sí mismo (con las "
            "coordenadas a seis decimales).", plot=label))
    return "[[" + ",".join(positions) + "]]"
