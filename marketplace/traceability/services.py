"""Recording a cooperative's plots: reading the geolocation typed or uploaded, validating it
(``geometry.validate_plot``) and keeping it with its warnings; who may see a plot."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext as _l

from marketplace.accounts.models import Cooperative, Role, User
from marketplace.catalog.models import Product
from marketplace.core import audit
from marketplace.core.errors import DomainError, Forbidden, NotFound
from marketplace.core.formatting import number
from marketplace.core.models import Municipality
from marketplace.extensions import db
from marketplace.traceability import formats, geometry
from marketplace.traceability.models import Plot

COOP_ROLES = (Role.COOP_MANAGER, Role.COOP_MEMBER)
# Products covered by Regulation (EU) 2023/1115 that plots are recorded for.
CROP_SLUGS = ("cacao-grano-seco", "cafe-pergamino-seco")
HA_PATTERN = "#,##0.####"
AUDIT_FIELDS = ("producer_name", "member_code", "municipality_code", "declared_area_ha", "product_id", "kind",
                "area_ha", "warnings", "active")


@dataclass
class PlotData:
    producer_name: str
    member_code: str | None
    municipality_code: str | None
    declared_area_ha: Decimal | None
    product_id: int | None
    coordinates: str = ""
    upload: bytes | None = None


def cooperative_of(user: User) -> Cooperative:
    """The cooperative whose plots the user records; anyone else may not."""
    org = user.organisation
    if not isinstance(org, Cooperative) or user.role not in COOP_ROLES:
        raise Forbidden(_l("Solo las asociaciones y cooperativas registran predios."))
    return org


def crops() -> list[Product]:
    return list(db.session.scalars(db.select(Product).where(Product.slug.in_(CROP_SLUGS)).order_by(Product.name)))


def cooperative_plots(coop: Cooperative) -> list[Plot]:
    return list(db.session.scalars(
        db.select(Plot).where(Plot.cooperative_id == coop.id).order_by(Plot.active.desc(), Plot.producer_name, Plot.id)
    ))


def visible_plot(user: User, plot_id: int) -> Plot:
    """The plot, for the members of its cooperative and for staff; anyone else gets NotFound
    (its existence is not revealed). Buyers who bought lots coming from the plot will see
    it too once order lines carry their plots; until then no buyer does."""
    plot = db.session.get(Plot, plot_id)
    if plot is None or not user.is_authenticated:
        raise NotFound(_l("No encontramos ese predio."))
    if user.is_staff:
        return plot
    org = user.organisation
    if isinstance(org, Cooperative) and user.role in COOP_ROLES and org.id == plot.cooperative_id:
        return plot
    raise NotFound(_l("No encontramos ese predio."))


def own_plot(user: User, plot_id: int) -> Plot:
    """A plot the user may change: only its cooperative's members (staff read only)."""
    plot = visible_plot(user, plot_id)
    coop = cooperative_of(user)
    if plot.cooperative_id != coop.id:  # pragma: no cover - visible_plot already refused
        raise NotFound(_l("No encontramos ese predio."))
    return plot


def _number(value: Decimal) -> str:
    return format(value, "f")


def geometry_text(geo: formats.PlotGeometry) -> str:
    """GeoJSON of the geometry with every coordinate exactly as written (longitude first)."""

    def ring(r) -> str:
        return "[" + ",".join(f"[{_number(lon)},{_number(lat)}]" for lon, lat in r) + "]"

    if geo.kind == "point":
        lon, lat = geo.point
        return f'{{"type":"Point","coordinates":[{_number(lon)},{_number(lat)}]}}'
    polygons = ["[" + ",".join(ring(r) for r in polygon) + "]" for polygon in geo.polygons]
    if geo.kind == "polygon":
        return f'{{"type":"Polygon","coordinates":{polygons[0]}}}'
    return f'{{"type":"MultiPolygon","coordinates":[{",".join(polygons)}]}}'


def stored_geometry(plot: Plot) -> formats.PlotGeometry:
    return formats.read_geojson(plot.geometry_geojson)


