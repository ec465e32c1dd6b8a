"""Proposals priced by the order's own code

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 15:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('demand_proposal', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fee_percent', sa.Numeric(precision=5, scale=2), nullable=True))
        batch_op.add_column(sa.Column('fee_cop', sa.Numeric(precision=16, scale=2), nullable=True))
        batch_op.add_column(sa.Column('total_cop', sa.Numeric(precision=16, scale=2), nullable=True))
        batch_op.add_column(sa.Column('parts', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('greedy_parts', sa.JSON(), nullable=True))
    # Open proposals made until now were priced by the optimiser's per-kg estimate, not by the
    # order's quote: none may be accepted as it was shown. The buyer recalculates.
    proposal = sa.table('demand_proposal', sa.column('superseded', sa.Boolean()),
                        sa.column('accepted_at', sa.DateTime(timezone=True)))
    op.execute(proposal.update().where(proposal.c.accepted_at.is_(None)).values(superseded=True))


def downgrade():
    with op.batch_alter_table('demand_proposal', schema=None) as batch_op:
        batch_op.drop_column('greedy_parts')
        batch_op.drop_column('parts')
        batch_op.drop_column('total_cop')
        batch_op.drop_column('fee_cop')
        batch_op.drop_column('fee_percent')
