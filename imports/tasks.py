"""django-q2 entry points: ids in, one service call each."""

from imports.pipeline.runner import import_reconcile as reconcile
from imports.pipeline.runner import import_run as run


def import_run(import_id: str) -> str:
    """Run one import in the background (queued by ``import_create``)."""
    return run(import_id)


def import_reconcile(import_id: str, part: int, parts: int) -> str:
    """Share a staged import's chunks with the worker that staged it."""
    return reconcile(import_id, part, parts)
