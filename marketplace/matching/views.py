"""HTML pages for demands: buyers post them, run the optimiser and accept its proposal;
cooperatives see the demands that concern them and answer with offers. No JavaScript."""

from __future__ import annotations

import json
from decimal import Decimal

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from marketplace.accounts.models import Role
from marketplace.catalog import display
from marketplace.catalog import services as catalog_services
from marketplace.catalog.display import grade_name, product_name
from marketplace.catalog.services import CERTIFICATIONS
from marketplace.core import geography
from marketplace.core.access import roles_required
from marketplace.core.errors import DomainError
from marketplace.core.formatting import kg as format_kg
from marketplace.extensions import db
from marketplace.matching import services
from marketplace.matching.forms import AcceptForm, DemandForm, OfferForm
from marketplace.matching.models import DemandStatus, OfferStatus
from marketplace.orders import services as orders
from marketplace.orders.forms import PlainForm
from marketplace.orders.models import PaymentMethod

bp = Blueprint("matching", __name__, template_folder="templates")
BUYER = (Role.BUYER_ADMIN, Role.BUYER_PURCHASER)
COOP = (Role.COOP_MANAGER, Role.COOP_MEMBER)

STATUS_LABELS = {
    DemandStatus.OPEN: _l("Abierta"), DemandStatus.ORDERED: _l("Pedida"), DemandStatus.CANCELLED: _l("Cancelada"),
    DemandStatus.EXPIRED: _l("Vencida"),
    OfferStatus.OPEN: _l("Abierta"), OfferStatus.WITHDRAWN: _l("Retirada"), OfferStatus.CHOSEN: _l("Elegida"),
    OfferStatus.NOT_CHOSEN: _l("No elegida"),
}


def init_app(app) -> None:
    from marketplace.logistics import policy

    policy.register_served_sites(services.serves_site)

    @app.context_processor
    def matching_helpers():
        return {
            "demand_label": lambda demand: STATUS_LABELS[demand.status],
            "offer_label": lambda offer: STATUS_LABELS[offer.status],
            "attribute_label": services.attribute_label,
            "reason_label": lambda code: services.REASON_LABELS.get(code, code),
            "proposal_summary": services.summary,
            "greedy_summary": services.greedy_summary,
            "department_name": lambda code: dict(geography.departments()).get(code, code),
        }


def _card_choices():
    choices = [(PaymentMethod.INVOICE.value, _("Factura a 30 días"))]
    if orders.card_enabled():
        choices.insert(0, (PaymentMethod.CARD.value, _("Tarjeta")))
    return choices


# ---------------------------------------------------------------- buyers


def _demand_form(buyer) -> DemandForm:
    form = DemandForm()
    products = catalog_services.active_products()
    form.product.choices = [(p.id, product_name(p)) for p in products]
    if request.method == "GET" and request.args.get("producto", type=int):
        form.product.data = request.args.get("producto", type=int)
    # Only the grades of the product chosen (the first one until a product is chosen);
    # static/js/grade-filter.js follows the product select from the grades of every product.
    chosen = next((p for p in products if p.id == form.product.data), products[0] if products else None)
    form.min_grade.choices = [(0, _("Cualquier calidad"))] + [
        (g.id, grade_name(g)) for g in (chosen.grades if chosen else []) if g.active]
    form.product.render_kw = {"data-grade-source": ""}
    form.min_grade.render_kw = {
        "data-grade-target": "", "data-any": _("Cualquier calidad"), "data-any-value": "0",
        "data-grades": json.dumps({p.id: [[g.id, grade_name(g)] for g in p.grades if g.active] for p in products}),
    }
    form.unit.choices = [(code, unit_label(code)) for code in services.DEMAND_UNITS]
    form.delivery_site.choices = [(s.id, s.name) for s in buyer.delivery_sites if s.active]
    form.certification.choices = [("", _("Ninguna"))] + [(code, str(label)) for code, label in CERTIFICATIONS.items()]
    form.departments.choices = geography.departments()
    if request.method == "GET":
        form.window_start.data, form.window_end.data = services.window_days_default()
        form.unit.data = "tonelada"
        wanted = request.args.get("producto", type=int)
        if wanted:
            form.product.data = wanted
    return form


unit_label = display.unit_label


def _preferences(form: DemandForm) -> list[services.PreferenceData]:
    prefs = []
    for attribute, share, weight in (("pdet", form.pdet_share, form.pdet_weight),
                                     ("women_led", form.women_share, form.women_weight),
                                     ("youth_led", form.youth_share, form.youth_weight)):
        if share.decimal is not None or weight.decimal is not None:
            prefs.append(services.PreferenceData(attribute, share.decimal, weight.decimal))
    if form.cert_share.decimal is not None or form.cert_weight.decimal is not None:
        code = form.certification.data or ""
        prefs.append(services.PreferenceData(f"cert:{code}" if code else None, form.cert_share.decimal,
                                             form.cert_weight.decimal))
    return prefs


