"""Who is asking, for what purpose, from where: passed to every domain use case."""

from __future__ import annotations

from dataclasses import dataclass, replace

from vault.access.principals import Principal  # runtime import: the API resolves these annotations
from vault.audit.entry import Actor


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated principal plus the request's purpose and trace data."""

    principal: Principal | None
    purpose: str | None = None
    request_id: str | None = None
    client_ip: str | None = None
    operator: str | None = None

    @property
    def actor(self) -> Actor:
        """The audit actor (the CLI operator when there is no principal)."""
        if self.principal is None:
            return Actor.cli(self.operator or "cli")
        if self.operator:  # a CLI command acting as a named principal: both are recorded
            actor = self.principal.actor
            return replace(actor, name=f"{actor.name} via {self.operator}")
        return self.principal.actor

    @property
    def role(self) -> str:
        """The role decisions are made for."""
        return self.principal.role if self.principal else "operator"

    def for_purpose(self, purpose: str | None) -> Caller:
        """The same caller with another purpose."""
        return replace(self, purpose=purpose)
