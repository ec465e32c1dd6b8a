"""Shipment costs closed at delivery; staff corrections and payout adjustments

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 15:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('payout_adjustment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cooperative_id', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('shipment_id', sa.Integer(), nullable=True),
    sa.Column('amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('applied_part_id', sa.Integer(), nullable=True),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('amount <> 0', name=op.f('ck_payout_adjustment_amount_nonzero')),
    sa.CheckConstraint('(applied_part_id IS NULL) = (applied_at IS NULL)',
                       name=op.f('ck_payout_adjustment_applied_together')),
    sa.ForeignKeyConstraint(['applied_part_id'], ['order_part.id'],
                            name=op.f('fk_payout_adjustment_applied_part_id_order_part')),
    sa.ForeignKeyConstraint(['cooperative_id'], ['cooperative.id'],
                            name=op.f('fk_payout_adjustment_cooperative_id_cooperative')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'],
                            name=op.f('fk_payout_adjustment_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['part_id'], ['order_part.id'], name=op.f('fk_payout_adjustment_part_id_order_part')),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipment.id'],
                            name=op.f('fk_payout_adjustment_shipment_id_shipment'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_adjustment'))
    )
    with op.batch_alter_table('payout_adjustment', schema=None) as batch_op:
        batch_op.create_index('ix_payout_adjustment_coop_applied', ['cooperative_id', 'applied_part_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_payout_adjustment_applied_part_id'), ['applied_part_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payout_adjustment_part_id'), ['part_id'], unique=False)


def downgrade():
    with op.batch_alter_table('payout_adjustment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payout_adjustment_part_id'))
        batch_op.drop_index(batch_op.f('ix_payout_adjustment_applied_part_id'))
        batch_op.drop_index('ix_payout_adjustment_coop_applied')
    op.drop_table('payout_adjustment')
