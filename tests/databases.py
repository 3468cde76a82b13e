"""Test databases on PostgreSQL: one migrated template per session, a clone of it per app.

`scripts/with-postgres.sh` starts a throwaway cluster and sets TEST_DATABASE_URL (a superuser on a scratch
database); with TEST_MODE=postgres the fixtures create their databases through it. CREATE DATABASE ...
TEMPLATE copies the migrated template in a few tens of milliseconds, the analogue of copying the SQLite file.
"""

from __future__ import annotations

import os
import uuid

import psycopg
from sqlalchemy.engine import make_url


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL ``url`` as a plain libpq connection string (no driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresDatabases:
    """Creates and drops the databases of one test session on the cluster behind ``admin_url``."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.prefix = f"t{uuid.uuid4().hex[:8]}"
        self.count = 0
        self.template = ""  # the migrated template's name, set by the session fixture

    def _execute(self, sql: str) -> None:
        with psycopg.connect(libpq_url(self.admin_url), autocommit=True) as conn:
            conn.execute(sql)  # names are generated here (prefix + counter), never user input

    def url_of(self, name: str) -> str:
        """The SQLAlchemy URL of database ``name`` on the same cluster."""
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def create(self, template: str | None = None) -> str:
        """Create an empty database (or a clone of ``template``) and return its name."""
        self.count += 1
        name = f"{self.prefix}_{self.count}"
        suffix = f" TEMPLATE {template}" if template else ""
        self._execute(f'CREATE DATABASE "{name}"{suffix}')
        return name

    def drop(self, name: str) -> None:
        """Drop database ``name``, ending any connection still open to it."""
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def admin_url_from_environment() -> str:
    """TEST_DATABASE_URL, required in PostgreSQL mode (the only setting this mode reads from the shell)."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        raise RuntimeError(
            "TEST_MODE=postgres needs TEST_DATABASE_URL=postgresql+psycopg://... "
            "(scripts/with-postgres.sh starts a cluster and sets it)"
        )
    return url
