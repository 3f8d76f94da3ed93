"""Analysis projects, their members and ε ledger, extract jobs and DP statistics snapshots.

Nothing here holds personal data: project names, principal ids, counts, hashes, generalized
cell values (age band, region, gender) with counts.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from vault.db.base import Base


class ProjectRow(Base):
    """An analysis project: its name keys the pseudonyms; a compliance officer sets its ε budget."""

    __tablename__ = "analysis_projects"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(String(2000), default=None)
    epsilon_budget: Mapped[float] = mapped_column(Float, default=0.0)
    epsilon_spent: Mapped[float] = mapped_column(Float, default=0.0)
    key_version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProjectMemberRow(Base):
    """An analyst who may work in a project."""

    __tablename__ = "analysis_project_members"

    project_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("analysis_projects.id", ondelete="CASCADE"),
                                                  primary_key=True)
    principal_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, index=True)
    added_by: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EpsilonSpendRow(Base):
    """One differentially private query's privacy cost, charged to its project."""

    __tablename__ = "epsilon_ledger"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("analysis_projects.id", ondelete="CASCADE"),
                                                  index=True)
    principal_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    actor_name: Mapped[str] = mapped_column(String(100))
    query: Mapped[str] = mapped_column(String(500))
    epsilon: Mapped[float] = mapped_column(Float)
    spent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ExtractJobRow(Base):
    """An extract requested over HTTP: status and progress survive the process that runs it."""

    __tablename__ = "extract_jobs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("analysis_projects.id", ondelete="CASCADE"),
                                                  index=True)
    principal_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    actor_name: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(60))
    spec: Mapped[dict[str, object]] = mapped_column(JSON)
    spec_sha256: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(16), index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[dict[str, object] | None] = mapped_column(JSON, default=None)
    manifest: Mapped[dict[str, object] | None] = mapped_column(JSON, default=None)
    file_name: Mapped[str | None] = mapped_column(String(200), default=None)
    file_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    rows: Mapped[int | None] = mapped_column(Integer, default=None)
    runner: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class StatsSnapshotRow(Base):
    """A snapshot of the consented population folded into cells (the true counts DP answers are drawn from)."""

    __tablename__ = "stats_snapshots"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(60))
    reference_date: Mapped[str] = mapped_column(String(10))
    customers: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    created_by: Mapped[str] = mapped_column(String(100))
    cells: Mapped[str] = mapped_column(Text)
    #: Per cell, the sorted per-customer spend (KRW, 365 days; no ids): ``[[age, region, gender, [..]], ..]``.
    spend: Mapped[str | None] = mapped_column(Text, default=None)
