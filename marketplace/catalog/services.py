"""Catalogue and listing services: the one way to list, change and find harvests.

Functions take plain values and the acting user, flush, and leave the commit to the caller.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, select, update

from marketplace.accounts.models import Cooperative, OrgStatus, Role, User
from marketplace.catalog import display, units
from marketplace.catalog.models import (
    CollectionPoint,
    Grade,
    Listing,
    ListingChange,
    ListingPhoto,
    ListingStatus,
    Product,
)
from marketplace.catalog.photos import CheckedUpload, PhotoError, ProcessedPhoto, new_key
from marketplace.core import audit, formatting, geography, uploads
from marketplace.core.errors import Conflict, DomainError, Forbidden, NotFound
from marketplace.core.models import Municipality, bogota_date, utcnow
from marketplace.core.text import clean_text, collation_key, sort_names
from marketplace.core.types import grams
from marketplace.extensions import db

MAX_PHOTOS = 3
MAX_PRICE_PER_KG = Decimal("2000000")  # far above any farm-gate price in COP/kg
MAX_WINDOW_DAYS = 366
# A price per kg more than 40 % above or below the reference asks for confirmation: a price
# typed per kg instead of per arroba is 92 % too low, one with a zero too many 900 % too high.
MAX_GAP = Decimal("0.4")

CERTIFICATIONS = {
    "organico": _l("Orgánico"),
    "comercio_justo": _l("Comercio justo (Fairtrade)"),
    "rainforest": _l("Rainforest Alliance"),
    "bpa": _l("Buenas prácticas agrícolas (BPA-ICA)"),
    "4c": _l("4C (café)"),
    "libre_deforestacion": _l("Libre de deforestación"),
}
UNIT_MESSAGES = {
    "unknown_unit": _l("Elija una unidad de la lista."),
    "weight_required": _l("Diga cuántos kg pesa cada unidad (por ejemplo, un bulto de 50 kg)."),
    "weight_out_of_range": _l("El peso por unidad debe estar entre 0 y 2.000 kg."),
    "quantity_not_positive": _l("La cantidad debe ser mayor que cero."),
    "quantity_too_large": _l("La cantidad es demasiado grande para un solo lote."),
    "price_not_positive": _l("El precio debe ser mayor que cero."),
}
PHOTO_MESSAGES = {
    "too_large": _l("Cada foto puede pesar hasta 8 MB."),
    "not_an_image": _l("Ese archivo no es una foto JPEG, PNG o WebP."),
    "wrong_format": _l("Solo se aceptan fotos JPEG, PNG o WebP."),
    "too_many_pixels": _l("Esa imagen tiene demasiados píxeles: envíe una foto de hasta 12 megapíxeles "
                          "(por ejemplo 4000 × 3000)."),
    "busy": _l("Estamos procesando muchas fotos en este momento. Intente de nuevo en un minuto."),
}
COOP_ROLES = (Role.COOP_MANAGER, Role.COOP_MEMBER)


# ------------------------------------------------------------------- catalogue


def active_products(locale: str | None = None) -> list[Product]:
    """Active products in the reader's alphabetical order (Spanish collation: "Maíz" before
    "Maracuyá", "Ñame" after "Naranja"), by their name in that language."""
    products = db.session.scalars(select(Product).where(Product.active.is_(True)))
    return sort_names(products, display.product_name, _reader_locale(locale))


def _reader_locale(locale: str | None) -> str:
    if locale:
        return locale
    from flask_babel import get_locale

    return str(get_locale() or "es")


def get_product(product_id: int | None, *, active_only: bool = True) -> Product:
    product = db.session.get(Product, product_id) if product_id else None
    if product is None or (active_only and not product.active):
        raise DomainError(_l("Elija un producto del catálogo."), "product")
    return product


# -------------------------------------------------------------- authorisation


def cooperative_of(user: User) -> Cooperative:
    """The cooperative the user sells for; others may not list."""
    org = user.organisation
    if not isinstance(org, Cooperative) or user.role not in COOP_ROLES:
        raise Forbidden(_l("Solo las asociaciones y cooperativas publican cosechas."))
    return org


def require_can_sell(user: User) -> Cooperative:
    coop = cooperative_of(user)
    if coop.status != OrgStatus.VERIFIED:
        raise Forbidden(_l("Su organización debe estar verificada para publicar cosechas."))
    return coop


def own_listing(user: User, listing_id: int) -> Listing:
    """A listing of the user's own cooperative; any other id is simply not found."""
    listing = db.session.get(Listing, listing_id)
    org = user.organisation
    if listing is None or org is None or listing.cooperative_id != org.id or user.role not in COOP_ROLES:
        raise NotFound(_l("No encontramos esa oferta."))
    return listing