def _read(data: PlotData, plot: Plot | None) -> formats.PlotGeometry:
    """The geometry typed or uploaded; when editing, neither keeps the stored one (so an
    uploaded file's polygons, holes and precision survive an edit of the other fields)."""
    has_text = bool((data.coordinates or "").strip())
    if has_text and data.upload:
        raise DomainError(_l("Escriba las coordenadas o suba un archivo, no las dos cosas."), "coordinates")
    try:
        if data.upload:
            return formats.read_upload(data.upload)
        if has_text:
            return formats.read_typed(data.coordinates)
    except formats.GeometryError as error:
        raise DomainError(error.message, "upload" if data.upload else "coordinates") from error
    if plot is not None:
        return stored_geometry(plot)
    raise DomainError(_l("Escriba las coordenadas del predio o suba un archivo GeoJSON o KML."), "coordinates")


def _checked(coop: Cooperative, data: PlotData, plot: Plot | None):
    name = (data.producer_name or "").strip()
    if not name:
        raise DomainError(_l("Escriba el nombre del productor."), "producer_name")
    if not data.municipality_code or db.session.get(Municipality, data.municipality_code) is None:
        raise DomainError(_l("Elija el municipio del predio."), "municipality")
    if data.declared_area_ha is None or data.declared_area_ha <= 0:
        raise DomainError(geometry.MESSAGES["declared_area_invalid"], "declared_area")
    product = db.session.get(Product, data.product_id) if data.product_id else None
    if product is None or product.slug not in CROP_SLUGS:
        raise DomainError(_l("Elija cacao o café."), "product")
    geo = _read(data, plot)
    others = [(other.id, stored_geometry(other)) for other in cooperative_plots(coop)
              if other.active and (plot is None or other.id != plot.id)]
    check = geometry.validate_plot(geo, data.declared_area_ha, data.municipality_code, others)
    if check.refusals:
        field = "upload" if data.upload else "coordinates"
        raise DomainError(check.refusals[0].message, field)
    return name, product, geo, check


def _apply(plot: Plot, data: PlotData, name, product, geo, check) -> None:
    plot.producer_name = name
    plot.member_code = (data.member_code or "").strip() or None
    plot.municipality_code = data.municipality_code
    plot.declared_area_ha = data.declared_area_ha
    plot.product_id = product.id
    plot.geometry_geojson = geometry_text(geo)
    plot.kind = "point" if geo.kind == "point" else "polygon"
    plot.area_ha = check.area_ha
    plot.warnings = check.warning_codes


def create_plot(user: User, data: PlotData) -> Plot:
    coop = cooperative_of(user)
    checked = _checked(coop, data, None)
    plot = Plot(cooperative_id=coop.id, active=True)
    _apply(plot, data, *checked)
    db.session.add(plot)
    db.session.flush()
    audit.record("plot.created", "plot", plot.id, actor=user, organisation_id=coop.id,
                 after=audit.snapshot(plot, AUDIT_FIELDS))
    return plot


def update_plot(user: User, plot: Plot, data: PlotData) -> Plot:
    coop = cooperative_of(user)
    checked = _checked(coop, data, plot)
    before = audit.snapshot(plot, AUDIT_FIELDS)
    _apply(plot, data, *checked)
    db.session.flush()
    old, new = audit.changed(before, audit.snapshot(plot, AUDIT_FIELDS))
    if new:
        audit.record("plot.updated", "plot", plot.id, actor=user, organisation_id=coop.id, before=old, after=new)
    return plot


def set_plot_active(user: User, plot: Plot, active: bool) -> Plot:
    coop = cooperative_of(user)
    if plot.active == active:
        return plot
    plot.active = active
    db.session.flush()
    audit.record("plot.reactivated" if active else "plot.deactivated", "plot", plot.id, actor=user,
                 organisation_id=coop.id, before={"active": not active}, after={"active": active})
    return plot


def warning_messages(plot: Plot) -> list[str]:
    """Each stored warning in words, in the current language."""
    out = []
    for code in plot.warnings or []:
        if code == "area_mismatch":
            params = {"measured": number(plot.area_ha, HA_PATTERN), "declared": number(plot.declared_area_ha, HA_PATTERN)}
            out.append(str(geometry.Finding(code, params).message))
        elif code in geometry.MESSAGES:
            out.append(str(geometry.MESSAGES[code]))
    return out

