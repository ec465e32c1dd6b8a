"""Validation rules of a plot's geolocation, one test per rule, on real-looking plots."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import shapely
from flask_babel import force_locale
from pyproj import Transformer
from shapely.geometry import Point, Polygon

from marketplace.traceability import geometry
from marketplace.traceability.formats import PlotGeometry, read_geojson, read_kml, read_typed
from marketplace.traceability.geometry import validate_plot
from tests.traceability.plots import (
    CAGUAN_CODE,
    CAGUAN_POINT,
    CHAPARRAL_CAFE,
    CHAPARRAL_CODE,
    PLANADAS_CAFE,
    PLANADAS_CODE,
    TUMACO_CACAO,
    TUMACO_CODE,
    geojson_polygon,
    kml_polygon,
    ring_text,
)


def _utm_area_ha(shape, epsg: int) -> float:
    """Independent planar area in a UTM zone (accurate to about 0.1 % near its meridian)."""
    to_utm = Transformer.from_crs(4326, epsg, always_xy=True)
    return shapely.transform(shape, to_utm.transform, interleaved=False).area / 10_000


@pytest.mark.parametrize(
    ("typed", "code", "declared", "epsg"),
    [
        (TUMACO_CACAO, TUMACO_CODE, "5.2", 32617),  # UTM 17N
        (PLANADAS_CAFE, PLANADAS_CODE, "2.5", 32618),  # UTM 18N
        (CHAPARRAL_CAFE, CHAPARRAL_CODE, "2.7", 32618),
    ],
)
def test_real_plots_are_accepted_with_their_geodesic_area(typed, code, declared, epsg):
    plot = read_typed(typed)
    check = validate_plot(plot, Decimal(declared), code)
    assert check.accepted and check.refusals == [] and check.warnings == []
    assert check.area_ha == check.area_ha.quantize(Decimal("0.0001"))
    assert float(check.area_ha) == pytest.approx(_utm_area_ha(plot.shape(), epsg), rel=0.003)


def test_a_small_plot_may_be_a_point():
    check = validate_plot(read_typed(CAGUAN_POINT), Decimal("3.2"), CAGUAN_CODE)
    assert check.accepted and check.area_ha is None
    assert validate_plot(read_typed(CAGUAN_POINT), Decimal("4"), CAGUAN_CODE).accepted


def test_a_point_for_a_plot_over_4_ha_is_refused():
    check = validate_plot(read_typed(CAGUAN_POINT), Decimal("4.01"), CAGUAN_CODE)
    assert check.refusal_codes == ["polygon_required"]


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "Point", "coordinates": [-74.781320, 92.131845]}',
        '{"type": "Point", "coordinates": [-184.781320, 2.131845]}',
    ],
)
def test_coordinates_out_of_wgs84_range_are_refused(text):
    assert validate_plot(read_geojson(text), Decimal("1"), CAGUAN_CODE).refusal_codes == [
        "out_of_range"
    ]


def test_typed_coordinates_need_six_decimals_each():
    short = TUMACO_CACAO.replace("1.739190", "1.73919")
    check = validate_plot(read_typed(short), Decimal("5.2"), TUMACO_CODE)
    assert check.refusal_codes == ["too_few_decimals"]
    assert validate_plot(read_typed("2.13, -74.78"), Decimal("1"), CAGUAN_CODE).refusal_codes == [
        "too_few_decimals"
    ]


def test_files_are_judged_by_their_precision_not_by_trimmed_zeros():
    # A program that rounds to six decimals and drops trailing zeros writes 1.74125.
    trimmed = geojson_polygon(TUMACO_CACAO).replace("1.741250", "1.74125")
    assert validate_plot(read_geojson(trimmed), Decimal("5.2"), TUMACO_CODE).accepted
    rounded = json.dumps(
        {"type": "Polygon", "coordinates": [[[-78.6523, 1.7412], [-78.6503, 1.7413],
                                             [-78.6502, 1.7392], [-78.6524, 1.7392],
                                             [-78.6523, 1.7412]]]}
    )
    check = validate_plot(read_geojson(rounded), Decimal("5.2"), TUMACO_CODE)
    assert check.refusal_codes == ["too_few_decimals"]


def test_an_unclosed_geojson_ring_is_refused():
    unclosed = geojson_polygon(PLANADAS_CAFE, close=False)
    check = validate_plot(read_geojson(unclosed), Decimal("2.5"), PLANADAS_CODE)
    assert check.refusal_codes == ["ring_not_closed"]


def test_a_ring_needs_four_distinct_points():
    triangle = "\n".join(PLANADAS_CAFE.splitlines()[:3])
    check = validate_plot(read_typed(triangle), Decimal("1.3"), PLANADAS_CODE)
    assert check.refusal_codes == ["too_few_points"]
    repeated = PLANADAS_CAFE.splitlines()
    repeated[3] = repeated[2]  # five positions, three distinct
    check = validate_plot(read_typed("\n".join(repeated)), Decimal("1.3"), PLANADAS_CODE)
    assert check.refusal_codes == ["too_few_points"]


def test_a_polygon_without_area_is_refused():
    line = """3.214630 -75.630120
