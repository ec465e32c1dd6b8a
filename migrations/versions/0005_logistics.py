"""Logistics: transport modes (seeded with the documented defaults), known road distances,
first-mile legs, shipments with legs and parts, route plans, and actual logistics cost
allocated to order lines.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 08:18:05.539186

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('transport_mode',
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('name_en', sa.String(length=60), nullable=False),
    sa.Column('fixed_cop', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('per_km_cop', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('capacity_kg', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('kinds', sa.String(length=30), nullable=False),
    sa.Column('max_road_km', sa.Numeric(precision=10, scale=3), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('capacity_kg > 0', name=op.f('ck_transport_mode_capacity_positive')),
    sa.CheckConstraint('fixed_cop >= 0', name=op.f('ck_transport_mode_fixed_nonnegative')),
    sa.CheckConstraint('per_km_cop >= 0', name=op.f('ck_transport_mode_per_km_nonnegative')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_transport_mode_updated_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_transport_mode'))
    )
    op.create_table('route_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_code', sa.String(length=2), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('depot_label', sa.String(length=160), nullable=False),
    sa.Column('depot_latitude', sa.Numeric(precision=9, scale=6), nullable=False),
    sa.Column('depot_longitude', sa.Numeric(precision=9, scale=6), nullable=False),
    sa.Column('mode_code', sa.String(length=20), nullable=False),
    sa.Column('routes', sa.JSON(), nullable=False),
    sa.Column('distance_km', sa.Numeric(precision=12, scale=3), nullable=False),
    sa.Column('cost_cop', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('baseline_cop', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['accepted_by_id'], ['user_account.id'], name=op.f('fk_route_plan_accepted_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_route_plan_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['mode_code'], ['transport_mode.code'], name=op.f('fk_route_plan_mode_code_transport_mode')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_route_plan'))
    )
    op.create_table('shipment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('carrier_id', sa.Integer(), nullable=True),
    sa.Column('carrier_name', sa.String(length=120), nullable=True),
    sa.Column('planned_pickup', sa.Date(), nullable=False),
    sa.Column('planned_delivery', sa.Date(), nullable=False),
    sa.Column('actual_pickup', sa.Date(), nullable=True),
    sa.Column('actual_delivery', sa.Date(), nullable=True),
    sa.Column('estimated_cop', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('actual_cop', sa.Numeric(precision=16, scale=2), nullable=True),
    sa.Column('route_plan_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['organisation.id'], name=op.f('fk_shipment_carrier_id_organisation'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_shipment_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['route_plan_id'], ['route_plan.id'], name=op.f('fk_shipment_route_plan_id_route_plan'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipment'))
    )
    with op.batch_alter_table('shipment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipment_carrier_id'), ['carrier_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shipment_status'), ['status'], unique=False)

    op.create_table('access_leg',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('collection_point_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('mode_code', sa.String(length=20), nullable=False),
    sa.Column('km', sa.Numeric(precision=10, scale=3), nullable=False),
    sa.Column('terrain', sa.String(length=20), nullable=False),
    sa.Column('description', sa.String(length=160), nullable=True),
    sa.CheckConstraint('km >= 0', name=op.f('ck_access_leg_km_nonnegative')),
    sa.ForeignKeyConstraint(['collection_point_id'], ['collection_point.id'], name=op.f('fk_access_leg_collection_point_id_collection_point'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['mode_code'], ['transport_mode.code'], name=op.f('fk_access_leg_mode_code_transport_mode')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_leg')),
    sa.UniqueConstraint('collection_point_id', 'position', name=op.f('uq_access_leg_collection_point_id_position'))
    )
    with op.batch_alter_table('access_leg', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_leg_collection_point_id'), ['collection_point_id'], unique=False)

    op.create_table('route_distance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('collection_point_id', sa.Integer(), nullable=False),
    sa.Column('delivery_site_id', sa.Integer(), nullable=False),
    sa.Column('road_km', sa.Numeric(precision=10, scale=3), nullable=False),
    sa.Column('terrain', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('set_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('road_km >= 0', name=op.f('ck_route_distance_road_km_nonnegative')),
    sa.ForeignKeyConstraint(['collection_point_id'], ['collection_point.id'], name=op.f('fk_route_distance_collection_point_id_collection_point'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['delivery_site_id'], ['delivery_site.id'], name=op.f('fk_route_distance_delivery_site_id_delivery_site'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['set_by_id'], ['user_account.id'], name=op.f('fk_route_distance_set_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_route_distance')),
    sa.UniqueConstraint('collection_point_id', 'delivery_site_id', name=op.f('uq_route_distance_collection_point_id_delivery_site_id'))
    )
    op.create_table('shipment_leg',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shipment_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('mode_code', sa.String(length=20), nullable=False),
    sa.Column('from_label', sa.String(length=160), nullable=False),
    sa.Column('to_label', sa.String(length=160), nullable=False),
    sa.Column('km', sa.Numeric(precision=10, scale=3), nullable=False),
    sa.Column('terrain', sa.String(length=20), nullable=False),
    sa.Column('trips', sa.Integer(), nullable=False),
    sa.Column('estimated_cop', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('actual_cop', sa.Numeric(precision=16, scale=2), nullable=True),
    sa.Column('paid_by', sa.String(length=12), nullable=False),
    sa.CheckConstraint('actual_cop IS NULL OR actual_cop >= 0', name=op.f('ck_shipment_leg_actual_nonnegative')),
    sa.CheckConstraint('estimated_cop >= 0', name=op.f('ck_shipment_leg_estimated_nonnegative')),
    sa.CheckConstraint('km >= 0', name=op.f('ck_shipment_leg_km_nonnegative')),
    sa.ForeignKeyConstraint(['mode_code'], ['transport_mode.code'], name=op.f('fk_shipment_leg_mode_code_transport_mode')),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipment.id'], name=op.f('fk_shipment_leg_shipment_id_shipment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipment_leg')),
    sa.UniqueConstraint('shipment_id', 'position', name=op.f('uq_shipment_leg_shipment_id_position'))
    )
    with op.batch_alter_table('shipment_leg', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipment_leg_shipment_id'), ['shipment_id'], unique=False)

    op.create_table('shipment_part',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shipment_id', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('kg', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.ForeignKeyConstraint(['part_id'], ['order_part.id'], name=op.f('fk_shipment_part_part_id_order_part'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipment.id'], name=op.f('fk_shipment_part_shipment_id_shipment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipment_part')),
    sa.UniqueConstraint('part_id', name=op.f('uq_shipment_part_part_id'))
    )
    with op.batch_alter_table('shipment_part', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipment_part_shipment_id'), ['shipment_id'], unique=False)

    # Plain ALTER TABLE: a batch copy of these tables on SQLite would have to drop tables
    # other tables point at.
    op.execute("ALTER TABLE order_line ADD COLUMN logistics_actual NUMERIC(16, 2)")
    op.execute("ALTER TABLE order_part ADD COLUMN logistics_actual NUMERIC(16, 2)")

    # Defaults from marketplace/logistics/costing.py (reasoning documented there).
    modes = sa.table("transport_mode", sa.column("code"), sa.column("name"), sa.column("name_en"),
                     sa.column("fixed_cop"), sa.column("per_km_cop"), sa.column("capacity_kg"), sa.column("kinds"),
                     sa.column("max_road_km"), sa.column("active"), sa.column("updated_at", sa.DateTime(timezone=True)))
    now = datetime.now(timezone.utc)
    op.bulk_insert(modes, [
        {"code": "mule", "name": "Mula o caballo", "name_en": "Mule or horse", "fixed_cop": 25000,
         "per_km_cop": 3000, "capacity_kg": 100, "kinds": "trail,road", "max_road_km": None, "active": True, "updated_at": now},
        {"code": "motorbike", "name": "Moto", "name_en": "Motorbike", "fixed_cop": 10000, "per_km_cop": 500,
         "capacity_kg": 150, "kinds": "road,trail", "max_road_km": 80, "active": True, "updated_at": now},
        {"code": "small_truck", "name": "Chiva o camión pequeño", "name_en": "Chiva or small truck",
         "fixed_cop": 80000, "per_km_cop": 1300, "capacity_kg": 3500, "kinds": "road", "max_road_km": None, "active": True,
         "updated_at": now},
        {"code": "truck_c2", "name": "Camión de dos ejes (C2)", "name_en": "Two-axle truck (C2)",
         "fixed_cop": 120000, "per_km_cop": 1900, "capacity_kg": 9000, "kinds": "road", "max_road_km": None, "active": True,
         "updated_at": now},
        {"code": "river_boat", "name": "Lancha o canoa de motor", "name_en": "River boat", "fixed_cop": 100000,
         "per_km_cop": 4000, "capacity_kg": 2000, "kinds": "river", "max_road_km": None, "active": True, "updated_at": now},
    ])



def downgrade():
    op.execute("ALTER TABLE order_part DROP COLUMN logistics_actual")
    op.execute("ALTER TABLE order_line DROP COLUMN logistics_actual")

    with op.batch_alter_table('shipment_part', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipment_part_shipment_id'))

    op.drop_table('shipment_part')
    with op.batch_alter_table('shipment_leg', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipment_leg_shipment_id'))

    op.drop_table('shipment_leg')
    op.drop_table('route_distance')
    with op.batch_alter_table('access_leg', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_leg_collection_point_id'))

    op.drop_table('access_leg')
    with op.batch_alter_table('shipment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipment_status'))
        batch_op.drop_index(batch_op.f('ix_shipment_carrier_id'))

    op.drop_table('shipment')
    op.drop_table('route_plan')
    op.drop_table('transport_mode')
