"""Staff pages for logistics: transport modes and their prices, places on a list and a map,
known road distances, and carriers."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.accounts import services as accounts
from marketplace.core.access import admin_required, staff_required
from marketplace.core.errors import DomainError
from marketplace.core.forms import BaseForm as PlainForm
from marketplace.core.types import parse_decimal
from marketplace.extensions import db
from marketplace.logistics import costing, services

bp = Blueprint("logistics", __name__, template_folder="templates")


@bp.route("/admin/logistica", methods=["GET", "POST"])
@staff_required
def modes():
    form = PlainForm()
    if request.method == "POST":
        if not current_user.is_admin:
            abort(403)
        if not form.validate_on_submit():
            abort(400)
        try:
            for mode in services.all_modes():
                services.save_mode(
                    current_user, mode.code, parse_decimal(request.form.get(f"{mode.code}-fixed_cop")),
                    parse_decimal(request.form.get(f"{mode.code}-per_km_cop")),
                    parse_decimal(request.form.get(f"{mode.code}-capacity_kg")),
                    request.form.get(f"{mode.code}-active") == "y")
            db.session.commit()
            flash(_("Costos de transporte guardados."), "success")
            return redirect(url_for("logistics.modes")), 303
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc.message), "error")
            return render_template("logistics/modes.html", modes=services.all_modes(), form=form,
                                   terrains=costing.TERRAIN_FACTORS, error_field=exc.field, kinds=services.LEG_KINDS), 422
    return render_template("logistics/modes.html", modes=services.all_modes(), form=form,
                           terrains=costing.TERRAIN_FACTORS, error_field=None, kinds=services.LEG_KINDS)


@bp.get("/admin/logistica/lugares")
@staff_required
def places():
    points, sites = services.places()
    response = current_app.make_response(render_template("logistics/places.html", points=points, sites=sites, form=PlainForm(),
                           distances=services.route_distances(), terrains=services.TERRAINS,
                           tile_url=current_app.config.get("MAP_TILE_URL", ""),
                           attribution=current_app.config.get("MAP_ATTRIBUTION", "")))
    tiles = current_app.config.get("MAP_TILE_URL", "")
    if tiles:
        from urllib.parse import urlsplit

        from marketplace.core.web import CONTENT_SECURITY_POLICY

        origin = "{0.scheme}://{0.netloc}".format(urlsplit(tiles.replace("{s}", "a")))
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
            "img-src 'self' data: blob:", f"img-src 'self' data: blob: {origin}")
    return response


@bp.post("/admin/logistica/distancias")
@admin_required
def set_distance():
    if not PlainForm().validate_on_submit():
        abort(400)
    point, site = request.form.get("point", ""), request.form.get("site", "")
    try:
        if not (point.isdigit() and site.isdigit() and len(point) < 10 and len(site) < 10):
            raise DomainError(_("Elija el centro de acopio y el sitio de entrega."), "point")
        services.set_route_distance(current_user, int(point), int(site), parse_decimal(request.form.get("road_km")),
                                    request.form.get("terrain", ""), request.form.get("note"))
        db.session.commit()
        flash(_("Distancia guardada: las cotizaciones de esa ruta la usan desde ahora."), "success")
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    return redirect(url_for("logistics.places")), 303


@bp.route("/admin/logistica/transportadores", methods=["GET", "POST"])
@staff_required
def carriers():
    form = PlainForm()
    error = None
    if request.method == "POST":
        if not current_user.is_admin:
            abort(403)
        if not form.validate_on_submit():
            abort(400)
        try:
            phone, email = accounts.login_identity(request.form.get("phone"), request.form.get("email"))
            carrier, _user = accounts.create_carrier(
                current_user, request.form.get("name", ""), request.form.get("nit") or None,
                request.form.get("municipality"),
                accounts.UserData(request.form.get("contact", ""), request.form.get("password", ""), phone=phone,
                                  email=email))
            db.session.commit()
            flash(_("Transportador %(name)s registrado.", name=carrier.name), "success")
            return redirect(url_for("logistics.carriers")), 303
        except DomainError as exc:
            db.session.rollback()
            error = exc.message
    from marketplace.accounts.models import OrgKind

    rows = db.session.scalars(accounts.list_organisations(kind=OrgKind.CARRIER)).all()
    return render_template("logistics/carriers.html", carriers=rows, form=form, error=error), 422 if error else 200


@bp.route("/acopio", methods=["GET", "POST"])
@login_required
def collection_points():
    """A cooperative's collection points and the legs from each to the road."""
    from marketplace.catalog import services as catalog
    from marketplace.catalog.models import CollectionPoint

    coop = catalog.cooperative_of(current_user)
    form = PlainForm()
    errors: dict[int, str] = {}
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        raw_id = request.form.get("point", "")
        point = db.session.get(CollectionPoint, int(raw_id)) if raw_id.isdigit() and len(raw_id) < 10 else None
        if point is None or point.cooperative_id != coop.id:
            abort(404)
        legs = []
        for n in range(2):
            kind, mode = request.form.get(f"kind-{n}", ""), request.form.get(f"mode-{n}", "")
            km_raw = request.form.get(f"km-{n}", "").strip()
            if not mode and not km_raw:
                continue
            legs.append(services.AccessLegData(kind, mode or None, parse_decimal(km_raw),
                                               request.form.get(f"terrain-{n}", "mountainous"),
                                               request.form.get(f"description-{n}")))
        try:
            services.set_access_legs(current_user, point, legs)
            db.session.commit()
            flash(_("Tramos guardados: las cotizaciones desde %(p)s los incluyen.", p=point.name), "success")
            return redirect(url_for("logistics.collection_points")), 303
        except DomainError as exc:
            db.session.rollback()
            errors[point.id] = str(exc.message)
    points = catalog.collection_points(coop)
    return render_template("logistics/collection_points.html", points=points, form=form, errors=errors,
                           access=services.access_legs_of([p.id for p in points]), modes=services.all_modes(),
                           kinds=services.LEG_KINDS, terrains=services.TERRAINS), 422 if errors else 200
