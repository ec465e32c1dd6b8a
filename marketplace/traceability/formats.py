"""Reading a plot's geolocation: typed coordinates, GeoJSON and KML.

Pure module: takes text or bytes, returns a ``PlotGeometry`` or raises ``GeometryError``.
Coordinates are kept as ``Decimal`` exactly as written, so the number of decimals the
regulation asks for (six) is judged from what the person or the GPS app wrote, not from a
float that may have lost or gained digits. Positions are (longitude, latitude), as in GeoJSON.

Typed coordinates are one position a line, **latitude first** (the order people read off a
phone or a map in Colombia): ``1.807412, -78.764123``, ``1.807412 -78.764123`` or, with
decimal commas, ``1,807412; -78,764123``, ``1,807412 -78,764123`` or ``1,807412,-78,764123``.
One line is a point; three or more lines are the corners of a polygon, in order around it. A
typed ring that does not end where it started is closed automatically (people type each corner
once); GeoJSON and KML rings must be closed, as both formats require.

GeoJSON: a Geometry, a Feature or a FeatureCollection with one feature; Point, Polygon or
MultiPolygon. KML: one Placemark with a Point, a Polygon or a MultiGeometry of polygons.
Uploads are capped at ``MAX_BYTES`` and ``MAX_VERTICES``; KML with a DOCTYPE or ENTITY
declaration is refused before parsing (no entity expansion, and expat never fetches external
entities). KMZ (zipped KML) is not read: the person is asked to export KML or GeoJSON.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from xml.parsers import expat

from flask_babel import lazy_gettext as _l

MAX_BYTES = 2 * 1024 * 1024
MAX_VERTICES = 10_000

Position = tuple[Decimal, Decimal]  # (longitude, latitude)
Ring = tuple[Position, ...]
PolygonRings = tuple[Ring, ...]  # exterior ring first, then holes

MESSAGES = {
    "empty": _l("No hay coordenadas."),
    "too_large": _l("El archivo pasa de 2 MB."),
    "too_many_vertices": _l("La geometría tiene más de 10.000 puntos."),
    "unknown_format": _l("No reconocemos el archivo: suba GeoJSON o KML (no KMZ)."),
    "bad_line": _l("Línea %(line)s: escriba latitud y longitud, por ejemplo 1.807412, -78.764123."),
    "not_a_number": _l("Hay una coordenada que no es un número."),
    "too_few_points": _l("Un polígono necesita al menos 4 esquinas distintas (o escriba un solo punto)."),
    "bad_json": _l("El GeoJSON no se puede leer."),
    "bad_kml": _l("El KML no se puede leer."),
    "forbidden_xml": _l("El KML trae declaraciones DOCTYPE o ENTITY, que no aceptamos."),
    "no_geometry": _l("El archivo no trae ningún punto ni polígono."),
    "several_features": _l("El archivo trae varias parcelas: suba una a la vez."),
    "unsupported_geometry": _l("Solo aceptamos un punto, un polígono o un multipolígono."),
    "bad_position": _l("Hay una posición mal escrita (se esperan longitud y latitud)."),
}


class GeometryError(ValueError):
    """Why a geolocation cannot be read or accepted; ``code`` names the problem."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params

    @property
    def message(self):
        """The Spanish (or translated) sentence for ``code``; needs an app context."""
        return MESSAGES[self.code] % self.params if self.params else MESSAGES[self.code]


@dataclass(frozen=True)
class PlotGeometry:
    """A point or (multi)polygon as read, with coordinates as written.

    ``kind`` is ``"point"``, ``"polygon"`` or ``"multipolygon"``; ``point`` is set for a
    point and ``polygons`` (each exterior ring then holes) otherwise. ``source`` says how it
    was entered (``typed``, ``geojson``, ``kml``).
    """

    kind: str
    point: Position | None = None
    polygons: tuple[PolygonRings, ...] = ()
    source: str = "typed"

    def positions(self) -> list[Position]:
        if self.point is not None:
            return [self.point]
        return [pos for polygon in self.polygons for ring in polygon for pos in ring]

    def to_geojson(self) -> dict:
        """The GeoJSON geometry, coordinates as floats (longitude, latitude)."""

        def ring(r: Ring) -> list[list[float]]:
            return [[float(lon), float(lat)] for lon, lat in r]

        if self.kind == "point":
            lon, lat = self.point
            return {"type": "Point", "coordinates": [float(lon), float(lat)]}
        if self.kind == "polygon":
            return {"type": "Polygon", "coordinates": [ring(r) for r in self.polygons[0]]}
        return {
            "type": "MultiPolygon",
            "coordinates": [[ring(r) for r in polygon] for polygon in self.polygons],
        }

    def shape(self):
        """The shapely geometry (degrees, longitude first)."""
        from shapely.geometry import MultiPolygon, Point, Polygon

        def poly(rings: PolygonRings) -> Polygon:
            return Polygon(
                [(float(x), float(y)) for x, y in rings[0]],
                [[(float(x), float(y)) for x, y in hole] for hole in rings[1:]],
            )

        if self.kind == "point":
            return Point(float(self.point[0]), float(self.point[1]))
        if self.kind == "polygon":
            return poly(self.polygons[0])
        return MultiPolygon([poly(p) for p in self.polygons])