3.214730 -75.629120
3.214830 -75.628120
3.214930 -75.627120"""
    check = validate_plot(read_typed(line), Decimal("2"), PLANADAS_CODE)
    assert check.refusal_codes == ["zero_area"]


def test_a_self_intersecting_boundary_is_refused():
    lines = TUMACO_CACAO.splitlines()
    bowtie = "\n".join([lines[0], lines[2], lines[1], lines[3]])  # corners out of order
    check = validate_plot(read_typed(bowtie), Decimal("5.2"), TUMACO_CODE)
    assert check.refusal_codes == ["self_intersection"]
    assert "Self-intersection" in check.refusals[0].detail


def test_swapped_longitude_and_latitude_are_recognised():
    # GeoJSON written latitude first: (1.74, -78.65) read as lon 1.74, lat -78.65 (Antarctica).
    swapped = geojson_polygon(TUMACO_CACAO, swap=True)
    check = validate_plot(read_geojson(swapped), Decimal("5.2"), TUMACO_CODE)
    assert check.refusal_codes == ["coordinates_swapped"]
    # Typed longitude first: -74.78 is read as a latitude.
    typed = validate_plot(read_typed("-74.781320, 2.131845"), Decimal("3"), CAGUAN_CODE)
    assert typed.refusal_codes == ["coordinates_swapped"]


def test_a_plot_outside_colombia_is_refused():
    quito = '{"type": "Point", "coordinates": [-78.467838, -0.180653]}'
    assert validate_plot(read_geojson(quito), Decimal("1"), TUMACO_CODE).refusal_codes == [
        "outside_colombia"
    ]


def test_a_plot_far_from_its_declared_municipality_is_refused():
    # The Tumaco plot declared in San Vicente del Caguán, about 440 km away.
    check = validate_plot(read_typed(TUMACO_CACAO), Decimal("5.2"), CAGUAN_CODE)
    assert check.refusal_codes == ["outside_municipality"]
    assert 300 < check.refusals[0].params["km"] < 600
    check = validate_plot(read_typed(TUMACO_CACAO), Decimal("5.2"), "99999")
    assert check.refusal_codes == ["unknown_municipality"]


def test_the_municipality_tolerance_is_in_kilometres():
    # Planadas's seat lies outside Chaparral's cell; a tolerance wide enough accepts it.
    seat = read_typed("3.197911, -75.644163")
    refused = validate_plot(seat, Decimal("1"), CHAPARRAL_CODE)
    assert refused.refusal_codes == ["outside_municipality"]
    km = refused.refusals[0].params["km"]
    assert validate_plot(seat, Decimal("1"), CHAPARRAL_CODE, tolerance_km=km + 1).accepted
    # A plot near the border of Planadas and Chaparral passes for either within 10 km.
    assert validate_plot(read_typed(PLANADAS_CAFE), Decimal("2.5"), PLANADAS_CODE).accepted


@pytest.mark.parametrize("declared", [Decimal("0"), Decimal("-2"), Decimal("NaN"), "mucho"])
def test_a_declared_area_must_be_positive(declared):
    check = validate_plot(read_typed(CAGUAN_POINT), declared, CAGUAN_CODE)
    assert check.refusal_codes == ["declared_area_invalid"]


def test_area_far_from_the_declared_one_is_a_warning_not_a_refusal():
    plot = read_typed(TUMACO_CACAO)  # 5.25 ha measured
    close = validate_plot(plot, Decimal("4.5"), TUMACO_CODE)  # 16.6 % off: fine
    assert close.accepted and close.warnings == []
    far = validate_plot(plot, Decimal("4"), TUMACO_CODE)  # 31 % off
    assert far.accepted and far.warning_codes == ["area_mismatch"]
    assert far.warnings[0].params == {"measured": far.area_ha, "declared": Decimal("4")}
    assert validate_plot(plot, Decimal("7"), TUMACO_CODE).warning_codes == ["area_mismatch"]


def test_overlap_with_the_cooperatives_other_plots_is_a_warning_with_its_area():
    plot = read_typed(TUMACO_CACAO)
    shape = plot.shape()
    minx, miny, maxx, maxy = shape.bounds
    # A neighbour's plot covering the eastern quarter of this one, and one beside it.
    east = Polygon([((minx + maxx) / 2 + (maxx - minx) / 4, miny - 0.001), (maxx + 0.002, miny - 0.001),
                    (maxx + 0.002, maxy + 0.001), ((minx + maxx) / 2 + (maxx - minx) / 4, maxy + 0.001)])
    apart = Polygon([(maxx + 0.003, miny), (maxx + 0.005, miny), (maxx + 0.005, maxy), (maxx + 0.003, maxy)])
    touching = Polygon([(maxx + 0.0001, miny), (maxx + 0.002, miny), (maxx + 0.002, maxy)])
    check = validate_plot(
        plot, Decimal("5.2"), TUMACO_CODE,
        others=[("lote-7", east), ("lote-9", apart), ("lote-10", touching)],
    )
    assert check.accepted and check.warning_codes == ["overlap"]
    assert [o.other for o in check.overlaps] == ["lote-7"]
    expected = geometry.geodesic_area_ha(shape.intersection(east))
    assert check.overlaps[0].area_ha == expected
    assert float(expected) == pytest.approx(float(check.area_ha) / 4, rel=0.1)


def test_a_point_plot_inside_another_plot_is_flagged():
    plot = read_typed(TUMACO_CACAO)
    centre = plot.shape().centroid
    point = PlotGeometry("point", point=(Decimal(f"{centre.x:.6f}"), Decimal(f"{centre.y:.6f}")))
    check = validate_plot(point, Decimal("1"), TUMACO_CODE, others=[(3, plot), (4, Point(0, 0))])
    assert check.accepted and check.warning_codes == ["overlap"]
    assert [(o.other, o.area_ha) for o in check.overlaps] == [(3, None)]


def test_gps_noise_along_a_shared_edge_is_not_an_overlap():
    plot = read_typed(TUMACO_CACAO)
    minx, miny, maxx, maxy = plot.shape().bounds
    # A neighbour whose edge reaches 0.5 m (about 0.0000045 degrees) into this plot.
    sliver = Polygon([(maxx - 0.0000045, miny - 0.001), (maxx + 0.002, miny - 0.001),
                      (maxx + 0.002, maxy + 0.001), (maxx - 0.0000045, maxy + 0.001)])
    assert plot.shape().intersects(sliver)
    check = validate_plot(plot, Decimal("5.2"), TUMACO_CODE, others=[("vecino", sliver)])
    assert check.warnings == [] and check.overlaps == []


def test_geojson_and_kml_of_the_same_plot_give_the_same_check():
    typed = validate_plot(read_typed(PLANADAS_CAFE), Decimal("2.5"), PLANADAS_CODE)
    from_geojson = validate_plot(read_geojson(geojson_polygon(PLANADAS_CAFE)), Decimal("2.5"), PLANADAS_CODE)
    from_kml = validate_plot(read_kml(kml_polygon(PLANADAS_CAFE)), Decimal("2.5"), PLANADAS_CODE)
    assert typed.accepted and typed == from_geojson == from_kml


def test_a_multipolygon_plot_adds_its_parts():
    shifted = TUMACO_CACAO.replace("-78.65", "-78.64")  # about 1.1 km east
    multi = read_geojson(
        '{"type": "MultiPolygon", "coordinates": [['
        + ring_text(TUMACO_CACAO) + "], [" + ring_text(shifted) + "]]}"
    )
    assert multi.kind == "multipolygon"
    check = validate_plot(multi, Decimal("10.5"), TUMACO_CODE)
    single = validate_plot(read_typed(TUMACO_CACAO), Decimal("5.2"), TUMACO_CODE)
    assert check.accepted and float(check.area_ha) == pytest.approx(2 * float(single.area_ha), rel=0.01)


def test_every_finding_has_a_spanish_message_and_an_english_one(app):
    with app.test_request_context():
        for code in geometry.MESSAGES:
            finding = geometry.Finding(code, {"km": 12, "measured": Decimal("5.2467"), "declared": 4})
            with force_locale("es"):
                spanish = str(finding.message)
            with force_locale("en"):
                english = str(finding.message)
            assert spanish and english and spanish != english, code
        with force_locale("es"):
            text = str(geometry.Finding("area_mismatch", {"measured": Decimal("5.2467"), "declared": 4}).message)
        assert "5.2467 ha" in text and "20 %" in text and "%%" not in text
