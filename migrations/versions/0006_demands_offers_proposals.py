"""Demands and matching: buyers' demands (solicitudes de compra), cooperatives' offers
answering them, and the allocation optimiser's proposals.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 09:57:19.580387

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('demand',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('buyer_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('min_grade_id', sa.Integer(), nullable=True),
    sa.Column('quantity', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('quantity_kg', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('delivery_site_id', sa.Integer(), nullable=False),
    sa.Column('window_start', sa.Date(), nullable=False),
    sa.Column('window_end', sa.Date(), nullable=False),
    sa.Column('target_price_per_kg', sa.Numeric(precision=16, scale=2), nullable=True),
    sa.Column('max_price_per_kg', sa.Numeric(precision=16, scale=2), nullable=True),
    sa.Column('min_lot_kg', sa.Numeric(precision=14, scale=3), nullable=True),
    sa.Column('preferences', sa.JSON(), nullable=False),
    sa.Column('source_departments', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('status', sa.Enum('open', 'ordered', 'cancelled', 'expired', name='demand_status', native_enum=False, length=20), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('max_price_per_kg IS NULL OR max_price_per_kg >= 0', name=op.f('ck_demand_max_price_nonnegative')),
    sa.CheckConstraint('min_lot_kg IS NULL OR min_lot_kg > 0', name=op.f('ck_demand_min_lot_positive')),
    sa.CheckConstraint('quantity_kg > 0', name=op.f('ck_demand_quantity_positive')),
    sa.CheckConstraint('target_price_per_kg IS NULL OR target_price_per_kg >= 0', name=op.f('ck_demand_target_nonnegative')),
    sa.CheckConstraint('window_end >= window_start', name=op.f('ck_demand_window_ordered')),
    sa.ForeignKeyConstraint(['buyer_id'], ['buyer.id'], name=op.f('fk_demand_buyer_id_buyer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_demand_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['delivery_site_id'], ['delivery_site.id'], name=op.f('fk_demand_delivery_site_id_delivery_site')),
    sa.ForeignKeyConstraint(['min_grade_id'], ['grade.id'], name=op.f('fk_demand_min_grade_id_grade')),
    sa.ForeignKeyConstraint(['order_id'], ['purchase_order.id'], name=op.f('fk_demand_order_id_purchase_order'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_demand_product_id_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demand'))
    )
    with op.batch_alter_table('demand', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_demand_buyer_id'), ['buyer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_demand_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_demand_status_product', ['status', 'product_id'], unique=False)

    op.create_table('demand_offer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('demand_id', sa.Integer(), nullable=False),
    sa.Column('cooperative_id', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('quantity_kg', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('price_per_kg', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('ready_date', sa.Date(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('status', sa.Enum('open', 'withdrawn', 'chosen', 'not_chosen', name='offer_status', native_enum=False, length=20), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('price_per_kg >= 0', name=op.f('ck_demand_offer_price_nonnegative')),
    sa.CheckConstraint('quantity_kg > 0', name=op.f('ck_demand_offer_quantity_positive')),
    sa.ForeignKeyConstraint(['cooperative_id'], ['cooperative.id'], name=op.f('fk_demand_offer_cooperative_id_cooperative'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_demand_offer_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['demand_id'], ['demand.id'], name=op.f('fk_demand_offer_demand_id_demand'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['listing_id'], ['listing.id'], name=op.f('fk_demand_offer_listing_id_listing'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demand_offer')),
    sa.UniqueConstraint('demand_id', 'listing_id', name='one_per_listing')
    )
    with op.batch_alter_table('demand_offer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_demand_offer_cooperative_id'), ['cooperative_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_demand_offer_demand_id'), ['demand_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_demand_offer_listing_id'), ['listing_id'], unique=False)

    op.create_table('demand_proposal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('demand_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('met_kg', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('goods_cop', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('logistics_cop', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('greedy_met_kg', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('greedy_landed_cop', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('allocations', sa.JSON(), nullable=False),
    sa.Column('greedy', sa.JSON(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('shares', sa.JSON(), nullable=False),
    sa.Column('solve_ms', sa.Integer(), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('superseded', sa.Boolean(), nullable=False),
    sa.CheckConstraint('met_kg >= 0', name=op.f('ck_demand_proposal_met_nonnegative')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_demand_proposal_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['demand_id'], ['demand.id'], name=op.f('fk_demand_proposal_demand_id_demand'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demand_proposal'))
    )
    with op.batch_alter_table('demand_proposal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_demand_proposal_demand_id'), ['demand_id'], unique=False)



def downgrade():
    with op.batch_alter_table('demand_proposal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_demand_proposal_demand_id'))

    op.drop_table('demand_proposal')
    with op.batch_alter_table('demand_offer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_demand_offer_listing_id'))
        batch_op.drop_index(batch_op.f('ix_demand_offer_demand_id'))
        batch_op.drop_index(batch_op.f('ix_demand_offer_cooperative_id'))

    op.drop_table('demand_offer')
    with op.batch_alter_table('demand', schema=None) as batch_op:
        batch_op.drop_index('ix_demand_status_product')
        batch_op.drop_index(batch_op.f('ix_demand_created_at'))
        batch_op.drop_index(batch_op.f('ix_demand_buyer_id'))

    op.drop_table('demand')
