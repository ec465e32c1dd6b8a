"""Price counts: the product's index also covers price and count, so a month's quartiles
are read in price order straight from the index (no sort, no table access).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 13:55:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('price_month', schema=None) as batch_op:
        batch_op.create_index('ix_price_month_product_month_price',
                              ['product_id', 'month', 'price_per_kg', 'lines'], unique=False)
        batch_op.drop_index('ix_price_month_product_month')


def downgrade():
    with op.batch_alter_table('price_month', schema=None) as batch_op:
        batch_op.create_index('ix_price_month_product_month', ['product_id', 'month'], unique=False)
        batch_op.drop_index('ix_price_month_product_month_price')
