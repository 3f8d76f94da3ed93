"""Purposes of processing and (later) consent events and contact resolution."""

from vault.consent.purposes import Channel, LawfulBasis, Notice, Purpose, PurposeCatalogue, load_purposes

__all__ = ["Channel", "LawfulBasis", "Notice", "Purpose", "PurposeCatalogue", "load_purposes"]