# Registered by orders at start-up: (carrier organisation id, listing id) -> does the carrier
# drive a shipment carrying that listing?
CARRIER_LISTINGS_HOOK = None


def refuse_carrier_search(user: User) -> None:
    """Carriers see listings only through the shipments they drive, never the whole catalogue."""
    if user.role == Role.CARRIER_MANAGER:
        raise Forbidden(_l("Los transportadores ven las ofertas solo a través de los envíos que llevan: "
                           "búsquelas en sus envíos."))


def visible_listing(user: User, listing_id: int) -> Listing:
    """Buyers and staff see every listing; a cooperative sees only its own; a carrier those in
    the shipments it drives."""
    listing = db.session.get(Listing, listing_id)
    if listing is None:
        raise NotFound(_l("No encontramos esa oferta."))
    if user.role in COOP_ROLES and listing.cooperative_id != user.organisation.id:
        raise NotFound(_l("No encontramos esa oferta."))
    if user.role == Role.CARRIER_MANAGER and (
            CARRIER_LISTINGS_HOOK is None or user.organisation is None
            or not CARRIER_LISTINGS_HOOK(user.organisation.id, listing.id)):
        raise NotFound(_l("No encontramos esa oferta."))
    return listing


# ----------------------------------------------------------- collection points


def collection_points(coop: Cooperative) -> list[CollectionPoint]:
    """The cooperative's active collection points, the one its latest listing used first (the
    listing form proposes it), then the newest ones."""
    last_used = (select(func.max(Listing.id)).where(Listing.collection_point_id == CollectionPoint.id)
                 .correlate(CollectionPoint).scalar_subquery())
    return list(db.session.scalars(
        select(CollectionPoint).where(CollectionPoint.cooperative_id == coop.id, CollectionPoint.active.is_(True))
        .order_by(last_used.desc().nulls_last(), CollectionPoint.id.desc())
    ))


def add_collection_point(coop: Cooperative, name: str, latitude: Decimal | None, longitude: Decimal | None,
                         municipality_code: str | None = None) -> CollectionPoint:
    name = clean_text(name)
    if not name:
        raise DomainError(_l("Escriba el nombre del centro de acopio o la vereda."), "new_point")
    if len(name) > 120:
        raise DomainError(_l("Máximo %(max)d caracteres.", max=120), "new_point")
    municipality = geography.get_municipality(municipality_code or coop.municipality_code)
    if municipality is None:
        raise DomainError(_l("Elija un municipio de la lista (código DIVIPOLA)."), "new_point")
    located = latitude is not None and longitude is not None
    if (latitude is None) != (longitude is None):
        raise DomainError(_l("Escriba latitud y longitud, o deje ambas vacías."), "latitude")
    if located and not geography.in_colombia(latitude, longitude):
        raise DomainError(_l("Esas coordenadas no están en Colombia."), "latitude")
    point = CollectionPoint(
        cooperative_id=coop.id, name=name, municipality_code=municipality.code, municipality=municipality,
        latitude=Decimal(latitude if located else municipality.latitude).quantize(Decimal("0.000001")),
        longitude=Decimal(longitude if located else municipality.longitude).quantize(Decimal("0.000001")),
        located=located,
    )
    db.session.add(point)
    db.session.flush()
    return point


# -------------------------------------------------------------------- listings


@dataclass
class ListingData:
    product_id: int | None
    grade_id: int | None
    quantity: Decimal | None
    unit: str
    price_per_unit: Decimal | None
    harvest_date: date | None
    available_from: date | None
    available_until: date | None
    unit_kg: Decimal | None = None
    collection_point_id: int | None = None
    new_point_name: str | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    certifications: list[str] = field(default_factory=list)
    description: str | None = None
    confirm_price: bool = False
    min_order: Decimal | None = None  # in the listing's unit


REFERENCE_SOURCES = {
    "grade": _l("mediana de la plataforma para esta calidad"),
    "product": _l("mediana de la plataforma para este producto"),
}


@dataclass
class PriceReferences:
    """What a price is compared with: the platform's median for the grade, else for the
    product (90 days, the department), else SIPSA's latest wholesale price nearby."""

    platform_median_kg: Decimal | None  # the grade's
    sipsa_kg: Decimal | None
    sipsa_market: str | None
    sipsa_week: date | None
    sipsa_distance_km: float | None
    product_median_kg: Decimal | None = None  # every grade of the product

    @property
    def source(self) -> str | None:
        """Which reference applies: "grade", "product", "sipsa", or None when none exists."""
        if self.platform_median_kg:
            return "grade"
        if self.product_median_kg:
            return "product"
        if self.sipsa_kg:
            return "sipsa"
        return None

    @property
    def reference_kg(self) -> Decimal | None:
        return {"grade": self.platform_median_kg, "product": self.product_median_kg,
                "sipsa": self.sipsa_kg}.get(self.source)

    @property
    def source_label(self) -> str | None:
        """Where the reference comes from, in words ("SIPSA Pasto")."""
        if self.source == "sipsa":
            return _l("mayorista SIPSA en %(market)s", market=self.sipsa_market)
        return REFERENCE_SOURCES.get(self.source)


