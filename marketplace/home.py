"""The front page, and each role's home page showing what that role does next."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select

from marketplace.accounts import documents
from marketplace.accounts import services as accounts
from marketplace.accounts.models import Cooperative, OrgKind, OrgStatus, Role
from marketplace.core.models import AuditEvent, Municipality
from marketplace.extensions import db

bp = Blueprint("home", __name__)

TEMPLATES = {
    Role.COOP_MANAGER: "home/cooperative.html",
    Role.COOP_MEMBER: "home/cooperative.html",
    Role.BUYER_ADMIN: "home/buyer.html",
    Role.BUYER_PURCHASER: "home/buyer.html",
    Role.STAFF_AUDITOR: "home/staff.html",
    Role.PLATFORM_ADMIN: "home/admin.html",
    Role.CARRIER_MANAGER: "home/carrier.html",
}


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("home.dashboard"))
    stats = {
        "cooperatives": db.session.scalar(
            select(func.count()).select_from(Cooperative).where(Cooperative.status == OrgStatus.VERIFIED)
        ),
        "pdet_municipalities": db.session.scalar(
            select(func.count(func.distinct(Cooperative.municipality_code)))
            .join(Municipality, Municipality.code == Cooperative.municipality_code)
            .where(Cooperative.status == OrgStatus.VERIFIED, Municipality.pdet_subregion.is_not(None))
        ),
    }
    return render_template("home/landing.html", stats=stats)


@bp.get("/inicio")
@login_required
def dashboard():
    role = current_user.role
    if role is None:
        return render_template("home/no_organisation.html")
    context = {"org": current_user.organisation, "role_label": accounts.ROLE_LABELS[role]}
    if role in (Role.STAFF_AUDITOR, Role.PLATFORM_ADMIN):
        context["counts"] = accounts.count_by_status()
        context["pending"] = db.session.scalars(
            accounts.list_organisations(status=OrgStatus.PENDING).limit(10)
        ).all()
        context["coverage"] = _coverage()
        context["recent_events"] = db.session.scalars(
            select(AuditEvent).order_by(AuditEvent.id.desc()).limit(8)
        ).all()
        context["kinds"] = OrgKind
    else:
        context["members"] = accounts.members_of(current_user.organisation)
        if current_user.organisation.status in (OrgStatus.PENDING, OrgStatus.REJECTED):
            context["checklist"] = documents.verification_checklist(current_user, current_user.organisation)
            context["kind_labels"] = documents.KIND_LABELS
    context["work"] = _order_work(role, current_user.organisation)
    return render_template(TEMPLATES[role], **context)


def _order_work(role: Role, org) -> dict:
    """How many orders wait on this role: answers, deliveries, payments, disputes."""
    from marketplace.orders.models import (
        Dispute,
        DisputeStatus,
        Order,
        OrderPart,
        PartStatus,
        PayoutStatus,
    )
    from marketplace.orders.services import overdue_invoices

    def count(stmt) -> int:
        return db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0

    if role in (Role.COOP_MANAGER, Role.COOP_MEMBER):
        from marketplace.matching.services import open_demands_for
        from marketplace.orders.services import sale_counts

        # The same counts the sales list's tabs show, so each link opens exactly that many.
        sales = sale_counts(org.id)
        return {"to_answer": sales["por-responder"], "demands": len(open_demands_for(org)),
                "to_prepare": sales["por-alistar"], "on_the_way": sales["en-camino"],
                "payout_due": sales["por-cobrar"]}
    if role == Role.CARRIER_MANAGER:
        from marketplace.logistics.models import Shipment

        mine = select(Shipment.id).where(Shipment.carrier_id == org.id)
        return {"planned": count(mine.where(Shipment.status == "planned")),
                "in_transit": count(mine.where(Shipment.status == "in_transit")),
                "without_cost": count(mine.where(Shipment.actual_cop.is_(None)))}
    if role in (Role.BUYER_ADMIN, Role.BUYER_PURCHASER):
        parts = select(OrderPart.id).join(Order).where(Order.buyer_id == org.id)
        from marketplace.matching.models import Demand, DemandStatus

        return {"to_receive": count(parts.where(OrderPart.status.in_([PartStatus.READY, PartStatus.IN_TRANSIT]))),
                "demands": count(select(Demand.id).where(Demand.buyer_id == org.id,
                                                         Demand.status == DemandStatus.OPEN)),
                "orders": count(select(Order.id).where(Order.buyer_id == org.id))}
    return {"overdue": len(overdue_invoices()),
            "disputes": count(select(Dispute.id).where(Dispute.status == DisputeStatus.OPEN)),
            "payouts": count(select(OrderPart.id).where(OrderPart.payout_status == PayoutStatus.DUE))}


def _coverage() -> dict:
    """Verified cooperatives by PDET subregion, and how many of the 16 subregions are reached."""
    rows = db.session.execute(
        select(Municipality.pdet_subregion, func.count(Cooperative.id))
        .join(Cooperative, Cooperative.municipality_code == Municipality.code)
        .where(Cooperative.status == OrgStatus.VERIFIED, Municipality.pdet_subregion.is_not(None))
        .group_by(Municipality.pdet_subregion)
        .order_by(func.count(Cooperative.id).desc())
    ).all()
    return {"by_subregion": rows, "subregions": len(rows)}
