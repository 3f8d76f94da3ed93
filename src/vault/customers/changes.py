"""Applying field changes to a stored customer: one path for updates and rectifications."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from vault.customers import records
from vault.customers.errors import DuplicateCustomerError
from vault.customers.models import CustomerIndexRow
from vault.customers.quality import replace_flags

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.crypto.envelope import CustomerKey
    from vault.crypto.keyring import Keyring
    from vault.customers.catalogue import FieldCatalogue
    from vault.customers.models import CustomerRow


async def apply_changes(
    session: AsyncSession, keyring: Keyring, catalogue: FieldCatalogue, row: CustomerRow, key: CustomerKey,
    changed: dict[str, str | None], now: datetime,
) -> None:
    """Reseal changed fields (None removes one), stamp them verified, bump the row version, rebuild their
    blind indexes under the current index key and their data-quality flags, and flush.

    Raises:
        DuplicateCustomerError: the new customer_ref belongs to another customer.
    """
    if not changed:
        return
    row.sealed = records.reseal(key, row.sealed, changed)
    meta = dict(row.field_meta or {})
    for name, value in changed.items():
        if value is None:
            meta.pop(name, None)
        else:
            meta[name] = {"verified_at": now.isoformat()}
    row.field_meta = meta
    row.updated_at = now
    row.row_version += 1
    idx = keyring.index
    ref = changed.get("customer_ref")
    if ref is not None:
        row.ref_digest = idx.digest("customer_ref", ref)
    for name, value in changed.items():
        if not catalogue[name].searchable:
            continue
        # Every key version's digests go, including customer_ref ones an index-key rotation put here.
        await session.execute(delete(CustomerIndexRow).where(
            CustomerIndexRow.customer_id == row.id, CustomerIndexRow.field == name))
        if value is not None and name != "customer_ref":
            session.add(CustomerIndexRow(field=name, digest=idx.digest(name, value), customer_id=row.id,
                                         key_version=idx.version))
    await replace_flags(session, catalogue, row.id, changed, now)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise DuplicateCustomerError("another customer already has this customer_ref") from exc
