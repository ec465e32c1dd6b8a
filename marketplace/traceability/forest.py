"""The deforestation check of a plot against reference layers (Regulation (EU) 2023/1115).

Pure: it knows nothing of the database or of requests. It takes plot geometries (shapely, WGS 84
longitude/latitude) and three layers:

* a forest-cover map for 2020, a GeoTIFF in EPSG:4326. JRC Global Forest Cover 2020 style by
  default: 1 forest, 0 non-forest. A percentage tree-cover map (Hansen ``treecover2000``
  style) is read with ``forest_min_value`` set to the canopy threshold (e.g. 10 or 30): a pixel
  is forest when its value is at least that;
* an annual tree-cover-loss map, a GeoTIFF in EPSG:4326, Hansen ``lossyear`` style: 0 no loss,
  otherwise the year of loss minus 2000. Loss after the cut-off date (31 December 2020) is a
  value of 21 or more; earlier loss is ignored;
* protected areas (RUNAP) as shapely (multi)polygons in WGS 84.

What counts as deforestation. The regulation defines it as the conversion of forest to
agricultural use after 31 December 2020. So the hectares of loss reported are those of loss
pixels (value >= 21) inside the plot that were *forest in 2020* according to the forest map,
sampled at the loss pixel's centre (the two maps need not share a grid: JRC is 10 m, Hansen
30 m). Loss on land that was not forest in 2020 is not deforestation and is not counted.

Which pixels belong to a plot. A pixel belongs to a plot when its centre lies inside the plot
(``rasterio.features.geometry_mask`` with ``all_touched=False``). A plot so small that it holds
no pixel centre is judged on the pixel under its representative point, weighted by the plot's
own area. A point plot (the regulation allows a point for plots up to 4 ha) is checked as a
geodesic disc of its declared area around the point (64 vertices, ``pyproj.Geod.fwd``); a point
without a declared area cannot be checked and is "no_verificado".

Pixel areas are geodesic: a pixel of a geographic grid shrinks with latitude. The area of a cell
between latitudes phi1 and phi2, of longitude width dlambda (radians), on the WGS 84 ellipsoid is
``b**2 / 2 * dlambda * |q(phi1) - q(phi2)|`` with
``q(phi) = sin(phi) / (1 - e**2 sin(phi)**2) + atanh(e sin(phi)) / e`` (the exact ellipsoidal
zone area; computed once per row). Protected-area overlap and plot areas use
``pyproj.Geod.geometry_area_perimeter``.

Reading. Rasters are read by windows only: the window of the plot's bounds, rounded outward to
whole pixels. The part of a window outside the raster is filled as "no data" by hand (cheaper
than GDAL's boundless VRT). ``check_many`` opens each raster once for all plots, visits the plots
in raster order (so GDAL's block cache serves neighbours) and caps GDAL's cache
(``GDAL_CACHE_MB``) so that memory stays flat whatever the number of plots. When both rasters
share a grid (the usual case once staff have aligned them) the plot's pixels are computed once.

Verdict, under ``Thresholds``:

* "riesgo" when the loss on 2020 forest exceeds ``max_loss_ha`` or the protected overlap exceeds
  ``max_protected_ha`` (or ``max_protected_share``); a risk seen on the covered part of a plot
  is a risk even if another part of it is not covered;
* otherwise "no_verificado" when part of the plot lies outside a layer's coverage or on its
  no-data value, or a layer is missing (``None``), or a point has no declared area;
* otherwise "sin_riesgo".

``reasons`` lists the machine codes behind the verdict (``perdida_bosque``, ``area_protegida``,
``fuera_de_cobertura:bosque_2020`` / ``fuera_de_cobertura:perdida``, ``capa_faltante:...``,
``punto_sin_area``, ``geometria_no_valida`` for an empty geometry or one that is not a point or
(multi)polygon); pages translate them. Validating a plot's geometry is ``geometry``'s work; the
check only refuses what it cannot measure, without stopping a batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import rasterio
from pyproj import Geod
from rasterio.features import geometry_mask
from rasterio.transform import Affine
from rasterio.windows import Window, from_bounds
from shapely import STRtree, orient_polygons, prepare
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

SIN_RIESGO, RIESGO, NO_VERIFICADO = "sin_riesgo", "riesgo", "no_verificado"
CUTOFF_LOSS_VALUE = 21  # Hansen lossyear: year - 2000; 21 = 2021, the first year after 31 Dec 2020
GDAL_CACHE_MB = 64
DISC_VERTICES = 64
_CHECKABLE = ("Point", "Polygon", "MultiPolygon")

GEOD = Geod(ellps="WGS84")
_A = GEOD.a
_E2 = GEOD.es
_E = math.sqrt(_E2)
_B2 = _A * _A * (1 - _E2)
_M2_PER_HA = 10_000
_HA = Decimal("0.0001")
_SHARE = Decimal("0.0001")


@dataclass(frozen=True)
class PlotShape:
    """A plot to check: its geometry (WGS 84 lon/lat: a Point, Polygon or MultiPolygon) and,
    for a point, its declared area in hectares."""

    geometry: BaseGeometry
    declared_ha: Decimal | None = None


@dataclass(frozen=True)
class Layers:
    """The reference layers: paths of the two GeoTIFFs (EPSG:4326) and the protected areas.
    Any of them may be None (not loaded yet): plots are then "no_verificado"."""

    forest_2020: str | Path | None
    tree_cover_loss: str | Path | None
    protected_areas: Sequence[BaseGeometry] | None = ()
    forest_min_value: int = 1  # 1 for a binary map; the canopy % threshold for a tree-cover map


@dataclass(frozen=True)
class Thresholds:
    """The limits staff set. A plot is at risk when a figure is strictly above its limit."""

    max_loss_ha: Decimal = Decimal("0")
    max_protected_ha: Decimal = Decimal("0")
    max_protected_share: Decimal | None = None  # None: only the hectares limit applies


@dataclass(frozen=True)
class ForestCheck:
    """The result for one plot. Areas in hectares and shares (0 to 1) as Decimal, 4 places.
    ``forest_2020_share`` and ``loss_ha`` cover only the part of the plot a layer covers; they
    are None when the layer is missing or covers none of it."""

    verdict: str
    area_ha: Decimal
    forest_2020_share: Decimal | None
    forest_2020_ha: Decimal | None
    loss_ha: Decimal | None
    loss_ha_by_year: dict[int, Decimal] = field(default_factory=dict)
    protected_ha: Decimal = Decimal("0")
    protected_share: Decimal = Decimal("0")
    reasons: tuple[str, ...] = ()


def _ha(m2: float) -> Decimal:
    return Decimal(repr(m2 / _M2_PER_HA)).quantize(_HA)


def _share(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(_SHARE)


def _q(lat_deg: np.ndarray) -> np.ndarray:
    s = np.sin(np.radians(lat_deg))
    return s / (1 - _E2 * s * s) + np.arctanh(_E * s) / _E


def row_areas_m2(transform: Affine, row_start: int, rows: int) -> np.ndarray:
    """Geodesic area (m²) of one pixel in each of ``rows`` rows from ``row_start`` of a
    north-up geographic grid (exact on the WGS 84 ellipsoid)."""
    tops = transform.f + transform.e * np.arange(row_start, row_start + rows + 1, dtype=np.float64)
    q = _q(tops)
    return _B2 / 2 * math.radians(abs(transform.a)) * np.abs(q[:-1] - q[1:])


def geodesic_area_m2(geometry: BaseGeometry) -> float:
    """Geodesic area (m²) of a (multi)polygon on WGS 84. ``Geod`` sums signed rings, so every
    part is first oriented counter-clockwise (holes clockwise): GEOS's own results (a
    difference, an intersection) often come out clockwise."""
    return abs(GEOD.geometry_area_perimeter(orient_polygons(geometry, exterior_cw=False))[0])


def point_disc(point: Point, area_ha: Decimal | float) -> Polygon:
    """A geodesic disc of ``area_ha`` hectares around ``point`` (``DISC_VERTICES`` vertices)."""
    radius = math.sqrt(float(area_ha) * _M2_PER_HA / math.pi)
    azimuths = np.linspace(0, 360, DISC_VERTICES, endpoint=False)
    lons, lats, _ = GEOD.fwd(np.full(DISC_VERTICES, point.x), np.full(DISC_VERTICES, point.y),
                             azimuths, np.full(DISC_VERTICES, radius))
    return Polygon(zip(lons, lats, strict=True))


class _Raster:
    """An open layer read by windows."""

    def __init__(self, path: str | Path):
        self.dataset = rasterio.open(path)
        ds = self.dataset
        if ds.crs is None or not ds.crs.is_geographic or ds.crs.to_epsg() != 4326:
            ds.close()
            raise ValueError(f"{path}: the layer must be in EPSG:4326 (WGS 84 lon/lat)")
        if ds.transform.b or ds.transform.d or ds.transform.e >= 0:
            ds.close()
            raise ValueError(f"{path}: the layer must be a north-up grid without rotation")
        self.transform = ds.transform
        self.nodata = ds.nodata

    def close(self) -> None:
        self.dataset.close()

    def read(self, bounds: tuple[float, float, float, float]):
        """The whole-pixel window around ``bounds``: (values, valid, window transform, first
        row). ``valid`` is False outside the raster and on no-data."""
        ds = self.dataset
        w = from_bounds(*bounds, transform=self.transform)
        c0, r0 = math.floor(w.col_off), math.floor(w.row_off)
        c1 = max(math.ceil(w.col_off + w.width), c0 + 1)
        r1 = max(math.ceil(w.row_off + w.height), r0 + 1)
        values = np.zeros((r1 - r0, c1 - c0), dtype=ds.dtypes[0])
        valid = np.zeros(values.shape, dtype=bool)
        ic0, ir0, ic1, ir1 = max(c0, 0), max(r0, 0), min(c1, ds.width), min(r1, ds.height)
        if ic0 < ic1 and ir0 < ir1:
            inner = ds.read(1, window=Window(ic0, ir0, ic1 - ic0, ir1 - ir0))
            values[ir0 - r0:ir1 - r0, ic0 - c0:ic1 - c0] = inner
            valid[ir0 - r0:ir1 - r0, ic0 - c0:ic1 - c0] = (
                True if self.nodata is None else inner != self.nodata)
        return values, valid, self.transform @ Affine.translation(c0, r0), r0


def _plot_pixels(geometry: BaseGeometry, shape: tuple[int, int], transform: Affine,
                 area_m2: float) -> tuple[np.ndarray, np.ndarray | None]:
    """The pixels of a window that belong to the plot, and a weight override: None to weigh
    pixels by their own area; for a plot holding no pixel centre, its own area on the pixel
    under its representative point."""
    inside = geometry_mask([geometry], out_shape=shape, transform=transform, all_touched=False,
                           invert=True)
    if inside.any():
        return inside, None
    point = geometry.representative_point()
    col, row = ~transform @ (point.x, point.y)
    row = min(max(int(math.floor(row)), 0), shape[0] - 1)
    col = min(max(int(math.floor(col)), 0), shape[1] - 1)
    inside[row, col] = True
    return inside, np.where(inside, area_m2, 0.0)


def _pixel_weights(inside: np.ndarray, override: np.ndarray | None, first_row: int,
                   global_transform: Affine) -> np.ndarray:
    if override is not None:
        return override
    areas = row_areas_m2(global_transform, first_row, inside.shape[0])
    return np.where(inside, areas[:, None], 0.0)


class _Checker:
    def __init__(self, layers: Layers, thresholds: Thresholds):
        self.layers, self.thresholds = layers, thresholds
        self.forest = _Raster(layers.forest_2020) if layers.forest_2020 is not None else None
        try:
            self.loss = _Raster(layers.tree_cover_loss) if layers.tree_cover_loss is not None else None
        except Exception:
            if self.forest:
                self.forest.close()
            raise
        protected = [g for g in (layers.protected_areas or ()) if g is not None and not g.is_empty]
        for g in protected:
            prepare(g)
        self.protected = protected
        self.tree = STRtree(protected) if protected else None

    def close(self) -> None:
        for raster in (self.forest, self.loss):
            if raster is not None:
                raster.close()

    def check(self, plot: PlotShape) -> ForestCheck:
        geometry, reasons = plot.geometry, []
        if geometry is None or geometry.is_empty or geometry.geom_type not in _CHECKABLE:
            return ForestCheck(NO_VERIFICADO, Decimal("0"), None, None, None,
                               reasons=("geometria_no_valida",))
        if geometry.geom_type == "Point":
            if plot.declared_ha is None or plot.declared_ha <= 0:
                return ForestCheck(NO_VERIFICADO, Decimal("0"), None, None, None,
                                   reasons=("punto_sin_area",))
            geometry = point_disc(geometry, plot.declared_ha)
        area_m2 = geodesic_area_m2(geometry)
        bounds = geometry.bounds
        incomplete = False

        protected_m2 = self._protected_m2(geometry)
        protected_share = protected_m2 / area_m2 if area_m2 else 0.0

        forest_share = forest_ha = None
        forest_window = None
        forest_pixels: tuple = (None, None)
        if self.forest is None:
            incomplete = True
            reasons.append("capa_faltante:bosque_2020")
        else:
            values, valid, wt, r0 = self.forest.read(bounds)
            inside, override = _plot_pixels(geometry, values.shape, wt, area_m2)
            weights = _pixel_weights(inside, override, r0, self.forest.transform)
            forest_pixels = (wt, values.shape, inside, weights)
            is_forest = valid & (values >= self.layers.forest_min_value)
            forest_window = (is_forest, valid, wt)
            if (inside & ~valid).any():
                incomplete = True
                reasons.append("fuera_de_cobertura:bosque_2020")
            covered = float(weights[inside & valid].sum())
            if covered > 0:
                forest_m2 = float(weights[inside & is_forest].sum())
                forest_share, forest_ha = _share(forest_m2 / covered), _ha(forest_m2)

        loss_ha, by_year = None, {}
        if self.loss is None:
            incomplete = True
            reasons.append("capa_faltante:perdida")
        else:
            values, valid, wt, r0 = self.loss.read(bounds)
            if forest_pixels[:2] == (wt, values.shape):  # both layers on one grid: same pixels
                inside, weights = forest_pixels[2:]
            else:
                inside, override = _plot_pixels(geometry, values.shape, wt, area_m2)
                weights = _pixel_weights(inside, override, r0, self.loss.transform)
            if (inside & ~valid).any():
                incomplete = True
                reasons.append("fuera_de_cobertura:perdida")
            if (inside & valid).any():
                lost = inside & valid & (values >= CUTOFF_LOSS_VALUE)
                if forest_window is not None and lost.any():
                    lost &= self._was_forest(lost, wt, forest_window)
                elif forest_window is None:
                    lost[:] = False  # without the 2020 map no loss can be called deforestation
                total = 0.0
                for year in np.unique(values[lost]):
                    m2 = float(weights[lost & (values == year)].sum())
                    by_year[2000 + int(year)] = _ha(m2)
                    total += m2
                loss_ha = _ha(total) if forest_window is not None else None

        t = self.thresholds
        risk = False
        if loss_ha is not None and loss_ha > t.max_loss_ha:
            risk = True
            reasons.insert(0, "perdida_bosque")
        protected_ha = _ha(protected_m2)
        protected_share_d = _share(protected_share)
        if protected_ha > t.max_protected_ha or (
                t.max_protected_share is not None and protected_share_d > t.max_protected_share):
            risk = True
            reasons.insert(0, "area_protegida")
        verdict = RIESGO if risk else NO_VERIFICADO if incomplete else SIN_RIESGO
        return ForestCheck(verdict, _ha(area_m2), forest_share, forest_ha, loss_ha, by_year,
                           protected_ha, protected_share_d, tuple(reasons))

    @staticmethod
    def _was_forest(lost: np.ndarray, loss_transform: Affine, forest_window) -> np.ndarray:
        """For each lost pixel, whether the 2020 forest map says forest at its centre."""
        is_forest, _valid, ft = forest_window
        rows, cols = np.nonzero(lost)
        xs = loss_transform.c + (cols + 0.5) * loss_transform.a
        ys = loss_transform.f + (rows + 0.5) * loss_transform.e
        fr = np.clip(np.floor((ys - ft.f) / ft.e).astype(int), 0, is_forest.shape[0] - 1)
        fc = np.clip(np.floor((xs - ft.c) / ft.a).astype(int), 0, is_forest.shape[1] - 1)
        out = np.zeros(lost.shape, dtype=bool)
        out[rows, cols] = is_forest[fr, fc]
        return out

    def _protected_m2(self, geometry: BaseGeometry) -> float:
        if self.tree is None:
            return 0.0
        hits = self.tree.query(geometry, predicate="intersects")
        if len(hits) == 0:
            return 0.0
        overlap = unary_union([geometry.intersection(self.protected[i]) for i in hits])
        return geodesic_area_m2(overlap) if not overlap.is_empty else 0.0


def check_many(plots: Iterable[PlotShape], layers: Layers,
               thresholds: Thresholds | None = None) -> list[ForestCheck]:
    """Check every plot; results in the order of ``plots``. Each raster is opened once; each
    plot reads one small window of each. Plots are visited in raster order (north to south,
    then west to east, by their bounds) so that neighbours share GDAL's cached blocks."""
    plots = list(plots)

    def raster_order(i: int) -> tuple[float, float]:
        geometry = plots[i].geometry
        if geometry is None or geometry.is_empty:
            return (0.0, 0.0)
        return (-round(geometry.bounds[3], 2), geometry.bounds[0])

    order = sorted(range(len(plots)), key=raster_order)
    results: list[ForestCheck | None] = [None] * len(plots)
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 1024 * 1024):
        checker = _Checker(layers, thresholds or Thresholds())
        try:
            for i in order:
                results[i] = checker.check(plots[i])
        finally:
            checker.close()
    return results  # type: ignore[return-value]


def check_plot(plot: PlotShape, layers: Layers, thresholds: Thresholds | None = None) -> ForestCheck:
    """Check one plot (``check_many`` of one)."""
    return check_many([plot], layers, thresholds)[0]