def decimals(value: Decimal) -> int:
    """Digits after the decimal point as written (``Decimal("1.500000")`` has 6)."""
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _number(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        raise GeometryError("not_a_number") from None
    if not value.is_finite():
        raise GeometryError("not_a_number")
    return value


_NUMBER = r"[+-]?\d+(?:[.,]\d+)?"
_TYPED_LINE = re.compile(
    rf"^\s*({_NUMBER})\s*(?:[;\t]|,\s+|\s+)\s*({_NUMBER})\s*$"  # separated by ; tab ", " or space
)
_TIGHT_DOTS = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?),([+-]?\d+(?:\.\d+)?)\s*$")  # 1.8,-78.7
_TIGHT_COMMAS = re.compile(r"^\s*([+-]?\d+),(\d+),([+-]?\d+),(\d+)\s*$")  # 1,8,-78,7


def _typed_position(line: str, number: int) -> Position:
    match = _TIGHT_COMMAS.match(line)
    if match:
        lat = f"{match[1]}.{match[2]}"
        lon = f"{match[3]}.{match[4]}"
    else:
        match = _TIGHT_DOTS.match(line) or _TYPED_LINE.match(line)
        if not match:
            raise GeometryError("bad_line", line=number)
        lat, lon = match[1], match[2]
        if "." in line and "," in lat + lon:  # "1.5, -78,7": mixed separators
            raise GeometryError("bad_line", line=number)
    return (_number(lon.replace(",", ".")), _number(lat.replace(",", ".")))


def read_typed(text: str) -> PlotGeometry:
    """Positions typed one a line, latitude first (see the module's docstring)."""
    if len(text) > MAX_BYTES:
        raise GeometryError("too_large")
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise GeometryError("empty")
    if len(lines) > MAX_VERTICES:
        raise GeometryError("too_many_vertices")
    positions = [_typed_position(line, n) for n, line in lines]
    if len(positions) == 1:
        return PlotGeometry("point", point=positions[0], source="typed")
    if positions[0] != positions[-1]:
        positions.append(positions[0])
    if len(positions) < 4:
        raise GeometryError("too_few_points")
    return PlotGeometry("polygon", polygons=((tuple(positions),),), source="typed")


def read_upload(data: bytes) -> PlotGeometry:
    """A GeoJSON or KML file, told apart by its content (not its name)."""
    if len(data) > MAX_BYTES:
        raise GeometryError("too_large")
    text = data.decode("utf-8-sig", errors="replace").lstrip()
    if text.startswith("{"):
        return read_geojson(text)
    if text.startswith("<"):
        return read_kml(data)
    raise GeometryError("unknown_format")


# GeoJSON ------------------------------------------------------------------------------------


def _refuse_constant(name: str):
    raise GeometryError("not_a_number")


def _json_position(value) -> Position:
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise GeometryError("bad_position")
    if not all(isinstance(v, Decimal) for v in value):
        raise GeometryError("bad_position")
    return (value[0], value[1])


def _json_rings(value) -> PolygonRings:
    if not isinstance(value, list) or not value:
        raise GeometryError("bad_position")
    rings = []
    for ring in value:
        if not isinstance(ring, list) or not ring:
            raise GeometryError("bad_position")
        rings.append(tuple(_json_position(p) for p in ring))
    return tuple(rings)


def _count_check(geometry: PlotGeometry) -> PlotGeometry:
    if len(geometry.positions()) > MAX_VERTICES:
        raise GeometryError("too_many_vertices")
    return geometry


