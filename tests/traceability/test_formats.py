"""Reading plots from typed coordinates, GeoJSON and KML, and refusing hostile input."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from flask_babel import force_locale

from marketplace.traceability import formats
from marketplace.traceability.formats import (
    GeometryError,
    read_geojson,
    read_kml,
    read_typed,
    read_upload,
)
from tests.traceability.plots import (
    CAGUAN_POINT,
    CHAPARRAL_CAFE,
    PLANADAS_CAFE,
    TUMACO_CACAO,
    geojson_polygon,
    kml_polygon,
)


def _code(call, *args) -> str:
    with pytest.raises(GeometryError) as caught:
        call(*args)
    return caught.value.code


# Typed coordinates ------------------------------------------------------------------------


def test_typed_point_is_latitude_first_and_keeps_the_decimals_written():
    plot = read_typed(CAGUAN_POINT)
    assert plot.kind == "point" and plot.source == "typed"
    assert plot.point == (Decimal("-74.781320"), Decimal("2.131845"))
    assert str(plot.point[0]) == "-74.781320"  # trailing zero kept: six decimals as typed


@pytest.mark.parametrize(
    "line",
    [
        "1.741200, -78.652300",
        "1.741200 -78.652300",
        "1.741200,-78.652300",
        "  1.741200 ,  -78.652300  ",
        "1,741200; -78,652300",
        "1,741200\t-78,652300",
        "1,741200 -78,652300",
        "1,741200,-78,652300",
    ],
)
def test_typed_separators_and_decimal_commas(line):
    assert read_typed(line).point == (Decimal("-78.652300"), Decimal("1.741200"))


@pytest.mark.parametrize(
    "line", ["1.741200", "1.741200, -78,652300", "norte 1.7, oeste 78.6", "1.7.4, -78.6", "1,7,4"]
)
def test_unreadable_typed_line_names_its_line(line):
    with pytest.raises(GeometryError) as caught:
        read_typed(f"1.741200, -78.652300\n\n{line}\n1.739160, -78.652350")
    assert caught.value.code == "bad_line" and caught.value.params == {"line": 3}


def test_typed_ring_is_closed_automatically():
    plot = read_typed(TUMACO_CACAO)
    ring = plot.polygons[0][0]
    assert plot.kind == "polygon" and len(ring) == 5 and ring[0] == ring[-1]
    closed = read_typed(TUMACO_CACAO + "\n1.741200, -78.652300")
    assert closed.polygons == plot.polygons  # already closed: not closed twice


def test_decimal_commas_read_the_same_plot():
    dots = read_typed(CHAPARRAL_CAFE.replace(",", ".").replace(";", ","))
    assert read_typed(CHAPARRAL_CAFE).polygons == dots.polygons


def test_typed_edge_cases():
    assert _code(read_typed, "  \n \n") == "empty"
    assert _code(read_typed, "1.741200, -78.652300\n1.741250, -78.650280") == "too_few_points"
    assert _code(read_typed, "1.741200, -78.652300\n" * 10_001) == "too_many_vertices"


# GeoJSON ----------------------------------------------------------------------------------


def test_geojson_geometry_feature_and_collection_read_the_same_polygon():
    geometry = geojson_polygon(PLANADAS_CAFE)
    feature = '{"type": "Feature", "properties": {"finca": "La Esperanza"}, "geometry": ' + geometry + "}"
    collection = '{"type": "FeatureCollection", "features": [' + feature + "]}"
    plots = [read_geojson(text) for text in (geometry, feature, collection)]
    assert plots[0] == plots[1] == plots[2]
    assert plots[0].source == "geojson" and plots[0].kind == "polygon"
    assert plots[0].polygons[0][0][0] == (Decimal("-75.630120"), Decimal("3.214630"))


def test_geojson_round_trip_and_typed_plot_agree():
    typed = read_typed(TUMACO_CACAO)
    again = read_geojson(json.dumps(typed.to_geojson()))
    assert again.shape().equals(typed.shape())
    assert again.to_geojson() == typed.to_geojson()


def test_geojson_point_with_altitude_and_multipolygon():
    point = read_geojson('{"type": "Point", "coordinates": [-74.781320, 2.131845, 312.5]}')
    assert point.kind == "point" and point.point == (Decimal("-74.781320"), Decimal("2.131845"))
    one = json.loads(geojson_polygon(TUMACO_CACAO))["coordinates"]
    two = json.loads(geojson_polygon(PLANADAS_CAFE))["coordinates"]
    multi = read_geojson(json.dumps({"type": "MultiPolygon", "coordinates": [one, two]}))
    assert multi.kind == "multipolygon" and len(multi.polygons) == 2
    single = read_geojson(json.dumps({"type": "MultiPolygon", "coordinates": [one]}))
    assert single.kind == "polygon"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"type": "Point", "coordinates": [NaN, 2.131845]}', "not_a_number"),
        ('{"type": "Point", "coordinates": [-74.781320, Infinity]}', "not_a_number"),
        ('{"type": "Point", "coordinates": ["-74.781320", "2.131845"]}', "bad_position"),
        ('{"type": "Point", "coordinates": [-74.781320]}', "bad_position"),
        ('{"type": "LineString", "coordinates": [[-74.78, 2.13], [-74.77, 2.14]]}', "unsupported_geometry"),
        ('{"type": "Polygon", "coordinates": [[]]}', "bad_position"),
        ('{"type": "Polygon", "coordinates": []}', "bad_position"),
        ('{"type": "MultiPolygon", "coordinates": [[]]}', "bad_position"),
        ('{"type": "FeatureCollection", "features": []}', "no_geometry"),
        ('{"type": "Feature", "geometry": null}', "no_geometry"),
        ("[1, 2]", "bad_json"),
        ('{"type": "Point", "coordinates": [', "bad_json"),
        ("[" * 100_000 + "]" * 100_000, "bad_json"),  # nesting bomb
    ],
)
def test_bad_geojson_is_refused_with_its_code(text, code):
    assert _code(read_geojson, text) == code


def test_geojson_with_several_features_is_refused():
    feature = '{"type": "Feature", "geometry": {"type": "Point", "coordinates": [-74.781320, 2.131845]}}'
    text = '{"type": "FeatureCollection", "features": [' + feature + ", " + feature + "]}"
    assert _code(read_geojson, text) == "several_features"


def test_huge_geojson_is_refused_before_parsing():
    big = '{"type": "Point", "coordinates": [-74.781320, 2.131845], "p": "' + "x" * formats.MAX_BYTES + '"}'
    assert _code(read_geojson, big) == "too_large"
    assert _code(read_upload, big.encode()) == "too_large"


def test_geojson_with_too_many_vertices_is_refused():
    ring = [[-74.7 - i * 1e-6, 2.1] for i in range(formats.MAX_VERTICES + 1)]
    text = json.dumps({"type": "Polygon", "coordinates": [ring + [ring[0]]]})
    assert len(text) < formats.MAX_BYTES
    assert _code(read_geojson, text) == "too_many_vertices"


# KML --------------------------------------------------------------------------------------


def test_kml_polygon_reads_the_same_plot_as_geojson():
    kml = read_kml(kml_polygon(PLANADAS_CAFE).encode())
    geojson = read_geojson(geojson_polygon(PLANADAS_CAFE))
    assert kml.source == "kml" and kml.kind == "polygon"
    assert kml.polygons == geojson.polygons


def test_kml_point_and_upload_sniffing():
    kml = b"""<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Placemark>
    <name>Lote 3</name><Point><coordinates>-74.781320,2.131845,0</coordinates></Point>
    </Placemark></kml>"""
    assert read_kml(kml).point == (Decimal("-74.781320"), Decimal("2.131845"))
    assert read_upload(kml) == read_kml(kml)
    geojson = geojson_polygon(TUMACO_CACAO).encode()
    assert read_upload(b"\xef\xbb\xbf  " + geojson) == read_geojson(geojson)
    assert _code(read_upload, b"PK\x03\x04 zipped kmz") == "unknown_format"


def test_kml_with_holes_and_multigeometry():
    ring = "-78.652300,1.741200 -78.650280,1.741250 -78.650210,1.739190 -78.652350,1.739160 -78.652300,1.741200"
    hole = "-78.651500,1.740500 -78.651000,1.740500 -78.651000,1.740000 -78.651500,1.740500"
    polygon = (
        f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{ring}</coordinates></LinearRing>"
        f"</outerBoundaryIs><innerBoundaryIs><LinearRing><coordinates>{hole}</coordinates>"
        "</LinearRing></innerBoundaryIs></Polygon>"
    )
    plot = read_kml(f"<kml><Placemark>{polygon}</Placemark></kml>")
    assert len(plot.polygons[0]) == 2 and plot.kind == "polygon"
    multi = read_kml(f"<kml><Placemark><MultiGeometry>{polygon}{polygon}</MultiGeometry></Placemark></kml>")
    assert multi.kind == "multipolygon"


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<kml><Placemark><name>&lol9;</name><Point><coordinates>-74.781320,2.131845</coordinates></Point></Placemark></kml>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE kml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<kml><Placemark><name>&secret;</name><Point><coordinates>-74.781320,2.131845</coordinates></Point></Placemark></kml>"""


