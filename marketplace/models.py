"""Imports every model module so SQLAlchemy and Alembic see the whole schema."""

from marketplace.accounts.models import (  # noqa: F401
    ApiToken,
    Buyer,
    Cooperative,
    DeliverySite,
    LoginSession,
    Membership,
    Organisation,
    User,
    VerificationCode,
)
from marketplace.catalog.models import (  # noqa: F401
    CollectionPoint,
    Grade,
    Listing,
    ListingChange,
    ListingPhoto,
    Product,
)
from marketplace.core.idempotency import IdempotencyKey  # noqa: F401
from marketplace.core.models import AuditEvent, Municipality  # noqa: F401
from marketplace.insights.models import (  # noqa: F401
    IndicatorTarget,
    PriceMonth,
    SaleFact,
    SalesMonth,
    TransactionReview,
)
from marketplace.logistics.models import (  # noqa: F401
    AccessLeg,
    RouteDistance,
    RoutePlan,
    Shipment,
    ShipmentLeg,
    ShipmentPart,
    TransportMode,
)
from marketplace.matching.models import Demand, Offer, Proposal  # noqa: F401
from marketplace.messaging.models import Conversation, Inbound, Message, Notice  # noqa: F401
from marketplace.orders.models import (  # noqa: F401
    CartItem,
    Dispute,
    Order,
    OrderLine,
    OrderPart,
    PartEvent,
    PayoutAdjustment,
    Refund,
    SaleChange,
    StripeEvent,
)
from marketplace.traceability.models import Plot  # noqa: F401
