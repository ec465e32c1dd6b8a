"""Money integrity: refunds claimed by the worker with attempts, back-off and a failed state;
payments back for invoices (settled by staff with a bank reference) and voided stray charges;
what each part's payment covered; shortfall disputes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 15:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('refund', schema=None) as batch_op:
        batch_op.add_column(sa.Column('method', sa.Enum('card', 'bank', 'void', name='refund_method', native_enum=False, length=20), server_default='card', nullable=False))
        batch_op.add_column(sa.Column('payment_intent_id', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('last_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('bank_reference', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('settled_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_refund_settled_by_id_user_account'), 'user_account', ['settled_by_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index('ix_refund_status_next_attempt', ['status', 'next_attempt_at'], unique=False)
    # Stripe's own words become ours: accepted and processing is "sent", given up is "failed".
    op.execute("UPDATE refund SET status = 'sent' WHERE stripe_refund_id IS NOT NULL AND status IN ('pending', 'requires_action')")
    op.execute("UPDATE refund SET status = 'failed' WHERE status = 'canceled'")

    with op.batch_alter_table('dispute', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.Enum('quality', 'shortfall', name='dispute_kind', native_enum=False, length=20), server_default='quality', nullable=False))

    with op.batch_alter_table('order_part', schema=None) as batch_op:
        batch_op.add_column(sa.Column('billed_amount', sa.Numeric(precision=16, scale=2), nullable=True))
    # A card charge covered every part as placed; an invoice what was still due when paid.
    op.execute("""
        UPDATE order_part SET billed_amount = CASE
            WHEN (SELECT payment_method FROM purchase_order o WHERE o.id = order_part.order_id) = 'invoice'
                 AND status IN ('declined', 'expired', 'cancelled') THEN 0
            ELSE goods_amount + logistics_estimate + fee_amount END
        WHERE order_id IN (SELECT id FROM purchase_order WHERE payment_status = 'paid')
    """)


def downgrade():
    with op.batch_alter_table('order_part', schema=None) as batch_op:
        batch_op.drop_column('billed_amount')

    with op.batch_alter_table('dispute', schema=None) as batch_op:
        batch_op.drop_column('kind')

    with op.batch_alter_table('refund', schema=None) as batch_op:
        batch_op.drop_index('ix_refund_status_next_attempt')
        batch_op.drop_constraint(batch_op.f('fk_refund_settled_by_id_user_account'), type_='foreignkey')
        batch_op.drop_column('settled_at')
        batch_op.drop_column('settled_by_id')
        batch_op.drop_column('bank_reference')
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('last_error')
        batch_op.drop_column('attempts')
        batch_op.drop_column('payment_intent_id')
        batch_op.drop_column('method')
