"""Analysis projects: who may work in them, their ε budget, their pseudonym key, and re-identification.

A project's *name* keys its pseudonyms (``Pseudonymizer.for_project(name, key_version)``), so
extracts of one project join and those of two projects do not. Compliance officers create
projects, add analysts, set the ε budget and rotate the project key (new pseudonyms, unlinkable
to the old). Re-identifying a pseudonym is a compliance officer's act for legal claims, with a
reason code and a case reference, audited.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome
from vault.errors import InvalidInputError, VaultError
from vault.lib.clock import utcnow
from vault.lib.ids import new_id
from vault.privacy.errors import NotAMemberError, ProjectNotFoundError, PseudonymNotFoundError
from vault.privacy.models import EpsilonSpendRow, ProjectMemberRow, ProjectRow
from vault.privacy.repository import ProjectRepository

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.access.guard import Guard
    from vault.access.permissions import Permission
    from vault.audit.log import AuditLog
    from vault.crypto.pseudonym import Pseudonymizer
    from vault.privacy.repository import ProjectStore

ANALYTICS = "analytics"
LEGAL_CLAIMS = "legal_claims"
REASON_CODES = ("court_order", "law_enforcement_request", "data_subject_request", "fraud_investigation",
                "regulator_request")
_CASE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
_PROJECT = re.compile(r"^[^\x00-\x1f\x7f]{1,100}$")
_SCAN_PAGE = 20_000


@dataclass(frozen=True)
class Project:
    """A project as callers see it."""

    id: uuid.UUID
    name: str
    description: str | None
    epsilon_budget: float
    epsilon_spent: float
    key_version: int
    members: list[uuid.UUID]
    created_by: str
    created_at: datetime

    @property
    def epsilon_remaining(self) -> float:
        """Budget left (never negative)."""
        return max(0.0, self.epsilon_budget - self.epsilon_spent)


@dataclass(frozen=True)
class Reidentified:
    """The customer behind a pseudonym, and under which project key version it was made."""

    customer_id: uuid.UUID
    key_version: int
    status: str


class ProjectGuard:
    """Project scoping on top of the shared :class:`~vault.access.guard.Guard`.

    Every decision is the Guard's: the action's purpose (``analytics``, or ``legal_claims`` for
    re-identification) must be known, the role must hold the permission for it, and a denial is a
    durable audit entry written before the error leaves the vault. Membership of a project is a
    check added on top; its denials, and a refused ε charge, are recorded by the same
    :meth:`Guard.deny`. Restriction and lawful basis bind per customer: the analysts' population
    reads apply them to every row (:mod:`vault.privacy.collect`).
    """

    def __init__(self, guard: Guard, audit: AuditLog) -> None:
        self.guard = guard
        self.audit = audit

    def allows(self, caller: Caller, perm: Permission, purpose: str) -> bool:
        """Whether the caller's role holds ``perm`` for ``purpose`` (a branch: nothing is audited)."""
        return self.guard.may(caller, perm, purpose)

    def sees_all(self, caller: Caller) -> bool:
        """Compliance officers (and the local operator) see every project and extract."""
        return self.allows(caller, perms.EXTRACTS_READ_ALL, ANALYTICS)

    async def require(self, caller: Caller, perm: Permission, purpose: str, action: str) -> None:
        """Raise (audited by the Guard) unless the caller holds ``perm`` for ``purpose``."""
        await self.guard.require(caller.for_purpose(purpose), perm, action, lawful_basis=False)

    async def deny(self, caller: Caller, action: str, exc: VaultError, purpose: str, context: str) -> NoReturn:
        """A project-scope denial (not a member, budget exhausted): audited durably by the Guard, then raised."""
        await self.guard.deny(caller.for_purpose(purpose), action, exc, purpose=purpose, context=context)

    async def record(self, caller: Caller, action: str, detail: str, purpose: str | None = None,
                     session: AsyncSession | None = None) -> int:
        """Audit an allowed action: in ``session`` when given (commits with the change), else durably."""
        event = AuditEvent(action, Outcome.ALLOWED, caller.actor, purpose=purpose, request_id=caller.request_id,
                           client_ip=caller.client_ip, detail=detail[:1000])
        if session is not None:
            return await self.audit.record(session, event)
        return await self.audit.record_durable(event)


