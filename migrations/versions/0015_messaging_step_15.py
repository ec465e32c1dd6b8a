"""Messaging, step 4 (kept empty when nothing was needed)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 18:00:00.000000

"""

# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
