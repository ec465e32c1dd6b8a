"""Catalogue of products and grades, collection points, listings, photos and their history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 03:16:08.340745

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


GUARD_PG = """
CREATE OR REPLACE FUNCTION listing_change_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'listing_change is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER listing_change_no_update BEFORE UPDATE OR DELETE ON listing_change
    FOR EACH ROW EXECUTE FUNCTION listing_change_append_only();
"""
GUARD_SQLITE = [
    "CREATE TRIGGER listing_change_no_update BEFORE UPDATE ON listing_change "
    "BEGIN SELECT RAISE(ABORT, 'listing_change is append-only'); END",
    "CREATE TRIGGER listing_change_no_delete BEFORE DELETE ON listing_change "
    "BEGIN SELECT RAISE(ABORT, 'listing_change is append-only'); END",
]


def upgrade():
    op.create_table('product',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('name_en', sa.String(length=80), nullable=False),
    sa.Column('category', sa.Enum('cacao_coffee', 'fruit', 'roots_plantain', 'grains', 'sweeteners', 'vegetables', 'fish', 'industrial', name='product_category', native_enum=False, length=20), nullable=False),
    sa.Column('sipsa_name', sa.String(length=80), nullable=True),
    sa.Column('usual_units', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product')),
    sa.UniqueConstraint('name', name=op.f('uq_product_name')),
    sa.UniqueConstraint('slug', name=op.f('uq_product_slug'))
    )
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_category'), ['category'], unique=False)

    op.create_table('grade',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('name_en', sa.String(length=80), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_grade_product_id_product'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grade')),
    sa.UniqueConstraint('product_id', 'code', name=op.f('uq_grade_product_id_code'))
    )
    with op.batch_alter_table('grade', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grade_product_id'), ['product_id'], unique=False)

    op.create_table('collection_point',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cooperative_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('municipality_code', sa.String(length=5), nullable=False),
    sa.Column('latitude', sa.Numeric(precision=9, scale=6), nullable=False),
    sa.Column('longitude', sa.Numeric(precision=9, scale=6), nullable=False),
    sa.Column('located', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cooperative_id'], ['cooperative.id'], name=op.f('fk_collection_point_cooperative_id_cooperative'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['municipality_code'], ['municipality.code'], name=op.f('fk_collection_point_municipality_code_municipality')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_collection_point'))
    )
    with op.batch_alter_table('collection_point', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_collection_point_cooperative_id'), ['cooperative_id'], unique=False)

    op.create_table('listing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cooperative_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('grade_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('active', 'paused', 'withdrawn', name='listing_status', native_enum=False, length=20), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('unit_kg', sa.Numeric(precision=10, scale=3), nullable=False),
    sa.Column('quantity_kg', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('available_kg', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('price_per_unit', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('price_per_kg', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('harvest_date', sa.Date(), nullable=False),
    sa.Column('available_from', sa.Date(), nullable=False),
    sa.Column('available_until', sa.Date(), nullable=False),
    sa.Column('collection_point_id', sa.Integer(), nullable=False),
    sa.Column('certifications', sa.JSON(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('municipality_code', sa.String(length=5), nullable=False),
    sa.Column('department_code', sa.String(length=2), nullable=False),
    sa.Column('pdet_subregion', sa.String(length=80), nullable=True),
    sa.Column('latitude', sa.Numeric(precision=9, scale=6), nullable=False),
    sa.Column('longitude', sa.Numeric(precision=9, scale=6), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('available_kg <= quantity_kg', name=op.f('ck_listing_available_within_quantity')),
    sa.CheckConstraint('available_kg >= 0', name=op.f('ck_listing_available_nonnegative')),
    sa.CheckConstraint('available_until >= available_from', name=op.f('ck_listing_window_ordered')),
    sa.CheckConstraint('price_per_kg > 0', name=op.f('ck_listing_price_positive')),
    sa.CheckConstraint('quantity_kg > 0', name=op.f('ck_listing_quantity_positive')),
    sa.CheckConstraint('unit_kg > 0', name=op.f('ck_listing_unit_kg_positive')),
    sa.ForeignKeyConstraint(['collection_point_id'], ['collection_point.id'], name=op.f('fk_listing_collection_point_id_collection_point')),
    sa.ForeignKeyConstraint(['cooperative_id'], ['cooperative.id'], name=op.f('fk_listing_cooperative_id_cooperative'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_listing_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['grade_id'], ['grade.id'], name=op.f('fk_listing_grade_id_grade')),
    sa.ForeignKeyConstraint(['municipality_code'], ['municipality.code'], name=op.f('fk_listing_municipality_code_municipality')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_listing_product_id_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_listing'))
    )
    with op.batch_alter_table('listing', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_listing_cooperative_id'), ['cooperative_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_listing_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_listing_municipality_code'), ['municipality_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_listing_pdet_subregion'), ['pdet_subregion'], unique=False)
        batch_op.create_index(batch_op.f('ix_listing_price_per_kg'), ['price_per_kg'], unique=False)
        batch_op.create_index(batch_op.f('ix_listing_product_id'), ['product_id'], unique=False)
        batch_op.create_index('ix_listing_search', ['status', 'product_id', 'department_code', 'available_until'], unique=False)

    op.create_table('listing_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('price_per_kg_before', sa.Numeric(precision=16, scale=2), nullable=True),
    sa.Column('price_per_kg_after', sa.Numeric(precision=16, scale=2), nullable=True),
    sa.Column('quantity_kg_before', sa.Numeric(precision=14, scale=3), nullable=True),
    sa.Column('quantity_kg_after', sa.Numeric(precision=14, scale=3), nullable=True),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_listing_change_actor_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['listing_id'], ['listing.id'], name=op.f('fk_listing_change_listing_id_listing'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_listing_change'))
    )
    with op.batch_alter_table('listing_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_listing_change_listing_id'), ['listing_id'], unique=False)

    op.create_table('listing_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('thumb_key', sa.String(length=80), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['listing_id'], ['listing.id'], name=op.f('fk_listing_photo_listing_id_listing'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_listing_photo')),
    sa.UniqueConstraint('key', name=op.f('uq_listing_photo_key')),
    sa.UniqueConstraint('listing_id', 'position', name=op.f('uq_listing_photo_listing_id_position')),
    sa.UniqueConstraint('thumb_key', name=op.f('uq_listing_photo_thumb_key'))
    )
    with op.batch_alter_table('listing_photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_listing_photo_listing_id'), ['listing_id'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(GUARD_PG)
    else:
        for statement in GUARD_SQLITE:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS listing_change_no_update ON listing_change")
        op.execute("DROP FUNCTION IF EXISTS listing_change_append_only()")
    with op.batch_alter_table('listing_photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_listing_photo_listing_id'))

    op.drop_table('listing_photo')
    with op.batch_alter_table('listing_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_listing_change_listing_id'))

    op.drop_table('listing_change')
    with op.batch_alter_table('listing', schema=None) as batch_op:
        batch_op.drop_index('ix_listing_search')
        batch_op.drop_index(batch_op.f('ix_listing_product_id'))
        batch_op.drop_index(batch_op.f('ix_listing_price_per_kg'))
        batch_op.drop_index(batch_op.f('ix_listing_pdet_subregion'))
        batch_op.drop_index(batch_op.f('ix_listing_municipality_code'))
        batch_op.drop_index(batch_op.f('ix_listing_created_at'))
        batch_op.drop_index(batch_op.f('ix_listing_cooperative_id'))

    op.drop_table('listing')
    with op.batch_alter_table('collection_point', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_collection_point_cooperative_id'))

    op.drop_table('collection_point')
    with op.batch_alter_table('grade', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grade_product_id'))

    op.drop_table('grade')
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_category'))

    op.drop_table('product')
