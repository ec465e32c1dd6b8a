"""The deforestation check against rasters, compared with an independent brute-force computation.

The project ships no real layers: every raster here is a small GeoTIFF the test writes to a
temporary folder, on a 1 arc-second grid (about 31 m) near Tumaco (Nariño), with a known
pattern. The independent computation visits every pixel, tests its centre with shapely's
``contains`` and sums pixel areas computed as geodesic polygons with ``pyproj.Geod`` (the module
uses a closed-form ellipsoidal zone formula instead); protected overlaps are measured
independently in UTM zone 17N (planar, within 0.1 % there).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
import rasterio
import shapely
from pyproj import Geod, Transformer
from rasterio.transform import from_origin
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box
from shapely.geometry.polygon import orient

from marketplace.traceability import forest
from marketplace.traceability.forest import (
    NO_VERIFICADO,
    RIESGO,
    SIN_RIESGO,
    Layers,
    PlotShape,
    Thresholds,
    check_many,
    check_plot,
)

GEOD = Geod(ellps="WGS84")
RES = 1 / 3600  # 1 arc-second, Hansen's grid
WEST, NORTH = -78.80, 1.82  # near Tumaco
SIZE = 60
NODATA = 255


def _write(path, array, res=RES, nodata=NODATA, crs="EPSG:4326"):
    with rasterio.open(path, "w", driver="GTiff", height=array.shape[0], width=array.shape[1],
                       count=1, dtype="uint8", crs=crs, nodata=nodata,
                       transform=from_origin(WEST, NORTH, res, res)) as dst:
        dst.write(array.astype("uint8"), 1)
    return str(path)


def _forest_array():
    """Forest (1) in columns 0-34, non-forest (0) east of it; no data in the south-east corner."""
    a = np.zeros((SIZE, SIZE), dtype="uint8")
    a[:, :35] = 1
    a[50:, 50:] = NODATA
    return a


def _loss_array():
    """Loss pixels of various years, on forest and on non-forest, and no data as in the forest map."""
    a = np.zeros((SIZE, SIZE), dtype="uint8")
    a[10:14, 10:14] = 15   # 2015: before the cut-off
    a[20:23, 20:25] = 20   # 2020: still before the cut-off (31 Dec 2020)
    a[30:33, 5:9] = 21     # 2021 on forest
    a[5:7, 28:33] = 23     # 2023 on forest
    a[40:44, 40:45] = 22   # 2022 on non-forest: not deforestation
    a[50:, 50:] = NODATA
    return a


@pytest.fixture
def rasters(tmp_path):
    return {"forest": _write(tmp_path / "forest2020.tif", _forest_array()),
            "loss": _write(tmp_path / "lossyear.tif", _loss_array())}


def _lonlat_box(c0, r0, c1, r1, res=RES):
    """A lon/lat box from pixel column/row coordinates (fractions allowed) of the test grid."""
    return box(WEST + c0 * res, NORTH - r1 * res, WEST + c1 * res, NORTH - r0 * res)


def _pixel_area_m2(row, col, res=RES):
    lon0, lat0 = WEST + col * res, NORTH - row * res
    lons = [lon0, lon0 + res, lon0 + res, lon0]
    lats = [lat0, lat0, lat0 - res, lat0 - res]
    return abs(GEOD.polygon_area_perimeter(lons, lats)[0])


def _brute(geometry, forest_a, loss_a, forest_res=RES):
    """Independent figures: ha of the plot's covered pixels, forest share, ha of loss >= 2021 on
    2020 forest (the loss pixel's centre looked up in the forest array by coordinates)."""
    covered = forest_m2 = loss_m2 = 0.0
    for row in range(forest_a.shape[0]):
        for col in range(forest_a.shape[1]):
            lon, lat = WEST + (col + 0.5) * forest_res, NORTH - (row + 0.5) * forest_res
            if geometry.contains(Point(lon, lat)) and forest_a[row, col] != NODATA:
                area = _pixel_area_m2(row, col, forest_res)
                covered += area
                forest_m2 += area if forest_a[row, col] == 1 else 0.0
    for row in range(SIZE):
        for col in range(SIZE):
            lon, lat = WEST + (col + 0.5) * RES, NORTH - (row + 0.5) * RES
            value = loss_a[row, col]
            if value == NODATA or value < 21 or not geometry.contains(Point(lon, lat)):
                continue
            frow, fcol = int((NORTH - lat) / forest_res), int((lon - WEST) / forest_res)
            if forest_a[frow, fcol] == 1:
                loss_m2 += _pixel_area_m2(row, col)
    return covered / 1e4, forest_m2 / covered, loss_m2 / 1e4


def _utm_area_ha(geometry):
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32617", always_xy=True)
    return shapely.transform(geometry, lambda xy: np.column_stack(to_utm.transform(xy[:, 0], xy[:, 1]))).area / 1e4


def test_polygon_matches_brute_force_and_only_loss_on_2020_forest_after_cutoff_counts(rasters):
    # Covers loss of every year: 2015, 2020 (ignored), 2021 and 2023 on forest, 2022 on non-forest.
    plot = _lonlat_box(2.3, 1.7, 47.6, 46.2).union(_lonlat_box(2.3, 1.7, 20.2, 48.9))
    result = check_plot(PlotShape(plot), Layers(rasters["forest"], rasters["loss"]))

    _, share, loss_ha = _brute(plot, _forest_array(), _loss_array())
    assert float(result.forest_2020_share) == pytest.approx(share, abs=2e-4)
    assert float(result.loss_ha) == pytest.approx(loss_ha, rel=1e-3, abs=2e-4)
    # 12 pixels of 2021 and 10 of 2023, each about 0.0955 ha at this latitude
    assert loss_ha == pytest.approx(22 * _pixel_area_m2(30, 5) / 1e4, rel=1e-3)
    assert set(result.loss_ha_by_year) == {2021, 2023}
    assert float(result.loss_ha_by_year[2021]) == pytest.approx(12 * _pixel_area_m2(31, 6) / 1e4, rel=1e-3)
    assert result.verdict == RIESGO
    assert result.reasons[0] == "perdida_bosque"
    assert float(result.area_ha) == pytest.approx(_utm_area_ha(plot), rel=2e-3)


def test_multipolygon_with_a_hole_matches_brute_force(rasters):
    # two parts; the west one has a hole over the 2021 loss block, the east one holds 2023 loss
    west = _lonlat_box(1.5, 24.5, 14.2, 39.7).difference(_lonlat_box(4.4, 29.3, 9.6, 33.8))
    plot = MultiPolygon([west, _lonlat_box(26.1, 3.2, 34.7, 9.9)])
    result = check_plot(PlotShape(plot), Layers(rasters["forest"], rasters["loss"]))
    _, share, loss_ha = _brute(plot, _forest_array(), _loss_array())
    assert float(result.forest_2020_share) == pytest.approx(share, abs=2e-4)
    assert float(result.loss_ha) == pytest.approx(loss_ha, rel=1e-3)
    assert set(result.loss_ha_by_year) == {2023}
    assert float(result.area_ha) == pytest.approx(_utm_area_ha(plot), rel=2e-3)


def test_loss_up_to_2020_and_loss_outside_forest_give_no_risk(rasters):
    layers = Layers(rasters["forest"], rasters["loss"])
    before_cutoff = _lonlat_box(8, 8, 26, 24)    # 2015 and 2020 loss, all on forest or not
    on_non_forest = _lonlat_box(38, 38, 47, 47)  # 2022 loss on land that was not forest in 2020
    first, second = check_many([PlotShape(before_cutoff), PlotShape(on_non_forest)], layers)
    assert first.verdict == SIN_RIESGO and first.loss_ha == Decimal("0") and first.loss_ha_by_year == {}
    assert second.verdict == SIN_RIESGO and second.loss_ha == Decimal("0")
    assert second.forest_2020_share == Decimal("0")
    _, share, _ = _brute(before_cutoff, _forest_array(), _loss_array())
    assert float(first.forest_2020_share) == pytest.approx(share, abs=2e-4)


def test_thresholds_decide_the_verdict(rasters):
    plot = PlotShape(_lonlat_box(4, 29, 10, 34))  # the 12 pixels of 2021: about 1.15 ha
    layers = Layers(rasters["forest"], rasters["loss"])
    assert check_plot(plot, layers).verdict == RIESGO
    assert check_plot(plot, layers, Thresholds(max_loss_ha=Decimal("1.2"))).verdict == SIN_RIESGO
    assert check_plot(plot, layers, Thresholds(max_loss_ha=Decimal("1.1"))).verdict == RIESGO


def test_plot_outside_the_raster_or_on_nodata_is_not_verified(rasters):
    layers = Layers(rasters["forest"], rasters["loss"])
    outside = box(-78.70, 1.70, -78.69, 1.71)
    straddling = _lonlat_box(-5, 2, 5, 8)        # half west of the raster's edge
    on_nodata = _lonlat_box(48, 48, 56, 56)     # partly on the no-data corner
    results = check_many([PlotShape(outside), PlotShape(straddling), PlotShape(on_nodata)], layers)
    assert [r.verdict for r in results] == [NO_VERIFICADO] * 3
    assert results[0].forest_2020_share is None and results[0].loss_ha is None
    assert "fuera_de_cobertura:bosque_2020" in results[0].reasons
    assert "fuera_de_cobertura:perdida" in results[2].reasons
    # the covered part is still measured: all forest west of column 35
    assert results[1].forest_2020_share == Decimal("1.0000")


def test_missing_layer_is_not_verified(rasters):
    result = check_plot(PlotShape(_lonlat_box(1, 1, 5, 5)), Layers(rasters["forest"], None))
    assert result.verdict == NO_VERIFICADO
    assert "capa_faltante:perdida" in result.reasons


def test_protected_area_overlap_hectares_and_share(rasters):
    protected = _lonlat_box(0, 0, 20, 60)
    plot = _lonlat_box(10, 1, 30, 4)  # half inside the protected area; no loss after 2020
    result = check_plot(PlotShape(plot), Layers(rasters["forest"], rasters["loss"], [protected]))
    expected = _utm_area_ha(plot.intersection(protected))
    assert float(result.protected_ha) == pytest.approx(expected, rel=3e-3)
    assert float(result.protected_share) == pytest.approx(expected / _utm_area_ha(plot), abs=2e-3)
    assert result.verdict == RIESGO and result.reasons == ("area_protegida",)

    lenient = Thresholds(max_protected_ha=Decimal("100"), max_protected_share=Decimal("0.6"))
    assert check_plot(PlotShape(plot), Layers(rasters["forest"], rasters["loss"], [protected]),
                      lenient).verdict == SIN_RIESGO
    # two protected areas, one drawn clockwise and overlapping the other: their union counts once
    second = orient(_lonlat_box(15, 0, 28, 3), sign=-1.0)
    both = check_plot(PlotShape(plot), Layers(rasters["forest"], rasters["loss"], [protected, second]))
    expected = _utm_area_ha(plot.intersection(protected.union(second)))
    assert float(both.protected_ha) == pytest.approx(expected, rel=3e-3)

    # a protected area that does not touch the plot adds nothing
    far = check_plot(PlotShape(plot), Layers(rasters["forest"], rasters["loss"], [_lonlat_box(40, 40, 45, 45)]))
    assert far.protected_ha == Decimal("0") and far.verdict == SIN_RIESGO


def test_point_plot_is_checked_as_a_disc_of_its_declared_area(rasters):
    centre = Point(WEST + 31 * RES, NORTH - 7 * RES)  # the 2023 loss is on forest nearby
    result = check_plot(PlotShape(centre, Decimal("3")), Layers(rasters["forest"], rasters["loss"]))
    assert float(result.area_ha) == pytest.approx(3, rel=3e-3)
    disc = forest.point_disc(centre, 3)
    covered_ha, share, loss_ha = _brute(disc, _forest_array(), _loss_array())
    assert covered_ha == pytest.approx(3, rel=0.1)  # about 31 pixel centres
    assert float(result.forest_2020_share) == pytest.approx(share, abs=2e-4)
    assert float(result.loss_ha) == pytest.approx(loss_ha, rel=1e-3) and loss_ha > 0
    assert result.verdict == RIESGO

    bare = check_plot(PlotShape(centre), Layers(rasters["forest"], rasters["loss"]))
    assert bare.verdict == NO_VERIFICADO and bare.reasons == ("punto_sin_area",)


def test_plot_smaller_than_a_pixel_is_judged_on_the_pixel_under_it(rasters):
    # inside the 2021 loss block (rows 30-32, columns 5-8) but holding no pixel centre
    tiny = _lonlat_box(6.6, 31.6, 6.9, 31.9)
    result = check_plot(PlotShape(tiny), Layers(rasters["forest"], rasters["loss"]))
    assert result.verdict == RIESGO
    assert result.forest_2020_share == Decimal("1.0000")
    assert float(result.loss_ha) == pytest.approx(_utm_area_ha(tiny), abs=1e-4)  # 4 places


def test_forest_map_on_another_grid_and_percentage_cover(tmp_path):
    # A 10 m-ish forest map (1/3 arc-second, JRC-like grid) holding canopy percentages:
    # forest where cover >= 30 %. Loss on the 30 m grid is sampled against it at pixel centres.
    fine = np.kron(_forest_array(), np.ones((3, 3), dtype="uint8"))
    cover = np.where(fine == 1, 80, 10).astype("uint8")
    cover[:, 90:105] = 25  # columns 30-34 of the coarse grid: below the threshold
    cover[fine == NODATA] = NODATA
    forest_path = _write(tmp_path / "cover.tif", cover, res=RES / 3)
    loss_path = _write(tmp_path / "loss.tif", _loss_array())
    plot = _lonlat_box(2, 2, 40, 40)
    result = check_plot(PlotShape(plot), Layers(forest_path, loss_path, forest_min_value=30))
    as_binary = np.where(cover == NODATA, NODATA, cover >= 30).astype("uint8")
    _, share, loss_ha = _brute(plot, as_binary, _loss_array(), forest_res=RES / 3)
    assert float(result.forest_2020_share) == pytest.approx(share, abs=2e-4)
    assert float(result.loss_ha) == pytest.approx(loss_ha, rel=1e-3)
    # the 2023 block (columns 28-32) is only partly on forest at 30 %
    assert float(result.loss_ha_by_year[2023]) == pytest.approx(4 * _pixel_area_m2(5, 28) / 1e4, rel=1e-3)


def test_check_many_reads_windows_only_and_keeps_the_order(rasters, monkeypatch):
    layers = Layers(rasters["forest"], rasters["loss"])
    plots = [PlotShape(_lonlat_box(c, r, c + 4, r + 3)) for r in (40, 2, 20) for c in (30, 1, 15)]
    windows = []
    original = rasterio.io.DatasetReader.read

    def spy(self, *args, **kwargs):
        windows.append(kwargs.get("window"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(rasterio.io.DatasetReader, "read", spy)
    many = check_many(plots, layers)
    assert len(windows) == 2 * len(plots)
    assert all(w is not None and w.width <= 6 and w.height <= 5 for w in windows)
    monkeypatch.undo()
    assert many == [check_plot(p, layers) for p in plots]


def test_a_geometry_that_cannot_be_measured_does_not_stop_the_batch(rasters):
    layers = Layers(rasters["forest"], rasters["loss"])
    good = PlotShape(_lonlat_box(4, 29, 10, 34))
    results = check_many([PlotShape(Polygon()), PlotShape(LineString([(WEST, 1.81), (WEST + 0.001, 1.81)])),
                          good], layers)
    assert [r.verdict for r in results] == [NO_VERIFICADO, NO_VERIFICADO, RIESGO]
    assert results[0].reasons == results[1].reasons == ("geometria_no_valida",)


def test_layer_not_in_wgs84_is_refused(tmp_path, rasters):
    utm = _write(tmp_path / "utm.tif", _forest_array(), crs="EPSG:32617")
    with pytest.raises(ValueError, match="EPSG:4326"):
        check_many([PlotShape(_lonlat_box(1, 1, 3, 3))], Layers(utm, rasters["loss"]))


def test_row_areas_shrink_with_latitude_and_match_geodesic_polygons():
    transform = from_origin(-75.0, 5.0, RES, RES)
    areas = forest.row_areas_m2(transform, 0, 3)
    for row in range(3):
        lat0 = 5.0 - row * RES
        expected = abs(GEOD.polygon_area_perimeter([-75, -75 + RES, -75 + RES, -75],
                                                   [lat0, lat0, lat0 - RES, lat0 - RES])[0])
        assert areas[row] == pytest.approx(expected, rel=1e-6)
    far_north = forest.row_areas_m2(from_origin(-75.0, 12.0, RES, RES), 0, 1)[0]
    assert far_north < areas[0] * 0.99  # cos(12°)/cos(5°) ≈ 0.982
