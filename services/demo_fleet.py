"""The demo fleet, kept apart from the operator's data: what is demo, how much of it, and removing it.

Rows are demo when their ``is_demo`` flag is set (the seeder sets it on devices, products, posts and
orders); the ``DEMO-`` prefix is a label for people, never what the code trusts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select

from extensions import db
from models import CustomerOrder, Device, PlanogramItem, PlanogramVersion, Product, Sale, SalesWeekly, Slot, SocialPost
from services.merchandising.invalidation import forget_devices

REMOVE_HINT = "remove it with `flask demo remove` or the admin's 'Remove demo fleet' button on the Fleet page"
# Written by a removal so that `flask seed-demo --if-empty` (run by `make run`) does not bring the demo back.
REMOVED_MARKER = "demo_removed"


@dataclass(frozen=True)
class DemoPresence:
    """How much demo data the database holds."""

    devices: int
    products: int

    @property
    def present(self) -> bool:
        """Whether any demo device or product is left."""
        return bool(self.devices or self.products)

    def message(self) -> str:
        """One sentence for reports and pages."""
        return (
            f"Demo fleet present: {self.devices} device(s) and {self.products} product(s); its data is kept "
            f"apart from yours (never in your machines' priors, candidates or proposals); {REMOVE_HINT}."
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``message`` only when demo data is present)."""
        return {
            "devices": self.devices,
            "products": self.products,
            "present": self.present,
            "message": self.message() if self.present else None,
        }


def presence() -> DemoPresence:
    """Count the demo devices and products (two cheap queries)."""
    devices = db.session.scalar(select(func.count(Device.id)).where(Device.is_demo.is_(True)))
    products = db.session.scalar(select(func.count(Product.id)).where(Product.is_demo.is_(True)))
    return DemoPresence(int(devices or 0), int(products or 0))


@dataclass
class Removal:
    """Rows deleted per kind, and demo products kept because a real device uses them."""

    removed: dict[str, int] = field(default_factory=dict)
    kept_products: list[str] = field(default_factory=list)
    device_ids: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Rows deleted in all."""
        return sum(self.removed.values())

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "removed": self.removed,
            "total": self.total,
            "device_ids": self.device_ids,
            "kept_products": self.kept_products,
        }


def remove_demo_fleet(instance_path: str | Path | None = None) -> Removal:
    """Delete every demo row (devices with their slots, planogram versions and sales; demo products no real
    device uses; demo posts and orders) in the caller's transaction. Users, drafts and the LLM ledger stay.

    Idempotent: a second run deletes nothing. With ``instance_path`` the removal is remembered there so that
    `seed-demo --if-empty` will not reseed it."""
    result = Removal()
    demo_pks = select(Device.id).where(Device.is_demo.is_(True))
    result.device_ids = list(
        db.session.scalars(select(Device.device_id).where(Device.is_demo.is_(True)).order_by(Device.device_id))
    )
    versions = select(PlanogramVersion.id).where(PlanogramVersion.device_pk.in_(demo_pks))
    steps: list[tuple[str, Any]] = [
        ("sales", delete(Sale).where(Sale.device_pk.in_(demo_pks))),
        ("sales_weekly", delete(SalesWeekly).where(SalesWeekly.device_pk.in_(demo_pks))),
        ("planogram_items", delete(PlanogramItem).where(PlanogramItem.version_id.in_(versions))),
        ("planogram_versions", delete(PlanogramVersion).where(PlanogramVersion.device_pk.in_(demo_pks))),
        ("slots", delete(Slot).where(Slot.device_pk.in_(demo_pks))),
        ("devices", delete(Device).where(Device.is_demo.is_(True))),
        (
            "products",
            delete(Product).where(
                Product.is_demo.is_(True),
                Product.id.not_in(select(PlanogramItem.product_id).distinct()),
                Product.id.not_in(select(Sale.product_id).distinct()),
                Product.id.not_in(select(SalesWeekly.product_id).distinct()),
            ),
        ),
        ("posts", delete(SocialPost).where(SocialPost.is_demo.is_(True))),
        ("orders", delete(CustomerOrder).where(CustomerOrder.is_demo.is_(True))),
    ]
    for name, statement in steps:
        outcome = db.session.execute(statement.execution_options(synchronize_session=False))
        result.removed[name] = int(getattr(outcome, "rowcount", 0) or 0)
    db.session.expire_all()  # bulk deletes bypass the identity map
    result.kept_products = list(
        db.session.scalars(select(Product.sku).where(Product.is_demo.is_(True)).order_by(Product.sku))
    )
    forget_devices(result.device_ids)
    if instance_path is not None:
        remember_removed(Path(instance_path))
    return result


def remember_removed(instance_path: Path) -> None:
    """Leave the marker that stops `seed-demo --if-empty` from reseeding a removed demo."""
    instance_path.mkdir(parents=True, exist_ok=True)
    (instance_path / REMOVED_MARKER).write_text("The demo fleet was removed; `flask demo seed` brings it back.\n")


def was_removed(instance_path: str | Path) -> bool:
    """Whether an operator removed the demo on this instance."""
    return (Path(instance_path) / REMOVED_MARKER).exists()


def forget_removed(instance_path: str | Path) -> None:
    """An explicit seed clears the marker."""
    (Path(instance_path) / REMOVED_MARKER).unlink(missing_ok=True)
