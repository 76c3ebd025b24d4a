"""django-q2 entry points: ids in, one service call each."""

from imports.pipeline.runner import import_run as run


def import_run(import_id: str) -> str:
    """Run one import in the background (queued by ``import_create``)."""
    return run(import_id)
