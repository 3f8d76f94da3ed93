"""/v1/provisions: the audited provide action (third-party provision, cross-border transfer)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Controller, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody

from vault.access.caller import Caller
from vault.api.deps import vault_of


class ProvisionCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of POST /v1/provisions?purpose=third_party_delivery|cross_border_transfer."""

    customer_ids: list[uuid.UUID]
    mechanism: str
    items: list[str] | None = None


class ProvisionController(Controller):
    """Hand a purpose's items of consenting customers to the purpose's recipient, recorded and audited."""

    path = "/v1/provisions"
    tags = ["provisions"]

    @post("/", operation_id="Provide", status_code=201)
    async def provide(self, data: JSONBody[ProvisionCreate], caller: NamedDependency[Caller],
                      state: State) -> dict[str, Any]:
        """Check each customer's current consent, record recipient, items, time and mechanism, return the items.

        Customers without a current consent (or restricted, or unknown) are listed in ``refused`` with
        the reason; an item outside the purpose's fields is a 422 naming the field and the purpose.
        """
        vault = vault_of(state)
        async with vault.db.write() as session:
            done = await vault.provisions(session).provide(data.customer_ids, caller, mechanism=data.mechanism,
                                                           items=data.items)
        return {
            "purpose": done.purpose, "recipient": done.recipient, "country": done.country,
            "mechanism": done.mechanism, "items": list(done.items), "provided_at": done.provided_at.isoformat(),
            "provided": [{"customer_id": str(cid), "values": v} for cid, v in done.values.items()],
            "refused": [{"customer_id": str(cid), "reason": r} for cid, r in done.refused.items()],
        }
