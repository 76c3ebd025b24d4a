"""Moving the test database between migrations, for tests of the migrations."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate_to(app: str, name: str) -> None:
    """Migrate one app forwards or backwards to ``name``."""
    MigrationExecutor(connection).migrate([(app, name)])


def migrate_to_latest() -> None:
    """Forward to every app's last migration, as the rest of the suite expects."""
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
