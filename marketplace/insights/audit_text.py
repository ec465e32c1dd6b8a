"""What insights' own audit events (reviews, targets) and the demo's say in the trail
(registered with ``core.audit_text`` at start-up)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from marketplace.core import audit_text as t
from marketplace.insights.services import INDICATORS, REVIEW_OUTCOMES


def register() -> None:
    t.kind("indicator_target", _l("Meta"), lambda object_id: None)
    t.kind("demo", _l("Datos de demostración"), lambda object_id: str(_l("historial")))

    t.action("transaction.reviewed", _l("%(who)s revisó el precio de %(object)s"))
    t.action("indicator.target_set", _l("%(who)s fijó una meta de un indicador"))
    t.action("demo.history_seeded", _l("%(who)s cargó el historial de demostración"))

    t.field("outcome", _l("Qué se encontró"), t.labelled(REVIEW_OUTCOMES))
    t.field("indicator", _l("Indicador"), t.labelled(INDICATORS))
    t.field("year", _l("Año"), str)
    t.field("target", _l("Meta"), t.number)
    t.field("orders", _l("Pedidos"), t.number, kind="demo")
    t.field("lines", _l("Líneas"), t.number, kind="demo")
    t.field("lots", _l("Ofertas"), t.number, kind="demo")
    t.field("from", _l("Desde"), t.day)
    t.field("to", _l("Hasta"), t.day)
