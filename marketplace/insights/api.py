"""JSON API for the same aggregates as the staff dashboards (staff only) and for a buyer's
own sourcing report."""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from sqlalchemy import func, select

from marketplace.accounts.api import secured
from marketplace.accounts.models import Organisation, User
from marketplace.core import audit_text
from marketplace.extensions import csrf, db
from marketplace.insights import services
from marketplace.insights.schemas import (
    AnomaliesSchema,
    AuditPageSchema,
    AuditQuerySchema,
    BuyerReportQuerySchema,
    BuyerReportSchema,
    IndicatorQuerySchema,
    IndicatorsSchema,
    ProductQuerySchema,
    TrendsSchema,
)

blp = Blueprint("insights-api", __name__, description="Tendencias, anomalías, indicadores, auditoría e informe del comprador.")
csrf.exempt(blp)  # bearer tokens, no cookies


def _month(value: str | None):
    return services.parse_month(value, "start") if value else None


def _filters(args: dict) -> services.Filters:
    return services.make_filters(_month(args.get("start")), _month(args.get("end")), args.get("product_id"),
                                 args.get("department"), args.get("subregion"), args.get("municipality"))


def _text(value) -> str | None:
    return None if value is None else str(value)


def _done(result):
    db.session.commit()
    return result


@blp.route("/insights/trends")
@secured(blp)
@blp.arguments(ProductQuerySchema, location="query")
@blp.response(200, TrendsSchema)
@blp.alt_response(403, response="DEFAULT_ERROR", description="Solo el equipo del programa.")
@blp.alt_response(422, response="DEFAULT_ERROR", description="Periodo al revés, producto o región desconocidos.")
def trends(args):
    """Precio pagado (mediana y cuartiles), volumen, pedidos y reparto del precio, por mes"""
    services.require_staff(g.api_user)
    f = _filters(args)
    result = services.trends(f)
    sipsa = None
    if result.sipsa is not None:
        sipsa = {"product": result.sipsa.product, "market": result.sipsa.market,
                 "distance_km": round(result.sipsa.distance_km, 1),
                 "months": [{"month": m.strftime("%Y-%m"), "price_per_kg": v} for m, v in result.sipsa.months]}
    return _done({"product_id": f.product.id, "region": f.region_label, "sipsa": sipsa, "months": [
        {"month": m.month.strftime("%Y-%m"), "median_price_per_kg": m.median, "q1_price_per_kg": m.q1,
         "q3_price_per_kg": m.q3, "kg": m.kg, "cop": m.cop, "logistics_cop": m.logistics_cop, "orders": m.parts,
         "farm_gate_share": m.farm_gate_share, "last_mile_share": m.last_mile_share} for m in result.months]})


@blp.route("/insights/indicators")
@secured(blp)
@blp.arguments(IndicatorQuerySchema, location="query")
@blp.response(200, IndicatorsSchema)
@blp.alt_response(403, response="DEFAULT_ERROR", description="Solo el equipo del programa.")
@blp.alt_response(422, response="DEFAULT_ERROR", description="Periodo al revés, producto o región desconocidos.")
def indicators(args):
    """Indicadores de impacto del periodo, mes a mes, con su meta y avance"""
    services.require_staff(g.api_user)
    f = _filters(args)
    result = services.impact(f)
    return _done({"region": f.region_label, "year": result.year, "items": [
        {"code": r.code, "label": r.label, "value": _text(r.value), "target": _text(r.target),
         "progress": _text(r.progress),
         "monthly": [{"month": m.strftime("%Y-%m"), "value": _text(v)} for m, v in r.monthly]}
        for r in result.rows]})


