"""PostgreSQL housekeeping of the harness: its own databases, never the dev ones.

Every database the harness touches is named by it (a prefix such as
``idmimport_bench``) on the server of a given URL; the URL's own database is
only used to find the server.
"""

from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg
from psycopg import sql


def with_database(url: str, name: str) -> str:
    """The same server URL, pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


def libpq_env(url: str) -> dict[str, str]:
    """PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE for the reference loaders."""
    parts = urlsplit(url)
    env = {
        "PGHOST": parts.hostname or "127.0.0.1",
        "PGPORT": str(parts.port or 5432),
        "PGUSER": unquote(parts.username or "postgres"),
        "PGDATABASE": parts.path.lstrip("/") or "postgres",
    }
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    return env


def _admin(url: str) -> psycopg.Connection:
    """An autocommit connection to the maintenance database of the server."""
    return psycopg.connect(with_database(url, "postgres"), autocommit=True)


def server_version(url: str) -> str | None:
    """The server's version string, or None when it cannot be reached."""
    try:
        with _admin(url) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]
    except psycopg.Error:
        return None


def recreate_database(url: str, name: str, template: str | None = None) -> None:
    """Drop (closing its sessions) and create a database, optionally a copy."""
    with _admin(url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
        )
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(create)


def ensure_database(url: str, name: str) -> None:
    """Create a database unless it exists already."""
    with _admin(url) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if not found:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(url: str, name: str) -> None:
    """Drop a database if it exists, closing its sessions."""
    with _admin(url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
        )
