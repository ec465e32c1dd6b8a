"""Member counts that staff review before they count: member_count_change

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08 00:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'member_count_change',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('cooperative_id', sa.Integer(), nullable=False),
        sa.Column('members_total', sa.Integer(), nullable=False),
        sa.Column('members_women', sa.Integer(), nullable=False),
        sa.Column('members_youth', sa.Integer(), nullable=False),
        sa.Column('members_victims', sa.Integer(), nullable=False),
        sa.Column('status', sa.Enum('pending', 'confirmed', 'rejected', 'withdrawn', name='change_status',
                                    native_enum=False, length=20), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decision_note', sa.Text(), nullable=True),
        sa.CheckConstraint(
            'members_total >= 0 AND members_women >= 0 AND members_youth >= 0 AND members_victims >= 0 '
            'AND members_women <= members_total AND members_youth <= members_total '
            'AND members_victims <= members_total',
            name=op.f('ck_member_count_change_counts_valid')),
        sa.ForeignKeyConstraint(['cooperative_id'], ['cooperative.id'],
                                name=op.f('fk_member_count_change_cooperative_id_cooperative'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'],
                                name=op.f('fk_member_count_change_requested_by_id_user_account'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'],
                                name=op.f('fk_member_count_change_decided_by_id_user_account'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_member_count_change')),
    )
    with op.batch_alter_table('member_count_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_count_change_cooperative_id'), ['cooperative_id'], unique=False)
        # One pending change per cooperative, whatever runs beside the edit.
        batch_op.create_index('uq_member_count_change_one_pending', ['cooperative_id'], unique=True,
                              sqlite_where=sa.text("status = 'pending'"),
                              postgresql_where=sa.text("status = 'pending'"))


def downgrade():
    with op.batch_alter_table('member_count_change', schema=None) as batch_op:
        batch_op.drop_index('uq_member_count_change_one_pending')
        batch_op.drop_index(batch_op.f('ix_member_count_change_cooperative_id'))
    op.drop_table('member_count_change')
