"""Devices, their slots, products, planogram versions and sales."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models._types import BigId, Money, UTCDateTime, utcnow

CABINET_TYPES = ("refrigerated", "ambient", "combo")
TEMPERATURES = ("chilled", "ambient")
PLANOGRAM_STATUSES = ("draft", "active", "archived")


class Device(db.Model):  # type: ignore[name-defined,misc]
    """A vending machine or cooler: a cabinet of rows A.. and columns 1.."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    venue_type: Mapped[str] = mapped_column(String(50))
    cabinet_type: Mapped[str] = mapped_column(String(20))
    rows: Mapped[int] = mapped_column(Integer)
    columns: Mapped[int] = mapped_column(Integer)
    slot_width_mm: Mapped[int] = mapped_column(Integer)
    slot_height_mm: Mapped[int] = mapped_column(Integer)
    slot_depth_mm: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)
    service_interval_days: Mapped[int] = mapped_column(Integer, default=7)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    # Number of the active planogram version (0 = none yet).
    planogram_version: Mapped[int] = mapped_column(Integer, default=0)
    # SQLAlchemy's optimistic lock: a concurrent update of the same row fails instead of overwriting.
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    data_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    slots: Mapped[list[Slot]] = relationship(
        back_populates="device", cascade="all, delete-orphan", order_by="(Slot.row_index, Slot.col_index)"
    )

    __mapper_args__ = {"version_id_col": lock_version}


class Slot(db.Model):  # type: ignore[name-defined,misc]
    """One selection of a cabinet (``A1``) with its geometry, capacity and temperature zone."""

    __tablename__ = "slots"
    __table_args__ = (UniqueConstraint("device_pk", "code", name="uq_slots_device_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(8))
    row_index: Mapped[int] = mapped_column(Integer)
    col_index: Mapped[int] = mapped_column(Integer)
    width_mm: Mapped[int] = mapped_column(Integer)
    height_mm: Mapped[int] = mapped_column(Integer)
    depth_mm: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)
    zone: Mapped[str] = mapped_column(String(20))
    # True when slots.csv set this slot's values; otherwise they follow the device defaults.
    custom: Mapped[bool] = mapped_column(Boolean, default=False)

    device: Mapped[Device] = relationship(back_populates="slots")


class Product(db.Model):  # type: ignore[name-defined,misc]
    """A product that can be stocked: price, unit cost, dimensions and temperature need."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(100), index=True)
    price: Mapped[float] = mapped_column(Money)
    unit_cost: Mapped[float] = mapped_column(Money)
    width_mm: Mapped[int] = mapped_column(Integer)
    height_mm: Mapped[int] = mapped_column(Integer)
    depth_mm: Mapped[int] = mapped_column(Integer)
    temperature: Mapped[str] = mapped_column(String(20))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PlanogramVersion(db.Model):  # type: ignore[name-defined,misc]
    """One saved version of a device's planogram (slot -> product assignments)."""

    __tablename__ = "planogram_versions"
    __table_args__ = (UniqueConstraint("device_pk", "version_number", name="uq_planogram_device_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    version_number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    parent_version_id: Mapped[int | None] = mapped_column(ForeignKey("planogram_versions.id"))
    source: Mapped[str] = mapped_column(String(30), default="editor")
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    items: Mapped[list[PlanogramItem]] = relationship(
        back_populates="version", cascade="all, delete-orphan", order_by="PlanogramItem.slot_code"
    )


class PlanogramItem(db.Model):  # type: ignore[name-defined,misc]
    """A slot assignment inside a planogram version."""

    __tablename__ = "planogram_items"
    __table_args__ = (UniqueConstraint("version_id", "slot_code", name="uq_planogram_item_slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("planogram_versions.id", ondelete="CASCADE"), index=True)
    slot_code: Mapped[str] = mapped_column(String(8))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    capacity: Mapped[int] = mapped_column(Integer)

    version: Mapped[PlanogramVersion] = relationship(back_populates="items")
    product: Mapped[Product] = relationship()


class Sale(db.Model):  # type: ignore[name-defined,misc]
    """One vend. ``dedup_key`` makes re-importing the same export a no-op."""

    __tablename__ = "sales"
    __table_args__ = (Index("ix_sales_device_ts", "device_pk", "ts"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    slot_code: Mapped[str] = mapped_column(String(8))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    price: Mapped[float] = mapped_column(Money)
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    dedup_key: Mapped[str] = mapped_column(String(32), unique=True)


class SalesWeekly(db.Model):  # type: ignore[name-defined,misc]
    """Vends per device, product and UTC week (Monday to Sunday): what the fleet priors read, not every vend.

    Kept current by each import (services/imports/weekly.py recounts the weeks it touched). A vending
    machine sells about one unit of a product a day, so a daily table would be nearly as long as the vends;
    a week's row holds about four. ``last_day`` is the week's last day with a vend (where the window ends)."""

    __tablename__ = "sales_weekly"

    device_pk: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    week: Mapped[date] = mapped_column(Date, primary_key=True)
    units: Mapped[int] = mapped_column(Integer)
    last_day: Mapped[date] = mapped_column(Date)
