"""Organisation documents for verification (kept empty when nothing was needed)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 21:10:00.000000

"""

# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