def price_references(product: Product, grade: Grade | None, municipality: Municipality,
                     today: date | None = None) -> PriceReferences:
    """The platform's median price per kg for this product and grade in the department over
    the last 90 days (and for the product, any grade), and the latest SIPSA wholesale price
    at the nearest market."""
    from marketplace.catalog import sipsa

    today = today or bogota_date()
    median = platform_median_price(product.id, grade.id, municipality.department_code, today) if grade else None
    product_median = platform_median_price(product.id, None, municipality.department_code, today)
    reference = None
    if product.sipsa_name:
        reference = sipsa.nearest_reference(product.sipsa_name, float(municipality.latitude),
                                            float(municipality.longitude))
    return PriceReferences(
        median,
        reference.latest.mean if reference else None,
        reference.market.name if reference else None,
        reference.latest.week_start if reference else None,
        round(reference.distance_km) if reference else None,
        product_median,
    )


# Filled in by the orders package (prices actually paid); until a sale exists there is no
# platform median. A hook keeps the import direction catalog <- orders.
PAID_PRICES_HOOK = None


def platform_median_price(product_id: int, grade_id: int | None, department_code: str, today: date) -> Decimal | None:
    if PAID_PRICES_HOOK is None:
        return None
    prices = sorted(PAID_PRICES_HOOK(product_id, grade_id, department_code, today - timedelta(days=90), today))
    if not prices:
        return None
    middle = len(prices) // 2
    if len(prices) % 2:
        return prices[middle]
    return ((prices[middle - 1] + prices[middle]) / 2).quantize(units.COP_STEP)


def _validated(coop: Cooperative, data: ListingData, today: date, existing: Listing | None = None):
    product = get_product(data.product_id)
    grade = db.session.get(Grade, data.grade_id) if data.grade_id else None
    if grade is None or grade.product_id != product.id or not grade.active:
        raise DomainError(_l("Elija una calidad de este producto."), "grade")
    if data.quantity is None:
        raise DomainError(_l("Escriba la cantidad."), "quantity")
    kept = existing is not None and existing.unit == data.unit  # a unit staff later dropped stays
    if data.unit in units.UNITS and data.unit not in units.trade_units(product.usual_units) and not kept:
        raise DomainError(_l("Elija una unidad de la lista."), "unit")
    stated = data.unit_kg if units.UNITS.get(data.unit) and units.UNITS[data.unit].needs_weight else None
    try:
        unit_kg = units.unit_weight(data.unit, stated)
    except units.UnitError as exc:
        raise DomainError(UNIT_MESSAGES[exc.code], "unit_kg" if exc.code != "unknown_unit" else "unit") from exc
    try:
        quantity_kg = units.to_kg(data.quantity, data.unit, stated)
    except units.UnitError as exc:
        raise DomainError(UNIT_MESSAGES[exc.code], "quantity") from exc
    min_order_kg = None
    if data.min_order is not None:
        try:
            min_order_kg = units.to_kg(data.min_order, data.unit, stated)
        except units.UnitError as exc:
            raise DomainError(_l("El pedido mínimo debe ser mayor que cero."), "min_order") from exc
        if min_order_kg > quantity_kg:
            raise DomainError(_l("El pedido mínimo no puede ser mayor que la cantidad ofrecida."), "min_order")
    if data.price_per_unit is None:
        raise DomainError(_l("Escriba el precio por unidad."), "price")
    try:
        price_kg = units.price_per_kg(data.price_per_unit, data.unit, stated)
    except units.UnitError as exc:
        raise DomainError(UNIT_MESSAGES[exc.code], "price") from exc
    if price_kg > MAX_PRICE_PER_KG or price_kg < Decimal("1"):
        raise DomainError(_l("Ese precio no es posible: revise la unidad y los ceros."), "price")
    for name, value in (("harvest_date", data.harvest_date), ("available_from", data.available_from),
                        ("available_until", data.available_until)):
        if value is None:
            raise DomainError(_l("Escriba la fecha."), name)
    if data.harvest_date > today + timedelta(days=365) or data.harvest_date < today - timedelta(days=365):
        raise DomainError(_l("La fecha de cosecha debe estar dentro de un año de hoy."), "harvest_date")
    unchanged_from = existing is not None and existing.available_from == data.available_from
    if data.available_from < today and not unchanged_from:
        raise DomainError(_l("La fecha no puede estar en el pasado."), "available_from")
    if data.available_until < today:
        raise DomainError(_l("La fecha no puede estar en el pasado."), "available_until")
    if data.available_until < data.available_from:
        raise DomainError(_l("«Disponible hasta» debe ser igual o posterior a «disponible desde»."), "available_until")
    if (data.available_until - data.available_from).days > MAX_WINDOW_DAYS:
        raise DomainError(_l("Una oferta puede estar disponible hasta un año."), "available_until")
    unknown = set(data.certifications) - set(CERTIFICATIONS)
    if unknown:
        raise DomainError(_l("Elija certificaciones de la lista."), "certifications")
    description = clean_text(data.description) or None
    if description and len(description) > 1000:
        raise DomainError(_l("Máximo %(max)d caracteres.", max=1000), "description")
    return product, grade, unit_kg, quantity_kg, price_kg, description, min_order_kg


