"""Products and grades (staff-curated), collection points, harvest listings, their photos
and their append-only history of price and quantity."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.core.audit import append_only
from marketplace.core.models import Municipality, utcnow
from marketplace.core.types import Coordinate, Kilograms, Money, UTCDateTime, str_enum
from marketplace.extensions import db


class Category(enum.StrEnum):
    CACAO_COFFEE = "cacao_coffee"
    FRUIT = "fruit"
    ROOTS_PLANTAIN = "roots_plantain"
    GRAINS = "grains"
    SWEETENERS = "sweeteners"
    VEGETABLES = "vegetables"
    FISH = "fish"
    INDUSTRIAL = "industrial"


class ListingStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    WITHDRAWN = "withdrawn"


class Product(db.Model):
    __tablename__ = "product"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    name_en: Mapped[str] = mapped_column(String(80))
    category: Mapped[Category] = mapped_column(str_enum(Category, "product_category"), index=True)
    # The product's name in DANE SIPSA, when SIPSA quotes it (reference prices).
    sipsa_name: Mapped[str | None] = mapped_column(String(80))
    usual_units: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    grades: Mapped[list[Grade]] = relationship(back_populates="product", order_by="Grade.rank.desc()")


class Grade(db.Model):
    """A quality grade of a product; a higher ``rank`` is a better grade."""

    __tablename__ = "grade"
    __table_args__ = (UniqueConstraint("product_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(80))
    rank: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    product: Mapped[Product] = relationship(back_populates="grades")


class CollectionPoint(db.Model):
    """Where a cooperative's produce is picked up: a collection centre or a vereda."""

    __tablename__ = "collection_point"

    id: Mapped[int] = mapped_column(primary_key=True)
    cooperative_id: Mapped[int] = mapped_column(ForeignKey("cooperative.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"))
    latitude: Mapped[Decimal] = mapped_column(Coordinate)
    longitude: Mapped[Decimal] = mapped_column(Coordinate)
    # True when the coordinates came from the phone's GPS rather than the municipal seat.
    located: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    municipality: Mapped[Municipality] = relationship(lazy="joined")


class Listing(db.Model):
    """A lot offered by a cooperative. Quantities in kg and prices in COP per kg are
    canonical; the unit and price per unit the cooperative typed are kept for display."""

    __tablename__ = "listing"
    __table_args__ = (
        CheckConstraint("quantity_kg > 0", name="quantity_positive"),
        CheckConstraint("available_kg >= 0", name="available_nonnegative"),
        CheckConstraint("available_kg <= quantity_kg", name="available_within_quantity"),
        CheckConstraint("unit_kg > 0", name="unit_kg_positive"),
        CheckConstraint("price_per_kg > 0", name="price_positive"),
        CheckConstraint("available_until >= available_from", name="window_ordered"),
        CheckConstraint("min_order_kg IS NULL OR min_order_kg > 0", name="min_order_positive"),
        Index("ix_listing_search", "status", "product_id", "department_code", "available_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cooperative_id: Mapped[int] = mapped_column(ForeignKey("cooperative.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    grade_id: Mapped[int] = mapped_column(ForeignKey("grade.id"))
    status: Mapped[ListingStatus] = mapped_column(str_enum(ListingStatus, "listing_status"), default=ListingStatus.ACTIVE)
    unit: Mapped[str] = mapped_column(String(20))
    unit_kg: Mapped[Decimal] = mapped_column(Numeric(10, 3))
    quantity_kg: Mapped[Decimal] = mapped_column(Kilograms)
    available_kg: Mapped[Decimal] = mapped_column(Kilograms)
    # The smallest quantity one order may take (none: any quantity).
    min_order_kg: Mapped[Decimal | None] = mapped_column(Kilograms)
    price_per_unit: Mapped[Decimal] = mapped_column(Money)
    price_per_kg: Mapped[Decimal] = mapped_column(Money, index=True)
    harvest_date: Mapped[date] = mapped_column(Date)
    available_from: Mapped[date] = mapped_column(Date)
    available_until: Mapped[date] = mapped_column(Date)
    collection_point_id: Mapped[int] = mapped_column(ForeignKey("collection_point.id"))
    certifications: Mapped[list] = mapped_column(JSON, default=list)
    description: Mapped[str | None] = mapped_column(Text)
    # Copied from the collection point so that search filters need no joins.
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    department_code: Mapped[str] = mapped_column(String(2))
    pdet_subregion: Mapped[str | None] = mapped_column(String(80), index=True)
    latitude: Mapped[Decimal] = mapped_column(Coordinate)
    longitude: Mapped[Decimal] = mapped_column(Coordinate)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    product: Mapped[Product] = relationship(lazy="joined")
    grade: Mapped[Grade] = relationship(lazy="joined")
    collection_point: Mapped[CollectionPoint] = relationship()
    municipality: Mapped[Municipality] = relationship(lazy="joined")
    photos: Mapped[list[ListingPhoto]] = relationship(back_populates="listing", order_by="ListingPhoto.position",
                                                      cascade="all, delete-orphan")


class ListingPhoto(db.Model):
    __tablename__ = "listing_photo"
    __table_args__ = (UniqueConstraint("listing_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listing.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    thumb_key: Mapped[str] = mapped_column(String(80), unique=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    listing: Mapped[Listing] = relationship(back_populates="photos")


@append_only
class ListingChange(db.Model):
    """One change of a listing's price or quantity: who, when, before and after. Append-only."""

    __tablename__ = "listing_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listing.id", ondelete="CASCADE"), index=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    price_per_kg_before: Mapped[Decimal | None] = mapped_column(Money)
    price_per_kg_after: Mapped[Decimal | None] = mapped_column(Money)
    quantity_kg_before: Mapped[Decimal | None] = mapped_column(Kilograms)
    quantity_kg_after: Mapped[Decimal | None] = mapped_column(Kilograms)
    reason: Mapped[str] = mapped_column(String(40))


class PendingUpload(db.Model):
    """A listing photo that passed the upload checks on a form the server refused: kept,
    re-encoded, for its uploader only, until it expires or the listing is saved. The page
    carries only the random ``token``; the storage keys never leave the server."""

    __tablename__ = "pending_upload"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    thumb_key: Mapped[str] = mapped_column(String(80), unique=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
