"""The due diligence geolocation file, checked against the rules of the Commission's EUDR
GeoJSON File Description as ``marketplace.traceability.eudr_file`` records them.

The checks read the bytes themselves (the text of every coordinate, the winding computed
here by the shoelace formula), not the module's own helpers.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from itertools import pairwise

import pytest
from flask_babel import force_locale
from shapely.geometry import LineString, MultiPoint, MultiPolygon, Point, Polygon

from marketplace.traceability.eudr_file import (
    MAX_FILE_BYTES,
    EudrFileError,
    PlotForFile,
    build_files,
)

# Real-looking plots: cacao in Tumaco (Nariño), coffee in Planadas (Tolima), cacao in San
# Vicente del Caguán (Caquetá).
TUMACO = Point(-78.76, 1.8)
PLANADAS_RING = [(-75.6440, 3.1970), (-75.6440, 3.1995), (-75.6410, 3.1995),
                 (-75.6410, 3.1970), (-75.6440, 3.1970)]  # clockwise, about 9 ha
CAGUAN_RING = [(-74.7700, 2.1150), (-74.7660, 2.1150), (-74.7660, 2.1190),
               (-74.7700, 2.1190), (-74.7700, 2.1150)]  # counter-clockwise

_NUMBER_IN_COORDINATES = re.compile(r'"coordinates":([\[\]\d.,\-]+)')


def tumaco_point(**overrides) -> PlotForFile:
    values = dict(producer_name="Aurelio Quiñones", production_place="Vereda Bucheli, Tumaco",
                  area_ha=Decimal("2.5"), geometry=TUMACO, id=101)
    values.update(overrides)
    return PlotForFile(**values)


def planadas_polygon(**overrides) -> PlotForFile:
    values = dict(producer_name="Asociación Cafetera de Gaitania", area_ha=Decimal("9.3"),
                  production_place="Finca La Esperanza, Planadas",
                  geometry=Polygon(PLANADAS_RING), id=202)
    values.update(overrides)
    return PlotForFile(**values)


def only_file(plots) -> bytes:
    files = build_files(plots)
    assert len(files) == 1
    return files[0]


def signed_area(ring) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairwise(ring)) / 2


def assert_follows_rules(data: bytes) -> dict:
    """The published rules, checked on one file's bytes."""
    text = data.decode("utf-8")  # raises on anything but UTF-8
    assert not text.startswith("\ufeff")
    document = json.loads(text)
    assert document["type"] == "FeatureCollection"
    assert set(document) == {"type", "features"}  # no crs: WGS 84 is implicit
    for coordinates in _NUMBER_IN_COORDINATES.findall(text):
        for number in re.findall(r"-?\d+(?:\.\d+)?", coordinates):
            assert re.fullmatch(r"-?\d{1,3}\.\d{6}", number), number
    for feature in document["features"]:
        assert feature["type"] == "Feature"
        props = feature["properties"]
        for key in ("ProducerName", "ProducerCountry", "ProductionPlace"):
            assert isinstance(props[key], str) and props[key].strip()
        assert re.fullmatch(r"[A-Z]{2}", props["ProducerCountry"])
        geometry = feature["geometry"]
        assert geometry["type"] in {"Point", "Polygon", "MultiPolygon"}
        if geometry["type"] == "Point":
            lon, lat = geometry["coordinates"]
            assert -180 <= lon <= 180 and -90 <= lat <= 90
            area = props["Area"]
            assert isinstance(area, (int, float)) and not isinstance(area, bool)
            assert 0 < area <= 4
        else:
            assert "Area" not in props
            polygons = ([geometry["coordinates"]] if geometry["type"] == "Polygon"
                        else geometry["coordinates"])
            for polygon in polygons:
                assert len(polygon) == 1  # no holes
                ring = polygon[0]
                assert len(ring) >= 4 and ring[0] == ring[-1]
                assert len({tuple(p) for p in ring}) >= 3
                assert all(a != b for a, b in pairwise(ring))
                assert signed_area(ring) > 0  # counter-clockwise
                assert Polygon(ring).is_valid
    return document


def test_tumaco_point_is_written_longitude_first_with_six_decimals():
    data = only_file([tumaco_point()])
    assert b'"coordinates":[-78.760000,1.800000]' in data
    document = assert_follows_rules(data)
    assert document["features"][0]["geometry"] == {"type": "Point",
                                                   "coordinates": [-78.76, 1.8]}


