"""The cyclic garbage collector is held off while an import has a chunk in hand."""

import gc

import pytest

from imports.pipeline import reconcile, staging
from imports.pipeline.garbage import collection_paused
from imports.pipeline.reconcile import reconcile_rows
from managed.models import ManagedObject
from tests.imports.helpers import HEADER, import_context, stage, upload, user_row


def test_collection_is_paused_inside_and_restored_after():
    assert gc.isenabled()
    with collection_paused():
        inside = gc.isenabled()
    assert (inside, gc.isenabled()) == (False, True)


def test_collection_is_restored_when_the_block_raises():
    with pytest.raises(RuntimeError), collection_paused():
        raise RuntimeError("chunk failed")
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled():
    gc.disable()
    try:
        with collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_staging_and_every_chunk_run_with_the_collector_paused(api, monkeypatch):
    # given: an import of 7 rows, staged and reconciled in chunks of 3
    seen = {"staging": [], "planning": []}
    readable, plan_chunk = staging._readable, reconcile.plan_chunk

    def watched_readable(*args):
        seen["staging"].append(gc.isenabled())
        yield from readable(*args)

    def watched_plan(*args):
        seen["planning"].append(gc.isenabled())
        return plan_chunk(*args)

    monkeypatch.setattr(staging, "_readable", watched_readable)
    monkeypatch.setattr(reconcile, "plan_chunk", watched_plan)
    rows = "\n".join(user_row(n) for n in range(7))
    (import_id,) = upload(api, f"{HEADER}\n{rows}\n").json()["importUUIDs"]
    # when
    with monkeypatch.context() as patched:
        patched.setattr(staging, "chunk_size", lambda: 3)
        record = stage(import_id)
    reconcile_rows(import_context(record), 3)
    # then: three staging batches (the last finds no row) and three chunks,
    # each with the collector off, and it is back on afterwards
    assert seen == {"staging": [False] * 4, "planning": [False] * 3}
    assert gc.isenabled()
    assert ManagedObject.objects.count() == 7
