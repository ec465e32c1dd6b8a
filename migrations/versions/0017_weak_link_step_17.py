"""Pending photo uploads kept across a refused form (kept empty when nothing was needed)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 21:10:00.000000

"""

# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
