"""What logistics' audit events say to staff (registered with ``core.audit_text`` at start-up)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from marketplace.core import audit_text as t
from marketplace.extensions import db
from marketplace.logistics.models import RouteDistance, Shipment, TransportMode
from marketplace.logistics.services import LEG_KINDS, TERRAINS

SHIPMENT_STATUS = {"planned": _l("por recoger"), "in_transit": _l("en camino"), "delivered": _l("entregado")}


def _mode(value) -> str:
    mode = db.session.get(TransportMode, str(value))
    return t.localised(mode.name, mode.name_en) if mode else t.humanise(str(value))


def _shipment(object_id: str) -> str | None:
    shipment = t.row(Shipment, object_id)
    return _("envío n.º %(n)s", n=shipment.id) if shipment else None


def _distance(object_id: str) -> str | None:
    row = t.row(RouteDistance, object_id)
    return t.km(row.road_km) if row else None


def _legs(value) -> str:
    """Legs as [mode, km] or [kind, mode, km, terrain]: "Camión, 120 km; Mula, 8 km (Montañoso)"."""
    if not isinstance(value, list):
        return t.text(value)
    out = []
    for leg in value:
        if isinstance(leg, list) and len(leg) == 2:
            out.append(f"{_mode(leg[0])}, {t.km(leg[1])}")
        elif isinstance(leg, list) and len(leg) == 4:
            out.append(f"{t.labelled(LEG_KINDS)(leg[0])}: {_mode(leg[1])}, {t.km(leg[2])} "
                       f"({t.labelled(TERRAINS)(leg[3])})")
        else:
            out.append(t.text(leg))
    return "; ".join(out) or "—"


def register() -> None:
    t.kind("transport_mode", _l("Medio de transporte"), lambda code: _mode(code))
    t.kind("route_distance", _l("Distancia por carretera"), _distance)
    t.kind("shipment", _l("Envío"), _shipment)

    t.action("transport_mode.updated", _l("%(who)s cambió los costos de %(object)s"))
    t.action("route_distance.set", _l("%(who)s fijó una distancia por carretera de %(object)s"))
    t.action("collection_point.access_legs",
             _l("%(who)s cambió los tramos de acceso del centro de acopio %(object)s"))

    t.field("fixed_cop", _l("Costo fijo por viaje"), t.money)
    t.field("per_km_cop", _l("Costo por km"), t.money)
    t.field("capacity_kg", _l("Capacidad"), t.kilos)
    t.field("road_km", _l("Distancia"), t.km)
    t.field("terrain", _l("Terreno"), t.labelled(TERRAINS))
    t.field("point", _l("Centro de acopio"), t.named("collection_point"))
    t.field("site", _l("Sitio de entrega"), t.named("delivery_site"))
    t.field("legs", _l("Tramos"), _legs)
    t.field("status", _l("Estado"), t.labelled(SHIPMENT_STATUS), kind="shipment")