def _collection_point(coop: Cooperative, data: ListingData) -> CollectionPoint:
    if data.collection_point_id:
        point = db.session.get(CollectionPoint, data.collection_point_id)
        if point is None or point.cooperative_id != coop.id or not point.active:
            raise DomainError(_l("Elija uno de sus centros de acopio."), "collection_point")
        return point
    if data.new_point_name and data.new_point_name.strip():
        return add_collection_point(coop, data.new_point_name, data.latitude, data.longitude)
    raise DomainError(_l("Elija dónde se recoge la cosecha, o escriba un nuevo centro de acopio."), "collection_point")


def price_gap(price_kg: Decimal, reference_kg: Decimal | None) -> Decimal | None:
    """How far a price per kg is from the reference, as a signed fraction (-0.92: 92 % below)."""
    if not reference_kg:
        return None
    return (price_kg - reference_kg) / reference_kg


def far_message(refs: PriceReferences, price_kg: Decimal, price_per_unit: Decimal | None = None,
                unit: str = "kg") -> str:
    """The explanation in numbers: "13.500 por arroba = 1.080 por kg; la referencia es 13.481
    por kg (mayorista SIPSA en Pasto), un 92 % menos". One text for the form, the API and
    WhatsApp."""
    from flask_babel import gettext as _

    gap = price_gap(price_kg, refs.reference_kg)
    if unit != "kg" and price_per_unit is not None:
        typed = _("%(price)s por %(unit)s = %(per_kg)s por kg", price=formatting.cop(price_per_unit),
                  unit=display.unit_name(unit, 1), per_kg=formatting.cop(price_kg))
    else:
        typed = _("%(per_kg)s por kg", per_kg=formatting.cop(price_kg))
    direction = (_("un %(pct)s menos", pct=formatting.percent(-gap)) if gap < 0
                 else _("un %(pct)s más", pct=formatting.percent(gap)))
    return _("%(typed)s; la referencia es %(ref)s por kg (%(source)s): %(direction)s. "
             "Revíselo o confirme que el precio es correcto.",
             typed=typed, ref=formatting.cop(refs.reference_kg), source=refs.source_label, direction=direction)


def _check_price(product, grade, point, price_kg: Decimal, confirmed: bool, today: date, *,
                 price_per_unit: Decimal | None = None, unit: str = "kg") -> None:
    """A price per kg more than 40 % away from the reference (the grade's platform median,
    else the product's, else SIPSA) needs ``confirmed``; otherwise a 409 explains it in numbers."""
    refs = price_references(product, grade, point.municipality, today)
    gap = price_gap(price_kg, refs.reference_kg)
    if gap is not None and not confirmed and abs(gap) > MAX_GAP:
        raise DomainError(far_message(refs, price_kg, price_per_unit, unit), "price", status_code=409)


def _place(listing: Listing, point: CollectionPoint) -> None:
    listing.collection_point = point
    listing.collection_point_id = point.id
    listing.municipality_code = point.municipality_code
    listing.department_code = point.municipality.department_code
    listing.pdet_subregion = point.municipality.pdet_subregion
    listing.latitude, listing.longitude = point.latitude, point.longitude


