"""JSON API: the catalogue (public), and listings: cooperatives manage their own, buyers
and staff search what is available."""

from __future__ import annotations

from flask import g, url_for
from flask_smorest import Blueprint, abort
from sqlalchemy import select

from marketplace.accounts.api import secured
from marketplace.accounts.models import Buyer, DeliverySite, Role
from marketplace.catalog import services
from marketplace.catalog.models import Listing, ListingStatus
from marketplace.catalog.schemas import (
    ListingChangeSchema,
    ListingInputSchema,
    ListingPageSchema,
    ListingQuerySchema,
    ListingSchema,
    ListingStatusSchema,
    ProductSchema,
    UnitSchema,
)
from marketplace.catalog.units import UNITS
from marketplace.core import idempotency
from marketplace.core.models import bogota_date
from marketplace.core.schemas import IdempotencyKeyHeaderSchema
from marketplace.extensions import csrf, db

blp = Blueprint("catalog-api", __name__, description="Catálogo de productos lícitos y ofertas de cosecha.")
csrf.exempt(blp)


def _with_links(listing):
    listing.photo_links = [
        {"url": url_for("catalog.media", key=p.key), "thumbnail_url": url_for("catalog.media", key=p.thumb_key),
         "width": p.width, "height": p.height}
        for p in listing.photos
    ]
    return listing


class _WithoutPrices:
    """A listing as a carrier sees it, through a shipment it drives: what it carries and
    where, never what the produce is worth."""

    price_per_unit = price_per_kg = None

    def __init__(self, listing: Listing):
        self._listing = listing

    def __getattr__(self, name: str):
        return getattr(self._listing, name)


def _page(stmt, page: int, page_size: int) -> dict:
    result = db.paginate(stmt, page=page, per_page=page_size, max_per_page=100, error_out=False, count=True)
    return {"items": [_with_links(item) for item in result.items], "page": page, "page_size": page_size,
            "total": result.total, "pages": result.pages}


@blp.route("/products")
@blp.response(200, ProductSchema(many=True))
def list_products():
    """Productos del catálogo con sus calidades y unidades usuales (público)"""
    return services.active_products()


@blp.route("/units")
@blp.response(200, UnitSchema(many=True))
def list_units():
    """Unidades de comercio y su peso en kg (público)"""
    return list(UNITS.values())


def _data(values: dict, base=None) -> services.ListingData:
    point = values.get("new_collection_point") or {}
    pick = (lambda name, default=None: values.get(name, getattr(base, name, default))) if base else values.get
    return services.ListingData(
        product_id=pick("product_id"), grade_id=pick("grade_id"),
        quantity=values.get("quantity", (base.quantity_kg / base.unit_kg) if base else None),
        unit=pick("unit"), unit_kg=values.get("unit_kg", base.unit_kg if base else None),
        price_per_unit=pick("price_per_unit"), harvest_date=pick("harvest_date"),
        available_from=pick("available_from"), available_until=pick("available_until"),
        collection_point_id=None if point else pick("collection_point_id"),
        new_point_name=point.get("name"), latitude=point.get("latitude"), longitude=point.get("longitude"),
        certifications=pick("certifications") or [], description=pick("description"),
        confirm_price=values.get("confirm_price", False),
        min_order=values.get("min_order", (base.min_order_kg / base.unit_kg) if base and base.min_order_kg else None),
    )


@blp.route("/listings")
@secured(blp)
@blp.arguments(ListingQuerySchema, location="query")
@blp.response(200, ListingPageSchema)
@blp.alt_response(403, response="DEFAULT_ERROR",
                  description="Sin organización verificada, o transportador (ve las ofertas por sus envíos).")
def search_listings(args):
    """Ofertas: las propias para una cooperativa; las disponibles para compradores y equipo

    Filtros iguales a los de la página de búsqueda. Una cooperativa recibe sus propias
    ofertas en cualquier estado (los filtros no aplican).
    """
    user = g.api_user
    services.refuse_carrier_search(user)
    page, page_size = args.pop("page"), args.pop("page_size")
    if user.role in services.COOP_ROLES:
        coop = services.cooperative_of(user)
        stmt = select(Listing).where(Listing.cooperative_id == coop.id).order_by(Listing.id.desc())
        return _page(stmt, page, page_size)
    if user.organisation is None:
        abort(403, message="Sin organización.")
    origin = None
    site_id = args.pop("delivery_site_id")
    if site_id is not None:
        site = db.session.get(DeliverySite, site_id)
        if not isinstance(user.organisation, Buyer) or site is None or site.buyer_id != user.organisation.id:
            abort(404, message="No encontramos ese sitio de entrega.")
        origin = (site.latitude, site.longitude)
    if args["min_price_kg"] is not None and args["max_price_kg"] is not None and args["min_price_kg"] > args["max_price_kg"]:
        abort(422, message="El precio mínimo es mayor que el máximo.", errors={"query": {"max_price_kg": ["< min"]}})
    filters = services.SearchFilters(
        product_id=args["product_id"], grade_id=args["grade_id"], department_code=args["department"],
        municipality_code=args["municipality"], subregion=args["subregion"], certification=args["certification"],
        min_kg=args["min_kg"], available_on=args["available_on"], min_price_kg=args["min_price_kg"],
        max_price_kg=args["max_price_kg"], sort=args["sort"] if (args["sort"] != "distance" or origin) else "freshness",
        origin=origin,
    )
    return _page(services.search_statement(filters), page, page_size)


