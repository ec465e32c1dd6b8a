"""Insights: the orders' change log of sale figures, one fact row per sale line, monthly
rollups of sales and of prices paid, staff reviews of flagged transactions and indicator targets.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 10:15:24.769174

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('price_month',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('municipality_code', sa.String(length=5), nullable=False),
    sa.Column('department_code', sa.String(length=2), nullable=False),
    sa.Column('pdet_subregion', sa.String(length=80), nullable=True),
    sa.Column('price_per_kg', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('lines', sa.Integer(), nullable=False),
    sa.Column('kg', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_month')),
    sa.UniqueConstraint('month', 'product_id', 'municipality_code', 'price_per_kg', name='uq_price_month_key')
    )
    with op.batch_alter_table('price_month', schema=None) as batch_op:
        batch_op.create_index('ix_price_month_product_month', ['product_id', 'month'], unique=False)

    op.create_table('sales_month',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('municipality_code', sa.String(length=5), nullable=False),
    sa.Column('department_code', sa.String(length=2), nullable=False),
    sa.Column('pdet_subregion', sa.String(length=80), nullable=True),
    sa.Column('cooperative_id', sa.Integer(), nullable=False),
    sa.Column('buyer_id', sa.Integer(), nullable=False),
    sa.Column('women_led', sa.Boolean(), nullable=False),
    sa.Column('youth_led', sa.Boolean(), nullable=False),
    sa.Column('kg', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('cop', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('logistics_cop', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('lines', sa.Integer(), nullable=False),
    sa.Column('parts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_month')),
    sa.UniqueConstraint('month', 'product_id', 'municipality_code', 'cooperative_id', 'buyer_id', name='uq_sales_month_key')
    )
    with op.batch_alter_table('sales_month', schema=None) as batch_op:
        batch_op.create_index('ix_sales_month_buyer', ['buyer_id', 'month'], unique=False)
        batch_op.create_index(batch_op.f('ix_sales_month_month'), ['month'], unique=False)
        batch_op.create_index('ix_sales_month_product_month', ['product_id', 'month'], unique=False)

    op.create_table('indicator_target',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('indicator', sa.String(length=40), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('target', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_indicator_target_updated_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_target')),
    sa.UniqueConstraint('indicator', 'year', name='uq_indicator_target_year')
    )
    op.create_table('sale_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['part_id'], ['order_part.id'], name=op.f('fk_sale_change_part_id_order_part'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sale_change'))
    )
    with op.batch_alter_table('sale_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sale_change_part_id'), ['part_id'], unique=False)

    op.create_table('sale_fact',
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('municipality_code', sa.String(length=5), nullable=False),
    sa.Column('department_code', sa.String(length=2), nullable=False),
    sa.Column('pdet_subregion', sa.String(length=80), nullable=True),
    sa.Column('cooperative_id', sa.Integer(), nullable=False),
    sa.Column('buyer_id', sa.Integer(), nullable=False),
    sa.Column('women_led', sa.Boolean(), nullable=False),
    sa.Column('youth_led', sa.Boolean(), nullable=False),
    sa.Column('price_per_kg', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('kg', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('cop', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('logistics_cop', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['line_id'], ['order_line.id'], name=op.f('fk_sale_fact_line_id_order_line'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('line_id', name=op.f('pk_sale_fact'))
    )
    with op.batch_alter_table('sale_fact', schema=None) as batch_op:
        batch_op.create_index('ix_sale_fact_buyer_month', ['buyer_id', 'month'], unique=False)
        batch_op.create_index('ix_sale_fact_month', ['month'], unique=False)
        batch_op.create_index(batch_op.f('ix_sale_fact_part_id'), ['part_id'], unique=False)
        batch_op.create_index('ix_sale_fact_product_month', ['product_id', 'month', 'price_per_kg', 'part_id'], unique=False)

    op.create_table('transaction_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['line_id'], ['order_line.id'], name=op.f('fk_transaction_review_line_id_order_line'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['user_account.id'], name=op.f('fk_transaction_review_reviewer_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transaction_review'))
    )
    with op.batch_alter_table('transaction_review', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transaction_review_line_id'), ['line_id'], unique=False)


    # Orders placed before this revision: queue their sales so the first refresh counts them.
    op.execute("INSERT INTO sale_change (part_id, changed_at) SELECT id, CURRENT_TIMESTAMP FROM order_part "
               "WHERE status IN ('accepted', 'ready', 'in_transit', 'delivered', 'settled')")


def downgrade():
    with op.batch_alter_table('transaction_review', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transaction_review_line_id'))

    op.drop_table('transaction_review')
    with op.batch_alter_table('sale_fact', schema=None) as batch_op:
        batch_op.drop_index('ix_sale_fact_product_month')
        batch_op.drop_index(batch_op.f('ix_sale_fact_part_id'))
        batch_op.drop_index('ix_sale_fact_month')
        batch_op.drop_index('ix_sale_fact_buyer_month')

    op.drop_table('sale_fact')
    with op.batch_alter_table('sale_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sale_change_part_id'))

    op.drop_table('sale_change')
    op.drop_table('indicator_target')
    with op.batch_alter_table('sales_month', schema=None) as batch_op:
        batch_op.drop_index('ix_sales_month_product_month')
        batch_op.drop_index(batch_op.f('ix_sales_month_month'))
        batch_op.drop_index('ix_sales_month_buyer')

    op.drop_table('sales_month')
    with op.batch_alter_table('price_month', schema=None) as batch_op:
        batch_op.drop_index('ix_price_month_product_month')

    op.drop_table('price_month')