def _store_photos(listing: Listing, processed: list[ProcessedPhoto], storage) -> None:
    if len(listing.photos) + len(processed) > MAX_PHOTOS:
        raise DomainError(_l("Puede subir hasta %(n)s fotos por oferta.", n=MAX_PHOTOS), "photos")
    used = {p.position for p in listing.photos}
    free = (n for n in range(MAX_PHOTOS) if n not in used)
    for photo in processed:
        key, thumb_key = new_key(), new_key()
        uploads.save(db.session, storage, key, photo.image)  # deleted again if the transaction rolls back
        uploads.save(db.session, storage, thumb_key, photo.thumbnail)
        listing.photos.append(ListingPhoto(position=next(free), key=key, thumb_key=thumb_key,
                                           width=photo.width, height=photo.height))


# A service given photos as a callable calls it only once every other field is valid, so a form
# refused for a wrong date or quantity never pays for decoding its photos.
Photos = list[ProcessedPhoto] | Callable[[], list[ProcessedPhoto]] | None


def _photos_now(photos: Photos) -> list[ProcessedPhoto]:
    return (photos() if callable(photos) else photos) or []


def check_upload(data: bytes) -> CheckedUpload:
    """The cheap checks of one uploaded photo (size, format, declared pixels), no decoding."""
    from marketplace.catalog import photos

    try:
        return photos.check(data)
    except PhotoError as exc:
        raise DomainError(PHOTO_MESSAGES[exc.code], "photos") from exc


def process_uploads(files: list[bytes]) -> list[ProcessedPhoto]:
    """Check and re-encode uploaded photos before anything is written."""
    from marketplace.catalog import photos

    if len(files) > MAX_PHOTOS:
        raise DomainError(_l("Puede subir hasta %(n)s fotos por oferta.", n=MAX_PHOTOS), "photos")
    processed = []
    for data in files:
        try:
            processed.append(photos.process(data))
        except PhotoError as exc:
            raise DomainError(PHOTO_MESSAGES[exc.code], "photos") from exc
    return processed


SNAPSHOT = ("product_id", "grade_id", "unit", "unit_kg", "quantity_kg", "available_kg", "min_order_kg", "price_per_unit",
            "price_per_kg", "available_from", "available_until", "collection_point_id", "status")


def create_listing(actor: User, data: ListingData, photos: Photos = None, storage=None,
                   today: date | None = None) -> Listing:
    """A new listing. ``photos`` (re-encoded, or a callable that decodes them) are taken only
    once every other field has passed."""
    today = today or bogota_date()
    coop = require_can_sell(actor)
    product, grade, unit_kg, quantity_kg, price_kg, description, min_order_kg = _validated(coop, data, today)
    point = _collection_point(coop, data)
    _check_price(product, grade, point, price_kg, data.confirm_price, today,
                 price_per_unit=data.price_per_unit, unit=data.unit)
    listing = Listing(
        cooperative_id=coop.id, product=product, product_id=product.id, grade=grade, grade_id=grade.id,
        status=ListingStatus.ACTIVE, unit=data.unit, unit_kg=unit_kg, quantity_kg=quantity_kg,
        available_kg=quantity_kg, min_order_kg=min_order_kg, price_per_unit=data.price_per_unit.quantize(units.COP_STEP),
        price_per_kg=price_kg, harvest_date=data.harvest_date, available_from=data.available_from,
        available_until=data.available_until, certifications=sorted(set(data.certifications)),
        description=description, created_by_id=actor.id,
    )
    processed = _photos_now(photos)
    _place(listing, point)
    db.session.add(listing)
    if processed:
        _store_photos(listing, processed, storage)
    db.session.flush()
    db.session.add(ListingChange(listing_id=listing.id, actor_id=actor.id, price_per_kg_after=price_kg,
                                 quantity_kg_after=quantity_kg, reason="created"))
    audit.record("listing.created", "listing", listing.id, actor=actor, organisation_id=coop.id,
                 after=audit.snapshot(listing, SNAPSHOT))
    return listing


