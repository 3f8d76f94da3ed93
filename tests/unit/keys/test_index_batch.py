"""One page of the blind-index rebuild, computed outside any transaction: digests under the newest index key."""

from __future__ import annotations

from dataclasses import replace

from tests.unit.fakes import keyring, policies
from vault.crypto.blind_index import BlindIndexer
from vault.customers import records
from vault.customers.models import CustomerRow
from vault.keys.rotation import index_batch

KIM = {"customer_ref": "C-1", "name": "김민지", "email": "minji.kim@example.org", "phone": "+821023456789"}


def test_the_batch_holds_digests_of_the_searchable_fields_under_the_new_version_and_the_row_versions() -> None:
    ring, catalogue = keyring(), policies().catalogue
    row = CustomerRow(**records.seal_new(ring, catalogue, KIM).row)
    row.row_version = 7
    new_index = BlindIndexer(b"\x09" * 32, 2)
    rotated = replace(ring, index=new_index, indexes=(new_index, ring.index))

    batch = index_batch(rotated, catalogue.searchable, [row])

    assert batch.target == 2 and batch.ids == [row.id]
    assert batch.versions == [{"b_id": row.id, "b_rv": 7}]
    searchable = [n for n in catalogue.searchable if n in KIM]
    assert sorted(r["field"] for r in batch.rows) == sorted(searchable)
    for r in batch.rows:
        assert r["customer_id"] == row.id and r["key_version"] == 2
        assert r["digest"] == new_index.digest(r["field"], KIM[r["field"]])
        assert r["digest"] != ring.index.digest(r["field"], KIM[r["field"]])
