"""The orders package's services, gathered in one place for views, the API, the CLI and other
packages: ``from marketplace.orders import services``.

Each room has its own module: ``common`` (roles, fees, who sees what), ``placing`` (quote and
place), ``lifecycle`` (a part's transitions), ``ledger`` (payouts and refunds owed), ``billing``
(payments recorded), ``sweep`` (expiry and unpaid orders), ``queries`` (lists) and ``cart``.
"""

# ruff: noqa: F401

from marketplace.orders.billing import (  # noqa: F401
    card_failed,
    card_processing,
    card_succeeded,
    charge_back,
    mark_invoice_paid,
    money_owed_back,
    recent_charge_backs,
    retry_refund,
    settle_payback,
)
from marketplace.orders.cart import (  # noqa: F401
    add_to_cart,
    cart,
    remove_from_cart,
)
from marketplace.orders.common import (  # noqa: F401
    BUYER_ROLES,
    CENTS,
    COOP_ROLES,
    HUNDRED,
    MAX_LINES,
    MAX_WINDOW_DAYS,
    PESO,
    _aware,
    _config,
    _kg_text,
    _pct,
    buyer_of,
    card_enabled,
    coop_fee_percent,
    fee_percent,
    lock_order,
    require_can_buy,
    visible_order,
    visible_part,
)
from marketplace.orders.ledger import (  # noqa: F401
    ZERO_LEDGER,
    PartLedger,
    PaymentDue,
    amount_due,
    bill_parts,
    billable_kg,
    has_open_dispute,
    ledger,
    line_amount,
    payment_due,
    plan_refunds,
    planned_back,
    refresh_payout,
    refunds_owed,
)
from marketplace.orders.lifecycle import (  # noqa: F401
    ILLEGAL,
    NOTIFIED_ACTIONS,
    STATUS_LABELS,
    TRANSITIONS,
    Receipt,
    Transition,
    _carries,
    _decide,
    _move,
    _return_stock,
    _role_of,
    accept,
    agree_to_shortfall,
    cancel,
    close_order_if_empty,
    decline,
    mark_ready,
    record_delivery,
    resolve_dispute,
    settle,
    ship,
    transition,
)
from marketplace.orders.placing import (  # noqa: F401
    ORDER_UNITS_FIXED,
    LineRequest,
    OrderRequest,
    Pickup,
    Quote,
    QuotedLine,
    QuotedPart,
    _check_listing,
    _line_kg,
    _logistics,
    _place_new,
    _take_stock,
    check_delivery_site,
    check_delivery_window,
    find_by_idempotency_key,
    landed_prices,
    order_units,
    place_order,
    quote,
)
from marketplace.orders.queries import (  # noqa: F401
    SALE_FILTERS,
    SALES_PER_PAGE,
    SalesPage,
    UnknownSaleFilter,
    buyer_orders,
    cooperative_parts,
    cooperative_sales,
    group_by_status,
    open_disputes,
    open_invoices,
    orders_listing,
    overdue_invoices,
    paid_prices,
    payouts_due,
    sale_counts,
)
from marketplace.orders.sweep import (  # noqa: F401
    sweep,
)
