"""``resource:action`` permission constants and the built-in roles."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Permission:
    """An action on a resource (field class and purpose are checked alongside)."""

    resource: str
    action: str

    def __str__(self) -> str:
        return f"{self.resource}:{self.action}"


CUSTOMERS_CREATE = Permission("customers", "create")
CUSTOMERS_READ = Permission("customers", "read")
CUSTOMERS_READ_MASKED = Permission("customers", "read_masked")
CUSTOMERS_UPDATE = Permission("customers", "update")
CUSTOMERS_DELETE = Permission("customers", "delete")
CONTACTS_READ = Permission("contacts", "read")
CONSENTS_READ = Permission("consents", "read")
CONSENTS_WRITE = Permission("consents", "write")
CONSENT_EVIDENCE_READ = Permission("consents", "read_evidence")
PRINCIPALS_READ = Permission("principals", "read")
PRINCIPALS_CREATE = Permission("principals", "create")
PRINCIPALS_UPDATE = Permission("principals", "update")
PRINCIPALS_APPROVE = Permission("principals", "approve")
AUDIT_READ = Permission("audit", "read")
AUDIT_SIGNOFF = Permission("audit", "signoff")  # monthly inspection and per-principal access reviews
KEYS_MANAGE = Permission("keys", "manage")
EXTRACTS_CREATE = Permission("extracts", "create")
PII_ANALYZE = Permission("pii", "analyze")
EXTRACTS_READ = Permission("extracts", "read")
EXTRACTS_READ_ALL = Permission("extracts", "read_all")
PROJECTS_READ = Permission("projects", "read")
PROJECTS_MANAGE = Permission("projects", "manage")
STATS_READ = Permission("stats", "read")
STATS_REFRESH = Permission("stats", "refresh")
PSEUDONYMS_REIDENTIFY = Permission("pseudonyms", "reidentify")
REQUESTS_READ = Permission("requests", "read")
REQUESTS_WRITE = Permission("requests", "write")
SUBJECTS_EXPORT = Permission("subjects", "export")
SUBJECTS_RECTIFY = Permission("subjects", "rectify")
SUBJECTS_ERASE = Permission("subjects", "erase")
SUBJECTS_RESTRICT = Permission("subjects", "restrict")
SUBJECTS_OBJECT = Permission("subjects", "object")
PROVISIONS_PROVIDE = Permission("provisions", "provide")
NOTICES_READ = Permission("notices", "read")
QUALITY_READ = Permission("quality", "read")
ARCHIVE_READ = Permission("archive", "read")  # the statutory archive (data kept only because a law requires it)
SEGMENTS_READ = Permission("segments", "read")
SEGMENTS_CREATE = Permission("segments", "create")
SEGMENTS_APPROVE = Permission("segments", "approve")
SEGMENTS_VETO = Permission("segments", "veto")
SEGMENTS_ACTIVATE = Permission("segments", "activate")
SEGMENTS_EVALUATE = Permission("segments", "evaluate")
SEGMENTS_MEMBERS = Permission("segments", "read_members")
LABELS_READ = Permission("labels", "read")
LABELS_WRITE = Permission("labels", "write")
INTERACTIONS_CREATE = Permission("interactions", "create")

ROLES = ("application", "analyst", "marketing", "sales", "crm_agent", "compliance_officer", "admin")
