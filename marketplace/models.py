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
)
from marketplace.core.models import AuditEvent, Municipality  # noqa: F401