@blp.route("/listings", methods=["POST"])
@secured(blp)
@blp.arguments(IdempotencyKeyHeaderSchema, location="headers")
@blp.arguments(ListingInputSchema)
@blp.response(201, ListingSchema)
@blp.alt_response(200, schema=ListingSchema, description="La misma Idempotency-Key otra vez: la oferta ya publicada.")
@blp.alt_response(403, response="DEFAULT_ERROR", description="Solo cooperativas verificadas publican.")
@blp.alt_response(409, response="DEFAULT_ERROR", description="Precio lejos de la referencia: confirme con confirm_price.")
@blp.alt_response(422, response="DEFAULT_ERROR", description="Una regla del negocio rechazó los datos.")
def create_listing(headers, values):
    """Publicar una oferta (cooperativas verificadas)"""
    claimed = idempotency.claim(g.api_user.id, headers.get("idempotency_key"), "listing")
    if isinstance(claimed, idempotency.Earlier):
        db.session.rollback()
        return _repeated(claimed), 200
    listing = services.create_listing(g.api_user, _data(values), today=bogota_date())
    db.session.flush()
    idempotency.done(claimed, url_for("catalog.my_listings", _anchor=f"oferta-{listing.id}"),
                     action=f"listing:{listing.id}")
    db.session.commit()
    return _with_links(listing)


def _repeated(earlier: idempotency.Earlier):
    """The listing a request with the same key made (still the caller's own)."""
    kind, _sep, listing_id = earlier.action.partition(":")
    if kind != "listing" or not listing_id.isdigit():
        abort(409, message="Esa Idempotency-Key ya se usó para otra cosa.")
    return _with_links(services.own_listing(g.api_user, int(listing_id)))


@blp.route("/listings/<int:listing_id>")
@secured(blp)
@blp.response(200, ListingSchema)
@blp.alt_response(404, response="DEFAULT_ERROR", description="No existe o no es visible para usted.")
def get_listing(listing_id):
    """Una oferta (un transportador, solo las de sus envíos y sin precio)"""
    listing = _with_links(services.visible_listing(g.api_user, listing_id))
    return _WithoutPrices(listing) if g.api_user.role == Role.CARRIER_MANAGER else listing


@blp.route("/listings/<int:listing_id>", methods=["PATCH"])
@secured(blp)
@blp.arguments(ListingChangeSchema(partial=True))
@blp.response(200, ListingSchema)
@blp.alt_response(404, response="DEFAULT_ERROR", description="No existe o no es suya.")
@blp.alt_response(409, response="DEFAULT_ERROR", description=(
    "Precio lejos de la referencia (confirme con confirm_price), o una cantidad menor que los kilos que ya "
    "tienen pedidos vigentes."))
@blp.alt_response(422, response="DEFAULT_ERROR", description="Una regla del negocio rechazó los datos.")
def update_listing(values, listing_id):
    """Cambiar una oferta propia (solo los campos enviados)

    Al cambiar la cantidad, lo disponible cambia en la misma diferencia; la cantidad no puede
    quedar por debajo de los kilos que tienen pedidos vigentes.
    """
    listing = services.own_listing(g.api_user, listing_id)
    services.update_listing(g.api_user, listing, _data(values, base=listing))
    db.session.commit()
    return _with_links(listing)


STATUS_TO_ACTION = {ListingStatus.PAUSED.value: "pause", ListingStatus.WITHDRAWN.value: "withdraw",
                    ListingStatus.ACTIVE.value: "reopen"}


@blp.route("/listings/<int:listing_id>/status", methods=["PUT"])
@secured(blp)
@blp.arguments(ListingStatusSchema)
@blp.response(200, ListingSchema)
@blp.alt_response(404, response="DEFAULT_ERROR", description="No existe o no es suya.")
@blp.alt_response(422, response="DEFAULT_ERROR", description="Cambio de estado no permitido.")
def set_listing_status(values, listing_id):
    """Pausar, retirar o volver a abrir una oferta propia"""
    listing = services.own_listing(g.api_user, listing_id)
    services.change_status(g.api_user, listing, STATUS_TO_ACTION[values["status"]])
    db.session.commit()
    return _with_links(listing)

