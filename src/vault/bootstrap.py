"""Composition root: builds the vault's collaborators from settings, once per process.

The API app factory and the CLI call :func:`open_vault`; nothing else reads
settings or builds engines, key providers or policies.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from vault.access.lawful_basis import LawfulBasisCheck
from vault.access.permissions import ROLES
from vault.access.policy import AccessPolicy
from vault.access.principals import PrincipalService
from vault.audit.log import AuditLog
from vault.consent.contacts import ContactDeps, ContactResolver
from vault.consent.imports import check_import_columns, record_imported_consents
from vault.consent.ledger import SqlConsentLedger
from vault.consent.purposes import load_purposes
from vault.consent.service import ConsentDeps, ConsentService
from vault.crypto.keyring import load_keyring
from vault.crypto.keys import LayeredKeyProvider, load_env_keys, load_key_file
from vault.customers.catalogue import load_catalogue
from vault.customers.importer import CustomerImporter
from vault.customers.quality import QualityService
from vault.customers.service import CustomerDeps, CustomerService
from vault.db.engine import Database
from vault.privacy.dp import DpStats
from vault.privacy.jobs import ExtractJobs
from vault.privacy.projects import Guard, ProjectService
from vault.privacy.service import ExtractDeps, ExtractService
from vault.rights.journal import ErasureJournal
from vault.rights.retention import RetentionService
from vault.rights.rotation import KeyRotation
from vault.rights.service import RightsDeps, RightsService

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.config import Settings
    from vault.consent.purposes import PurposeCatalogue
    from vault.crypto.keyring import Keyring
    from vault.crypto.keys import KeyProvider
    from vault.customers.catalogue import FieldCatalogue
    from vault.detection import PiiDetector


@dataclass(frozen=True)
class Policies:
    """The validated policy files."""

    purposes: PurposeCatalogue
    catalogue: FieldCatalogue
    access: AccessPolicy


def load_policies(settings: Settings) -> Policies:
    """Load and cross-validate purposes.yaml, pii.yaml and the casbin files (stops start-up on error)."""
    d = settings.policy.directory
    purposes = load_purposes(d / "purposes.yaml")
    catalogue = load_catalogue(d / "pii.yaml", purposes)
    access = AccessPolicy(d / "model.conf", d / "policy.csv", purposes, catalogue)
    check_import_columns(purposes)
    return Policies(purposes, catalogue, access)


def key_provider(settings: Settings, *, create: bool = False) -> KeyProvider:
    """The configured KEK provider (``create``: a PKCS#11 token without a KEK gets one, for `vault init`)."""
    c = settings.crypto
    if c.kek_provider == "env":
        return load_env_keys(os.environ.get(c.kek_env_var), var=c.kek_env_var)
    if c.kek_provider == "pkcs11":
        from vault.crypto.pkcs11 import Pkcs11KeyProvider  # loads a native module: only when configured

        hsm = Pkcs11KeyProvider(c.pkcs11_library, c.pkcs11_token_label, os.environ.get(c.pkcs11_pin_env_var, ""),
                                prefix=c.pkcs11_key_prefix, create=create)
        return LayeredKeyProvider(hsm, load_key_file(c.legacy_kek_file)) if c.legacy_kek_file else hsm
    return load_key_file(c.kek_file)


@dataclass(frozen=True)
class Analysts:
    """The analysts' services, built once per process."""

    projects: ProjectService
    jobs: ExtractJobs
    stats: DpStats


@dataclass
class Vault:
    """Everything a request or command needs."""

    settings: Settings
    db: Database
    policies: Policies
    keyring: Keyring
    audit: AuditLog
    lawful: LawfulBasisCheck

    @property
    def customer_deps(self) -> CustomerDeps:
        """Collaborators for :class:`CustomerService`."""
        p = self.policies
        return CustomerDeps(self.keyring, p.catalogue, p.purposes, p.access, self.lawful, self.audit, self.db)

    def customers(self, session: AsyncSession) -> CustomerService:
        """A customer service on ``session``."""
        return CustomerService(session, self.customer_deps)

    @property
    def consent_deps(self) -> ConsentDeps:
        """Collaborators for :class:`ConsentService`."""
        p = self.policies
        return ConsentDeps(self.keyring, p.purposes, p.access, self.audit)

    def consents(self, session: AsyncSession) -> ConsentService:
        """A consent service on ``session``."""
        return ConsentService(session, self.consent_deps)

    def contacts(self) -> ContactResolver:
        """The consented-contact resolver (opens its own read transactions)."""
        p = self.policies
        return ContactResolver(ContactDeps(self.db, self.keyring, p.purposes, p.access, self.audit))

    def quality(self, session: AsyncSession) -> QualityService:
        """Data-quality flags (compliance officers list them) on ``session``."""
        return QualityService(session, self.policies.access, self.audit)

    def importer(self) -> CustomerImporter:
        """The customer importer; consent flags become consent events in each batch's transaction."""
        return CustomerImporter(self.db, self.keyring, self.policies.catalogue, self.audit,
                                on_created=record_imported_consents)

    @property
    def rights_deps(self) -> RightsDeps:
        """Collaborators for :class:`RightsService`."""
        p = self.policies
        return RightsDeps(self.db, self.keyring, p.catalogue, p.purposes, p.access, self.audit,
                          ErasureJournal(self.settings.rights.erasure_journal))

    def rights(self) -> RightsService:
        """Data subject rights (opens its own transactions)."""
        return RightsService(self.rights_deps)

    def retention(self) -> RetentionService:
        """Retention runs (erase or pseudonymize customers past retention)."""
        p = self.policies
        return RetentionService(self.db, self.keyring, p.catalogue, p.purposes, self.audit,
                                ErasureJournal(self.settings.rights.erasure_journal))

    def key_rotation(self, *, batch_size: int = 5000) -> KeyRotation:
        """KEK and blind-index key rotation."""
        return KeyRotation(self.db, self.keyring.provider, batch_size=batch_size)

    def extracts(self, detector: PiiDetector) -> ExtractService:
        """The analytics extract builder; ``detector`` is the release gate (opens its own transactions)."""
        p = self.policies
        return ExtractService(ExtractDeps(self.db, self.keyring, p.catalogue, p.purposes, p.access, self.lawful,
                                          self.audit), detector)

    def analysts(self, detector: Callable[[], PiiDetector]) -> Analysts:
        """Projects, extract jobs and DP statistics; build once per process (they keep per-process caches).

        ``detector`` builds the extracts' release gate when the first job runs (it is slow to build).
        """
        p = self.policies
        guard = Guard(p.access, self.audit)
        projects = ProjectService(self.db, guard, self.keyring.pseudonyms)
        gate: list[PiiDetector] = []

        def extracts() -> ExtractService:
            if not gate:
                gate.append(detector())
            return self.extracts(gate[0])

        a = self.settings.analytics
        directory = a.extracts_dir or self.settings.var_dir / "extracts"
        jobs = ExtractJobs(self.db, guard, projects, p.catalogue, p.purposes, directory,
                           timedelta(hours=a.extract_ttl_hours), extracts)
        stats = DpStats(self.db, guard, projects, self.keyring, p.purposes)
        return Analysts(projects, jobs, stats)

    def principals(self, session: AsyncSession) -> PrincipalService:
        """A principal service on ``session``."""
        pii_roles = frozenset(r for r in self.roles if self.policies.access.reads_pii(r))
        return PrincipalService(session, self.audit, self.roles, pii_roles)

    @property
    def roles(self) -> frozenset[str]:
        """Roles known to the policy (plus built-in roles with no grants yet)."""
        return self.policies.access.roles | frozenset(ROLES)

    async def close(self) -> None:
        """Flush pending audit entries and close the database pool."""
        await self.audit.drain()
        await self.db.dispose()


async def open_vault(settings: Settings) -> Vault:
    """Build the vault: policies, KEK provider, database, system keys, audit log."""
    policies = load_policies(settings)
    provider = key_provider(settings)
    db = Database(settings.database_url)
    try:
        async with db.read() as session:
            keyring = await load_keyring(session, provider)
    except Exception:
        await db.dispose()
        raise
    audit = AuditLog(db, max_batch=settings.audit.group_commit_max)
    return Vault(settings, db, policies, keyring, audit, LawfulBasisCheck(SqlConsentLedger()))
