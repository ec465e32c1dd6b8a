"""Production plots of cooperatives' members with their geolocation: plot

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08 02:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'plot',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('cooperative_id', sa.Integer(), nullable=False),
        sa.Column('producer_name', sa.String(length=120), nullable=False),
        sa.Column('member_code', sa.String(length=40), nullable=True),
        sa.Column('municipality_code', sa.String(length=5), nullable=False),
        sa.Column('declared_area_ha', sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('geometry_geojson', sa.Text(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('area_ha', sa.Numeric(precision=12, scale=4), nullable=True),
        sa.Column('warnings', sa.JSON(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['cooperative_id'], ['cooperative.id'],
                                name=op.f('fk_plot_cooperative_id_cooperative'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['municipality_code'], ['municipality.code'],
                                name=op.f('fk_plot_municipality_code_municipality')),
        sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_plot_product_id_product')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_plot')),
    )
    with op.batch_alter_table('plot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plot_cooperative_id'), ['cooperative_id'], unique=False)


def downgrade():
    with op.batch_alter_table('plot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plot_cooperative_id'))
    op.drop_table('plot')