def test_coordinates_are_rounded_to_six_decimals_not_float_noise():
    noisy = Point(-78.76000000000001, 0.1 + 0.2 + 1.5)  # 1.8000000000000003
    data = only_file([tumaco_point(geometry=noisy)])
    assert b"[-78.760000,1.800000]" in data
    lon_lat = Point(-75.64412349, 3.19700051)
    data = only_file([tumaco_point(geometry=lon_lat)])
    assert b"[-75.644123,3.197001]" in data
    assert_follows_rules(data)


def test_polygon_is_closed_counter_clockwise_and_keeps_its_vertices():
    data = only_file([planadas_polygon()])
    document = assert_follows_rules(data)
    ring = document["features"][0]["geometry"]["coordinates"][0]
    assert signed_area(PLANADAS_RING) < 0  # it came in clockwise
    assert {tuple(p) for p in ring} == set(PLANADAS_RING)
    assert ring[0] == ring[-1]


def test_an_open_ring_given_as_geojson_comes_out_closed():
    open_ring = {"type": "Polygon", "coordinates": [[list(p) for p in CAGUAN_RING[:-1]]]}
    data = only_file([planadas_polygon(geometry=open_ring)])
    ring = assert_follows_rules(data)["features"][0]["geometry"]["coordinates"][0]
    assert len(ring) == 5 and ring[0] == ring[-1] == [-74.77, 2.115]


def test_properties_are_present_typed_and_area_only_on_points():
    data = only_file([tumaco_point(), planadas_polygon()])
    point, polygon = assert_follows_rules(data)["features"]
    assert point["properties"] == {"ProducerName": "Aurelio Quiñones", "ProducerCountry": "CO",
                                   "ProductionPlace": "Vereda Bucheli, Tumaco", "Area": 2.5}
    assert polygon["properties"] == {"ProducerName": "Asociación Cafetera de Gaitania",
                                     "ProducerCountry": "CO",
                                     "ProductionPlace": "Finca La Esperanza, Planadas"}
    assert point["id"] == "101" and polygon["id"] == "202"
    assert b'"Area":2.5}' in data  # a number, not the text "2.5"


def test_area_is_a_plain_number_in_hectares():
    data = only_file([tumaco_point(area_ha=Decimal("4.00")),
                      tumaco_point(area_ha=Decimal("0.35"), id=102)])
    assert b'"Area":4}' in data and b'"Area":0.35}' in data
    assert_follows_rules(data)


def test_a_point_for_more_than_four_hectares_is_refused():
    with pytest.raises(EudrFileError) as refused:
        build_files([tumaco_point(area_ha=Decimal("4.01"))])
    assert "polígono" in str(refused.value.message)


@pytest.mark.parametrize("geometry", [
    Polygon(CAGUAN_RING, [[(-74.769, 2.116), (-74.769, 2.117), (-74.768, 2.117),
                           (-74.768, 2.116)]]),  # a hole
    Polygon([(-74.77, 2.115), (-74.766, 2.119), (-74.766, 2.115), (-74.77, 2.119)]),  # a bow tie
    Polygon([(-74.7700001, 2.1150001), (-74.7700002, 2.1150002), (-74.7700003, 2.1150001)]),
    LineString(CAGUAN_RING),
    MultiPoint([(-74.77, 2.115), (-74.766, 2.119)]),
    {"type": "Polygon", "coordinates": [[[-74.77]]]},
    Point(-278.76, 1.8),
    Polygon(),
])
def test_geometries_the_system_would_reject_are_refused(geometry):
    with pytest.raises(EudrFileError):
        build_files([tumaco_point(), planadas_polygon(geometry=geometry)])


def test_vertices_that_round_onto_the_previous_one_are_dropped():
    ring = [(-74.77, 2.115), (-74.7700001, 2.1150001), (-74.766, 2.115), (-74.766, 2.119),
            (-74.77, 2.119), (-74.77, 2.115)]
    data = only_file([planadas_polygon(geometry=Polygon(ring))])
    written = assert_follows_rules(data)["features"][0]["geometry"]["coordinates"][0]
    assert len(written) == 5


def test_altitude_is_dropped():
    data = only_file([tumaco_point(geometry=Point(-78.76, 1.8, 12.0))])
    assert b'"coordinates":[-78.760000,1.800000]}' in data


