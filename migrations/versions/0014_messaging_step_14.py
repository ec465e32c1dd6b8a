"""Photos sent in a chat, waiting for the worker to fetch them (media_fetch)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 18:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'media_fetch',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=40), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('channel', sa.Enum('email', 'whatsapp', 'sms', name='message_channel', native_enum=False,
                                     length=20), nullable=False),
        sa.Column('provider', sa.String(length=20), nullable=True),
        sa.Column('media_ref', sa.String(length=1000), nullable=False),
        sa.Column('status', sa.Enum('pending', 'done', 'failed', name='media_status', native_enum=False,
                                    length=20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('content_type', sa.String(length=100), nullable=True),
        sa.Column('size', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_media_fetch_user_id_user_account'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_media_fetch')),
    )
    with op.batch_alter_table('media_fetch', schema=None) as batch_op:
        batch_op.create_index('ix_media_fetch_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_media_fetch_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('media_fetch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_fetch_user_id'))
        batch_op.drop_index('ix_media_fetch_due')
    op.drop_table('media_fetch')
