"""Who may quote a route, and so learn a place's name and the road distance to it.

A buyer quotes only to its own delivery sites, from collection points behind listings it can
see (active, not expired, with kilos left: what the search shows). A cooperative quotes only
from its own collection points, to the sites of the orders and demands it serves. Staff quote
anything. Everything else is "not found", the same answer as an id that does not exist, so
nobody learns that a place exists.

A municipality (DIVIPOLA) is public: whoever may quote from a point may quote from it to any
municipality's seat. That includes a verified buyer, from a point behind a listing it can see:
it learns nothing it could not compute from the listing's municipality and the public list of
municipalities, and it can price a plant it has not registered yet.

What a quote names: the point (its name is on the listing page), the destination (the caller's
own or served site, or a public municipality) and, for the first-mile legs, the descriptions
the cooperative wrote only when the caller is that cooperative or staff; anyone else reads the
kind of way ("Camino de herradura"), since those descriptions name veredas and farms shown
nowhere else.

Orders and demands live above logistics: they register their answer in ``SERVED_SITE_HOOKS``
at start-up (a function of ``(cooperative_id, site_id) -> bool``).
"""

from __future__ import annotations

from collections.abc import Callable

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from marketplace.accounts.models import Buyer, Cooperative, DeliverySite, OrgStatus, Role, User
from marketplace.catalog.models import CollectionPoint, Listing, ListingStatus
from marketplace.core import geography
from marketplace.core.errors import Forbidden, NotFound
from marketplace.core.models import Municipality, bogota_date
from marketplace.extensions import db

BUYER_ROLES = (Role.BUYER_ADMIN, Role.BUYER_PURCHASER)
COOP_ROLES = (Role.COOP_MANAGER, Role.COOP_MEMBER)

# Registered by orders and matching: does the cooperative serve an order or demand to this site?
SERVED_SITE_HOOKS: list[Callable[[int, int], bool]] = []


def register_served_sites(hook: Callable[[int, int], bool]) -> None:
    if hook not in SERVED_SITE_HOOKS:
        SERVED_SITE_HOOKS.append(hook)


def _buyer(user: User) -> Buyer | None:
    org = user.organisation
    return org if isinstance(org, Buyer) and user.role in BUYER_ROLES else None


def _coop(user: User) -> Cooperative | None:
    org = user.organisation
    return org if isinstance(org, Cooperative) and user.role in COOP_ROLES else None


def can_quote_from(user: User, point: CollectionPoint | None) -> bool:
    """A collection point the user may quote from: staff any, a cooperative its own, a buyer
    one behind a listing it can see."""
    if point is None:
        return False
    if user.is_staff:
        return True
    coop = _coop(user)
    if coop is not None:
        return point.cooperative_id == coop.id
    if _buyer(user) is not None:
        # The listings a buyer can see are those the search shows (catalog.is_available): a
        # withdrawn, paused, expired or sold-out listing no longer opens its point.
        return db.session.scalar(select(Listing.id).where(
            Listing.collection_point_id == point.id, Listing.status == ListingStatus.ACTIVE,
            Listing.available_until >= bogota_date(), Listing.available_kg > 0).limit(1)) is not None
    return False


def can_quote_to(user: User, site: DeliverySite | None) -> bool:
    """A delivery site the user may quote to: staff any, a buyer its own, a cooperative one it
    serves through an order or a demand."""
    if site is None:
        return False
    if user.is_staff:
        return True
    buyer = _buyer(user)
    if buyer is not None:
        return site.buyer_id == buyer.id
    coop = _coop(user)
    if coop is not None:
        return any(hook(coop.id, site.id) for hook in SERVED_SITE_HOOKS)
    return False


def require_may_quote(user: User) -> None:
    """Pending buyers browse but do not quote: a quote prices a buyer's own plant."""
    buyer = _buyer(user)
    if buyer is not None and buyer.status != OrgStatus.VERIFIED:
        raise Forbidden(_l("Su empresa debe estar verificada para cotizar y hacer pedidos. "
                           "Complete la verificación en el perfil de su empresa."))


def can_read_first_mile(user: User, point: CollectionPoint) -> bool:
    """Whether the descriptions of a point's first-mile legs may be shown: to the cooperative
    that wrote them and to staff."""
    if user.is_staff:
        return True
    coop = _coop(user)
    return coop is not None and point.cooperative_id == coop.id


NOT_FOUND = _l("No encontramos ese centro de acopio o sitio de entrega.")


def quotable(user: User, point_id: int, site_id: int) -> tuple[CollectionPoint, DeliverySite]:
    """The point and site of a quote the user may ask for; otherwise not found (whether the ids
    exist or not)."""
    require_may_quote(user)
    point = db.session.get(CollectionPoint, point_id)
    site = db.session.get(DeliverySite, site_id)
    if not (can_quote_from(user, point) and can_quote_to(user, site)):
        raise NotFound(NOT_FOUND)
    return point, site


def quotable_to_municipality(user: User, point_id: int, code: str) -> tuple[CollectionPoint, Municipality]:
    """The point and municipality of a quote to a municipality's seat: any point the user may
    quote from (otherwise not found, as above); the municipality must exist (it is public, so
    saying it does not reveals nothing)."""
    require_may_quote(user)
    point = db.session.get(CollectionPoint, point_id)
    if not can_quote_from(user, point):
        raise NotFound(NOT_FOUND)
    municipality = geography.get_municipality(code)
    if municipality is None:
        raise NotFound(_l("No encontramos ese municipio: escriba su código DIVIPOLA de 5 cifras."))
    return point, municipality