_FIELD_OF = {"product_id": "product", "min_grade_id": "min_grade", "delivery_site": "delivery_site",
             "target_price_per_kg": "target_price", "max_price_per_kg": "max_price", "min_lot_kg": "min_lot",
             "source_departments": "departments", "listing_id": "listing", "price_per_kg": "price"}


def _attach(form, error: DomainError) -> None:
    field = error.field or ""
    if field.startswith("preferences."):
        field = None
    error.field = _FIELD_OF.get(field, field) if field else None
    form.attach_error(error)


@bp.route("/solicitudes/nueva", methods=["GET", "POST"])
@roles_required(*BUYER)
def new_demand():
    buyer = orders.buyer_of(current_user)
    form = _demand_form(buyer)
    status = 200
    if form.is_submitted():
        if form.validate():
            data = services.DemandData(
                product_id=form.product.data, quantity=form.quantity.decimal, unit=form.unit.data,
                delivery_site_id=form.delivery_site.data, window_start=form.window_start.data,
                window_end=form.window_end.data, min_grade_id=form.min_grade.data or None,
                target_price_per_kg=form.target_price.decimal, max_price_per_kg=form.max_price.decimal,
                min_lot_kg=form.min_lot.decimal, preferences=_preferences(form),
                source_departments=form.departments.data or [], note=form.note.data)
            try:
                demand = services.create_demand(current_user, data)
                db.session.commit()
                flash(_("Solicitud %(n)s publicada. Las cooperativas que pueden atenderla ya la ven.",
                        n=demand.number), "success")
                return redirect(url_for("matching.demand_page", demand_id=demand.id))
            except DomainError as error:
                db.session.rollback()
                _attach(form, error)
                status = error.status_code
        else:
            status = 422
    return render_template("matching/demand_form.html", form=form, buyer=buyer), status


@bp.get("/solicitudes")
@login_required
def demands():
    if current_user.has_role(*COOP):
        return redirect(url_for("matching.open_demands"))
    services.expire_demands()
    db.session.commit()
    if current_user.is_staff:
        return render_template("matching/demands.html", demands=services.all_demands(), form=PlainForm(),
                               staff=True)
    buyer = orders.buyer_of(current_user)
    return render_template("matching/demands.html", demands=services.buyer_demands(buyer), form=PlainForm(),
                           staff=False)


@bp.post("/solicitudes/optimizar")
@roles_required(*BUYER)
def optimise_all():
    """All the company's open demands optimised together: they compete for the same stock."""
    form = PlainForm()
    if not form.validate_on_submit():
        flash(_("La sesión del formulario venció; intente de nuevo."), "error")
        return redirect(url_for("matching.demands"))
    buyer = orders.buyer_of(current_user)
    services.expire_demands()
    open_ones = [d for d in services.buyer_demands(buyer) if d.status == DemandStatus.OPEN]
    try:
        proposals = services.propose(current_user, open_ones)
        db.session.commit()
        flash(_("Se calcularon %(n)d propuestas juntas.", n=len(proposals)), "success")
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    return redirect(url_for("matching.demands"))


@bp.get("/solicitudes/<int:demand_id>")
@login_required
def demand_page(demand_id: int):
    services.expire_demands()
    db.session.commit()
    demand = services.visible_demand(current_user, demand_id)
    context = {"demand": demand, "form": PlainForm(), "offers": services.offers_on(demand, current_user)}
    if current_user.has_role(*COOP):
        coop = current_user.organisation
        context["offer_form"] = _offer_form(coop, demand)
        return render_template("matching/demand_coop.html", **context)
    proposal = services.latest_proposal(demand)
    accept_form = AcceptForm()
    accept_form.payment_method.choices = _card_choices()
    accept_form.payment_method.data = PaymentMethod.INVOICE.value
    is_owner = current_user.has_role(*BUYER)
    return render_template("matching/demand.html", proposal=proposal, accept_form=accept_form,
                           is_owner=is_owner, **context)


@bp.post("/solicitudes/<int:demand_id>/propuesta")
@roles_required(*BUYER)
def run_proposal(demand_id: int):
    demand = services.own_demand(current_user, demand_id)
    form = PlainForm()
    if form.validate_on_submit():
        try:
            [proposal] = services.propose(current_user, [demand])
            db.session.commit()
            if proposal.met_kg < demand.quantity_kg:
                flash(_("Solo se pueden cubrir %(kg)s de lo pedido; abajo se explica por qué.",
                        kg=format_kg(proposal.met_kg)), "info")
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
    return redirect(url_for("matching.demand_page", demand_id=demand.id) + "#propuesta")


@bp.post("/solicitudes/<int:demand_id>/cancelar")
@roles_required(*BUYER)
def cancel_demand(demand_id: int):
    demand = services.own_demand(current_user, demand_id)
    if PlainForm().validate_on_submit():
        try:
            services.cancel_demand(current_user, demand)
            db.session.commit()
            flash(_("Solicitud cancelada."), "success")
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
    return redirect(url_for("matching.demand_page", demand_id=demand.id))


