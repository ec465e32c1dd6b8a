"""Orders split per cooperative, their lines and transitions, refunds, Stripe events,
disputes, the buyer's cart, and a listing's minimum order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 07:23:57.949927

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

GUARD_PG = """
CREATE OR REPLACE FUNCTION order_part_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'order_part_event is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER order_part_event_no_update BEFORE UPDATE OR DELETE ON order_part_event
    FOR EACH ROW EXECUTE FUNCTION order_part_event_append_only();
"""
GUARD_SQLITE = [
    "CREATE TRIGGER order_part_event_no_update BEFORE UPDATE ON order_part_event "
    "BEGIN SELECT RAISE(ABORT, 'order_part_event is append-only'); END",
    "CREATE TRIGGER order_part_event_no_delete BEFORE DELETE ON order_part_event "
    "BEGIN SELECT RAISE(ABORT, 'order_part_event is append-only'); END",
]


def upgrade():
    op.create_table('purchase_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('buyer_id', sa.Integer(), nullable=False),
    sa.Column('delivery_site_id', sa.Integer(), nullable=False),
    sa.Column('placed_by_id', sa.Integer(), nullable=True),
    sa.Column('placed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_start', sa.Date(), nullable=False),
    sa.Column('window_end', sa.Date(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('payment_method', sa.Enum('card', 'invoice', name='payment_method', native_enum=False, length=20), nullable=False),
    sa.Column('payment_status', sa.Enum('pending', 'processing', 'paid', 'failed', 'cancelled', name='payment_status', native_enum=False, length=20), nullable=False),
    sa.Column('fee_percent', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('goods_total', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('logistics_total', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('fee_total', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('total', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('amount_paid', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('refunded_total', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('pay_by', sa.DateTime(timezone=True), nullable=True),
    sa.Column('idempotency_key', sa.String(length=100), nullable=True),
    sa.Column('request_hash', sa.String(length=64), nullable=True),
    sa.Column('stripe_payment_intent_id', sa.String(length=100), nullable=True),
    sa.Column('stripe_client_secret', sa.String(length=200), nullable=True),
    sa.Column('invoice_due_date', sa.Date(), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('bank_reference', sa.String(length=80), nullable=True),
    sa.Column('marked_paid_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('total >= 0', name=op.f('ck_purchase_order_total_nonnegative')),
    sa.CheckConstraint('window_end >= window_start', name=op.f('ck_purchase_order_window_ordered')),
    sa.ForeignKeyConstraint(['buyer_id'], ['buyer.id'], name=op.f('fk_purchase_order_buyer_id_buyer')),
    sa.ForeignKeyConstraint(['delivery_site_id'], ['delivery_site.id'], name=op.f('fk_purchase_order_delivery_site_id_delivery_site')),
    sa.ForeignKeyConstraint(['marked_paid_by_id'], ['user_account.id'], name=op.f('fk_purchase_order_marked_paid_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['placed_by_id'], ['user_account.id'], name=op.f('fk_purchase_order_placed_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purchase_order')),
    sa.UniqueConstraint('buyer_id', 'idempotency_key', name=op.f('uq_purchase_order_buyer_id_idempotency_key')),
    sa.UniqueConstraint('stripe_payment_intent_id', name=op.f('uq_purchase_order_stripe_payment_intent_id'))
    )
    with op.batch_alter_table('purchase_order', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_purchase_order_buyer_id'), ['buyer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_purchase_order_invoice_due_date'), ['invoice_due_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_purchase_order_payment_status'), ['payment_status'], unique=False)
        batch_op.create_index(batch_op.f('ix_purchase_order_placed_at'), ['placed_at'], unique=False)

    op.create_table('cart_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_cart_item_quantity_positive')),
    sa.ForeignKeyConstraint(['listing_id'], ['listing.id'], name=op.f('fk_cart_item_listing_id_listing'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_cart_item_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cart_item')),
    sa.UniqueConstraint('user_id', 'listing_id', name=op.f('uq_cart_item_user_id_listing_id'))
    )
    with op.batch_alter_table('cart_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cart_item_user_id'), ['user_id'], unique=False)

    op.create_table('order_part',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('cooperative_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('placed', 'accepted', 'declined', 'expired', 'ready', 'in_transit', 'delivered', 'settled', 'cancelled', name='part_status', native_enum=False, length=20), nullable=False),
    sa.Column('respond_by', sa.DateTime(timezone=True), nullable=False),
    sa.Column('goods_amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('logistics_estimate', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('logistics_mode', sa.String(length=20), nullable=True),
    sa.Column('road_km', sa.Numeric(precision=10, scale=3), nullable=True),
    sa.Column('fee_amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('coop_fee_percent', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('logistics_borne', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('payout_status', sa.Enum('pending', 'due', 'paid', 'none', name='payout_status', native_enum=False, length=20), nullable=False),
    sa.Column('payout_due_date', sa.Date(), nullable=True),
    sa.Column('payout_reference', sa.String(length=80), nullable=True),
    sa.Column('decline_reason', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('logistics_borne >= 0', name=op.f('ck_order_part_logistics_borne_nonnegative')),
    sa.ForeignKeyConstraint(['cooperative_id'], ['cooperative.id'], name=op.f('fk_order_part_cooperative_id_cooperative')),
    sa.ForeignKeyConstraint(['order_id'], ['purchase_order.id'], name=op.f('fk_order_part_order_id_purchase_order'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_part')),
    sa.UniqueConstraint('order_id', 'cooperative_id', name=op.f('uq_order_part_order_id_cooperative_id'))
    )
    with op.batch_alter_table('order_part', schema=None) as batch_op:
        batch_op.create_index('ix_order_part_coop_status', ['cooperative_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_part_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_part_respond_by'), ['respond_by'], unique=False)

    op.create_table('stripe_event',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=80), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=40), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['purchase_order.id'], name=op.f('fk_stripe_event_order_id_purchase_order'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_event'))
    )
    op.create_table('order_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('grade_id', sa.Integer(), nullable=False),
    sa.Column('municipality_code', sa.String(length=5), nullable=False),
    sa.Column('collection_point_id', sa.Integer(), nullable=False),
    sa.Column('quantity_kg', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('unit_kg', sa.Numeric(precision=10, scale=3), nullable=False),
    sa.Column('price_per_kg', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('received_kg', sa.Numeric(precision=14, scale=3), nullable=True),
    sa.Column('quality', sa.Enum('pending', 'accepted', 'rejected', name='line_quality', native_enum=False, length=20), nullable=False),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.Column('rejection_photo_key', sa.String(length=80), nullable=True),
    sa.CheckConstraint('quantity_kg > 0', name=op.f('ck_order_line_quantity_positive')),
    sa.CheckConstraint('received_kg IS NULL OR (received_kg >= 0 AND received_kg <= quantity_kg)', name=op.f('ck_order_line_received_within_quantity')),
    sa.ForeignKeyConstraint(['collection_point_id'], ['collection_point.id'], name=op.f('fk_order_line_collection_point_id_collection_point')),
    sa.ForeignKeyConstraint(['grade_id'], ['grade.id'], name=op.f('fk_order_line_grade_id_grade')),
    sa.ForeignKeyConstraint(['listing_id'], ['listing.id'], name=op.f('fk_order_line_listing_id_listing')),
    sa.ForeignKeyConstraint(['municipality_code'], ['municipality.code'], name=op.f('fk_order_line_municipality_code_municipality')),
    sa.ForeignKeyConstraint(['part_id'], ['order_part.id'], name=op.f('fk_order_line_part_id_order_part'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_order_line_product_id_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_line'))
    )
    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_line_listing_id'), ['listing_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_line_municipality_code'), ['municipality_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_line_part_id'), ['part_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_line_product_id'), ['product_id'], unique=False)

    op.create_table('order_part_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=True),
    sa.Column('to_status', sa.String(length=20), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_order_part_event_actor_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['part_id'], ['order_part.id'], name=op.f('fk_order_part_event_part_id_order_part'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_part_event'))
    )
    with op.batch_alter_table('order_part_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_part_event_part_id'), ['part_id'], unique=False)

    op.create_table('refund',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=True),
    sa.Column('amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('idempotency_key', sa.String(length=100), nullable=False),
    sa.Column('stripe_refund_id', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_refund_amount_positive')),
    sa.ForeignKeyConstraint(['order_id'], ['purchase_order.id'], name=op.f('fk_refund_order_id_purchase_order'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['part_id'], ['order_part.id'], name=op.f('fk_refund_part_id_order_part'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refund')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_refund_idempotency_key')),
    sa.UniqueConstraint('stripe_refund_id', name=op.f('uq_refund_stripe_refund_id'))
    )
    with op.batch_alter_table('refund', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refund_order_id'), ['order_id'], unique=False)

    op.create_table('dispute',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('open', 'refunded', 'released', name='dispute_status', native_enum=False, length=20), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['line_id'], ['order_line.id'], name=op.f('fk_dispute_line_id_order_line'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['opened_by_id'], ['user_account.id'], name=op.f('fk_dispute_opened_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['user_account.id'], name=op.f('fk_dispute_resolved_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispute')),
    sa.UniqueConstraint('line_id', name=op.f('uq_dispute_line_id'))
    )
    with op.batch_alter_table('dispute', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispute_status'), ['status'], unique=False)

    # Plain ALTER TABLE on both databases: a batch copy of ``listing`` on SQLite would have
    # to drop a table other tables point at.
    op.execute("ALTER TABLE listing ADD COLUMN min_order_kg NUMERIC(14, 3) "
               "CONSTRAINT ck_listing_min_order_positive CHECK (min_order_kg IS NULL OR min_order_kg > 0)")

    if op.get_bind().dialect.name == "postgresql":
        op.execute(GUARD_PG)
    else:
        for statement in GUARD_SQLITE:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS order_part_event_no_update ON order_part_event")
        op.execute("DROP FUNCTION IF EXISTS order_part_event_append_only()")
        op.execute("ALTER TABLE listing DROP COLUMN min_order_kg")
    else:
        op.execute("ALTER TABLE listing DROP COLUMN min_order_kg")

    with op.batch_alter_table('dispute', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dispute_status'))

    op.drop_table('dispute')
    with op.batch_alter_table('refund', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refund_order_id'))

    op.drop_table('refund')
    with op.batch_alter_table('order_part_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_part_event_part_id'))

    op.drop_table('order_part_event')
    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_line_product_id'))
        batch_op.drop_index(batch_op.f('ix_order_line_part_id'))
        batch_op.drop_index(batch_op.f('ix_order_line_municipality_code'))
        batch_op.drop_index(batch_op.f('ix_order_line_listing_id'))

    op.drop_table('order_line')
    op.drop_table('stripe_event')
    with op.batch_alter_table('order_part', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_part_respond_by'))
        batch_op.drop_index(batch_op.f('ix_order_part_order_id'))
        batch_op.drop_index('ix_order_part_coop_status')

    op.drop_table('order_part')
    with op.batch_alter_table('cart_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cart_item_user_id'))

    op.drop_table('cart_item')
    with op.batch_alter_table('purchase_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_purchase_order_placed_at'))
        batch_op.drop_index(batch_op.f('ix_purchase_order_payment_status'))
        batch_op.drop_index(batch_op.f('ix_purchase_order_invoice_due_date'))
        batch_op.drop_index(batch_op.f('ix_purchase_order_buyer_id'))

    op.drop_table('purchase_order')