class ProjectService:
    """Projects, members, budgets, key rotation and re-identification on the session it is given.

    It never opens or commits a transaction (:class:`vault.privacy.runner.ProjectRunner` does). A change
    is admitted first (:meth:`admit`, in a read transaction, so a denial's durable entry is not queued
    behind the write lock), then made in a write transaction with its audit entry.
    """

    def __init__(self, session: AsyncSession, guard: ProjectGuard, pseudonyms: Pseudonymizer,
                 clock: Callable[[], datetime] = utcnow, *, repo: ProjectStore | None = None) -> None:
        self._session = session
        self._repo = repo if repo is not None else ProjectRepository(session)
        self._guard = guard
        self._pseudonyms = pseudonyms
        self._clock = clock

    # -- reading -----------------------------------------------------------------------------------------

    async def projects(self, caller: Caller) -> list[Project]:
        """Every project for compliance officers; an analyst's own projects otherwise."""
        await self._guard.require(caller, perms.PROJECTS_READ, ANALYTICS, "project.list")
        member = None
        if not self.sees_all(caller):
            assert caller.principal is not None
            member = caller.principal.id
        return [await self._view(r) for r in await self._repo.listed(member)]

    async def get(self, project_id: uuid.UUID, caller: Caller) -> Project:
        """One project (404 for an analyst who is not a member)."""
        await self._guard.require(caller, perms.PROJECTS_READ, ANALYTICS, "project.read")
        return await self._view(await self.visible(project_id, caller, "project.read"))

    def sees_all(self, caller: Caller) -> bool:
        """Compliance officers (and the local operator) see every project and extract."""
        return self._guard.sees_all(caller)

    async def visible(self, project_id: uuid.UUID, caller: Caller, action: str) -> ProjectRow:
        """The project, if the caller may see it.

        Raises:
            ProjectNotFoundError: no such project, or the analyst is not a member (audited as a denial).
        """
        row = await self._repo.get(project_id)
        if row is not None and (self.sees_all(caller) or await self.is_member(row.id, caller)):
            return row
        missing = ProjectNotFoundError(f"no analysis project {project_id} among yours")
        if row is not None:
            await self._guard.deny(caller, action, missing, ANALYTICS, f"project={project_id} not a member")
        raise missing

    async def _row(self, project_id: uuid.UUID) -> ProjectRow:
        """The project row to change (admitted by :meth:`admit` just before)."""
        row = await self._repo.get(project_id)
        if row is None:
            raise ProjectNotFoundError(f"no analysis project {project_id} among yours")
        return row

    async def by_name(self, name: str) -> ProjectRow | None:
        """The project named ``name``."""
        return await self._repo.by_name(name)

    async def is_member(self, project_id: uuid.UUID, caller: Caller) -> bool:
        """Whether the caller is a member of the project."""
        if caller.principal is None:
            return True
        return await self._repo.is_member(project_id, caller.principal.id)

    async def require_member(self, name: str, caller: Caller, action: str) -> ProjectRow:
        """The project named ``name``, which the caller must be a member of.

        Raises:
            ProjectNotFoundError: unknown project name.
            NotAMemberError: the caller is not a member (audited).
        """
        row = await self.by_name(name)
        if row is None:
            raise ProjectNotFoundError(f"no analysis project named {name!r}; a compliance officer creates projects "
                                       "(POST /v1/projects)")
        if not await self.is_member(row.id, caller):
            await self._guard.deny(caller, action, NotAMemberError(f"you are not a member of analysis project "
                                                                   f"{name!r}"), ANALYTICS, f"project={row.id}")
        return row

    async def _view(self, row: ProjectRow) -> Project:
        return Project(row.id, row.name, row.description, row.epsilon_budget, row.epsilon_spent, row.key_version,
                       await self._repo.members(row.id), row.created_by, row.created_at)

    async def ledger(self, project_id: uuid.UUID, caller: Caller, limit: int = 100) -> list[EpsilonSpendRow]:
        """The project's most recent ε charges."""
        await self._guard.require(caller, perms.PROJECTS_READ, ANALYTICS, "project.ledger")
        await self.visible(project_id, caller, "project.ledger")
        return await self._repo.ledger(project_id, limit)

    # -- managing (compliance officers) ------------------------------------------------------------------

    async def admit(self, project_id: uuid.UUID, caller: Caller, action: str, *,
                    epsilon_budget: float | None = None) -> None:
        """Whether a compliance officer may change the project (run it in a read transaction first).

        Raises:
            AccessDeniedError: no ``projects:manage`` (audited).
            InvalidInputError: ``epsilon_budget`` (when given) out of range.
            ProjectNotFoundError: no such project, or not visible to the caller (audited).
        """
        await self._guard.require(caller, perms.PROJECTS_MANAGE, ANALYTICS, action)
        if epsilon_budget is not None:
            _check_budget(epsilon_budget)
        await self.visible(project_id, caller, action)

    async def create(self, name: str, caller: Caller, *, description: str | None = None,
                     epsilon_budget: float = 0.0, members: list[uuid.UUID] | None = None) -> Project:
        """Create a project (its name keys the pseudonyms of its extracts).

        Raises:
            AccessDeniedError: no ``projects:manage`` (audited, before any statement runs).
            InvalidInputError: a bad name or budget.
            ProjectExistsError: the name is taken.
        """
        await self._guard.require(caller, perms.PROJECTS_MANAGE, ANALYTICS, "project.create")
        name = name.strip()
        if not _PROJECT.fullmatch(name):
            raise InvalidInputError("name: must be 1-100 printable characters", field="name")
        _check_budget(epsilon_budget)
        now = self._clock()
        row = ProjectRow(id=new_id(), name=name, description=description, epsilon_budget=epsilon_budget,
                         epsilon_spent=0.0, key_version=1, created_by=caller.actor.name, created_at=now, updated_at=now)
        unique = list(dict.fromkeys(members or ()))  # an id given twice is one member, not a taken name
        await self._repo.add(row, [ProjectMemberRow(project_id=row.id, principal_id=pid, added_by=caller.actor.name,
                                                    added_at=now) for pid in unique])
        await self._guard.record(caller, "project.create", f"project={row.id} budget={epsilon_budget:g} "
                                 f"members={len(unique)}", ANALYTICS, self._session)
        return await self._view(row)

    async def add_member(self, project_id: uuid.UUID, principal_id: uuid.UUID, caller: Caller) -> Project:
        """Add an analyst to the project (idempotent; admitted by :meth:`admit`)."""
        row = await self._row(project_id)
        await self._repo.add_member(ProjectMemberRow(project_id=project_id, principal_id=principal_id,
                                                     added_by=caller.actor.name, added_at=self._clock()))
        await self._guard.record(caller, "project.member_add", f"project={project_id} principal={principal_id}",
                                 ANALYTICS, self._session)
        return await self._view(row)

    async def remove_member(self, project_id: uuid.UUID, principal_id: uuid.UUID, caller: Caller) -> Project:
        """Remove an analyst from the project (admitted by :meth:`admit`)."""
        row = await self._row(project_id)
        await self._repo.remove_member(project_id, principal_id)
        await self._guard.record(caller, "project.member_remove",
                                 f"project={project_id} principal={principal_id}", ANALYTICS, self._session)
        return await self._view(row)

    async def set_budget(self, project_id: uuid.UUID, epsilon_budget: float, caller: Caller) -> Project:
        """Set the project's total ε budget; what was spent stays spent (admitted by :meth:`admit`)."""
        _check_budget(epsilon_budget)
        row = await self._row(project_id)
        before = row.epsilon_budget
        row.epsilon_budget = epsilon_budget
        row.updated_at = self._clock()
        await self._repo.save(row)
        await self._guard.record(caller, "project.budget_set", f"project={project_id} budget={before:g}->"
                                 f"{epsilon_budget:g} spent={row.epsilon_spent:g}", ANALYTICS, self._session)
        return await self._view(row)

    async def rotate_key(self, project_id: uuid.UUID, caller: Caller) -> Project:
        """Start a new pseudonym key version: later extracts do not link to earlier ones (admitted by :meth:`admit`)."""
        row = await self._row(project_id)
        row.key_version += 1
        row.updated_at = self._clock()
        await self._repo.save(row)
        await self._guard.record(caller, "project.key_rotate", f"project={project_id} key_version="
                                 f"{row.key_version}", ANALYTICS, self._session)
        return await self._view(row)

    async def spend(self, project: ProjectRow, epsilon: float, query: str, caller: Caller) -> float | None:
        """Charge ``epsilon`` if the budget allows; returns what is left, or None if it does not.

        One conditional UPDATE (:meth:`ProjectStore.charge`), so concurrent queries in any number of processes
        never overspend; the ledger row is written in the same transaction.
        """
        left = await self._repo.charge(project.id, epsilon)
        if left is None:
            return None
        await self._repo.add_spend(EpsilonSpendRow(
            id=new_id(), project_id=project.id, principal_id=caller.principal.id if caller.principal else None,
            actor_name=caller.actor.name, query=query[:500], epsilon=epsilon, spent_at=self._clock()))
        return max(0.0, left)

    # -- re-identification -------------------------------------------------------------------------------

    async def reidentify(self, project_id: uuid.UUID, pseudonym: str, caller: Caller, *, reason_code: str,
                         case_reference: str) -> Reidentified:
        """The customer behind ``pseudonym`` in the project (any of its key versions); run it in a read transaction.

        Raises:
            AccessDeniedError: not a compliance officer acting for legal claims (audited).
            InvalidInputError: unknown reason code or malformed case reference / pseudonym.
            PseudonymNotFoundError: no customer has it (audited as failed).
        """
        await self._guard.require(caller, perms.PSEUDONYMS_REIDENTIFY, LEGAL_CLAIMS, "pseudonym.reidentify")
        if reason_code not in REASON_CODES:
            raise InvalidInputError(f"reason_code: must be one of {', '.join(REASON_CODES)}", field="reason_code",
                                    valid=list(REASON_CODES))
        if not _CASE_REF.fullmatch(case_reference):
            raise InvalidInputError("case_reference: 1-64 letters, digits, '.', '_', '/' or '-' (a case number, "
                                    "never a name)", field="case_reference")
        pseudonym = pseudonym.strip().lower()
        if not re.fullmatch(r"[a-z2-7]{26}", pseudonym):
            raise InvalidInputError("pseudonym: 26 base32 characters", field="pseudonym")
        row = await self.visible(project_id, caller, "pseudonym.reidentify")
        found = await self._scan(row, pseudonym)
        detail = (f"project={project_id} reason={reason_code} case={case_reference} "
                  f"key_version={found.key_version if found else '-'}")
        if found is None:
            with contextlib.suppress(VaultError):
                await self._guard.audit.record_durable(AuditEvent(
                    "pseudonym.reidentify", Outcome.FAILED, caller.actor, purpose=LEGAL_CLAIMS,
                    request_id=caller.request_id, client_ip=caller.client_ip, detail=detail + " not found"))
            raise PseudonymNotFoundError(f"no customer has that pseudonym in project {row.name!r}")
        await self._guard.audit.record_durable(AuditEvent(
            "pseudonym.reidentify", Outcome.ALLOWED, caller.actor, purpose=LEGAL_CLAIMS, customer_id=found.customer_id,
            request_id=caller.request_id, client_ip=caller.client_ip, detail=detail))
        return found

    async def _scan(self, row: ProjectRow, pseudonym: str) -> Reidentified | None:
        """Recompute the project's pseudonyms over every customer id (ids only; nothing decrypted)."""
        versions = [self._pseudonyms.for_project(row.name, v) for v in range(row.key_version, 0, -1)]
        last: uuid.UUID | None = None
        while True:
            page = await self._repo.customer_page(last, _SCAN_PAGE)
            if not page:
                return None
            packed = b"".join(cid.bytes for cid, _ in page)
            for i, fn in enumerate(versions):
                names = fn.many(packed)
                if pseudonym in names:
                    cid, status = page[names.index(pseudonym)]
                    return Reidentified(cid, row.key_version - i, status)
            last = page[-1][0]


def _check_budget(epsilon_budget: float) -> None:
    if not 0.0 <= epsilon_budget <= 100.0:
        raise InvalidInputError("epsilon_budget: must be between 0 and 100", field="epsilon_budget")
