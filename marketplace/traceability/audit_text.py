"""What the plots' audit events say to staff (registered with ``core.audit_text``)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from marketplace.core import audit_text as t
from marketplace.traceability.models import Plot


def _plot(object_id: str) -> str | None:
    plot = t.row(Plot, object_id)
    if plot is None:
        return None
    return _("%(who)s, n.º %(n)s", who=plot.producer_name, n=plot.id)


def register() -> None:
    t.kind("plot", _l("Predio"), _plot)
    for name, sentence in {
        "plot.created": _l("%(who)s registró el predio de %(object)s para %(org)s"),
        "plot.updated": _l("%(who)s cambió el predio de %(object)s"),
        "plot.deactivated": _l("%(who)s desactivó el predio de %(object)s"),
        "plot.reactivated": _l("%(who)s volvió a activar el predio de %(object)s"),
    }.items():
        t.action(name, sentence)
    t.field("producer_name", _l("Productor"), kind="plot")
    t.field("member_code", _l("Código de asociado"), kind="plot")
    t.field("declared_area_ha", _l("Área declarada (ha)"), kind="plot")
    t.field("area_ha", _l("Área medida (ha)"), kind="plot")
    t.field("kind", _l("Geolocalización"), kind="plot")
    t.field("warnings", _l("Advertencias"), kind="plot")
