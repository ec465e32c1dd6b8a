"""Order notices go through the messaging outbox: pending e-mail notifications become notices;
order parts remember the reminders sent before they decline themselves

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 18:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

# Kinds told to the cooperative (the rest are told to the buyer).
COOPERATIVE_KINDS = ('new_order', 'offer_chosen')


def upgrade():
    with op.batch_alter_table('order_part', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminded_12h_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reminded_2h_at', sa.DateTime(timezone=True), nullable=True))

    # E-mails still owed move to the outbox that now sends every channel, each about the same
    # part, for the organisation it is told to. Those already sent stay sent: nothing to move.
    notification = sa.table('notification', sa.column('id', sa.Integer()), sa.column('kind', sa.String()),
                            sa.column('part_id', sa.Integer()), sa.column('created_at', sa.DateTime(timezone=True)),
                            sa.column('sent_at', sa.DateTime(timezone=True)))
    part = sa.table('order_part', sa.column('id', sa.Integer()), sa.column('order_id', sa.Integer()),
                    sa.column('cooperative_id', sa.Integer()))
    order = sa.table('purchase_order', sa.column('id', sa.Integer()), sa.column('buyer_id', sa.Integer()))
    notice = sa.table('notice', sa.column('kind', sa.String()), sa.column('subject_id', sa.Integer()),
                      sa.column('organisation_id', sa.Integer()), sa.column('created_at', sa.DateTime(timezone=True)),
                      sa.column('attempts', sa.Integer()))
    organisation = sa.case((notification.c.kind.in_(COOPERATIVE_KINDS), part.c.cooperative_id),
                           else_=order.c.buyer_id)
    pending = (sa.select(notification.c.kind, notification.c.part_id, organisation, notification.c.created_at,
                         sa.literal(0))
               .select_from(notification.join(part, part.c.id == notification.c.part_id)
                            .join(order, order.c.id == part.c.order_id))
               .where(notification.c.sent_at.is_(None))
               .order_by(notification.c.id))
    op.execute(notice.insert().from_select(
        ['kind', 'subject_id', 'organisation_id', 'created_at', 'attempts'], pending))

    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_sent_at'))
        batch_op.drop_index(batch_op.f('ix_notification_part_id'))
    op.drop_table('notification')


def downgrade():
    # The e-mail outbox comes back empty: notices not yet sent stay in ``notice``.
    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['part_id'], ['order_part.id'], name=op.f('fk_notification_part_id_order_part'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification'))
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_part_id'), ['part_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_sent_at'), ['sent_at'], unique=False)

    # ALTER TABLE ... DROP COLUMN on both databases (SQLite 3.35+): a batch copy of order_part
    # would drop the table, and its append-only events with it.
    op.execute('ALTER TABLE order_part DROP COLUMN reminded_2h_at')
    op.execute('ALTER TABLE order_part DROP COLUMN reminded_12h_at')
