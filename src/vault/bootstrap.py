"""Composition root: builds the vault's collaborators from settings, once per process.

The API app factory and the CLI call :func:`open_vault`; nothing else reads
settings or builds engines, key providers or policies.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from vault.access.permissions import ROLES
from vault.audit.log import AuditLog
from vault.audit.policy_files import policy_digest, record_policy_load, recorded_policy_digest
from vault.db.engine import Database
from vault.keys.store import load_keyring

# Imported where they are used, so a command pays only for what it builds: the policy files' parsers
# (pydantic, yaml, phonenumbers, casbin) when policies are loaded, the rate limits when the API builds them.
if TYPE_CHECKING:
    from datetime import date

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.access.guard import Guard
    from vault.access.lawful_basis import LawfulBasisCheck
    from vault.access.policy import AccessPolicy
    from vault.access.principals import PrincipalService
    from vault.access.sessions import SessionService
    from vault.audit.entry import Actor
    from vault.config import Settings
    from vault.consent.contact_pages import ContactPool
    from vault.consent.contacts import ContactResolver
    from vault.consent.expiry import ConsentExpiry
    from vault.consent.notifications import ConsentNotifications
    from vault.consent.reads import ConsentReads
    from vault.consent.service import ConsentDeps, ConsentService
    from vault.crypto.keyring import Keyring
    from vault.crypto.keys import KeyProvider
    from vault.customers.importer import CustomerImporter
    from vault.customers.quality import QualityService
    from vault.customers.service import CustomerDeps, CustomerService
    from vault.keys.runner import KeyRotation
    from vault.lib.pii import PiiPort
    from vault.lib.ratelimit import ConcurrencyLimit, SlidingWindow, VolumeWindow
    from vault.policy.catalogue import FieldCatalogue
    from vault.policy.collection import CollectionPolicy
    from vault.policy.purposes import PurposeCatalogue
    from vault.policy.statutes import StatuteRegistry
    from vault.privacy.job_runner import ExtractJobs
    from vault.privacy.runner import ExtractRunner, ProjectRunner, StatsRunner
    from vault.rights.archive import StatutoryArchive
    from vault.rights.deps import RightsDeps
    from vault.rights.oversight import OversightDeps
    from vault.rights.provision import ProvisionDeps, ProvisionService, UsageNotices
    from vault.rights.runner import OversightRunner, RetentionJob, RightsRunner
    from vault.segments.base import SegmentDeps
    from vault.segments.importer import BehaviourImporter
    from vault.segments.labels import LabelService
    from vault.segments.runner import SegmentRunner


@dataclass(frozen=True)
class Policies:
    """The validated policy files."""

    purposes: PurposeCatalogue
    catalogue: FieldCatalogue
    access: AccessPolicy
    statutes: StatuteRegistry


def load_policies(settings: Settings) -> Policies:
    """Load and cross-validate purposes.yaml, pii.yaml, statutes.yaml and the casbin files (stops start-up on error)."""
    from vault.access.policy import AccessPolicy
    from vault.consent.imports import check_import_columns
    from vault.policy.catalogue import load_catalogue
    from vault.policy.purposes import load_purposes
    from vault.policy.statutes import check_statutes, load_statutes

    d = settings.policy.directory
    purposes = load_purposes(d / "purposes.yaml")
    catalogue = load_catalogue(d / "pii.yaml", purposes)
    access = AccessPolicy(d / "model.conf", d / "policy.csv", purposes, catalogue)
    check_import_columns(purposes)
    statutes = load_statutes(d / "statutes.yaml")
    check_statutes(d / "statutes.yaml", statutes, list(purposes), set(catalogue.names),
                   {f.name for f in catalogue.fields() if f.requires_statute})
    return Policies(purposes, catalogue, access, statutes)


def build_detector(*, threshold: float | None = None) -> PiiPort:
    """The offline Presidio PII detector behind the :class:`vault.lib.pii.PiiPort` port.

    ``vault.detection`` is imported here, not at module level: loading Presidio and the
    recognizers takes about two seconds, which only commands that detect PII should pay.
    """
    from vault.detection import PiiDetector, build_analyzer

    analyzer = build_analyzer()
    return PiiDetector(analyzer) if threshold is None else PiiDetector(analyzer, threshold=threshold)


def key_provider(settings: Settings, *, create: bool = False) -> KeyProvider:
    """The configured KEK provider (``create``: a PKCS#11 token without a KEK gets one, for `vault init`)."""
    c = settings.crypto
    from vault.crypto.keys import LayeredKeyProvider, load_env_keys, load_key_file

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

    projects: ProjectRunner
    jobs: ExtractJobs
    stats: StatsRunner


class _LazyRoles(Collection[str]):
    """Role names computed on first use (listing principals needs no access policy)."""

    def __init__(self, compute: Callable[[], Collection[str]]) -> None:
        self._compute = compute
        self._value: Collection[str] | None = None

    def _get(self) -> Collection[str]:
        if self._value is None:
            self._value = self._compute()
        return self._value

    def __contains__(self, role: object) -> bool:
        return role in self._get()

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


@dataclass
class Vault:
    """Everything a request or command needs.

    ``loaded_policies`` is None when the policy files are unchanged since they were last validated and
    recorded (:func:`open_vault`): :attr:`policies` then parses them on first use.
    """

    settings: Settings
    db: Database
    loaded_policies: Policies | None
    keyring: Keyring
    audit: AuditLog
    lawful_check: LawfulBasisCheck | None = None

    @property
    def policies(self) -> Policies:
        """The validated policy files (parsed on first use)."""
        if self.loaded_policies is None:
            self.loaded_policies = load_policies(self.settings)
        return self.loaded_policies

    @property
    def lawful(self) -> LawfulBasisCheck:
        """The lawful-basis check over the consent ledger."""
        if self.lawful_check is None:
            from vault.access.lawful_basis import LawfulBasisCheck
            from vault.consent.ledger import SqlConsentLedger

            self.lawful_check = LawfulBasisCheck(SqlConsentLedger())
        return self.lawful_check

    @cached_property
    def guard(self) -> Guard:
        """The one audited guard (purpose, permission, restriction/objection, lawful basis)."""
        from vault.access.guard import Guard
        from vault.customers.gate import restriction_error

        p = self.policies
        return Guard(p.access, p.purposes, self.lawful, self.audit, restriction_error)

    def _share(self, limit: int) -> int:
        """A worker's share of a per-principal limit (each worker process counts on its own)."""
        return max(1, math.ceil(limit / max(1, self.settings.api.workers)))

    @cached_property
    def lookups(self) -> SlidingWindow:
        """Exact lookups per principal and minute."""
        from vault.lib.ratelimit import SlidingWindow

        return SlidingWindow(self._share(self.settings.limits.lookups_per_minute), 60.0)

    @cached_property
    def lookup_misses(self) -> SlidingWindow:
        """Empty lookups per principal within 10 minutes; reaching the limit writes an alert entry."""
        from vault.lib.ratelimit import SlidingWindow

        return SlidingWindow(self._share(self.settings.limits.lookup_miss_alert), 600.0)

    @cached_property
    def detection_slots(self) -> ConcurrencyLimit:
        """PII detection runs in flight per principal."""
        from vault.lib.ratelimit import ConcurrencyLimit

        return ConcurrencyLimit(max(1, self.settings.limits.detections_in_flight))

    @cached_property
    def contact_pool(self) -> ContactPool:
        """Worker processes reading and decrypting large contact answers (started on first use)."""
        from vault.consent.contact_pages import ContactPool

        return ContactPool(max(1, min(os.cpu_count() or 1, 4)))

    @cached_property
    def contact_volume(self) -> VolumeWindow:
        """Contacts resolved per principal within 24 h."""
        from vault.lib.ratelimit import VolumeWindow

        return VolumeWindow(86_400.0)

    @cached_property
    def collection(self) -> CollectionPolicy:
        """Purpose-bound collection over purposes, the field catalogue and the statute registry."""
        from vault.policy.collection import CollectionPolicy

        p = self.policies
        return CollectionPolicy(p.purposes, p.catalogue, p.statutes)

    @cached_property
    def customer_deps(self) -> CustomerDeps:
        """Collaborators for :class:`CustomerService` (built once per process)."""
        from vault.customers.service import CustomerDeps

        p = self.policies
        return CustomerDeps(self.keyring, p.catalogue, p.purposes, self.guard, self.audit, self.db,
                            lookups=self.lookups, lookup_misses=self.lookup_misses,
                            detection_slots=self.detection_slots, collection=self.collection)

    def customers(self, session: AsyncSession) -> CustomerService:
        """A customer service on ``session``."""
        from vault.customers.service import CustomerService

        return CustomerService(session, self.customer_deps)

    @cached_property
    def consent_deps(self) -> ConsentDeps:
        """Collaborators of the consent services (built once per process)."""
        from vault.consent.service import ConsentDeps

        return ConsentDeps(self.keyring, self.policies.purposes, self.guard, self.audit)

    def consents(self, session: AsyncSession) -> ConsentService:
        """Recording consent decisions on ``session``."""
        from vault.consent.service import ConsentService

        return ConsentService(session, self.consent_deps)

    def consent_reads(self, session: AsyncSession) -> ConsentReads:
        """Consent state, history and receipts on ``session`` (audited durably: a read transaction)."""
        from vault.consent.reads import ConsentReads

        return ConsentReads(session, self.consent_deps)

    def consent_expiry(self, session: AsyncSession) -> ConsentExpiry:
        """Consent expiry and the due list on ``session``."""
        from vault.consent.expiry import ConsentExpiry

        return ConsentExpiry(session, self.consent_deps)

    def consent_notifications(self, session: AsyncSession) -> ConsentNotifications:
        """Result and reconfirmation notices on ``session``: who is due, what was sent."""
        from vault.consent.notifications import ConsentNotifications

        return ConsentNotifications(session, self.policies.purposes, self.guard, self.audit)

    def contacts(self) -> ContactResolver:
        """The consented-contact resolver (opens its own read transactions)."""
        from vault.consent.contacts import ContactDeps, ContactResolver
        from vault.segments.repository import not_blocked

        p = self.policies
        lim = self.settings.limits
        return ContactResolver(ContactDeps(self.db, self.keyring, p.purposes, self.guard, self.audit,
                                           blocked=lambda key: ~not_blocked(key), volume=self.contact_volume,
                                           per_request=lim.contacts_per_request,
                                           per_day=self._share(lim.contacts_per_day), pool=self.contact_pool))

    def quality(self, session: AsyncSession) -> QualityService:
        """Data-quality flags (compliance officers list them) on ``session``."""
        from vault.customers.quality import QualityService

        return QualityService(session, self.guard, self.audit)

    def importer(self) -> CustomerImporter:
        """The customer importer; consent flags become consent events in each batch's transaction."""
        from vault.consent.imports import imported_consents_recorder
        from vault.customers.importer import CustomerImporter

        return CustomerImporter(self.db, self.keyring, self.policies.catalogue, self.audit,
                                on_created=imported_consents_recorder(self.policies.purposes),
                                collection=self.collection)

    @cached_property
    def segment_deps(self) -> SegmentDeps:
        """Collaborators of the segment services (built once per process)."""
        from vault.segments.base import SegmentDeps

        return SegmentDeps(self.db, self.keyring, self.policies.purposes, self.guard, self.audit)

    def segments(self) -> SegmentRunner:
        """Segments: preview, versions and sign-off, snapshots, diffs, each use case in its own transaction(s)
        (:mod:`vault.segments.runner`)."""
        from vault.segments.runner import SegmentRunner

        return SegmentRunner(self.segment_deps)

    def labels(self, session: AsyncSession) -> LabelService:
        """Department labels and interactions on ``session``."""
        from vault.segments.labels import LabelService

        return LabelService(session, self.guard, self.audit, db=self.db)

    def behaviour_importer(self) -> BehaviourImporter:
        """The transactions / interactions importer (no PII: customer ids, amounts and codes)."""
        from vault.segments.importer import BehaviourImporter

        return BehaviourImporter(self.db, self.keyring.index, self.audit)

    @cached_property
    def rights_deps(self) -> RightsDeps:
        """Collaborators of the rights services (built once per process)."""
        from vault.rights.deps import RightsDeps
        from vault.rights.journal import ErasureJournal

        p = self.policies
        return RightsDeps(self.db, self.keyring, p.catalogue, p.purposes, self.guard, self.audit,
                          ErasureJournal(self.settings.rights.erasure_journal),
                          bulk_approval_over=self.settings.limits.bulk_erasure_approval_over,
                          collection=self.collection)

    def rights(self) -> RightsRunner:
        """Data subject rights, each use case run in its own transaction(s) (:mod:`vault.rights.runner`)."""
        from vault.rights.runner import RightsRunner

        return RightsRunner(self.rights_deps)

    def retention(self) -> RetentionJob:
        """Retention runs (erase or pseudonymize customers past retention), one transaction per batch."""
        from vault.rights.runner import RetentionJob

        return RetentionJob(self.rights_deps)

    def archive(self, session: AsyncSession) -> StatutoryArchive:
        """Reads of the statutory archive (``archive:read``, audited durably: a read transaction) on ``session``."""
        from vault.rights.archive import StatutoryArchive

        return StatutoryArchive(session, self.keyring, self.guard, self.audit)

    @cached_property
    def oversight_deps(self) -> OversightDeps:
        """Collaborators of the oversight use cases (built once per process)."""
        from vault.audit.inspection import InspectionSettings
        from vault.rights.oversight import OversightDeps

        a = self.settings.audit
        return OversightDeps(self.db, self.policies.catalogue, self.guard, self.audit,
                             InspectionSettings(a.off_hours_start, a.off_hours_end, a.denial_spike), a.retention_days)

    def oversight(self) -> OversightRunner:
        """Breach impact and the monthly inspection (compliance officers), each in a read transaction."""
        from vault.rights.runner import OversightRunner

        return OversightRunner(self.oversight_deps)

    @cached_property
    def provision_deps(self) -> ProvisionDeps:
        """Collaborators of the provide action and the usage notices (built once per process)."""
        from vault.rights.provision import ProvisionDeps

        return ProvisionDeps(self.db, self.keyring, self.policies.purposes, self.guard, self.audit)

    def provisions(self, session: AsyncSession) -> ProvisionService:
        """The audited provide action on ``session`` (a write transaction)."""
        from vault.rights.provision import ProvisionService

        return ProvisionService(session, self.provision_deps)

    def usage_notices(self) -> UsageNotices:
        """The periodic usage notice job (reads one page of customers per transaction)."""
        from vault.rights.provision import UsageNotices

        return UsageNotices(self.provision_deps)

    def key_rotation(self, *, batch_size: int = 5000, actor: Actor | None = None) -> KeyRotation:
        """KEK and blind-index key rotation, audited as ``actor`` (the CLI operator when not given)."""
        from vault.keys.runner import KeyRotation

        return KeyRotation(self.db, self.keyring.provider, batch_size=batch_size, audit=self.audit, actor=actor)

    def extracts(self, detector: PiiPort) -> ExtractRunner:
        """The analytics extract builder; ``detector`` is the release gate."""
        from vault.privacy.behaviour import SegmentScope
        from vault.privacy.runner import ExtractRunner
        from vault.privacy.service import ExtractDeps, ExtractService

        p = self.policies
        segments = self.segments()

        async def scope(ref: str, caller: Caller) -> SegmentScope:
            """``segment: name@version`` of a spec: the version's frozen snapshot and its members' aggregates."""
            snap, frame = await segments.extract_scope(ref, caller)
            return SegmentScope(ref, snap.id, snap.as_of, frame)

        return ExtractRunner(self.db, ExtractService(ExtractDeps(
            self.db.url, self.keyring, p.catalogue, p.purposes, self.guard, self.audit, segments=scope), detector))

    def analysts(self, detector: Callable[[], PiiPort]) -> Analysts:
        """Projects, extract jobs and DP statistics; build once per process (they keep per-process caches).

        ``detector`` builds the extracts' release gate when the first job runs (it is slow to build).
        """
        from vault.privacy.dp import StatsDeps
        from vault.privacy.job_runner import ExtractJobs
        from vault.privacy.projects import ProjectGuard
        from vault.privacy.runner import ProjectRunner, StatsRunner

        p = self.policies
        guard = ProjectGuard(self.guard, self.audit)
        projects = ProjectRunner(self.db, guard, self.keyring.pseudonyms)
        gate: list[PiiPort] = []

        def extracts() -> ExtractRunner:
            if not gate:
                gate.append(detector())
            return self.extracts(gate[0])

        a = self.settings.analytics
        directory = a.extracts_dir or self.settings.var_dir / "extracts"
        segments = self.segments()
        jobs = ExtractJobs(self.db, guard, projects, p.catalogue, p.purposes, directory,
                           timedelta(hours=a.extract_ttl_hours), extracts, segment_check=segments.extract_snapshot)

        async def spend(day: date) -> dict[str, int]:
            """Each customer's spend: the segments' monetary_krw (purchases not returned, 365 days to ``day``)."""
            import polars as pl

            frame = (await segments.features(day, ["monetary_krw"])).frame
            ids = frame.get_column("customer_id").to_list()
            amounts = frame.get_column("monetary_krw").fill_null(0).cast(pl.Int64).to_list()
            return dict(zip(ids, amounts, strict=True))

        stats = StatsRunner(self.db, StatsDeps(guard, self.keyring, p.purposes, self.db.url, spend=spend,
                                               spend_upper=a.spend_upper_krw), projects)
        return Analysts(projects, jobs, stats)

    def principals(self, session: AsyncSession) -> PrincipalService:
        """A principal service on ``session``."""
        from vault.access.principals import PrincipalService

        roles = _LazyRoles(lambda: self.roles)
        pii_roles = _LazyRoles(lambda: frozenset(r for r in self.roles if self.policies.access.reads_pii(r)))
        return PrincipalService(session, self.audit, roles, pii_roles, guard=lambda: self.guard)

    def console_sessions(self, session: AsyncSession) -> SessionService:
        """Console sessions and TOTP for people, on ``session``."""
        from vault.access.sessions import SessionPolicy, SessionService

        c = self.settings.console
        policy = SessionPolicy(timedelta(minutes=c.idle_timeout_minutes), timedelta(hours=c.max_session_hours))
        return SessionService(session, self.audit, self.keyring.provider, policy)

    @property
    def roles(self) -> frozenset[str]:
        """Roles known to the policy (plus built-in roles with no grants yet)."""
        return self.policies.access.roles | frozenset(ROLES)

    async def close(self) -> None:
        """Flush pending audit entries and close the database pool."""
        await self.audit.close()
        if "contact_pool" in self.__dict__:
            self.contact_pool.close()
        await self.db.dispose()


async def open_vault(settings: Settings) -> Vault:
    """Build the vault: KEK provider, database, system keys, audit log; policies when they changed.

    The policy files are hashed at every start. When the digest differs from the one the last
    ``policy.loaded`` entry recorded (or none exists) they are parsed and cross-validated now (an error
    stops start-up), published consent notices are checked (one whose disclosure changed stops start-up,
    ``consent.notices``) and the change is recorded; otherwise they were validated by the start that
    recorded this digest, and are parsed when a command first uses them.
    """
    digest = policy_digest(settings.policy.directory)
    provider = key_provider(settings)
    db = Database(settings.database_url)
    policies: Policies | None = None
    try:
        async with db.read() as session:
            keyring = await load_keyring(session, provider)
            changed = await recorded_policy_digest(session) != digest.sha256
        if changed:
            from vault.consent.notices import check_published_notices

            policies = load_policies(settings)
            await check_published_notices(db, policies.purposes)
            await record_policy_load(db, digest)
    except Exception:
        await db.dispose()
        raise
    audit = AuditLog(db, max_batch=settings.audit.group_commit_max)
    return Vault(settings, db, policies, keyring, audit)
