"""What buyers' demands and cooperatives' offers say in the audit trail (registered with
``core.audit_text`` at start-up)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from marketplace.core import audit_text as t
from marketplace.matching.models import Demand, DemandStatus, Offer, OfferStatus, Proposal
from marketplace.matching.services import attribute_label

DEMAND_STATUS = {DemandStatus.OPEN: _l("abierta"), DemandStatus.ORDERED: _l("pedida"),
                 DemandStatus.CANCELLED: _l("cancelada"), DemandStatus.EXPIRED: _l("vencida")}
OFFER_STATUS = {OfferStatus.OPEN: _l("abierta"), OfferStatus.WITHDRAWN: _l("retirada"),
                OfferStatus.CHOSEN: _l("elegida"), OfferStatus.NOT_CHOSEN: _l("no elegida")}


def _demand(object_id: str) -> str | None:
    demand = t.row(Demand, object_id)
    return demand.number if demand else None


def _offer(object_id: str) -> str | None:
    offer = t.row(Offer, object_id)
    if offer is None:
        return None
    return _demand(str(offer.demand_id))


def _proposal(object_id: str) -> str | None:
    proposal = t.row(Proposal, object_id)
    return _("n.º %(n)s", n=proposal.id) if proposal else None


def _window(value) -> str:
    if isinstance(value, list) and len(value) == 2:
        return _("%(start)s a %(end)s", start=t.day(value[0]), end=t.day(value[1]))
    return t.text(value)


def _preferences(value) -> str:
    if not isinstance(value, list):
        return t.text(value)
    out = []
    for pref in value:
        if not isinstance(pref, dict):
            out.append(t.text(pref))
            continue
        parts = [attribute_label(str(pref.get("attribute", "")))]
        if pref.get("min_share") is not None:
            parts.append(_("mínimo %(share)s", share=t.formatting.percent(pref["min_share"])))
        if pref.get("weight") is not None:
            parts.append(_("vale %(cop)s por kg", cop=t.money(pref["weight"])))
        out.append(", ".join(parts))
    return "; ".join(out) or "—"


def register() -> None:
    t.kind("demand", _l("Solicitud"), _demand)
    t.kind("demand_offer", _l("Respuesta a una solicitud"), _offer)
    t.kind("proposal", _l("Propuesta"), _proposal)

    for name, sentence in {
        "demand.created": _l("%(org)s publicó la solicitud %(object)s"),
        "demand.cancelled": _l("%(org)s canceló la solicitud %(object)s"),
        "demand.proposed": _l("Se preparó una propuesta para la solicitud %(object)s de %(org)s"),
        "demand.proposal_changed": _l("La propuesta de la solicitud %(object)s cambió antes de aceptarse"),
        "demand.ordered": _l("%(org)s aceptó la propuesta de la solicitud %(object)s"),
        "offer.saved": _l("%(org)s respondió a la solicitud %(object)s con una oferta"),
        "offer.withdrawn": _l("%(org)s retiró su respuesta a la solicitud %(object)s"),
    }.items():
        t.action(name, sentence)

    t.field("status", _l("Estado"), t.labelled(DEMAND_STATUS), kind="demand")
    t.field("status", _l("Estado"), t.labelled(OFFER_STATUS), kind="demand_offer")
    t.field("demand", _l("Solicitud"), t.named("demand"))
    t.field("proposal", _l("Propuesta"), t.named("proposal"))
    t.field("met_kg", _l("Cantidad cubierta"), t.kilos)
    t.field("window", _l("Ventana de entrega"), _window)
    t.field("max_price_per_kg", _l("Precio máximo por kg"), t.money)
    t.field("preferences", _l("Preferencias"), _preferences)
    t.field("ready_date", _l("Lista el"), t.day)
