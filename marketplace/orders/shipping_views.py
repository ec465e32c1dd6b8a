"""HTML pages for shipments (cooperatives, carriers, staff), the last-mile report and the
consolidated route planner. They work without JavaScript."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from marketplace.core import geography
from marketplace.core.access import staff_required
from marketplace.core.errors import DomainError
from marketplace.core.formatting import cop
from marketplace.core.models import bogota_date
from marketplace.core.types import parse_decimal
from marketplace.extensions import db
from marketplace.logistics import services as logistics
from marketplace.orders import adjustments, routes, shipment_view, shipping
from marketplace.orders.forms import PlainForm

bp = Blueprint("shipping", __name__, template_folder="templates")


def _date(name: str) -> date | None:
    try:
        return date.fromisoformat(request.form.get(name, "") or request.args.get(name, ""))
    except ValueError:
        return None


@bp.get("/envios")
@login_required
def shipments():
    coop_parts, plans = [], []
    if current_user.role and current_user.role.value in ("coop_manager", "coop_member"):
        coop_parts = shipping.shippable_parts(current_user.organisation)
    if current_user.role and current_user.role.value == "carrier_manager":
        plans = routes.open_plans()
    views = shipment_view.views_for(current_user, shipping.shipments_for(current_user))
    return render_template("orders/shipments.html", shipments=views,
                           shippable=coop_parts, plans=plans, describe=routes.describe, form=PlainForm())


@bp.route("/envios/nuevo", methods=["GET", "POST"])
@login_required
def new_shipment():
    if not current_user.role or current_user.role.value not in ("coop_manager", "coop_member"):
        abort(403)
    parts = shipping.shippable_parts(current_user.organisation)
    form = PlainForm()
    error = None
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        ids = [int(v) for v in request.form.getlist("parts") if v.isdigit() and len(v) < 10]
        carrier = request.form.get("carrier", "")
        data = shipping.ShipmentData(ids, _date("planned_pickup"), _date("planned_delivery"),
                                     int(carrier) if carrier.isdigit() and len(carrier) < 10 else None,
                                     request.form.get("carrier_name"))
        try:
            shipment = shipping.create_shipment(current_user, data)
            db.session.commit()
            flash(_("Envío %(n)s creado con su costo estimado.", n=shipment.number), "success")
            return redirect(url_for("shipping.shipment_page", shipment_id=shipment.id))
        except DomainError as exc:
            db.session.rollback()
            error = exc.message
            parts = shipping.shippable_parts(current_user.organisation)
    today = bogota_date()
    return render_template("orders/shipment_new.html", parts=parts, form=form, error=error,
                           carriers=shipping.carriers(), pickup=request.form.get("planned_pickup", today.isoformat()),
                           delivery=request.form.get("planned_delivery", (today + timedelta(days=2)).isoformat()),
                           part_kg=shipping.part_kg), 422 if error else 200


@bp.get("/envios/<int:shipment_id>")
@login_required
def shipment_page(shipment_id: int):
    shipment = shipping.visible_shipment(current_user, shipment_id)
    parts = shipping._parts(shipment)  # noqa: SLF001
    editable = shipping.editable_legs(current_user, shipment)
    closed = shipping.costs_closed(shipment, parts)
    return render_template("orders/shipment.html", shipment=shipment_view.view_for(current_user, shipment),
                           form=PlainForm(), can_record=shipping.can_record_costs(current_user, shipment),
                           editable=editable, closed=closed, correcting=closed and bool(editable),
                           mode_names=logistics.MODE_NAMES,
                           leg_kinds=logistics.LEG_KINDS,
                           moved=shipping.visible_adjustments(current_user, parts))


@bp.post("/envios/<int:shipment_id>/costos")
@login_required
def record_costs(shipment_id: int):
    shipment = shipping.visible_shipment(current_user, shipment_id)
    if not PlainForm().validate_on_submit():
        abort(400)
    costs, bad = {}, []
    editable = shipping.editable_legs(current_user, shipment)
    for leg in shipment.legs:
        if leg.id not in editable:
            continue  # shown, not entered: the service refuses anyone else's figure for it
        raw = request.form.get(f"actual-{leg.id}", "").strip()
        value = parse_decimal(raw) if raw else None
        if raw and value is None:
            bad.append(leg.position + 1)
        costs[leg.id] = value
    if bad:
        flash(_("Escriba el costo del tramo %(n)s en pesos, solo números.", n=bad[0]), "error")
        return redirect(url_for("shipping.shipment_page", shipment_id=shipment.id)), 303
    try:
        created = shipping.record_actual_costs(current_user, shipment, costs, _date("actual_pickup"),
                                               _date("actual_delivery"), request.form.get("reason"))
        db.session.commit()
        flash(_("Costos registrados."), "success")
        for adjustment in created:
            flash(_("El pedido %(n)s ya se había pagado a la cooperativa: la diferencia, %(amount)s, queda como "
                    "ajuste en su próximo pago.", n=adjustment.part.order.number, amount=cop(adjustment.amount)),
                  "info")
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    return redirect(url_for("shipping.shipment_page", shipment_id=shipment.id)), 303


@bp.post("/envios/<int:shipment_id>/despachar")
@login_required
def dispatch(shipment_id: int):
    shipment = shipping.visible_shipment(current_user, shipment_id)
    if not PlainForm().validate_on_submit():
        abort(400)
    try:
        shipping.dispatch(current_user, shipment)
        db.session.commit()
        flash(_("El envío salió en camino."), "success")
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    return redirect(url_for("shipping.shipment_page", shipment_id=shipment.id)), 303


# ----------------------------------------------------------------------- staff


@bp.get("/admin/logistica/ultima-milla")
@staff_required
def report():
    start, end = _date("desde"), _date("hasta")
    if start and end and end < start:
        flash(_("La fecha final debe ser igual o posterior a la inicial."), "error")
        start = end = None
    return render_template("orders/last_mile_report.html", rows=shipping.last_mile_report(start, end),
                           start=start, end=end)


@bp.route("/admin/logistica/rutas", methods=["GET", "POST"])
@staff_required
def route_planner():
    plan, error = None, None
    form = PlainForm()
    day = _date("day") or bogota_date() + timedelta(days=1)
    department = request.values.get("department", "")
    depot_code = request.values.get("depot", "")
    mode = request.values.get("mode", "small_truck")
    if request.method == "POST":
        if not current_user.is_admin:
            abort(403)
        if not form.validate_on_submit():
            abort(400)
        try:
            plan = routes.propose(current_user, department, day, depot_code, mode)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            error = exc.message
    return render_template("orders/route_planner.html", plan=plan, error=error, form=form, day=day,
                           department=department, depot=depot_code, mode=mode,
                           departments=geography.departments(), modes=logistics.all_modes(),
                           plans=routes.recent_plans(), describe=routes.describe), 422 if error else 200


@bp.post("/rutas/<int:plan_id>/aceptar")
@login_required
def accept_plan(plan_id: int):
    if not PlainForm().validate_on_submit():
        abort(400)
    try:
        created = routes.accept(current_user, plan_id)
        db.session.commit()
        flash(_("Plan aceptado: %(n)s envíos creados.", n=len(created)), "success")
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    if current_user.is_staff:
        return redirect(url_for("shipping.route_planner")), 303
    return redirect(url_for("shipping.shipments")), 303


SHIPMENT_STATUS = {"planned": _l("Por recoger"), "in_transit": _l("En camino"), "delivered": _l("Entregado")}


@bp.app_context_processor
def shipping_helpers():
    from flask_babel import get_locale

    from marketplace.accounts.models import Organisation

    english = str(get_locale() or "es").startswith("en")

    def mode_label(code: str) -> str:
        names = logistics.MODE_NAMES.get(code)
        return (names[1] if english else str(names[0])) if names else code

    def carrier_name(shipment) -> str:
        org = db.session.get(Organisation, shipment.carrier_id) if shipment.carrier_id else None
        return org.name if org else ""

    return {"shipment_status": lambda s: SHIPMENT_STATUS.get(s.status, s.status), "mode_label": mode_label,
            "carrier_name": carrier_name, "shipment_of": shipping.shipment_of, "last_mile_of": shipping.last_mile,
            # Payout adjustments where payouts are shown: staff's payouts due, a cooperative's sales.
            "transfer_of": adjustments.transfer_amount, "pending_adjustments": adjustments.pending,
            "adjustments_of_coop": adjustments.summary, "adjustments_from": adjustments.from_part,
            "adjustments_applied_to": adjustments.applied_to}