@bp.post("/propuestas/<int:proposal_id>/aceptar")
@roles_required(*BUYER)
def accept_proposal(proposal_id: int):
    proposal = services.own_proposal(current_user, proposal_id)
    demand_id = proposal.demand_id
    form = AcceptForm()
    form.payment_method.choices = _card_choices()
    if not form.validate_on_submit():
        flash(_("Elija cómo pagará: tarjeta o factura."), "error")
        return redirect(url_for("matching.demand_page", demand_id=demand_id) + "#propuesta")
    try:
        accepted = services.accept(current_user, proposal, form.payment_method.data)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("matching.demand_page", demand_id=demand_id) + "#propuesta")
    if accepted.changed:
        fresh = accepted.proposal
        if fresh.allocations:
            flash(_("Algo cambió desde que se calculó la propuesta (cantidad disponible, precios, cotizaciones o "
                    "costos de transporte): no se hizo ningún pedido. Esta es la nueva propuesta, por %(total)s "
                    "(la anterior era de %(before)s). Revísela y, si está de acuerdo, acéptela.",
                    total=_cop(fresh.total_cop), before=_cop(accepted.previous.total_cop)), "info")
        else:
            flash(_("Algo cambió desde que se calculó la propuesta y ya no hay oferta que la atienda: no se hizo "
                    "ningún pedido. Abajo se explica por qué."), "info")
        return redirect(url_for("matching.demand_page", demand_id=demand_id) + "#propuesta")
    order = accepted.order
    flash(_("Pedido %(n)s hecho por %(total)s. Cada cooperativa tiene %(h)d horas para responder.",
            n=order.number, total=_cop(order.total), h=current_app.config["ORDER_ACCEPT_HOURS"]), "success")
    if order.payment_method == PaymentMethod.CARD:
        return redirect(url_for("orders.pay", order_id=order.id))
    return redirect(url_for("orders.order_page", order_id=order.id))


def _cop(value: Decimal) -> str:
    from marketplace.core.formatting import cop

    return cop(value)


# ---------------------------------------------------------------- cooperatives


def _offer_form(coop, demand) -> OfferForm:
    form = OfferForm()
    listings = services.listings_for(coop, demand)
    form.listing.choices = [(item.id, _("%(grade)s · %(kg)s disponibles · %(price)s/kg",
                                        grade=grade_name(item.grade), kg=format_kg(item.available_kg),
                                        price=_cop(item.price_per_kg))) for item in listings]
    units = {"kg", "arroba", "carga", "tonelada"} | {item.unit for item in listings}
    form.unit.choices = [(code, unit_label(code)) for code in sorted(units, key=lambda c: c != "kg")]
    if request.method == "GET":
        form.unit.data = "kg"
        form.ready_date.data = max(demand.window_start, services._today())
        if listings:
            form.price.data = f"{listings[0].price_per_kg.normalize():f}"
    form.listings = listings
    return form


@bp.get("/cotizar")
@roles_required(*COOP)
def open_demands():
    coop = current_user.organisation
    services.expire_demands()
    db.session.commit()
    return render_template("matching/open_demands.html", demands=services.open_demands_for(coop),
                           offers=services.offers_of(coop), form=PlainForm())


@bp.post("/solicitudes/<int:demand_id>/cotizar")
@roles_required(*COOP)
def make_offer(demand_id: int):
    demand = services.visible_demand(current_user, demand_id)
    coop = current_user.organisation
    form = _offer_form(coop, demand)
    status = 422
    if form.validate_on_submit():
        data = services.OfferData(listing_id=form.listing.data, quantity=form.quantity.decimal,
                                  unit=form.unit.data, price_per_kg=form.price.decimal,
                                  ready_date=form.ready_date.data, note=form.note.data)
        try:
            services.make_offer(current_user, demand, data)
            db.session.commit()
            flash(_("Cotización enviada. Le avisaremos si el comprador la elige."), "success")
            return redirect(url_for("matching.demand_page", demand_id=demand.id))
        except DomainError as error:
            db.session.rollback()
            _attach(form, error)
            status = error.status_code
    return render_template("matching/demand_coop.html", demand=demand, offer_form=form, form=PlainForm(),
                           offers=services.offers_on(demand, current_user)), status


@bp.post("/cotizaciones/<int:offer_id>/retirar")
@roles_required(*COOP)
def withdraw_offer(offer_id: int):
    offer = services.own_offer(current_user, offer_id)
    if PlainForm().validate_on_submit():
        try:
            services.withdraw_offer(current_user, offer)
            db.session.commit()
            flash(_("Cotización retirada."), "success")
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
    return redirect(url_for("matching.demand_page", demand_id=offer.demand_id))
