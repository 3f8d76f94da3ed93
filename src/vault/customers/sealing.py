"""Validating and sealing rows for the bulk import, in a worker process or in-process.

Kept light on purpose: a spawned sealing worker imports this module (and what the pickled key provider,
blind indexer and field catalogue need), not the importer's database, audit and SQLAlchemy modules, so
a worker starts in a fraction of the time. No database here; :mod:`vault.customers.importer` writes
what this module seals.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import msgspec

from vault.crypto.envelope import FieldCipher
from vault.customers.import_rows import RowError, parse_row
from vault.lib.ids import new_ids_hex

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from vault.crypto.blind_index import BlindIndexer
    from vault.crypto.keys import KeyProvider
    from vault.policy.catalogue import FieldCatalogue

_encode = msgspec.msgpack.Encoder().encode


@dataclass(slots=True)
class SealedBatch:
    """Many new customers sealed for insertion, column by column (no plaintext; compact to pass between
    processes). Positions in ``index_rows`` and ``flag_rows`` refer to the customers' order."""

    hex_ids: list[str]
    ref_digests: list[bytes]
    kek_version: str
    wrapped: list[bytes]
    sealed: list[bytes]
    index_version: int
    #: (position, field, digest) of each blind-index entry other than customer_ref.
    index_rows: list[tuple[int, str, bytes]] = field(default_factory=list)
    #: (position, field, code) of each data-quality flag.
    flag_rows: list[tuple[int, str, str]] = field(default_factory=list)


def seal_batch(cipher: FieldCipher, index: BlindIndexer, catalogue: FieldCatalogue,
               records: Sequence[Mapping[str, str]]) -> SealedBatch:
    """Seal many new customers' normalized values (the bulk import's hot path; same storage format as
    :func:`vault.customers.records.seal_values`: one AES-GCM ciphertext per field under a fresh
    per-customer DEK, blind indexes)."""
    hex_ids = new_ids_hex(len(records))
    kek_version, wrapped, blobs = cipher.seal_new_many(hex_ids, records)
    digest = index.digest
    searchable = [n for n in catalogue.searchable if n != "customer_ref"]
    index_rows: list[tuple[int, str, bytes]] = []
    flag_rows: list[tuple[int, str, str]] = []
    for pos, values in enumerate(records):
        index_rows.extend((pos, name, digest(name, values[name])) for name in searchable if name in values)
        flag_rows.extend((pos, name, code) for name, code in catalogue.quality(values))
    return SealedBatch(
        hex_ids, [digest("customer_ref", v["customer_ref"]) for v in records], kek_version, wrapped,
        [_encode(b) for b in blobs], index.version, index_rows, flag_rows)


@dataclass(slots=True)
class SealedChunk:
    """A chunk of rows validated and sealed for insertion (no plaintext), column by column so that it
    crosses from a worker process cheaply. Per-row lists are in ``batch`` order."""

    errors: list[RowError]
    batch: SealedBatch | None = None
    lines: list[int] = field(default_factory=list)
    consents: list[dict[str, bool]] = field(default_factory=list)
    proofs: list[dict[str, str]] = field(default_factory=list)
    fields: list[tuple[str, ...]] = field(default_factory=list)


class Sealer:
    """Validates and seals chunks of raw rows; lives in a worker process or in-process."""

    def __init__(self, provider: KeyProvider, index: BlindIndexer, catalogue: FieldCatalogue) -> None:
        self._cipher = FieldCipher(provider)
        self._index = index
        self._catalogue = catalogue

    def seal(self, header: list[str], chunk: list[tuple[int, list[str]]]) -> SealedChunk:
        """Validate ``chunk`` ((line, cells) rows under ``header``) and seal the valid rows."""
        out = SealedChunk([])
        values: list[dict[str, str]] = []
        for line, cells in chunk:
            parsed = parse_row(line, header, cells, self._catalogue)
            if isinstance(parsed, RowError):
                out.errors.append(parsed)
                continue
            values.append(parsed.values)
            out.lines.append(line)
            out.consents.append(parsed.consents)
            out.proofs.append(parsed.proof)
            out.fields.append(tuple(sorted(parsed.values)))
        if values:
            out.batch = seal_batch(self._cipher, self._index, self._catalogue, values)
        return out


_WORKER: Sealer | None = None


def init_worker(provider: KeyProvider, index: BlindIndexer, catalogue: FieldCatalogue) -> None:
    """A sealing worker process's initializer."""
    global _WORKER
    _WORKER = Sealer(provider, index, catalogue)
    # Automatic collection walked the worker's every object about once per 700 allocations (20% of a
    # worker's CPU in a profile); a chunk's garbage goes by reference counting, and the young generations
    # are collected once per chunk instead.
    gc.freeze()
    gc.disable()


def seal_in_worker(header: list[str], chunk: list[tuple[int, list[str]]]) -> SealedChunk:
    """Seal one chunk in a worker process (see :func:`init_worker`)."""
    assert _WORKER is not None
    try:
        return _WORKER.seal(header, chunk)
    finally:
        gc.collect(1)
