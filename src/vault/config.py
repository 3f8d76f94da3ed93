"""Settings from the environment (``VAULT_*``) with embedded defaults.

Only the app factory and the CLI entry call :func:`get_settings`; everything
else receives just the slice it needs.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class CryptoSettings(BaseModel):
    """Where the key-encryption key comes from."""

    kek_provider: Literal["file", "env", "pkcs11"] = Field(
        "file", description="KEK provider: a local key file, a base64 key in VAULT_KEK, or a PKCS#11 token (HSM)"
    )
    kek_file: Path = Field(Path("var/keys/kek.json"), description="Key file (mode 0600) for the file provider")
    kek_env_var: str = Field("VAULT_KEK", description="Env var holding 'version:base64key[,version:base64key]'")
    pkcs11_library: str = Field("/usr/lib/softhsm/libsofthsm2.so", description="PKCS#11 module (pkcs11 provider)")
    pkcs11_token_label: str = Field("customer-vault", description="Label of the token holding the KEKs")
    pkcs11_pin_env_var: str = Field("VAULT_PKCS11_PIN", description="Env var holding the token's user PIN")
    pkcs11_key_prefix: str = Field("vault-kek-", description="Label prefix of the KEK objects (<prefix>hsm-v1, ...)")
    legacy_kek_file: Path | None = Field(
        None, description="While moving KEKs into an HSM: the old key file, still used to unwrap until rewrapped")


class PolicySettings(BaseModel):
    """Where the policy files live."""

    directory: Path = Field(Path("policies"), description="Folder with pii.yaml, purposes.yaml, casbin files")


class ApiSettings(BaseModel):
    """HTTP server settings."""

    host: str = Field("127.0.0.1", description="Bind address")
    port: int = Field(8000, description="Bind port")
    max_body_bytes: int = Field(1_048_576, description="Largest accepted request body")
    max_header_bytes: int = Field(16_384, description="Largest accepted header block (431 beyond)")
    max_url_bytes: int = Field(8_192, description="Longest accepted request URL, path plus query (414 beyond)")
    workers: int = Field(1, description="Uvicorn worker processes for `vault serve`")
    max_connections: int = Field(
        1000, description="Concurrent connections and requests per worker; beyond, 503 before authentication")


#: Access logs are kept at least 2 years (personal-information safety-measures standard, art. 8(1)).
ACCESS_LOG_MIN_RETENTION_DAYS = 730


class AuditSettings(BaseModel):
    """Audit log settings."""

    group_commit_max: int = Field(512, description="Most entries one group commit writes")
    retention_days: int = Field(
        ACCESS_LOG_MIN_RETENTION_DAYS, ge=ACCESS_LOG_MIN_RETENTION_DAYS,
        description="How long access-log entries are kept (days). The safety-measures standard (art. 8) asks for "
                    "at least 2 years for processors of this size; a smaller value stops start-up. The log is "
                    "append-only: nothing inside the vault deletes entries, older ones may only be archived")
    off_hours_start: int = Field(21, ge=0, le=23, description="Start of off-hours access (KST hour) in inspections")
    off_hours_end: int = Field(8, ge=0, le=23, description="End of off-hours access (KST hour) in inspections")
    denial_spike: int = Field(20, ge=1, description="Denials by one principal in one hour that the monthly "
                                                    "inspection reports as a spike")
    checkpoint_dir: Path | None = Field(
        None, description="Where `vault serve` exports signed checkpoints (default <var_dir>/checkpoints; "
                          "keep it on other storage than the database)")
    checkpoint_every_seconds: float = Field(300.0, description="Export a checkpoint at least this often (0: never)")
    checkpoint_every_entries: int = Field(10_000, description="...or after this many new entries")


class LimitSettings(BaseModel):
    """Abuse limits per principal (each worker enforces its share: the limit divided by api.workers)."""

    lookups_per_minute: int = Field(60, description="Exact customer lookups one principal may make per minute")
    lookup_miss_alert: int = Field(
        20, description="Empty lookups by one principal within 10 minutes that raise an alert entry")
    auth_failures_per_minute: int = Field(
        30, description="Failed authentications from one address per minute before it is refused (429) unchecked")
    contacts_per_request: int = Field(
        10_000, description="Contacts one resolution may return without a `justification` (audited)")
    contacts_per_day: int = Field(
        50_000, description="Contacts one principal may resolve per 24 h without a `justification`")
    bulk_erasure_approval_over: int = Field(
        100, description="Bulk erasures of more customers wait for a second compliance officer's approval")
    detection_processes: int = Field(1, description="Worker processes that run PII detection for the API")
    detections_in_flight: int = Field(
        2, description="PII detection runs (analyze, note redaction) one principal may have in flight per worker")


class RightsSettings(BaseModel):
    """Data subject rights."""

    erasure_journal: Path = Field(
        Path("var/erasure-journal.jsonl"),
        description="Append-only erasure journal (JSON lines: ids, digests, times, request ids; never PII), kept "
                    "apart from the database and its backups; `vault rights replay-erasures` re-applies it")
    retention_every_s: float = Field(
        86_400, ge=0, description="`vault serve` runs retention (erase customers past their retention period) "
                                  "this often, first after one interval; 0 turns the schedule off")
    retention_mode: Literal["erase", "pseudonymize"] = Field(
        "erase", description="What the scheduled retention run does to customers past retention")


class ConsoleSettings(BaseModel):
    """The compliance console (people log in with a password, optionally TOTP)."""

    secure_cookies: Literal["auto", "always", "never"] = Field(
        "auto", description="Secure flag on console cookies: 'auto' sets it when the request came over https "
                            "(plain http://127.0.0.1 from `make run` works); 'always' behind a TLS proxy")
    idle_timeout_minutes: int = Field(30, description="A console session ends after this long without a request")
    max_session_hours: int = Field(12, description="A console session ends this long after login, active or not")


class AnalyticsSettings(BaseModel):
    """Analysts' extracts over HTTP and DP statistics."""

    extracts_dir: Path | None = Field(
        None, description="Folder for extract files made over HTTP (default: <var_dir>/extracts); shared by every "
                          "API process")
    extract_ttl_hours: float = Field(72.0, description="Hours an extract file is kept before it is deleted")
    spend_upper_krw: int = Field(
        2_000_000, ge=1, le=1_000_000_000,
        description="DP sums and means of spend: each customer's spend is clamped to [0, this] KRW unless the "
                    "query names its own upper bound")


class Settings(BaseSettings):
    """All settings; nested areas use ``VAULT_<AREA>__<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="VAULT_", env_nested_delimiter="__", extra="ignore")

    database_url: str = Field("sqlite+aiosqlite:///var/vault.db", description="SQLAlchemy async URL")
    database_owner_url: str | None = Field(
        None, description="PostgreSQL: URL of the role that owns the schema; `vault init` migrates with it "
                          "(default: database_url)")
    api_key: SecretStr | None = Field(
        None, description="API key of the principal a privileged CLI command (rights erase/export, keys ...) acts as")
    database_service_role: str | None = Field(
        None, description="PostgreSQL: the role the service connects as; `vault init` grants it INSERT and SELECT "
                          "only on the audit tables (docs/operations.md)")
    var_dir: Path = Field(Path("var"), description="Folder for the embedded database and generated files")
    crypto: CryptoSettings = Field(default_factory=CryptoSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    rights: RightsSettings = Field(default_factory=RightsSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process settings (read once from the environment)."""
    return Settings()