def read_geojson(text: str | bytes) -> PlotGeometry:
    """A GeoJSON Geometry, Feature or single-feature FeatureCollection."""
    if len(text) > MAX_BYTES:
        raise GeometryError("too_large")
    try:
        # Numbers stay Decimal, as written; NaN and Infinity are refused.
        doc = json.loads(
            text, parse_float=Decimal, parse_int=Decimal, parse_constant=_refuse_constant
        )
    except GeometryError:
        raise
    except (ValueError, RecursionError):
        raise GeometryError("bad_json") from None
    if not isinstance(doc, dict):
        raise GeometryError("bad_json")
    if doc.get("type") == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list) or not features:
            raise GeometryError("no_geometry")
        if len(features) > 1:
            raise GeometryError("several_features")
        doc = features[0]
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = doc.get("geometry")
    if not isinstance(doc, dict) or doc.get("type") is None:
        raise GeometryError("no_geometry")
    kind, coordinates = doc.get("type"), doc.get("coordinates")
    if kind == "Point":
        return PlotGeometry("point", point=_json_position(coordinates), source="geojson")
    if kind == "Polygon":
        return _count_check(
            PlotGeometry("polygon", polygons=(_json_rings(coordinates),), source="geojson")
        )
    if kind == "MultiPolygon":
        if not isinstance(coordinates, list) or not coordinates:
            raise GeometryError("bad_position")
        polygons = tuple(_json_rings(p) for p in coordinates)
        if len(polygons) == 1:
            return _count_check(PlotGeometry("polygon", polygons=polygons, source="geojson"))
        return _count_check(PlotGeometry("multipolygon", polygons=polygons, source="geojson"))
    raise GeometryError("unsupported_geometry")


# KML ----------------------------------------------------------------------------------------

_FORBIDDEN_XML = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(element, name: str) -> list:
    return [child for child in element.iter() if _local(child.tag) == name]


def _kml_positions(element) -> Ring:
    texts = [c.text or "" for c in element.iter() if _local(c.tag) == "coordinates"]
    if len(texts) != 1:
        raise GeometryError("bad_position")
    positions = []
    for token in texts[0].split():
        parts = token.split(",")
        if len(parts) not in (2, 3):
            raise GeometryError("bad_position")
        positions.append((_number(parts[0]), _number(parts[1])))
        if len(positions) > MAX_VERTICES:
            raise GeometryError("too_many_vertices")
    if not positions:
        raise GeometryError("bad_position")
    return tuple(positions)


def _kml_polygon(polygon) -> PolygonRings:
    outer = _children(polygon, "outerBoundaryIs")
    if len(outer) != 1:
        raise GeometryError("bad_position")
    rings = [_kml_positions(outer[0])]
    rings += [_kml_positions(inner) for inner in _children(polygon, "innerBoundaryIs")]
    return tuple(rings)


class _Declaration(Exception):
    pass


def _refuse_declarations(raw: bytes) -> None:
    """Refuse a DOCTYPE or an entity declaration in any encoding (the byte search above
    misses a UTF-16 document); parsing stops at the first one, before any expansion."""

    def refuse(*args):
        raise _Declaration

    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(raw, True)
    except _Declaration:
        raise GeometryError("forbidden_xml") from None
    except (expat.ExpatError, LookupError, ValueError):  # LookupError: unknown encoding
        raise GeometryError("bad_kml") from None


def read_kml(data: bytes | str) -> PlotGeometry:
    """One Placemark with a Point, a Polygon or a MultiGeometry of Polygons."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_BYTES:
        raise GeometryError("too_large")
    if _FORBIDDEN_XML.search(raw):
        raise GeometryError("forbidden_xml")
    _refuse_declarations(raw)
    try:
        # Safe: declarations are refused above, whatever the encoding, so no entity is ever
        # expanded; expat does not fetch external resources.
        root = ET.fromstring(raw)  # noqa: S314
    except (ET.ParseError, LookupError, ValueError):
        raise GeometryError("bad_kml") from None
    placemarks = [
        p
        for p in _children(root, "Placemark")
        if _children(p, "Point") or _children(p, "Polygon")
    ]
    if not placemarks:
        raise GeometryError("no_geometry")
    if len(placemarks) > 1:
        raise GeometryError("several_features")
    placemark = placemarks[0]
    polygons = _children(placemark, "Polygon")
    points = _children(placemark, "Point")
    if polygons and points:
        raise GeometryError("unsupported_geometry")
    if points:
        if len(points) > 1:
            raise GeometryError("unsupported_geometry")
        positions = _kml_positions(points[0])
        if len(positions) != 1:
            raise GeometryError("bad_position")
        return PlotGeometry("point", point=positions[0], source="kml")
    rings = tuple(_kml_polygon(p) for p in polygons)
    kind = "polygon" if len(rings) == 1 else "multipolygon"
    return _count_check(PlotGeometry(kind, polygons=rings, source="kml"))
