"""What the catalogue's audit events say to staff: sentences, field labels and names
(registered with ``core.audit_text`` at start-up)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from marketplace.catalog.models import CollectionPoint, Grade, Listing, ListingStatus, Product
from marketplace.catalog.units import UNITS
from marketplace.core import audit_text as t
from marketplace.extensions import db

LISTING_STATUS = {ListingStatus.ACTIVE: _l("abierta"), ListingStatus.PAUSED: _l("pausada"),
                  ListingStatus.WITHDRAWN: _l("retirada")}
CATEGORIES = {
    "cacao_coffee": _l("Cacao y café"), "fruit": _l("Frutas"), "roots_plantain": _l("Raíces, tubérculos y plátano"),
    "grains": _l("Granos"), "sweeteners": _l("Panela y miel"), "vegetables": _l("Hortalizas"), "fish": _l("Pescado"),
    "industrial": _l("Industriales y aceites"),
}


def product_name(product: Product | None) -> str | None:
    return t.localised(product.name, product.name_en) if product else None


def grade_name(grade: Grade | None) -> str | None:
    return t.localised(grade.name, grade.name_en) if grade else None


def _product(object_id: str) -> str | None:
    return product_name(t.row(Product, object_id))


def _product_by_slug(value) -> str:
    product = db.session.scalar(db.select(Product).where(Product.slug == str(value)))
    return product_name(product) or str(value)


def _grade(object_id: str) -> str | None:
    return grade_name(t.row(Grade, object_id))


def _listing(object_id: str) -> str | None:
    listing = t.row(Listing, object_id)
    if listing is None:
        return None
    what = product_name(listing.product)
    if listing.grade is not None:
        what = f"{what} ({grade_name(listing.grade)})"
    return _("%(what)s, n.º %(n)s", what=what, n=listing.id)


def _point(object_id: str) -> str | None:
    point = t.row(CollectionPoint, object_id)
    return point.name if point else None


def _unit(value) -> str:
    unit = UNITS.get(str(value))
    return (unit.label_en if t.is_english() else unit.label_es) if unit else str(value)


def _units(value) -> str:
    return ", ".join(_unit(v) for v in value) if isinstance(value, list | tuple) else _unit(value)


def register() -> None:
    t.kind("listing", _l("Oferta"), _listing)
    t.kind("product", _l("Producto"), _product)
    t.kind("grade", _l("Calidad"), _grade)
    t.kind("collection_point", _l("Centro de acopio"), _point)

    for name, sentence in {
        "listing.created": _l("%(who)s publicó la oferta de %(object)s para %(org)s"),
        "listing.updated": _l("%(who)s cambió la oferta de %(object)s"),
        "listing.pause": _l("%(who)s pausó la oferta de %(object)s"),
        "listing.withdraw": _l("%(who)s retiró la oferta de %(object)s"),
        "listing.reopen": _l("%(who)s volvió a abrir la oferta de %(object)s"),
        "product.created": _l("%(who)s añadió el producto %(object)s al catálogo"),
        "product.updated": _l("%(who)s cambió el producto %(object)s"),
        "product.retired": _l("%(who)s retiró el producto %(object)s del catálogo"),
        "product.restored": _l("%(who)s volvió a ofrecer el producto %(object)s"),
        "grade.created": _l("%(who)s añadió la calidad %(object)s"),
        "grade.updated": _l("%(who)s cambió la calidad %(object)s"),
        "grade.retired": _l("%(who)s retiró la calidad %(object)s"),
        "grade.restored": _l("%(who)s volvió a ofrecer la calidad %(object)s"),
    }.items():
        t.action(name, sentence)

    t.field("product_id", _l("Producto"), t.named("product"))
    t.field("product", _l("Producto"), _product_by_slug)
    t.field("grade_id", _l("Calidad"), t.named("grade"))
    t.field("listing", _l("Oferta"), t.named("listing"))
    t.field("collection_point_id", _l("Centro de acopio"), t.named("collection_point"))
    t.field("unit", _l("Unidad"), _unit)
    t.field("usual_units", _l("Unidades habituales"), _units)
    t.field("unit_kg", _l("Kilos por unidad"), t.kilos)
    t.field("quantity_kg", _l("Cantidad"), t.kilos)
    t.field("available_kg", _l("Disponible"), t.kilos)
    t.field("min_order_kg", _l("Pedido mínimo"), t.kilos)
    t.field("price_per_unit", _l("Precio por unidad"), t.money)
    t.field("price_per_kg", _l("Precio por kg"), t.money)
    t.field("available_from", _l("Disponible desde"), t.day)
    t.field("available_until", _l("Disponible hasta"), t.day)
    t.field("status", _l("Estado"), t.labelled(LISTING_STATUS), kind="listing")
    t.field("category", _l("Categoría"), t.labelled(CATEGORIES))
    t.field("rank", _l("Orden"), t.number)
