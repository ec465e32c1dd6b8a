"""Idempotency keys for work sent from an offline phone (kept empty when nothing was needed)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 21:10:00.000000

"""

# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
