"""Organisation documents for verification: organisation_document

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 21:10:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'organisation_document',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum('rut', 'camara_comercio', 'acta_constitucion', 'other', name='document_kind',
                                  native_enum=False, length=20), nullable=False),
        sa.Column('file_key', sa.String(length=80), nullable=False),
        sa.Column('content_type', sa.String(length=40), nullable=False),
        sa.Column('size_bytes', sa.Integer(), nullable=False),
        sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
        sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.Enum('pending', 'accepted', 'rejected', name='document_status',
                                    native_enum=False, length=20), nullable=False),
        sa.Column('review_note', sa.Text(), nullable=True),
        sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
        sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'],
                                name=op.f('fk_organisation_document_organisation_id_organisation'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'],
                                name=op.f('fk_organisation_document_uploaded_by_id_user_account'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['reviewed_by_id'], ['user_account.id'],
                                name=op.f('fk_organisation_document_reviewed_by_id_user_account'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_organisation_document')),
        sa.UniqueConstraint('file_key', name=op.f('uq_organisation_document_file_key')),
    )
    with op.batch_alter_table('organisation_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organisation_document_organisation_id'), ['organisation_id'], unique=False)


def downgrade():
    with op.batch_alter_table('organisation_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organisation_document_organisation_id'))
    op.drop_table('organisation_document')