@pytest.mark.parametrize(
    "data",
    [
        BILLION_LAUGHS.encode(),
        EXTERNAL_ENTITY.encode(),
        BILLION_LAUGHS.replace('"1.0"?>', '"1.0" encoding="UTF-16"?>').encode("utf-16"),
        b'<?xml version="1.0"?><!doctype kml SYSTEM "http://example.com/kml.dtd"><kml/>',
    ],
)
def test_kml_declarations_are_refused_in_any_encoding(data):
    assert _code(read_kml, data) == "forbidden_xml"
    assert _code(read_upload, data) in {"forbidden_xml", "unknown_format"}


def test_utf16_billion_laughs_is_caught_by_the_parser_check():
    data = BILLION_LAUGHS.replace('"1.0"?>', '"1.0" encoding="UTF-16"?>').encode("utf-16")
    assert not formats._FORBIDDEN_XML.search(data)  # the byte search alone would miss it
    assert _code(read_kml, data) == "forbidden_xml"


@pytest.mark.parametrize(
    ("kml", "code"),
    [
        ("<kml><Placemark><Point><coordinates>nan,2.131845</coordinates></Point></Placemark></kml>", "not_a_number"),
        ("<kml><Placemark><Point><coordinates>-74.781320</coordinates></Point></Placemark></kml>", "bad_position"),
        ("<kml><Placemark><name>sin geometría</name></Placemark></kml>", "no_geometry"),
        ("<kml><Placemark><Point><coordinates>-74.781320,2.131845", "bad_kml"),
        ('<?xml version="1.0" encoding="UF-8"?><kml/>', "bad_kml"),  # unknown encoding
        (
            "<kml><Placemark><Point><coordinates>-74.781320,2.131845</coordinates></Point></Placemark>"
            "<Placemark><Point><coordinates>-74.781321,2.131846</coordinates></Point></Placemark></kml>",
            "several_features",
        ),
    ],
)
def test_bad_kml_is_refused_with_its_code(kml, code):
    assert _code(read_kml, kml) == code


def test_huge_kml_and_too_many_vertices_are_refused():
    assert _code(read_kml, b"<kml>" + b" " * formats.MAX_BYTES + b"</kml>") == "too_large"
    coordinates = " ".join(f"{-74.7 - i * 1e-6:.6f},2.100000" for i in range(formats.MAX_VERTICES + 1))
    kml = f"<kml><Placemark><Polygon><outerBoundaryIs><LinearRing><coordinates>{coordinates}</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></kml>"
    assert _code(read_kml, kml) == "too_many_vertices"


def test_every_error_code_has_a_spanish_message_and_an_english_one(app):
    with app.test_request_context():
        for code in formats.MESSAGES:
            error = GeometryError(code, line=4)
            with force_locale("es"):
                spanish = str(error.message)
            with force_locale("en"):
                english = str(error.message)
            assert spanish and english and spanish != english, code
        with force_locale("es"):
            assert "Línea 4" in str(GeometryError("bad_line", line=4).message)