def _set_quantity(listing: Listing, quantity_kg: Decimal) -> None:
    """Give a lot a new quantity, moving its available kilos by the same difference.

    One guarded statement does it, so orders placed or returned meanwhile are never
    overwritten: quantity = available + kilos held by live orders holds before and after.
    The quantity cannot go below the kilos held; then nothing changes and ``Conflict``
    says how many they are.
    """
    change = quantity_kg - Listing.quantity_kg
    result = db.session.execute(
        update(Listing)
        .where(Listing.id == listing.id, grams(Listing.available_kg + change) >= 0)
        .values(quantity_kg=quantity_kg, available_kg=grams(Listing.available_kg + change))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        # Only for the message: the refusal itself was the statement's condition.
        held = db.session.execute(
            select(Listing.quantity_kg - Listing.available_kg).where(Listing.id == listing.id)).scalar_one()
        raise Conflict(_l("Ya hay pedidos por %(kg)s kg: la cantidad no puede ser menor.",
                          kg=formatting.number(held)), "quantity")
    db.session.refresh(listing, ["quantity_kg", "available_kg"])


def update_listing(actor: User, listing: Listing, data: ListingData, photos: Photos = None,
                   storage=None, today: date | None = None) -> None:
    """Change a listing. Quantity already ordered stays ordered: the new quantity must cover
    the kilos that live orders hold, and what is available moves by the difference. ``photos``
    are taken as in :func:`create_listing`, once the rest is valid."""
    today = today or bogota_date()
    coop = require_can_sell(actor)
    if listing.cooperative_id != coop.id:
        raise NotFound(_l("No encontramos esa oferta."))
    if listing.status == ListingStatus.WITHDRAWN:
        raise DomainError(_l("Esta oferta fue retirada; vuelva a abrirla para cambiarla."))
    product, grade, unit_kg, quantity_kg, price_kg, description, min_order_kg = _validated(
        coop, data, today, existing=listing)
    point = _collection_point(coop, data)
    if price_kg != listing.price_per_kg:
        _check_price(product, grade, point, price_kg, data.confirm_price, today,
                     price_per_unit=data.price_per_unit, unit=data.unit)
    processed = _photos_now(photos)
    # The row as stored now, locked until the commit, so the history's "before" is exact
    # and no other edit of this lot runs in between.
    db.session.refresh(listing, list(SNAPSHOT), with_for_update=True)
    before = audit.snapshot(listing, SNAPSHOT)
    old_price, old_quantity = listing.price_per_kg, listing.quantity_kg
    _set_quantity(listing, quantity_kg)
    listing.product, listing.product_id, listing.grade, listing.grade_id = product, product.id, grade, grade.id
    listing.unit, listing.unit_kg = data.unit, unit_kg
    listing.min_order_kg = min_order_kg
    listing.price_per_unit, listing.price_per_kg = data.price_per_unit.quantize(units.COP_STEP), price_kg
    listing.harvest_date, listing.available_from = data.harvest_date, data.available_from
    listing.available_until = data.available_until
    listing.certifications = sorted(set(data.certifications))
    listing.description = description
    listing.updated_at = utcnow()
    _place(listing, point)
    if processed:
        _store_photos(listing, processed, storage)
    db.session.flush()
    if old_price != listing.price_per_kg or old_quantity != listing.quantity_kg:
        db.session.add(ListingChange(
            listing_id=listing.id, actor_id=actor.id, price_per_kg_before=old_price,
            price_per_kg_after=listing.price_per_kg, quantity_kg_before=old_quantity,
            quantity_kg_after=listing.quantity_kg, reason="edited"))
    old, new = audit.changed(before, audit.snapshot(listing, SNAPSHOT))
    if new:
        audit.record("listing.updated", "listing", listing.id, actor=actor, organisation_id=coop.id,
                     before=old, after=new)


STATUS_ACTIONS = {
    "pause": (ListingStatus.ACTIVE, ListingStatus.PAUSED),
    "withdraw": (None, ListingStatus.WITHDRAWN),
    "reopen": (None, ListingStatus.ACTIVE),
}


def change_status(actor: User, listing: Listing, action: str, today: date | None = None) -> None:
    today = today or bogota_date()
    coop = cooperative_of(actor)
    if listing.cooperative_id != coop.id:
        raise NotFound(_l("No encontramos esa oferta."))
    if action not in STATUS_ACTIONS:
        raise DomainError(_l("Esa acción no existe."))
    required, target = STATUS_ACTIONS[action]
    if action == "reopen":
        require_can_sell(actor)
        if listing.status == ListingStatus.ACTIVE:
            raise DomainError(_l("La oferta ya está abierta."))
        if listing.available_until < today:
            raise DomainError(_l("La fecha «disponible hasta» ya pasó: edítela para volver a abrir la oferta."))
    elif required is not None and listing.status != required:
        raise DomainError(_l("Solo se puede pausar una oferta abierta."))
    elif listing.status == target:
        return
    before = {"status": listing.status.value}
    listing.status = target
    listing.updated_at = utcnow()
    db.session.flush()
    audit.record(f"listing.{action}", "listing", listing.id, actor=actor, organisation_id=coop.id,
                 before=before, after={"status": target.value})


def is_available(listing: Listing, today: date | None = None) -> bool:
    today = today or bogota_date()
    return listing.status == ListingStatus.ACTIVE and listing.available_until >= today and listing.available_kg > 0


def my_listings(coop: Cooperative) -> list[Listing]:
    return list(db.session.scalars(
        select(Listing).where(Listing.cooperative_id == coop.id)
        .order_by((Listing.status == ListingStatus.WITHDRAWN).asc(), Listing.updated_at.desc())
    ))


def history(listing: Listing) -> list[ListingChange]:
    return list(db.session.scalars(
        select(ListingChange).where(ListingChange.listing_id == listing.id).order_by(ListingChange.id.desc())
    ))


# ---------------------------------------------------------------------- search


@dataclass
class SearchFilters:
    product_id: int | None = None
    grade_id: int | None = None
    department_code: str | None = None
    municipality_code: str | None = None
    subregion: str | None = None
    certification: str | None = None
    min_kg: Decimal | None = None
    available_on: date | None = None
    min_price_kg: Decimal | None = None
    max_price_kg: Decimal | None = None
    sort: str = "freshness"
    origin: tuple[Decimal, Decimal] | None = None  # a delivery site, for distance sorting


SORTS = ("price", "quantity", "freshness", "distance")


def search_statement(filters: SearchFilters, today: date | None = None) -> Select:
    """Listings a buyer can order now, filtered and sorted. Filters use the columns copied
    onto the listing, so the main query needs no join."""
    today = today or bogota_date()
    day = filters.available_on or today
    stmt = select(Listing).where(
        Listing.status == ListingStatus.ACTIVE,
        Listing.available_kg > 0,
        Listing.available_until >= max(day, today),
        Listing.available_from <= max(day, today),
    )
    if filters.product_id:
        stmt = stmt.where(Listing.product_id == filters.product_id)
    if filters.grade_id:
        stmt = stmt.where(Listing.grade_id == filters.grade_id)
    if filters.department_code:
        stmt = stmt.where(Listing.department_code == filters.department_code)
    if filters.municipality_code:
        stmt = stmt.where(Listing.municipality_code == filters.municipality_code)
    if filters.subregion:
        stmt = stmt.where(Listing.pdet_subregion == filters.subregion)
    if filters.min_kg:
        stmt = stmt.where(Listing.available_kg >= filters.min_kg)
    if filters.min_price_kg:
        stmt = stmt.where(Listing.price_per_kg >= filters.min_price_kg)
    if filters.max_price_kg:
        stmt = stmt.where(Listing.price_per_kg <= filters.max_price_kg)
    if filters.certification:
        # JSON arrays are compared as text so the filter works on SQLite and PostgreSQL alike.
        stmt = stmt.where(func.cast(Listing.certifications, db.String).contains(f'"{filters.certification}"'))
    if filters.sort == "price":
        stmt = stmt.order_by(Listing.price_per_kg.asc(), Listing.id.desc())
    elif filters.sort == "quantity":
        stmt = stmt.order_by(Listing.available_kg.desc(), Listing.id.desc())
    elif filters.sort == "distance" and filters.origin:
        lat, lon = filters.origin
        # Squared equirectangular distance: the same order as great-circle distance at
        # Colombia's latitudes, computable in SQL without trigonometry.
        cos_lat = Decimal(str(round(math.cos(math.radians(float(lat))), 6)))
        dx = (Listing.longitude - lon) * cos_lat
        dy = Listing.latitude - lat
        stmt = stmt.order_by((dx * dx + dy * dy).asc(), Listing.id.desc())
    else:
        stmt = stmt.order_by(Listing.created_at.desc(), Listing.id.desc())
    return stmt


# Filled in by the orders package: each listing's landed price per kg at a delivery site, as
# the cart quotes it (rule 12: one function for the figure a buyer sees in both places).
LANDED_PRICES_HOOK = None


def landed_prices(actor: User, listings: list[Listing], site_id: int | None,
                  wanted_kg: Decimal | None = None) -> dict[int, tuple[Decimal, Decimal]]:
    """``{listing id: (landed COP per kg, kg quoted)}`` at ``site_id``; empty without a site."""
    if LANDED_PRICES_HOOK is None or not site_id or not listings:
        return {}
    return LANDED_PRICES_HOOK(actor, listings, site_id, wanted_kg)


def default_site(sites) -> object | None:
    """A buyer's default delivery site: the first active one they added."""
    active = sorted((s for s in sites if s.active), key=lambda s: s.id)
    return active[0] if active else None


def cooperatives_of(listings: list[Listing]) -> dict[int, Cooperative]:
    """The cooperatives selling ``listings``, in one query."""
    ids = {item.cooperative_id for item in listings}
    if not ids:
        return {}
    return {c.id: c for c in db.session.scalars(select(Cooperative).where(Cooperative.id.in_(ids)))}


def distance_km(listing: Listing, origin: tuple[Decimal, Decimal] | None) -> float | None:
    if origin is None:
        return None
    return geography.great_circle_km(listing.latitude, listing.longitude, origin[0], origin[1])



# ------------------------------------------------------------ staff curation

PRODUCT_FIELDS = ("name", "name_en", "category", "usual_units", "active")
GRADE_FIELDS = ("name", "name_en", "rank", "active")


def _require_admin(actor: User) -> None:
    if not actor.is_admin:
        raise Forbidden(_l("Solo un administrador de la plataforma cura el catálogo."))


def _slug(text: str) -> str:
    from marketplace.core.text import search_key

    return search_key(text).replace(" ", "-")[:60]


def save_product(actor: User, product: Product | None, name: str, name_en: str, category: str,
                 usual_units: list[str]) -> Product:
    """Add a product, or rename and re-categorise one (platform admins only)."""
    from marketplace.catalog.models import Category

    _require_admin(actor)
    name, name_en = clean_text(name), clean_text(name_en)
    if not name or len(name) > 80:
        raise DomainError(_l("Escriba el nombre (máximo 80 caracteres)."), "name")
    if not name_en or len(name_en) > 80:
        raise DomainError(_l("Escriba el nombre en inglés (máximo 80 caracteres)."), "name_en")
    if category not in {c.value for c in Category}:
        raise DomainError(_l("Elija una categoría de la lista."), "category")
    if not usual_units or any(u not in units.UNITS for u in usual_units):
        raise DomainError(_l("Elija al menos una unidad de la lista."), "usual_units")
    clash = db.session.scalar(select(Product).where(func.lower(Product.name) == name.lower()))
    if clash is not None and clash is not product:
        raise DomainError(_l("Ya hay un producto con ese nombre."), "name")
    before = audit.snapshot(product, PRODUCT_FIELDS) if product else None
    if product is None:
        slug = _slug(name)
        if db.session.scalar(select(Product.id).where(Product.slug == slug)):
            slug = f"{slug[:50]}-{db.session.scalar(select(func.count()).select_from(Product)) + 1}"
        product = Product(slug=slug, active=True)
        db.session.add(product)
    product.name, product.name_en, product.category = name, name_en, Category(category)
    product.usual_units = [u for u in units.UNITS if u in usual_units]
    db.session.flush()
    audit.record("product.created" if before is None else "product.updated", "product", product.id, actor=actor,
                 before=before, after=audit.snapshot(product, PRODUCT_FIELDS))
    return product


def set_product_active(actor: User, product: Product, active: bool) -> None:
    """Retire (or bring back) a product: retired products cannot be listed; existing
    listings stay as they are."""
    _require_admin(actor)
    if product.active == active:
        return
    product.active = active
    db.session.flush()
    audit.record("product.retired" if not active else "product.restored", "product", product.id, actor=actor,
                 before={"active": not active}, after={"active": active})


def save_grade(actor: User, product: Product, grade: Grade | None, name: str, name_en: str, rank: int) -> Grade:
    _require_admin(actor)
    name, name_en = clean_text(name), clean_text(name_en)
    if not name or len(name) > 80:
        raise DomainError(_l("Escriba el nombre (máximo 80 caracteres)."), "grade_name")
    if not name_en or len(name_en) > 80:
        raise DomainError(_l("Escriba el nombre en inglés (máximo 80 caracteres)."), "grade_name_en")
    if rank is None or not 0 <= rank <= 1000:
        raise DomainError(_l("El orden debe estar entre 0 y 1.000 (mayor es mejor)."), "rank")
    before = audit.snapshot(grade, GRADE_FIELDS) if grade else None
    if grade is None:
        code = _slug(name)[:40] or "calidad"
        if any(g.code == code for g in product.grades):
            code = f"{code[:30]}-{len(product.grades) + 1}"
        grade = Grade(product=product, code=code, active=True)
        db.session.add(grade)
    grade.name, grade.name_en, grade.rank = name, name_en, rank
    db.session.flush()
    audit.record("grade.created" if before is None else "grade.updated", "grade", grade.id, actor=actor,
                 before=before, after=audit.snapshot(grade, GRADE_FIELDS))
    return grade


def set_grade_active(actor: User, grade: Grade, active: bool) -> None:
    _require_admin(actor)
    if grade.active == active:
        return
    grade.active = active
    db.session.flush()
    audit.record("grade.retired" if not active else "grade.restored", "grade", grade.id, actor=actor,
                 before={"active": not active}, after={"active": active})


def all_products() -> list[Product]:
    """Every product, active first, each group in the reader's alphabetical order."""
    key = collation_key(_reader_locale(None))
    return sorted(db.session.scalars(select(Product)), key=lambda p: (not p.active, key(display.product_name(p))))