def test_a_multipolygon_plot_is_written_with_each_part_checked():
    other = [(-74.760, 2.115), (-74.758, 2.115), (-74.758, 2.117), (-74.760, 2.117)]
    data = only_file([planadas_polygon(geometry=MultiPolygon([Polygon(CAGUAN_RING),
                                                              Polygon(other)]))])
    geometry = assert_follows_rules(data)["features"][0]["geometry"]
    assert geometry["type"] == "MultiPolygon" and len(geometry["coordinates"]) == 2


@pytest.mark.parametrize("overrides", [
    {"producer_name": "  "}, {"production_place": ""}, {"country": "COL"}, {"country": "co"},
    {"area_ha": Decimal("0")}, {"area_ha": Decimal("-1")}, {"area_ha": "muchas"},
])
def test_missing_or_malformed_properties_are_refused(overrides):
    with pytest.raises(EudrFileError):
        build_files([tumaco_point(**overrides)])


def test_no_plots_is_an_error_not_an_empty_file():
    with pytest.raises(EudrFileError):
        build_files([])


def test_non_ascii_names_are_kept_as_utf8_text():
    data = only_file([tumaco_point(producer_name="Ñusta Peña Ibáñez",
                                   production_place="Vereda San José, Tumaco")])
    assert "Ñusta Peña Ibáñez".encode() in data
    assert b"\\u" not in data
    assert_follows_rules(data)


def _many_plots(count: int) -> list[PlotForFile]:
    plots = []
    for index in range(count):
        dx = index * 0.01
        ring = [(x + dx, y) for x, y in CAGUAN_RING]
        if index % 3 == 0:
            plots.append(tumaco_point(id=index, geometry=Point(-78.76 + dx, 1.8)))
        else:
            plots.append(planadas_polygon(id=index, geometry=Polygon(ring)))
    return plots


def test_plots_are_split_over_files_under_the_limit_in_order():
    plots = _many_plots(40)
    whole = only_file(plots)
    limit = 2000
    files = build_files(plots, max_bytes=limit)
    assert len(files) > 2
    ids = []
    for data in files:
        assert len(data) <= limit
        document = assert_follows_rules(data)
        assert document["features"]
        ids.extend(feature["id"] for feature in document["features"])
    assert ids == [str(index) for index in range(40)]
    merged = [f for data in files for f in json.loads(data)["features"]]
    assert merged == json.loads(whole)["features"]


def test_a_file_is_filled_up_to_the_limit_exactly():
    plots = _many_plots(6)
    one = len(only_file(plots[:3]))
    files = build_files(plots, max_bytes=one)
    assert len(files[0]) == one
    assert [len(json.loads(d)["features"]) for d in files] == [3, 3]
    assert len(build_files(plots[:3], max_bytes=one - 1)) == 2


def test_one_plot_larger_than_the_limit_is_refused_with_its_name():
    with pytest.raises(EudrFileError) as refused:
        build_files([tumaco_point(), planadas_polygon()], max_bytes=300)
    message = str(refused.value.message)
    assert "202 (Finca La Esperanza, Planadas)" in message and "300" in message


def test_the_default_limit_is_25_mb_read_as_the_smaller_megabyte():
    assert MAX_FILE_BYTES == 25_000_000
    assert len(build_files(_many_plots(30))) == 1


def test_same_plots_give_the_same_bytes():
    first = build_files(_many_plots(12), max_bytes=1500)
    again = build_files(_many_plots(12), max_bytes=1500)
    assert first == again
    as_mapping = tumaco_point(geometry={"type": "Point", "coordinates": [-78.76, 1.8]})
    assert only_file([as_mapping]) == only_file([tumaco_point()])


def test_refusals_are_told_in_the_readers_language(app):
    with pytest.raises(EudrFileError) as refused:
        build_files([tumaco_point(area_ha=Decimal("6"))])
    with app.test_request_context():
        with force_locale("es"):
            assert str(refused.value.message) == (
                "La parcela 101 (Vereda Bucheli, Tumaco) tiene 6 ha: por encima de 4 ha su "
                "ubicación debe ser un polígono, no un punto.")
        with force_locale("en"):
            assert str(refused.value.message) == (
                "Plot 101 (Vereda Bucheli, Tumaco) has 6 ha: above 4 ha its location must be "
                "a polygon, not a point.")
