"""Money integrity: refunds claimed by the worker with attempts and a failed state, payments back for invoices, shortfall disputes

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 15:00:00.000000

"""
from alembic import op  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
