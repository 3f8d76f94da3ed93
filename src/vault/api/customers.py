"""/v1/customers: create, read, look up, update, soft-delete."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from vault.access.caller import Caller
from vault.api.deps import provide_read_session, provide_write_session, vault_of
from vault.api.schemas import CustomerLabel, CustomerList, CustomerRead
from vault.bootstrap import Vault
from vault.errors import BadRequestError, InvalidInputError

LOOKUP_FIELDS = ("customer_ref", "email", "phone", "rrn")


class CustomerSearch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of POST /v1/customers/search: exactly one field."""

    customer_ref: str | None = None
    email: str | None = None
    phone: str | None = None
    rrn: str | None = None


class CohortMembership(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of POST /v1/customers/{id}/cohorts: the statute cohort and the basis (no personal data)."""

    cohort: str
    reference: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


def _if_match(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip().strip('"').removeprefix("W/").strip('"'))
    except ValueError:
        raise BadRequestError("If-Match must be the customer's row_version") from None


async def read_customer(vault: Vault, customer_id: uuid.UUID, caller: Caller) -> tuple[CustomerRead, str]:
    """GET /v1/customers/{id}: the customer as the caller may see it, with labels, and its ETag."""
    async with vault.db.on_demand() as session:
        view = await vault.customers(session).get(customer_id, caller)
        labels = [CustomerLabel(id=lv.id, label=lv.label, department=lv.department, reason_code=lv.reason_code,
                                set_by=lv.set_by, set_at=lv.set_at)
                  for lv in await vault.labels(session).labels_of(customer_id, caller)]
    return CustomerRead.from_view(view, labels), f'"{view.row_version}"'


async def create_customer(vault: Vault, data: dict[str, Any], caller: Caller,
                          idempotency_key: str | None) -> tuple[CustomerRead, int, dict[str, str]]:
    """POST /v1/customers: the created customer (201), or the replayed one (200), and the response headers."""
    # The write transaction is opened here rather than by a generator dependency: Litestar cleans those
    # up in an anyio task group, which cost more than the transaction's own statements.
    async with vault.db.write() as session:
        view, created = await vault.customers(session).create(data, caller, idempotency_key=idempotency_key)
    headers = {"ETag": f'"{view.row_version}"', "Location": f"/v1/customers/{view.id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return CustomerRead.from_view(view), 201 if created else 200, headers


class CustomerController(Controller):
    """Customers. Every operation needs ``purpose`` (query parameter or X-Purpose header)."""

    path = "/v1/customers"
    tags = ["customers"]

    @post("/", operation_id="CreateCustomer", status_code=201)
    async def create_customer(
        self, data: JSONBody[dict[str, Any]], caller: NamedDependency[Caller], state: State,
        idempotency_key: Annotated[str | None, HeaderParameter(name="Idempotency-Key", max_length=200)] = None,
        purpose: Annotated[str | None, QueryParameter()] = None,
    ) -> Response[CustomerRead]:
        """Create a customer from catalogue fields.

        A replay with the same Idempotency-Key (within 24 h) answers 200 with the customer's id only
        (``Idempotent-Replayed: true``), after the same checks as a read.
        """
        del purpose
        read, status, headers = await create_customer(vault_of(state), data, caller, idempotency_key)
        return Response(read, status_code=status, headers=headers)

    @get("/{customer_id:uuid}", operation_id="GetCustomer")
    async def get_customer(
        self, customer_id: FromPath[uuid.UUID], caller: NamedDependency[Caller],
        state: State,
        purpose: Annotated[str | None, QueryParameter()] = None,
    ) -> Response[CustomerRead]:
        """Return one customer with the fields the caller's role may see for the purpose (masked where required).

        The ordinary request is answered by :mod:`vault.api.hot` before routing, with the same function.
        """
        del purpose
        read, etag = await read_customer(vault_of(state), customer_id, caller)
        return Response(read, headers={"ETag": etag})

    @get("/", operation_id="LookupCustomers", dependencies={"session": Provide(provide_read_session)})
    async def lookup_customers(
        self, caller: NamedDependency[Caller], session: NamedDependency[AsyncSession], state: State,
        purpose: Annotated[str | None, QueryParameter()] = None,
        customer_ref: Annotated[str | None, QueryParameter()] = None,
        email: Annotated[str | None, QueryParameter()] = None,
        phone: Annotated[str | None, QueryParameter()] = None,
        rrn: Annotated[str | None, QueryParameter()] = None,
    ) -> CustomerList:
        """Exact lookup by exactly one of customer_ref, email, phone or rrn (through blind indexes)."""
        del purpose
        given = {k: v for k, v in {"customer_ref": customer_ref, "email": email, "phone": phone, "rrn": rrn}.items()
                 if v is not None}
        if len(given) != 1:
            raise InvalidInputError(f"give exactly one of {', '.join(LOOKUP_FIELDS)}", valid=list(LOOKUP_FIELDS))
        (by, value), = given.items()
        views = await vault_of(state).customers(session).lookup(by, value, caller)
        return CustomerList(items=[CustomerRead.from_view(v) for v in views], count=len(views))

    @post("/search", operation_id="SearchCustomers", dependencies={"session": Provide(provide_read_session)},
          status_code=200)
    async def search_customers(
        self, data: JSONBody[CustomerSearch], caller: NamedDependency[Caller],
        session: NamedDependency[AsyncSession], state: State,
        purpose: Annotated[str | None, QueryParameter()] = None,
    ) -> CustomerList:
        """Exact lookup like ``GET /v1/customers``, with the value in the body: URLs end up in proxy and access
        logs, bodies do not. Give exactly one of customer_ref, email, phone or rrn."""
        del purpose
        given = {k: v for k, v in {"customer_ref": data.customer_ref, "email": data.email, "phone": data.phone,
                                   "rrn": data.rrn}.items() if v is not None}
        if len(given) != 1:
            raise InvalidInputError(f"give exactly one of {', '.join(LOOKUP_FIELDS)}", valid=list(LOOKUP_FIELDS))
        (by, value), = given.items()
        views = await vault_of(state).customers(session).lookup(by, value, caller)
        return CustomerList(items=[CustomerRead.from_view(v) for v in views], count=len(views))

    @patch("/{customer_id:uuid}", operation_id="UpdateCustomer",
           dependencies={"session": Provide(provide_write_session)})
    async def update_customer(
        self, customer_id: FromPath[uuid.UUID], data: JSONBody[dict[str, Any]], caller: NamedDependency[Caller],
        session: NamedDependency[AsyncSession], state: State,
        if_match: Annotated[str | None, HeaderParameter(name="If-Match")] = None,
        purpose: Annotated[str | None, QueryParameter()] = None,
    ) -> Response[CustomerRead]:
        """Change fields; null or "" removes an optional field. If-Match guards against lost updates."""
        del purpose
        view = await vault_of(state).customers(session).update(customer_id, data, caller,
                                                               expected_version=_if_match(if_match))
        return Response(CustomerRead.from_view(view), headers={"ETag": f'"{view.row_version}"'})

    @post("/{customer_id:uuid}/cohorts", operation_id="RecordCustomerCohort",
          dependencies={"session": Provide(provide_write_session)}, status_code=204)
    async def record_cohort(
        self, customer_id: FromPath[uuid.UUID], data: JSONBody[CohortMembership], caller: NamedDependency[Caller],
        session: NamedDependency[AsyncSession], state: State,
        purpose: Annotated[str | None, QueryParameter()] = None,
    ) -> None:
        """Record that the statute of the request's purpose covers this customer (e.g. a prize winner under
        ``tax_reporting``): only then may statute-only fields (the RRN) be written for them (audited)."""
        del purpose
        await vault_of(state).customers(session).record_cohort(customer_id, data.cohort, data.reference, caller)

    @delete("/{customer_id:uuid}", operation_id="DeleteCustomer",
            dependencies={"session": Provide(provide_write_session)}, status_code=204)
    async def delete_customer(
        self, customer_id: FromPath[uuid.UUID], caller: NamedDependency[Caller], session: NamedDependency[AsyncSession],
        state: State,
        purpose: Annotated[str | None, QueryParameter()] = None,
    ) -> None:
        """Soft-delete a customer (kept for retention, then erased)."""
        del purpose
        await vault_of(state).customers(session).soft_delete(customer_id, caller)