@blp.route("/insights/anomalies")
@secured(blp)
@blp.arguments(ProductQuerySchema, location="query")
@blp.response(200, AnomaliesSchema)
@blp.alt_response(403, response="DEFAULT_ERROR", description="Solo el equipo del programa.")
@blp.alt_response(422, response="DEFAULT_ERROR", description="Periodo al revés, producto o región desconocidos.")
def anomalies(args):
    """ALPS e IPA del precio de la plataforma y de SIPSA, y ventas lejos de la mediana"""
    services.require_staff(g.api_user)
    result = services.anomalies(_filters(args))

    def series(s):
        if s is None:
            return None
        return {"label": s.label, "problem": s.problem,
                "alps": [{"month": p.month.strftime("%Y-%m"), "value": p.value, "band": p.band} for p in s.alps],
                "ipa": [{"month": p.month.strftime("%Y-%m"), "value": p.value, "band": p.band} for p in s.ipa]}

    return _done({"platform": series(result.platform), "reference": series(result.reference),
                  "flagged_total": result.flagged_total, "flagged": [
        {"line_id": x.fact.line_id, "order_id": x.fact.order_id, "day": x.fact.day,
         "municipality_code": x.fact.municipality_code, "municipality": x.municipality,
         "cooperative_id": x.fact.cooperative_id, "cooperative": x.cooperative,
         "buyer_id": x.fact.buyer_id, "buyer": x.buyer, "price_per_kg": x.fact.price_per_kg, "reference_per_kg": x.reference,
         "flag": x.flag, "reviews": len(x.reviews)} for x in result.flagged]})


@blp.route("/insights/buyer-report")
@secured(blp)
@blp.arguments(BuyerReportQuerySchema, location="query")
@blp.response(200, BuyerReportSchema)
@blp.alt_response(403, response="DEFAULT_ERROR", description="Solo empresas compradoras y el equipo.")
@blp.alt_response(404, response="DEFAULT_ERROR", description="Esa empresa no existe.")
@blp.alt_response(422, response="DEFAULT_ERROR", description="Periodo al revés o región desconocida.")
def buyer_report(args):
    """Lo que su empresa compró por municipio y producto, y sus participaciones PDET, mujeres y jóvenes"""
    buyer = services.report_buyer(g.api_user, args.get("buyer_id"))
    f = _filters(args)
    report = services.buyer_report(buyer, f)
    return _done({"buyer_id": buyer.id, "start": f.start.strftime("%Y-%m"), "end": f.end.strftime("%Y-%m"),
                  "kg": report.kg, "cop": report.cop, "pdet_share": report.pdet_share,
                  "women_share": report.women_share, "youth_share": report.youth_share,
                  "cooperatives": report.cooperatives, "rows": report.rows})


@blp.route("/insights/audit-events")
@secured(blp)
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, AuditPageSchema)
@blp.alt_response(403, response="DEFAULT_ERROR", description="Solo el equipo del programa.")
@blp.alt_response(422, response="DEFAULT_ERROR", description="Periodo al revés.")
def audit_events(args):
    """Cambios registrados, del más reciente al más antiguo, con valores de antes y después"""
    services.require_staff(g.api_user)
    stmt = services.audit_statement(services.AuditFilters(
        who=args.get("who"), organisation=args.get("organisation"), object_type=args.get("object_type"),
        object_id=args.get("object_id"), action=args.get("action"), start=args.get("start"), end=args.get("end")))
    page, size = args["page"], args["page_size"]
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    events = db.session.scalars(stmt.limit(size).offset((page - 1) * size)).all()
    people = _names(User, User.full_name, {e.actor_id for e in events if e.actor_id})
    organisations = _names(Organisation, Organisation.name, {e.organisation_id for e in events if e.organisation_id})
    items = [{"id": e.id, "occurred_at": e.occurred_at, "actor_id": e.actor_id, "actor_name": people.get(e.actor_id),
              "organisation_id": e.organisation_id, "organisation_name": organisations.get(e.organisation_id),
              "action": e.action, "object_type": e.object_type, "object_id": e.object_id, "before": e.before,
              "after": e.after, "note": e.note,
              "summary": audit_text.describe(e, people, organisations).sentence} for e in events]
    return {"page": page, "page_size": size, "total": total, "pages": -(-total // size), "items": items}


def _names(model, column, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {key: name for key, name in db.session.execute(select(model.id, column).where(model.id.in_(ids)))}
